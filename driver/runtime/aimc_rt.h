/* aimc_rt.h - the runtime: an MoE model's forward pass run through the driver.
 *
 * The runtime sits on top of the public driver API (aimc.h) and nothing else of the device.
 * It executes the steps of mapping/aimc_workload.h: every step is a device command (RMSNORM,
 * MVM, TOPK, GATHER, SILU_MUL, SCALE_ACC: docs/driver.md) on buffer objects that stay on the
 * device between commands; the host copies the tokens in, reads the routing decisions
 * (indices and weights) to make each expert's token list, and reads what it measures.
 *
 * Tokens go through the layers in groups (opts.batch tokens each). Groups stream: a group's
 * next layer is issued as soon as its routing is known, and a new group enters once the
 * previous one has been routed in layer opts.stagger (0-based; default AIMC_RT_STAGGER = 2:
 * its first two layers are done), at most opts.window groups in flight. So the device
 * overlaps the groups' work on different layers, which use different crossbars and chips,
 * and the groups behind the first delay it only where they share the host link.
 *
 * On a timing-only device (aimc_dev_info.timing_only) no values exist: the routing decisions
 * come from a value run's record (opts.replay) or are drawn from routing statistics
 * (opts.routing; uniform when NULL) with opts.seed, and the report has no errors or
 * accuracies. Time and energy are the device's, the same model either way.
 */
#ifndef AIMC_RT_H
#define AIMC_RT_H

#include <stddef.h>

#include "aimc.h"
#include "aimc_map.h"
#include "aimc_api.h"

AIMC_API_BEGIN

/* Program every matrix of model onto dev, matrix id = index in model->m, tiles from plan
 * (shape-only plans too: the tiles are made from its runs on arch, which may be NULL for a
 * plan with tiles), with program-and-verify options
 * opts (NULL: write once). total (may be NULL) sums the device's reports (iterations: the
 * most of any matrix; rms over all devices). Devices that verify leaves outside the
 * tolerance are counted, not an error. The model must hold weights unless the device is
 * timing-only. Stops at the first failure (the driver's code). */
int aimc_rt_program(aimc_dev *dev, const aimc_arch *arch, const aimc_model *model,
                    const aimc_plan *plan, const aimc_weights_opts *opts,
                    aimc_weights_report *total, aimc_diag *d);

/* How tokens go through the machine. Zero-initialised: every token in one group. */
typedef struct aimc_rt_opts {
    size_t batch;                /* tokens per group (0: all tokens in one group) */
    size_t window;               /* groups in flight at most (0: AIMC_RT_WINDOW) */
    size_t stagger;              /* layers between consecutive groups (0: AIMC_RT_STAGGER) */
    const int *replay;           /* timing-only: the routing decisions to use, layers x tokens
                                  * x top_k expert indices (a value run's experts_out) */
    const aimc_routing *routing; /* timing-only without replay: statistics to draw from
                                  * (NULL: uniform) */
    uint64_t seed;               /* timing-only: the draws */
    int *experts_out;            /* value runs: receives the decisions (layers x tokens x
                                  * top_k); may be NULL */
    float *x_out;                /* value runs: receives the residual stream after the last
                                  * layer as the device left it (tokens x d_model); may be NULL */
    float *layers_out;           /* value runs: the residual stream after every layer (layers x
                                  * tokens x d_model); may be NULL */
    float *logits_out;           /* value runs of a classifier: its head's outputs (tokens x
                                  * classes); may be NULL */
    size_t prompt;               /* models with attention: the first group, this many tokens
                                  * at once (a prefill); 0: every group of batch tokens */
    int generate;                /* 1: a group enters when the one before has finished (its
                                  * output decides the next token: decoding) */
} aimc_rt_opts;

#define AIMC_RT_WINDOW 64
#define AIMC_RT_STAGGER 2
#define AIMC_RT_MAX_EXPERTS 1024 /* routed experts per layer the runtime runs */

