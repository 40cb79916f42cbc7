/* cmd_run.c - `aimc run`: map, program through the driver, run tokens, report. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aimc.h"
#include "aimc_cost.h"
#include "aimc_rt.h"
#include "aimc_workload.h"
#include "cli.h"

void cli_usage_run(FILE *f)
{
    fprintf(f,
            "usage: aimc run [--config FILE] [--model FILE] [--set KEY=VALUE]...\n"
            "                [--tokens N] [--seed N] [--backend URI] [--json FILE]\n"
            "                [--timing-only] [--batch N] [--window N] [--routing SPEC]\n"
            "                [--activity assumed|measured] [--trace FILE] [--wave FILE]\n"
            "                [--csv FILE] [--compare gpu:NAME] [--tokens-file FILE]\n"
            "                [--dump-outputs FILE] [--dump-layers] [--prompt N] [--generate]\n"
            "\n"
            "Map the model onto the machine, program its weights through the driver, stream N\n"
            "tokens through every MoE layer on the device, and report latency, energy by part\n"
            "and the output error against an exact floating-point reference. Time and energy\n"
            "are the device's: its commands run on the machine's resources, overlapping where\n"
            "they are independent (docs/engine.md). Which figure to quote: docs/cli.md.\n"
            "\n"
            "  --config FILE   machine config (default: the built-in default machine,\n"
            "                  identical to configs/default.yaml)\n"
            "  --model FILE    model description (default: models/digits-moe.yaml, an MoE\n"
            "                  classifier of handwritten digits)\n"
            "  --set KEY=VAL   override one config key, e.g. --set adc.bits=6 (repeatable)\n"
            "  --tokens N      tokens to run, 1..65536 (default: a classifier's whole test\n"
            "                  set, else 16; a classifier's test set repeats beyond its end)\n"
            "  --seed N        seed of the device noise and the input tokens (default 1)\n"
            "  --backend URI   driver backend (default sim:)\n"
            "  --json FILE     also write the report as JSON (keys in docs/cli.md)\n"
            "  --timing-only   a device without values on a shape-only plan: time and energy\n"
            "                  of models too large to hold (routing from --routing)\n"
            "  --batch N       tokens per group (default 1); groups stream through the\n"
            "                  layers, each two layers behind the one before (a language\n"
            "                  model's windows are prefilled at once: not with them)\n"
            "  --window N      groups in flight at most (default 64)\n"
            "  --routing SPEC  timing-only: uniform, zipf:S[:SEED] or a statistics file\n"
            "                  (default uniform)\n"
            "  --activity A    measured (default: DAC and array energy from the data) or\n"
            "                  assumed (the assumption a timing-only run makes)\n"
            "  --trace FILE    Chrome trace-event JSON of every resource's busy intervals\n"
            "                  (sim:; open in ui.perfetto.dev)\n"
            "  --wave FILE     with --backend rtl:, an FST waveform of every RTL signal over\n"
            "                  the whole run (open in GTKWave; docs/rtl.md)\n"
            "  --csv FILE      time and energy per layer, per matrix and per command kind\n"
            "  --compare gpu:NAME  the same workload on a GPU by a roofline, as many tokens\n"
            "                  a step as the run's groups (NAME: a100, h100, h200): its\n"
            "                  tokens/s, energy per token and the ratios against the\n"
            "                  simulated machine\n"
            "  --tokens-file FILE  the tokens to run: one per line, its d_model input values\n"
            "                  (docs/cli.md, \"Tokens in, outputs out\")\n"
            "  --dump-outputs FILE  write each token's input, output hidden state, logits (a\n"
            "                  classifier's) and routing decisions as safetensors\n"
            "  --dump-layers   with --dump-outputs: the hidden state after every layer too\n"
            "  --prompt N      models with attention: the first N tokens at once (a prefill;\n"
            "                  at most a language model's window, of eval.context)\n"
            "  --generate      models with attention: each later token enters when the one\n"
            "                  before has left the head (decoding's timing, one token at a\n"
            "                  time; the tokens are the given ones, not the head's choice)\n");
}

/* ---- the options only `aimc run` takes ---- */

typedef cli_run_opts run_opts; /* cli.h */

/* Take run's own options out of argv (the shared parser does not know them); returns the
 * new argc, or -1 after printing a usage error. */
static int take_run_options(int argc, char **argv, char **kept, run_opts *r)
{
    static const char *const valued[] = {"--trace",   "--wave",        "--routing",
                                         "--batch",   "--window",      "--activity",
                                         "--csv",     "--compare",     "--tokens-file",
                                         "--dump-outputs", "--prompt"};
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
        if (i > 0 && !strcmp(arg, "--dump-layers")) {
            r->dump_layers = 1;
            continue;
        }
        if (i > 0 && !strcmp(arg, "--generate")) {
            r->generate = 1;
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
        case 6: r->csv = val; break;
        case 7: r->compare = val; break;
        case 8: r->tokens_file = val; break;
        case 9: r->dump = val; break;
        case 10:
            if (cli_parse_count("--prompt", val, 1, 65536, &r->prompt)) return -1;
            break;
        }
    }
    kept[n] = NULL;
    return n;
}

/* ---- before any work: does the run fit? ---- */

/* The host's physical memory, bytes (0 when unknown). */
static double host_memory_bytes(void)
{
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : 0.0;
}

/* A run with values holds every weight as float32 in the host's memory (the model) and again
 * as the simulated devices' state (at least as many bytes: each weight is one or more device
 * pairs of read data and targets): refuse one whose float32 weights take more than half the
 * host's memory, or whose plan does not fit the machine, before loading any value (a
 * shape-only load and map take well under a second even for a 10^4-chip plan). Prints why;
 * returns 0 to go on. */
