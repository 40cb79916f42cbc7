/* test_run.c - end to end: config -> model -> plan -> driver -> device -> report, and the
 * analytical peak figures. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aimc.h"
#include "aimc_config.h"
#include "aimc_map.h"
#include "aimc_cost.h"
#include "aimc_rt.h"
#include "aimc_train.h"
#include "cli.h"
#include "tests.h"

static const char *small_model =
    "version: 1\n"
    "model:\n"
    "  name: small\n"
    "  layers: 2\n"
    "  d_model: 48\n"
    "  routed_experts: 4\n"
    "  expert_d_ff: 40\n"
    "  top_k: 2\n"
    "  shared_experts: 1\n"
    "  shared_d_ff: 24\n"
    "  ffn: swiglu\n"
    "weights:\n"
    "  random: {seed: 7, distribution: normal}\n";

/* Map, program and run `ntok` tokens of small_model on arch; fill *r. */
static int run_small(const aimc_arch *a, uint64_t seed, size_t ntok, aimc_rt_report *r)
{
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_dev *dev = NULL;
    aimc_diag d = {{0}};
    float *x = NULL;
    int rc = aimc_model_load_string(small_model, "small.yaml", 1, &m, &d);
    if (rc) goto out;
    if ((rc = aimc_map_plan(a, m, &p, &d))) goto out;
    aimc_open_opts o = {.arch = a, .seed = seed};
    if ((rc = aimc_open("sim:", &o, &dev))) goto out;
    if ((rc = aimc_rt_program(dev, a, m, p, NULL, NULL, &d))) goto out;
    x = malloc(ntok * (size_t)m->d_model * sizeof *x);
    if (!x) {
        rc = AIMC_ERR_NOMEM;
        goto out;
    }
    aimc_rt_tokens(seed, ntok, (size_t)m->d_model, x);
    rc = aimc_rt_run(dev, m, x, ntok, NULL, NULL, r, &d);
out:
    if (rc) fprintf(stderr, "run_small: %s (%s)\n", d.msg, aimc_strerror(rc));
    free(x);
    aimc_close(dev);
    aimc_plan_free(p);
    aimc_model_free(m);
    return rc;
}

static void ideal_arch(aimc_arch *a)
{
    aimc_arch_defaults(a);
    a->device.type = AIMC_DEVICE_IDEAL;
    a->crossbar.rows = 32; /* several row blocks per matrix */
    a->crossbar.cols = 32;
    a->crossbar.weight_bits = 16;
    a->dac.bits = 16;
    a->adc.bits = 16;
    a->adc.per_crossbar = 4;
    a->adc.range = AIMC_ADC_RANGE_FULL_SCALE; /* every sum representable: nothing clips */
    a->hierarchy.cores_per_chip = 256; /* 8 slices of small crossbars need room */
}

/* Noise off, 16-bit weights and inputs, an ADC that resolves every level: the only error
 * left is the rounding of weights and inputs to 16 bits, so the block outputs agree with the
 * float reference to about 2^-15 relative and the routing is the reference's. */
static void test_run_ideal_matches_reference(void)
{
    aimc_arch a;
    ideal_arch(&a);
    CU_ASSERT_EQUAL_FATAL(aimc_arch_validate(&a, NULL), AIMC_OK);
    aimc_rt_report r;
    CU_ASSERT_EQUAL_FATAL(run_small(&a, 3, 24, &r), AIMC_OK);
    CU_ASSERT(r.rel_rms_error < 2e-4);
    CU_ASSERT_EQUAL(r.routing_agreement, 1.0);
    CU_ASSERT_EQUAL(r.cost.adc_saturations, 0);
    CU_ASSERT(r.cost.mvms > 0);
    CU_ASSERT(r.cost.cycles > 0);
    for (int c = 0; c < 4; c++) CU_ASSERT(r.cost.energy_pj[c] > 0);
    CU_ASSERT(r.makespan_cycles > r.cost.cycles / 4);
}

/* Exactness through the driver: an ideal device, weights and inputs on their quantisation
 * grids (integer codes times a scale, the largest code present so the scale is known) and an
 * ADC that resolves every level of a full tile: the device's output equals the float
 * reference to 1e-5 relative. 200 x 150 spans two row blocks and three column blocks. */
static void test_driver_mvm_exact(void)
{
    enum { R = 200, C = 150, B = 3 };
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.device.type = AIMC_DEVICE_IDEAL;
    a.adc.range = AIMC_ADC_RANGE_FULL_SCALE; /* every sum representable: nothing clips */
    CU_ASSERT_EQUAL_FATAL(aimc_arch_validate(&a, NULL), AIMC_OK);
    const int wmax = (1 << (a.crossbar.weight_bits - 1)) - 1, xmax = (1 << (a.dac.bits - 1)) - 1;
    static float w[R * C], x[B * R], y[B * C];
    for (int i = 0; i < R * C; i++) w[i] = 0.01f * (float)((i * 37 % (2 * wmax + 1)) - wmax);
    for (int i = 0; i < B * R; i++) x[i] = 0.5f * (float)((i * 11 % (2 * xmax + 1)) - xmax);
    w[0] = 0.01f * (float)wmax;
    for (int b = 0; b < B; b++) x[b * R] = 0.5f * (float)xmax;

    aimc_model m = {.n_matrices = 1};
    aimc_matrix mat = {.rows = R, .cols = C, .w = w};
    m.m = &mat;
    aimc_plan *p = NULL;
    aimc_dev *dev = NULL;
    aimc_open_opts o = {.arch = &a, .seed = 5};
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan(&a, &m, &p, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(p->n_tiles, 2 * 3 * aimc_arch_slices(&a)); /* row x column blocks x slices */
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_weights_program(dev, 0, w, R, C, p->tiles, p->n_tiles, NULL, NULL), AIMC_OK);
    uint64_t f;
    CU_ASSERT_EQUAL_FATAL(aimc_submit_mvm(dev, 0, x, B, y, &f), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_fence_wait(dev, f, -1), AIMC_OK);
    double worst = 0;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            double ref = 0;
            for (int r = 0; r < R; r++) ref += (double)x[b * R + r] * w[r * C + c];
            double rel = fabs(y[b * C + c] - ref) / (fabs(ref) > 1 ? fabs(ref) : 1);
            if (rel > worst) worst = rel;
        }
    CU_ASSERT(worst <= 1e-5);
    aimc_close(dev);
    aimc_plan_free(p);
}

