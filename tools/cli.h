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

/* The default model file: models/digits-moe.yaml beside the binary's tree or in the
 * installed share/aimc/models, else relative to the working directory. */
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
    int keep_outputs;            /* value runs: 1 keeps every token's inputs, outputs and
                                  * routing in cli_eval_out.outputs (a language model's: of
                                  * the ids its windows ran), 2 also every layer's hidden
                                  * state (models without attention, dense layers or a
                                  * vocabulary: the runtime keeps it for those only) */
    const float *x0;             /* the inputs (ntok x d_model, --tokens-file), or NULL */
    size_t prompt;               /* aimc_rt_opts.prompt and .generate */
    int generate;
    const int *ids;              /* a language model's token ids (--tokens-file), or NULL */
    size_t n_ids;
} cli_eval_opts;

/* Deploying the model: programming every matrix (the deploy block of `aimc run`). */
typedef struct cli_deploy {
    aimc_weights_report program;     /* devices, pulses, iterations, failures (summed) */
    uint64_t verify_conversions;     /* ADC conversions of the verify reads */
    double time_ns;                  /* the device clock over the programming */
    double energy_pj[AIMC_PART_COUNT];
} cli_deploy;

/* What each matrix and each kind of command did during the inference (aimc_profile_read's
 * deltas); available 0 on a backend that keeps no profile. */
typedef struct cli_breakdown {
    int available;
    size_t n_matrices;
    aimc_profile *matrix;            /* per matrix of the model */
    aimc_profile opcode[16];         /* per opcode */
} cli_breakdown;
void cli_breakdown_free(cli_breakdown *b);

/* Every token's outputs of a value run (cli_eval_opts.keep_outputs; --dump-outputs and the
 * Python package): inputs what entered layer 0 (ntok x d_model; a language model's: the
 * embedding rows of its ids), x the residual stream after the last layer (ntok x d_model),
 * layers the stream after every layer (keep_outputs 2: layers x ntok x d_model, else NULL),
 * logits a classifier's or a language model's head (ntok x n_classes, the vocabulary for a
 * language model; else NULL), experts the device's routing decisions (MoE layers x ntok x
 * top_k), labels a classifier's test labels (ntok, else NULL), ids a language model's token
 * ids as run (ntok, else NULL); malloc'ed, the caller frees them with cli_outputs_free. */
typedef struct cli_outputs {
    size_t ntok;
    float *inputs, *x, *layers, *logits;
    int *experts, *labels, *ids;
} cli_outputs;
void cli_outputs_free(cli_outputs *o);

/* What an evaluation gives besides the runtime's report (any may be NULL). */
typedef struct cli_eval_out {
    cli_deploy deploy;
    cli_breakdown breakdown;
    cli_outputs outputs;             /* with cli_eval_opts.keep_outputs */
} cli_eval_out;
/* The dynamic energy of a run by part of the model (docs/mapping.md, "The whole transformer"):
 * each command's compute (arrays, converters, cores' and units' logic) to the part it
 * serves: attention (its projections' MVMs and ATTN), FFN (routers, experts, dense FFNs, their
 * digital steps and the residual adds), norms, the head; and every command's data movement
 * (buffers, buses, networks, chip links, the host link), with the descriptor fetches and
 * status words no command owns (the run's total less what the profile holds). */
typedef enum {
    CLI_MP_ATTENTION = 0, CLI_MP_FFN, CLI_MP_NORMS, CLI_MP_HEAD, CLI_MP_MOVEMENT, CLI_MP_COUNT
} cli_model_part;
const char *cli_model_part_name(cli_model_part p);
void cli_model_parts(const aimc_model *m, const cli_breakdown *b,
                     const double total_pj[AIMC_PART_COUNT], double pj[CLI_MP_COUNT]);


