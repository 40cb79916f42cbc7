#!/bin/sh
# run.sh - the stand-alone testbench of the control path (tests/rtl/aimc_tb.sv, no C model):
# Icarus compiles rtl/*.sv with the testbench and its model of the analog half, and runs it.
# Its last line is "rtl-tb: N passed, M failed"; exits non-zero when a check failed. Without
# Icarus it says so and exits 0 (scripts/deps.sh installs iverilog).
# Usage: tests/rtl/run.sh [-v]  (-v: the testbench's output even when it passes)
#        tests/rtl/run.sh --verilator  (the same testbench built by Verilator --binary --timing:
#        about a minute of compiling; the testbench's own code is not lint-clean, so its
#        warnings are not errors there)
set -u
cd "$(dirname "$0")/../.." || exit 2
if [ "${1:-}" = --verilator ]; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    if ! verilator --binary --timing -j 2 -Wno-fatal -Wno-WIDTH -Wno-BLKSEQ -Wno-UNUSEDSIGNAL \
        --timescale 1ns/1ps --Mdir "$tmp" --top-module aimc_tb -f rtl/aimc_rtl.f \
        tests/rtl/aimc_tb_macro.sv tests/rtl/aimc_tb.sv >"$tmp/build" 2>&1; then
        cat "$tmp/build"
        echo "rtl-tb: 0 passed, 1 failed"
        exit 1
    fi
    "$tmp/Vaimc_tb" 2>&1 | grep -v -e '\$finish' >"$tmp/out"
    cat "$tmp/out"
    tail -n 1 "$tmp/out" | grep -q -E '^rtl-tb: [1-9][0-9]* passed, 0 failed$'
    exit
fi
if ! command -v iverilog >/dev/null 2>&1 || ! command -v vvp >/dev/null 2>&1; then
    echo "SKIP: iverilog is not installed (scripts/deps.sh installs it): testbench not run"
    echo "rtl-tb: 0 passed, 0 failed"
    exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rtl=$(tr '\n' ' ' <rtl/aimc_rtl.f)   # packages first
# shellcheck disable=SC2086
if ! iverilog -g2012 -Wall -Wno-timescale -o "$tmp/tb.vvp" -s aimc_tb $rtl \
    tests/rtl/aimc_tb_macro.sv tests/rtl/aimc_tb.sv >"$tmp/build" 2>&1 || [ -s "$tmp/build" ]; then
    echo "FAIL: iverilog cannot build the testbench cleanly:"
    cat "$tmp/build"
    echo "rtl-tb: 0 passed, 1 failed"
    exit 1
fi
vvp -n "$tmp/tb.vvp" >"$tmp/out" 2>&1
if ! tail -n 1 "$tmp/out" | grep -q -E '^rtl-tb: [0-9]+ passed, 0 failed$' || [ "${1:-}" = -v ]; then
    cat "$tmp/out"
else
    tail -n 1 "$tmp/out"
fi
tail -n 1 "$tmp/out" | grep -q -E '^rtl-tb: [1-9][0-9]* passed, 0 failed$'
