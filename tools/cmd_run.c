/* cmd_run.c - `aimc run`: map, program through the driver, run tokens, report. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc.h"
#include "aimc_cost.h"
#include "aimc_rt.h"
#include "cli.h"

void cli_usage_run(FILE *f)
{
    fprintf(f,
            "usage: aimc run [--config FILE] [--model FILE] [--set KEY=VALUE]...\n"
            "                [--tokens N] [--seed N] [--backend URI] [--json FILE]\n"
            "                [--timing-only] [--batch N] [--window N] [--routing SPEC]\n"
            "                [--activity assumed|measured] [--trace FILE] [--wave FILE]\n"
            "\n"
            "Map the model onto the machine, program its weights through the driver, stream N\n"
            "tokens through every MoE layer on the device, and report latency, energy by part\n"
            "and the output error against an exact floating-point reference. Time and energy\n"
            "are the device's: its commands run on the machine's resources, overlapping where\n"
            "they are independent (docs/engine.md).\n"
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
            "  --timing-only   a device without values on a shape-only plan: time and energy\n"
            "                  of models too large to hold (routing from --routing)\n"
            "  --batch N       tokens per group (default 1); groups stream through the\n"
            "                  layers, each two layers behind the one before\n"
            "  --window N      groups in flight at most (default 64)\n"
            "  --routing SPEC  timing-only: uniform, zipf:S[:SEED] or a statistics file\n"
            "                  (default uniform)\n"
            "  --activity A    measured (default: DAC and array energy from the data) or\n"
            "                  assumed (the assumption a timing-only run makes)\n"
            "  --trace FILE    Chrome trace-event JSON of every resource's busy intervals\n"
            "                  (sim:; open in ui.perfetto.dev)\n"
            "  --wave FILE     with --backend rtl:, an FST waveform of every RTL signal over\n"
            "                  the whole run (open in GTKWave; docs/rtl.md)\n");
}

/* ---- the options only `aimc run` takes ---- */

typedef struct {
    int timing_only;
    int activity_assumed;
    const char *trace, *wave, *routing;
    long batch, window;
} run_opts;

/* Take run's own options out of argv (the shared parser does not know them); returns the
 * new argc, or -1 after printing a usage error. */
static int take_run_options(int argc, char **argv, char **kept, run_opts *r)
{
    static const char *const valued[] = {"--trace", "--wave", "--routing", "--batch",
                                         "--window", "--activity"};
    int n = 0;
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *val = NULL;
        int which = -1;
        if (i > 0 && !strcmp(arg, "--")) {
            for (; i < argc; i++) kept[n++] = argv[i];
            break;
        }
        if (i > 0 && !strcmp(arg, "--timing-only")) {
            r->timing_only = 1;
            continue;
        }
        for (int v = 0; i > 0 && v < (int)(sizeof valued / sizeof valued[0]); v++) {
            const size_t len = strlen(valued[v]);
            if (!strcmp(arg, valued[v])) {
                if (i + 1 >= argc || cli_missing_value(argv[i + 1]))
                    return cli_needs_value("run", valued[v] + 2, i + 1 < argc ? argv[i + 1] : NULL);
                which = v;
                val = argv[++i];
            } else if (!strncmp(arg, valued[v], len) && arg[len] == '=') {
                which = v;
                val = arg + len + 1;
            }
        }
        if (which < 0) {
            kept[n++] = argv[i];
            continue;
        }
        switch (which) {
        case 0: r->trace = val; break;
        case 1: r->wave = val; break;
        case 2: r->routing = val; break;
        case 3:
            if (cli_parse_count("--batch", val, 1, 65536, &r->batch)) return -1;
            break;
        case 4:
            if (cli_parse_count("--window", val, 1, 65536, &r->window)) return -1;
            break;
        case 5:
            if (strcmp(val, "assumed") && strcmp(val, "measured")) {
                fprintf(stderr, "%s run: --activity: expected assumed or measured, got \"%s\"\n",
                        cli_prog, val);
                return -1;
            }
            r->activity_assumed = !strcmp(val, "assumed");
            break;
        }
    }
    kept[n] = NULL;
    return n;
}

/* ---- the report ---- */

