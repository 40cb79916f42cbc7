/* main.c - bench/mvm: simulated crossbar MVM throughput against the host's own BLAS.
 *
 * Every case is a matrix of n inputs x n weight columns (logical; 2n physical columns with
 * differential pairs) on square n x n crossbars, one thread for the simulator and for
 * OpenBLAS, batch 1 and 64. In the same run and interleaved, OpenBLAS does the same logical
 * product: sgemv (batch 1) or sgemm (batch 64) of n x n floats. Three configurations:
 *
 *  - default: generic device (programming and read noise, g_min 0), 8-bit weights in 4 slices
 *    of 2-bit cells, 8-bit bit-serial DAC (7 steps), 8-bit ADC; n = 256, 512, 1024. Figure:
 *    physical MACs/s (rows x physical columns x steps x slices per vector) against BLAS's
 *    logical MACs/s.
 *  - peercfg: the peers' example: the same generic device, 8-bit weights in one slice of
 *    7-bit cells (128 levels), 8-bit multi-bit DAC (one step), 8-bit ADC; n = 256, 1024.
 *    Figure: vectors/s against BLAS's vectors/s.
 *  - exact: an ideal device with the peers' arrangement, where one integer GEMM gives the
 *    machine's result (docs/simulator.md, "The exact path"); n = 256, 1024. Figure: vectors/s
 *    against BLAS's, and the same machine with the exact path switched off.
 *
 * Also the memory per simulated weight (default, 256) and the scratch the MVMs kept. Times are
 * CPU seconds of the process (bench_util.h): the machine is shared. Each (simulator, BLAS)
 * pair is timed ROUNDS times, alternating, and the fastest of each kept.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_arch.h"
#include "aimc_xbar.h"
#include "bench_util.h"

void openblas_set_num_threads(int n); /* OpenBLAS's own entry point */

#define ROUNDS 3
#define MIN_S 0.2
#define BATCH_MAX 64

