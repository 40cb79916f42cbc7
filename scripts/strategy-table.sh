#!/bin/sh
# strategy-table.sh - the strategy table of docs/mapping.md: every mapping strategy on
# Mixtral-8x7B and OLMoE-1B-7B with Zipf routing (exponent 1.2, seed 1), on the default
# machine with 4 tiers per crossbar site and as many chips as needed, shape-only.
#
#   scripts/strategy-table.sh [AIMC]     (AIMC defaults to build/aimc; run from the repo root)
#
# Prints a Markdown table: crossbars used, chips, analytical latency and energy per token,
# expected tier conflicts per token.
set -eu
AIMC=${1:-build/aimc}
ROUTING=zipf:1.2:1
echo "| model | strategy | crossbars used | chips | latency per token (us) | energy per token (uJ) | tier conflicts per token |"
echo "|---|---|---|---|---|---|---|"
for model in mixtral-8x7b olmoe-1b-7b; do
    for s in pack locality balance replicate tiered; do
        "$AIMC" map --model "models/$model.yaml" --shape-only --routing "$ROUTING" \
            --set hierarchy.chips=auto --set hierarchy.tiers=4 \
            --set mapping.strategy="$s" --set mapping.replicate_threshold=0.3 |
        awk -v model="$model" -v s="$s" '
            /^mapping / { used = $5 }
            /^strategy / { chips = $4 }
            /^tiers / { conf = $NF }
            /^estimate / { lat = $2 / 1000; en = $5 }
            END { printf "| %s | %s | %s | %s | %.2f | %.1f | %s |\n", model, s, used, chips, lat, en, conf }'
    done
done