static void print_report(const aimc_arch *a, const aimc_rt_report *r)
{
    const double ns = aimc_cost_ns(a, (double)r->makespan_cycles);
    const double first = aimc_cost_ns(a, (double)r->first_cycles);
    double dyn[AIMC_PART_COUNT], st[AIMC_PART_COUNT], td, ts;
    cli_run_energy(a, r, dyn, st, &td, &ts);
    printf("latency  %zu tokens in %zu group(s): first group %.3f us, all %.3f us "
           "(%llu cycles), %.1f tokens/s\n",
           r->tokens, r->groups, first * 1e-3, ns * 1e-3, (unsigned long long)r->makespan_cycles,
           ns > 0 ? (double)r->tokens / (ns * 1e-9) : 0.0);
    printf("energy   %.3f nJ in all, %.3f nJ per token (dynamic %.3f nJ, static %.3f nJ over\n"
           "         the run on %d chip(s)); by part, nJ:\n",
           (td + ts) * 1e-3, (td + ts) * 1e-3 / (double)r->tokens, td * 1e-3, ts * 1e-3,
           a->hierarchy.chips);
    printf("         %-10s %12s %12s %12s %7s\n", "part", "dynamic", "static", "total", "share");
    for (int p = 0; p < AIMC_PART_COUNT; p++)
        printf("         %-10s %12.3f %12.3f %12.3f %6.1f%%\n", aimc_part_name((aimc_part)p),
               dyn[p] * 1e-3, st[p] * 1e-3, (dyn[p] + st[p]) * 1e-3,
               td + ts > 0 ? 100.0 * (dyn[p] + st[p]) / (td + ts) : 0.0);
    printf("         %-10s %12.3f %12.3f %12.3f\n", "total", td * 1e-3, ts * 1e-3, (td + ts) * 1e-3);
    const double per = 1e-3 / (double)r->tokens;
    printf("traffic  per token: %.3f kB over the host link, %.3f kB over on-chip networks, "
           "%.3f kB over chip links\n",
           (double)r->cost.host_bytes * per, (double)r->cost.noc_bytes * per,
           (double)r->cost.link_bytes * per);
}

