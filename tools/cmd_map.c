/* cmd_map.c - `aimc map`: map a model onto the machine by a strategy and report crossbar
 * use, per-core load, partial-sum hops, tier conflicts and the analytical cost per token;
 * optionally write the plan (JSON) and a picture (SVG), or read a plan back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void cli_usage_map(FILE *f)
{
    fprintf(f,
            "usage: aimc map [--config FILE] [--model FILE] [--set KEY=VALUE]... [--json FILE]\n"
            "                [--shape-only] [--routing SPEC] [--plan-out FILE] [--plan FILE]\n"
            "                [--svg FILE] [--seed N] [--position N]\n"
            "\n"
            "Cut every weight matrix of the model into crossbar tiles and bit slices, place\n"
            "them by mapping.strategy (pack, locality, balance, replicate, tiered; --set\n"
            "mapping.strategy=NAME), and report crossbars used and available, cell utilisation,\n"
            "per-core load, partial-sum hops, tier conflicts and the analytical latency and\n"
            "energy per token. A model that does not fit is an error saying how many crossbars\n"
            "and chips it needs; --set hierarchy.chips=auto plans on as many chips as needed.\n"
            "\n"
            "  --seed N          the device seed whose fault map fault-aware placement reads\n"
            "                    (mapping.fault_threshold; default 1, as aimc run)\n"
            "  --shape-only      keep only the compact plan (runs), for the largest models;\n"
            "                    implies hierarchy.chips=auto unless --set gives a number\n"
            "  --routing SPEC    uniform (default), zipf:S[:SEED], or a routing JSON file\n"
            "  --plan-out FILE   write the plan as JSON (docs/mapping.md)\n"
            "  --plan FILE       read the plan from FILE instead of placing\n"
            "  --svg FILE        draw the chips, crossbars coloured by layer and expert\n"
            "  --position N      the estimated token's context position (default 0): with\n"
            "                    attention it attends over N earlier tokens in the KV cache\n");
}

static const char *const strategy_names[] = {"pack", "locality", "balance", "replicate", "tiered"};

/* The members of `aimc map --json` (cli.h). */
void cli_map_json(aimc_json *j, const aimc_arch *a, const aimc_model *m, const aimc_plan *p,
                  const aimc_routing *rt, const aimc_map_summary *s)
{
    aimc_json_str(j, "config", a->name);
    aimc_json_str(j, "model", m->name);
    cli_json_plan(j, p);
    aimc_json_obj_begin(j, "summary");
    aimc_json_str(j, "strategy", strategy_names[p->strategy]);
    aimc_json_str(j, "routing", rt->source);
    aimc_json_u64(j, "chips", (uint64_t)p->chips);
    aimc_json_u64(j, "tiers", (uint64_t)p->tiers);
    aimc_json_u64(j, "cores_used", s->cores_used);
    aimc_json_num(j, "core_load_max", s->core_load_max);
    aimc_json_num(j, "core_load_mean", s->core_load_mean);
    aimc_json_u64(j, "hops_max", s->hops_max);
    aimc_json_num(j, "hops_mean", s->hops_mean);
    aimc_json_u64(j, "chip_crossings", s->chip_crossings);
    aimc_json_num(j, "tier_conflicts_per_token", s->tier_conflicts);
    if (s->estimated) {
        aimc_json_u64(j, "estimate_position", s->position);
        aimc_json_num(j, "latency_ns_per_token", s->latency_ns);
        aimc_json_num(j, "energy_pj_per_token", s->energy_pj);
        aimc_json_obj_begin(j, "energy_pj_per_token_by_part");
        for (int q = 0; q < AIMC_PART_COUNT; q++)
            aimc_json_num(j, aimc_part_name((aimc_part)q), s->energy_pj_by_part[q]);
        aimc_json_obj_end(j);
    }
    aimc_json_obj_end(j);
}

