/* test_noise.c - device models (pcm, rram, faults), program-and-verify, the aggregated read
 * noise against a per-cell reference (moments and a two-sample Kolmogorov-Smirnov test),
 * drift and its compensation, IR drop, ADC errors and thread-count determinism. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aimc.h"
#include "aimc_arch.h"
#include "aimc_cost.h"
#include "aimc_xbar.h"
#include "tests.h"

/* ---- helpers ------------------------------------------------------------------------- */

static uint64_t st_rng = 1;

/* xorshift64* (Vigna): test data and the reference's own draws. */
static uint64_t r_u64(void)
{
    st_rng ^= st_rng >> 12;
    st_rng ^= st_rng << 25;
    st_rng ^= st_rng >> 27;
    return st_rng * UINT64_C(2685821657736338717);
}

static double r_unit(void)
{
    return ((double)(r_u64() >> 11) + 0.5) * 0x1.0p-53;
}

/* Box-Muller from the test's own generator (independent of the simulator's). */
static double r_normal(void)
{
    return sqrt(-2.0 * log(r_unit())) * cos(6.283185307179586 * r_unit());
}

static void moments(const double *v, size_t n, double *mean, double *sd)
{
    double m = 0.0, ss = 0.0;
    for (size_t i = 0; i < n; i++) m += v[i];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) ss += (v[i] - m) * (v[i] - m);
    *mean = m;
    *sd = sqrt(ss / (double)(n - 1));
}

static int cmp_double(const void *pa, const void *pb)
{
    double a = *(const double *)pa, b = *(const double *)pb;
    return a < b ? -1 : a > b;
}

/* Two-sample Kolmogorov-Smirnov: statistic D = sup |F1 - F2| over the sorted samples, and
 * the asymptotic p-value Q_KS(lambda) = 2 sum_k (-1)^(k-1) exp(-2 k^2 lambda^2) with
 * lambda = (sqrt(ne) + 0.12 + 0.11 / sqrt(ne)) D, ne = n1 n2 / (n1 + n2) (Stephens' form,
 * as in Numerical Recipes' kstwo). Sorts both arrays. */
static double ks_pvalue(double *a, size_t n1, double *b, size_t n2, double *d_out)
{
    qsort(a, n1, sizeof *a, cmp_double);
    qsort(b, n2, sizeof *b, cmp_double);
    size_t i = 0, j = 0;
    double d = 0.0;
    while (i < n1 && j < n2) {
        double x = a[i] <= b[j] ? a[i] : b[j];
        while (i < n1 && a[i] <= x) i++;
        while (j < n2 && b[j] <= x) j++;
        double diff = fabs((double)i / n1 - (double)j / n2);
        if (diff > d) d = diff;
    }
    double ne = (double)n1 * n2 / (double)(n1 + n2), sq = sqrt(ne);
    double lam = (sq + 0.12 + 0.11 / sq) * d, sum = 0.0, sign = 1.0;
    for (int k = 1; k <= 100; k++) {
        double term = sign * 2.0 * exp(-2.0 * k * k * lam * lam);
        sum += term;
        if (fabs(term) < 1e-12) break;
        sign = -sign;
    }
    if (d_out) *d_out = d;
    return sum < 0.0 ? 0.0 : sum > 1.0 ? 1.0 : sum;
}

/* One tile per slice of a rows x cols matrix, side by side from crossbar 0. */
static size_t tiles_of(const aimc_arch *a, uint32_t rows, uint32_t cols, aimc_tile *t, size_t cap)
{
    const uint32_t slices = (uint32_t)aimc_arch_slices(a);
    const uint32_t cpw = (uint32_t)aimc_arch_cols_per_weight(a);
    const uint32_t lc = (uint32_t)aimc_arch_logical_cols(a);
    uint32_t xbar = 0, pos = 0;
    size_t n = 0;
    for (uint32_t sl = 0; sl < slices; sl++)
        for (uint32_t r0 = 0; r0 < rows; r0 += (uint32_t)a->crossbar.rows)
            for (uint32_t c0 = 0; c0 < cols; c0 += lc) {
                uint32_t nr = rows - r0 < (uint32_t)a->crossbar.rows ? rows - r0
                                                                     : (uint32_t)a->crossbar.rows;
                uint32_t nc = cols - c0 < lc ? cols - c0 : lc;
                if (pos + nc * cpw > (uint32_t)a->crossbar.cols) {
                    xbar++;
                    pos = 0;
                }
                if (n < cap) t[n] = (aimc_tile){0, r0, nr, c0, nc, sl, xbar, pos};
                n++;
                pos += nc * cpw;
            }
    return n;
}

/* A small pcm machine: rows x 2*cols differential, multi-bit DAC, weights with one slice. */
static void arch_pcm(aimc_arch *a, int rows, int cols)
{
    aimc_arch_defaults(a);
    a->adc.range = AIMC_ADC_RANGE_FULL_SCALE; /* the range these hand cases assume: nothing clips */
    a->device.type = AIMC_DEVICE_PCM;
    a->device.g_min_us = 0.0;
    a->device.g_max_us = 25.0;
    a->crossbar.rows = rows;
    a->crossbar.cols = 2 * cols;
    a->crossbar.bits_per_cell = 4;
    a->crossbar.weight_bits = 5; /* 4 magnitude bits: one slice */
    a->device.levels = 16;
    a->dac.mode = AIMC_DAC_MULTI_BIT;
    a->dac.bits = 8;
    a->adc.bits = 24;
    a->hierarchy.crossbars_per_core = 4;
    a->hierarchy.cores_per_chip = 1;
    a->hierarchy.chips = 1;
}

/* ---- program-and-verify ------------------------------------------------------------- */

/* Generic device with 1 uS programming noise, tolerance 0.5 uS: verify rounds cut the rms
 * error and the failed count; no verify reproduces aimc_xbar_program exactly. */
