#!/bin/sh
# sysc.sh - `aimc run --backend sysc:` against `--backend sim:` on the default model and
# machine: the JSON reports must agree in every line but "backend" (cycles, time, energies,
# counts, the output error figures: the same device model computes the same numbers), and
# neither run may print a sanitizer report.
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
    grep -v '"backend"' "$tmp/sim.json" >"$tmp/sim.cmp"
    grep -v '"backend"' "$tmp/sysc.json" >"$tmp/sysc.cmp"
    if [ -s "$tmp/sim.cmp" ] && grep -q '"cycles": [1-9]' "$tmp/sim.cmp" &&
        cmp -s "$tmp/sim.cmp" "$tmp/sysc.cmp"; then
        ok
    else
        bad "$aimc: sim: and sysc: reports differ"
        diff "$tmp/sim.cmp" "$tmp/sysc.cmp"
    fi
    if grep -q '"backend": "sysc:"' "$tmp/sysc.json"; then ok; else bad "$aimc: backend not sysc:"; fi
done

echo "sysc: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
