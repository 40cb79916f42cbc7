/* test_model.c - one model of time and energy (suite "model", docs/engine.md):
 *   - a value run and a timing-only run of the same model, plan, routing and tokens report
 *     the same cycles and the same energy of every part (default machine and ISAAC);
 *   - where nothing contends (every matrix on cores of its own, one token) the mapper's
 *     estimate equals the device's latency and energy; where something does, it is lower;
 *   - two MVMs on different cores overlap (the later one waits only for what they share);
 *     on one crossbar the second waits for the first;
 *   - the first token's latency of Mixtral-8x7B on HERMES does not grow with the tokens
 *     behind it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc.h"
#include "aimc_config.h"
#include "aimc_cost.h"
#include "aimc_map.h"
#include "aimc_regs.h"
#include "aimc_rt.h"
#include "tests.h"

#define MODEL_SEED 5u

static const char *small_moe =
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

static int load_arch(const char *path, aimc_arch *a)
{
    aimc_diag d = {{0}};
    if (!path) {
        aimc_arch_defaults(a);
        return AIMC_OK;
    }
    int rc = aimc_cfg_load(path, NULL, 0, a, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    return rc;
}

/* Open a sim: device on a, program m with plan p, run ntok tokens in groups of one: with
 * values (x, activity assumed, the decisions into experts_out) or timing-only (replaying
 * `replay`, or drawing when NULL). */
static int run_on(const aimc_arch *a, const aimc_model *m, const aimc_plan *p, int timing_only,
                  const float *x, size_t ntok, const int *replay, int *experts_out,
                  aimc_rt_report *r)
{
    aimc_dev *dev = NULL;
    aimc_diag d = {{0}};
    aimc_open_opts o = {.arch = a, .seed = MODEL_SEED, .diag = &d, .timing_only = timing_only,
                        .activity_assumed = 1};
    int rc = aimc_open("sim:", &o, &dev);
    if (!rc) rc = aimc_rt_program(dev, a, m, p, NULL, NULL, &d);
    aimc_rt_opts ro = {.batch = 1, .replay = replay, .seed = 3, .experts_out = experts_out};
    if (!rc) rc = aimc_rt_run(dev, m, timing_only ? NULL : x, ntok, NULL, &ro, r, &d);
    if (rc) fprintf(stderr, "\n  run: %s (%s)\n", d.msg, aimc_strerror(rc));
    aimc_close(dev);
    return rc;
}