static void test_program_verify(void)
{
    aimc_arch a;
    arch_pcm(&a, 64, 32);
    a.device.type = AIMC_DEVICE_GENERIC;
    a.device.program_sigma_us = 1.0;
    a.device.g_min_us = 5.0; /* the floor g >= 0 is 5 sigma below every level */
    const uint32_t R = 64, C = 32;
    float *w = malloc(R * C * sizeof *w);
    float *x = malloc(R * sizeof *x);
    float *y1 = malloc(C * sizeof *y1), *y2 = malloc(C * sizeof *y2);
    CU_ASSERT_FATAL(w && x && y1 && y2);
    st_rng = 11;
    for (uint32_t i = 0; i < R * C; i++) w[i] = (float)(2.0 * r_unit() - 1.0);
    for (uint32_t i = 0; i < R; i++) x[i] = (float)(2.0 * r_unit() - 1.0);
    aimc_tile t[8];
    size_t n = tiles_of(&a, R, C, t, 8);
    aimc_xbar *s1 = NULL, *s2 = NULL;
    aimc_diag d = {""};
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 5, &s1), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 5, &s2), AIMC_OK);

    aimc_program_report r0, r3;
    aimc_program_opts none = {0, 0.5}, three = {3, 0.5};
    CU_ASSERT_EQUAL(aimc_xbar_program_verify(s1, 0, w, R, C, t, n, &none, &r0, NULL, &d), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_program(s2, 0, w, R, C, t, n, NULL, &d), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s1, 0, x, 1, y1, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s2, 0, x, 1, y2, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(memcmp(y1, y2, C * sizeof *y1), 0);
    CU_ASSERT_EQUAL(r0.iterations, 0);
    CU_ASSERT_EQUAL(r0.devices, (uint64_t)R * C * 2);
    CU_ASSERT_EQUAL(r0.pulses, r0.devices);
    /* Without verify: rms error is the programming sigma; P(|z| > 0.5) = 0.617 of the
     * devices miss. */
    CU_ASSERT(fabs(r0.rms_error_us - 1.0) < 0.1);
    CU_ASSERT(fabs((double)r0.devices_failed / r0.devices - 0.617) < 0.08);

    aimc_xbar_stats st;
    memset(&st, 0, sizeof st);
    CU_ASSERT_EQUAL(aimc_xbar_program_verify(s1, 0, w, R, C, t, n, &three, &r3, &st, &d), AIMC_OK);
    CU_ASSERT_EQUAL(r3.iterations, 3);
    CU_ASSERT(r3.pulses > r3.devices);
    CU_ASSERT_EQUAL(st.program_pulses, r3.pulses);
    /* Each round keeps a missing device with probability 0.617: after 3 rounds 0.617^4. */
    double expect = pow(0.617, 4.0);
    CU_ASSERT(fabs((double)r3.devices_failed / r3.devices - expect) < 0.05);
    CU_ASSERT(r3.rms_error_us < 0.6 * r0.rms_error_us);
    /* Programming's time and energy are the cost layer's, from the report. */
    aimc_cost_events pev = {0};
    double ppj[AIMC_PART_COUNT] = {0};
    aimc_cost_program_events(&a, r3.pulses, r3.xbars, r3.devices, r3.iterations, &pev);
    aimc_cost_energy(&a, &pev, ppj);
    CU_ASSERT_DOUBLE_EQUAL(ppj[AIMC_PART_XBAR], (double)r3.pulses * a.device.pulse_energy_pj,
                           1e-9 * ppj[AIMC_PART_XBAR]);
    CU_ASSERT(aimc_cost_program_cycles(&a, r3.pulses_max, r3.iterations) > 0);

    aimc_program_opts bad = {1, -1.0};
    CU_ASSERT_EQUAL(aimc_xbar_program_verify(s1, 0, w, R, C, t, n, &bad, NULL, NULL, &d),
                    AIMC_ERR_INVALID);
    aimc_xbar_destroy(s1);
    aimc_xbar_destroy(s2);
    free(w);
    free(x);
    free(y1);
    free(y2);
}

/* ---- noise sources against their formulas --------------------------------------------- */

/* PCM: 1e5 devices aimed at one level: programming error mean 0 and sd sigma_prog(g); drift
 * exponents mean mu(g), sd sigma_nu(g); each within 4 standard errors. Drift factor and read
 * sigma at 1 day exactly as the formulas. */
static void test_pcm_statistics(void)
{
    aimc_arch a;
    arch_pcm(&a, 256, 200); /* 256 x 400 devices per crossbar, 4 crossbars: > 1e5 */
    const uint32_t R = 256, C = 400;
    float *w = malloc((size_t)R * C * sizeof *w);
    CU_ASSERT_FATAL(w != NULL);
    for (size_t i = 0; i < (size_t)R * C; i++) w[i] = (float)(5.0 / 15.0);
    w[0] = 1.0f;
    aimc_tile t[16];
    size_t n = tiles_of(&a, R, C, t, 16);
    CU_ASSERT_FATAL(n <= 16);
    aimc_xbar *s = NULL;
    aimc_diag d = {""};
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 21, &s), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_program(s, 0, w, R, C, t, n, NULL, &d), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_set_read_time(s, 86400.0), AIMC_OK);

    /* Weights 5/15 of max: code 5, level 5 of 15 on G+. */
    const double g_t = 5.0 * 25.0 / 15.0;
    double *e = calloc(200000, sizeof *e), *nu = calloc(200000, sizeof *nu);
    CU_ASSERT_FATAL(e && nu);
    size_t k = 0;
    int exact_ok = 1;
    for (size_t ti = 0; ti < n; ti++)
        for (uint32_t i = 0; i < t[ti].nrows; i++)
            for (uint32_t j = 0; j < t[ti].ncols; j++) {
                size_t wi = (size_t)(t[ti].row0 + i) * C + t[ti].col0 + j;
                if (wi == 0) continue;
                aimc_xbar_cell_info info;
                CU_ASSERT_EQUAL_FATAL(
                    aimc_xbar_cell(s, t[ti].xbar, i, t[ti].xbar_col0 + 2 * j, &info), AIMC_OK);
                e[k] = info.g_prog_us - g_t;
                nu[k] = info.nu;
                double gd = info.g_prog_us * aimc_pcm_drift_factor(info.nu, 86400.0);
                double sg = fabs(gd) * aimc_pcm_read_rel_sigma(info.g_prog_us, 25.0, 86400.0);
                if (fabs(info.g_read_us - gd) > 1e-9 || fabs(info.read_sigma_us - sg) > 1e-9)
                    exact_ok = 0;
                k++;
            }
    CU_ASSERT(k >= 100000);
    CU_ASSERT(exact_ok);
    double m, sd, mu, sgn;
    const double sp = aimc_pcm_program_sigma_us(g_t, 25.0);
    moments(e, k, &m, &sd);
    CU_ASSERT(fabs(m) < 4.0 * sp / sqrt((double)k));
    CU_ASSERT(fabs(sd - sp) < 4.0 * sp / sqrt(2.0 * (k - 1)));
    aimc_pcm_drift_params(g_t, 25.0, &mu, &sgn);
    moments(nu, k, &m, &sd);
    CU_ASSERT(fabs(m - mu) < 4.0 * sgn / sqrt((double)k));
    CU_ASSERT(fabs(sd - sgn) < 4.0 * sgn / sqrt(2.0 * (k - 1)));
    /* The formulas themselves at hand-computed points (REFERENCES.md). */
    CU_ASSERT(fabs(aimc_pcm_program_sigma_us(25.0, 25.0) - (0.26348 + 1.9650 - 1.1731)) < 1e-12);
    CU_ASSERT(fabs(aimc_pcm_drift_factor(0.05, 20.0) - pow(2.0, -0.05)) < 1e-12);
    CU_ASSERT(fabs(aimc_pcm_read_rel_sigma(25.0, 25.0, 0.0) -
                   0.0088 * sqrt(log((20.0 + 250e-9) / 500e-9))) < 1e-12);
    free(e);
    free(nu);
    free(w);
    aimc_xbar_destroy(s);
}

