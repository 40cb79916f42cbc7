/* model.c - MoE model files: load a model file (models/, docs/models.md), expand its shape
 * into the ordered list of weight matrices and generate their deterministic random weights.
 */
#include "aimc_map.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_yaml.h"
#include "rng.h"

#define MODEL_VERSION 1

/* Ranges of the model keys (docs/models.md). */
#define MODEL_LAYERS_MAX 1024L
#define MODEL_D_MODEL_MAX 65536L
#define MODEL_EXPERTS_MAX 4096L
#define MODEL_SHARED_MAX 4096L
#define MODEL_D_FF_MAX 1048576L
#define MODEL_VOCAB_MAX 1048576L

/* The stream key of matrix i: a function of (seed, i) only (common/rng.h). */
static uint64_t weight_key(uint64_t seed, uint64_t i)
{
    return aimc_rng_key(seed, AIMC_RNG_DOMAIN_WEIGHTS, i, 0);
}

/* Element k of a matrix with stream key `key` and fan-in rows: a standard normal (draw k of
 * the key's Box-Muller pairs) or uniform, scaled to the fan-in. */
static float weight_value(uint64_t key, uint64_t k, aimc_dist dist, uint32_t rows)
{
    if (dist == AIMC_DIST_UNIFORM) {
        double a = sqrt(3.0 / rows);
        return (float)(a * (2.0 * aimc_rng_uniform(key, k) - 1.0));
    }
    return (float)(aimc_rng_normal(key, k) / sqrt((double)rows));
}

/* Frees the matrices, their weights and the model; NULL is a no-op. */
void aimc_model_free(aimc_model *m)
{
    if (!m) return;
    if (m->m)
        for (size_t i = 0; i < m->n_matrices; i++) free(m->m[i].w);
    free(m->m);
    if (m->v)
        for (size_t i = 0; i < m->n_vectors; i++) free(m->v[i].v);
    free(m->v);
    free(m->embed);
    free(m->layer_first);
    free(m);
}

/* Index of matrix (layer, kind, expert): routers take expert -1, shared expert s is
 * n_experts + s. -1 when m is NULL or there is no such matrix. */
#define ATTN_MAX 130
static int attn_matrices(const aimc_model *m, aimc_mat_kind *kinds, int *parts, uint32_t *rows,
                         uint32_t *cols);

long aimc_model_find(const aimc_model *m, int layer, aimc_mat_kind kind, int expert)
{
    return aimc_model_find_part(m, layer, kind, expert, 0);
}

long aimc_model_find_part(const aimc_model *m, int layer, aimc_mat_kind kind, int expert,
                          int part)
{
    if (!m || !m->m || layer < 0 || layer >= m->layers || (int)kind < (int)AIMC_MAT_ROUTER)
        return -1;
    const int dense = layer < m->dense_layers, ffn = kind >= AIMC_MAT_GATE && kind <= AIMC_MAT_DOWN;
    const int attn = kind >= AIMC_MAT_Q && kind <= AIMC_MAT_KVA;
    aimc_mat_kind ak[ATTN_MAX];
    int ap[ATTN_MAX];
    uint32_t ar[ATTN_MAX], ac[ATTN_MAX];
    const int na = attn_matrices(m, ak, ap, ar, ac);
    int apos = -1;
    for (int q = 0; q < na; q++)
        if (ak[q] == kind && ap[q] == part) apos = q;
    if (!attn && part != 0) return -1;
    if (attn ? (expert != AIMC_EXPERT_ATTN || apos < 0)
        : dense ? !(ffn && expert == AIMC_EXPERT_DENSE)
        : kind == AIMC_MAT_ROUTER ? expert != AIMC_EXPERT_ROUTER
        : kind == AIMC_MAT_SGATE  ? (expert < m->n_experts || expert >= m->n_experts + m->n_shared)
                                  : (!ffn || expert < 0 || expert >= m->n_experts + m->n_shared))
        return -1;
    /* Loaded models follow the documented order (per layer its attention matrices, then a
     * dense layer's 3 or an MoE layer's router, each routed expert's 3, each shared expert's
     * 3 or 4): compute the index and confirm it. */
    const size_t sg = m->shared_gate ? 1 : 0, E = (size_t)m->n_experts;
    const size_t per_layer = 1 + 3 * E + (3 + sg) * (size_t)m->n_shared;
    size_t idx = m->layer_first ? m->layer_first[layer]
                 : dense        ? 3 * (size_t)layer
                                : 3 * (size_t)m->dense_layers +
                               (size_t)(layer - m->dense_layers) * per_layer;
    if (attn) {
        idx += (size_t)apos;
    } else {
        if (m->layer_first) idx += (size_t)na;
        if (dense || kind == AIMC_MAT_ROUTER)
            idx += dense ? (size_t)(kind - AIMC_MAT_GATE) : 0;
        else if ((size_t)expert < E)
            idx += 1 + 3 * (size_t)expert + (size_t)(kind - AIMC_MAT_GATE);
        else
            idx += 1 + 3 * E + (3 + sg) * ((size_t)expert - E) +
                   (kind == AIMC_MAT_SGATE ? 3 : (size_t)(kind - AIMC_MAT_GATE));
    }
    if (idx < m->n_matrices && m->m[idx].layer == layer && m->m[idx].kind == kind &&
        m->m[idx].expert == expert && m->m[idx].part == part)
        return (long)idx;
    /* A hand-built model in another order: search. */
    for (size_t i = 0; i < m->n_matrices; i++)
        if (m->m[i].layer == layer && m->m[i].kind == kind && m->m[i].expert == expert &&
            m->m[i].part == part)
            return (long)i;
    return -1;
}

long aimc_model_vector(const aimc_model *m, int layer, aimc_vec_kind kind)
{
    if (!m || !m->v) return -1;
    for (size_t i = 0; i < m->n_vectors; i++)
        if (m->v[i].layer == layer && m->v[i].kind == kind) return (long)i;
    return -1;
}

double aimc_model_norm_eps(const aimc_model *m)
{
    return m && m->norm_eps > 0 ? m->norm_eps : AIMC_MOE_RMS_EPS;
}

long aimc_model_head(const aimc_model *m)
{
    if (!m || !m->m || m->n_classes <= 0 || m->n_matrices == 0) return -1;
    const size_t parts = m->head_parts > 1 ? (size_t)m->head_parts : 1;
    if (parts > m->n_matrices) return -1;
    size_t i = m->n_matrices - parts;
    return m->m[i].kind == AIMC_MAT_HEAD ? (long)i : -1;
}

/* Sum of rows * cols over all matrices (0 for NULL); counts weights also when w is NULL. */
uint64_t aimc_model_weight_count(const aimc_model *m)
{
    uint64_t n = 0;
    if (!m || !m->m) return 0;
    for (size_t i = 0; i < m->n_matrices; i++) n += (uint64_t)m->m[i].rows * m->m[i].cols;
    return n;
}

