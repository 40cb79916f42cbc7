/* train_lm.c - a small byte-level MoE transformer language model: its forward pass and
 * gradient written out, Adam, plain or hardware-aware (noise injection as the classifier's,
 * aimc_train.h), float perplexity, and its weights as safetensors for a model file.
 *
 * The model is the one the runtime runs for a model file with model.attention and
 * model.vocab (docs/models.md): per layer x += o(attention(rope(q(n1)), rope(k(n1)), v(n1)))
 * with n1 = rmsnorm(x) w1, then x += sum of the top-k experts' SwiGLU of n2 = rmsnorm(x) w2
 * weighted by the softmax of the chosen router logits (the default routing rule); then
 * rmsnorm(x) wf and the head. RoPE on halves of each head (rotate_half), theta
 * AIMC_LM_THETA; the softmax's scale 1/sqrt(head width).
 */
#include "aimc_train.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aimc_map.h"
#include "aimc_moe.h"
#include "rng.h"

#define LM_EPS 1e-5 /* the norms' epsilon: the model file's rms_norm_eps */

/* ---- the parameters: named tensors in one allocation ------------------------------------- */

typedef enum { T_VEC = 0, T_MAT, T_TABLE } lm_kind; /* vector, matrix on crossbars, table */

typedef struct {
    char name[48];
    lm_kind kind;
    size_t off, rows, cols;
} lm_tensor;

struct aimc_lm_priv {
    lm_tensor *t;
    size_t n;
};

/* The tensors of one layer, in order; their index in the model is layer * LM_PER_LAYER + i
 * for i below, the experts' from L_GATE on (3 each). */
enum { L_ANORM = 0, L_Q, L_K, L_V, L_O, L_FNORM, L_ROUTER, L_GATE };

static size_t per_layer(const aimc_lm_shape *s)
{
    return L_GATE + 3 * (size_t)s->n_experts;
}

/* Tensor index of layer l's item i; of the final norm, head and embedding table. */
static size_t t_layer(const aimc_lm *lm, int l, size_t i)
{
    return (size_t)l * per_layer(&lm->s) + i;
}
static size_t t_final(const aimc_lm *lm) { return (size_t)lm->s.layers * per_layer(&lm->s); }
static size_t t_head(const aimc_lm *lm) { return t_final(lm) + 1; }
static size_t t_embed(const aimc_lm *lm) { return t_final(lm) + 2; }

static float *tp(const aimc_lm *lm, float *base, size_t i) { return base + lm->priv->t[i].off; }

static void add_tensor(struct aimc_lm_priv *p, size_t *off, lm_kind kind, size_t rows,
                       size_t cols, const char *fmt, int a, int b)
{
    lm_tensor *t = &p->t[p->n++];
    snprintf(t->name, sizeof t->name, fmt, a, b);
    t->kind = kind;
    t->rows = rows;
    t->cols = cols;
    t->off = *off;
    *off += rows * cols;
}

void aimc_lm_free(aimc_lm *lm)
{
    if (!lm) return;
    if (lm->priv) free(lm->priv->t);
    free(lm->priv);
    free(lm->storage);
    free(lm);
}