/* RRAM: programming error sd sqrt(a^2 + (r g)^2): the errors of > 1e5 devices at g_max and
 * g_min, each divided by its sd, have mean 0 and sd 1 within 4 standard errors. Faults:
 * stuck-on and stuck-off fractions within 4 binomial standard errors, the fraction function
 * agrees with the per-cell map, and stuck devices hold g_max / g_min. */
static void test_rram_and_faults(void)
{
    aimc_arch a;
    arch_pcm(&a, 256, 200);
    a.device.type = AIMC_DEVICE_RRAM;
    a.device.g_min_us = 2.5; /* on/off ratio 10 */
    a.device.program_sigma_us = 0.3;
    a.device.program_sigma_rel = 0.04;
    a.device.stuck_on_rate = 0.01;
    a.device.stuck_off_rate = 0.02;
    const uint32_t R = 256, C = 400;
    float *w = malloc((size_t)R * C * sizeof *w);
    double *e = calloc((size_t)R * C * 2, sizeof *e);
    CU_ASSERT_FATAL(w && e);
    for (size_t i = 0; i < (size_t)R * C; i++) w[i] = 1.0f;
    aimc_tile t[16];
    size_t n = tiles_of(&a, R, C, t, 16);
    aimc_xbar *s = NULL;
    aimc_diag d = {""};
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 8, &s), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_program(s, 0, w, R, C, t, n, NULL, &d), AIMC_OK);
    size_t k = 0, on = 0, off = 0, cells = 0, stuck_ok = 1;
    for (uint32_t x = 0; x < 2; x++) {
        size_t bad = 0;
        for (uint32_t i = 0; i < R; i++)
            for (uint32_t c = 0; c < 2 * 200; c++) {
                aimc_xbar_cell_info info;
                CU_ASSERT_EQUAL_FATAL(aimc_xbar_cell(s, x, i, c, &info), AIMC_OK);
                cells++;
                if (info.fault == AIMC_FAULT_STUCK_ON) {
                    on++, bad++;
                    stuck_ok &= info.g_prog_us == 25.0;
                } else if (info.fault == AIMC_FAULT_STUCK_OFF) {
                    off++, bad++;
                    stuck_ok &= info.g_prog_us == 2.5;
                } else {
                    double gt = c % 2 == 0 ? 25.0 : 2.5;
                    e[k++] = (info.g_prog_us - gt) / sqrt(0.09 + (0.04 * gt) * (0.04 * gt));
                }
            }
        double f = aimc_xbar_fault_fraction(&a, 8, x);
        CU_ASSERT(fabs(f - (double)bad / (R * 400.0)) < 1e-12);
    }
    CU_ASSERT(stuck_ok);
    CU_ASSERT(k >= 100000);
    double p_on = (double)on / cells, p_off = (double)off / cells;
    CU_ASSERT(fabs(p_on - 0.01) < 4.0 * sqrt(0.01 * 0.99 / cells));
    CU_ASSERT(fabs(p_off - 0.02) < 4.0 * sqrt(0.02 * 0.98 / cells));
    double m, sd;
    moments(e, k, &m, &sd);
    CU_ASSERT(fabs(m) < 4.0 / sqrt((double)k));
    CU_ASSERT(fabs(sd - 1.0) < 4.0 / sqrt(2.0 * (k - 1)));
    free(w);
    free(e);
    aimc_xbar_destroy(s);
}

/* ---- aggregated read noise against the per-cell reference --------------------------- */

/* The read of a device of conductance g with read noise sigma, clipped at 0 (docs/devices.md,
 * "Read noise near g = 0"): X = max(0, g + sigma Z), its mean, variance and third central
 * moment from the rectified normal's moments (x = g / sigma):
 * E X^k / sigma^k = x^k Phi + ..., E X = sigma (x Phi + phi), E X^2 = sigma^2 ((x^2 + 1) Phi +
 * x phi), E X^3 = sigma^3 ((x^3 + 3x) Phi + (x^2 + 2) phi). Without clipping: g, sigma^2, 0. */
static void read_moments(double g, double sigma, int clip, double *m1, double *m2, double *m3)
{
    if (!clip || sigma <= 0.0) {
        *m1 = g;
        *m2 = sigma * sigma;
        *m3 = 0.0;
        return;
    }
    const double x = g / sigma, P = 0.5 * erfc(-x / sqrt(2.0));
    const double phi = exp(-0.5 * x * x) / sqrt(2.0 * M_PI);
    const double e1 = x * P + phi, e2 = (x * x + 1.0) * P + x * phi;
    const double e3 = (x * x * x + 3.0 * x) * P + (x * x + 2.0) * phi;
    *m1 = sigma * e1;
    *m2 = sigma * sigma * (e2 - e1 * e1);
    *m3 = sigma * sigma * sigma * (e3 - 3.0 * e1 * e2 + 2.0 * e1 * e1 * e1);
}

/* One column of a machine against a per-device reference: N reads of the input xin (R rows),
 * output column J. The reference draws each device's read once per read, X = g + sigma Z,
 * clipped at 0 (g and sigma from aimc_xbar_cell), and applies it to every step of the read
 * (so the shift-and-add of bit-serial steps gives sum_i p_i (X+ - X-)); the ADC here is fine
 * enough to leave out of it. What the test asserts, each against 4 standard errors:
 *  - the machine's mean and sd against the reference's, and a two-sample KS test at p > 0.01,
 *    valid because the reference's column sum is close to Gaussian: its exact skewness, from
 *    the devices' third moments, moves the CDF by at most |skew| phi(0) / 6 (Edgeworth's
 *    first term), asserted below a quarter of the KS test's critical distance;
 *  - when `other` is given: the machine's mean or sd is not that of the model `other` names
 *    (0: devices unclipped, 1: a fresh deviation at every input step), computed exactly from
 *    the devices: the test tells the models apart. */
