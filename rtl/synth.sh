#!/bin/sh
# synth.sh - Yosys synthesis of the aimc control path (top aimc_top) and a summary: cells,
# flip-flops, SRAM macros (docs/rtl.md, "Synthesis"). `make synth` runs it with the RTL's
# files (packages first); the full log goes to build/synth/yosys.log.
#
# Under Yosys rtl/aimc_sram.sv is a black box (an SRAM macro): every SRAM stays one cell
# instead of millions of flip-flops. A second, small run synthesizes aimc_sram's body
# (-DAIMC_SRAM_INFER) to show that it infers a memory ($mem_v2), not flip-flops.
set -eu
cd "$(dirname "$0")/.."
out=build/synth
mkdir -p "$out"
start=$(date +%s)
yosys -q -l "$out/yosys.log" -p "read_verilog -sv $*; \
synth -top aimc_top; tee -q -o $out/stat.txt stat; tee -q -o $out/srams.txt dump t:aimc_sram"
end=$(date +%s)
if grep -q -i 'implicitly declared' "$out/yosys.log"; then
    echo "synth: implicit declarations:" >&2
    grep -i 'implicitly declared' "$out/yosys.log" >&2
    exit 1
fi
# the design hierarchy's totals (the last statistics block)
cells=$(awk '/=== design hierarchy ===/{h=1} h && /Number of cells:/{n=$4} END{print n}' "$out/stat.txt")
ffs=$(awk '/=== design hierarchy ===/{h=1} h && /\$_(S?DFF|DLATCH|ALDFF|DFFSR)[A-Z0-9_]*_ /{n+=$2} END{print n+0}' \
    "$out/stat.txt")
echo "synth: aimc_top: $cells cells, $ffs flip-flops, in $((end - start)) s (log: $out/yosys.log)"
awk '/^ *cell .aimc_sram/{name=$3} /parameter.* .W /{w=$NF} /parameter.* .DEPTH /{d=$NF}
     /^ *end$/ && name != "" {sub(/^\\/, "", name); printf "synth: SRAM %-6s %6d words x %3d bits = %9d bits\n", name, d, w, d*w; name=""}' \
    "$out/srams.txt"
# aimc_sram's own body: a memory, no flip-flops
yosys -q -l "$out/sram.log" -p "read_verilog -sv -DAIMC_SRAM_INFER rtl/aimc_sram.sv; \
chparam -set W 64 -set DEPTH 1024 -set AW 10 aimc_sram; synth -top aimc_sram -run :fine; \
tee -q -o $out/sram_stat.txt stat"
if grep -q '\$mem_v2 *1$' "$out/sram_stat.txt" && ! grep -q 'DFF' "$out/sram_stat.txt"; then
    echo "synth: aimc_sram (64 x 1024) infers one memory (\$mem_v2), no flip-flops"
else
    echo "synth: aimc_sram does not infer a memory:" >&2
    cat "$out/sram_stat.txt" >&2
    exit 1
fi
