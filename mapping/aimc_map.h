/* aimc_map.h - MoE model descriptions and the mapper that places their weight tiles on
 * the crossbars of a machine.
 *
 * A model file (models/NAME.yaml, docs/models.md) gives the shape of a Mixture-of-Experts
 * model and where its weights come from; aimc_model_load() expands it into the list of
 * weight matrices, in a fixed order, per layer:
 *   router (d_model x n_experts),
 *   for each routed expert e: gate (d_model x d_ff), up (d_model x d_ff), down (d_ff x d_model),
 *   for each shared expert s: gate, up, down with shared_d_ff.
 * Matrices are stored rows = inputs, columns = outputs, row-major.
 *
 * Models with dense FFN layers (model.dense_layers, e.g. DeepSeek-V3's first three) hold,
 * for each such layer, only gate, up, down (expert AIMC_EXPERT_DENSE, no router).
 *
 * aimc_map_plan() cuts every matrix into tiles (row blocks of crossbar.rows, column blocks of
 * the crossbar's logical columns, one tile per weight bit slice) and places them first-fit.
 * aimc_map_plan_ex() places them by the machine's mapping.strategy, with routing statistics,
 * a fault map, replicas, tiers and many chips, and can keep only the compact run list
 * (shape-only mode) for the largest models (docs/mapping.md).
 */
#ifndef AIMC_MAP_H
#define AIMC_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "aimc_arch.h"
#include "aimc_cost.h"
#include "aimc_moe.h"
#include "aimc_status.h"
#include "aimc_tile.h"
#include "aimc_api.h"

AIMC_API_BEGIN

typedef enum {
    AIMC_MAT_ROUTER = 0,
    AIMC_MAT_GATE,
    AIMC_MAT_UP,
    AIMC_MAT_DOWN,
    AIMC_MAT_HEAD,  /* the classifier head after the last layer (model.classes) */
    AIMC_MAT_SGATE, /* a shared expert's sigmoid gate, d_model x 1 (model.shared_expert_gate:
                     * Qwen's shared_expert_gate); after the expert's down matrix */
    /* attention (model.attention; expert AIMC_EXPERT_ATTN), first in each layer */
    AIMC_MAT_Q,     /* d_model x heads*dk */
    AIMC_MAT_K,     /* d_model x kv_heads*dk */
    AIMC_MAT_V,     /* d_model x kv_heads*dv */
    AIMC_MAT_O,     /* heads*dv x d_model */
    AIMC_MAT_QA,    /* MLA: d_model x q_lora_rank */
    AIMC_MAT_QB,    /* MLA: q_lora_rank x heads*dk, W_UK absorbed (docs/models.md) */
    AIMC_MAT_KVA,   /* MLA: d_model x (kv_lora_rank + rope_dim) */
} aimc_mat_kind;

/* model.attention.kind */
typedef enum { AIMC_ATTN_NONE = 0, AIMC_ATTN_MHA, AIMC_ATTN_MLA } aimc_attn_kind;

/* The parameter vectors of a model besides its matrices (docs/models.md, "Vectors"). */
typedef enum {
    AIMC_VEC_FFN_NORM = 0, /* the learned weight of the RMS norm before a layer's FFN or MoE
                            * block (post_attention_layernorm), d_model (model.norm_weights) */
    AIMC_VEC_ROUTER_BIAS,  /* an MoE layer's correction bias of the routing choice
                            * (e_score_correction_bias), routed_experts (routing.correction_bias) */
    AIMC_VEC_ATTN_NORM,    /* the norm before attention (input_layernorm), d_model */
    AIMC_VEC_Q_NORM,       /* qk_norm: over the queries, heads*dk (OLMoE's q_norm) */
    AIMC_VEC_K_NORM,       /* qk_norm: over the keys, kv_heads*dk */
    AIMC_VEC_QA_NORM,      /* MLA: q_a_layernorm, q_lora_rank */
    AIMC_VEC_KVA_NORM,     /* MLA: kv_a_layernorm, kv_lora_rank */
    AIMC_VEC_FINAL_NORM,   /* a language model's norm before its head, d_model (layer -1) */
} aimc_vec_kind;
#define AIMC_VEC_KINDS 8

typedef struct aimc_vector {
    char name[48];       /* "layer0.ffn_norm", "layer3.router_bias" */
    aimc_vec_kind kind;
    int layer;
    uint32_t n;
    float *v;            /* n values; NULL when loaded without weights */
} aimc_vector;

