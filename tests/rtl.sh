#!/bin/sh
# rtl.sh - the RTL from the command line (docs/rtl.md):
#   1. `make lint-rtl`: verilator --lint-only -Wall on rtl/*.sv (and with rtl/sim/*.sv) prints
#      nothing; the synthesizable part reads in the other tools too: Icarus
#      (iverilog -g2012 -Wall) compiles rtl/*.sv without a message, Yosys reads it
#      (read_verilog -sv) and runs the coarse part of `synth -top aimc_top` (elaboration,
#      processes, FSMs, memories) without a warning, and no DPI-C import is in rtl/*.sv;
#      the stand-alone testbench (tests/rtl/run.sh, no C model) passes. A missing Icarus or
#      Yosys is said (SKIP) and not counted; scripts/deps.sh installs both;
#   2. `aimc run --backend rtl:` on the default model and machine: the JSON report agrees with
#      `--backend sim:` in every line that does not depend on the device's clock (busy
#      cycles, dynamic energy of every part, counts, outputs, accuracy), on the normal and
#      the sanitizer build, without a sanitizer report. The run's time is the RTL's own
#      clock: its command processor runs one command at a time behind its own memory port,
#      where the model overlaps commands behind the cost layer's host link (docs/rtl.md);
#   3. `aimc run --backend rtl: --wave FILE` (8 tokens) writes an FST waveform that GTKWave's
#      own reader (fst2vcd, from the gtkwave package) reads back: the aimc_top scope, its
#      signals, and a last time stamp no earlier than the run's counted work (time_ns);
#   4. --wave without --backend rtl: is a usage error.
# Usage: tests/rtl.sh [AIMC [AIMC_SANITIZER]]  (default build/aimc build/san/aimc). Ends with
# "rtl: N passed, M failed"; exits non-zero when any check failed.
set -u
cd "$(dirname "$0")/.." || exit 2
aimc=${1:-build/aimc}
saimc=${2:-build/san/aimc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}

if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s lint-rtl >"$tmp/lint" 2>&1 && [ ! -s "$tmp/lint" ]; then ok; else
    bad "verilator lint is not clean"
    cat "$tmp/lint"
fi

# The synthesizable RTL in Icarus and Yosys (the full synthesis is `make synth`: minutes).
# rtl/aimc_rtl.f: every rtl/*.sv once, packages first (the order every tool reads them in)
rtl_sv=$(tr '\n' ' ' <rtl/aimc_rtl.f)
if [ "$(sort rtl/aimc_rtl.f | tr '\n' ' ')" = "$(ls rtl/*.sv | sort | tr '\n' ' ')" ] &&
    head -n 2 rtl/aimc_rtl.f | grep -q _pkg.sv; then ok; else
    bad "rtl/aimc_rtl.f does not list every rtl/*.sv once, packages first"
fi
if grep -l 'import *"DPI-C"' rtl/*.sv >"$tmp/dpi"; then
    bad "DPI-C imports outside rtl/sim/: $(cat "$tmp/dpi")"
else
    ok
fi
if ! command -v iverilog >/dev/null 2>&1; then
    echo "SKIP: iverilog is not installed (scripts/deps.sh installs it): Icarus check not run"
else
    # shellcheck disable=SC2086
    if iverilog -g2012 -Wall -Wno-timescale -o "$tmp/top.vvp" -s aimc_top $rtl_sv \
        >"$tmp/iverilog" 2>&1 && [ ! -s "$tmp/iverilog" ]; then ok; else
        bad "iverilog -g2012 does not compile rtl/*.sv cleanly"
        cat "$tmp/iverilog"
    fi
fi
if ! command -v yosys >/dev/null 2>&1; then
    echo "SKIP: yosys is not installed (scripts/deps.sh installs it): Yosys check not run"
else
    if yosys -q -l "$tmp/yosys.log" -p "read_verilog -sv $rtl_sv; \
        synth -top aimc_top -run :fine" >/dev/null 2>&1 &&
        ! grep -q -i -E 'warning|implicitly declared' "$tmp/yosys.log"; then ok; else
        bad "yosys does not read and synthesize rtl/*.sv cleanly"
        grep -i -E 'error|warning|implicit' "$tmp/yosys.log" | head -20
    fi
fi
if tests/rtl/run.sh >"$tmp/tb" 2>&1; then ok; else
    bad "the stand-alone testbench failed"
fi
cat "$tmp/tb"

# run NAME AIMC ARGS...: one aimc run; its JSON (without the backend line) in $tmp/NAME.cmp
run() {
    name=$1
    bin=$2
    shift 2
    if "$bin" run --json "$tmp/$name.json" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &&
        ! grep -q -E 'Sanitizer|runtime error' "$tmp/$name.err"; then
        ok
    else
        bad "$bin run $* failed"
        cat "$tmp/$name.err"
    fi
    tests/report-untimed.sh "$tmp/$name.json" >"$tmp/$name.cmp" 2>/dev/null
}

same() {
    if [ -s "$tmp/$1.cmp" ] && grep -q '"busy_cycles": [1-9]' "$tmp/$1.cmp" &&
        cmp -s "$tmp/$1.cmp" "$tmp/$2.cmp"; then
        ok
    else
        bad "$1 and $2 reports differ"
        diff "$tmp/$1.cmp" "$tmp/$2.cmp" | head -20
    fi
}

run sim "$aimc" --backend sim:
run rtl "$aimc" --backend rtl:
same sim rtl
if grep -q '"backend": "rtl:"' "$tmp/rtl.json"; then ok; else bad "backend is not rtl:"; fi
run rtl-san "$saimc" --backend rtl:
same sim rtl-san

run sim8 "$aimc" --backend sim: --tokens 8
run wave8 "$aimc" --backend rtl: --tokens 8 --wave "$tmp/run.fst"
same sim8 wave8
if [ -s "$tmp/run.fst" ] && fst2vcd "$tmp/run.fst" >"$tmp/run.vcd" 2>"$tmp/fst.err"; then
    ok
else
    bad "fst2vcd cannot read the waveform"
    cat "$tmp/fst.err"
fi
for sig in 'scope module aimc' 'var wire +1 .* clk ' ' irq ' ' m_axi_arvalid ' ' mac_conv_valid ' ' cnt_cycles'; do
    if grep -q -E "$sig" "$tmp/run.vcd"; then ok; else bad "the waveform has no '$sig'"; fi
done
# The waveform's time is in ps; the run's counted work (time_ns) must fit inside it.
work_ns=$(sed -n 's/^ *"time_ns": \([0-9.]*\),*$/\1/p' "$tmp/wave8.json" | head -n 1)
last=$(grep '^#' "$tmp/run.vcd" | tail -n 1 | tr -d '#')
if [ -n "$work_ns" ] && [ -n "$last" ] &&
    awk -v l="$last" -v w="$work_ns" 'BEGIN { exit !(l >= w * 1000 && w > 0) }'; then ok; else
    bad "the waveform ends at ${last:-?} ps, before the run's ${work_ns:-?} ns of work"
fi

if "$aimc" run --backend sim: --wave "$tmp/x.fst" >/dev/null 2>"$tmp/use.err"; then
    bad "--wave without rtl: was accepted"
elif grep -q 'needs --backend rtl:' "$tmp/use.err"; then ok; else
    bad "--wave without rtl: gave no clear message"
    cat "$tmp/use.err"
fi

echo "rtl: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
