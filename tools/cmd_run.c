/* cmd_run.c - `aimc run`: map, program through the driver, run tokens, report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc.h"
#include "aimc_rt.h"
#include "aimc_timing.h"
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
            "  --model FILE    model description (default: models/digits-moe.yaml, an MoE\n"
            "                  classifier of handwritten digits)\n"
            "  --set KEY=VAL   override one config key, e.g. --set adc.bits=6 (repeatable)\n"
            "  --tokens N      tokens to run, 1..65536 (default: a classifier's whole test\n"
            "                  set, else 16)\n"
            "  --seed N        seed of the device noise and the input tokens (default 1)\n"
            "  --backend URI   driver backend (default sim:)\n"
            "  --json FILE     also write the report as JSON (keys in docs/cli.md)\n"
            "  --timing-only   no values: drive the discrete-event engine from a shape-only\n"
            "                  plan (models too large to hold); cycles, energy, utilisation\n"
            "  --trace FILE    Chrome trace-event JSON of per-core activity from the engine\n"
            "                  (open in ui.perfetto.dev)\n"
            "  --wave FILE     with --backend rtl:, an FST waveform of every RTL signal over\n"
            "                  the whole run (open in GTKWave; docs/rtl.md)\n");
}

/* ---- the event engine's figures (--timing-only, --trace, and the JSON's "engine") ------ */

static void print_timing(const aimc_timing_report *t)
{
    double total = 0;
    for (int i = 0; i < AIMC_PART_COUNT; i++) total += t->energy_pj[i];
    printf("engine   the event engine's whole-chip model (tokens pipelined through the layers, "
           "every\n"
           "         part's static power over the run; the lines above count only the device's\n"
           "         events, one job after another):\n"
           "         %llu tokens: %.3f us (%.0f cycles), first token %.3f us, %.1f tokens/s;\n"
           "         %llu events, %llu tile MVMs on %llu chips; energy %.3f nJ per token\n",
           (unsigned long long)t->tokens, t->time_ns * 1e-3, t->cycles, t->first_token_ns * 1e-3,
           t->tokens_per_s, (unsigned long long)t->events, (unsigned long long)t->tile_mvms,
           (unsigned long long)t->chips_used, total * 1e-3 / (double)t->tokens);
    for (int i = 0; i < AIMC_PART_COUNT; i++)
        printf("         %-9s %12.3f nJ  %5.1f %%  utilisation %5.1f %%\n",
               aimc_part_name((aimc_part)i), t->energy_pj[i] * 1e-3,
               total > 0 ? 100.0 * t->energy_pj[i] / total : 0.0, 100.0 * t->utilisation[i]);
}

static void json_timing(aimc_json *j, const aimc_timing_report *t)
{
    double total = 0;
    for (int i = 0; i < AIMC_PART_COUNT; i++) total += t->energy_pj[i];
    aimc_json_obj_begin(j, "engine");
    aimc_json_u64(j, "tokens", t->tokens);
    aimc_json_num(j, "cycles", t->cycles);
    aimc_json_num(j, "time_ns", t->time_ns);
    aimc_json_num(j, "first_token_ns", t->first_token_ns);
    aimc_json_num(j, "tokens_per_s", t->tokens_per_s);
    aimc_json_u64(j, "events", t->events);
    aimc_json_u64(j, "tile_mvms", t->tile_mvms);
    aimc_json_u64(j, "chips_used", t->chips_used);
    aimc_json_num(j, "energy_pj_total", total);
    aimc_json_num(j, "energy_pj_per_token", total / (double)t->tokens);
    aimc_json_obj_begin(j, "energy_pj_by_part");
    for (int i = 0; i < AIMC_PART_COUNT; i++)
        aimc_json_num(j, aimc_part_name((aimc_part)i), t->energy_pj[i]);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "static_pj_by_part");
    for (int i = 0; i < AIMC_PART_COUNT; i++)
        aimc_json_num(j, aimc_part_name((aimc_part)i), t->static_pj[i]);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "utilisation_by_part");
    for (int i = 0; i < AIMC_PART_COUNT; i++)
        aimc_json_num(j, aimc_part_name((aimc_part)i), t->utilisation[i]);
    aimc_json_obj_end(j);
    aimc_json_obj_end(j);
}