/* The same workload with values and without: identical time and energy. */
static void value_vs_timing(const char *config)
{
    enum { NTOK = 6 };
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(load_arch(config, &a), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(small_moe, "small.yaml", 1, &m, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan(&a, m, &p, &d), AIMC_OK);
    const size_t k = (size_t)m->top_k * (size_t)m->layers;
    float *x = malloc(NTOK * (size_t)m->d_model * sizeof *x);
    int *experts = malloc(NTOK * k * sizeof *experts);
    aimc_rt_report *rv = calloc(1, sizeof *rv), *rt = calloc(1, sizeof *rt);
    CU_ASSERT_FATAL(x && experts && rv && rt);
    aimc_rt_tokens(11, NTOK, (size_t)m->d_model, x);
    CU_ASSERT_EQUAL_FATAL(run_on(&a, m, p, 0, x, NTOK, NULL, experts, rv), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(run_on(&a, m, p, 1, NULL, NTOK, experts, NULL, rt), AIMC_OK);
    CU_ASSERT_EQUAL(rv->values, 1);
    CU_ASSERT_EQUAL(rt->values, 0);
    CU_ASSERT(rv->makespan_cycles > 0);
    CU_ASSERT_EQUAL(rv->makespan_cycles, rt->makespan_cycles);
    CU_ASSERT_EQUAL(rv->first_cycles, rt->first_cycles);
    CU_ASSERT_EQUAL(rv->cost.cycles, rt->cost.cycles);
    CU_ASSERT_EQUAL(rv->cost.mvms, rt->cost.mvms);
    CU_ASSERT_EQUAL(rv->cost.xbar_reads, rt->cost.xbar_reads);
    CU_ASSERT_EQUAL(rv->cost.adc_conversions, rt->cost.adc_conversions);
    CU_ASSERT_EQUAL(rv->cost.digital_ops, rt->cost.digital_ops);
    int parts = 0;
    for (int c = 0; c < AIMC_PART_COUNT; c++) {
        if (rv->cost.energy_pj[c] != rt->cost.energy_pj[c])
            fprintf(stderr, "\n  %s: %s %.6f pJ with values, %.6f timing-only\n",
                    config ? config : "default", aimc_part_name((aimc_part)c),
                    rv->cost.energy_pj[c], rt->cost.energy_pj[c]);
        CU_ASSERT_EQUAL(rv->cost.energy_pj[c], rt->cost.energy_pj[c]);
        parts += rv->cost.energy_pj[c] > 0;
    }
    CU_ASSERT(parts >= 7); /* arrays, converters, buffers, buses, NoC, units, host link */
    free(rt);
    free(rv);
    free(experts);
    free(x);
    aimc_plan_free(p);
    aimc_model_free(m);
}

static void test_value_vs_timing_default(void) { value_vs_timing(NULL); }
static void test_value_vs_timing_isaac(void) { value_vs_timing("configs/isaac.yaml"); }

/* Map model_text on a (chips as the plan needs), run one token timing-only, and estimate
 * the same token (the same experts). */
static void estimate_and_run(aimc_arch *a, const char *model_text, int need_private_cores,
                             aimc_map_estimate *est, aimc_rt_report *r)
{
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(model_text, "m.yaml", 0, &m, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan(a, m, &p, &d), AIMC_OK);
    if (a->hierarchy.chips_auto) CU_ASSERT_EQUAL_FATAL(aimc_map_fit_chips(a, p), AIMC_OK);
    /* Which cores hold tiles of more than one matrix. */
    const uint64_t xpc = (uint64_t)a->hierarchy.crossbars_per_core;
    const uint64_t cores = (uint64_t)aimc_arch_total_crossbars(a) / xpc;
    long *owner = malloc(cores * sizeof *owner);
    CU_ASSERT_FATAL(owner != NULL);
    for (uint64_t c = 0; c < cores; c++) owner[c] = -1;
    int shared = 0;
    for (size_t i = 0; i < p->n_tiles; i++) {
        const uint64_t c = p->tiles[i].xbar / xpc;
        if (owner[c] >= 0 && owner[c] != (long)p->tiles[i].matrix) shared = 1;
        owner[c] = (long)p->tiles[i].matrix;
    }
    free(owner);
    CU_ASSERT_EQUAL_FATAL(shared, !need_private_cores);
    int *experts = malloc((size_t)m->top_k * (size_t)m->layers * sizeof *experts);
    CU_ASSERT_FATAL(experts != NULL);
    CU_ASSERT_EQUAL_FATAL(run_on(a, m, p, 1, NULL, 1, NULL, experts, r), AIMC_OK);
    int rc = aimc_map_estimate_token(a, m, p, experts, NULL, est, &d);
    if (rc) fprintf(stderr, "\n  estimate: %s\n", d.msg);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    free(experts);
    aimc_plan_free(p);
    aimc_model_free(m);
}

/* Every matrix on cores of its own: 4 crossbars per core hold one 128 x 64 block in its 4
 * bit slices, and every matrix is a whole number of such blocks (router 128 x 64 for 64
 * experts, gate and up 128 x 64, down 64 x 128). One token meets no other work: the
 * estimate is the device's latency and energy, within 1 %. */
static void test_estimate_equals_device(void)
{
    static const char *text =
        "version: 1\n"
        "model:\n"
        "  name: private\n"
        "  layers: 2\n"
        "  d_model: 128\n"
        "  routed_experts: 64\n"
        "  expert_d_ff: 64\n"
        "  top_k: 2\n";
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.hierarchy.crossbars_per_core = 4;
    a.hierarchy.cores_per_cluster = 4;
    a.hierarchy.chips_auto = 1;
    aimc_map_estimate est;
    aimc_rt_report *r = calloc(1, sizeof *r);
    CU_ASSERT_FATAL(r != NULL);
    estimate_and_run(&a, text, 1, &est, r);
    double total = 0;
    for (int c = 0; c < AIMC_PART_COUNT; c++) total += r->cost.energy_pj[c];
    if (fabs((double)est.latency_cycles - (double)r->makespan_cycles) > 0.01 * (double)r->makespan_cycles ||
        fabs(est.energy_pj_total - total) > 0.01 * total)
        fprintf(stderr, "\n  estimate %llu cycles %.1f pJ, device %llu cycles %.1f pJ\n",
                (unsigned long long)est.latency_cycles, est.energy_pj_total,
                (unsigned long long)r->makespan_cycles, total);
    CU_ASSERT(fabs((double)est.latency_cycles - (double)r->makespan_cycles) <=
              0.01 * (double)r->makespan_cycles);
    CU_ASSERT(fabs(est.energy_pj_total - total) <= 0.01 * total);
    for (int c = 0; c < AIMC_PART_COUNT; c++) {
        const double e = est.energy_pj[c], g = r->cost.energy_pj[c];
        if (fabs(e - g) > 0.01 * g + 1e-9)
            fprintf(stderr, "\n  %s: estimate %.3f pJ, device %.3f pJ\n",
                    aimc_part_name((aimc_part)c), e, g);
        CU_ASSERT(fabs(e - g) <= 0.01 * g + 1e-9);
    }
    free(r);
}

/* Matrices packed side by side (the small model on the default machine: experts share
 * cores), one token: the device's expert MVMs queue where the estimate lets them run at
 * once, so the estimate is lower (docs/mapping.md, "The estimate"); the energy is the same
 * work either way. */
static void test_estimate_below_device(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    aimc_map_estimate est;
    aimc_rt_report *r = calloc(1, sizeof *r);
    CU_ASSERT_FATAL(r != NULL);
    estimate_and_run(&a, small_moe, 0, &est, r);
    double total = 0;
    for (int c = 0; c < AIMC_PART_COUNT; c++) total += r->cost.energy_pj[c];
    CU_ASSERT(est.latency_cycles < r->makespan_cycles);
    CU_ASSERT(fabs(est.energy_pj_total - total) <= 0.01 * total);
    free(r);
}

/* Groups finish out of order: with 20 tokens in groups of 8 the last group (4 tokens) is
 * lighter than the one ahead of it and may overtake it; every group is still waited for. */
static void test_groups_out_of_order(void)
{
    static const char *text =
        "version: 1\n"
        "model:\n"
        "  name: deep\n"
        "  layers: 8\n"
        "  d_model: 64\n"
        "  routed_experts: 8\n"
        "  expert_d_ff: 64\n"
        "  top_k: 2\n";
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    aimc_arch_defaults(&a);
    a.hierarchy.chips_auto = 1;
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(text, "deep.yaml", 0, &m, &d), AIMC_OK);
    aimc_map_opts mo = {.shape_only = 1};
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan_ex(&a, m, &mo, &p, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_map_fit_chips(&a, p), AIMC_OK);
    for (size_t ntok = 9; ntok <= 20; ntok += 11) {
        aimc_dev *dev = NULL;
        aimc_open_opts o = {.arch = &a, .seed = 1, .timing_only = 1};
        aimc_rt_report *r = calloc(1, sizeof *r);
        CU_ASSERT_FATAL(r != NULL);
        CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_rt_program(dev, &a, m, p, NULL, NULL, &d), AIMC_OK);
        aimc_rt_opts ro = {.batch = 8, .seed = 3};
        int rc = aimc_rt_run(dev, m, NULL, ntok, NULL, &ro, r, &d);
        if (rc) fprintf(stderr, "\n  %zu tokens: %s\n", ntok, d.msg);
        CU_ASSERT_EQUAL(rc, AIMC_OK);
        CU_ASSERT_EQUAL(r->groups, (ntok + 7) / 8);
        CU_ASSERT_EQUAL(r->cost.mvms, (uint64_t)ntok * 8 * (1 + 2 * 3)); /* router, 2 x 3 */
        free(r);
        aimc_close(dev);
    }
    aimc_plan_free(p);
    aimc_model_free(m);
}

