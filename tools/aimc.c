/* aimc.c - the aimc command: map, program and run MoE models on a simulated AIMC machine.
 *
 *   aimc run  [options]   map the model, program it through the driver, run tokens, report
 *   aimc map  [options]   map the model and report crossbar use
 *   aimc info [options]   the machine's analytical peak figures
 *
 * Only this file prints and exits; the libraries return status codes and diagnostics.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aimc.h"
#include "aimc_config.h"
#include "aimc_map.h"
#include "aimc_peak.h"
#include "aimc_rt.h"
#include "aimc_sim.h"
#include "json.h"

#define AIMC_VERSION "0.1.0"
#define MAX_SETS 256

/* Exit codes: 0 success, 1 the work failed, 2 bad usage or bad input. */
enum { EXIT_WORK = 1, EXIT_USAGE = 2 };

typedef struct {
    const char *config;        /* NULL: built-in defaults */
    const char *model;         /* NULL: built-in default model */
    const char *sets[MAX_SETS];
    size_t n_sets;
    const char *json;
    const char *backend;
    uint64_t seed;
    long tokens;
} options;

static const char *prog = "aimc";

static void usage_run(FILE *f)
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

static void usage_map(FILE *f)
{
    fprintf(f,
            "usage: aimc map [--config FILE] [--model FILE] [--set KEY=VALUE]... [--json FILE]\n"
            "\n"
            "Cut every weight matrix of the model into crossbar tiles and bit slices, place\n"
            "them first-fit, and report crossbars used and available and cell utilisation.\n"
            "A model that does not fit is an error saying how many crossbars and chips it needs.\n");
}

static void usage_info(FILE *f)
{
    fprintf(f,
            "usage: aimc info [--config FILE] [--set KEY=VALUE]... [--json FILE]\n"
            "\n"
            "Print the machine's analytical peak figures: TOPS, TOPS/W, power and area per\n"
            "chip and by component (formulas in docs/cli.md).\n");
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: aimc [--version] [--help] COMMAND [options]\n"
            "\n"
            "aimc %s - analog in-memory-computing accelerator simulator and driver.\n"
            "\n"
            "commands:\n"
            "  run    map, program and run an MoE model; report latency, energy, error\n"
            "  map    map a model onto the machine; report crossbar use\n"
            "  info   the machine's peak TOPS, TOPS/W, power and area\n"
            "\n"
            "'aimc COMMAND --help' describes a command. Documentation: docs/cli.md.\n",
            AIMC_VERSION);
}

/* Parse an integer option value in [lo, hi]; prints and returns -1 when it is not one. */
static int parse_count(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "%s: %s: expected an integer in %ld..%ld, got \"%s\"\n", prog, opt, lo,
                hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Common option parsing; `allowed` is a string of the short letters this command takes. */
static int parse_options(int argc, char **argv, const char *allowed, void (*help)(FILE *),
                         options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'}, {"model", required_argument, NULL, 'm'},
        {"set", required_argument, NULL, 's'},    {"json", required_argument, NULL, 'j'},
        {"backend", required_argument, NULL, 'b'}, {"seed", required_argument, NULL, 'S'},
        {"tokens", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    o->backend = "sim:";
    o->seed = 1;
    o->tokens = 16;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
        if (c == 'h') {
            help(stdout);
            return 1;
        }
        if (c == '?' || c == ':' || !strchr(allowed, c)) {
            fprintf(stderr, "%s %s: unknown option %s\n", prog, argv[0], argv[optind - 1]);
            help(stderr);
            return -1;
        }
        long v;
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'm': o->model = optarg; break;
        case 'j': o->json = optarg; break;
        case 'b': o->backend = optarg; break;
        case 's':
            if (o->n_sets == MAX_SETS) {
                fprintf(stderr, "%s: at most %d --set options\n", prog, MAX_SETS);
                return -1;
            }
            o->sets[o->n_sets++] = optarg;
            break;
        case 'S':
            if (parse_count("--seed", optarg, 0, LONG_MAX, &v)) return -1;
            o->seed = (uint64_t)v;
            break;
        case 't':
            if (parse_count("--tokens", optarg, 1, 65536, &v)) return -1;
            o->tokens = v;
            break;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s %s: unexpected argument \"%s\"\n", prog, argv[0], argv[optind]);
        help(stderr);
        return -1;
    }
    return 0;
}