static void per_device_case(const aimc_arch *a, uint32_t R, uint32_t C, uint32_t J,
                            const float *xin, uint32_t N, int other, uint64_t seed)
{
    float *w = malloc((size_t)R * C * sizeof *w);
    float *x = malloc((size_t)N * R * sizeof *x), *y = malloc((size_t)N * C * sizeof *y);
    double *ym = malloc(N * sizeof *ym), *yr = malloc(N * sizeof *yr);
    double (*g)[2] = malloc(R * sizeof *g), (*sg)[2] = malloc(R * sizeof *sg);
    int32_t *u = malloc(R * sizeof *u);
    aimc_tile t[16];
    CU_ASSERT_FATAL(w && x && y && ym && yr && g && sg && u);
    size_t n = tiles_of(a, R, C, t, 16);
    CU_ASSERT_FATAL(n <= 16);
    aimc_xbar *s = NULL;
    aimc_diag d = {""};
    st_rng = seed;
    float wmax = 0.0f, xmax = 0.0f;
    for (uint32_t i = 0; i < R * C; i++) {
        w[i] = (float)(2.0 * r_unit() - 1.0);
        wmax = fabsf(w[i]) > wmax ? fabsf(w[i]) : wmax;
    }
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(a, seed, &s), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_program(s, 0, w, R, C, t, n, NULL, &d), AIMC_OK);
    if (a->device.read_time_s > 0.0) aimc_xbar_set_read_time(s, a->device.read_time_s);
    for (uint32_t v = 0; v < N; v++) memcpy(x + (size_t)v * R, xin, R * sizeof *xin);
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_mvm(s, 0, x, N, y, NULL), AIMC_OK);
    for (uint32_t v = 0; v < N; v++) ym[v] = y[(size_t)v * C + J];

    /* The devices and the DAC codes as the machine has them. */
    const int P = (1 << (a->dac.bits - 1)) - 1, Q = (1 << (a->crossbar.weight_bits - 2)) * 2 - 1;
    const double L = (double)((1 << a->crossbar.bits_per_cell) - 1);
    const double dg = (a->device.g_max_us - a->device.g_min_us) / L;
    for (uint32_t i = 0; i < R; i++) xmax = fabsf(xin[i]) > xmax ? fabsf(xin[i]) : xmax;
    const double x_scale = xmax / P, w_scale = wmax / Q, unit = w_scale * x_scale / dg;
    double m1 = 0.0, var = 0.0, k3 = 0.0, m1_other = 0.0, var_other = 0.0;
    const uint32_t tile_j = t[0].ncols; /* column J lies in the first tile */
    CU_ASSERT_FATAL(J < tile_j);
    for (uint32_t i = 0; i < R; i++) {
        u[i] = (int32_t)lround(xin[i] / x_scale);
        for (int p = 0; p < 2; p++) {
            aimc_xbar_cell_info info;
            CU_ASSERT_EQUAL_FATAL(aimc_xbar_cell(s, 0, i, 2 * J + (uint32_t)p, &info), AIMC_OK);
            g[i][p] = info.g_read_us;
            sg[i][p] = info.read_sigma_us;
            double e1, e2, e3, o1, o2, o3;
            read_moments(g[i][p], sg[i][p], 1, &e1, &e2, &e3);
            read_moments(g[i][p], sg[i][p], 0, &o1, &o2, &o3);
            const double sgn = p ? -1.0 : 1.0, ui = u[i];
            m1 += sgn * ui * e1;
            var += ui * ui * e2;
            k3 += sgn * ui * ui * ui * e3;
            m1_other += sgn * ui * (other == 0 ? o1 : e1);
            if (other == 0) var_other += ui * ui * o2;
            else /* every step its own draw: sum_t 4^t u_ti^2 v (bit-serial) */
                for (int st = 0; st < a->dac.bits - 1; st++)
                    var_other += ldexp(1.0, 2 * st) * (double)((abs(u[i]) >> st) & 1) * e2;
        }
    }
    const double skew = k3 / pow(var, 1.5);
    const double d_crit = 1.628 * sqrt(2.0 / N); /* two-sample KS at 0.01 */
    CU_ASSERT(fabs(skew) * 0.39894 / 6.0 < d_crit / 4.0);

    st_rng = seed + 1;
    for (uint32_t v = 0; v < N; v++) {
        double acc = 0.0;
        for (uint32_t i = 0; i < R; i++) {
            double xp = g[i][0] + sg[i][0] * r_normal(), xn = g[i][1] + sg[i][1] * r_normal();
            xp = xp > 0.0 ? xp : 0.0;
            xn = xn > 0.0 ? xn : 0.0;
            acc += u[i] * (xp - xn);
        }
        yr[v] = acc * unit;
    }
    double mm, sm, mr, sr, dks;
    moments(ym, N, &mm, &sm);
    moments(yr, N, &mr, &sr);
    CU_ASSERT(sm > 0.0);
    /* The reference's own statistics are those of the moments above. */
    CU_ASSERT(fabs(mr - m1 * unit) < 4.0 * sqrt(var / N) * unit);
    CU_ASSERT(fabs(mm - mr) < 4.0 * sqrt((sm * sm + sr * sr) / N));
    CU_ASSERT(fabs(sm - sr) < 4.0 * sqrt((sm * sm + sr * sr) / (2.0 * (N - 1))));
    CU_ASSERT(ks_pvalue(ym, N, yr, N, &dks) > 0.01);
    if (other >= 0) {
        const double sd_o = sqrt(var_other) * unit, se_m = sqrt(var / N) * unit;
        const double se_s = sqrt(var / (2.0 * (N - 1))) * unit;
        CU_ASSERT(fabs(mm - m1_other * unit) > 4.0 * se_m || fabs(sm - sd_o) > 4.0 * se_s);
    }
    aimc_xbar_destroy(s);
    free(w);
    free(x);
    free(y);
    free(ym);
    free(yr);
    free(g);
    free(sg);
    free(u);
}

/* PCM a day after programming, every device with its own read sigma (per-pair variances),
 * 256 rows, random weights and inputs: against the per-device reference with clipping, for
 * multi-bit inputs, and for bit-serial inputs where the deviation of a device is shared by
 * the steps of a read (a fresh deviation at each step is rejected): 7 steps (the kernel sums
 * variances by sets of steps) and 9 (it sums them pair of steps by pair). */
static void test_read_noise_vs_per_cell(void)
{
    const uint32_t R = 256, C = 8, N = 20000;
    float xin[256];
    st_rng = 99;
    for (uint32_t i = 0; i < R; i++) xin[i] = (float)(2.0 * r_unit() - 1.0);
    for (int serial = 0; serial < 3; serial++) {
        aimc_arch a;
        arch_pcm(&a, (int)R, (int)C);
        a.device.read_time_s = 86400.0;
        a.dac.mode = serial ? AIMC_DAC_BIT_SERIAL : AIMC_DAC_MULTI_BIT;
        if (serial == 2) a.dac.bits = 10;
        per_device_case(&a, R, C, 3, xin, N, serial ? 1 : -1, 3 + (uint64_t)serial);
    }
}

