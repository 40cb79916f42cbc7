/* conformance.c - the driver conformance suite: the same tests against every backend,
 * parameterised by a URI (docs/driver.md, "Conformance").
 *
 * test_conformance_register() adds one CUnit suite per backend that exists in this build:
 * "conformance sim:" (every group) and "conformance mock:" (the groups that apply to a
 * device that completes commands without doing their work: open, query, buffers, fences,
 * counters, errors, reset, threads, hang); "conformance sysc:" runs every group on the
 * SystemC platform, "conformance rtl:" on the Verilated RTL. A new backend adds one line to
 * conf_backends (and an init function).
 * The suite's init function selects the backend for its tests.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "../tests.h"
#include "aimc.h"
#include "aimc_regs.h"

typedef struct conf_backend {
    const char *suite;    /* CUnit suite name */
    const char *uri;      /* the device */
    const char *hang_uri; /* a device whose command processor hangs at the first command */
    int computes;         /* commands do their work (values can be checked) */
    int recovers;         /* after aimc_reset, a hung device works again */
    int watchdog;         /* the device has a watchdog */
} conf_backend;

static const conf_backend conf_backends[] = {
    {"conformance sim:", "sim:", "sim:hang_after=0", 1, 1, 1},
    {"conformance mock:", "mock:", "mock:hang", 0, 0, 0},
    {"conformance sysc:", "sysc:", "sysc:hang_after=0", 1, 1, 1},
    {"conformance rtl:", "rtl:", "rtl:hang_after=0", 1, 1, 1},
};

static const conf_backend *conf; /* the backend under test */

static int conf_init_0(void) { conf = &conf_backends[0]; return 0; }
static int conf_init_1(void) { conf = &conf_backends[1]; return 0; }
static int conf_init_2(void) { conf = &conf_backends[2]; return 0; }
static int conf_init_3(void) { conf = &conf_backends[3]; return 0; }
static int (*const conf_inits[])(void) = {conf_init_0, conf_init_1, conf_init_2, conf_init_3};

#define CONF_SECOND_NS 1000000000LL

/* A small machine: noise off, 16-bit everything, so MVM results are close to exact. */
static void conf_arch(aimc_arch *a)
{
    aimc_arch_defaults(a);
    a->device.type = AIMC_DEVICE_IDEAL;
    a->crossbar.rows = 32;
    a->crossbar.cols = 32;
    a->crossbar.weight_bits = 16;
    a->dac.bits = 16;
    a->adc.bits = 16;
    a->adc.per_crossbar = 4;
    a->hierarchy.cores_per_chip = 256;
}

static aimc_dev *conf_open_uri(const char *uri, uint32_t watchdog_us)
{
    static aimc_arch a;
    aimc_diag d = {{0}};
    conf_arch(&a);
    aimc_open_opts o = {.arch = &a, .seed = 5, .watchdog_us = watchdog_us, .diag = &d};
    aimc_dev *dev = NULL;
    int rc = aimc_open(uri, &o, &dev);
    CU_ASSERT_EQUAL(rc, AIMC_OK);
    if (rc) fprintf(stderr, "conformance: open %s: %s\n", uri, d.msg);
    return dev;
}

/* Program an R x C matrix `id` with one tile per slice (each slice on its own crossbar). */
#define CONF_R 8
#define CONF_C 5
static int conf_program(aimc_dev *dev, uint32_t id, const float *w)
{
    aimc_arch a;
    aimc_tile t[32];
    conf_arch(&a);
    int n = aimc_arch_slices(&a);
    for (int s = 0; s < n; s++)
        t[s] = (aimc_tile){.matrix = id, .row0 = 0, .nrows = CONF_R, .col0 = 0, .ncols = CONF_C,
                           .slice = (uint32_t)s, .xbar = (uint32_t)(s + 8 * (int)id),
                           .xbar_col0 = 0};
    return aimc_weights_program(dev, id, w, CONF_R, CONF_C, t, (size_t)n, NULL, NULL);
}

static void conf_weights(float *w)
{
    for (int i = 0; i < CONF_R * CONF_C; i++) w[i] = (float)((i * 7) % 11 - 5) / 8.0f;
}