/* ---- two MVMs through the driver ------------------------------------------------------- */

/* One slice (3-bit weights on 2-bit cells), 128 x 32 matrices: one tile each. */
static void one_slice_arch(aimc_arch *a)
{
    aimc_arch_defaults(a);
    a->crossbar.weight_bits = 3;
}

/* Device cycles for matrices placed at (xbar, col0) each, all MVMs of one vector submitted
 * at once and waited for: the device clock from before the first submit to after the last
 * completion. */
static uint64_t mvms_cycles(const aimc_arch *a, int n, const uint32_t *xbar, const uint32_t *col0)
{
    enum { R = 128, C = 32 };
    static float w[R * C], x[R], y[4][C];
    for (int i = 0; i < R * C; i++) w[i] = (float)((i % 7) - 3);
    for (int i = 0; i < R; i++) x[i] = (float)((i % 5) - 2);
    aimc_dev *dev = NULL;
    aimc_open_opts o = {.arch = a, .seed = 1};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    for (int k = 0; k < n; k++) {
        aimc_tile t = {.matrix = (uint32_t)k, .row0 = 0, .nrows = R, .col0 = 0, .ncols = C,
                       .slice = 0, .xbar = xbar[k], .xbar_col0 = col0[k]};
        CU_ASSERT_EQUAL_FATAL(aimc_weights_program(dev, (uint32_t)k, w, R, C, &t, 1, NULL, NULL), AIMC_OK);
    }
    aimc_counters c0, c1;
    uint64_t f[4];
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c0), AIMC_OK);
    for (int k = 0; k < n; k++) CU_ASSERT_EQUAL(aimc_submit_mvm(dev, (uint32_t)k, x, 1, y[k], &f[k]), AIMC_OK);
    for (int k = 0; k < n; k++) CU_ASSERT_EQUAL(aimc_fence_wait(dev, f[k], -1), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c1), AIMC_OK);
    aimc_close(dev);
    return c1.time - c0.time;
}