/* A generic device with g_min 0: the "off" device of every pair sits at or near 0, where a
 * read is clipped (mean shifted up, variance down). Inputs of equal magnitude on every row,
 * where a column's variance is exactly the mean of its pairs' (docs/devices.md): against the
 * per-device reference with clipping, for multi-bit and bit-serial inputs; the unclipped model
 * is rejected. With inputs of any magnitude the mean still matches (every device's clipped
 * mean is exact). */
static void test_read_noise_clipped(void)
{
    const uint32_t R = 256, C = 8, N = 20000;
    float xin[256];
    st_rng = 5;
    for (uint32_t i = 0; i < R; i++) xin[i] = r_unit() < 0.5 ? -1.0f : 1.0f;
    for (int serial = 0; serial < 2; serial++) {
        aimc_arch a;
        arch_pcm(&a, (int)R, (int)C);
        a.device.type = AIMC_DEVICE_GENERIC;
        a.device.program_sigma_us = 0.5;
        a.device.read_sigma_us = 1.0;
        a.dac.mode = serial ? AIMC_DAC_BIT_SERIAL : AIMC_DAC_MULTI_BIT;
        per_device_case(&a, R, C, 2, xin, N, 0, 11 + (uint64_t)serial);
    }
}

/* ---- pcm accuracy: ADC bits, drift, compensation ------------------------------------ */

/* Relative rms error of the machine against the float product: uniform weights in [-1, 1],
 * 64 vectors of uniform inputs in [0, 1]. */
static double pcm_error(const aimc_arch *a, double read_time_s, int comp)
{
    const uint32_t R = 128, C = 64, B = 64;
    float *w = malloc(R * C * sizeof *w), *x = malloc(B * R * sizeof *x);
    float *y = malloc(B * C * sizeof *y);
    aimc_tile t[64];
    size_t n = tiles_of(a, R, C, t, 64);
    aimc_xbar *s = NULL;
    aimc_diag d = {""};
    double num = 0.0, den = 0.0;
    if (!w || !x || !y || aimc_xbar_create(a, 17, &s)) goto out;
    st_rng = 4242;
    for (uint32_t i = 0; i < R * C; i++) w[i] = (float)(2.0 * r_unit() - 1.0);
    for (uint32_t i = 0; i < B * R; i++) x[i] = (float)r_unit();
    if (aimc_xbar_program(s, 0, w, R, C, t, n, NULL, &d)) goto out;
    aimc_xbar_set_read_time(s, read_time_s);
    aimc_xbar_set_drift_compensation(s, comp);
    if (aimc_xbar_mvm(s, 0, x, B, y, NULL)) goto out;
    for (uint32_t b = 0; b < B; b++)
        for (uint32_t c = 0; c < C; c++) {
            double ref = 0.0;
            for (uint32_t i = 0; i < R; i++) ref += (double)x[b * R + i] * w[i * C + c];
            num += (y[b * C + c] - ref) * (y[b * C + c] - ref);
            den += ref * ref;
        }
out:
    aimc_xbar_destroy(s);
    free(w);
    free(x);
    free(y);
    return den > 0.0 ? sqrt(num / den) : INFINITY;
}

static void test_pcm_accuracy(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.adc.range = AIMC_ADC_RANGE_FULL_SCALE; /* the range these hand cases assume: nothing clips */
    a.device.type = AIMC_DEVICE_PCM;
    a.crossbar.rows = 128;
    a.crossbar.cols = 128;
    a.crossbar.bits_per_cell = 2;
    a.crossbar.weight_bits = 8;
    a.hierarchy.crossbars_per_core = 16;
    a.hierarchy.cores_per_chip = 1;
    a.adc.bits = 4;
    double e4 = pcm_error(&a, 1.0, 0);
    a.adc.bits = 8;
    double e8 = pcm_error(&a, 1.0, 0);
    double e1s = e8;
    double e1y = pcm_error(&a, 365.25 * 86400.0, 0);
    double e1yc = pcm_error(&a, 365.25 * 86400.0, 1);
    CU_ASSERT(isfinite(e4) && isfinite(e8) && isfinite(e1y) && isfinite(e1yc));
    CU_ASSERT(e8 < e4);
    CU_ASSERT(e1y > e1s);
    CU_ASSERT(e1yc <= 0.5 * e1y);
}

/* ---- IR drop, ADC errors, threads ------------------------------------------------------ */

/* Ideal device: wire resistance 0 gives bit-for-bit the exact result; a positive resistance
 * lowers every (positive) output, more for a larger resistance. */
static void test_ir_drop(void)
{
    aimc_arch a;
    arch_pcm(&a, 64, 32);
    a.device.type = AIMC_DEVICE_IDEAL;
    a.crossbar.weight_bits = 5; /* ADC: 24 bits, LSB 1/64 level */
    const uint32_t R = 64, C = 32;
    float w[64 * 32], x[64], y0[32], y1[32], y2[32];
    for (uint32_t i = 0; i < R * C; i++) w[i] = (float)((i * 7) % 16) / 15.0f;
    for (uint32_t i = 0; i < R; i++) x[i] = (float)((i * 5) % 128) / 127.0f;
    aimc_tile t[4];
    size_t n = tiles_of(&a, R, C, t, 4);
    double r_ohm[3] = {0.0, 5.0, 20.0};
    float *ys[3] = {y0, y1, y2};
    aimc_diag d = {""};
    for (int k = 0; k < 3; k++) {
        aimc_xbar *s = NULL;
        a.crossbar.wire_resistance_ohm = r_ohm[k];
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 1, &s), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_program(s, 0, w, R, C, t, n, NULL, &d), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 1, ys[k], NULL), AIMC_OK);
        aimc_xbar_destroy(s);
    }
    int exact = 1, lower = 1;
    for (uint32_t c = 0; c < C; c++) {
        int64_t acc = 0;
        for (uint32_t i = 0; i < R; i++)
            acc += lround(x[i] * 127.0) * lround(w[i * C + c] * 15.0);
        exact &= y0[c] == (float)((double)acc / (127.0 * 15.0));
        if (acc > 0) lower &= y2[c] < y1[c] && y1[c] < y0[c];
    }
    CU_ASSERT(exact);
    CU_ASSERT(lower);
}

