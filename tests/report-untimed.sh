#!/bin/sh
# report-untimed.sh - print an `aimc run --json` report without the lines that depend on
# when the host's commands reached the device (backend, the run's time and rates, static
# energy and the totals that include it, achieved TOPS), for comparing backends whose devices
# compute the same work on different clocks (tests/sysc.sh, tests/rtl.sh). In the breakdown
# per command, the host link's energy (and the totals holding it) goes to whichever command's
# descriptors and status words carried it, which depends on how the backend batches its
# fetches: the run's host_dma total is kept, the per-command split is left out.
# Usage: tests/report-untimed.sh REPORT.json
exec awk '
/^  "breakdown": \{/ { inb = 1 }
inb && /^  \},?$/ { inb = 0 }
inb && /^ *"(host_dma|energy_pj_total)":/ { next }
/^ *"(backend|cycles|time_ns|time_ns_per_token|time_ns_per_token_sem|first_token_ns|tokens_per_s|total|static|static_mw|tops|tops_per_w)":/ { next }
{ print }
' "$1"