typedef enum { AIMC_DIST_NORMAL = 0, AIMC_DIST_UNIFORM } aimc_dist;

#define AIMC_EXPERT_ROUTER (-1) /* aimc_matrix.expert of a router */
#define AIMC_EXPERT_DENSE (-2)  /* aimc_matrix.expert of a dense FFN layer's matrices */
#define AIMC_EXPERT_HEAD (-3)   /* aimc_matrix.expert of the classifier head */
#define AIMC_EXPERT_ATTN (-4)   /* aimc_matrix.expert of a layer's attention matrices */

/* Where the weights come from: generated (random) or safetensors files. */
typedef enum { AIMC_WSRC_RANDOM = 0, AIMC_WSRC_SAFETENSORS } aimc_wsrc;

/* The widest matrix the device takes (its CAP_MAX_DIM): wider ones are stored as column parts
 * (a language model's head; MLA's q_b and o per group of heads). */
#define AIMC_MODEL_MAX_COLS 65536u

typedef struct aimc_matrix {
    char name[48];       /* "layer0.router", "layer1.expert3.up", "layer0.shared0.down" */
    aimc_mat_kind kind;
    int layer;
    int expert;          /* routed expert index; n_experts + s for shared expert s; -1 router */
    int part;            /* a head's column part, an MLA matrix's group of heads; else 0 */
    uint32_t rows, cols; /* inputs x outputs */
    float *w;            /* rows*cols, row-major; NULL when loaded without weights */
} aimc_matrix;

typedef struct aimc_model {
    char name[64];
    int layers;
    int d_model;
    int n_experts;   /* routed experts per layer */
    int d_ff;        /* routed expert hidden size */
    int top_k;       /* routed experts active per token */
    int n_shared;    /* shared experts per layer (always active) */
    int shared_d_ff; /* hidden size of a shared expert */
    int dense_layers;/* the first dense_layers layers are a dense FFN (no router, no experts) */
    int dense_d_ff;  /* hidden size of a dense FFN layer */
    int n_classes;   /* > 0: a classifier; a head matrix d_model x n_classes follows the
                      * last layer (its layer field is layers - 1) */
    double norm_eps;    /* RMS norms' epsilon (rms_norm_eps); 0 means the default 1e-6 */
    int norm_weights;   /* 1: the RMS norms have learned weights (AIMC_VEC_FFN_NORM) */
    aimc_moe_rule rule; /* the routing rule (aimc_moe.h); zero: softmax, top-k, renormalised */
    int shared_gate;    /* 1: each shared expert's output is scaled by sigmoid(x W_sgate) */
    struct {            /* model.attention (docs/models.md, "Attention"); kind 0: none */
        aimc_attn_kind kind;
        int heads, kv_heads;
        int dk, dv;         /* per head: query and key width, value width */
        int rope_dim;       /* the last rope_dim of each head's query and key are rotated */
        int rope_interleaved; /* 1: pairs (2i, 2i+1); 0: halves (i, i + rope_dim/2) */
        double rope_theta;
        int qk_norm;        /* RMS norms over the queries and the keys before RoPE */
        int q_lora, kv_lora;/* MLA's ranks */
        double scale;       /* of the scores before the softmax */
        int groups;         /* MLA: q_b and o are split into this many groups of heads, each
                             * within AIMC_MODEL_MAX_COLS; 1 otherwise */
    } attn;
    int head_parts;     /* the head's column parts (head.0 ..), each at most
                         * AIMC_MODEL_MAX_COLS wide; 1 for a head of that or fewer outputs */
    int vocab;          /* > 0: a language model: token ids in through an embedding table
                         * (vocab x d_model, on the host), a final norm and a head of vocab
                         * outputs (n_classes = vocab) */
    float *embed;       /* vocab x d_model; NULL without weights */
    size_t *layer_first;/* index of layer l's first matrix (layers entries), or NULL */
    struct {
        char data[512];   /* "" or a CSV of d_model features and a label per line, resolved
                           * against the model file's directory */
        double scale;     /* features are divided by it */
        int test_every;   /* sample i is a test sample when i % test_every == 0; a language
                           * model's chunk i of 512 bytes of text is held out likewise */
        char text[512];   /* a language model: "" or its text (a file or a directory of files,
                           * aimc_text_load), resolved like data */
        int context;      /* a language model: the held-out text is run in windows of it */
    } eval;
    struct {
        uint64_t seed;
        aimc_dist distribution; /* normal: std 1/sqrt(fan_in); uniform: +-sqrt(3/fan_in) */
        aimc_wsrc source;
        char path[512];         /* safetensors: a .safetensors file or a .index.json, resolved
                                 * against the model file's directory */
        int transpose;          /* 1: tensors are [outputs, inputs] (PyTorch Linear), default */
        char names[4][160];     /* tensor name patterns per aimc_mat_kind (router, gate, up,
                                 * down) for routed experts; {layer} and {expert} substituted */
        char shared_names[4][160]; /* gate, up, down, sigmoid gate of shared experts ({shared}
                                    * = index) */
        char dense_names[3][160];  /* gate, up, down of dense layers */
        char head_name[160];       /* the classifier head */
        char vec_names[AIMC_VEC_KINDS][160]; /* per aimc_vec_kind */
        char attn_names[7][160];   /* q, k, v, o, q_a, q_b, kv_a (AIMC_MAT_Q ..) */
        char embed_name[160];      /* the embedding table [vocab, d_model] */
        int stacked;               /* 1: gate, up, down name one [experts, out, in] tensor per
                                    * layer (no {expert}) */
        int fp8_block;             /* F8_E4M3 tensors: square blocks of weight_scale_inv */
    } weights;
    size_t n_matrices;
    aimc_matrix *m;
    size_t n_vectors;
    aimc_vector *v;
} aimc_model;

