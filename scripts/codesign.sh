#!/bin/sh
# codesign.sh - the co-design curves of docs/codesign.md, from one sweep and one training.
#
#   scripts/codesign.sh [--reduced] [AIMC]      (AIMC: the binary, default build/aimc)
#
# 1. `aimc sweep configs/sweeps/codesign-digits.yaml`: the digits classifier on the default
#    machine with a PCM device, over ADC bits x time since programming x drift compensation x
#    program-and-verify rounds, all at the default adc.range (percentile); prints three
#    tables (accuracy and energy per inference against each) from its CSV, then the ADC-bits
#    row again at adc.range=full_scale by `aimc run`.
# 2. Hardware-aware training at a 4-bit full-scale ADC: `aimc train --hw-aware --set adc.bits=4
#    --set adc.range=full_scale` (its noise model takes the LSB from the full scale), then
#    the plain and the hardware-aware model on that machine; prints the accuracy each
#    recovers and checks that hardware-aware training recovers at least half of the loss.
# 3. The byte-level language model: perplexity against ADC, drift and compensation, and
#    hardware-aware training of it (below).
# --reduced (what `make test` runs): 20 test samples per sweep point instead of 360; the
# training check is the same; the language model's runs are shorter. Ends with
# "codesign: N passed, M failed".
set -u
cd "$(dirname "$0")/.." || exit 2
reduced=0
if [ "${1:-}" = "--reduced" ]; then reduced=1; shift; fi
AIMC=${1:-build/aimc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
check() { if eval "$2"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi; }
# num FILE KEY: the first number of KEY at the JSON's second level (hw, float, total).
num() { sed -n "s/^    \"$2\": \([0-9.e+-]*\),*$/\1/p" "$1" | head -n 1; }

spec=configs/sweeps/codesign-digits.yaml
if [ $reduced -eq 1 ]; then
    sed 's/^  tokens: 360 .*/  tokens: 20/' $spec > configs/sweeps/.codesign-reduced.yaml
    spec=configs/sweeps/.codesign-reduced.yaml
fi
"$AIMC" sweep $spec --out "$tmp/cd" --quiet --plot "$tmp/cd.svg" >"$tmp/sweep.out" 2>&1
rc=$?
[ $reduced -eq 1 ] && rm -f configs/sweeps/.codesign-reduced.yaml
check "the sweep runs (exit $rc)" "[ $rc -eq 0 ]"
csv="$tmp/cd.csv"
check "180 points" "[ \$(tail -n +2 $csv | grep -c ',ok,') -eq 180 ]"
[ -s "$csv" ] && [ $reduced -eq 0 ] && cp "$tmp/cd.svg" docs/codesign-digits.svg

# Columns are found by their names in the CSV's header (col["adc.bits"] ...), so that a
# metric added to the spec or a varied key changed does not shift what the tables read.
hdr='NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
     function v(name) { if (!(name in col)) { print "codesign.sh: no column " name > "/dev/stderr"; exit 3 }
                        return $col[name] }'
echo
echo "Accuracy against ADC bits (adc.range percentile; 1 s after programming, no compensation,"
echo "no verify):"
echo
echo "| ADC bits | pJ per conversion | accuracy on the machine | float | energy per inference (nJ) | of it static (nJ) | of it ADC (nJ) |"
echo "|---|---|---|---|---|---|---|"
awk -F, "$hdr"'
    v("device.read_time_s") == 1 && v("device.drift_compensation") == "off" && v("program.verify_iterations") == 0 {
    printf "| %d | %.2f | %.1f %% | %.1f %% | %.1f | %.1f | %.1f |\n", v("adc.bits"),
           v("adc_energy_pj_per_conversion"), 100 * v("accuracy_hw"), 100 * v("accuracy_float"),
           v("energy_pj_per_token") / 1000, v("energy_pj_per_token_static") / 1000,
           v("energy_pj_per_token_adc") / 1000 }' "$csv"
echo
echo "Accuracy against time since programming (adc.range percentile; 8-bit ADC, no verify),"
echo "without and with global drift compensation:"
echo
echo "| time since programming | accuracy, no compensation | accuracy, compensated | energy per inference (nJ) | of it dynamic (nJ) |"
echo "|---|---|---|---|---|"
awk -F, "$hdr"'
    v("adc.bits") == 8 && v("program.verify_iterations") == 0 {
        t = v("device.read_time_s"); acc[t "," v("device.drift_compensation")] = v("accuracy_hw")
        e[t] = v("energy_pj_per_token"); d[t] = v("energy_pj_per_token") - v("energy_pj_per_token_static") }
    END { n = split("1 3600 2592000 31536000 315360000", ts, " ");
          split("1 s,1 hour,30 days,1 year,10 years", nm, ",");
          for (i = 1; i <= n; i++)
              printf "| %s | %.1f %% | %.1f %% | %.1f | %.2f |\n", nm[i], 100 * acc[ts[i] ",off"],
                     100 * acc[ts[i] ",on"], e[ts[i]] / 1000, d[ts[i]] / 1000 }' "$csv"
echo
echo "Accuracy against program-and-verify rounds (adc.range percentile; 8-bit ADC, 1 s, no"
echo "compensation; tolerance 0.5 uS):"
echo
echo "| verify rounds | accuracy | devices outside tolerance | programming pulses | time to program (ms) | energy to program (uJ) | energy per inference (nJ) |"
echo "|---|---|---|---|---|---|---|"
awk -F, "$hdr"'
    v("adc.bits") == 8 && v("device.read_time_s") == 1 && v("device.drift_compensation") == "off" {
    printf "| %d | %.1f %% | %.1f %% | %d | %.2f | %.2f | %.1f |\n", v("program.verify_iterations"),
           100 * v("accuracy_hw"), 100 * v("program_failed_fraction"), v("program_pulses"),
           v("deploy_time_ns") / 1e6, v("deploy_energy_pj") / 1e6, v("energy_pj_per_token") / 1000 }' "$csv"

# The ADC-bits row of the sweep again with the range sized for the tile's worst case
# (adc.range: full_scale), by `aimc run` on the same machine: what the default range buys.
echo
echo "Accuracy against ADC bits with adc.range full_scale (aimc run, the same machine, 1 s, no"
echo "compensation, no verify):"
echo
echo "| ADC bits | accuracy, full_scale | energy per inference (nJ) |"
echo "|---|---|---|"
ntok=""
[ $reduced -eq 1 ] && ntok="--tokens 20"
for b in 3 4 5 6 7 8; do
    "$AIMC" run --set device.type=pcm --set program.verify_tolerance_us=0.5 --set adc.bits=$b \
        --set adc.range=full_scale $ntok --json "$tmp/fs$b.json" >/dev/null 2>&1
    awk -v b=$b -v a="$(num "$tmp/fs$b.json" hw)" -v e="$(num "$tmp/fs$b.json" total)" \
        'BEGIN { printf "| %d | %.1f %% | %.1f |\n", b, 100 * a, e / 1000 }'
done
f3=$(num "$tmp/fs3.json" hw); f8=$(num "$tmp/fs8.json" hw)
check "full scale: 8-bit ADC beats 3-bit by far ($f8 > $f3 + 0.3)" \
      "awk 'BEGIN { exit !($f8 > $f3 + 0.3) }'"

# The curves must show what the hardware does: more ADC bits help, drift hurts, compensation
# and verify help (checked on the full-accuracy corner points).
acc() { awk -F, -v b="$1" -v t="$2" -v c="$3" -v it="$4" "$hdr"'
    v("adc.bits") == b && v("device.read_time_s") == t && v("device.drift_compensation") == c &&
    v("program.verify_iterations") == it { print v("accuracy_hw") }' "$csv"; }
a3=$(acc 3 1 off 0); a8=$(acc 8 1 off 0)
y10=$(acc 8 315360000 off 0); y10c=$(acc 8 315360000 on 0)
# With the percentile range 3 bits already classify well (94 % on all 360 samples), so on the
# reduced run's 20 samples accuracy can tie; the output error cannot: 0.56 at 3 bits, 0.12 at 8.
err() { awk -F, -v b="$1" "$hdr"'
    v("adc.bits") == b && v("device.read_time_s") == 1 && v("device.drift_compensation") == "off" &&
    v("program.verify_iterations") == 0 { print v("rel_rms_error") }' "$csv"; }
e3=$(err 3); e8=$(err 8)
check "8-bit ADC at least halves 3-bit's output error ($e8 < $e3 / 2)" \
      "awk 'BEGIN { exit !($e8 < $e3 / 2) }'"
check "8-bit ADC classifies no worse than 3-bit ($a8 >= $a3)" "awk 'BEGIN { exit !($a8 >= $a3) }'"
check "compensation helps after 10 years ($y10c > $y10)" "awk 'BEGIN { exit !($y10c > $y10) }'"

echo
# Its noise model takes the ADC's LSB from the tile's full scale (docs/codesign.md), so it is
# studied there: with the default calibrated range (percentile) 4 bits lose almost nothing.
echo "Hardware-aware training at a 4-bit full-scale ADC (default machine, adc.bits=4, adc.range=full_scale):"
"$AIMC" train --hw-aware --set adc.bits=4 --set adc.range=full_scale --epochs 30 \
    --out "$tmp/hat4.safetensors" >"$tmp/train.out" 2>&1
check "hardware-aware training runs" "[ $? -eq 0 ]"
sed "s|path: digits-moe.safetensors|path: $tmp/hat4.safetensors|; s|data: data/digits.csv|data: $PWD/models/data/digits.csv|" \
    models/digits-moe.yaml > "$tmp/hat4.yaml"
"$AIMC" run --set adc.bits=4 --set adc.range=full_scale --json "$tmp/plain.json" >/dev/null 2>&1
"$AIMC" run --model "$tmp/hat4.yaml" --set adc.bits=4 --set adc.range=full_scale \
    --json "$tmp/hat.json" >/dev/null 2>&1
fl=$(num "$tmp/plain.json" float); pl=$(num "$tmp/plain.json" hw); ha=$(num "$tmp/hat.json" hw)
hf=$(num "$tmp/hat.json" float)
awk -v f="$fl" -v p="$pl" -v h="$ha" -v hf="$hf" 'BEGIN {
    printf "  float model: %.1f %% in float, %.1f %% on the machine (%.1f points lost)\n", 100*f, 100*p, 100*(f-p)
    printf "  hardware-aware model: %.1f %% in float, %.1f %% on the machine: recovers %.1f of %.1f points (%.0f %%)\n", 100*hf, 100*h, 100*(h-p), 100*(f-p), 100*(h-p)/(f-p) }'
check "hardware-aware training recovers at least half the loss at 4 bits" \
      "awk -v f=$fl -v p=$pl -v h=$ha 'BEGIN { exit !((h - p) >= 0.5 * (f - p)) }'"

# 3. The byte-level language model (models/bytes-lm.yaml): perplexity of the held-out text in
#    float and on the machine (PCM devices) at an 8-bit ADC, 1 s and 1 year after programming
#    without and with drift compensation; then at a 6-bit full-scale ADC the model as trained
#    and one trained hardware-aware for that machine (`aimc train --lm --hw-aware`).
#    --reduced: 256 held-out bytes per run, and a small hardware-aware model on one text.
echo
echo "The byte-level language model (models/bytes-lm.yaml) on the default machine with PCM devices:"
echo
lmtok=6400
[ $reduced -eq 1 ] && lmtok=256
lm_run() { # MODEL OUT SET...: perplexity (machine, float) and next-byte accuracy (machine)
    m=$1; out=$2; shift 2
    "$AIMC" run --model "$m" --tokens $lmtok --set device.type=pcm "$@" >"$out" 2>&1
    awk '/^language / { for (i = 1; i <= NF; i++) { if ($i == "perplexity") p = $(i + 1);
                                                      if ($i == "accuracy") a = $(i + 1) }
                         f = $(NF - 5); gsub(/,/, "", p); print p, f, a }' "$out"
}
set -- $(lm_run models/bytes-lm.yaml "$tmp/lm1" --set adc.bits=8); p1=${1:-0}; pf=${2:-0}; a1=${3:-0}
set -- $(lm_run models/bytes-lm.yaml "$tmp/lm2" --set adc.bits=8 --set device.drift_compensation=on); p1c=${1:-0}; a1c=${3:-0}
set -- $(lm_run models/bytes-lm.yaml "$tmp/lm3" --set adc.bits=8 --set device.read_time_s=31536000); py=${1:-0}; ay=${3:-0}
set -- $(lm_run models/bytes-lm.yaml "$tmp/lm4" --set adc.bits=8 --set device.read_time_s=31536000 --set device.drift_compensation=on); pyc=${1:-0}; ayc=${3:-0}
echo "| setting ($lmtok held-out bytes) | perplexity | next-byte accuracy on the machine |"
echo "|---|---|---|"
echo "| float | $pf | |"
echo "| 8-bit ADC, 1 s after programming | $p1 | $a1 % |"
echo "| 8-bit ADC, 1 s, drift compensation | $p1c | $a1c % |"
echo "| 8-bit ADC, 1 year | $py | $ay % |"
echo "| 8-bit ADC, 1 year, drift compensation | $pyc | $ayc % |"
check "the LM runs and scores ($p1, float $pf)" "awk 'BEGIN { exit !($pf > 1 && $p1 > 1) }'"
check "8-bit ADC at 1 s within 25 % of float ($p1 vs $pf)" "awk 'BEGIN { exit !($p1 < 1.25 * $pf) }'"
check "a year of drift hurts ($py > $p1)" "awk 'BEGIN { exit !($py > $p1) }'"
check "compensation helps after a year ($pyc < $py)" "awk 'BEGIN { exit !($pyc < $py) }'"

