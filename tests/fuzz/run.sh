#!/bin/sh
# run.sh - run the libFuzzer targets of tests/fuzz/ (built by make into build/fuzz).
#
#   tests/fuzz/run.sh smoke [SECONDS]   every target for SECONDS (default 2) from its seeds, then
#                                       every file of tests/fuzz/crashes/NAME/ replayed once;
#                                       ends with "fuzz: N passed, M failed" (make test)
#   tests/fuzz/run.sh fuzz NAME SECONDS one target for SECONDS, keeping what it finds in
#                                       build/fuzz/work/NAME (its corpus grows from run to
#                                       run); a crash, leak, timeout or out-of-memory input is
#                                       written to build/fuzz/crashes/NAME/ (make fuzz)
# A target runs from the repository root (fuzz_plan reads models/digits-moe.yaml). An input
# that takes more than 10 s or 2 GB is a finding too.
set -u
cd "$(dirname "$0")/../.." || exit 2
FB=build/fuzz
NAMES="config model safetensors plan sweep_spec regs device"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS
LIMITS="-timeout=10 -rss_limit_mb=2048"

# execs LOG: executions libFuzzer reports in its final statistics
execs() {
    sed -n 's/^stat::number_of_executed_units: *//p' "$1" | tail -n 1
}

mode=${1:-smoke}
case $mode in
smoke)
    secs=${2:-2}
    pass=0
    fail=0
    if ! [ -x $FB/fuzz_config ]; then
        echo "fuzz: the targets are not built (clang missing? scripts/deps.sh installs it)"
        echo "fuzz: 0 passed, 0 failed"
        exit 0
    fi
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    for t in $NAMES; do
        mkdir -p "$tmp/$t"
        $FB/fuzz_$t -max_total_time="$secs" -seed=1 -print_final_stats=1 $LIMITS \
            -artifact_prefix="$tmp/" "$tmp/$t" $FB/seed/$t >"$tmp/log" 2>&1
        rc=$?
        if [ $rc -eq 0 ]; then
            pass=$((pass + 1))
            echo "fuzz $t: $(execs "$tmp/log") executions in $secs s, no finding"
        else
            fail=$((fail + 1))
            echo "FAIL: fuzz $t (exit $rc):"
            grep -E 'ERROR|SUMMARY|fuzz:|Test unit written|^    #[0-9]' "$tmp/log" | head -n 30
        fi
        for f in tests/fuzz/crashes/$t/*; do
            [ -f "$f" ] || continue
            if $FB/fuzz_$t $LIMITS "$f" >"$tmp/log" 2>&1; then
                pass=$((pass + 1))
            else
                fail=$((fail + 1))
                echo "FAIL: fuzz $t replaying $f:"
                grep -E 'ERROR|SUMMARY|fuzz:' "$tmp/log" | head -n 20
            fi
        done
    done
    echo "fuzz: $pass passed, $fail failed"
    [ $fail -eq 0 ]
    ;;
fuzz)
    t=$2
    secs=$3
    mkdir -p $FB/work/$t $FB/crashes/$t $FB/log
    log=$FB/log/$t.txt
    $FB/fuzz_$t -max_total_time="$secs" -print_final_stats=1 $LIMITS \
        -artifact_prefix=$FB/crashes/$t/ $FB/work/$t $FB/seed/$t >"$log" 2>&1
    rc=$?
    n=$(execs "$log")
    corpus=$(find $FB/work/$t -type f | wc -l)
    if [ $rc -eq 0 ]; then
        echo "fuzz $t: ${n:-?} executions in $secs s, corpus $corpus inputs, no finding"
    else
        echo "fuzz $t: FINDING after ${n:-?} executions (exit $rc), log $log:"
        grep -E 'ERROR|SUMMARY|fuzz:|Test unit written' "$log" | head -n 20
    fi
    exit $rc
    ;;
*)
    echo "usage: tests/fuzz/run.sh smoke [SECONDS] | fuzz NAME SECONDS" >&2
    exit 2
    ;;
esac
