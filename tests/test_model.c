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

/* small_moe with DeepSeek-V3's and Qwen's rules: learned norm weights and eps (NORM), sigmoid
 * scores with a correction bias, groups and scaling (ROUTE), a gated shared expert (ACT). */
static const char *small_rules =
    "version: 1\n"
    "model:\n"
    "  name: small-rules\n"
    "  layers: 2\n"
    "  d_model: 48\n"
    "  routed_experts: 4\n"
    "  expert_d_ff: 40\n"
    "  top_k: 2\n"
    "  shared_experts: 1\n"
    "  shared_d_ff: 24\n"
    "  rms_norm_eps: 1e-5\n"
    "  norm_weights: true\n"
    "  shared_expert_gate: true\n"
    "  routing: {scoring: sigmoid, groups: 2, topk_groups: 1, scale: 2.5, correction_bias: true}\n"
    "weights:\n"
    "  random: {seed: 7, distribution: normal}\n";

/* A small language model: GQA attention, a dense layer, MoE layers with a gated shared expert
 * and a sigmoid rule, the final norm and head (every command a sequence run issues). */
static const char *small_lm =
    "version: 1\n"
    "model:\n"
    "  name: small-lm\n"
    "  layers: 3\n"
    "  dense_layers: 1\n"
    "  dense_d_ff: 40\n"
    "  d_model: 48\n"
    "  routed_experts: 4\n"
    "  expert_d_ff: 40\n"
    "  top_k: 2\n"
    "  shared_experts: 1\n"
    "  shared_d_ff: 24\n"
    "  norm_weights: true\n"
    "  shared_expert_gate: true\n"
    "  routing: {scoring: sigmoid, groups: 2, topk_groups: 1, correction_bias: true}\n"
    "  attention: {heads: 4, kv_heads: 2, head_dim: 12, qk_norm: true}\n"
    "  vocab: 50\n"
    "weights:\n"
    "  random: {seed: 7, distribution: normal}\n";

/* The same workload with values and without: identical time and energy. */
static void value_vs_timing(const char *config, const char *model_text)
{
    enum { NTOK = 6 };
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(load_arch(config, &a), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(model_text, "small.yaml", 1, &m, &d), AIMC_OK);
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

static void test_value_vs_timing_default(void) { value_vs_timing(NULL, small_moe); }
static void test_value_vs_timing_isaac(void) { value_vs_timing("configs/isaac.yaml", small_moe); }
static void test_value_vs_timing_rules(void) { value_vs_timing(NULL, small_rules); }
static void test_value_vs_timing_lm(void) { value_vs_timing(NULL, small_lm); }

/* One token's work on the device: its cycles and dynamic energy of every part. */
typedef struct {
    uint64_t cycles;
    double energy_pj[AIMC_PART_COUNT];
} dev_token;

/* Run ntok tokens of a sequence timing-only on a fresh device (groups of one; with
 * generate, each enters when the one before has finished, as in decoding), the experts the
 * device draws into experts_out (MoE layers x ntok x top_k). */
static int run_seq(const aimc_arch *a, const aimc_model *m, const aimc_plan *p, size_t ntok,
                   int *experts_out, aimc_rt_report *r)
{
    aimc_dev *dev = NULL;
    aimc_diag d = {{0}};
    aimc_open_opts o = {.arch = a, .seed = MODEL_SEED, .diag = &d, .timing_only = 1,
                        .activity_assumed = 1};
    int rc = aimc_open("sim:", &o, &dev);
    if (!rc) rc = aimc_rt_program(dev, a, m, p, NULL, NULL, &d);
    aimc_rt_opts ro = {.batch = 1, .seed = 3, .experts_out = experts_out, .generate = 1};
    if (!rc) rc = aimc_rt_run(dev, m, NULL, ntok, NULL, &ro, r, &d);
    if (rc) fprintf(stderr, "\n  run: %s (%s)\n", d.msg, aimc_strerror(rc));
    aimc_close(dev);
    return rc;
}

/* Map model_text on a (chips as the plan needs; need_private_cores 1: checked that no core
 * holds tiles of two matrices, 0: that some does, -1: not checked), run the token at
 * `position` timing-only on
 * the device, and estimate the same token (the same experts) at that position. At position 0
 * the run is the one token. Later, the device needs the earlier tokens in the KV cache: it
 * runs position + 1 tokens, each entering when the one before has finished (opts.generate),
 * and the last token's work is what that run has more than the run of the first `position`
 * tokens alone (both identical up to there: the same draws, the same commands at the same
 * cycles), its cycles from the moment the token before had finished. That increment is what
 * the estimate books: one token, the earlier ones done, at its position. */
static void estimate_and_run_at(aimc_arch *a, const char *model_text, int need_private_cores,
                                uint32_t position, aimc_map_estimate *est, dev_token *t)
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
    if (need_private_cores >= 0) CU_ASSERT_EQUAL_FATAL(shared, !need_private_cores);
    const size_t n = (size_t)position + 1, k = (size_t)m->top_k;
    const size_t moe = (size_t)(m->layers - m->dense_layers);
    int *drawn = malloc((moe ? moe : 1) * n * k * sizeof *drawn);
    int *experts = malloc((moe ? moe : 1) * k * sizeof *experts);
    aimc_rt_report *r = calloc(1, sizeof *r), *r0 = calloc(1, sizeof *r0);
    CU_ASSERT_FATAL(drawn && experts && r && r0);
    CU_ASSERT_EQUAL_FATAL(run_seq(a, m, p, n, drawn, r), AIMC_OK);
    if (position > 0) CU_ASSERT_EQUAL_FATAL(run_seq(a, m, p, position, NULL, r0), AIMC_OK);
    t->cycles = r->makespan_cycles - r0->makespan_cycles;
    for (int c = 0; c < AIMC_PART_COUNT; c++)
        t->energy_pj[c] = r->cost.energy_pj[c] - r0->cost.energy_pj[c];
    for (size_t ml = 0; ml < moe; ml++)
        memcpy(experts + ml * k, drawn + (ml * n + position) * k, k * sizeof *experts);
    int rc = aimc_map_estimate_token_at(a, m, p, experts, NULL, position, est, &d);
    if (rc) fprintf(stderr, "\n  estimate: %s\n", d.msg);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    free(r0);
    free(r);
    free(experts);
    free(drawn);
    aimc_plan_free(p);
    aimc_model_free(m);
}

/* Every matrix on cores of its own: 4 crossbars per core hold one 128 x 64 block in its 4
 * bit slices, and every matrix is a whole number of such blocks or less (router 128 x 64 for
 * 64 experts, gate and up 128 x 64, down 64 x 128, the attention's projections 128 wide).
 * One token meets no other work: the estimate is the device's latency and energy, within
 * 1 % (what is left: commands issued together that bring the same input to their cores at
 * once, an expert's gate and up, queue on the way on the device, some 30 cycles each, which
 * the estimate cannot see), at `position`. With `queues` there is more of that (MHA's q, k
 * and v, 2 column blocks each, read N at once): the estimate's latency is then below the
 * device's, by less than 2 %. */
static void estimate_vs_device_at(const char *text, uint32_t position, int queues,
                                  int need_private_cores)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.hierarchy.crossbars_per_core = 4;
    a.hierarchy.cores_per_cluster = 4;
    a.hierarchy.chips_auto = 1;
    aimc_map_estimate est;
    dev_token t;
    estimate_and_run_at(&a, text, need_private_cores, position, &est, &t);
    double total = 0;
    for (int c = 0; c < AIMC_PART_COUNT; c++) total += t.energy_pj[c];
    fprintf(stderr, "\n  position %u: estimate %llu cycles %.1f pJ, device %llu cycles %.1f pJ ",
            position, (unsigned long long)est.latency_cycles, est.energy_pj_total,
            (unsigned long long)t.cycles, total);
    CU_ASSERT(t.cycles > 0);
    if (queues) {
        CU_ASSERT(est.latency_cycles < t.cycles);
        CU_ASSERT((double)(t.cycles - est.latency_cycles) <= 0.02 * (double)t.cycles);
    } else {
        CU_ASSERT(fabs((double)est.latency_cycles - (double)t.cycles) <= 0.01 * (double)t.cycles);
    }
    CU_ASSERT(fabs(est.energy_pj_total - total) <= 0.01 * total);
    for (int c = 0; c < AIMC_PART_COUNT; c++) {
        const double e = est.energy_pj[c], g = t.energy_pj[c];
        if (fabs(e - g) > 0.01 * g + 1e-9)
            fprintf(stderr, "\n  %s: estimate %.3f pJ, device %.3f pJ\n",
                    aimc_part_name((aimc_part)c), e, g);
        CU_ASSERT(fabs(e - g) <= 0.01 * g + 1e-9);
    }
}

static void estimate_equals_device_at(const char *text, uint32_t position)
{
    estimate_vs_device_at(text, position, 0, 1);
}

static void estimate_equals_device(const char *text) { estimate_equals_device_at(text, 0); }

static void test_estimate_equals_device(void)
{
    estimate_equals_device("version: 1\n"
                           "model:\n"
                           "  name: private\n"
                           "  layers: 2\n"
                           "  d_model: 128\n"
                           "  routed_experts: 64\n"
                           "  expert_d_ff: 64\n"
                           "  top_k: 2\n");
}

/* The same with DeepSeek-V3's routing rule and learned norm weights (ROUTE and NORM). */
static void test_estimate_equals_device_rules(void)
{
    estimate_equals_device("version: 1\n"
                           "model:\n"
                           "  name: private\n"
                           "  layers: 2\n"
                           "  d_model: 128\n"
                           "  routed_experts: 64\n"
                           "  expert_d_ff: 64\n"
                           "  top_k: 2\n"
                           "  norm_weights: true\n"
                           "  routing: {scoring: sigmoid, groups: 8, topk_groups: 4, scale: 2.5,"
                           " correction_bias: true}\n");
}

/* Attention in every layer, private cores: MHA (2 heads of 64), GQA with qk norms (4 heads
 * of 32 over 2), MLA (2 heads, ranks 64 and 56, 8 rotated dims), each at position 0 (the
 * token attends to itself) and 5 (over the cache of 5 earlier tokens, off-chip). */
#define PRIVATE_MOE                                                                              \
    "version: 1\nmodel:\n  name: private\n  layers: 2\n  d_model: 128\n  routed_experts: 64\n"   \
    "  expert_d_ff: 64\n  top_k: 2\n"
static const char *est_mha = PRIVATE_MOE "  attention: {heads: 2}\n";
static const char *est_gqa =
    PRIVATE_MOE "  norm_weights: true\n"
                "  attention: {heads: 4, kv_heads: 2, head_dim: 32, qk_norm: true}\n";
static const char *est_mla =
    PRIVATE_MOE "  norm_weights: true\n"
                "  attention: {kind: mla, heads: 2, q_lora_rank: 64, kv_lora_rank: 56,"
                " rope_dim: 8, rope_interleaved: true}\n";
/* A dense first layer before the MoE layer, with GQA. */
static const char *est_dense =
    "version: 1\nmodel:\n  name: private\n  layers: 2\n  dense_layers: 1\n  dense_d_ff: 64\n"
    "  d_model: 128\n  routed_experts: 64\n  expert_d_ff: 64\n  top_k: 2\n"
    "  attention: {heads: 4, kv_heads: 2, head_dim: 32}\n";
/* A language model: a dense layer, a sigmoid rule with a gated shared expert, the final norm
 * and a head of 64; the token enters as its embedding row from the host. */
static const char *est_lm =
    "version: 1\nmodel:\n  name: private\n  layers: 2\n  dense_layers: 1\n  dense_d_ff: 64\n"
    "  d_model: 128\n  routed_experts: 64\n  expert_d_ff: 64\n  top_k: 2\n"
    "  shared_experts: 1\n  shared_d_ff: 64\n  shared_expert_gate: true\n  norm_weights: true\n"
    "  routing: {scoring: sigmoid, groups: 8, topk_groups: 4, correction_bias: true}\n"
    "  attention: {heads: 4, kv_heads: 2, head_dim: 32, qk_norm: true}\n  vocab: 64\n";

static void test_estimate_equals_device_mha(void)
{
    estimate_vs_device_at(est_mha, 0, 1, 1);
    estimate_vs_device_at(est_mha, 5, 1, 1);
}

static void test_estimate_equals_device_gqa(void)
{
    estimate_equals_device_at(est_gqa, 0);
    estimate_equals_device_at(est_gqa, 5);
}

static void test_estimate_equals_device_mla(void)
{
    estimate_equals_device_at(est_mla, 0);
    estimate_equals_device_at(est_mla, 5);
}

static void test_estimate_equals_device_dense(void)
{
    estimate_equals_device_at(est_dense, 0);
    estimate_equals_device_at(est_dense, 5);
}

/* Its shared expert's 128 x 1 gate and the head share a crossbar (packed side by side), but
 * never run at once: the gate in the MoE layer, the head after it. */