int aimc_lm_create(const aimc_lm_shape *s, uint64_t seed, aimc_lm **out)
{
    *out = NULL;
    if (s->vocab < 2 || s->vocab > 65536 || s->d_model < 2 || s->d_model > 4096 || s->layers < 1 ||
        s->layers > 64 || s->heads < 1 || s->d_model % s->heads || (s->d_model / s->heads) % 2 ||
        s->n_experts < 1 || s->n_experts > 64 || s->top_k < 1 || s->top_k > s->n_experts ||
        s->d_ff < 1 || s->d_ff > 16384 || s->context < 2 || s->context > 4096)
        return AIMC_ERR_INVALID;
    aimc_lm *lm = calloc(1, sizeof *lm);
    struct aimc_lm_priv *p = lm ? calloc(1, sizeof *p) : NULL;
    const size_t nt = (size_t)s->layers * per_layer(s) + 3;
    if (p) p->t = calloc(nt, sizeof *p->t);
    if (!lm || !p || !p->t) {
        if (p) free(p->t);
        free(p);
        free(lm);
        return AIMC_ERR_NOMEM;
    }
    lm->s = *s;
    lm->priv = p;
    const size_t D = (size_t)s->d_model, F = (size_t)s->d_ff, E = (size_t)s->n_experts;
    size_t off = 0;
    for (int l = 0; l < s->layers; l++) {
        add_tensor(p, &off, T_VEC, 1, D, "layers.%d.attn_norm", l, 0);
        add_tensor(p, &off, T_MAT, D, D, "layers.%d.attn.q", l, 0);
        add_tensor(p, &off, T_MAT, D, D, "layers.%d.attn.k", l, 0);
        add_tensor(p, &off, T_MAT, D, D, "layers.%d.attn.v", l, 0);
        add_tensor(p, &off, T_MAT, D, D, "layers.%d.attn.o", l, 0);
        add_tensor(p, &off, T_VEC, 1, D, "layers.%d.ffn_norm", l, 0);
        add_tensor(p, &off, T_MAT, D, E, "layers.%d.router", l, 0);
        for (int e = 0; e < (int)E; e++) {
            add_tensor(p, &off, T_MAT, D, F, "layers.%d.experts.%d.gate", l, e);
            add_tensor(p, &off, T_MAT, D, F, "layers.%d.experts.%d.up", l, e);
            add_tensor(p, &off, T_MAT, F, D, "layers.%d.experts.%d.down", l, e);
        }
    }
    add_tensor(p, &off, T_VEC, 1, D, "final_norm", 0, 0);
    add_tensor(p, &off, T_MAT, D, (size_t)s->vocab, "head", 0, 0);
    add_tensor(p, &off, T_TABLE, (size_t)s->vocab, D, "embed", 0, 0);
    lm->n_params = off;
    lm->storage = malloc(off * sizeof *lm->storage);
    if (!lm->storage) {
        aimc_lm_free(lm);
        return AIMC_ERR_NOMEM;
    }
    /* norms 1; matrices N(0, 1/fan_in) (the outputs' down and o scaled by 1/sqrt(2 layers),
     * as GPT-2 does for the residual branches); the table N(0, 1) */
    const uint64_t key = aimc_rng_key(seed, AIMC_RNG_DOMAIN_WEIGHTS, 4242, 0);
    for (size_t i = 0; i < p->n; i++) {
        const lm_tensor *t = &p->t[i];
        float *w = lm->storage + t->off;
        const size_t n = t->rows * t->cols;
        const int resid = strstr(t->name, ".down") || strstr(t->name, "attn.o");
        const double sd = t->kind == T_VEC ? 0 : t->kind == T_TABLE ? 1.0
                          : 1.0 / sqrt((double)t->rows) / (resid ? sqrt(2.0 * s->layers) : 1.0);
        for (size_t k = 0; k < n; k++)
            w[k] = t->kind == T_VEC ? 1.0f : (float)(sd * aimc_rng_normal(key, t->off + k));
    }
    *out = lm;
    return AIMC_OK;
}

/* ---- the forward pass of one window, kept for the backward pass ----------------------------- */

typedef struct {
    float *x;     /* the residual entering the layer, n x D */
    float *a1;    /* n1, n x D */
    double *r1;   /* n: 1 / rms */
    float *q, *k, *v; /* q, k rotated; n x D */
    float *p;     /* softmax weights, H x n x n */
    float *att;   /* the heads' outputs, n x D */
    float *x2;    /* the residual after attention, n x D */
    float *a2;    /* n2 */
    double *r2;
    float *lg;    /* router logits, n x E */
    int *sel;     /* n x K */
    double *pw;   /* n x K: the chosen experts' weights */
    float *g, *u, *m, *eo; /* n x K x F (g, u, m) and n x K x D (eo) */
} lm_layer_cache;

typedef struct {
    int n;
    lm_layer_cache *l;
    float *xf, *af, *z; /* the last residual, its norm, the logits n x V */
    double *rf;
    float *buf;         /* one allocation for all of it */
    double *dbuf;
    int *ibuf;
} lm_cache;

/* Noise of hardware-aware training: per matrix tensor its noise, the current weights' largest
 * magnitude, the batch's key. NULL noise: none. */
typedef struct {
    const aimc_lm *lm;
    const float *w;            /* the weights the pass uses */
    const aimc_hw_noise *noise;/* per tensor (only matrices read) */
    const float *wmax;
    uint64_t key, window;
} lm_ctx;

static void cache_free(lm_cache *c)
{
    free(c->buf);
    free(c->dbuf);
    free(c->ibuf);
    free(c->l);
    memset(c, 0, sizeof *c);
}