static int preflight(const cli_options *o, const aimc_arch *a)
{
    aimc_model *shape = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    char buf[PATH_MAX + 64];
    const char *path = o->model ? o->model : cli_default_model(buf, sizeof buf);
    if (cli_load_model(o, 0, &shape)) return -1;
    const double need = 4.0 * (double)aimc_model_weight_count(shape);
    const double have = host_memory_bytes();
    aimc_map_opts mo = {.shape_only = 1};
    int rc = aimc_map_plan_ex(a, shape, &mo, &p, &d);
    if (rc != AIMC_OK) {
        fprintf(stderr,
                "%s run: %s\n"
                "%s run: %s does not fit the machine: set hierarchy.chips: auto (--set "
                "hierarchy.chips=auto) to give it as many chips as the plan needs, or use a "
                "larger machine (`aimc map` shows what it needs)",
                cli_prog, d.msg[0] ? d.msg : aimc_strerror(rc), cli_prog, path);
        if (have > 0 && need > 0.5 * have)
            fprintf(stderr, "; a run with values would also need more than %.1f GB of host "
                    "memory (this host has %.1f GB): --timing-only holds no values",
                    need * 1e-9, have * 1e-9);
        fprintf(stderr, "\n");
        aimc_model_free(shape);
        return -1;
    }
    const int chips = p->chips;
    aimc_plan_free(p);
    if (have > 0 && need > 0.5 * have) {
        fprintf(stderr,
                "%s run: %s: a run with values needs more than %.1f GB of host memory for "
                "its %.3g weights (float32, before the simulated devices' own state); this "
                "host has %.1f GB. On this machine the model takes %d chip(s). Use "
                "--timing-only for its time and energy without values (no weights are "
                "held), or a smaller model.\n",
                cli_prog, path, need * 1e-9, (double)aimc_model_weight_count(shape),
                have * 1e-9, chips);
        aimc_model_free(shape);
        return -1;
    }
    aimc_model_free(shape);
    return 0;
}

/* What was asked that the model cannot give, known once the model is loaded: prints why (a
 * usage error); returns 0 to go on. */
static int refuse_for_model(const run_opts *ro, const aimc_model *m)
{
    if (ro->dump_layers && aimc_rt_sequence(m)) {
        /* the runtime keeps every layer's output of independent tokens only */
        fprintf(stderr, "%s run: --dump-layers: every layer's hidden state is kept for models "
                "without attention, dense layers or a vocabulary only, and model %s has %s; "
                "--dump-outputs without --dump-layers writes its inputs, last hidden state, "
                "logits and routing\n", cli_prog, m->name,
                m->attn.kind != AIMC_ATTN_NONE ? "attention"
                : m->dense_layers > 0          ? "dense layers"
                                               : "a vocabulary");
        return -1;
    }
    static const char *const names[3] = {"--prompt", "--generate", "--batch N"};
    aimc_diag d = {{0}};
    if (cli_sequence_opts_check(m, ro->prompt != 0, ro->generate, names, &d) != AIMC_OK) {
        fprintf(stderr, "%s run: %s\n", cli_prog, d.msg);
        return -1;
    }
    return 0;
}

/* ---- the report ---- */

static double sum_parts(const double *pj)
{
    double t = 0;
    for (int q = 0; q < AIMC_PART_COUNT; q++) t += pj[q];
    return t;
}

/* The config key that sets a part's energy per event, for the warnings. */
static const char *part_energy_key(aimc_part q)
{
    switch (q) {
    case AIMC_PART_DAC: return "dac.energy_pj";
    case AIMC_PART_ADC: return "adc.energy_pj";
    case AIMC_PART_DIGITAL: return "digital.energy_pj_per_op";
    case AIMC_PART_NOC: return "mapping.noc_hop_energy_pj";
    case AIMC_PART_CHIP_LINK: return "mapping.chip_link_energy_pj";
    case AIMC_PART_HOST_DMA: return "host_dma.energy_pj_per_byte";
    default: return NULL;
    }
}

/* What a part did in the run, by the device's counters (0 for parts they do not count). */
static double part_activity(const aimc_counters *c, aimc_part q)
{
    switch (q) {
    case AIMC_PART_DAC: return (double)c->dac_drives;
    case AIMC_PART_ADC: return (double)c->adc_conversions;
    case AIMC_PART_DIGITAL: return (double)c->digital_ops;
    case AIMC_PART_NOC: return (double)c->noc_bytes;
    case AIMC_PART_CHIP_LINK: return (double)c->link_bytes;
    case AIMC_PART_HOST_DMA: return (double)c->host_bytes;
    default: return 0.0;
    }
}

/* How a run's tokens went in, for the report to say what ran. A language model on ids runs
 * in windows (evaluate.c, lm_windows: eval.context tokens each when the model has an eval
 * section, else one window of every token), each prefilled at once (teacher forcing) unless
 * --prompt or --generate say how its tokens enter: then --batch does not apply. Any other
 * model runs its tokens in groups of --batch, after a prompt with --prompt. */
typedef struct {
    int lm;                 /* a language model's windows */
    int forced;             /* ... each prefilled at once (no --prompt, no --generate) */
    size_t windows, window; /* how many windows, the tokens of the longest */
    size_t prompt;          /* a sequence's (a window's) prompt as run, 0: none */
    size_t batch;           /* --batch (default 1) */
    size_t group;           /* tokens per group at steady state: a prefilled window's first
                             * group (its tokens, or the device's tokens per command), else
                             * the batch; the GPU beside it runs the same */
} run_shape;

static void run_shape_of(const aimc_model *m, const run_opts *ro, const aimc_rt_report *r,
                         run_shape *s)
{
    memset(s, 0, sizeof *s);
    const size_t n = r->tokens;
    s->batch = ro->batch ? (size_t)ro->batch : 1;
    s->lm = m->vocab > 0 && !ro->x0;
    if (s->lm) {
        s->window = cli_lm_window(m, n);
        s->windows = s->window ? (n + s->window - 1) / s->window : 0;
        s->forced = !ro->prompt && !ro->generate;
    }
    const size_t seq = s->lm ? s->window : n; /* the runtime takes at most that many at once */
    if (ro->prompt > 0 && m->attn.kind != AIMC_ATTN_NONE)
        s->prompt = (size_t)ro->prompt < seq ? (size_t)ro->prompt : seq;
    s->group = s->forced && r->first_tokens ? r->first_tokens : s->batch;
}

