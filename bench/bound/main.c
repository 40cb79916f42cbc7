/* main.c - bench/bound: how long the largest commands a descriptor may ask for keep the
 * host, and how late a wait with a timeout comes back (issue 20; docs/engine.md, "How work
 * is bounded").
 *
 * On sim: with the default machine, each command at its largest allowed shape is submitted
 * and waited for with 100 ms timeouts until it completes: the wall time to completion, the
 * number of waits, and the latest return of a wait past its 100 ms (its overshoot). MVM and
 * READBACK run on a matrix on most of the machine (2048 x 960 on 960 of its 1024 crossbars), where a
 * piece is one vector; MVM also at the largest batch on one crossbar's block. Then TOPK with
 * n = k = 2000 on one vector against the runtime's reference selection
 * (aimc_moe_top_k_softmax, O(n k^2), which the device used before), in the same run.
 *
 * Wall time (CLOCK_MONOTONIC): a wait's promise is about the caller's clock. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aimc.h"
#include "aimc_moe.h"
#include "aimc_regs.h"
#include "bench_util.h"

#define TIMEOUT_NS 100000000LL
#define ELEMS (1u << 24)
#define DIM 65536u

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 88172645463325252ull;
static float rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

static aimc_bo *bo(aimc_dev *dev, size_t bytes, int random)
{
    aimc_bo *b = NULL;
    if (aimc_bo_create(dev, bytes, &b)) {
        fprintf(stderr, "bench-bound: no buffer of %zu bytes\n", bytes);
        exit(1);
    }
    if (random) {
        float *f = aimc_bo_map(b);
        for (size_t i = 0; i < bytes / 4; i++) f[i] = rnd();
    }
    aimc_bo_sync(b, AIMC_SYNC_TO_DEVICE);
    return b;
}

/* Wait for fence f with 100 ms timeouts until it completes: prints the figures. */
static double mhz; /* the device clock */

static int wait_report(aimc_dev *dev, const char *name, uint64_t f)
{
    aimc_counters c0, c1;
    aimc_counters_read(dev, &c0);
    const double t0 = wall_s();
    double worst = 0;
    int waits = 0, rc;
    do {
        const double w0 = wall_s();
        rc = aimc_fence_wait(dev, f, TIMEOUT_NS);
        const double over = wall_s() - w0 - 1e-9 * TIMEOUT_NS;
        waits++;
        if (rc == AIMC_ERR_TIMEOUT && over > worst) worst = over;
    } while (rc == AIMC_ERR_TIMEOUT);
    const double total = wall_s() - t0;
    aimc_counters_read(dev, &c1);
    printf("BENCH bound_%s_s %.3f s\n", name, total);
    printf("BENCH bound_%s_waits %d\n", name, waits);
    printf("BENCH bound_%s_overshoot_ms %.1f ms\n", name, 1e3 * worst);
    printf("BENCH bound_%s_device_ms %.1f ms\n", name,
           (double)(c1.time - c0.time) / (1e3 * mhz));
    if (rc) fprintf(stderr, "bench-bound: %s: %s\n", name, aimc_error_text(dev));
    return rc;
}

/* Tiles of a rows x cols matrix in blocks of the crossbar's rows and logical columns, each
 * slice of a block on its own crossbar, from crossbar 0 up. */
static size_t tiles_of(const aimc_arch *a, uint32_t rows, uint32_t cols, uint32_t xbar0,
                       aimc_tile **out)
{
    const uint32_t br = (uint32_t)a->crossbar.rows, bc = (uint32_t)aimc_arch_logical_cols(a);
    const uint32_t slices = (uint32_t)aimc_arch_slices(a);
    const size_t n = (size_t)((rows + br - 1) / br) * ((cols + bc - 1) / bc) * slices;
    aimc_tile *t = calloc(n, sizeof *t);
    size_t k = 0;
    for (uint32_t r0 = 0; t && r0 < rows; r0 += br)
        for (uint32_t c0 = 0; c0 < cols; c0 += bc)
            for (uint32_t s = 0; s < slices; s++, k++)
                t[k] = (aimc_tile){0, r0, rows - r0 < br ? rows - r0 : br, c0,
                                   cols - c0 < bc ? cols - c0 : bc, s, xbar0 + (uint32_t)k, 0};
    *out = t;
    return t ? n : 0;
}

static int program(aimc_dev *dev, const aimc_arch *a, uint32_t id, uint32_t rows, uint32_t cols,
                   uint32_t xbar0)
{
    aimc_tile *t;
    const size_t n = tiles_of(a, rows, cols, xbar0, &t);
    float *w = malloc((size_t)rows * cols * sizeof *w);
    if (!n || !w) return -1;
    for (size_t i = 0; i < (size_t)rows * cols; i++) w[i] = rnd();
    const int rc = aimc_weights_program(dev, id, w, rows, cols, t, n, NULL, NULL);
    free(w);
    free(t);
    return rc;
}