static int cache_alloc(lm_cache *c, const aimc_lm_shape *s, int n)
{
    const size_t D = (size_t)s->d_model, F = (size_t)s->d_ff, E = (size_t)s->n_experts;
    const size_t K = (size_t)s->top_k, H = (size_t)s->heads, V = (size_t)s->vocab, N = (size_t)n;
    const size_t per = N * D * 9 + H * N * N + N * E + 3 * N * K * F + N * K * D;
    memset(c, 0, sizeof *c);
    c->n = n;
    c->l = calloc((size_t)s->layers, sizeof *c->l);
    c->buf = malloc(((size_t)s->layers * per + 3 * N * D + N * V) * sizeof *c->buf);
    c->dbuf = malloc(((size_t)s->layers * (2 * N + N * K) + N) * sizeof *c->dbuf);
    c->ibuf = malloc((size_t)s->layers * N * K * sizeof *c->ibuf);
    if (!c->l || !c->buf || !c->dbuf || !c->ibuf) {
        cache_free(c);
        return AIMC_ERR_NOMEM;
    }
    float *f = c->buf;
    double *g = c->dbuf;
    int *ip = c->ibuf;
    for (int l = 0; l < s->layers; l++) {
        lm_layer_cache *L = &c->l[l];
        L->x = f, f += N * D;
        L->a1 = f, f += N * D;
        L->q = f, f += N * D;
        L->k = f, f += N * D;
        L->v = f, f += N * D;
        L->att = f, f += N * D;
        L->x2 = f, f += N * D;
        L->a2 = f, f += N * D;
        L->p = f, f += H * N * N;
        L->lg = f, f += N * E;
        L->g = f, f += N * K * F;
        L->u = f, f += N * K * F;
        L->m = f, f += N * K * F;
        L->eo = f, f += N * K * D;
        f += N * D; /* spare: the per-layer block is 9 N D */
        L->r1 = g, g += N;
        L->r2 = g, g += N;
        L->pw = g, g += N * K;
        L->sel = ip, ip += N * K;
    }
    c->xf = f, f += N * D;
    c->af = f, f += N * D;
    c->z = f;
    c->rf = g;
    return AIMC_OK;
}

/* out[cols] = in[rows] W of matrix tensor ti, plus its output noise when the pass has noise. */
static void mv(const lm_ctx *x, size_t ti, const float *in, float *out, uint64_t row)
{
    const lm_tensor *t = &x->lm->priv->t[ti];
    const float *w = x->w + t->off;
    for (size_t j = 0; j < t->cols; j++) out[j] = 0;
    float xmax = 0;
    for (size_t i = 0; i < t->rows; i++) {
        const float v = in[i];
        if (fabsf(v) > xmax) xmax = fabsf(v);
        if (v == 0) continue;
        const float *wr = w + i * t->cols;
        for (size_t j = 0; j < t->cols; j++) out[j] += v * wr[j];
    }
    if (!x->noise) return;
    const double sd = x->noise[ti].output_rel * x->wmax[ti] * xmax;
    const uint64_t base = ((x->window * 4096u + row) * 4096u + ti) * 65536u;
    for (size_t j = 0; j < t->cols; j++) out[j] += (float)(sd * aimc_rng_normal(x->key, base + j));
}

/* out = x / rms(x) * w; returns 1 / rms. */
static double norm_fwd(const float *x, size_t n, const float *w, float *out)
{
    const double inv = aimc_moe_rms_inv_eps(x, n, LM_EPS);
    for (size_t i = 0; i < n; i++) out[i] = (float)(x[i] * inv * w[i]);
    return inv;
}

/* dx += d(out)/dx^T dy and dw += ..., for out = x r w with r = 1 / sqrt(mean(x^2) + eps). */
static void norm_bwd(const float *x, size_t n, const float *w, double r, const float *dy,
                     float *dx, float *dw)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        dw[i] += (float)(dy[i] * x[i] * r);
        s += (double)dy[i] * w[i] * x[i];
    }
    const double c = r * r * r * s / (double)n;
    for (size_t i = 0; i < n; i++) dx[i] += (float)(r * dy[i] * w[i] - c * x[i]);
}

/* RoPE on halves of each head (rotate_half) at position pos; dir -1 turns back (the
 * transpose: the backward pass). */
static void rope(float *x, int heads, int hd, int pos, double theta, int dir)
{
    for (int h = 0; h < heads; h++) {
        float *y = x + (size_t)h * hd;
        for (int i = 0; i < hd / 2; i++) {
            const double ang = dir * pos * pow(theta, -2.0 * i / hd);
            const double c = cos(ang), s = sin(ang), a = y[i], b = y[i + hd / 2];
            y[i] = (float)(a * c - b * s);
            y[i + hd / 2] = (float)(b * c + a * s);
        }
    }
}