/* The groups the tokens went in, for the latency block: "4 windows of 64, each prefilled at
 * once", "16 group(s) of 1", ... */
static void groups_text(const run_shape *s, const run_opts *ro, const aimc_rt_report *r,
                        char *buf, size_t cap)
{
    char cut[96] = "";
    if (s->prompt && (size_t)ro->prompt > s->prompt)
        snprintf(cut, sizeof cut, " (--prompt %ld, cut to the %s's %zu)", ro->prompt,
                 s->lm ? "window" : "sequence", s->prompt);
    const char *dec = ro->generate ? ", each entering when the one before has left the head" : "";
    if (!s->lm) {
        if (s->prompt)
            snprintf(buf, cap, "%zu group(s): a prompt of %zu at once%s, then groups of %zu%s",
                     r->groups, s->prompt, cut, s->batch, dec);
        else
            snprintf(buf, cap, "%zu group(s) of %zu%s", r->groups, s->batch, dec);
        return;
    }
    const int part = s->windows > 1 && r->tokens % s->window != 0; /* a shorter last window */
    int k = snprintf(buf, cap, "%zu window%s of %s%zu", s->windows, s->windows == 1 ? "" : "s",
                     part ? "at most " : "", s->window);
    if (k < 0 || (size_t)k >= cap) return;
    if (s->forced && r->groups == s->windows)
        snprintf(buf + k, cap - (size_t)k, ", each prefilled at once");
    else if (s->forced) /* a window longer than the device takes per command */
        snprintf(buf + k, cap - (size_t)k, ", %zu groups: each prefilled in groups of at most "
                 "%zu (the most the device takes at once)", r->groups, s->group);
    else if (s->prompt >= s->window) /* every window one prompt */
        snprintf(buf + k, cap - (size_t)k, ", each a prompt at once%s", cut);
    else if (s->prompt)
        snprintf(buf + k, cap - (size_t)k, ", %zu groups: in each a prompt of %zu at once%s, "
                 "then groups of %zu%s", r->groups, s->prompt, cut, s->batch, dec);
    else
        snprintf(buf + k, cap - (size_t)k, ", in %zu groups of %zu%s", r->groups, s->batch, dec);
}

#define MAX_WARNINGS 8
typedef struct {
    char text[MAX_WARNINGS][320];
    int n;
} warnings;

/* Where the run leaves what the preset was calibrated for: more chips than it was published
 * for, or a part that worked while the config gives it no energy. */
static void find_warnings(const aimc_arch *a, const aimc_plan *p, const aimc_rt_report *r,
                          const run_opts *ro, const run_shape *s, warnings *w)
{
    w->n = 0;
    if (s->forced && ro->batch) /* asked for, and not what ran */
        snprintf(w->text[w->n++], sizeof w->text[0],
                 "--batch %ld does not apply: a language model's windows are prefilled at once "
                 "(teacher forcing: each window of up to %zu tokens in as few groups as every "
                 "command takes, one if it fits); with --prompt N "
                 "or --generate the tokens after the prompt enter in groups of --batch",
                 ro->batch, s->window);
    if (a->calibration.chips > 0 && p->chips_used > a->calibration.chips)
        snprintf(w->text[w->n++], sizeof w->text[0],
                 "the run uses %d chips; %s's figures were published for %d "
                 "(calibration.chips): what lies between chips (links, their energy and "
                 "bandwidth) is this config's assumption, not the source's",
                 p->chips_used, a->name, a->calibration.chips);
    for (int q = 0; q < AIMC_PART_COUNT && w->n < MAX_WARNINGS; q++) {
        const char *key = part_energy_key((aimc_part)q);
        if (key && part_activity(&r->cost, (aimc_part)q) > 0 && r->cost.energy_pj[q] == 0.0)
            snprintf(w->text[w->n++], sizeof w->text[0],
                     "the %s part worked in this run but %s gives it no energy (%s = 0): the "
                     "total leaves it out",
                     aimc_part_name((aimc_part)q), a->name, key);
    }
}

/* A unit for energies around pj (pJ .. J), so a table's figures read without exponents;
 * *scale multiplies pJ into it. */
static const char *energy_unit(double pj, double *scale)
{
    static const char *const names[] = {"pJ", "nJ", "uJ", "mJ", "J"};
    int u = 0;
    for (double v = fabs(pj); u < 4 && v >= 1e4; v *= 1e-3) u++;
    *scale = pow(1e-3, u);
    return names[u];
}

/* Power in mW as text with a unit that suits it. */
static void power_text(double mw, char *buf, size_t cap)
{
    if (mw >= 1e6) snprintf(buf, cap, "%.3f kW", mw * 1e-6);
    else if (mw >= 1e3) snprintf(buf, cap, "%.3f W", mw * 1e-3);
    else snprintf(buf, cap, "%.3f mW", mw);
}

/* Time in ns as text with a unit that suits it. */
static void time_text(double ns, char *buf, size_t cap)
{
    if (ns >= 1e9) snprintf(buf, cap, "%.3f s", ns * 1e-9);
    else if (ns >= 1e6) snprintf(buf, cap, "%.3f ms", ns * 1e-6);
    else if (ns >= 1e3) snprintf(buf, cap, "%.3f us", ns * 1e-3);
    else snprintf(buf, cap, "%.3f ns", ns);
}