echo
echo "Hardware-aware training of the LM at a 6-bit full-scale ADC (PCM, adc.bits=6, adc.range=full_scale):"
if [ $reduced -eq 1 ]; then
    lmargs="--text /usr/share/common-licenses/LGPL-3 --epochs 1 --d-model 32 --d-ff 32"
else
    lmargs="--epochs 3 --d-ff 128"
fi
"$AIMC" train --lm --hw-aware --set device.type=pcm --set adc.bits=6 --set adc.range=full_scale \
    $lmargs --out "$tmp/lmhat.safetensors" >"$tmp/lmtrain.out" 2>&1
check "hardware-aware LM training runs" "[ $? -eq 0 ]"
if [ $reduced -eq 0 ]; then
    sed "s|path: bytes-lm.safetensors|path: $tmp/lmhat.safetensors|" models/bytes-lm.yaml > "$tmp/lmhat.yaml"
    set -- $(lm_run models/bytes-lm.yaml "$tmp/lm5" --set adc.bits=6 --set adc.range=full_scale); p6=${1:-0}; a6=${3:-0}
    set -- $(lm_run "$tmp/lmhat.yaml" "$tmp/lm6" --set adc.bits=6 --set adc.range=full_scale); h6=${1:-0}; hf=${2:-0}; ha6=${3:-0}
    echo "| model | perplexity in float | on the machine | next-byte accuracy on the machine |"
    echo "|---|---|---|---|"
    echo "| trained in float | $pf | $p6 | $a6 % |"
    echo "| trained hardware-aware | $hf | $h6 | $ha6 % |"
    check "hardware-aware training lowers the machine's perplexity ($h6 < $p6)" \
          "awk 'BEGIN { exit !($h6 < $p6) }'"
fi

echo "codesign: $pass passed, $fail failed"
[ $fail -eq 0 ]