static void test_estimate_equals_device_lm(void)
{
    estimate_vs_device_at(est_lm, 0, 0, -1);
    estimate_vs_device_at(est_lm, 5, 0, -1);
}

/* Matrices packed side by side (the small model on the default machine: experts share
 * cores), one token: the device's expert MVMs queue where the estimate lets them run at
 * once, so the estimate is lower (docs/mapping.md, "The estimate"); the energy is the same
 * work either way. The same for the small language model (attention, a dense layer, the
 * head: its projections share cores too), at position 0 and 3. */
static void estimate_below_device_at(const char *text, uint32_t position)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    aimc_map_estimate est;
    dev_token t;
    estimate_and_run_at(&a, text, 0, position, &est, &t);
    double total = 0;
    for (int c = 0; c < AIMC_PART_COUNT; c++) total += t.energy_pj[c];
    fprintf(stderr, "\n  position %u: estimate %llu cycles %.1f pJ, device %llu cycles %.1f pJ ",
            position, (unsigned long long)est.latency_cycles, est.energy_pj_total,
            (unsigned long long)t.cycles, total);
    CU_ASSERT(est.latency_cycles < t.cycles);
    CU_ASSERT(fabs(est.energy_pj_total - total) <= 0.01 * total);
}

static void test_estimate_below_device(void)
{
    estimate_below_device_at(small_moe, 0);
    estimate_below_device_at(small_lm, 0);
    estimate_below_device_at(small_lm, 3);
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

/* A prompt larger than the batch, without attention (each group measured layer by layer
 * against the reference, on buffers of the largest group): 5 tokens prefilled, then groups
 * of 2. On an ideal machine of 16-bit converters a token's values do not depend on the tokens
 * it shares a command with, so the outputs, the routing and the error are the run's without
 * a prompt. (The reference's buffers once held a batch only: a prompt overflowed them.) */
static void test_prompt_over_batch(void)
{
    enum { NTOK = 9 };
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    aimc_arch_defaults(&a);
    a.device.type = AIMC_DEVICE_IDEAL;
    a.crossbar.weight_bits = 16;
    a.dac.bits = 16;
    a.adc.bits = 16;
    a.adc.range = AIMC_ADC_RANGE_FULL_SCALE;
    a.hierarchy.chips_auto = 1;
    CU_ASSERT_EQUAL_FATAL(aimc_arch_validate(&a, NULL), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(small_moe, "small.yaml", 1, &m, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan(&a, m, &p, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_map_fit_chips(&a, p), AIMC_OK);
    const size_t dm = (size_t)m->d_model, k = (size_t)m->top_k * (size_t)m->layers;
    float *x = malloc(NTOK * dm * sizeof *x);
    float *xo[2] = {malloc(NTOK * dm * sizeof *xo[0]), malloc(NTOK * dm * sizeof *xo[1])};
    int *ex[2] = {malloc(NTOK * k * sizeof *ex[0]), malloc(NTOK * k * sizeof *ex[1])};
    aimc_rt_report *r[2] = {calloc(1, sizeof *r[0]), calloc(1, sizeof *r[1])};
    CU_ASSERT_FATAL(x && xo[0] && xo[1] && ex[0] && ex[1] && r[0] && r[1]);
    aimc_rt_tokens(11, NTOK, dm, x);
    for (int run = 0; run < 2; run++) { /* without a prompt, with one of 5 */
        aimc_dev *dev = NULL;
        aimc_open_opts o = {.arch = &a, .seed = MODEL_SEED, .diag = &d};
        int rc = aimc_open("sim:", &o, &dev);
        if (!rc) rc = aimc_rt_program(dev, &a, m, p, NULL, NULL, &d);
        aimc_rt_opts ro = {.batch = 2, .prompt = run ? 5 : 0, .experts_out = ex[run],
                           .x_out = xo[run]};
        if (!rc) rc = aimc_rt_run(dev, m, x, NTOK, NULL, &ro, r[run], &d);
        if (rc) fprintf(stderr, "\n  prompt %d: %s\n", run ? 5 : 0, d.msg);
        CU_ASSERT_EQUAL(rc, AIMC_OK);
        aimc_close(dev);
    }
    CU_ASSERT_EQUAL(r[0]->groups, 5); /* 2 2 2 2 1 */
    CU_ASSERT_EQUAL(r[1]->groups, 3); /* 5 2 2 */
    CU_ASSERT_EQUAL(r[1]->first_tokens, 5);
    CU_ASSERT_EQUAL(memcmp(ex[0], ex[1], NTOK * k * sizeof *ex[0]), 0);
    double diff = 0;
    for (size_t i = 0; i < NTOK * dm; i++) diff = fmax(diff, fabs((double)xo[0][i] - xo[1][i]));
    if (diff > 1e-6) fprintf(stderr, "\n  prompt: outputs differ by %g\n", diff);
    CU_ASSERT(diff <= 1e-6);
    CU_ASSERT(r[1]->rel_rms_error < 1e-3);
    CU_ASSERT(fabs(r[1]->rel_rms_error - r[0]->rel_rms_error) <= 1e-6);
    CU_ASSERT_EQUAL(r[1]->routing_agreement, 1.0);
    for (int i = 0; i < 2; i++) {
        free(xo[i]);
        free(ex[i]);
        free(r[i]);
    }
    free(x);
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
    /* independent tokens: the MoE blocks of models/mixtral-8x7b.yaml (with attention the
     * tokens are a sequence, each entering when the one before has issued its last layer) */
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(
        "version: 1\nmodel: {name: mixtral-ffn, layers: 32, d_model: 4096, routed_experts: 8, "
        "expert_d_ff: 14336, top_k: 2}\n", "mixtral-ffn.yaml", 0, &m, &d), AIMC_OK);
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

/* ---- the real models' rules against an independent reference --------------------------
 *
 * Each case writes a model's weights as a safetensors file the way its checkpoint stores
 * them (PyTorch Linear layout [out, in]; F32, BF16, stacked [experts, out, in], F8_E4M3 with
 * weight_scale_inv block scales), loads it through a model file that states the model's
 * routing rule, runs it on an ideal machine, and compares the residual stream the device
 * leaves and its routing with a forward pass written here in double precision from the
 * published formulas (HF transformers' MixtralSparseMoeBlock, OlmoeSparseMoeBlock,
 * Qwen2MoeSparseMoeBlock; DeepSeek-V3's MoEGate, noaux_tc), independently of the runtime and
 * of common/aimc_moe.h: only the weights are shared, as the file holds them. */

#define RT_D 48      /* d_model */
#define RT_E 8       /* routed experts */
#define RT_F 40      /* expert d_ff */
#define RT_SF 24     /* shared expert d_ff */
#define RT_L 2       /* layers */
#define RT_TOK 16
#define RT_MAXT 512

/* One tensor of the file: name, dtype, shape, bytes. */
typedef struct {
    char name[112];
    const char *dtype;
    int rank;
    uint32_t shape[3];
    unsigned char *data;
    size_t bytes;
} rt_tensor;

typedef struct {
    rt_tensor t[RT_MAXT];
    int n;
} rt_file;

static uint64_t rt_rng = 0x243f6a8885a308d3ull;
static double rt_uniform(void) /* xorshift64*, (0, 1) */
{
    rt_rng ^= rt_rng >> 12;
    rt_rng ^= rt_rng << 25;
    rt_rng ^= rt_rng >> 27;
    return ((double)((rt_rng * 0x2545F4914F6CDD1Dull) >> 11) + 0.5) / 9007199254740992.0;
}
static double rt_normal(void)
{
    return sqrt(-2.0 * log(rt_uniform())) * cos(6.283185307179586 * rt_uniform());
}

static float rt_bf16(float f) /* round to bfloat16, to nearest even */
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&f, &u, sizeof f);
    return f;
}

static double rt_e4m3(uint8_t b) /* float8_e4m3fn, by its definition */
{
    const int e = (b >> 3) & 15, m = b & 7;
    const double v = e == 0 ? m / 8.0 * pow(2.0, -6) : (1.0 + m / 8.0) * pow(2.0, e - 7);
    return (b & 0x80) ? -v : v;
}

/* Add tensor `name` of n values (file order) to f as dtype; v receives the values the file
 * holds (for FP8: code x block scale, blocks of `block` along the last two dimensions, the
 * scales added as NAME_scale_inv). The values are drawn here with standard deviation sd. */
static void rt_add(rt_file *f, const char *name, const char *dtype, int rank, const uint32_t *shape,
                   double sd, int block, double *v)
{
    CU_ASSERT_FATAL(f->n + 2 <= RT_MAXT);
    rt_tensor *t = &f->t[f->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype;
    t->rank = rank;
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= (t->shape[i] = shape[i]);
    const size_t es = strcmp(dtype, "F32") == 0 ? 4 : strcmp(dtype, "BF16") == 0 ? 2 : 1;
    t->bytes = n * es;
    t->data = malloc(t->bytes);
    CU_ASSERT_FATAL(t->data != NULL);
    if (es == 1) { /* FP8 codes of magnitude 2^-6 .. 15, and a positive scale per block */
        const uint32_t d1 = shape[rank - 1], d0 = rank >= 2 ? shape[rank - 2] : 1;
        const uint32_t b0 = (d0 + (uint32_t)block - 1) / (uint32_t)block;
        const uint32_t b1 = (d1 + (uint32_t)block - 1) / (uint32_t)block;
        const uint32_t nx = rank == 3 ? shape[0] : 1;
        uint32_t sshape[3] = {nx, b0, b1};
        double *sc = malloc((size_t)nx * b0 * b1 * sizeof *sc);
        CU_ASSERT_FATAL(sc != NULL);
        for (size_t i = 0; i < (size_t)nx * b0 * b1; i++) sc[i] = sd * (0.5 + rt_uniform()) / 4.0;
        for (size_t k = 0; k < n; k++) {
            const uint8_t code = (uint8_t)((rt_uniform() < 0.5 ? 0x80 : 0) |
                                           (1 + (int)(rt_uniform() * 10)) << 3 |
                                           (int)(rt_uniform() * 8));
            t->data[k] = code;
            const size_t x = k / ((size_t)d0 * d1), r = (k / d1) % d0, c = k % d1;
            v[k] = rt_e4m3(code) * (float)sc[(x * b0 + r / (uint32_t)block) * b1 + c / (uint32_t)block];
        }
        char sname[100];
        snprintf(sname, sizeof sname, "%.80s_scale_inv", name);
        double *dummy = malloc((size_t)nx * b0 * b1 * sizeof *dummy);
        rt_tensor *s = &f->t[f->n++];
        snprintf(s->name, sizeof s->name, "%s", sname);
        s->dtype = "F32";
        s->rank = rank == 3 ? 3 : 2;
        memcpy(s->shape, rank == 3 ? sshape : sshape + 1, sizeof s->shape[0] * (size_t)s->rank);
        s->bytes = (size_t)nx * b0 * b1 * 4;
        s->data = malloc(s->bytes);
        CU_ASSERT_FATAL(s->data && dummy);
        for (size_t i = 0; i < (size_t)nx * b0 * b1; i++) {
            const float fv = (float)sc[i];
            memcpy(s->data + 4 * i, &fv, 4);
        }
        free(dummy);
        free(sc);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        float fv = (float)(sd * rt_normal());
        if (es == 2) {
            fv = rt_bf16(fv);
            uint32_t u;
            memcpy(&u, &fv, 4);
            t->data[2 * k] = (unsigned char)(u >> 16);
            t->data[2 * k + 1] = (unsigned char)(u >> 24);
        } else {
            memcpy(t->data + 4 * k, &fv, 4); /* little-endian hosts, as the format */
        }
        v[k] = fv;
    }
}

static int rt_write(const rt_file *f, const char *path)
{
    size_t cap = 64 + (size_t)f->n * 256, h = 0, off = 0;
    char *hdr = malloc(cap);
    if (!hdr) return -1;
    h += (size_t)snprintf(hdr + h, cap - h, "{\"__metadata__\": {\"format\": \"pt\"}");
    for (int i = 0; i < f->n; i++) {
        const rt_tensor *t = &f->t[i];
        h += (size_t)snprintf(hdr + h, cap - h, ", \"%s\": {\"dtype\": \"%s\", \"shape\": [", t->name,
                              t->dtype);
        for (int k = 0; k < t->rank; k++)
            h += (size_t)snprintf(hdr + h, cap - h, "%s%u", k ? ", " : "", t->shape[k]);
        h += (size_t)snprintf(hdr + h, cap - h, "], \"data_offsets\": [%zu, %zu]}", off, off + t->bytes);
        off += t->bytes;
    }
    h += (size_t)snprintf(hdr + h, cap - h, "}");
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        free(hdr);
        return -1;
    }
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)h >> (8 * i));
    int bad = fwrite(len, 1, 8, fp) != 8 || fwrite(hdr, 1, h, fp) != h;
    for (int i = 0; i < f->n && !bad; i++) bad = fwrite(f->t[i].data, 1, f->t[i].bytes, fp) != f->t[i].bytes;
    bad |= fclose(fp) != 0;
    free(hdr);
    return bad ? -1 : 0;
}