/* ---- every backend ---- */

static void test_open_query(void)
{
    aimc_dev *dev = conf_open_uri(conf->uri, 0);
    aimc_dev_info info;
    CU_ASSERT_FATAL(dev != NULL);
    CU_ASSERT_EQUAL(aimc_query(dev, &info), AIMC_OK);
    CU_ASSERT_EQUAL(info.id, AIMC_REG_ID_VALUE);
    CU_ASSERT_EQUAL(info.version >> 16, AIMC_REG_VERSION_VALUE >> 16);
    CU_ASSERT(info.max_ring >= 256);
    CU_ASSERT(info.max_matrices >= 1);
    CU_ASSERT(info.max_batch >= 1 && info.max_dim >= 1 && info.max_elems >= 1);
    CU_ASSERT(info.crossbars >= 1 && info.xbar_rows >= 1 && info.xbar_cols >= 1);
    CU_ASSERT_EQUAL(aimc_query(dev, NULL), AIMC_ERR_INVALID);
    CU_ASSERT(strlen(aimc_error_text(dev)) > 0);
    aimc_close(dev);

    /* the backend's reason reaches the caller */
    char uri[64];
    aimc_diag d = {{0}};
    aimc_open_opts o = {.diag = &d};
    snprintf(uri, sizeof uri, "%sno-such-option", conf->uri);
    dev = (aimc_dev *)&d;
    CU_ASSERT_EQUAL(aimc_open(uri, &o, &dev), AIMC_ERR_INVALID);
    CU_ASSERT_PTR_NULL(dev);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "no-such-option"));
}

static void test_buffers(void)
{
    aimc_dev *dev = conf_open_uri(conf->uri, 0);
    aimc_bo *a = NULL, *b = NULL;
    CU_ASSERT_FATAL(dev != NULL);
    CU_ASSERT_EQUAL(aimc_bo_create(dev, 0, &a), AIMC_ERR_INVALID);
    CU_ASSERT_PTR_NULL(a);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, 100, &a), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, 5000, &b), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_bo_size(a), 100);
    CU_ASSERT(aimc_bo_addr(a) != 0 && aimc_bo_addr(b) != 0);
    /* disjoint device ranges, zero-filled, writable */
    CU_ASSERT(aimc_bo_addr(a) + 100 <= aimc_bo_addr(b) || aimc_bo_addr(b) + 5000 <= aimc_bo_addr(a));
    uint8_t *p = aimc_bo_map(b);
    int zero = 1;
    for (int i = 0; i < 5000; i++) zero &= p[i] == 0;
    CU_ASSERT(zero);
    memset(p, 0xAB, 5000);
    CU_ASSERT_EQUAL(aimc_bo_sync(b, AIMC_SYNC_TO_DEVICE), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_bo_sync(b, AIMC_SYNC_FROM_DEVICE), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_bo_sync(b, (aimc_sync_dir)7), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_bo_sync(NULL, AIMC_SYNC_TO_DEVICE), AIMC_ERR_BADHANDLE);
    CU_ASSERT_PTR_NULL(aimc_bo_map(NULL));
    aimc_bo_destroy(a);
    aimc_bo_destroy(NULL);
    aimc_close(dev); /* b is still live: close frees it */
}

static void test_fences(void)
{
    aimc_dev *dev = conf_open_uri(conf->uri, 0);
    uint8_t nop[AIMC_DESC_BYTES] = {0};
    uint64_t f1 = 0, f2 = 0, f3 = 0;
    CU_ASSERT_FATAL(dev != NULL);
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &f1), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_raw(dev, nop, sizeof nop, &f2), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &f3), AIMC_OK);
    CU_ASSERT(f1 > 0 && f2 > f1 && f3 > f2);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f3, CONF_SECOND_NS), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_poll(dev, f1), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f2, 0), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f2, 0), AIMC_OK); /* finished already */
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, 0, 0), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f3 + 1, 0), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, NULL), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_submit_raw(dev, nop, 63, &f1), AIMC_ERR_INVALID);
    /* more commands than the ring holds, waited in order */
    uint64_t last = 0;
    for (int i = 0; i < 700; i++) CU_ASSERT_EQUAL(aimc_submit_fence(dev, &last), AIMC_OK);
    for (uint64_t f = f3 + 1; f <= last; f++) CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, CONF_SECOND_NS), AIMC_OK);
    aimc_close(dev);
}

