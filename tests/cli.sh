#!/bin/sh
# cli.sh - checks of the aimc command as a user meets it: help, exit codes, every malformed
# config and model file's message, the JSON reports' keys, determinism of `aimc run`.
# Usage: tests/cli.sh [AIMC_BINARY]   (default build/aimc; make test passes the sanitizer
# build). Ends with "cli: N passed, M failed"; exits non-zero when any check failed.
set -u
cd "$(dirname "$0")/.." || exit 2
AIMC=${1:-build/aimc}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*"
}

# expect_exit CODE DESCRIPTION COMMAND...: the command exits with CODE and no sanitizer report.
expect_exit() {
    want=$1
    what=$2
    shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if grep -q -E 'Sanitizer|runtime error' "$tmp/err"; then
        bad "$what: sanitizer report"
        cat "$tmp/err"
    elif [ "$got" -ne "$want" ]; then
        bad "$what: exit $got, expected $want"
        cat "$tmp/err"
    else
        ok
    fi
}

# has_line FILE REGEX DESCRIPTION
has_line() {
    if grep -q -E "$2" "$1"; then ok; else bad "$3: no line matching /$2/ in $1"; fi
}

expect_exit 0 "--version" "$AIMC" --version
has_line "$tmp/out" '^aimc [0-9]+\.[0-9]+\.[0-9]+$' "--version"
expect_exit 0 "--help" "$AIMC" --help
has_line "$tmp/out" 'usage: aimc' "--help"
for c in run map info; do
    expect_exit 0 "$c --help" "$AIMC" $c --help
    has_line "$tmp/out" "usage: aimc $c" "$c --help"
done
expect_exit 2 "no command" "$AIMC"
expect_exit 2 "unknown command" "$AIMC" frobnicate
expect_exit 2 "unknown option" "$AIMC" run --frobnicate
expect_exit 2 "bad --tokens" "$AIMC" run --tokens 0
has_line "$tmp/err" 'tokens: expected an integer in 1\.\.65536, got "0"' "bad --tokens message"

