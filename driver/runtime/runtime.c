/* runtime.c - an MoE model's forward pass through the driver (aimc_rt.h): the steps of
 * mapping/aimc_workload.h as device commands on buffer objects, tokens streaming through the
 * layers in groups; the host moves the tokens in, reads the routing decisions to make each
 * expert's token list, and reads what it measures. The reference runs the same steps in
 * double precision. */
#include "aimc_rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_moe.h"
#include "aimc_workload.h"
#include "rng.h"

#define RT_RNG_DOMAIN_ROUTE 100 /* timing-only routing draws: (seed, token, MoE layer) */

/* ---- programming ---------------------------------------------------------------------- */

int aimc_rt_program(aimc_dev *dev, const aimc_arch *arch, const aimc_model *model,
                    const aimc_plan *plan, const aimc_weights_opts *opts,
                    aimc_weights_report *total, aimc_diag *d)
{
    if (total) memset(total, 0, sizeof *total);
    double sq = 0; /* sum of squared conductance errors, for the total's rms */
    aimc_dev_info info;
    if (!plan->tiles && !arch)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "a shape-only plan needs the machine's arch");
    int rc = aimc_query(dev, &info);
    if (rc != AIMC_OK) return aimc_diag_set(d, rc, "querying the device: %s", aimc_strerror(rc));
    if (model->n_matrices > info.max_matrices)
        return aimc_diag_set(d, AIMC_ERR_NOFIT, "model %s has %zu matrices, the device holds at "
                             "most %u (CAP_MAX_MATRICES)", model->name, model->n_matrices,
                             info.max_matrices);
    aimc_tile *made = NULL;
    size_t made_cap = 0;
    for (size_t i = 0; i < model->n_matrices && rc == AIMC_OK; i++) {
        const aimc_matrix *m = &model->m[i];
        if (!m->w && !info.timing_only) {
            rc = aimc_diag_set(d, AIMC_ERR_INVALID, "matrix %s has no weights", m->name);
            break;
        }
        const aimc_tile *tiles = plan->tiles ? plan->tiles + plan->first[i] : NULL;
        const size_t n = plan->count[i];
        if (!tiles) {
            /* A shape-only plan keeps runs: make this matrix's tiles (replica 0) from them. */
            if (n > made_cap) {
                aimc_tile *t = realloc(made, n * sizeof *t);
                if (!t) {
                    rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for %zu tiles", n);
                    break;
                }
                made = t;
                made_cap = n;
            }
            size_t k = 0;
            for (size_t r = 0; r < plan->n_runs; r++) {
                const aimc_run *ru = &plan->runs[r];
                if (ru->matrix != i || ru->replica != 0) continue;
                for (uint32_t j = 0; j < ru->n && k < n; j++)
                    aimc_run_tile(arch, model, ru, j, &made[k++]);
            }
            tiles = made;
        }
        aimc_weights_report rep = {0};
        rc = aimc_weights_program(dev, (uint32_t)i, m->w, m->rows, m->cols, tiles, n, opts, &rep);
        /* Devices left outside the tolerance by verify are a result, not a failure: the
         * matrix is programmed and the report says how many. */
        if (rc == AIMC_ERR_DEVICE && rep.devices_failed > 0) rc = AIMC_OK;
        if (total && rc == AIMC_OK) {
            if (rep.iterations > total->iterations) total->iterations = rep.iterations;
            total->devices += rep.devices;
            total->devices_failed += rep.devices_failed;
            total->pulses += rep.pulses;
            sq += rep.rms_error_us * rep.rms_error_us * (double)rep.devices;
            total->rms_error_us = total->devices ? sqrt(sq / (double)total->devices) : 0.0;
        }
        if (rc != AIMC_OK)
            rc = aimc_diag_set(d, rc, "programming %s: %s", m->name,
                               *aimc_error_text(dev) ? aimc_error_text(dev) : aimc_strerror(rc));
    }
    free(made);
    return rc;
}

/* ---- the reference: the same steps in double precision --------------------------------- */

/* out[n x cols] = in[n x rows] W, in double. */
static void matmul_ref(const aimc_matrix *m, const double *in, size_t n, double *out)
{
    for (size_t t = 0; t < n; t++) {
        double *o = out + t * m->cols;
        for (uint32_t c = 0; c < m->cols; c++) o[c] = 0;
        for (uint32_t r = 0; r < m->rows; r++) {
            double v = in[t * m->rows + r];
            const float *w = m->w + (size_t)r * m->cols;
            for (uint32_t c = 0; c < m->cols; c++) o[c] += v * w[c];
        }
    }
}

int aimc_rt_layer_ref(const aimc_model *model, int layer, const float *x, size_t ntok,
                      double *y, int *experts)
{
    const size_t dm = (size_t)model->d_model;
    const int ne = model->n_experts, k = model->top_k;
    size_t ffmax = (size_t)(model->d_ff > model->shared_d_ff ? model->d_ff : model->shared_d_ff);
    if (ffmax < dm) ffmax = dm;
    double *buf[AIMC_WL_NONE] = {0};
    float *xn = malloc(dm * sizeof *xn);
    int *idx = malloc((size_t)k * sizeof *idx);
    double *p = malloc((size_t)k * sizeof *p);
    double *work = malloc(2 * (size_t)ne * sizeof *work), *bias = malloc((size_t)ne * sizeof *bias);
    int rc = AIMC_OK;
    for (int i = 0; i < AIMC_WL_NONE; i++) buf[i] = malloc((ffmax + (size_t)ne) * sizeof **buf);
    for (int i = 0; i < AIMC_WL_NONE; i++)
        if (!buf[i]) rc = AIMC_ERR_NOMEM;
    if (!xn || !idx || !p || !work || !bias) rc = AIMC_ERR_NOMEM;
    aimc_wl_phase ph;
    if (rc == AIMC_OK && aimc_wl_route(model, layer, 1, &ph, NULL) != AIMC_OK) rc = AIMC_ERR_NOTFOUND;
    /* One token at a time: a group's steps applied to one row, in the schedule's order. */
    for (size_t t = 0; rc == AIMC_OK && t < ntok; t++) {
        double *yt = y + t * dm;
        for (size_t c = 0; c < dm; c++) yt[c] = 0;
        for (int s = 0; s < ph.n; s++) {
            const aimc_wl_step *st = &ph.s[s];
            switch (st->op) {
            case AIMC_WL_RMSNORM: /* the device normalises in float: so does the reference */
                aimc_moe_rms_norm(x + t * dm, dm, xn);
                for (size_t i = 0; i < dm; i++) buf[st->out][i] = xn[i];
                break;
            case AIMC_WL_NORM: {
                const float *w = st->vector >= 0 ? model->v[st->vector].v : NULL;
                aimc_moe_rms_norm_w(x + t * dm, dm, st->eps, w, xn);
                for (size_t i = 0; i < dm; i++) buf[st->out][i] = xn[i];
                break;
            }
            case AIMC_WL_MVM: matmul_ref(&model->m[st->matrix], buf[st->in[0]], 1, buf[st->out]); break;
            case AIMC_WL_TOPK: aimc_moe_top_k_softmax(buf[st->in[0]], ne, k, idx, p); break;
            case AIMC_WL_ROUTE:
                if (st->vector >= 0)
                    for (int e = 0; e < ne; e++) bias[e] = model->v[st->vector].v[e];
                aimc_moe_route(buf[st->in[0]], ne, k, &model->rule, st->vector >= 0 ? bias : NULL,
                               idx, p, work);
                break;
            default: break;
            }
        }
        for (int j = 0; j < k + model->n_shared; j++) {
            const int e = j < k ? idx[j] : ne + (j - k);
            double wgt = j < k ? p[j] : 1.0;
            aimc_wl_phase ex;
            if (aimc_wl_expert(model, layer, e, 1, 1, &ex, NULL) != AIMC_OK) {
                rc = AIMC_ERR_NOTFOUND;
                break;
            }
            for (int s = 0; s < ex.n; s++) {
                const aimc_wl_step *st = &ex.s[s];
                double *out = buf[st->out];
                const double *a = buf[st->in[0]];
                switch (st->op) {
                case AIMC_WL_GATHER: memcpy(out, a, dm * sizeof *out); break;
                case AIMC_WL_MVM: matmul_ref(&model->m[st->matrix], a, 1, out); break;
                case AIMC_WL_SILU_MUL:
                    for (uint32_t i = 0; i < st->dim; i++)
                        out[i] = aimc_moe_silu(a[i]) * buf[st->in[1]][i];
                    break;
                case AIMC_WL_SIGMOID:
                    for (uint32_t i = 0; i < st->dim; i++) out[i] = 1.0 / (1.0 + exp(-a[i]));
                    break;
                case AIMC_WL_SCALE_ACC: /* into the block's output, not x */
                    if (st->in[2] == AIMC_WL_SG) wgt = buf[AIMC_WL_SG][0];
                    for (size_t c = 0; c < dm; c++) yt[c] += wgt * a[c];
                    break;
                default: break;
                }
            }
        }
        if (experts)
            for (int j = 0; j < k; j++) experts[t * (size_t)k + (size_t)j] = idx[j];
    }
    for (int i = 0; i < AIMC_WL_NONE; i++) free(buf[i]);
    free(bias);
    free(work);
    free(p);
    free(idx);
    free(xn);
    return rc;
}

/* ---- the whole model in double: attention, dense layers, the head -------------------------- */

/* n rows of x (stride floats apart, dim used) normalised in float as the device does, with
 * the weight of vector w (-1: none) and eps, into out (n x dim). */
static void ref_norm(const aimc_model *m, long w, const double *x, size_t n, size_t dim,
                     size_t stride, double *out)
{
    const double eps = aimc_model_norm_eps(m);
    for (size_t t = 0; t < n; t++) {
        const double *r = x + t * stride;
        double ss = 0;
        for (size_t i = 0; i < dim; i++) {
            const float f = (float)r[i];
            ss += (double)f * f;
        }
        const double inv = 1.0 / sqrt(ss / (double)dim + eps);
        for (size_t i = 0; i < dim; i++)
            out[t * dim + i] = (float)((double)(float)r[i] * inv * (w >= 0 ? (double)m->v[w].v[i] : 1.0));
    }
}

