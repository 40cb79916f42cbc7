#!/bin/sh
# sweep.sh - `aimc sweep` end to end: the same small sweep serially, on 2 local workers and
# under `mpirun --oversubscribe -np 3` gives the same results byte for byte; a sweep killed
# part-way, with a corrupt and a torn line in its log, resumes to the uninterrupted results;
# a finished sweep runs nothing again; a changed spec refuses the old log; a point the config
# rules refuse is an error row; a bad spec exits 2 with file:line:col.
# Usage: tests/sweep.sh [AIMC_BINARY]   (default build/aimc: the MPI build; the sanitizer
# build has no MPI). Ends with "sweep: N passed, M failed"; exits non-zero when any failed.
set -u
cd "$(dirname "$0")/.." || exit 2
AIMC=${1:-build/aimc}
SPEC=tests/sweeps/small.yaml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}

# same A B WHAT: the files are equal byte for byte, also after sorting their lines.
same() {
    if cmp -s "$1" "$2"; then ok; else bad "$3: $1 and $2 differ"; diff "$1" "$2" | head -5; fi
    sort "$1" >"$tmp/sa"
    sort "$2" >"$tmp/sb"
    if cmp -s "$tmp/sa" "$tmp/sb"; then ok; else bad "$3: sorted $1 and $2 differ"; fi
}

# run WHAT EXPECTED_EXIT COMMAND...: stdout in $tmp/out, stderr in $tmp/err.
run() {
    what=$1
    want=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" -eq "$want" ]; then ok; else
        bad "$what: exit $got, expected $want"
        cat "$tmp/out" "$tmp/err"
    fi
}

has() {
    if grep -q -E "$2" "$1"; then ok; else bad "$3: no line matching /$2/ in $1"; cat "$1"; fi
}

N=12 # points of $SPEC: 3 x 2 x 2

# 1. serially, on 2 workers, and under MPI: the same bytes.
run "serial" 0 "$AIMC" sweep "$SPEC" --out "$tmp/s" --jobs 1 --quiet --plot "$tmp/s.svg"
has "$tmp/out" "results  $N points, 0 failed" "serial summary"
[ "$(wc -l <"$tmp/s.csv")" -eq $((N + 1)) ] && ok || bad "serial CSV has not $N rows"
has "$tmp/s.svg" '^<svg ' "plot written"
[ "$(grep -c '<title>point' "$tmp/s.svg")" -eq $N ] && ok || bad "plot has not $N points"
run "2 workers" 0 "$AIMC" sweep "$SPEC" --out "$tmp/j" --jobs 2 --quiet
same "$tmp/s.csv" "$tmp/j.csv" "2 local workers"
same "$tmp/s.json" "$tmp/j.json" "2 local workers"

if command -v mpirun >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ]; then
        export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    fi
    run "mpirun -np 3" 0 timeout 120 mpirun --oversubscribe -np 3 "$AIMC" sweep "$SPEC" --out "$tmp/m" --quiet
    has "$tmp/out" "on MPI ranks, workers: 2" "mpirun used 2 worker ranks"
    same "$tmp/s.csv" "$tmp/m.csv" "mpirun -np 3"
    same "$tmp/s.json" "$tmp/m.json" "mpirun -np 3"
    run "mpirun rerun" 0 timeout 120 mpirun --oversubscribe -np 3 "$AIMC" sweep "$SPEC" --out "$tmp/m" --quiet
    has "$tmp/out" "$N already done, 0 to run" "mpirun rerun runs nothing and ends"
else
    bad "mpirun not found (scripts/deps.sh installs openmpi-bin)"
fi

# 2. kill part-way, damage the log, resume: the uninterrupted results, every point once.
"$AIMC" sweep "$SPEC" --out "$tmp/k" --jobs 1 --quiet >/dev/null 2>&1 &
pid=$!
i=0
while [ "$i" -lt 1000 ]; do
    [ -f "$tmp/k.log" ] && [ "$(wc -l <"$tmp/k.log")" -ge 4 ] && break
    sleep 0.01
    i=$((i + 1))
done
kill -9 "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
lines=$(wc -l <"$tmp/k.log")
if [ "$lines" -ge 4 ] && [ "$lines" -lt $((N + 1)) ] && [ ! -e "$tmp/k.csv" ]; then ok; else
    bad "the sweep was not killed part-way ($lines log lines)"
fi
sed '2s/\tok\t/\tok\tX/' "$tmp/k.log" >"$tmp/k.tmp" && cat "$tmp/k.tmp" >"$tmp/k.log"
printf '11\tok\t1234.5\t0.2' >>"$tmp/k.log"
done_before=$((lines - 2))
run "resume" 0 "$AIMC" sweep "$SPEC" --out "$tmp/k" --jobs 2 --quiet
has "$tmp/err" "2 corrupt or torn line\(s\) ignored" "resume found the damage"
has "$tmp/out" "$done_before already done, $((N - done_before)) to run" "resume skips what is done"
same "$tmp/s.csv" "$tmp/k.csv" "killed and resumed"
same "$tmp/s.json" "$tmp/k.json" "killed and resumed"
# the log: header, every point's valid line once, the one corrupt line
[ "$(wc -l <"$tmp/k.log")" -eq $((N + 2)) ] && ok || bad "resumed log has $(wc -l <"$tmp/k.log") lines"

