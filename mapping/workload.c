/* workload.c - the steps of an MoE layer (aimc_workload.h): the one place that says which
 * matrices run, in which order, on which tensors. */
#include "aimc_workload.h"

#include <math.h>
#include <string.h>

static aimc_wl_step step(aimc_wl_op op, long matrix, aimc_wl_tensor in0, aimc_wl_tensor in1,
                         aimc_wl_tensor in2, aimc_wl_tensor out, uint32_t rows, uint32_t dim)
{
    aimc_wl_step s;
    memset(&s, 0, sizeof s);
    s.op = op;
    s.matrix = matrix;
    s.in[0] = in0;
    s.in[1] = in1;
    s.in[2] = in2;
    s.out = out;
    s.rows = rows;
    s.dim = dim;
    s.vector = -1;
    return s;
}

/* A norm of dim values per row with the learned weight of (layer, kind) if the model has
 * one: RMSNORM when there is none and the eps is the default (and the rows are contiguous),
 * else NORM. */
static aimc_wl_step norm_of(const aimc_model *m, int layer, aimc_vec_kind kind, aimc_wl_tensor in,
                            aimc_wl_tensor out, uint32_t tokens, uint32_t dim, uint32_t stride)
{
    const aimc_wl_tensor no = AIMC_WL_NONE;
    const long w = m->norm_weights ? aimc_model_vector(m, layer, kind) : -1;
    const double eps = aimc_model_norm_eps(m);
    if (w < 0 && eps == AIMC_MOE_RMS_EPS && (stride == 0 || stride == dim))
        return step(AIMC_WL_RMSNORM, -1, in, no, no, out, tokens, dim);
    aimc_wl_step s = step(AIMC_WL_NORM, -1, in, no, no, out, tokens, dim);
    s.vector = w;
    s.k = w >= 0;
    s.eps = eps;
    s.stride = stride;
    return s;
}

/* The norm of layer l before its FFN. */
static aimc_wl_step norm_step(const aimc_model *m, int layer, aimc_wl_tensor in,
                              aimc_wl_tensor out, uint32_t tokens)
{
    return norm_of(m, layer, AIMC_VEC_FFN_NORM, in, out, tokens, (uint32_t)m->d_model, 0);
}

int aimc_wl_route(const aimc_model *m, int layer, uint32_t tokens, aimc_wl_phase *out,
                  aimc_diag *d)
{
    const long router = aimc_model_find(m, layer, AIMC_MAT_ROUTER, -1);
    if (router < 0)
        return aimc_diag_set(d, AIMC_ERR_NOTFOUND, "%s: layer %d has no router", m->name, layer);
    const uint32_t dm = (uint32_t)m->d_model, ne = (uint32_t)m->n_experts;
    const aimc_wl_tensor no = AIMC_WL_NONE;
    out->n = 0;
    out->s[out->n++] = norm_step(m, layer, AIMC_WL_X, AIMC_WL_N, tokens);
    out->s[out->n++] = step(AIMC_WL_MVM, router, AIMC_WL_N, no, no, AIMC_WL_LOGITS, tokens, dm);
    aimc_wl_step *t = &out->s[out->n++];
    if (aimc_moe_rule_is_default(&m->rule)) {
        *t = step(AIMC_WL_TOPK, -1, AIMC_WL_LOGITS, no, no, AIMC_WL_IDX, tokens, ne);
    } else {
        *t = step(AIMC_WL_ROUTE, -1, AIMC_WL_LOGITS, no, no, AIMC_WL_IDX, tokens, ne);
        t->vector = m->rule.bias ? aimc_model_vector(m, layer, AIMC_VEC_ROUTER_BIAS) : -1;
    }
    t->k = (uint32_t)m->top_k;
    return AIMC_OK;
}