static void set_matrix(aimc_matrix *mx, int layer, aimc_mat_kind kind, int expert,
                       uint32_t rows, uint32_t cols, const char *what, int what_index)
{
    static const char *const kind_names[] = {"router", "gate", "up", "down", "head", "sgate",
                                             "q", "k", "v", "o", "q_a", "q_b", "kv_a"};
    if (kind == AIMC_MAT_HEAD)
        snprintf(mx->name, sizeof mx->name, "head");
    else if (kind == AIMC_MAT_ROUTER)
        snprintf(mx->name, sizeof mx->name, "layer%d.router", layer);
    else if (expert == AIMC_EXPERT_ATTN)
        snprintf(mx->name, sizeof mx->name, "layer%d.attn.%s", layer, kind_names[kind]);
    else
        snprintf(mx->name, sizeof mx->name, "layer%d.%s%d.%s", layer, what, what_index,
                 kind_names[kind]);
    mx->kind = kind;
    mx->layer = layer;
    mx->expert = expert;
    mx->rows = rows;
    mx->cols = cols;
    mx->w = NULL;
}

void aimc_model_kv_row(const aimc_model *m, uint32_t *k_floats, uint32_t *v_floats)
{
    *k_floats = *v_floats = 0;
    if (!m || m->attn.kind == AIMC_ATTN_NONE) return;
    *k_floats = (uint32_t)(m->attn.kv_heads * m->attn.dk);
    *v_floats = m->attn.kind == AIMC_ATTN_MLA ? 0 : (uint32_t)(m->attn.kv_heads * m->attn.dv);
}

/* The attention matrices of a layer, in order, with their parts: at most 2 + 2 x 64. */
#define ATTN_MAX 130
static int attn_matrices(const aimc_model *m, aimc_mat_kind *kinds, int *parts, uint32_t *rows,
                         uint32_t *cols)
{
    const uint32_t dm = (uint32_t)m->d_model, H = (uint32_t)m->attn.heads;
    const uint32_t Hk = (uint32_t)m->attn.kv_heads, dk = (uint32_t)m->attn.dk;
    const uint32_t dv = (uint32_t)m->attn.dv;
    int n = 0;
    if (m->attn.kind == AIMC_ATTN_MHA) {
        const aimc_mat_kind k[4] = {AIMC_MAT_Q, AIMC_MAT_K, AIMC_MAT_V, AIMC_MAT_O};
        const uint32_t r[4] = {dm, dm, dm, H * dv}, c[4] = {H * dk, Hk * dk, Hk * dv, dm};
        for (; n < 4; n++) {
            kinds[n] = k[n];
            parts[n] = 0;
            rows[n] = r[n];
            cols[n] = c[n];
        }
    } else if (m->attn.kind == AIMC_ATTN_MLA) {
        const uint32_t ql = (uint32_t)m->attn.q_lora, kl = (uint32_t)m->attn.kv_lora;
        const uint32_t G = (uint32_t)(m->attn.groups > 1 ? m->attn.groups : 1), Hg = H / G;
        kinds[n] = AIMC_MAT_QA, parts[n] = 0, rows[n] = dm, cols[n++] = ql;
        for (uint32_t g = 0; g < G; g++)
            kinds[n] = AIMC_MAT_QB, parts[n] = (int)g, rows[n] = ql, cols[n++] = Hg * dk;
        kinds[n] = AIMC_MAT_KVA, parts[n] = 0, rows[n] = dm, cols[n++] = dk;
        for (uint32_t g = 0; g < G; g++)
            kinds[n] = AIMC_MAT_O, parts[n] = (int)g, rows[n] = Hg * kl, cols[n++] = dm;
    }
    return n;
}

static void set_vector(aimc_vector *v, int layer, aimc_vec_kind kind, uint32_t n)
{
    static const char *const names[AIMC_VEC_KINDS] = {"ffn_norm", "router_bias", "attn_norm",
                                                      "q_norm", "k_norm", "q_a_norm",
                                                      "kv_a_norm", "final_norm"};
    if (layer < 0) snprintf(v->name, sizeof v->name, "%s", names[kind]);
    else snprintf(v->name, sizeof v->name, "layer%d.%s", layer, names[kind]);
    v->kind = kind;
    v->layer = layer;
    v->n = n;
    v->v = NULL;
}

/* Vector k of m (pass 1) or only its count (pass 0). */
static void add_vector(aimc_model *m, int pass, size_t *k, int layer, aimc_vec_kind kind,
                       uint32_t n)
{
    if (pass) set_vector(&m->v[*k], layer, kind, n);
    (*k)++;
}