/* Ideal device: a gain error g scales every output by 1 + g (within one LSB of the ADC). */
static void test_adc_gain_offset(void)
{
    aimc_arch a;
    arch_pcm(&a, 64, 32);
    a.device.type = AIMC_DEVICE_IDEAL;
    a.adc.bits = 20;
    const uint32_t R = 64, C = 32;
    float w[64 * 32], x[64], y0[32], yg[32], yo[32];
    for (uint32_t i = 0; i < R * C; i++) w[i] = (float)((i * 7) % 16) / 15.0f;
    for (uint32_t i = 0; i < R; i++) x[i] = (float)((i * 5) % 128) / 127.0f;
    aimc_tile t[4];
    size_t n = tiles_of(&a, R, C, t, 4);
    float *ys[3] = {y0, yg, yo};
    aimc_diag d = {""};
    for (int k = 0; k < 3; k++) {
        aimc_xbar *s = NULL;
        a.adc.gain_error = k == 1 ? 0.02 : 0.0;
        a.adc.offset_lsb = k == 2 ? 1000.0 : 0.0;
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 1, &s), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_program(s, 0, w, R, C, t, n, NULL, &d), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 1, ys[k], NULL), AIMC_OK);
        aimc_xbar_destroy(s);
    }
    /* LSB in output units: range 64 rows x 127 x 15 levels over 2^19 - 1 codes, rounded up
     * to a power of two, times w_scale x_scale. */
    const double lsb = 0.25 / (15.0 * 127.0);
    int ok_g = 1, ok_o = 1;
    for (uint32_t c = 0; c < C; c++) {
        ok_g &= fabs(yg[c] - 1.02 * y0[c]) <= 1.0 * lsb + 1e-6;
        ok_o &= fabs(yo[c] - y0[c] - 1000.0 * lsb) <= 1e-4;
    }
    CU_ASSERT(ok_g);
    CU_ASSERT(ok_o);
}

/* PCM with read noise, 200 vectors (4 chunks), multi-bit and bit-serial inputs, and a
 * generic device near 0 with bit-serial inputs: 1 and 2 threads give identical bits. */
static void threads_case(int kind)
{
    aimc_arch a;
    arch_pcm(&a, 64, 32);
    a.adc.bits = 8;
    if (kind >= 1) a.dac.mode = AIMC_DAC_BIT_SERIAL;
    if (kind == 2) a.device.type = AIMC_DEVICE_GENERIC;
    const uint32_t R = 64, C = 32, B = 200;
    float *w = malloc(R * C * sizeof *w), *x = malloc(B * R * sizeof *x);
    float *y1 = malloc(B * C * sizeof *y1), *y2 = malloc(B * C * sizeof *y2);
    CU_ASSERT_FATAL(w && x && y1 && y2);
    st_rng = 5;
    for (uint32_t i = 0; i < R * C; i++) w[i] = (float)r_normal();
    for (uint32_t i = 0; i < B * R; i++) x[i] = (float)r_normal();
    aimc_tile t[4];
    size_t n = tiles_of(&a, R, C, t, 4);
    aimc_diag d = {""};
    aimc_xbar_stats st1, st2, st3;
    memset(&st1, 0, sizeof st1);
    memset(&st2, 0, sizeof st2);
    memset(&st3, 0, sizeof st3);
    float *y3 = malloc(B * C * sizeof *y3);
    CU_ASSERT_FATAL(y3 != NULL);
    float *ys[3] = {y1, y2, y3};
    aimc_xbar_stats *sts[3] = {&st1, &st2, &st3};
    for (int k = 0; k < 3; k++) {
        aimc_xbar *s = NULL;
        a.simulator.threads = k == 2 ? 2 : 1; /* the third: threads from the config key */
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 77, &s), AIMC_OK);
        if (k < 2) CU_ASSERT_EQUAL(aimc_xbar_set_threads(s, k + 1), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_program(s, 0, w, R, C, t, n, NULL, &d), AIMC_OK);
        aimc_xbar_set_read_time(s, 3600.0);
        CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, B, ys[k], sts[k]), AIMC_OK);
        aimc_xbar_destroy(s);
    }
    CU_ASSERT_EQUAL(memcmp(y1, y2, (size_t)B * C * sizeof *y1), 0);
    CU_ASSERT_EQUAL(memcmp(&st1, &st2, sizeof st1), 0);
    CU_ASSERT_EQUAL(memcmp(y1, y3, (size_t)B * C * sizeof *y1), 0);
    CU_ASSERT_EQUAL(memcmp(&st1, &st3, sizeof st1), 0);
    free(y3);
    free(w);
    free(x);
    free(y1);
    free(y2);
}

static void test_threads_identical(void)
{
    for (int kind = 0; kind < 3; kind++) threads_case(kind);
}

/* ---- DAC modes, ADC ranges, weight scales, memory, the driver path ------------------- */

/* Pulse width against multi-bit on an ideal device with equal rows: the same values, steps,
 * drives and time; crossbar energy sum |u| / P instead of sum (u / P)^2 (docs/simulator.md). */
static void test_pulse_width(void)
{
    aimc_arch a;
    arch_pcm(&a, 16, 4);
    a.device.type = AIMC_DEVICE_IDEAL;
    const uint32_t R = 16, C = 4;
    float w[16 * 4], x[16], y[2][4];
    for (uint32_t i = 0; i < R * C; i++) w[i] = 1.0f;
    for (uint32_t i = 0; i < R; i++) x[i] = i == 0 ? 1.0f : (float)((int)(i % 5) - 2) / 4.0f;
    aimc_tile t[2];
    size_t n = tiles_of(&a, R, C, t, 2);
    aimc_diag d = {""};
    aimc_xbar_stats st[2];
    memset(st, 0, sizeof st);
    for (int k = 0; k < 2; k++) {
        aimc_xbar *s = NULL;
        a.dac.mode = k ? AIMC_DAC_PULSE_WIDTH : AIMC_DAC_MULTI_BIT;
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 1, &s), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_xbar_program(s, 0, w, R, C, t, n, NULL, &d), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, 1, y[k], &st[k]), AIMC_OK);
        aimc_xbar_destroy(s);
    }
    CU_ASSERT_EQUAL(memcmp(y[0], y[1], sizeof y[0]), 0);
    CU_ASSERT_EQUAL(st[0].mvms, st[1].mvms);
    CU_ASSERT_EQUAL(st[0].dac_drives, st[1].dac_drives);
    double s_abs = 0.0, s_sq = 0.0;
    for (uint32_t i = 0; i < R; i++) {
        double u = (double)lround(x[i] * 127.0) / 127.0;
        s_abs += fabs(u);
        s_sq += u * u;
    }
    CU_ASSERT(s_abs > s_sq * 1.05); /* the case tells the two apart */
    CU_ASSERT_DOUBLE_EQUAL(st[1].xbar_charge / st[0].xbar_charge, s_abs / s_sq, 1e-12);
}

/* Relative rms error of a 6-bit ADC with the given range against the same machine with a
 * 24-bit ADC (so only the ADC differs), and its saturations, on an ideal device, 128 x 32,
 * 3-bit weights (one slice), 64 inputs uniform in [-1, 1]. */