# 3. a finished sweep runs nothing again.
run "rerun" 0 "$AIMC" sweep "$SPEC" --out "$tmp/s" --quiet
has "$tmp/out" "$N already done, 0 to run" "rerun runs nothing"
same "$tmp/s.csv" "$tmp/j.csv" "rerun keeps the results"

# 3b. the progress line: forced with --progress, on a terminal (script(1) gives one where
# the machine has pseudo-terminals; a chroot without /dev/pts has none, and there the
# terminal detection itself is not exercised), not otherwise.
run "forced progress" 0 "$AIMC" sweep "$SPEC" --out "$tmp/p" --restart --jobs 2 --progress
has "$tmp/err" "aimc sweep: $N/$N points, [0-9.]+ points/s" "progress line with --progress"
if ! command -v script >/dev/null 2>&1; then
    bad "script(1) not found: cannot check the progress line on a terminal"
elif script -qc tty /dev/null 2>/dev/null | grep -q '^/dev/pts/'; then
    script -qc "$AIMC sweep $SPEC --out $tmp/p --restart --jobs 2" /dev/null >"$tmp/tty" 2>&1
    has "$tmp/tty" "aimc sweep: $N/$N points, [0-9.]+ points/s" "progress line on a terminal"
else
    echo "sweep.sh: no pseudo-terminal on this machine: the terminal check did not run"
fi
run "no terminal" 0 "$AIMC" sweep "$SPEC" --out "$tmp/p" --restart --jobs 2
if grep -q "points/s" "$tmp/err"; then bad "progress line without a terminal"; else ok; fi

# 4. another spec does not take the old log.
sed "s|model: ../../models/tiny-moe.yaml|model: $PWD/models/tiny-moe.yaml|" "$SPEC" >"$tmp/other.yaml"
run "changed spec" 2 "$AIMC" sweep "$tmp/other.yaml" --out "$tmp/s" --quiet
has "$tmp/err" "s.log: written for another sweep" "changed spec message"

# 5. an invalid combination is an error row, not a failed sweep.
cat >"$tmp/inv.yaml" <<EOF
version: 1
base: {model: $PWD/models/tiny-moe.yaml, tokens: 1}
vary:
  - key: crossbar.cols
    values: [8, 128]
metrics: [energy_pj_per_token, rel_rms_error]
EOF
run "invalid combination" 0 "$AIMC" sweep "$tmp/inv.yaml" --out "$tmp/inv" --quiet
has "$tmp/inv.csv" '^0,8,"error: .*adc.per_crossbar: must be at most' "error row"
has "$tmp/inv.csv" '^1,128,ok,' "ok row"

# 6. a bad spec: exit 2, file:line:col.
printf 'version: 1\nvary:\n  - key: adc.bits\n    values: [4, 99]\n' >"$tmp/bad.yaml"
run "bad spec" 2 "$AIMC" sweep "$tmp/bad.yaml" --out "$tmp/b"
has "$tmp/err" "bad.yaml:4:17: vary\[0\].values\[1\]: --set adc.bits=99: adc.bits: expected an integer in 1..16, got 99" "bad spec message"
run "no spec" 2 "$AIMC" sweep
run "help" 0 "$AIMC" sweep --help
has "$tmp/out" "usage: aimc sweep" "sweep --help"

# 7. ADC bits 4..10 on the default model (configs/sweeps/adc-bits.yaml, 16 tokens): the
# energy per conversion is the survey model's, x2 per bit to 9 bits, x4 from 9 to 10
# (docs/config.md), and so are the conversion time and the area.
sed "s|tokens: 360 .*|tokens: 16|; s|config: ../default.yaml|config: $PWD/configs/default.yaml|; s|model: ../../models/|model: $PWD/models/|" \
    configs/sweeps/adc-bits.yaml >"$tmp/adcb.yaml"
run "adc bits sweep" 0 "$AIMC" sweep "$tmp/adcb.yaml" --out "$tmp/adcb" --quiet
for b in 4 5 6 7 8 9 10; do
    want=$(awk -v b=$b 'BEGIN { e = 0.01 * 2 ^ (b < 9 ? b : 9) * 4 ^ (b > 9 ? b - 9 : 0);
                                printf "%.9g,%.9g,%.9g", e, b * 0.78125 / 8, 1500 * 2 ^ (b - 8) }')
    got=$(awk -F, -v b=$b 'NR > 1 && $2 == b { printf "%.9g,%.9g,%.9g", $4, $5, $6 }' "$tmp/adcb.csv")
    [ "$got" = "$want" ] && ok || bad "adc.bits=$b: energy, time, area $got, want $want"
done

echo "sweep: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