/* The logits of a window of n byte ids (n <= context) into c->z. */
static void forward(const lm_ctx *x, const uint8_t *ids, int n, lm_cache *c)
{
    const aimc_lm *lm = x->lm;
    const aimc_lm_shape *s = &lm->s;
    const int D = s->d_model, H = s->heads, hd = D / H, E = s->n_experts, K = s->top_k;
    const int F = s->d_ff;
    const float *emb = tp(lm, (float *)x->w, t_embed(lm));
    float *xc = c->l[0].x;
    for (int t = 0; t < n; t++) memcpy(xc + (size_t)t * D, emb + (size_t)ids[t] * D, (size_t)D * 4);
    for (int l = 0; l < s->layers; l++) {
        lm_layer_cache *L = &c->l[l];
        const float *wn1 = tp(lm, (float *)x->w, t_layer(lm, l, L_ANORM));
        for (int t = 0; t < n; t++) {
            float *a = L->a1 + (size_t)t * D;
            L->r1[t] = norm_fwd(L->x + (size_t)t * D, (size_t)D, wn1, a);
            mv(x, t_layer(lm, l, L_Q), a, L->q + (size_t)t * D, (uint64_t)t);
            mv(x, t_layer(lm, l, L_K), a, L->k + (size_t)t * D, (uint64_t)t);
            mv(x, t_layer(lm, l, L_V), a, L->v + (size_t)t * D, (uint64_t)t);
            rope(L->q + (size_t)t * D, H, hd, t, AIMC_LM_THETA, 1);
            rope(L->k + (size_t)t * D, H, hd, t, AIMC_LM_THETA, 1);
        }
        const double scale = 1.0 / sqrt((double)hd);
        for (int h = 0; h < H; h++)
            for (int t = 0; t < n; t++) {
                float *pr = L->p + ((size_t)h * n + t) * n;
                double mx = -INFINITY, z = 0;
                for (int i = 0; i <= t; i++) {
                    double sc = 0;
                    for (int d = 0; d < hd; d++)
                        sc += (double)L->q[(size_t)t * D + h * hd + d] * L->k[(size_t)i * D + h * hd + d];
                    pr[i] = (float)(sc * scale);
                    if (pr[i] > mx) mx = pr[i];
                }
                for (int i = 0; i <= t; i++) z += (pr[i] = (float)exp(pr[i] - mx));
                for (int i = 0; i <= t; i++) pr[i] = (float)(pr[i] / z);
                for (int i = t + 1; i < n; i++) pr[i] = 0;
                for (int d = 0; d < hd; d++) {
                    double a = 0;
                    for (int i = 0; i <= t; i++) a += (double)pr[i] * L->v[(size_t)i * D + h * hd + d];
                    L->att[(size_t)t * D + h * hd + d] = (float)a;
                }
            }
        const float *wn2 = tp(lm, (float *)x->w, t_layer(lm, l, L_FNORM));
        float *next = l + 1 < s->layers ? c->l[l + 1].x : c->xf;
        for (int t = 0; t < n; t++) {
            float *x2 = L->x2 + (size_t)t * D, o[4096];
            mv(x, t_layer(lm, l, L_O), L->att + (size_t)t * D, o, (uint64_t)t);
            for (int d = 0; d < D; d++) x2[d] = L->x[(size_t)t * D + d] + o[d];
            float *a2 = L->a2 + (size_t)t * D;
            L->r2[t] = norm_fwd(x2, (size_t)D, wn2, a2);
            float *lg = L->lg + (size_t)t * E;
            mv(x, t_layer(lm, l, L_ROUTER), a2, lg, (uint64_t)t);
            double ld[64], pw[64];
            int sel[64];
            for (int e = 0; e < E; e++) ld[e] = lg[e];
            aimc_moe_top_k_softmax(ld, E, K, sel, pw);
            float *xo = next + (size_t)t * D;
            memcpy(xo, x2, (size_t)D * 4);
            for (int j = 0; j < K; j++) {
                const int e = sel[j];
                const size_t r = (size_t)t * K + j;
                L->sel[r] = e;
                L->pw[r] = pw[j];
                float *g = L->g + r * F, *u = L->u + r * F, *m = L->m + r * F, *eo = L->eo + r * D;
                mv(x, t_layer(lm, l, L_GATE + 3 * (size_t)e), a2, g, (uint64_t)t);
                mv(x, t_layer(lm, l, L_GATE + 3 * (size_t)e + 1), a2, u, (uint64_t)t);
                for (int i = 0; i < F; i++) m[i] = (float)(aimc_moe_silu(g[i]) * u[i]);
                mv(x, t_layer(lm, l, L_GATE + 3 * (size_t)e + 2), m, eo, (uint64_t)t);
                for (int d = 0; d < D; d++) xo[d] += (float)(pw[j] * eo[d]);
            }
        }
    }
    const float *wf = tp(lm, (float *)x->w, t_final(lm));
    for (int t = 0; t < n; t++) {
        c->rf[t] = norm_fwd(c->xf + (size_t)t * D, (size_t)D, wf, c->af + (size_t)t * D);
        mv(x, t_head(lm), c->af + (size_t)t * D, c->z + (size_t)t * s->vocab, (uint64_t)t);
    }
}

/* dx[rows] += W dy[cols] (the transpose of mv) and dW += in^T dy, for matrix tensor ti. */
static void mv_bwd(const aimc_lm *lm, const float *w, float *gw, size_t ti, const float *in,
                   const float *dy, float *dx)
{
    const lm_tensor *t = &lm->priv->t[ti];
    const float *W = w + t->off;
    float *G = gw + t->off;
    for (size_t i = 0; i < t->rows; i++) {
        const float *wr = W + i * t->cols;
        float *gr = G + i * t->cols;
        double acc = 0;
        const float xi = in[i];
        for (size_t j = 0; j < t->cols; j++) {
            gr[j] += xi * dy[j];
            acc += (double)wr[j] * dy[j];
        }
        if (dx) dx[i] += (float)acc;
    }
}

/* The mean next-token loss of the window (positions 0 .. n-2 predict 1 .. n-1) and its
 * gradient added into grad; counts the predictions right into *right. */
