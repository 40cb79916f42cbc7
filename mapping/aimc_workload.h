/* aimc_workload.h - what one MoE layer does, written once.
 *
 * A layer of a model (aimc_map.h) is a list of steps on named tensors; the runtime turns each
 * step into a device command (driver/runtime), its reference computes each in double
 * precision on the host, and the mapper's estimate (aimc_map_summarise) books each on the
 * cost layer without contention. So value runs, timing-only runs, the reference and the
 * estimate execute the same schedule. docs/engine.md ("The MoE workload") and docs/architecture.md ("Data flow of one token")
 * walk through it.
 *
 * For a group of T tokens, layer l is:
 *   route:    N = rmsnorm(X); LOGITS = N W_router; (IDX, P) = top_k(LOGITS)   [host reads IDX, P]
 *   dispatch: the host makes each active expert's token list TOK (and weights W)
 *   expert e: XE = gather(N, TOK); G = XE W_gate; U = XE W_up; H = silu(G) * U; O = H W_down;
 *             X[TOK] += W * O                         (shared experts: every token, weight 1)
 * and after the last layer of a classifier, OUT = X W_head [host reads OUT].
 * A model with learned norm weights or its own epsilon normalises with NORM (the weight of
 * layer l's FFN norm); one with a routing rule other than softmax-top-k-renormalised routes
 * with ROUTE (its rule and correction bias); a shared expert with a sigmoid gate adds
 *   SG = XE W_sgate; SG = sigmoid(SG); X[TOK] += SG * O     instead of weight 1.
 * X, the residual stream, stays on the machine between layers.
 */
#ifndef AIMC_WORKLOAD_H
#define AIMC_WORKLOAD_H

#include <stdint.h>

#include "aimc_map.h"
#include "aimc_api.h"

AIMC_API_BEGIN

typedef enum aimc_wl_tensor {
    AIMC_WL_X = 0,   /* the residual stream, T x d_model */
    AIMC_WL_N,       /* its RMS norm, T x d_model */
    AIMC_WL_LOGITS,  /* router logits, T x experts */
    AIMC_WL_IDX,     /* chosen experts, T x k u32: the host reads it */
    AIMC_WL_P,       /* their weights, T x k: the host reads it */
    AIMC_WL_TOK,     /* an expert's token rows, n u32: the host writes it */
    AIMC_WL_W,       /* their routing weights, n: the host writes it */
    AIMC_WL_XE,      /* an expert's inputs, n x d_model */
    AIMC_WL_G,       /* gate, n x d_ff */
    AIMC_WL_U,       /* up, n x d_ff */
    AIMC_WL_H,       /* silu(gate) * up, n x d_ff */
    AIMC_WL_O,       /* down, n x d_model */
    AIMC_WL_SG,      /* a shared expert's gate, n x 1 (logit, then its sigmoid) */
    AIMC_WL_OUT,     /* classifier logits, T x classes: the host reads it */
    /* attention (a layer's, before its FFN) */
    AIMC_WL_Q,       /* queries, T x heads*dk */
    AIMC_WL_KV,      /* new keys, T x kv_heads*dk, then new values, T x kv_heads*dv */
    AIMC_WL_CQ,      /* MLA: the queries' low-rank part, T x q_lora_rank */
    AIMC_WL_A,       /* attention outputs, T x heads*dv */
    AIMC_WL_AO,      /* their projection, T x d_model */
    AIMC_WL_NONE
} aimc_wl_tensor;

typedef enum aimc_wl_op {
    AIMC_WL_RMSNORM = 0, /* out = in / rms(in), rows vectors of dim */
    AIMC_WL_MVM,         /* out = in W(matrix), rows vectors */
    AIMC_WL_TOPK,        /* (IDX, P) = top k of in, rows vectors of dim */
    AIMC_WL_GATHER,      /* out row i = in[0] row TOK[i], rows rows of dim; in[0] has src_rows */
    AIMC_WL_SILU_MUL,    /* out = silu(in[0]) * in[1], rows x dim elements */
    AIMC_WL_SCALE_ACC,   /* out row TOK[i] += W[i] * in[0] row i, rows rows of dim; out has
                          * src_rows rows; in[1] TOK (or NONE: row i), in[2] W (or NONE: 1) */
    AIMC_WL_NORM,        /* out = in / rms(in) * weight (vector; -1: none), eps, rows of dim */
    AIMC_WL_ROUTE,       /* (IDX, P) = the model's routing rule on in (vector: its correction
                          * bias, -1: none), rows vectors of dim, k chosen */
    AIMC_WL_SIGMOID,     /* out = sigmoid(in), rows x dim elements */
    AIMC_WL_ATTN,        /* out = attention of layer `layer`: queries in[0], new keys and values
                          * in[1], rows tokens at the group's positions, over the layer's KV
                          * cache (ATTN, docs/driver.md) */
} aimc_wl_op;