static double range_error(aimc_adc_range range, double pct, uint64_t *sats)
{
    aimc_arch a;
    arch_pcm(&a, 128, 32);
    a.device.type = AIMC_DEVICE_IDEAL;
    a.crossbar.bits_per_cell = 2;
    a.crossbar.weight_bits = 3;
    a.device.levels = 4;
    a.dac.mode = AIMC_DAC_BIT_SERIAL;
    a.adc.bits = 6;
    a.adc.range = range;
    a.adc.range_percentile = pct;
    const uint32_t R = 128, C = 32, B = 64;
    float *w = malloc(R * C * sizeof *w), *x = malloc(B * R * sizeof *x);
    float *y = malloc(B * C * sizeof *y), *yr = malloc(B * C * sizeof *yr);
    aimc_tile t[4];
    size_t n = tiles_of(&a, R, C, t, 4);
    aimc_xbar *s = NULL, *ref = NULL;
    aimc_arch ar = a;
    ar.adc.bits = 24;
    ar.adc.range = AIMC_ADC_RANGE_FULL_SCALE;
    aimc_diag d = {""};
    aimc_xbar_stats st;
    memset(&st, 0, sizeof st);
    double num = 0.0, den = 0.0;
    *sats = 0;
    if (!w || !x || !y || !yr || aimc_xbar_create(&a, 5, &s) || aimc_xbar_create(&ar, 5, &ref))
        goto out;
    st_rng = 777;
    for (uint32_t i = 0; i < R * C; i++) w[i] = (float)(2.0 * r_unit() - 1.0);
    for (uint32_t i = 0; i < B * R; i++) x[i] = (float)(2.0 * r_unit() - 1.0);
    if (aimc_xbar_program(s, 0, w, R, C, t, n, NULL, &d)) goto out;
    if (aimc_xbar_program(ref, 0, w, R, C, t, n, NULL, &d)) goto out;
    if (aimc_xbar_mvm(s, 0, x, B, y, &st) || aimc_xbar_mvm(ref, 0, x, B, yr, NULL)) goto out;
    for (uint32_t k = 0; k < B * C; k++) {
        num += (double)(y[k] - yr[k]) * (y[k] - yr[k]);
        den += (double)yr[k] * yr[k];
    }
    *sats = st.adc_saturations;
out:
    aimc_xbar_destroy(s);
    aimc_xbar_destroy(ref);
    free(yr);
    free(w);
    free(x);
    free(y);
    return den > 0.0 ? sqrt(num / den) : INFINITY;
}

/* A calibrated range fits the signals that occur, not the worst case: max never clips the
 * calibration set and cuts the error; a percentile clips some outputs (counted) and is still
 * far better than full scale. */
static void test_adc_range(void)
{
    uint64_t s_full, s_max, s_pct;
    double e_full = range_error(AIMC_ADC_RANGE_FULL_SCALE, 99.9, &s_full);
    double e_max = range_error(AIMC_ADC_RANGE_MAX, 99.9, &s_max);
    double e_pct = range_error(AIMC_ADC_RANGE_PERCENTILE, 95.0, &s_pct);
    CU_ASSERT(isfinite(e_full) && isfinite(e_max) && isfinite(e_pct));
    CU_ASSERT_EQUAL(s_full, 0);
    CU_ASSERT(e_max < 0.5 * e_full);
    CU_ASSERT(s_pct > 0);
    CU_ASSERT(s_pct > s_max);
    CU_ASSERT(e_pct < 0.5 * e_full);
}

/* Mean over columns of the relative rms error of one column, for weights whose column c
 * has magnitude 10^(-3c/C), on an ideal device with a 16-bit ADC (so weight quantisation
 * dominates), 32 x 32 in column blocks of 8 (4 tiles per slice). */
static double wscale_error(aimc_weight_scale mode, int *rc_out)
{
    aimc_arch a;
    arch_pcm(&a, 32, 8);
    a.device.type = AIMC_DEVICE_IDEAL;
    a.adc.bits = 16;
    a.crossbar.weight_scale = mode;
    a.crossbar.weight_bits = 8;
    a.crossbar.bits_per_cell = 4;
    a.hierarchy.crossbars_per_core = 16;
    a.dac.bits = 16; /* input quantisation far below the weights' */
    const uint32_t R = 32, C = 32, B = 8;
    float w[32 * 32], x[8 * 32], y[8 * 32];
    aimc_tile t[16];
    size_t n = tiles_of(&a, R, C, t, 16);
    aimc_xbar *s = NULL;
    aimc_diag d = {""};
    double sum = 0.0;
    st_rng = 31;
    for (uint32_t i = 0; i < R; i++)
        for (uint32_t c = 0; c < C; c++)
            w[i * C + c] = (float)((2.0 * r_unit() - 1.0) * pow(10.0, -3.0 * c / C));
    for (uint32_t i = 0; i < B * R; i++) x[i] = (float)(2.0 * r_unit() - 1.0);
    *rc_out = aimc_xbar_create(&a, 1, &s);
    if (*rc_out) return INFINITY;
    *rc_out = aimc_xbar_program(s, 0, w, R, C, t, n, NULL, &d);
    if (!*rc_out) *rc_out = aimc_xbar_mvm(s, 0, x, B, y, NULL);
    for (uint32_t c = 0; c < C && !*rc_out; c++) {
        double num = 0.0, den = 0.0;
        for (uint32_t b = 0; b < B; b++) {
            double ref = 0.0;
            for (uint32_t i = 0; i < R; i++) ref += (double)x[b * R + i] * w[i * C + c];
            num += (y[b * C + c] - ref) * (y[b * C + c] - ref);
            den += ref * ref;
        }
        sum += sqrt(num / den);
    }
    aimc_xbar_destroy(s);
    return *rc_out ? INFINITY : sum / C;
}

