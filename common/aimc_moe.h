/* aimc_moe.h - the host arithmetic of an MoE block that more than one layer needs to do the
 * same way: the runtime's exact reference (driver/runtime/runtime.c) and the classifier's training
 * (mapping/train.c). The device's digital commands compute the same (docs/driver.md), written
 * separately (sim/device). */
#ifndef AIMC_MOE_H
#define AIMC_MOE_H

#include <math.h>
#include <stddef.h>

#define AIMC_MOE_RMS_EPS 1e-6 /* added to the mean square before the square root */

/* 1 / rms(x) of n values: 1 / sqrt(mean(x^2) + eps), summed in double. */
static inline double aimc_moe_rms_inv_eps(const float *x, size_t n, double eps)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    return 1.0 / sqrt(ss / (double)n + eps);
}

static inline double aimc_moe_rms_inv(const float *x, size_t n)
{
    return aimc_moe_rms_inv_eps(x, n, AIMC_MOE_RMS_EPS);
}

/* out = x / rms(x) * w (w NULL: no learned weight), eps added to the mean square; the
 * product in double, rounded to float once; out may be x. */
static inline void aimc_moe_rms_norm_w(const float *x, size_t n, double eps, const float *w,
                                       float *out)
{
    double inv = aimc_moe_rms_inv_eps(x, n, eps);
    for (size_t i = 0; i < n; i++) out[i] = (float)(x[i] * inv * (w ? (double)w[i] : 1.0));
}

/* out = x / rms(x) (no learned weight); out may be x. */
static inline void aimc_moe_rms_norm(const float *x, size_t n, float *out)
{
    double inv = aimc_moe_rms_inv(x, n);
    for (size_t i = 0; i < n; i++) out[i] = (float)(x[i] * inv);
}

static inline double aimc_moe_silu(double v) { return v / (1.0 + exp(-v)); }

/* Indices of the k largest of v[0..n-1] into idx, largest first; ties go to the lower index,
 * so the choice is deterministic. The softmax of the chosen values into p (k of them). */
static inline void aimc_moe_top_k_softmax(const double *v, int n, int k, int *idx, double *p)
{
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < n; e++) {
            int taken = 0;
            for (int t = 0; t < j; t++) taken |= idx[t] == e;
            if (!taken && (best < 0 || v[e] > v[best])) best = e;
        }
        idx[j] = best;
    }
    double mx = v[idx[0]], sum = 0;
    for (int j = 0; j < k; j++) sum += (p[j] = exp(v[idx[j]] - mx));
    for (int j = 0; j < k; j++) p[j] /= sum;
}

/* A routing rule (docs/models.md, "Routing rules"): how a token's router logits become its
 * experts and their weights. Zero-initialised it is Mixtral's: softmax over all experts, the
 * top k, their probabilities divided by their sum (which is the softmax of the chosen logits,
 * aimc_moe_top_k_softmax).
 *   scores s   = softmax(logits) over all n, or sigmoid(logits) (sigmoid = 1)
 *   choice c   = s + bias (the correction bias, when given; else c = s)
 *   groups     with groups g > 1 the experts form g groups of n / g in index order; a group's
 *              score is the sum of its two largest c (its largest when it holds one expert);
 *              only the topk_groups best groups' experts can be chosen
 *   choose     the k largest c of those (largest first; ties go to the lower index)
 *   weights    their s (without the bias), divided by (sum of the k s + 1e-20) unless
 *              no_renorm, times scale
 * DeepSeek-V3 (config.json: scoring_func sigmoid, n_group 8, topk_group 4, norm_topk_prob
 * true, routed_scaling_factor 2.5, e_score_correction_bias); OLMoE and Qwen1.5-MoE
 * (norm_topk_prob false: no_renorm). */
typedef struct aimc_moe_rule {
    int sigmoid;      /* 1: s = sigmoid(logit); 0: softmax over all experts */
    int no_renorm;    /* 1: the weights are the chosen s as they are */
    int groups;       /* 0 or 1: one group */
    int topk_groups;  /* 0: every group */
    double scale;     /* 0: 1 */
    int bias;         /* 1: a correction bias per expert is added for the choice */
} aimc_moe_rule;

/* Whether r is the default rule (what aimc_moe_top_k_softmax computes). */
static inline int aimc_moe_rule_is_default(const aimc_moe_rule *r)
{
    return !r->sigmoid && !r->no_renorm && r->groups <= 1 && !r->bias &&
           (r->scale == 0 || r->scale == 1);
}

/* Route one token: logits v[0..n-1], bias[0..n-1] (NULL: none) by rule r: the k chosen
 * experts into idx (largest choice score first) and their weights into w. work holds 2n
 * doubles. The reference of the runtime: plain loops, O(n k). */
static inline void aimc_moe_route(const double *v, int n, int k, const aimc_moe_rule *r,
                                  const double *bias, int *idx, double *w, double *work)
{
    double *s = work, *c = work + n;
    if (r->sigmoid) {
        for (int e = 0; e < n; e++) s[e] = 1.0 / (1.0 + exp(-v[e]));
    } else {
        double mx = v[0], sum = 0;
        for (int e = 1; e < n; e++)
            if (v[e] > mx) mx = v[e];
        for (int e = 0; e < n; e++) sum += (s[e] = exp(v[e] - mx));
        for (int e = 0; e < n; e++) s[e] /= sum;
    }
    for (int e = 0; e < n; e++) c[e] = s[e] + (bias ? bias[e] : 0.0);
    const int g = r->groups > 1 ? r->groups : 1, per = n / g;
    const int tg = r->topk_groups > 0 && r->topk_groups < g ? r->topk_groups : g;
    if (tg < g) {
        /* Group scores: the sum of each group's two largest choice scores. */
        double gs[256];
        int keep[256];
        for (int q = 0; q < g && q < 256; q++) {
            double a = -INFINITY, b = -INFINITY;
            for (int e = q * per; e < (q + 1) * per; e++) {
                if (c[e] > a) {
                    b = a;
                    a = c[e];
                } else if (c[e] > b) {
                    b = c[e];
                }
            }
            gs[q] = per > 1 ? a + b : a;
            keep[q] = 0;
        }
        for (int j = 0; j < tg; j++) {
            int best = -1;
            for (int q = 0; q < g && q < 256; q++)
                if (!keep[q] && (best < 0 || gs[q] > gs[best])) best = q;
            keep[best] = 1;
        }
        for (int q = 0; q < g && q < 256; q++)
            if (!keep[q])
                for (int e = q * per; e < (q + 1) * per; e++) c[e] = -INFINITY;
    }
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < n; e++) {
            int taken = 0;
            for (int t = 0; t < j; t++) taken |= idx[t] == e;
            if (!taken && (best < 0 || c[e] > c[best])) best = e;
        }
        idx[j] = best;
    }
    double sum = 0;
    for (int j = 0; j < k; j++) sum += (w[j] = s[idx[j]]);
    const double scale = r->scale > 0 ? r->scale : 1.0;
    for (int j = 0; j < k; j++) w[j] = (r->no_renorm ? w[j] : w[j] / (sum + 1e-20)) * scale;
}

#endif /* AIMC_MOE_H */