static void print_report(const aimc_arch *a, const aimc_rt_report *r, const cli_figures *f,
                         const aimc_peak *pk, const char *groups)
{
    char t1[32], t2[32], t3[32], pw[32];
    time_text(f->first_ns, t1, sizeof t1);
    time_text(f->token_ns, t2, sizeof t2);
    time_text(f->makespan_ns, t3, sizeof t3);
    char sem[48] = "";
    if (f->token_ns_sem > 0) {
        char e[32];
        time_text(f->token_ns_sem, e, sizeof e);
        snprintf(sem, sizeof sem, " (+- %s)", e);
    }
    printf("latency  first token %s; at steady state %s%s per token, %.1f tokens/s;\n"
           "         makespan %s for %zu tokens in %s\n",
           t1, t2, sem, f->tokens_per_s, t3, r->tokens, groups);
    double k;
    const char *u = energy_unit(f->tok_pj, &k);
    power_text(f->static_mw, pw, sizeof pw);
    printf("energy   per token at steady state, %s (dynamic: the run's over its tokens; static:\n"
           "         %s leaks from what is powered, %.0f crossbar(s) on %.0f chip(s) with\n"
           "         power.gating %s, over the %s of a token)\n",
           u, pw, r->powered.xbars, r->powered.chips,
           a->power.gating == AIMC_GATING_NONE ? "none" : "unused", t2);
    printf("         %-10s %12s %12s %12s %7s\n", "part", "dynamic", "static", "total", "share");
    for (int q = 0; q < AIMC_PART_COUNT; q++) {
        const double t = f->tok_dyn_pj[q] + f->tok_static_pj[q];
        printf("         %-10s %12.4f %12.4f %12.4f %6.1f%%\n", aimc_part_name((aimc_part)q),
               f->tok_dyn_pj[q] * k, f->tok_static_pj[q] * k, t * k,
               f->tok_pj > 0 ? 100.0 * t / f->tok_pj : 0.0);
    }
    printf("         %-10s %12.4f %12.4f %12.4f\n", "total", f->tok_dyn_total_pj * k,
           f->tok_static_total_pj * k, f->tok_pj * k);
    const double run = f->dyn_total_pj + f->static_total_pj;
    u = energy_unit(run, &k);
    printf("         the whole run: %.4f %s (dynamic %.4f, static %.4f over the makespan)\n",
           run * k, u, f->dyn_total_pj * k, f->static_total_pj * k);
    printf("achieved %.4g TOPS, %.4g TOPS/W at steady state (%.4g MACs per token); the machine's\n"
           "         peak: %.4g TOPS, %.4g TOPS/W (aimc info)\n",
           f->tops, f->tops_per_w, (double)r->macs / (double)(r->tokens ? r->tokens : 1),
           pk->tops, pk->tops_per_w);
    const double per = 1e-3 / (double)(r->tokens ? r->tokens : 1);
    printf("traffic  per token: %.3f kB over the host link, %.3f kB over on-chip networks,\n"
           "         %.3f kB over chip links\n",
           (double)r->cost.host_bytes * per, (double)r->cost.noc_bytes * per,
           (double)r->cost.link_bytes * per);
}

static void print_deploy(const cli_deploy *dp)
{
    const aimc_weights_report *w = &dp->program;
    char t[32];
    time_text(dp->time_ns, t, sizeof t);
    double k;
    const char *u = energy_unit(sum_parts(dp->energy_pj), &k);
    printf("deploy   %llu devices programmed: %llu pulses, %llu verify conversions, at most %u\n"
           "         verify iteration(s), %llu device(s) out of tolerance; %s and %.4f %s to\n"
           "         program the model\n",
           (unsigned long long)w->devices, (unsigned long long)w->pulses,
           (unsigned long long)dp->verify_conversions, w->iterations,
           (unsigned long long)w->devices_failed, t, sum_parts(dp->energy_pj) * k, u);
}

/* ---- the breakdown: per layer, per matrix, per kind of command ---- */

typedef void (*row_fn)(void *ctx, const char *kind, const char *name, int layer,
                       const aimc_profile *pr, double busy_ns);

static void profile_add(aimc_profile *a, const aimc_profile *b)
{
    a->commands += b->commands;
    a->vectors += b->vectors;
    a->busy_cycles += b->busy_cycles;
    for (int q = 0; q < AIMC_PART_COUNT; q++) a->energy_pj[q] += b->energy_pj[q];
}

/* Every row of the breakdown in order: layers (their matrices' commands), matrices, command
 * kinds (those that ran). */
static void breakdown_rows(const aimc_arch *a, const aimc_model *m, const cli_breakdown *b,
                           row_fn fn, void *ctx)
{
    for (int l = 0; l < m->layers; l++) {
        aimc_profile sum = {0};
        for (size_t i = 0; i < b->n_matrices && i < m->n_matrices; i++)
            if (m->m[i].layer == l) profile_add(&sum, &b->matrix[i]);
        char name[32];
        snprintf(name, sizeof name, "layer%d", l);
        fn(ctx, "layer", name, l, &sum, aimc_cost_ns(a, (double)sum.busy_cycles));
    }
    for (size_t i = 0; i < b->n_matrices && i < m->n_matrices; i++)
        fn(ctx, "matrix", m->m[i].name, m->m[i].layer, &b->matrix[i],
           aimc_cost_ns(a, (double)b->matrix[i].busy_cycles));
    for (uint32_t k = 0; k < 16; k++) {
        const char *name = aimc_opcode_name(k);
        if (name && b->opcode[k].commands)
            fn(ctx, "command", name, -1, &b->opcode[k],
               aimc_cost_ns(a, (double)b->opcode[k].busy_cycles));
    }
}

static void csv_row(void *ctx, const char *kind, const char *name, int layer,
                    const aimc_profile *pr, double busy_ns)
{
    FILE *f = ctx;
    fprintf(f, "%s,%s,", kind, name);
    if (layer >= 0) fprintf(f, "%d", layer);
    fprintf(f, ",%llu,%llu,%.9g", (unsigned long long)pr->commands,
            (unsigned long long)pr->vectors, busy_ns);
    for (int q = 0; q < AIMC_PART_COUNT; q++) fprintf(f, ",%.9g", pr->energy_pj[q]);
    fprintf(f, ",%.9g\n", sum_parts(pr->energy_pj));
}

static int write_csv(const char *path, const aimc_arch *a, const aimc_model *m,
                     const cli_breakdown *b)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "%s: cannot write %s: %s\n", cli_prog, path, strerror(errno));
        return CLI_EXIT_WORK;
    }
    fprintf(f, "kind,name,layer,commands,vectors,busy_ns");
    for (int q = 0; q < AIMC_PART_COUNT; q++) fprintf(f, ",%s_pj", aimc_part_name((aimc_part)q));
    fprintf(f, ",total_pj\n");
    breakdown_rows(a, m, b, csv_row, f);
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "%s: writing %s failed: %s\n", cli_prog, path, strerror(errno));
        return CLI_EXIT_WORK;
    }
    return 0;
}