/* Expand the shape held in m into m->m (and the weights when with_weights). */
static int model_expand(aimc_model *m, int with_weights, const char *file, aimc_diag *d)
{
    const size_t sg = m->shared_gate ? 1 : 0;
    aimc_mat_kind ak[ATTN_MAX];
    int ap[ATTN_MAX];
    uint32_t ar[ATTN_MAX], ac[ATTN_MAX];
    const int na = attn_matrices(m, ak, ap, ar, ac);
    const size_t hp = m->n_classes > 0 ? (size_t)((m->n_classes + AIMC_MODEL_MAX_COLS - 1) / AIMC_MODEL_MAX_COLS) : 0;
    m->head_parts = hp ? (int)hp : 1;
    size_t per_layer = 1 + 3 * (size_t)m->n_experts + (3 + sg) * (size_t)m->n_shared;
    m->n_matrices = (size_t)(m->layers - m->dense_layers) * per_layer + 3 * (size_t)m->dense_layers +
                    (size_t)na * (size_t)m->layers + hp;
    m->m = calloc(m->n_matrices, sizeof *m->m);
    m->layer_first = calloc((size_t)m->layers, sizeof *m->layer_first);
    if (!m->m || !m->layer_first) goto out_nomem;
    /* Vectors: per layer the norms' weights (before attention, of the queries and keys or of
     * MLA's ranks, before the FFN), per MoE layer its correction bias; a language model's
     * final norm. */
    const int nw = m->norm_weights, att = m->attn.kind != AIMC_ATTN_NONE;
    const int mla = m->attn.kind == AIMC_ATTN_MLA;
    m->n_vectors = 0;
    for (int pass = 0; pass < 2; pass++) { /* count, then fill */
        size_t k = 0;
        for (int l = 0; l < m->layers; l++) {
            const uint32_t dm = (uint32_t)m->d_model;
            if (nw && att) add_vector(m, pass, &k, l, AIMC_VEC_ATTN_NORM, dm);
            if (nw && att && m->attn.qk_norm) {
                add_vector(m, pass, &k, l, AIMC_VEC_Q_NORM, (uint32_t)(m->attn.heads * m->attn.dk));
                add_vector(m, pass, &k, l, AIMC_VEC_K_NORM,
                           (uint32_t)(m->attn.kv_heads * m->attn.dk));
            }
            if (nw && mla) {
                add_vector(m, pass, &k, l, AIMC_VEC_QA_NORM, (uint32_t)m->attn.q_lora);
                add_vector(m, pass, &k, l, AIMC_VEC_KVA_NORM, (uint32_t)m->attn.kv_lora);
            }
            if (nw) add_vector(m, pass, &k, l, AIMC_VEC_FFN_NORM, dm);
            if (m->rule.bias && l >= m->dense_layers)
                add_vector(m, pass, &k, l, AIMC_VEC_ROUTER_BIAS, (uint32_t)m->n_experts);
        }
        if (nw && m->vocab) add_vector(m, pass, &k, -1, AIMC_VEC_FINAL_NORM, (uint32_t)m->d_model);
        if (!pass) {
            m->n_vectors = k;
            if (!k) break;
            if (!(m->v = calloc(k, sizeof *m->v))) goto out_nomem;
        }
    }
    size_t i = 0;
    for (int l = 0; l < m->layers; l++) {
        uint32_t dm = (uint32_t)m->d_model;
        m->layer_first[l] = i;
        for (int q = 0; q < na; q++) {
            set_matrix(&m->m[i], l, ak[q], AIMC_EXPERT_ATTN, ar[q], ac[q], "", 0);
            m->m[i].part = ap[q];
            if (m->attn.groups > 1 && (ak[q] == AIMC_MAT_QB || ak[q] == AIMC_MAT_O)) {
                const size_t len = strlen(m->m[i].name);
                snprintf(m->m[i].name + len, sizeof m->m[i].name - len, ".%d", ap[q]);
            }
            i++;
        }
        if (l < m->dense_layers) {
            uint32_t ff = (uint32_t)m->dense_d_ff;
            set_matrix(&m->m[i++], l, AIMC_MAT_GATE, AIMC_EXPERT_DENSE, dm, ff, "dense", 0);
            set_matrix(&m->m[i++], l, AIMC_MAT_UP, AIMC_EXPERT_DENSE, dm, ff, "dense", 0);
            set_matrix(&m->m[i++], l, AIMC_MAT_DOWN, AIMC_EXPERT_DENSE, ff, dm, "dense", 0);
            continue;
        }
        set_matrix(&m->m[i++], l, AIMC_MAT_ROUTER, -1, dm, (uint32_t)m->n_experts, "", 0);
        for (int e = 0; e < m->n_experts + m->n_shared; e++) {
            int shared = e >= m->n_experts;
            uint32_t ff = (uint32_t)(shared ? m->shared_d_ff : m->d_ff);
            const char *what = shared ? "shared" : "expert";
            int wi = shared ? e - m->n_experts : e;
            set_matrix(&m->m[i++], l, AIMC_MAT_GATE, e, dm, ff, what, wi);
            set_matrix(&m->m[i++], l, AIMC_MAT_UP, e, dm, ff, what, wi);
            set_matrix(&m->m[i++], l, AIMC_MAT_DOWN, e, ff, dm, what, wi);
            if (shared && sg) set_matrix(&m->m[i++], l, AIMC_MAT_SGATE, e, dm, 1, what, wi);
        }
    }
    for (size_t p = 0; p < hp; p++) { /* the head, in column parts the device takes */
        const uint64_t c0 = p * (uint64_t)AIMC_MODEL_MAX_COLS, left = (uint64_t)m->n_classes - c0;
        aimc_matrix *mx = &m->m[i++];
        set_matrix(mx, m->layers - 1, AIMC_MAT_HEAD, AIMC_EXPERT_HEAD, (uint32_t)m->d_model,
                   (uint32_t)(left < AIMC_MODEL_MAX_COLS ? left : AIMC_MODEL_MAX_COLS), "", 0);
        mx->part = (int)p;
        if (hp > 1) snprintf(mx->name, sizeof mx->name, "head.%zu", p);
    }
    if (!with_weights || m->weights.source != AIMC_WSRC_RANDOM) return AIMC_OK;
    for (i = 0; i < m->n_matrices; i++) {
        aimc_matrix *mx = &m->m[i];
        uint64_t n = (uint64_t)mx->rows * mx->cols;
        if (n > SIZE_MAX / sizeof *mx->w) goto out_nomem;
        mx->w = malloc((size_t)n * sizeof *mx->w);
        if (!mx->w) goto out_nomem;
        uint64_t key = weight_key(m->weights.seed, i);
        for (uint64_t k = 0; k < n; k++)
            mx->w[k] = weight_value(key, k, m->weights.distribution, mx->rows);
    }
    /* Generated vectors are neutral: norm weights 1, correction biases 0. */
    for (i = 0; i < m->n_vectors; i++) {
        aimc_vector *v = &m->v[i];
        v->v = malloc((size_t)v->n * sizeof *v->v);
        if (!v->v) goto out_nomem;
        for (uint32_t k = 0; k < v->n; k++) v->v[k] = v->kind == AIMC_VEC_ROUTER_BIAS ? 0.0f : 1.0f;
    }
    /* The embedding table: standard normal entries, keyed after the matrices. */
    if (m->vocab) {
        const uint64_t n = (uint64_t)m->vocab * (uint64_t)m->d_model;
        if (n > SIZE_MAX / sizeof *m->embed || !(m->embed = malloc((size_t)n * sizeof *m->embed)))
            goto out_nomem;
        const uint64_t key = weight_key(m->weights.seed, m->n_matrices);
        for (uint64_t k = 0; k < n; k++)
            m->embed[k] = weight_value(key, k, m->weights.distribution, 1);
    }
    return AIMC_OK;

out_nomem:
    return aimc_diag_set(d, AIMC_ERR_NOMEM,
                         "%s: out of memory for model %s (%zu matrices, %llu weights)", file,
                         m->name, m->n_matrices,
                         (unsigned long long)aimc_model_weight_count(m));
}

/* A required key of map: "file: missing required key PATH". */
static int get_required(const aimc_ydoc *doc, const aimc_ynode *map, const char *key,
                        const char *path, const aimc_ynode **out, aimc_diag *d)
{
    *out = aimc_ymap_get(map, key);
    if (!*out)
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: missing required key %s", doc->name,
                             path);
    return AIMC_OK;
}

static int get_int(const aimc_ydoc *doc, const aimc_ynode *map, const char *key,
                   const char *path, long lo, long hi, long *out, aimc_diag *d)
{
    const aimc_ynode *n;
    int rc = get_required(doc, map, key, path, &n, d);
    if (rc) return rc;
    return aimc_ynode_int(doc, n, path, lo, hi, out, d);
}