static void test_counters_errors_reset(void)
{
    aimc_dev *dev = conf_open_uri(conf->uri, 0);
    aimc_counters c;
    aimc_dev_error e;
    uint64_t f;
    CU_ASSERT_FATAL(dev != NULL);
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_counters_reset(dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c), AIMC_OK);
    CU_ASSERT_EQUAL(c.mvms + c.cycles + c.adc_conversions + c.digital_ops, 0);
    CU_ASSERT_EQUAL(aimc_error_get(dev, &e), AIMC_OK);
    CU_ASSERT_EQUAL(e.bits, 0);
    CU_ASSERT(e.status & AIMC_REG_STATUS_READY);
    CU_ASSERT_EQUAL(aimc_error_get(dev, NULL), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_reset(dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, CONF_SECOND_NS), AIMC_OK);
    aimc_close(dev);
}

/* A hung device: waits end with a timeout, never block; a reset aborts the pending job. */
static void test_hang(void)
{
    aimc_dev *dev = conf_open_uri(conf->hang_uri, 0);
    uint64_t f, g;
    CU_ASSERT_FATAL(dev != NULL);
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_poll(dev, f), AIMC_ERR_TIMEOUT);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 20000000), AIMC_ERR_TIMEOUT); /* 20 ms */
    CU_ASSERT_EQUAL(aimc_reset(dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 0), AIMC_ERR_ABORTED);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 0), AIMC_OK); /* finished: ended by the abort */
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &g), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, g, 20000000), conf->recovers ? AIMC_OK : AIMC_ERR_TIMEOUT);
    aimc_close(dev);
    if (!conf->watchdog) return;

    /* With the watchdog, an unbounded wait on a hung device returns a timeout. */
    dev = conf_open_uri(conf->hang_uri, 2000); /* 2 ms */
    CU_ASSERT_FATAL(dev != NULL);
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, -1), AIMC_ERR_TIMEOUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(aimc_error_text(dev), "watchdog"));
    aimc_dev_error e;
    CU_ASSERT_EQUAL(aimc_error_get(dev, &e), AIMC_OK);
    CU_ASSERT(e.bits & AIMC_REG_ERROR_WATCHDOG);
    CU_ASSERT(e.status & AIMC_REG_STATUS_HALTED);
    CU_ASSERT(e.irq_status & AIMC_REG_IRQ_ERROR);
    CU_ASSERT_EQUAL(aimc_reset(dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_error_get(dev, &e), AIMC_OK);
    CU_ASSERT_EQUAL(e.bits, 0);
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &g), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, g, CONF_SECOND_NS), AIMC_OK);
    aimc_close(dev);
}

/* Two threads submitting to and waiting on one device. */
#define CONF_THREAD_JOBS 300
typedef struct {
    aimc_dev *dev;
    int computes;
    int failures;
    float w[CONF_R * CONF_C];
} conf_thread_arg;

static void *conf_thread(void *p)
{
    conf_thread_arg *t = p;
    float x[CONF_R], y[CONF_C];
    for (int i = 0; i < CONF_THREAD_JOBS; i++) {
        uint64_t f;
        int rc;
        for (int r = 0; r < CONF_R; r++) x[r] = (float)((r + i) % 5) / 4.0f;
        if (t->computes)
            rc = aimc_submit_mvm(t->dev, 0, x, 1, y, &f);
        else
            rc = aimc_submit_fence(t->dev, &f);
        if (!rc) rc = aimc_fence_wait(t->dev, f, 10 * CONF_SECOND_NS);
        if (rc) {
            t->failures++;
            continue;
        }
        for (int c = 0; t->computes && c < CONF_C; c++) {
            double ref = 0;
            for (int r = 0; r < CONF_R; r++) ref += (double)x[r] * t->w[r * CONF_C + c];
            if (fabs(y[c] - ref) > 1e-3) t->failures++;
        }
    }
    return NULL;
}