typedef struct {
    aimc_json *j;
    const char *open; /* the array the rows of the current kind go in */
} json_rows;

static void json_row(void *ctx, const char *kind, const char *name, int layer,
                     const aimc_profile *pr, double busy_ns)
{
    json_rows *jr = ctx;
    const char *arr = !strcmp(kind, "layer") ? "layers" : !strcmp(kind, "matrix") ? "matrices"
                                                                                   : "commands";
    if (jr->open != arr) {
        if (jr->open) aimc_json_arr_end(jr->j);
        aimc_json_arr_begin(jr->j, arr);
        jr->open = arr;
    }
    aimc_json *j = jr->j;
    aimc_json_obj_begin(j, NULL);
    aimc_json_str(j, "name", name);
    if (layer >= 0) aimc_json_u64(j, "layer", (uint64_t)layer);
    aimc_json_u64(j, "commands", pr->commands);
    aimc_json_u64(j, "vectors", pr->vectors);
    aimc_json_num(j, "busy_ns", busy_ns);
    aimc_json_obj_begin(j, "energy_pj");
    for (int q = 0; q < AIMC_PART_COUNT; q++)
        aimc_json_num(j, aimc_part_name((aimc_part)q), pr->energy_pj[q]);
    aimc_json_obj_end(j);
    aimc_json_num(j, "energy_pj_total", sum_parts(pr->energy_pj));
    aimc_json_obj_end(j);
}

/* ---- a GPU beside it ---- */

typedef struct {
    const aimc_gpu *gpu;
    double batch;
    double step_bytes, step_flops;
    aimc_gpu_estimate est;
} gpu_cmp;

static void gpu_compare(const aimc_model *m, const aimc_routing *routing, size_t batch,
                        const aimc_gpu *g, gpu_cmp *c)
{
    c->gpu = g;
    c->batch = (double)batch;
    aimc_wl_gpu_step(m, routing, c->batch, 2.0, &c->step_bytes, &c->step_flops);
    aimc_gpu_roofline(g, c->step_bytes, c->step_flops, c->batch, &c->est);
}

static void print_compare(const gpu_cmp *c, const cli_figures *f)
{
    char t[32];
    time_text(c->est.token_ns, t, sizeof t);
    double k;
    const char *u = energy_unit(c->est.token_pj, &k);
    printf("gpu      %s: the same workload at batch %.0f by a roofline, %s-bound (%.4g bytes and\n"
           "         %.4g FLOP per step): %s per token, %.1f tokens/s, %.4f %s per token at\n"
           "         %.0f W board power\n"
           "         the simulated machine / the GPU: tokens/s %.3gx, energy per token %.3gx\n"
           "         (figures: %s)\n",
           c->gpu->name, c->batch, c->est.compute_bound ? "compute" : "memory", c->step_bytes,
           c->step_flops, t, c->est.tokens_per_s, c->est.token_pj * k, u, c->gpu->board_w,
           c->est.token_ns > 0 ? c->est.token_ns / f->token_ns : 0.0,
           c->est.token_pj > 0 ? f->tok_pj / c->est.token_pj : 0.0, c->gpu->source);
}

/* ---- JSON ---- */