/* The default model: models/tiny-moe.yaml beside the binary's tree (build/aimc ->
 * ../models), else relative to the working directory. */
static const char *default_model(char *buf, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, cap, "%s/../models/tiny-moe.yaml", exe);
            if (access(buf, R_OK) == 0) return buf;
            snprintf(buf, cap, "%s/../../models/tiny-moe.yaml", exe);
            if (access(buf, R_OK) == 0) return buf;
        }
    }
    return "models/tiny-moe.yaml";
}

static int load_arch(const options *o, aimc_arch *a)
{
    aimc_diag d = {{0}};
    int rc = aimc_cfg_load(o->config, o->sets, o->n_sets, a, &d);
    if (rc != AIMC_OK) {
        fprintf(stderr, "%s\n", d.msg[0] ? d.msg : aimc_strerror(rc));
        return -1;
    }
    return 0;
}

static int load_model(const options *o, int with_weights, aimc_model **m)
{
    char buf[PATH_MAX + 64];
    const char *path = o->model ? o->model : default_model(buf, sizeof buf);
    aimc_diag d = {{0}};
    int rc = aimc_model_load(path, with_weights, m, &d);
    if (rc != AIMC_OK) {
        fprintf(stderr, "%s\n", d.msg[0] ? d.msg : aimc_strerror(rc));
        return -1;
    }
    return 0;
}

static const char *sign_name(aimc_sign_encoding s)
{
    return s == AIMC_SIGN_DIFFERENTIAL ? "differential" : "offset";
}

static void print_machine(const aimc_arch *a)
{
    printf("machine  %s: %d chip(s) x %d cores x %d crossbars of %dx%d, %d b/cell, %s,\n"
           "         %d-bit weights in %d slice(s), %d-bit DAC %s, %d-bit ADC x%d per crossbar\n",
           a->name, a->hierarchy.chips, a->hierarchy.cores_per_chip,
           a->hierarchy.crossbars_per_core, a->crossbar.rows, a->crossbar.cols,
           a->crossbar.bits_per_cell, sign_name(a->crossbar.sign_encoding),
           a->crossbar.weight_bits, aimc_arch_slices(a), a->dac.bits,
           a->dac.mode == AIMC_DAC_BIT_SERIAL ? "bit-serial" : "multi-bit", a->adc.bits,
           a->adc.per_crossbar);
}

static void print_model(const aimc_model *m)
{
    printf("model    %s: %d layer(s), d_model %d, %d routed experts (top-%d) + %d shared, "
           "d_ff %d,\n         %zu matrices, %.3f M weights\n",
           m->name, m->layers, m->d_model, m->n_experts, m->top_k, m->n_shared, m->d_ff,
           m->n_matrices, (double)aimc_model_weight_count(m) / 1e6);
}

static void print_plan(const aimc_plan *p)
{
    printf("mapping  %zu tiles on %ld of %ld crossbars (%.1f %%), %d chip(s) used;\n"
           "         cell utilisation %.1f %% of used crossbars, %.2f %% of the machine\n",
           p->n_tiles, p->xbars_used, p->xbars_total,
           100.0 * (double)p->xbars_used / (double)p->xbars_total, p->chips_used,
           p->xbars_used ? 100.0 * (double)p->cells_used /
                               ((double)p->cells_total / (double)p->xbars_total *
                                (double)p->xbars_used)
                         : 0.0,
           100.0 * (double)p->cells_used / (double)p->cells_total);
}

