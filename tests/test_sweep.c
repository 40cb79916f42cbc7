/* test_sweep.c - design-space sweeps: spec parsing and its errors, sampling (grid, random,
 * Latin hypercube), the Pareto front, and the append log's format, checksums and resume. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sweep.h"
#include "tests.h"

static const char *spec_text =
    "version: 1\n"
    "name: t\n"
    "base: {tokens: 2, seed: 5, set: [device.read_sigma_us=0.1]}\n"
    "vary:\n"
    "  - key: adc.bits\n"
    "    values: [4, 6, 8]\n"
    "  - keys: [crossbar.rows, crossbar.cols]\n"
    "    log_range: [64, 512, 2]\n"
    "  - key: device.program_sigma_us\n"
    "    range: [0.0, 0.3, 0.1]\n"
    "metrics: [energy_pj_per_token, rel_rms_error, peak_tops_per_w]\n"
    "objectives: {energy_pj_per_token: min, peak_tops_per_w: max}\n";

static sweep_spec *load(const char *text, aimc_diag *d, int *rc)
{
    sweep_spec *s = calloc(1, sizeof *s);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    *rc = sweep_spec_load_string(text, "t.yaml", s, d);
    return s;
}

static void unload(sweep_spec *s)
{
    sweep_spec_free(s);
    free(s);
}

static void test_spec_parse(void)
{
    aimc_diag d = {{0}};
    int rc;
    sweep_spec *s = load(spec_text, &d, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    CU_ASSERT_STRING_EQUAL(s->name, "t");
    CU_ASSERT_EQUAL(s->tokens, 2);
    CU_ASSERT_EQUAL(s->seed, 5);
    CU_ASSERT_EQUAL(s->n_sets, 1);
    CU_ASSERT_EQUAL(s->n_dims, 3);
    CU_ASSERT_EQUAL(s->method, SWEEP_GRID);
    /* 3 x (64, 128, 256, 512) x (0, 0.1, 0.2, 0.3) */
    CU_ASSERT_EQUAL(s->dims[1].n_values, 4);
    CU_ASSERT_STRING_EQUAL(s->dims[1].values[3 * 2 + 1], "512");
    CU_ASSERT_EQUAL(s->dims[2].n_values, 4);
    CU_ASSERT_STRING_EQUAL(s->dims[2].values[3], "0.3"); /* not 0.30000000000000004 */
    CU_ASSERT_EQUAL(s->n_points, 48);
    CU_ASSERT_EQUAL(sweep_value_columns(s), 4);
    CU_ASSERT_STRING_EQUAL(sweep_value_column(s, 2), "crossbar.cols");
    CU_ASSERT_EQUAL(s->n_metrics, 3);
    CU_ASSERT_EQUAL(s->n_objectives, 2);
    CU_ASSERT_EQUAL(s->obj[1], 2);
    CU_ASSERT_EQUAL(s->obj_max[1], 1);
    CU_ASSERT_EQUAL(s->plot_x, 0);
    CU_ASSERT_EQUAL(s->plot_y, 2);
    /* grid: the last dimension varies fastest */
    sweep_point p;
    CU_ASSERT_EQUAL(sweep_point_get(s, 0, &p), AIMC_OK);
    CU_ASSERT_STRING_EQUAL(p.vals[0], "4");
    CU_ASSERT_STRING_EQUAL(p.vals[1], "64");
    CU_ASSERT_STRING_EQUAL(p.vals[3], "0");
    CU_ASSERT_EQUAL(sweep_point_get(s, 1 * 16 + 2 * 4 + 3, &p), AIMC_OK);
    CU_ASSERT_STRING_EQUAL(p.vals[0], "6");
    CU_ASSERT_STRING_EQUAL(p.vals[1], "256");
    CU_ASSERT_STRING_EQUAL(p.vals[2], "256");
    CU_ASSERT_STRING_EQUAL(p.vals[3], "0.3");
    CU_ASSERT_EQUAL(sweep_point_get(s, 48, &p), AIMC_ERR_RANGE);
    /* the point's machine: base set, then the varied keys */
    aimc_arch a;
    uint64_t seed = 0;
    CU_ASSERT_EQUAL(sweep_point_arch(s, &p, &a, &seed, &d), AIMC_OK);
    CU_ASSERT_EQUAL(a.adc.bits, 6);
    CU_ASSERT_EQUAL(a.crossbar.rows, 256);
    CU_ASSERT_EQUAL(a.crossbar.cols, 256);
    CU_ASSERT_DOUBLE_EQUAL(a.device.program_sigma_us, 0.3, 0);
    CU_ASSERT_DOUBLE_EQUAL(a.device.read_sigma_us, 0.1, 0);
    CU_ASSERT_EQUAL(seed, 5);
    unload(s);
}

