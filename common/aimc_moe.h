/* aimc_moe.h - the host arithmetic of an MoE block that more than one layer needs to do the
 * same way: the runtime's exact reference (driver/runtime/runtime.c) and the classifier's training
 * (mapping/train.c). The device's digital commands compute the same (docs/driver.md). */
#ifndef AIMC_MOE_H
#define AIMC_MOE_H

#include <math.h>
#include <stddef.h>

#define AIMC_MOE_RMS_EPS 1e-6 /* added to the mean square before the square root */

/* 1 / rms(x) of n values: 1 / sqrt(mean(x^2) + eps), summed in double. */
static inline double aimc_moe_rms_inv(const float *x, size_t n)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    return 1.0 / sqrt(ss / (double)n + AIMC_MOE_RMS_EPS);
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

#endif /* AIMC_MOE_H */
