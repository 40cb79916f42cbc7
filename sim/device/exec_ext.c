/* exec_ext.c - the accelerator's commands of the whole transformer block beyond the MoE FFN
 * of exec.c: ROUTE (a routing rule: softmax or sigmoid scores, correction bias, group-limited
 * top-k, renormalisation, scaling), NORM (an RMS norm with a learned weight and its own
 * epsilon), ACT (an elementwise sigmoid) and ATTN (causal attention over a KV cache: RoPE,
 * GQA, values inside the keys for absorbed MLA, APPEND of the new keys and values). Each is
 * checked like every command of exec.c and, with values, computed when the command processor
 * fetches it; what it reads, writes and does goes into its dev_cmd for sched.c to time.
 *
 * They run in pieces as exec.c's commands do (exec_int.h; docs/engine.md, "How work is
 * bounded"): checks in the documented order, DMA reads, the arithmetic in slices taken from
 * the budget in the order one go would do it (so every value is the same), DMA writes, then
 * the command record and counts.
 *
 * Follows docs/driver.md and docs/registers.md (common/aimc_regs.yaml: the ROUTE, NORM, ACT
 * and ATTN descriptors and the RULE and ATTN records). A rule record and a norm's weights are
 * constants of the model: the device keeps them from their first use in its units' buffer,
 * so they are not an operand that moves (the units read their bytes, dig_in counts them).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accel_int.h"
#include "exec_int.h"

#define EXT_MAX_GROUPS 256u /* RULE.GROUPS: the units keep this many group scores */

_Static_assert(AIMC_REC_RULE_BYTES <= sizeof(((dev_work *)0)->rec), "RULE record");
_Static_assert(AIMC_REC_ATTN_BYTES <= sizeof(((dev_work *)0)->rec), "ATTN record");

/* Operations of the budget per exp/sigmoid (as SILU_MUL's element), per RoPE pair (a pow, a
 * cos and a sin), and per level an entry moves in a heap (as TOPK's). */
#define W_EXP 16u
#define W_ROPE_PAIR 64u
#define W_LEVEL 8