static void json_plan(aimc_json *j, const aimc_plan *p)
{
    aimc_json_obj_begin(j, "mapping");
    aimc_json_u64(j, "tiles", p->n_tiles);
    aimc_json_u64(j, "crossbars_used", (uint64_t)p->xbars_used);
    aimc_json_u64(j, "crossbars_available", (uint64_t)p->xbars_total);
    aimc_json_u64(j, "chips_used", (uint64_t)p->chips_used);
    aimc_json_u64(j, "cells_used", p->cells_used);
    aimc_json_u64(j, "cells_total", p->cells_total);
    aimc_json_num(j, "cell_utilisation", (double)p->cells_used / (double)p->cells_total);
    aimc_json_obj_end(j);
}

static int json_finish(aimc_json *j, const char *path)
{
    if (aimc_json_close(j) != 0) {
        fprintf(stderr, "%s: writing %s failed: %s\n", prog, path, strerror(errno));
        return EXIT_WORK;
    }
    return 0;
}

static int json_start(aimc_json *j, const char *path)
{
    if (aimc_json_open(j, path) != 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", prog, path, strerror(errno));
        return EXIT_WORK;
    }
    aimc_json_obj_begin(j, NULL);
    aimc_json_str(j, "aimc_version", AIMC_VERSION);
    return 0;
}

static int map_model(const aimc_arch *a, const aimc_model *m, aimc_plan **plan)
{
    aimc_diag d = {{0}};
    int rc = aimc_map_plan(a, m, plan, &d);
    if (rc != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", prog, d.msg[0] ? d.msg : aimc_strerror(rc));
        return -1;
    }
    return 0;
}

static int cmd_map(int argc, char **argv)
{
    options o;
    int r = parse_options(argc, argv, "cmsj", usage_map, &o);
    if (r) return r > 0 ? 0 : EXIT_USAGE;
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    int rc = EXIT_USAGE;
    if (load_arch(&o, &a) || load_model(&o, 0, &m)) goto out;
    rc = EXIT_WORK;
    print_machine(&a);
    print_model(m);
    if (map_model(&a, m, &p)) goto out;
    print_plan(p);
    rc = 0;
    if (o.json) {
        aimc_json j;
        if ((rc = json_start(&j, o.json))) goto out;
        aimc_json_str(&j, "config", a.name);
        aimc_json_str(&j, "model", m->name);
        json_plan(&j, p);
        aimc_json_obj_end(&j);
        rc = json_finish(&j, o.json);
    }
out:
    aimc_plan_free(p);
    aimc_model_free(m);
    return rc;
}

