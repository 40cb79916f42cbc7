/* cli.h - what the aimc command's subcommands share: options, loading, printing.
 *
 * Each subcommand is one file tools/cmd_NAME.c defining cli_cmd_NAME(argc, argv) and
 * cli_usage_NAME(FILE *), listed in the command table of tools/aimc.c. Only tools/ prints.
 */
#ifndef AIMC_CLI_H
#define AIMC_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "aimc_arch.h"
#include "aimc_map.h"
#include "aimc_rt.h"
#include "json.h"

#define AIMC_VERSION "0.1.0"
#define CLI_MAX_SETS 256

/* Exit codes: 0 success, 1 the work failed, 2 bad usage or bad input. */
enum { CLI_EXIT_WORK = 1, CLI_EXIT_USAGE = 2 };

extern const char *const cli_prog; /* "aimc", the prefix of messages */

/* The options the simple subcommands share. */
typedef struct cli_options {
    const char *config;        /* NULL: built-in defaults */
    const char *model;         /* NULL: built-in default model */
    const char *sets[CLI_MAX_SETS];
    size_t n_sets;
    const char *json;
    const char *backend;
    uint64_t seed;
    long tokens;
} cli_options;

/* Parse an integer option value in [lo, hi]; prints and returns -1 when it is not one. */
int cli_parse_count(const char *opt, const char *s, long lo, long hi, long *out);

struct option;
/* 1 when an option's value is missing: NULL, empty, or the next option ("--model ..."). */
int cli_missing_value(const char *value);
/* Print "aimc CMD: option --NAME needs a value" (", got the option GOT" when got is not
 * empty); returns -1. */
int cli_needs_value(const char *cmd, const char *name, const char *got);
/* The name of the long option of longopts whose val is key ("?" if none). */
const char *cli_long_name(const struct option *longopts, int key);

/* Parse argv (argv[0] is the subcommand) into *o. `allowed` holds the short codes the
 * subcommand takes: c config, m model, s set, j json, b backend, S seed, t tokens.
 * Returns 0 to go on, 1 when --help was printed (exit 0), -1 on a usage error (printed). */
int cli_parse_options(int argc, char **argv, const char *allowed, void (*help)(FILE *),
                      cli_options *o);

/* The default model file: models/digits-moe.yaml beside the binary's tree, else relative to
 * the working directory. */
const char *cli_default_model(char *buf, size_t cap);

/* Load the machine (defaults, --config, --set) or the model; print the diagnostic and
 * return -1 on failure. */
int cli_load_arch(const cli_options *o, aimc_arch *a);
int cli_load_model(const cli_options *o, int with_weights, aimc_model **m);
/* The machine's fault map as the mapper reads it: the fraction of stuck devices of every
 * crossbar array, drawn from seed as the device draws its faults (so `aimc map --seed N`
 * plans what `aimc run --seed N` runs). NULL with *n = 0 when there are no faults or
 * mapping.fault_threshold skips none; the caller frees it. */
float *cli_fault_map(const aimc_arch *a, uint64_t seed, size_t *n);

/* Map; print the diagnostic and return -1 on failure. */
int cli_map_model(const aimc_arch *a, const aimc_model *m, aimc_plan **plan);

const char *cli_sign_name(aimc_sign_encoding s);
void cli_print_machine(const aimc_arch *a);
void cli_print_model(const aimc_model *m);
void cli_print_plan(const aimc_plan *p);

/* JSON reports: open FILE and the top object with "aimc_version"; close and report a write
 * failure. Both print their error and return CLI_EXIT_WORK on failure, else 0. */
int cli_json_start(aimc_json *j, const char *path);
int cli_json_finish(aimc_json *j, const char *path);
void cli_json_plan(aimc_json *j, const aimc_plan *p);

#define CLI_DEFAULT_TOKENS 16

/* How `aimc run` (and a sweep point) evaluates a model. */
typedef struct cli_eval_opts {
    const char *backend;         /* driver URI */
    uint64_t seed;
    size_t ntok;                 /* 0: a classifier's test set, else CLI_DEFAULT_TOKENS */
    int timing_only;             /* a device without values (sim: only) on a shape-only plan */
    int activity_assumed;        /* with values too, the assumed data activity for energy */
    const char *trace;           /* the device's Chrome trace (sim: only), or NULL */
    size_t batch, window;        /* tokens per group, groups in flight (aimc_rt_opts) */
    const aimc_routing *routing; /* timing-only: statistics the routing is drawn from */
    const int *replay;           /* timing-only: a value run's routing decisions */
    int *experts_out;            /* value runs: the decisions (MoE layers x tokens x top_k) */
} cli_eval_opts;

/* One evaluation of a model on a machine, as `aimc run` does it: map (with the machine's
 * fault map and `chips: auto`; shape-only when timing-only), open the backend, program every
 * matrix (program.* keys), run the tokens through every layer (against the reference, with
 * values). The inputs are a classifier's test samples when the model names a data set (its
 * first ntok, all when ntok is 0), else ntok random tokens of seed. *plan receives the plan
 * (the caller frees it; may be NULL on failure), *arch_used the machine as run (chips: auto
 * resolved; may be NULL), *rep the report. Returns AIMC_OK or the failing layer's code with
 * its message in d. Prints nothing. */
int cli_evaluate(const aimc_arch *a, const aimc_model *m, const cli_eval_opts *o,
                 aimc_plan **plan, aimc_arch *arch_used, aimc_rt_report *rep, aimc_diag *d);

/* The energy of a run by part: dynamic (the device's counters) and static (every chip's
 * leakage over the makespan), pJ; their sums over the parts into *dyn_total and *stat_total
 * (either may be NULL). */
void cli_run_energy(const aimc_arch *a, const aimc_rt_report *r, double dyn[AIMC_PART_COUNT],
                    double stat[AIMC_PART_COUNT], double *dyn_total, double *stat_total);

/* The subcommands. */
int cli_cmd_run(int argc, char **argv);
int cli_cmd_map(int argc, char **argv);
int cli_cmd_info(int argc, char **argv);
int cli_cmd_train(int argc, char **argv);
void cli_usage_run(FILE *f);
void cli_usage_map(FILE *f);
void cli_usage_info(FILE *f);
void cli_usage_train(FILE *f);

#endif /* AIMC_CLI_H */