/* RoPE of the last r of n values at x, position pos (as the ATTN command). */
static void ref_rope(double *x, size_t n, size_t r, int interleaved, double theta, size_t pos)
{
    double *y = x + (n - r);
    for (size_t i = 0; i < r / 2; i++) {
        const double ang = (double)pos * pow(theta, -2.0 * (double)i / (double)r);
        const double c = cos(ang), s = sin(ang);
        double *a = interleaved ? &y[2 * i] : &y[i], *b = interleaved ? &y[2 * i + 1] : &y[i + r / 2];
        const double xa = *a, xb = *b;
        *a = xa * c - xb * s;
        *b = xb * c + xa * s;
    }
}

static long ref_vec(const aimc_model *m, int layer, aimc_vec_kind kind)
{
    return m->norm_weights ? aimc_model_vector(m, layer, kind) : -1;
}

/* Layer l's attention on the n tokens of x (positions 0..n-1): x += its output. */
static int ref_attention(const aimc_model *m, int l, float *x, size_t n)
{
    const size_t dm = (size_t)m->d_model, H = (size_t)m->attn.heads, Hk = (size_t)m->attn.kv_heads;
    const size_t dk = (size_t)m->attn.dk, dv = (size_t)m->attn.dv, R = (size_t)m->attn.rope_dim;
    const int mla = m->attn.kind == AIMC_ATTN_MLA;
    uint32_t rk32, rv32;
    aimc_model_kv_row(m, &rk32, &rv32);
    const size_t rowk = rk32, rowv = rv32, ql = (size_t)m->attn.q_lora, kl = (size_t)m->attn.kv_lora;
    size_t wide = H * dk > dm ? H * dk : dm;
    if (ql > wide) wide = ql;
    if (kl > wide) wide = kl;
    double *xd = malloc(n * dm * sizeof *xd), *nrm = malloc(n * dm * sizeof *nrm);
    double *q = malloc(n * H * dk * sizeof *q), *k = malloc(n * rowk * sizeof *k);
    double *v = rowv ? malloc(n * rowv * sizeof *v) : NULL;
    double *cq = mla ? malloc(n * (ql > kl ? ql : kl) * sizeof *cq) : NULL;
    double *a = malloc(n * H * dv * sizeof *a), *ao = malloc(n * dm * sizeof *ao);
    double *p = malloc(n * sizeof *p), *tmp = malloc(n * wide * sizeof *tmp);
    int rc = AIMC_OK;
    if (!xd || !nrm || !q || !k || (rowv && !v) || (mla && !cq) || !a || !ao || !p || !tmp) {
        rc = AIMC_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n * dm; i++) xd[i] = x[i];
    ref_norm(m, ref_vec(m, l, AIMC_VEC_ATTN_NORM), xd, n, dm, dm, nrm);
    if (mla) {
        const aimc_matrix *qa = &m->m[aimc_model_find(m, l, AIMC_MAT_QA, AIMC_EXPERT_ATTN)];
        const aimc_matrix *qb = &m->m[aimc_model_find(m, l, AIMC_MAT_QB, AIMC_EXPERT_ATTN)];
        const aimc_matrix *kva = &m->m[aimc_model_find(m, l, AIMC_MAT_KVA, AIMC_EXPERT_ATTN)];
        matmul_ref(qa, nrm, n, tmp);
        ref_norm(m, ref_vec(m, l, AIMC_VEC_QA_NORM), tmp, n, ql, ql, cq);
        /* the groups' q_b parts side by side: each a block of heads of every token */
        const size_t G = m->attn.groups > 1 ? (size_t)m->attn.groups : 1, w = H / G * dk;
        for (size_t gq = 0; gq < G; gq++) {
            const aimc_matrix *qg = &m->m[aimc_model_find_part(m, l, AIMC_MAT_QB, AIMC_EXPERT_ATTN, (int)gq)];
            matmul_ref(qg, cq, n, tmp);
            for (size_t t = 0; t < n; t++) memcpy(q + t * H * dk + gq * w, tmp + t * w, w * sizeof *q);
        }
        (void)qb;
        matmul_ref(kva, nrm, n, k);
        ref_norm(m, ref_vec(m, l, AIMC_VEC_KVA_NORM), k, n, kl, rowk, tmp);
        for (size_t t = 0; t < n; t++) memcpy(k + t * rowk, tmp + t * kl, kl * sizeof *k);
    } else {
        matmul_ref(&m->m[aimc_model_find(m, l, AIMC_MAT_Q, AIMC_EXPERT_ATTN)], nrm, n, q);
        matmul_ref(&m->m[aimc_model_find(m, l, AIMC_MAT_K, AIMC_EXPERT_ATTN)], nrm, n, k);
        matmul_ref(&m->m[aimc_model_find(m, l, AIMC_MAT_V, AIMC_EXPERT_ATTN)], nrm, n, v);
        if (m->attn.qk_norm) {
            ref_norm(m, ref_vec(m, l, AIMC_VEC_Q_NORM), q, n, H * dk, H * dk, tmp);
            memcpy(q, tmp, n * H * dk * sizeof *q);
            ref_norm(m, ref_vec(m, l, AIMC_VEC_K_NORM), k, n, rowk, rowk, tmp);
            memcpy(k, tmp, n * rowk * sizeof *k);
        }
    }
    for (size_t t = 0; t < n; t++) {
        for (size_t h = 0; h < H; h++)
            ref_rope(q + (t * H + h) * dk, dk, R, m->attn.rope_interleaved, m->attn.rope_theta, t);
        for (size_t j = 0; j < Hk; j++)
            ref_rope(k + t * rowk + j * dk, dk, R, m->attn.rope_interleaved, m->attn.rope_theta, t);
    }
    for (size_t t = 0; t < n; t++)
        for (size_t h = 0; h < H; h++) {
            const size_t j = h / (H / Hk);
            const double *qh = q + (t * H + h) * dk;
            double mx = -INFINITY, z = 0;
            for (size_t i = 0; i <= t; i++) {
                double s = 0;
                for (size_t c = 0; c < dk; c++) s += qh[c] * k[i * rowk + j * dk + c];
                p[i] = s * m->attn.scale;
                if (p[i] > mx) mx = p[i];
            }
            for (size_t i = 0; i <= t; i++) z += (p[i] = exp(p[i] - mx));
            for (size_t c = 0; c < dv; c++) {
                double acc = 0;
                for (size_t i = 0; i <= t; i++)
                    acc += p[i] * (rowv ? v[i * rowv + j * dv + c] : k[i * rowk + j * dk + c]);
                a[(t * H + h) * dv + c] = acc / z;
            }
        }
    /* the output projection, per group of heads (their outputs' block of a) */
    const size_t G = mla && m->attn.groups > 1 ? (size_t)m->attn.groups : 1, wv = H / G * dv;
    for (size_t gq = 0; gq < G; gq++) {
        for (size_t t = 0; t < n; t++) memcpy(tmp + t * wv, a + t * H * dv + gq * wv, wv * sizeof *a);
        matmul_ref(&m->m[aimc_model_find_part(m, l, AIMC_MAT_O, AIMC_EXPERT_ATTN, (int)gq)], tmp, n, ao);
        for (size_t i = 0; i < n * dm; i++) x[i] += (float)ao[i];
    }
out:
    free(xd);
    free(nrm);
    free(q);
    free(k);
    free(v);
    free(cq);
    free(a);
    free(ao);
    free(p);
    free(tmp);
    return rc;
}

/* Dense layer l's FFN on n tokens: x += its output. */
static int ref_dense(const aimc_model *m, int l, float *x, size_t n)
{
    const size_t dm = (size_t)m->d_model, ff = (size_t)m->dense_d_ff;
    double *xd = malloc(n * dm * sizeof *xd), *nrm = malloc(n * dm * sizeof *nrm);
    double *g = malloc(n * ff * sizeof *g), *u = malloc(n * ff * sizeof *u);
    double *o = malloc(n * dm * sizeof *o);
    int rc = AIMC_OK;
    if (!xd || !nrm || !g || !u || !o) {
        rc = AIMC_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n * dm; i++) xd[i] = x[i];
    ref_norm(m, ref_vec(m, l, AIMC_VEC_FFN_NORM), xd, n, dm, dm, nrm);
    matmul_ref(&m->m[aimc_model_find(m, l, AIMC_MAT_GATE, AIMC_EXPERT_DENSE)], nrm, n, g);
    matmul_ref(&m->m[aimc_model_find(m, l, AIMC_MAT_UP, AIMC_EXPERT_DENSE)], nrm, n, u);
    for (size_t i = 0; i < n * ff; i++) g[i] = aimc_moe_silu(g[i]) * u[i];
    matmul_ref(&m->m[aimc_model_find(m, l, AIMC_MAT_DOWN, AIMC_EXPERT_DENSE)], g, n, o);
    for (size_t i = 0; i < n * dm; i++) x[i] += (float)o[i];
out:
    free(xd);
    free(nrm);
    free(g);
    free(u);
    free(o);
    return rc;
}