# Every malformed config: its exact message on stderr, exit 2, no sanitizer report.
n=0
for f in tests/configs/bad/*.yaml; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    expect_exit 2 "$f" "$AIMC" info --config "$f"
    want=$(cat "${f%.yaml}.expect")
    if grep -q -x -F "$want" "$tmp/err"; then ok; else
        bad "$f: stderr lacks the line: $want"
        cat "$tmp/err"
    fi
done
[ "$n" -ge 10 ] && ok || bad "only $n malformed configs in tests/configs/bad"

n=0
for f in tests/models/bad/*.yaml; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    expect_exit 2 "$f" "$AIMC" map --model "$f"
    want=$(cat "${f%.yaml}.expect")
    if grep -q -x -F "$want" "$tmp/err"; then ok; else
        bad "$f: stderr lacks the line: $want"
        cat "$tmp/err"
    fi
done
[ "$n" -ge 5 ] && ok || bad "only $n malformed models in tests/models/bad"

# Every malformed plan file (a copy of digits-moe's --plan-out with one rule broken): its
# exact message, exit 2, no sanitizer report (the crossbars_span one read past a buffer).
n=0
for f in tests/plans/bad/*.json; do
    [ -e "$f" ] || continue
    n=$((n + 1))
    expect_exit 2 "$f" "$AIMC" map --model models/digits-moe.yaml --plan "$f"
    want=$(cat "${f%.json}.expect")
    if grep -q -x -F "$want" "$tmp/err"; then ok; else
        bad "$f: stderr lacks the line: $want"
        cat "$tmp/err"
    fi
done
[ "$n" -ge 20 ] && ok || bad "only $n malformed plans in tests/plans/bad"
# A plan loads back under its own fault map (seed 1) and is refused under another (seed 2).
faults="--set device.stuck_on_rate=0.02 --set mapping.fault_threshold=0.02"
expect_exit 0 "plan with faults" "$AIMC" map $faults --plan-out "$tmp/fplan.json"
expect_exit 0 "plan back, same faults" "$AIMC" map $faults --plan "$tmp/fplan.json"
expect_exit 2 "plan back, other faults" "$AIMC" map $faults --seed 2 --plan "$tmp/fplan.json"
has_line "$tmp/err" "^$tmp/fplan.json: runs\[[0-9]+\]: crossbar [0-9]+ is faulty" "faulty crossbar message"

expect_exit 2 "--set bad value" "$AIMC" info --set adc.bits=eight
has_line "$tmp/err" '^--set adc.bits=eight: adc.bits: expected an integer in 1\.\.16, got "eight"$' "--set message"
# Every option that takes a value says so when the value is missing or is the next option.
for cv in "run --config" "run --model" "run --set" "run --json" "run --backend" "run --seed" \
          "run --tokens" "run --trace" "run --wave" "map --config" "map --model" "map --set" \
          "map --json" "map --seed" "map --routing" "map --plan-out" "map --plan" "map --svg" \
          "info --config" "info --set" "info --json" "sweep --out" "sweep --jobs" "sweep --plot" \
          "train --data" "train --experts" "train --top-k" "train --d-ff" "train --epochs" \
          "train --batch" "train --lr" "train --seed" "train --config" "train --set" "train --out"; do
    c=${cv%% *}
    o=${cv#* }
    expect_exit 2 "$cv without a value" "$AIMC" $c $o
    has_line "$tmp/err" "^aimc $c: option $o needs a value\$" "$cv without a value"
done
expect_exit 2 "--config followed by an option" "$AIMC" run --config --model models/tiny-moe.yaml
has_line "$tmp/err" '^aimc run: option --config needs a value, got the option --model$' "--config --model"
expect_exit 2 "--plan followed by an option" "$AIMC" map --plan --seed 2
has_line "$tmp/err" '^aimc map: option --plan needs a value, got the option --seed$' "--plan --seed"
# A directory where a file is read: said so, exit 2.
mkdir "$tmp/dir"
for cv in "map --plan" "map --routing" "map --config" "map --model" "info --config" "train --data"; do
    expect_exit 2 "$cv DIR" "$AIMC" $cv "$tmp/dir"
    has_line "$tmp/err" "$tmp/dir: is a directory, not a file\$" "$cv DIR"
done
# A file that never ends is refused, not read until memory runs out.
expect_exit 2 "--config /dev/zero" "$AIMC" info --config /dev/zero
has_line "$tmp/err" '^/dev/zero: larger than 64 MiB$' "--config /dev/zero"
expect_exit 2 "sweep DIR" "$AIMC" sweep "$tmp/dir"
has_line "$tmp/err" "^$tmp/dir: is a directory, not a file\$" "sweep DIR"
# Outputs that cannot be written: the path and the reason, exit 1.
expect_exit 1 "--json into a missing directory" "$AIMC" info --json "$tmp/none/x.json"
has_line "$tmp/err" "^aimc: cannot write $tmp/none/x.json: No such file or directory\$" "--json missing dir"
expect_exit 1 "--plan-out DIR" "$AIMC" map --plan-out "$tmp/dir"
has_line "$tmp/err" "^aimc: $tmp/dir: cannot write: Is a directory\$" "--plan-out DIR"
expect_exit 1 "--svg into a missing directory" "$AIMC" map --svg "$tmp/none/x.svg"
has_line "$tmp/err" "^aimc: $tmp/none/x.svg: cannot write: No such file or directory\$" "--svg missing dir"
expect_exit 1 "--trace DIR" "$AIMC" run --timing-only --model models/tiny-moe.yaml --trace "$tmp/dir"
has_line "$tmp/err" "^aimc: $tmp/dir: cannot create the trace file: Is a directory\$" "--trace DIR"
expect_exit 2 "missing config file" "$AIMC" info --config "$tmp/nonexistent.yaml"
expect_exit 2 "missing model file" "$AIMC" map --model "$tmp/nonexistent.yaml"

# A model that does not fit names the crossbars and chips it needs.
expect_exit 1 "does not fit" "$AIMC" map --set hierarchy.cores_per_chip=1 --set hierarchy.crossbars_per_core=4
has_line "$tmp/err" 'needs [0-9]+ crossbars \([0-9]+ chips? of 4\); the machine has 4 \(1 chip\)' "no-fit message"

# aimc map prints crossbars used/available and utilisation.
expect_exit 0 "map" "$AIMC" map --json "$tmp/map.json"
has_line "$tmp/out" 'crossbars' "map output"
has_line "$tmp/out" 'cell utilisation' "map output"
has_line "$tmp/map.json" '^    "crossbars_used": [0-9]+,$' "map json"

# A model with attention and dense layers maps, summarises and is estimated at the context
# position asked for (0 by default); a position beyond the KV cache's is a usage error.
cat >"$tmp/dense.yaml" <<'EOD'
version: 1
model:
  name: dense
  layers: 3
  dense_layers: 1
  dense_d_ff: 64
  d_model: 32
  routed_experts: 4
  expert_d_ff: 32
  top_k: 2
  attention: {heads: 4, kv_heads: 2}
  vocab: 40
EOD
expect_exit 0 "map a model with dense layers" "$AIMC" map --model "$tmp/dense.yaml" --json "$tmp/dense.json"
has_line "$tmp/out" '^estimate one token at context position 0, nothing contending: [0-9.]+ ns' "map: estimate of a dense model"
has_line "$tmp/dense.json" '^    "estimate_position": 0,$' "map json: the estimate's position"
has_line "$tmp/dense.json" '^    "latency_ns_per_token": [0-9.e+]+,$' "map json: a dense model's estimate"
expect_exit 0 "map --position" "$AIMC" map --model "$tmp/dense.yaml" --position 100
has_line "$tmp/out" '^estimate one token at context position 100,' "map: estimate at a position"
expect_exit 2 "map --position beyond the cache" "$AIMC" map --model "$tmp/dense.yaml" --position 65536

# aimc info: the documented keys.
expect_exit 0 "info" "$AIMC" info --config configs/default.yaml --json "$tmp/info.json"
has_line "$tmp/info.json" '^  "peak": \{$' "info json peak"
has_line "$tmp/info.json" '^    "tops": [0-9.e+-]+,$' "info json peak.tops"
has_line "$tmp/info.json" '^    "tops_per_w": [0-9.e+-]+,$' "info json peak.tops_per_w"
has_line "$tmp/info.json" '^  "chip": \{$' "info json chip"
has_line "$tmp/info.json" '^    "power_w": [0-9.e+-]+,$' "info json chip.power_w"
has_line "$tmp/info.json" '^    "area_mm2": [0-9.e+-]+,$' "info json chip.area_mm2"

# aimc run: the report and its keys.
expect_exit 0 "run" "$AIMC" run --json "$tmp/run1.json"
for w in mapping latency energy dac xbar adc digital "rms error" accuracy; do
    has_line "$tmp/out" "$w" "run output mentions $w"
done
# The default model is the digits classifier: its whole test split, 360 samples.
for k in '  "mode": "values",' '  "cycles": [0-9]+,' '  "time_ns": [0-9.e+-]+,' '  "tokens": 360,' \
         '  "first_token_ns": [0-9.e+-]+,' '  "time_ns_per_token": [0-9.e+-]+,' \
         '  "tokens_per_s": [0-9.e+-]+,' '  "busy_cycles": [0-9]+,' \
         '  "energy_pj_per_token": \{' '    "total": [0-9.e+-]+,' \
         '    "dynamic": [0-9.e+-]+,' '    "static": [0-9.e+-]+,' '    "by_part": \{' \
         '      "dac": \{' '      "xbar": \{' '      "adc": \{' '      "digital": \{' \
         '      "noc": \{' '      "host_dma": \{' '        "total": [0-9.e+-]+' \
         '  "energy_pj_run": \{' '  "powered": \{' '    "gating": "unused",' \
         '    "crossbars": 33,' '  "achieved": \{' '    "tops_per_w": [0-9.e+-]+' \
         '  "deploy": \{' '    "pulses": [0-9]+,' '    "energy_pj": [0-9.e+-]+,' \
         '  "breakdown": \{' '    "matrices": \[' '    "commands": \[' '  "warnings": \[\],' \
         '  "output": \{' '    "rel_rms_error": [0-9.e+-]+,' \
         '  "accuracy": \{' '    "float": 0\.9[0-9.e+-]*,' '    "hw": 0\.[0-9.e+-]+'; do
    has_line "$tmp/run1.json" "^$k\$" "run json key /$k/"
done
# One latency block and one energy block: the device's, whatever made it.
for w in '^latency ' '^energy '; do
    n=$(grep -c "$w" "$tmp/out")
    [ "$n" -eq 1 ] && ok || bad "run prints $n lines matching /$w/, want 1"
done
if grep -q -i 'count only' "$tmp/out"; then bad "run still says its figures count only part"; else ok; fi
# Timing-only: the same machine, plan and routing without values: no errors or accuracy,
# the same dynamic energy of the arrays' structure (conversions), a report of the same form.
expect_exit 0 "run timing-only" "$AIMC" run --timing-only --json "$tmp/timing.json"
has_line "$tmp/timing.json" '^  "mode": "timing_only",$' "timing-only mode in the report"
has_line "$tmp/timing.json" '^  "tokens": 360,$' "timing-only runs the same tokens"
if grep -q '"accuracy"\|"rel_rms_error"' "$tmp/timing.json"; then bad "timing-only reports values"; else ok; fi
c1=$(sed -n 's/^    "adc_conversions": \([0-9]*\),$/\1/p' "$tmp/run1.json")
c2=$(sed -n 's/^    "adc_conversions": \([0-9]*\),$/\1/p' "$tmp/timing.json")
[ -n "$c1" ] && [ "$c1" = "$c2" ] && ok || bad "timing-only counted ${c2:-?} conversions, the value run ${c1:-?}"
# The report's blocks: latency, energy per token with a total line, achieved beside peak,
# deploy; the CSV breakdown; the GPU beside it.
for w in '^         total ' '^achieved ' 'peak: ' '^deploy ' 'pulses' 'at steady state'; do
    has_line "$tmp/out" "$w" "run output has /$w/"
done
expect_exit 0 "run --csv --compare" "$AIMC" run --tokens 8 --csv "$tmp/b.csv" --compare gpu:h100
has_line "$tmp/b.csv" '^kind,name,layer,commands,vectors,busy_ns,dac_pj,.*,total_pj$' "csv header"
has_line "$tmp/b.csv" '^layer,layer0,0,' "csv per layer"
has_line "$tmp/b.csv" '^matrix,layer0\.router,0,8,8,' "csv per matrix"
has_line "$tmp/b.csv" '^command,scale_acc,,' "csv per command kind"
has_line "$tmp/out" '^gpu      h100: ' "run --compare prints the GPU"
has_line "$tmp/out" 'the simulated machine / the GPU: tokens/s .*x, energy per token .*x' "ratio line"
expect_exit 2 "run --compare unknown" "$AIMC" run --compare gpu:v100
has_line "$tmp/err" 'expected gpu:NAME with NAME one of a100, h100, h200' "--compare message"
expect_exit 1 "run --csv unwritable" "$AIMC" run --csv /nonexistent/dir/b.csv
# Presets tell the truth: a run beyond the chips a preset was published for, or a part that
# worked at zero energy, is reported with a warning.
cat >"$tmp/mid.yaml" <<EOF
version: 1
model: {name: mid, layers: 4, d_model: 512, routed_experts: 8, expert_d_ff: 512, top_k: 2,
        shared_experts: 0, ffn: swiglu}
weights: {random: {seed: 1, distribution: normal}}
EOF
expect_exit 0 "hermes beyond one chip" "$AIMC" run --config configs/hermes.yaml --model "$tmp/mid.yaml" \
    --set hierarchy.chips=auto --tokens 4 --timing-only
has_line "$tmp/out" '^warning  the run uses 7 chips; hermes.s figures were published for 1 \(calibration.chips\)' \
    "hermes: chips warning"
expect_exit 0 "zero-energy part" "$AIMC" run --tokens 4 --set mapping.noc_hop_energy_pj=0 --json "$tmp/w.json"
has_line "$tmp/out" '^warning  the noc part worked in this run but default gives it no energy \(mapping.noc_hop_energy_pj = 0\)' \
    "zero-energy warning"
has_line "$tmp/w.json" '^    "the noc part worked' "warning in the JSON"
expect_exit 0 "one chip, no warning" "$AIMC" run --tokens 4 --config configs/hermes.yaml
if grep -q '^warning' "$tmp/out"; then bad "hermes on one chip warns"; else ok; fi
# Fail fast: Mixtral's values do not fit the default machine or this host; refused before any
# work, in under a second, naming the chips and the options.
t0=$(date +%s%N)
expect_exit 2 "mixtral with values" "$AIMC" run --model models/mixtral-8x7b.yaml
t1=$(date +%s%N)
[ $(( (t1 - t0) / 1000000 )) -lt 1000 ] && ok || bad "mixtral refused after $(( (t1 - t0) / 1000000 )) ms"
has_line "$tmp/err" '22207 chips' "mixtral: the chips needed"
has_line "$tmp/err" 'hierarchy.chips: auto' "mixtral: chips auto named"
# With chips: auto it fits the machine but not the host (its float32 weights alone are 180 GB;
# CI has 24 GiB): checked where the host has less than 350 GB.
mem_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo 2>/dev/null)
if [ -n "$mem_kb" ] && [ "$mem_kb" -lt 350000000 ]; then
    t0=$(date +%s%N)
    expect_exit 2 "mixtral with values, chips auto" "$AIMC" run --model models/mixtral-8x7b.yaml \
        --set hierarchy.chips=auto
    t1=$(date +%s%N)
    [ $(( (t1 - t0) / 1000000 )) -lt 1000 ] && ok || bad "mixtral (auto) refused after $(( (t1 - t0) / 1000000 )) ms"
    has_line "$tmp/err" 'GB of host memory' "mixtral: the memory needed"
    has_line "$tmp/err" 'takes 22207 chip' "mixtral: the chips it takes"
    has_line "$tmp/err" '[-]-timing-only' "mixtral: --timing-only named"
fi
expect_exit 2 "run --batch 0" "$AIMC" run --batch 0
expect_exit 2 "run --activity nosuch" "$AIMC" run --activity nosuch
# The same seed gives identical bytes; another seed gives other numbers.
expect_exit 0 "run again" "$AIMC" run --json "$tmp/run2.json"
cmp -s "$tmp/run1.json" "$tmp/run2.json" && ok || bad "run with the same seed differs"
expect_exit 0 "run seed 2" "$AIMC" run --seed 2 --json "$tmp/run3.json"
cmp -s "$tmp/run1.json" "$tmp/run3.json" && bad "run with another seed is identical" || ok
expect_exit 1 "unknown backend" "$AIMC" run --backend nosuch:
has_line "$tmp/err" 'nosuch:: unknown scheme \(known: sim:, mock:, uio:, sysc:, rtl:\)$' "unknown backend lists every scheme"
# A random-weight model without a data set runs 16 tokens by default.
expect_exit 0 "run tiny-moe" "$AIMC" run --model models/tiny-moe.yaml --json "$tmp/tiny.json"
has_line "$tmp/tiny.json" '^  "tokens": 16,$' "tiny-moe runs 16 tokens"
if grep -q '"accuracy"' "$tmp/tiny.json"; then bad "tiny-moe reports an accuracy"; else ok; fi

# Options a model cannot take are refused before any work, exit 2, naming the option and why:
# --prompt and --generate describe a sequence, which a model without attention has not (they
# crashed the runtime); --dump-layers is for models without attention, dense layers or a
# vocabulary (the runtime refused it only after programming).
for o in "--prompt 4" "--generate"; do
    expect_exit 2 "digits-moe $o" "$AIMC" run --model models/digits-moe.yaml $o
    has_line "$tmp/err" "^aimc run: ${o% *}: model digits-moe has no attention, so its tokens are no sequence .*--prompt and --generate are for models with attention\$" "digits-moe $o message"
done
expect_exit 2 "bytes-lm --dump-layers" "$AIMC" run --model models/bytes-lm.yaml \
    --dump-outputs "$tmp/lm.st" --dump-layers
has_line "$tmp/err" "^aimc run: --dump-layers: every layer's hidden state is kept for models without attention, dense layers or a vocabulary only, and model bytes-lm has attention; " "bytes-lm --dump-layers message"
if grep -q '^deploy ' "$tmp/out"; then bad "bytes-lm --dump-layers programmed the model first"; else ok; fi
# A refused run loses nothing: an outputs file already there keeps its bytes, and one that was
# not there is not left behind.
printf 'keep me\n' >"$tmp/kept.st"
expect_exit 2 "refused run, outputs file there" "$AIMC" run --model models/digits-moe.yaml \
    --prompt 4 --dump-outputs "$tmp/kept.st"
has_line "$tmp/kept.st" '^keep me$' "a refused run keeps the outputs file's bytes"
expect_exit 2 "refused run, no outputs file" "$AIMC" run --model models/digits-moe.yaml \
    --prompt 4 --dump-outputs "$tmp/new.st"
if [ -e "$tmp/new.st" ]; then bad "a refused run left an outputs file"; else ok; fi
# A JSON report that cannot be written is found before the run, not after its work.
expect_exit 1 "--json into no directory" "$AIMC" run --json "$tmp/no/such/dir/r.json"
has_line "$tmp/err" "^aimc: $tmp/no/such/dir/r.json: cannot create the JSON file: No such file or directory\$" "--json into no directory: message"
if grep -q '^run ' "$tmp/out"; then bad "--json into no directory: ran first"; else ok; fi
# A language model's --dump-outputs: the ids of the text as run, scored (perplexity reported).
printf 'Hello, world. Hello, aimc.\n' >"$tmp/hello.txt"
expect_exit 0 "bytes-lm --dump-outputs" "$AIMC" run --model models/bytes-lm.yaml \
    --tokens-file "text:$tmp/hello.txt" --dump-outputs "$tmp/lm.st"
has_line "$tmp/out" '^outputs  27 tokens: input, hidden, logits, token ids and routing in ' "bytes-lm dump: its 27 bytes"
has_line "$tmp/out" '^language next-token accuracy .*\(26 tokens scored\)$' "bytes-lm dump: scored as a language model"

# The KV cache warning sizes a layer's cache by the cost layer, for the longest sequence run:
# bytes-lm's 256 tokens are windows of 64 (eval.context), 64 positions x 4 kv heads x (16 keys
# + 16 values) x 4 bytes = 32 KiB, over a 16 KiB buffer and within a 64 KiB one.
expect_exit 0 "bytes-lm KV cache in 16 KiB" "$AIMC" run --model models/bytes-lm.yaml --timing-only \
    --tokens 256 --set kv_cache.memory=buffer --set buffer.kb=16
has_line "$tmp/out" "^warning  a layer's KV cache of 64 positions takes 32\.0 KiB, more than the 16 KiB buffer" \
    "bytes-lm: KV cache warning of one window"
expect_exit 0 "bytes-lm KV cache in 64 KiB" "$AIMC" run --model models/bytes-lm.yaml --timing-only \
    --tokens 256 --set kv_cache.memory=buffer --set buffer.kb=64
if grep -q 'KV cache' "$tmp/out"; then bad "bytes-lm: a window's 32 KiB cache warned of in 64 KiB"; else ok; fi

# A language model's report says what ran: bytes-lm's 256 tokens are 4 windows of 64
# (eval.context), each prefilled at once, not groups of --batch; the GPU beside it runs the
# same 64 tokens a step; a --batch that does not apply is a warning.
expect_exit 0 "bytes-lm windows" "$AIMC" run --model models/bytes-lm.yaml --timing-only \
    --tokens 256 --compare gpu:h100 --json "$tmp/lmw.json"
has_line "$tmp/out" '^         makespan .* for 256 tokens in 4 windows of 64, each prefilled at once$' \
    "bytes-lm: the windows in the latency block"
has_line "$tmp/out" '^gpu      h100: the same workload at batch 64 by a roofline' "bytes-lm: the GPU at a window"
has_line "$tmp/lmw.json" '^  "windows": 4,$' "bytes-lm json: windows"
has_line "$tmp/lmw.json" '^    "batch": 64,$' "bytes-lm json: compare.batch a window"
if grep -q '^warning  --batch' "$tmp/out"; then bad "bytes-lm warns of a --batch not given"; else ok; fi
expect_exit 0 "bytes-lm --batch 4" "$AIMC" run --model models/bytes-lm.yaml --timing-only \
    --tokens 100 --batch 4
has_line "$tmp/out" '^         makespan .* for 100 tokens in 2 windows of at most 64, each prefilled at once$' \
    "bytes-lm: a shorter last window"
has_line "$tmp/out" "^warning  --batch 4 does not apply: a language model's windows are prefilled at once" \
    "bytes-lm: --batch under teacher forcing"
# --prompt beyond a window is cut to it, and the line says so.
expect_exit 0 "bytes-lm --prompt 100" "$AIMC" run --model models/bytes-lm.yaml --timing-only \
    --tokens 128 --prompt 100
has_line "$tmp/out" "in 2 windows of 64, each a prompt at once \(--prompt 100, cut to the window's 64\)\$" \
    "bytes-lm: --prompt cut to the window"
expect_exit 0 "bytes-lm --prompt 16 --generate" "$AIMC" run --model models/bytes-lm.yaml \
    --timing-only --tokens 128 --prompt 16 --generate
has_line "$tmp/out" 'in 2 windows of 64, 98 groups: in each a prompt of 16 at once, then groups of 1, each entering when the one before has left the head$' \
    "bytes-lm: prompt and decoding"
# A sequence model's per-layer error is not measured (the runtime leaves it zero): the JSON
# leaves it out; a model of MoE layers alone has it.
expect_exit 0 "bytes-lm json" "$AIMC" run --model models/bytes-lm.yaml --tokens 64 --json "$tmp/lm64.json"
has_line "$tmp/lm64.json" '^    "rel_rms_error": [0-9.e+-]+,$' "bytes-lm json: the output error"
if grep -q 'layer_rel_rms_error' "$tmp/lm64.json"; then bad "bytes-lm json: a per-layer error never measured"; else ok; fi
has_line "$tmp/run1.json" '^    "layer_rel_rms_error": \[$' "digits json: the per-layer error"
# Nothing to score (one token: a window's last token has no next one) is said, not left out.
printf 'x' >"$tmp/one.txt"
expect_exit 0 "bytes-lm one byte" "$AIMC" run --model models/bytes-lm.yaml --tokens-file "text:$tmp/one.txt"
has_line "$tmp/out" "^language 0 tokens scored, so no next-token accuracy or perplexity: a window's last token has no next token \(1 token\(s\) in 1 window\(s\)\)\$" \
    "bytes-lm: nothing scored"
# Token ids: a bad one by line and column with its value; text: one file, bounded.
printf '1 2 3 300 5\n' >"$tmp/ids.txt"
expect_exit 2 "ids out of range" "$AIMC" run --model models/bytes-lm.yaml --tokens-file "$tmp/ids.txt"
has_line "$tmp/err" "^aimc: $tmp/ids.txt:1:7: id 300 outside 0\\.\\.255\$" "ids: the id and its column"
printf '4\n 3x\n' >"$tmp/ids.txt"
expect_exit 2 "ids not a number" "$AIMC" run --model models/bytes-lm.yaml --tokens-file "$tmp/ids.txt"
has_line "$tmp/err" "^aimc: $tmp/ids.txt:2:2: not a token id: \"3x\" \\(expected decimal ids 0\\.\\.255\\)\$" "ids: the text and its column"
printf '\377\376\001 2\n' >"$tmp/raw.txt"
expect_exit 2 "ids: raw bytes" "$AIMC" run --model models/bytes-lm.yaml --tokens-file "$tmp/raw.txt"
has_line "$tmp/err" "^aimc: $tmp/raw.txt:1:1: not a token id: \"\\\\xff\\\\xfe\\\\x01\" \\(expected decimal ids 0\\.\\.255\\)\$" "ids: raw bytes escaped"
expect_exit 2 "text: a directory" "$AIMC" run --model models/bytes-lm.yaml --tokens-file "text:$tmp/dir"
has_line "$tmp/err" "^aimc: $tmp/dir: is a directory, not a file \\(--tokens-file reads one file\\)\$" "text: DIR"
head -c 65537 /dev/zero | tr '\0' 'a' >"$tmp/big.txt"
expect_exit 2 "text: 65537 bytes" "$AIMC" run --model models/bytes-lm.yaml --tokens-file "text:$tmp/big.txt"
has_line "$tmp/err" "^aimc: $tmp/big.txt: 65537 bytes, more than 65536 tokens \\(one a byte\\)\$" "text: too long"
# Streams that never end are refused, not read forever: timeout's exit 124 would mean a hang
# (a bound on hanging, not a speed test: either is refused within a few ms of reading).
expect_exit 2 "text: /dev/zero" timeout 120 "$AIMC" run --model models/bytes-lm.yaml --tokens-file text:/dev/zero
has_line "$tmp/err" '^aimc: /dev/zero: more than 65536 tokens \(one a byte\)$' "text: a stream"
expect_exit 2 "ids: separators that never end" sh -c \
    "yes , | timeout 120 '$AIMC' run --model models/bytes-lm.yaml --tokens-file /dev/stdin"
has_line "$tmp/err" '^aimc: /dev/stdin: more than 67108864 bytes of text holding 0 token ids \(at most 65536 ids\)$' "ids: separators that never end"

# An output path that is a symbolic link: one to nothing is refused (opening it would create
# its target, and a refused run removed the link); one to a file is kept with its file.
ln -s "$tmp/target.st" "$tmp/dangling.st"
expect_exit 1 "outputs: a dangling link" "$AIMC" run --model models/digits-moe.yaml --prompt 4 \
    --dump-outputs "$tmp/dangling.st"
has_line "$tmp/err" "^aimc: $tmp/dangling.st: cannot create the outputs file: it is a symbolic link to $tmp/target.st: No such file or directory\$" \
    "outputs: dangling link message"
[ -L "$tmp/dangling.st" ] && ok || bad "a dangling link given as the outputs file was removed"
[ -e "$tmp/target.st" ] && bad "a dangling link's target was created" || ok
printf 'keep me\n' >"$tmp/linked.st"
ln -s "$tmp/linked.st" "$tmp/link.st"
expect_exit 2 "refused run, outputs through a link" "$AIMC" run --model models/digits-moe.yaml \
    --prompt 4 --dump-outputs "$tmp/link.st"
[ -L "$tmp/link.st" ] && ok || bad "a link given as the outputs file was removed"
has_line "$tmp/linked.st" '^keep me$' "a refused run keeps the linked file's bytes"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