int aimc_wl_expert(const aimc_model *m, int layer, int expert, uint32_t tokens, uint32_t n,
                   aimc_wl_phase *out, aimc_diag *d)
{
    const long g = aimc_model_find(m, layer, AIMC_MAT_GATE, expert);
    const long u = aimc_model_find(m, layer, AIMC_MAT_UP, expert);
    const long dn = aimc_model_find(m, layer, AIMC_MAT_DOWN, expert);
    if (g < 0 || u < 0 || dn < 0)
        return aimc_diag_set(d, AIMC_ERR_NOTFOUND, "%s: layer %d expert %d has no feed-forward "
                             "matrices", m->name, layer, expert);
    const uint32_t dm = (uint32_t)m->d_model, ff = m->m[g].cols;
    const int shared = expert >= m->n_experts;
    const aimc_wl_tensor no = AIMC_WL_NONE;
    out->n = 0;
    aimc_wl_step *s = &out->s[out->n++];
    *s = step(AIMC_WL_GATHER, -1, AIMC_WL_N, AIMC_WL_TOK, no, AIMC_WL_XE, n, dm);
    s->src_rows = tokens;
    out->s[out->n++] = step(AIMC_WL_MVM, g, AIMC_WL_XE, no, no, AIMC_WL_G, n, dm);
    out->s[out->n++] = step(AIMC_WL_MVM, u, AIMC_WL_XE, no, no, AIMC_WL_U, n, dm);
    out->s[out->n++] = step(AIMC_WL_SILU_MUL, -1, AIMC_WL_G, AIMC_WL_U, no, AIMC_WL_H, n, ff);
    out->s[out->n++] = step(AIMC_WL_MVM, dn, AIMC_WL_H, no, no, AIMC_WL_O, n, ff);
    const long sg = shared ? aimc_model_find(m, layer, AIMC_MAT_SGATE, expert) : -1;
    if (sg >= 0) { /* Qwen's gated shared expert: its weight is sigmoid(XE W_sgate) */
        out->s[out->n++] = step(AIMC_WL_MVM, sg, AIMC_WL_XE, no, no, AIMC_WL_SG, n, dm);
        out->s[out->n++] = step(AIMC_WL_SIGMOID, -1, AIMC_WL_SG, no, no, AIMC_WL_SG, n, 1);
    }
    s = &out->s[out->n++];
    *s = step(AIMC_WL_SCALE_ACC, -1, AIMC_WL_O, AIMC_WL_TOK,
              sg >= 0 ? AIMC_WL_SG : shared ? no : AIMC_WL_W, AIMC_WL_X, n, dm);
    s->src_rows = tokens;
    return AIMC_OK;
}

int aimc_wl_head(const aimc_model *m, uint32_t tokens, aimc_wl_phase *out, aimc_diag *d)
{
    const long head = aimc_model_head(m);
    if (head < 0) return aimc_diag_set(d, AIMC_ERR_NOTFOUND, "%s: no classifier head", m->name);
    const aimc_wl_tensor no = AIMC_WL_NONE;
    const uint32_t dm = (uint32_t)m->d_model;
    out->n = 0;
    if (m->vocab) {
        out->s[out->n++] = norm_of(m, -1, AIMC_VEC_FINAL_NORM, AIMC_WL_X, AIMC_WL_N, tokens, dm, 0);
        uint32_t off = 0;
        for (int p = 0; p < m->head_parts && out->n < AIMC_WL_MAX_STEPS; p++) {
            aimc_wl_step *s = &out->s[out->n++];
            *s = step(AIMC_WL_MVM, head + p, AIMC_WL_N, no, no, AIMC_WL_OUT, tokens, dm);
            s->out_off = off;
            off += tokens * m->m[head + p].cols;
        }
        return AIMC_OK;
    }
    out->s[out->n++] = step(AIMC_WL_MVM, head, AIMC_WL_X, no, no, AIMC_WL_OUT, tokens, dm);
    return AIMC_OK;
}