/* Run the engine on a shape-only plan of m; prints the diagnostic on failure. */
static int run_engine(const aimc_arch *a, const aimc_model *m, uint64_t tokens, uint64_t seed,
                      const char *trace, aimc_plan **plan, aimc_timing_report *t)
{
    aimc_diag d = {{0}};
    aimc_map_opts mo = {0};
    mo.shape_only = 1;
    int rc = aimc_map_plan_ex(a, m, &mo, plan, &d);
    aimc_timing_opts to = {tokens, seed, NULL, trace};
    if (!rc) rc = aimc_timing_run(a, m, *plan, &to, t, &d);
    if (rc) fprintf(stderr, "%s: %s\n", cli_prog, d.msg[0] ? d.msg : aimc_strerror(rc));
    return rc;
}

/* `aimc run --timing-only`: no weights, no values. */
static int run_timing_only(const cli_options *o, const char *trace)
{
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_timing_report t;
    int rc = CLI_EXIT_USAGE;
    if (cli_load_arch(o, &a) || cli_load_model(o, 0, &m)) goto out;
    rc = CLI_EXIT_WORK;
    cli_print_machine(&a);
    cli_print_model(m);
    const uint64_t ntok = o->tokens > 0 ? (uint64_t)o->tokens : 16;
    if (run_engine(&a, m, ntok, o->seed, trace, &p, &t)) goto out;
    cli_print_plan(p);
    print_timing(&t);
    rc = 0;
    if (o->json) {
        aimc_json j;
        if ((rc = cli_json_start(&j, o->json))) goto out;
        aimc_json_str(&j, "config", a.name);
        aimc_json_str(&j, "model", m->name);
        aimc_json_str(&j, "mode", "timing_only");
        aimc_json_u64(&j, "seed", o->seed);
        aimc_json_u64(&j, "tokens", ntok);
        aimc_json_u64(&j, "layers", (uint64_t)m->layers);
        json_timing(&j, &t);
        cli_json_plan(&j, p);
        aimc_json_obj_end(&j);
        rc = cli_json_finish(&j, o->json);
    }
out:
    aimc_plan_free(p);
    aimc_model_free(m);
    return rc;
}

/* Take --timing-only, --trace FILE and --wave FILE out of argv (the shared parser does not
 * know them); returns the new argc, or -1 (printed) when --trace or --wave lacks its FILE. */
static int take_engine_options(int argc, char **argv, char **kept, int *timing_only,
                               const char **trace, const char **wave)
{
    int n = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && (!strcmp(argv[i], "--trace") || !strcmp(argv[i], "--wave")) &&
            (i + 1 >= argc || cli_missing_value(argv[i + 1])))
            return cli_needs_value("run", argv[i] + 2, i + 1 < argc ? argv[i + 1] : NULL);
        if (i > 0 && !strcmp(argv[i], "--timing-only")) {
            *timing_only = 1;
        } else if (i > 0 && !strcmp(argv[i], "--trace")) {
            *trace = argv[++i];
        } else if (i > 0 && !strncmp(argv[i], "--trace=", 8)) {
            *trace = argv[i] + 8;
        } else if (i > 0 && !strcmp(argv[i], "--wave")) {
            *wave = argv[++i];
        } else if (i > 0 && !strncmp(argv[i], "--wave=", 7)) {
            *wave = argv[i] + 7;
        } else {
            kept[n++] = argv[i];
        }
        if (i > 0 && !strcmp(argv[i - (argv[i] == *trace ? 1 : 0)], "--")) break;
    }
    kept[n] = NULL;
    return n;
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
    if (r->classified) {
        aimc_json_obj_begin(j, "accuracy");
        aimc_json_num(j, "float", r->accuracy_float);
        aimc_json_num(j, "hw", r->accuracy_hw);
        aimc_json_obj_end(j);
    }
    aimc_json_obj_begin(j, "program");
    aimc_json_u64(j, "verify_iterations", r->program.iterations);
    aimc_json_u64(j, "devices", r->program.devices);
    aimc_json_u64(j, "devices_failed", r->program.devices_failed);
    aimc_json_u64(j, "pulses", r->program.pulses);
    aimc_json_num(j, "rms_error_us", r->program.rms_error_us);
    aimc_json_obj_end(j);
    cli_json_plan(j, p);
}

