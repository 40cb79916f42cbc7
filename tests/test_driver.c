/* test_driver.c - the "driver" suite: the driver API over "sim:", and the register-level
 * device model (sim/device/aimc_accel.h) driven directly through a test host.
 */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "../tools/gen_regs/regs_gen.h"
#include "aimc.h"
#include "aimc_accel.h"
#include "aimc_cost.h"
#include "aimc_mock.h"
#include "aimc_regs.h"
#include "aimc_xbar.h"
#include "tests.h"

#define SEED 0x5eedu
/* A wait long enough for any command here: the device works while the host waits. */
#define WAIT_NS 10000000000LL

/* ---- shared helpers ---- */

/* Deterministic values in [-1, 1) from a 64-bit LCG. */
static float lcg_unit(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((double)(*s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static void fill(float *v, size_t n, uint64_t seed)
{
    for (size_t i = 0; i < n; i++) v[i] = lcg_unit(&seed);
}

/* Tiles of a rows x cols matrix (cols <= logical columns of a crossbar): row blocks of
 * row_block rows, every slice of every block on its own crossbar, from crossbar 0 up. */
static size_t make_tiles(const aimc_arch *a, uint32_t rows, uint32_t cols, uint32_t row_block,
                         aimc_tile *t, size_t cap)
{
    size_t n = 0;
    uint32_t k = 0;
    int slices = aimc_arch_slices(a);
    for (uint32_t r0 = 0; r0 < rows; r0 += row_block) {
        for (int s = 0; s < slices; s++) {
            if (n == cap) return n;
            t[n].matrix = 0;
            t[n].row0 = r0;
            t[n].nrows = rows - r0 < row_block ? rows - r0 : row_block;
            t[n].col0 = 0;
            t[n].ncols = cols;
            t[n].slice = (uint32_t)s;
            t[n].xbar = k++;
            t[n].xbar_col0 = 0;
            n++;
        }
    }
    return n;
}

/* An ideal device whose ADC resolves every signal of a <= 64-row tile exactly:
 * R = nrows * u_max * L = 64 * 1 * 3 = 192, 2^16 >= 2R + 1 (docs/simulator.md). */
static void ideal_arch(aimc_arch *a)
{
    aimc_arch_defaults(a);
    a->device.type = AIMC_DEVICE_IDEAL;
    a->adc.bits = 16;
    a->adc.range = AIMC_ADC_RANGE_FULL_SCALE; /* every signal representable: nothing clips */
}

/* The ERROR=0x.. value in a driver error text, or 0. */
static unsigned error_bits_of(const char *text)
{
    const char *p = strstr(text, "ERROR=0x");
    return p ? (unsigned)strtoul(p + 8, NULL, 16) : 0;
}

/* ---- driver API ---- */

static void test_open_query(void)
{
    aimc_dev *dev = (aimc_dev *)1;
    aimc_dev_info info;
    aimc_arch a;

    aimc_arch_defaults(&a);
    CU_ASSERT_EQUAL(aimc_open("sim:", NULL, &dev), AIMC_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dev);
    CU_ASSERT_EQUAL(aimc_query(dev, &info), AIMC_OK);
    CU_ASSERT_EQUAL(info.id, AIMC_REG_ID_VALUE);
    CU_ASSERT_EQUAL(info.version, AIMC_REG_VERSION_VALUE);
    CU_ASSERT_EQUAL(info.xbar_rows, (uint32_t)a.crossbar.rows);
    CU_ASSERT_EQUAL(info.xbar_cols, (uint32_t)a.crossbar.cols);
    CU_ASSERT_EQUAL(info.crossbars, (uint32_t)aimc_arch_total_crossbars(&a));
    CU_ASSERT_EQUAL(info.adc_bits, (uint32_t)a.adc.bits);
    CU_ASSERT_EQUAL(info.dac_bits, (uint32_t)a.dac.bits);
    CU_ASSERT_STRING_EQUAL(aimc_error_text(dev), "");
    aimc_close(dev);

    /* a given arch is what the device reports */
    a.crossbar.rows = 128;
    a.adc.bits = 6;
    aimc_open_opts o = {&a, 1};
    CU_ASSERT_EQUAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_query(dev, &info), AIMC_OK);
    CU_ASSERT_EQUAL(info.xbar_rows, 128u);
    CU_ASSERT_EQUAL(info.adc_bits, 6u);
    aimc_close(dev);

    dev = (aimc_dev *)1;
    CU_ASSERT_EQUAL(aimc_open("foo:", NULL, &dev), AIMC_ERR_NOTFOUND);
    CU_ASSERT_PTR_NULL(dev);
    CU_ASSERT_EQUAL(aimc_open("simulator:", NULL, &dev), AIMC_ERR_NOTFOUND);
    CU_ASSERT_EQUAL(aimc_open("sim", NULL, &dev), AIMC_ERR_NOTFOUND);
    CU_ASSERT_EQUAL(aimc_open("", NULL, &dev), AIMC_ERR_NOTFOUND);
    CU_ASSERT_EQUAL(aimc_open("sim:extra", NULL, &dev), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_open(NULL, NULL, &dev), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_open("sim:", NULL, NULL), AIMC_ERR_INVALID);
}

static void check_bad_handle(aimc_dev *dev)
{
    aimc_dev_info info;
    aimc_counters c;
    float w[4] = {0}, x[2] = {0}, y[2];
    aimc_tile t = {0};
    uint8_t desc[AIMC_DESC_BYTES] = {0};
    uint64_t fence = 0;

    CU_ASSERT_EQUAL(aimc_query(dev, &info), AIMC_ERR_BADHANDLE);
    CU_ASSERT_EQUAL(aimc_weights_program(dev, 0, w, 2, 2, &t, 1, NULL, NULL), AIMC_ERR_BADHANDLE);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 0, x, 1, y, &fence), AIMC_ERR_BADHANDLE);
    CU_ASSERT_EQUAL(aimc_submit_raw(dev, desc, sizeof desc, &fence), AIMC_ERR_BADHANDLE);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, 1, 0), AIMC_ERR_BADHANDLE);
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c), AIMC_ERR_BADHANDLE);
    CU_ASSERT_PTR_NOT_NULL(aimc_error_text(dev));
    aimc_close(dev); /* a no-op */
}

static void test_bad_handle(void)
{
    static uint64_t zeroed[1024]; /* larger than any aimc_dev, all zero */
    uint64_t garbage[1024];

    for (size_t i = 0; i < 1024; i++) garbage[i] = 0xA5A5A5A5A5A5A5A5ull;
    check_bad_handle(NULL);
    check_bad_handle((aimc_dev *)zeroed);
    check_bad_handle((aimc_dev *)garbage);
    for (size_t i = 0; i < 1024; i++) CU_ASSERT_EQUAL(zeroed[i], 0u);
}

static void test_bad_arguments(void)
{
    aimc_dev *dev;
    float w[4] = {0}, x[2] = {0}, y[2];
    uint8_t desc[AIMC_DESC_BYTES] = {0};
    uint64_t fence;

    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", NULL, &dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_query(dev, NULL), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_counters_read(dev, NULL), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_weights_program(dev, 0, NULL, 2, 2, NULL, 0, NULL, NULL), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_weights_program(dev, 0, w, 0, 2, NULL, 0, NULL, NULL), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 0, x, 0, y, &fence), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 0, NULL, 1, y, &fence), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_submit_raw(dev, desc, sizeof desc - 1, &fence), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, 0, 0), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, 99, 0), AIMC_ERR_INVALID);
    CU_ASSERT_NOT_EQUAL(aimc_error_text(dev)[0], '\0');
    /* a NOP completes; waiting on it twice is fine */
    CU_ASSERT_EQUAL(aimc_submit_raw(dev, desc, sizeof desc, &fence), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, fence, WAIT_NS), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, fence, 0), AIMC_OK);
    aimc_close(dev);
}

