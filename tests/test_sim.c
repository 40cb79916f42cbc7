/* test_sim.c - the analog machine model (sim/aimc_xbar.h): exactness, determinism, noise
 * statistics, ADC, costs and program errors. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_arch.h"
#include "aimc_cost.h"
#include "aimc_xbar.h"
#include "tests.h"

/* ---- helpers ------------------------------------------------------------------------- */

static uint64_t rng_state;

static void rnd_seed(uint64_t s)
{
    rng_state = s ? s : 1;
}

/* xorshift64* (Vigna): test data only. */
static uint64_t rnd_u64(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

/* Uniform integer in [-m, m]. */
static int32_t rnd_code(int32_t m)
{
    return (int32_t)(rnd_u64() % (uint64_t)(2 * m + 1)) - m;
}

static double rnd_unit(void)
{
    return ((double)(rnd_u64() >> 11) + 0.5) * 0x1.0p-53;
}

/* A small ideal machine: 16 x 20 crossbars, 256 of them. */
static void arch_small(aimc_arch *a)
{
    aimc_arch_defaults(a);
    a->adc.range = AIMC_ADC_RANGE_FULL_SCALE; /* the range these hand cases assume: nothing clips */
    a->device.type = AIMC_DEVICE_IDEAL;
    a->crossbar.rows = 16;
    a->crossbar.cols = 20;
    a->hierarchy.crossbars_per_core = 16;
    a->hierarchy.cores_per_chip = 16;
    a->hierarchy.chips = 1;
}

/* Cut a rows x cols matrix into blocks of br x bc, one tile per slice, and place them first
 * fit side by side in crossbars from xbar0 on. Returns the tile count (<= cap); *next_xbar
 * is the first crossbar left untouched. */
static size_t tile_matrix(const aimc_arch *a, uint32_t rows, uint32_t cols, uint32_t br,
                          uint32_t bc, uint32_t xbar0, aimc_tile *out, size_t cap,
                          uint32_t *next_xbar)
{
    const uint32_t slices = (uint32_t)aimc_arch_slices(a);
    const uint32_t cpw = (uint32_t)aimc_arch_cols_per_weight(a);
    const uint32_t pcols = (uint32_t)a->crossbar.cols;
    uint32_t xbar = xbar0, pos = 0;
    size_t n = 0;
    for (uint32_t sl = 0; sl < slices; sl++)
        for (uint32_t r0 = 0; r0 < rows; r0 += br)
            for (uint32_t c0 = 0; c0 < cols; c0 += bc) {
                uint32_t nr = rows - r0 < br ? rows - r0 : br;
                uint32_t nc = cols - c0 < bc ? cols - c0 : bc;
                if (pos + nc * cpw > pcols) {
                    xbar++;
                    pos = 0;
                }
                if (n < cap) out[n] = (aimc_tile){0, r0, nr, c0, nc, sl, xbar, pos};
                n++;
                pos += nc * cpw;
            }
    if (next_xbar) *next_xbar = xbar + 1;
    return n;
}

#define MAX_TILES 4096

/* ---- exactness ----------------------------------------------------------------------- */

/* Ideal device, ADC wide enough: weights q * 2^-5 (max code present), inputs p * 2^-2; the
 * machine returns exactly sum_i p_i q_ij * 2^-7, for both encodings, both DAC modes, 1..3 bits
 * per cell and tile splits that are not multiples of the crossbar. */
/* The full-scale LSB (common/arch.c), by hand: 256 rows of 2-bit cells (3 levels) driven
 * bit-serially (u_max 1) give a range of 768; an 8-bit ADC's top code 127 needs an LSB of at
 * least 768 / 127 = 6.05: 8. A 4-bit multi-bit DAC (u_max 7): 5376 / 127 = 42.3: 64. A 1-bit
 * ADC (top code taken as 1): 1024. No rows: 1, and it returns (it looped forever). */
static void test_full_scale_lsb(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.crossbar.bits_per_cell = 2;
    a.dac.mode = AIMC_DAC_BIT_SERIAL;
    a.adc.bits = 8;
    CU_ASSERT_EQUAL(aimc_arch_full_scale_lsb(&a, 256), 8.0);
    a.dac.mode = AIMC_DAC_MULTI_BIT;
    a.dac.bits = 4;
    CU_ASSERT_EQUAL(aimc_arch_full_scale_lsb(&a, 256), 64.0);
    a.dac.mode = AIMC_DAC_BIT_SERIAL;
    a.adc.bits = 1;
    CU_ASSERT_EQUAL(aimc_arch_full_scale_lsb(&a, 256), 1024.0);
    CU_ASSERT_EQUAL(aimc_arch_full_scale_lsb(&a, 0), 1.0);
}

static void test_exact(void)
{
    const uint32_t R = 37, C = 23, B_VEC = 3;
    static aimc_tile tiles[MAX_TILES];
    float *w = malloc(R * C * sizeof *w);
    int32_t *q = malloc(R * C * sizeof *q);
    float *x = malloc(B_VEC * R * sizeof *x);
    int32_t *p = malloc(B_VEC * R * sizeof *p);
    float *y = malloc(B_VEC * C * sizeof *y);
    CU_ASSERT_FATAL(w && q && x && p && y);
    int cases = 0;
    for (int enc = 0; enc < 2; enc++)
        for (int mode = 0; mode < 2; mode++)
            for (int bits = 1; bits <= 3; bits++)
                for (int split = 0; split < 2; split++) {
                    aimc_arch a;
                    arch_small(&a);
                    a.crossbar.sign_encoding = enc ? AIMC_SIGN_OFFSET : AIMC_SIGN_DIFFERENTIAL;
                    a.dac.mode = mode ? AIMC_DAC_MULTI_BIT : AIMC_DAC_BIT_SERIAL;
                    a.crossbar.bits_per_cell = bits;
                    a.crossbar.weight_bits = 6;
                    a.dac.bits = 5;
                    a.adc.bits = 16; /* 2^16 >= 2 * 16 * 15 * 7 + 1 */
                    /* levels = 2^B, or a finer grid holding every level (15 = 2 * 7 + 1). */
                    a.device.levels = bits == 3 ? 15 : 1 << bits;
                    a.device.g_min_us = 1.0;
                    a.device.g_max_us = 9.0;
                    uint32_t br = split ? 7 : (uint32_t)a.crossbar.rows;
                    uint32_t bc = split ? 3 : (uint32_t)aimc_arch_logical_cols(&a);
                    uint32_t next;
                    size_t n = tile_matrix(&a, R, C, br, bc, 0, tiles, MAX_TILES, &next);
                    CU_ASSERT_FATAL(n <= MAX_TILES && next <= aimc_arch_total_crossbars(&a));

                    rnd_seed(1000 + (uint64_t)cases);
                    for (uint32_t i = 0; i < R * C; i++) q[i] = rnd_code(31);
                    q[5] = -31; /* the largest code fixes w_scale = 2^-5 */
                    for (uint32_t i = 0; i < R * C; i++) w[i] = ldexpf((float)q[i], -5);
                    for (uint32_t i = 0; i < B_VEC * R; i++) p[i] = rnd_code(15);
                    p[3] = 15;
                    p[R + 7] = -15;
                    for (uint32_t i = 0; i < R; i++) p[2 * R + i] = 0; /* a zero vector */
                    for (uint32_t i = 0; i < B_VEC * R; i++) x[i] = ldexpf((float)p[i], -2);

                    aimc_xbar *s = NULL;
                    aimc_diag d = {{0}};
                    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 7, &s), AIMC_OK);
                    int rc = aimc_xbar_program(s, 4, w, R, C, tiles, n, NULL, &d);
                    CU_ASSERT_EQUAL(rc, AIMC_OK);
                    aimc_xbar_stats st = {0};
                    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 4, x, B_VEC, y, &st), AIMC_OK);
                    int bad = 0;
                    for (uint32_t b = 0; b < B_VEC; b++)
                        for (uint32_t c = 0; c < C; c++) {
                            int64_t ref_int = 0;
                            double ref = 0.0;
                            for (uint32_t r = 0; r < R; r++) {
                                ref_int += (int64_t)p[b * R + r] * q[r * C + c];
                                ref += (double)x[b * R + r] * (double)w[r * C + c];
                            }
                            double got = y[b * C + c];
                            if (fabs(got - ref) > 1e-5 * fabs(ref)) bad++;
                            if (ldexp(got, 7) != (double)ref_int) bad++;
                        }
                    CU_ASSERT_EQUAL(bad, 0);
                    CU_ASSERT_EQUAL(st.adc_saturations, 0);
                    aimc_xbar_destroy(s);
                    cases++;
                }
    CU_ASSERT_EQUAL(cases, 24);
    free(w);
    free(q);
    free(x);
    free(p);
    free(y);
}