/* Load a model file. with_weights = 0 keeps shapes only (m[i].w == NULL). Errors as for
 * configs: "models/x.yaml:4:10: model.top_k: expected an integer in 1..8, got 9" (top_k
 * may not exceed n_experts). Caller frees with aimc_model_free(). */
int aimc_model_load(const char *path, int with_weights, aimc_model **out, aimc_diag *d);
int aimc_model_load_string(const char *text, const char *name, int with_weights,
                           aimc_model **out, aimc_diag *d);
void aimc_model_free(aimc_model *m); /* NULL is a no-op */

/* Index of the matrix (layer, kind, expert) in m->m, or -1; _part: of its part (aimc_matrix.part). */
long aimc_model_find(const aimc_model *m, int layer, aimc_mat_kind kind, int expert);
long aimc_model_find_part(const aimc_model *m, int layer, aimc_mat_kind kind, int expert,
                          int part);

/* Index of the vector (layer, kind) in m->v, or -1. */
long aimc_model_vector(const aimc_model *m, int layer, aimc_vec_kind kind);

/* The RMS norms' epsilon: m->norm_eps, or 1e-6 when it is 0. */
double aimc_model_norm_eps(const aimc_model *m);

/* The key-value cache of one layer per position, in floats: the keys (kv_heads x dk; MLA: the
 * latent and the rotated key, kv_lora + rope_dim) and the values (kv_heads x dv; MLA: none,
 * the values are the keys' latent part). 0 and 0 without attention. */
void aimc_model_kv_row(const aimc_model *m, uint32_t *k_floats, uint32_t *v_floats);

/* Index of the classifier head in m->m (its first part), or -1 when the model has none; its
 * parts are the m->head_parts matrices from there, columns [part x AIMC_MODEL_MAX_COLS, ..). */
long aimc_model_head(const aimc_model *m);

/* Total weights of all matrices. */
uint64_t aimc_model_weight_count(const aimc_model *m);

/* Routing statistics: how often each routed expert of each MoE layer is active per token,
 * and optionally how often two are active together (docs/mapping.md, "Routing statistics"). */
typedef struct aimc_routing {
    int layers;     /* MoE layers (model layers - dense_layers), in model order */
    int experts;    /* routed experts per layer */
    int top_k;
    double *p;      /* layers x experts: P(expert active for a token); sums to top_k per layer */
    double *coact;  /* NULL, or layers x experts x experts: P(both active for a token) */
    char source[64];/* "uniform", "zipf 1.2", or the file name */
} aimc_routing;

int aimc_routing_uniform(const aimc_model *m, aimc_routing **out, aimc_diag *d);
/* Zipf: in each layer the expert of rank r (1-based; ranks a seeded permutation of the
 * experts) has weight r^-s; p = min(1, c * weight) with c such that p sums to top_k. */
int aimc_routing_zipf(const aimc_model *m, double s, uint64_t seed, aimc_routing **out,
                      aimc_diag *d);