/* A combination the config rules refuse is the point's error, with the rule's message. */
static void test_point_invalid_combination(void)
{
    aimc_diag d = {{0}};
    int rc;
    sweep_spec *s = load("version: 1\n"
                         "vary:\n"
                         "  - key: crossbar.cols\n"
                         "    values: [8, 64]\n"
                         "  - key: seed\n"
                         "    values: [7]\n",
                         &d, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    sweep_point p;
    aimc_arch a;
    uint64_t seed = 0;
    sweep_point_get(s, 0, &p);
    CU_ASSERT_EQUAL(sweep_point_arch(s, &p, &a, &seed, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "adc.per_crossbar: must be at most"));
    sweep_point_get(s, 1, &p);
    CU_ASSERT_EQUAL(sweep_point_arch(s, &p, &a, &seed, &d), AIMC_OK);
    CU_ASSERT_EQUAL(seed, 7);
    unload(s);
}

static const struct {
    const char *text, *msg;
} bad_specs[] = {
    {"version: 1\nvary:\n  - key: adc.bitz\n    values: [4]\n",
     "t.yaml:3:10: vary[0]: adc.bitz: unknown key; did you mean adc.bits?"},
    {"version: 1\nvary:\n  - key: adc.bits\n    values: [4, 99]\n",
     "t.yaml:4:17: vary[0].values[1]: --set adc.bits=99: adc.bits: expected an integer in "
     "1..16, got 99"},
    {"version: 1\nvary:\n  - keys: [crossbar.rows, crossbar.cols]\n    values: [[64, 64, 1]]\n",
     "t.yaml:4:14: vary[0].values[0]: expected a scalar or a sequence of 2 values (one per "
     "key), got a sequence"},
    {"version: 1\nvary:\n  - key: device.read_sigma_us\n    range: [0.0, 0.5]\n",
     "t.yaml:3:5: vary[0]: a range without a step has no grid; give a step or use "
     "sampling.method random or lhs"},
    {"version: 1\nvary:\n  - key: adc.bits\n    values: [4]\nmetrics: [energy_pj_per_tokn]\n",
     "t.yaml:5:11: metrics[0]: unknown metric energy_pj_per_tokn; did you mean "
     "energy_pj_per_token?"},
    {"version: 1\nvary:\n  - key: adc.bits\n    values: [4]\nmetrics: [rel_rms_error]\n"
     "objectives: {chip_area_mm2: min}\n",
     "t.yaml:6:14: objectives.chip_area_mm2: not a recorded metric (add it to metrics)"},
    {"version: 1\nvary:\n  - key: dac.mode\n    range: [1, 2, 1]\n",
     "t.yaml:4:12: vary[0].range: dac.mode is not numeric; list its values instead"},
    {"version: 1\nvary:\n  - key: adc.bits\n    log_range: [0, 8, 2]\n",
     "t.yaml:4:16: vary[0].log_range: lo must be positive for a log range, got 0"},
    {"version: 1\nvary:\n  - key: adc.bits\n    values: [4]\nsampling: {method: lhs}\n",
     "t.yaml: missing required key sampling.points"},
    {"version: 1\nvary:\n  - key: adc.bits\n    values: [4]\n  - key: adc.bits\n    values: [5]\n",
     "t.yaml:5:5: vary[1]: adc.bits is already varied by vary[0]"},
    {"version: 1\nvary: []\n", "t.yaml:2:7: vary: expected a sequence of 1..16 entries, got a sequence"},
    {"version: 1\nvary:\n  - key: adc.bits\n    values: [4]\nsampling: {method: sobol}\n",
     "t.yaml:5:20: sampling.method: expected one of grid, random, lhs, got \"sobol\""},
};

static void test_spec_errors(void)
{
    for (size_t i = 0; i < sizeof bad_specs / sizeof bad_specs[0]; i++) {
        aimc_diag d = {{0}};
        int rc;
        sweep_spec *s = load(bad_specs[i].text, &d, &rc);
        CU_ASSERT_EQUAL(rc, AIMC_ERR_CONFIG);
        if (strcmp(d.msg, bad_specs[i].msg)) {
            fprintf(stderr, "\nspec %zu:\n  got:  %s\n  want: %s\n", i, d.msg, bad_specs[i].msg);
            CU_FAIL("message differs");
        }
        unload(s);
    }
}

#define N_RANDOM 4000

static const char *random_spec =
    "version: 1\n"
    "vary:\n"
    "  - key: device.read_sigma_us\n"
    "    range: [0.0, 1.0]\n"
    "  - key: crossbar.rows\n"
    "    range: [1, 4096]\n"
    "  - key: device.g_max_us\n"
    "    log_range: [1, 100]\n"
    "  - key: adc.bits\n"
    "    values: [4, 6, 8, 10]\n"
    "sampling: {method: random, points: 4000, seed: 11}\n";

static void test_sampling_random(void)
{
    aimc_diag d = {{0}};
    int rc;
    sweep_spec *s = load(random_spec, &d, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    CU_ASSERT_EQUAL(s->n_points, N_RANDOM);
    double sum_u = 0, sum_log = 0;
    size_t count_bits[4] = {0};
    sweep_point p, q;
    for (uint64_t i = 0; i < N_RANDOM; i++) {
        sweep_point_get(s, i, &p);
        double u = strtod(p.vals[0], NULL);
        CU_ASSERT(u >= 0 && u <= 1);
        sum_u += u;
        char *end;
        long rows = strtol(p.vals[1], &end, 10); /* an integer key gets integers */
        CU_ASSERT(*end == '\0' && rows >= 1 && rows <= 4096);
        double g = strtod(p.vals[2], NULL);
        CU_ASSERT(g >= 1 && g <= 100);
        sum_log += log10(g); /* log-uniform: log10 g uniform on [0, 2] */
        int b = atoi(p.vals[3]);
        CU_ASSERT(b == 4 || b == 6 || b == 8 || b == 10);
        if (b >= 4 && b <= 10 && b % 2 == 0) count_bits[(b - 4) / 2]++;
    }
    /* means within 4 standard errors: uniform(0,1) sd sqrt(1/12); uniform(0,2) sd 2 sqrt(1/12) */
    double se = sqrt(1.0 / 12.0 / N_RANDOM);
    CU_ASSERT(fabs(sum_u / N_RANDOM - 0.5) < 4 * se);
    CU_ASSERT(fabs(sum_log / N_RANDOM - 1.0) < 4 * 2 * se);
    /* each list value with probability 1/4: binomial sd sqrt(n p (1-p)) */
    double sd = sqrt(N_RANDOM * 0.25 * 0.75);
    for (int k = 0; k < 4; k++) CU_ASSERT(fabs((double)count_bits[k] - N_RANDOM / 4.0) < 4 * sd);
    /* a point's values are a function of (seed, index) only: ask in another order */
    sweep_point_get(s, 1234, &p);
    sweep_point_get(s, 7, &q);
    sweep_point_get(s, 1234, &q);
    for (size_t c = 0; c < p.n; c++) CU_ASSERT_STRING_EQUAL(p.vals[c], q.vals[c]);
    /* another seed gives other values */
    char *other = strdup(random_spec);
    CU_ASSERT_PTR_NOT_NULL_FATAL(other);
    *strstr(other, "seed: 11") = '\0';
    char text[1024];
    snprintf(text, sizeof text, "%sseed: 12}\n", other);
    free(other);
    sweep_spec *s2 = load(text, &d, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    sweep_point_get(s2, 1234, &q);
    CU_ASSERT_STRING_NOT_EQUAL(p.vals[0], q.vals[0]);
    unload(s2);
    unload(s);
}

/* Latin hypercube: with N points every one of the N strata of every dimension holds exactly
 * one point. */
static void test_sampling_lhs(void)
{
    enum { N = 50 };
    aimc_diag d = {{0}};
    int rc;
    sweep_spec *s = load("version: 1\n"
                         "vary:\n"
                         "  - key: device.read_sigma_us\n"
                         "    range: [0.0, 1.0]\n"
                         "  - key: device.g_max_us\n"
                         "    log_range: [1, 100]\n"
                         "  - key: adc.bits\n"
                         "    values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                         "sampling: {method: lhs, points: 50, seed: 3}\n",
                         &d, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    int strata0[N] = {0}, strata1[N] = {0}, bits[11] = {0};
    sweep_point p;
    for (uint64_t i = 0; i < N; i++) {
        sweep_point_get(s, i, &p);
        int k0 = (int)(strtod(p.vals[0], NULL) * N);
        int k1 = (int)(log10(strtod(p.vals[1], NULL)) / 2.0 * N);
        if (k0 >= 0 && k0 < N) strata0[k0]++;
        if (k1 >= 0 && k1 < N) strata1[k1]++;
        int b = atoi(p.vals[2]);
        if (b >= 1 && b <= 10) bits[b]++;
    }
    for (int k = 0; k < N; k++) {
        CU_ASSERT_EQUAL(strata0[k], 1);
        CU_ASSERT_EQUAL(strata1[k], 1);
    }
    for (int b = 1; b <= 10; b++) CU_ASSERT_EQUAL(bits[b], N / 10); /* 5 strata per value */
    unload(s);
}

/* ---- Pareto front ------------------------------------------------------------------------ */

static void test_pareto(void)
{
    aimc_diag d = {{0}};
    int rc;
    sweep_spec *s = load("version: 1\n"
                         "vary:\n"
                         "  - key: adc.bits\n"
                         "    range: [1, 7, 1]\n"
                         "metrics: [energy_pj_per_token, rel_rms_error, peak_tops]\n"
                         "objectives: {energy_pj_per_token: min, rel_rms_error: min}\n",
                         &d, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(s->n_points, 7);
    sweep_results r;
    CU_ASSERT_EQUAL_FATAL(sweep_results_init(&r, 7, 3), AIMC_OK);
    /* (energy, error): 0 (1, 5) front; 1 (2, 4) front; 2 (2, 6) dominated by 1; 3 (4, 1) front;
     * 4 (4, 1) equal to 3: front too; 5 error; 6 (0.5, nan): not comparable, off the front */
    static const double e[7] = {1, 2, 2, 4, 4, 0, 0.5}, err[7] = {5, 4, 6, 1, 1, 0, NAN};
    for (int i = 0; i < 7; i++) {
        char line[512];
        double m[3] = {e[i], err[i], 1};
        int len = i == 5 ? sweep_log_format(s, (uint64_t)i, 0, NULL, "model does not fit", line,
                                            sizeof line)
                         : sweep_log_format(s, (uint64_t)i, 1, m, NULL, line, sizeof line);
        CU_ASSERT_FATAL(len > 0);
        CU_ASSERT_EQUAL(sweep_results_add(s, &r, line, (size_t)len), AIMC_OK);
    }
    sweep_pareto(s, &r);
    static const unsigned char want[7] = {1, 1, 0, 1, 1, 0, 0};
    for (int i = 0; i < 7; i++) CU_ASSERT_EQUAL(r.pareto[i], want[i]);
    /* maximise the error instead: the front turns over */
    s->obj_max[1] = 1;
    sweep_pareto(s, &r);
    static const unsigned char want2[7] = {1, 0, 1, 0, 0, 0, 0};
    for (int i = 0; i < 7; i++) CU_ASSERT_EQUAL(r.pareto[i], want2[i]);
    sweep_results_free(&r);
    unload(s);
}

/* ---- the append log --------------------------------------------------------------------- */

static void test_crc32(void)
{
    /* the CRC-32 check value of the catalogue of parametrised CRCs */
    CU_ASSERT_EQUAL(sweep_crc32("123456789", 9), 0xCBF43926u);
    CU_ASSERT_EQUAL(sweep_crc32("", 0), 0u);
}

static const char *log_spec =
    "version: 1\n"
    "vary:\n"
    "  - key: adc.bits\n"
    "    range: [1, 6, 1]\n"
    "metrics: [energy_pj_per_token, rel_rms_error]\n";

static void test_log_line(void)
{
    aimc_diag d = {{0}};
    int rc;
    sweep_spec *s = load(log_spec, &d, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    sweep_results r;
    CU_ASSERT_EQUAL_FATAL(sweep_results_init(&r, s->n_points, s->n_metrics), AIMC_OK);
    char line[512];
    double m[2] = {0.1 + 0.2, 1.0 / 3.0}; /* need all 17 digits to read back */
    int len = sweep_log_format(s, 4, 1, m, NULL, line, sizeof line);
    CU_ASSERT_FATAL(len > 0 && line[len - 1] == '\n');
    /* a flipped byte, a torn line, a wrong field count: refused */
    char bad[512];
    memcpy(bad, line, (size_t)len);
    bad[3] ^= 1;
    CU_ASSERT_EQUAL(sweep_log_read_line(s, bad, (size_t)len - 1, &r), AIMC_ERR_PARSE);
    CU_ASSERT_EQUAL(sweep_log_read_line(s, line, (size_t)len - 6, &r), AIMC_ERR_PARSE);
    CU_ASSERT_EQUAL(r.n_done, 0);
    CU_ASSERT_EQUAL(sweep_log_read_line(s, line, (size_t)len - 1, &r), AIMC_OK);
    CU_ASSERT_EQUAL(r.n_done, 1);
    CU_ASSERT(r.done[4] && r.ok[4]);
    CU_ASSERT(r.m[4 * 2 + 0] == m[0]); /* exact */
    CU_ASSERT(r.m[4 * 2 + 1] == m[1]);
    /* the same point again: a duplicate, ignored */
    CU_ASSERT_EQUAL(sweep_log_read_line(s, line, (size_t)len - 1, &r), AIMC_OK);
    CU_ASSERT_EQUAL(r.n_done, 1);
    CU_ASSERT_EQUAL(r.n_duplicate, 1);
    /* an error line keeps its message on one line */
    len = sweep_log_format(s, 2, 0, NULL, "bad\tthing\nhere", line, sizeof line);
    CU_ASSERT_EQUAL(sweep_results_add(s, &r, line, (size_t)len), AIMC_OK);
    CU_ASSERT(r.done[2] && !r.ok[2]);
    CU_ASSERT_STRING_EQUAL(r.error[2], "bad thing here");
    /* an index outside the sweep */
    len = sweep_log_format(s, 6, 1, m, NULL, line, sizeof line);
    CU_ASSERT_EQUAL(sweep_results_add(s, &r, line, (size_t)len), AIMC_ERR_PARSE);
    sweep_results_free(&r);
    unload(s);
}

static size_t file_read(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n;
}

static void test_log_resume(void)
{
    aimc_diag d = {{0}};
    int rc;
    sweep_spec *s = load(log_spec, &d, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    char dir[] = "/tmp/aimc-test-sweep-XXXXXX";
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    char path[128], csv[128];
    snprintf(path, sizeof path, "%s/s.log", dir);
    snprintf(csv, sizeof csv, "%s/s.csv", dir);
    sweep_results r;
    int fd;
    CU_ASSERT_EQUAL_FATAL(sweep_results_init(&r, s->n_points, s->n_metrics), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(sweep_log_open(s, path, 0, &r, &fd, &d), AIMC_OK);
    CU_ASSERT_EQUAL(r.n_done, 0);
    /* a second opener is refused while the first holds the log */
    sweep_results r2;
    int fd2;
    CU_ASSERT_EQUAL_FATAL(sweep_results_init(&r2, s->n_points, s->n_metrics), AIMC_OK);
    CU_ASSERT_EQUAL(sweep_log_open(s, path, 0, &r2, &fd2, &d), AIMC_ERR_IO);
    sweep_results_free(&r2);
    char line[512];
    for (uint64_t i = 0; i < 4; i++) {
        double m[2] = {(double)i, 10.0 + (double)i};
        int len = sweep_log_format(s, i, 1, m, NULL, line, sizeof line);
        CU_ASSERT_EQUAL(sweep_log_append(fd, line, (size_t)len, &d), AIMC_OK);
    }
    /* the process dies inside a write: half a line at the end */
    double m5[2] = {5, 15};
    int len5 = sweep_log_format(s, 5, 1, m5, NULL, line, sizeof line);
    CU_ASSERT_EQUAL(sweep_log_append(fd, line, (size_t)len5 / 2, &d), AIMC_OK);
    close(fd);
    sweep_results_free(&r);
    /* corrupt point 1's line (a digit of its metrics) */
    char buf[4096];
    size_t n = file_read(path, buf, sizeof buf);
    char *l1 = strstr(buf, "\n1\tok\t");
    CU_ASSERT_PTR_NOT_NULL_FATAL(l1);
    l1[6] = l1[6] == '1' ? '2' : '1';
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fwrite(buf, 1, n, f);
    fclose(f);

    CU_ASSERT_EQUAL_FATAL(sweep_results_init(&r, s->n_points, s->n_metrics), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(sweep_log_open(s, path, 0, &r, &fd, &d), AIMC_OK);
    CU_ASSERT_EQUAL(r.n_done, 3); /* 0, 2, 3 */
    CU_ASSERT_EQUAL(r.n_corrupt, 2);
    CU_ASSERT(r.done[0] && !r.done[1] && r.done[2] && r.done[3] && !r.done[4] && !r.done[5]);
    /* the torn tail was cut: the next append starts on a line of its own */
    for (uint64_t i = 1; i < 6; i += (i == 1 ? 3 : 1)) {
        double m[2] = {(double)i, 10.0 + (double)i};
        int len = sweep_log_format(s, i, 1, m, NULL, line, sizeof line);
        CU_ASSERT_EQUAL(sweep_log_append(fd, line, (size_t)len, &d), AIMC_OK);
        CU_ASSERT_EQUAL(sweep_results_add(s, &r, line, (size_t)len), AIMC_OK);
    }
    close(fd);
    CU_ASSERT_EQUAL(r.n_done, 6);
    sweep_results_free(&r);
    /* read back: every point once, with its values */
    CU_ASSERT_EQUAL_FATAL(sweep_results_init(&r, s->n_points, s->n_metrics), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(sweep_log_open(s, path, 0, &r, &fd, &d), AIMC_OK);
    CU_ASSERT_EQUAL(r.n_done, 6);
    CU_ASSERT_EQUAL(r.n_corrupt, 1); /* the old corrupt line stays, still refused */
    CU_ASSERT_EQUAL(r.n_duplicate, 0);
    for (int i = 0; i < 6; i++) CU_ASSERT_DOUBLE_EQUAL(r.m[i * 2 + 1], 10.0 + i, 0);
    /* the CSV: sorted by point */
    CU_ASSERT_EQUAL(sweep_write_csv(s, &r, csv, &d), AIMC_OK);
    n = file_read(csv, buf, sizeof buf);
    CU_ASSERT_EQUAL(strncmp(buf, "point,adc.bits,status,energy_pj_per_token,rel_rms_error,pareto\n"
                                 "0,1,ok,0,10,0\n1,2,ok,1,11,0\n2,3,ok,2,12,0\n",
                            100),
                    0);
    close(fd);
    sweep_results_free(&r);
    /* another spec refuses the log, unless restarted */
    sweep_spec *s2 = load("version: 1\nvary:\n  - key: adc.bits\n    range: [1, 5, 1]\n"
                          "metrics: [energy_pj_per_token, rel_rms_error]\n",
                          &d, &rc);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(sweep_results_init(&r, s2->n_points, s2->n_metrics), AIMC_OK);
    CU_ASSERT_EQUAL(sweep_log_open(s2, path, 0, &r, &fd, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "written for another sweep"));
    CU_ASSERT_EQUAL(sweep_log_open(s2, path, 1, &r, &fd, &d), AIMC_OK);
    CU_ASSERT_EQUAL(r.n_done, 0);
    close(fd);
    sweep_results_free(&r);
    unload(s2);
    unlink(csv);
    unlink(path);
    rmdir(dir);
    unload(s);
}

static void test_format_double(void)
{
    char b[40];
    sweep_format_double(20780, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "20780");
    sweep_format_double(0.1 + 0.2, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "0.30000000000000004");
    sweep_format_double(1e-9, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "1e-09");
    sweep_format_double(NAN, b, sizeof b);
    CU_ASSERT_STRING_EQUAL(b, "nan");
}

int test_sweep_register(void)
{
    AIMC_SUITE("sweep", {"spec: keys, ranges, tied keys, grid order", test_spec_parse},
               {"spec: an invalid combination is the point's error", test_point_invalid_combination},
               {"spec: errors name file:line:col and the rule", test_spec_errors},
               {"sampling: random is seeded, uniform, integer keys integers", test_sampling_random},
               {"sampling: Latin hypercube fills every stratum once", test_sampling_lhs},
               {"pareto: front over min and max objectives", test_pareto},
               {"log: CRC-32 check value", test_crc32},
               {"log: lines round-trip, corrupt ones refused", test_log_line},
               {"log: resume after a torn and a corrupt line", test_log_resume},
               {"log: shortest exact numbers", test_format_double});
    return 0;
}