static void json_report(aimc_json *j, const aimc_arch *a, const aimc_model *m,
                        const aimc_plan *p, const cli_options *o, const run_opts *ro,
                        const run_shape *s, const aimc_rt_report *r, const cli_figures *f,
                        const aimc_peak *pk, const cli_eval_out *ex, const warnings *w,
                        const gpu_cmp *gc)
{
    const aimc_counters *c = &r->cost;
    aimc_json_str(j, "config", a->name);
    aimc_json_str(j, "model", m->name);
    aimc_json_str(j, "backend", o->backend);
    aimc_json_str(j, "mode", ro->timing_only ? "timing_only" : "values");
    aimc_json_u64(j, "seed", o->seed);
    aimc_json_u64(j, "tokens", r->tokens);
    aimc_json_u64(j, "groups", r->groups);
    aimc_json_u64(j, "batch", ro->batch ? (uint64_t)ro->batch : 1);
    if (s->lm) {
        aimc_json_u64(j, "windows", s->windows);
        aimc_json_u64(j, "window_tokens", s->window);
    }
    aimc_json_u64(j, "layers", (uint64_t)r->layers);
    aimc_json_u64(j, "cycles", r->makespan_cycles);
    aimc_json_num(j, "time_ns", f->makespan_ns);
    aimc_json_num(j, "first_token_ns", f->first_ns);
    aimc_json_num(j, "time_ns_per_token", f->token_ns);
    aimc_json_num(j, "time_ns_per_token_sem", f->token_ns_sem);
    aimc_json_num(j, "tokens_per_s", f->tokens_per_s);
    aimc_json_u64(j, "busy_cycles", c->cycles);
    aimc_json_obj_begin(j, "energy_pj_per_token");
    aimc_json_num(j, "dynamic", f->tok_dyn_total_pj);
    aimc_json_num(j, "static", f->tok_static_total_pj);
    aimc_json_num(j, "total", f->tok_pj);
    aimc_json_obj_begin(j, "by_part");
    for (int q = 0; q < AIMC_PART_COUNT; q++) {
        aimc_json_obj_begin(j, aimc_part_name((aimc_part)q));
        aimc_json_num(j, "dynamic", f->tok_dyn_pj[q]);
        aimc_json_num(j, "static", f->tok_static_pj[q]);
        aimc_json_num(j, "total", f->tok_dyn_pj[q] + f->tok_static_pj[q]);
        aimc_json_obj_end(j);
    }
    aimc_json_obj_end(j);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "energy_pj_run");
    aimc_json_num(j, "dynamic", f->dyn_total_pj);
    aimc_json_num(j, "static", f->static_total_pj);
    aimc_json_num(j, "total", f->dyn_total_pj + f->static_total_pj);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "powered");
    aimc_json_str(j, "gating", a->power.gating == AIMC_GATING_NONE ? "none" : "unused");
    aimc_json_num(j, "chips", r->powered.chips);
    aimc_json_num(j, "crossbars", r->powered.xbars);
    aimc_json_num(j, "cores", r->powered.cores);
    aimc_json_num(j, "clusters", r->powered.clusters);
    aimc_json_num(j, "routers", r->powered.routers);
    aimc_json_num(j, "static_mw", f->static_mw);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "achieved");
    aimc_json_num(j, "macs_per_token", (double)r->macs / (double)(r->tokens ? r->tokens : 1));
    aimc_json_num(j, "tops", f->tops);
    aimc_json_num(j, "tops_per_w", f->tops_per_w);
    aimc_json_obj_end(j);
    aimc_json_obj_begin(j, "peak");
    aimc_json_num(j, "tops", pk->tops);
    aimc_json_num(j, "tops_per_w", pk->tops_per_w);
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
        /* measured per layer for independent tokens only: a sequence model's error is the
         * last residual stream's (aimc_rt_run), and its per-layer array stays zero */
        if (!aimc_rt_sequence(m)) {
            aimc_json_arr_begin(j, "layer_rel_rms_error");
            for (int l = 0; l < r->layers; l++) aimc_json_num(j, NULL, r->layer_rel_rms_error[l]);
            aimc_json_arr_end(j);
        }
        aimc_json_num(j, "routing_agreement", r->routing_agreement);
        aimc_json_obj_end(j);
    }
    if (r->classified) {
        aimc_json_obj_begin(j, "accuracy");
        aimc_json_num(j, "float", r->accuracy_float);
        aimc_json_num(j, "hw", r->accuracy_hw);
        aimc_json_obj_end(j);
    }
    const cli_deploy *dp = &ex->deploy;
    aimc_json_obj_begin(j, "deploy");
    aimc_json_u64(j, "devices", dp->program.devices);
    aimc_json_u64(j, "pulses", dp->program.pulses);
    aimc_json_u64(j, "verify_conversions", dp->verify_conversions);
    aimc_json_u64(j, "verify_iterations", dp->program.iterations);
    aimc_json_u64(j, "devices_failed", dp->program.devices_failed);
    aimc_json_num(j, "rms_error_us", dp->program.rms_error_us);
    aimc_json_num(j, "time_ns", dp->time_ns);
    aimc_json_num(j, "energy_pj", sum_parts(dp->energy_pj));
    aimc_json_obj_begin(j, "energy_pj_by_part");
    for (int q = 0; q < AIMC_PART_COUNT; q++)
        aimc_json_num(j, aimc_part_name((aimc_part)q), dp->energy_pj[q]);
    aimc_json_obj_end(j);
    aimc_json_obj_end(j);
    if (ex->breakdown.available) {
        aimc_json_obj_begin(j, "breakdown");
        json_rows jr = {j, NULL};
        breakdown_rows(a, m, &ex->breakdown, json_row, &jr);
        if (jr.open) aimc_json_arr_end(j);
        aimc_json_obj_end(j);
    }
    aimc_json_arr_begin(j, "warnings");
    for (int i = 0; i < w->n; i++) aimc_json_str(j, NULL, w->text[i]);
    aimc_json_arr_end(j);
    if (gc) {
        aimc_json_obj_begin(j, "compare");
        aimc_json_str(j, "gpu", gc->gpu->name);
        aimc_json_num(j, "batch", gc->batch);
        aimc_json_num(j, "step_bytes", gc->step_bytes);
        aimc_json_num(j, "step_flops", gc->step_flops);
        aimc_json_str(j, "bound", gc->est.compute_bound ? "compute" : "memory");
        aimc_json_num(j, "time_ns_per_token", gc->est.token_ns);
        aimc_json_num(j, "tokens_per_s", gc->est.tokens_per_s);
        aimc_json_num(j, "energy_pj_per_token", gc->est.token_pj);
        /* the simulated machine over the GPU */
        aimc_json_num(j, "machine_over_gpu_tokens_per_s",
                      f->token_ns > 0 ? gc->est.token_ns / f->token_ns : 0.0);
        aimc_json_num(j, "machine_over_gpu_energy_per_token",
                      gc->est.token_pj > 0 ? f->tok_pj / gc->est.token_pj : 0.0);
        aimc_json_obj_end(j);
    }
    if (ex->breakdown.available) {
        double mp[CLI_MP_COUNT];
        cli_model_parts(m, &ex->breakdown, r->cost.energy_pj, mp);
        aimc_json_obj_begin(j, "model_parts_pj");
        for (int q = 0; q < CLI_MP_COUNT; q++)
            aimc_json_num(j, cli_model_part_name((cli_model_part)q), mp[q]);
        aimc_json_obj_end(j);
    }
    if (r->lm) {
        aimc_json_num(j, "perplexity_hw", r->perplexity_hw);
        aimc_json_num(j, "perplexity_float", r->perplexity_float);
    }
    cli_json_plan(j, p);
}

void cli_run_json(aimc_json *j, const cli_run_result *res, const aimc_model *m,
                  const cli_options *o, const cli_run_opts *ro, const aimc_routing *routing,
                  const aimc_gpu *gpu)
{
    run_shape shape;
    run_shape_of(m, ro, res->rep, &shape);
    warnings warn;
    find_warnings(&res->used, res->plan, res->rep, ro, &shape, &warn);
    gpu_cmp gc;
    if (gpu) gpu_compare(m, routing, shape.group, gpu, &gc);
    json_report(j, &res->used, m, res->plan, o, ro, &shape, res->rep, &res->fig, &res->peak,
                &res->ex, &warn, gpu ? &gc : NULL);
}