static double backward(const lm_ctx *x, const uint8_t *ids, int n, const lm_cache *c,
                       float *grad, size_t *right, float *work)
{
    const aimc_lm *lm = x->lm;
    const aimc_lm_shape *s = &lm->s;
    const int D = s->d_model, H = s->heads, hd = D / H, K = s->top_k, F = s->d_ff;
    const int V = s->vocab;
    const float *w = x->w;
    float *dx = work, *dz = work + (size_t)n * D, *tmp = dz + V, *dq = tmp + 4096;
    float *dk = dq + (size_t)n * D, *dv = dk + (size_t)n * D, *datt = dv + (size_t)n * D;
    float *da = datt + (size_t)n * D, *dp = da + (size_t)n * D;
    float *deo = dp + n, *dm = deo + D, *dg = dm + F, *du = dg + F;
    const int cnt = n - 1;
    double loss = 0;
    memset(dx, 0, (size_t)n * D * sizeof *dx);
    for (int t = 0; t < cnt; t++) {
        const float *z = c->z + (size_t)t * V;
        double mx = z[0], sum = 0;
        int best = 0;
        for (int i = 1; i < V; i++) {
            if (z[i] > mx) mx = z[i];
            if (z[i] > z[best]) best = i;
        }
        for (int i = 0; i < V; i++) sum += exp(z[i] - mx);
        loss -= z[ids[t + 1]] - mx - log(sum);
        *right += best == ids[t + 1];
        for (int i = 0; i < V; i++) dz[i] = (float)((exp(z[i] - mx) / sum - (i == ids[t + 1])) / cnt);
        memset(tmp, 0, (size_t)D * sizeof *tmp);
        mv_bwd(lm, w, grad, t_head(lm), c->af + (size_t)t * D, dz, tmp);
        norm_bwd(c->xf + (size_t)t * D, (size_t)D, w + lm->priv->t[t_final(lm)].off, c->rf[t], tmp,
                 dx + (size_t)t * D, grad + lm->priv->t[t_final(lm)].off);
    }
    for (int l = s->layers - 1; l >= 0; l--) {
        const lm_layer_cache *L = &c->l[l];
        /* the MoE block: x_out = x2 + sum_j p_j E_j(a2); dx carries d x_out */
        memset(da, 0, (size_t)n * D * sizeof *da);
        for (int t = 0; t < n; t++) {
            const float *dxo = dx + (size_t)t * D;
            double dpw[64], pd = 0;
            float *dxt2 = da + (size_t)t * D; /* d a2 of token t */
            for (int j = 0; j < K; j++) {
                const size_t r = (size_t)t * K + j;
                const int e = L->sel[r];
                const float *g = L->g + r * F, *u = L->u + r * F, *m = L->m + r * F;
                const float *eo = L->eo + r * D;
                double acc = 0;
                for (int d = 0; d < D; d++) {
                    acc += (double)dxo[d] * eo[d];
                    deo[d] = (float)(L->pw[r] * dxo[d]);
                }
                dpw[j] = acc;
                memset(dm, 0, (size_t)F * sizeof *dm);
                mv_bwd(lm, w, grad, t_layer(lm, l, L_GATE + 3 * (size_t)e + 2), m, deo, dm);
                for (int i = 0; i < F; i++) {
                    const double sg = 1.0 / (1.0 + exp(-(double)g[i]));
                    du[i] = (float)(dm[i] * g[i] * sg);
                    dg[i] = (float)(dm[i] * u[i] * sg * (1.0 + g[i] * (1.0 - sg)));
                }
                mv_bwd(lm, w, grad, t_layer(lm, l, L_GATE + 3 * (size_t)e), L->a2 + (size_t)t * D, dg, dxt2);
                mv_bwd(lm, w, grad, t_layer(lm, l, L_GATE + 3 * (size_t)e + 1), L->a2 + (size_t)t * D, du, dxt2);
            }
            for (int j = 0; j < K; j++) pd += L->pw[(size_t)t * K + j] * dpw[j];
            float dlg[64] = {0};
            for (int j = 0; j < K; j++) {
                const size_t r = (size_t)t * K + j;
                dlg[L->sel[r]] = (float)(L->pw[r] * (dpw[j] - pd));
            }
            mv_bwd(lm, w, grad, t_layer(lm, l, L_ROUTER), L->a2 + (size_t)t * D, dlg, dxt2);
        }
        /* d x2 = d x_out + norm_bwd(d a2) */
        const size_t fn = lm->priv->t[t_layer(lm, l, L_FNORM)].off;
        for (int t = 0; t < n; t++)
            norm_bwd(L->x2 + (size_t)t * D, (size_t)D, w + fn, L->r2[t], da + (size_t)t * D,
                     dx + (size_t)t * D, grad + fn);
        /* attention: x2 = x + o(att); d att = W_o^T d x2 */
        memset(datt, 0, (size_t)n * D * sizeof *datt);
        for (int t = 0; t < n; t++)
            mv_bwd(lm, w, grad, t_layer(lm, l, L_O), L->att + (size_t)t * D, dx + (size_t)t * D,
                   datt + (size_t)t * D);
        memset(dq, 0, 3 * (size_t)n * D * sizeof *dq);
        const double scale = 1.0 / sqrt((double)hd);
        for (int h = 0; h < H; h++)
            for (int t = 0; t < n; t++) {
                const float *pr = L->p + ((size_t)h * n + t) * n;
                const float *dat = datt + (size_t)t * D + h * hd;
                double ds = 0;
                for (int i = 0; i <= t; i++) {
                    double a = 0;
                    for (int d = 0; d < hd; d++) {
                        a += (double)dat[d] * L->v[(size_t)i * D + h * hd + d];
                        dv[(size_t)i * D + h * hd + d] += pr[i] * dat[d];
                    }
                    dp[i] = (float)a;
                    ds += pr[i] * a;
                }
                for (int i = 0; i <= t; i++) {
                    const double dsc = pr[i] * (dp[i] - ds) * scale;
                    for (int d = 0; d < hd; d++) {
                        dq[(size_t)t * D + h * hd + d] += (float)(dsc * L->k[(size_t)i * D + h * hd + d]);
                        dk[(size_t)i * D + h * hd + d] += (float)(dsc * L->q[(size_t)t * D + h * hd + d]);
                    }
                }
            }
        /* back through RoPE (turning back), the projections and the first norm */
        memset(da, 0, (size_t)n * D * sizeof *da);
        const size_t an = lm->priv->t[t_layer(lm, l, L_ANORM)].off;
        for (int t = 0; t < n; t++) {
            rope(dq + (size_t)t * D, H, hd, t, AIMC_LM_THETA, -1);
            rope(dk + (size_t)t * D, H, hd, t, AIMC_LM_THETA, -1);
            const float *a1 = L->a1 + (size_t)t * D;
            mv_bwd(lm, w, grad, t_layer(lm, l, L_Q), a1, dq + (size_t)t * D, da + (size_t)t * D);
            mv_bwd(lm, w, grad, t_layer(lm, l, L_K), a1, dk + (size_t)t * D, da + (size_t)t * D);
            mv_bwd(lm, w, grad, t_layer(lm, l, L_V), a1, dv + (size_t)t * D, da + (size_t)t * D);
            norm_bwd(L->x + (size_t)t * D, (size_t)D, w + an, L->r1[t], da + (size_t)t * D,
                     dx + (size_t)t * D, grad + an);
        }
    }
    /* the embedding rows */
    float *ge = grad + lm->priv->t[t_embed(lm)].off;
    for (int t = 0; t < n; t++)
        for (int d = 0; d < D; d++) ge[(size_t)ids[t] * D + d] += dx[(size_t)t * D + d];
    return loss / cnt;
}