static void test_threads(void)
{
    aimc_dev *dev = conf_open_uri(conf->uri, 0);
    conf_thread_arg a = {0};
    CU_ASSERT_FATAL(dev != NULL);
    a.dev = dev;
    a.computes = conf->computes;
    conf_weights(a.w);
    if (a.computes) CU_ASSERT_EQUAL_FATAL(conf_program(dev, 0, a.w), AIMC_OK);
    conf_thread_arg b = a;
    pthread_t ta, tb;
    CU_ASSERT_EQUAL_FATAL(pthread_create(&ta, NULL, conf_thread, &a), 0);
    CU_ASSERT_EQUAL_FATAL(pthread_create(&tb, NULL, conf_thread, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CU_ASSERT_EQUAL(a.failures, 0);
    CU_ASSERT_EQUAL(b.failures, 0);
    aimc_counters c;
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c), AIMC_OK);
    if (a.computes) CU_ASSERT_EQUAL(c.mvms, 2 * CONF_THREAD_JOBS);
    aimc_close(dev);
}

/* ---- backends whose commands do their work ---- */

static void test_mvm_readback(void)
{
    if (!conf->computes) return;
    aimc_dev *dev = conf_open_uri(conf->uri, 0);
    float w[CONF_R * CONF_C], rb[CONF_R * CONF_C], x[2 * CONF_R], y[2 * CONF_C];
    aimc_weights_report rep;
    CU_ASSERT_FATAL(dev != NULL);
    conf_weights(w);
    CU_ASSERT_EQUAL(aimc_weights_readback(dev, 1, rb, CONF_R, CONF_C), AIMC_ERR_STATE);
    CU_ASSERT_EQUAL_FATAL(conf_program(dev, 1, w), AIMC_OK);
    for (int i = 0; i < 2 * CONF_R; i++) x[i] = (float)(i % 7 - 3) / 3.0f;
    uint64_t f;
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 1, x, 2, y, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, CONF_SECOND_NS), AIMC_OK);
    /* 16-bit weights and inputs, no noise: error about 2^-15 of full scale */
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < CONF_C; c++) {
            double ref = 0;
            for (int r = 0; r < CONF_R; r++) ref += (double)x[b * CONF_R + r] * w[r * CONF_C + c];
            CU_ASSERT_DOUBLE_EQUAL(y[b * CONF_C + c], ref, 1e-3);
        }
    CU_ASSERT_EQUAL(aimc_weights_readback(dev, 1, rb, CONF_R, CONF_C), AIMC_OK);
    for (int i = 0; i < CONF_R * CONF_C; i++) CU_ASSERT_DOUBLE_EQUAL(rb[i], w[i], 1e-3);
    CU_ASSERT_EQUAL(aimc_weights_readback(dev, 1, rb, CONF_R, CONF_C + 1), AIMC_ERR_INVALID);

    /* program-and-verify: the report comes back; the device keeps to the rounds asked */
    aimc_weights_opts vo = {.max_iterations = 3, .tolerance_us = 0.5};
    aimc_tile t[32];
    aimc_arch a;
    conf_arch(&a);
    int n = aimc_arch_slices(&a);
    for (int s = 0; s < n; s++)
        t[s] = (aimc_tile){.matrix = 2, .row0 = 0, .nrows = CONF_R, .col0 = 0, .ncols = CONF_C,
                           .slice = (uint32_t)s, .xbar = (uint32_t)(s + 16), .xbar_col0 = 0};
    int rc = aimc_weights_program(dev, 2, w, CONF_R, CONF_C, t, (size_t)n, &vo, &rep);
    CU_ASSERT(rc == AIMC_OK || rc == AIMC_ERR_DEVICE);
    CU_ASSERT_EQUAL(rc == AIMC_ERR_DEVICE, rep.devices_failed > 0);
    CU_ASSERT(rep.devices >= (uint64_t)CONF_R * CONF_C);
    CU_ASSERT(rep.iterations <= vo.max_iterations);
    CU_ASSERT(rep.pulses >= rep.devices);
    vo.max_iterations = 100000;
    CU_ASSERT_EQUAL(aimc_weights_program(dev, 2, w, CONF_R, CONF_C, t, (size_t)n, &vo, &rep),
                    AIMC_ERR_INVALID);
    aimc_dev_info info;
    CU_ASSERT_EQUAL(aimc_query(dev, &info), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_weights_program(dev, info.max_matrices, w, CONF_R, CONF_C, t,
                                         (size_t)n, NULL, NULL), AIMC_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(aimc_error_text(dev), "matrix id"));
    aimc_close(dev);
}