int aimc_rt_forward_ref(const aimc_model *m, const float *x0, size_t ntok, float *x_out,
                        int *experts, double *logits)
{
    const size_t dm = (size_t)m->d_model, k = (size_t)m->top_k;
    float *x = malloc(ntok * dm * sizeof *x);
    double *y = malloc(ntok * dm * sizeof *y);
    int *ex = malloc(ntok * k * sizeof *ex);
    int rc = AIMC_OK;
    if (!x || !y || !ex) {
        rc = AIMC_ERR_NOMEM;
        goto out;
    }
    memcpy(x, x0, ntok * dm * sizeof *x);
    for (int l = 0; l < m->layers && rc == AIMC_OK; l++) {
        if (m->attn.kind != AIMC_ATTN_NONE && (rc = ref_attention(m, l, x, ntok))) break;
        if (l < m->dense_layers) {
            rc = ref_dense(m, l, x, ntok);
            continue;
        }
        if ((rc = aimc_rt_layer_ref(m, l, x, ntok, y, ex))) break;
        for (size_t i = 0; i < ntok * dm; i++) x[i] += (float)y[i];
        if (experts)
            memcpy(experts + (size_t)(l - m->dense_layers) * ntok * k, ex, ntok * k * sizeof *ex);
    }
    if (rc) goto out;
    if (x_out) memcpy(x_out, x, ntok * dm * sizeof *x);
    const long head = aimc_model_head(m);
    if (logits && head >= 0) {
        double *xd = malloc(ntok * dm * sizeof *xd), *nrm = malloc(ntok * dm * sizeof *nrm);
        if (!xd || !nrm) {
            free(xd);
            free(nrm);
            rc = AIMC_ERR_NOMEM;
            goto out;
        }
        for (size_t i = 0; i < ntok * dm; i++) xd[i] = x[i];
        if (m->vocab) ref_norm(m, ref_vec(m, -1, AIMC_VEC_FINAL_NORM), xd, ntok, dm, dm, nrm);
        const size_t C = (size_t)m->n_classes, P = m->head_parts > 1 ? (size_t)m->head_parts : 1;
        double *zp = P > 1 ? malloc(ntok * AIMC_MODEL_MAX_COLS * sizeof *zp) : NULL;
        if (P > 1 && !zp) rc = AIMC_ERR_NOMEM;
        for (size_t p = 0; p < P && rc == AIMC_OK; p++) { /* each part's columns */
            const aimc_matrix *hp = &m->m[(size_t)head + p];
            matmul_ref(hp, m->vocab ? nrm : xd, ntok, P > 1 ? zp : logits);
            for (size_t t = 0; P > 1 && t < ntok; t++)
                for (size_t c = 0; c < hp->cols; c++)
                    logits[t * C + p * AIMC_MODEL_MAX_COLS + c] = zp[t * hp->cols + c];
        }
        free(zp);
        free(xd);
        free(nrm);
    }
out:
    free(ex);
    free(y);
    free(x);
    return rc;
}

void aimc_rt_tokens(uint64_t seed, size_t ntok, size_t d_model, float *x)
{
    uint64_t key = aimc_rng_key(seed, AIMC_RNG_DOMAIN_TOKENS, 0, 0);
    for (size_t i = 0; i < ntok * d_model; i++) x[i] = (float)aimc_rng_normal(key, i);
}

/* ---- the run ---------------------------------------------------------------------------- */

/* A head's outputs of n tokens as the device leaves them (in head parts, part-major) into z
 * (n x classes). */
static void head_gather(const aimc_model *m, const float *out, size_t n, float *z)
{
    const size_t C = (size_t)m->n_classes, P = m->head_parts > 1 ? (size_t)m->head_parts : 1;
    size_t off = 0;
    for (size_t p = 0; p < P; p++) {
        const size_t c0 = p * AIMC_MODEL_MAX_COLS, cp = C - c0 < AIMC_MODEL_MAX_COLS ? C - c0 : AIMC_MODEL_MAX_COLS;
        for (size_t t = 0; t < n; t++) memcpy(z + t * C + c0, out + off + t * cp, cp * sizeof *z);
        off += n * cp;
    }
}

/* An expert's work in one layer of a group: its buffers, and the fences of its commands. */
typedef struct {
    uint32_t n;
    aimc_bo *bo[AIMC_WL_NONE]; /* TOK, W, XE, G, U, H, O */
} rt_expert;

/* Which part of a layer a command belongs to (for its error message). */
typedef enum { RT_PH_ATTN, RT_PH_DENSE, RT_PH_ROUTE, RT_PH_EXPERT, RT_PH_HEAD } rt_phase;

/* An issued command: its fence, and what it was (its step's op and matrix, its layer, the
 * part of the layer, the expert). */
typedef struct {
    uint64_t f;
    long matrix;
    int op, layer, expert;
    rt_phase phase;
} rt_cmd;

/* A list of issued commands. */
typedef struct {
    rt_cmd *c;
    size_t n, cap;
} rt_fences;

static int fences_push(rt_fences *l, const rt_cmd *c)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        rt_cmd *nc = realloc(l->c, cap * sizeof *nc);
        if (!nc) return AIMC_ERR_NOMEM;
        l->c = nc;
        l->cap = cap;
    }
    l->c[l->n++] = *c;
    return AIMC_OK;
}

/* A group of tokens on its way through the layers. */
typedef struct {
    size_t tok0, n;
    int layer;              /* the layer whose routing it waits for */
    int final;              /* its last commands are issued: wait is for the end */
    uint64_t wait;          /* the fence the host waits for next */
    aimc_bo *bo[AIMC_WL_NONE]; /* X, N, LOGITS, IDX, P, OUT */
    rt_expert *ex;          /* per expert of the layer being run */
    rt_fences done;         /* fences of its issued commands not yet finished */
    float *x;               /* values: the residual stream as the host last read it */
    int *experts;           /* values: the device's choices of its current layer, n x k */
} rt_group;

typedef struct {
    aimc_dev *dev;
    const aimc_model *m;
    const aimc_rt_opts *o;
    aimc_rt_report *r;
    aimc_diag *d;
    int values;
    size_t ntok;
    const float *x0;
    const int *labels;
    int *ehw, *eref;        /* values: a layer's choices, device and reference */
    double *yref;
    size_t right_hw;
    double err2[AIMC_RT_MAX_LAYERS], ref2[AIMC_RT_MAX_LAYERS];
    size_t agree;
    aimc_bo **vec_bo;       /* the model's vectors (norm weights), written once */
    aimc_bo **rule_bo;      /* per layer: its routing rule record and correction bias */
    aimc_bo **kv_bo;        /* per layer with attention: its KV cache (ntok positions) */
    aimc_bo **attn_bo;      /* per layer with attention: its ATTN record */
    int seq;                /* the tokens are one sequence through attention or dense layers:
                             * measured end to end (aimc_rt_forward_ref), not layer by layer */
    float *xdev;            /* seq values: the residual stream after the last layer */
    int *edev;              /* seq values: the device's routing, MoE layers x ntok x top_k */
    float *zdev;            /* seq values with a head: its outputs, ntok x classes */
} rt_run;

static int drv_err(aimc_dev *dev, int rc, const char *what, aimc_diag *d)
{
    return aimc_diag_set(d, rc, "%s: %s", what,
                         *aimc_error_text(dev) ? aimc_error_text(dev) : aimc_strerror(rc));
}

static int bo_new(rt_run *R, size_t bytes, aimc_wl_tensor t, aimc_bo **bo)
{
    int rc = aimc_bo_create_ex(R->dev, bytes ? bytes : 4, aimc_wl_host_reads(t) ? AIMC_BO_HOST_READ : 0,
                               bo);
    return rc ? drv_err(R->dev, rc, "device buffer", R->d) : AIMC_OK;
}

/* The buffer of tensor t for group g (and expert x, for an expert's tensors). */
static aimc_bo *bo_of(rt_group *g, rt_expert *x, aimc_wl_tensor t)
{
    if (t == AIMC_WL_NONE) return NULL;
    if (x && x->bo[t]) return x->bo[t];
    return g->bo[t];
}

/* The device command a workload op is issued as (aimc_wl_op order). */
static const char *op_name(int op)
{
    static const char *const ops[] = {"RMSNORM", "MVM", "TOPK", "GATHER", "SILU_MUL",
                                      "SCALE_ACC", "NORM", "ROUTE", "ACT", "ATTN"};
    return op >= 0 && op < (int)(sizeof ops / sizeof ops[0]) ? ops[op] : "?";
}

/* "layer 1 expert 3's MVM (layer1.expert3.gate)": what command c was, into buf. */
static const char *cmd_label(const aimc_model *m, const rt_cmd *c, char *buf, size_t cap)
{
    const char *op = op_name(c->op);
    char part[64];
    switch (c->phase) {
    case RT_PH_ATTN: snprintf(part, sizeof part, "layer %d attention's", c->layer); break;
    case RT_PH_DENSE: snprintf(part, sizeof part, "layer %d dense FFN's", c->layer); break;
    case RT_PH_ROUTE: snprintf(part, sizeof part, "layer %d routing's", c->layer); break;
    case RT_PH_EXPERT:
        if (c->expert >= m->n_experts)
            snprintf(part, sizeof part, "layer %d shared expert %d's", c->layer,
                     c->expert - m->n_experts);
        else
            snprintf(part, sizeof part, "layer %d expert %d's", c->layer, c->expert);
        break;
    case RT_PH_HEAD: snprintf(part, sizeof part, "the head's"); break;
    }
    if (c->matrix >= 0 && (size_t)c->matrix < m->n_matrices)
        snprintf(buf, cap, "%s %s (%s) command", part, op, m->m[c->matrix].name);
    else
        snprintf(buf, cap, "%s %s command", part, op);
    return buf;
}

/* Issue step s of group g (expert x or NULL) as a device command; c says what it is part of
 * (its fence, op and matrix are set here). */
static int issue(rt_run *R, rt_group *g, rt_expert *x, const aimc_wl_step *s, rt_cmd *c,
                 uint64_t *fence)
{
    aimc_dev *dev = R->dev;
    uint64_t a[3] = {0}, out = aimc_bo_addr(bo_of(g, x, s->out)) + 4 * (uint64_t)s->out_off;
    for (int i = 0; i < 3; i++) a[i] = aimc_bo_addr(bo_of(g, x, s->in[i]));
    a[0] += 4 * (uint64_t)s->in_off;
    int rc = AIMC_ERR_INVALID;
    switch (s->op) {
    case AIMC_WL_RMSNORM: rc = aimc_submit_rmsnorm(dev, s->rows, s->dim, a[0], out, fence); break;
    case AIMC_WL_MVM:
        rc = aimc_submit_mvm_addr(dev, (uint32_t)s->matrix, s->rows, a[0], out, fence);
        R->r->macs += (uint64_t)s->rows * R->m->m[s->matrix].rows * R->m->m[s->matrix].cols;
        break;
    case AIMC_WL_TOPK:
        rc = aimc_submit_topk(dev, s->rows, s->dim, s->k, a[0], out,
                              aimc_bo_addr(bo_of(g, x, AIMC_WL_P)), fence);
        break;
    case AIMC_WL_GATHER:
        rc = aimc_submit_gather(dev, s->rows, s->dim, s->src_rows, a[0], a[1], out, fence);
        break;
    case AIMC_WL_SILU_MUL: rc = aimc_submit_silu_mul(dev, s->rows * s->dim, a[0], a[1], out, fence); break;
    case AIMC_WL_SCALE_ACC:
        rc = aimc_submit_scale_acc(dev, s->rows, s->dim, s->src_rows, a[0], a[1], a[2], out, fence);
        break;
    case AIMC_WL_NORM:
        rc = aimc_submit_norm(dev, s->rows, s->dim, s->stride, (float)s->eps, a[0], out,
                              s->vector >= 0 ? aimc_bo_addr(R->vec_bo[s->vector]) : 0, fence);
        break;
    case AIMC_WL_ROUTE:
        rc = aimc_submit_route(dev, s->rows, s->dim, s->k, a[0], out,
                               aimc_bo_addr(bo_of(g, x, AIMC_WL_P)),
                               aimc_bo_addr(R->rule_bo[g->layer]), fence);
        break;
    case AIMC_WL_SIGMOID: rc = aimc_submit_sigmoid(dev, s->rows * s->dim, a[0], out, fence); break;
    case AIMC_WL_ATTN:
        rc = aimc_submit_attn(dev, s->rows, (uint32_t)g->tok0, a[0], a[1], out,
                              aimc_bo_addr(R->kv_bo[s->layer]),
                              aimc_bo_addr(R->attn_bo[s->layer * R->m->attn.groups + s->part]),
                              fence);
        break;
    }
    c->op = (int)s->op;
    c->matrix = s->op == AIMC_WL_MVM ? s->matrix : -1;
    if (rc) {
        char what[160];
        return drv_err(dev, rc, cmd_label(R->m, c, what, sizeof what), R->d);
    }
    c->f = *fence;
    return fences_push(&g->done, c);
}

