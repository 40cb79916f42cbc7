/* exec_ext.c - the accelerator's commands of the whole transformer block beyond the MoE FFN
 * of exec.c: ROUTE (a routing rule: softmax or sigmoid scores, correction bias, group-limited
 * top-k, renormalisation, scaling), NORM (an RMS norm with a learned weight and its own
 * epsilon) and ACT (an elementwise sigmoid). Each is checked like every command of exec.c and,
 * with values, computed when the command processor fetches it; what it reads, writes and does
 * goes into its dev_cmd for sched.c to time.
 *
 * Follows docs/driver.md and docs/registers.md (common/aimc_regs.yaml: the ROUTE, NORM and ACT
 * descriptors and the RULE record). A rule record and a norm's weights are constants of the
 * model: the device keeps them from their first use in its units' buffer, so they are not an
 * operand that moves (the units read their bytes, dig_in counts them).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accel_int.h"

#define EXT_MAX_GROUPS 256u /* RULE.GROUPS: the units keep this many group scores */

static int ext_values(const aimc_accel *dev)
{
    return !dev->opts.timing_only;
}

/* [addr, addr + n) can be read: its first and last byte (the transfer is checked again). */
static int ext_probe(aimc_accel *dev, uint64_t addr, uint64_t n)
{
    uint8_t b;
    if (n == 0) return 0;
    if (addr > UINT64_MAX - n) return -1;
    return dev_dma_read(dev, addr, &b, 1) || dev_dma_read(dev, addr + n - 1, &b, 1);
}