/* The driver's MVM equals aimc_xbar's with the same arch, seed and calls, bit for bit. */
static void test_mvm_matches_sim(void)
{
    enum { R = 40, C = 24, B = 3 };
    aimc_arch a;
    aimc_tile t[64];
    float w[R * C], x[B * R], y_drv[B * C], y_sim[B * C], y2_drv[B * C], y2_sim[B * C];
    aimc_dev *dev;
    aimc_xbar *sim;
    uint64_t f1, f2;

    aimc_arch_defaults(&a); /* generic device: programming and read noise */
    size_t n = make_tiles(&a, R, C, 16, t, 64);
    fill(w, R * C, 1);
    fill(x, B * R, 2);

    aimc_open_opts o = {&a, SEED};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_weights_program(dev, 3, w, R, C, t, n, NULL, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 3, x, B, y_drv, &f1), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 3, x, B, y2_drv, &f2), AIMC_OK);
    CU_ASSERT(f2 > f1);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f2, 1000000000), AIMC_OK); /* out of order */
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f1, 1000000000), AIMC_OK);
    aimc_close(dev);

    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, SEED, &sim), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_program(sim, 3, w, R, C, t, n, NULL, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(sim, 3, x, B, y_sim, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(sim, 3, x, B, y2_sim, NULL), AIMC_OK);
    aimc_xbar_destroy(sim);

    CU_ASSERT_EQUAL(memcmp(y_drv, y_sim, sizeof y_drv), 0);
    CU_ASSERT_EQUAL(memcmp(y2_drv, y2_sim, sizeof y2_drv), 0);
    /* read noise: the second product differs from the first */
    CU_ASSERT_NOT_EQUAL(memcmp(y_drv, y2_drv, sizeof y_drv), 0);
}

/* Ideal device, exact ADC: the only error is the quantisation of weights (w_scale / 2 per
 * weight) and inputs (x_scale / 2 per input), with 127 = 2^(8-1) - 1 codes each side. */
static void test_mvm_ideal(void)
{
    enum { R = 50, C = 20, B = 4 };
    aimc_arch a;
    aimc_tile t[64];
    float w[R * C], x[B * R], y[B * C];
    aimc_dev *dev;
    uint64_t f;

    ideal_arch(&a);
    size_t n = make_tiles(&a, R, C, 32, t, 64);
    fill(w, R * C, 3);
    fill(x, B * R, 4);
    aimc_open_opts o = {&a, SEED};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_weights_program(dev, 0, w, R, C, t, n, NULL, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 0, x, B, y, &f), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_fence_wait(dev, f, 1000000000), AIMC_OK);
    aimc_close(dev);

    double wmax = 0;
    for (int i = 0; i < R * C; i++) wmax = fmax(wmax, fabs(w[i]));
    double dw = wmax / 127 / 2;
    for (int b = 0; b < B; b++) {
        double xmax = 0;
        for (int r = 0; r < R; r++) xmax = fmax(xmax, fabs(x[b * R + r]));
        double dx = xmax / 127 / 2;
        for (int c = 0; c < C; c++) {
            double ref = 0, bound = 0, mag = 0;
            for (int r = 0; r < R; r++) {
                double xv = x[b * R + r], wv = w[r * C + c];
                ref += xv * wv;
                bound += fabs(xv) * dw + fabs(wv) * dx + dw * dx;
                mag += fabs(xv * wv);
            }
            bound += 1e-5 * mag; /* float rounding of the rescale */
            CU_ASSERT(fabs(y[b * C + c] - ref) <= bound);
        }
    }
}

static void test_unprogrammed(void)
{
    enum { R = 8, C = 5 };
    aimc_arch a;
    aimc_tile t[16];
    float w[R * C], x[R], y[C], y0[C];
    aimc_dev *dev;
    uint64_t f;

    ideal_arch(&a);
    size_t n = make_tiles(&a, R, C, R, t, 16);
    fill(w, R * C, 5);
    fill(x, R, 6);
    for (int i = 0; i < C; i++) y[i] = y0[i] = 42.0f;
    aimc_open_opts o = {&a, SEED};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 7, x, 1, y, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 1000000000), AIMC_ERR_DEVICE);
    CU_ASSERT_PTR_NOT_NULL(strstr(aimc_error_text(dev), "matrix 7 not programmed"));
    CU_ASSERT_EQUAL(error_bits_of(aimc_error_text(dev)), AIMC_REG_ERROR_NOT_PROGRAMMED);
    CU_ASSERT_EQUAL(memcmp(y, y0, sizeof y), 0);

    CU_ASSERT_EQUAL(aimc_weights_program(dev, 7, w, R, C, t, n, NULL, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 7, x, 1, y, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 1000000000), AIMC_OK);
    CU_ASSERT_NOT_EQUAL(memcmp(y, y0, sizeof y), 0);
    aimc_close(dev);
}

static void put16(uint8_t *p, unsigned v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Malformed raw commands through the driver: each fails at wait with its ERROR bit and the
 * device goes on computing the same (ideal) product afterwards. */
static void test_raw_malformed(void)
{
    enum { R = 8, C = 5 };
    aimc_arch a;
    aimc_tile t[16];
    float w[R * C], x[R], y_ref[C], y[C];
    aimc_dev *dev;
    uint64_t f;

    ideal_arch(&a);
    size_t n = make_tiles(&a, R, C, R, t, 16);
    fill(w, R * C, 7);
    fill(x, R, 8);
    aimc_open_opts o = {&a, SEED};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_weights_program(dev, 1, w, R, C, t, n, NULL, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 1, x, 1, y_ref, &f), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_fence_wait(dev, f, 1000000000), AIMC_OK);

    struct {
        const char *what;
        unsigned op, off, width;
        uint64_t val;
        unsigned bit;
    } cases[] = {
        {"bad opcode", 0x77, 0, 0, 0, AIMC_REG_ERROR_BAD_OPCODE},
        {"unknown flag", AIMC_DESC_OP_NOP, AIMC_DESC_FLAGS, 2, 0x8000, AIMC_REG_ERROR_BAD_DESC},
        {"NOP reserved", AIMC_DESC_OP_NOP, 0x20, 4, 1, AIMC_REG_ERROR_BAD_DESC},
        {"MVM reserved", AIMC_DESC_OP_MVM, 0x3C, 4, 9, AIMC_REG_ERROR_BAD_DESC},
        {"MVM bad x address", AIMC_DESC_OP_MVM, AIMC_DESC_MVM_X_ADDR, 8, 0xdead0000ull,
         AIMC_REG_ERROR_DMA_FAULT},
        {"MVM absurd batch", AIMC_DESC_OP_MVM, AIMC_DESC_MVM_BATCH, 4, 0xFFFFFFFFu,
         AIMC_REG_ERROR_BAD_DESC},
        {"MVM wrong shape", AIMC_DESC_OP_MVM, AIMC_DESC_MVM_ROWS, 4, R + 1,
         AIMC_REG_ERROR_SHAPE},
        {"MVM matrix id too big", AIMC_DESC_OP_MVM, AIMC_DESC_MVM_MATRIX, 4, 0xFFFFFFFFu,
         AIMC_REG_ERROR_BAD_DESC},
        {"PROGRAM absurd rows", AIMC_DESC_OP_PROGRAM, AIMC_DESC_PROG_ROWS, 4, 0xFFFFFFFFu,
         AIMC_REG_ERROR_BAD_DESC},
        {"PROGRAM bad weights address", AIMC_DESC_OP_PROGRAM, AIMC_DESC_PROG_W_ADDR, 8,
         0x10ull, AIMC_REG_ERROR_DMA_FAULT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t d[AIMC_DESC_BYTES] = {0};
        put16(d + AIMC_DESC_OPCODE, cases[i].op);
        if (cases[i].op == AIMC_DESC_OP_MVM) { /* otherwise valid, but no usable buffers */
            put32(d + AIMC_DESC_MVM_MATRIX, 1);
            put32(d + AIMC_DESC_MVM_BATCH, 1);
            put32(d + AIMC_DESC_MVM_ROWS, R);
            put32(d + AIMC_DESC_MVM_COLS, C);
        } else if (cases[i].op == AIMC_DESC_OP_PROGRAM) {
            put32(d + AIMC_DESC_PROG_MATRIX, 2);
            put32(d + AIMC_DESC_PROG_ROWS, 2);
            put32(d + AIMC_DESC_PROG_COLS, 2);
            put32(d + AIMC_DESC_PROG_NTILES, 1);
        }
        if (cases[i].width == 2) put16(d + cases[i].off, (unsigned)cases[i].val);
        if (cases[i].width == 4) put32(d + cases[i].off, (uint32_t)cases[i].val);
        if (cases[i].width == 8) put64(d + cases[i].off, cases[i].val);
        CU_ASSERT_EQUAL(aimc_submit_raw(dev, d, sizeof d, &f), AIMC_OK);
        int rc = aimc_fence_wait(dev, f, 1000000000);
        CU_ASSERT_EQUAL(rc, AIMC_ERR_DEVICE);
        CU_ASSERT_EQUAL(error_bits_of(aimc_error_text(dev)), cases[i].bit);
        if (rc != AIMC_ERR_DEVICE || error_bits_of(aimc_error_text(dev)) != cases[i].bit)
            fprintf(stderr, "\n  case %s: rc %d, %s\n", cases[i].what, rc,
                    aimc_error_text(dev));
        /* still works */
        CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 1, x, 1, y, &f), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 1000000000), AIMC_OK);
        CU_ASSERT_EQUAL(memcmp(y, y_ref, sizeof y), 0);
    }

    /* a crossbar beyond the device, through the API */
    aimc_tile bad[16];
    memcpy(bad, t, n * sizeof *t);
    bad[n - 1].xbar = (uint32_t)aimc_arch_total_crossbars(&a);
    CU_ASSERT_EQUAL(aimc_weights_program(dev, 2, w, R, C, bad, n, NULL, NULL), AIMC_ERR_DEVICE);
    CU_ASSERT_EQUAL(error_bits_of(aimc_error_text(dev)), AIMC_REG_ERROR_XBAR_RANGE);
    /* tiles that leave a gap: the machine refuses them */
    CU_ASSERT_EQUAL(aimc_weights_program(dev, 2, w, R, C, t, n - 1, NULL, NULL), AIMC_ERR_DEVICE);
    CU_ASSERT_EQUAL(error_bits_of(aimc_error_text(dev)), AIMC_REG_ERROR_PROGRAM_FAILED);
    /* no tiles at all */
    CU_ASSERT_EQUAL(aimc_weights_program(dev, 2, w, R, C, NULL, 0, NULL, NULL), AIMC_ERR_DEVICE);
    CU_ASSERT_EQUAL(error_bits_of(aimc_error_text(dev)), AIMC_REG_ERROR_BAD_DESC);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 1, x, 1, y, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 1000000000), AIMC_OK);
    CU_ASSERT_EQUAL(memcmp(y, y_ref, sizeof y), 0);

    /* several failures before one wait: each fence reports its own */
    uint8_t bad_op[AIMC_DESC_BYTES] = {0};
    uint64_t fa, fb, fc;
    put16(bad_op + AIMC_DESC_OPCODE, 0x99);
    CU_ASSERT_EQUAL(aimc_submit_raw(dev, bad_op, sizeof bad_op, &fa), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 9, x, 1, y, &fb), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 1, x, 1, y, &fc), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, fb, WAIT_NS), AIMC_ERR_DEVICE);
    CU_ASSERT_PTR_NOT_NULL(strstr(aimc_error_text(dev), "matrix 9 not programmed"));
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, fa, WAIT_NS), AIMC_ERR_DEVICE);
    CU_ASSERT_EQUAL(error_bits_of(aimc_error_text(dev)), AIMC_REG_ERROR_BAD_OPCODE);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, fc, WAIT_NS), AIMC_OK);
    CU_ASSERT_EQUAL(memcmp(y, y_ref, sizeof y), 0);
    aimc_close(dev);
}