/* Issue phase ph of g (expert x or NULL): part `phase` of layer `layer` (expert: its index). */
static int issue_phase(rt_run *R, rt_group *g, rt_expert *x, const aimc_wl_phase *ph,
                       rt_phase phase, int layer, int expert, uint64_t *last)
{
    int rc = AIMC_OK;
    rt_cmd c = {.phase = phase, .layer = layer, .expert = expert};
    for (int i = 0; i < ph->n && rc == AIMC_OK; i++) rc = issue(R, g, x, &ph->s[i], &c, last);
    return rc;
}

/* Finish every command of g issued so far (they have completed when g's next wait has). */
static int finish_done(rt_run *R, rt_group *g, int rc)
{
    for (size_t i = 0; i < g->done.n; i++) {
        int r = aimc_fence_wait(R->dev, g->done.c[i].f, -1);
        if (r != AIMC_OK && rc == AIMC_OK) {
            char what[160];
            rc = drv_err(R->dev, r, cmd_label(R->m, &g->done.c[i], what, sizeof what), R->d);
        }
    }
    g->done.n = 0;
    return rc;
}

static void experts_free(rt_group *g, int njobs)
{
    if (!g->ex) return;
    for (int e = 0; e < njobs; e++)
        for (int t = 0; t < AIMC_WL_NONE; t++) aimc_bo_destroy(g->ex[e].bo[t]);
    free(g->ex);
    g->ex = NULL;
}

static void group_free(rt_group *g, int njobs)
{
    experts_free(g, njobs);
    for (int t = 0; t < AIMC_WL_NONE; t++) aimc_bo_destroy(g->bo[t]);
    free(g->done.c);
    free(g->x);
    free(g->experts);
    memset(g, 0, sizeof *g);
}

/* Issue g's layers from l on: each layer's attention, a dense layer's FFN, up to the route
 * phase of the next MoE layer (whose routing the host waits for), or after the last layer
 * the head (g->final). */
static int advance(rt_run *R, rt_group *g, int l)
{
    const aimc_model *m = R->m;
    const uint32_t n = (uint32_t)g->n;
    aimc_wl_phase ph;
    uint64_t f = g->wait;
    int rc = AIMC_OK;
    for (; l < m->layers; l++) {
        if (m->attn.kind != AIMC_ATTN_NONE &&
            ((rc = aimc_wl_attention(m, l, n, &ph, R->d)) ||
             (rc = issue_phase(R, g, NULL, &ph, RT_PH_ATTN, l, -1, &f))))
            return rc;
        if (l < m->dense_layers) {
            if ((rc = aimc_wl_dense(m, l, n, &ph, R->d)) ||
                (rc = issue_phase(R, g, NULL, &ph, RT_PH_DENSE, l, -1, &f)))
                return rc;
            continue;
        }
        if ((rc = aimc_wl_route(m, l, n, &ph, R->d))) return rc;
        g->layer = l;
        return issue_phase(R, g, NULL, &ph, RT_PH_ROUTE, l, -1, &g->wait);
    }
    g->final = 1;
    g->layer = m->layers;
    if (aimc_model_head(m) >= 0) { /* a classifier's or language model's head */
        if ((rc = aimc_wl_head(m, n, &ph, R->d)) == AIMC_OK)
            rc = issue_phase(R, g, NULL, &ph, RT_PH_HEAD, m->layers, -1, &g->wait);
    } else {
        g->wait = g->done.n ? g->done.c[g->done.n - 1].f : f;
    }
    return rc;
}

/* Timing-only routing: k distinct experts of token tok in MoE layer ml. */
static void draw_experts(const rt_run *R, uint64_t tok, int ml, int *out)
{
    const aimc_model *m = R->m;
    const aimc_routing *r = R->o->routing;
    const int E = m->n_experts, k = m->top_k;
    const uint64_t key = aimc_rng_key(R->o->seed, RT_RNG_DOMAIN_ROUTE, tok, (uint64_t)ml);
    unsigned char taken[AIMC_RT_MAX_EXPERTS] = {0};
    for (int i = 0; i < k; i++) {
        double total = 0;
        for (int e = 0; e < E; e++)
            if (!taken[e]) total += r ? r->p[(size_t)ml * E + e] : 1.0;
        double u = aimc_rng_uniform(key, (uint64_t)i) * total;
        int pick = -1;
        for (int e = 0; e < E; e++) {
            if (taken[e]) continue;
            pick = e;
            u -= r ? r->p[(size_t)ml * E + e] : 1.0;
            if (u <= 0) break;
        }
        taken[pick] = 1;
        out[i] = pick;
    }
}

/* The group's routing of layer l, read (values) or decided (timing-only); then its experts'
 * phases issued, and the next layer's route phase or the end. */
static int dispatch(rt_run *R, rt_group *g)
{
    const aimc_model *m = R->m;
    const int ne = m->n_experts, k = m->top_k, njobs = ne + m->n_shared, l = g->layer;
    const size_t n = g->n;
    int rc = AIMC_OK;
    int *choice = malloc(n * (size_t)k * sizeof *choice);
    float *wgt = malloc(n * (size_t)k * sizeof *wgt);
    if (!choice || !wgt) {
        rc = aimc_diag_set(R->d, AIMC_ERR_NOMEM, "out of memory in layer %d", l);
        goto out;
    }
    if (R->values) {
        aimc_bo_sync(g->bo[AIMC_WL_IDX], AIMC_SYNC_FROM_DEVICE);
        aimc_bo_sync(g->bo[AIMC_WL_P], AIMC_SYNC_FROM_DEVICE);
        const uint8_t *idx = aimc_bo_map(g->bo[AIMC_WL_IDX]);
        const float *p = aimc_bo_map(g->bo[AIMC_WL_P]);
        for (size_t i = 0; i < n * (size_t)k; i++) {
            uint32_t e = aimc_le_get32(idx + 4 * i);
            if (e >= (uint32_t)ne) {
                rc = aimc_diag_set(R->d, AIMC_ERR_DEVICE, "layer %d: the device routed token "
                                   "%zu to expert %u of %d", l, g->tok0 + i / (size_t)k, e, ne);
                goto out;
            }
            choice[i] = (int)e;
            wgt[i] = p[i];
        }
        memcpy(g->experts, choice, n * (size_t)k * sizeof *choice);
    } else {
        const int ml = l - m->dense_layers;
        for (size_t t = 0; t < n; t++) {
            const size_t tok = g->tok0 + t;
            if (R->o->replay) {
                memcpy(choice + t * (size_t)k, R->o->replay + ((size_t)ml * R->ntok + tok) * (size_t)k,
                       (size_t)k * sizeof *choice);
                for (int q = 0; q < k; q++)
                    if (choice[t * (size_t)k + (size_t)q] < 0 || choice[t * (size_t)k + (size_t)q] >= ne) {
                        rc = aimc_diag_set(R->d, AIMC_ERR_INVALID, "replayed routing: token %zu "
                                           "goes to expert %d in layer %d; the model has %d",
                                           (size_t)tok, choice[t * (size_t)k + (size_t)q], l, ne);
                        goto out;
                    }
            } else
                draw_experts(R, tok, ml, choice + t * (size_t)k);
            for (int q = 0; q < k; q++) wgt[t * (size_t)k + (size_t)q] = 1.0f / (float)k;
        }
    }
    if (R->o->experts_out)
        memcpy(R->o->experts_out + ((size_t)(l - m->dense_layers) * R->ntok + g->tok0) * (size_t)k,
               choice, n * (size_t)k * sizeof *choice);
    if (R->edev)
        memcpy(R->edev + ((size_t)(l - m->dense_layers) * R->ntok + g->tok0) * (size_t)k, choice,
               n * (size_t)k * sizeof *choice);

    /* Each active expert's token list and weights, written by the host. */
    g->ex = calloc((size_t)njobs, sizeof *g->ex);
    if (!g->ex) {
        rc = aimc_diag_set(R->d, AIMC_ERR_NOMEM, "out of memory in layer %d", l);
        goto out;
    }
    for (size_t i = 0; i < n * (size_t)k; i++) g->ex[choice[i]].n++;
    for (int e = ne; e < njobs; e++) g->ex[e].n = (uint32_t)n;
    for (int e = 0; e < njobs && rc == AIMC_OK; e++) {
        rt_expert *x = &g->ex[e];
        if (!x->n) continue;
        aimc_wl_phase ph;
        if ((rc = aimc_wl_expert(m, l, e, (uint32_t)n, x->n, &ph, R->d))) break;
        for (int s = 0; s < ph.n && rc == AIMC_OK; s++) {
            const aimc_wl_tensor ts[4] = {ph.s[s].in[0], ph.s[s].in[1], ph.s[s].in[2], ph.s[s].out};
            for (int q = 0; q < 4 && rc == AIMC_OK; q++) {
                const aimc_wl_tensor t = ts[q];
                if (!aimc_wl_expert_tensor(t) || x->bo[t]) continue;
                uint32_t rows, cols;
                aimc_wl_shape(m, &ph.s[s], t, &rows, &cols);
                rc = bo_new(R, (size_t)rows * cols * 4, t, &x->bo[t]);
            }
        }
        if (rc) break;
        uint8_t *tp = aimc_bo_map(x->bo[AIMC_WL_TOK]);
        float *wp = x->bo[AIMC_WL_W] ? aimc_bo_map(x->bo[AIMC_WL_W]) : NULL;
        uint32_t j = 0;
        if (e >= ne) {
            for (uint32_t t = 0; t < n; t++) aimc_le_put32(tp + 4 * (size_t)t, t);
        } else {
            for (size_t i = 0; i < n * (size_t)k; i++)
                if (choice[i] == e) {
                    aimc_le_put32(tp + 4 * (size_t)j, (uint32_t)(i / (size_t)k));
                    if (wp) wp[j] = wgt[i];
                    j++;
                }
        }
        aimc_bo_sync(x->bo[AIMC_WL_TOK], AIMC_SYNC_TO_DEVICE);
        if (x->bo[AIMC_WL_W]) aimc_bo_sync(x->bo[AIMC_WL_W], AIMC_SYNC_TO_DEVICE);
        uint64_t f;
        rc = issue_phase(R, g, x, &ph, RT_PH_EXPERT, l, e, &f);
    }
    if (rc) goto out;
    rc = advance(R, g, l + 1);
out:
    free(choice);
    free(wgt);
    return rc;
}

