/* cli.c - options, loading and printing shared by the aimc subcommands (cli.h). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aimc_config.h"
#include "aimc_xbar.h"
#include "cli.h"

const char *const cli_prog = "aimc";

/* Parse an integer option value in [lo, hi]; prints and returns -1 when it is not one. */
int cli_parse_count(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "%s: %s: expected an integer in %ld..%ld, got \"%s\"\n", cli_prog, opt, lo,
                hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* Whether the option with val key takes a value. */
static int longopts_need(const struct option *longopts, int key)
{
    for (const struct option *o = longopts; o->name; o++)
        if (o->val == key) return o->has_arg == required_argument;
    return 0;
}

int cli_missing_value(const char *value)
{
    return !value || !value[0] || (value[0] == '-' && value[1] == '-');
}

const char *cli_long_name(const struct option *longopts, int key)
{
    for (const struct option *o = longopts; o->name; o++)
        if (o->val == key) return o->name;
    return "?";
}

int cli_needs_value(const char *cmd, const char *name, const char *got)
{
    if (got && got[0])
        fprintf(stderr, "%s %s: option --%s needs a value, got the option %s\n", cli_prog, cmd,
                name, got);
    else fprintf(stderr, "%s %s: option --%s needs a value\n", cli_prog, cmd, name);
    return -1;
}

/* Common option parsing; `allowed` is a string of the short letters this command takes. */
int cli_parse_options(int argc, char **argv, const char *allowed, void (*help)(FILE *),
                         cli_options *o)
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
    o->tokens = 0; /* cli_evaluate picks: a classifier's test set, else CLI_DEFAULT_TOKENS */
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "+:h", longopts, NULL)) != -1) {
        if (c == 'h') {
            help(stdout);
            return 1;
        }
        int key = c == ':' ? optopt : c;
        if (c == '?' || !strchr(allowed, key)) {
            fprintf(stderr, "%s %s: unknown option %s\n", cli_prog, argv[0], argv[optind - 1]);
            help(stderr);
            return -1;
        }
        if (c == ':' || (longopts_need(longopts, key) && cli_missing_value(optarg)))
            return cli_needs_value(argv[0], cli_long_name(longopts, key),
                                   c == ':' ? NULL : optarg);
        long v;
        switch (c) {
        case 'c': o->config = optarg; break;
        case 'm': o->model = optarg; break;
        case 'j': o->json = optarg; break;
        case 'b': o->backend = optarg; break;
        case 's':
            if (o->n_sets == CLI_MAX_SETS) {
                fprintf(stderr, "%s: at most %d --set options\n", cli_prog, CLI_MAX_SETS);
                return -1;
            }
            o->sets[o->n_sets++] = optarg;
            break;
        case 'S':
            if (cli_parse_count("--seed", optarg, 0, LONG_MAX, &v)) return -1;
            o->seed = (uint64_t)v;
            break;
        case 't':
            if (cli_parse_count("--tokens", optarg, 1, 65536, &v)) return -1;
            o->tokens = v;
            break;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s %s: unexpected argument \"%s\"\n", cli_prog, argv[0], argv[optind]);
        help(stderr);
        return -1;
    }
    return 0;
}

/* The default model: models/digits-moe.yaml beside the binary's tree (build/aimc ->
 * ../models), or where make install put it (bin/aimc -> ../share/aimc/models), else relative
 * to the working directory. */
const char *cli_default_model(char *buf, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            snprintf(buf, cap, "%s/../models/digits-moe.yaml", exe);
            if (access(buf, R_OK) == 0) return buf;
            snprintf(buf, cap, "%s/../../models/digits-moe.yaml", exe);
            if (access(buf, R_OK) == 0) return buf;
            snprintf(buf, cap, "%s/../share/aimc/models/digits-moe.yaml", exe); /* installed */
            if (access(buf, R_OK) == 0) return buf;
        }
    }
    return "models/digits-moe.yaml";
}

int cli_load_arch(const cli_options *o, aimc_arch *a)
{
    aimc_diag d = {{0}};
    int rc = aimc_cfg_load(o->config, o->sets, o->n_sets, a, &d);
    if (rc != AIMC_OK) {
        fprintf(stderr, "%s\n", d.msg[0] ? d.msg : aimc_strerror(rc));
        return -1;
    }
    return 0;
}