/* More commands than ring entries, waited at the end: nothing is overwritten or lost. */
static void test_many_jobs(void)
{
    enum { R = 8, C = 5, N = 700 };
    aimc_arch a;
    aimc_tile t[16];
    float w[R * C], x[R], y_ref[C];
    static float y[N][C];
    static uint64_t f[N];
    aimc_dev *dev;
    uint64_t f0;

    ideal_arch(&a);
    size_t n = make_tiles(&a, R, C, R, t, 16);
    fill(w, R * C, 9);
    fill(x, R, 10);
    aimc_open_opts o = {&a, SEED};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_weights_program(dev, 0, w, R, C, t, n, NULL, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 0, x, 1, y_ref, &f0), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f0, WAIT_NS), AIMC_OK);
    for (int i = 0; i < N; i++) {
        if (i % 7 == 3) { /* some failures in between */
            CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 5, x, 1, y[i], &f[i]), AIMC_OK);
        } else {
            CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 0, x, 1, y[i], &f[i]), AIMC_OK);
        }
    }
    for (int i = N - 1; i >= 0; i--) {
        int rc = aimc_fence_wait(dev, f[i], WAIT_NS);
        CU_ASSERT_EQUAL(rc, i % 7 == 3 ? AIMC_ERR_DEVICE : AIMC_OK);
        if (i % 7 != 3) CU_ASSERT_EQUAL(memcmp(y[i], y_ref, sizeof y_ref), 0);
    }
    aimc_close(dev);
}

/* The counters say what aimc_xbar_stats says for the same work. */
static void test_counters(void)
{
    enum { R = 40, C = 24, B = 5 };
    aimc_arch a;
    aimc_tile t[64];
    float w[R * C], x[B * R], y[B * C];
    aimc_xbar_stats st;
    aimc_counters c0, c;
    aimc_dev *dev;
    aimc_xbar *sim;
    uint64_t f;

    aimc_arch_defaults(&a);
    size_t n = make_tiles(&a, R, C, 16, t, 64);
    fill(w, R * C, 11);
    fill(x, B * R, 12);
    aimc_open_opts o = {&a, SEED};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c0), AIMC_OK);
    CU_ASSERT_EQUAL(c0.mvms, 0u);
    CU_ASSERT_EQUAL(c0.energy_pj[AIMC_PART_ADC], 0.0);
    CU_ASSERT_EQUAL(aimc_weights_program(dev, 0, w, R, C, t, n, NULL, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 0, x, B, y, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 1000000000), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c), AIMC_OK);
    aimc_close(dev);

    memset(&st, 0, sizeof st);
    aimc_program_report rep;
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, SEED, &sim), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_program_verify(sim, 0, w, R, C, t, n, NULL, &rep, &st, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(sim, 0, x, B, y, &st), AIMC_OK);
    aimc_xbar_destroy(sim);
    /* What the shapes decide, from the cost layer. */
    aimc_cost_mvm *cm = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_cost_mvm_build(&a, R, C, t, n, &cm), AIMC_OK);
    aimc_cost_events ev = {0};
    aimc_cost_mvm_events(&a, cm, B, &ev);
    aimc_cost_program_events(&a, rep.pulses, rep.xbars, rep.devices, rep.iterations, &ev);
    ev.dac_drives += (double)st.dac_drives;
    ev.xbar_charge += st.xbar_charge;
    double pj[AIMC_PART_COUNT] = {0};
    aimc_cost_energy(&a, &ev, pj);

    CU_ASSERT_EQUAL(c.mvms, (uint64_t)B);
    CU_ASSERT_EQUAL(c.mvms, st.mvms);
    CU_ASSERT_EQUAL(c.adc_conversions, (uint64_t)ev.adc_conversions);
    CU_ASSERT(c.adc_conversions > 0);
    CU_ASSERT_EQUAL(c.adc_saturations, st.adc_saturations);
    CU_ASSERT_EQUAL(c.dac_drives, st.dac_drives);
    CU_ASSERT_EQUAL(c.xbar_reads, (uint64_t)ev.xbar_reads);
    CU_ASSERT_EQUAL(c.digital_ops, (uint64_t)ev.digital_ops);
    CU_ASSERT_EQUAL(c.cells_programmed, st.cells_programmed);
    CU_ASSERT(c.cells_programmed > 0);
    /* busy cycles: programming, then the MVM's pipeline */
    CU_ASSERT_EQUAL(c.cycles, aimc_cost_program_cycles(&a, rep.pulses_max, rep.iterations) +
                                  aimc_cost_mvm_cycles(cm, B));
    /* the device clock ran on past the busy cycles: transfers and completions */
    CU_ASSERT(c.time > c.cycles);
    aimc_cost_mvm_free(cm);
    for (int i = AIMC_PART_DAC; i <= AIMC_PART_DIGITAL; i++)
        /* the device counts whole fJ: at most 0.5 fJ off, plus double rounding */
        CU_ASSERT(fabs(c.energy_pj[i] - pj[i]) <= 0.0005 + 1e-12 * pj[i]);
    CU_ASSERT(c.energy_pj[AIMC_PART_ADC] > 0);
    /* data moved: descriptors, x and y over the host link, inputs and partial sums on chip */
    CU_ASSERT(c.energy_pj[AIMC_PART_HOST_DMA] > 0);
    CU_ASSERT(c.energy_pj[AIMC_PART_BUFFER] > 0);
    CU_ASSERT(c.energy_pj[AIMC_PART_BUS] > 0);
}