static int same_set(const int *a, const int *b, int k)
{
    for (int i = 0; i < k; i++) {
        int found = 0;
        for (int j = 0; j < k; j++) found |= a[i] == b[j];
        if (!found) return 0;
    }
    return 1;
}

/* Values: layer `l` of g is complete: read the residual stream, compare the block's output
 * (x after - x before) and routing with the reference on the same input. */
static int measure(rt_run *R, rt_group *g, int l)
{
    const size_t dm = (size_t)R->m->d_model, n = g->n, k = (size_t)R->m->top_k;
    aimc_bo_sync(g->bo[AIMC_WL_X], AIMC_SYNC_FROM_DEVICE);
    const float *xn = aimc_bo_map(g->bo[AIMC_WL_X]);
    if (aimc_rt_layer_ref(R->m, l, g->x, n, R->yref, R->eref) != AIMC_OK)
        return aimc_diag_set(R->d, AIMC_ERR_NOMEM, "reference of layer %d: out of memory", l);
    for (size_t i = 0; i < n * dm; i++) {
        const double y = (double)xn[i] - (double)g->x[i];
        const double e = y - R->yref[i];
        R->err2[l] += e * e;
        R->ref2[l] += R->yref[i] * R->yref[i];
    }
    for (size_t t = 0; t < n; t++) R->agree += same_set(g->experts + t * k, R->eref + t * k, (int)k);
    memcpy(g->x, xn, n * dm * sizeof *g->x);
    if (R->o->layers_out)
        memcpy(R->o->layers_out + ((size_t)l * R->ntok + g->tok0) * dm, xn, n * dm * sizeof *xn);
    return AIMC_OK;
}

static size_t argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* Values: the float model end to end on the host, for the accuracy beside the device's. */
static int float_accuracy(const aimc_model *model, long head, const float *x0, size_t ntok,
                          const int *labels, double *acc)
{
    const size_t dm = (size_t)model->d_model, C = (size_t)model->n_classes;
    const aimc_matrix *h = &model->m[head];
    float *xr = malloc(ntok * dm * sizeof *xr);
    double *yr = malloc(ntok * dm * sizeof *yr);
    int rc = AIMC_OK;
    if (!xr || !yr) {
        rc = AIMC_ERR_NOMEM;
        goto out;
    }
    memcpy(xr, x0, ntok * dm * sizeof *xr);
    for (int l = 0; l < model->layers; l++) {
        if ((rc = aimc_rt_layer_ref(model, l, xr, ntok, yr, NULL)) != AIMC_OK) goto out;
        for (size_t i = 0; i < ntok * dm; i++) xr[i] += (float)yr[i];
    }
    size_t right = 0;
    for (size_t t = 0; t < ntok; t++) {
        size_t best = 0;
        double bv = -INFINITY;
        for (size_t c = 0; c < C; c++) {
            double a = 0;
            for (size_t i = 0; i < dm; i++) a += (double)xr[t * dm + i] * h->w[i * C + c];
            if ((float)a > bv) {
                bv = (float)a;
                best = c;
            }
        }
        right += best == (size_t)labels[t];
    }
    *acc = (double)right / (double)ntok;
out:
    free(yr);
    free(xr);
    return rc;
}

/* The model's constants on the device: every vector (norm weights) and, for a routing rule
 * other than the default, each MoE layer's rule record with its correction bias after it.
 * Written once before the first command (aimc_submit_route). */
static int constants_new(rt_run *R)
{
    const aimc_model *m = R->m;
    int rc = AIMC_OK;
    if (m->n_vectors) {
        R->vec_bo = calloc(m->n_vectors, sizeof *R->vec_bo);
        if (!R->vec_bo) return aimc_diag_set(R->d, AIMC_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < m->n_vectors && rc == AIMC_OK; i++) {
            const aimc_vector *v = &m->v[i];
            if ((rc = bo_new(R, (size_t)v->n * 4, AIMC_WL_NONE, &R->vec_bo[i]))) break;
            if (v->v) memcpy(aimc_bo_map(R->vec_bo[i]), v->v, (size_t)v->n * 4);
            aimc_bo_sync(R->vec_bo[i], AIMC_SYNC_TO_DEVICE);
        }
    }
    if (rc == AIMC_OK && m->attn.kind != AIMC_ATTN_NONE) {
        /* per layer its KV cache (the run's positions) and its ATTN record */
        uint32_t rowk, rowv;
        aimc_model_kv_row(m, &rowk, &rowv);
        const int G = m->attn.groups > 1 ? m->attn.groups : 1;
        R->kv_bo = calloc((size_t)m->layers, sizeof *R->kv_bo);
        R->attn_bo = calloc((size_t)m->layers * (size_t)G, sizeof *R->attn_bo);
        if (!R->kv_bo || !R->attn_bo) return aimc_diag_set(R->d, AIMC_ERR_NOMEM, "out of memory");
        for (int l = 0; l < m->layers && rc == AIMC_OK; l++) {
            if ((rc = bo_new(R, R->ntok * ((size_t)rowk + rowv) * 4, AIMC_WL_NONE, &R->kv_bo[l])))
                break;
            for (int q = 0; q < G && rc == AIMC_OK; q++) { /* per group of heads; the first appends */
                aimc_bo **b = &R->attn_bo[l * G + q];
                if ((rc = bo_new(R, AIMC_ATTN_RECORD_BYTES, AIMC_WL_NONE, b))) break;
                aimc_attn_record_write(aimc_bo_map(*b), (uint32_t)(m->attn.heads / G),
                                       (uint32_t)m->attn.kv_heads, (uint32_t)m->attn.dk,
                                       (uint32_t)m->attn.dv, (uint32_t)R->ntok,
                                       (uint32_t)m->attn.rope_dim,
                                       (uint32_t)m->attn.rope_interleaved,
                                       m->attn.kind == AIMC_ATTN_MLA, (float)m->attn.scale,
                                       (float)m->attn.rope_theta, q == 0);
                aimc_bo_sync(*b, AIMC_SYNC_TO_DEVICE);
            }
        }
    }
    if (rc || aimc_moe_rule_is_default(&m->rule)) return rc;
    R->rule_bo = calloc((size_t)m->layers, sizeof *R->rule_bo);
    if (!R->rule_bo) return aimc_diag_set(R->d, AIMC_ERR_NOMEM, "out of memory");
    const aimc_moe_rule *r = &m->rule;
    for (int l = m->dense_layers; l < m->layers && rc == AIMC_OK; l++) {
        const long b = r->bias ? aimc_model_vector(m, l, AIMC_VEC_ROUTER_BIAS) : -1;
        if ((rc = bo_new(R, AIMC_ROUTE_RULE_BYTES + (size_t)m->n_experts * 4, AIMC_WL_NONE,
                         &R->rule_bo[l])))
            break;
        uint8_t *rec = aimc_bo_map(R->rule_bo[l]);
        aimc_route_rule_write(rec, (uint32_t)r->sigmoid, !r->no_renorm,
                              (uint32_t)(r->groups > 1 ? r->groups : 1),
                              (uint32_t)(r->topk_groups > 0 ? r->topk_groups
                                                            : r->groups > 1 ? r->groups : 1),
                              (float)(r->scale > 0 ? r->scale : 1.0), b >= 0);
        if (b >= 0 && m->v[b].v) memcpy(rec + AIMC_ROUTE_RULE_BYTES, m->v[b].v, (size_t)m->n_experts * 4);
        aimc_bo_sync(R->rule_bo[l], AIMC_SYNC_TO_DEVICE);
    }
    return rc;
}

static void constants_free(rt_run *R)
{
    if (R->vec_bo)
        for (size_t i = 0; i < R->m->n_vectors; i++) aimc_bo_destroy(R->vec_bo[i]);
    const int G = R->m->attn.groups > 1 ? R->m->attn.groups : 1;
    for (int l = 0; l < R->m->layers; l++) {
        if (R->rule_bo) aimc_bo_destroy(R->rule_bo[l]);
        if (R->kv_bo) aimc_bo_destroy(R->kv_bo[l]);
        for (int q = 0; R->attn_bo && q < G; q++) aimc_bo_destroy(R->attn_bo[l * G + q]);
    }
    free(R->vec_bo);
    free(R->rule_bo);
    free(R->kv_bo);
    free(R->attn_bo);
    R->vec_bo = R->rule_bo = R->kv_bo = R->attn_bo = NULL;
}

/* A sequence run with values is complete: the device's residual stream after the last layer,
 * its routing and its head's outputs against the whole model in double on the same tokens
 * (aimc_rt_forward_ref): with attention a layer's input is the whole sequence's past, so the
 * run is measured end to end, not layer by layer. Next-token accuracy and perplexity of a
 * language model from the labels (the next token's id; < 0: not scored). */