/* Arbitrary (non power of two) weights and inputs on the default 256 x 256 crossbars, ideal
 * device, 11-bit ADC (2^11 >= 2 * 256 * 3 + 1 bit-serial; 2^17 >= 2 * 256 * 127 * 1 + 1
 * multi-bit offset with 1 bit per cell): y / (w_scale * x_scale) is the integer sum of
 * q * p, up to the float rounding of y. */
static void test_integer_reference(void)
{
    const uint32_t R = 300, C = 200;
    static aimc_tile tiles[MAX_TILES];
    float *w = malloc(R * C * sizeof *w);
    float *x = malloc(R * sizeof *x);
    float *y = malloc(C * sizeof *y);
    CU_ASSERT_FATAL(w && x && y);
    for (int variant = 0; variant < 2; variant++) {
        aimc_arch a;
        aimc_arch_defaults(&a);
        a.adc.range = AIMC_ADC_RANGE_FULL_SCALE; /* the range these hand cases assume: nothing clips */
        a.crossbar.rows = 256; /* the 256 x 128 tile blocks below */
        a.crossbar.cols = 256;
        a.device.type = AIMC_DEVICE_IDEAL;
        if (variant == 0) {
            a.adc.bits = 11;
        } else {
            a.crossbar.sign_encoding = AIMC_SIGN_OFFSET;
            a.dac.mode = AIMC_DAC_MULTI_BIT;
            a.crossbar.bits_per_cell = 1;
            a.device.levels = 2;
            a.adc.bits = 17;
        }
        rnd_seed(77 + (uint64_t)variant);
        for (uint32_t i = 0; i < R * C; i++) w[i] = (float)(rnd_unit() * 2.0 - 1.0) * 0.37f;
        for (uint32_t i = 0; i < R; i++) x[i] = (float)(rnd_unit() * 2.0 - 1.0) * 3.1f;
        uint32_t next;
        size_t n = tile_matrix(&a, R, C, 256, (uint32_t)aimc_arch_logical_cols(&a), 0, tiles,
                               MAX_TILES, &next);
        aimc_xbar *s = NULL;
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 1, &s), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_program(s, 0, w, R, C, tiles, n, NULL, NULL), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_mvm(s, 0, x, 1, y, NULL), AIMC_OK);

        /* The quantisation of docs/simulator.md, redone here. */
        const double qmax = 127.0;
        float wmax = 0, xmax = 0;
        for (uint32_t i = 0; i < R * C; i++) wmax = fmaxf(wmax, fabsf(w[i]));
        for (uint32_t i = 0; i < R; i++) xmax = fmaxf(xmax, fabsf(x[i]));
        double ws = (double)wmax / qmax, xs = (double)xmax / qmax;
        int bad = 0;
        for (uint32_t c = 0; c < C; c++) {
            int64_t ref = 0;
            for (uint32_t r = 0; r < R; r++)
                ref += (int64_t)lround((double)x[r] / xs) * lround((double)w[r * C + c] / ws);
            double got = (double)y[c] / (ws * xs);
            /* |ref| < 2^23 here, so float rounding of y moves it by less than 1/2. */
            if (llabs(ref) >= (1 << 23) || llround(got) != ref ||
                fabs(got - (double)ref) > fabs((double)ref) * 0x1.0p-23 + 1e-9)
                bad++;
        }
        CU_ASSERT_EQUAL(bad, 0);
        aimc_xbar_destroy(s);
    }
    free(w);
    free(x);
    free(y);
}

/* ---- determinism --------------------------------------------------------------------- */

/* Program id 3, run 4 vectors, reprogram id 3, run them again: returns both outputs. */
static void det_run(uint64_t seed, int split_batch, float *y1, float *y2)
{
    const uint32_t R = 100, C = 60;
    static aimc_tile tiles[MAX_TILES];
    aimc_arch a;
    arch_small(&a);
    a.device.type = AIMC_DEVICE_GENERIC;
    float *w = malloc(R * C * sizeof *w);
    float *x = malloc(4 * R * sizeof *x);
    CU_ASSERT_FATAL(w && x);
    rnd_seed(5);
    for (uint32_t i = 0; i < R * C; i++) w[i] = (float)(rnd_unit() - 0.5);
    for (uint32_t i = 0; i < 4 * R; i++) x[i] = (float)(rnd_unit() - 0.5);
    size_t n = tile_matrix(&a, R, C, 16, 10, 0, tiles, MAX_TILES, NULL);
    aimc_xbar *s = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, seed, &s), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_program(s, 3, w, R, C, tiles, n, NULL, NULL), AIMC_OK);
    if (split_batch) {
        CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 3, x, 1, y1, NULL), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 3, x + R, 3, y1 + C, NULL), AIMC_OK);
    } else {
        CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 3, x, 4, y1, NULL), AIMC_OK);
    }
    CU_ASSERT_EQUAL(aimc_xbar_program(s, 3, w, R, C, tiles, n, NULL, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 3, x, 4, y2, NULL), AIMC_OK);
    aimc_xbar_destroy(s);
    free(w);
    free(x);
}