int cli_run_compute(const aimc_arch *a, const aimc_model *m, const cli_options *o,
                    const cli_run_opts *ro, const aimc_routing *routing, cli_run_result *res,
                    aimc_diag *d)
{
    memset(res, 0, sizeof *res);
    if (!(res->rep = malloc(sizeof *res->rep)))
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
    cli_eval_opts eo = {.backend = o->backend,
                        .seed = o->seed,
                        .ntok = (size_t)o->tokens,
                        .timing_only = ro->timing_only,
                        .activity_assumed = ro->activity_assumed,
                        .trace = ro->trace,
                        .batch = ro->batch ? (size_t)ro->batch : 1,
                        .window = (size_t)ro->window,
                        .routing = routing,
                        .keep_outputs = ro->keep_outputs ? ro->keep_outputs
                                        : ro->dump ? 1 + ro->dump_layers : 0,
                        .x0 = ro->x0,
                        .ids = ro->ids,
                        .n_ids = ro->n_ids,
                        .prompt = ro->prompt > 0 ? (size_t)ro->prompt : 0,
                        .generate = ro->generate};
    if (ro->x0) eo.ntok = ro->x0_tokens;
    int rc = cli_evaluate(a, m, &eo, &res->plan, &res->used, res->rep, &res->ex, d);
    if (rc != AIMC_OK) return rc;
    cli_run_figures(&res->used, res->rep, &res->fig);
    aimc_peak_compute(&res->used, &res->peak);
    return AIMC_OK;
}