/* A u32 field in lo..hi, else BAD_DESC with its offset. */
static uint32_t ext_field(const uint8_t *desc, uint32_t off, uint32_t lo, uint32_t hi,
                          uint32_t *out, uint32_t *info)
{
    *out = aimc_le_get32(desc + off);
    if (*out < lo || *out > hi) {
        *info = off;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    return 0;
}

/* n bytes at addr into a new buffer *out (values only; the range is checked in every mode);
 * DMA_FAULT with info = field. */
static uint32_t ext_fetch(aimc_accel *dev, uint64_t addr, uint32_t field, uint64_t n,
                          void **out, uint32_t *info)
{
    *out = NULL;
    if (ext_probe(dev, addr, n)) {
        *info = field;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    if (!ext_values(dev)) return 0;
    if (n > SIZE_MAX) return AIMC_REG_ERROR_INTERNAL;
    *out = malloc(n ? (size_t)n : 1);
    if (!*out) return AIMC_REG_ERROR_INTERNAL;
    if (dev_dma_read(dev, addr, *out, (size_t)n)) {
        free(*out);
        *out = NULL;
        *info = field;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    return 0;
}

/* An output range of n bytes at the address in `field`: checked, and a zeroed buffer for it
 * with values. */
static uint32_t ext_out(aimc_accel *dev, const uint8_t *desc, uint32_t field, uint64_t n,
                        void **out, uint32_t *info)
{
    *out = NULL;
    if (ext_probe(dev, aimc_le_get64(desc + field), n)) {
        *info = field;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    if (!ext_values(dev)) return 0;
    if (n > SIZE_MAX) return AIMC_REG_ERROR_INTERNAL;
    *out = calloc(1, n ? (size_t)n : 1);
    return *out ? 0 : AIMC_REG_ERROR_INTERNAL;
}

static void ext_operand(dev_cmd *c, uint64_t addr, uint64_t n, int write)
{
    if (c->n_opd >= DEV_MAX_OPERANDS || n == 0) return;
    dev_operand *o = &c->opd[c->n_opd++];
    memset(o, 0, sizeof *o);
    o->addr = addr;
    o->bytes = n;
    o->write = write;
    o->move = write ? 0 : n;
}

static void ext_count(aimc_accel *dev, dev_cmd *c, aimc_dig op, uint64_t batch, uint64_t n,
                      uint64_t k)
{
    const uint64_t ops = aimc_cost_dig_ops(op, batch, n, k);
    c->dig = op;
    c->dig_ops = ops;
    aimc_cost_dig_io(op, batch, n, k, &c->dig_in, &c->dig_out);
    c->cnt.digital_ops += ops;
    c->cnt.cycles += aimc_cost_units_cycles(&dev->arch, ops);
}

static float f32_at(const uint8_t *p)
{
    uint32_t u = aimc_le_get32(p);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- ROUTE ---------------------------------------------------------------------------------- */

typedef struct {
    uint32_t score, norm, groups, topk_groups, bias;
    double scale;
} ext_rule;

typedef struct {
    double c;
    uint32_t i;
} ext_cand;

/* Larger score first, the lower index on a tie; NaN after every number. */
static int by_score(const void *a, const void *b)
{
    const ext_cand *x = a, *y = b;
    const int xn = isnan(x->c), yn = isnan(y->c);
    if (xn != yn) return xn - yn;
    if (!xn && x->c != y->c) return x->c > y->c ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Route one vector: logits v[n], biases b (NULL: none), into idx[k] and w[k]. work: s (n
 * doubles), cand (n), gcand (groups). */
static void route_one(const float *v, uint32_t n, uint32_t k, const ext_rule *r, const float *b,
                      double *s, ext_cand *cand, ext_cand *gcand, uint32_t *idx, float *w)
{
    if (r->score) {
        for (uint32_t e = 0; e < n; e++) s[e] = 1.0 / (1.0 + exp(-(double)v[e]));
    } else {
        double mx = v[0], sum = 0;
        for (uint32_t e = 1; e < n; e++)
            if ((double)v[e] > mx) mx = v[e];
        for (uint32_t e = 0; e < n; e++) sum += (s[e] = exp((double)v[e] - mx));
        for (uint32_t e = 0; e < n; e++) s[e] /= sum;
    }
    const uint32_t per = n / r->groups;
    uint32_t m = 0;
    if (r->topk_groups < r->groups) {
        /* Each group's score: its two largest choice scores; the best groups take part. */
        for (uint32_t g = 0; g < r->groups; g++) {
            double a = -INFINITY, a2 = -INFINITY;
            for (uint32_t e = g * per; e < (g + 1) * per; e++) {
                const double c = s[e] + (b ? (double)b[e] : 0.0);
                if (c > a) {
                    a2 = a;
                    a = c;
                } else if (c > a2) {
                    a2 = c;
                }
            }
            gcand[g] = (ext_cand){per > 1 ? a + a2 : a, g};
        }
        qsort(gcand, r->groups, sizeof *gcand, by_score);
        for (uint32_t j = 0; j < r->topk_groups; j++)
            for (uint32_t e = gcand[j].i * per; e < (gcand[j].i + 1) * per; e++)
                cand[m++] = (ext_cand){s[e] + (b ? (double)b[e] : 0.0), e};
    } else {
        for (uint32_t e = 0; e < n; e++) cand[m++] = (ext_cand){s[e] + (b ? (double)b[e] : 0.0), e};
    }
    qsort(cand, m, sizeof *cand, by_score);
    double sum = 0;
    for (uint32_t j = 0; j < k; j++) sum += s[cand[j].i];
    for (uint32_t j = 0; j < k; j++) {
        idx[j] = cand[j].i;
        const double x = r->norm ? s[cand[j].i] / (sum + 1e-20) : s[cand[j].i];
        w[j] = (float)(x * r->scale);
    }
}

static uint32_t exec_route(aimc_accel *dev, const uint8_t *desc, dev_cmd *c, uint32_t *info)
{
    uint32_t batch, n, k, err;
    float *v = NULL, *w = NULL, *bias = NULL;
    uint8_t *ix = NULL;
    uint32_t *idx = NULL;
    double *s = NULL;
    ext_cand *cand = NULL, *gcand = NULL;
    uint8_t rec[AIMC_REC_RULE_BYTES];
    ext_rule r;
    const uint64_t rule_addr = aimc_le_get64(desc + AIMC_DESC_ROUTE_RULE_ADDR);

    if ((err = ext_field(desc, AIMC_DESC_ROUTE_BATCH, 1, DEV_MAX_BATCH, &batch, info)) ||
        (err = ext_field(desc, AIMC_DESC_ROUTE_N, 1, DEV_MAX_DIM, &n, info)) ||
        (err = ext_field(desc, AIMC_DESC_ROUTE_K, 1, n, &k, info)))
        return err;
    if ((uint64_t)batch * n > DEV_MAX_ELEMS) {
        *info = AIMC_DESC_ROUTE_BATCH;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    /* The rule decides what the command does: read and checked in every mode. */
    if (ext_probe(dev, rule_addr, sizeof rec) || dev_dma_read(dev, rule_addr, rec, sizeof rec)) {
        *info = AIMC_DESC_ROUTE_RULE_ADDR;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    r.score = aimc_le_get32(rec + AIMC_REC_RULE_SCORE);
    r.norm = aimc_le_get32(rec + AIMC_REC_RULE_NORM);
    r.groups = aimc_le_get32(rec + AIMC_REC_RULE_GROUPS);
    r.topk_groups = aimc_le_get32(rec + AIMC_REC_RULE_TOPK_GROUPS);
    r.bias = aimc_le_get32(rec + AIMC_REC_RULE_BIAS);
    const float scale = f32_at(rec + AIMC_REC_RULE_SCALE);
    r.scale = scale;
    if (r.score > 1 || r.norm > 1 || r.bias > 1 || r.groups < 1 || r.groups > EXT_MAX_GROUPS ||
        n % r.groups || r.topk_groups < 1 || r.topk_groups > r.groups ||
        (uint64_t)k > (uint64_t)r.topk_groups * (n / r.groups) || !isfinite(scale) || !(scale > 0)) {
        *info = AIMC_DESC_ROUTE_RULE_ADDR;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    const uint64_t out_n = (uint64_t)batch * k, in_bytes = (uint64_t)batch * n * sizeof(float);
    if (r.bias &&
        (err = ext_fetch(dev, rule_addr + sizeof rec, AIMC_DESC_ROUTE_RULE_ADDR,
                         (uint64_t)n * sizeof(float), (void **)&bias, info)))
        goto out;
    if (bias)
        for (uint32_t e = 0; e < n; e++)
            if (!isfinite(bias[e])) {
                *info = AIMC_DESC_ROUTE_RULE_ADDR;
                err = AIMC_REG_ERROR_BAD_DESC;
                goto out;
            }
    if ((err = ext_fetch(dev, aimc_le_get64(desc + AIMC_DESC_ROUTE_IN_ADDR), AIMC_DESC_ROUTE_IN_ADDR,
                         in_bytes, (void **)&v, info)) ||
        (err = ext_out(dev, desc, AIMC_DESC_ROUTE_IDX_ADDR, out_n * 4, (void **)&ix, info)) ||
        (err = ext_out(dev, desc, AIMC_DESC_ROUTE_W_ADDR, out_n * sizeof(float), (void **)&w, info)))
        goto out;
    if (ext_values(dev)) {
        idx = malloc((size_t)k * sizeof *idx);
        s = malloc((size_t)n * sizeof *s);
        cand = malloc((size_t)n * sizeof *cand);
        gcand = malloc((size_t)r.groups * sizeof *gcand);
        if (!idx || !s || !cand || !gcand) {
            err = AIMC_REG_ERROR_INTERNAL;
            goto out;
        }
        for (uint32_t q = 0; q < batch; q++) {
            route_one(v + (size_t)q * n, n, k, &r, bias, s, cand, gcand, idx, w + (size_t)q * k);
            for (uint32_t j = 0; j < k; j++) aimc_le_put32(ix + ((size_t)q * k + j) * 4, idx[j]);
        }
    }
    if ((err = dev_dma_store(dev, desc, AIMC_DESC_ROUTE_IDX_ADDR, ix, out_n * 4, info)) ||
        (err = dev_dma_store(dev, desc, AIMC_DESC_ROUTE_W_ADDR, w, out_n * sizeof(float), info)))
        goto out;
    ext_operand(c, aimc_le_get64(desc + AIMC_DESC_ROUTE_IN_ADDR), in_bytes, 0);
    ext_operand(c, aimc_le_get64(desc + AIMC_DESC_ROUTE_IDX_ADDR), out_n * 4, 1);
    ext_operand(c, aimc_le_get64(desc + AIMC_DESC_ROUTE_W_ADDR), out_n * sizeof(float), 1);
    c->anchor = 0;
    c->out_bytes = out_n * 8;
    ext_count(dev, c, AIMC_DIG_ROUTE, batch, n, k);
out:
    free(gcand);
    free(cand);
    free(s);
    free(idx);
    free(bias);
    free(w);
    free(ix);
    free(v);
    return err;
}

/* ---- NORM ----------------------------------------------------------------------------------- */

static uint32_t exec_norm(aimc_accel *dev, const uint8_t *desc, dev_cmd *c, uint32_t *info)
{
    uint32_t batch, dim, err;
    float *x = NULL, *wt = NULL;
    const uint64_t w_addr = aimc_le_get64(desc + AIMC_DESC_NORM_W_ADDR);
    const uint64_t in_addr = aimc_le_get64(desc + AIMC_DESC_NORM_IN_ADDR);
    const uint64_t out_addr = aimc_le_get64(desc + AIMC_DESC_NORM_OUT_ADDR);

    if ((err = ext_field(desc, AIMC_DESC_NORM_BATCH, 1, DEV_MAX_BATCH, &batch, info)) ||
        (err = ext_field(desc, AIMC_DESC_NORM_DIM, 1, DEV_MAX_DIM, &dim, info)))
        return err;
    if ((uint64_t)batch * dim > DEV_MAX_ELEMS) {
        *info = AIMC_DESC_NORM_BATCH;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    const float eps = f32_at(desc + AIMC_DESC_NORM_EPS);
    if (!isfinite(eps) || !(eps > 0)) {
        *info = AIMC_DESC_NORM_EPS;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    /* Vectors STRIDE floats apart (a part of wider rows: in place only). */
    uint32_t stride = aimc_le_get32(desc + AIMC_DESC_NORM_STRIDE);
    if (stride == 0) stride = dim;
    if (stride < dim || stride > DEV_MAX_ELEMS ||
        (uint64_t)(batch - 1) * stride + dim > DEV_MAX_ELEMS || (stride != dim && in_addr != out_addr)) {
        *info = AIMC_DESC_NORM_STRIDE;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    const uint64_t bytes = ((uint64_t)(batch - 1) * stride + dim) * sizeof(float);
    if ((w_addr && (err = ext_fetch(dev, w_addr, AIMC_DESC_NORM_W_ADDR,
                                    (uint64_t)dim * sizeof(float), (void **)&wt, info))) ||
        (err = ext_fetch(dev, in_addr, AIMC_DESC_NORM_IN_ADDR, bytes, (void **)&x, info)))
        goto out;
    if (ext_probe(dev, out_addr, bytes)) {
        *info = AIMC_DESC_NORM_OUT_ADDR;
        err = AIMC_REG_ERROR_DMA_FAULT;
        goto out;
    }
    if (x)
        for (uint32_t q = 0; q < batch; q++) {
            float *r = x + (size_t)q * stride;
            double ss = 0;
            for (uint32_t i = 0; i < dim; i++) ss += (double)r[i] * r[i];
            const double inv = 1.0 / sqrt(ss / (double)dim + (double)eps);
            for (uint32_t i = 0; i < dim; i++)
                r[i] = (float)((double)r[i] * inv * (wt ? (double)wt[i] : 1.0));
        }
    if ((err = dev_dma_store(dev, desc, AIMC_DESC_NORM_OUT_ADDR, x, bytes, info))) goto out;
    ext_operand(c, in_addr, bytes, 0);
    ext_operand(c, out_addr, bytes, 1);
    c->anchor = 0;
    c->out_bytes = bytes;
    ext_count(dev, c, AIMC_DIG_NORM, batch, dim, w_addr != 0);
    c->out_bytes = (uint64_t)batch * dim * sizeof(float);
out:
    free(wt);
    free(x);
    return err;
}

/* ---- ACT ------------------------------------------------------------------------------------ */

static uint32_t exec_act(aimc_accel *dev, const uint8_t *desc, dev_cmd *c, uint32_t *info)
{
    uint32_t count, func, err;
    float *x = NULL;
    const uint64_t in_addr = aimc_le_get64(desc + AIMC_DESC_ACT_IN_ADDR);
    const uint64_t out_addr = aimc_le_get64(desc + AIMC_DESC_ACT_OUT_ADDR);

    if ((err = ext_field(desc, AIMC_DESC_ACT_COUNT, 1, DEV_MAX_ELEMS, &count, info)) ||
        (err = ext_field(desc, AIMC_DESC_ACT_FUNC, 0, 0, &func, info)))
        return err;
    const uint64_t bytes = (uint64_t)count * sizeof(float);
    if ((err = ext_fetch(dev, in_addr, AIMC_DESC_ACT_IN_ADDR, bytes, (void **)&x, info))) goto out;
    if (ext_probe(dev, out_addr, bytes)) {
        *info = AIMC_DESC_ACT_OUT_ADDR;
        err = AIMC_REG_ERROR_DMA_FAULT;
        goto out;
    }
    if (x)
        for (uint32_t i = 0; i < count; i++) x[i] = (float)(1.0 / (1.0 + exp(-(double)x[i])));
    if ((err = dev_dma_store(dev, desc, AIMC_DESC_ACT_OUT_ADDR, x, bytes, info))) goto out;
    ext_operand(c, in_addr, bytes, 0);
    ext_operand(c, out_addr, bytes, 1);
    c->anchor = 0;
    c->out_bytes = bytes;
    ext_count(dev, c, AIMC_DIG_ACT, 1, count, 0);
out:
    free(x);
    return err;
}

/* ---- ATTN ----------------------------------------------------------------------------------- */

typedef struct {
    uint32_t heads, kv_heads, dk, dv, ctx, rope_dim, rope_mode, v_in_k, append;
    double scale, theta;
} ext_attn;

/* Rotate the last r of the n floats at x by position pos (RoPE): pair i (i, i + r/2), or
 * (2i, 2i + 1) interleaved, turns by pos x theta^(-2i/r); in double. */
static void rope(float *x, uint32_t n, uint32_t r, int interleaved, double theta, uint32_t pos)
{
    float *y = x + (n - r);
    for (uint32_t i = 0; i < r / 2; i++) {
        const double ang = (double)pos * pow(theta, -2.0 * (double)i / (double)r);
        const double c = cos(ang), s = sin(ang);
        float *a = interleaved ? &y[2 * i] : &y[i], *b = interleaved ? &y[2 * i + 1] : &y[i + r / 2];
        const double xa = *a, xb = *b;
        *a = (float)(xa * c - xb * s);
        *b = (float)(xb * c + xa * s);
    }
}

static uint32_t exec_attn(aimc_accel *dev, const uint8_t *desc, dev_cmd *c, uint32_t *info)
{
    uint32_t batch, pos0, err;
    uint8_t rec[AIMC_REC_ATTN_BYTES];
    float *q = NULL, *kv = NULL, *kc = NULL, *vc = NULL, *out = NULL;
    double *p = NULL;
    ext_attn r;
    const uint64_t q_addr = aimc_le_get64(desc + AIMC_DESC_ATTN_Q_ADDR);
    const uint64_t kv_addr = aimc_le_get64(desc + AIMC_DESC_ATTN_KV_ADDR);
    const uint64_t out_addr = aimc_le_get64(desc + AIMC_DESC_ATTN_OUT_ADDR);
    const uint64_t cache = aimc_le_get64(desc + AIMC_DESC_ATTN_CACHE_ADDR);
    const uint64_t par = aimc_le_get64(desc + AIMC_DESC_ATTN_PARAM_ADDR);

    if ((err = ext_field(desc, AIMC_DESC_ATTN_BATCH, 1, DEV_MAX_BATCH, &batch, info))) return err;
    pos0 = aimc_le_get32(desc + AIMC_DESC_ATTN_POS0);
    /* The shapes decide what the command does: read and checked in every mode. */
    if (ext_probe(dev, par, sizeof rec) || dev_dma_read(dev, par, rec, sizeof rec)) {
        *info = AIMC_DESC_ATTN_PARAM_ADDR;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    r.heads = aimc_le_get32(rec + AIMC_REC_ATTN_HEADS);
    r.kv_heads = aimc_le_get32(rec + AIMC_REC_ATTN_KV_HEADS);
    r.dk = aimc_le_get32(rec + AIMC_REC_ATTN_DK);
    r.dv = aimc_le_get32(rec + AIMC_REC_ATTN_DV);
    r.ctx = aimc_le_get32(rec + AIMC_REC_ATTN_CTX);
    r.rope_dim = aimc_le_get32(rec + AIMC_REC_ATTN_ROPE_DIM);
    r.rope_mode = aimc_le_get32(rec + AIMC_REC_ATTN_ROPE_MODE);
    r.v_in_k = aimc_le_get32(rec + AIMC_REC_ATTN_V_IN_K);
    r.append = aimc_le_get32(rec + AIMC_REC_ATTN_APPEND);
    const float scale = f32_at(rec + AIMC_REC_ATTN_SCALE), theta = f32_at(rec + AIMC_REC_ATTN_THETA);
    r.scale = scale;
    r.theta = theta;
    const uint64_t rowk = (uint64_t)r.kv_heads * r.dk, rowv = r.v_in_k ? 0 : (uint64_t)r.kv_heads * r.dv;
    if (r.heads < 1 || r.heads > 4096 || r.kv_heads < 1 || r.heads % r.kv_heads || r.dk < 1 ||
        r.dk > 65536 || r.dv < 1 || r.dv > 65536 || r.ctx < 1 || r.ctx > 65536 ||
        r.rope_dim > r.dk || r.rope_dim % 2 || r.rope_mode > 1 || r.v_in_k > 1 || r.append > 1 ||
        (r.v_in_k && r.dv > r.dk) || !isfinite(scale) || !(scale > 0) || !isfinite(theta) ||
        !(theta > 1) || (uint64_t)batch * r.heads * r.dk > DEV_MAX_ELEMS ||
        (uint64_t)batch * r.heads * r.dv > DEV_MAX_ELEMS ||
        (uint64_t)batch * (rowk + rowv) > DEV_MAX_ELEMS ||
        (uint64_t)r.ctx * (rowk + rowv) > 16 * (uint64_t)DEV_MAX_ELEMS) {
        *info = AIMC_DESC_ATTN_PARAM_ADDR;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    if ((uint64_t)pos0 + batch > r.ctx) {
        *info = AIMC_DESC_ATTN_POS0;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    aimc_cost_attn_bytes io;
    aimc_cost_attn_io(batch, pos0, r.heads, r.kv_heads, r.dk, r.dv, (int)r.v_in_k, (int)r.append,
                      &io);
    const uint64_t q_bytes = io.q, kv_bytes = io.kv, out_bytes = io.out;
    const uint64_t cache_bytes = (uint64_t)r.ctx * (rowk + rowv) * 4;
    if ((err = ext_fetch(dev, q_addr, AIMC_DESC_ATTN_Q_ADDR, q_bytes, (void **)&q, info)) ||
        (r.append &&
         (err = ext_fetch(dev, kv_addr, AIMC_DESC_ATTN_KV_ADDR, kv_bytes, (void **)&kv, info))) ||
        (err = ext_out(dev, desc, AIMC_DESC_ATTN_OUT_ADDR, out_bytes, (void **)&out, info)))
        goto out;
    if (ext_probe(dev, cache, cache_bytes)) {
        *info = AIMC_DESC_ATTN_CACHE_ADDR;
        err = AIMC_REG_ERROR_DMA_FAULT;
        goto out;
    }
    if (ext_values(dev)) {
        const uint64_t rows = (uint64_t)pos0 + batch;
        kc = malloc((size_t)(rows * rowk) * sizeof *kc);
        vc = rowv ? malloc((size_t)(rows * rowv) * sizeof *vc) : NULL;
        p = malloc((size_t)rows * sizeof *p);
        if (!kc || (rowv && !vc) || !p) {
            err = AIMC_REG_ERROR_INTERNAL;
            goto out;
        }
        /* the cache so far, the new keys (rotated) and values after it, written back; without
         * APPEND they are in the cache already */
        const uint64_t have = r.append ? pos0 : rows;
        if (dev_dma_read(dev, cache, kc, (size_t)(have * rowk * 4)) ||
            (rowv && dev_dma_read(dev, cache + (uint64_t)r.ctx * rowk * 4, vc,
                                  (size_t)(have * rowv * 4)))) {
            *info = AIMC_DESC_ATTN_CACHE_ADDR;
            err = AIMC_REG_ERROR_DMA_FAULT;
            goto out;
        }
        for (uint32_t t = 0; r.append && t < batch; t++) {
            float *k = kc + ((uint64_t)pos0 + t) * rowk;
            memcpy(k, kv + (uint64_t)t * rowk, (size_t)rowk * sizeof *k);
            for (uint32_t j = 0; j < r.kv_heads; j++)
                rope(k + (uint64_t)j * r.dk, r.dk, r.rope_dim, (int)r.rope_mode, r.theta, pos0 + t);
            if (rowv)
                memcpy(vc + ((uint64_t)pos0 + t) * rowv, kv + (uint64_t)batch * rowk + (uint64_t)t * rowv,
                       (size_t)rowv * sizeof *vc);
        }
        if (r.append && (dev_dma_write(dev, cache + (uint64_t)pos0 * rowk * 4, kc + (uint64_t)pos0 * rowk,
                          (size_t)((uint64_t)batch * rowk * 4)) ||
            (rowv && dev_dma_write(dev, cache + ((uint64_t)r.ctx * rowk + (uint64_t)pos0 * rowv) * 4,
                                   vc + (uint64_t)pos0 * rowv, (size_t)((uint64_t)batch * rowv * 4))))) {
            *info = AIMC_DESC_ATTN_CACHE_ADDR;
            err = AIMC_REG_ERROR_DMA_FAULT;
            goto out;
        }
        const uint32_t group = r.heads / r.kv_heads;
        for (uint32_t t = 0; t < batch; t++)
            for (uint32_t h = 0; h < r.heads; h++) {
                float *qh = q + ((uint64_t)t * r.heads + h) * r.dk;
                rope(qh, r.dk, r.rope_dim, (int)r.rope_mode, r.theta, pos0 + t);
                const uint32_t j = h / group, n = pos0 + t + 1;
                double mx = -INFINITY, sum = 0;
                for (uint32_t i = 0; i < n; i++) {
                    const float *k = kc + (uint64_t)i * rowk + (uint64_t)j * r.dk;
                    double sc = 0;
                    for (uint32_t d = 0; d < r.dk; d++) sc += (double)qh[d] * k[d];
                    p[i] = sc * r.scale;
                    if (p[i] > mx) mx = p[i];
                }
                for (uint32_t i = 0; i < n; i++) sum += (p[i] = exp(p[i] - mx));
                float *o = out + ((uint64_t)t * r.heads + h) * r.dv;
                for (uint32_t d = 0; d < r.dv; d++) {
                    double acc = 0;
                    for (uint32_t i = 0; i < n; i++) {
                        const float *v = rowv ? vc + (uint64_t)i * rowv + (uint64_t)j * r.dv
                                              : kc + (uint64_t)i * rowk + (uint64_t)j * r.dk;
                        acc += p[i] * v[d];
                    }
                    o[d] = (float)(acc / sum);
                }
            }
    }
    if ((err = dev_dma_store(dev, desc, AIMC_DESC_ATTN_OUT_ADDR, out, out_bytes, info))) goto out;
    ext_operand(c, q_addr, q_bytes, 0);
    ext_operand(c, kv_addr, kv_bytes, 0);
    ext_operand(c, out_addr, out_bytes, 1);
    /* the cache: the device's own (not moved), a write for the order of the layer's ATTNs */
    ext_operand(c, cache, cache_bytes, 1);
    c->anchor = 0;
    c->out_bytes = out_bytes;
    c->dig = AIMC_DIG_ATTN;
    c->dig_ops = aimc_cost_attn_ops(batch, pos0, r.heads, r.append ? r.kv_heads : 0, r.dk, r.dv,
                                    r.rope_dim);
    c->dig_in = q_bytes + kv_bytes;
    c->dig_out = out_bytes;
    c->kv_read = io.kv_read;
    c->kv_write = io.kv_write;
    c->cnt.digital_ops += c->dig_ops;
    c->cnt.cycles += aimc_cost_units_cycles(&dev->arch, c->dig_ops);
out:
    free(p);
    free(vc);
    free(kc);
    free(out);
    free(kv);
    free(q);
    return err;
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

uint32_t dev_exec_ext(aimc_accel *dev, const uint8_t *desc, dev_cmd *c, uint32_t *info)
{
    switch (c->op) {
    case AIMC_DESC_OP_ROUTE: return exec_route(dev, desc, c, info);
    case AIMC_DESC_OP_NORM: return exec_norm(dev, desc, c, info);
    case AIMC_DESC_OP_ACT: return exec_act(dev, desc, c, info);
    case AIMC_DESC_OP_ATTN: return exec_attn(dev, desc, c, info);
    }
    return 0; /* NOP, FENCE */
}