static void test_determinism(void)
{
    const size_t n = 4 * 60;
    float a1[4 * 60], a2[4 * 60], b1[4 * 60], b2[4 * 60], c1[4 * 60], c2[4 * 60];
    float d1[4 * 60], d2[4 * 60];
    det_run(42, 0, a1, a2);
    det_run(42, 0, b1, b2);
    det_run(43, 0, c1, c2);
    det_run(42, 1, d1, d2);
    /* Same seed, same calls: the same bytes, before and after reprogramming. */
    CU_ASSERT_EQUAL(memcmp(a1, b1, n * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(a2, b2, n * sizeof(float)), 0);
    /* Another seed: other noise. */
    CU_ASSERT_NOT_EQUAL(memcmp(a1, c1, n * sizeof(float)), 0);
    CU_ASSERT_NOT_EQUAL(memcmp(a2, c2, n * sizeof(float)), 0);
    /* Reprogramming draws new programming noise. */
    CU_ASSERT_NOT_EQUAL(memcmp(a1, a2, n * sizeof(float)), 0);
    /* The same read events split over two calls: the same bytes. */
    CU_ASSERT_EQUAL(memcmp(a1, d1, n * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(a2, d2, n * sizeof(float)), 0);
}

/* ---- noise statistics ---------------------------------------------------------------- */

static void mean_sd(const double *v, size_t n, double *mean, double *sd)
{
    double m = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++) m += v[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) ss += (v[i] - m) * (v[i] - m);
    *mean = m;
    *sd = sqrt(ss / (double)(n - 1));
}

/* Read noise only, 2 slices, 3 bit-serial steps, devices far from g = 0 (no clipping): the
 * read noise is quasi-static over the steps of a read (docs/devices.md), so after the
 * shift-and-add each slice's noise is sum_i p_i e_i, e_i the pair's deviation: the output of
 * one column over 1e5 vectors has mean sum q p and variance
 * sum_s 4^(sB) sum_i p_i^2 * 2 * (read_sigma / dG)^2, both within 4 standard errors. Steps
 * drawn independently would give sum_s sum_t 4^(sB + t) n_t 2 (read_sigma / dG)^2 (n_t rows
 * driven in step t), about half of it here: that is rejected. */
static void test_read_noise_stats(void)
{
    const uint32_t N = 100000, R = 5;
    const int32_t q[5] = {15, -4, 9, 2, -1};
    const int32_t pv[5] = {7, -3, 5, 0, 1};
    aimc_arch a;
    arch_small(&a);
    a.device.type = AIMC_DEVICE_GENERIC;
    a.device.program_sigma_us = 0.0;
    a.device.read_sigma_us = 0.25;
    a.device.g_min_us = 10.0; /* 40 sigma above 0: no read clips */
    a.device.g_max_us = 35.0;
    a.device.levels = 16;
    a.crossbar.bits_per_cell = 2;
    a.crossbar.weight_bits = 5; /* 4 magnitude bits: 2 slices */
    a.dac.bits = 4;             /* 3 steps */
    a.adc.bits = 24;            /* LSB ~ 2^-19: negligible */
    CU_ASSERT_EQUAL_FATAL(aimc_arch_slices(&a), 2);
    aimc_tile tiles[2] = {{0, 0, R, 0, 1, 0, 0, 0}, {0, 0, R, 0, 1, 1, 1, 4}};
    float w[5], x1[5];
    for (int i = 0; i < 5; i++) {
        w[i] = (float)q[i];
        x1[i] = (float)pv[i];
    }
    float *x = malloc((size_t)N * R * sizeof *x);
    float *y = malloc((size_t)N * sizeof *y);
    double *v = malloc((size_t)N * sizeof *v);
    CU_ASSERT_FATAL(x && y && v);
    for (uint32_t b = 0; b < N; b++) memcpy(x + (size_t)b * R, x1, sizeof x1);
    aimc_xbar *s = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 2024, &s), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_program(s, 0, w, R, 1, tiles, 2, NULL, NULL), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_mvm(s, 0, x, N, y, NULL), AIMC_OK);
    for (uint32_t b = 0; b < N; b++) v[b] = y[b];

    double exact = 0.0;
    for (int i = 0; i < 5; i++) exact += (double)q[i] * pv[i];
    const double sig_lv = a.device.read_sigma_us / ((a.device.g_max_us - a.device.g_min_us) / 3);
    double var = 0.0, var_indep = 0.0, p2 = 0.0;
    for (int i = 0; i < 5; i++) p2 += (double)pv[i] * pv[i];
    for (int sl = 0; sl < 2; sl++) {
        var += ldexp(1.0, 2 * 2 * sl) * p2 * 2.0 * sig_lv * sig_lv;
        for (int t = 0; t < 3; t++) {
            int nt = 0;
            for (int i = 0; i < 5; i++) nt += (abs(pv[i]) >> t) & 1;
            var_indep += ldexp(1.0, 2 * (2 * sl + t)) * nt * 2.0 * sig_lv * sig_lv;
        }
    }
    double mean, sd;
    mean_sd(v, N, &mean, &sd);
    const double sdv = sqrt(var);
    CU_ASSERT(fabs(mean - exact) <= 4.0 * sdv / sqrt((double)N));
    CU_ASSERT(fabs(sd - sdv) <= 4.0 * sdv / sqrt(2.0 * (N - 1)));
    CU_ASSERT(fabs(sd - sqrt(var_indep)) > 4.0 * sdv / sqrt(2.0 * (N - 1)));
    aimc_xbar_destroy(s);
    free(x);
    free(y);
    free(v);
}

/* Programming noise only: 1-row tiles of 64 weight columns, reprogrammed 1600 times (a new
 * generation each time); y_j / (w_scale x_scale) - q_j p = p (e+ - e-) with e ~ N(0, (sigma /
 * dG)^2) per device: mean 0, variance 2 p^2 (sigma / dG)^2, within 4 standard errors. g_min is
 * 20 sigma above 0, so no clipping. */
static void test_program_noise_stats(void)
{
    const uint32_t C = 64, REPS = 1600, N = C * REPS;
    aimc_arch a;
    arch_small(&a);
    a.crossbar.rows = 4;
    a.crossbar.cols = 128;
    a.device.type = AIMC_DEVICE_GENERIC;
    a.device.program_sigma_us = 0.5;
    a.device.read_sigma_us = 0.0;
    a.device.g_min_us = 10.0;
    a.device.g_max_us = 35.0;
    a.device.levels = 16;
    a.crossbar.bits_per_cell = 2;
    a.crossbar.weight_bits = 3; /* codes -3..3, one slice */
    a.dac.bits = 3;
    a.dac.mode = AIMC_DAC_MULTI_BIT;
    a.adc.bits = 24;
    CU_ASSERT_EQUAL_FATAL(aimc_arch_slices(&a), 1);
    float w[64], xv[1] = {3.0f}, y[64];
    for (uint32_t j = 0; j < C; j++) w[j] = (float)((int)(j % 7) - 3);
    aimc_tile t = {0, 0, 1, 0, C, 0, 2, 0};
    double *v = malloc((size_t)N * sizeof *v);
    CU_ASSERT_FATAL(v != NULL);
    aimc_xbar *s = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 99, &s), AIMC_OK);
    aimc_xbar_stats st = {0};
    int bad = 0;
    for (uint32_t r = 0; r < REPS; r++) {
        if (aimc_xbar_program(s, 0, w, 1, C, &t, 1, &st, NULL) != AIMC_OK) bad++;
        if (aimc_xbar_mvm(s, 0, xv, 1, y, NULL) != AIMC_OK) bad++;
        for (uint32_t j = 0; j < C; j++) v[(size_t)r * C + j] = (double)y[j] - 3.0 * w[j];
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(st.cells_programmed, (uint64_t)REPS * C * 2);
    const double sig_lv = 0.5 / (25.0 / 3.0);
    const double sdv = sqrt(2.0 * 9.0 * sig_lv * sig_lv);
    double mean, sd;
    mean_sd(v, N, &mean, &sd);
    CU_ASSERT(fabs(mean) <= 4.0 * sdv / sqrt((double)N));
    CU_ASSERT(fabs(sd - sdv) <= 4.0 * sdv / sqrt(2.0 * (N - 1)));
    aimc_xbar_destroy(s);
    free(v);
}

/* ---- ADC ----------------------------------------------------------------------------- */

/* 3 x 4 matrix, codes -3..3, multi-bit inputs -3..3, one slice: R = 3 * 3 * 3 = 27. With 4
 * ADC bits LSB = 4 (smallest power of two >= 27 / 7): each output is round(s / 4) * 4, off by
 * at most LSB / 2; with 8 bits (LSB 1/4) it is exact. */
static void test_adc_hand(void)
{
    const float w[12] = {3, -2, 1, 0, 1, 3, -3, 2, -1, 2, 3, 3};
    const float x[3] = {3, -2, 1};
    const float exact[4] = {6, -10, 12, -1};
    const float at4[4] = {8, -12, 12, 0}; /* 1.5 -> 2, -2.5 -> -3, 3, -0.25 -> 0 */
    aimc_arch a;
    arch_small(&a);
    a.crossbar.bits_per_cell = 2;
    a.device.levels = 4;
    a.crossbar.weight_bits = 3;
    a.dac.bits = 3;
    a.dac.mode = AIMC_DAC_MULTI_BIT;
    aimc_tile t = {0, 0, 3, 0, 4, 0, 0, 0};
    for (int k = 0; k < 2; k++) {
        a.adc.bits = k ? 8 : 4;
        aimc_xbar *s = NULL;
        float y[4];
        aimc_xbar_stats st = {0};
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 1, &s), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_xbar_program(s, 0, w, 3, 4, &t, 1, NULL, NULL), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 1, y, &st), AIMC_OK);
        for (int j = 0; j < 4; j++) {
            CU_ASSERT_EQUAL(y[j], k ? exact[j] : at4[j]);
            CU_ASSERT(fabsf(y[j] - exact[j]) <= (k ? 0.125f : 2.0f));
        }
        CU_ASSERT_EQUAL(st.mvms, 1);
        CU_ASSERT_EQUAL(st.adc_saturations, 0);
        aimc_xbar_destroy(s);
    }
}

