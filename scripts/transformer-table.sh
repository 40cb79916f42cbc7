#!/bin/sh
# transformer-table.sh - the whole-transformer table of docs/mapping.md: DeepSeek-V3,
# Mixtral-8x7B, OLMoE-1B-7B and Qwen1.5-MoE-A2.7B, timing-only, on the default machine and
# on HERMES, each with as many chips as it needs, the KV cache off-chip (the default).
#
#   scripts/transformer-table.sh [AIMC] [PROMPT] [DECODE] [MODELS...]
#   (AIMC defaults to build/aimc, PROMPT to 128, DECODE to 4; run from the repo root)
#
# A decode token: a prompt of PROMPT tokens is prefilled (one group), then DECODE tokens are
# generated one at a time (--generate); the figures per decode token are the differences
# between that run and the prefill alone, divided by DECODE: latency (the makespan's) and
# dynamic energy by part of the model (attention, FFN: routers, experts, dense FFNs and the
# residual adds, norms, head, data movement), and static energy (what is powered, over the
# latency). Prints a Markdown table.
set -eu
AIMC=${1:-build/aimc}
P=${2:-128}
D=${3:-4}
shift 3 2>/dev/null || shift $#
MODELS=${*:-deepseek-v3 mixtral-8x7b olmoe-1b-7b qwen1.5-moe-a2.7b}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| model | machine | chips | latency per token (us) | attention (uJ) | FFN (uJ) | norms (uJ) | head (uJ) | data movement (uJ) | dynamic (uJ) | static (uJ) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for model in $MODELS; do
    for machine in default hermes; do
        for run in a b; do
            if [ $run = a ]; then n=$P; gen=; else n=$((P + D)); gen=--generate; fi
            "$AIMC" run --model "models/$model.yaml" --config "configs/$machine.yaml" \
                --set hierarchy.chips=auto --timing-only --prompt "$P" --tokens "$n" $gen \
                >"$tmp/$run" 2>&1
        done
        awk -v model="$model" -v machine="$machine" -v d="$D" '
            FNR == 1 { f++ }
            /^parts / {
                line = $0; sub(/.*nJ\): /, "", line); gsub(/[,;]/, "", line)
                n = split(line, w, " ")
                for (i = 1; i < n; i += 2) v[f, w[i]] = w[i + 1]
            }
            /^mapping / && f == 2 { chips = $(NF - 2) }
            END {
                printf "| %s | %s | %s | %.2f", model, machine, chips, (v[2, "makespan"] - v[1, "makespan"]) / d / 1e3
                split("attention ffn norms head data_movement total static", k, " ")
                for (i = 1; i <= 7; i++) printf " | %.3f", (v[2, k[i]] - v[1, k[i]]) / d / 1e3
                printf " |\n"
            }' "$tmp/a" "$tmp/b"
    done
done