/* ---- the device model at register level, through a test host ---- */

#define TH_BASE 0x80000000ull
#define TH_BYTES (1u << 20)
#define TH_RING 0x0u      /* 16 entries */
#define TH_RING_N 16u
#define TH_W 0x1000u
#define TH_TILES 0x10000u
#define TH_X 0x20000u
#define TH_Y 0x30000u

typedef struct test_host {
    uint8_t *mem;
    int irq_level;
    int irq_edges;
    aimc_accel *dev;
} test_host;

static int th_read(void *ctx, uint64_t addr, void *dst, size_t n)
{
    test_host *h = ctx;
    if (addr < TH_BASE || n > TH_BYTES || addr - TH_BASE > TH_BYTES - n) return -1;
    memcpy(dst, h->mem + (addr - TH_BASE), n);
    return 0;
}

static int th_write(void *ctx, uint64_t addr, const void *src, size_t n)
{
    test_host *h = ctx;
    if (addr < TH_BASE || n > TH_BYTES || addr - TH_BASE > TH_BYTES - n) return -1;
    memcpy(h->mem + (addr - TH_BASE), src, n);
    return 0;
}

static void th_irq(void *ctx, int level)
{
    test_host *h = ctx;
    h->irq_level = level;
    h->irq_edges++;
}

static uint32_t rreg(test_host *h, uint32_t off)
{
    return aimc_accel_reg_read32(h->dev, off);
}

static void wreg(test_host *h, uint32_t off, uint32_t v)
{
    aimc_accel_reg_write32(h->dev, off, v);
}

static uint64_t rreg64(test_host *h, uint32_t lo)
{
    uint32_t l = rreg(h, lo);
    return (uint64_t)rreg(h, lo + 4) << 32 | l;
}

static void th_setup_ring(test_host *h)
{
    wreg(h, AIMC_REG_RING_BASE_LO, (uint32_t)(TH_BASE + TH_RING));
    wreg(h, AIMC_REG_RING_BASE_HI, (uint32_t)((TH_BASE + TH_RING) >> 32));
    wreg(h, AIMC_REG_RING_SIZE, TH_RING_N);
    wreg(h, AIMC_REG_IRQ_MASK, AIMC_REG_IRQ_ALL);
    wreg(h, AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
}

static int th_open(test_host *h, const aimc_arch *a)
{
    static const aimc_accel_host proto = {NULL, th_read, th_write, th_irq};
    aimc_accel_host host = proto;
    memset(h, 0, sizeof *h);
    h->mem = calloc(1, TH_BYTES);
    if (!h->mem) return AIMC_ERR_NOMEM;
    host.ctx = h;
    int rc = aimc_accel_create(a, SEED, &host, NULL, &h->dev, NULL);
    if (rc) {
        free(h->mem);
        return rc;
    }
    th_setup_ring(h);
    return AIMC_OK;
}

static void th_close(test_host *h)
{
    aimc_accel_destroy(h->dev);
    free(h->mem);
}

/* Let the device work until it has nothing scheduled (it works only when run, in simulated
 * time). */
static void th_settle(test_host *h)
{
    for (int i = 0; i < 1000000 && aimc_accel_run(h->dev, 1u << 16) != AIMC_ACCEL_IDLE; i++) {
    }
}

/* Put desc in the next ring slot with the given fence, ring the doorbell, let the device
 * work, and return the status word it wrote back without its DONE bit (~0u when it did not
 * mark the command done). */
static uint32_t th_run(test_host *h, uint8_t *desc, uint64_t fence)
{
    uint32_t tail = rreg(h, AIMC_REG_RING_TAIL);
    uint8_t *slot = h->mem + TH_RING + (tail & (TH_RING_N - 1)) * AIMC_DESC_BYTES;
    put64(desc + AIMC_DESC_FENCE, fence);
    put32(desc + AIMC_DESC_STATUS, 0); /* the device overwrites it */
    memcpy(slot, desc, AIMC_DESC_BYTES);
    wreg(h, AIMC_REG_RING_TAIL, tail + 1);
    wreg(h, AIMC_REG_DOORBELL, 1);
    th_settle(h);
    uint32_t st = get32(slot + AIMC_DESC_STATUS);
    return st & AIMC_DESC_STATUS_DONE ? st & ~AIMC_DESC_STATUS_DONE : ~0u;
}

/* The tile table of t in host memory, in its 32-byte little-endian DMA form. */
static void th_put_tiles(test_host *h, const aimc_tile *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t *p = h->mem + TH_TILES + i * 32;
        const uint32_t f[8] = {t[i].matrix, t[i].row0, t[i].nrows, t[i].col0,
                               t[i].ncols, t[i].slice, t[i].xbar, t[i].xbar_col0};
        for (int k = 0; k < 8; k++) put32(p + 4 * k, f[k]);
    }
}

static void th_program_desc(uint8_t *d, uint32_t id, uint32_t rows, uint32_t cols, size_t n)
{
    memset(d, 0, AIMC_DESC_BYTES);
    put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_PROGRAM);
    put16(d + AIMC_DESC_FLAGS, AIMC_DESC_FLAG_IRQ);
    put32(d + AIMC_DESC_PROG_MATRIX, id);
    put32(d + AIMC_DESC_PROG_ROWS, rows);
    put32(d + AIMC_DESC_PROG_COLS, cols);
    put32(d + AIMC_DESC_PROG_NTILES, (uint32_t)n);
    put64(d + AIMC_DESC_PROG_W_ADDR, TH_BASE + TH_W);
    put64(d + AIMC_DESC_PROG_TILES_ADDR, TH_BASE + TH_TILES);
}

static void th_mvm_desc(uint8_t *d, uint32_t id, uint32_t batch, uint32_t rows, uint32_t cols)
{
    memset(d, 0, AIMC_DESC_BYTES);
    put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_MVM);
    put16(d + AIMC_DESC_FLAGS, AIMC_DESC_FLAG_IRQ);
    put32(d + AIMC_DESC_MVM_MATRIX, id);
    put32(d + AIMC_DESC_MVM_BATCH, batch);
    put32(d + AIMC_DESC_MVM_ROWS, rows);
    put32(d + AIMC_DESC_MVM_COLS, cols);
    put64(d + AIMC_DESC_MVM_X_ADDR, TH_BASE + TH_X);
    put64(d + AIMC_DESC_MVM_Y_ADDR, TH_BASE + TH_Y);
}