static float f32_at(const uint8_t *p)
{
    uint32_t u = aimc_le_get32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Read a record of n bytes at the address in `field` into w->rec (in every mode: it decides
 * what the command does). */
static int w_record(aimc_accel *dev, dev_work *w, uint32_t field, uint64_t n)
{
    if (!w->dma_open) {
        if (w->budget <= 0) return W_MORE;
        if (dev_dma_probe(dev, aimc_le_get64(w->desc + field), n))
            return w_fail(w, AIMC_REG_ERROR_DMA_FAULT, field);
    }
    return w_dma_in(dev, w, aimc_le_get64(w->desc + field), field, w->rec, n);
}

/* ---- ROUTE ---------------------------------------------------------------------------------- */

typedef struct {
    uint32_t score, norm, groups, topk_groups, bias;
    float scale;
} ext_rule;

static ext_rule rule_of(const dev_work *w)
{
    const uint8_t *rec = w->rec;
    return (ext_rule){aimc_le_get32(rec + AIMC_REC_RULE_SCORE), aimc_le_get32(rec + AIMC_REC_RULE_NORM),
                      aimc_le_get32(rec + AIMC_REC_RULE_GROUPS),
                      aimc_le_get32(rec + AIMC_REC_RULE_TOPK_GROUPS),
                      aimc_le_get32(rec + AIMC_REC_RULE_BIAS), f32_at(rec + AIMC_REC_RULE_SCALE)};
}

typedef struct {
    double c;
    uint32_t i;
} ext_cand;

/* Larger score first, the lower index on a tie; NaN after every number (a total order). */
static int by_score(const void *a, const void *b)
{
    const ext_cand *x = a, *y = b;
    const int xn = isnan(x->c), yn = isnan(y->c);
    if (xn != yn) return xn - yn;
    if (!xn && x->c != y->c) return x->c > y->c ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The k best candidates of a vector in a heap whose root is the worst of them, as TOPK's:
 * the order is total, so they come out as the first k of a sort of all of them. */
static uint32_t cand_sink(ext_cand *h, uint32_t hn, uint32_t i)
{
    uint32_t levels = 0;
    const ext_cand e = h[i];
    for (;;) {
        const uint32_t l = 2 * i + 1, r = l + 1;
        if (l >= hn) break;
        const uint32_t worse = r < hn && by_score(&h[l], &h[r]) < 0 ? r : l;
        if (!(by_score(&e, &h[worse]) < 0)) break;
        h[i] = h[worse];
        i = worse;
        levels++;
    }
    h[i] = e;
    return levels;
}

static uint32_t cand_push(ext_cand *h, uint32_t hn, ext_cand e)
{
    uint32_t i = hn, levels = 0;
    while (i > 0) {
        const uint32_t parent = (i - 1) / 2;
        if (!(by_score(&h[parent], &e) < 0)) break;
        h[i] = h[parent];
        i = parent;
        levels++;
    }
    h[i] = e;
    return levels;
}

/* The choice score of expert e: s, plus its bias with BIAS 1. */
static double choice(const dev_work *w, uint64_t e)
{
    return w->p[e] + (w->u ? (double)w->u[e] : 0.0);
}

int dev_run_route(aimc_accel *dev, dev_work *w)
{
    const uint8_t *d = w->desc;
    dev_cmd *c = w->c;
    const uint64_t rule_addr = aimc_le_get64(d + AIMC_DESC_ROUTE_RULE_ADDR);
    /* the rule, read in phase 1 (and taken again once it is) */
    ext_rule r = rule_of(w);
    uint64_t per = r.groups ? w->n / r.groups : 0;
    int grouped = r.topk_groups < r.groups;
    /* w->x logits, w->u biases, w->ox indices and w->y weights out; w->p the scores s (n),
     * w->heap the candidate heap (k), w->aux the group scores, w->sel the choice in order */
    for (;;) switch (w->phase) {
    case 0: {
        uint32_t err, info = 0;
        if ((err = field_in(d, AIMC_DESC_ROUTE_BATCH, 1, DEV_MAX_BATCH, &w->batch, &info)) ||
            (err = field_in(d, AIMC_DESC_ROUTE_N, 1, DEV_MAX_DIM, &w->n, &info)) ||
            (err = field_in(d, AIMC_DESC_ROUTE_K, 1, w->n, &w->k, &info)))
            return w_fail(w, err, info);
        if ((uint64_t)w->batch * w->n > DEV_MAX_ELEMS)
            return w_fail(w, AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_ROUTE_BATCH);
        w->bytes = (uint64_t)w->batch * w->k * 4; /* each output */
        w->phase = 1;
        break;
    }
    case 1: /* the rule decides what the command does: read and checked in every mode */
        W_STEP(w_record(dev, w, AIMC_DESC_ROUTE_RULE_ADDR, AIMC_REC_RULE_BYTES));
        {
            const ext_rule q = rule_of(w);
            if (q.score > 1 || q.norm > 1 || q.bias > 1 || q.groups < 1 ||
                q.groups > EXT_MAX_GROUPS || w->n % q.groups || q.topk_groups < 1 ||
                q.topk_groups > q.groups ||
                (uint64_t)w->k > (uint64_t)q.topk_groups * (w->n / q.groups) ||
                !isfinite(q.scale) || !(q.scale > 0))
                return w_fail(w, AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_ROUTE_RULE_ADDR);
            r = q;
            per = w->n / r.groups;
            grouped = r.topk_groups < r.groups;
        }
        w->phase = 2;
        break;
    case 2: /* the biases after the record */
        if (r.bias)
            W_STEP(w_read_at(dev, w, rule_addr + AIMC_REC_RULE_BYTES, AIMC_DESC_ROUTE_RULE_ADDR,
                             (uint64_t)w->n * sizeof(float), (void **)&w->u, 0));
        w->i = 0;
        w->phase = 3;
        break;
    case 3: /* finite */
        while (w->u && w->i < w->n) {
            const uint64_t m = w_take(w, w->n - w->i, 1);
            if (!m) return W_MORE;
            for (uint64_t e = w->i; e < w->i + m; e++)
                if (!isfinite(w->u[e]))
                    return w_fail(w, AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_ROUTE_RULE_ADDR);
            w->i += m;
        }
        w->phase = 4;
        break;
    case 4:
        W_STEP(w_read(dev, w, AIMC_DESC_ROUTE_IN_ADDR, (uint64_t)w->batch * w->n * sizeof(float),
                      (void **)&w->x, 0));
        w->phase = 5;
        break;
    case 5:
        W_STEP(w_outbuf(dev, w, AIMC_DESC_ROUTE_IDX_ADDR, w->bytes, (void **)&w->ox));
        w->phase = 6;
        break;
    case 6:
        W_STEP(w_outbuf(dev, w, AIMC_DESC_ROUTE_W_ADDR, w->bytes, (void **)&w->y));
        w->phase = 7;
        break;
    case 7:
        if (w->budget <= 0) return W_MORE;
        if (values(dev)) {
            w->sel = malloc((size_t)w->k * sizeof *w->sel);
            w->p = malloc((size_t)w->n * sizeof *w->p);
            w->heap = malloc((size_t)w->k * sizeof(ext_cand));
            w->aux = malloc((size_t)r.groups * sizeof(ext_cand));
            if (!w->sel || !w->p || !w->heap || !w->aux)
                return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
        }
        w->j = 0; /* the vector */
        w->phase = values(dev) ? 10 : 20;
        break;
    case 10: /* a vector's scores s: a sigmoid each, or the softmax (its max first) */
        w->i = r.score ? 0 : 1;
        w->acc = w->x[(size_t)w->j * w->n];
        w->sum = 0;
        w->phase = r.score ? 13 : 11;
        break;
    case 11: { /* the softmax's max, then its exps and their sum */
        const float *v = w->x + (size_t)w->j * w->n;
        while (w->i < w->n) {
            const uint64_t m = w_take(w, w->n - w->i, 1);
            if (!m) return W_MORE;
            double mx = w->acc;
            for (uint64_t e = w->i; e < w->i + m; e++)
                if ((double)v[e] > mx) mx = v[e];
            w->acc = mx;
            w->i += m;
        }
        w->i = 0;
        w->phase = 12;
        break;
    }
    case 12: {
        const float *v = w->x + (size_t)w->j * w->n;
        const uint64_t n2 = 2 * (uint64_t)w->n; /* n exps, then n divisions */
        while (w->i < n2) {
            const uint64_t m = w_take(w, n2 - w->i, w->i < w->n ? W_EXP : 1);
            if (!m) return W_MORE;
            const uint64_t end = w->i + m;
            if (w->i < w->n) {
                const uint64_t e_exp = end < w->n ? end : w->n;
                double sum = w->sum;
                for (uint64_t e = w->i; e < e_exp; e++) sum += (w->p[e] = exp((double)v[e] - w->acc));
                w->sum = sum;
                w->i = e_exp;
            }
            for (uint64_t e = w->i; e < end; e++) w->p[e - w->n] /= w->sum;
            w->i = end;
        }
        w->i = 0;
        w->phase = 14;
        break;
    }
    case 13: { /* sigmoid scores */
        const float *v = w->x + (size_t)w->j * w->n;
        while (w->i < w->n) {
            const uint64_t m = w_take(w, w->n - w->i, W_EXP);
            if (!m) return W_MORE;
            for (uint64_t e = w->i; e < w->i + m; e++) w->p[e] = 1.0 / (1.0 + exp(-(double)v[e]));
            w->i += m;
        }
        w->i = 0;
        w->phase = 14;
        break;
    }
    case 14: /* each group's score: its two largest choice scores; the best groups take part */
        if (grouped) {
            ext_cand *gc = w->aux;
            while (w->i < r.groups) {
                const uint64_t m = w_take(w, r.groups - w->i, 2 * per);
                if (!m) return W_MORE;
                for (uint64_t g = w->i; g < w->i + m; g++) {
                    double a = -INFINITY, a2 = -INFINITY;
                    for (uint64_t e = g * per; e < (g + 1) * per; e++) {
                        const double cs = choice(w, e);
                        if (cs > a) {
                            a2 = a;
                            a = cs;
                        } else if (cs > a2) {
                            a2 = cs;
                        }
                    }
                    gc[g] = (ext_cand){per > 1 ? a + a2 : a, (uint32_t)g};
                }
                w->i += m;
            }
            if (!w_take(w, 1, (uint64_t)W_LEVEL * 8 * r.groups)) return W_MORE;
            qsort(gc, r.groups, sizeof *gc, by_score); /* at most 256 */
        }
        w->i = 0;
        w->hn = 0;
        w->phase = 15;
        break;
    case 15: { /* the candidates (the chosen groups' experts, in their order, or all) into the
                * heap of the k best */
        const uint64_t m = grouped ? (uint64_t)r.topk_groups * per : w->n;
        const ext_cand *gc = w->aux;
        ext_cand *h = w->heap;
        while (w->i < m) {
            if (w->budget <= 0) return W_MORE;
            const uint64_t e = grouped ? (uint64_t)gc[w->i / per].i * per + w->i % per : w->i;
            const ext_cand ce = {choice(w, e), (uint32_t)e};
            uint32_t levels = 0;
            w->i++;
            if (w->hn < w->k)
                levels = cand_push(h, w->hn++, ce);
            else if (by_score(&ce, &h[0]) < 0) {
                h[0] = ce;
                levels = cand_sink(h, w->hn, 0);
            }
            w->budget -= 1 + W_LEVEL * (int64_t)levels;
        }
        w->phase = 16;
        break;
    }
    case 16: { /* the heap emptied worst first: sel in order, best first */
        ext_cand *h = w->heap;
        while (w->hn > 0) {
            if (w->budget <= 0) return W_MORE;
            w->sel[w->hn - 1] = h[0].i;
            h[0] = h[--w->hn];
            w->budget -= 1 + W_LEVEL * (int64_t)cand_sink(h, w->hn, 0);
        }
        w->phase = 17;
        break;
    }
    case 17: { /* the weights: s of the chosen, normalised by their sum, scaled */
        if (!w_take(w, 1, 4 * (uint64_t)w->k)) return W_MORE;
        const double scale = r.scale;
        double sum = 0;
        for (uint32_t t = 0; t < w->k; t++) sum += w->p[w->sel[t]];
        for (uint32_t t = 0; t < w->k; t++) {
            const size_t o = (size_t)w->j * w->k + t;
            const double x = r.norm ? w->p[w->sel[t]] / (sum + 1e-20) : w->p[w->sel[t]];
            aimc_le_put32(w->ox + o * 4, w->sel[t]);
            w->y[o] = (float)(x * scale);
        }
        w->j++;
        w->phase = w->j < w->batch ? 10 : 20;
        if (w->phase == 20) {
            w_release(w, &w->x, (uint64_t)w->batch * w->n * sizeof(float));
            w_release(w, &w->p, (uint64_t)w->n * sizeof *w->p);
        }
        break;
    }
    case 20:
        W_STEP(w_write(dev, w, AIMC_DESC_ROUTE_IDX_ADDR, w->ox, w->bytes));
        w_release(w, &w->ox, w->bytes);
        w->phase = 21;
        break;
    case 21:
        W_STEP(w_write(dev, w, AIMC_DESC_ROUTE_W_ADDR, w->y, w->bytes));
        operand(c, aimc_le_get64(d + AIMC_DESC_ROUTE_IN_ADDR),
                (uint64_t)w->batch * w->n * sizeof(float), 0);
        operand(c, aimc_le_get64(d + AIMC_DESC_ROUTE_IDX_ADDR), w->bytes, 1);
        operand(c, aimc_le_get64(d + AIMC_DESC_ROUTE_W_ADDR), w->bytes, 1);
        c->anchor = 0;
        c->out_bytes = 2 * w->bytes;
        dev_count_dig(dev, c, AIMC_DIG_ROUTE, w->batch, w->n, w->k);
        return W_DONE;
    default:
        return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
    }
}

/* ---- NORM ----------------------------------------------------------------------------------- */

/* Vectors STRIDE floats apart (0: dim). */
static uint64_t norm_stride(const dev_work *w)
{
    const uint32_t stride = aimc_le_get32(w->desc + AIMC_DESC_NORM_STRIDE);
    return stride ? stride : w->dim;
}

int dev_run_norm(aimc_accel *dev, dev_work *w)
{
    const uint8_t *d = w->desc;
    dev_cmd *c = w->c;
    const uint64_t w_addr = aimc_le_get64(d + AIMC_DESC_NORM_W_ADDR);
    const uint64_t in_addr = aimc_le_get64(d + AIMC_DESC_NORM_IN_ADDR);
    const uint64_t out_addr = aimc_le_get64(d + AIMC_DESC_NORM_OUT_ADDR);
    const float eps = f32_at(d + AIMC_DESC_NORM_EPS);
    for (;;) switch (w->phase) {
    case 0: {
        uint32_t err, info = 0;
        if ((err = field_in(d, AIMC_DESC_NORM_BATCH, 1, DEV_MAX_BATCH, &w->batch, &info)) ||
            (err = field_in(d, AIMC_DESC_NORM_DIM, 1, DEV_MAX_DIM, &w->dim, &info)))
            return w_fail(w, err, info);
        if ((uint64_t)w->batch * w->dim > DEV_MAX_ELEMS)
            return w_fail(w, AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_NORM_BATCH);
        if (!isfinite(eps) || !(eps > 0)) return w_fail(w, AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_NORM_EPS);
        const uint64_t st = norm_stride(w);
        if (st < w->dim || st > DEV_MAX_ELEMS ||
            (uint64_t)(w->batch - 1) * st + w->dim > DEV_MAX_ELEMS ||
            (st != w->dim && in_addr != out_addr))
            return w_fail(w, AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_NORM_STRIDE);
        w->bytes = ((uint64_t)(w->batch - 1) * st + w->dim) * sizeof(float);
        w->phase = 1;
        break;
    }
    case 1:
        if (w_addr)
            W_STEP(w_read(dev, w, AIMC_DESC_NORM_W_ADDR, (uint64_t)w->dim * sizeof(float),
                          (void **)&w->wt, 0));
        w->phase = 2;
        break;
    case 2:
        W_STEP(w_read(dev, w, AIMC_DESC_NORM_IN_ADDR, w->bytes, (void **)&w->x, 0));
        if (dev_dma_probe(dev, out_addr, w->bytes))
            return w_fail(w, AIMC_REG_ERROR_DMA_FAULT, AIMC_DESC_NORM_OUT_ADDR);
        w->j = 0; /* the vector */
        w->i = 0; /* 0 .. dim - 1: its sum of squares; dim .. 2 dim - 1: its scaling */
        w->acc = 0;
        w->phase = w->x ? 3 : 4;
        break;
    case 3: /* as RMSNORM's, with eps and the weights */
        while (w->j < w->batch) {
            const uint64_t stride = norm_stride(w);
            float *v = w->x + (size_t)(w->j * stride);
            const uint64_t dim = w->dim;
            const uint64_t m = w_take(w, 2 * dim - w->i, 1);
            if (!m) return W_MORE;
            const uint64_t end = w->i + m;
            if (w->i < dim) {
                const uint64_t e_sum = end < dim ? end : dim;
                double ss = w->acc;
                for (uint64_t e = w->i; e < e_sum; e++) ss += (double)v[e] * v[e];
                /* the sum done: acc holds the scale */
                w->acc = e_sum == dim ? 1.0 / sqrt(ss / (double)dim + (double)eps) : ss;
                w->i = e_sum;
            }
            const double inv = w->acc;
            for (uint64_t e = w->i; e < end; e++)
                v[e - dim] = (float)((double)v[e - dim] * inv * (w->wt ? (double)w->wt[e - dim] : 1.0));
            w->i = end;
            if (w->i == 2 * dim) {
                w->j++;
                w->i = 0;
                w->acc = 0;
            }
        }
        w->phase = 4;
        break;
    case 4:
        W_STEP(w_write(dev, w, AIMC_DESC_NORM_OUT_ADDR, w->x, w->bytes));
        operand(c, in_addr, w->bytes, 0);
        operand(c, out_addr, w->bytes, 1);
        c->anchor = 0;
        dev_count_dig(dev, c, AIMC_DIG_NORM, w->batch, w->dim, w_addr != 0);
        c->out_bytes = (uint64_t)w->batch * w->dim * sizeof(float);
        return W_DONE;
    default:
        return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
    }
}

/* ---- ACT ------------------------------------------------------------------------------------ */

int dev_run_act(aimc_accel *dev, dev_work *w)
{
    const uint8_t *d = w->desc;
    dev_cmd *c = w->c;
    for (;;) switch (w->phase) {
    case 0: {
        uint32_t err, info = 0, func;
        if ((err = field_in(d, AIMC_DESC_ACT_COUNT, 1, DEV_MAX_ELEMS, &w->n, &info)) ||
            (err = field_in(d, AIMC_DESC_ACT_FUNC, 0, 0, &func, &info)))
            return w_fail(w, err, info);
        w->bytes = (uint64_t)w->n * sizeof(float);
        w->phase = 1;
        break;
    }
    case 1:
        W_STEP(w_read(dev, w, AIMC_DESC_ACT_IN_ADDR, w->bytes, (void **)&w->x, 0));
        if (dev_dma_probe(dev, aimc_le_get64(d + AIMC_DESC_ACT_OUT_ADDR), w->bytes))
            return w_fail(w, AIMC_REG_ERROR_DMA_FAULT, AIMC_DESC_ACT_OUT_ADDR);
        w->i = 0;
        w->phase = w->x ? 2 : 3;
        break;
    case 2: /* the sigmoid, in place */
        while (w->i < w->n) {
            const uint64_t m = w_take(w, w->n - w->i, W_EXP);
            if (!m) return W_MORE;
            float *x = w->x;
            for (uint64_t i = w->i; i < w->i + m; i++) x[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
            w->i += m;
        }
        w->phase = 3;
        break;
    case 3:
        W_STEP(w_write(dev, w, AIMC_DESC_ACT_OUT_ADDR, w->x, w->bytes));
        operand(c, aimc_le_get64(d + AIMC_DESC_ACT_IN_ADDR), w->bytes, 0);
        operand(c, aimc_le_get64(d + AIMC_DESC_ACT_OUT_ADDR), w->bytes, 1);
        c->anchor = 0;
        c->out_bytes = w->bytes;
        dev_count_dig(dev, c, AIMC_DIG_ACT, 1, w->n, 0);
        return W_DONE;
    default:
        return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
    }
}

/* ---- ATTN ----------------------------------------------------------------------------------- */

typedef struct {
    uint32_t heads, kv_heads, dk, dv, ctx, rope_dim, rope_mode, v_in_k, append;
    float scale, theta;
    uint64_t rowk, rowv; /* floats of a cache row of keys, of values (0: V_IN_K) */
    /* with the descriptor's BATCH and POS0: bytes of the queries, new keys and values (0
     * without APPEND), outputs and cache; the positions attended to, of them those in the
     * cache already, and where the values start in the cache */
    uint64_t q_bytes, kv_bytes, out_bytes, cache_bytes, rows, have, vals;
    uint64_t kv_read; /* bytes of the cache it reads (aimc_cost_attn_io) */
} ext_attn;

static ext_attn attn_of(const dev_work *w)
{
    const uint8_t *rec = w->rec;
    ext_attn r;
    r.heads = aimc_le_get32(rec + AIMC_REC_ATTN_HEADS);
    r.kv_heads = aimc_le_get32(rec + AIMC_REC_ATTN_KV_HEADS);
    r.dk = aimc_le_get32(rec + AIMC_REC_ATTN_DK);
    r.dv = aimc_le_get32(rec + AIMC_REC_ATTN_DV);
    r.ctx = aimc_le_get32(rec + AIMC_REC_ATTN_CTX);
    r.rope_dim = aimc_le_get32(rec + AIMC_REC_ATTN_ROPE_DIM);
    r.rope_mode = aimc_le_get32(rec + AIMC_REC_ATTN_ROPE_MODE);
    r.v_in_k = aimc_le_get32(rec + AIMC_REC_ATTN_V_IN_K);
    r.append = aimc_le_get32(rec + AIMC_REC_ATTN_APPEND);
    r.scale = f32_at(rec + AIMC_REC_ATTN_SCALE);
    r.theta = f32_at(rec + AIMC_REC_ATTN_THETA);
    r.rowk = (uint64_t)r.kv_heads * r.dk;
    r.rowv = r.v_in_k ? 0 : (uint64_t)r.kv_heads * r.dv;
    aimc_cost_attn_bytes io; /* the bytes it moves: the cost layer's, as the estimate's */
    aimc_cost_attn_io(w->batch, w->pos0, r.heads, r.kv_heads, r.dk, r.dv, (int)r.v_in_k,
                      (int)r.append, &io);
    r.q_bytes = io.q;
    r.kv_bytes = io.kv;
    r.out_bytes = io.out;
    r.kv_read = io.kv_read;
    r.cache_bytes = (uint64_t)r.ctx * (r.rowk + r.rowv) * 4;
    r.rows = (uint64_t)w->pos0 + w->batch;
    r.have = r.append ? (uint64_t)w->pos0 : r.rows;
    r.vals = (uint64_t)r.ctx * r.rowk * 4;
    return r;
}

/* Rotate pair i of the last r of the n floats at x by position pos (RoPE): (i, i + r/2), or
 * (2i, 2i + 1) interleaved, turns by pos x theta^(-2i/r); in double. */
static void rope_pair(float *x, uint32_t n, uint32_t r, int interleaved, double theta,
                      uint32_t pos, uint32_t i)
{
    float *y = x + (n - r);
    const double ang = (double)pos * pow(theta, -2.0 * (double)i / (double)r);
    const double c = cos(ang), s = sin(ang);
    float *a = interleaved ? &y[2 * i] : &y[i], *b = interleaved ? &y[2 * i + 1] : &y[i + r / 2];
    const double xa = *a, xb = *b;
    *a = (float)(xa * c - xb * s);
    *b = (float)(xb * c + xa * s);
}

/* Copy floats w->i .. n - 1 of src to dst in slices. */
static int w_copy(dev_work *w, float *dst, const float *src, uint64_t n)
{
    while (w->i < n) {
        const uint64_t m = w_take(w, n - w->i, 1);
        if (!m) return W_MORE;
        memcpy(dst + w->i, src + w->i, (size_t)m * sizeof *dst);
        w->i += m;
    }
    return W_DONE;
}

int dev_run_attn(aimc_accel *dev, dev_work *w)
{
    const uint8_t *d = w->desc;
    dev_cmd *c = w->c;
    const uint64_t q_addr = aimc_le_get64(d + AIMC_DESC_ATTN_Q_ADDR);
    const uint64_t kv_addr = aimc_le_get64(d + AIMC_DESC_ATTN_KV_ADDR);
    const uint64_t out_addr = aimc_le_get64(d + AIMC_DESC_ATTN_OUT_ADDR);
    const uint64_t cache = aimc_le_get64(d + AIMC_DESC_ATTN_CACHE_ADDR);
    ext_attn r = attn_of(w); /* the record, read in phase 1 (and taken again once it is) */
    uint64_t rowk = r.rowk, rowv = r.rowv;
    /* w->x queries, w->u new keys and values, w->y outputs; w->kc, w->vc the cache's rows;
     * w->p a head's scores, w->pv its output sums */
    for (;;) switch (w->phase) {
    case 0: {
        uint32_t err, info = 0;
        if ((err = field_in(d, AIMC_DESC_ATTN_BATCH, 1, DEV_MAX_BATCH, &w->batch, &info)))
            return w_fail(w, err, info);
        w->pos0 = aimc_le_get32(d + AIMC_DESC_ATTN_POS0);
        w->phase = 1;
        break;
    }
    case 1: /* the shapes decide what the command does: read and checked in every mode */
        W_STEP(w_record(dev, w, AIMC_DESC_ATTN_PARAM_ADDR, AIMC_REC_ATTN_BYTES));
        {
            const ext_attn q = attn_of(w);
            const uint64_t b = w->batch;
            if (q.heads < 1 || q.heads > 4096 || q.kv_heads < 1 || q.heads % q.kv_heads ||
                q.dk < 1 || q.dk > 65536 || q.dv < 1 || q.dv > 65536 || q.ctx < 1 ||
                q.ctx > 65536 || q.rope_dim > q.dk || q.rope_dim % 2 || q.rope_mode > 1 ||
                q.v_in_k > 1 || q.append > 1 || (q.v_in_k && q.dv > q.dk) ||
                !isfinite(q.scale) || !(q.scale > 0) || !isfinite(q.theta) || !(q.theta > 1) ||
                b * q.heads * q.dk > DEV_MAX_ELEMS || b * q.heads * q.dv > DEV_MAX_ELEMS ||
                b * (q.rowk + q.rowv) > DEV_MAX_ELEMS ||
                (uint64_t)q.ctx * (q.rowk + q.rowv) > 16 * (uint64_t)DEV_MAX_ELEMS)
                return w_fail(w, AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_ATTN_PARAM_ADDR);
            if ((uint64_t)w->pos0 + b > q.ctx)
                return w_fail(w, AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_ATTN_POS0);
            r = q;
            rowk = r.rowk;
            rowv = r.rowv;
        }
        w->phase = 2;
        break;
    case 2:
        W_STEP(w_read(dev, w, AIMC_DESC_ATTN_Q_ADDR, r.q_bytes, (void **)&w->x, 0));
        w->phase = 3;
        break;
    case 3:
        if (r.append) W_STEP(w_read(dev, w, AIMC_DESC_ATTN_KV_ADDR, r.kv_bytes, (void **)&w->u, 0));
        w->phase = 4;
        break;
    case 4:
        W_STEP(w_outbuf(dev, w, AIMC_DESC_ATTN_OUT_ADDR, r.out_bytes, (void **)&w->y));
        w->phase = 5;
        break;
    case 5:
        if (w->budget <= 0) return W_MORE;
        if (dev_dma_probe(dev, cache, r.cache_bytes))
            return w_fail(w, AIMC_REG_ERROR_DMA_FAULT, AIMC_DESC_ATTN_CACHE_ADDR);
        if (!values(dev)) {
            w->phase = 30;
            break;
        }
        w->kc = malloc((size_t)(r.rows * rowk) * sizeof *w->kc);
        w->vc = rowv ? malloc((size_t)(r.rows * rowv) * sizeof *w->vc) : NULL;
        w->p = malloc((size_t)r.rows * sizeof *w->p);
        w->pv = malloc((size_t)r.dv * sizeof *w->pv);
        if (!w->kc || (rowv && !w->vc) || !w->p || !w->pv)
            return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
        w->budget -= (int64_t)(r.rows * (rowk + rowv) * 4 / 16); /* as w_outbuf */
        w->phase = 6;
        break;
    /* the cache so far, the new keys (rotated) and values after it, written back; without
     * APPEND they are in the cache already */
    case 6:
        W_STEP(w_dma_in(dev, w, cache, AIMC_DESC_ATTN_CACHE_ADDR, w->kc, r.have * rowk * 4));
        w->phase = 7;
        break;
    case 7:
        if (rowv)
            W_STEP(w_dma_in(dev, w, cache + r.vals, AIMC_DESC_ATTN_CACHE_ADDR, w->vc,
                            r.have * rowv * 4));
        w->i = 0;
        w->phase = r.append ? 8 : 14;
        break;
    case 8: /* the new keys */
        if (w_copy(w, w->kc + w->pos0 * rowk, w->u, w->batch * rowk) == W_MORE) return W_MORE;
        w->i = 0;
        w->phase = 9;
        break;
    case 9: { /* rotated: pair p of kv head j of token t, in that order */
        const uint64_t pairs = r.rope_dim / 2, n = w->batch * r.kv_heads * pairs;
        while (w->i < n) {
            const uint64_t m = w_take(w, n - w->i, W_ROPE_PAIR);
            if (!m) return W_MORE;
            for (uint64_t e = w->i; e < w->i + m; e++) {
                const uint64_t tj = e / pairs, t = tj / r.kv_heads, j = tj % r.kv_heads;
                rope_pair(w->kc + (w->pos0 + t) * rowk + j * r.dk, r.dk, r.rope_dim,
                          (int)r.rope_mode, r.theta, (uint32_t)(w->pos0 + t),
                          (uint32_t)(e % pairs));
            }
            w->i += m;
        }
        w->i = 0;
        w->phase = 10;
        break;
    }
    case 10: /* the new values */
        if (rowv && w_copy(w, w->vc + w->pos0 * rowv, w->u + w->batch * rowk, w->batch * rowv) ==
                        W_MORE)
            return W_MORE;
        w_release(w, &w->u, r.kv_bytes);
        w->phase = 11;
        break;
    case 11:
        W_STEP(w_dma_out(dev, w, cache + w->pos0 * rowk * 4, AIMC_DESC_ATTN_CACHE_ADDR,
                         w->kc + w->pos0 * rowk, w->batch * rowk * 4));
        w->phase = 12;
        break;
    case 12:
        if (rowv)
            W_STEP(w_dma_out(dev, w, cache + r.vals + w->pos0 * rowv * 4, AIMC_DESC_ATTN_CACHE_ADDR,
                             w->vc + w->pos0 * rowv, w->batch * rowv * 4));
        w->phase = 14;
        break;
    case 14: /* query t, head h: its rotation first */
        w->t = w->h = 0;
        w->i = 0;
        w->phase = 15;
        break;
    case 15: {
        float *qh = w->x + (w->t * r.heads + w->h) * r.dk;
        const uint64_t pairs = r.rope_dim / 2;
        while (w->i < pairs) {
            const uint64_t m = w_take(w, pairs - w->i, W_ROPE_PAIR);
            if (!m) return W_MORE;
            for (uint64_t e = w->i; e < w->i + m; e++)
                rope_pair(qh, r.dk, r.rope_dim, (int)r.rope_mode, r.theta,
                          (uint32_t)(w->pos0 + w->t), (uint32_t)e);
            w->i += m;
        }
        w->i = 0;
        w->acc = -INFINITY; /* the max score */
        w->phase = 16;
        break;
    }
    case 16: { /* the scores of positions 0 .. pos0 + t, dk operations each */
        const float *qh = w->x + (w->t * r.heads + w->h) * r.dk;
        const uint64_t j = w->h / (r.heads / r.kv_heads), n = w->pos0 + w->t + 1;
        const double scale = r.scale;
        while (w->i < n) {
            const uint64_t m = w_take(w, n - w->i, r.dk);
            if (!m) return W_MORE;
            double mx = w->acc;
            for (uint64_t i = w->i; i < w->i + m; i++) {
                const float *k = w->kc + i * rowk + j * r.dk;
                double sc = 0;
                for (uint32_t e = 0; e < r.dk; e++) sc += (double)qh[e] * k[e];
                w->p[i] = sc * scale;
                if (w->p[i] > mx) mx = w->p[i];
            }
            w->acc = mx;
            w->i += m;
        }
        w->i = 0;
        w->sum = 0;
        w->phase = 17;
        break;
    }
    case 17: { /* their softmax's exps and sum */
        const uint64_t n = w->pos0 + w->t + 1;
        while (w->i < n) {
            const uint64_t m = w_take(w, n - w->i, W_EXP);
            if (!m) return W_MORE;
            double sum = w->sum;
            for (uint64_t i = w->i; i < w->i + m; i++) sum += (w->p[i] = exp(w->p[i] - w->acc));
            w->sum = sum;
            w->i += m;
        }
        for (uint32_t e = 0; e < r.dv; e++) w->pv[e] = 0;
        w->budget -= r.dv / 16;
        w->i = 0;
        w->phase = 18;
        break;
    }
    case 18: { /* the values weighed: position by position, dv operations each (each output
                * sums its positions in order, as one go) */
        const uint64_t j = w->h / (r.heads / r.kv_heads), n = w->pos0 + w->t + 1;
        double *pv = w->pv;
        while (w->i < n) {
            const uint64_t m = w_take(w, n - w->i, r.dv);
            if (!m) return W_MORE;
            for (uint64_t i = w->i; i < w->i + m; i++) {
                const float *v = rowv ? w->vc + i * rowv + j * r.dv : w->kc + i * rowk + j * r.dk;
                const double pi = w->p[i];
                for (uint32_t e = 0; e < r.dv; e++) pv[e] += pi * v[e];
            }
            w->i += m;
        }
        w->phase = 19;
        break;
    }
    case 19: { /* the head's outputs; the next head, or query */
        if (!w_take(w, 1, r.dv)) return W_MORE;
        float *o = w->y + (w->t * r.heads + w->h) * r.dv;
        for (uint32_t e = 0; e < r.dv; e++) o[e] = (float)(w->pv[e] / w->sum);
        if (++w->h == r.heads) {
            w->h = 0;
            w->t++;
        }
        w->i = 0;
        w->phase = w->t < w->batch ? 15 : 30;
        break;
    }
    case 30:
        W_STEP(w_write(dev, w, AIMC_DESC_ATTN_OUT_ADDR, w->y, r.out_bytes));
        operand(c, q_addr, r.q_bytes, 0);
        operand(c, kv_addr, r.kv_bytes, 0);
        operand(c, out_addr, r.out_bytes, 1);
        /* the cache: the device's own (not moved), a write for the order of the layer's ATTNs */
        operand(c, cache, r.cache_bytes, 1);
        c->anchor = 0;
        c->out_bytes = r.out_bytes;
        c->dig = AIMC_DIG_ATTN;
        c->dig_ops = aimc_cost_attn_ops(w->batch, w->pos0, r.heads, r.append ? r.kv_heads : 0,
                                        r.dk, r.dv, r.rope_dim);
        c->dig_in = r.q_bytes + r.kv_bytes;
        c->dig_out = r.out_bytes;
        c->kv_read = r.kv_read;
        c->kv_write = r.kv_bytes;
        c->cnt.digital_ops += c->dig_ops;
        c->cnt.cycles += aimc_cost_units_cycles(&dev->arch, c->dig_ops);
        return W_DONE;
    default:
        return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
    }
}

/* ---- dispatch ------------------------------------------------------------------------------- */

int dev_ext_reserved(uint32_t op, uint32_t *from, uint32_t *to, uint32_t *from2, uint32_t *to2)
{
    switch (op) {
    case AIMC_DESC_OP_ROUTE:
        *from = *to = 0;
        *from2 = AIMC_DESC_ROUTE_RSVD;
        *to2 = AIMC_DESC_ROUTE_RSVD + 4;
        return 1;
    case AIMC_DESC_OP_NORM:
        *from = AIMC_DESC_NORM_RESERVED;
        *to = AIMC_DESC_BYTES;
        *from2 = *to2 = 0;
        return 1;
    case AIMC_DESC_OP_ATTN:
        *from = *to = *from2 = *to2 = 0;
        return 1;
    case AIMC_DESC_OP_ACT:
        *from = AIMC_DESC_ACT_RESERVED;
        *to = AIMC_DESC_BYTES;
        *from2 = *to2 = 0;
        return 1;
    }
    return 0;
}

int dev_ext_is_dig(uint32_t op)
{
    return op == AIMC_DESC_OP_ROUTE || op == AIMC_DESC_OP_NORM || op == AIMC_DESC_OP_ACT ||
           op == AIMC_DESC_OP_ATTN;
}
