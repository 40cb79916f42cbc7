#!/bin/sh
# test-all.sh - the whole aimc suite, as `make test` runs it (after building):
#   1. the CUnit suites (build/test_aimc)
#   2. the same suites under AddressSanitizer + UndefinedBehaviorSanitizer (build/san/test_aimc)
#   3. the CLI checks (tests/cli.sh) on the sanitizer build of build/aimc
#   4. aimc sweep end to end, also under mpirun (tests/sweep.sh) on the normal (MPI) build
#   5. the co-design curves in reduced form (scripts/codesign.sh --reduced)
#   6. aimc run --backend sysc: against sim: (tests/sysc.sh), normal and sanitizer builds
#   7. the RTL: verilator lint, aimc run --backend rtl: against sim:, an FST waveform
#      (tests/rtl.sh), normal and sanitizer builds
#   8. make install into a temporary DESTDIR, a C program built with pkg-config against it,
#      the man pages (tests/install.sh)
#   9. the Python package: its test suite on Debian's python3 (python/tests), and
#      pip install ./python into a scratch virtual environment (tests/python.sh)
#  10. the parsers' libFuzzer targets for a few seconds each, and every input that ever
#      crashed one replayed (tests/fuzz/run.sh; skipped without clang)
# Every part runs even when an earlier one failed; the last line is
#   total: N passed, M failed
# and the exit status is non-zero when anything failed or crashed.
set -u
cd "$(dirname "$0")/.." || exit 2

ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export ASAN_OPTIONS UBSAN_OPTIONS

passed=0
failed=0
status=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# run NAME COMMAND...: run a part, show its output, add up its "N passed, M failed" line.
run() {
    name=$1
    shift
    echo "== $name: $*"
    "$@" >"$log" 2>&1
    rc=$?
    cat "$log"
    line=$(grep -E '^[a-z]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "== $name: FAILED (exit $rc, no summary line: it crashed or did not run)"
        failed=$((failed + 1))
        status=1
        return
    fi
    p=$(echo "$line" | sed -E 's/^[a-z]+: ([0-9]+) passed.*/\1/')
    f=$(echo "$line" | sed -E 's/.* ([0-9]+) failed$/\1/')
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
        echo "== $name: FAILED (exit $rc)"
        status=1
    fi
}

run unit build/test_aimc
run unit-sanitizers build/san/test_aimc
run cli-sanitizers tests/cli.sh build/san/aimc
run sweep tests/sweep.sh build/aimc
run sysc tests/sysc.sh build/aimc build/san/aimc
run rtl tests/rtl.sh build/aimc build/san/aimc
run codesign scripts/codesign.sh --reduced build/aimc
run install tests/install.sh
run python tests/python.sh
run fuzz tests/fuzz/run.sh smoke

echo "total: $passed passed, $failed failed"
exit $status