static void test_dev_registers(void)
{
    test_host h;
    aimc_arch a;
    uint8_t d[AIMC_DESC_BYTES] = {0};

    aimc_arch_defaults(&a);
    CU_ASSERT_EQUAL_FATAL(th_open(&h, &a), AIMC_OK);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ID), AIMC_REG_ID_VALUE);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_VERSION), AIMC_REG_VERSION_VALUE);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_CAP_XBARS), (uint32_t)aimc_arch_total_crossbars(&a));
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_CAP_BITS_PER_CELL), (uint32_t)a.crossbar.bits_per_cell);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_CAP_WEIGHT_BITS), (uint32_t)a.crossbar.weight_bits);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_STATUS), AIMC_REG_STATUS_READY);
    /* read-only, unknown and unaligned registers */
    wreg(&h, AIMC_REG_ID, 0);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ID), AIMC_REG_ID_VALUE);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ID + 1), 0u);
    CU_ASSERT_EQUAL(rreg(&h, 0x7F0), 0u);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_WINDOW_BYTES), 0u);
    wreg(&h, 0x7F0, 5);
    CU_ASSERT_EQUAL(h.irq_level, 0);

    /* a bad opcode: status word, sticky ERROR, fence, interrupt */
    put16(d + AIMC_DESC_OPCODE, 0x55);
    CU_ASSERT_EQUAL(th_run(&h, d, 0x100000005ull), AIMC_REG_ERROR_BAD_OPCODE);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR), AIMC_REG_ERROR_BAD_OPCODE);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR_INFO), 0x55u);
    CU_ASSERT_EQUAL(rreg64(&h, AIMC_REG_ERROR_FENCE_LO), 0x100000005ull);
    CU_ASSERT_EQUAL(rreg64(&h, AIMC_REG_DONE_FENCE_LO), 0x100000005ull);
    CU_ASSERT(rreg(&h, AIMC_REG_STATUS) & AIMC_REG_STATUS_ERROR);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_IRQ_STATUS), AIMC_REG_IRQ_ERROR);
    CU_ASSERT_EQUAL(h.irq_level, 1);
    CU_ASSERT_EQUAL(aimc_accel_irq_level(h.dev), 1);

    /* W1C: writing 0 or other bits changes nothing, writing the bit clears it */
    wreg(&h, AIMC_REG_ERROR, 0);
    wreg(&h, AIMC_REG_ERROR, AIMC_REG_ERROR_DMA_FAULT);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR), AIMC_REG_ERROR_BAD_OPCODE);
    wreg(&h, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_DONE);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_IRQ_STATUS), AIMC_REG_IRQ_ERROR);
    CU_ASSERT_EQUAL(h.irq_level, 1);
    wreg(&h, AIMC_REG_ERROR, AIMC_REG_ERROR_BAD_OPCODE);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR), 0u);
    CU_ASSERT_FALSE(rreg(&h, AIMC_REG_STATUS) & AIMC_REG_STATUS_ERROR);
    CU_ASSERT_EQUAL(h.irq_level, 1); /* the interrupt has its own W1C */
    wreg(&h, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ERROR);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_IRQ_STATUS), 0u);
    CU_ASSERT_EQUAL(h.irq_level, 0);

    /* a NOP with FLAG_IRQ raises DONE only; masked causes keep the line low */
    memset(d, 0, sizeof d);
    put16(d + AIMC_DESC_FLAGS, AIMC_DESC_FLAG_IRQ);
    wreg(&h, AIMC_REG_IRQ_MASK, AIMC_REG_IRQ_ERROR);
    CU_ASSERT_EQUAL(th_run(&h, d, 0x200000007ull), 0u);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_IRQ_STATUS), AIMC_REG_IRQ_DONE);
    CU_ASSERT_EQUAL(h.irq_level, 0);
    wreg(&h, AIMC_REG_IRQ_MASK, AIMC_REG_IRQ_ALL);
    CU_ASSERT_EQUAL(h.irq_level, 1);
    wreg(&h, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);
    CU_ASSERT_EQUAL(h.irq_level, 0);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR), 0u);

    /* 64-bit reads: LO latches HI */
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_DONE_FENCE_LO), 7u);
    memset(d, 0, sizeof d);
    th_run(&h, d, 0x300000009ull);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_DONE_FENCE_HI), 2u); /* latched */
    CU_ASSERT_EQUAL(rreg64(&h, AIMC_REG_DONE_FENCE_LO), 0x300000009ull);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_RING_HEAD), 3u);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_RING_TAIL), 3u);

    /* ring misuse: overflow, setup while enabled, bad size */
    wreg(&h, AIMC_REG_RING_TAIL, 3 + TH_RING_N + 1);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR), AIMC_REG_ERROR_RING);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_RING_TAIL), 3u);
    CU_ASSERT_EQUAL(rreg64(&h, AIMC_REG_ERROR_FENCE_LO), 0u);
    CU_ASSERT_EQUAL(h.irq_level, 1);
    wreg(&h, AIMC_REG_ERROR, AIMC_REG_ERROR_ALL);
    wreg(&h, AIMC_REG_RING_SIZE, 8);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_RING_SIZE), TH_RING_N);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR), AIMC_REG_ERROR_RING);
    wreg(&h, AIMC_REG_ERROR, AIMC_REG_ERROR_ALL);
    wreg(&h, AIMC_REG_CTRL, 0);
    wreg(&h, AIMC_REG_RING_SIZE, 12);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR), AIMC_REG_ERROR_RING);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_RING_SIZE), TH_RING_N);
    wreg(&h, AIMC_REG_ERROR, AIMC_REG_ERROR_ALL);
    wreg(&h, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);
    /* a ring base outside host memory: the doorbell reports a ring DMA fault */
    wreg(&h, AIMC_REG_RING_BASE_LO, 0x1000);
    wreg(&h, AIMC_REG_RING_BASE_HI, 0);
    wreg(&h, AIMC_REG_RING_SIZE, TH_RING_N);
    wreg(&h, AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
    wreg(&h, AIMC_REG_RING_TAIL, 1);
    wreg(&h, AIMC_REG_DOORBELL, 1);
    th_settle(&h); /* the fetch fails */
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR), AIMC_REG_ERROR_RING | AIMC_REG_ERROR_DMA_FAULT);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_RING_HEAD), 0u);
    CU_ASSERT_EQUAL(h.irq_level, 1);

    /* soft reset: every register back, the line low, the ring usable after setup */
    wreg(&h, AIMC_REG_CTRL, AIMC_REG_CTRL_SOFT_RESET);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_CTRL), 0u);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_STATUS), 0u);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR), 0u);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_IRQ_STATUS), 0u);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_IRQ_MASK), 0u);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_RING_SIZE), 0u);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_RING_HEAD), 0u);
    CU_ASSERT_EQUAL(rreg64(&h, AIMC_REG_DONE_FENCE_LO), 0u);
    CU_ASSERT_EQUAL(rreg64(&h, AIMC_REG_RING_BASE_LO), 0u);
    CU_ASSERT_EQUAL(h.irq_level, 0);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ID), AIMC_REG_ID_VALUE);
    th_setup_ring(&h);
    memset(d, 0, sizeof d);
    CU_ASSERT_EQUAL(th_run(&h, d, 1), 0u);
    CU_ASSERT_EQUAL(rreg64(&h, AIMC_REG_DONE_FENCE_LO), 1u);
    th_close(&h);
    aimc_accel_destroy(NULL);
}

/* Put desc into ring slot `slot` with fence `fence` (no doorbell). */
static void th_put_desc(test_host *h, uint32_t slot, uint8_t *desc, uint64_t fence)
{
    put64(desc + AIMC_DESC_FENCE, fence);
    put32(desc + AIMC_DESC_STATUS, 0);
    memcpy(h->mem + TH_RING + (slot & (TH_RING_N - 1)) * AIMC_DESC_BYTES, desc, AIMC_DESC_BYTES);
}

/* The ring cannot be set up while a command is in flight: 16 NOPs are fetched as one burst;
 * with the burst on its way the host disables the device and writes RING_SIZE 4: refused
 * (ERROR.RING, the size stays), and once enabled again all 16 complete. */
static void test_dev_ring_setup_in_flight(void)
{
    test_host h;
    aimc_arch a;
    uint8_t d[AIMC_DESC_BYTES];
    aimc_arch_defaults(&a);
    CU_ASSERT_EQUAL_FATAL(th_open(&h, &a), AIMC_OK);
    for (uint32_t i = 0; i < TH_RING_N; i++) {
        memset(d, 0, sizeof d);
        th_put_desc(&h, i, d, i + 1);
    }
    wreg(&h, AIMC_REG_RING_TAIL, TH_RING_N);
    wreg(&h, AIMC_REG_DOORBELL, 1);
    CU_ASSERT_EQUAL(aimc_accel_run(h.dev, 1), AIMC_ACCEL_MORE); /* the fetch: a burst in flight */
    wreg(&h, AIMC_REG_CTRL, 0);
    wreg(&h, AIMC_REG_RING_SIZE, 4);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR), AIMC_REG_ERROR_RING);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_RING_SIZE), TH_RING_N);
    wreg(&h, AIMC_REG_ERROR, AIMC_REG_ERROR_ALL);
    wreg(&h, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);
    wreg(&h, AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
    th_settle(&h);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_RING_HEAD), TH_RING_N);
    CU_ASSERT_EQUAL(rreg64(&h, AIMC_REG_DONE_FENCE_LO), TH_RING_N);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR), 0u);
    th_close(&h);
}