/* One evaluation of a model on a machine, as `aimc run` does it: map (with the machine's
 * fault map and `chips: auto`; shape-only when timing-only), open the backend, program every
 * matrix (program.* keys), run the tokens through every layer (against the reference, with
 * values). The inputs are a classifier's test samples when the model names a data set (its
 * first ntok, all when ntok is 0, round again when ntok is more), else ntok random tokens of
 * seed. *plan receives the plan
 * (the caller frees it; may be NULL on failure), *arch_used the machine as run (chips: auto
 * resolved; may be NULL), *rep the report (with rep->powered from the plan and
 * power.gating), *out (may be NULL) the deploy figures and the breakdown (free with
 * cli_breakdown_free). Returns AIMC_OK or the failing layer's code with its message in d.
 * Prints nothing. */
/* Tokens in (`aimc run --tokens-file`): a text file of one token per line, its d_model input
 * values (the residual stream entering layer 0) as numbers separated by blanks or commas;
 * blank lines and lines starting with # are skipped; 1..65536 tokens. *x0 (the caller frees
 * it) and *ntok receive them. AIMC_ERR_IO for an unreadable file, AIMC_ERR_CONFIG with
 * "FILE:LINE: ..." for a bad line (a NUL byte in it too: it is text). */
int cli_tokens_read(const char *path, const aimc_model *m, float **x0, size_t *ntok,
                    aimc_diag *d);

/* A language model's tokens in: "text:FILE" is the bytes of FILE, for a vocabulary of the 256
 * bytes only (model.vocab 256; any other is refused: its ids are not bytes); else FILE holds
 * decimal ids below model.vocab separated by blanks, commas or new lines (a bad id or a NUL
 * byte is an error "FILE:LINE:COL: ..." naming the text or the value). At most 65536: a longer
 * text or more ids is an error naming the file and the limit (nothing is cut), found without
 * reading more than one byte or id past it (a stream that never ends is refused too). FILE is
 * one file: a directory is refused. The caller frees *ids. */
int cli_ids_read(const char *path, const aimc_model *m, int **ids, size_t *n, aimc_diag *d);

/* Outputs out (`aimc run --dump-outputs`): a safetensors file of F32 "input" and "hidden"
 * (ntok x d_model: what entered layer 0 and the residual stream after the last layer),
 * "layers.L.hidden" after each layer L when layers_out is given, "logits" (ntok x classes)
 * when logits is given, I32 "experts" (MoE layers x ntok x top_k: the routing decisions) and
 * I32 "ids" (ntok: a language model's token ids) when ids is given, with the model, machine
 * and seed as metadata (docs/cli.md). */
int cli_dump_write(const char *path, const aimc_model *m, const aimc_arch *a, uint64_t seed,
                   size_t ntok, const float *inputs, const float *hidden,
                   const float *layers_out, const float *logits, const int *experts,
                   const int *ids, aimc_diag *d);

int cli_evaluate(const aimc_arch *a, const aimc_model *m, const cli_eval_opts *o,
                 aimc_plan **plan, aimc_arch *arch_used, aimc_rt_report *rep,
                 cli_eval_out *out, aimc_diag *d);

/* The figures of a run that `aimc run` reports and a sweep records (docs/cli.md, "Which
 * figure to quote"). Time: the makespan, the first group's latency, and per token at steady
 * state: between the runtime's quarter and three-quarter completions (aimc_rt_report; with
 * fewer than 4 groups, after the first group; with one, makespan / tokens), with the standard
 * error of that mean (0 when not known). Energy: the run's dynamic (the device's counters) and static (the
 * leakage of what is powered, rep->powered, over the makespan), and per token dynamic / tokens
 * + static power x the steady-state time per token, so a token's figure does not depend on
 * how many ran. Achieved: 2 x MACs per token over its time and its energy. */
typedef struct cli_figures {
    double makespan_ns, first_ns, token_ns, tokens_per_s;
    double token_ns_sem;                                /* standard error of token_ns */
    double dyn_pj[AIMC_PART_COUNT], static_pj[AIMC_PART_COUNT]; /* the run */
    double dyn_total_pj, static_total_pj;
    double static_mw;                                   /* what is powered */
    double tok_dyn_pj[AIMC_PART_COUNT], tok_static_pj[AIMC_PART_COUNT];
    double tok_dyn_total_pj, tok_static_total_pj, tok_pj;
    double tops, tops_per_w;                            /* achieved, at steady state */
} cli_figures;
void cli_run_figures(const aimc_arch *a, const aimc_rt_report *r, cli_figures *f);