int aimc_wl_attention(const aimc_model *m, int layer, uint32_t tokens, aimc_wl_phase *out,
                      aimc_diag *d)
{
    const int mla = m->attn.kind == AIMC_ATTN_MLA;
    const long q = aimc_model_find(m, layer, mla ? AIMC_MAT_QA : AIMC_MAT_Q, AIMC_EXPERT_ATTN);
    const long k = aimc_model_find(m, layer, mla ? AIMC_MAT_QB : AIMC_MAT_K, AIMC_EXPERT_ATTN);
    const long v = aimc_model_find(m, layer, mla ? AIMC_MAT_KVA : AIMC_MAT_V, AIMC_EXPERT_ATTN);
    const long o = aimc_model_find(m, layer, AIMC_MAT_O, AIMC_EXPERT_ATTN);
    if (q < 0 || k < 0 || v < 0 || o < 0)
        return aimc_diag_set(d, AIMC_ERR_NOTFOUND, "%s: layer %d has no attention", m->name, layer);
    const aimc_wl_tensor no = AIMC_WL_NONE;
    const uint32_t dm = (uint32_t)m->d_model, T = tokens;
    uint32_t rowk, rowv;
    aimc_model_kv_row(m, &rowk, &rowv);
    out->n = 0;
    out->s[out->n++] = norm_of(m, layer, AIMC_VEC_ATTN_NORM, AIMC_WL_X, AIMC_WL_N, T, dm, 0);
    const int G = mla && m->attn.groups > 1 ? m->attn.groups : 1;
    const uint32_t Hg = (uint32_t)(m->attn.heads / G);
    if (mla) {
        const uint32_t ql = (uint32_t)m->attn.q_lora, kl = (uint32_t)m->attn.kv_lora;
        out->s[out->n++] = step(AIMC_WL_MVM, q, AIMC_WL_N, no, no, AIMC_WL_CQ, T, dm);
        out->s[out->n++] = norm_of(m, layer, AIMC_VEC_QA_NORM, AIMC_WL_CQ, AIMC_WL_CQ, T, ql, 0);
        for (int g = 0; g < G; g++) { /* each group's queries, a block T x its heads */
            const long qb = aimc_model_find_part(m, layer, AIMC_MAT_QB, AIMC_EXPERT_ATTN, g);
            if (qb < 0) return aimc_diag_set(d, AIMC_ERR_NOTFOUND, "%s: layer %d has no q_b.%d",
                                             m->name, layer, g);
            aimc_wl_step *s = &out->s[out->n++];
            *s = step(AIMC_WL_MVM, qb, AIMC_WL_CQ, no, no, AIMC_WL_Q, T, ql);
            s->out_off = (uint32_t)g * T * Hg * (uint32_t)m->attn.dk;
        }
        out->s[out->n++] = step(AIMC_WL_MVM, v, AIMC_WL_N, no, no, AIMC_WL_KV, T, dm);
        out->s[out->n++] = norm_of(m, layer, AIMC_VEC_KVA_NORM, AIMC_WL_KV, AIMC_WL_KV, T, kl, rowk);
    } else {
        out->s[out->n++] = step(AIMC_WL_MVM, q, AIMC_WL_N, no, no, AIMC_WL_Q, T, dm);
        out->s[out->n++] = step(AIMC_WL_MVM, k, AIMC_WL_N, no, no, AIMC_WL_KV, T, dm);
        aimc_wl_step *s = &out->s[out->n++];
        *s = step(AIMC_WL_MVM, v, AIMC_WL_N, no, no, AIMC_WL_KV, T, dm);
        s->out_off = T * rowk;
        if (m->attn.qk_norm) {
            out->s[out->n++] = norm_of(m, layer, AIMC_VEC_Q_NORM, AIMC_WL_Q, AIMC_WL_Q, T,
                                       (uint32_t)(m->attn.heads * m->attn.dk), 0);
            out->s[out->n++] = norm_of(m, layer, AIMC_VEC_K_NORM, AIMC_WL_KV, AIMC_WL_KV, T, rowk, 0);
        }
    }
    for (int g = 0; g < G; g++) {
        aimc_wl_step *a = &out->s[out->n++];
        *a = step(AIMC_WL_ATTN, -1, AIMC_WL_Q, AIMC_WL_KV, no, AIMC_WL_A, T,
                  Hg * (uint32_t)m->attn.dk);
        a->layer = layer;
        a->part = g;
        a->in_off = (uint32_t)g * T * Hg * (uint32_t)m->attn.dk;
        a->out_off = (uint32_t)g * T * Hg * (uint32_t)m->attn.dv;
    }
    for (int g = 0; g < G; g++) { /* each group's projection, added into X */
        const long og = aimc_model_find_part(m, layer, AIMC_MAT_O, AIMC_EXPERT_ATTN, g);
        if (og < 0) return aimc_diag_set(d, AIMC_ERR_NOTFOUND, "%s: layer %d has no o.%d",
                                         m->name, layer, g);
        aimc_wl_step *s = &out->s[out->n++];
        *s = step(AIMC_WL_MVM, og, AIMC_WL_A, no, no, AIMC_WL_AO, T, Hg * (uint32_t)m->attn.dv);
        s->in_off = (uint32_t)g * T * Hg * (uint32_t)m->attn.dv;
        aimc_wl_step *r = &out->s[out->n++];
        *r = step(AIMC_WL_SCALE_ACC, -1, AIMC_WL_AO, no, no, AIMC_WL_X, T, dm);
        r->src_rows = T;
    }
    return AIMC_OK;
}