static void rt_file_free(rt_file *f)
{
    for (int i = 0; i < f->n; i++) free(f->t[i].data);
    f->n = 0;
}

/* A model's rule and weights as the reference holds them, [out][in] like the file. */
typedef struct {
    const char *name;
    int top_k, shared, sigmoid, renorm, groups, topk_groups, bias, norm_w, sgate, stacked;
    double scale, eps;
    const char *dtype;       /* of the expert and router weights */
    int block;               /* FP8 */
    double norm[RT_L][RT_D], router[RT_L][RT_E * RT_D], cbias[RT_L][RT_E];
    double gate[RT_L][RT_E][RT_F * RT_D], up[RT_L][RT_E][RT_F * RT_D], down[RT_L][RT_E][RT_D * RT_F];
    double sg[RT_L][RT_SF * RT_D], su[RT_L][RT_SF * RT_D], sd[RT_L][RT_D * RT_SF], sgw[RT_L][RT_D];
} rt_case;

/* Write c's weights (drawn here) to path and its model file to yaml. */
static void rt_case_files(rt_case *c, const char *st_path, const char *yaml_path)
{
    static rt_file f;
    static double stack[RT_E * RT_F * RT_D];
    char n[112];
    const uint32_t sh_r[2] = {RT_E, RT_D}, sh_gu[2] = {RT_F, RT_D}, sh_d[2] = {RT_D, RT_F};
    const uint32_t sh_sgu[2] = {RT_SF, RT_D}, sh_sd[2] = {RT_D, RT_SF}, sh_v[1] = {RT_D};
    const uint32_t sh_b[1] = {RT_E}, sh_sgw[2] = {1, RT_D};
    const uint32_t st_gu[3] = {RT_E, RT_F, RT_D}, st_d[3] = {RT_E, RT_D, RT_F};
    const double sdin = 1.0 / sqrt(RT_D), sdff = 1.0 / sqrt(RT_F);
    f.n = 0;
    for (int l = 0; l < RT_L; l++) {
        if (c->norm_w) {
            snprintf(n, sizeof n, "model.layers.%d.post_attention_layernorm.weight", l);
            rt_add(&f, n, "F32", 1, sh_v, 0.3, 0, c->norm[l]);
            for (int i = 0; i < RT_D; i++) c->norm[l][i] += 1.0; /* around 1, as trained */
            float *fv = (float *)(void *)f.t[f.n - 1].data;
            for (int i = 0; i < RT_D; i++) {
                const float x = (float)c->norm[l][i];
                memcpy((unsigned char *)fv + 4 * i, &x, 4);
                c->norm[l][i] = x;
            }
        } else {
            for (int i = 0; i < RT_D; i++) c->norm[l][i] = 1.0;
        }
        snprintf(n, sizeof n, "model.layers.%d.mlp.gate.weight", l);
        rt_add(&f, n, strcmp(c->dtype, "F8_E4M3") ? c->dtype : "F32", 2, sh_r, sdin, 0, c->router[l]);
        if (c->bias) {
            snprintf(n, sizeof n, "model.layers.%d.mlp.gate.e_score_correction_bias", l);
            rt_add(&f, n, "F32", 1, sh_b, 0.05, 0, c->cbias[l]);
        }
        static const char *const proj[3] = {"gate_proj", "up_proj", "down_proj"};
        for (int p = 0; p < 3; p++) {
            double(*dst)[RT_F * RT_D] = p == 0 ? c->gate[l] : p == 1 ? c->up[l] : c->down[l];
            if (c->stacked) {
                snprintf(n, sizeof n, "model.layers.%d.mlp.experts.%s", l, proj[p]);
                rt_add(&f, n, c->dtype, 3, p < 2 ? st_gu : st_d, p < 2 ? sdin : sdff, c->block, stack);
                for (int e = 0; e < RT_E; e++)
                    memcpy(dst[e], stack + (size_t)e * RT_F * RT_D, sizeof dst[e]);
            } else {
                for (int e = 0; e < RT_E; e++) {
                    snprintf(n, sizeof n, "model.layers.%d.mlp.experts.%d.%s.weight", l, e, proj[p]);
                    rt_add(&f, n, c->dtype, 2, p < 2 ? sh_gu : sh_d, p < 2 ? sdin : sdff, c->block,
                           dst[e]);
                }
            }
        }
        if (c->shared) {
            snprintf(n, sizeof n, "model.layers.%d.mlp.shared_expert.gate_proj.weight", l);
            rt_add(&f, n, c->dtype, 2, sh_sgu, sdin, c->block, c->sg[l]);
            snprintf(n, sizeof n, "model.layers.%d.mlp.shared_expert.up_proj.weight", l);
            rt_add(&f, n, c->dtype, 2, sh_sgu, sdin, c->block, c->su[l]);
            snprintf(n, sizeof n, "model.layers.%d.mlp.shared_expert.down_proj.weight", l);
            rt_add(&f, n, c->dtype, 2, sh_sd, 1.0 / sqrt(RT_SF), c->block, c->sd[l]);
        }
        if (c->sgate) {
            snprintf(n, sizeof n, "model.layers.%d.mlp.shared_expert_gate.weight", l);
            rt_add(&f, n, "F32", 2, sh_sgw, sdin, 0, c->sgw[l]);
        }
    }
    CU_ASSERT_EQUAL_FATAL(rt_write(&f, st_path), 0);
    rt_file_free(&f);
    const char *slash = strrchr(st_path, '/');
    char y[4096];
    int w = snprintf(y, sizeof y,
                     "version: 1\nmodel:\n  name: %s\n  layers: %d\n  d_model: %d\n"
                     "  routed_experts: %d\n  expert_d_ff: %d\n  top_k: %d\n"
                     "  shared_experts: %d\n  shared_d_ff: %d\n  rms_norm_eps: %g\n"
                     "  norm_weights: %s\n  shared_expert_gate: %s\n"
                     "  routing: {scoring: %s, normalize: %s, groups: %d, topk_groups: %d, "
                     "scale: %g, correction_bias: %s}\n"
                     "weights:\n  safetensors:\n    path: %s\n    stacked: %s\n    fp8_block: %d\n"
                     "    names:\n      router: model.layers.{layer}.mlp.gate.weight\n",
                     c->name, RT_L, RT_D, RT_E, RT_F, c->top_k, c->shared, c->shared ? RT_SF : 1,
                     c->eps, c->norm_w ? "true" : "false", c->sgate ? "true" : "false",
                     c->sigmoid ? "sigmoid" : "softmax", c->renorm ? "true" : "false", c->groups,
                     c->topk_groups, c->scale, c->bias ? "true" : "false",
                     slash ? slash + 1 : st_path, c->stacked ? "true" : "false",
                     c->block > 0 ? c->block : 128);
    const char *ex = c->stacked ? "model.layers.{layer}.mlp.experts" : "model.layers.{layer}.mlp.experts.{expert}";
    const char *sfx = c->stacked ? "" : ".weight";
    w += snprintf(y + w, sizeof y - (size_t)w,
                  "      gate: %s.gate_proj%s\n      up: %s.up_proj%s\n      down: %s.down_proj%s\n",
                  ex, sfx, ex, sfx, ex, sfx);
    if (c->shared)
        w += snprintf(y + w, sizeof y - (size_t)w,
                      "      shared_gate: model.layers.{layer}.mlp.shared_expert.gate_proj.weight\n"
                      "      shared_up: model.layers.{layer}.mlp.shared_expert.up_proj.weight\n"
                      "      shared_down: model.layers.{layer}.mlp.shared_expert.down_proj.weight\n");
    if (c->sgate)
        w += snprintf(y + w, sizeof y - (size_t)w,
                      "      shared_expert_gate: model.layers.{layer}.mlp.shared_expert_gate.weight\n");
    if (c->norm_w)
        w += snprintf(y + w, sizeof y - (size_t)w,
                      "      ffn_norm: model.layers.{layer}.post_attention_layernorm.weight\n");
    if (c->bias)
        w += snprintf(y + w, sizeof y - (size_t)w,
                      "      router_bias: model.layers.{layer}.mlp.gate.e_score_correction_bias\n");
    FILE *fp = fopen(yaml_path, "w");
    CU_ASSERT_FATAL(fp != NULL);
    CU_ASSERT(fwrite(y, 1, (size_t)w, fp) == (size_t)w);
    fclose(fp);
}

/* y (D) = W (out x in, [out][in]) x (in). */
static void rt_lin(const double *W, int out, int in, const double *x, double *y)
{
    for (int o = 0; o < out; o++) {
        double a = 0;
        for (int i = 0; i < in; i++) a += W[(size_t)o * in + i] * x[i];
        y[o] = a;
    }
}

static double rt_silu(double v) { return v / (1.0 + exp(-v)); }

/* SwiGLU: down (silu(gate x) * (up x)). */
static void rt_mlp(const double *g, const double *u, const double *dn, int ff, const double *x,
                   double *y)
{
    double a[RT_F > RT_SF ? RT_F : RT_SF], b[RT_F > RT_SF ? RT_F : RT_SF];
    rt_lin(g, ff, RT_D, x, a);
    rt_lin(u, ff, RT_D, x, b);
    for (int i = 0; i < ff; i++) a[i] = rt_silu(a[i]) * b[i];
    rt_lin(dn, RT_D, ff, a, y);
}

/* The router of one token (HF's gates, written out): experts into idx, weights into w. */
static void rt_route(const rt_case *c, int l, const double *logit, int *idx, double *w)
{
    double s[RT_E], ch[RT_E];
    int ok[RT_E];
    if (c->sigmoid) { /* DeepSeek-V3 MoEGate: scores = logits.sigmoid() */
        for (int e = 0; e < RT_E; e++) s[e] = 1.0 / (1.0 + exp(-logit[e]));
    } else { /* F.softmax(router_logits, dim=1) */
        double z = 0, m = logit[0];
        for (int e = 0; e < RT_E; e++) m = fmax(m, logit[e]);
        for (int e = 0; e < RT_E; e++) z += exp(logit[e] - m);
        for (int e = 0; e < RT_E; e++) s[e] = exp(logit[e] - m) / z;
    }
    /* scores_for_choice = scores + e_score_correction_bias */
    for (int e = 0; e < RT_E; e++) {
        ch[e] = s[e] + (c->bias ? c->cbias[l][e] : 0.0);
        ok[e] = 1;
    }
    if (c->groups > 1 && c->topk_groups < c->groups) {
        /* group_scores = topk(2) per group, summed; keep the topk_group best groups */
        const int per = RT_E / c->groups;
        double gs[RT_E];
        int keep[RT_E] = {0};
        for (int g = 0; g < c->groups; g++) {
            double v[RT_E];
            for (int i = 0; i < per; i++) v[i] = ch[g * per + i];
            for (int i = 1; i < per; i++) /* descending insertion sort */
                for (int j = i; j > 0 && v[j] > v[j - 1]; j--) {
                    const double t = v[j];
                    v[j] = v[j - 1];
                    v[j - 1] = t;
                }
            gs[g] = per >= 2 ? v[0] + v[1] : v[0];
        }
        for (int q = 0; q < c->topk_groups; q++) {
            int b = -1;
            for (int g = 0; g < c->groups; g++)
                if (!keep[g] && (b < 0 || gs[g] > gs[b])) b = g;
            keep[b] = 1;
        }
        for (int e = 0; e < RT_E; e++) ok[e] = keep[e / per];
    }
    for (int j = 0; j < c->top_k; j++) { /* topk of the masked choice scores */
        int b = -1;
        for (int e = 0; e < RT_E; e++)
            if (ok[e] && (b < 0 || ch[e] > ch[b])) b = e;
        idx[j] = b;
        ok[b] = 0;
    }
    double sum = 0;
    for (int j = 0; j < c->top_k; j++) sum += (w[j] = s[idx[j]]); /* scores.gather(topk_idx) */
    for (int j = 0; j < c->top_k; j++) {
        if (c->renorm) w[j] /= sum + 1e-20;
        w[j] *= c->scale;
    }
}

/* Every layer on one token: x (D) in place; the chosen experts into idx[l][k]. */
static void rt_forward(const rt_case *c, double *x, int idx[RT_L][RT_E])
{
    for (int l = 0; l < RT_L; l++) {
        double h[RT_D], lg[RT_E], y[RT_D] = {0}, o[RT_D], w[RT_E], ms = 0;
        for (int i = 0; i < RT_D; i++) ms += x[i] * x[i];
        const double inv = 1.0 / sqrt(ms / RT_D + c->eps);
        for (int i = 0; i < RT_D; i++) h[i] = x[i] * inv * c->norm[l][i];
        rt_lin(c->router[l], RT_E, RT_D, h, lg);
        rt_route(c, l, lg, idx[l], w);
        for (int j = 0; j < c->top_k; j++) {
            const int e = idx[l][j];
            rt_mlp(c->gate[l][e], c->up[l][e], c->down[l][e], RT_F, h, o);
            for (int i = 0; i < RT_D; i++) y[i] += w[j] * o[i];
        }
        if (c->shared) {
            double gw = 1.0;
            if (c->sgate) { /* F.sigmoid(self.shared_expert_gate(hidden_states)) */
                double a = 0;
                for (int i = 0; i < RT_D; i++) a += c->sgw[l][i] * h[i];
                gw = 1.0 / (1.0 + exp(-a));
            }
            rt_mlp(c->sg[l], c->su[l], c->sd[l], RT_SF, h, o);
            for (int i = 0; i < RT_D; i++) y[i] += gw * o[i];
        }
        for (int i = 0; i < RT_D; i++) x[i] += y[i];
    }
}