/* model.routing: {scoring, normalize, groups, topk_groups, scale, correction_bias}: the
 * routing rule (aimc_moe.h, docs/models.md "Routing rules"). */
static int parse_routing(const aimc_ydoc *doc, const aimc_ynode *sec, aimc_model *m,
                         aimc_diag *d)
{
    static const char *const keys[] = {"scoring", "normalize", "groups", "topk_groups", "scale",
                                       "correction_bias"};
    static const char *const scorings[] = {"softmax", "sigmoid"};
    static const char *const bools[] = {"false", "true"};
    const aimc_ynode *n;
    aimc_moe_rule *r = &m->rule;
    long v;
    int b, rc;
    if ((rc = aimc_ynode_expect_map(doc, sec, "model.routing", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, sec, "model.routing", keys, 6, d))) return rc;
    if ((n = aimc_ymap_get(sec, "scoring")) &&
        (rc = aimc_ynode_enum(doc, n, "model.routing.scoring", scorings, 2, &r->sigmoid, d)))
        return rc;
    if ((n = aimc_ymap_get(sec, "normalize"))) {
        if ((rc = aimc_ynode_enum(doc, n, "model.routing.normalize", bools, 2, &b, d))) return rc;
        r->no_renorm = !b;
    }
    r->groups = 1;
    if ((n = aimc_ymap_get(sec, "groups"))) {
        /* The group scores of the device (and of aimc_moe_route) are kept for 256 groups. */
        long hi = m->n_experts < 256 ? m->n_experts : 256;
        if ((rc = aimc_ynode_int(doc, n, "model.routing.groups", 1, hi, &v, d))) return rc;
        if (m->n_experts % v)
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: model.routing.groups: %ld groups "
                                 "do not divide the %d routed experts", doc->name, n->line,
                                 n->col, v, m->n_experts);
        r->groups = (int)v;
    }
    r->topk_groups = r->groups;
    if ((n = aimc_ymap_get(sec, "topk_groups"))) {
        /* The k experts must lie in the chosen groups. */
        const long per = m->n_experts / r->groups;
        const long lo = (m->top_k + per - 1) / per;
        if ((rc = aimc_ynode_int(doc, n, "model.routing.topk_groups", lo, r->groups, &v, d)))
            return rc;
        r->topk_groups = (int)v;
    }
    r->scale = 1.0;
    if ((n = aimc_ymap_get(sec, "scale")) &&
        (rc = aimc_ynode_double(doc, n, "model.routing.scale", 1e-6, 1e6, &r->scale, d)))
        return rc;
    if ((n = aimc_ymap_get(sec, "correction_bias")) &&
        (rc = aimc_ynode_enum(doc, n, "model.routing.correction_bias", bools, 2, &r->bias, d)))
        return rc;
    return AIMC_OK;
}

/* model.attention (docs/models.md, "Attention"). */
static int parse_attention(const aimc_ydoc *doc, const aimc_ynode *sec, aimc_model *m,
                           aimc_diag *d)
{
    static const char *const keys[] = {"kind",       "heads",        "kv_heads",
                                       "head_dim",   "rope_theta",   "rope_dim",
                                       "rope_interleaved", "qk_norm", "q_lora_rank",
                                       "kv_lora_rank", "softmax_scale"};
    static const char *const kinds[] = {"mha", "mla"};
    static const char *const bools[] = {"false", "true"};
    const aimc_ynode *n;
    long v;
    int rc, kind = 0;
    if ((rc = aimc_ynode_expect_map(doc, sec, "model.attention", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, sec, "model.attention", keys, 11, d))) return rc;
    if ((n = aimc_ymap_get(sec, "kind")) &&
        (rc = aimc_ynode_enum(doc, n, "model.attention.kind", kinds, 2, &kind, d)))
        return rc;
    m->attn.kind = kind ? AIMC_ATTN_MLA : AIMC_ATTN_MHA;
    m->attn.groups = 1;
    if ((rc = get_int(doc, sec, "heads", "model.attention.heads", 1, 4096, &v, d))) return rc;
    m->attn.heads = (int)v;
    m->attn.kv_heads = m->attn.heads;
    if ((n = aimc_ymap_get(sec, "kv_heads"))) {
        if ((rc = aimc_ynode_int(doc, n, "model.attention.kv_heads", 1, m->attn.heads, &v, d)))
            return rc;
        if (m->attn.heads % v)
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: model.attention.kv_heads: %ld "
                                 "does not divide the %d heads", doc->name, n->line, n->col, v,
                                 m->attn.heads);
        m->attn.kv_heads = (int)v;
    }
    /* MHA: head_dim, default d_model / heads; MLA: the ranks and rope_dim. */
    if (m->attn.kind == AIMC_ATTN_MHA) {
        long hd = m->d_model / m->attn.heads;
        if ((n = aimc_ymap_get(sec, "head_dim"))) {
            if ((rc = aimc_ynode_int(doc, n, "model.attention.head_dim", 2, 65536, &hd, d)))
                return rc;
        } else if (hd < 2 || m->d_model % m->attn.heads) {
            /* without head_dim a head is d_model / heads wide: say which rule the heads break
             * and what sets it, at the heads key */
            const aimc_ynode *h = aimc_ymap_get(sec, "heads");
            if (m->d_model % m->attn.heads)
                return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: model.attention.heads: "
                                     "d_model %d is not a multiple of %d heads; set "
                                     "model.attention.head_dim (at least 2) or a number of "
                                     "heads that divides d_model", doc->name, h->line, h->col,
                                     m->d_model, m->attn.heads);
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: model.attention.heads: d_model "
                                 "%d over %d heads gives head dims of %ld; set "
                                 "model.attention.head_dim (at least 2) or fewer heads",
                                 doc->name, h->line, h->col, m->d_model, m->attn.heads, hd);
        }
        m->attn.dk = m->attn.dv = (int)hd;
        m->attn.rope_dim = (int)hd;
    } else {
        if (aimc_ymap_get(sec, "head_dim") || aimc_ymap_get(sec, "kv_heads") ||
            aimc_ymap_get(sec, "qk_norm"))
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: model.attention: kind mla takes "
                                 "q_lora_rank, kv_lora_rank and rope_dim, not head_dim, "
                                 "kv_heads or qk_norm", doc->name, sec->line, sec->col);
        if ((rc = get_int(doc, sec, "q_lora_rank", "model.attention.q_lora_rank", 1, 65536, &v, d)))
            return rc;
        m->attn.q_lora = (int)v;
        if ((rc = get_int(doc, sec, "kv_lora_rank", "model.attention.kv_lora_rank", 1, 65536, &v,
                          d)))
            return rc;
        m->attn.kv_lora = (int)v;
        if ((rc = get_int(doc, sec, "rope_dim", "model.attention.rope_dim", 2, 65536, &v, d)))
            return rc;
        m->attn.rope_dim = (int)v;
        m->attn.kv_heads = 1; /* one latent shared by every head */
        m->attn.dk = m->attn.kv_lora + m->attn.rope_dim;
        m->attn.dv = m->attn.kv_lora;
        /* q_b (heads x dk columns) and o (heads x dv rows) in the fewest groups of heads the
         * device takes */
        int g = 1;
        while (g <= m->attn.heads &&
               (m->attn.heads % g || (long)(m->attn.heads / g) * m->attn.dk > (long)AIMC_MODEL_MAX_COLS))
            g++;
        if (g > m->attn.heads || g > 64)
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: model.attention: a head's %d "
                                 "dims cannot be split into at most 64 groups of heads of at most "
                                 "%u", doc->name, sec->line, sec->col, m->attn.dk,
                                 AIMC_MODEL_MAX_COLS);
        m->attn.groups = g;
    }
    if (m->attn.kind == AIMC_ATTN_MHA && (n = aimc_ymap_get(sec, "rope_dim"))) {
        if ((rc = aimc_ynode_int(doc, n, "model.attention.rope_dim", 0, m->attn.dk, &v, d)))
            return rc;
        m->attn.rope_dim = (int)v;
    }
    if (m->attn.kind == AIMC_ATTN_MHA &&
        (long)m->attn.heads * m->attn.dk > (long)AIMC_MODEL_MAX_COLS)
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: model.attention: %d heads of %d: the "
                             "queries are wider than the device's %u", doc->name, m->attn.heads,
                             m->attn.dk, AIMC_MODEL_MAX_COLS);
    if (m->attn.rope_dim % 2)
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: model.attention.rope_dim: %d is odd "
                             "(RoPE rotates pairs)", doc->name, m->attn.rope_dim);
    /* RoPE's base: above 1 as the device's ATTN takes it (float32 THETA > 1), at most 1e12:
     * the type and range as every number key, then the float32 rounding on its own */
    m->attn.rope_theta = 10000.0;
    if ((n = aimc_ymap_get(sec, "rope_theta"))) {
        double t;
        if ((rc = aimc_ynode_double(doc, n, "model.attention.rope_theta", 1.0, 1e12, &t, d)))
            return rc;
        if (!((float)t > 1.0f))
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: model.attention.rope_theta: "
                                 "expected a number whose float32 is above 1 (the device "
                                 "takes it in float32), got %.40s", doc->name, n->line, n->col,
                                 n->scalar);
        m->attn.rope_theta = t;
    }
    if ((n = aimc_ymap_get(sec, "rope_interleaved")) &&
        (rc = aimc_ynode_enum(doc, n, "model.attention.rope_interleaved", bools, 2,
                              &m->attn.rope_interleaved, d)))
        return rc;
    if ((n = aimc_ymap_get(sec, "qk_norm")) &&
        (rc = aimc_ynode_enum(doc, n, "model.attention.qk_norm", bools, 2, &m->attn.qk_norm, d)))
        return rc;
    /* The scores' scale: 1/sqrt(the query-key width); MLA's is that of its unabsorbed heads
     * (DeepSeek-V3 sets it with its rope scaling), so it is given. */
    m->attn.scale = 1.0 / sqrt((double)m->attn.dk);
    if ((n = aimc_ymap_get(sec, "softmax_scale")) &&
        (rc = aimc_ynode_double(doc, n, "model.attention.softmax_scale", 1e-6, 1e6,
                                &m->attn.scale, d)))
        return rc;
    return AIMC_OK;
}