/* Full scale: 16 rows (R = 16 * 1 * 1 a power of two), 1 bit per cell, bit-serial, every
 * weight and input at its largest code, so s = +-R in every step and slice. With 6 ADC bits
 * (2^6 >= 2R + 1) the LSB is 1 and the codes reach +-R: exact, no saturation. */
static void test_adc_full_scale(void)
{
    enum { R = 16, C = 3 };
    aimc_arch a;
    arch_small(&a);
    a.crossbar.bits_per_cell = 1;
    a.device.levels = 2;
    a.crossbar.weight_bits = 4;
    a.dac.bits = 4;
    a.adc.bits = 6;
    float w[R * C], x[2 * R], y[2 * C];
    for (int i = 0; i < R * C; i++) w[i] = 7.0f;
    for (int i = 0; i < R; i++) {
        x[i] = 7.0f;
        x[R + i] = -7.0f;
    }
    aimc_tile t[8];
    size_t n = tile_matrix(&a, R, C, 16, 10, 0, t, 8, NULL);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    aimc_xbar *s = NULL;
    aimc_xbar_stats st = {0};
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 1, &s), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_program(s, 0, w, R, C, t, n, NULL, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 2, y, &st), AIMC_OK);
    for (int c = 0; c < C; c++) {
        CU_ASSERT_EQUAL(y[c], 16 * 49.0f);
        CU_ASSERT_EQUAL(y[C + c], -16 * 49.0f);
    }
    CU_ASSERT_EQUAL(st.mvms, 2);
    CU_ASSERT_EQUAL(st.adc_saturations, 0);
    aimc_xbar_destroy(s);
}

/* Default machine, ideal device, 300 x 200 random matrix: the rms error against the exact
 * integer result grows from 8 to 4 ADC bits; an ideal device never leaves the ADC range. */
static void test_adc_bits_error(void)
{
    const uint32_t R = 300, C = 200;
    static aimc_tile tiles[MAX_TILES];
    float *w = malloc(R * C * sizeof *w);
    float *x = malloc(R * sizeof *x);
    float *y = malloc(C * sizeof *y);
    double err[2] = {0, 0};
    CU_ASSERT_FATAL(w && x && y);
    rnd_seed(3);
    for (uint32_t i = 0; i < R * C; i++) w[i] = (float)rnd_code(127);
    for (uint32_t i = 0; i < R; i++) x[i] = (float)rnd_code(127);
    w[0] = 127;
    x[0] = 127;
    for (int k = 0; k < 2; k++) {
        aimc_arch a;
        aimc_arch_defaults(&a);
        a.adc.range = AIMC_ADC_RANGE_FULL_SCALE; /* the range these hand cases assume: nothing clips */
        a.crossbar.rows = 256; /* the 256 x 128 tile blocks below */
        a.crossbar.cols = 256;
        a.device.type = AIMC_DEVICE_IDEAL;
        a.adc.bits = k ? 8 : 4;
        size_t n = tile_matrix(&a, R, C, 256, 128, 0, tiles, MAX_TILES, NULL);
        aimc_xbar *s = NULL;
        aimc_xbar_stats st = {0};
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 1, &s), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_xbar_program(s, 0, w, R, C, tiles, n, NULL, NULL), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 1, y, &st), AIMC_OK);
        for (uint32_t c = 0; c < C; c++) {
            double ref = 0;
            for (uint32_t r = 0; r < R; r++) ref += (double)x[r] * w[r * C + c];
            err[k] += (y[c] - ref) * (y[c] - ref);
        }
        err[k] = sqrt(err[k] / C);
        CU_ASSERT_EQUAL(st.adc_saturations, 0);
        aimc_xbar_destroy(s);
    }
    CU_ASSERT(err[1] > 0.0);
    CU_ASSERT(err[0] > err[1]);
    free(w);
    free(x);
    free(y);
}

/* One weight, one input, one step, 2-bit ADC: R = 1, LSB = 1, codes -2..1. With read noise
 * of sd 1 level (per column: sqrt(2) * sigma / dG) the signal s ~ N(1, 1) saturates when
 * round(s) > 1 or < -2, i.e. s >= 1.5 or s <= -2.5: the count over 1e5 conversions is within
 * 4 binomial standard errors of n P. With sd 1e6 levels every conversion saturates and every
 * output sits at a rail. g_min is far enough above 0 (over 9 sigma) that no read clips. */
static void test_adc_saturation(void)
{
    const uint32_t N = 100000;
    aimc_arch a;
    arch_small(&a);
    a.device.type = AIMC_DEVICE_GENERIC;
    a.device.program_sigma_us = 0.0;
    a.device.g_min_us = 1e9;
    a.device.g_max_us = 1e9 + 25.0;
    a.device.levels = 2;
    a.crossbar.bits_per_cell = 1;
    a.crossbar.weight_bits = 2;
    a.dac.bits = 2;
    a.adc.bits = 2;
    float w[1] = {1.0f}, *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    CU_ASSERT_FATAL(x && y);
    for (uint32_t b = 0; b < N; b++) x[b] = 1.0f;
    aimc_tile t = {0, 0, 1, 0, 1, 0, 0, 0};
    for (int k = 0; k < 2; k++) {
        const double sd_lv = k ? 1e6 : 1.0;
        a.device.read_sigma_us = sd_lv * 25.0 / sqrt(2.0);
        aimc_xbar *s = NULL;
        aimc_xbar_stats st = {0};
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 11, &s), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_xbar_program(s, 0, w, 1, 1, &t, 1, NULL, NULL), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, N, y, &st), AIMC_OK);
        CU_ASSERT_EQUAL(st.mvms, N);
        if (k) {
            uint32_t rails = 0;
            for (uint32_t b = 0; b < N; b++) rails += y[b] == 1.0f || y[b] == -2.0f;
            CU_ASSERT_EQUAL(st.adc_saturations, N);
            CU_ASSERT_EQUAL(rails, N);
        } else {
            const double pr = 0.5 * erfc(0.5 / sqrt(2.0)) + 0.5 * erfc(3.5 / sqrt(2.0));
            const double se = sqrt(N * pr * (1.0 - pr));
            CU_ASSERT(fabs((double)st.adc_saturations - N * pr) <= 4.0 * se);
        }
        aimc_xbar_destroy(s);
    }
    free(x);
    free(y);
}

/* ---- costs --------------------------------------------------------------------------- */

/* A 5 x 2 matrix on 4 x 8 crossbars (differential, 4 logical columns), B = 2, Wb = 5 (2
 * slices), 3-bit bit-serial inputs (2 steps), 3 ADCs per crossbar; 4 tiles: rows 0-3 of both
 * slices share crossbar 0 (core 0), row 4's slices sit on crossbars 2 and 3 (core 1).
 * Ideal device, g in [0, 30] uS, dG = 10 uS. Batch: x = (3, -1, 2, 0, -3), then zeros.
 * Every figure below is worked out by hand in the comments. */