int aimc_wl_dense(const aimc_model *m, int layer, uint32_t tokens, aimc_wl_phase *out,
                  aimc_diag *d)
{
    const long g = aimc_model_find(m, layer, AIMC_MAT_GATE, AIMC_EXPERT_DENSE);
    const long u = aimc_model_find(m, layer, AIMC_MAT_UP, AIMC_EXPERT_DENSE);
    const long dn = aimc_model_find(m, layer, AIMC_MAT_DOWN, AIMC_EXPERT_DENSE);
    if (g < 0 || u < 0 || dn < 0)
        return aimc_diag_set(d, AIMC_ERR_NOTFOUND, "%s: layer %d is not a dense layer", m->name,
                             layer);
    const aimc_wl_tensor no = AIMC_WL_NONE;
    const uint32_t dm = (uint32_t)m->d_model, ff = m->m[g].cols, T = tokens;
    out->n = 0;
    out->s[out->n++] = norm_step(m, layer, AIMC_WL_X, AIMC_WL_N, T);
    out->s[out->n++] = step(AIMC_WL_MVM, g, AIMC_WL_N, no, no, AIMC_WL_G, T, dm);
    out->s[out->n++] = step(AIMC_WL_MVM, u, AIMC_WL_N, no, no, AIMC_WL_U, T, dm);
    out->s[out->n++] = step(AIMC_WL_SILU_MUL, -1, AIMC_WL_G, AIMC_WL_U, no, AIMC_WL_H, T, ff);
    out->s[out->n++] = step(AIMC_WL_MVM, dn, AIMC_WL_H, no, no, AIMC_WL_O, T, ff);
    aimc_wl_step *s = &out->s[out->n++];
    *s = step(AIMC_WL_SCALE_ACC, -1, AIMC_WL_O, no, no, AIMC_WL_X, T, dm);
    s->src_rows = T;
    return AIMC_OK;
}

void aimc_wl_shape(const aimc_model *m, const aimc_wl_step *s, aimc_wl_tensor t,
                   uint32_t *rows, uint32_t *cols)
{
    const uint32_t dm = (uint32_t)m->d_model;
    *rows = s->rows;
    *cols = 1;
    switch (t) {
    case AIMC_WL_X:
    case AIMC_WL_N:
        *rows = s->op == AIMC_WL_GATHER || s->op == AIMC_WL_SCALE_ACC ? s->src_rows : s->rows;
        *cols = dm;
        break;
    case AIMC_WL_LOGITS: *cols = (uint32_t)m->n_experts; break;
    case AIMC_WL_IDX:
    case AIMC_WL_P: *cols = s->k ? s->k : (uint32_t)m->top_k; break;
    case AIMC_WL_TOK:
    case AIMC_WL_W: *cols = 1; break;
    case AIMC_WL_XE:
    case AIMC_WL_O: *cols = dm; break;
    case AIMC_WL_G:
    case AIMC_WL_U:
    case AIMC_WL_H:
        *cols = s->op == AIMC_WL_MVM ? m->m[s->matrix].cols : s->dim;
        if (s->op == AIMC_WL_MVM && t == AIMC_WL_H) *cols = m->m[s->matrix].rows;
        break;
    case AIMC_WL_SG: *cols = 1; break;
    case AIMC_WL_OUT:
        *cols = (uint32_t)m->n_classes;
        if (s->op == AIMC_WL_MVM) *cols = m->m[s->matrix].cols; /* a head part's */
        break;
    case AIMC_WL_Q: *cols = (uint32_t)(m->attn.heads * m->attn.dk); break;
    case AIMC_WL_KV: {
        uint32_t k, v;
        aimc_model_kv_row(m, &k, &v);
        *cols = k + v;
        break;
    }
    case AIMC_WL_CQ: *cols = (uint32_t)m->attn.q_lora; break;
    case AIMC_WL_A: *cols = (uint32_t)(m->attn.heads * m->attn.dv); break;
    case AIMC_WL_AO: *cols = dm; break;
    default: *rows = *cols = 0; break;
    }
}

int aimc_wl_host_reads(aimc_wl_tensor t)
{
    return t == AIMC_WL_IDX || t == AIMC_WL_P || t == AIMC_WL_OUT;
}

int aimc_wl_expert_tensor(aimc_wl_tensor t)
{
    return t >= AIMC_WL_TOK && t <= AIMC_WL_SG;
}

int aimc_wl_routes(aimc_wl_op op)
{
    return op == AIMC_WL_TOPK || op == AIMC_WL_ROUTE;
}