/* Run case c on the ideal machine (test_run.c's: 16-bit weights and inputs, an ADC that
 * resolves every level, no noise) and compare with the reference. The bound: the machine
 * rounds each weight to 16 bits of its matrix's largest magnitude and each input vector to
 * 16 bits of its largest, so every MVM output is off by about 2^-16 x (largest / rms) x
 * sqrt(2) relative (weights and inputs), a few 1e-5 for these Gaussian weights (largest /
 * rms about 3 to 4); a layer chains three MVMs (and the router's, through the weights), two
 * layers add, and the RMS norm and activations in float add 1e-7: the block outputs agree
 * within 2e-4 rms relative, and the routing (no two choice scores closer than that here) is
 * the reference's for every token and layer. */
static void rt_check(rt_case *c, double *err_out)
{
    char st[512], ym[512];
    CU_ASSERT_PTR_NOT_NULL_FATAL(aimc_test_path("rules.safetensors"));
    snprintf(st, sizeof st, "%s", aimc_test_path("rules.safetensors"));
    snprintf(ym, sizeof ym, "%s", aimc_test_path("rules.yaml"));
    rt_rng = 0x243f6a8885a308d3ull ^ (uint64_t)c->name[0] << 32 ^ (uint64_t)strlen(c->name);
    rt_case_files(c, st, ym);
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    int rc = aimc_model_load(ym, 1, &m, &d);
    if (rc) fprintf(stderr, "\n  %s: %s\n", c->name, d.msg);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.device.type = AIMC_DEVICE_IDEAL;
    a.crossbar.rows = 32;
    a.crossbar.cols = 32;
    a.crossbar.weight_bits = 16;
    a.dac.bits = 16;
    a.adc.bits = 16;
    a.adc.per_crossbar = 4;
    a.adc.range = AIMC_ADC_RANGE_FULL_SCALE;
    a.hierarchy.chips_auto = 1;
    CU_ASSERT_EQUAL_FATAL(aimc_arch_validate(&a, NULL), AIMC_OK);
    aimc_map_opts mo = {0};
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan_ex(&a, m, &mo, &p, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_map_fit_chips(&a, p), AIMC_OK);
    float *x0 = malloc(RT_TOK * RT_D * sizeof *x0), *xo = malloc(RT_TOK * RT_D * sizeof *xo);
    int *ex = malloc((size_t)RT_L * RT_TOK * (size_t)c->top_k * sizeof *ex);
    aimc_rt_report *r = calloc(1, sizeof *r);
    CU_ASSERT_FATAL(x0 && xo && ex && r);
    aimc_rt_tokens(17, RT_TOK, RT_D, x0);
    aimc_dev *dev = NULL;
    aimc_open_opts o = {.arch = &a, .seed = 3, .diag = &d};
    rc = aimc_open("sim:", &o, &dev);
    if (!rc) rc = aimc_rt_program(dev, &a, m, p, NULL, NULL, &d);
    aimc_rt_opts ro = {.batch = 4, .experts_out = ex, .x_out = xo};
    if (!rc) rc = aimc_rt_run(dev, m, x0, RT_TOK, NULL, &ro, r, &d);
    if (rc) fprintf(stderr, "\n  %s: %s\n", c->name, d.msg);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    double e2 = 0, y2 = 0;
    int agree = 0;
    for (int t = 0; t < RT_TOK; t++) {
        double x[RT_D];
        int idx[RT_L][RT_E];
        for (int i = 0; i < RT_D; i++) x[i] = x0[t * RT_D + i];
        rt_forward(c, x, idx);
        for (int i = 0; i < RT_D; i++) {
            const double ym_ = (double)xo[t * RT_D + i] - x0[t * RT_D + i], yr = x[i] - x0[t * RT_D + i];
            e2 += (ym_ - yr) * (ym_ - yr);
            y2 += yr * yr;
        }
        for (int l = 0; l < RT_L; l++) {
            int same = 1;
            for (int j = 0; j < c->top_k; j++) {
                int found = 0;
                for (int q = 0; q < c->top_k; q++)
                    found |= ex[((size_t)l * RT_TOK + (size_t)t) * (size_t)c->top_k + (size_t)q] == idx[l][j];
                same &= found;
            }
            agree += same;
        }
    }
    const double err = sqrt(e2 / y2);
    if (err_out) *err_out = err;
    if (getenv("RT_SHOW") || err > 2e-4 || agree != RT_L * RT_TOK)
        fprintf(stderr, "\n  %s: machine vs reference %.3g rms relative, %d of %d routings\n",
                c->name, err, agree, RT_L * RT_TOK);
    CU_ASSERT(err < 2e-4);
    CU_ASSERT_EQUAL(agree, RT_L * RT_TOK);
    /* and the runtime's own reference, layer by layer, says the same */
    CU_ASSERT(r->rel_rms_error < 2e-4);
    CU_ASSERT_EQUAL(r->routing_agreement, 1.0);
    aimc_close(dev);
    free(r);
    free(ex);
    free(xo);
    free(x0);
    aimc_plan_free(p);
    aimc_model_free(m);
    remove(st);
    remove(ym);
}

static rt_case *rt_new(const char *name)
{
    rt_case *c = calloc(1, sizeof *c);
    CU_ASSERT_FATAL(c != NULL);
    c->name = name;
    c->top_k = 2;
    c->renorm = 1;
    c->groups = c->topk_groups = 1;
    c->scale = 1.0;
    c->eps = 1e-6;
    c->dtype = "F32";
    return c;
}

/* Mixtral: softmax, top-2, renormalised (the TOPK command), learned norm weights, eps 1e-5. */
static void test_rule_mixtral(void)
{
    rt_case *c = rt_new("mixtral-like");
    c->norm_w = 1;
    c->eps = 1e-5;
    rt_check(c, NULL);
    free(c);
}

/* OLMoE: softmax, top-k without renormalisation (norm_topk_prob false), BF16 weights stored
 * stacked [experts, out, in]. */
static void test_rule_olmoe(void)
{
    rt_case *c = rt_new("olmoe-like");
    c->top_k = 3;
    c->renorm = 0;
    c->norm_w = 1;
    c->eps = 1e-5;
    c->stacked = 1;
    c->dtype = "BF16";
    rt_check(c, NULL);
    free(c);
}

/* Qwen1.5-MoE: softmax without renormalisation and a shared expert behind a sigmoid gate. */
static void test_rule_qwen(void)
{
    rt_case *c = rt_new("qwen-like");
    c->top_k = 2;
    c->renorm = 0;
    c->shared = 1;
    c->sgate = 1;
    c->norm_w = 1;
    rt_check(c, NULL);
    free(c);
}

/* DeepSeek-V3: sigmoid scores, correction bias, 4 groups of 2 of which the best 2 take part,
 * top-3, renormalised, scaled by 2.5; a shared expert; F8_E4M3 weights with 16 x 16 block
 * scales (d_ff 40 leaves partial blocks). */
static void test_rule_deepseek(void)
{
    rt_case *c = rt_new("deepseek-like");
    c->top_k = 3;
    c->sigmoid = 1;
    c->bias = 1;
    c->groups = 4;
    c->topk_groups = 2;
    c->scale = 2.5;
    c->shared = 1;
    c->norm_w = 1;
    c->dtype = "F8_E4M3";
    c->block = 16;
    rt_check(c, NULL);
    free(c);
}

/* The ROUTE command by hand: 4 logits (0, 0, 1, 1), sigmoid scores s = (1/2, 1/2, 0.7311,
 * 0.7311), 2 groups of 2 of which 1 takes part, top-2, renormalised, scale 2. Without a bias
 * group 1 scores 1.4621 against group 0's 1: experts 2 and 3, weights 2 x 1/2. A bias of 0.5
 * on expert 0 lifts group 0 to 1.5: experts 0 (choice 1) and 1, weights from s without the
 * bias: again 1 and 1. Then bad rules: each refused with BAD_DESC and ERROR_INFO 0x38. */
static void test_route_command(void)
{
    aimc_dev *dev = NULL;
    aimc_open_opts o = {.seed = 1};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    aimc_bo *in, *idx, *w, *rule;
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, 16, &in), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create_ex(dev, 8, AIMC_BO_HOST_READ, &idx), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create_ex(dev, 8, AIMC_BO_HOST_READ, &w), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, AIMC_ROUTE_RULE_BYTES + 16, &rule), AIMC_OK);
    const float lg[4] = {0, 0, 1, 1}, bias[4] = {0.5f, 0, 0, 0};
    memcpy(aimc_bo_map(in), lg, sizeof lg);
    uint8_t *rec = aimc_bo_map(rule);
    for (int b = 0; b < 2; b++) {
        aimc_route_rule_write(rec, 1, 1, 2, 1, 2.0f, (uint32_t)b);
        memcpy(rec + AIMC_ROUTE_RULE_BYTES, bias, sizeof bias);
        uint64_t f;
        CU_ASSERT_EQUAL(aimc_submit_route(dev, 1, 4, 2, aimc_bo_addr(in), aimc_bo_addr(idx),
                                          aimc_bo_addr(w), aimc_bo_addr(rule), &f), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, -1), AIMC_OK);
        const uint8_t *ix = aimc_bo_map(idx);
        const float *wt = aimc_bo_map(w);
        CU_ASSERT_EQUAL(aimc_le_get32(ix), b ? 0u : 2u);
        CU_ASSERT_EQUAL(aimc_le_get32(ix + 4), b ? 1u : 3u);
        CU_ASSERT_DOUBLE_EQUAL(wt[0], 1.0, 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(wt[1], 1.0, 1e-6);
    }
    /* bad rules: score 2, groups 3 (not dividing 4), topk_groups 0, a NaN scale, k 3 > the
     * 2 experts of 1 group, a NaN bias */
    struct {
        uint32_t score, groups, topk, k, bias;
        float scale, b0;
    } bad[] = {{2, 1, 1, 2, 0, 1, 0},   {0, 3, 1, 2, 0, 1, 0}, {0, 2, 0, 2, 0, 1, 0},
               {0, 1, 1, 2, 0, NAN, 0}, {0, 2, 1, 3, 0, 1, 0}, {0, 1, 1, 2, 1, 1, NAN}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        aimc_route_rule_write(rec, bad[i].score, 1, bad[i].groups, bad[i].topk, bad[i].scale,
                              bad[i].bias);
        memcpy(rec + AIMC_ROUTE_RULE_BYTES, &bad[i].b0, 4);
        uint64_t f;
        CU_ASSERT_EQUAL(aimc_submit_route(dev, 1, 4, bad[i].k, aimc_bo_addr(in), aimc_bo_addr(idx),
                                          aimc_bo_addr(w), aimc_bo_addr(rule), &f), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, -1), AIMC_ERR_DEVICE);
        CU_ASSERT_PTR_NOT_NULL(strstr(aimc_error_text(dev), "0x38"));
    }
    /* no rule at all: a DMA fault */
    uint64_t f;
    CU_ASSERT_EQUAL(aimc_submit_route(dev, 1, 4, 2, aimc_bo_addr(in), aimc_bo_addr(idx),
                                      aimc_bo_addr(w), 0, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, -1), AIMC_ERR_DEVICE);
    aimc_bo_destroy(in);
    aimc_bo_destroy(idx);
    aimc_bo_destroy(w);
    aimc_bo_destroy(rule);
    aimc_close(dev);
}

/* Attention and vocabulary in the model: GQA (4 heads, 2 key-value heads of 12) with qk
 * norms and a vocabulary of 50, one dense layer and one MoE layer; and MLA. Shapes, names,
 * order, the vectors, aimc_model_find and the KV row by hand. */