/* Fewer ADC bits or device noise make the error grow, well beyond the ideal case. */
static void test_run_error_grows_with_nonidealities(void)
{
    aimc_arch a;
    aimc_rt_report ideal, coarse, noisy;
    ideal_arch(&a);
    CU_ASSERT_EQUAL_FATAL(run_small(&a, 3, 24, &ideal), AIMC_OK);
    a.adc.bits = 6;
    CU_ASSERT_EQUAL_FATAL(run_small(&a, 3, 24, &coarse), AIMC_OK);
    ideal_arch(&a);
    a.device.type = AIMC_DEVICE_GENERIC;
    a.device.program_sigma_us = 1.0;
    a.device.read_sigma_us = 0.5;
    CU_ASSERT_EQUAL_FATAL(run_small(&a, 3, 24, &noisy), AIMC_OK);
    CU_ASSERT(coarse.rel_rms_error > 10 * ideal.rel_rms_error);
    CU_ASSERT(noisy.rel_rms_error > 10 * ideal.rel_rms_error);
    CU_ASSERT(coarse.cost.adc_saturations > 0 || coarse.rel_rms_error > 1e-2);
}

/* The same seed gives the same bytes; another seed gives another result. */
static void test_run_deterministic(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    aimc_rt_report r1, r2, r3;
    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    CU_ASSERT_EQUAL_FATAL(run_small(&a, 11, 8, &r1), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(run_small(&a, 11, 8, &r2), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(run_small(&a, 12, 8, &r3), AIMC_OK);
    CU_ASSERT_EQUAL(memcmp(&r1, &r2, sizeof r1), 0);
    CU_ASSERT(r1.rel_rms_error != r3.rel_rms_error);
}

/* The layer reference is the formula of aimc_rt.h: with one expert, top-1, no shared
 * expert, 1-dimensional model: n = x/|x| (rms of one value), y = silu(n*g)*(n*u)*dn. */
static void test_layer_reference_by_hand(void)
{
    static const char *one =
        "version: 1\nmodel: {name: one, layers: 1, d_model: 1, routed_experts: 1,"
        " expert_d_ff: 1, top_k: 1, shared_experts: 0, ffn: swiglu}\n"
        "weights: {random: {seed: 1, distribution: uniform}}\n";
    aimc_model *m = NULL;
    aimc_diag d;
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(one, "one.yaml", 1, &m, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(m->n_matrices, 4);
    float x[2] = {2.0f, -0.5f};
    double y[2];
    int e[2];
    CU_ASSERT_EQUAL(aimc_rt_layer_ref(m, 0, x, 2, y, e), AIMC_OK);
    double g = m->m[aimc_model_find(m, 0, AIMC_MAT_GATE, 0)].w[0];
    double u = m->m[aimc_model_find(m, 0, AIMC_MAT_UP, 0)].w[0];
    double dn = m->m[aimc_model_find(m, 0, AIMC_MAT_DOWN, 0)].w[0];
    for (int t = 0; t < 2; t++) {
        double n = x[t] / sqrt((double)x[t] * x[t] + 1e-6);
        double a = n * g;
        double want = a / (1 + exp(-a)) * (n * u) * dn;
        CU_ASSERT_DOUBLE_EQUAL(y[t], want, 1e-6 * fabs(want) + 1e-12);
        CU_ASSERT_EQUAL(e[t], 0);
    }
    aimc_model_free(m);
}

/* Peak figures of a small machine, computed by hand from the formulas of docs/cli.md. */
static void test_peak_by_hand(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.crossbar.rows = 128;
    a.crossbar.cols = 128; /* differential: 64 logical columns */
    a.crossbar.bits_per_cell = 2;
    a.crossbar.weight_bits = 8; /* 7 magnitude bits: 4 slices */
    a.crossbar.integration_ns = 100;
    a.crossbar.area_um2 = 25;
    a.dac.bits = 9; /* bit-serial: 8 steps */
    a.dac.energy_pj = 0.5;
    a.dac.area_um2 = 0.25;
    a.adc.per_crossbar = 8;
    a.adc.conversion_ns = 1.0;
    a.adc.energy_pj = 2.0;
    a.adc.area_um2 = 1000;
    a.adc.conversion_auto = a.adc.energy_auto = a.adc.area_auto = 0; /* these, not the model */
    a.digital.energy_pj_per_op = 0.25;
    a.digital.area_um2_per_core = 5000;
    a.device.g_min_us = 0;
    a.device.g_max_us = 20;
    a.device.read_voltage_v = 0.5;
    a.hierarchy.crossbars_per_core = 8;
    a.hierarchy.cores_per_chip = 4;
    a.hierarchy.chips = 2;
    /* Only the arrays here: the periphery has its own test (suite calibration). */
    a.dac.leakage_mw = a.adc.leakage_mw = a.digital.leakage_mw_per_core = 0;
    a.buffer.energy_pj = a.buffer.leakage_mw = a.buffer.area_um2 = 0;
    a.bus.energy_pj_per_bit = a.bus.area_um2 = 0;
    a.mapping.noc_hop_energy_pj = a.noc.leakage_mw = a.noc.area_um2 = 0;
    a.mapping.chip_link_energy_pj = a.chip_link.leakage_mw = a.chip_link.area_um2 = 0;
    a.units.energy_pj_per_op = a.units.leakage_mw = a.units.area_um2 = 0;
    CU_ASSERT_EQUAL_FATAL(aimc_arch_validate(&a, NULL), AIMC_OK);
    aimc_peak p;
    aimc_peak_compute(&a, &p);
    /* At 1 GHz: t_int = 100 cycles, t_conv = ceil(64/8)*1 = 8 cycles; a full core's steps
     * stream at P = 8 * max(100, 8) = 800 cycles per vector, its digital unit needs D =
     * 8 crossbars * 9 * 64 ops / 32 per cycle = 144: a vector every max(800, 144) = 800 ns
     * at steady state; alone min(100, 8) + 800 + 144 = 952 ns. */
    CU_ASSERT_DOUBLE_EQUAL(p.mvm_ns, 800.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(p.mvm_latency_ns, 952.0, 1e-9);
    /* 32 crossbars per chip / 4 slices = 8 groups x 2*128*64 ops / 800 ns. */
    double tops_chip = 8.0 * 2 * 128 * 64 / 800e-9 / 1e12;
    CU_ASSERT_DOUBLE_EQUAL(p.tops_per_chip, tops_chip, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.tops, 2 * tops_chip, 1e-12);
    /* Per crossbar per vector: DAC 8*128*0.5 = 512 pJ; xbar 8*128*128*0.25*10*100e-3 =
     * 32768 pJ; ADC 8*64*2 = 1024 pJ; digital 9*64*0.25 = 144 pJ. */
    double e_pj = 512 + 32768 + 1024 + 144;
    double w_chip = 32 * e_pj * 1e-12 / 800e-9;
    CU_ASSERT_DOUBLE_EQUAL(p.chip_power_w, w_chip, 1e-9 * w_chip);
    CU_ASSERT_DOUBLE_EQUAL(p.power_w_by_part[AIMC_PART_XBAR], 32 * 32768e-12 / 800e-9, 1e-9);
    /* Area: 32 * (25 + 128*0.25 + 8*1000) + 4*5000 um^2. */
    double mm2 = (32 * (25 + 128 * 0.25 + 8 * 1000) + 4 * 5000) * 1e-6;
    CU_ASSERT_DOUBLE_EQUAL(p.chip_area_mm2, mm2, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p.tops_per_w, 2 * tops_chip / (2 * w_chip), 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(p.weights_capacity, 2 * 32 / 4 * 128 * 64, 1e-6);
}

/* The device and the peak figures agree: the device's busy cycles for vectors through one
 * full tile are the crossbar pipeline's T(B) = m + max(B P + D, P + B D), and with vectors
 * back to back they approach the peak's interval P. */
static void test_peak_matches_simulated_tile(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.crossbar.weight_bits = 3; /* 2 magnitude bits on 2-bit cells: one slice */
    aimc_peak p;
    aimc_peak_compute(&a, &p);
    int rows = a.crossbar.rows, cols = aimc_arch_logical_cols(&a);
    enum { B = 64 };
    float *w = malloc((size_t)rows * (size_t)cols * sizeof *w);
    float *x = malloc((size_t)B * rows * sizeof *x), *y = malloc((size_t)B * cols * sizeof *y);
    CU_ASSERT_FATAL(w && x && y);
    for (int i = 0; i < rows * cols; i++) w[i] = (float)((i % 7) - 3);
    for (int i = 0; i < B * rows; i++) x[i] = (float)((i % 5) - 2);
    aimc_tile t = {.matrix = 0, .row0 = 0, .nrows = (uint32_t)rows, .col0 = 0,
                   .ncols = (uint32_t)cols, .slice = 0, .xbar = 0, .xbar_col0 = 0};
    aimc_dev *dev = NULL;
    aimc_open_opts o = {.arch = &a, .seed = 1};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_weights_program(dev, 0, w, (uint32_t)rows, (uint32_t)cols, &t, 1, NULL, NULL), AIMC_OK);
    aimc_counters c0, c1, c2;
    uint64_t f;
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c0), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 0, x, 1, y, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, -1), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c1), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 0, x, B, y, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, -1), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c2), AIMC_OK);
    /* Default machine at 1 GHz: 7 steps of t_int = 100 cycles; 64 columns on 8 ADCs of 10
     * bits, 10 x 0.78125 / 8 = 0.9765625 ns each (the survey model): 8 x 0.977 = 7.8, seen
     * at 8 cycles: P = 7 x 100 = 700, m = 8; D = 8 x 64 ops / 32 per cycle = 16 (one
     * crossbar). T(1) = 8 + 700 + 16 = 724, T(64) = 8 + max(64 x 700 + 16, 700 + 64 x 16)
     * = 44824. */
    CU_ASSERT_EQUAL(c1.cycles - c0.cycles, 724);
    CU_ASSERT_EQUAL(c2.cycles - c1.cycles, 44824);
    CU_ASSERT_EQUAL(c1.adc_conversions - c0.adc_conversions, 7 * 64);
    /* a full core is as fast: the peak interval is P (D of 16 crossbars, 256, is less) */
    CU_ASSERT_DOUBLE_EQUAL(p.mvm_ns, 700.0, 1e-9);
    CU_ASSERT(fabs((double)(c2.cycles - c1.cycles) / B - p.mvm_ns) < 0.01 * p.mvm_ns);
    aimc_close(dev);
    free(w);
    free(x);
    free(y);
}