static float *work_alloc(const aimc_lm_shape *s)
{
    const size_t n = (size_t)s->context, D = (size_t)s->d_model, F = (size_t)s->d_ff;
    return malloc((7 * n * D + (size_t)s->vocab + 4096 + n + D + 3 * F) * sizeof(float));
}

double aimc_lm_loss_grad(const aimc_lm *lm, const uint8_t *ids, int n, float *grad)
{
    lm_cache c;
    float *work = work_alloc(&lm->s);
    if (!work || n < 2 || n > lm->s.context || cache_alloc(&c, &lm->s, n) != AIMC_OK) {
        free(work);
        return NAN;
    }
    lm_ctx x = {.lm = lm, .w = lm->storage};
    size_t right = 0;
    memset(grad, 0, lm->n_params * sizeof *grad);
    forward(&x, ids, n, &c);
    const double loss = backward(&x, ids, n, &c, grad, &right, work);
    cache_free(&c);
    free(work);
    return loss;
}

double aimc_lm_perplexity(const aimc_lm *lm, const uint8_t *text, size_t len, double *accuracy)
{
    const int C = lm->s.context;
    lm_cache c;
    if (len < 2 || cache_alloc(&c, &lm->s, C) != AIMC_OK) return NAN;
    lm_ctx x = {.lm = lm, .w = lm->storage};
    double nll = 0;
    size_t cnt = 0, right = 0;
    for (size_t w0 = 0; w0 + 1 < len; w0 += (size_t)C) {
        const int n = len - w0 < (size_t)C ? (int)(len - w0) : C;
        if (n < 2) break;
        forward(&x, text + w0, n, &c);
        for (int t = 0; t + 1 < n; t++) {
            const float *z = c.z + (size_t)t * lm->s.vocab;
            double mx = z[0], sum = 0;
            int best = 0;
            for (int i = 1; i < lm->s.vocab; i++) {
                if (z[i] > mx) mx = z[i];
                if (z[i] > z[best]) best = i;
            }
            for (int i = 0; i < lm->s.vocab; i++) sum += exp(z[i] - mx);
            nll -= z[text[w0 + (size_t)t + 1]] - mx - log(sum);
            right += best == text[w0 + (size_t)t + 1];
            cnt++;
        }
    }
    cache_free(&c);
    if (accuracy) *accuracy = cnt ? (double)right / (double)cnt : 0;
    return cnt ? exp(nll / (double)cnt) : NAN;
}

