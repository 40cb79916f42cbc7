/* main.c - bench/mvm: simulated crossbar MVM throughput against the machine's own BLAS.
 *
 * For 128, 256, 512 and 1024 square crossbars (rows x physical columns), batch 1 and 64, read
 * noise on (generic device), 8-bit bit-serial DAC, 8-bit ADC, 8-bit weights on 2-bit cells
 * (differential: 4 slices): simulated vectors/s, physical analog MACs/s (rows x cols x input
 * steps x weight slices x vectors / time) and, in the same run, OpenBLAS sgemm (batch 64) and
 * sgemv (batch 1) on the same logical shape (rows x weight columns), one thread each, as
 * ratios. Also the memory per simulated weight and the peers' example configuration.
 * Each pair (simulator, BLAS) is timed ROUNDS times, alternating, and the fastest of each
 * is kept: the machine is shared, and the minimum is the least disturbed measurement.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aimc_arch.h"
#include "aimc_xbar.h"

void openblas_set_num_threads(int n); /* OpenBLAS's own entry point */

#define ROUNDS 3

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t st = 88172645463325252ULL;
static float rnd(void)
{
    st ^= st << 13;
    st ^= st >> 7;
    st ^= st << 17;
    return (float)((double)(st >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

/* Repeat fn until at least min_s seconds have passed; seconds per call. */
#define TIME_LOOP(min_s, body)                                                     \
    do {                                                                           \
        double t0_ = now_s(), t_ = 0.0;                                            \
        long n_ = 0;                                                               \
        do {                                                                       \
            body;                                                                  \
            n_++;                                                                  \
            t_ = now_s() - t0_;                                                    \
        } while (t_ < (min_s));                                                    \
        per_call = t_ / n_;                                                        \
    } while (0)

static int setup(aimc_arch *a, int n, aimc_xbar **s, float **w, uint32_t *wcols)
{
    aimc_diag d = {""};
    *wcols = (uint32_t)aimc_arch_logical_cols(a);
    uint32_t slices = (uint32_t)aimc_arch_slices(a);
    *w = malloc((size_t)n * *wcols * sizeof **w);
    aimc_tile *t = calloc(slices, sizeof *t);
    if (!*w || !t) return -1;
    for (size_t i = 0; i < (size_t)n * *wcols; i++) (*w)[i] = rnd();
    for (uint32_t sl = 0; sl < slices; sl++) t[sl] = (aimc_tile){0, 0, (uint32_t)n, 0, *wcols, sl, sl, 0};
    if (aimc_xbar_create(a, 1, s)) return -1;
    int rc = aimc_xbar_program(*s, 0, *w, (uint32_t)n, *wcols, t, slices, NULL, &d);
    if (rc) fprintf(stderr, "bench-mvm: %s\n", d.msg);
    free(t);
    return rc;
}

int main(void)
{
    openblas_set_num_threads(1);
    const int sizes[4] = {128, 256, 512, 1024};
    const double min_s = 0.2;
    double per_call;
    for (int k = 0; k < 4; k++) {
        const int n = sizes[k];
        aimc_arch a;
        aimc_arch_defaults(&a);
        a.device.type = AIMC_DEVICE_GENERIC;
        a.crossbar.rows = n;
        a.crossbar.cols = n;
        a.crossbar.bits_per_cell = 2;
        a.crossbar.weight_bits = 8;
        a.dac.bits = 8;
        a.dac.mode = AIMC_DAC_BIT_SERIAL;
        a.adc.bits = 8;
        a.hierarchy.crossbars_per_core = 4;
        a.hierarchy.cores_per_chip = 1;
        aimc_xbar *s = NULL;
        float *w = NULL;
        uint32_t wc = 0;
        if (setup(&a, n, &s, &w, &wc)) return 1;
        const double phys_per_vec = (double)n * n * aimc_arch_input_steps(&a) * aimc_arch_slices(&a);
        float *x = malloc((size_t)64 * n * sizeof *x), *y = malloc((size_t)64 * wc * sizeof *y);
        if (!x || !y) return 1;
        for (size_t i = 0; i < (size_t)64 * n; i++) x[i] = rnd();

        if (k == 1) {
            size_t bytes = aimc_xbar_memory_bytes(s);
            printf("BENCH mvm_bytes_per_weight %.2f B\n", (double)bytes / ((double)n * wc));
        }
        const int batches[2] = {1, 64};
        for (int b = 0; b < 2; b++) {
            const int B = batches[b];
            double t_sim = 1e300, t_ref = 1e300;
            for (int round = 0; round < ROUNDS; round++) {
                TIME_LOOP(min_s, aimc_xbar_mvm(s, 0, x, (uint32_t)B, y, NULL));
                if (per_call < t_sim) t_sim = per_call;
                /* Reference: BLAS on the logical product, rows x weight columns. */
                if (B == 1) {
                    TIME_LOOP(min_s, cblas_sgemv(CblasRowMajor, CblasTrans, n, (int)wc, 1.0f, w,
                                                 (int)wc, x, 1, 0.0f, y, 1));
                } else {
                    TIME_LOOP(min_s, cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B,
                                                 (int)wc, n, 1.0f, x, n, w, (int)wc, 0.0f, y,
                                                 (int)wc));
                }
                if (per_call < t_ref) t_ref = per_call;
            }
            double vps = B / t_sim, macs = phys_per_vec * B / t_sim;
            double ref_macs = (double)n * wc * B / t_ref;
            printf("BENCH mvm_%d_b%d_vectors_per_s %.1f 1/s\n", n, B, vps);
            printf("BENCH mvm_%d_b%d_phys_macs_per_s %.4g MAC/s\n", n, B, macs);
            printf("BENCH mvm_%d_b%d_%s_macs_per_s %.4g MAC/s\n", n, B, B == 1 ? "sgemv" : "sgemm",
                   ref_macs);
            printf("BENCH mvm_%d_b%d_vs_%s %.3f x\n", n, B, B == 1 ? "sgemv" : "sgemm",
                   macs / ref_macs);
        }
        free(x);
        free(y);
        free(w);
        aimc_xbar_destroy(s);
    }

    /* The peers' example: 256x256 differential, 8-bit weights on one device per polarity,
     * read noise 1 % of g_max per device per read, 8-bit multi-bit DAC, 8-bit ADC, batch 1. */
    {
        aimc_arch a;
        aimc_arch_defaults(&a);
        a.device.type = AIMC_DEVICE_GENERIC;
        a.device.g_max_us = 25.0;
        a.device.read_sigma_us = 0.25;
        a.device.program_sigma_us = 0.0;
        a.device.levels = 128;
        a.crossbar.rows = 256;
        a.crossbar.cols = 256;
        a.crossbar.bits_per_cell = 7;
        a.crossbar.weight_bits = 8;
        a.dac.bits = 8;
        a.dac.mode = AIMC_DAC_MULTI_BIT;
        a.adc.bits = 8;
        a.hierarchy.crossbars_per_core = 1;
        a.hierarchy.cores_per_chip = 1;
        aimc_xbar *s = NULL;
        float *w = NULL;
        uint32_t wc = 0;
        if (setup(&a, 256, &s, &w, &wc)) return 1;
        float x[256], y[128];
        for (int i = 0; i < 256; i++) x[i] = rnd();
        double best = 1e300;
        for (int round = 0; round < ROUNDS; round++) {
            TIME_LOOP(min_s, aimc_xbar_mvm(s, 0, x, 1, y, NULL));
            if (per_call < best) best = per_call;
        }
        printf("BENCH mvm_256_peercfg_vectors_per_s %.1f 1/s\n", 1.0 / best);
        free(w);
        aimc_xbar_destroy(s);
    }
    return 0;
}
