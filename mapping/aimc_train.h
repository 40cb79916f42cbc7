/* aimc_train.h - data sets and the training of small MoE classifiers, plain or hardware-aware.
 *
 * The classifier is one aimc MoE block (driver/runtime/aimc_rt.h gives its formula: RMS norm, router,
 * top-k softmax gating, SwiGLU experts) on the input, a residual, and a linear head:
 *     h = x + MoE(x),  logits = h W_head,  class = argmax(logits).
 * Training is mini-batch Adam on the cross-entropy, in float, deterministic for a seed.
 *
 * Hardware-aware training (as aihwkit's noise injection): every forward pass during training
 * sees the analog machine's errors as noise, drawn afresh for each batch and each matrix:
 * weight noise with the standard deviation that programming noise and conductance
 * quantisation give a weight of that machine, and output noise with the standard deviation
 * that the ADC's quantisation and the read noise give one output (aimc_hw_noise()); the
 * backward pass treats the noise as constant (straight-through), so the weights learn to
 * keep their margins under it. docs/codesign.md derives the formulas.
 */
#ifndef AIMC_TRAIN_H
#define AIMC_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "aimc_arch.h"
#include "aimc_status.h"
#include "aimc_api.h"

AIMC_API_BEGIN

typedef struct aimc_dataset {
    size_t n;        /* samples */
    int dim;         /* features per sample */
    int n_classes;   /* labels are 0..n_classes-1 */
    float *x;        /* n x dim */
    int *label;      /* n */
} aimc_dataset;

/* Read a CSV of n rows of `dim` numbers and a final integer label; features are divided by
 * `scale` (digits: 16, so pixels lie in 0..1). Errors name file:line:col. */
int aimc_dataset_load_csv(const char *path, int dim, double scale, aimc_dataset **out,
                          aimc_diag *d);
/* Split: sample i goes to *test when i % test_every == 0, else to *train. */
int aimc_dataset_split(const aimc_dataset *all, int test_every, aimc_dataset **train,
                       aimc_dataset **test);
void aimc_dataset_free(aimc_dataset *ds); /* NULL is a no-op */

#define AIMC_TRAIN_MAX_CLASSES 1024
#define AIMC_TRAIN_MAX_TOP_K 64

typedef struct aimc_classifier {
    int d_in, n_experts, top_k, d_ff, n_classes;
    /* Row-major, rows = inputs: router d_in x E; gate[e], up[e] d_in x d_ff; down[e]
     * d_ff x d_in; head d_in x n_classes. One allocation owned by the struct. */
    float *router, **gate, **up, **down, *head;
    float *storage;
    size_t n_params;
} aimc_classifier;

int aimc_classifier_create(int d_in, int n_experts, int top_k, int d_ff, int n_classes,
                           uint64_t seed, aimc_classifier **out);
void aimc_classifier_free(aimc_classifier *c);

/* Per-matrix noise, relative to the matrix's largest |w| (weights) and to largest |w| x
 * largest |x| (outputs), for a matrix of `rows` inputs on machine a. */
typedef struct aimc_hw_noise {
    double weight_rel;  /* std of a weight's error / max|w| */
    double output_rel;  /* std of an output's error / (max|w| max|x|), per unit of rows */
} aimc_hw_noise;
void aimc_hw_noise_of(const aimc_arch *a, uint32_t rows, aimc_hw_noise *n);

typedef struct aimc_train_opts {
    int epochs;
    int batch;
    double lr;                /* Adam step size */
    uint64_t seed;            /* shuffling and noise */
    const aimc_arch *hw;      /* NULL: plain training; else hardware-aware for this machine */
} aimc_train_opts;

/* Train c on ds. Returns AIMC_OK or AIMC_ERR_NOMEM / AIMC_ERR_INVALID. */
int aimc_classifier_train(aimc_classifier *c, const aimc_dataset *ds, const aimc_train_opts *o,
                          aimc_diag *d);