/* What a run of tokens through every layer gave. */
#define AIMC_RT_MAX_LAYERS 1024
typedef struct aimc_rt_report {
    size_t tokens;
    int layers;
    size_t groups;             /* groups the tokens went in */
    size_t first_tokens;       /* tokens of the first group */
    uint64_t macs;             /* weight multiply-accumulates of the MVMs (rows x cols x vectors) */
    aimc_cost_powered powered; /* what of the machine leaks (aimc_map_powered; set by the caller
                                * that knows the plan, zero otherwise) */
    aimc_counters cost;        /* device counters of the inference only (not programming) */
    uint64_t makespan_cycles;  /* device clock from the first command to the last completion */
    uint64_t first_cycles;     /* ... to the completion of the first group, as the host saw it
                                * (the device's clock when the wait for it returned: on a device
                                * that runs only while the host waits, that is the completion
                                * unless the host was waiting for ring space meanwhile) */
    /* Steady state, with 4 groups or more (else 0): from the (groups/4)-th completion to the
     * (3 groups/4)-th, read likewise, so the pipeline's fill and drain are left out: the
     * cycles, the tokens completed in them, and over those completions the number and the
     * standard deviation of the per-token interval between one completion and the next
     * (routing makes consecutive tokens overlap more or less: the spread of a token's time). */
    uint64_t steady_cycles;
    size_t steady_tokens, steady_intervals;
    double steady_sd_cycles;
    int values;                /* 0: a timing-only run (no errors, no accuracies) */
    double rel_rms_error;      /* sqrt(sum (y - y_ref)^2 / sum y_ref^2), every layer's block
                                * output against the exact reference on the same input */
    double layer_rel_rms_error[AIMC_RT_MAX_LAYERS];
    double routing_agreement;  /* fraction of (token, layer) whose top-k set equals the
                                * reference's */
    aimc_weights_report program; /* programming, when the caller programmed (else zero) */
    int classified;            /* 1 when the accuracies below were measured */
    size_t scored;             /* tokens with a label (sequence runs: a label < 0 is none) */
    int lm;                    /* 1: a language model's figures below (labels: next tokens) */
    double perplexity_hw;      /* exp(mean -log p(label)) from the device's logits */
    double perplexity_float;   /* the same from the float model */
    double accuracy_hw;        /* fraction of tokens whose device argmax is the label */
    double accuracy_float;     /* the same for the float model, run end to end on the host */
} aimc_rt_report;

/* Run ntok tokens (x0: ntok x d_model, the residual stream entering layer 0; NULL on a
 * timing-only device) through every layer of a programmed model on dev, and fill *r. A model
 * of MoE layers alone takes independent tokens, and with values each block's output is
 * compared with aimc_rt_layer_ref() on the same input. A model with attention, dense layers
 * or a vocabulary takes one sequence (positions 0 .. ntok-1; each layer's attention appends
 * to its KV cache), and with values the device's last residual stream, routing and head
 * outputs are compared with aimc_rt_forward_ref() on the same tokens. A model with a head
 * (model->n_classes > 0) runs it on the device: with labels (may be NULL; in a sequence run a
 * label < 0 is not scored) the report gives the accuracy of the device's argmax and of the
 * float model, and for a language model the perplexity of both. opts may be NULL. */
int aimc_rt_run(aimc_dev *dev, const aimc_model *model, const float *x0, size_t ntok,
                const int *labels, const aimc_rt_opts *opts, aimc_rt_report *r, aimc_diag *d);

/* Whether aimc_rt_run takes model's tokens as one sequence (it has attention, dense layers or
 * a vocabulary) rather than as independent tokens, each block checked on its own (and every
 * layer's output, layers_out, kept for independent tokens only). */
int aimc_rt_sequence(const aimc_model *model);

/* The largest group of tokens (a batch or a prompt) of model whose every command fits a
 * device that takes max_batch vectors and max_elems floats per operand (aimc_dev_info; the
 * digital steps of its workload, each over its dimension, and attention's queries, outputs
 * and new cache rows; and, the runtime's own bound, a head's outputs of at most 16 x
 * max_elems floats), in a sequence of ctx positions; 0 when no group fits (the KV cache of
 * ctx positions is above the ATTN command's limit). aimc_rt_run refuses a larger group
 * before any command. */
size_t aimc_rt_group_max(const aimc_model *model, size_t ctx, uint32_t max_batch,
                         uint32_t max_elems);

/* Block `layer` on ntok tokens in exact double precision on the host from the model's float
 * weights: the same steps (aimc_workload.h), y the block's output (what the layer adds to x),
 * experts the chosen experts (ntok x top_k, may be NULL). AIMC_OK or AIMC_ERR_NOMEM. */
int aimc_rt_layer_ref(const aimc_model *model, int layer, const float *x, size_t ntok,
                      double *y, int *experts);

/* The whole model in double on ntok tokens of one sequence at positions 0 .. ntok-1 from x0
 * (ntok x d_model): per layer its attention (causal, with RoPE), its dense FFN or MoE block
 * (aimc_rt_layer_ref), the residual kept in float as the device keeps it; x_out receives the
 * residual stream after the last layer (may be NULL), experts the routing (MoE layers x ntok
 * x top_k, may be NULL), logits the head's outputs (ntok x classes, after a language model's
 * final norm; may be NULL). AIMC_OK or AIMC_ERR_NOMEM. */
int aimc_rt_forward_ref(const aimc_model *model, const float *x0, size_t ntok, float *x_out,
                        int *experts, double *logits);

/* Fill x (ntok x d_model) with the standard test workload: independent N(0,1) entries drawn
 * from seed (deterministic, the same on every machine). */
void aimc_rt_tokens(uint64_t seed, size_t ntok, size_t d_model, float *x);

AIMC_API_END

#endif /* AIMC_RT_H */