int main(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    mhz = a.clock.frequency_mhz;
    aimc_diag d = {""};
    aimc_open_opts o = {.arch = &a, .seed = 1, .diag = &d};
    aimc_dev *dev;
    if (aimc_open("sim:", &o, &dev)) {
        fprintf(stderr, "bench-bound: %s\n", d.msg);
        return 1;
    }
    const size_t big = (size_t)ELEMS * 4;
    aimc_bo *in = bo(dev, big, 1), *in2 = bo(dev, big, 1), *out = bo(dev, big, 0),
            *out2 = bo(dev, big, 0), *idx = bo(dev, 256 * 4, 0), *wt = bo(dev, 256 * 4, 1);
    uint32_t *ix = aimc_bo_map(idx);
    for (uint32_t i = 0; i < 256; i++) ix[i] = 255 - i;
    aimc_bo_sync(idx, AIMC_SYNC_TO_DEVICE);
    uint64_t f;
    int bad = 0;

    aimc_submit_rmsnorm(dev, 256, DIM, aimc_bo_addr(in), aimc_bo_addr(out), &f);
    bad |= wait_report(dev, "rmsnorm", f);
    aimc_submit_topk(dev, 256, DIM, DIM, aimc_bo_addr(in), aimc_bo_addr(out), aimc_bo_addr(out2),
                     &f);
    bad |= wait_report(dev, "topk_k_eq_n", f);
    aimc_submit_topk(dev, 256, DIM, 8, aimc_bo_addr(in), aimc_bo_addr(out), aimc_bo_addr(out2),
                     &f);
    bad |= wait_report(dev, "topk_k8", f);
    aimc_submit_silu_mul(dev, ELEMS, aimc_bo_addr(in), aimc_bo_addr(in2), aimc_bo_addr(out), &f);
    bad |= wait_report(dev, "silu_mul", f);
    aimc_submit_gather(dev, 256, DIM, 256, aimc_bo_addr(in), aimc_bo_addr(idx), aimc_bo_addr(out),
                       &f);
    bad |= wait_report(dev, "gather", f);
    aimc_submit_scale_acc(dev, 256, DIM, 256, aimc_bo_addr(in), aimc_bo_addr(idx),
                          aimc_bo_addr(wt), aimc_bo_addr(out), &f);
    bad |= wait_report(dev, "scale_acc", f);

    /* MVM: the largest batch on one crossbar block (128 x 64), then 64 vectors through a
     * matrix on the rest of the machine, and a READBACK of 64 of its rows. */
    const uint32_t R = 2048, C = 960;
    if (program(dev, &a, 1, 128, 64, 0) || program(dev, &a, 2, R, C, 4)) {
        fprintf(stderr, "bench-bound: program: %s\n", aimc_error_text(dev));
        return 1;
    }
    aimc_submit_mvm_addr(dev, 1, 65536, aimc_bo_addr(in), aimc_bo_addr(out), &f);
    bad |= wait_report(dev, "mvm_batch_65536", f);
    aimc_submit_mvm_addr(dev, 2, 64, aimc_bo_addr(in), aimc_bo_addr(out), &f);
    bad |= wait_report(dev, "mvm_machine_64", f);
    {
        uint8_t desc[AIMC_DESC_BYTES] = {0};
        aimc_le_put16(desc + AIMC_DESC_OPCODE, AIMC_DESC_OP_READBACK);
        aimc_le_put32(desc + AIMC_DESC_RDBK_MATRIX, 2);
        aimc_le_put32(desc + AIMC_DESC_RDBK_NROWS, 64);
        aimc_le_put32(desc + AIMC_DESC_RDBK_COLS, C);
        aimc_le_put64(desc + AIMC_DESC_RDBK_OUT_ADDR, aimc_bo_addr(out));
        aimc_submit_raw(dev, desc, sizeof desc, &f);
        bad |= wait_report(dev, "readback_machine_64", f);
    }

    /* TOPK, n = k = 2000, one vector: the device against the reference selection. */
    {
        const int n = 2000;
        double *v = malloc(n * sizeof *v), *p = malloc(n * sizeof *p);
        int *sel = malloc(n * sizeof *sel);
        const float *x = aimc_bo_map(in);
        for (int i = 0; i < n; i++) v[i] = x[i];
        const double t0 = bench_now_s();
        aimc_moe_top_k_softmax(v, n, n, sel, p);
        const double t_ref = bench_now_s() - t0;
        const double t1 = bench_now_s();
        aimc_submit_topk(dev, 1, n, n, aimc_bo_addr(in), aimc_bo_addr(out), aimc_bo_addr(out2),
                         &f);
        bad |= aimc_fence_wait(dev, f, -1);
        const double t_dev = bench_now_s() - t1;
        const uint32_t *got = aimc_bo_map(out);
        for (int i = 0; i < n; i++) bad |= got[i] != (uint32_t)sel[i];
        printf("BENCH bound_topk_2000_reference_s %.4f s\n", t_ref);
        printf("BENCH bound_topk_2000_device_s %.4f s\n", t_dev);
        printf("BENCH bound_topk_2000_vs_reference %.1f x\n", t_dev > 0 ? t_ref / t_dev : 0);
        free(v);
        free(p);
        free(sel);
    }
    aimc_bo_destroy(in);
    aimc_bo_destroy(in2);
    aimc_bo_destroy(out);
    aimc_bo_destroy(out2);
    aimc_bo_destroy(idx);
    aimc_bo_destroy(wt);
    aimc_close(dev);
    if (bad) fprintf(stderr, "bench-bound: a command failed or a result differed\n");
    return bad ? 1 : 0;
}