/* The MoE digital commands against the host's arithmetic (exact: the same operations). */
static void test_digital(void)
{
    if (!conf->computes) return;
    enum { B = 3, D = 6, N = 5, K = 2 };
    aimc_dev *dev = conf_open_uri(conf->uri, 0);
    aimc_bo *bx, *bo, *bi, *bw, *bg, *bd;
    uint64_t f;
    CU_ASSERT_FATAL(dev != NULL);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, B * D * 4, &bx), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, B * D * 4, &bo), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, B * K * 4, &bi), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, B * K * 4, &bw), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, B * D * 4, &bg), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, B * D * 4, &bd), AIMC_OK);
    float *x = aimc_bo_map(bx), *o = aimc_bo_map(bo), *g = aimc_bo_map(bg), *dd = aimc_bo_map(bd);
    for (int i = 0; i < B * D; i++) x[i] = (float)((i * 5) % 9 - 4) / 3.0f;

    /* RMS norm */
    CU_ASSERT_EQUAL(aimc_submit_rmsnorm(dev, B, D, aimc_bo_addr(bx), aimc_bo_addr(bo), &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, CONF_SECOND_NS), AIMC_OK);
    for (int b = 0; b < B; b++) {
        double ss = 0;
        for (int i = 0; i < D; i++) ss += (double)x[b * D + i] * x[b * D + i];
        double inv = 1.0 / sqrt(ss / D + 1e-6);
        for (int i = 0; i < D; i++) CU_ASSERT_EQUAL(o[b * D + i], (float)(x[b * D + i] * inv));
    }
    /* top-k of N logits per vector (x read as B vectors of N) with a tie */
    x[0] = 1.0f; x[1] = 3.0f; x[2] = 3.0f; x[3] = -1.0f; x[4] = 0.5f;
    CU_ASSERT_EQUAL(aimc_submit_topk(dev, 1, N, K, aimc_bo_addr(bx), aimc_bo_addr(bi),
                                     aimc_bo_addr(bw), &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, CONF_SECOND_NS), AIMC_OK);
    const uint32_t *idx = aimc_bo_map(bi);
    const float *pw = aimc_bo_map(bw);
    CU_ASSERT_EQUAL(idx[0], 1); /* ties go to the lower index, largest first */
    CU_ASSERT_EQUAL(idx[1], 2);
    CU_ASSERT_EQUAL(pw[0], 0.5f);
    CU_ASSERT_EQUAL(pw[1], 0.5f);
    CU_ASSERT_EQUAL(aimc_submit_topk(dev, 1, N, N + 1, aimc_bo_addr(bx), aimc_bo_addr(bi),
                                     aimc_bo_addr(bw), &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, CONF_SECOND_NS), AIMC_ERR_DEVICE); /* k > n */
    /* SiLU-gated product */
    for (int i = 0; i < B * D; i++) g[i] = (float)(i - 7) / 2.0f;
    CU_ASSERT_EQUAL(aimc_submit_silu_mul(dev, B * D, aimc_bo_addr(bg), aimc_bo_addr(bx),
                                         aimc_bo_addr(bo), &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, CONF_SECOND_NS), AIMC_OK);
    for (int i = 0; i < B * D; i++) {
        double v = g[i];
        CU_ASSERT_EQUAL(o[i], (float)(v / (1.0 + exp(-v)) * x[i]));
    }
    /* gather rows 2, 0 of x; scale-accumulate them into dd rows 1, 1 with weights */
    uint32_t *ip = aimc_bo_map(bi);
    float *wp = aimc_bo_map(bw);
    ip[0] = 2; ip[1] = 0;
    CU_ASSERT_EQUAL(aimc_submit_gather(dev, 2, D, B, aimc_bo_addr(bx), aimc_bo_addr(bi),
                                       aimc_bo_addr(bo), &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, CONF_SECOND_NS), AIMC_OK);
    CU_ASSERT_EQUAL(memcmp(o, x + 2 * D, D * 4), 0);
    CU_ASSERT_EQUAL(memcmp(o + D, x, D * 4), 0);
    ip[0] = 1; ip[1] = 1; wp[0] = 0.25f; wp[1] = -2.0f;
    memset(dd, 0, B * D * 4);
    CU_ASSERT_EQUAL(aimc_submit_scale_acc(dev, 2, D, B, aimc_bo_addr(bo), aimc_bo_addr(bi),
                                          aimc_bo_addr(bw), aimc_bo_addr(bd), &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, CONF_SECOND_NS), AIMC_OK);
    for (int c = 0; c < D; c++) {
        float want = 0.0f;
        want += (float)(0.25 * o[c]);
        want += (float)(-2.0 * o[D + c]);
        CU_ASSERT_EQUAL(dd[D + c], want);
        CU_ASSERT_EQUAL(dd[c], 0.0f);
        CU_ASSERT_EQUAL(dd[2 * D + c], 0.0f);
    }
    ip[0] = B; /* out of the table */
    CU_ASSERT_EQUAL(aimc_submit_gather(dev, 1, D, B, aimc_bo_addr(bx), aimc_bo_addr(bi),
                                       aimc_bo_addr(bo), &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, CONF_SECOND_NS), AIMC_ERR_DEVICE);
    CU_ASSERT_PTR_NOT_NULL(strstr(aimc_error_text(dev), "row index 0"));
    /* digital work is counted: operations and the digital units' energy */
    aimc_counters c;
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c), AIMC_OK);
    CU_ASSERT(c.digital_ops > 0);
    CU_ASSERT(c.energy_pj[AIMC_PART_UNITS] > 0);
    aimc_close(dev);
}

