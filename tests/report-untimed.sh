#!/bin/sh
# report-untimed.sh - print an `aimc run --json` report without the lines that depend on
# when the host's commands reached the device (backend, the run's time and rates, static
# energy and the totals that include it), for comparing backends whose devices compute the
# same work on different clocks (tests/sysc.sh, tests/rtl.sh).
# Usage: tests/report-untimed.sh REPORT.json
exec awk '
/"(by_part|static_by_part)": \{/ { skip = 1; next }
skip && /^ *\},?$/ { skip = 0; next }
skip { next }
/^ *"(backend|cycles|time_ns|time_ns_per_token|first_token_ns|tokens_per_s|total|per_token|static)":/ { next }
{ print }
' "$1"