static void test_attention_shapes(void)
{
    static const char *gqa =
        "version: 1\nmodel:\n  name: gqa\n  layers: 2\n  dense_layers: 1\n  dense_d_ff: 20\n"
        "  d_model: 48\n  routed_experts: 4\n  expert_d_ff: 16\n  top_k: 2\n"
        "  norm_weights: true\n  vocab: 50\n"
        "  attention: {heads: 4, kv_heads: 2, head_dim: 12, qk_norm: true}\n";
    static const char *mla =
        "version: 1\nmodel:\n  name: mla\n  layers: 1\n  d_model: 64\n  routed_experts: 4\n"
        "  expert_d_ff: 16\n  top_k: 2\n  norm_weights: true\n"
        "  attention: {kind: mla, heads: 4, q_lora_rank: 24, kv_lora_rank: 16, rope_dim: 8}\n";
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(gqa, "gqa.yaml", 1, &m, &d), AIMC_OK);
    /* layer 0: q k v o + dense 3; layer 1: q k v o + router + 4 x 3; the head */
    CU_ASSERT_EQUAL(m->n_matrices, 7 + 17 + 1);
    CU_ASSERT_STRING_EQUAL(m->m[0].name, "layer0.attn.q");
    CU_ASSERT(m->m[0].rows == 48 && m->m[0].cols == 48);
    CU_ASSERT(m->m[1].kind == AIMC_MAT_K && m->m[1].cols == 24);
    CU_ASSERT(m->m[2].kind == AIMC_MAT_V && m->m[2].cols == 24);
    CU_ASSERT(m->m[3].kind == AIMC_MAT_O && m->m[3].rows == 48 && m->m[3].cols == 48);
    CU_ASSERT_STRING_EQUAL(m->m[7].name, "layer1.attn.q");
    CU_ASSERT_EQUAL(aimc_model_find(m, 1, AIMC_MAT_V, AIMC_EXPERT_ATTN), 9);
    CU_ASSERT_EQUAL(aimc_model_find(m, 0, AIMC_MAT_UP, AIMC_EXPERT_DENSE), 5);
    CU_ASSERT_EQUAL(aimc_model_find(m, 1, AIMC_MAT_ROUTER, -1), 11);
    CU_ASSERT_EQUAL(aimc_model_find(m, 1, AIMC_MAT_DOWN, 3), 11 + 12);
    CU_ASSERT_EQUAL(aimc_model_find(m, 1, AIMC_MAT_QA, AIMC_EXPERT_ATTN), -1);
    CU_ASSERT_EQUAL(aimc_model_head(m), 24);
    CU_ASSERT_EQUAL(m->m[24].cols, 50);
    CU_ASSERT_PTR_NOT_NULL(m->embed);
    /* per layer attn, q, k, ffn norms; the final norm */
    CU_ASSERT_EQUAL(m->n_vectors, 2 * 4 + 1);
    long qn = aimc_model_vector(m, 1, AIMC_VEC_Q_NORM), kn = aimc_model_vector(m, 1, AIMC_VEC_K_NORM);
    CU_ASSERT(qn >= 0 && m->v[qn].n == 48);
    CU_ASSERT(kn >= 0 && m->v[kn].n == 24);
    CU_ASSERT(aimc_model_vector(m, -1, AIMC_VEC_FINAL_NORM) >= 0);
    uint32_t kr, vr;
    aimc_model_kv_row(m, &kr, &vr);
    CU_ASSERT(kr == 24 && vr == 24);
    CU_ASSERT_DOUBLE_EQUAL(m->attn.scale, 1 / sqrt(12.0), 1e-15);
    aimc_model_free(m);
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(mla, "mla.yaml", 0, &m, &d), AIMC_OK);
    /* q_a 64 x 24, q_b 24 x 4 x (16 + 8), kv_a 64 x 24, o 4 x 16 x 64 */
    CU_ASSERT(m->m[0].kind == AIMC_MAT_QA && m->m[0].rows == 64 && m->m[0].cols == 24);
    CU_ASSERT(m->m[1].kind == AIMC_MAT_QB && m->m[1].rows == 24 && m->m[1].cols == 96);
    CU_ASSERT(m->m[2].kind == AIMC_MAT_KVA && m->m[2].rows == 64 && m->m[2].cols == 24);
    CU_ASSERT(m->m[3].kind == AIMC_MAT_O && m->m[3].rows == 64 && m->m[3].cols == 64);
    aimc_model_kv_row(m, &kr, &vr);
    CU_ASSERT(kr == 24 && vr == 0); /* one latent row, the values inside it */
    CU_ASSERT(aimc_model_vector(m, 0, AIMC_VEC_QA_NORM) >= 0 &&
              aimc_model_vector(m, 0, AIMC_VEC_KVA_NORM) >= 0);
    aimc_model_free(m);
}

/* The ATTN command against attention written out here: 2 query heads sharing 1 key-value
 * head (GQA) of width 4, RoPE over all 4 dims (halves, theta 100), a cache of 8 positions;
 * a prefill of 3 tokens then one decode token at position 3; and the same cache as MLA's
 * (values = the first 2 of each key, RoPE on the last 2, interleaved). The device computes
 * in double from float32 operands and rounds once: within 1e-6. */
static void rt_rope(double *x, int n, int r, int inter, double theta, int pos)
{
    double *y = x + (n - r);
    for (int i = 0; i < r / 2; i++) {
        const double ang = pos / pow(theta, 2.0 * i / r);
        double *a = inter ? &y[2 * i] : &y[i], *b = inter ? &y[2 * i + 1] : &y[i + r / 2];
        const double xa = *a, xb = *b;
        *a = xa * cos(ang) - xb * sin(ang);
        *b = xb * cos(ang) + xa * sin(ang);
    }
}

static void test_attn_command(void)
{
    enum { H = 2, DK = 4, CTX = 8, T = 4 };
    for (int mla = 0; mla < 2; mla++) {
        const int dv = mla ? 2 : 4, rope_dim = mla ? 2 : 4, inter = mla, rowv = mla ? 0 : dv;
        const double theta = 100.0, scale = 0.7;
        aimc_dev *dev = NULL;
        aimc_open_opts o = {.seed = 1};
        CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
        aimc_bo *q, *kv, *out, *cache, *par;
        CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, T * H * DK * 4, &q), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, T * (DK + 4) * 4, &kv), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_bo_create_ex(dev, T * H * 4 * 4, AIMC_BO_HOST_READ, &out), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, CTX * (DK + 4) * 4, &cache), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, AIMC_ATTN_RECORD_BYTES, &par), AIMC_OK);
        aimc_attn_record_write(aimc_bo_map(par), H, 1, DK, (uint32_t)dv, CTX, (uint32_t)rope_dim,
                               (uint32_t)inter, (uint32_t)mla, (float)scale, (float)theta, 1);
        /* queries, keys and values of the 4 tokens */
        float qv[T][H * DK], kk[T][DK], vv[T][4];
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < H * DK; i++) qv[t][i] = (float)((t * 7 + i * 3) % 11 - 5) / 4.0f;
            for (int i = 0; i < DK; i++) kk[t][i] = (float)((t * 5 + i * 2) % 9 - 4) / 3.0f;
            for (int i = 0; i < 4; i++) vv[t][i] = (float)((t * 3 + i) % 7 - 3) / 2.0f;
        }
        /* the reference: rotated keys of every position, then each query */
        double kr[T][DK];
        for (int t = 0; t < T; t++) {
            for (int i = 0; i < DK; i++) kr[t][i] = kk[t][i];
            rt_rope(kr[t], DK, rope_dim, inter, theta, t);
        }
        double want[T][H][4];
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++) {
                double qh[DK], s[T], mx = -1e300, z = 0;
                for (int i = 0; i < DK; i++) qh[i] = qv[t][h * DK + i];
                rt_rope(qh, DK, rope_dim, inter, theta, t);
                for (int i = 0; i <= t; i++) {
                    s[i] = 0;
                    for (int d2 = 0; d2 < DK; d2++) s[i] += qh[d2] * kr[i][d2];
                    s[i] *= scale;
                    mx = fmax(mx, s[i]);
                }
                for (int i = 0; i <= t; i++) z += exp(s[i] - mx);
                for (int d2 = 0; d2 < dv; d2++) {
                    double a = 0;
                    for (int i = 0; i <= t; i++) a += exp(s[i] - mx) / z * (mla ? kr[i][d2] : vv[i][d2]);
                    want[t][h][d2] = a;
                }
            }
        /* prefill 3, then decode 1 */
        const int first[2] = {0, 3}, count[2] = {3, 1};
        double worst = 0;
        for (int step = 0; step < 2; step++) {
            const int n = count[step], p0 = first[step];
            float *qb = aimc_bo_map(q), *kb = aimc_bo_map(kv);
            for (int t = 0; t < n; t++) {
                memcpy(qb + t * H * DK, qv[p0 + t], sizeof qv[0]);
                memcpy(kb + t * DK, kk[p0 + t], sizeof kk[0]);
                if (!mla) memcpy(kb + n * DK + t * dv, vv[p0 + t], (size_t)dv * 4);
            }
            uint64_t f;
            CU_ASSERT_EQUAL(aimc_submit_attn(dev, (uint32_t)n, (uint32_t)p0, aimc_bo_addr(q),
                                             aimc_bo_addr(kv), aimc_bo_addr(out),
                                             aimc_bo_addr(cache), aimc_bo_addr(par), &f), AIMC_OK);
            CU_ASSERT_EQUAL_FATAL(aimc_fence_wait(dev, f, -1), AIMC_OK);
            const float *ob = aimc_bo_map(out);
            for (int t = 0; t < n; t++)
                for (int h = 0; h < H; h++)
                    for (int d2 = 0; d2 < dv; d2++) {
                        const double e = fabs(ob[(t * H + h) * dv + d2] - want[p0 + t][h][d2]);
                        if (e > worst) worst = e;
                    }
        }
        (void)rowv;
        if (worst > 1e-6) fprintf(stderr, "\n  attn (mla %d): worst %g\n", mla, worst);
        CU_ASSERT(worst <= 1e-6);
        /* a bad record and a position past the cache */
        uint64_t f;
        aimc_attn_record_write(aimc_bo_map(par), 3, 2, DK, (uint32_t)dv, CTX, 4, 0, 0, 1, 100, 1);
        CU_ASSERT_EQUAL(aimc_submit_attn(dev, 1, 0, aimc_bo_addr(q), aimc_bo_addr(kv),
                                         aimc_bo_addr(out), aimc_bo_addr(cache), aimc_bo_addr(par),
                                         &f), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, -1), AIMC_ERR_DEVICE);
        aimc_attn_record_write(aimc_bo_map(par), H, 1, DK, 4, CTX, 4, 0, 0, 1, 100, 1);
        CU_ASSERT_EQUAL(aimc_submit_attn(dev, 2, CTX - 1, aimc_bo_addr(q), aimc_bo_addr(kv),
                                         aimc_bo_addr(out), aimc_bo_addr(cache), aimc_bo_addr(par),
                                         &f), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, -1), AIMC_ERR_DEVICE);
        aimc_bo_destroy(q);
        aimc_bo_destroy(kv);
        aimc_bo_destroy(out);
        aimc_bo_destroy(cache);
        aimc_bo_destroy(par);
        aimc_close(dev);
    }
}

/* ---- a small transformer against an independent reference ----------------------------------
 *
 * Whole models (attention with RoPE and a causal KV cache, dense and MoE layers, the final norm
 * and the LM head) on the ideal machine, each with one routing rule, against a forward pass
 * written here in double from the published formulas (HF's Mixtral/OLMoE/Qwen2-MoE attention
 * and DeepSeek-V3's MLA in its absorbed form) on the model's own weights: random ones, with
 * the norm weights and correction biases drawn here so that they matter. One sequence of 12
 * tokens in groups of 4 (a prefill of 4, then 4 and 4), so that each group attends to the
 * cache the ones before left. */

#define TR_TOK 12

/* y[c] = sum_r x[r] W[r][c] with aimc's layout (rows = inputs). */
static void tr_mv(const aimc_matrix *w, const double *x, double *y)
{
    for (uint32_t c = 0; c < w->cols; c++) y[c] = 0;
    for (uint32_t r = 0; r < w->rows; r++)
        for (uint32_t c = 0; c < w->cols; c++) y[c] += x[r] * w->w[(size_t)r * w->cols + c];
}

static const aimc_matrix *tr_mat(const aimc_model *m, int l, aimc_mat_kind k, int e)
{
    const long i = aimc_model_find(m, l, k, e);
    CU_ASSERT_FATAL(i >= 0);
    return &m->m[i];
}

/* RMS norm of n values (weight vector kind of layer l, if the model has it), into out. */
static void tr_norm(const aimc_model *m, int l, aimc_vec_kind kind, const double *x, int n,
                    double *out)
{
    const long w = aimc_model_vector(m, l, kind);
    const double eps = m->norm_eps > 0 ? m->norm_eps : 1e-6;
    double ms = 0;
    for (int i = 0; i < n; i++) ms += x[i] * x[i];
    const double inv = 1.0 / sqrt(ms / n + eps);
    for (int i = 0; i < n; i++) out[i] = x[i] * inv * (w >= 0 ? m->v[w].v[i] : 1.0);
}

static void tr_swiglu(const aimc_model *m, int l, int e, const double *h, double *y)
{
    const aimc_matrix *g = tr_mat(m, l, AIMC_MAT_GATE, e), *u = tr_mat(m, l, AIMC_MAT_UP, e);
    const aimc_matrix *dn = tr_mat(m, l, AIMC_MAT_DOWN, e);
    double *a = malloc(g->cols * sizeof *a), *b = malloc(g->cols * sizeof *b);
    CU_ASSERT_FATAL(a && b);
    tr_mv(g, h, a);
    tr_mv(u, h, b);
    for (uint32_t i = 0; i < g->cols; i++) a[i] = rt_silu(a[i]) * b[i];
    tr_mv(dn, a, y);
    free(a);
    free(b);
}