static int cmd_info(int argc, char **argv)
{
    options o;
    int r = parse_options(argc, argv, "csj", usage_info, &o);
    if (r) return r > 0 ? 0 : EXIT_USAGE;
    aimc_arch a;
    if (load_arch(&o, &a)) return EXIT_USAGE;
    aimc_peak p;
    aimc_peak_compute(&a, &p);
    print_machine(&a);
    printf("peak     %.3f TOPS (%.3f per chip), %.3f TOPS/W, %.4f TOPS/mm^2\n"
           "         one input vector through a full tile: %.1f ns\n",
           p.tops, p.tops_per_chip, p.tops_per_w, p.tops_per_mm2, p.mvm_ns);
    printf("chip     power %.3f W at peak, area %.3f mm^2\n", p.chip_power_w, p.chip_area_mm2);
    printf("         %-8s %12s %12s\n", "", "power W", "area mm^2");
    for (int c = 0; c < AIMC_COMP_COUNT; c++)
        printf("         %-8s %12.4f %12.4f\n", aimc_component_name((aimc_component)c),
               p.power_w_by_component[c], p.area_mm2_by_component[c]);
    printf("capacity %.3f M weights of %d bits\n", p.weights_capacity / 1e6,
           a.crossbar.weight_bits);
    if (!o.json) return 0;
    aimc_json j;
    if (json_start(&j, o.json)) return EXIT_WORK;
    aimc_json_str(&j, "config", a.name);
    aimc_json_obj_begin(&j, "peak");
    aimc_json_num(&j, "tops", p.tops);
    aimc_json_num(&j, "tops_per_chip", p.tops_per_chip);
    aimc_json_num(&j, "tops_per_w", p.tops_per_w);
    aimc_json_num(&j, "tops_per_mm2", p.tops_per_mm2);
    aimc_json_num(&j, "mvm_ns", p.mvm_ns);
    aimc_json_obj_end(&j);
    aimc_json_obj_begin(&j, "chip");
    aimc_json_num(&j, "power_w", p.chip_power_w);
    aimc_json_num(&j, "area_mm2", p.chip_area_mm2);
    aimc_json_obj_begin(&j, "power_w_by_component");
    for (int c = 0; c < AIMC_COMP_COUNT; c++)
        aimc_json_num(&j, aimc_component_name((aimc_component)c), p.power_w_by_component[c]);
    aimc_json_obj_end(&j);
    aimc_json_obj_begin(&j, "area_mm2_by_component");
    for (int c = 0; c < AIMC_COMP_COUNT; c++)
        aimc_json_num(&j, aimc_component_name((aimc_component)c), p.area_mm2_by_component[c]);
    aimc_json_obj_end(&j);
    aimc_json_obj_end(&j);
    aimc_json_obj_begin(&j, "machine");
    aimc_json_u64(&j, "chips", (uint64_t)a.hierarchy.chips);
    aimc_json_num(&j, "power_w", p.power_w);
    aimc_json_num(&j, "area_mm2", p.area_mm2);
    aimc_json_num(&j, "weights_capacity", p.weights_capacity);
    aimc_json_obj_end(&j);
    aimc_json_obj_end(&j);
    return json_finish(&j, o.json);
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
                     const options *o, const aimc_rt_report *r)
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
    json_plan(j, p);
}

static int cmd_run(int argc, char **argv)
{
    options o;
    int r = parse_options(argc, argv, "cmsjbSt", usage_run, &o);
    if (r) return r > 0 ? 0 : EXIT_USAGE;
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_dev *dev = NULL;
    float *x0 = NULL;
    aimc_rt_report *rep = NULL;
    aimc_diag d = {{0}};
    int rc = EXIT_USAGE;
    if (load_arch(&o, &a) || load_model(&o, 1, &m)) goto out;
    rc = EXIT_WORK;
    print_machine(&a);
    print_model(m);
    if (map_model(&a, m, &p)) goto out;
    print_plan(p);

    aimc_open_opts oo = {.arch = &a, .seed = o.seed};
    int drc = aimc_open(o.backend, &oo, &dev);
    if (drc != AIMC_OK) {
        fprintf(stderr, "%s: cannot open device %s: %s\n", prog, o.backend, aimc_strerror(drc));
        goto out;
    }
    if ((drc = aimc_rt_program(dev, m, p, &d)) != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", prog, d.msg);
        goto out;
    }
    size_t ntok = (size_t)o.tokens, dm = (size_t)m->d_model;
    x0 = malloc(ntok * dm * sizeof *x0);
    rep = malloc(sizeof *rep);
    if (!x0 || !rep) {
        fprintf(stderr, "%s: out of memory\n", prog);
        goto out;
    }
    aimc_rt_tokens(o.seed, ntok, dm, x0);
    if ((drc = aimc_rt_run(dev, m, x0, ntok, rep, &d)) != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", prog, d.msg);
        goto out;
    }
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
        if ((rc = json_start(&j, o.json))) goto out;
        json_run(&j, &a, m, p, &o, rep);
        aimc_json_obj_end(&j);
        rc = json_finish(&j, o.json);
    }
out:
    free(rep);
    free(x0);
    aimc_close(dev);
    aimc_plan_free(p);
    aimc_model_free(m);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("aimc %s\n", AIMC_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "run")) return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "map")) return cmd_map(argc - 1, argv + 1);
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command \"%s\"\n", prog, cmd);
    usage(stderr);
    return EXIT_USAGE;
}