/* Two MVMs of one vector through 128 x 32 tiles at 1 GHz: alone, t = fetch (one
 * descriptor) + input in + T(1) + output out + status. T(1) = m + P + D by hand: 7 steps of
 * t_int = 100 (P = 700), 32 columns on 8 ADCs: 4 x 0.78 ns in 4 cycles (m = 4), D = 8 x 32
 * operations at 32 per cycle = 8: T(1) = 712.
 *  - On cores of different clusters they overlap: the second is late only by what they
 *    share, the second descriptor in the fetch burst and the first input ahead of it on
 *    the host link: max(t1, t2 + in) + (fetch of 2 - fetch of 1).
 *  - On one crossbar the second's arrays wait for the first's: t1 + T(1) + (fetch of 2 -
 *    fetch of 1). */
static void test_two_mvms(void)
{
    aimc_arch a;
    one_slice_arch(&a);
    const uint32_t xpc = (uint32_t)a.hierarchy.crossbars_per_core;
    const uint32_t other = xpc * (uint32_t)a.hierarchy.cores_per_cluster; /* cluster 1 */
    const uint32_t x0[1] = {0}, c0[1] = {0}, x1[1] = {other};
    const uint32_t xs[2] = {0, other}, cs[2] = {0, 0};
    const uint32_t xo[2] = {0, 0}, co[2] = {0, 64}; /* one crossbar, side by side */
    const uint64_t t1 = mvms_cycles(&a, 1, x0, c0);
    const uint64_t t2 = mvms_cycles(&a, 1, x1, c0);
    const uint64_t both = mvms_cycles(&a, 2, xs, cs);
    const uint64_t same = mvms_cycles(&a, 2, xo, co);
    aimc_cost_events ev = {0};
    const uint64_t burst = aimc_cost_fetch(&a, 2, AIMC_DESC_BYTES, 0, &aimc_cost_free_booker, &ev) -
                           aimc_cost_fetch(&a, 1, AIMC_DESC_BYTES, 0, &aimc_cost_free_booker, &ev);
    const uint64_t in = aimc_cost_busy(&a, AIMC_RES_HOST_IN, 128 * 4);
    const uint64_t T1 = 712;
    if (both != (t1 > t2 + in ? t1 : t2 + in) + burst || same != t1 + T1 + burst)
        fprintf(stderr, "\n  alone %llu and %llu, on two cores %llu, on one crossbar %llu "
                "(burst +%llu, input %llu)\n", (unsigned long long)t1, (unsigned long long)t2,
                (unsigned long long)both, (unsigned long long)same, (unsigned long long)burst,
                (unsigned long long)in);
    CU_ASSERT(t1 > T1 && t2 >= t1);
    CU_ASSERT_EQUAL(both, (t1 > t2 + in ? t1 : t2 + in) + burst);
    CU_ASSERT_EQUAL(same, t1 + T1 + burst);
    CU_ASSERT(both < t1 + t2); /* they overlapped */
}