/* The whole model on TR_TOK tokens: x (TR_TOK x d) in place; routing into ex (MoE layers x
 * TR_TOK x k); logits (TR_TOK x vocab). */
static void tr_forward(const aimc_model *m, double *x, int *ex, double *logits)
{
    const int D = m->d_model, H = m->attn.heads, Hk = m->attn.kv_heads, dk = m->attn.dk;
    const int dv = m->attn.dv, R = m->attn.rope_dim, mla = m->attn.kind == AIMC_ATTN_MLA;
    const int rowk = Hk * dk, k = m->top_k, E = m->n_experts;
    double *q = calloc((size_t)TR_TOK * H * dk, sizeof *q), *kc = calloc((size_t)TR_TOK * rowk, sizeof *kc);
    double *vc = calloc((size_t)TR_TOK * Hk * dv, sizeof *vc), *h = malloc((size_t)D * 4 * sizeof *h);
    double *t1 = malloc(65536 * sizeof *t1), *t2 = malloc(65536 * sizeof *t2), *y = malloc((size_t)D * sizeof *y);
    double *att = malloc((size_t)H * dv * sizeof *att);
    CU_ASSERT_FATAL(q && kc && vc && h && t1 && t2 && y && att);
    rt_case rule = {0};
    rule.top_k = k;
    rule.sigmoid = m->rule.sigmoid;
    rule.renorm = !m->rule.no_renorm;
    rule.groups = m->rule.groups > 1 ? m->rule.groups : 1;
    rule.topk_groups = m->rule.topk_groups > 0 ? m->rule.topk_groups : rule.groups;
    rule.scale = m->rule.scale > 0 ? m->rule.scale : 1.0;
    rule.bias = m->rule.bias;
    for (int l = 0; l < m->layers; l++) {
        /* attention over the sequence: every token's q, k, v, then causal softmax */
        for (int t = 0; t < TR_TOK; t++) {
            double *xt = x + (size_t)t * D;
            tr_norm(m, l, AIMC_VEC_ATTN_NORM, xt, D, h);
            double *qt = q + (size_t)t * H * dk, *kt = kc + (size_t)t * rowk;
            if (mla) { /* absorbed MLA: q = norm(x W_qa) W_qb; [latent | rope] = x W_kva */
                const int ql = m->attn.q_lora, kl = m->attn.kv_lora;
                tr_mv(tr_mat(m, l, AIMC_MAT_QA, AIMC_EXPERT_ATTN), h, t1);
                tr_norm(m, l, AIMC_VEC_QA_NORM, t1, ql, t2);
                for (int g = 0; g < m->attn.groups; g++) /* each group of heads' part */
                    tr_mv(&m->m[aimc_model_find_part(m, l, AIMC_MAT_QB, AIMC_EXPERT_ATTN, g)], t2,
                          qt + (size_t)g * (H / m->attn.groups) * dk);
                tr_mv(tr_mat(m, l, AIMC_MAT_KVA, AIMC_EXPERT_ATTN), h, kt);
                tr_norm(m, l, AIMC_VEC_KVA_NORM, kt, kl, t1);
                memcpy(kt, t1, (size_t)kl * sizeof *kt);
            } else {
                tr_mv(tr_mat(m, l, AIMC_MAT_Q, AIMC_EXPERT_ATTN), h, qt);
                tr_mv(tr_mat(m, l, AIMC_MAT_K, AIMC_EXPERT_ATTN), h, kt);
                tr_mv(tr_mat(m, l, AIMC_MAT_V, AIMC_EXPERT_ATTN), h, vc + (size_t)t * Hk * dv);
                if (m->attn.qk_norm) { /* OLMoE: over all the queries, all the keys */
                    tr_norm(m, l, AIMC_VEC_Q_NORM, qt, H * dk, t1);
                    memcpy(qt, t1, (size_t)H * dk * sizeof *qt);
                    tr_norm(m, l, AIMC_VEC_K_NORM, kt, rowk, t1);
                    memcpy(kt, t1, (size_t)rowk * sizeof *kt);
                }
            }
            for (int hh = 0; hh < H; hh++)
                rt_rope(qt + (size_t)hh * dk, dk, R, m->attn.rope_interleaved, m->attn.rope_theta, t);
            for (int j = 0; j < Hk; j++)
                rt_rope(kt + (size_t)j * dk, dk, R, m->attn.rope_interleaved, m->attn.rope_theta, t);
        }
        for (int t = 0; t < TR_TOK; t++) {
            for (int hh = 0; hh < H; hh++) {
                const int j = hh / (H / Hk);
                double s[TR_TOK], mx = -1e300, z = 0;
                for (int i = 0; i <= t; i++) {
                    s[i] = 0;
                    for (int c = 0; c < dk; c++)
                        s[i] += q[((size_t)t * H + hh) * dk + c] * kc[(size_t)i * rowk + (size_t)j * dk + c];
                    s[i] *= m->attn.scale;
                    mx = fmax(mx, s[i]);
                }
                for (int i = 0; i <= t; i++) z += exp(s[i] - mx);
                for (int c = 0; c < dv; c++) {
                    double a = 0;
                    for (int i = 0; i <= t; i++)
                        a += exp(s[i] - mx) / z *
                             (mla ? kc[(size_t)i * rowk + c] : vc[((size_t)i * Hk + j) * dv + c]);
                    att[hh * dv + c] = a;
                }
            }
            const int G = m->attn.groups > 1 ? m->attn.groups : 1;
            for (int g = 0; g < G; g++) {
                tr_mv(&m->m[aimc_model_find_part(m, l, AIMC_MAT_O, AIMC_EXPERT_ATTN, g)],
                      att + (size_t)g * (H / G) * dv, y);
                for (int i = 0; i < D; i++) x[(size_t)t * D + i] += y[i];
            }
        }
        /* the FFN: dense, or the MoE block with the model's rule */
        for (int t = 0; t < TR_TOK; t++) {
            double *xt = x + (size_t)t * D;
            tr_norm(m, l, AIMC_VEC_FFN_NORM, xt, D, h);
            double o[256] = {0};
            CU_ASSERT_FATAL(D <= 256);
            if (l < m->dense_layers) {
                tr_swiglu(m, l, AIMC_EXPERT_DENSE, h, o);
                for (int i = 0; i < D; i++) xt[i] += o[i];
                continue;
            }
            const long b = aimc_model_vector(m, l, AIMC_VEC_ROUTER_BIAS);
            for (int e = 0; e < E && b >= 0; e++) rule.cbias[0][e] = m->v[b].v[e];
            double lg[RT_E], w[RT_E];
            int idx[RT_E];
            CU_ASSERT_FATAL(E <= RT_E);
            tr_mv(tr_mat(m, l, AIMC_MAT_ROUTER, -1), h, lg);
            rt_route(&rule, 0, lg, idx, w);
            for (int j = 0; j < k; j++) {
                tr_swiglu(m, l, idx[j], h, y);
                for (int i = 0; i < D; i++) o[i] += w[j] * y[i];
                ex[((size_t)(l - m->dense_layers) * TR_TOK + (size_t)t) * (size_t)k + (size_t)j] = idx[j];
            }
            for (int s = 0; s < m->n_shared; s++) {
                double gw = 1.0;
                if (m->shared_gate) {
                    tr_mv(tr_mat(m, l, AIMC_MAT_SGATE, E + s), h, t1);
                    gw = 1.0 / (1.0 + exp(-t1[0]));
                }
                tr_swiglu(m, l, E + s, h, y);
                for (int i = 0; i < D; i++) o[i] += gw * y[i];
            }
            for (int i = 0; i < D; i++) xt[i] += o[i];
        }
    }
    for (int t = 0; t < TR_TOK; t++) { /* the final norm and the head */
        tr_norm(m, -1, AIMC_VEC_FINAL_NORM, x + (size_t)t * D, D, h);
        for (int p = 0; p < m->head_parts; p++)
            tr_mv(&m->m[aimc_model_head(m) + p], h,
                  logits + (size_t)t * m->vocab + (size_t)p * AIMC_MODEL_MAX_COLS);
    }
    free(q);
    free(kc);
    free(vc);
    free(h);
    free(t1);
    free(t2);
    free(y);
    free(att);
}

/* Run the model of text on the ideal machine and compare (the bound as rt_check's: 16-bit
 * rounding of weights and inputs, a few 1e-5 per MVM; attention adds a chain of three MVMs
 * and a softmax whose scores carry the same relative error). */
static void tr_check(const char *text, double *err_out)
{
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(text, "tr.yaml", 1, &m, &d), AIMC_OK);
    /* learned-looking norm weights and correction biases */
    rt_rng = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < m->n_vectors; i++)
        for (uint32_t j = 0; j < m->v[i].n; j++)
            m->v[i].v[j] = m->v[i].kind == AIMC_VEC_ROUTER_BIAS ? (float)(0.05 * rt_normal())
                                                                : (float)(1.0 + 0.3 * rt_normal());
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.device.type = AIMC_DEVICE_IDEAL;
    a.crossbar.rows = 32;
    a.crossbar.cols = 32;
    a.crossbar.weight_bits = 16;
    a.dac.bits = 16;
    a.adc.bits = 16;
    a.adc.per_crossbar = 4;
    a.adc.range = AIMC_ADC_RANGE_FULL_SCALE;
    a.hierarchy.chips_auto = 1;
    aimc_map_opts mo = {0};
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan_ex(&a, m, &mo, &p, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_map_fit_chips(&a, p), AIMC_OK);
    const size_t D = (size_t)m->d_model, V = (size_t)m->vocab, k = (size_t)m->top_k;
    const size_t moe = (size_t)(m->layers - m->dense_layers);
    float *x0 = malloc(TR_TOK * D * sizeof *x0), *xo = malloc(TR_TOK * D * sizeof *xo);
    float *z = malloc(TR_TOK * V * sizeof *z);
    double *xr = malloc(TR_TOK * D * sizeof *xr), *zr = malloc(TR_TOK * V * sizeof *zr);
    int *ex = malloc(moe * TR_TOK * k * sizeof *ex), *er = malloc(moe * TR_TOK * k * sizeof *er);
    aimc_rt_report *r = calloc(1, sizeof *r);
    CU_ASSERT_FATAL(x0 && xo && z && xr && zr && ex && er && r);
    aimc_rt_tokens(23, TR_TOK, D, x0);
    for (size_t i = 0; i < TR_TOK * D; i++) xr[i] = x0[i];
    tr_forward(m, xr, er, zr);
    aimc_dev *dev = NULL;
    aimc_open_opts o = {.arch = &a, .seed = 3, .diag = &d};
    int rc = aimc_open("sim:", &o, &dev);
    if (!rc) rc = aimc_rt_program(dev, &a, m, p, NULL, NULL, &d);
    aimc_rt_opts ro = {.batch = 4, .prompt = 4, .experts_out = ex, .x_out = xo, .logits_out = z};
    if (!rc) rc = aimc_rt_run(dev, m, x0, TR_TOK, NULL, &ro, r, &d);
    if (rc) fprintf(stderr, "\n  %s: %s\n", m->name, d.msg);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    CU_ASSERT_EQUAL(r->groups, 3);
    double e2 = 0, y2 = 0, z2 = 0, zr2 = 0;
    for (size_t i = 0; i < TR_TOK * D; i++) {
        e2 += (xo[i] - xr[i]) * (xo[i] - xr[i]);
        y2 += (xr[i] - x0[i]) * (xr[i] - x0[i]);
    }
    for (size_t i = 0; i < TR_TOK * V; i++) {
        z2 += (z[i] - zr[i]) * (z[i] - zr[i]);
        zr2 += zr[i] * zr[i];
    }
    size_t agree = 0;
    for (size_t i = 0; i < moe * TR_TOK; i++) {
        int same = 1;
        for (size_t j = 0; j < k; j++) {
            int f = 0;
            for (size_t q2 = 0; q2 < k; q2++) f |= ex[i * k + q2] == er[i * k + j];
            same &= f;
        }
        agree += (size_t)same;
    }
    const double err = sqrt(e2 / y2), zerr = sqrt(z2 / zr2);
    if (err_out) *err_out = err;
    if (getenv("RT_SHOW") || err > 3e-4 || zerr > 3e-4 || agree != moe * TR_TOK)
        fprintf(stderr, "\n  %s: machine vs reference %.3g (blocks), %.3g (logits) rms relative, "
                "%zu of %zu routings; the runtime's own reference %.3g\n", m->name, err, zerr,
                agree, moe * TR_TOK, r->rel_rms_error);
    CU_ASSERT(err < 3e-4);
    CU_ASSERT(zerr < 3e-4);
    CU_ASSERT_EQUAL(agree, moe * TR_TOK);
    CU_ASSERT(r->rel_rms_error < 3e-4);
    CU_ASSERT_EQUAL(r->routing_agreement, 1.0);
    aimc_close(dev);
    free(r);
    free(x0);
    free(xo);
    free(z);
    free(xr);
    free(zr);
    free(ex);
    free(er);
    aimc_plan_free(p);
    aimc_model_free(m);
}