static double log_softmax_at(const float *zf, const double *zd, size_t n, size_t at)
{
    double mx = -INFINITY, s = 0;
    for (size_t c = 0; c < n; c++) mx = fmax(mx, zf ? (double)zf[c] : zd[c]);
    for (size_t c = 0; c < n; c++) s += exp((zf ? (double)zf[c] : zd[c]) - mx);
    return (zf ? (double)zf[at] : zd[at]) - mx - log(s);
}

static int seq_measure(rt_run *R)
{
    const aimc_model *m = R->m;
    aimc_rt_report *r = R->r;
    const size_t n = R->ntok, dm = (size_t)m->d_model, k = (size_t)m->top_k;
    const size_t moe = (size_t)(m->layers - m->dense_layers), C = (size_t)m->n_classes;
    float *xr = malloc(n * dm * sizeof *xr);
    int *er = malloc((moe ? moe : 1) * n * k * sizeof *er);
    double *zr = C ? malloc(n * C * sizeof *zr) : NULL;
    int rc = AIMC_OK;
    if (!xr || !er || (C && !zr) ||
        (rc = aimc_rt_forward_ref(m, R->x0, n, xr, er, zr)) != AIMC_OK) {
        rc = aimc_diag_set(R->d, AIMC_ERR_NOMEM, "the reference: out of memory");
        goto out;
    }
    double e2 = 0, q2 = 0;
    for (size_t i = 0; i < n * dm; i++) {
        const double yd = (double)R->xdev[i] - R->x0[i], yr = (double)xr[i] - R->x0[i];
        e2 += (yd - yr) * (yd - yr);
        q2 += yr * yr;
    }
    r->rel_rms_error = q2 > 0 ? sqrt(e2 / q2) : sqrt(e2);
    size_t agree = 0;
    for (size_t i = 0; i < moe * n; i++) agree += same_set(R->edev + i * k, er + i * k, (int)k);
    r->routing_agreement = moe ? (double)agree / (double)(moe * n) : 1.0;
    if (R->labels && C) {
        size_t scored = 0, right_hw = 0, right_f = 0;
        double nll_hw = 0, nll_f = 0;
        for (size_t t = 0; t < n; t++) {
            const int lab = R->labels[t];
            if (lab < 0 || (size_t)lab >= C) continue;
            scored++;
            const float *zd = R->zdev + t * C;
            size_t bd = 0, bf = 0;
            for (size_t c = 1; c < C; c++) {
                if (zd[c] > zd[bd]) bd = c;
                if (zr[t * C + c] > zr[t * C + bf]) bf = c;
            }
            right_hw += bd == (size_t)lab;
            right_f += bf == (size_t)lab;
            nll_hw -= log_softmax_at(zd, NULL, C, (size_t)lab);
            nll_f -= log_softmax_at(NULL, zr + t * C, C, (size_t)lab);
        }
        if (scored) {
            r->classified = 1;
            r->scored = scored;
            r->accuracy_hw = (double)right_hw / (double)scored;
            r->accuracy_float = (double)right_f / (double)scored;
            if (m->vocab) {
                r->lm = 1;
                r->perplexity_hw = exp(nll_hw / (double)scored);
                r->perplexity_float = exp(nll_f / (double)scored);
            }
        }
    }
out:
    free(xr);
    free(er);
    free(zr);
    return rc;
}

/* Start group g of tokens [tok0, tok0 + n): its buffers, its input, its first route phase. */
static int admit(rt_run *R, rt_group *g, size_t tok0, size_t n)
{
    const aimc_model *m = R->m;
    const size_t dm = (size_t)m->d_model, k = (size_t)m->top_k;
    int rc;
    memset(g, 0, sizeof *g);
    g->tok0 = tok0;
    g->n = n;
    if ((rc = bo_new(R, n * dm * 4, AIMC_WL_X, &g->bo[AIMC_WL_X])) ||
        (rc = bo_new(R, n * dm * 4, AIMC_WL_N, &g->bo[AIMC_WL_N])) ||
        (rc = bo_new(R, n * (size_t)m->n_experts * 4, AIMC_WL_LOGITS, &g->bo[AIMC_WL_LOGITS])) ||
        (rc = bo_new(R, n * k * 4, AIMC_WL_IDX, &g->bo[AIMC_WL_IDX])) ||
        (rc = bo_new(R, n * k * 4, AIMC_WL_P, &g->bo[AIMC_WL_P])))
        return rc;
    if (m->n_classes > 0 &&
        (rc = bo_new(R, n * (size_t)m->n_classes * 4, AIMC_WL_OUT, &g->bo[AIMC_WL_OUT])))
        return rc;
    if (m->attn.kind != AIMC_ATTN_NONE) { /* the attention's tensors */
        uint32_t rowk, rowv;
        aimc_model_kv_row(m, &rowk, &rowv);
        const size_t H = (size_t)m->attn.heads;
        if ((rc = bo_new(R, n * H * (size_t)m->attn.dk * 4, AIMC_WL_Q, &g->bo[AIMC_WL_Q])) ||
            (rc = bo_new(R, n * ((size_t)rowk + rowv) * 4, AIMC_WL_KV, &g->bo[AIMC_WL_KV])) ||
            (rc = bo_new(R, n * H * (size_t)m->attn.dv * 4, AIMC_WL_A, &g->bo[AIMC_WL_A])) ||
            (rc = bo_new(R, n * dm * 4, AIMC_WL_AO, &g->bo[AIMC_WL_AO])) ||
            (m->attn.kind == AIMC_ATTN_MLA &&
             (rc = bo_new(R, n * (size_t)m->attn.q_lora * 4, AIMC_WL_CQ, &g->bo[AIMC_WL_CQ]))))
            return rc;
    }
    if (m->dense_layers > 0) { /* a dense FFN's tensors, the group's own */
        const size_t ff = (size_t)m->dense_d_ff;
        if ((rc = bo_new(R, n * ff * 4, AIMC_WL_G, &g->bo[AIMC_WL_G])) ||
            (rc = bo_new(R, n * ff * 4, AIMC_WL_U, &g->bo[AIMC_WL_U])) ||
            (rc = bo_new(R, n * ff * 4, AIMC_WL_H, &g->bo[AIMC_WL_H])) ||
            (rc = bo_new(R, n * dm * 4, AIMC_WL_O, &g->bo[AIMC_WL_O])))
            return rc;
    }
    if (R->values) {
        g->x = malloc(n * dm * sizeof *g->x);
        g->experts = malloc(n * k * sizeof *g->experts);
        if (!g->x || !g->experts) return aimc_diag_set(R->d, AIMC_ERR_NOMEM, "out of memory");
        memcpy(g->x, R->x0 + tok0 * dm, n * dm * sizeof *g->x);
        memcpy(aimc_bo_map(g->bo[AIMC_WL_X]), g->x, n * dm * sizeof *g->x);
        aimc_bo_sync(g->bo[AIMC_WL_X], AIMC_SYNC_TO_DEVICE);
    }
    return advance(R, g, 0);
}

/* g's final commands have completed: measure and count it. */
static int group_end(rt_run *R, rt_group *g)
{
    int rc = AIMC_OK;
    const size_t dm = (size_t)R->m->d_model;
    if (R->values && R->seq) { /* keep what the device left; measured at the end */
        aimc_bo_sync(g->bo[AIMC_WL_X], AIMC_SYNC_FROM_DEVICE);
        memcpy(R->xdev + g->tok0 * dm, aimc_bo_map(g->bo[AIMC_WL_X]), g->n * dm * sizeof *R->xdev);
        if (R->o->x_out)
            memcpy(R->o->x_out + g->tok0 * dm, R->xdev + g->tok0 * dm, g->n * dm * sizeof *R->xdev);
        if (R->zdev) {
            const size_t C = (size_t)R->m->n_classes;
            aimc_bo_sync(g->bo[AIMC_WL_OUT], AIMC_SYNC_FROM_DEVICE);
            head_gather(R->m, aimc_bo_map(g->bo[AIMC_WL_OUT]), g->n, R->zdev + g->tok0 * C);
            if (R->o->logits_out)
                memcpy(R->o->logits_out + g->tok0 * C, R->zdev + g->tok0 * C, g->n * C * sizeof *R->zdev);
        }
        return AIMC_OK;
    }
    if (R->values) {
        if ((rc = measure(R, g, R->m->layers - 1))) return rc;
        if (R->o->x_out) memcpy(R->o->x_out + g->tok0 * dm, g->x, g->n * dm * sizeof *g->x);
        if (g->bo[AIMC_WL_OUT] && aimc_model_head(R->m) >= 0 && (R->labels || R->o->logits_out)) {
            const size_t C = (size_t)R->m->n_classes;
            aimc_bo_sync(g->bo[AIMC_WL_OUT], AIMC_SYNC_FROM_DEVICE);
            const float *z = aimc_bo_map(g->bo[AIMC_WL_OUT]);
            for (size_t t = 0; R->labels && t < g->n; t++)
                R->right_hw += argmax(z + t * C, C) == (size_t)R->labels[g->tok0 + t];
            if (R->o->logits_out) memcpy(R->o->logits_out + g->tok0 * C, z, g->n * C * sizeof *z);
        }
    }
    return rc;
}

/* The largest group of tokens a digital step takes within max_elems floats per operand
 * (docs/registers.md: batch x dim of RMSNORM, TOPK, GATHER, SCALE_ACC, NORM and ROUTE, the
 * count of SILU_MUL and ACT, and a strided NORM's (batch - 1) x stride + dim); MVM and ATTN
 * are bounded elsewhere (their vectors, attn_per_token). */
static uint64_t step_group_max(const aimc_wl_step *s, uint64_t lim)
{
    if (s->op == AIMC_WL_MVM || s->op == AIMC_WL_ATTN || s->dim == 0) return UINT64_MAX;
    if (s->op == AIMC_WL_NORM && s->stride > s->dim)
        return s->dim > lim ? 0 : (lim - s->dim) / s->stride + 1;
    return lim / s->dim;
}

/* The digital step of the model's workload (aimc_workload.h: every layer's attention, dense
 * FFN, routing, a routed and every shared expert, the head) that takes the fewest tokens a
 * group, and that many; *where names its phase and op. */
