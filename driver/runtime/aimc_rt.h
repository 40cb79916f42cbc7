/* aimc_rt.h - the runtime: an MoE model's forward pass run through the driver.
 *
 * The runtime sits on top of the public driver API (aimc.h) and nothing else of the device:
 * every step of a layer is a device command (RMSNORM, MVM, TOPK, GATHER, SILU_MUL,
 * SCALE_ACC: docs/driver.md), on buffer objects that stay in device memory between
 * commands. The host copies the tokens in, reads the routing decisions (indices and
 * weights) to make each expert's token list, and copies the block's output out. The
 * arithmetic is the reference's except that the routing weights are float32 on the device
 * (double in aimc_rt_layer_ref), and the digital work is counted in the device's counters
 * (digital.energy_pj_per_op per operation).
 *
 * One MoE block, for a token x (d_model):
 *     n      = x / rms(x)                       (RMS norm, no learned weight)
 *     logits = n W_router                        (analog)
 *     E      = top_k(logits); p = softmax(logits[E])
 *     y      = sum_{e in E} p_e FFN_e(n) + sum_shared FFN_s(n)
 *     FFN(n) = (silu(n W_gate) * (n W_up)) W_down (gate, up and down analog)
 * and the residual stream goes on as x + y. aimc_rt_layer_ref() computes the same block in
 * double precision on the host with the float weights: the exact reference.
 */
#ifndef AIMC_RT_H
#define AIMC_RT_H

#include <stddef.h>

#include "aimc.h"
#include "aimc_map.h"

/* Program every matrix of model onto dev, matrix id = index in model->m, tiles from plan,
 * with program-and-verify options opts (NULL: write once). total (may be NULL) sums the
 * device's reports (iterations: the most of any matrix; rms over all devices). Devices that
 * verify leaves outside the tolerance are counted, not an error. The model must hold
 * weights. Stops at the first failure (the driver's code). */
int aimc_rt_program(aimc_dev *dev, const aimc_model *model, const aimc_plan *plan,
                    const aimc_weights_opts *opts, aimc_weights_report *total, aimc_diag *d);

/* Run MoE block `layer` on ntok tokens: x is ntok x d_model (the residual stream before the
 * block), y receives the block's output (before the residual add), experts receives the
 * chosen experts, ntok x top_k (may be NULL). AIMC_ERR_NOMEM or a driver error. */
int aimc_rt_layer(aimc_dev *dev, const aimc_model *model, int layer, const float *x,
                  size_t ntok, float *y, int *experts, aimc_diag *d);

/* The same block exactly, in double precision on the host, from the model's float
 * weights. Returns AIMC_OK or AIMC_ERR_NOMEM. */
int aimc_rt_layer_ref(const aimc_model *model, int layer, const float *x, size_t ntok,
                      double *y, int *experts);

/* Fill x (ntok x d_model) with the standard test workload: independent N(0,1) entries drawn
 * from seed (deterministic, the same on every machine). */
void aimc_rt_tokens(uint64_t seed, size_t ntok, size_t d_model, float *x);

/* What a run of tokens through every layer gave. */
#define AIMC_RT_MAX_LAYERS 1024
typedef struct aimc_rt_report {
    size_t tokens;
    int layers;
    aimc_counters cost;        /* device counters of the inference only (not programming) */
    double rel_rms_error;      /* sqrt(sum (y - y_ref)^2 / sum y_ref^2), every layer's block
                                * output against the exact reference on the same input */
    double layer_rel_rms_error[AIMC_RT_MAX_LAYERS];
    double routing_agreement;  /* fraction of (token, layer) whose top-k set equals the
                                * reference's */
    aimc_weights_report program; /* programming, when the caller programmed (else zero) */
    int classified;            /* 1 when the accuracies below were measured */
    double accuracy_hw;        /* fraction of tokens whose device argmax is the label */
    double accuracy_float;     /* the same for the float model, run end to end on the host */
} aimc_rt_report;

/* Run ntok tokens (x0: ntok x d_model, the residual stream entering layer 0) through every
 * layer of a programmed model on dev, comparing each block with aimc_rt_layer_ref() on the
 * same input, and fill *r. A classifier (model->n_classes > 0) then runs its head on the
 * device; with labels (ntok of them; may be NULL) the report also gives the accuracy of the
 * device's argmax and of the float model run end to end on the host. Models with dense layers
 * are mapped but not run (AIMC_ERR_UNSUPPORTED). */
int aimc_rt_run(aimc_dev *dev, const aimc_model *model, const float *x0, size_t ntok,
                const int *labels, aimc_rt_report *r, aimc_diag *d);

#endif /* AIMC_RT_H */
