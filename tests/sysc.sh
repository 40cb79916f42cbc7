#!/bin/sh
# sysc.sh - `aimc run --backend sysc:` against `--backend sim:` on the default model and
# machine: the JSON reports must agree in every line that does not depend on the host's
# timing (dynamic energy of every part, counts, busy cycles, the output error figures: the
# same device model computes the same numbers), and the run's time within 1 %: on sysc: the
# host's register accesses take SystemC time and the device works beside them, so commands
# reach it a little later or earlier than on sim:, where the host takes no device time (the
# static energy follows the time). Neither run may print a sanitizer report.
# Then the module in platforms of Accellera's example components (tests/sysc/platforms.cpp):
# sysc_tlm beside each aimc binary (make test builds both) runs on each platform, lt-dmi,
# lt-synch and at; each run's checks count here, and it must exit 0 without a sanitizer
# report.
# Usage: tests/sysc.sh [AIMC_BINARY...]   (default build/aimc). Ends with
# "sysc: N passed, M failed"; exits non-zero when any check failed.
set -u
cd "$(dirname "$0")/.." || exit 2
[ $# -eq 0 ] && set -- build/aimc
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}

for aimc in "$@"; do
    for b in sim sysc; do
        if "$aimc" run --backend "$b:" --json "$tmp/$b.json" >"$tmp/$b.out" 2>"$tmp/$b.err" &&
            ! grep -q -E 'Sanitizer|runtime error' "$tmp/$b.err"; then
            ok
        else
            bad "$aimc run --backend $b: failed"
            cat "$tmp/$b.err"
        fi
    done
    tests/report-untimed.sh "$tmp/sim.json" >"$tmp/sim.cmp"
    tests/report-untimed.sh "$tmp/sysc.json" >"$tmp/sysc.cmp"
    if [ -s "$tmp/sim.cmp" ] && grep -q '"busy_cycles": [1-9]' "$tmp/sim.cmp" &&
        cmp -s "$tmp/sim.cmp" "$tmp/sysc.cmp"; then
        ok
    else
        bad "$aimc: sim: and sysc: reports differ"
        diff "$tmp/sim.cmp" "$tmp/sysc.cmp"
    fi
    if grep -q '"backend": "sysc:"' "$tmp/sysc.json"; then ok; else bad "$aimc: backend not sysc:"; fi
    ts=$(sed -n 's/^  "time_ns": \([0-9.]*\),*$/\1/p' "$tmp/sim.json")
    tc=$(sed -n 's/^  "time_ns": \([0-9.]*\),*$/\1/p' "$tmp/sysc.json")
    if [ -n "$ts" ] && [ -n "$tc" ] &&
        awk -v a="$ts" -v b="$tc" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a > 0 && d <= 0.01 * a) }'; then
        ok
    else
        bad "$aimc: the run took ${ts:-?} ns on sim: and ${tc:-?} ns on sysc:, more than 1 % apart"
    fi
    tlm=$(dirname "$aimc")/sysc_tlm
    if [ ! -x "$tlm" ]; then
        bad "$tlm is not built (make $tlm)"
        continue
    fi
    for platform in lt-dmi lt-synch at; do
        "$tlm" "$platform" >"$tmp/tlm.out" 2>&1
        rc=$?
        grep -v -E '^$|SystemC 2\.3|Copyright \(c\)|ALL RIGHTS RESERVED' "$tmp/tlm.out"
        line=$(grep -E '^sysc-tlm [a-z-]+: [0-9]+ passed, [0-9]+ failed$' "$tmp/tlm.out")
        p=$(echo "$line" | sed -n -E 's/.*: ([0-9]+) passed.*/\1/p')
        f=$(echo "$line" | sed -n -E 's/.* ([0-9]+) failed$/\1/p')
        pass=$((pass + ${p:-0}))
        fail=$((fail + ${f:-0}))
        if [ "$rc" -ne 0 ] || [ -z "$line" ] ||
            grep -q -E 'Sanitizer|runtime error' "$tmp/tlm.out"; then
            bad "$tlm $platform: exit $rc"
        fi
    done
done

echo "sysc: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