int cli_cmd_run(int argc_all, char **argv_all)
{
    cli_options o;
    int timing_only = 0;
    const char *trace = NULL, *wave = NULL;
    char uri[4096];
    char **argv = malloc(((size_t)argc_all + 1) * sizeof *argv);
    if (!argv) return CLI_EXIT_WORK;
    int argc = take_engine_options(argc_all, argv_all, argv, &timing_only, &trace, &wave);
    if (argc < 0) {
        free(argv);
        return CLI_EXIT_USAGE;
    }
    int r = cli_parse_options(argc, argv, "cmsjbSt", cli_usage_run, &o);
    free(argv);
    if (r) return r > 0 ? 0 : CLI_EXIT_USAGE;
    if (wave) {
        /* The waveform is an option of the rtl: backend's URI (driver/hal_rtl.c). */
        if (strncmp(o.backend, "rtl:", 4) != 0 || timing_only) {
            fprintf(stderr, "%s run: --wave needs --backend rtl: and a device (got %s%s)\n",
                    cli_prog, o.backend, timing_only ? " with --timing-only" : "");
            return CLI_EXIT_USAGE;
        }
        if (strstr(o.backend, "wave=")) {
            fprintf(stderr, "%s run: --wave and a wave= option in --backend %s: give one\n",
                    cli_prog, o.backend);
            return CLI_EXIT_USAGE;
        }
        int len = snprintf(uri, sizeof uri, "%s%swave=%s", o.backend, o.backend[4] ? "," : "",
                           wave);
        if (len < 0 || (size_t)len >= sizeof uri) {
            fprintf(stderr, "%s run: --wave: path too long\n", cli_prog);
            return CLI_EXIT_USAGE;
        }
        o.backend = uri;
    }
    if (timing_only) return run_timing_only(&o, trace);
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
    size_t ntok = (size_t)o.tokens; /* 0: cli_evaluate decides */
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
    ntok = rep->tokens;
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
    if (rep->classified)
        printf("accuracy %.2f %% on the simulated machine, %.2f %% in float (%zu test samples)\n",
               100.0 * rep->accuracy_hw, 100.0 * rep->accuracy_float, ntok);
    rc = 0;
    /* The event engine on the same model and tokens: cycles, energy and utilisation per part,
     * throughput, and the trace. */
    aimc_plan *ep = NULL;
    aimc_timing_report et;
    int have_engine = run_engine(&a, m, ntok, o.seed, trace, &ep, &et) == AIMC_OK;
    aimc_plan_free(ep);
    if (have_engine) print_timing(&et);
    else if (trace) rc = CLI_EXIT_WORK;
    if (o.json) {
        aimc_json j;
        if ((rc = cli_json_start(&j, o.json))) goto out;
        json_run(&j, &a, m, p, &o, rep);
        if (have_engine) json_timing(&j, &et);
        aimc_json_obj_end(&j);
        rc = cli_json_finish(&j, o.json);
    }
out:
    free(rep);
    aimc_plan_free(p);
    aimc_model_free(m);
    return rc;
}
