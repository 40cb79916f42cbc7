/* cmd_run.c - `aimc run`: map, program through the driver, run tokens, report. */
#include <stdio.h>
#include <stdlib.h>

#include "aimc.h"
#include "aimc_rt.h"
#include "cli.h"

void cli_usage_run(FILE *f)
{
    fprintf(f,
            "usage: aimc run [--config FILE] [--model FILE] [--set KEY=VALUE]...\n"
            "                [--tokens N] [--seed N] [--backend URI] [--json FILE]\n"
            "\n"
            "Map the model onto the machine, program its weights through the driver, run N\n"
            "tokens through every MoE layer, and report latency, energy by component and the\n"
            "output error against an exact floating-point reference.\n"
            "\n"
            "  --config FILE   machine config (default: the built-in default machine,\n"
            "                  identical to configs/default.yaml)\n"
            "  --model FILE    model description (default: models/tiny-moe.yaml)\n"
            "  --set KEY=VAL   override one config key, e.g. --set adc.bits=6 (repeatable)\n"
            "  --tokens N      tokens to run, 1..65536 (default 16)\n"
            "  --seed N        seed of the device noise and the input tokens (default 1)\n"
            "  --backend URI   driver backend (default sim:)\n"
            "  --json FILE     also write the report as JSON (keys in docs/cli.md)\n");
}

static void print_counters_energy(const aimc_counters *c, size_t tokens)
{
    double total = 0;
    for (int i = 0; i < AIMC_COMP_COUNT; i++) total += c->energy_pj[i];
    printf("energy   %.3f nJ total, %.3f nJ per token\n", total * 1e-3,
           total * 1e-3 / (double)tokens);
    for (int i = 0; i < AIMC_COMP_COUNT; i++)
        printf("         %-8s %12.3f nJ  %5.1f %%\n", aimc_component_name((aimc_component)i),
               c->energy_pj[i] * 1e-3, total > 0 ? 100.0 * c->energy_pj[i] / total : 0.0);
}

static void json_run(aimc_json *j, const aimc_arch *a, const aimc_model *m, const aimc_plan *p,
                     const cli_options *o, const aimc_rt_report *r)
{
    const aimc_counters *c = &r->cost;
    double total = 0;
    for (int i = 0; i < AIMC_COMP_COUNT; i++) total += c->energy_pj[i];
    double time_ns = (double)c->cycles * 1000.0 / a->clock.frequency_mhz;

    aimc_json_str(j, "config", a->name);
    aimc_json_str(j, "model", m->name);
    aimc_json_str(j, "backend", o->backend);
    aimc_json_u64(j, "seed", o->seed);
    aimc_json_u64(j, "tokens", r->tokens);
    aimc_json_u64(j, "layers", (uint64_t)r->layers);
    aimc_json_u64(j, "cycles", c->cycles);
    aimc_json_num(j, "time_ns", time_ns);
    aimc_json_num(j, "time_ns_per_token", time_ns / (double)r->tokens);
    aimc_json_obj_begin(j, "energy_pj");
    aimc_json_num(j, "total", total);
    aimc_json_num(j, "per_token", total / (double)r->tokens);
    aimc_json_obj_begin(j, "by_component");
    for (int i = 0; i < AIMC_COMP_COUNT; i++)
        aimc_json_num(j, aimc_component_name((aimc_component)i), c->energy_pj[i]);
    aimc_json_obj_end(j);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "counts");
    aimc_json_u64(j, "mvms", c->mvms);
    aimc_json_u64(j, "xbar_reads", c->xbar_reads);
    aimc_json_u64(j, "dac_drives", c->dac_drives);
    aimc_json_u64(j, "adc_conversions", c->adc_conversions);
    aimc_json_u64(j, "adc_saturations", c->adc_saturations);
    aimc_json_u64(j, "digital_ops", c->digital_ops);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "output");
    aimc_json_num(j, "rel_rms_error", r->rel_rms_error);
    aimc_json_arr_begin(j, "layer_rel_rms_error");
    for (int l = 0; l < r->layers; l++) aimc_json_num(j, NULL, r->layer_rel_rms_error[l]);
    aimc_json_arr_end(j);
    aimc_json_num(j, "routing_agreement", r->routing_agreement);
    aimc_json_obj_end(j);
    cli_json_plan(j, p);
}

int cli_cmd_run(int argc, char **argv)
{
    cli_options o;
    int r = cli_parse_options(argc, argv, "cmsjbSt", cli_usage_run, &o);
    if (r) return r > 0 ? 0 : CLI_EXIT_USAGE;
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_rt_report *rep = NULL;
    aimc_diag d = {{0}};
    int rc = CLI_EXIT_USAGE;
    if (cli_load_arch(&o, &a) || cli_load_model(&o, 1, &m)) goto out;
    rc = CLI_EXIT_WORK;
    cli_print_machine(&a);
    cli_print_model(m);
    size_t ntok = (size_t)o.tokens;
    if (!(rep = malloc(sizeof *rep))) {
        fprintf(stderr, "%s: out of memory\n", cli_prog);
        goto out;
    }
    int drc = cli_evaluate(&a, m, o.backend, o.seed, ntok, &p, rep, &d);
    if (drc != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg[0] ? d.msg : aimc_strerror(drc));
        goto out;
    }
    cli_print_plan(p);
    const aimc_counters *c = &rep->cost;
    double time_ns = (double)c->cycles * 1000.0 / a.clock.frequency_mhz;
    printf("run      %zu tokens through %s, seed %llu: %llu MVMs, %llu ADC conversions "
           "(%llu saturated)\n",
           ntok, o.backend, (unsigned long long)o.seed, (unsigned long long)c->mvms,
           (unsigned long long)c->adc_conversions, (unsigned long long)c->adc_saturations);
    printf("latency  %llu cycles, %.3f us (%.3f us per token)\n", (unsigned long long)c->cycles,
           time_ns * 1e-3, time_ns * 1e-3 / (double)ntok);
    print_counters_energy(c, ntok);
    printf("output   relative rms error %.4f against the float reference; routing agrees "
           "for %.1f %% of token-layers\n",
           rep->rel_rms_error, 100.0 * rep->routing_agreement);
    rc = 0;
    if (o.json) {
        aimc_json j;
        if ((rc = cli_json_start(&j, o.json))) goto out;
        json_run(&j, &a, m, p, &o, rep);
        aimc_json_obj_end(&j);
        rc = cli_json_finish(&j, o.json);
    }
out:
    free(rep);
    aimc_plan_free(p);
    aimc_model_free(m);
    return rc;
}