/* The committed digits classifier: float accuracy >= 95 % on its test split, and on an
 * ideal device with an 8-bit ADC the machine's accuracy within 1 point of float. */
static void test_digits_classifier(void)
{
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_dev *dev = NULL;
    aimc_dataset *all = NULL, *train = NULL, *test = NULL;
    aimc_diag d = {{0}};
    aimc_rt_report *r = calloc(1, sizeof *r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL_FATAL(aimc_model_load("models/digits-moe.yaml", 1, &m, &d), AIMC_OK);
    CU_ASSERT_EQUAL(m->n_classes, 10);
    CU_ASSERT(aimc_model_head(m) == (long)m->n_matrices - 1);
    CU_ASSERT_EQUAL_FATAL(aimc_dataset_load_csv(m->eval.data, m->d_model, m->eval.scale, &all, &d),
                          AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_dataset_split(all, m->eval.test_every, &train, &test), AIMC_OK);
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.device.type = AIMC_DEVICE_IDEAL;
    a.adc.bits = 8;
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan(&a, m, &p, &d), AIMC_OK);
    aimc_open_opts o = {.arch = &a, .seed = 1};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_rt_program(dev, &a, m, p, NULL, NULL, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_rt_run(dev, m, test->x, test->n, test->label, NULL, r, &d),
                          AIMC_OK);
    CU_ASSERT_EQUAL(r->classified, 1);
    CU_ASSERT(r->accuracy_float >= 0.95);
    CU_ASSERT(fabs(r->accuracy_hw - r->accuracy_float) <= 0.01);
    aimc_close(dev);
    aimc_plan_free(p);
    aimc_dataset_free(test);
    aimc_dataset_free(train);
    aimc_dataset_free(all);
    aimc_model_free(m);
    free(r);
}

/* ---- tokens in, outputs out --------------------------------------------------------------- */

static int write_bytes(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    const int bad = fwrite(bytes, 1, n, f) != n;
    return fclose(f) || bad ? -1 : 0;
}

static int write_text(const char *path, const char *text)
{
    return write_bytes(path, text, strlen(text));
}

/* --tokens-file: numbers by blanks or commas, comments and blank lines skipped; each bad file
 * names the file, the line (and column) and what is wrong. */