/* A JSON file (schema in docs/mapping.md): {"tokens": N, "layers": [{"counts": [...],
 * "coactivation": [[...], ...]}, ...]}. Errors name the file and the JSON path. */
int aimc_routing_load(const char *path, const aimc_model *m, aimc_routing **out, aimc_diag *d);
/* "uniform", "zipf:S" or "zipf:S:SEED", or a file path. */
int aimc_routing_from_spec(const char *spec, const aimc_model *m, aimc_routing **out,
                           aimc_diag *d);
void aimc_routing_free(aimc_routing *r); /* NULL is a no-op */
/* P(e and f both active) in MoE layer l: coact when given, else the independent estimate
 * c * p_e * p_f with c = k(k-1) / (k^2 - sum p^2), which keeps the expected number of
 * co-active pairs exact. */
double aimc_routing_pair(const aimc_routing *r, int l, int e, int f);

/* A run: tiles tile0 .. tile0+n-1 of one matrix (in the matrix's tile order: row block, then
 * column block, then slice fastest), all of `width` physical columns, placed for replica
 * `replica`. Tile j (0-based in the run) sits, with k = cols / width tiles per crossbar and
 * f = (cols - col0) / width of them on the first crossbar:
 *   j <  f: crossbar xbar0,                             column col0 + j * width
 *   j >= f: crossbar xbar0 + stride * (1 + (j-f) / k),   column ((j-f) % k) * width
 * Crossbar numbers are global array numbers: ((chip * cores + core) * crossbars_per_core +
 * k) * tiers + tier. */
typedef struct aimc_run {
    uint32_t matrix, tile0, n, width;
    uint32_t xbar0, col0, stride, replica;
} aimc_run;

typedef struct aimc_plan {
    size_t n_tiles;
    aimc_tile *tiles;        /* grouped by matrix: tiles[first[i] .. first[i]+count[i]);
                              * replica 0 only; NULL in shape-only plans */
    size_t n_matrices;
    size_t *first, *count;   /* per matrix index (count also in shape-only plans) */
    long xbars_total;        /* crossbars of the machine */
    long xbars_used;         /* crossbars holding at least one tile */
    uint64_t cells_total;    /* devices of the machine */
    uint64_t cells_used;     /* devices holding a weight slice (both of a differential pair) */
    int chips_used;          /* chips holding at least one tile */

    /* The compact form every plan has (aimc_map_plan_ex). */
    size_t n_runs;
    aimc_run *runs;          /* grouped by replica, then matrix, tile0 ascending */
    aimc_map_strategy strategy;
    int tiers;               /* arrays per crossbar site */
    int chips;               /* chips of the machine planned on (chips_used when auto) */
    int replicas_max;        /* most copies of any matrix (1: no replicas) */
    int *replicas;           /* per matrix: copies placed (1 + extra replicas) */
    uint64_t n_tiles_all;    /* tiles of every replica */
    uint64_t xbars_span;     /* highest crossbar used + 1 */
    uint64_t xbars_skipped;  /* crossbars skipped as faulty below xbars_span */
} aimc_plan;

/* Options of aimc_map_plan_ex; zero-initialised means: routing uniform, no fault map, tiles
 * kept. The strategy and thresholds come from arch->mapping. */
typedef struct aimc_map_opts {
    const aimc_routing *routing; /* NULL: uniform (needed by balance, replicate, tiered) */
    const float *fault_fraction; /* NULL, or one fraction 0..1 per crossbar array of the machine
                                  * (aimc_arch_total_crossbars * tiers entries) */
    size_t n_fault;              /* entries in fault_fraction */
    int shape_only;              /* 1: no tile array (runs only), for the largest models */
} aimc_map_opts;

int aimc_map_plan_ex(const aimc_arch *arch, const aimc_model *model,
                     const aimc_map_opts *opts, aimc_plan **out, aimc_diag *d);

/* Tile j of run r, as the driver's 32-byte record. */
void aimc_run_tile(const aimc_arch *arch, const aimc_model *model, const aimc_run *r,
                   uint32_t j, aimc_tile *t);
/* Tile geometry of a matrix: row blocks, column blocks, slices; tiles = rb * cb * slices. */
void aimc_map_blocks(const aimc_arch *arch, const aimc_matrix *mx, uint32_t *rb, uint32_t *cb,
                     uint32_t *slices);