int cli_cmd_map(int argc, char **argv)
{
    /* Our own options first; the shared ones go to cli_parse_options. */
    const char *svg = NULL, *plan_out = NULL, *plan_in = NULL, *routing = "uniform";
    const char *position = NULL;
    int shape_only = 0;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) return CLI_EXIT_WORK;
    int n = 0;
    for (int i = 0; i < argc; i++) {
        const char **dst = NULL;
        const char *a = argv[i];
        if (i > 0 && strcmp(a, "--shape-only") == 0) {
            shape_only = 1;
            continue;
        }
        if (i > 0 && strcmp(a, "--svg") == 0) dst = &svg;
        else if (i > 0 && strcmp(a, "--plan-out") == 0) dst = &plan_out;
        else if (i > 0 && strcmp(a, "--plan") == 0) dst = &plan_in;
        else if (i > 0 && strcmp(a, "--routing") == 0) dst = &routing;
        else if (i > 0 && strcmp(a, "--position") == 0) dst = &position;
        if (dst) {
            if (i + 1 >= argc || cli_missing_value(argv[i + 1])) {
                cli_needs_value("map", a + 2, i + 1 < argc ? argv[i + 1] : NULL);
                free(rest);
                return CLI_EXIT_USAGE;
            }
            *dst = argv[++i];
            continue;
        }
        rest[n++] = argv[i];
    }
    cli_options o;
    int r = cli_parse_options(n, rest, "cmsjS", cli_usage_map, &o);
    free(rest);
    if (r) return r > 0 ? 0 : CLI_EXIT_USAGE;
    long pos = 0;
    if (position && cli_parse_count("--position", position, 0, 65535, &pos))
        return CLI_EXIT_USAGE;
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_routing *rt = NULL;
    aimc_diag d = {{0}};
    int rc = CLI_EXIT_USAGE;
    if (cli_load_arch(&o, &a) || cli_load_model(&o, 0, &m)) goto out;
    /* Shape-only is for models larger than any one machine: as many chips as needed unless
     * a chip count was set on the command line. */
    if (shape_only) {
        int fixed = 0;
        for (size_t i = 0; i < o.n_sets; i++)
            fixed |= strncmp(o.sets[i], "hierarchy.chips=", 16) == 0 &&
                     strcmp(o.sets[i], "hierarchy.chips=auto") != 0;
        if (!fixed) a.hierarchy.chips_auto = 1;
    }
    if (aimc_routing_from_spec(routing, m, &rt, &d)) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        goto out;
    }
    rc = CLI_EXIT_WORK;
    cli_print_machine(&a);
    cli_print_model(m);
    aimc_map_opts opts = {rt, NULL, 0, shape_only};
    float *faults = cli_fault_map(&a, o.seed, &opts.n_fault);
    opts.fault_fraction = faults;
    int e = plan_in ? aimc_plan_load(plan_in, &a, m, &opts, &p, &d)
                    : aimc_map_plan_ex(&a, m, &opts, &p, &d);
    free(faults);
    if (e && plan_in && e != AIMC_ERR_NOMEM) {
        /* A bad plan file is bad input: its message starts with the file name. */
        fprintf(stderr, "%s\n", d.msg[0] ? d.msg : aimc_strerror(e));
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (e) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg[0] ? d.msg : aimc_strerror(e));
        goto out;
    }
    cli_print_plan(p);
    aimc_map_summary s;
    if (aimc_map_summarise_at(&a, m, p, rt, (uint32_t)pos, &s, &d)) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        goto out;
    }
    printf("strategy %s on %d chip(s)%s, %d tier(s), routing %s; %llu replica tile(s)\n",
           strategy_names[p->strategy], p->chips, a.hierarchy.chips_auto ? " (auto)" : "",
           p->tiers, rt->source, (unsigned long long)(p->n_tiles_all - p->n_tiles));
    printf("load     %llu cores used; tile MVMs per token on a core: max %.3f, mean %.3f\n",
           (unsigned long long)s.cores_used, s.core_load_max, s.core_load_mean);
    printf("spread   a tile's core to its column block's first core: max %u, mean %.2f hops; "
           "%llu tile(s) on another chip than it\n",
           s.hops_max, s.hops_mean, (unsigned long long)s.chip_crossings);
    printf("tiers    expected tier conflicts per token %.4f\n", s.tier_conflicts);
    if (s.estimated)
        printf("estimate one token at context position %u, nothing contending: %.1f ns, %.3f uJ "
               "dynamic\n         (the device's model booked without contention; `aimc run "
               "--timing-only` times contention)\n",
               s.position, s.latency_ns, s.energy_pj * 1e-6);
    if (plan_out && aimc_plan_save(p, &a, m, plan_out, &d)) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        goto out;
    }
    if (svg && aimc_plan_svg(p, &a, m, svg, &d)) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        goto out;
    }
    rc = 0;
    if (o.json) {
        aimc_json j;
        if ((rc = cli_json_start(&j, o.json))) goto out;
        cli_map_json(&j, &a, m, p, rt, &s);
        aimc_json_obj_end(&j);
        rc = cli_json_finish(&j, o.json);
    }
out:
    aimc_routing_free(rt);
    aimc_plan_free(p);
    aimc_model_free(m);
    return rc;
}