/* Fraction of ds classified correctly in float (no noise). */
double aimc_classifier_accuracy(const aimc_classifier *c, const aimc_dataset *ds);

/* Forward one sample in float: logits (n_classes). Exposed for the gradient test. */
void aimc_classifier_forward(const aimc_classifier *c, const float *x, float *logits);

/* Loss (mean cross-entropy) of ds[first .. first+n) and its gradient, in c's layout, into
 * grad (n_params floats). Exposed for the finite-difference test. */
double aimc_classifier_loss_grad(const aimc_classifier *c, const aimc_dataset *ds,
                                 size_t first, size_t n, float *grad);

/* Write c as a safetensors file with tensors (f32, shape [rows, cols], rows = inputs):
 * layers.0.router, layers.0.experts.E.gate, .up, .down, head. */
int aimc_classifier_save(const aimc_classifier *c, const char *path, aimc_diag *d);

/* ---- a small MoE transformer language model (train_lm.c, docs/codesign.md) ----------------- */

#define AIMC_LM_THETA 10000.0 /* RoPE base */

typedef struct aimc_lm_shape {
    int vocab;      /* 256 for bytes */
    int d_model, layers, heads;
    int n_experts, top_k, d_ff;
    int context;    /* the training windows' length and the longest sequence */
} aimc_lm_shape;

struct aimc_lm_priv;
typedef struct aimc_lm {
    aimc_lm_shape s;
    float *storage;            /* every parameter, n_params floats */
    size_t n_params;
    struct aimc_lm_priv *priv; /* the named tensors */
} aimc_lm;

/* Text: a file, or every regular file of a directory (not its links, sorted by name),
 * concatenated into *text (the caller frees it). AIMC_ERR_IO naming the path, AIMC_ERR_NOMEM. */
int aimc_text_load(const char *path, uint8_t **text, size_t *len, aimc_diag *d);
/* Split text into chunks of `chunk` bytes: chunk i is held out (into *test) when
 * i % every == 0, else trained on (*train); both new allocations the caller frees. */
int aimc_text_split(const uint8_t *text, size_t len, size_t chunk, size_t every, uint8_t **train,
                    size_t *ntrain, uint8_t **test, size_t *ntest);

/* A model of shape s: norms 1, matrices N(0, 1/fan_in) (the residual branches' outputs / sqrt(2
 * layers)), the embedding N(0, 1), from seed. AIMC_ERR_INVALID for a shape out of range. */
int aimc_lm_create(const aimc_lm_shape *s, uint64_t seed, aimc_lm **out);
void aimc_lm_free(aimc_lm *lm); /* NULL is a no-op */

/* The mean loss (-log p of each next byte) of one window of n bytes (2..context) and its
 * gradient (n_params floats, overwritten). For the gradient test. */
double aimc_lm_loss_grad(const aimc_lm *lm, const uint8_t *ids, int n, float *grad);

/* Adam over windows of context bytes of text (consecutive windows share a byte), o->batch
 * windows a step, o->epochs passes, shuffled by o->seed; hardware-aware with o->hw (the
 * classifier's noise injection, for every matrix). */
int aimc_lm_train(aimc_lm *lm, const uint8_t *text, size_t len, const aimc_train_opts *o,
                  aimc_diag *d);

/* Perplexity of text in float (windows of context bytes, each from position 0), and the
 * fraction of next bytes it ranks first into *accuracy (may be NULL). */
double aimc_lm_perplexity(const aimc_lm *lm, const uint8_t *text, size_t len, double *accuracy);

/* Its weights as safetensors (rows = inputs: a model file names them with transpose: false):
 * layers.L.attn_norm, .attn.q/k/v/o, .ffn_norm, .router, .experts.E.gate/up/down, final_norm,
 * head, embed. */
int aimc_lm_save(const aimc_lm *lm, const char *path, aimc_diag *d);

AIMC_API_END

#endif /* AIMC_TRAIN_H */