/* What the plan's machine powers under power.gating (aimc_cost.h): `none`, every unit of
 * its chips; `unused`, the crossbar sites holding tiles (with their DACs and ADCs), the cores,
 * clusters, routers and chips they lie in. AIMC_OK, AIMC_ERR_INVALID (NULL), AIMC_ERR_NOMEM. */
int aimc_map_powered(const aimc_arch *arch, const aimc_plan *plan, aimc_cost_powered *out);

/* For `chips: auto`: set arch->hierarchy.chips to the plan's chips (so that the device is
 * opened with them) and clear chips_auto. Returns AIMC_ERR_INVALID for NULL. */
int aimc_map_fit_chips(aimc_arch *arch, const aimc_plan *plan);

/* The summary of a plan under routing statistics (docs/mapping.md, "Summary and estimate"). */
typedef struct aimc_map_summary {
    uint64_t xbars_used, xbars_total, xbars_span;
    int chips;
    double cell_util_used;      /* cells used / cells of used crossbars */
    double cell_util_machine;   /* cells used / cells of the machine */
    uint64_t cores_used;
    double core_load_max;       /* expected tile MVMs per token on the busiest core */
    double core_load_mean;      /* mean over used cores */
    uint32_t hops_max;          /* partial sums: mesh hops from a tile's core to its column
                                 * block's home core (XY distance), maximum over tiles */
    double hops_mean;           /* mean over tiles */
    uint64_t chip_crossings;    /* tiles whose partial sums cross chips */
    double tier_conflicts;      /* expected tier conflicts per token */
    int estimated;              /* 1 when the two below were estimated */
    uint32_t position;          /* the context position of the estimated token (0: the
                                 * first token; its attention sees itself only) */
    double latency_ns;          /* estimated latency of a token (aimc_map_estimate_token_at) */
    double energy_pj;           /* its estimated dynamic energy */
    double energy_pj_by_part[AIMC_PART_COUNT];
} aimc_map_summary;

int aimc_map_summarise(const aimc_arch *arch, const aimc_model *model, const aimc_plan *plan,
                       const aimc_routing *routing, aimc_map_summary *s, aimc_diag *d);
/* The same with the estimated token at context position `position` (aimc_map_summarise: 0). */
int aimc_map_summarise_at(const aimc_arch *arch, const aimc_model *model, const aimc_plan *plan,
                          const aimc_routing *routing, uint32_t position, aimc_map_summary *s,
                          aimc_diag *d);

/* The estimate of one token through every layer (docs/mapping.md, "The estimate"): the
 * workload's steps (aimc_workload.h) in the runtime's order (each layer's attention, a dense
 * layer's FFN, the route, the experts; the head after the last layer), with the commands the
 * device would run, each booked with the cost layer's schedules at the cycle its inputs are
 * ready, no two ever waiting for a resource: the device's latency and energy when nothing
 * contends, and a lower bound on the latency when something does. The data activity is the
 * cost layer's assumption. The token enters from host memory (a language model's as its
 * embedding row). It goes to experts[ml * top_k ..] in MoE layer ml (NULL: the top_k most
 * probable under routing, NULL routing: experts 0 .. top_k - 1). */
typedef struct aimc_map_estimate {
    uint64_t latency_cycles;
    double latency_ns;
    double energy_pj[AIMC_PART_COUNT]; /* dynamic */
    double energy_pj_total;
    uint64_t commands;               /* device commands of the token */
} aimc_map_estimate;

/* The token at position 0 of its sequence: its attention sees itself only. */
int aimc_map_estimate_token(const aimc_arch *arch, const aimc_model *model,
                            const aimc_plan *plan, const int *experts,
                            const aimc_routing *routing, aimc_map_estimate *out, aimc_diag *d);
/* The token at `position` (0 ..): with attention, a decode step whose ATTN commands attend
 * over the `position` earlier tokens' keys and values in the KV cache (kv_cache: read from
 * its memory as the device does), the earlier tokens' work done. Models without attention
 * ignore the position. AIMC_ERR_UNSUPPORTED beyond the device's 65536 positions. */
int aimc_map_estimate_token_at(const aimc_arch *arch, const aimc_model *model,
                               const aimc_plan *plan, const int *experts,
                               const aimc_routing *routing, uint32_t position,
                               aimc_map_estimate *out, aimc_diag *d);