/* ---- what crosses ISAAC's on-chip network ------------------------------------------------ */

/* A 4096 x 1024 matrix of 16-bit weights on ISAAC, placed as its mapper would: each of its
 * 32 x 8 blocks of 128 x 128 on one IMA (core), its 8 bit slices on the IMA's 8 crossbars,
 * blocks in row-major order over the IMAs of tile (cluster) 0, 1, ... One vector from the
 * host: the IMAs shift-and-add their slices, each cluster adds its blocks' partial sums, and
 * only activations cross the network: each cluster c but the home (0, where the port is)
 * receives the 128 input values of each of its row blocks and sends the 128 sums of each of
 * its column blocks, 4 bytes a value (docs/engine.md, "What crosses the network"). The
 * slices' partial sums, 8 x 4 bytes per block column, never travel. */
static void test_isaac_noc_activations(void)
{
    enum { RB = 32, CB = 8, N = 128 };
    aimc_arch a;
    CU_ASSERT_EQUAL_FATAL(load_arch("configs/isaac.yaml", &a), AIMC_OK);
    const uint32_t slices = (uint32_t)aimc_arch_slices(&a), xpc = (uint32_t)a.hierarchy.crossbars_per_core;
    const uint32_t cpc = (uint32_t)a.hierarchy.cores_per_cluster;
    CU_ASSERT_EQUAL_FATAL(slices, xpc);
    CU_ASSERT_EQUAL_FATAL(aimc_arch_logical_cols(&a), N);
    aimc_tile *t = malloc((size_t)RB * CB * slices * sizeof *t);
    CU_ASSERT_FATAL(t != NULL);
    size_t n = 0;
    for (uint32_t rb = 0; rb < RB; rb++)
        for (uint32_t cb = 0; cb < CB; cb++)
            for (uint32_t s = 0; s < slices; s++)
                t[n++] = (aimc_tile){.matrix = 0, .row0 = rb * N, .nrows = N, .col0 = cb * N,
                                     .ncols = N, .slice = s, .xbar = (rb * CB + cb) * xpc + s,
                                     .xbar_col0 = 0};
    /* the hand count: distinct row blocks and column blocks of each cluster but 0 */
    uint64_t want = 0, slice_sums = 0;
    const uint32_t cores = RB * CB, clusters = (cores + cpc - 1) / cpc;
    for (uint32_t c = 1; c < clusters; c++) {
        uint32_t rbs = 0, cbs = 0, last_rb = UINT32_MAX;
        unsigned char seen_cb[CB] = {0};
        for (uint32_t k = c * cpc; k < (c + 1) * cpc && k < cores; k++) {
            if (k / CB != last_rb) rbs++, last_rb = k / CB;
            if (!seen_cb[k % CB]) cbs++, seen_cb[k % CB] = 1;
        }
        want += ((uint64_t)rbs + cbs) * N * 4;
    }
    slice_sums = (uint64_t)cores * N * slices * 4;
    aimc_dev *dev = NULL;
    aimc_open_opts o = {.arch = &a, .seed = 1, .timing_only = 1};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_weights_program(dev, 0, NULL, RB * N, CB * N, t, n, NULL, NULL), AIMC_OK);
    static float x[RB * N], y[CB * N];
    aimc_counters c0, c1;
    uint64_t f;
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c0), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 0, x, 1, y, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, -1), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c1), AIMC_OK);
    const uint64_t got = c1.noc_bytes - c0.noc_bytes;
    if (got != want)
        fprintf(stderr, "\n  isaac: %llu bytes over the network, %llu by hand\n",
                (unsigned long long)got, (unsigned long long)want);
    CU_ASSERT_EQUAL(got, want);
    CU_ASSERT(want * 8 < slice_sums); /* far below what moving slices would cost */
    CU_ASSERT_EQUAL(c1.link_bytes, c0.link_bytes); /* one chip */
    /* the host link: the input (4096 floats) in, the output (1024) out, and the command */
    CU_ASSERT(c1.host_bytes - c0.host_bytes >= (RB * N + CB * N) * 4);
    aimc_close(dev);
    free(t);
}