/* Cycles from the doorbell to the interrupt of an MVM of 64 vectors through matrix 0 (slot
 * 0 holds the MVM with FLAG_IRQ), with or without a PROGRAM of matrix 0 on other crossbars
 * queued behind it (no FLAG_IRQ). */
static uint64_t th_mvm_then_program(int with_program)
{
    enum { R = 128, C = 16, B = 64 };
    test_host h;
    aimc_arch a;
    uint8_t d[AIMC_DESC_BYTES];
    aimc_arch_defaults(&a);
    if (th_open(&h, &a)) return 0;
    const uint32_t n = (uint32_t)aimc_arch_slices(&a);
    if (n > 16) return 0;
    aimc_tile t[16] = {{0}};
    for (uint32_t s = 0; s < n; s++)
        t[s] = (aimc_tile){.matrix = 0, .nrows = R, .ncols = C, .slice = s, .xbar = s};
    th_put_tiles(&h, t, n);
    th_program_desc(d, 0, R, C, n);
    if (th_run(&h, d, 1) != 0) return 0;
    /* the second placement's table after the first's: every slice on crossbars 64.. */
    for (uint32_t s = 0; s < n; s++) {
        const uint32_t f[8] = {0, 0, R, 0, C, s, 64 + s, 0};
        for (int k = 0; k < 8; k++) put32(h.mem + TH_TILES + 0x1000 + s * 32 + 4 * k, f[k]);
    }
    wreg(&h, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);
    const uint32_t tail = rreg(&h, AIMC_REG_RING_TAIL);
    th_mvm_desc(d, 0, B, R, C);
    th_put_desc(&h, tail, d, 2);
    if (with_program) {
        th_program_desc(d, 0, R, C, n);
        put16(d + AIMC_DESC_FLAGS, 0);
        put64(d + AIMC_DESC_PROG_TILES_ADDR, TH_BASE + TH_TILES + 0x1000);
        th_put_desc(&h, tail + 1, d, 3);
    }
    const uint64_t t0 = rreg64(&h, AIMC_REG_CNT_TIME_LO);
    wreg(&h, AIMC_REG_RING_TAIL, tail + 1 + (uint32_t)with_program);
    wreg(&h, AIMC_REG_DOORBELL, 1);
    int r = AIMC_ACCEL_MORE;
    for (int i = 0; i < 100000 && r == AIMC_ACCEL_MORE; i++) r = aimc_accel_run(h.dev, 1u << 12);
    const uint64_t t1 = rreg64(&h, AIMC_REG_CNT_TIME_LO);
    th_settle(&h);
    const uint64_t done = rreg64(&h, AIMC_REG_DONE_FENCE_LO);
    th_close(&h);
    return r == AIMC_ACCEL_IRQ && done == 2u + (uint64_t)with_program ? t1 - t0 : 0;
}

/* A PROGRAM queued behind an MVM of the same matrix waits for it, and the MVM keeps the
 * placement it was dispatched with: it completes as without the PROGRAM, but for the second
 * descriptor in the fetch burst (the cost layer's fetch of 2 against 1). */
static void test_dev_program_behind_mvm(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    aimc_cost_events ev = {0};
    const uint64_t burst = aimc_cost_fetch(&a, 2, AIMC_DESC_BYTES, 0, &aimc_cost_free_booker, &ev) -
                           aimc_cost_fetch(&a, 1, AIMC_DESC_BYTES, 0, &aimc_cost_free_booker, &ev);
    const uint64_t alone = th_mvm_then_program(0), behind = th_mvm_then_program(1);
    if (behind != alone + burst)
        fprintf(stderr, "\n  MVM alone %llu cycles, with a PROGRAM behind %llu (burst +%llu)\n",
                (unsigned long long)alone, (unsigned long long)behind, (unsigned long long)burst);
    CU_ASSERT(alone > 0);
    CU_ASSERT_EQUAL(behind, alone + burst);
}

/* A valid product at device level, compared with a reference from a fresh device. */
static void th_mvm_ok(test_host *h, const float *x, uint32_t rows, uint32_t cols,
                      const float *y_ref, uint64_t fence)
{
    uint8_t d[AIMC_DESC_BYTES];
    memcpy(h->mem + TH_X, x, rows * sizeof(float));
    memset(h->mem + TH_Y, 0, cols * sizeof(float));
    th_mvm_desc(d, 0, 1, rows, cols);
    CU_ASSERT_EQUAL(th_run(h, d, fence), 0u);
    CU_ASSERT_EQUAL(memcmp(h->mem + TH_Y, y_ref, cols * sizeof(float)), 0);
}