static void test_costs(void)
{
    const float w[10] = {15, -3, 2, 0, -7, 5, 1, 1, 4, -8};
    const float x[10] = {3, -1, 2, 0, -3, 0, 0, 0, 0, 0};
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.adc.range = AIMC_ADC_RANGE_FULL_SCALE; /* the range these hand cases assume: nothing clips */
    a.device.type = AIMC_DEVICE_IDEAL;
    a.device.g_min_us = 0.0;
    a.device.g_max_us = 30.0;
    a.device.levels = 4;
    a.device.read_voltage_v = 0.5;
    a.crossbar.rows = 4;
    a.crossbar.cols = 8;
    a.crossbar.bits_per_cell = 2;
    a.crossbar.weight_bits = 5;
    a.crossbar.integration_ns = 10.0;
    a.dac.bits = 3;
    a.dac.energy_pj = 0.5;
    a.adc.bits = 8;
    a.adc.per_crossbar = 3;
    a.adc.conversion_ns = 1.5;
    a.adc.energy_pj = 2.0;
    a.adc.conversion_auto = a.adc.energy_auto = a.adc.area_auto = 0; /* these, not the model */
    a.digital.energy_pj_per_op = 0.25;
    a.digital.ops_per_cycle = 4;
    a.hierarchy.crossbars_per_core = 2;
    a.hierarchy.cores_per_chip = 2;
    a.hierarchy.chips = 1;
    a.clock.frequency_mhz = 500.0;
    aimc_tile tiles[4] = {
        {0, 0, 4, 0, 2, 0, 0, 0}, /* phys 0-3 of xbar 0 */
        {0, 0, 4, 0, 2, 1, 0, 4}, /* phys 4-7 of xbar 0 */
        {0, 4, 1, 0, 2, 0, 2, 0},
        {0, 4, 1, 0, 2, 1, 3, 2},
    };
    aimc_xbar *s = NULL;
    aimc_xbar_stats st = {0}, pst = {0};
    aimc_program_report rep;
    float y[4];
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 1, &s), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_program_verify(s, 0, w, 5, 2, tiles, 4, NULL, &rep, &pst, NULL),
                          AIMC_OK);
    /* 2 tiles x 4 rows x 2 cols x 2 devices + 2 tiles x 1 x 2 x 2 */
    CU_ASSERT_EQUAL(pst.cells_programmed, 40);
    /* Programming (docs/devices.md): one pulse per device, a crossbar's pulses in sequence,
     * crossbars in parallel: crossbar 0 has the most, 32. */
    CU_ASSERT_EQUAL(pst.program_pulses, 40);
    CU_ASSERT_EQUAL(rep.xbars, 3);
    CU_ASSERT_EQUAL(rep.pulses_max, 32);
    CU_ASSERT_EQUAL(aimc_cost_program_cycles(&a, rep.pulses_max, rep.iterations),
                    (uint64_t)ceil(32 * a.device.pulse_ns * 500.0 / 1000.0));
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_mvm(s, 0, x, 2, y, &st), AIMC_OK);
    /* y = W^T x: 45 - 2 - 14 + 0 - 12 = 17; -9 + 0 + 10 + 0 + 24 = 25 */
    CU_ASSERT_EQUAL(y[0], 17.0f);
    CU_ASSERT_EQUAL(y[1], 25.0f);
    CU_ASSERT_EQUAL(y[2], 0.0f);
    CU_ASSERT_EQUAL(y[3], 0.0f);
    CU_ASSERT_EQUAL(st.mvms, 2);
    /* u per step (t0 / t1): rows 0-3: (1,-1,0,0) / (1,0,1,0): 2 + 2 for each of 2 tiles;
     * row 4: (-1) / (-1): 1 + 1 for each of 2 tiles; the zero vector drives none. */
    CU_ASSERT_EQUAL(st.dac_drives, 12);
    CU_ASSERT_EQUAL(st.adc_saturations, 0);
    /* Levels (slice 0 / slice 1) of |q| on G+ (q > 0) or G- (q < 0), per row, summed over
     * the 4 devices of the row: row 0 (15, -3): 3+3 / 3+0; row 1 (2, 0): 2 / 0; row 2 (-7, 5):
     * 3+1 / 1+1; row 3 (1, 1): 1+1 / 0; row 4 (4, -8): 0 / 1+2. Times dG = 10 uS.
     * Driven rows' conductance sums, slice 0 tile: t0 rows 0,1: 60 + 20, t1 rows 0,2: 60 + 40;
     * slice 1 tile: t0: 30 + 0, t1: 30 + 20; row 4 slice 0: 0 + 0; slice 1: 30 + 30.
     * Total 320 uS of full-scale drives: charge 320, energy 320 x (0.5 V)^2 x 10 ns x 1e-3
     * = 0.8 pJ. */
    CU_ASSERT_DOUBLE_EQUAL(st.xbar_charge, 320.0, 1e-9);

    /* The shapes' share is the cost layer's (sim/cost): per vector 4 tiles x 2 steps reads,
     * 4 tiles x 2 steps x 2 columns conversions, per tile 2 cols x 2 steps + 2 accumulations
     * = 6 ops. Time (docs/engine.md): at 500 MHz a step integrates 10 ns = 5 cycles; one ADC
     * round (2 columns on 3 ADCs) takes 1.5 ns = 0.75 cycle, seen done after 1 cycle.
     * xbar 0 holds 2 tiles: 2 rounds; P = 2 rounds x 2 steps x max(5, 1) = 20; m = min(5, 1)
     * = 1; D = 12 ops of either core / 4 = 3. T(2) = 1 + max(2 x 20 + 3, 20 + 2 x 3) = 44,
     * T(1) = 1 + 23 = 24. */
    aimc_cost_mvm *cm = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_cost_mvm_build(&a, 5, 2, tiles, 4, &cm), AIMC_OK);
    CU_ASSERT_EQUAL(cm->rounds, 2);
    CU_ASSERT_EQUAL(cm->period, 20);
    CU_ASSERT_EQUAL(cm->tail, 1);
    CU_ASSERT_EQUAL(cm->shift_add, 3);
    CU_ASSERT_EQUAL(aimc_cost_mvm_cycles(cm, 2), 44);
    CU_ASSERT_EQUAL(aimc_cost_mvm_cycles(cm, 1), 24);
    aimc_cost_events ev = {0};
    aimc_cost_mvm_events(&a, cm, 2, &ev);
    CU_ASSERT_EQUAL(ev.xbar_reads, 16);
    CU_ASSERT_EQUAL(ev.adc_conversions, 32);
    CU_ASSERT_EQUAL(ev.digital_ops, 48);
    ev.dac_drives = (double)st.dac_drives;
    ev.xbar_charge = st.xbar_charge;
    double pj[AIMC_PART_COUNT] = {0};
    aimc_cost_energy(&a, &ev, pj);
    CU_ASSERT_DOUBLE_EQUAL(pj[AIMC_PART_XBAR], 0.8, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(pj[AIMC_PART_DAC], 12 * 0.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(pj[AIMC_PART_ADC], 32 * 2.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(pj[AIMC_PART_DIGITAL], 48 * 0.25, 1e-12);
    /* The placement: one chip, cores 0 and 1 (one range), one cluster (cores_per_cluster 1:
     * clusters 0 and 1, home 0, one hop apart on a 2 x 1 mesh). */
    CU_ASSERT_EQUAL(cm->n_chips, 1);
    CU_ASSERT_EQUAL(cm->chips[0].n_ranges, 1);
    CU_ASSERT_EQUAL(cm->ranges[0].first, 0);
    CU_ASSERT_EQUAL(cm->ranges[0].count, 2);
    aimc_cost_mvm_free(cm);

    /* Stats add up: a second call adds the same again. */
    aimc_xbar_stats st2 = st;
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 2, y, &st2), AIMC_OK);
    CU_ASSERT_EQUAL(st2.dac_drives, 24);
    aimc_xbar_stats sum = st;
    aimc_xbar_stats_add(&sum, &st);
    CU_ASSERT_EQUAL(sum.mvms, st2.mvms);
    CU_ASSERT_DOUBLE_EQUAL(sum.xbar_charge, st2.xbar_charge, 1e-12);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 1, y, NULL), AIMC_OK); /* NULL stats */
    CU_ASSERT_STRING_EQUAL(aimc_part_name(AIMC_PART_DAC), "dac");
    CU_ASSERT_STRING_EQUAL(aimc_part_name(AIMC_PART_XBAR), "xbar");
    CU_ASSERT_STRING_EQUAL(aimc_part_name(AIMC_PART_ADC), "adc");
    CU_ASSERT_STRING_EQUAL(aimc_part_name(AIMC_PART_DIGITAL), "digital");
    CU_ASSERT_STRING_EQUAL(aimc_part_name(AIMC_PART_HOST_DMA), "host_dma");
    CU_ASSERT_STRING_EQUAL(aimc_part_name(AIMC_PART_COUNT), "unknown");
    aimc_xbar_destroy(s);

    /* The same plan with multi-bit inputs (u_max = 3, one step), first vector only.
     * Drives: rows 0, 1, 2 in each of 2 tiles, row 4 in 2 tiles = 8. Crossbar: (p_i / 3)^2 x
     * (row sums of both slices): 90 x 9/9 + 20 x 1/9 + 60 x 4/9 + 0 + 30 x 9/9 = 120 + 260/9
     * uS. Time: 2 rounds of one step: P = 2 x 5, m = 1, D = 8 core ops / 4 = 2: T(1) = 13. */
    a.dac.mode = AIMC_DAC_MULTI_BIT;
    aimc_xbar_stats mst = {0};
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 1, &s), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_program(s, 0, w, 5, 2, tiles, 4, NULL, NULL), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_mvm(s, 0, x, 1, y, &mst), AIMC_OK);
    CU_ASSERT_EQUAL(y[0], 17.0f);
    CU_ASSERT_EQUAL(y[1], 25.0f);
    CU_ASSERT_EQUAL(mst.dac_drives, 8);
    CU_ASSERT_DOUBLE_EQUAL(mst.xbar_charge, 120.0 + 260.0 / 9.0, 1e-9);
    CU_ASSERT_EQUAL_FATAL(aimc_cost_mvm_build(&a, 5, 2, tiles, 4, &cm), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_cost_mvm_cycles(cm, 1), 13);
    aimc_cost_events mev = {0};
    aimc_cost_mvm_events(&a, cm, 1, &mev);
    CU_ASSERT_EQUAL(mev.xbar_reads, 4);
    CU_ASSERT_EQUAL(mev.adc_conversions, 8);
    CU_ASSERT_EQUAL(mev.digital_ops, 16);
    aimc_cost_mvm_free(cm);
    aimc_xbar_destroy(s);
}