static int parse_model_section(const aimc_ydoc *doc, const aimc_ynode *sec, aimc_model *m,
                               aimc_diag *d)
{
    static const char *const keys[] = {"name",         "layers", "d_model",
                                       "routed_experts", "expert_d_ff", "top_k",
                                       "shared_experts", "shared_d_ff", "ffn",
                                       "dense_layers", "dense_d_ff", "classes",
                                       "rms_norm_eps", "norm_weights", "routing",
                                       "shared_expert_gate", "attention", "vocab"};
    static const char *const bools[] = {"false", "true"};
    static const char *const ffn_names[] = {"swiglu"};
    const aimc_ynode *n;
    long v;
    int rc;

    if ((rc = aimc_ynode_expect_map(doc, sec, "model", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, sec, "model", keys, sizeof keys / sizeof keys[0], d)))
        return rc;
    if ((rc = get_required(doc, sec, "name", "model.name", &n, d))) return rc;
    if ((rc = aimc_ynode_str(doc, n, "model.name", m->name, sizeof m->name, d))) return rc;
    if ((rc = get_int(doc, sec, "layers", "model.layers", 1, MODEL_LAYERS_MAX, &v, d)))
        return rc;
    m->layers = (int)v;
    if ((rc = get_int(doc, sec, "d_model", "model.d_model", 1, MODEL_D_MODEL_MAX, &v, d)))
        return rc;
    m->d_model = (int)v;
    if ((rc = get_int(doc, sec, "routed_experts", "model.routed_experts", 1, MODEL_EXPERTS_MAX,
                      &v, d)))
        return rc;
    m->n_experts = (int)v;
    if ((rc = get_int(doc, sec, "expert_d_ff", "model.expert_d_ff", 1, MODEL_D_FF_MAX, &v, d)))
        return rc;
    m->d_ff = (int)v;
    /* top_k may not exceed routed_experts: the range says so. */
    if ((rc = get_int(doc, sec, "top_k", "model.top_k", 1, m->n_experts, &v, d))) return rc;
    m->top_k = (int)v;
    m->n_shared = 0;
    if ((n = aimc_ymap_get(sec, "shared_experts"))) {
        if ((rc = aimc_ynode_int(doc, n, "model.shared_experts", 0, MODEL_SHARED_MAX, &v, d)))
            return rc;
        m->n_shared = (int)v;
    }
    m->shared_d_ff = 0;
    n = aimc_ymap_get(sec, "shared_d_ff");
    if (!n && m->n_shared > 0)
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "%s: missing required key model.shared_d_ff "
                             "(model.shared_experts is %d)",
                             doc->name, m->n_shared);
    if (n) {
        if ((rc = aimc_ynode_int(doc, n, "model.shared_d_ff", 1, MODEL_D_FF_MAX, &v, d)))
            return rc;
        m->shared_d_ff = (int)v;
    }
    m->dense_layers = 0;
    m->dense_d_ff = 0;
    if ((n = aimc_ymap_get(sec, "dense_layers"))) {
        if ((rc = aimc_ynode_int(doc, n, "model.dense_layers", 0, m->layers - 1, &v, d)))
            return rc;
        m->dense_layers = (int)v;
    }
    n = aimc_ymap_get(sec, "dense_d_ff");
    if (!n && m->dense_layers > 0)
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "%s: missing required key model.dense_d_ff "
                             "(model.dense_layers is %d)",
                             doc->name, m->dense_layers);
    if (n) {
        if ((rc = aimc_ynode_int(doc, n, "model.dense_d_ff", 1, MODEL_D_FF_MAX, &v, d)))
            return rc;
        m->dense_d_ff = (int)v;
    }
    m->n_classes = 0;
    if ((n = aimc_ymap_get(sec, "classes"))) {
        if ((rc = aimc_ynode_int(doc, n, "model.classes", 2, MODEL_D_MODEL_MAX, &v, d)))
            return rc;
        m->n_classes = (int)v;
    }
    if ((n = aimc_ymap_get(sec, "ffn"))) {
        int kind;
        if ((rc = aimc_ynode_enum(doc, n, "model.ffn", ffn_names, 1, &kind, d))) return rc;
    }
    m->norm_eps = AIMC_MOE_RMS_EPS;
    if ((n = aimc_ymap_get(sec, "rms_norm_eps")) &&
        (rc = aimc_ynode_double(doc, n, "model.rms_norm_eps", 1e-30, 1.0, &m->norm_eps, d)))
        return rc;
    if ((n = aimc_ymap_get(sec, "norm_weights")) &&
        (rc = aimc_ynode_enum(doc, n, "model.norm_weights", bools, 2, &m->norm_weights, d)))
        return rc;
    if ((n = aimc_ymap_get(sec, "shared_expert_gate"))) {
        if ((rc = aimc_ynode_enum(doc, n, "model.shared_expert_gate", bools, 2, &m->shared_gate,
                                  d)))
            return rc;
        if (m->shared_gate && m->n_shared == 0)
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: model.shared_expert_gate: the "
                                 "model has no shared expert (model.shared_experts is 0)",
                                 doc->name, n->line, n->col);
    }
    if ((n = aimc_ymap_get(sec, "routing")) && (rc = parse_routing(doc, n, m, d))) return rc;
    if ((n = aimc_ymap_get(sec, "attention")) && (rc = parse_attention(doc, n, m, d))) return rc;
    if ((n = aimc_ymap_get(sec, "vocab"))) {
        if (m->n_classes)
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: model.vocab: a classifier "
                                 "(model.classes) has no vocabulary", doc->name, n->line, n->col);
        if ((rc = aimc_ynode_int(doc, n, "model.vocab", 2, MODEL_VOCAB_MAX, &v, d))) return rc;
        m->vocab = (int)v;
        m->n_classes = (int)v;
    }
    return AIMC_OK;
}