static void test_dev_malformed(void)
{
    enum { R = 8, C = 5 };
    test_host h;
    aimc_arch a;
    aimc_tile t[16];
    float w[R * C], x[R], y_ref[C];
    uint8_t d[AIMC_DESC_BYTES];
    uint64_t fence = 1;

    ideal_arch(&a);
    size_t n = make_tiles(&a, R, C, R, t, 16);
    fill(w, R * C, 13);
    fill(x, R, 14);
    CU_ASSERT_EQUAL_FATAL(th_open(&h, &a), AIMC_OK);
    memcpy(h.mem + TH_W, w, sizeof w);
    th_put_tiles(&h, t, n);
    th_program_desc(d, 0, R, C, n);
    CU_ASSERT_EQUAL(th_run(&h, d, fence++), 0u);
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_IRQ_STATUS), AIMC_REG_IRQ_DONE);
    wreg(&h, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);
    memcpy(h.mem + TH_X, x, sizeof x);
    th_mvm_desc(d, 0, 1, R, C);
    CU_ASSERT_EQUAL_FATAL(th_run(&h, d, fence++), 0u);
    memcpy(y_ref, h.mem + TH_Y, sizeof y_ref);
    wreg(&h, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);

    /* each case: a descriptor, the expected status bits and ERROR_INFO */
    for (int k = 0; k < 15; k++) {
        uint32_t want = 0, info = 0;
        memcpy(h.mem + TH_W, w, sizeof w);
        th_put_tiles(&h, t, n);
        switch (k) {
        case 0: /* PROGRAM: a crossbar beyond the device */
            th_program_desc(d, 1, R, C, n);
            put32(h.mem + TH_TILES + 1 * 32 + 24, (uint32_t)aimc_arch_total_crossbars(&a));
            want = AIMC_REG_ERROR_XBAR_RANGE, info = 1;
            break;
        case 1: /* PROGRAM: columns beyond the crossbar, sum overflowing 32 bits */
            th_program_desc(d, 1, R, C, n);
            put32(h.mem + TH_TILES + 28, 0xFFFFFFF0u);
            want = AIMC_REG_ERROR_XBAR_RANGE, info = 0;
            break;
        case 2: /* PROGRAM: absurd rows and cols (overflowing products) */
            th_program_desc(d, 1, 0xFFFFFFFFu, 0xFFFFFFFFu, n);
            want = AIMC_REG_ERROR_BAD_DESC, info = AIMC_DESC_PROG_ROWS;
            break;
        case 3: /* PROGRAM: absurd tile count */
            th_program_desc(d, 1, R, C, 0xFFFFFFFFu);
            want = AIMC_REG_ERROR_BAD_DESC, info = AIMC_DESC_PROG_NTILES;
            break;
        case 4: /* PROGRAM: weights run past the end of host memory */
            th_program_desc(d, 1, R, C, n);
            put64(d + AIMC_DESC_PROG_W_ADDR, TH_BASE + TH_BYTES - 16);
            want = AIMC_REG_ERROR_DMA_FAULT, info = AIMC_DESC_PROG_W_ADDR;
            break;
        case 5: /* PROGRAM: tile table at an address wrapping around 2^64 */
            th_program_desc(d, 1, R, C, n);
            put64(d + AIMC_DESC_PROG_TILES_ADDR, UINT64_MAX - 8);
            want = AIMC_REG_ERROR_DMA_FAULT, info = AIMC_DESC_PROG_TILES_ADDR;
            break;
        case 6: /* PROGRAM: tiles missing a slice */
            th_program_desc(d, 1, R, C, n - 1);
            want = AIMC_REG_ERROR_PROGRAM_FAILED, info = 1;
            break;
        case 7: /* MVM: matrix never programmed */
            th_mvm_desc(d, 9, 1, R, C);
            want = AIMC_REG_ERROR_NOT_PROGRAMMED, info = 9;
            break;
        case 8: /* MVM: shape differs */
            th_mvm_desc(d, 0, 1, R, C + 1);
            want = AIMC_REG_ERROR_SHAPE, info = 0;
            break;
        case 9: /* MVM: absurd batch */
            th_mvm_desc(d, 0, 0xFFFFFFFFu, R, C);
            want = AIMC_REG_ERROR_BAD_DESC, info = AIMC_DESC_MVM_BATCH;
            break;
        case 10: /* MVM: batch 0 */
            th_mvm_desc(d, 0, 0, R, C);
            want = AIMC_REG_ERROR_BAD_DESC, info = AIMC_DESC_MVM_BATCH;
            break;
        case 11: /* MVM: y outside host memory */
            th_mvm_desc(d, 0, 1, R, C);
            put64(d + AIMC_DESC_MVM_Y_ADDR, 8);
            want = AIMC_REG_ERROR_DMA_FAULT, info = AIMC_DESC_MVM_Y_ADDR;
            break;
        case 12: /* MVM: a reserved byte */
            th_mvm_desc(d, 0, 1, R, C);
            d[0x31] = 1;
            want = AIMC_REG_ERROR_BAD_DESC, info = 0x31;
            break;
        case 13: /* FENCE with a reserved byte */
            memset(d, 0, sizeof d);
            put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_FENCE);
            d[0x3F] = 2;
            want = AIMC_REG_ERROR_BAD_DESC, info = 0x3F;
            break;
        default: /* unknown opcode */
            memset(d, 0, sizeof d);
            put16(d + AIMC_DESC_OPCODE, 0xFFFF);
            want = AIMC_REG_ERROR_BAD_OPCODE, info = 0xFFFF;
            break;
        }
        uint64_t f = fence++;
        uint32_t st = th_run(&h, d, f);
        CU_ASSERT_EQUAL(st, want);
        CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR), want);
        CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_ERROR_INFO), info);
        CU_ASSERT_EQUAL(rreg64(&h, AIMC_REG_ERROR_FENCE_LO), f);
        CU_ASSERT_EQUAL(rreg64(&h, AIMC_REG_DONE_FENCE_LO), f);
        CU_ASSERT(rreg(&h, AIMC_REG_IRQ_STATUS) & AIMC_REG_IRQ_ERROR);
        CU_ASSERT_EQUAL(h.irq_level, 1);
        if (st != want) fprintf(stderr, "\n  device case %d: status 0x%x\n", k, st);
        wreg(&h, AIMC_REG_ERROR, AIMC_REG_ERROR_ALL);
        wreg(&h, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);
        CU_ASSERT_EQUAL(h.irq_level, 0);
        /* the next valid command works, and the failed PROGRAMs changed nothing */
        th_mvm_ok(&h, x, R, C, y_ref, fence++);
        th_mvm_desc(d, 1, 1, R, C);
        CU_ASSERT_EQUAL(th_run(&h, d, fence++), AIMC_REG_ERROR_NOT_PROGRAMMED);
        wreg(&h, AIMC_REG_ERROR, AIMC_REG_ERROR_ALL);
        wreg(&h, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);
    }
    CU_ASSERT_EQUAL(rreg(&h, AIMC_REG_RING_HEAD), rreg(&h, AIMC_REG_RING_TAIL));

    /* soft reset forgets the matrices; the device then works as a fresh one */
    wreg(&h, AIMC_REG_CTRL, AIMC_REG_CTRL_SOFT_RESET);
    CU_ASSERT_EQUAL(rreg64(&h, AIMC_REG_CNT_MVMS_LO), 0u);
    CU_ASSERT_EQUAL(rreg64(&h, AIMC_REG_CNT_CELLS_PROG_LO), 0u);
    th_setup_ring(&h);
    memcpy(h.mem + TH_X, x, sizeof x);
    th_mvm_desc(d, 0, 1, R, C);
    CU_ASSERT_EQUAL(th_run(&h, d, 1), AIMC_REG_ERROR_NOT_PROGRAMMED);
    wreg(&h, AIMC_REG_ERROR, AIMC_REG_ERROR_ALL);
    memcpy(h.mem + TH_W, w, sizeof w);
    th_put_tiles(&h, t, n);
    th_program_desc(d, 0, R, C, n);
    CU_ASSERT_EQUAL(th_run(&h, d, 2), 0u);
    th_mvm_ok(&h, x, R, C, y_ref, 3);
    CU_ASSERT_EQUAL(rreg64(&h, AIMC_REG_CNT_MVMS_LO), 1u);
    th_close(&h);
}

/* ---- register map, backends ---- */

/* The checked-in outputs of common/aimc_regs.yaml equal a fresh generation. */
static void test_regs_current(void)
{
    char *out[AIMC_REGS_GEN_COUNT];
    aimc_diag d = {{0}};
    int rc = aimc_regs_generate("common/aimc_regs.yaml", out, &d);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    for (int i = 0; i < AIMC_REGS_GEN_COUNT; i++) {
        FILE *f = fopen(aimc_regs_gen_paths[i], "rb");
        size_t n = strlen(out[i]);
        char *buf = malloc(n + 2);
        size_t got = f && buf ? fread(buf, 1, n + 1, f) : 0;
        int same = got == n && !memcmp(buf, out[i], n);
        if (!same) fprintf(stderr, "%s is stale: run make\n", aimc_regs_gen_paths[i]);
        CU_ASSERT(same);
        if (f) fclose(f);
        free(buf);
        free(out[i]);
    }
}

/* A broken map is refused with file:line:col: key: rule. */
static void test_regs_errors(void)
{
    static const struct { const char *yaml, *want; } cases[] = {
        {"device: x\nwindow_bytes: 0x1000\nregisters:\n  - {name: A, offset: 0x2, access: RO}\n",
         "t.yaml:4:23: A: offset 0x2 is not 4-byte aligned"},
        {"device: x\nwindow_bytes: 0x1000\nregisters:\n  - {name: A, offset: 0x0, access: RO}\n"
         "  - {name: B, offset: 0x0, access: RW}\n", "t.yaml:5:5: B: offset 0x0 overlaps A"},
        {"device: x\nwindow_bytes: 0x1000\nregisters:\n  - {name: A, offset: 0x0, access: RX}\n",
         "t.yaml:4:36: A: expected one of RO, RW, WO, RW1C, got \"RX\""},
        {"device: x\nwindow_bytes: 0x1000\nregisters:\n  - {name: A, offset: 0x0, access: RO, "
         "bits: [{name: X, bit: 3}, {name: Y, bit: 3}]}\n", "t.yaml:4:81: A: bit 3 is used twice"},
    };
    char path[] = "/tmp/aimc_regs_XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        FILE *f = fopen(path, "w");
        CU_ASSERT_FATAL(f != NULL);
        fputs(cases[i].yaml, f);
        fclose(f);
        char *out[AIMC_REGS_GEN_COUNT];
        aimc_diag d = {{0}};
        CU_ASSERT_EQUAL(aimc_regs_generate(path, out, &d), AIMC_ERR_CONFIG);
        CU_ASSERT_PTR_NULL(out[0]);
        const char *msg = strchr(d.msg, ':'); /* past the temporary file's name */
        char want[256];
        snprintf(want, sizeof want, "%s", strchr(cases[i].want, ':'));
        if (!msg || strcmp(msg, want)) fprintf(stderr, "got \"%s\", want \"%s\"\n", d.msg, cases[i].want);
        CU_ASSERT(msg && !strcmp(msg, want));
    }
    unlink(path);
}

