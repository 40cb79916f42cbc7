/* main.c - bench/rtl: speed of the Verilated RTL (rtl:) against the C device model (sim:) in
 * the same run, on the same MVM workload through the driver.
 *
 *   BENCH rtl_mvm_vectors_per_s <n> 1/s     input vectors per second on rtl:
 *   BENCH sim_mvm_vectors_per_s <n> 1/s     the reference: the same on sim:
 *   BENCH rtl_vs_sim <r> x                  rtl rate / sim rate
 *   BENCH rtl_clock_cycles_per_s <n> 1/s    device cycles (CNT_CYCLES) simulated per second
 *
 * The workload: a 256 x 256 matrix of 8-bit weights on the default machine (128 x 128
 * crossbars, 2 b/cell, differential: 32 tiles on 32 crossbars), MVMs of 16 vectors. Each
 * figure is the best of REPEATS timed passes, rtl: and sim: interleaved (the least disturbed by
 * other load on a shared machine). Run by `make bench-rtl` from the repository root. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aimc.h"

#define N 256
#define BATCH 16
#define MVMS 20
#define REPEATS 5

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Open uri and program the matrix; NULL on failure. */
static aimc_dev *setup(const char *uri, const aimc_arch *a, const float *w)
{
    aimc_dev *dev = NULL;
    aimc_diag d = {{0}};
    aimc_open_opts o = {.arch = a, .seed = 1, .diag = &d};
    aimc_tile t[64];
    size_t n = 0;
    const uint32_t xr = (uint32_t)a->crossbar.rows, lc = (uint32_t)aimc_arch_logical_cols(a);
    if (aimc_open(uri, &o, &dev) != AIMC_OK) {
        fprintf(stderr, "bench-rtl: open %s: %s\n", uri, d.msg);
        return NULL;
    }
    for (uint32_t s = 0; s < (uint32_t)aimc_arch_slices(a); s++)
        for (uint32_t r0 = 0; r0 < N; r0 += xr)
            for (uint32_t c0 = 0; c0 < N; c0 += lc, n++)
                t[n] = (aimc_tile){.row0 = r0, .nrows = xr, .col0 = c0, .ncols = lc, .slice = s,
                                   .xbar = (uint32_t)n};
    if (aimc_weights_program(dev, 0, w, N, N, t, n, NULL, NULL) != AIMC_OK) {
        fprintf(stderr, "bench-rtl: program on %s: %s\n", uri, aimc_error_text(dev));
        aimc_close(dev);
        return NULL;
    }
    return dev;
}

/* MVMS MVMs of BATCH vectors; the wall time, or -1. */
static double pass(aimc_dev *dev, const float *x, float *y)
{
    double t0 = now_s();
    for (int i = 0; i < MVMS; i++) {
        uint64_t f;
        if (aimc_submit_mvm(dev, 0, x, BATCH, y, &f) != AIMC_OK ||
            aimc_fence_wait(dev, f, -1) != AIMC_OK)
            return -1;
    }
    return now_s() - t0;
}

int main(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    float *w = malloc((size_t)N * N * sizeof *w), *x = malloc((size_t)BATCH * N * sizeof *x);
    float *y = malloc((size_t)BATCH * N * sizeof *y);
    if (!w || !x || !y) return 1;
    for (int i = 0; i < N * N; i++) w[i] = (float)((i * 37) % 255 - 127) / 128.0f;
    for (int i = 0; i < BATCH * N; i++) x[i] = (float)((i * 11) % 31 - 15) / 16.0f;
    aimc_dev *rtl = setup("rtl:", &a, w), *sim = setup("sim:", &a, w);
    if (!rtl || !sim) return 1;
    double best_rtl = -1, best_sim = -1;
    aimc_counters c0, c1;
    if (aimc_counters_read(rtl, &c0) != AIMC_OK) return 1;
    for (int r = 0; r < REPEATS; r++) {
        double tr = pass(rtl, x, y), ts = pass(sim, x, y);
        if (tr < 0 || ts < 0) {
            fprintf(stderr, "bench-rtl: an MVM failed\n");
            return 1;
        }
        if (best_rtl < 0 || tr < best_rtl) best_rtl = tr;
        if (best_sim < 0 || ts < best_sim) best_sim = ts;
    }
    if (aimc_counters_read(rtl, &c1) != AIMC_OK) return 1;
    const double vec = (double)MVMS * BATCH;
    const double cycles_per_pass = (double)(c1.cycles - c0.cycles) / REPEATS;
    printf("BENCH rtl_mvm_vectors_per_s %.1f 1/s\n", vec / best_rtl);
    printf("BENCH sim_mvm_vectors_per_s %.1f 1/s\n", vec / best_sim);
    printf("BENCH rtl_vs_sim %.4f x\n", best_sim / best_rtl);
    printf("BENCH rtl_clock_cycles_per_s %.3g 1/s\n", cycles_per_pass / best_rtl);
    aimc_close(rtl);
    aimc_close(sim);
    free(w);
    free(x);
    free(y);
    return 0;
}