/* ---- training ---------------------------------------------------------------------------- */

int aimc_lm_train(aimc_lm *lm, const uint8_t *text, size_t len, const aimc_train_opts *o,
                  aimc_diag *d)
{
    const int C = lm->s.context;
    const size_t P = lm->n_params, nw = len > (size_t)C ? (len - 1) / (size_t)(C - 1) : 0;
    const struct aimc_lm_priv *pv = lm->priv;
    if (nw == 0 || o->batch < 1 || o->epochs < 0)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "%zu bytes of text: fewer than a window of %d",
                             len, C);
    float *grad = malloc(P * sizeof *grad), *g1 = malloc(P * sizeof *g1);
    float *m1 = calloc(P, sizeof *m1), *m2 = calloc(P, sizeof *m2);
    float *wn = o->hw ? malloc(P * sizeof *wn) : NULL, *work = work_alloc(&lm->s);
    aimc_hw_noise *noise = o->hw ? calloc(pv->n, sizeof *noise) : NULL;
    float *wmax = o->hw ? calloc(pv->n, sizeof *wmax) : NULL;
    size_t *perm = malloc(nw * sizeof *perm);
    lm_cache c;
    int rc = AIMC_OK, have_cache = cache_alloc(&c, &lm->s, C) == AIMC_OK;
    if (!grad || !g1 || !m1 || !m2 || !work || !perm || !have_cache ||
        (o->hw && (!wn || !noise || !wmax))) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for training");
        goto out;
    }
    for (size_t i = 0; o->hw && i < pv->n; i++)
        if (pv->t[i].kind == T_MAT) aimc_hw_noise_of(o->hw, (uint32_t)pv->t[i].rows, &noise[i]);
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    uint64_t step = 0;
    for (size_t i = 0; i < nw; i++) perm[i] = i;
    for (int ep = 0; ep < o->epochs; ep++) {
        const uint64_t key = aimc_rng_key(o->seed, AIMC_RNG_DOMAIN_TOKENS, 2000 + (uint64_t)ep, 0);
        for (size_t i = nw - 1; i > 0; i--) {
            const size_t j = (size_t)(aimc_rng_u64(key, i) % (i + 1)), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t b0 = 0; b0 < nw; b0 += (size_t)o->batch) {
            const size_t nb = nw - b0 < (size_t)o->batch ? nw - b0 : (size_t)o->batch;
            lm_ctx x = {.lm = lm, .w = lm->storage};
            step++;
            if (o->hw) { /* the batch sees freshly drawn weight and output noise */
                const uint64_t nk = aimc_rng_key(o->seed, AIMC_RNG_DOMAIN_PROGRAM, 8888, step);
                memcpy(wn, lm->storage, P * sizeof *wn);
                for (size_t i = 0; i < pv->n; i++) {
                    if (pv->t[i].kind != T_MAT) continue;
                    const float *wi = lm->storage + pv->t[i].off;
                    const size_t nn = pv->t[i].rows * pv->t[i].cols;
                    float mx = 0;
                    for (size_t k = 0; k < nn; k++) mx = fmaxf(mx, fabsf(wi[k]));
                    wmax[i] = mx;
                    const double sd = noise[i].weight_rel * mx;
                    for (size_t k = 0; k < nn; k++)
                        wn[pv->t[i].off + k] = wi[k] + (float)(sd * aimc_rng_normal(nk, pv->t[i].off + k));
                }
                x.w = wn;
                x.noise = noise;
                x.wmax = wmax;
                x.key = aimc_rng_key(o->seed, AIMC_RNG_DOMAIN_READ, 8888, step);
            }
            memset(grad, 0, P * sizeof *grad);
            double loss = 0;
            size_t right = 0;
            for (size_t q = 0; q < nb; q++) {
                const size_t w0 = perm[b0 + q] * (size_t)(C - 1);
                const int n = len - w0 < (size_t)C ? (int)(len - w0) : C;
                x.window = q;
                forward(&x, text + w0, n, &c);
                memset(g1, 0, P * sizeof *g1);
                loss += backward(&x, text + w0, n, &c, g1, &right, work);
                for (size_t i = 0; i < P; i++) grad[i] += g1[i] / (float)nb;
            }
            if (!isfinite(loss)) {
                rc = aimc_diag_set(d, AIMC_ERR_INVALID, "training diverged at step %llu",
                                   (unsigned long long)step);
                goto out;
            }
            const double c1 = 1.0 - pow(b1, (double)step), c2 = 1.0 - pow(b2, (double)step);
            for (size_t i = 0; i < P; i++) {
                m1[i] = (float)(b1 * m1[i] + (1 - b1) * grad[i]);
                m2[i] = (float)(b2 * m2[i] + (1 - b2) * (double)grad[i] * grad[i]);
                lm->storage[i] -= (float)(o->lr * (m1[i] / c1) / (sqrt(m2[i] / c2) + eps));
            }
        }
    }