static uint64_t digital_group_max(const aimc_model *m, uint64_t lim, char *where, size_t cap,
                                  uint32_t *dim)
{
    uint64_t best = UINT64_MAX;
    aimc_wl_phase ph;
    const char *part = "";
    int layer = -1;
    /* phases: 0 attention, 1 dense, 2 route, 3 the first routed expert, 4.. shared experts */
    for (int l = -1; l < m->layers; l++) {
        for (int k = 0; k < 4 + m->n_shared; k++) {
            int rc;
            if (l < 0) { /* the head, once */
                if (k) break;
                rc = aimc_wl_head(m, 1, &ph, NULL), part = "the head's";
            } else if (k == 0) {
                rc = aimc_wl_attention(m, l, 1, &ph, NULL), part = "attention's";
            } else if (k == 1) {
                rc = aimc_wl_dense(m, l, 1, &ph, NULL), part = "dense FFN's";
            } else if (k == 2) {
                rc = aimc_wl_route(m, l, 1, &ph, NULL), part = "routing's";
            } else {
                const int e = k == 3 ? 0 : m->n_experts + k - 4;
                rc = aimc_wl_expert(m, l, e, 1, 1, &ph, NULL);
                part = k == 3 ? "experts'" : "shared experts'";
            }
            if (rc != AIMC_OK) continue;
            for (int i = 0; i < ph.n; i++) {
                const uint64_t g = step_group_max(&ph.s[i], lim);
                if (g < best) {
                    best = g;
                    layer = l;
                    *dim = ph.s[i].stride > ph.s[i].dim ? ph.s[i].stride : ph.s[i].dim;
                    const char *op = op_name((int)ph.s[i].op);
                    if (layer < 0)
                        snprintf(where, cap, "%s %s", part, op);
                    else
                        snprintf(where, cap, "layer %d %s %s", layer, part, op);
                }
            }
        }
    }
    return best;
}

/* What one token of a group adds to the largest operand of an ATTN command: its queries
 * (heads of a group x dk), its outputs (x dv) and its new cache row; *row the cache row. */
static void attn_per_token(const aimc_model *m, uint64_t *q, uint64_t *o, uint64_t *row)
{
    uint32_t rowk, rowv;
    aimc_model_kv_row(m, &rowk, &rowv);
    const int G = m->attn.groups > 1 ? m->attn.groups : 1;
    const uint64_t H = (uint64_t)(m->attn.heads / G);
    *q = H * (uint64_t)m->attn.dk;
    *o = H * (uint64_t)m->attn.dv;
    *row = (uint64_t)rowk + rowv;
}

/* aimc_rt_group_max, given dg, the digital steps' bound (digital_group_max). */
static size_t group_max_of(const aimc_model *m, size_t ctx, uint32_t max_batch,
                           uint32_t max_elems, uint64_t dg)
{
    uint64_t g = max_batch;
    if (dg < g) g = dg;
    /* the head's outputs of a group, in one buffer the host reads (OUT, its parts' blocks at
     * 32-bit offsets): at most 16 x max_elems floats, the runtime's own bound */
    if (m->n_classes > 0 && 16 * (uint64_t)max_elems / (uint64_t)m->n_classes < g)
        g = 16 * (uint64_t)max_elems / (uint64_t)m->n_classes;
    if (m->attn.kind != AIMC_ATTN_NONE) {
        uint64_t q, o, row;
        attn_per_token(m, &q, &o, &row);
        if ((uint64_t)ctx * row > 16 * (uint64_t)max_elems) return 0;
        if (q && max_elems / q < g) g = max_elems / q;
        if (o && max_elems / o < g) g = max_elems / o;
        if (row && max_elems / row < g) g = max_elems / row;
    }
    return (size_t)g;
}

int aimc_rt_sequence(const aimc_model *m)
{
    return m->attn.kind != AIMC_ATTN_NONE || m->dense_layers > 0 || m->vocab > 0;
}

size_t aimc_rt_group_max(const aimc_model *m, size_t ctx, uint32_t max_batch, uint32_t max_elems)
{
    char where[96];
    uint32_t dim;
    return group_max_of(m, ctx, max_batch, max_elems,
                        digital_group_max(m, max_elems, where, sizeof where, &dim));
}

/* A group of `group` tokens (the largest of the run: a batch or the prompt) and a sequence of
 * ctx positions against the device's per-command limits (docs/registers.md: batch x dim of
 * every digital command and MVM, and ATTN's operands and cache). The device refuses a command
 * beyond them with a bad descriptor; here the message says which quantity of which model is
 * too large, what bounds it, and the largest group that fits. */
static int group_limits(const aimc_model *m, size_t group, size_t ctx, uint32_t max_batch,
                        uint32_t max_elems, aimc_diag *d)
{
    const uint64_t lim = max_elems, cache_lim = 16 * (uint64_t)max_elems, b = group;
    char where[96];
    uint32_t dim = 0;
    const uint64_t dg = digital_group_max(m, lim, where, sizeof where, &dim);
    const size_t fit = group_max_of(m, ctx, max_batch, max_elems, dg);
    char fix[96];
    snprintf(fix, sizeof fix, "at most %zu tokens per group (batch, prompt)", fit);
    uint64_t q = 0, o = 0, row = 0;
    uint32_t rowk = 0, rowv = 0;
    char rt[96] = ""; /* a cache row's floats */
    const int G = m->attn.groups > 1 ? m->attn.groups : 1;
    const uint64_t H = (uint64_t)(m->attn.heads / G), dk = (uint64_t)m->attn.dk;
    const uint64_t dv = (uint64_t)m->attn.dv;
    const int mla = m->attn.kind == AIMC_ATTN_MLA;
    if (m->attn.kind != AIMC_ATTN_NONE) {
        attn_per_token(m, &q, &o, &row);
        aimc_model_kv_row(m, &rowk, &rowv);
        if (rowv)
            snprintf(rt, sizeof rt, "kv_heads %d x (%llu of keys + %llu of values)",
                     m->attn.kv_heads, (unsigned long long)dk, (unsigned long long)dv);
        else
            snprintf(rt, sizeof rt, "kv_heads %d x %llu of keys, the values in them",
                     m->attn.kv_heads, (unsigned long long)dk);
        /* first: no group fits a cache too long (then there is no group size to give) */
        if ((uint64_t)ctx * row > cache_lim)
            return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s: attention's KV cache of %zu "
                                 "positions is %llu floats (positions %zu x a row of %llu: %s), "
                                 "above the ATTN command's limit of %llu (16 x CAP_MAX_ELEMS): "
                                 "at most %llu positions (tokens of a sequence)", m->name, ctx,
                                 (unsigned long long)((uint64_t)ctx * row), ctx,
                                 (unsigned long long)row, rt, (unsigned long long)cache_lim,
                                 (unsigned long long)(cache_lim / row));
    }
    if (b > dg)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s: a group of %zu tokens is %llu floats "
                             "in %s command (tokens %zu x %u), above the device's limit of "
                             "%llu (CAP_MAX_ELEMS): %s", m->name, group,
                             (unsigned long long)(b * dim), where, group, dim,
                             (unsigned long long)lim, fix);
    if (m->n_classes > 0 && b * (uint64_t)m->n_classes > cache_lim)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s: the head's outputs of a group of %zu "
                             "tokens are %llu floats (tokens %zu x %d), above the %llu (16 x "
                             "CAP_MAX_ELEMS) the host reads at once: %s", m->name, group,
                             (unsigned long long)(b * (uint64_t)m->n_classes), group,
                             m->n_classes, (unsigned long long)cache_lim, fix);
    if (m->attn.kind == AIMC_ATTN_NONE) return AIMC_OK;
    const char *heads = G > 1 ? "heads per group" : "heads";
    const char *dk_name = mla ? "(kv_lora_rank + rope_dim)" : "head_dim";
    if (b * q > lim)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s: attention's queries of a group of %zu "
                             "tokens are %llu floats (tokens %zu x %s %llu x %s %llu), above "
                             "the ATTN command's limit of %llu (CAP_MAX_ELEMS): %s",
                             m->name, group, (unsigned long long)(b * q), group, heads,
                             (unsigned long long)H, dk_name, (unsigned long long)dk,
                             (unsigned long long)lim, fix);
    if (b * o > lim)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s: attention's outputs of a group of %zu "
                             "tokens are %llu floats (tokens %zu x %s %llu x %s %llu), above "
                             "the ATTN command's limit of %llu (CAP_MAX_ELEMS): %s",
                             m->name, group, (unsigned long long)(b * o), group, heads,
                             (unsigned long long)H, mla ? "kv_lora_rank" : "head_dim",
                             (unsigned long long)dv, (unsigned long long)lim, fix);
    if (b * row > lim)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s: attention's new keys and values of a "
                             "group of %zu tokens are %llu floats (tokens %zu x a row of %llu: "
                             "%s), above the ATTN command's limit of %llu (CAP_MAX_ELEMS): %s",
                             m->name, group, (unsigned long long)(b * row), group,
                             (unsigned long long)row, rt, (unsigned long long)lim, fix);
    return AIMC_OK;
}