/* mock: records the driver's register protocol: open programs the ring and enables. */
static void test_mock_records(void)
{
    aimc_dev *dev;
    aimc_mock_access log[512];
    CU_ASSERT_EQUAL_FATAL(aimc_open("mock:", NULL, &dev), AIMC_OK);
    size_t n = aimc_mock_log(dev, log, 512);
    CU_ASSERT_FATAL(n > 0 && n <= 512);
    /* first the ID, then a soft reset, the ring, the interrupt mask and the enable */
    CU_ASSERT(log[0].op == 'R' && log[0].off == AIMC_REG_ID && log[0].val == AIMC_REG_ID_VALUE);
    static const uint32_t order[] = {AIMC_REG_CTRL, AIMC_REG_RING_BASE_LO, AIMC_REG_RING_BASE_HI,
                                     AIMC_REG_RING_SIZE, AIMC_REG_IRQ_MASK, AIMC_REG_CTRL};
    size_t k = 0;
    for (size_t i = 0; i < n && k < 6; i++)
        if (log[i].op == 'W' && log[i].off == order[k]) k++;
    CU_ASSERT_EQUAL(k, 6);
    for (size_t i = 0; i < n; i++) {
        if (log[i].op == 'W' && log[i].off == AIMC_REG_RING_SIZE) CU_ASSERT_EQUAL(log[i].val, 256);
        if (log[i].op == 'W' && log[i].off == AIMC_REG_IRQ_MASK) CU_ASSERT_EQUAL(log[i].val, AIMC_REG_IRQ_ALL);
    }
    /* a submit writes TAIL, then rings the doorbell */
    CU_ASSERT_EQUAL(aimc_mock_log_clear(dev), AIMC_OK);
    uint64_t f;
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &f), AIMC_OK);
    n = aimc_mock_log(dev, log, 512);
    int tail = -1, bell = -1;
    for (size_t i = 0; i < n; i++) {
        if (log[i].op == 'W' && log[i].off == AIMC_REG_RING_TAIL && log[i].val == 1) tail = (int)i;
        if (log[i].op == 'W' && log[i].off == AIMC_REG_DOORBELL) bell = (int)i;
    }
    CU_ASSERT(tail >= 0 && bell > tail);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 1000000000), AIMC_OK);
    /* a ring error set by the "device" makes waits fail until aimc_reset */
    CU_ASSERT_EQUAL(aimc_mock_set_reg(dev, AIMC_REG_RING_TAIL, 5), AIMC_OK); /* pending */
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_mock_set_reg(dev, AIMC_REG_ERROR, AIMC_REG_ERROR_RING), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_mock_set_reg(dev, AIMC_REG_DONE_FENCE_LO, 0), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 1000000000), AIMC_ERR_DEVICE);
    CU_ASSERT_PTR_NOT_NULL(strstr(aimc_error_text(dev), "aimc_reset"));
    CU_ASSERT_EQUAL(aimc_reset(dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 0), AIMC_ERR_ABORTED);
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 1000000000), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_mock_set_reg(dev, 3, 0), AIMC_ERR_RANGE);
    aimc_close(dev);
    CU_ASSERT_EQUAL(aimc_mock_log(NULL, NULL, 0), 0);
}

/* uio: against a file standing in for the register BAR: the driver's writes land in the
 * file, and a "device" completing a command through the file completes the fence. */
static void test_uio_file(void)
{
    char path[] = "/tmp/aimc_bar_XXXXXX", uri[64];
    uint32_t bar[AIMC_REG_WINDOW_BYTES / 4] = {0};
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    bar[AIMC_REG_ID / 4] = AIMC_REG_ID_VALUE;
    bar[AIMC_REG_VERSION / 4] = AIMC_REG_VERSION_VALUE;
    bar[AIMC_REG_CAP_MAX_MATRICES / 4] = 4;
    bar[AIMC_REG_CAP_MAX_RING / 4] = 1024;
    bar[AIMC_REG_CAP_MAX_BATCH / 4] = 16;
    bar[AIMC_REG_STATUS / 4] = AIMC_REG_STATUS_READY; /* a file does not compute STATUS */
    CU_ASSERT_FATAL(write(fd, bar, sizeof bar) == (ssize_t)sizeof bar);
    snprintf(uri, sizeof uri, "uio:file=%s?dma_bytes=65536", path);
    aimc_dev *dev;
    aimc_diag d = {{0}};
    aimc_open_opts o = {.diag = &d};
    CU_ASSERT_EQUAL_FATAL(aimc_open(uri, &o, &dev), AIMC_OK);
    aimc_dev_info info;
    CU_ASSERT_EQUAL(aimc_query(dev, &info), AIMC_OK);
    CU_ASSERT_EQUAL(info.max_matrices, 4);
    uint64_t f;
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_poll(dev, f), AIMC_ERR_TIMEOUT); /* nobody consumed it */
    CU_ASSERT_FATAL(pread(fd, bar, sizeof bar, 0) == (ssize_t)sizeof bar);
    CU_ASSERT_EQUAL(bar[AIMC_REG_RING_SIZE / 4], 256);
    CU_ASSERT_EQUAL(bar[AIMC_REG_IRQ_MASK / 4], AIMC_REG_IRQ_ALL);
    CU_ASSERT_EQUAL(bar[AIMC_REG_CTRL / 4], AIMC_REG_CTRL_ENABLE);
    CU_ASSERT_EQUAL(bar[AIMC_REG_RING_TAIL / 4], 1);
    CU_ASSERT(bar[AIMC_REG_RING_BASE_LO / 4] != 0 || bar[AIMC_REG_RING_BASE_HI / 4] != 0);
    /* play the device: consume the command (its status word stays 0) */
    uint32_t one = 1;
    CU_ASSERT(pwrite(fd, &one, 4, AIMC_REG_RING_HEAD) == 4);
    CU_ASSERT(pwrite(fd, &f, 4, AIMC_REG_DONE_FENCE_LO) == 4);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 1000000000), AIMC_OK);
    aimc_close(dev);
    close(fd);
    unlink(path);
    /* a missing file and a malformed URI say why */
    CU_ASSERT_EQUAL(aimc_open("uio:file=/nonexistent/bar", &o, &dev), AIMC_ERR_IO);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "/nonexistent/bar"));
    CU_ASSERT_EQUAL(aimc_open("uio:/dev/uio0", &o, &dev), AIMC_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "dma="));
}

/* aimc_rt_program refuses a model with more matrices than the device holds (review g):
 * here through the same limit the driver checks per call. */
static void test_matrix_limit(void)
{
    aimc_dev *dev;
    aimc_dev_info info;
    float w[4] = {0};
    aimc_tile t = {.nrows = 2, .ncols = 2};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", NULL, &dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_query(dev, &info), AIMC_OK);
    CU_ASSERT_EQUAL(info.max_matrices, AIMC_XBAR_MAX_MATRICES);
    CU_ASSERT_EQUAL(aimc_weights_program(dev, info.max_matrices, w, 2, 2, &t, 1, NULL, NULL),
                    AIMC_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(aimc_error_text(dev), "the device holds ids 0..65535"));
    aimc_close(dev);
}

int test_driver_register(void)
{
    AIMC_SUITE("driver regs and backends",
               {"regs: generated files are current", test_regs_current},
               {"regs: a broken map gets file:line:col errors", test_regs_errors},
               {"mock: records the register protocol; reset clears a ring error", test_mock_records},
               {"uio: file-backed register space", test_uio_file},
               {"matrix limit from the capability register", test_matrix_limit});
    AIMC_SUITE("driver",
               {"open, query, unknown scheme", test_open_query},
               {"bad handle on every entry point", test_bad_handle},
               {"bad arguments", test_bad_arguments},
               {"MVM bit-identical to aimc_xbar", test_mvm_matches_sim},
               {"ideal MVM within the quantisation bound", test_mvm_ideal},
               {"MVM before program fails at wait, then works", test_unprogrammed},
               {"malformed raw commands", test_raw_malformed},
               {"more jobs than ring entries", test_many_jobs},
               {"counters follow aimc_xbar_stats", test_counters},
               {"device registers: ID, W1C, latch, ring, reset", test_dev_registers},
               {"device answers malformed commands", test_dev_malformed},
               {"device: no ring setup with a command in flight", test_dev_ring_setup_in_flight},
               {"device: an MVM keeps its placement when a PROGRAM follows",
                test_dev_program_behind_mvm});
    return 0;
}