static uint64_t st = 88172645463325252ULL;
static float rnd(void)
{
    st ^= st << 13;
    st ^= st >> 7;
    st ^= st << 17;
    return (float)((double)(st >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

typedef enum { CFG_DEFAULT, CFG_PEER, CFG_EXACT } cfg_kind;
static const char *const cfg_name[] = {"default", "peercfg", "exact"};

static void arch_of(cfg_kind k, int n, aimc_arch *a)
{
    aimc_arch_defaults(a);
    a->device.type = k == CFG_EXACT ? AIMC_DEVICE_IDEAL : AIMC_DEVICE_GENERIC;
    a->crossbar.rows = n;
    a->crossbar.cols = n;
    a->crossbar.weight_bits = 8;
    a->dac.bits = 8;
    a->adc.bits = 8;
    a->adc.range = AIMC_ADC_RANGE_FULL_SCALE;
    a->simulator.threads = 1;
    if (k == CFG_DEFAULT) {
        a->crossbar.bits_per_cell = 2; /* the defaults' 16 device levels hold its 4 */
        a->dac.mode = AIMC_DAC_BIT_SERIAL;
    } else {
        a->crossbar.bits_per_cell = 7;
        a->device.levels = 128;
        a->dac.mode = AIMC_DAC_MULTI_BIT;
    }
    /* Room for the matrix: 2 crossbars per slice (n weight columns on n physical ones). */
    a->hierarchy.crossbars_per_core = 2 * aimc_arch_slices(a);
    a->hierarchy.cores_per_chip = 1;
    a->hierarchy.chips = 1;
}

/* Program an n x n matrix of weights uniform in [-1, 1]: per slice, the columns cut in
 * crossbar-wide tiles side by side. */
static int setup(const aimc_arch *a, int n, aimc_xbar **s, float *w)
{
    aimc_diag d = {""};
    const uint32_t slices = (uint32_t)aimc_arch_slices(a);
    const uint32_t lc = (uint32_t)aimc_arch_logical_cols(a), un = (uint32_t)n;
    const uint32_t per = (un + lc - 1) / lc;
    aimc_tile *t = calloc((size_t)slices * per, sizeof *t);
    if (!t) return -1;
    size_t nt = 0;
    for (uint32_t sl = 0; sl < slices; sl++)
        for (uint32_t c0 = 0, x = sl * per; c0 < un; c0 += lc, x++)
            t[nt++] = (aimc_tile){0, 0, un, c0, un - c0 < lc ? un - c0 : lc, sl, x, 0};
    int rc = aimc_xbar_create(a, 1, s);
    if (!rc) rc = aimc_xbar_program(*s, 0, w, un, un, t, nt, NULL, &d);
    if (rc) fprintf(stderr, "bench-mvm: %s\n", d.msg);
    free(t);
    return rc;
}

/* Seconds per call of the fastest of the rounds. */
typedef struct timing {
    double sim, ref;
} timing;

static double time_sim(aimc_xbar *s, const float *x, int B, float *y)
{
    double t0 = bench_now_s(), t;
    long calls = 0;
    do {
        aimc_xbar_mvm(s, 0, x, (uint32_t)B, y, NULL);
        calls++;
        t = bench_now_s() - t0;
    } while (t < MIN_S);
    return t / (double)calls;
}

static double time_blas(int n, int B, const float *w, const float *x, float *y)
{
    double t0 = bench_now_s(), t;
    long calls = 0;
    do {
        if (B == 1)
            cblas_sgemv(CblasRowMajor, CblasTrans, n, n, 1.0f, w, n, x, 1, 0.0f, y, 1);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, n, n, 1.0f, x, n, w, n,
                        0.0f, y, n);
        calls++;
        t = bench_now_s() - t0;
    } while (t < MIN_S);
    return t / (double)calls;
}

static timing measure(aimc_xbar *s, int n, int B, const float *w, const float *x, float *y)
{
    timing best = {1e300, 1e300};
    for (int r = 0; r < ROUNDS; r++) {
        double ts = time_sim(s, x, B, y), tr = time_blas(n, B, w, x, y);
        if (ts < best.sim) best.sim = ts;
        if (tr < best.ref) best.ref = tr;
    }
    return best;
}

/* One configuration at size n: both batches. Returns physical MACs/s at batch 1 and 64
 * (default) for the trend over sizes, or 0 on failure. */
static int run_case(cfg_kind k, int n, double phys_rate[2])
{
    aimc_arch a;
    arch_of(k, n, &a);
    float *w = malloc((size_t)n * n * sizeof *w);
    float *x = malloc((size_t)BATCH_MAX * n * sizeof *x);
    float *y = malloc((size_t)BATCH_MAX * n * sizeof *y);
    aimc_xbar *s = NULL;
    if (!w || !x || !y) return -1;
    for (size_t i = 0; i < (size_t)n * n; i++) w[i] = rnd();
    for (size_t i = 0; i < (size_t)BATCH_MAX * n; i++) x[i] = rnd();
    if (setup(&a, n, &s, w)) return -1;
    const char *name = cfg_name[k];
    if (k == CFG_DEFAULT && n == 256)
        printf("BENCH mvm_bytes_per_weight %.2f B\n",
               (double)aimc_xbar_memory_bytes(s) / ((double)n * n));
    const double logical = (double)n * n;
    const double phys = (double)n * n * aimc_arch_cols_per_weight(&a) *
                        aimc_arch_input_steps(&a) * aimc_arch_slices(&a);
    const int batches[2] = {1, BATCH_MAX};
    for (int b = 0; b < 2; b++) {
        const int B = batches[b];
        const char *ref = B == 1 ? "sgemv" : "sgemm";
        timing t = measure(s, n, B, w, x, y);
        const double vps = B / t.sim, ref_vps = B / t.ref;
        printf("BENCH mvm_%s_%d_b%d_vectors_per_s %.1f 1/s\n", name, n, B, vps);
        printf("BENCH mvm_%s_%d_b%d_%s_vectors_per_s %.1f 1/s\n", name, n, B, ref, ref_vps);
        if (k == CFG_DEFAULT) {
            phys_rate[b] = phys * vps;
            printf("BENCH mvm_%s_%d_b%d_phys_macs_per_s %.4g MAC/s\n", name, n, B, phys * vps);
            printf("BENCH mvm_%s_%d_b%d_%s_macs_per_s %.4g MAC/s\n", name, n, B, ref,
                   logical * ref_vps);
            printf("BENCH mvm_%s_%d_b%d_phys_vs_%s %.3f x\n", name, n, B, ref,
                   phys * vps / (logical * ref_vps));
        } else {
            printf("BENCH mvm_%s_%d_b%d_vs_%s %.4f x\n", name, n, B, ref, vps / ref_vps);
        }
        if (k == CFG_EXACT) {
            /* The same machine through the full slice and step path. */
            aimc_xbar_set_exact_path(s, 0);
            timing f = measure(s, n, B, w, x, y);
            aimc_xbar_set_exact_path(s, 1);
            printf("BENCH mvm_%s_%d_b%d_full_path_vectors_per_s %.1f 1/s\n", name, n, B,
                   B / f.sim);
            printf("BENCH mvm_%s_%d_b%d_full_path_vs_%s %.4f x\n", name, n, B, ref,
                   (B / f.sim) / (B / f.ref));
        }
    }
    if (k == CFG_DEFAULT && n == 256)
        printf("BENCH mvm_scratch_bytes %zu B\n", aimc_xbar_scratch_bytes(s));
    aimc_xbar_destroy(s);
    free(w);
    free(x);
    free(y);
    return 0;
}

int main(void)
{
    openblas_set_num_threads(1);
    const int sizes[3] = {256, 512, 1024};
    double rate[3][2] = {{0}};
    for (int i = 0; i < 3; i++)
        if (run_case(CFG_DEFAULT, sizes[i], rate[i])) return 1;
    /* Physical MACs/s of the larger arrays against the smaller: >= 1 when the throughput per
     * MAC does not fall as the array grows. */
    for (int b = 0; b < 2; b++) {
        printf("BENCH mvm_default_b%d_per_mac_512_vs_256 %.3f x\n", b ? BATCH_MAX : 1,
               rate[1][b] / rate[0][b]);
        printf("BENCH mvm_default_b%d_per_mac_1024_vs_512 %.3f x\n", b ? BATCH_MAX : 1,
               rate[2][b] / rate[1][b]);
    }
    for (int k = CFG_PEER; k <= CFG_EXACT; k++)
        for (int i = 0; i < 3; i += 2)
            if (run_case((cfg_kind)k, sizes[i], NULL)) return 1;
    return 0;
}