int aimc_rt_run(aimc_dev *dev, const aimc_model *model, const float *x0, size_t ntok,
                const int *labels, const aimc_rt_opts *opts, aimc_rt_report *r, aimc_diag *d)
{
    const aimc_rt_opts none = {0};
    const size_t dm = (size_t)model->d_model, k = (size_t)model->top_k;
    const int njobs = model->n_experts + model->n_shared;
    aimc_dev_info info;
    memset(r, 0, sizeof *r);
    if (!opts) opts = &none;
    if (model->layers > AIMC_RT_MAX_LAYERS)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "at most %d layers can be run, model has %d",
                             AIMC_RT_MAX_LAYERS, model->layers);
    if (model->attn.kind != AIMC_ATTN_NONE && ntok > 65536)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s: at most 65536 positions (tokens) in "
                             "the KV cache, got %zu", model->name, ntok);
    if (opts->routing && (opts->routing->layers != model->layers - model->dense_layers ||
                          opts->routing->experts != model->n_experts || !opts->routing->p))
        return aimc_diag_set(d, AIMC_ERR_INVALID, "%s: routing statistics of %d layers x %d "
                             "experts for a model of %d MoE layers x %d experts", model->name,
                             opts->routing->layers, opts->routing->experts,
                             model->layers - model->dense_layers, model->n_experts);
    if (model->n_experts > AIMC_RT_MAX_EXPERTS)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s: at most %d routed experts can be run",
                             model->name, AIMC_RT_MAX_EXPERTS);
    int rc = aimc_query(dev, &info);
    if (rc) return aimc_diag_set(d, rc, "querying the device: %s", aimc_strerror(rc));
    if (ntok == 0) return aimc_diag_set(d, AIMC_ERR_INVALID, "no tokens to run");
    const uint32_t need = aimc_wl_map_version(model);
    if (info.version < need)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s needs the commands of register map "
                             "%u.%u (NORM, ROUTE, ACT or ATTN: its routing rule, norm weights, "
                             "shared expert gates or attention); the device implements map "
                             "%u.%u (rtl: has the commands of 2.0 only; sim: and sysc: have all)",
                             model->name, need >> 16, need & 0xFFFF, info.version >> 16,
                             info.version & 0xFFFF);
    const size_t batch = opts->batch && opts->batch < ntok ? opts->batch : ntok;
    if (batch > info.max_batch)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%zu tokens per group: the device takes "
                             "1..%u per command", batch, info.max_batch);
    rt_run R = {0};
    R.dev = dev;
    R.m = model;
    R.o = opts;
    R.r = r;
    R.d = d;
    R.values = !info.timing_only;
    R.ntok = ntok;
    R.x0 = x0;
    R.labels = labels;
    if (R.values && !x0) return aimc_diag_set(d, AIMC_ERR_INVALID, "a device with values needs tokens");
    r->tokens = ntok;
    r->layers = model->layers;
    r->values = R.values;
    R.seq = aimc_rt_sequence(model);
    if (R.seq && opts->layers_out)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s: every layer's output is kept for models "
                             "without attention or dense layers only", model->name);
    /* a prompt: the first group, prefilled at once; the others of batch tokens */
    const size_t prompt = opts->prompt < ntok ? opts->prompt : ntok;
    if (prompt > info.max_batch)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "a prompt of %zu tokens: the device takes "
                             "1..%u per command", prompt, info.max_batch);
    /* the largest group: the prompt's or a batch's (the prompt may be the larger) */
    const size_t group_max = prompt > batch ? prompt : batch;
    if ((rc = group_limits(model, group_max, ntok, info.max_batch, info.max_elems, d)))
        return rc;
    const size_t n_groups = (prompt ? 1 : 0) + (ntok - prompt + batch - 1) / batch;
    const size_t window = opts->window ? opts->window : AIMC_RT_WINDOW;
    const size_t stagger = opts->stagger ? opts->stagger : AIMC_RT_STAGGER;
    r->groups = n_groups;
    rt_group *gs = calloc(window, sizeof *gs);
    uint64_t *waits = malloc(window * sizeof *waits);
    size_t *slot_of = malloc(window * sizeof *slot_of);
    aimc_counters before, after;
    const size_t moe = (size_t)(model->layers - model->dense_layers), C = (size_t)model->n_classes;
    if (R.values && !R.seq) { /* per group, the largest */
        R.yref = malloc(group_max * dm * sizeof *R.yref);
        R.eref = malloc(group_max * k * sizeof *R.eref);
    }
    if (R.values && R.seq) {
        R.xdev = malloc(ntok * dm * sizeof *R.xdev);
        R.edev = malloc((moe ? moe : 1) * ntok * k * sizeof *R.edev);
        R.zdev = C ? malloc(ntok * C * sizeof *R.zdev) : NULL;
    }
    if (!gs || !waits || !slot_of || (R.values && !R.seq && (!R.yref || !R.eref)) ||
        (R.values && R.seq && (!R.xdev || !R.edev || (C && !R.zdev)))) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for %zu tokens", ntok);
        goto out;
    }
    if ((rc = constants_new(&R))) goto out;
    if ((rc = aimc_counters_read(dev, &before)) != AIMC_OK) {
        aimc_diag_set(d, rc, "reading counters: %s", aimc_strerror(rc));
        goto out;
    }
    size_t admitted = 0, finished = 0, live = 0, done_tokens = 0, next_tok = 0;
    /* Steady state: the completions from the quarter to the three-quarter mark (the fill and
     * the drain left out), with 4 groups or more. */
    const size_t q1 = n_groups >= 4 ? n_groups / 4 : 0, q3 = n_groups >= 4 ? 3 * n_groups / 4 : 0;
    uint64_t t_prev = 0, t_q1 = 0;
    size_t tok_q1 = 0;
    double s1 = 0, s2 = 0; /* per-token intervals of the completions after q1, their squares */
    int newest = -1; /* slot of the group admitted last */
    while (finished < n_groups) {
        /* Admit: a new group enters once the last one has been routed in layer `stagger`
         * (its first `stagger` layers are done): groups trail each other by that many
         * layers, whose matrices lie on other crossbars and chips (aimc_rt.h). */
        /* With attention the groups are one sequence: a group enters once the one before has
         * issued all its commands, so that every layer's cache grows in position order; when
         * generating, once it has finished (its output is the next token's input). */
        while (admitted < n_groups && live < window &&
               (opts->generate ? live == 0
                : model->attn.kind != AIMC_ATTN_NONE
                    ? newest < 0 || gs[newest].n == 0 || gs[newest].final
                    : newest < 0 || gs[newest].n == 0 || gs[newest].layer > (int)stagger ||
                          gs[newest].final)) {
            size_t s = 0;
            while (gs[s].n) s++;
            const size_t tok0 = next_tok, want = admitted == 0 && prompt ? prompt : batch;
            const size_t n = ntok - tok0 < want ? ntok - tok0 : want;
            next_tok += n;
            if ((rc = admit(&R, &gs[s], tok0, n))) goto out;
            if (admitted == 0) r->first_tokens = n;
            admitted++;
            live++;
            newest = (int)s;
        }
        /* Wait for whichever live group's routing or end comes first, the oldest on a tie
         * (groups may finish out of order: a smaller last group overtakes the one ahead). */
        size_t nw = 0;
        for (size_t s = 0; s < window; s++) {
            if (!gs[s].n) continue;
            size_t q = nw++;
            for (; q > 0 && gs[slot_of[q - 1]].tok0 > gs[s].tok0; q--) {
                waits[q] = waits[q - 1];
                slot_of[q] = slot_of[q - 1];
            }
            waits[q] = gs[s].wait;
            slot_of[q] = s;
        }
        size_t which = 0;
        if ((rc = aimc_fence_wait_any(dev, waits, nw, -1, &which)) != AIMC_OK) {
            drv_err(dev, rc, "waiting for the device", d);
            goto out;
        }
        rt_group *g = &gs[slot_of[which]];
        /* Everything it issued before has completed too (its waits depend on it all). */
        if ((rc = finish_done(&R, g, AIMC_OK))) goto out;
        if (g->final) {
            if ((rc = group_end(&R, g))) goto out;
            done_tokens += g->n;
            const size_t nth = finished + 1; /* this completion's number */
            if (g->tok0 == 0 || (q1 && nth >= q1 && nth <= q3)) {
                aimc_counters now;
                if ((rc = aimc_counters_read(dev, &now))) goto out;
                const uint64_t t = now.time - before.time;
                if (g->tok0 == 0) r->first_cycles = t;
                if (q1 && nth == q1) {
                    t_q1 = t;
                    tok_q1 = done_tokens;
                } else if (q1 && nth > q1) {
                    const double per = (double)(t - t_prev) / (double)g->n;
                    s1 += per;
                    s2 += per * per;
                    if (nth == q3) {
                        r->steady_cycles = t - t_q1;
                        r->steady_tokens = done_tokens - tok_q1;
                        const double nk = (double)(q3 - q1), mean = s1 / nk;
                        r->steady_sd_cycles = nk > 1 ? sqrt(fmax(0.0, (s2 - nk * mean * mean) /
                                                                          (nk - 1)))
                                                    : 0.0;
                        r->steady_intervals = q3 - q1;
                    }
                }
                t_prev = t;
            }
            group_free(g, njobs);
            finished++;
            live--;
            if (newest == (int)slot_of[which]) newest = -1;
            continue;
        }
        if (R.values && !R.seq && g->layer > 0 && (rc = measure(&R, g, g->layer - 1))) goto out;
        experts_free(g, njobs);
        if ((rc = dispatch(&R, g))) goto out;
    }
    if ((rc = aimc_counters_read(dev, &after)) != AIMC_OK) {
        aimc_diag_set(d, rc, "reading counters: %s", aimc_strerror(rc));
        goto out;
    }
    /* The report: counters of the inference, errors and accuracies. */
    aimc_counters_sub(&after, &before, &r->cost);
    r->makespan_cycles = r->cost.time;
    if (R.values && R.seq) {
        if ((rc = seq_measure(&R))) goto out;
    } else if (R.values) {
        double e2 = 0, q2 = 0;
        for (int l = 0; l < model->layers; l++) {
            r->layer_rel_rms_error[l] = R.ref2[l] > 0 ? sqrt(R.err2[l] / R.ref2[l]) : sqrt(R.err2[l]);
            e2 += R.err2[l];
            q2 += R.ref2[l];
        }
        r->rel_rms_error = q2 > 0 ? sqrt(e2 / q2) : sqrt(e2);
        r->routing_agreement = (double)R.agree / (double)(ntok * (size_t)model->layers);
        long head = aimc_model_head(model);
        if (head >= 0 && labels) {
            r->classified = 1;
            r->accuracy_hw = (double)R.right_hw / (double)ntok;
            if ((rc = float_accuracy(model, head, x0, ntok, labels, &r->accuracy_float))) {
                aimc_diag_set(d, rc, "the float model: %s", aimc_strerror(rc));
                goto out;
            }
        }
    }
out:
    if (gs)
        for (size_t s = 0; s < window; s++)
            if (gs[s].n) {
                (void)finish_done(&R, &gs[s], rc);
                group_free(&gs[s], njobs);
            }
    free(gs);
    free(waits);
    free(slot_of);
    free(R.yref);
    free(R.eref);
    free(R.xdev);
    free(R.edev);
    free(R.zdev);
    constants_free(&R);
    return rc;
}