/* A bad command: error bit, interrupt, driver error; the next command works. */
static void test_bad_command(void)
{
    if (!conf->computes) return;
    aimc_dev *dev = conf_open_uri(conf->uri, 0);
    uint8_t d[AIMC_DESC_BYTES] = {0};
    aimc_dev_error e;
    uint64_t f;
    CU_ASSERT_FATAL(dev != NULL);
    aimc_le_put16(d + AIMC_DESC_OPCODE, 0x7777);
    CU_ASSERT_EQUAL(aimc_submit_raw(dev, d, sizeof d, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, CONF_SECOND_NS), AIMC_ERR_DEVICE);
    CU_ASSERT_PTR_NOT_NULL(strstr(aimc_error_text(dev), "bad opcode 0x7777"));
    CU_ASSERT_EQUAL(aimc_error_get(dev, &e), AIMC_OK);
    CU_ASSERT_EQUAL(e.bits, 0); /* the wait cleared what it reported */
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, CONF_SECOND_NS), AIMC_OK);
    aimc_close(dev);
}

int test_conformance_register(void)
{
    static const aimc_test_case cases[] = {
        {"open, query, the backend's reason", test_open_query},
        {"buffer objects", test_buffers},
        {"fences: wait, poll, order, ring wrap", test_fences},
        {"counters, sticky errors, reset", test_counters_errors_reset},
        {"hung device: timeout, abort, watchdog, recovery", test_hang},
        {"two threads on one device", test_threads},
        {"MVM, readback, program-and-verify", test_mvm_readback},
        {"MoE digital commands", test_digital},
        {"bad command: error, then usable", test_bad_command},
    };
    for (size_t b = 0; b < sizeof conf_backends / sizeof conf_backends[0]; b++) {
        CU_pSuite s = CU_add_suite(conf_backends[b].suite, conf_inits[b], NULL);
        if (!s) return CU_get_error();
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
            if (!CU_add_test(s, cases[i].name, cases[i].fn)) return CU_get_error();
    }
    return 0;
}