static void test_tokens_file(void)
{
    static const char *model = "version: 1\nmodel: {name: three, layers: 1, d_model: 3, "
                               "routed_experts: 2, expert_d_ff: 4, top_k: 1}\n";
    const char *path = aimc_test_path("tokens.txt");
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(model, "three.yaml", 0, &m, &d), AIMC_OK);
    float *x = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(write_text(path, "# three tokens\n1 2 3\n\n  -0.5,1e-3 , 7\n"
                                           "4\t5\t6"), 0);
    CU_ASSERT_EQUAL(cli_tokens_read(path, m, &x, &n, &d), AIMC_OK);
    CU_ASSERT_EQUAL(n, 3);
    if (x && n == 3) {
        const float want[9] = {1, 2, 3, -0.5f, 1e-3f, 7, 4, 5, 6};
        CU_ASSERT_EQUAL(memcmp(x, want, sizeof want), 0);
    }
    free(x);
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"1 2 3\n1 2\n", ":2: expected 3 numbers (model three's d_model), got 2"},
        {"1 2 3 4\n", ":1: expected 3 numbers (model three's d_model), got 4"},
        {"1 two 3\n", ":1:3: not a number: \"two\""},
        {"1 2 nan\n", ":1:5: not a finite float32: nan"},
        {"1 2 1e39\n", ":1:5: not a finite float32: 1e39"},
        {"# nothing\n\n", ": no tokens (one line of 3 numbers each)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL_FATAL(write_text(path, bad[i].text), 0);
        x = NULL;
        CU_ASSERT_EQUAL(cli_tokens_read(path, m, &x, &n, &d), AIMC_ERR_CONFIG);
        CU_ASSERT_PTR_NULL(x);
        CU_ASSERT_EQUAL(n, 0);
        CU_ASSERT(aimc_test_msg_is(d.msg, path, bad[i].msg));
    }
    /* a NUL byte would end the line's string early: named, not a short line */
    CU_ASSERT_EQUAL_FATAL(write_bytes(path, "1 2 3\n4 5\0 6\n", 13), 0);
    CU_ASSERT_EQUAL(cli_tokens_read(path, m, &x, &n, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_PTR_NULL(x);
    CU_ASSERT(aimc_test_msg_is(d.msg, path, ":2:4: a NUL byte: a tokens file is text"));
    remove(path);
    CU_ASSERT_EQUAL(cli_tokens_read(path, m, &x, &n, &d), AIMC_ERR_IO);
    CU_ASSERT_EQUAL(cli_tokens_read("/", m, &x, &n, &d), AIMC_ERR_CONFIG); /* not a read error */
    CU_ASSERT_STRING_EQUAL(d.msg, "/: is a directory, not a file");
    aimc_model_free(m);
}

/* A language model's --tokens-file: text:FILE is one id a byte (NUL included), up to 65536;
 * a longer text is an error naming the file, its size and the limit, not cut short. Decimal
 * ids: a NUL byte is an error with its line, not a separator; more than 65536 ids an error. */
static void test_ids_file(void)
{
    static const char *model = "version: 1\nmodel: {name: bytes, layers: 1, d_model: 8, "
                               "routed_experts: 2, expert_d_ff: 4, top_k: 1, "
                               "attention: {heads: 2}, vocab: 256}\n";
    char path[512], text[520];
    CU_ASSERT_PTR_NOT_NULL_FATAL(aimc_test_path("ids.txt"));
    snprintf(path, sizeof path, "%s", aimc_test_path("ids.txt"));
    snprintf(text, sizeof text, "text:%s", path);
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(model, "bytes.yaml", 0, &m, &d), AIMC_OK);
    enum { MAX = 65536 };
    char *big = malloc(MAX + 1);
    CU_ASSERT_FATAL(big != NULL);
    for (size_t i = 0; i <= MAX; i++) big[i] = (char)('a' + i % 26);
    big[MAX - 1] = 'Z';
    int *ids = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(write_bytes(path, big, MAX), 0);
    CU_ASSERT_EQUAL(cli_ids_read(text, m, &ids, &n, &d), AIMC_OK);
    CU_ASSERT_EQUAL(n, MAX);
    if (ids && n == MAX) CU_ASSERT(ids[0] == 'a' && ids[MAX - 1] == 'Z');
    free(ids);
    ids = NULL;
    CU_ASSERT_EQUAL_FATAL(write_bytes(path, big, MAX + 1), 0);
    CU_ASSERT_EQUAL(cli_ids_read(text, m, &ids, &n, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_PTR_NULL(ids);
    CU_ASSERT(aimc_test_msg_is(d.msg, path, ": 65537 bytes, more than 65536 tokens (one a byte)"));
    free(big);
    CU_ASSERT_EQUAL_FATAL(write_bytes(path, "a\0b", 3), 0);
    CU_ASSERT_EQUAL(cli_ids_read(text, m, &ids, &n, &d), AIMC_OK);
    CU_ASSERT_EQUAL(n, 3);
    if (ids && n == 3) CU_ASSERT(ids[0] == 'a' && ids[1] == 0 && ids[2] == 'b');
    free(ids);
    ids = NULL;
    CU_ASSERT_EQUAL_FATAL(write_bytes(path, "1 2\n3\0 4\n", 10), 0);
    CU_ASSERT_EQUAL(cli_ids_read(path, m, &ids, &n, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_PTR_NULL(ids);
    CU_ASSERT(aimc_test_msg_is(d.msg, path, ":2:2: a NUL byte: expected token ids 0..255 as text"));
    /* each bad id: its line and column, and the text or the value that is wrong */
    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"1 2 3 300 5\n", ":1:7: id 300 outside 0..255"},
        {"1 2\n 3x 4\n", ":2:2: not a token id: \"3x\" (expected decimal ids 0..255)"},
        {"7,-4\n", ":1:3: not a token id: \"-4\" (expected decimal ids 0..255)"},
        {"1\t12345678901234567890\n", ":1:3: id 12345678901234567890 outside 0..255"},
        {"256", ":1:1: id 256 outside 0..255"},
        {"1 0000000000000000000000000000000000000000000000000001\n",
         ":1:3: not a token id: \"0000000000000000000000000000000000000000...\" (expected "
         "decimal ids 0..255)"},
        {"99999999999999999999999999999999999999999999999999\n",
         ":1:1: id 9999999999999999999999999999999999999999... outside 0..255"},
        {"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghij\n",
         ":1:1: not a token id: \"abcdefghijabcdefghijabcdefghijabcdefghij...\" (expected "
         "decimal ids 0..255)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL_FATAL(write_text(path, bad[i].text), 0);
        ids = NULL;
        CU_ASSERT_EQUAL(cli_ids_read(path, m, &ids, &n, &d), AIMC_ERR_CONFIG);
        CU_ASSERT_PTR_NULL(ids);
        CU_ASSERT(aimc_test_msg_is(d.msg, path, bad[i].msg));
    }
    CU_ASSERT_EQUAL_FATAL(write_text(path, "0 255\r\n,17"), 0);
    CU_ASSERT_EQUAL(cli_ids_read(path, m, &ids, &n, &d), AIMC_OK);
    CU_ASSERT_EQUAL(n, 3);
    if (ids && n == 3) CU_ASSERT(ids[0] == 0 && ids[1] == 255 && ids[2] == 17);
    free(ids);
    ids = NULL;
    char *many = malloc(2 * (MAX + 1));
    CU_ASSERT_FATAL(many != NULL);
    for (size_t i = 0; i <= MAX; i++) many[2 * i] = '7', many[2 * i + 1] = '\n';
    CU_ASSERT_EQUAL_FATAL(write_bytes(path, many, 2 * MAX), 0);
    CU_ASSERT_EQUAL(cli_ids_read(path, m, &ids, &n, &d), AIMC_OK);
    CU_ASSERT_EQUAL(n, MAX);
    free(ids);
    ids = NULL;
    CU_ASSERT_EQUAL_FATAL(write_bytes(path, many, 2 * (MAX + 1)), 0);
    CU_ASSERT_EQUAL(cli_ids_read(path, m, &ids, &n, &d), AIMC_ERR_CONFIG);
    CU_ASSERT(aimc_test_msg_is(d.msg, path, ": more than 65536 tokens"));
    free(many);
    /* text: reads at most one byte more than the limit: a stream that never ends is refused
     * at once, a directory is no file of text */
    CU_ASSERT_EQUAL(cli_ids_read("text:/dev/zero", m, &ids, &n, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "/dev/zero: more than 65536 tokens (one a byte)");
    char dir[512], tdir[520];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    snprintf(tdir, sizeof tdir, "text:%s", dir);
    CU_ASSERT_EQUAL(cli_ids_read(tdir, m, &ids, &n, &d), AIMC_ERR_CONFIG);
    CU_ASSERT(aimc_test_msg_is(d.msg, dir, ": is a directory, not a file (--tokens-file reads "
                                           "one file)"));
    CU_ASSERT_EQUAL(cli_ids_read(dir, m, &ids, &n, &d), AIMC_ERR_CONFIG);
    CU_ASSERT(aimc_test_msg_is(d.msg, dir, ": is a directory, not a file (--tokens-file reads "
                                           "one file)"));
    CU_ASSERT_PTR_NULL(ids);
    remove(path);
    aimc_model_free(m);
    /* bytes are ids only in a vocabulary of the 256 bytes: a larger one (Mixtral's 32000 has
     * byte-fallback tokens at 3..258) takes its ids */
    static const char *big_vocab = "version: 1\nmodel: {name: v32k, layers: 1, d_model: 8, "
                                   "routed_experts: 2, expert_d_ff: 4, top_k: 1, "
                                   "attention: {heads: 2}, vocab: 32000}\n";
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(big_vocab, "v32k.yaml", 0, &m, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(write_text(path, "hello"), 0);
    CU_ASSERT_EQUAL(cli_ids_read(text, m, &ids, &n, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_PTR_NULL(ids);
    CU_ASSERT(aimc_test_msg_is(d.msg, path, ": text: needs a byte vocabulary of 256 (one id a "
                                            "byte), and model v32k has a vocabulary of 32000: "
                                            "give its token ids instead (decimal ids 0..31999)"));
    CU_ASSERT_EQUAL_FATAL(write_text(path, "300 31999"), 0); /* its ids are its own */
    CU_ASSERT_EQUAL(cli_ids_read(path, m, &ids, &n, &d), AIMC_OK);
    CU_ASSERT_EQUAL(n, 2);
    if (ids && n == 2) CU_ASSERT(ids[0] == 300 && ids[1] == 31999);
    free(ids);
    remove(path);
    aimc_model_free(m);
}

/* --dump-outputs: the digits classifier on 12 given tokens (the first test samples) on the
 * ideal machine (16-bit weights and inputs, an ADC resolving every level), every output kept;
 * the file holds exactly what the run gave (read back through the safetensors reader), the
 * last layer's hidden state is the output, each layer's change is its block's output (the
 * exact reference on the device's own input of that layer) and the logits are the head's on
 * the hidden state, both within 2e-4 rms relative (16-bit rounding, as
 * test_run_ideal_matches_reference), and their argmax is right for the samples. */
static void test_dump_outputs(void)
{
    enum { T = 12 };
    aimc_model *m = NULL;
    aimc_dataset *all = NULL, *train = NULL, *test = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_model_load("models/digits-moe.yaml", 1, &m, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_dataset_load_csv(m->eval.data, m->d_model, m->eval.scale, &all, &d),
                          AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_dataset_split(all, m->eval.test_every, &train, &test), AIMC_OK);
    aimc_arch a;
    ideal_arch(&a);
    const size_t dm = (size_t)m->d_model, C = (size_t)m->n_classes, K = (size_t)m->top_k;
    cli_eval_opts eo = {.backend = "sim:", .seed = 1, .ntok = T, .batch = 4, .x0 = test->x,
                        .keep_outputs = 2};
    aimc_plan *p = NULL;
    aimc_rt_report *r = calloc(1, sizeof *r);
    cli_eval_out ex;
    CU_ASSERT_FATAL(r != NULL);
    int rc = cli_evaluate(&a, m, &eo, &p, NULL, r, &ex, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    CU_ASSERT_EQUAL(r->tokens, T);
    CU_ASSERT_FATAL(ex.outputs.inputs && ex.outputs.x && ex.outputs.layers && ex.outputs.logits && ex.outputs.experts);
    CU_ASSERT_EQUAL(memcmp(ex.outputs.inputs, test->x, T * dm * sizeof(float)), 0);
    CU_ASSERT_EQUAL(memcmp(ex.outputs.layers + (size_t)(m->layers - 1) * T * dm, ex.outputs.x,
                           T * dm * sizeof(float)), 0);
    /* each layer's change against the reference on the device's input of that layer */
    double *yr = malloc(T * dm * sizeof *yr);
    CU_ASSERT_FATAL(yr != NULL);
    double e2 = 0, y2 = 0;
    for (int l = 0; l < m->layers; l++) {
        const float *in = l ? ex.outputs.layers + (size_t)(l - 1) * T * dm : ex.outputs.inputs;
        const float *outl = ex.outputs.layers + (size_t)l * T * dm;
        CU_ASSERT_EQUAL(aimc_rt_layer_ref(m, l, in, T, yr, NULL), AIMC_OK);
        for (size_t i = 0; i < T * dm; i++) {
            const double e = ((double)outl[i] - in[i]) - yr[i];
            e2 += e * e;
            y2 += yr[i] * yr[i];
        }
    }
    CU_ASSERT(sqrt(e2 / y2) < 2e-4);
    /* the logits: the head on the hidden state; their argmax */
    const aimc_matrix *h = &m->m[aimc_model_head(m)];
    e2 = y2 = 0;
    size_t right = 0;
    for (size_t t = 0; t < T; t++) {
        size_t best = 0;
        for (size_t c = 0; c < C; c++) {
            double z = 0;
            for (size_t i = 0; i < dm; i++) z += (double)ex.outputs.x[t * dm + i] * h->w[i * C + c];
            e2 += (ex.outputs.logits[t * C + c] - z) * (ex.outputs.logits[t * C + c] - z);
            y2 += z * z;
            if (ex.outputs.logits[t * C + c] > ex.outputs.logits[t * C + best]) best = c;
        }
        right += best == (size_t)test->label[t];
        for (size_t j = 0; j < K; j++)
            CU_ASSERT(ex.outputs.experts[t * K + j] >= 0 && ex.outputs.experts[t * K + j] < m->n_experts);
    }
    CU_ASSERT(sqrt(e2 / y2) < 2e-4);
    CU_ASSERT(right >= T - 1); /* the classifier is 97 % right; these 12 are */
    /* the file */
    const char *path = aimc_test_path("dump.safetensors");
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    CU_ASSERT_EQUAL_FATAL(cli_dump_write(path, m, &a, 1, T, ex.outputs.inputs, ex.outputs.x, ex.outputs.layers,
                                         ex.outputs.logits, ex.outputs.experts, NULL, &d), AIMC_OK);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    static unsigned char buf[1 << 16];
    const size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    float *back = malloc(T * dm * sizeof *back);
    CU_ASSERT_FATAL(back != NULL);
    CU_ASSERT_EQUAL(aimc_st_read_tensor(buf, len, "dump", "hidden", T, (uint32_t)dm, 0, back, &d), AIMC_OK);
    CU_ASSERT_EQUAL(memcmp(back, ex.outputs.x, T * dm * sizeof *back), 0);
    CU_ASSERT_EQUAL(aimc_st_read_tensor(buf, len, "dump", "layers.0.hidden", T, (uint32_t)dm, 0, back, &d), AIMC_OK);
    CU_ASSERT_EQUAL(memcmp(back, ex.outputs.layers, T * dm * sizeof *back), 0);
    CU_ASSERT_EQUAL(aimc_st_read_tensor(buf, len, "dump", "logits", T, (uint32_t)C, 0, back, &d), AIMC_OK);
    CU_ASSERT_EQUAL(memcmp(back, ex.outputs.logits, T * C * sizeof *back), 0);
    /* the routing is I32: the header says so */
    CU_ASSERT_PTR_NOT_NULL(strstr((const char *)buf + 8, "\"experts\":{\"dtype\":\"I32\",\"shape\":[1,12,2]"));
    remove(path);
    free(back);
    free(yr);
    cli_outputs_free(&ex.outputs);
    cli_breakdown_free(&ex.breakdown);
    aimc_plan_free(p);
    free(r);
    aimc_dataset_free(test);
    aimc_dataset_free(train);
    aimc_dataset_free(all);
    aimc_model_free(m);
}

/* ---- the whole transformer: its parts, decoding, the KV cache ----------------------------- */

static const char *small_lm_text =
    "version: 1\nmodel:\n  name: small-lm\n  layers: 3\n  dense_layers: 1\n  dense_d_ff: 40\n"
    "  d_model: 48\n  routed_experts: 4\n  expert_d_ff: 40\n  top_k: 2\n  norm_weights: true\n"
    "  attention: {heads: 4, kv_heads: 2, head_dim: 12}\n  vocab: 50\n"
    "weights:\n  random: {seed: 7, distribution: normal}\n";

static int lm_eval(const aimc_arch *a, const aimc_model *m, size_t ntok, size_t prompt,
                   int generate, aimc_rt_report *r, cli_eval_out *ex)
{
    cli_eval_opts eo = {.backend = "sim:", .seed = 1, .ntok = ntok, .timing_only = 1, .batch = 1,
                        .prompt = prompt, .generate = generate};
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    int rc = cli_evaluate(a, m, &eo, &p, NULL, r, ex, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    aimc_plan_free(p);
    return rc;
}

/* The run by part of the model partitions its dynamic energy (each part present); a prompt is
 * one group and each generated token another, entering when the one before has finished, so
 * decoding is slower than letting them overlap; the off-chip KV memory's energy is its bytes
 * by hand: 3 layers of 2 kv heads x (12 keys + 12 values) x 4 bytes = 192 bytes a position;
 * a prompt of 4 then 4 tokens one by one read 0, 4, 5, 6, 7 positions before them and write
 * the 8 new ones: 30 positions, 17280 bytes, at 31.2 pJ each. */
static void test_lm_parts_and_kv(void)
{
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(small_lm_text, "lm.yaml", 0, &m, &d), AIMC_OK);
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.hierarchy.chips_auto = 1;
    aimc_rt_report *r = calloc(3, sizeof *r);
    cli_eval_out ex;
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT_EQUAL_FATAL(lm_eval(&a, m, 8, 4, 1, &r[0], &ex), AIMC_OK);
    CU_ASSERT_EQUAL(r[0].groups, 5);
    CU_ASSERT_EQUAL(r[0].first_tokens, 4);
    double mp[CLI_MP_COUNT], sum = 0, total = 0;
    cli_model_parts(m, &ex.breakdown, r[0].cost.energy_pj, mp);
    for (int q = 0; q < CLI_MP_COUNT; q++) {
        CU_ASSERT(mp[q] > 0);
        sum += mp[q];
    }
    for (int q = 0; q < AIMC_PART_COUNT; q++) total += r[0].cost.energy_pj[q];
    CU_ASSERT(fabs(sum - total) <= 1e-9 * total);
    cli_breakdown_free(&ex.breakdown);
    /* the same tokens overlapping (each enters once the one before has issued its layers) */
    CU_ASSERT_EQUAL_FATAL(lm_eval(&a, m, 8, 4, 0, &r[1], &ex), AIMC_OK);
    cli_breakdown_free(&ex.breakdown);
    CU_ASSERT(r[0].makespan_cycles > r[1].makespan_cycles);
    /* the KV memory's energy per byte, off */
    a.kv_cache.energy_pj_per_byte = 0;
    CU_ASSERT_EQUAL_FATAL(lm_eval(&a, m, 8, 4, 1, &r[2], &ex), AIMC_OK);
    cli_breakdown_free(&ex.breakdown);
    const double kv = r[0].cost.energy_pj[AIMC_PART_BUFFER] - r[2].cost.energy_pj[AIMC_PART_BUFFER];
    CU_ASSERT_DOUBLE_EQUAL(kv, 17280 * 31.2, 1e-6 * 17280 * 31.2);
    free(r);
    aimc_model_free(m);
}

/* A language model without eval.context (small-lm, as the public models' files): its 100
 * random ids are one sequence, not windows of 64 each restarting at position 0. Teacher
 * forcing prefills them in one group of 100. With a prompt of 4 and the others one by one,
 * the token at position p reads the p positions before it: 4 + 5 + ... + 99 = 4944 positions
 * read and 100 written, at 576 bytes a position (3 layers x 2 kv heads x (12 + 12) x 4 bytes)
 * and 31.2 pJ a byte off chip. Windows of 64 would read 4 + ... + 63 and 4 + ... + 35, 2634
 * positions, in 94 groups. */
static void test_lm_one_sequence(void)
{
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(small_lm_text, "lm.yaml", 0, &m, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(m->eval.context, 0);
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.hierarchy.chips_auto = 1;
    aimc_rt_report *r = calloc(3, sizeof *r);
    cli_eval_out ex;
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT_EQUAL_FATAL(lm_eval(&a, m, 100, 0, 0, &r[0], &ex), AIMC_OK);
    cli_breakdown_free(&ex.breakdown);
    CU_ASSERT_EQUAL(r[0].tokens, 100);
    CU_ASSERT_EQUAL(r[0].groups, 1);
    CU_ASSERT_EQUAL(r[0].first_tokens, 100);
    CU_ASSERT_EQUAL_FATAL(lm_eval(&a, m, 100, 4, 0, &r[1], &ex), AIMC_OK);
    cli_breakdown_free(&ex.breakdown);
    CU_ASSERT_EQUAL(r[1].groups, 97);
    CU_ASSERT_EQUAL(r[1].first_tokens, 4);
    a.kv_cache.energy_pj_per_byte = 0;
    CU_ASSERT_EQUAL_FATAL(lm_eval(&a, m, 100, 4, 0, &r[2], &ex), AIMC_OK);
    cli_breakdown_free(&ex.breakdown);
    const double kv = r[1].cost.energy_pj[AIMC_PART_BUFFER] - r[2].cost.energy_pj[AIMC_PART_BUFFER];
    const double want = (4944.0 + 100.0) * 576 * 31.2;
    CU_ASSERT_DOUBLE_EQUAL(kv, want, 1e-6 * want);
    free(r);
    aimc_model_free(m);
}

/* A teacher-forced window longer than one command takes stays one sequence, prefilled in the
 * largest group every command fits (aimc_rt_group_max): 16 heads of 1024 make a token's new
 * keys and values 32768 floats, so 2^24 / 32768 = 512 tokens a group; 600 ids run as 512 and
 * 88 (they were refused: "run fewer tokens per group", with no batch or prompt set). */
static void test_lm_window_in_groups(void)
{
    static const char *text = "version: 1\nmodel: {name: wide-lm, layers: 1, d_model: 64, "
                              "routed_experts: 2, expert_d_ff: 32, top_k: 1, vocab: 16, "
                              "attention: {heads: 16, head_dim: 1024}}\n";
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(text, "wide-lm.yaml", 0, &m, &d), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_rt_group_max(m, 600, 65536, 1u << 24), 512);
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.hierarchy.chips_auto = 1;
    aimc_rt_report *r = calloc(1, sizeof *r);
    cli_eval_out ex;
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT_EQUAL_FATAL(lm_eval(&a, m, 600, 0, 0, r, &ex), AIMC_OK);
    cli_breakdown_free(&ex.breakdown);
    CU_ASSERT_EQUAL(r->tokens, 600);
    CU_ASSERT_EQUAL(r->groups, 2);
    CU_ASSERT_EQUAL(r->first_tokens, 512);
    free(r);
    aimc_model_free(m);
}

/* ---- the language model's training ------------------------------------------------------- */

/* The gradient of a tiny LM (2 layers, 2 heads of 4, 3 experts top-2, d_ff 6, vocabulary 16,
 * a window of 7) against central differences, every 7th parameter: within 2e-3 + 2 % (the
 * loss is computed in float layers, so h = 1e-2; a routing decision flipped by the step would
 * show as a miss, and none does here). */
static void test_lm_gradient(void)
{
    const aimc_lm_shape s = {.vocab = 16, .d_model = 8, .layers = 2, .heads = 2, .n_experts = 3,
                             .top_k = 2, .d_ff = 6, .context = 7};
    aimc_lm *lm = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_lm_create(&s, 5, &lm), AIMC_OK);
    const uint8_t ids[7] = {3, 14, 1, 5, 9, 2, 6};
    float *g = malloc(lm->n_params * sizeof *g), *g2 = malloc(lm->n_params * sizeof *g2);
    CU_ASSERT_FATAL(g && g2);
    const double l0 = aimc_lm_loss_grad(lm, ids, 7, g);
    CU_ASSERT(isfinite(l0) && l0 > 0);
    size_t checked = 0, bad = 0;
    const double h = 1e-2;
    for (size_t i = 0; i < lm->n_params; i += 7) {
        const float keep = lm->storage[i];
        lm->storage[i] = (float)(keep + h);
        const double lp = aimc_lm_loss_grad(lm, ids, 7, g2);
        lm->storage[i] = (float)(keep - h);
        const double lmn = aimc_lm_loss_grad(lm, ids, 7, g2);
        lm->storage[i] = keep;
        const double fd = (lp - lmn) / (2 * h);
        checked++;
        if (fabs(fd - g[i]) > 2e-3 + 0.02 * fabs(fd)) {
            bad++;
            fprintf(stderr, "\n  param %zu: analytic %g, numeric %g", i, g[i], fd);
        }
    }
    CU_ASSERT(checked > 100);
    CU_ASSERT_EQUAL(bad, 0);
    free(g);
    free(g2);
    aimc_lm_free(lm);
}

/* The committed byte-level language model on 256 bytes of its held-out text: in float a
 * perplexity near its training report (below 5), and on the ideal machine (16-bit weights and
 * inputs, an ADC resolving every level) the same perplexity within 1 % and next-byte
 * accuracy within 2 points: the machine adds only 16-bit rounding (rel. error about 1e-4 on
 * the logits, a change of at most a few hundredths of a nat on a token). And the corpus split
 * by hand: 237,320 bytes in 464 chunks of 512, every 10th held out. */
static void test_bytes_lm(void)
{
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_model_load("models/bytes-lm.yaml", 1, &m, &d), AIMC_OK);
    CU_ASSERT_EQUAL(m->vocab, 256);
    CU_ASSERT_EQUAL(m->eval.context, 64);
    aimc_arch a;
    ideal_arch(&a);
    a.hierarchy.chips_auto = 1;
    cli_eval_opts eo = {.backend = "sim:", .seed = 1, .ntok = 256, .batch = 1};
    aimc_plan *p = NULL;
    aimc_rt_report *r = calloc(1, sizeof *r);
    CU_ASSERT_FATAL(r != NULL);
    int rc = cli_evaluate(&a, m, &eo, &p, NULL, r, NULL, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    CU_ASSERT_EQUAL(r->tokens, 256);
    CU_ASSERT_EQUAL(r->scored, 256 - 4); /* 4 windows of 64, the last of each unscored */
    CU_ASSERT(r->lm);
    CU_ASSERT(r->perplexity_float > 1.5 && r->perplexity_float < 5.0);
    CU_ASSERT(fabs(r->perplexity_hw - r->perplexity_float) <= 0.01 * r->perplexity_float);
    CU_ASSERT(fabs(r->accuracy_hw - r->accuracy_float) <= 0.02);
    if (getenv("RT_SHOW"))
        fprintf(stderr, "\n  bytes-lm: perplexity %.4f on the ideal machine, %.4f in float\n",
                r->perplexity_hw, r->perplexity_float);
    uint8_t *text = NULL, *tr = NULL, *te = NULL;
    size_t len = 0, ntr = 0, nte = 0;
    CU_ASSERT_EQUAL_FATAL(aimc_text_load("/usr/share/common-licenses", &text, &len, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_text_split(text, len, 512, 10, &tr, &ntr, &te, &nte), AIMC_OK);
    CU_ASSERT_EQUAL(ntr + nte, len);
    CU_ASSERT_EQUAL(nte, ((len + 511) / 512 + 9) / 10 * 512 - (len % 512 && ((len + 511) / 512 - 1) % 10 == 0 ? 512 - len % 512 : 0));
    CU_ASSERT_EQUAL(memcmp(te, text, 512), 0);           /* chunk 0 */
    CU_ASSERT_EQUAL(memcmp(tr, text + 512, 512), 0);     /* chunk 1 */
    CU_ASSERT_EQUAL(memcmp(te + 512, text + 5120, 512), 0); /* chunk 10 */
    free(text);
    free(tr);
    free(te);
    aimc_plan_free(p);
    free(r);
    aimc_model_free(m);
}

/* --dump-outputs of a language model: bytes-lm (eval.context 64) on 100 given ids on the
 * ideal machine runs windows of 64 and 36, and the outputs are those of the ids as run: the
 * ids, their embedding rows as inputs, and per window the hidden state and logits of the
 * float model on that window as a sequence from position 0 (within 1e-3 rms relative: 16-bit
 * rounding); the perplexity of the dumped logits on the next ids within each window (98
 * scored) is the run's. The file holds the ids as I32. */
static void test_lm_dump_outputs(void)
{
    enum { N = 100, W = 64 };
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_model_load("models/bytes-lm.yaml", 1, &m, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(m->eval.context, W);
    const size_t dm = (size_t)m->d_model, V = (size_t)m->vocab;
    int ids[N];
    const char *text = "The quick brown fox jumps over the lazy dog; ";
    for (size_t i = 0; i < N; i++) ids[i] = (unsigned char)text[i % strlen(text)];
    aimc_arch a;
    ideal_arch(&a);
    a.hierarchy.chips_auto = 1;
    cli_eval_opts eo = {.backend = "sim:", .seed = 1, .batch = 1, .ids = ids, .n_ids = N,
                        .keep_outputs = 1};
    aimc_plan *p = NULL;
    aimc_rt_report *r = calloc(1, sizeof *r);
    cli_eval_out ex;
    CU_ASSERT_FATAL(r != NULL);
    int rc = cli_evaluate(&a, m, &eo, &p, NULL, r, &ex, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    const cli_outputs *op = &ex.outputs;
    CU_ASSERT_EQUAL(r->tokens, N);
    CU_ASSERT_EQUAL(r->scored, N - 2);
    CU_ASSERT_EQUAL_FATAL(op->ntok, N);
    CU_ASSERT_FATAL(op->inputs && op->x && op->logits && op->experts && op->ids);
    CU_ASSERT_PTR_NULL(op->layers);
    CU_ASSERT_EQUAL(memcmp(op->ids, ids, sizeof ids), 0);
    for (size_t t = 0; t < N; t++)
        CU_ASSERT_EQUAL(memcmp(op->inputs + t * dm, m->embed + (size_t)ids[t] * dm,
                               dm * sizeof *op->inputs), 0);
    float *xr = malloc(W * dm * sizeof *xr);
    double *zr = malloc(W * V * sizeof *zr);
    CU_ASSERT_FATAL(xr && zr);
    double ex2 = 0, x2 = 0, ez2 = 0, z2 = 0, nll = 0;
    for (size_t w0 = 0; w0 < N; w0 += W) {
        const size_t wn = N - w0 < W ? N - w0 : W;
        CU_ASSERT_EQUAL_FATAL(aimc_rt_forward_ref(m, op->inputs + w0 * dm, wn, xr, NULL, zr),
                              AIMC_OK);
        for (size_t i = 0; i < wn * dm; i++) {
            const double e = (double)op->x[w0 * dm + i] - xr[i];
            ex2 += e * e;
            x2 += (double)xr[i] * xr[i];
        }
        for (size_t i = 0; i < wn * V; i++) {
            const double e = (double)op->logits[w0 * V + i] - zr[i];
            ez2 += e * e;
            z2 += zr[i] * zr[i];
        }
        for (size_t t = 0; t + 1 < wn; t++) { /* -log softmax of the next id */
            const float *z = op->logits + (w0 + t) * V;
            double mx = z[0], sum = 0;
            for (size_t v = 1; v < V; v++) mx = z[v] > mx ? z[v] : mx;
            for (size_t v = 0; v < V; v++) sum += exp(z[v] - mx);
            nll += log(sum) + mx - z[ids[w0 + t + 1]];
        }
    }
    CU_ASSERT(sqrt(ex2 / x2) < 1e-3);
    CU_ASSERT(sqrt(ez2 / z2) < 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(exp(nll / (N - 2)), r->perplexity_hw, 1e-6 * r->perplexity_hw);
    for (size_t i = 0; i < (size_t)(m->layers - m->dense_layers) * N * (size_t)m->top_k; i++)
        CU_ASSERT(op->experts[i] >= 0 && op->experts[i] < m->n_experts);
    const char *path = aimc_test_path("lm_dump.safetensors");
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    CU_ASSERT_EQUAL_FATAL(cli_dump_write(path, m, &a, 1, op->ntok, op->inputs, op->x, NULL,
                                         op->logits, op->experts, op->ids, &d), AIMC_OK);
    FILE *f = fopen(path, "rb");
    CU_ASSERT_FATAL(f != NULL);
    static char buf[4096];
    const size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    CU_ASSERT_PTR_NOT_NULL(strstr(buf + 8, "\"ids\":{\"dtype\":\"I32\",\"shape\":[100]"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf + 8, "\"logits\":{\"dtype\":\"F32\",\"shape\":[100,256]"));
    remove(path);
    free(xr);
    free(zr);
    cli_outputs_free(&ex.outputs);
    cli_breakdown_free(&ex.breakdown);
    aimc_plan_free(p);
    free(r);
    aimc_model_free(m);
}

int test_run_register(void)
{
    AIMC_SUITE("run", {"ideal machine matches the reference", test_run_ideal_matches_reference},
               {"driver MVM exact to 1e-5", test_driver_mvm_exact},
               {"digits classifier accuracy", test_digits_classifier},
               {"error grows with non-idealities", test_run_error_grows_with_nonidealities},
               {"deterministic for a seed", test_run_deterministic},
               {"layer reference by hand", test_layer_reference_by_hand},
               {"peak figures by hand", test_peak_by_hand},
               {"peak agrees with a simulated tile", test_peak_matches_simulated_tile},
               {"tokens file: values, and each bad line's message", test_tokens_file},
               {"ids file: text up to 65536 bytes, NUL bytes, the limits' messages",
                test_ids_file},
               {"dump outputs: what the run gave, layer by layer", test_dump_outputs},
               {"language model: parts of the model, decoding, KV bytes by hand",
                test_lm_parts_and_kv},
               {"a window longer than a command takes: one sequence in groups that fit",
                test_lm_window_in_groups},
               {"language model without eval.context: one sequence, KV bytes by hand",
                test_lm_one_sequence},
               {"language model: gradient matches finite differences", test_lm_gradient},
               {"bytes-lm: ideal machine = float perplexity (1 %), the corpus split",
                test_bytes_lm},
               {"dump outputs of a language model: its windows' ids, logits, hidden",
                test_lm_dump_outputs});
    return 0;
}