/* ---- the first token -------------------------------------------------------------------- */

/* Mixtral-8x7B timing-only on HERMES (as many chips as it needs): one token alone, and the
 * first of 24 streamed behind each other. Groups trail by AIMC_RT_STAGGER layers, so by the
 * time the first has left its 32 layers at most 16 have entered: 24 tokens show everything
 * 1024 would (make bench-engine runs 1024). The first is delayed by less than 1 %. */
static void test_first_token(void)
{
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(load_arch("configs/hermes.yaml", &a), AIMC_OK);
    a.hierarchy.chips_auto = 1;
    CU_ASSERT_EQUAL_FATAL(aimc_model_load("models/mixtral-8x7b.yaml", 0, &m, &d), AIMC_OK);
    aimc_map_opts mo = {.shape_only = 1};
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan_ex(&a, m, &mo, &p, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_map_fit_chips(&a, p), AIMC_OK);
    aimc_rt_report *r1 = calloc(1, sizeof *r1), *r24 = calloc(1, sizeof *r24);
    CU_ASSERT_FATAL(r1 && r24);
    CU_ASSERT_EQUAL_FATAL(run_on(&a, m, p, 1, NULL, 1, NULL, NULL, r1), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(run_on(&a, m, p, 1, NULL, 24, NULL, NULL, r24), AIMC_OK);
    CU_ASSERT_EQUAL(r24->groups, 24);
    const double f1 = (double)r1->first_cycles, f24 = (double)r24->first_cycles;
    if (fabs(f24 - f1) > 0.01 * f1)
        fprintf(stderr, "\n  first token: %.0f cycles alone, %.0f of 24\n", f1, f24);
    CU_ASSERT(f1 > 0);
    CU_ASSERT(fabs(f24 - f1) <= 0.01 * f1);
    CU_ASSERT((double)r24->makespan_cycles < 24 * f1); /* and the tokens overlapped */
    free(r24);
    free(r1);
    aimc_plan_free(p);
    aimc_model_free(m);
}

int test_model_register(void)
{
    AIMC_SUITE("model",
               {"value run = timing-only run: cycles, energy of every part (default)",
                test_value_vs_timing_default},
               {"value run = timing-only run: cycles, energy of every part (isaac)",
                test_value_vs_timing_isaac},
               {"estimate = device where nothing contends (1 %)", test_estimate_equals_device},
               {"estimate below the device where MVMs contend", test_estimate_below_device},
               {"two MVMs: overlap on two cores, queue on one crossbar", test_two_mvms},
               {"token groups finishing out of order are all waited for",
                test_groups_out_of_order},
               {"isaac: only activations cross the network (bytes by hand)",
                test_isaac_noc_activations},
               {"mixtral on hermes: the first token alone = the first of 24 (1 %)",
                test_first_token});
    return 0;
}