out:
    if (have_cache) cache_free(&c);
    free(perm);
    free(wmax);
    free(noise);
    free(work);
    free(wn);
    free(m2);
    free(m1);
    free(g1);
    free(grad);
    return rc;
}

/* ---- text ------------------------------------------------------------------------------ */

static int text_append(const char *path, uint8_t **text, size_t *len, aimc_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int rc = AIMC_OK;
    for (;;) {
        uint8_t buf[65536];
        const size_t n = fread(buf, 1, sizeof buf, f);
        if (n) {
            if (*len > (1u << 30)) {
                rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: more than 1 GiB of text", path);
                break;
            }
            uint8_t *t = realloc(*text, *len + n);
            if (!t) {
                rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            memcpy(t + *len, buf, n);
            *text = t;
            *len += n;
        }
        if (n < sizeof buf) break;
    }
    if (rc == AIMC_OK && ferror(f)) rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: read error", path);
    fclose(f);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int aimc_text_load(const char *path, uint8_t **text, size_t *len, aimc_diag *d)
{
    struct stat st;
    *text = NULL;
    *len = 0;
    if (stat(path, &st) != 0) return aimc_diag_set(d, AIMC_ERR_IO, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return text_append(path, text, len, d);
    DIR *dir = opendir(path);
    if (!dir) return aimc_diag_set(d, AIMC_ERR_IO, "%s: %s", path, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    int rc = AIMC_OK;
    struct dirent *e;
    while (rc == AIMC_OK && (e = readdir(dir)) != NULL) {
        char full[4096];
        struct stat ls;
        if (e->d_name[0] == '.') continue;
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        if (lstat(full, &ls) != 0 || !S_ISREG(ls.st_mode)) continue; /* links: duplicates */
        char **nn = realloc(names, (n + 1) * sizeof *nn);
        if (!nn || !(nn[n] = strdup(full))) {
            if (nn) names = nn;
            rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        names = nn;
        n++;
    }
    closedir(dir);
    if (rc == AIMC_OK) qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n && rc == AIMC_OK; i++) rc = text_append(names[i], text, len, d);
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    if (rc == AIMC_OK && *len == 0) rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: no text", path);
    if (rc) {
        free(*text);
        *text = NULL;
        *len = 0;
    }
    return rc;
}

int aimc_text_split(const uint8_t *text, size_t len, size_t chunk, size_t every, uint8_t **train,
                    size_t *ntrain, uint8_t **test, size_t *ntest)
{
    *train = malloc(len ? len : 1);
    *test = malloc(len ? len : 1);
    *ntrain = *ntest = 0;
    if (!*train || !*test || chunk == 0 || every == 0) {
        free(*train);
        free(*test);
        *train = *test = NULL;
        return AIMC_ERR_NOMEM;
    }
    for (size_t i = 0, c0 = 0; c0 < len; i++, c0 += chunk) {
        const size_t n = len - c0 < chunk ? len - c0 : chunk;
        if (i % every == 0) {
            memcpy(*test + *ntest, text + c0, n);
            *ntest += n;
        } else {
            memcpy(*train + *ntrain, text + c0, n);
            *ntrain += n;
        }
    }
    return AIMC_OK;
}

/* ---- safetensors ------------------------------------------------------------------------- */

int aimc_lm_save(const aimc_lm *lm, const char *path, aimc_diag *d)
{
    const struct aimc_lm_priv *p = lm->priv;
    aimc_st_tensor *t = calloc(p->n, sizeof *t);
    if (!t) return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < p->n; i++) {
        t[i].name = p->t[i].name;
        t[i].rank = p->t[i].kind == T_VEC ? 1 : 2;
        t[i].shape[0] = p->t[i].kind == T_VEC ? p->t[i].cols : p->t[i].rows;
        t[i].shape[1] = p->t[i].cols;
        t[i].data = lm->storage + p->t[i].off;
    }
    char meta[4][32];
    snprintf(meta[0], sizeof meta[0], "%d", lm->s.layers);
    snprintf(meta[1], sizeof meta[1], "%d", lm->s.d_model);
    snprintf(meta[2], sizeof meta[2], "%d", lm->s.n_experts);
    snprintf(meta[3], sizeof meta[3], "%d", lm->s.context);
    const char *kv[] = {"format", "aimc-moe-lm", "layers", meta[0], "d_model", meta[1],
                        "experts", meta[2], "context", meta[3]};
    int rc = aimc_st_write(path, t, p->n, kv, 5, d);
    free(t);
    return rc;
}