void cli_run_result_free(cli_run_result *res)
{
    if (!res) return;
    cli_breakdown_free(&res->ex.breakdown);
    cli_outputs_free(&res->ex.outputs);
    free(res->rep);
    aimc_plan_free(res->plan);
    memset(res, 0, sizeof *res);
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
    const aimc_gpu *gpu = NULL;
    if (ro.compare) {
        if (strncmp(ro.compare, "gpu:", 4) != 0 || !(gpu = aimc_gpu_find(ro.compare + 4))) {
            fprintf(stderr, "%s run: --compare %s: expected gpu:NAME with NAME one of", cli_prog,
                    ro.compare);
            for (size_t i = 0; i < aimc_gpu_count(); i++)
                fprintf(stderr, "%s %s", i ? "," : "", aimc_gpu_at(i)->name);
            fprintf(stderr, "\n");
            return CLI_EXIT_USAGE;
        }
    }
    if ((ro.tokens_file || ro.dump) && ro.timing_only) {
        fprintf(stderr, "%s run: --%s needs values: a timing-only device takes and gives none\n",
                cli_prog, ro.tokens_file ? "tokens-file" : "dump-outputs");
        return CLI_EXIT_USAGE;
    }
    if (ro.tokens_file && o.tokens) {
        fprintf(stderr, "%s run: --tokens and --tokens-file: give one (the file says how many)\n",
                cli_prog);
        return CLI_EXIT_USAGE;
    }
    if (ro.dump_layers && !ro.dump) {
        fprintf(stderr, "%s run: --dump-layers needs --dump-outputs FILE\n", cli_prog);
        return CLI_EXIT_USAGE;
    }
    const char *const outs[4] = {ro.trace, ro.csv, ro.dump, o.json};
    static const char *const out_kind[4] = {"trace", "CSV", "outputs", "JSON"};
    /* Before any work: fail on a path that cannot be written, without truncating a file that
     * is there (a run refused later loses nothing) or leaving one that was not. */
    for (int i = 0; i < 4; i++) {
        if (!outs[i]) continue;
        /* lstat: a symbolic link is there whatever it points to, and is never removed; one
         * that points to nothing is refused (opening it would create its target, which a
         * refused run would then leave behind) */
        struct stat ls, ts;
        const int existed = lstat(outs[i], &ls) == 0;
        if (existed && S_ISLNK(ls.st_mode) && stat(outs[i], &ts) != 0) {
            const int why = errno;
            char to[PATH_MAX];
            const ssize_t k = readlink(outs[i], to, sizeof to - 1);
            to[k > 0 ? k : 0] = '\0';
            fprintf(stderr, "%s: %s: cannot create the %s file: it is a symbolic link to %s: "
                    "%s\n", cli_prog, outs[i], out_kind[i], k > 0 ? to : "?", strerror(why));
            return CLI_EXIT_WORK;
        }
        FILE *f = fopen(outs[i], "a");
        if (!f) {
            fprintf(stderr, "%s: %s: cannot create the %s file: %s\n", cli_prog, outs[i],
                    out_kind[i], strerror(errno));
            return CLI_EXIT_WORK;
        }
        fclose(f);
        if (!existed) remove(outs[i]);
    }
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_routing *routing = NULL;
    cli_run_result res;
    memset(&res, 0, sizeof res);
    aimc_diag d = {{0}};
    float *x0 = NULL;
    int *ids = NULL;
    size_t ntok = (size_t)o.tokens, n_ids = 0;
    int rc = CLI_EXIT_USAGE;
    if (cli_load_arch(&o, &a)) goto out;
    if (!ro.timing_only && preflight(&o, &a)) goto out;
    if (cli_load_model(&o, !ro.timing_only, &m) || refuse_for_model(&ro, m)) goto out;
    if (ro.routing && aimc_routing_from_spec(ro.routing, m, &routing, &d) != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        goto out;
    }
    if (ro.tokens_file && (m->vocab ? cli_ids_read(ro.tokens_file, m, &ids, &n_ids, &d)
                                    : cli_tokens_read(ro.tokens_file, m, &x0, &ntok, &d)) != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
        goto out;
    }
    rc = CLI_EXIT_WORK;
    cli_print_machine(&a);
    cli_print_model(m);
    ro.x0 = x0;
    ro.x0_tokens = ntok;
    ro.ids = ids;
    ro.n_ids = n_ids;
    int drc = cli_run_compute(&a, m, &o, &ro, routing, &res, &d);
    if (drc != AIMC_OK) {
        fprintf(stderr, "%s: %s\n", cli_prog, d.msg[0] ? d.msg : aimc_strerror(drc));
        goto out;
    }
    const aimc_arch *used = &res.used;
    const aimc_plan *p = res.plan;
    const aimc_rt_report *rep = res.rep;
    run_shape shape;
    run_shape_of(m, &ro, rep, &shape);
    char groups[320];
    groups_text(&shape, &ro, rep, groups, sizeof groups);
    cli_print_plan(p);
    const aimc_counters *c = &rep->cost;
    printf("run      %zu tokens through %s%s, seed %llu: %llu MVMs, %llu ADC conversions "
           "(%llu saturated)\n",
           rep->tokens, o.backend, ro.timing_only ? " (timing only)" : "",
           (unsigned long long)o.seed, (unsigned long long)c->mvms,
           (unsigned long long)c->adc_conversions, (unsigned long long)c->adc_saturations);
    warnings warn;
    find_warnings(used, p, rep, &ro, &shape, &warn);
    gpu_cmp gc;
    if (gpu) gpu_compare(m, routing, shape.group, gpu, &gc);
    print_report(used, rep, &res.fig, &res.peak, groups);
    print_deploy(&res.ex.deploy);
    if (gpu) print_compare(&gc, &res.fig);
    for (int i = 0; i < warn.n; i++) printf("warning  %s\n", warn.text[i]);
    if (m->attn.kind != AIMC_ATTN_NONE) { /* a KV cache in a buffer it does not fit */
        /* A layer's cache after the run's longest sequence: a language model's window (its
         * eval.context) or every token; its bytes the cost layer's, as the device counts
         * them (the cache written by appending that many positions from position 0). */
        const size_t positions = m->vocab ? cli_lm_window(m, rep->tokens) : rep->tokens;
        aimc_cost_attn_bytes io;
        aimc_cost_attn_io(positions, 0, (uint64_t)m->attn.heads, (uint64_t)m->attn.kv_heads,
                          (uint64_t)m->attn.dk, (uint64_t)m->attn.dv,
                          m->attn.kind == AIMC_ATTN_MLA, 1, &io);
        const double bytes = (double)io.kv_write;
        if (used->kv_cache.memory == AIMC_KV_BUFFER && bytes > used->buffer.kb * 1024.0)
            printf("warning  a layer's KV cache of %zu positions takes %.1f KiB, more than the "
                   "%d KiB buffer that holds it (kv_cache.memory buffer): the run counts its "
                   "accesses as if it fitted; kv_cache.memory offchip models the memory it needs\n",
                   positions, bytes / 1024.0, used->buffer.kb);
        if (used->kv_cache.memory == AIMC_KV_OFFCHIP &&
            bytes * m->layers > used->kv_cache.gbytes * 1e9 * used->hierarchy.chips)
            printf("warning  the KV caches take %.3f GB, more than the off-chip memory of %d "
                   "chip(s) (kv_cache.gbytes %.3g)\n", bytes * m->layers / 1e9,
                   used->hierarchy.chips, used->kv_cache.gbytes);
    }
    if (rep->values)
        printf("output   relative rms error %.4f against the float reference; routing agrees "
               "for %.1f %% of token-layers\n",
               rep->rel_rms_error, 100.0 * rep->routing_agreement);
    if (rep->lm)
        printf("language next-token accuracy %.2f %% on the machine, %.2f %% in float; perplexity "
               "%.4f on the machine, %.4f in float (%zu tokens scored)\n",
               100.0 * rep->accuracy_hw, 100.0 * rep->accuracy_float, rep->perplexity_hw,
               rep->perplexity_float, rep->scored);
    else if (shape.lm && rep->values) /* say so rather than leave the line out */
        printf("language 0 tokens scored, so no next-token accuracy or perplexity: a window's "
               "last token has no next token (%zu token(s) in %zu window(s))\n", rep->tokens,
               shape.windows);
    else if (rep->classified)
        printf("accuracy %.2f %% on the simulated machine, %.2f %% in float (%zu tokens of the test set)\n",
               100.0 * rep->accuracy_hw, 100.0 * rep->accuracy_float, rep->tokens);
    if (res.ex.breakdown.available && (m->attn.kind != AIMC_ATTN_NONE || m->vocab)) {
        double mp[CLI_MP_COUNT], tot = 0;
        cli_model_parts(m, &res.ex.breakdown, rep->cost.energy_pj, mp);
        for (int q = 0; q < CLI_MP_COUNT; q++) tot += mp[q];
        printf("parts    dynamic energy by part of the model (the run, nJ):");
        for (int q = 0; q < CLI_MP_COUNT; q++)
            printf("%s %s %.4f", q ? "," : "", cli_model_part_name((cli_model_part)q), mp[q] / 1e3);
        printf("; total %.4f; static %.4f; makespan %.3f ns\n", tot / 1e3,
               res.fig.static_total_pj / 1e3, res.fig.makespan_ns);
    }
    rc = 0;
    if (ro.csv) {
        if (!res.ex.breakdown.available) {
            fprintf(stderr, "%s: --csv: the %s backend keeps no per-matrix profile\n", cli_prog,
                    o.backend);
            rc = CLI_EXIT_WORK;
            goto out;
        }
        if ((rc = write_csv(ro.csv, used, m, &res.ex.breakdown))) goto out;
    }
    if (ro.dump) {
        const cli_outputs *op = &res.ex.outputs;
        if (cli_dump_write(ro.dump, m, used, o.seed, op->ntok, op->inputs, op->x, op->layers,
                           op->logits, op->experts, op->ids, &d) != AIMC_OK) {
            fprintf(stderr, "%s: %s\n", cli_prog, d.msg);
            rc = CLI_EXIT_WORK;
            goto out;
        }
        printf("outputs  %zu tokens: input, hidden%s%s%s and routing in %s\n", op->ntok,
               op->layers ? ", every layer's hidden state" : "", op->logits ? ", logits" : "",
               op->ids ? ", token ids" : "", ro.dump);
    }
    if (o.json) {
        aimc_json j;
        if ((rc = cli_json_start(&j, o.json))) goto out;
        cli_run_json(&j, &res, m, &o, &ro, routing, gpu);
        aimc_json_obj_end(&j);
        rc = cli_json_finish(&j, o.json);
    }
out:
    cli_run_result_free(&res);
    free(x0);
    free(ids);
    aimc_routing_free(routing);
    aimc_model_free(m);
    return rc;
}
