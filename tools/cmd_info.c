/* cmd_info.c - `aimc info`: the machine's analytical peak figures. */
#include <stdio.h>

#include "aimc_cost.h"
#include "cli.h"

void cli_usage_info(FILE *f)
{
    fprintf(f,
            "usage: aimc info [--config FILE] [--set KEY=VALUE]... [--json FILE]\n"
            "\n"
            "Print the machine's analytical peak figures: TOPS, TOPS/W, power and area per\n"
            "chip and by part, arrays and periphery (formulas in docs/cli.md), from the same\n"
            "cost layer the device's time and energy come from: a run that keeps every core\n"
            "busy approaches the peak.\n");
}

/* The members of `aimc info --json` (cli.h). */
void cli_info_json(aimc_json *j, const aimc_arch *a)
{
    aimc_peak pk;
    const aimc_peak *p = &pk;
    aimc_peak_compute(a, &pk);
    aimc_json_str(j, "config", a->name);
    aimc_json_obj_begin(j, "peak");
    aimc_json_num(j, "tops", p->tops);
    aimc_json_num(j, "tops_per_chip", p->tops_per_chip);
    aimc_json_num(j, "tops_per_w", p->tops_per_w);
    aimc_json_num(j, "tops_per_mm2", p->tops_per_mm2);
    aimc_json_num(j, "mvm_ns", p->mvm_ns);
    aimc_json_num(j, "mvm_latency_ns", p->mvm_latency_ns);
    aimc_json_num(j, "gops_per_s_per_w", p->tops_per_w * 1e3);
    aimc_json_num(j, "gops_per_s_per_mm2", p->tops_per_mm2 * 1e3);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "chip");
    aimc_json_num(j, "power_w", p->chip_power_w);
    aimc_json_num(j, "area_mm2", p->chip_area_mm2);
    aimc_json_num(j, "static_w", p->chip_static_w);
    aimc_json_u64(j, "clusters", p->clusters_per_chip);
    aimc_json_u64(j, "routers", p->routers_per_chip);
    aimc_json_obj_begin(j, "power_w_by_part");
    for (int c = 0; c < AIMC_PART_COUNT; c++)
        aimc_json_num(j, aimc_part_name((aimc_part)c), p->power_w_by_part[c]);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "area_mm2_by_part");
    for (int c = 0; c < AIMC_PART_COUNT; c++)
        aimc_json_num(j, aimc_part_name((aimc_part)c), p->area_mm2_by_part[c]);
    aimc_json_obj_end(j);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "adc");
    aimc_json_u64(j, "bits", (uint64_t)a->adc.bits);
    aimc_json_num(j, "energy_pj", aimc_cost_adc_energy_pj(a));
    aimc_json_num(j, "conversion_ns", aimc_cost_adc_conversion_ns(a));
    aimc_json_num(j, "area_um2", aimc_cost_adc_area_um2(a));
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "machine");
    aimc_json_u64(j, "chips", (uint64_t)a->hierarchy.chips);
    aimc_json_num(j, "power_w", p->power_w);
    aimc_json_num(j, "area_mm2", p->area_mm2);
    aimc_json_num(j, "weights_capacity", p->weights_capacity);
    aimc_json_obj_end(j);
}

int cli_cmd_info(int argc, char **argv)
{
    cli_options o;
    int r = cli_parse_options(argc, argv, "csj", cli_usage_info, &o);
    if (r) return r > 0 ? 0 : CLI_EXIT_USAGE;
    aimc_arch a;
    if (cli_load_arch(&o, &a)) return CLI_EXIT_USAGE;
    aimc_peak p;
    aimc_peak_compute(&a, &p);
    cli_print_machine(&a);
    printf("peak     %.3f TOPS (%.3f per chip), %.3f TOPS/W, %.4f TOPS/mm^2\n"
           "         one input vector through a full core: every %.1f ns at steady state, %.1f ns "
           "alone\n",
           p.tops, p.tops_per_chip, p.tops_per_w, p.tops_per_mm2, p.mvm_ns, p.mvm_latency_ns);
    printf("chip     power %.3f W at peak (%.3f W static), area %.3f mm^2; %llu clusters, "
           "%llu routers\n",
           p.chip_power_w, p.chip_static_w, p.chip_area_mm2,
           (unsigned long long)p.clusters_per_chip, (unsigned long long)p.routers_per_chip);
    printf("         %-9s %12s %12s\n", "", "power W", "area mm^2");
    for (int c = 0; c < AIMC_PART_COUNT; c++)
        printf("         %-9s %12.4f %12.4f\n", aimc_part_name((aimc_part)c),
               p.power_w_by_part[c], p.area_mm2_by_part[c]);
    const int model = a.adc.energy_auto || a.adc.conversion_auto || a.adc.area_auto;
    printf("adc      %d bits: %.4g pJ and %.4g ns per conversion, %.4g um^2 each%s\n", a.adc.bits,
           aimc_cost_adc_energy_pj(&a), aimc_cost_adc_conversion_ns(&a),
           aimc_cost_adc_area_um2(&a), model ? " (auto: the survey model, docs/config.md)" : "");
    printf("capacity %.3f M weights of %d bits", p.weights_capacity / 1e6, a.crossbar.weight_bits);
    if (a.hierarchy.tiers > 1) printf(" (%d tiers)", a.hierarchy.tiers);
    printf("\n");
    if (!o.json) return 0;
    aimc_json j;
    if (cli_json_start(&j, o.json)) return CLI_EXIT_WORK;
    cli_info_json(&j, &a);
    aimc_json_obj_end(&j);
    return cli_json_finish(&j, o.json);
}