int cli_load_model(const cli_options *o, int with_weights, aimc_model **m)
{
    char buf[PATH_MAX + 64];
    const char *path = o->model ? o->model : cli_default_model(buf, sizeof buf);
    aimc_diag d = {{0}};
    int rc = aimc_model_load(path, with_weights, m, &d);
    if (rc != AIMC_OK) {
        fprintf(stderr, "%s\n", d.msg[0] ? d.msg : aimc_strerror(rc));
        return -1;
    }
    return 0;
}

const char *cli_sign_name(aimc_sign_encoding s)
{
    return s == AIMC_SIGN_DIFFERENTIAL ? "differential" : "offset";
}

void cli_print_machine(const aimc_arch *a)
{
    printf("machine  %s: %d chip(s) x %d cores x %d crossbars of %dx%d, %d b/cell, %s,\n"
           "         %d-bit weights in %d slice(s), %d-bit DAC %s, %d-bit ADC x%d per crossbar\n",
           a->name, a->hierarchy.chips, a->hierarchy.cores_per_chip,
           a->hierarchy.crossbars_per_core, a->crossbar.rows, a->crossbar.cols,
           a->crossbar.bits_per_cell, cli_sign_name(a->crossbar.sign_encoding),
           a->crossbar.weight_bits, aimc_arch_slices(a), a->dac.bits,
           a->dac.mode == AIMC_DAC_BIT_SERIAL  ? "bit-serial"
           : a->dac.mode == AIMC_DAC_MULTI_BIT ? "multi-bit"
                                                : "pulse-width",
           a->adc.bits,
           a->adc.per_crossbar);
}

void cli_print_model(const aimc_model *m)
{
    printf("model    %s: %d layer(s), d_model %d, %d routed experts (top-%d) + %d shared, "
           "d_ff %d,\n         %zu matrices, %.3f M weights\n",
           m->name, m->layers, m->d_model, m->n_experts, m->top_k, m->n_shared, m->d_ff,
           m->n_matrices, (double)aimc_model_weight_count(m) / 1e6);
}

void cli_print_plan(const aimc_plan *p)
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

void cli_json_plan(aimc_json *j, const aimc_plan *p)
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

int cli_json_finish(aimc_json *j, const char *path)
{
    if (aimc_json_close(j) != 0) {
        fprintf(stderr, "%s: writing %s failed: %s\n", cli_prog, path, strerror(errno));
        return CLI_EXIT_WORK;
    }
    return 0;
}

int cli_json_start(aimc_json *j, const char *path)
{
    if (aimc_json_open(j, path) != 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", cli_prog, path, strerror(errno));
        return CLI_EXIT_WORK;
    }
    aimc_json_obj_begin(j, NULL);
    aimc_json_str(j, "aimc_version", AIMC_VERSION);
    return 0;
}

int cli_map_model(const aimc_arch *a, const aimc_model *m, aimc_plan **plan)
{
    aimc_diag d = {{0}};
    int rc = aimc_map_plan(a, m, plan, &d);
    if (rc != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg[0] ? d.msg : aimc_strerror(rc));
        return -1;
    }
    return 0;
}

/* The machine's fault map as the mapper reads it: the fraction of stuck devices per crossbar
 * array (from the same seed the device will draw its faults with). NULL when there are no
 * faults or the strategy would skip none. */
float *cli_fault_map(const aimc_arch *a, uint64_t seed, size_t *n)
{
    *n = 0;
    if (a->device.stuck_on_rate + a->device.stuck_off_rate <= 0 ||
        a->mapping.fault_threshold >= 1.0)
        return NULL;
    size_t total = (size_t)aimc_arch_total_crossbars(a) * (size_t)a->hierarchy.tiers;
    float *f = malloc(total * sizeof *f);
    if (!f) return NULL;
    for (size_t x = 0; x < total; x++) f[x] = (float)aimc_xbar_fault_fraction(a, seed, (uint32_t)x);
    *n = total;
    return f;
}