/* ---- errors -------------------------------------------------------------------------- */

static int program_one(aimc_xbar *s, uint32_t id, const float *w, uint32_t rows, uint32_t cols,
                       const aimc_tile *t, size_t n)
{
    aimc_diag d;
    d.msg[0] = '\0';
    int rc = aimc_xbar_program(s, id, w, rows, cols, t, n, NULL, &d);
    if (rc != AIMC_OK) CU_ASSERT(d.msg[0] != '\0');
    return rc;
}

static void test_errors(void)
{
    aimc_arch a;
    arch_small(&a); /* 16 x 20 differential (10 logical columns), B 2, Wb 8: 4 slices */
    a.device.type = AIMC_DEVICE_GENERIC;
    aimc_xbar *s = NULL, *ref = NULL;

    CU_ASSERT_EQUAL(aimc_xbar_create(NULL, 1, &s), AIMC_ERR_INVALID);
    aimc_arch bad = a;
    bad.crossbar.rows = 0;
    CU_ASSERT_EQUAL(aimc_xbar_create(&bad, 1, &s), AIMC_ERR_INVALID);
    CU_ASSERT_PTR_NULL(s);
    bad = a;
    bad.device.type = (aimc_device_type)9;
    CU_ASSERT_EQUAL(aimc_xbar_create(&bad, 1, &s), AIMC_ERR_UNSUPPORTED);
    aimc_xbar_destroy(NULL);

    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 5, &s), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 5, &ref), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_arch(s)->crossbar.rows, 16);

    /* A 20 x 12 matrix: row blocks 16 + 4, column blocks 10 + 2, 4 slices: 16 tiles on
     * crossbars 0..; a good plan first. */
    enum { R = 20, C = 12 };
    float w[R * C], x[R], y1[C], y2[C];
    rnd_seed(9);
    for (int i = 0; i < R * C; i++) w[i] = (float)(rnd_unit() - 0.5);
    for (int i = 0; i < R; i++) x[i] = (float)(rnd_unit() - 0.5);
    aimc_tile good[64], t[64];
    uint32_t next;
    size_t n = tile_matrix(&a, R, C, 16, 10, 0, good, 64, &next);
    CU_ASSERT_EQUAL_FATAL(n, 16);

    uint32_t rows, cols;
    CU_ASSERT_EQUAL(aimc_xbar_matrix_shape(s, 0, &rows, &cols), AIMC_ERR_STATE);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 1, y1, NULL), AIMC_ERR_STATE);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 70000, x, 1, y1, NULL), AIMC_ERR_RANGE);
    CU_ASSERT_EQUAL(program_one(s, 0, w, R, C, good, n), AIMC_OK);
    CU_ASSERT_EQUAL(program_one(ref, 0, w, R, C, good, n), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_matrix_shape(s, 0, &rows, &cols), AIMC_OK);
    CU_ASSERT_EQUAL(rows, R);
    CU_ASSERT_EQUAL(cols, C);
    CU_ASSERT_EQUAL(aimc_xbar_matrix_shape(s, 1, &rows, &cols), AIMC_ERR_STATE);

    /* Each failing plan, for id 0 (replacing) and id 1 (new): its first half of tiles on
     * crossbars already written, the second half moved to fresh crossbars 100.., then one
     * defect. */
    struct {
        int rc;
        int defect;
    } cases[] = {
        {AIMC_ERR_RANGE, 0},   /* crossbar outside the machine */
        {AIMC_ERR_RANGE, 1},   /* physical columns beyond the crossbar */
        {AIMC_ERR_RANGE, 2},   /* more rows than word lines */
        {AIMC_ERR_RANGE, 3},   /* rows beyond the matrix */
        {AIMC_ERR_RANGE, 4},   /* columns beyond the matrix */
        {AIMC_ERR_RANGE, 5},   /* slice beyond S_w */
        {AIMC_ERR_INVALID, 6}, /* two tiles share crossbar columns */
        {AIMC_ERR_INVALID, 7}, /* a (row, col, slice) covered twice */
        {AIMC_ERR_INVALID, 8}, /* a gap */
        {AIMC_ERR_INVALID, 9}, /* an empty tile */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (uint32_t id = 0; id < 2; id++) {
            size_t m = n;
            memcpy(t, good, n * sizeof *t);
            for (size_t k = n / 2; k < n; k++) t[k].xbar += 100;
            aimc_tile *last = &t[n - 1]; /* slice 3, rows 16..19, cols 10..11 */
            switch (cases[c].defect) {
            case 0: last->xbar = 256; break;
            case 1: last->xbar_col0 = 17; break; /* 2 columns x 2 devices from 17 > 20 */
            case 2: t[0].nrows = 17; break;
            case 3: last->row0 = 17; break; /* rows 17..20 of 20 */
            case 4: last->col0 = 11; break; /* cols 11..12 of 12 */
            case 5: last->slice = 4; break;
            case 6:
                last->xbar = t[0].xbar; /* t[0] fills its crossbar's 20 columns */
                last->xbar_col0 = 2;
                break;
            case 7: t[m++] = (aimc_tile){0, 0, 1, 0, 1, 0, 200, 0}; break;
            case 8: m--; break;
            case 9: last->ncols = 0; break;
            }
            CU_ASSERT_EQUAL(program_one(s, id, w, R, C, t, m), cases[c].rc);
        }
    }
    float nanw[R * C];
    memcpy(nanw, w, sizeof nanw);
    nanw[7] = NAN;
    CU_ASSERT_EQUAL(program_one(s, 0, nanw, R, C, good, n), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(program_one(s, AIMC_XBAR_MAX_MATRICES, w, R, C, good, n), AIMC_ERR_RANGE);
    CU_ASSERT_EQUAL(program_one(s, 0, w, R, C, NULL, 0), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_xbar_matrix_shape(s, 1, &rows, &cols), AIMC_ERR_STATE);
    x[0] = INFINITY;
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 1, y1, NULL), AIMC_ERR_INVALID);
    x[0] = 0.25f;

    /* The machine is as if the failed calls had not happened: same bytes as ref, now and
     * after both program crossbars 0.. and 100.. again (same generation counters). */
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 1, y1, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(ref, 0, x, 1, y2, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(memcmp(y1, y2, sizeof y1), 0);
    CU_ASSERT_EQUAL(program_one(s, 0, w, R, C, good, n), AIMC_OK);
    CU_ASSERT_EQUAL(program_one(ref, 0, w, R, C, good, n), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 1, y1, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(ref, 0, x, 1, y2, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(memcmp(y1, y2, sizeof y1), 0);
    for (size_t k = 0; k < n; k++) {
        t[k] = good[k];
        t[k].xbar += 100;
    }
    CU_ASSERT_EQUAL(program_one(s, 1, w, R, C, t, n), AIMC_OK);
    CU_ASSERT_EQUAL(program_one(ref, 1, w, R, C, t, n), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 1, x, 1, y1, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(ref, 1, x, 1, y2, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(memcmp(y1, y2, sizeof y1), 0);
    aimc_xbar_destroy(s);
    aimc_xbar_destroy(ref);
}

/* A matrix written over another one's crossbar columns: allowed; the older matrix no longer
 * has its weights on the machine, so its MVMs fail with AIMC_ERR_STATE (docs/simulator.md,
 * "Overwriting"), while the newer one is exact. Matrices side by side in one crossbar's free
 * columns (what the mapper does) both stay exact. */
static void test_overwrite(void)
{
    aimc_arch a;
    arch_small(&a);
    a.adc.bits = 16;
    enum { R = 10, C = 5 };
    float w0[R * C], w1[R * C], x[R], y0[C], y1[C];
    rnd_seed(12);
    for (int i = 0; i < R * C; i++) {
        w0[i] = (float)rnd_code(127);
        w1[i] = (float)rnd_code(127);
    }
    w0[0] = w1[0] = 127;
    for (int i = 0; i < R; i++) x[i] = (float)rnd_code(127);
    aimc_tile t[16];
    size_t n = tile_matrix(&a, R, C, 16, 10, 0, t, 16, NULL);
    aimc_xbar *s = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 1, &s), AIMC_OK);
    CU_ASSERT_EQUAL(program_one(s, 0, w0, R, C, t, n), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 1, y0, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(program_one(s, 1, w1, R, C, t, n), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 1, y0, NULL), AIMC_ERR_STATE);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 1, x, 1, y1, NULL), AIMC_OK);
    int bad = 0;
    for (int c = 0; c < C; c++) {
        double ref = 0;
        for (int r = 0; r < R; r++) ref += (double)x[r] * w1[r * C + c];
        if (y1[c] != (float)ref) bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* Reprogramming id 0 elsewhere makes it live again. */
    aimc_xbar_destroy(s);

    /* Side by side: the same plan in crossbars twice as wide, matrix 1 in the right half. */
    aimc_arch a2 = a;
    a2.crossbar.cols = 2 * a.crossbar.cols;
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a2, 1, &s), AIMC_OK);
    aimc_tile t1[16];
    memcpy(t1, t, n * sizeof *t);
    for (size_t k = 0; k < n; k++) t1[k].xbar_col0 += (uint32_t)a.crossbar.cols;
    CU_ASSERT_EQUAL(program_one(s, 0, w0, R, C, t, n), AIMC_OK);
    CU_ASSERT_EQUAL(program_one(s, 1, w1, R, C, t1, n), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 1, y0, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 1, x, 1, y1, NULL), AIMC_OK);
    bad = 0;
    for (int c = 0; c < C; c++) {
        double r0 = 0, r1 = 0;
        for (int r = 0; r < R; r++) {
            r0 += (double)x[r] * w0[r * C + c];
            r1 += (double)x[r] * w1[r * C + c];
        }
        if (y0[c] != (float)r0 || y1[c] != (float)r1) bad++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    aimc_xbar_destroy(s);
}