#define TR_BASE "version: 1\nmodel:\n  d_model: 48\n  routed_experts: 8\n  expert_d_ff: 24\n" \
                "  norm_weights: true\n  rms_norm_eps: 1e-5\n  vocab: 40\n"

static void test_tr_mixtral(void)
{
    tr_check(TR_BASE "  name: tr-mixtral\n  layers: 2\n  top_k: 2\n"
                     "  attention: {heads: 4, kv_heads: 2, head_dim: 12, rope_theta: 1e6}\n"
                     "weights: {random: {seed: 11}}\n", NULL);
}

static void test_tr_olmoe(void)
{
    tr_check(TR_BASE "  name: tr-olmoe\n  layers: 2\n  top_k: 3\n"
                     "  routing: {normalize: false}\n"
                     "  attention: {heads: 4, head_dim: 12, qk_norm: true}\n"
                     "weights: {random: {seed: 12}}\n", NULL);
}

static void test_tr_qwen(void)
{
    tr_check(TR_BASE "  name: tr-qwen\n  layers: 2\n  top_k: 2\n  shared_experts: 1\n"
                     "  shared_d_ff: 32\n  shared_expert_gate: true\n"
                     "  routing: {normalize: false}\n"
                     "  attention: {heads: 4, head_dim: 12, rope_theta: 1e6}\n"
                     "weights: {random: {seed: 13}}\n", NULL);
}

static void test_tr_deepseek(void)
{
    tr_check(TR_BASE "  name: tr-deepseek\n  layers: 3\n  dense_layers: 1\n  dense_d_ff: 40\n"
                     "  top_k: 3\n  shared_experts: 1\n  shared_d_ff: 24\n"
                     "  routing: {scoring: sigmoid, correction_bias: true, groups: 4, topk_groups: 2,"
                     " scale: 2.5}\n"
                     "  attention: {kind: mla, heads: 4, q_lora_rank: 24, kv_lora_rank: 16,"
                     " rope_dim: 8, rope_interleaved: true, softmax_scale: 0.25}\n"
                     "weights: {random: {seed: 14}}\n", NULL);
}

/* ---- the public models end to end ------------------------------------------------------------ */

/* DeepSeek-V3, Mixtral-8x7B, OLMoE-1B-7B and Qwen1.5-MoE-A2.7B timing-only on HERMES with as
 * many chips as they need: a token prefilled and one generated, through every layer's
 * attention, dense FFN or MoE block and the head: one ATTN per layer and group of heads and
 * token group, norms, projections, and the time and energy of all of it. */
static void test_public_models_run(void)
{
    static const char *const files[] = {"models/deepseek-v3.yaml", "models/mixtral-8x7b.yaml",
                                        "models/olmoe-1b-7b.yaml", "models/qwen1.5-moe-a2.7b.yaml"};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        aimc_arch a;
        aimc_model *m = NULL;
        aimc_plan *p = NULL;
        aimc_diag d = {{0}};
        CU_ASSERT_EQUAL_FATAL(load_arch("configs/hermes.yaml", &a), AIMC_OK);
        a.hierarchy.chips_auto = 1;
        CU_ASSERT_EQUAL_FATAL(aimc_model_load(files[f], 0, &m, &d), AIMC_OK);
        aimc_map_opts mo = {.shape_only = 1};
        CU_ASSERT_EQUAL_FATAL(aimc_map_plan_ex(&a, m, &mo, &p, &d), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_map_fit_chips(&a, p), AIMC_OK);
        aimc_dev *dev = NULL;
        aimc_open_opts o = {.arch = &a, .seed = 1, .timing_only = 1, .diag = &d};
        aimc_rt_report *r = calloc(1, sizeof *r);
        CU_ASSERT_FATAL(r != NULL);
        int rc = aimc_open("sim:", &o, &dev);
        if (!rc) rc = aimc_rt_program(dev, &a, m, p, NULL, NULL, &d);
        aimc_rt_opts ro = {.prompt = 1, .generate = 1, .seed = 3};
        aimc_profile attn, norm, route;
        if (!rc) rc = aimc_rt_run(dev, m, NULL, 2, NULL, &ro, r, &d);
        if (rc) fprintf(stderr, "\n  %s: %s\n", files[f], d.msg);
        CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
        CU_ASSERT_EQUAL(aimc_profile_read(dev, AIMC_PROFILE_OPCODE, AIMC_DESC_OP_ATTN, &attn), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_profile_read(dev, AIMC_PROFILE_OPCODE, AIMC_DESC_OP_NORM, &norm), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_profile_read(dev, AIMC_PROFILE_OPCODE,
                                          aimc_moe_rule_is_default(&m->rule) ? AIMC_DESC_OP_TOPK
                                                                             : AIMC_DESC_OP_ROUTE,
                                          &route),
                        AIMC_OK);
        CU_ASSERT_EQUAL(r->groups, 2);
        CU_ASSERT_EQUAL(attn.commands, 2ull * (uint64_t)m->layers * (uint64_t)m->attn.groups);
        CU_ASSERT(norm.commands >= 2ull * (uint64_t)m->layers * 2); /* before attention and FFN */
        CU_ASSERT_EQUAL(route.commands, 2ull * (uint64_t)(m->layers - m->dense_layers));
        /* the units busy, the KV memory's bytes in the buffer part (HERMES' units cost no
         * energy per operation: its figures hold them) */
        CU_ASSERT(attn.busy_cycles > 0 && attn.energy_pj[AIMC_PART_BUFFER] > 0);
        CU_ASSERT(r->makespan_cycles > 0 && r->cost.mvms > 0);
        aimc_close(dev);
        free(r);
        aimc_plan_free(p);
        aimc_model_free(m);
    }
}

/* ---- bad weight files ----------------------------------------------------------------------
 *
 * tests/models/bad/weights/NAME.yaml fails to load (with weights) with exactly NAME.expect's
 * message; each names its own NAME.safetensors, which bad_weights() below makes (AIMC_REGEN=1
 * writes them; the test checks that the files in the repository are what it makes). The
 * model: 1 layer, d_model 4, 2 experts of d_ff 2, top-1. */

#define BAD_W_DIR "tests/models/bad/weights"

