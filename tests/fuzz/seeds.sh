#!/bin/sh
# seeds.sh - the seed corpora of the fuzz targets (tests/fuzz/fuzz_NAME.c), from the
# repository's own files, written under OUT/NAME/ (make writes them to build/fuzz/seed).
#   config       configs/*.yaml, tests/configs/good and bad
#   model        models/*.yaml, tests/models/bad
#   safetensors  models/digits-moe.safetensors and small images of F32, F16 and BF16 tensors
#   plan         aimc map --plan-out of digits-moe by every strategy (and on 2 tiers), and
#                tests/plans/bad
#   sweep_spec   configs/sweeps/*.yaml, tests/sweeps/*.yaml
#   regs         common/aimc_regs.yaml
#   device       written by fuzz_device itself (AIMC_FUZZ_SEEDS_OUT): its valid job, each
#                command alone, register writes, and the digital commands on the first bytes
#                of models/digits-moe.safetensors (build/fuzz/fuzz_device, beside OUT)
# Usage: tests/fuzz/seeds.sh AIMC_BINARY OUT
set -eu
cd "$(dirname "$0")/../.."
AIMC=$1
OUT=$2
rm -rf "$OUT"
for t in config model safetensors plan sweep_spec regs device; do mkdir -p "$OUT/$t"; done

# copy DIR FILES...: each file as DIR/<its path with / as _>
copy() {
    dir=$1
    shift
    for f in "$@"; do
        [ -e "$f" ] && cp "$f" "$OUT/$dir/$(echo "$f" | tr / _)"
    done
    return 0
}
copy config configs/*.yaml tests/configs/good/*.yaml tests/configs/bad/*.yaml
copy model models/*.yaml tests/models/bad/*.yaml
copy sweep_spec configs/sweeps/*.yaml tests/sweeps/*.yaml
copy regs common/aimc_regs.yaml
copy plan tests/plans/bad/*.json
copy safetensors models/*.safetensors

# Plans of digits-moe on the targets' two machines (fuzz_plan.c): the default machine by
# every strategy, with replicas, and 2 tiers on as many chips as needed.
m=models/digits-moe.yaml
for s in pack locality balance replicate tiered; do
    "$AIMC" map --model $m --set mapping.strategy=$s --set mapping.replicate_threshold=0.3 \
        --routing zipf:1.2 --plan-out "$OUT/plan/$s.json" >/dev/null
done
"$AIMC" map --model $m --set hierarchy.tiers=2 --set mapping.strategy=tiered --shape-only \
    --plan-out "$OUT/plan/tiered-2.json" >/dev/null

# Small safetensors images: 8-byte little-endian header length, JSON header, data.
# image FILE HEADER DATA: DATA as printf escapes
image() {
    n=${#2}
    printf "\\$(printf %03o $((n % 256)))\\$(printf %03o $((n / 256)))\\0\\0\\0\\0\\0\\0%s$3" \
        "$2" >"$OUT/safetensors/$1"
}
one_f32='\000\000\200\077'  # 1.0f
one_f16='\000\074'          # 1.0 in binary16
one_bf16='\200\077'         # 1.0 in bfloat16
w='"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}'
h='"h":{"dtype":"F16","shape":[3,2],"data_offsets":[24,36]}'
b='"b":{"dtype":"BF16","shape":[1,4],"data_offsets":[36,44]}'
six_f32="$one_f32$one_f32$one_f32$one_f32$one_f32$one_f32"
six_f16="$one_f16$one_f16$one_f16$one_f16$one_f16$one_f16"
four_bf16="$one_bf16$one_bf16$one_bf16$one_bf16"
image all.safetensors "{\"__metadata__\":{\"format\":\"pt\"},$w,$h,$b}" "$six_f32$six_f16$four_bf16"
image w.safetensors "{$w}" "$six_f32"
image h.safetensors "{$(echo "$h" | sed 's/24,36/0,12/')}" "$six_f16"
image b.safetensors "{$(echo "$b" | sed 's/36,44/0,8/')}" "$four_bf16"
AIMC_FUZZ_SEEDS_OUT="$OUT/device" AIMC_FUZZ_SEED_DATA=models/digits-moe.safetensors \
    "$(dirname "$OUT")/fuzz_device" >/dev/null 2>&1
echo "seeds: $(find "$OUT" -type f | wc -l) files in $OUT"