static void test_weight_scale(void)
{
    int rc1, rc2, rc3;
    double e_m = wscale_error(AIMC_WSCALE_MATRIX, &rc1);
    double e_t = wscale_error(AIMC_WSCALE_TILE, &rc2);
    double e_c = wscale_error(AIMC_WSCALE_COLUMN, &rc3);
    CU_ASSERT_EQUAL(rc1, AIMC_OK);
    CU_ASSERT_EQUAL(rc2, AIMC_OK);
    CU_ASSERT_EQUAL(rc3, AIMC_OK);
    CU_ASSERT(e_t < 0.5 * e_m);
    CU_ASSERT(e_c < 0.5 * e_t);

    /* Per-tile scales need every slice cut into the same blocks. */
    aimc_arch a;
    arch_pcm(&a, 8, 8);
    a.device.type = AIMC_DEVICE_IDEAL;
    a.crossbar.bits_per_cell = 2; /* 4 magnitude bits: 2 slices */
    a.device.levels = 4;
    a.crossbar.weight_scale = AIMC_WSCALE_TILE;
    float w[8 * 8];
    for (int i = 0; i < 64; i++) w[i] = (float)(i % 9) - 4.0f;
    aimc_tile t[3] = {{0, 0, 8, 0, 8, 0, 0, 0}, {0, 0, 4, 0, 8, 1, 1, 0}, {0, 4, 4, 0, 8, 1, 2, 0}};
    aimc_xbar *s = NULL;
    aimc_diag d = {""};
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 1, &s), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_program(s, 0, w, 8, 8, t, 3, NULL, &d), AIMC_ERR_INVALID);
    CU_ASSERT(strstr(d.msg, "same blocks") != NULL);
    a.crossbar.weight_scale = AIMC_WSCALE_MATRIX;
    aimc_xbar_destroy(s);
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 1, &s), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_program(s, 0, w, 8, 8, t, 3, NULL, &d), AIMC_OK);
    aimc_xbar_destroy(s);
}

/* The bench's configuration (256 x 256, 8-bit weights on 2-bit differential cells, generic
 * device with noise): at most 8 bytes per weight, every allocation counted; and a pcm
 * machine a year after programming (residuals too large to pack) still reads right. */
static void test_memory_per_weight(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.adc.range = AIMC_ADC_RANGE_FULL_SCALE; /* the range these hand cases assume: nothing clips */
    a.device.type = AIMC_DEVICE_GENERIC;
    a.crossbar.rows = 256;
    a.crossbar.cols = 256;
    a.crossbar.bits_per_cell = 2;
    a.crossbar.weight_bits = 8;
    a.hierarchy.crossbars_per_core = 4;
    a.hierarchy.cores_per_chip = 1;
    const uint32_t R = 256, C = 128;
    float *w = malloc(R * C * sizeof *w);
    CU_ASSERT_FATAL(w != NULL);
    st_rng = 8;
    for (uint32_t i = 0; i < R * C; i++) w[i] = (float)(2.0 * r_unit() - 1.0);
    aimc_tile t[4];
    size_t n = tiles_of(&a, R, C, t, 4);
    aimc_xbar *s = NULL;
    aimc_diag d = {""};
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, 1, &s), AIMC_OK);
    size_t empty = aimc_xbar_memory_bytes(s);
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_program(s, 0, w, R, C, t, n, NULL, &d), AIMC_OK);
    size_t full = aimc_xbar_memory_bytes(s);
    CU_ASSERT(full > empty + (size_t)R * C * 6); /* the read data is there */
    CU_ASSERT((double)full / ((double)R * C) <= 8.0);
    aimc_xbar_destroy(s);
    free(w);
}

/* `--set device.drift_compensation=on` reaches the device: through the driver (aimc_open
 * with the arch, as aimc run does), a pcm machine read one year after programming; the
 * compensated error is at most half of the uncompensated one. */
static double driver_pcm_error(int comp)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.adc.range = AIMC_ADC_RANGE_FULL_SCALE; /* the range these hand cases assume: nothing clips */
    a.device.type = AIMC_DEVICE_PCM;
    a.crossbar.rows = 128;
    a.crossbar.cols = 128;
    a.crossbar.bits_per_cell = 2;
    a.crossbar.weight_bits = 8;
    a.adc.bits = 8;
    a.hierarchy.crossbars_per_core = 16;
    a.hierarchy.cores_per_chip = 1;
    a.device.read_time_s = 365.25 * 86400.0;
    a.device.drift_compensation = comp;
    const uint32_t R = 128, C = 64, B = 16;
    float *w = malloc(R * C * sizeof *w), *x = malloc(B * R * sizeof *x);
    float *y = malloc(B * C * sizeof *y);
    aimc_tile t[8];
    size_t n = tiles_of(&a, R, C, t, 8);
    aimc_dev *dev = NULL;
    aimc_open_opts o = {.arch = &a, .seed = 17};
    double num = 0.0, den = 0.0;
    uint64_t f = 0;
    if (!w || !x || !y || aimc_open("sim:", &o, &dev)) goto out;
    st_rng = 4242;
    for (uint32_t i = 0; i < R * C; i++) w[i] = (float)(2.0 * r_unit() - 1.0);
    for (uint32_t i = 0; i < B * R; i++) x[i] = (float)r_unit();
    if (aimc_weights_program(dev, 0, w, R, C, t, n, NULL, NULL)) goto out;
    if (aimc_submit_mvm(dev, 0, x, B, y, &f) || aimc_fence_wait(dev, f, -1)) goto out;
    for (uint32_t b = 0; b < B; b++)
        for (uint32_t c = 0; c < C; c++) {
            double ref = 0.0;
            for (uint32_t i = 0; i < R; i++) ref += (double)x[b * R + i] * w[i * C + c];
            num += (y[b * C + c] - ref) * (y[b * C + c] - ref);
            den += ref * ref;
        }
out:
    aimc_close(dev);
    free(w);
    free(x);
    free(y);
    return den > 0.0 ? sqrt(num / den) : INFINITY;
}

static void test_drift_compensation_driver(void)
{
    double off = driver_pcm_error(0), on = driver_pcm_error(1);
    CU_ASSERT(isfinite(off) && isfinite(on));
    CU_ASSERT(on <= 0.5 * off);
}

int test_noise_register(void)
{
    AIMC_SUITE("noise",
               {"program-and-verify: rounds, misses, rms, cost", test_program_verify},
               {"pcm: programming noise, drift exponents, formulas", test_pcm_statistics},
               {"rram: proportional noise; faults: rates and map", test_rram_and_faults},
               {"read noise: pcm vs per-device reference with clipping, quasi-static (KS)",
                test_read_noise_vs_per_cell},
               {"read noise: generic devices near 0 vs per-device clipped reference (KS)",
                test_read_noise_clipped},
               {"pcm: error vs ADC bits, drift, compensation", test_pcm_accuracy},
               {"ir drop: zero when off, grows with resistance", test_ir_drop},
               {"adc: gain and offset error", test_adc_gain_offset},
               {"threads: 1 and 2 threads (call and config key) bit-identical",
                test_threads_identical},
               {"dac: pulse width = multi-bit values, energy by duration", test_pulse_width},
               {"adc: calibrated range (max, percentile) vs full scale", test_adc_range},
               {"weight scale: per tile and per column cut the error", test_weight_scale},
               {"memory: at most 8 B per 8-bit weight on 2-bit cells", test_memory_per_weight},
               {"driver: drift compensation reaches the device", test_drift_compensation_driver});
    return 0;
}