/* A path of a model file, relative to the file's directory unless absolute, into out;
 * non-zero when it does not fit. */
static int resolve_path(const char *file, const char *path, char *out, size_t cap)
{
    const char *slash = file ? strrchr(file, '/') : NULL;
    int w = path[0] != '/' && slash
                ? snprintf(out, cap, "%.*s/%s", (int)(slash - file), file, path)
                : snprintf(out, cap, "%s", path);
    return w < 0 || (size_t)w >= cap;
}

/* The name pattern keys (weights.safetensors.names), the placeholders each may hold and
 * where the loader keeps it. */
enum { PAT_LAYER = 1, PAT_EXPERT = 2, PAT_SHARED = 4 };
/* Which layers a pattern loads for: MoE layers, dense layers, every layer, none. */
enum { PAT_MOE = 0, PAT_DENSE, PAT_ALL, PAT_NONE };
typedef struct {
    const char *key;
    unsigned allowed;
    int layers;
} pat_key;
static const pat_key pat_keys[] = {
    {"router", PAT_LAYER, PAT_MOE},
    {"gate", PAT_LAYER | PAT_EXPERT, PAT_MOE},
    {"up", PAT_LAYER | PAT_EXPERT, PAT_MOE},
    {"down", PAT_LAYER | PAT_EXPERT, PAT_MOE},
    {"shared_gate", PAT_LAYER | PAT_SHARED, PAT_MOE},
    {"shared_up", PAT_LAYER | PAT_SHARED, PAT_MOE},
    {"shared_down", PAT_LAYER | PAT_SHARED, PAT_MOE},
    {"shared_expert_gate", PAT_LAYER | PAT_SHARED, PAT_MOE},
    {"dense_gate", PAT_LAYER, PAT_DENSE},
    {"dense_up", PAT_LAYER, PAT_DENSE},
    {"dense_down", PAT_LAYER, PAT_DENSE},
    {"head", 0, PAT_NONE},
    /* vectors, in aimc_vec_kind order */
    {"ffn_norm", PAT_LAYER, PAT_ALL},
    {"router_bias", PAT_LAYER, PAT_MOE},
    {"attn_norm", PAT_LAYER, PAT_ALL},
    {"q_norm", PAT_LAYER, PAT_ALL},
    {"k_norm", PAT_LAYER, PAT_ALL},
    {"q_a_norm", PAT_LAYER, PAT_ALL},
    {"kv_a_norm", PAT_LAYER, PAT_ALL},
    {"final_norm", 0, PAT_NONE},
    /* attention matrices, in aimc_mat_kind order from AIMC_MAT_Q */
    {"q", PAT_LAYER, PAT_ALL},
    {"k", PAT_LAYER, PAT_ALL},
    {"v", PAT_LAYER, PAT_ALL},
    {"o", PAT_LAYER, PAT_ALL},
    {"q_a", PAT_LAYER, PAT_ALL},
    {"q_b", PAT_LAYER, PAT_ALL},
    {"kv_a", PAT_LAYER, PAT_ALL},
    {"embed", 0, PAT_NONE},
};
#define N_PAT_KEYS (sizeof pat_keys / sizeof pat_keys[0])
#define PAT_VEC0 12
#define PAT_ATTN0 (PAT_VEC0 + AIMC_VEC_KINDS)

static char *pat_dst(aimc_model *m, size_t k)
{
    return k < 4           ? m->weights.names[k]
           : k < 8         ? m->weights.shared_names[k - 4]
           : k < 11        ? m->weights.dense_names[k - 8]
           : k == 11       ? m->weights.head_name
           : k < PAT_ATTN0 ? m->weights.vec_names[k - PAT_VEC0]
           : k < PAT_ATTN0 + 7 ? m->weights.attn_names[k - PAT_ATTN0]
                               : m->weights.embed_name;
}

/* Check pattern k of the names: only known placeholders, each allowed for its key, and every
 * index the model needs: {layer} when more than one layer loads it, {expert} for several
 * routed experts (none when stacked), {shared} for several shared experts. */