/* ---- the exact path and the kernels' paths ---------------------------------------------- */

/* Run the same vectors on two machines alike but for the exact path (allowed on the first,
 * forbidden on the second): y and every counter must be the same bits. *mode gets the
 * first's aimc_xbar_exact_path. */
static int exact_vs_full(const aimc_arch *a, uint32_t R, uint32_t C, uint32_t br, uint32_t bc,
                         uint32_t batch, uint64_t seed, int *mode)
{
    static aimc_tile tiles[MAX_TILES];
    float *w = malloc((size_t)R * C * sizeof *w), *x = malloc((size_t)batch * R * sizeof *x);
    float *y1 = malloc((size_t)batch * C * sizeof *y1);
    float *y2 = malloc((size_t)batch * C * sizeof *y2);
    aimc_xbar *s1 = NULL, *s2 = NULL;
    aimc_xbar_stats st1 = {0}, st2 = {0};
    int same = 0;
    *mode = -1;
    size_t n = tile_matrix(a, R, C, br, bc, 0, tiles, MAX_TILES, NULL);
    if (!w || !x || !y1 || !y2 || n > MAX_TILES || aimc_xbar_create(a, seed, &s1) ||
        aimc_xbar_create(a, seed, &s2))
        goto out;
    rnd_seed(seed);
    for (size_t i = 0; i < (size_t)R * C; i++) w[i] = (float)(rnd_unit() * 2.0 - 1.0);
    for (size_t i = 0; i < (size_t)batch * R; i++) x[i] = (float)(rnd_unit() * 2.0 - 1.0);
    x[1] = 0.0f;
    for (uint32_t i = 0; i < R; i++) x[(size_t)(batch - 1) * R + i] = 0.0f; /* a zero vector */
    if (aimc_xbar_program(s1, 0, w, R, C, tiles, n, NULL, NULL) ||
        aimc_xbar_program(s2, 0, w, R, C, tiles, n, NULL, NULL) ||
        aimc_xbar_set_exact_path(s2, 0))
        goto out;
    *mode = aimc_xbar_exact_path(s1, 0);
    CU_ASSERT_EQUAL(aimc_xbar_exact_path(s2, 0), 0);
    if (aimc_xbar_mvm(s1, 0, x, batch, y1, &st1) || aimc_xbar_mvm(s2, 0, x, batch, y2, &st2))
        goto out;
    same = memcmp(y1, y2, (size_t)batch * C * sizeof *y1) == 0 &&
           memcmp(&st1, &st2, sizeof st1) == 0;
out:
    aimc_xbar_destroy(s1);
    aimc_xbar_destroy(s2);
    free(w);
    free(x);
    free(y1);
    free(y2);
    return same;
}

/* The exact path gives the full path's bits (y and counters) where it applies, for few
 * vectors (the row kernel) and many (BLAS), both encodings, every weight scale:
 *  - one step and one slice (7-bit cells, 8-bit weights, multi-bit and pulse-width DACs),
 *    with a lossy 6-bit ADC and tiles smaller than the matrix;
 *  - bit-serial inputs on 4 slices of 2-bit cells with lossless 12-bit ADCs, several row
 *    blocks, one weight scale.
 * It does not apply with a lossy ADC and several steps, per-tile scales and several slices,
 * or any noise. */