/* A tensor of given values: F32 or BF16 from vals, F8_E4M3 from codes. */
static void bad_add(rt_file *f, const char *name, const char *dtype, int rank,
                    const uint32_t *shape, const float *vals, const uint8_t *codes)
{
    rt_tensor *t = &f->t[f->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype;
    t->rank = rank;
    size_t n = 1;
    for (int i = 0; i < rank; i++) n *= (t->shape[i] = shape[i]);
    const size_t es = strcmp(dtype, "F32") == 0 ? 4 : strcmp(dtype, "BF16") == 0 ? 2 : 1;
    t->bytes = n * es;
    t->data = calloc(1, t->bytes);
    CU_ASSERT_FATAL(t->data != NULL);
    for (size_t k = 0; k < n; k++) {
        if (es == 1) {
            t->data[k] = codes[k];
            continue;
        }
        uint32_t u;
        memcpy(&u, &vals[k], 4);
        for (size_t q = 0; q < es; q++) t->data[k * es + q] = (unsigned char)(u >> (8 * (q + 4 - es)));
    }
}

/* The tensors of case `name` into f. */
static void bad_weights(const char *name, rt_file *f)
{
    static const uint32_t r[2] = {2, 4}, gu[2] = {2, 4}, dn[2] = {4, 2}, sgu[3] = {3, 2, 4};
    float v[24];
    uint8_t codes[8];
    char n[64];
    for (int k = 0; k < 24; k++) v[k] = (float)(k % 5 - 2) / 4.0f;
    for (int k = 0; k < 8; k++) codes[k] = (uint8_t)(0x30 + k);
    f->n = 0;
    const int inf_bf16 = strcmp(name, "inf_bf16") == 0;
    float rv[8];
    memcpy(rv, v, sizeof rv);
    if (inf_bf16) rv[2] = INFINITY;
    bad_add(f, "w.0.router", inf_bf16 ? "BF16" : "F32", 2, r, rv, NULL);
    if (strcmp(name, "huge_shape") == 0) { /* the router says 2^48 values and holds none */
        rt_tensor *t = &f->t[0];
        t->rank = 3;
        t->shape[0] = t->shape[1] = t->shape[2] = 65536;
        t->bytes = 0;
    }
    if (strcmp(name, "stacked_shape") == 0) {
        bad_add(f, "w.0.experts.gate", "F32", 3, sgu, v, NULL);
        return;
    }
    for (int e = 0; e < 2; e++) {
        const int fp8 = strncmp(name, "fp8_", 4) == 0 && e == 0;
        float g[8];
        memcpy(g, v + e, sizeof g);
        snprintf(n, sizeof n, "w.0.e%d.gate", e);
        if (fp8) {
            uint8_t c[8];
            memcpy(c, codes, sizeof c);
            if (strcmp(name, "fp8_nan") == 0) c[5] = 0x7F; /* S.1111.111: element [1, 1] */
            bad_add(f, n, "F8_E4M3", 2, gu, NULL, c);
            const uint32_t ss[2] = {1, 1}, bad_ss[2] = {2, 2};
            const float sc[4] = {0.5f, 0.5f, 0.5f, 0.5f};
            snprintf(n, sizeof n, "w.0.e%d.gate_scale_inv", e);
            if (strcmp(name, "fp8_scale_dtype") == 0) /* FP8 scales: a code 0x30 (0.5) */
                bad_add(f, n, "F8_E4M3", 2, ss, NULL, codes);
            else if (strcmp(name, "fp8_no_scale") != 0)
                bad_add(f, n, "F32", 2, strcmp(name, "fp8_scale_shape") == 0 ? bad_ss : ss, sc, NULL);
        } else {
            bad_add(f, n, "F32", 2, gu, g, NULL);
        }
        float u[8];
        memcpy(u, v + 2 * e, sizeof u);
        if (strcmp(name, "nan") == 0 && e == 1) u[7] = NAN; /* element [1, 3] */
        snprintf(n, sizeof n, "w.0.e%d.up", e);
        bad_add(f, n, "F32", 2, gu, u, NULL);
        snprintf(n, sizeof n, "w.0.e%d.down", e);
        bad_add(f, n, "F32", 2, dn, v + 3 * e, NULL);
    }
}

static unsigned char *bad_read(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    unsigned char *b = malloc(1 << 16);
    *len = b ? fread(b, 1, 1 << 16, fp) : 0;
    fclose(fp);
    return b;
}

static void test_bad_weight_files(void)
{
    static const char *const cases[] = {"nan",          "inf_bf16",      "fp8_nan",
                                        "fp8_scale_shape", "fp8_no_scale", "stacked_shape",
                                        "no_norm_name", "fp8_scale_dtype", "huge_shape"};
    static rt_file f;
    int n = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char st[256], ym[256], ex[256], tmp[512], name[64];
        snprintf(st, sizeof st, "%s/%s.safetensors", BAD_W_DIR, cases[i]);
        snprintf(ym, sizeof ym, "%s/%s.yaml", BAD_W_DIR, cases[i]);
        snprintf(ex, sizeof ex, "%s/%s.expect", BAD_W_DIR, cases[i]);
        snprintf(name, sizeof name, "bad_%s.safetensors", cases[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(aimc_test_path(name));
        snprintf(tmp, sizeof tmp, "%s", aimc_test_path(name));
        bad_weights(cases[i], &f);
        if (getenv("AIMC_REGEN")) CU_ASSERT_EQUAL(rt_write(&f, st), 0);
        CU_ASSERT_EQUAL_FATAL(rt_write(&f, tmp), 0);
        rt_file_free(&f);
        size_t la = 0, lb = 0;
        unsigned char *a = bad_read(st, &la), *b = bad_read(tmp, &lb);
        CU_ASSERT(a && b && la == lb && memcmp(a, b, la) == 0); /* the repository's is current */
        free(a);
        free(b);
        remove(tmp);
        size_t el = 0;
        char *expect = (char *)bad_read(ex, &el);
        CU_ASSERT_PTR_NOT_NULL_FATAL(expect);
        while (el && (expect[el - 1] == '\n' || expect[el - 1] == '\r')) el--;
        expect[el] = '\0';
        aimc_model *m = NULL;
        aimc_diag d = {{0}};
        const int rc = aimc_model_load(ym, 1, &m, &d);
        /* a header describing what no file holds is malformed; the rest, the wrong tensors */
        CU_ASSERT_EQUAL(rc, strcmp(cases[i], "huge_shape") == 0 ? AIMC_ERR_PARSE : AIMC_ERR_CONFIG);
        CU_ASSERT_PTR_NULL(m);
        if (strcmp(d.msg, expect) != 0)
            fprintf(stderr, "\n  %s:\n    got    %s\n    expect %s\n", ym, d.msg, expect);
        CU_ASSERT_STRING_EQUAL(d.msg, expect);
        free(expect);
        aimc_model_free(m);
        n++;
    }
    CU_ASSERT_EQUAL(n, 9);
}

/* The per-command limits (docs/registers.md): every command's batch x dim, and ATTN's: a
 * group's queries, outputs and new keys and values of at most CAP_MAX_ELEMS floats, a cache of
 * at most 16 x CAP_MAX_ELEMS. A run beyond
 * one is refused before any command with a message naming the model, the quantity, its value
 * and the limit (the device's own refusal is a bad descriptor at byte 0x38); at the limit it
 * is not. 16 heads of 1024: a token's queries 16384 floats, its keys and values 32768. */
static void test_attn_limits(void)
{
    static const char *text =
        "version: 1\n"
        "model:\n"
        "  name: wide-heads\n"
        "  layers: 1\n"
        "  d_model: 64\n"
        "  routed_experts: 4\n"
        "  expert_d_ff: 32\n"
        "  top_k: 2\n"
        "  attention: {heads: 16, head_dim: 1024}\n";
    static const struct {
        size_t ntok, batch, prompt;
        const char *expect; /* NULL: not refused */
    } cases[] = {
        {1024, 1024, 0, "wide-heads: attention's new keys and values of a group of 1024 tokens "
                        "are 33554432 floats (tokens 1024 x a row of 32768: kv_heads 16 x (1024 "
                        "of keys + 1024 of values)), above the ATTN command's limit of 16777216 "
                        "(CAP_MAX_ELEMS): at most 512 tokens per group (batch, prompt)"},
        {1024, 1, 600, "wide-heads: attention's new keys and values of a group of 600 tokens"},
        {16384, 1, 0, "wide-heads: attention's KV cache of 16384 positions is 536870912 floats "
                      "(positions 16384 x a row of 32768: kv_heads 16 x (1024 of keys + 1024 of "
                      "values)), above the ATTN command's limit of 268435456 (16 x "
                      "CAP_MAX_ELEMS): at most 8192 positions (tokens of a sequence)"},
    };
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(text, "wide.yaml", 0, &m, &d), AIMC_OK);
    aimc_dev *dev = NULL;
    aimc_open_opts o = {.seed = 1, .timing_only = 1};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    aimc_rt_report *r = calloc(1, sizeof *r);
    CU_ASSERT_FATAL(r != NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        aimc_rt_opts ro = {.batch = cases[i].batch, .prompt = cases[i].prompt, .seed = 3};
        d.msg[0] = '\0';
        const int rc = aimc_rt_run(dev, m, NULL, cases[i].ntok, NULL, &ro, r, &d);
        CU_ASSERT_EQUAL(rc, AIMC_ERR_UNSUPPORTED);
        if (strncmp(d.msg, cases[i].expect, strlen(cases[i].expect)) != 0)
            fprintf(stderr, "\n  got    %s\n  expect %s\n", d.msg, cases[i].expect);
        CU_ASSERT_EQUAL(strncmp(d.msg, cases[i].expect, strlen(cases[i].expect)), 0);
        CU_ASSERT_EQUAL(r->makespan_cycles, 0); /* nothing ran */
    }
    /* The largest group by hand: the digital steps work on d_model 64 or d_ff 32 a token
     * (2^24 / 64 = 262144 tokens), the queries and outputs are 16 x 1024 = 16384 a token
     * (1024), a cache row 32768 (512): 512; no group fits a cache of 16384 positions (2^28 /
     * 32768 = 8192 at most). */
    CU_ASSERT_EQUAL(aimc_rt_group_max(m, 512, 65536, 1u << 24), 512);
    CU_ASSERT_EQUAL(aimc_rt_group_max(m, 8192, 65536, 1u << 24), 512);
    CU_ASSERT_EQUAL(aimc_rt_group_max(m, 8193, 65536, 1u << 24), 0);
    CU_ASSERT_EQUAL(aimc_rt_group_max(m, 512, 300, 1u << 24), 300);
    /* Every command, not only ATTN: a model of d_model 8192 puts 8192 floats a token through
     * its norms, gathers and scaled adds, so 2^24 / 8192 = 2048 tokens a group at most; the
     * first of them is the routing's norm. */
    aimc_model *tall = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string("version: 1\nmodel: {name: tall, layers: 1, "
                                                 "d_model: 8192, routed_experts: 2, "
                                                 "expert_d_ff: 32, top_k: 1}\n",
                                                 "tall.yaml", 0, &tall, &d), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_rt_group_max(tall, 4096, 65536, 1u << 24), 2048);
    aimc_rt_opts rt = {.batch = 4096, .seed = 3};
    static const char *tall_msg = "tall: a group of 4096 tokens is 33554432 floats in layer 0 "
                                  "routing's RMSNORM command (tokens 4096 x 8192), above the "
                                  "device's limit of 16777216 (CAP_MAX_ELEMS): at most 2048 "
                                  "tokens per group (batch, prompt)";
    CU_ASSERT_EQUAL(aimc_rt_run(dev, tall, NULL, 4096, NULL, &rt, r, &d), AIMC_ERR_UNSUPPORTED);
    if (strcmp(d.msg, tall_msg)) fprintf(stderr, "\n  got    %s\n  expect %s\n", d.msg, tall_msg);
    CU_ASSERT_STRING_EQUAL(d.msg, tall_msg);
    aimc_model_free(tall);
    /* A head of 262144 outputs: 2^28 / 262144 = 1024 tokens' logits at once, the runtime's
     * own bound on what the host reads (its digital steps would take 2^24 / 64 = 262144). */
    aimc_model *wide = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string("version: 1\nmodel: {name: big-vocab, layers: "
                                                 "1, d_model: 64, routed_experts: 2, "
                                                 "expert_d_ff: 32, top_k: 1, vocab: 262144}\n",
                                                 "bigv.yaml", 0, &wide, &d), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_rt_group_max(wide, 4096, 65536, 1u << 24), 1024);
    rt.batch = 2048;
    CU_ASSERT_EQUAL(aimc_rt_run(dev, wide, NULL, 2048, NULL, &rt, r, &d), AIMC_ERR_UNSUPPORTED);
    CU_ASSERT_STRING_EQUAL(d.msg, "big-vocab: the head's outputs of a group of 2048 tokens are "
                                  "536870912 floats (tokens 2048 x 262144), above the 268435456 "
                                  "(16 x CAP_MAX_ELEMS) the host reads at once: at most 1024 "
                                  "tokens per group (batch, prompt)");
    aimc_model_free(wide);
    /* A cache too long and a group too large: the cache is named, with no group size (none
     * fits). */
    rt.batch = 1024;
    CU_ASSERT_EQUAL(aimc_rt_run(dev, m, NULL, 16384, NULL, &rt, r, &d), AIMC_ERR_UNSUPPORTED);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "wide-heads: attention's KV cache of 16384 positions"));
    /* at the limit: a group of 512 tokens, its keys and values 2^24 floats, runs */
    aimc_arch a;
    aimc_plan *p = NULL;
    aimc_arch_defaults(&a);
    a.hierarchy.chips_auto = 1;
    aimc_map_opts mo = {.shape_only = 1};
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan_ex(&a, m, &mo, &p, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_map_fit_chips(&a, p), AIMC_OK);
    aimc_close(dev);
    dev = NULL;
    o.arch = &a;
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    int rc = aimc_rt_program(dev, &a, m, p, NULL, NULL, &d);
    aimc_rt_opts ro = {.batch = 512, .seed = 3};
    if (!rc) rc = aimc_rt_run(dev, m, NULL, 512, NULL, &ro, r, &d);
    if (rc) fprintf(stderr, "\n  512 tokens at once: %s\n", d.msg);
    CU_ASSERT_EQUAL(rc, AIMC_OK);
    CU_ASSERT(r->makespan_cycles > 0);
    free(r);
    aimc_close(dev);
    aimc_plan_free(p);
    aimc_model_free(m);
}

/* A command the device refuses during a run is named by what it was: a model whose RoPE base
 * was set to 1 after loading (the loader refuses it; the device's ATTN record needs THETA > 1)
 * fails in layer 0's ATTN, reported as that, not as an MoE layer's command. */
static void test_failed_command_label(void)
{
    static const char *text =
        "version: 1\n"
        "model:\n"
        "  name: theta\n"
        "  layers: 2\n"
        "  d_model: 32\n"
        "  routed_experts: 4\n"
        "  expert_d_ff: 16\n"
        "  top_k: 2\n"
        "  attention: {heads: 4}\n";
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    aimc_arch_defaults(&a);
    a.hierarchy.chips_auto = 1;
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(text, "theta.yaml", 0, &m, &d), AIMC_OK);
    aimc_map_opts mo = {.shape_only = 1};
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan_ex(&a, m, &mo, &p, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_map_fit_chips(&a, p), AIMC_OK);
    m->attn.rope_theta = 1.0;
    aimc_dev *dev = NULL;
    aimc_open_opts o = {.arch = &a, .seed = 1, .timing_only = 1};
    aimc_rt_report *r = calloc(1, sizeof *r);
    CU_ASSERT_FATAL(r != NULL);
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_rt_program(dev, &a, m, p, NULL, NULL, &d), AIMC_OK);
    aimc_rt_opts ro = {.batch = 2, .seed = 3};
    const int rc = aimc_rt_run(dev, m, NULL, 4, NULL, &ro, r, &d);
    CU_ASSERT_EQUAL(rc, AIMC_ERR_DEVICE);
    static const char *expect = "layer 0 attention's ATTN command: ";
    if (strncmp(d.msg, expect, strlen(expect)) != 0) fprintf(stderr, "\n  got %s\n", d.msg);
    CU_ASSERT_EQUAL(strncmp(d.msg, expect, strlen(expect)), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "0x38")); /* the record's field, as the device says */
    free(r);
    aimc_close(dev);
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
               {"value run = timing-only run: cycles, energy of every part (rules)",
                test_value_vs_timing_rules},
               {"value run = timing-only run: cycles, energy of every part (attention, LM)",
                test_value_vs_timing_lm},
               {"estimate = device where nothing contends (1 %)", test_estimate_equals_device},
               {"estimate = device where nothing contends, routing rules (1 %)",
                test_estimate_equals_device_rules},
               {"estimate <= device, MHA at positions 0 and 5 (queues: 2 %)",
                test_estimate_equals_device_mha},
               {"estimate = device, GQA with qk norms at positions 0 and 5 (1 %)",
                test_estimate_equals_device_gqa},
               {"estimate = device, MLA at positions 0 and 5 (1 %)",
                test_estimate_equals_device_mla},
               {"estimate = device, a dense first layer at positions 0 and 5 (1 %)",
                test_estimate_equals_device_dense},
               {"estimate = device, a language model at positions 0 and 5 (1 %)",
                test_estimate_equals_device_lm},
               {"estimate below the device where MVMs contend", test_estimate_below_device},
               {"two MVMs: overlap on two cores, queue on one crossbar", test_two_mvms},
               {"token groups finishing out of order are all waited for",
                test_groups_out_of_order},
               {"a prompt larger than the batch: the outputs of groups of the batch",
                test_prompt_over_batch},
               {"isaac: only activations cross the network (bytes by hand)",
                test_isaac_noc_activations},
               {"mixtral on hermes: the first token alone = the first of 24 (1 %)",
                test_first_token});
    AIMC_SUITE("rules",
               {"mixtral: softmax top-k renormalised, norm weights (reference, 2e-4)",
                test_rule_mixtral},
               {"olmoe: no renormalisation, bf16 stacked experts (reference, 2e-4)",
                test_rule_olmoe},
               {"qwen: sigmoid-gated shared expert (reference, 2e-4)", test_rule_qwen},
               {"deepseek-v3: sigmoid, bias, groups, scale, fp8 blocks (reference, 2e-4)",
                test_rule_deepseek},
               {"route command by hand, and its bad rules", test_route_command},
               {"attention and vocabulary: shapes, order, vectors", test_attention_shapes},
               {"attention command: GQA and MLA against attention by hand (1e-6)",
                test_attn_command},
               {"bad weight files: their exact messages", test_bad_weight_files});
    AIMC_SUITE("transformer",
               {"mixtral-like: GQA, RoPE, softmax top-2 (reference, 3e-4)", test_tr_mixtral},
               {"olmoe-like: qk norms, unnormalised top-3 (reference, 3e-4)", test_tr_olmoe},
               {"qwen-like: gated shared expert (reference, 3e-4)", test_tr_qwen},
               {"deepseek-like: MLA, a dense layer, sigmoid groups (reference, 3e-4)",
                test_tr_deepseek},
               {"deepseek-v3, mixtral, olmoe, qwen timing-only end to end on hermes",
                test_public_models_run},
               {"per-command limits (digital steps, ATTN): refused before any command, named",
                test_attn_limits},
               {"a command the device refuses is named by what it was (layer 0's ATTN)",
                test_failed_command_label});
    return 0;
}