static int check_pattern(const aimc_ydoc *doc, const aimc_ynode *n, const aimc_model *m,
                         size_t k, const char *pat, aimc_diag *d)
{
    static const char *const ph[] = {"{layer}", "{expert}", "{shared}"};
    const char *key = pat_keys[k].key;
    unsigned has = 0;
    for (const char *p = strchr(pat, '{'); p; p = strchr(p + 1, '{')) {
        int found = -1;
        for (int i = 0; i < 3; i++)
            if (strncmp(p, ph[i], strlen(ph[i])) == 0) found = i;
        if (found < 0 || !(pat_keys[k].allowed & (1u << found)))
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: weights.safetensors.names.%s: "
                                 "%.*s is not a placeholder of this name (%s%s%s)", doc->name,
                                 n->line, n->col, key, (int)strcspn(p, "}") + (p[strcspn(p, "}")] ? 1 : 0), p,
                                 pat_keys[k].allowed & PAT_LAYER ? "{layer}" : "none",
                                 pat_keys[k].allowed & PAT_EXPERT ? ", {expert}" : "",
                                 pat_keys[k].allowed & PAT_SHARED ? ", {shared}" : "");
        has |= 1u << found;
    }
    const int layers = pat_keys[k].layers == PAT_DENSE ? m->dense_layers
                       : pat_keys[k].layers == PAT_ALL ? m->layers
                       : pat_keys[k].layers == PAT_MOE ? m->layers - m->dense_layers
                                                       : 1;
    if ((pat_keys[k].allowed & PAT_LAYER) && !(has & PAT_LAYER) && layers > 1)
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: weights.safetensors.names.%s: the "
                             "pattern has no {layer}, and %d layers load it: each would load "
                             "the same tensor", doc->name, n->line, n->col, key, layers);
    if (pat_keys[k].allowed & PAT_EXPERT) {
        if (m->weights.stacked && (has & PAT_EXPERT))
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: weights.safetensors.names.%s: "
                                 "has {expert}, but weights.safetensors.stacked is true: one "
                                 "tensor [experts, out, in] holds every expert", doc->name,
                                 n->line, n->col, key);
        if (!m->weights.stacked && !(has & PAT_EXPERT) && m->n_experts > 1)
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: weights.safetensors.names.%s: the "
                                 "pattern has no {expert}, and the model has %d routed experts: "
                                 "each would load the same tensor (a tensor [experts, out, in] "
                                 "of all of them needs weights.safetensors.stacked: true)",
                                 doc->name, n->line, n->col, key, m->n_experts);
    }
    if ((pat_keys[k].allowed & PAT_SHARED) && !(has & PAT_SHARED) && m->n_shared > 1)
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: weights.safetensors.names.%s: the "
                             "pattern has no {shared}, and the model has %d shared experts: "
                             "each would load the same tensor", doc->name, n->line, n->col, key,
                             m->n_shared);
    return AIMC_OK;
}

/* weights.safetensors: {path, transpose, stacked, fp8_block, names: {...}} (docs/models.md). */
static int parse_safetensors_section(const aimc_ydoc *doc, const aimc_ynode *sec, aimc_model *m,
                                     aimc_diag *d)
{
    static const char *const keys[] = {"path", "transpose", "stacked", "fp8_block", "names"};
    static const char *const bools[] = {"false", "true"};
    const char *nkeys[N_PAT_KEYS];
    const aimc_ynode *n, *names;
    char path[512];
    long v;
    int rc;
    for (size_t k = 0; k < N_PAT_KEYS; k++) nkeys[k] = pat_keys[k].key;
    if ((rc = aimc_ynode_expect_map(doc, sec, "weights.safetensors", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, sec, "weights.safetensors", keys, 5, d))) return rc;
    if ((rc = get_required(doc, sec, "path", "weights.safetensors.path", &n, d))) return rc;
    if ((rc = aimc_ynode_str(doc, n, "weights.safetensors.path", path, sizeof path, d)))
        return rc;
    if (resolve_path(doc->name, path, m->weights.path, sizeof m->weights.path))
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: weights.safetensors.path: longer than %zu "
                             "bytes with the model file's directory", doc->name,
                             sizeof m->weights.path - 1);
    m->weights.transpose = 1;
    if ((n = aimc_ymap_get(sec, "transpose"))) {
        int b;
        if ((rc = aimc_ynode_enum(doc, n, "weights.safetensors.transpose", bools, 2, &b, d)))
            return rc;
        m->weights.transpose = b;
    }
    if ((n = aimc_ymap_get(sec, "stacked")) &&
        (rc = aimc_ynode_enum(doc, n, "weights.safetensors.stacked", bools, 2,
                              &m->weights.stacked, d)))
        return rc;
    m->weights.fp8_block = 128; /* DeepSeek-V3: quantization_config.weight_block_size [128, 128] */
    if ((n = aimc_ymap_get(sec, "fp8_block"))) {
        if ((rc = aimc_ynode_int(doc, n, "weights.safetensors.fp8_block", 1, 65536, &v, d)))
            return rc;
        m->weights.fp8_block = (int)v;
    }
    if ((rc = get_required(doc, sec, "names", "weights.safetensors.names", &names, d)))
        return rc;
    if ((rc = aimc_ynode_expect_map(doc, names, "weights.safetensors.names", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, names, "weights.safetensors.names", nkeys, N_PAT_KEYS, d)))
        return rc;
    for (size_t k = 0; k < N_PAT_KEYS; k++) {
        char *dst = pat_dst(m, k);
        char key[64];
        snprintf(key, sizeof key, "weights.safetensors.names.%s", nkeys[k]);
        dst[0] = '\0';
        if (!(n = aimc_ymap_get(names, nkeys[k]))) continue;
        if ((rc = aimc_ynode_str(doc, n, key, dst, sizeof m->weights.names[0], d)) ||
            (rc = check_pattern(doc, n, m, k, dst, d)))
            return rc;
    }
    m->weights.source = AIMC_WSRC_SAFETENSORS;
    return AIMC_OK;
}

static int parse_weights_section(const aimc_ydoc *doc, const aimc_ynode *sec, aimc_model *m,
                                 aimc_diag *d)
{
    static const char *const keys[] = {"random", "safetensors"};
    static const char *const rkeys[] = {"seed", "distribution"};
    static const char *const dist_names[] = {"normal", "uniform"};
    const aimc_ynode *rnd, *n;
    long v;
    int rc;

    if ((rc = aimc_ynode_expect_map(doc, sec, "weights", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, sec, "weights", keys, 2, d))) return rc;
    if ((n = aimc_ymap_get(sec, "safetensors"))) {
        if (aimc_ymap_get(sec, "random"))
            return aimc_diag_set(d, AIMC_ERR_CONFIG,
                                 "%s: weights: give random or safetensors, not both", doc->name);
        return parse_safetensors_section(doc, n, m, d);
    }
    if ((rc = get_required(doc, sec, "random", "weights.random", &rnd, d))) return rc;
    if ((rc = aimc_ynode_expect_map(doc, rnd, "weights.random", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, rnd, "weights.random", rkeys, 2, d))) return rc;
    if ((rc = get_int(doc, rnd, "seed", "weights.random.seed", 0, LONG_MAX, &v, d)))
        return rc;
    m->weights.seed = (uint64_t)v;
    m->weights.distribution = AIMC_DIST_NORMAL;
    if ((n = aimc_ymap_get(rnd, "distribution"))) {
        int dist;
        if ((rc = aimc_ynode_enum(doc, n, "weights.random.distribution", dist_names, 2, &dist,
                                  d)))
            return rc;
        m->weights.distribution = (aimc_dist)dist;
    }
    return AIMC_OK;
}