static void test_exact_path(void)
{
    const uint32_t batches[3] = {1, 6, 70};
    int mode, cases = 0;
    for (int enc = 0; enc < 2; enc++)
        for (int ws = 0; ws < 3; ws++)
            for (int dac = 0; dac < 2; dac++)
                for (int b = 0; b < 3; b++) {
                    aimc_arch a;
                    arch_small(&a);
                    a.crossbar.rows = 32;
                    a.crossbar.cols = 64;
                    a.crossbar.sign_encoding = enc ? AIMC_SIGN_OFFSET : AIMC_SIGN_DIFFERENTIAL;
                    a.crossbar.weight_scale = ws == 0   ? AIMC_WSCALE_MATRIX
                                              : ws == 1 ? AIMC_WSCALE_TILE
                                                        : AIMC_WSCALE_COLUMN;
                    a.crossbar.bits_per_cell = enc ? 8 : 7;
                    a.device.levels = enc ? 256 : 128;
                    a.crossbar.weight_bits = 8;
                    a.dac.bits = 8;
                    a.dac.mode = dac ? AIMC_DAC_PULSE_WIDTH : AIMC_DAC_MULTI_BIT;
                    a.adc.bits = 6;
                    CU_ASSERT(exact_vs_full(&a, 50, 37, 32, 20, batches[b], 300 + cases, &mode));
                    CU_ASSERT_EQUAL(mode, 2);
                    cases++;
                }
    for (int enc = 0; enc < 2; enc++)
        for (int b = 0; b < 3; b++) {
            aimc_arch a;
            arch_small(&a);
            a.crossbar.rows = 32;
            a.crossbar.cols = 64;
            a.crossbar.sign_encoding = enc ? AIMC_SIGN_OFFSET : AIMC_SIGN_DIFFERENTIAL;
            a.crossbar.bits_per_cell = 2;
            a.device.levels = 4;
            a.crossbar.weight_bits = 8;
            a.dac.bits = 8;
            a.dac.mode = AIMC_DAC_BIT_SERIAL;
            a.adc.bits = 12; /* (2^11 - 1) x LSB 1 >= 32 rows x 3 levels */
            CU_ASSERT(exact_vs_full(&a, 70, 45, 32, 20, batches[b], 400 + cases, &mode));
            CU_ASSERT_EQUAL(mode, 1);
            cases++;
        }
    CU_ASSERT_EQUAL(cases, 42);

    /* Where it does not apply, the full path runs (and agrees with itself). */
    aimc_arch a;
    arch_small(&a);
    a.crossbar.rows = 32;
    a.crossbar.cols = 64;
    a.crossbar.bits_per_cell = 2;
    a.device.levels = 4;
    a.dac.mode = AIMC_DAC_BIT_SERIAL;
    a.adc.bits = 6; /* lossy: LSB 4 for 32 rows x 3 levels over 31 codes */
    CU_ASSERT(exact_vs_full(&a, 40, 20, 32, 20, 3, 500, &mode));
    CU_ASSERT_EQUAL(mode, 0);
    a.adc.bits = 12;
    a.crossbar.weight_scale = AIMC_WSCALE_TILE;
    CU_ASSERT(exact_vs_full(&a, 40, 20, 32, 20, 3, 501, &mode));
    CU_ASSERT_EQUAL(mode, 0);
    a.crossbar.weight_scale = AIMC_WSCALE_MATRIX;
    a.device.type = AIMC_DEVICE_GENERIC;
    a.device.read_sigma_us = 0.0;
    a.device.program_sigma_us = 0.0;
    CU_ASSERT(exact_vs_full(&a, 40, 20, 32, 20, 3, 502, &mode));
    CU_ASSERT_EQUAL(mode, 1); /* a generic device without noise reads its levels exactly */
    a.device.read_sigma_us = 0.01;
    CU_ASSERT(exact_vs_full(&a, 40, 20, 32, 20, 3, 503, &mode));
    CU_ASSERT_EQUAL(mode, 0);
}

/* The kernels' paths agree to the bit: 70 vectors in one call (BLAS for the chunk of 64, the
 * row kernel or BLAS for the 6 left) against 70 calls of one vector (the row kernel), with
 * read and programming noise (the same read events either way), for a generic device with
 * bit-serial inputs on several row blocks, a pcm device (per-pair variances) with bit-serial
 * and multi-bit inputs, and 7-bit cells with multi-bit inputs (sums in double). */
static void test_paths_identical(void)
{
    static aimc_tile tiles[MAX_TILES];
    const uint32_t R = 70, C = 45, B = 70;
    float *w = malloc(R * C * sizeof *w), *x = malloc(B * R * sizeof *x);
    float *y1 = malloc(B * C * sizeof *y1), *y2 = malloc(B * C * sizeof *y2);
    CU_ASSERT_FATAL(w && x && y1 && y2);
    rnd_seed(77);
    for (uint32_t i = 0; i < R * C; i++) w[i] = (float)(rnd_unit() * 2.0 - 1.0);
    for (uint32_t i = 0; i < B * R; i++) x[i] = (float)(rnd_unit() * 2.0 - 1.0);
    for (int k = 0; k < 4; k++) {
        aimc_arch a;
        arch_small(&a);
        a.crossbar.rows = 32;
        a.crossbar.cols = 64;
        a.device.type = k == 1 || k == 2 ? AIMC_DEVICE_PCM : AIMC_DEVICE_GENERIC;
        a.device.levels = k == 3 ? 128 : 16;
        a.crossbar.bits_per_cell = k == 3 ? 7 : 2;
        a.dac.mode = k >= 2 ? AIMC_DAC_MULTI_BIT : AIMC_DAC_BIT_SERIAL;
        a.adc.bits = 12;
        size_t n = tile_matrix(&a, R, C, 32, 20, 0, tiles, MAX_TILES, NULL);
        aimc_xbar *s1 = NULL, *s2 = NULL;
        aimc_xbar_stats st1 = {0}, st2 = {0};
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 9, &s1), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 9, &s2), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_xbar_program(s1, 0, w, R, C, tiles, n, NULL, NULL), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_xbar_program(s2, 0, w, R, C, tiles, n, NULL, NULL), AIMC_OK);
        if (k == 1 || k == 2) {
            CU_ASSERT_EQUAL(aimc_xbar_set_read_time(s1, 3600.0), AIMC_OK);
            CU_ASSERT_EQUAL(aimc_xbar_set_read_time(s2, 3600.0), AIMC_OK);
        }
        CU_ASSERT_EQUAL(aimc_xbar_mvm(s1, 0, x, B, y1, &st1), AIMC_OK);
        int ok = 1;
        for (uint32_t b = 0; b < B; b++)
            ok &= aimc_xbar_mvm(s2, 0, x + (size_t)b * R, 1, y2 + (size_t)b * C, &st2) == AIMC_OK;
        CU_ASSERT(ok);
        CU_ASSERT_EQUAL(memcmp(y1, y2, (size_t)B * C * sizeof *y1), 0);
        CU_ASSERT_EQUAL(st1.dac_drives, st2.dac_drives);
        CU_ASSERT_EQUAL(st1.adc_saturations, st2.adc_saturations);
        CU_ASSERT_EQUAL(st1.mvms, st2.mvms);
        aimc_xbar_destroy(s1);
        aimc_xbar_destroy(s2);
    }
    free(w);
    free(x);
    free(y1);
    free(y2);
}

int test_sim_register(void)
{
    AIMC_SUITE("sim",
               {"full-scale ADC LSB by hand, and for no rows", test_full_scale_lsb},
               {"exact: ideal device, both encodings and DAC modes, B 1..3", test_exact},
               {"exact: y / (w_scale x_scale) is the integer sum", test_integer_reference},
               {"determinism: seeds, reprogramming, batch splits", test_determinism},
               {"noise: read noise mean and std", test_read_noise_stats},
               {"noise: programming noise mean and std", test_program_noise_stats},
               {"adc: hand case, LSB/2 bound", test_adc_hand},
               {"adc: full scale is representable", test_adc_full_scale},
               {"adc: error grows from 8 to 4 bits", test_adc_bits_error},
               {"adc: saturations counted", test_adc_saturation},
               {"costs: hand-computed counts, energy, cycles", test_costs},
               {"errors: bad plans leave the machine unchanged", test_errors},
               {"overwrite: the older matrix goes stale; side by side both live", test_overwrite},
               {"exact path: the full path's bits where it applies, not elsewhere",
                test_exact_path},
               {"kernels: one call of 70 vectors = 70 calls of one, to the bit",
                test_paths_identical});
    return 0;
}