/* ---- the reports of run, map and info, shared with the Python package ---- */

/* `aimc run`'s options beyond cli_options. */
typedef struct cli_run_opts {
    int timing_only;
    int activity_assumed;
    int dump_layers, generate;
    const char *trace, *wave, *routing, *csv, *compare, *tokens_file, *dump;
    long batch, window, prompt;  /* 0: the defaults */
    /* not options: */
    int keep_outputs;            /* keep every token's outputs (cli_outputs; 2: every layer's);
                                  * --dump-outputs sets it too */
    const float *x0;             /* the tokens file's inputs (x0_tokens x d_model), or NULL */
    size_t x0_tokens;
    const int *ids;              /* a language model's ids from the tokens file, or NULL */
    size_t n_ids;
} cli_run_opts;

/* What `aimc run` computes once the machine and model are loaded; its text and its JSON
 * report are printed from this. */
typedef struct cli_run_result {
    aimc_plan *plan;
    aimc_arch used;              /* the machine as run (chips: auto resolved) */
    aimc_rt_report *rep;
    cli_eval_out ex;
    cli_figures fig;
    aimc_peak peak;
} cli_run_result;

/* Evaluate as `aimc run` does (cli_evaluate with o's backend, seed and tokens and ro's
 * options; routing for timing-only, may be NULL), then the figures and the peak. Prints
 * nothing; AIMC_OK or the failing layer's code with its message in d. Free *res with
 * cli_run_result_free (also after a failure). */
int cli_run_compute(const aimc_arch *a, const aimc_model *m, const cli_options *o,
                    const cli_run_opts *ro, const aimc_routing *routing, cli_run_result *res,
                    aimc_diag *d);
void cli_run_result_free(cli_run_result *res);
/* The members of `aimc run --json`'s top object (docs/cli.md); gpu (may be NULL) adds the
 * comparison of --compare. */
void cli_run_json(aimc_json *j, const cli_run_result *res, const aimc_model *m,
                  const cli_options *o, const cli_run_opts *ro, const aimc_routing *routing,
                  const aimc_gpu *gpu);

/* The members of `aimc info --json`'s top object. */
void cli_info_json(aimc_json *j, const aimc_arch *a);

/* The members of `aimc map --json`'s top object: the plan and its summary (s from
 * aimc_map_summarise with the routing rt). */
void cli_map_json(aimc_json *j, const aimc_arch *a, const aimc_model *m, const aimc_plan *p,
                  const aimc_routing *rt, const aimc_map_summary *s);

/* The subcommands. */
int cli_cmd_run(int argc, char **argv);
int cli_cmd_map(int argc, char **argv);
int cli_cmd_info(int argc, char **argv);
int cli_cmd_train(int argc, char **argv);
void cli_usage_run(FILE *f);
void cli_usage_map(FILE *f);
void cli_usage_info(FILE *f);
void cli_usage_train(FILE *f);

/* The sequence options against the model: prompt and generate describe a sequence, which a
 * model without attention has not (its tokens are independent). AIMC_OK, or AIMC_ERR_INVALID
 * with the reason in d, naming the options as the caller spells them (the command's
 * "--prompt", "--generate", "--batch N"; Python's "prompt", "generate", "batch=N"), so the
 * command and the package refuse with one rule and one message. */
int cli_sequence_opts_check(const aimc_model *m, int prompt, int generate,
                            const char *const names[3], aimc_diag *d);

/* The tokens of a language model's window when n ids run (evaluate.c's windows): its
 * eval.context, or all n when the model sets none or n is fewer. */
size_t cli_lm_window(const aimc_model *m, size_t n);

#endif /* AIMC_CLI_H */