typedef struct aimc_wl_step {
    aimc_wl_op op;
    long matrix;           /* MVM: index in the model's matrices */
    aimc_wl_tensor in[3];  /* inputs, AIMC_WL_NONE where unused */
    aimc_wl_tensor out;    /* TOPK, ROUTE: IDX (P is its second output) */
    uint32_t rows, dim, k, src_rows; /* NORM: k is 1 with a weight, 0 without */
    long vector;           /* NORM, ROUTE: index in the model's vectors, or -1 */
    double eps;            /* NORM */
    uint32_t stride;       /* NORM: floats from one vector to the next (0: dim) */
    uint32_t out_off;      /* MVM, ATTN: floats into out where it writes (the values after the
                            * keys; a group's or a head part's block) */
    uint32_t in_off;       /* MVM, ATTN: floats into in[0] where it reads (a group's block) */
    int layer;             /* ATTN */
    int part;              /* ATTN: the group of heads (its record: layer x groups + part) */
} aimc_wl_step;

/* The steps of one phase, in order. */
#define AIMC_WL_MAX_STEPS 16
typedef struct aimc_wl_phase {
    aimc_wl_step s[AIMC_WL_MAX_STEPS];
    int n;
} aimc_wl_phase;

/* Layer l's route phase for T tokens. AIMC_OK, or AIMC_ERR_NOTFOUND when the layer has no
 * router (the reason in d). */
int aimc_wl_route(const aimc_model *m, int layer, uint32_t tokens, aimc_wl_phase *out,
                  aimc_diag *d);

/* Expert e's phase in layer l for n of the group's T tokens (n >= 1); e >= n_experts is a
 * shared expert (every token, weight 1). AIMC_OK or AIMC_ERR_NOTFOUND. A layer's active
 * experts are issued in ascending index (the routed ones, then the shared ones): their
 * scale_acc steps add into X in that order, which decides where X travels. */
int aimc_wl_expert(const aimc_model *m, int layer, int expert, uint32_t tokens, uint32_t n,
                   aimc_wl_phase *out, aimc_diag *d);

/* Layer l's attention phase for T tokens (models with model.attention), before its FFN:
 *   MHA: N = norm(X); Q = N W_q; KV = [N W_k, N W_v]; (qk_norm: Q = norm(Q), K = norm(K));
 *        A = attention(Q, KV, the layer's cache); AO = A W_o; X += AO
 *   MLA: N = norm(X); CQ = norm(N W_q_a); Q = CQ W_q_b; KV = N W_kv_a; its latent = norm(it);
 *        A = attention(...); AO = A W_o; X += AO
 *        with attn.groups > 1 per group g of heads: Q, A in blocks T x (its heads), q_b.g,
 *        an ATTN of its heads (the first appends the new keys), AO = A_g W_o.g, X += AO
 * AIMC_ERR_NOTFOUND when the layer has no attention. */
int aimc_wl_attention(const aimc_model *m, int layer, uint32_t tokens, aimc_wl_phase *out,
                      aimc_diag *d);

/* Dense layer l's FFN phase for T tokens: N = norm(X); G = N W_gate; U = N W_up;
 * H = silu(G) * U; O = H W_down; X += O. AIMC_ERR_NOTFOUND for an MoE layer. */
int aimc_wl_dense(const aimc_model *m, int layer, uint32_t tokens, aimc_wl_phase *out,
                  aimc_diag *d);

/* A classifier's head phase for T tokens (after the last layer): OUT = X W_head; a language
 * model's: N = norm(X) (the final norm), OUT = N W_head, in head parts (OUT in part-major
 * blocks of T x the part's columns). AIMC_ERR_NOTFOUND when the model has no head. */
int aimc_wl_head(const aimc_model *m, uint32_t tokens, aimc_wl_phase *out, aimc_diag *d);

/* The shape of a step's tensor t, as rows x cols 4-byte values (u32 or float). */
void aimc_wl_shape(const aimc_model *m, const aimc_wl_step *s, aimc_wl_tensor t,
                   uint32_t *rows, uint32_t *cols);

/* Whether the host reads tensor t (the runtime makes it host-readable). */
int aimc_wl_host_reads(aimc_wl_tensor t);

/* Whether tensor t is an expert's own (one per active expert of a layer: TOK .. SG). */
int aimc_wl_expert_tensor(aimc_wl_tensor t);

/* Whether op routes (TOPK or ROUTE: the host reads its IDX and P). */
int aimc_wl_routes(aimc_wl_op op);

/* The register map version (docs/registers.md, VERSION) whose commands m's workload needs:
 * 0x00020000 when every step is a command of map 2.0 (RMSNORM, MVM, TOPK, SILU_MUL, GATHER,
 * SCALE_ACC), 0x00020001 when one is NORM, ROUTE, SIGMOID (ACT) or ATTN (a routing rule,
 * learned norm weights or another eps, a gated shared expert, attention, a language model's
 * final norm). The runtime refuses a model on a device of an older map (rtl: is 2.0). */
uint32_t aimc_wl_map_version(const aimc_model *m);

/* What a step of `tokens` tokens through every layer reads and computes, for the GPU beside
 * the machine (aimc_gpu_roofline): the weights the tokens touch, each once (the router, the
 * shared experts, and the routed experts a batch touches in expectation under `routing`,
 * NULL: uniform: per expert 1 - (1 - p_e)^tokens), at bytes_per_weight, plus the
 * activations (every step's inputs and outputs, float16); and 2 x the multiply-accumulates
 * of every MVM step of the tokens (top_k routed experts per token). */
void aimc_wl_gpu_step(const aimc_model *m, const aimc_routing *routing, double tokens,
                      double bytes_per_weight, double *bytes, double *flops);

AIMC_API_END

#endif /* AIMC_WORKLOAD_H */