/* eval: {data, scale, test_every} (docs/models.md): the data set a classifier is scored on. */
static int parse_eval_section(const aimc_ydoc *doc, const aimc_ynode *sec, aimc_model *m,
                              aimc_diag *d)
{
    static const char *const keys[] = {"data", "scale", "test_every", "text", "context"};
    const aimc_ynode *n;
    char path[512];
    long v;
    int rc;
    if ((rc = aimc_ynode_expect_map(doc, sec, "eval", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, sec, "eval", keys, 5, d))) return rc;
    if (m->n_classes == 0)
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: eval: needs model.classes",
                             doc->name, sec->line, sec->col);
    if (m->vocab) { /* a language model: held-out text in windows */
        if ((rc = get_required(doc, sec, "text", "eval.text", &n, d))) return rc;
        if ((rc = aimc_ynode_str(doc, n, "eval.text", path, sizeof path, d))) return rc;
        if (resolve_path(doc->name, path, m->eval.text, sizeof m->eval.text))
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: eval.text: longer than %zu bytes with "
                                 "the model file's directory", doc->name, sizeof m->eval.text - 1);
        m->eval.test_every = 10;
        if ((n = aimc_ymap_get(sec, "test_every"))) {
            if ((rc = aimc_ynode_int(doc, n, "eval.test_every", 2, 1000000, &v, d))) return rc;
            m->eval.test_every = (int)v;
        }
        m->eval.context = 64;
        if ((n = aimc_ymap_get(sec, "context"))) {
            if ((rc = aimc_ynode_int(doc, n, "eval.context", 2, 65536, &v, d))) return rc;
            m->eval.context = (int)v;
        }
        return AIMC_OK;
    }
    if ((rc = get_required(doc, sec, "data", "eval.data", &n, d))) return rc;
    if ((rc = aimc_ynode_str(doc, n, "eval.data", path, sizeof path, d))) return rc;
    if (resolve_path(doc->name, path, m->eval.data, sizeof m->eval.data))
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: eval.data: longer than %zu bytes with the "
                             "model file's directory", doc->name, sizeof m->eval.data - 1);
    m->eval.scale = 1.0;
    if ((n = aimc_ymap_get(sec, "scale")) &&
        (rc = aimc_ynode_double(doc, n, "eval.scale", 1e-30, 1e30, &m->eval.scale, d)))
        return rc;
    m->eval.test_every = 5;
    if ((n = aimc_ymap_get(sec, "test_every"))) {
        if ((rc = aimc_ynode_int(doc, n, "eval.test_every", 2, 1000000, &v, d))) return rc;
        m->eval.test_every = (int)v;
    }
    return AIMC_OK;
}

/* Build a model from a parsed document; the caller frees doc. */
static int model_from_doc(const aimc_ydoc *doc, int with_weights, aimc_model **out,
                          aimc_diag *d)
{
    static const char *const keys[] = {"version", "model", "weights", "eval"};
    const aimc_ynode *root = doc->root, *n;
    long v;
    int rc;

    if (!root) return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: empty model file", doc->name);
    if ((rc = aimc_ynode_expect_map(doc, root, "", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, root, "", keys, sizeof keys / sizeof keys[0], d)))
        return rc;
    if ((rc = get_int(doc, root, "version", "version", MODEL_VERSION, MODEL_VERSION, &v, d)))
        return rc;

    aimc_model *m = calloc(1, sizeof *m);
    if (!m) return aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", doc->name);
    m->weights.seed = 1;
    m->weights.distribution = AIMC_DIST_NORMAL;
    if ((rc = get_required(doc, root, "model", "model", &n, d))) goto out_free;
    if ((rc = parse_model_section(doc, n, m, d))) goto out_free;
    if ((n = aimc_ymap_get(root, "weights")) && (rc = parse_weights_section(doc, n, m, d)))
        goto out_free;
    if ((n = aimc_ymap_get(root, "eval")) && (rc = parse_eval_section(doc, n, m, d)))
        goto out_free;
    if (m->attn.kind == AIMC_ATTN_MLA && m->weights.source == AIMC_WSRC_SAFETENSORS) {
        /* The absorbed matrices are products of a checkpoint's (q_b_proj with kv_b_proj's key
         * part, o_proj with its value part): not derived here yet. */
        rc = aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s: model.attention.kind mla: weights from "
                           "safetensors are not supported (random weights or shapes only)",
                           doc->name);
        goto out_free;
    }
    if ((rc = model_expand(m, with_weights, doc->name, d))) goto out_free;
    if (with_weights && m->weights.source == AIMC_WSRC_SAFETENSORS &&
        (rc = aimc_model_load_safetensors(m, m->weights.path, d)))
        goto out_free;
    *out = m;
    return AIMC_OK;

out_free:
    aimc_model_free(m);
    return rc;
}

/* Load a model from YAML text; name is the file name used in messages. *out is NULL on
 * failure (AIMC_ERR_PARSE, _CONFIG, _NOMEM, _INVALID); the caller frees *out. */
int aimc_model_load_string(const char *text, const char *name, int with_weights,
                           aimc_model **out, aimc_diag *d)
{
    if (!out) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_model_load_string: out is NULL");
    *out = NULL;
    if (!text) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_model_load_string: text is NULL");
    aimc_ydoc *doc = NULL;
    int rc = aimc_ydoc_load_string(text, strlen(text), name ? name : "<string>", &doc, d);
    if (rc) return rc;
    rc = model_from_doc(doc, with_weights, out, d);
    aimc_ydoc_free(doc);
    return rc;
}

/* Load a model file; as aimc_model_load_string, plus AIMC_ERR_IO for an unreadable file. */
int aimc_model_load(const char *path, int with_weights, aimc_model **out, aimc_diag *d)
{
    if (!out) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_model_load: out is NULL");
    *out = NULL;
    if (!path) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_model_load: path is NULL");
    aimc_ydoc *doc = NULL;
    int rc = aimc_ydoc_load_file(path, &doc, d);
    if (rc) return rc;
    rc = model_from_doc(doc, with_weights, out, d);
    aimc_ydoc_free(doc);
    return rc;
}