static int phase_needs_2_1(const aimc_wl_phase *ph)
{
    for (int i = 0; i < ph->n; i++)
        if (ph->s[i].op == AIMC_WL_NORM || ph->s[i].op == AIMC_WL_ROUTE ||
            ph->s[i].op == AIMC_WL_SIGMOID || ph->s[i].op == AIMC_WL_ATTN)
            return 1;
    return 0;
}

uint32_t aimc_wl_map_version(const aimc_model *m)
{
    aimc_wl_phase ph;
    int need = 0;
    for (int l = 0; l < m->layers && !need; l++) {
        if (aimc_wl_attention(m, l, 1, &ph, NULL) == AIMC_OK) need |= phase_needs_2_1(&ph);
        if (aimc_wl_dense(m, l, 1, &ph, NULL) == AIMC_OK) {
            need |= phase_needs_2_1(&ph);
            continue;
        }
        if (aimc_wl_route(m, l, 1, &ph, NULL) == AIMC_OK) need |= phase_needs_2_1(&ph);
        /* a routed expert and every shared one (the shared experts' gates) */
        for (int e = 0; e <= m->n_shared && !need; e++)
            if (aimc_wl_expert(m, l, e ? m->n_experts + e - 1 : 0, 1, 1, &ph, NULL) == AIMC_OK)
                need |= phase_needs_2_1(&ph);
    }
    if (aimc_wl_head(m, 1, &ph, NULL) == AIMC_OK) need |= phase_needs_2_1(&ph);
    return need ? 0x00020001u : 0x00020000u;
}

/* The elements of every input and output of a phase's steps (each tensor of each step once). */
static double phase_elements(const aimc_model *m, const aimc_wl_phase *ph)
{
    double el = 0;
    for (int i = 0; i < ph->n; i++) {
        const aimc_wl_step *s = &ph->s[i];
        aimc_wl_tensor ts[4] = {s->in[0], s->in[1], s->in[2], s->out};
        for (int t = 0; t < 4; t++) {
            if (ts[t] == AIMC_WL_NONE) continue;
            uint32_t r, c;
            aimc_wl_shape(m, s, ts[t], &r, &c);
            el += (double)r * c;
        }
    }
    return el;
}

void aimc_wl_gpu_step(const aimc_model *m, const aimc_routing *routing, double tokens,
                      double bytes_per_weight, double *bytes, double *flops)
{
    double wbytes = 0, macs = 0, act = 0;
    const int moe0 = m->dense_layers;
    for (size_t i = 0; i < m->n_matrices; i++) {
        const aimc_matrix *mx = &m->m[i];
        const double w = (double)mx->rows * mx->cols;
        const int routed = mx->layer >= moe0 && mx->kind != AIMC_MAT_ROUTER &&
                           mx->kind != AIMC_MAT_HEAD && mx->expert >= 0 &&
                           mx->expert < m->n_experts;
        if (!routed) { /* router, shared experts, dense layers, head: every token */
            wbytes += w * bytes_per_weight;
            macs += w * tokens;
            continue;
        }
        const int l = mx->layer - moe0;
        const double p = routing && l < routing->layers && mx->expert < routing->experts
                             ? routing->p[(size_t)l * routing->experts + mx->expert]
                             : (double)m->top_k / m->n_experts;
        wbytes += w * bytes_per_weight * (1.0 - pow(1.0 - p, tokens)); /* touched at all */
        macs += w * tokens * p;
    }
    /* Activations: each MoE layer's route phase for the group, its experts' phases for their
     * expected tokens (the phases' tensors per row, times the rows), the head. */
    aimc_wl_phase ph;
    aimc_diag d = {{0}};
    for (int l = moe0; l < m->layers; l++) {
        if (aimc_wl_route(m, l, 1, &ph, &d) == AIMC_OK) act += tokens * phase_elements(m, &ph);
        for (int e = 0; e < m->n_experts + m->n_shared; e++) {
            if (aimc_wl_expert(m, l, e, 1, 1, &ph, &d) != AIMC_OK) continue;
            const int li = l - moe0;
            const double p = e >= m->n_experts ? 1.0
                             : routing && li < routing->layers && e < routing->experts
                                 ? routing->p[(size_t)li * routing->experts + e]
                                 : (double)m->top_k / m->n_experts;
            act += tokens * p * phase_elements(m, &ph);
        }
    }
    if (aimc_wl_head(m, 1, &ph, &d) == AIMC_OK) act += tokens * phase_elements(m, &ph);
    *bytes = wbytes + act * 2.0;
    *flops = 2.0 * macs;
}