/* Check a plan against the rules every plan keeps (docs/mapping.md, "Rules of a plan"), from
 * its runs and the statistics it states (chips, xbars_used, xbars_span, xbars_skipped):
 * every run a stretch of tiles of one matrix, all of the run's width, inside its crossbars
 * (64-bit arithmetic) and inside the machine (plan->chips chips; equal to the machine's
 * unless hierarchy.chips_auto, then exactly as many as the span needs); stride 1 or the
 * machine's tiers; every tile of every matrix placed exactly once per replica 0..replicas-1;
 * no two runs on one cell (a column of a crossbar: every tile uses word lines from 0); no
 * tile on a crossbar whose fault_fraction (NULL: no fault map; n_fault entries, one per
 * crossbar array) is above mapping.fault_threshold; the statistics equal their recount.
 * The cost is O(runs log runs), whatever the number of tiles. Returns AIMC_OK, or
 * AIMC_ERR_CONFIG with "NAME: runs[K]: rule" (K the run's index in plan->runs) or
 * "NAME: matrix I (name) replica R: rule" or "NAME: key: rule" (NAME: name, or "plan");
 * AIMC_ERR_INVALID for NULL arguments, AIMC_ERR_NOMEM. aimc_map_plan_ex checks every plan
 * it makes and aimc_plan_load every plan it reads with it. */
int aimc_plan_validate(const aimc_arch *arch, const aimc_model *model, const aimc_plan *plan,
                       const float *fault_fraction, size_t n_fault, const char *name,
                       aimc_diag *d);

/* Plan files (JSON, schema in docs/mapping.md). Load reads the file, checks it with
 * aimc_plan_validate (the fault map of opts, if any; NULL opts: none) and rebuilds the plan
 * (tiles unless opts->shape_only); opts->routing is not used. Errors name the file:
 * "plan.json: runs[3]: col0 4294967288 + width 8 passes the crossbar's 128 columns". */
int aimc_plan_save(const aimc_plan *plan, const aimc_arch *arch, const aimc_model *model,
                   const char *path, aimc_diag *d);
int aimc_plan_load(const char *path, const aimc_arch *arch, const aimc_model *model,
                   const aimc_map_opts *opts, aimc_plan **out, aimc_diag *d);

/* SVG picture of the chips, crossbars coloured by layer and expert. */
int aimc_plan_svg(const aimc_plan *plan, const aimc_arch *arch, const aimc_model *model,
                  const char *path, aimc_diag *d);

/* Safetensors (docs/models.md): the weights of `model` from the files its model file names.
 * The model must have been loaded without weights; fills every m[i].w. */
int aimc_model_load_safetensors(aimc_model *model, const char *path, aimc_diag *d);
/* Parse one safetensors image in memory and convert tensor `name` (f32, f16, bf16) to float,
 * rows x cols (transposed when transpose is set). For tests and the fuzz test. */
int aimc_st_read_tensor(const unsigned char *buf, size_t len, const char *what,
                        const char *name, uint32_t rows, uint32_t cols, int transpose,
                        float *out, aimc_diag *d);

/* One tensor for aimc_st_write: F32 from floats or I32 from int32_t, row-major. */
typedef struct aimc_st_tensor {
    const char *name;
    int i32;              /* 0: F32, 1: I32 */
    int rank;             /* 1..3 */
    uint64_t shape[3];
    const void *data;
} aimc_st_tensor;

/* Write n tensors (in order, little-endian) as a safetensors file at path, with the string
 * pairs meta[0] = meta[1], ... (n_meta pairs; may be 0) as its __metadata__; the header is
 * padded with spaces to a multiple of 8 bytes. AIMC_ERR_IO with "PATH: cannot create: WHY" or
 * "PATH: write error", AIMC_ERR_INVALID for a bad tensor, AIMC_ERR_NOMEM. */
int aimc_st_write(const char *path, const aimc_st_tensor *t, size_t n, const char *const *meta,
                  size_t n_meta, aimc_diag *d);

/* Place every tile of every matrix of model on arch, first-fit in crossbar order, packing
 * tiles side by side in a crossbar's free columns. When the model does not fit returns
 * AIMC_ERR_NOFIT with how many crossbars and chips it would need, e.g.
 *   "model mixtral-8x7b needs 1835008 crossbars (1792 chips of 1024); the machine has 1024
 *    (1 chip)". */
int aimc_map_plan(const aimc_arch *arch, const aimc_model *model, aimc_plan **out,
                  aimc_diag *d);
void aimc_plan_free(aimc_plan *p); /* NULL is a no-op */

AIMC_API_END

#endif /* AIMC_MAP_H */