static void json_report(aimc_json *j, const aimc_arch *a, const aimc_model *m,
                        const aimc_plan *p, const cli_options *o, const run_opts *ro,
                        const aimc_rt_report *r)
{
    const aimc_counters *c = &r->cost;
    const double ns = aimc_cost_ns(a, (double)r->makespan_cycles);
    double dyn[AIMC_PART_COUNT], st[AIMC_PART_COUNT], td, ts;
    cli_run_energy(a, r, dyn, st, &td, &ts);
    aimc_json_str(j, "config", a->name);
    aimc_json_str(j, "model", m->name);
    aimc_json_str(j, "backend", o->backend);
    aimc_json_str(j, "mode", ro->timing_only ? "timing_only" : "values");
    aimc_json_u64(j, "seed", o->seed);
    aimc_json_u64(j, "tokens", r->tokens);
    aimc_json_u64(j, "groups", r->groups);
    aimc_json_u64(j, "layers", (uint64_t)r->layers);
    aimc_json_u64(j, "cycles", r->makespan_cycles);
    aimc_json_num(j, "time_ns", ns);
    aimc_json_num(j, "time_ns_per_token", ns / (double)r->tokens);
    aimc_json_num(j, "first_token_ns", aimc_cost_ns(a, (double)r->first_cycles));
    aimc_json_num(j, "tokens_per_s", ns > 0 ? (double)r->tokens / (ns * 1e-9) : 0.0);
    aimc_json_u64(j, "busy_cycles", c->cycles);
    aimc_json_obj_begin(j, "energy_pj");
    aimc_json_num(j, "total", td + ts);
    aimc_json_num(j, "per_token", (td + ts) / (double)r->tokens);
    aimc_json_num(j, "dynamic", td);
    aimc_json_num(j, "static", ts);
    aimc_json_obj_begin(j, "by_part");
    for (int i = 0; i < AIMC_PART_COUNT; i++) aimc_json_num(j, aimc_part_name((aimc_part)i), dyn[i] + st[i]);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "dynamic_by_part");
    for (int i = 0; i < AIMC_PART_COUNT; i++) aimc_json_num(j, aimc_part_name((aimc_part)i), dyn[i]);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "static_by_part");
    for (int i = 0; i < AIMC_PART_COUNT; i++) aimc_json_num(j, aimc_part_name((aimc_part)i), st[i]);
    aimc_json_obj_end(j);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "bytes");
    aimc_json_u64(j, "host", c->host_bytes);
    aimc_json_u64(j, "noc", c->noc_bytes);
    aimc_json_u64(j, "chip_link", c->link_bytes);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "counts");
    aimc_json_u64(j, "mvms", c->mvms);
    aimc_json_u64(j, "xbar_reads", c->xbar_reads);
    aimc_json_u64(j, "dac_drives", c->dac_drives);
    aimc_json_u64(j, "adc_conversions", c->adc_conversions);
    aimc_json_u64(j, "adc_saturations", c->adc_saturations);
    aimc_json_u64(j, "digital_ops", c->digital_ops);
    aimc_json_obj_end(j);
    if (r->values) {
        aimc_json_obj_begin(j, "output");
        aimc_json_num(j, "rel_rms_error", r->rel_rms_error);
        aimc_json_arr_begin(j, "layer_rel_rms_error");
        for (int l = 0; l < r->layers; l++) aimc_json_num(j, NULL, r->layer_rel_rms_error[l]);
        aimc_json_arr_end(j);
        aimc_json_num(j, "routing_agreement", r->routing_agreement);
        aimc_json_obj_end(j);
    }
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
    run_opts ro = {0};
    char uri[4096];
    char **argv = malloc(((size_t)argc_all + 1) * sizeof *argv);
    if (!argv) return CLI_EXIT_WORK;
    int argc = take_run_options(argc_all, argv_all, argv, &ro);
    if (argc < 0) {
        free(argv);
        return CLI_EXIT_USAGE;
    }
    int r = cli_parse_options(argc, argv, "cmsjbSt", cli_usage_run, &o);
    free(argv);
    if (r) return r > 0 ? 0 : CLI_EXIT_USAGE;
    if (ro.wave) {
        /* The waveform is an option of the rtl: backend's URI (driver/hal/hal_rtl.c). */
        if (strncmp(o.backend, "rtl:", 4) != 0 || ro.timing_only) {
            fprintf(stderr, "%s run: --wave needs --backend rtl: and a device (got %s%s)\n",
                    cli_prog, o.backend, ro.timing_only ? " with --timing-only" : "");
            return CLI_EXIT_USAGE;
        }
        if (strstr(o.backend, "wave=")) {
            fprintf(stderr, "%s run: --wave and a wave= option in --backend %s: give one\n",
                    cli_prog, o.backend);
            return CLI_EXIT_USAGE;
        }
        int len = snprintf(uri, sizeof uri, "%s%swave=%s", o.backend, o.backend[4] ? "," : "",
                           ro.wave);
        if (len < 0 || (size_t)len >= sizeof uri) {
            fprintf(stderr, "%s run: --wave: path too long\n", cli_prog);
            return CLI_EXIT_USAGE;
        }
        o.backend = uri;
    }
    if ((ro.timing_only || ro.trace) && strncmp(o.backend, "sim:", 4) != 0) {
        fprintf(stderr, "%s run: --timing-only and --trace need --backend sim: (got %s)\n",
                cli_prog, o.backend);
        return CLI_EXIT_USAGE;
    }
    if (ro.routing && !ro.timing_only) {
        fprintf(stderr, "%s run: --routing is for --timing-only (with values the device routes)\n",
                cli_prog);
        return CLI_EXIT_USAGE;
    }
    if (ro.trace) { /* before any work: the device writes it as it runs */
        FILE *f = fopen(ro.trace, "w");
        if (!f) {
            fprintf(stderr, "%s: %s: cannot create the trace file: %s\n", cli_prog, ro.trace,
                    strerror(errno));
            return CLI_EXIT_WORK;
        }
        fclose(f);
    }
    aimc_arch a, used;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_routing *routing = NULL;
    aimc_rt_report *rep = NULL;
    aimc_diag d = {{0}};
    int rc = CLI_EXIT_USAGE;
    if (cli_load_arch(&o, &a) || cli_load_model(&o, !ro.timing_only, &m)) goto out;
    if (ro.routing && aimc_routing_from_spec(ro.routing, m, &routing, &d) != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        goto out;
    }
    rc = CLI_EXIT_WORK;
    cli_print_machine(&a);
    cli_print_model(m);
    if (!(rep = malloc(sizeof *rep))) {
        fprintf(stderr, "%s: out of memory\n", cli_prog);
        goto out;
    }
    cli_eval_opts eo = {.backend = o.backend,
                        .seed = o.seed,
                        .ntok = (size_t)o.tokens,
                        .timing_only = ro.timing_only,
                        .activity_assumed = ro.activity_assumed,
                        .trace = ro.trace,
                        .batch = ro.batch ? (size_t)ro.batch : 1,
                        .window = (size_t)ro.window,
                        .routing = routing};
    int drc = cli_evaluate(&a, m, &eo, &p, &used, rep, &d);
    if (drc != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg[0] ? d.msg : aimc_strerror(drc));
        goto out;
    }
    cli_print_plan(p);
    const aimc_counters *c = &rep->cost;
    printf("run      %zu tokens through %s%s, seed %llu: %llu MVMs, %llu ADC conversions "
           "(%llu saturated)\n",
           rep->tokens, o.backend, ro.timing_only ? " (timing only)" : "",
           (unsigned long long)o.seed, (unsigned long long)c->mvms,
           (unsigned long long)c->adc_conversions, (unsigned long long)c->adc_saturations);
    print_report(&used, rep);
    if (rep->values)
        printf("output   relative rms error %.4f against the float reference; routing agrees "
               "for %.1f %% of token-layers\n",
               rep->rel_rms_error, 100.0 * rep->routing_agreement);
    if (rep->classified)
        printf("accuracy %.2f %% on the simulated machine, %.2f %% in float (%zu test samples)\n",
               100.0 * rep->accuracy_hw, 100.0 * rep->accuracy_float, rep->tokens);
    rc = 0;
    if (o.json) {
        aimc_json j;
        if ((rc = cli_json_start(&j, o.json))) goto out;
        json_report(&j, &used, m, p, &o, &ro, rep);
        aimc_json_obj_end(&j);
        rc = cli_json_finish(&j, o.json);
    }
out:
    free(rep);
    aimc_routing_free(routing);
    aimc_plan_free(p);
    aimc_model_free(m);
    return rc;
}
