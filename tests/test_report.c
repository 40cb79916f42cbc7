/* test_report.c - the figures `aimc run` reports (tools/cmd_run.c, docs/cli.md): energy per
 * token at steady state, parts that add up, power gating, the ADC's cost from its bits, the
 * deploy block, the GPU beside it. The run goes through cli_evaluate and cli_run_figures,
 * the functions the command and the sweep use. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc.h"
#include "aimc_cost.h"
#include "aimc_regs.h"
#include "aimc_workload.h"
#include "cli.h"
#include "sweep.h"
#include "tests.h"

/* One run of models/digits-moe.yaml (the default model) on the default machine. */
typedef struct {
    aimc_arch used;
    aimc_plan *plan;
    aimc_rt_report rep;
    cli_eval_out ex;
    cli_figures fig;
} run_out;

static int run_default(const aimc_arch *a, size_t ntok, int timing_only, run_out *o)
{
    memset(o, 0, sizeof *o);
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    int rc = aimc_model_load("models/digits-moe.yaml", !timing_only, &m, &d);
    if (rc) return rc;
    cli_eval_opts eo = {.backend = "sim:", .seed = 1, .ntok = ntok, .timing_only = timing_only,
                        .batch = 1};
    rc = cli_evaluate(a, m, &eo, &o->plan, &o->used, &o->rep, &o->ex, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    else cli_run_figures(&o->used, &o->rep, &o->fig);
    aimc_model_free(m);
    return rc;
}

static void run_free(run_out *o)
{
    aimc_plan_free(o->plan);
    cli_breakdown_free(&o->ex.breakdown);
}

/* ---- energy per token does not depend on how many tokens ran ---- */

/* The default model with values: its trained router sends every token to the same experts,
 * so each token takes the same time at steady state and the figure per token must agree to
 * 1 % between 16 and 1024 tokens (the fill of the pipeline and its drain are left out). In a
 * timing-only run the routing is drawn per token: consecutive tokens overlap more or less, and
 * the two estimates may differ by their standard errors (4 sigma). */
static void test_energy_per_token_steady(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    run_out r16, r1k;
    CU_ASSERT_EQUAL_FATAL(run_default(&a, 16, 0, &r16), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(run_default(&a, 1024, 0, &r1k), AIMC_OK);
    CU_ASSERT_EQUAL(r16.rep.tokens, 16);
    CU_ASSERT_EQUAL(r1k.rep.tokens, 1024);
    CU_ASSERT(r16.fig.tok_pj > 0);
    CU_ASSERT(fabs(r16.fig.tok_pj - r1k.fig.tok_pj) <= 0.01 * r1k.fig.tok_pj);
    /* the static part is a real share of it, so the agreement is not the dynamic part's alone */
    CU_ASSERT(r1k.fig.tok_static_total_pj > 0.1 * r1k.fig.tok_pj);
    /* the old figure, the whole run over the tokens, is not it: the first token's fill */
    const double naive16 = (r16.fig.dyn_total_pj + r16.fig.static_total_pj) / 16.0;
    CU_ASSERT(naive16 > 1.02 * r16.fig.tok_pj);
    run_free(&r16);
    run_free(&r1k);

    run_out t16, t1k;
    CU_ASSERT_EQUAL_FATAL(run_default(&a, 16, 1, &t16), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(run_default(&a, 1024, 1, &t1k), AIMC_OK);
    CU_ASSERT(t16.fig.token_ns_sem > 0 && t1k.fig.token_ns_sem > 0);
    const double se = sqrt(t16.fig.token_ns_sem * t16.fig.token_ns_sem +
                           t1k.fig.token_ns_sem * t1k.fig.token_ns_sem);
    CU_ASSERT(fabs(t16.fig.token_ns - t1k.fig.token_ns) <= 4.0 * se);
    /* dynamic energy per token is an average over the tokens' routing: within 1 % */
    CU_ASSERT(fabs(t16.fig.tok_dyn_total_pj - t1k.fig.tok_dyn_total_pj) <=
              0.01 * t1k.fig.tok_dyn_total_pj);
    run_free(&t16);
    run_free(&t1k);
}

/* ---- the parts add up ---- */

static void test_parts_add_up(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    run_out r;
    CU_ASSERT_EQUAL_FATAL(run_default(&a, 16, 0, &r), AIMC_OK);
    const cli_figures *f = &r.fig;
    double tok = 0, dyn = 0, st = 0, mw[AIMC_PART_COUNT];
    aimc_cost_static_mw(&r.used, &r.rep.powered, mw);
    for (int q = 0; q < AIMC_PART_COUNT; q++) {
        tok += f->tok_dyn_pj[q] + f->tok_static_pj[q];
        dyn += f->dyn_pj[q];
        st += f->static_pj[q];
        CU_ASSERT_DOUBLE_EQUAL(f->dyn_pj[q], r.rep.cost.energy_pj[q], 0.0);
        CU_ASSERT_DOUBLE_EQUAL(f->static_pj[q], mw[q] * f->makespan_ns, 1e-9 * f->static_pj[q]);
        CU_ASSERT_DOUBLE_EQUAL(f->tok_static_pj[q], mw[q] * f->token_ns,
                               1e-9 * f->tok_static_pj[q]);
    }
    CU_ASSERT_DOUBLE_EQUAL(tok, f->tok_pj, 1e-12 * f->tok_pj);
    CU_ASSERT_DOUBLE_EQUAL(dyn, f->dyn_total_pj, 1e-12 * dyn);
    CU_ASSERT_DOUBLE_EQUAL(st, f->static_total_pj, 1e-12 * st);
    CU_ASSERT_DOUBLE_EQUAL(f->tok_pj, f->tok_dyn_total_pj + f->tok_static_total_pj,
                           1e-12 * f->tok_pj);

    /* The breakdown: the commands' energies are the counters' (a descriptor fetch belongs to
     * no command: host DMA only), the matrices' are the MVMs', a layer's its matrices'. */
    const cli_breakdown *b = &r.ex.breakdown;
    CU_ASSERT_FATAL(b->available);
    aimc_profile ops = {0}, mats = {0};
    for (int k = 0; k < 16; k++) {
        ops.commands += b->opcode[k].commands;
        for (int q = 0; q < AIMC_PART_COUNT; q++) ops.energy_pj[q] += b->opcode[k].energy_pj[q];
    }
    for (size_t i = 0; i < b->n_matrices; i++)
        for (int q = 0; q < AIMC_PART_COUNT; q++) mats.energy_pj[q] += b->matrix[i].energy_pj[q];
    for (int q = 0; q < AIMC_PART_COUNT; q++) {
        const double want = r.rep.cost.energy_pj[q];
        if (q == AIMC_PART_HOST_DMA) {
            CU_ASSERT(ops.energy_pj[q] <= want * (1 + 1e-12));
        } else {
            CU_ASSERT_DOUBLE_EQUAL(ops.energy_pj[q], want, 1e-6 * (want + 1)); /* summed apart */
        }
        const double mvm = b->opcode[AIMC_DESC_OP_MVM].energy_pj[q];
        CU_ASSERT_DOUBLE_EQUAL(mats.energy_pj[q], mvm, 1e-9 * (mvm + 1));
    }
    CU_ASSERT_EQUAL(b->opcode[AIMC_DESC_OP_MVM].vectors, r.rep.cost.mvms);
    run_free(&r);
}

/* ---- power gating ---- */

static int cmp_u32(const void *x, const void *y)
{
    const uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
    return a < b ? -1 : a > b;
}

/* `unused`: what leaks is the crossbars holding tiles (each with its 128 row drivers and 8
 * ADCs), their cores, clusters, routers and chips, counted here from the plan's tiles one by
 * one; static power is then proportional to the crossbars in use. `none`: the whole chip. */
static void test_gating_unused(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    CU_ASSERT_EQUAL(a.power.gating, AIMC_GATING_UNUSED);
    run_out r;
    CU_ASSERT_EQUAL_FATAL(run_default(&a, 4, 0, &r), AIMC_OK);
    const aimc_plan *p = r.plan;
    uint32_t *x = malloc(p->n_tiles * sizeof *x);
    CU_ASSERT_FATAL(x != NULL);
    for (size_t i = 0; i < p->n_tiles; i++) x[i] = p->tiles[i].xbar;
    qsort(x, p->n_tiles, sizeof *x, cmp_u32);
    size_t xbars = 0, cores = 0;
    for (size_t i = 0; i < p->n_tiles; i++) {
        if (i > 0 && x[i] == x[i - 1]) continue;
        xbars++;
        if (i == 0 || x[i] / 16 != x[i - 1] / 16) cores++; /* 16 crossbars per core */
    }
    free(x);
    CU_ASSERT_EQUAL(xbars, (size_t)p->xbars_used);
    CU_ASSERT_DOUBLE_EQUAL(r.rep.powered.xbars, (double)xbars, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(r.rep.powered.cores, (double)cores, 0.0);
    /* the default: one core per cluster, one cluster per router, one chip */
    CU_ASSERT_DOUBLE_EQUAL(r.rep.powered.clusters, (double)cores, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(r.rep.powered.routers, (double)cores, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(r.rep.powered.chips, 1.0, 0.0);
    /* by hand: per crossbar 128 x 0.00039 + 8 x 0.2 mW; per core 0.46 (buffer) + 0.41
     * (router) mW; no core logic, units or chip-link leakage on the default machine */
    const double per_xbar = 128 * 0.00039 + 8 * 0.2, per_core = 0.46 + 0.41;
    double mw[AIMC_PART_COUNT], total = 0;
    aimc_cost_static_mw(&r.used, &r.rep.powered, mw);
    for (int q = 0; q < AIMC_PART_COUNT; q++) total += mw[q];
    CU_ASSERT_DOUBLE_EQUAL(mw[AIMC_PART_DAC] + mw[AIMC_PART_ADC], xbars * per_xbar, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(total, xbars * per_xbar + cores * per_core, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(r.fig.static_mw, total, 1e-9);
    run_free(&r);

    /* none: every crossbar and core of the chip */
    a.power.gating = AIMC_GATING_NONE;
    CU_ASSERT_EQUAL_FATAL(run_default(&a, 4, 0, &r), AIMC_OK);
    CU_ASSERT_DOUBLE_EQUAL(r.rep.powered.xbars, 1024.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(r.fig.static_mw, 1024 * per_xbar + 64 * per_core, 1e-9);
    run_free(&r);
}

/* ---- the ADC's cost from its bits ---- */

/* The survey model (docs/config.md): 10 fJ x 2^b up to 9 bits, x 4 per bit above; b x
 * 0.78125/8 ns; 1500 um^2 x 2^(b-8). Explicit values win. */
static void test_adc_model(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    CU_ASSERT(a.adc.energy_auto && a.adc.conversion_auto && a.adc.area_auto);
    for (int b = 1; b <= 16; b++) {
        a.adc.bits = b;
        const double e = b <= 9 ? 0.01 * pow(2, b) : 0.01 * pow(2, 9) * pow(4, b - 9);
        CU_ASSERT_DOUBLE_EQUAL(aimc_cost_adc_energy_pj(&a), e, 1e-12 * e);
        CU_ASSERT_DOUBLE_EQUAL(aimc_cost_adc_conversion_ns(&a), b * 0.78125 / 8, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(aimc_cost_adc_area_um2(&a), 1500 * pow(2, b - 8), 1e-9);
    }
    /* the slopes: x2 per bit up to 9, x4 above */
    a.adc.bits = 8;
    const double e8 = aimc_cost_adc_energy_pj(&a);
    a.adc.bits = 9;
    const double e9 = aimc_cost_adc_energy_pj(&a);
    a.adc.bits = 10;
    CU_ASSERT_DOUBLE_EQUAL(e9 / e8, 2.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(aimc_cost_adc_energy_pj(&a) / e9, 4.0, 1e-12);
    /* a preset's explicit values */
    a.adc.energy_auto = a.adc.conversion_auto = a.adc.area_auto = 0;
    a.adc.energy_pj = 1.5625;
    a.adc.conversion_ns = 0.78125;
    a.adc.area_um2 = 1200;
    CU_ASSERT_DOUBLE_EQUAL(aimc_cost_adc_energy_pj(&a), 1.5625, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(aimc_cost_adc_conversion_ns(&a), 0.78125, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(aimc_cost_adc_area_um2(&a), 1200, 0.0);
}

/* adc.bits 4..10 on the default model: the run's ADC energy per conversion (the device's
 * counters) is the model's, so it rises x2 per bit to 9 bits and x4 to 10. */
static void test_adc_bits_sweep(void)
{
    double prev = 0;
    for (int b = 4; b <= 10; b++) {
        aimc_arch a;
        aimc_arch_defaults(&a);
        a.adc.bits = b;
        run_out r;
        CU_ASSERT_EQUAL_FATAL(run_default(&a, 4, 1, &r), AIMC_OK);
        CU_ASSERT_FATAL(r.rep.cost.adc_conversions > 0);
        const double per = r.rep.cost.energy_pj[AIMC_PART_ADC] / (double)r.rep.cost.adc_conversions;
        const double want = b <= 9 ? 0.01 * pow(2, b) : 0.01 * pow(2, 9) * 4;
        CU_ASSERT_DOUBLE_EQUAL(per, want, 1e-9 * want);
        if (b > 4) {
            CU_ASSERT_DOUBLE_EQUAL(per / prev, b <= 9 ? 2.0 : 4.0, 1e-9);
        }
        prev = per;
        run_free(&r);
    }
}

/* ---- the deploy block ---- */

/* One matrix of 128 x 64 weights of 3 bits (one slice) on one 128 x 128 crossbar, on a
 * timing-only device: every device written once, 128 x 64 x 2 = 16384 pulses of 10 pJ and
 * 100 ns (the PCM defaults, docs/config.md), one after another on the one crossbar:
 * 163840 pJ and 1638.4 us of the command's own time (its profile), plus the host's round
 * trip and the weights' transfer around it. */
static void test_deploy_by_hand(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.crossbar.weight_bits = 3;
    CU_ASSERT_DOUBLE_EQUAL(a.device.pulse_energy_pj, 10.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(a.device.pulse_ns, 100.0, 0.0);
    aimc_tile t = {.matrix = 0, .row0 = 0, .nrows = 128, .col0 = 0, .ncols = 64, .slice = 0,
                   .xbar = 0, .xbar_col0 = 0};
    aimc_dev *dev = NULL;
    aimc_open_opts o = {.arch = &a, .seed = 1, .timing_only = 1};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    aimc_counters c0, c1;
    aimc_weights_report wr;
    aimc_profile prog;
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c0), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_weights_program(dev, 0, NULL, 128, 64, &t, 1, NULL, &wr), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c1), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_profile_read(dev, AIMC_PROFILE_OPCODE, AIMC_DESC_OP_PROGRAM, &prog), AIMC_OK);
    aimc_close(dev);
    CU_ASSERT_EQUAL(prog.commands, 1);
    CU_ASSERT_EQUAL(prog.busy_cycles, 1638400); /* 1 GHz */
    CU_ASSERT_DOUBLE_EQUAL(prog.energy_pj[AIMC_PART_XBAR], 163840.0, 1e-6);
    aimc_counters d;
    aimc_counters_sub(&c1, &c0, &d);
    CU_ASSERT_EQUAL(wr.devices, 16384);
    CU_ASSERT_EQUAL(wr.pulses, 16384);
    CU_ASSERT_DOUBLE_EQUAL(d.energy_pj[AIMC_PART_XBAR], 16384 * 10.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(d.energy_pj[AIMC_PART_ADC], 0.0, 0.0); /* no verify round */
    const double ns = aimc_cost_ns(&a, (double)d.time);
    CU_ASSERT(ns >= 16384 * 100.0);
    CU_ASSERT(ns <= 16384 * 100.0 + 10 * a.host_dma.latency_ns);
}

/* The deploy block of a run: digits-moe's 25,472 weights x 4 slices x 2 devices = 203,776
 * devices, each written once on a timing-only device: the pulses' energy is the block's
 * array energy, and nothing converts without verify. */
static void test_deploy_block(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    run_out r;
    CU_ASSERT_EQUAL_FATAL(run_default(&a, 2, 1, &r), AIMC_OK);
    const cli_deploy *dp = &r.ex.deploy;
    CU_ASSERT_EQUAL(dp->program.devices, 203776);
    CU_ASSERT_EQUAL(dp->program.pulses, 203776);
    CU_ASSERT_EQUAL(dp->verify_conversions, 0);
    CU_ASSERT_DOUBLE_EQUAL(dp->energy_pj[AIMC_PART_XBAR], 203776 * 10.0, 1e-6);
    CU_ASSERT(dp->time_ns >= 16384 * 100.0); /* at least one full crossbar's pulses */
    run_free(&r);
}

/* ---- a GPU beside it ---- */

/* Mixtral-8x7B at batch 1 on an A100, by hand from the model card (REFERENCES.md) and the
 * data sheet (312 TFLOP/s, 2039 GB/s, 400 W). Per layer: the router's 4096 x 8 weights, and
 * each of the 8 experts' gate, up and down (3 x 4096 x 14336) with probability
 * 1 - (1 - 2/8)^1 = 1/4, at 2 bytes; activations at 2 bytes: the route phase's tensors
 * (rmsnorm 4096 + 4096, router 4096 + 8, top-k 8 + 2 = 12306) and, per expert taken, its
 * phase's (gather 4096 + 1 + 4096, gate 4096 + 14336, up the same, silu_mul 3 x 14336, down
 * 14336 + 4096, scale_acc 4096 + 1 + 1 + 4096 = 114691) twice. FLOPs: 2 x (4096 x 8 +
 * 2 x 3 x 4096 x 14336) per layer. Memory-bound: bytes / 2039 GB/s. */
static void test_gpu_by_hand(void)
{
    aimc_model *m = NULL;
    /* the MoE blocks of models/mixtral-8x7b.yaml (attention and the head left out) */
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(
        "version: 1\nmodel: {name: mixtral-ffn, layers: 32, d_model: 4096, routed_experts: 8, "
        "expert_d_ff: 14336, top_k: 2}\n", "mixtral-ffn.yaml", 0, &m, NULL), AIMC_OK);
    double bytes, flops;
    aimc_wl_gpu_step(m, NULL, 1.0, 2.0, &bytes, &flops);
    const double expert = 3.0 * 4096 * 14336;
    const double w_layer = 4096.0 * 8 + 8 * 0.25 * expert;
    const double act_layer = 12306.0 + 2 * 114691.0;
    const double want_bytes = 32 * (2 * w_layer + 2 * act_layer);
    const double want_flops = 32 * 2 * (4096.0 * 8 + 2 * expert);
    CU_ASSERT_DOUBLE_EQUAL(bytes, want_bytes, 1e-9 * want_bytes);
    CU_ASSERT_DOUBLE_EQUAL(flops, want_flops, 1e-9 * want_flops);
    const aimc_gpu *g = aimc_gpu_find("a100");
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_DOUBLE_EQUAL(g->tflops, 312.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(g->hbm_gbytes_per_s, 2039.0, 0.0);
    CU_ASSERT_DOUBLE_EQUAL(g->board_w, 400.0, 0.0);
    aimc_gpu_estimate e;
    aimc_gpu_roofline(g, bytes, flops, 1.0, &e);
    const double ns = want_bytes / 2039.0; /* B / (GB/s) = ns */
    CU_ASSERT(!e.compute_bound);
    CU_ASSERT_DOUBLE_EQUAL(e.token_ns, ns, 1e-9 * ns);
    CU_ASSERT_DOUBLE_EQUAL(e.tokens_per_s, 1e9 / ns, 1e-9 * 1e9 / ns);
    CU_ASSERT_DOUBLE_EQUAL(e.token_pj, 400.0 * ns * 1e3, 1e-9 * 400.0 * ns * 1e3);
    /* A large batch touches every expert and turns compute-bound: at 4096 tokens the
     * weights are read once, the FLOPs grow with the tokens. */
    aimc_wl_gpu_step(m, NULL, 4096.0, 2.0, &bytes, &flops);
    aimc_gpu_roofline(g, bytes, flops, 4096.0, &e);
    CU_ASSERT(e.compute_bound);
    CU_ASSERT_DOUBLE_EQUAL(e.token_ns, flops / (312.0 * 1e3) / 4096.0, 1e-9 * e.token_ns);
    CU_ASSERT(aimc_gpu_find("h100") && aimc_gpu_find("h200") && !aimc_gpu_find("v100"));
    aimc_model_free(m);
}

/* ---- docs/dse.md lists every sweep metric ---- */

static void test_dse_lists_metrics(void)
{
    FILE *f = fopen("docs/dse.md", "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char text[1 << 17];
    const size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    CU_ASSERT(sweep_metric_count() >= 40);
    for (size_t i = 0; i < sweep_metric_count(); i++) {
        char want[96];
        snprintf(want, sizeof want, "| `%s` |", sweep_metric_at(i)->name);
        CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
        if (!strstr(text, want)) fprintf(stderr, "\n  docs/dse.md lacks %s\n", want);
    }
}

int test_report_register(void)
{
    AIMC_SUITE("report", {"energy per token: 16 and 1024 tokens agree", test_energy_per_token_steady},
               {"the parts add up to the totals", test_parts_add_up},
               {"power gating unused: static power by hand", test_gating_unused},
               {"adc: cost from bits, explicit values kept", test_adc_model},
               {"adc: bits 4..10 on the default model", test_adc_bits_sweep},
               {"deploy: one crossbar's pulses by hand", test_deploy_by_hand},
               {"deploy: the run's block", test_deploy_block},
               {"gpu: Mixtral on an A100 by hand", test_gpu_by_hand},
               {"docs/dse.md lists every sweep metric", test_dse_lists_metrics});
    return 0;
}
