/* test_calibration.c - the presets against their published figures, the periphery's peak
 * figures by hand, the pipelined tile cost against the engine, the fill workload against the
 * analytical peak, and the timing-only mode (suite "calibration"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "aimc_config.h"
#include "aimc_map.h"
#include "aimc_cost.h"
#include "aimc_timing.h"
#include "aimc_engine.h"
#include "tests.h"

static int load(const char *path, aimc_arch *a)
{
    aimc_diag d = {{0}};
    int rc = aimc_cfg_load(path, NULL, 0, a, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    return rc;
}

static int within(double got, double want, double rel)
{
    return fabs(got - want) <= rel * fabs(want);
}

/* ISAAC Table I and IV: 65.8 W, 85.4 mm^2, 478.95 GOPS/s/mm^2, 627.5 GOPS/s/W, within 3 %. */
static void test_isaac(void)
{
    aimc_arch a;
    CU_ASSERT_EQUAL_FATAL(load("configs/isaac.yaml", &a), AIMC_OK);
    aimc_peak p;
    aimc_peak_compute(&a, &p);
    CU_ASSERT(within(p.chip_power_w, 65.8, 0.03));
    CU_ASSERT(within(p.chip_area_mm2, 85.4, 0.03));
    CU_ASSERT(within(p.tops_per_mm2 * 1e3, 478.95, 0.03));
    CU_ASSERT(within(p.tops_per_w * 1e3, 627.5, 0.03));
    /* Table I's per-tile and per-IMA totals: 168 tiles of 330 mW and 0.372 mm^2 + HT. */
    CU_ASSERT_EQUAL(p.clusters_per_chip, 168);
    CU_ASSERT_EQUAL(p.routers_per_chip, 42);
    CU_ASSERT(within((p.chip_power_w - p.power_w_by_part[AIMC_PART_CHIP_LINK]) / 168, 0.330, 0.03));
    CU_ASSERT(within((p.chip_area_mm2 - p.area_mm2_by_part[AIMC_PART_CHIP_LINK]) / 168, 0.372, 0.03));
    CU_ASSERT(within(p.power_w_by_part[AIMC_PART_ADC] / 2016, 0.016, 0.03));
    CU_ASSERT_DOUBLE_EQUAL(p.mvm_ns, 1600.0, 1e-9); /* 16 steps of max(100, 128 x 0.78125) */
}

/* HERMES: 63.1 TOPS at 9.76 TOPS/W within 5 %. */
static void test_hermes(void)
{
    aimc_arch a;
    CU_ASSERT_EQUAL_FATAL(load("configs/hermes.yaml", &a), AIMC_OK);
    aimc_peak p;
    aimc_peak_compute(&a, &p);
    CU_ASSERT(within(p.tops, 63.1, 0.05));
    CU_ASSERT(within(p.tops_per_w, 9.76, 0.05));
}

/* PUMA loads and its MVM follows the pipelined formula: 16 steps, t_int 100 ns, 128
 * conversions of 1 ns: 100 + 128 + 15 x 128 alone, 16 x 128 at steady state. */
static void test_puma(void)
{
    aimc_arch a;
    CU_ASSERT_EQUAL_FATAL(load("configs/puma.yaml", &a), AIMC_OK);
    aimc_peak p;
    aimc_peak_compute(&a, &p);
    CU_ASSERT_DOUBLE_EQUAL(p.mvm_latency_ns, 100 + 128 + 15 * 128, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(p.mvm_ns, 16 * 128, 1e-9);
}

/* The periphery's peak power and area by hand on a small machine. */
static void test_periphery_by_hand(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.hierarchy.cores_per_chip = 6;
    a.hierarchy.cores_per_cluster = 4;       /* 2 tiles */
    a.noc.clusters_per_router = 4;           /* 1 router */
    a.clock.frequency_mhz = 500;          /* 2 ns cycle */
    a.mapping.noc_hop_ns = 0.5;           /* below a cycle: a hop takes 2 ns */
    CU_ASSERT_EQUAL_FATAL(aimc_arch_validate(&a, NULL), AIMC_OK);
    aimc_peak p;
    aimc_peak_compute(&a, &p);
    CU_ASSERT_EQUAL(p.clusters_per_chip, 2);
    CU_ASSERT_EQUAL(p.routers_per_chip, 1);
    /* buffer: 2 tiles x (2 banks x 17.2 pJ / 2 ns + 0.46 mW) */
    CU_ASSERT_DOUBLE_EQUAL(p.power_w_by_part[AIMC_PART_BUFFER], 2 * (2 * 17.2 / 2 + 0.46) * 1e-3, 1e-12);
    /* bus: 2 x 384 bits x 0.054 pJ / 1 ns */
    CU_ASSERT_DOUBLE_EQUAL(p.power_w_by_part[AIMC_PART_BUS], 2 * 384 * 0.054 * 1e-3, 1e-12);
    /* noc: 1 router x (5 ports x 2.59 pJ x 4/4 / 2 ns + 0.41 mW) */
    CU_ASSERT_DOUBLE_EQUAL(p.power_w_by_part[AIMC_PART_NOC], (5 * 2.59 / 2 + 0.41) * 1e-3, 1e-12);
    /* units: 2 x 4 ops x 0.5 per ns x 0.2 pJ */
    CU_ASSERT_DOUBLE_EQUAL(p.power_w_by_part[AIMC_PART_UNITS], 2 * 4 * 0.5 * 0.2 * 1e-3, 1e-12);
    /* chip links: 4 x 1.6 B/ns x 6500/4 pJ per byte */
    CU_ASSERT_DOUBLE_EQUAL(p.power_w_by_part[AIMC_PART_CHIP_LINK], 4 * 1.6 * 1625 * 1e-3, 1e-9);
    /* ADC static: 6 cores x 16 crossbars x 8 ADCs x 0.2 mW on top of the dynamic part */
    double adc_dyn = 6 * 16 * (7 * 64 * 2.38) / 700.0 * 1e-3;
    CU_ASSERT_DOUBLE_EQUAL(p.power_w_by_part[AIMC_PART_ADC], adc_dyn + 6 * 16 * 8 * 0.2e-3, 1e-12);
    double area = 2 * 86000 + 2 * 90000 + 47000 + 2 * 4100 + 4 * 5.72e6; /* um^2 */
    double arrays = 6 * 16 * (25 + 128 * 0.166 + 8 * 1200) + 6 * 2000;
    CU_ASSERT_DOUBLE_EQUAL(p.chip_area_mm2, (area + arrays) * 1e-6, 1e-9);
}

/* The closed-form pipelined tile equals the engine's tile pipeline on integer times: t_int 7,
 * 12 columns on 3 ADCs of 2 (t_conv = 4 x 2 = 8), S steps: 7 + 8 + (S-1) 8. (Columns are a
 * multiple of the ADCs: a multiplexer ties each column to one ADC, which the engine's
 * any-free-unit server matches only then.) */
static void test_tile_formula_vs_engine(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.crossbar.integration_ns = 7;
    a.adc.per_crossbar = 3;
    a.adc.conversion_ns = 2;
    a.dac.bits = 6; /* bit-serial: 5 steps */
    aimc_activity act;
    aimc_activity_peak(&a, &act);
    aimc_tile_cost c;
    aimc_cost_tile(&a, 128, 12, &act, &c);
    CU_ASSERT_DOUBLE_EQUAL(c.latency_ns, 7 + 8 + 4 * 8, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.analog_ns, 5 * 8, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(aimc_cost_tile_ns(&c, 3), 47 + 2 * 40, 1e-12);
    aimc_eng *e = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_eng_create(&e), AIMC_OK);
    aimc_eng_tile t = {0, 0, 0, 0, 0, 7, 2, 0};
    CU_ASSERT_EQUAL(aimc_eng_server_add(e, "array", 0, 1, &t.array, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_eng_server_add(e, "adc", 0, 3, &t.adc, NULL), AIMC_OK);
    t.dac = t.shift_add = t.array; /* 0-cycle stages */
    uint64_t done;
    CU_ASSERT_EQUAL(aimc_eng_tile_mvm(e, &t, 12, 5, 0, &done), AIMC_OK);
    CU_ASSERT_EQUAL(done, 47);
    /* Two more vectors back to back: + 2 x 40. */
    CU_ASSERT_EQUAL(aimc_eng_tile_mvm(e, &t, 12, 5, 0, &done), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_eng_tile_mvm(e, &t, 12, 5, 0, &done), AIMC_OK);
    CU_ASSERT_EQUAL(done, 47 + 80);
    aimc_eng_destroy(e);
}

/* A workload filling the ISAAC chip, event by event (buffer, bus, every crossbar's pipeline,
 * the cores' digital units), reaches the analytical peak within 5 %. */
static void test_isaac_fill_reaches_peak(void)
{
    aimc_arch a;
    CU_ASSERT_EQUAL_FATAL(load("configs/isaac.yaml", &a), AIMC_OK);
    aimc_peak p;
    aimc_peak_compute(&a, &p);
    aimc_timing_fill_report r;
    aimc_diag d = {{0}};
    int rc = aimc_timing_fill(&a, 6, &r, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    if (!within(r.tops, p.tops_per_chip, 0.05))
        fprintf(stderr, "\n  fill: %.3f TOPS, peak %.3f; %.1f ns per vector\n", r.tops,
                p.tops_per_chip, r.steady_ns_per_vector);
    CU_ASSERT(within(r.tops, p.tops_per_chip, 0.05));
    CU_ASSERT(r.tops <= p.tops_per_chip * (1 + 1e-9)); /* never faster than the peak */
    CU_ASSERT(r.events >= 6 * 2016);
    /* A starved bus (1/8 of its width) cannot keep the arrays busy: below the peak. */
    a.bus.width_bits = 48;
    CU_ASSERT_EQUAL_FATAL(aimc_timing_fill(&a, 6, &r, &d), AIMC_OK);
    CU_ASSERT(r.tops < 0.9 * p.tops_per_chip);
}

static const char *moe_text =
    "version: 1\n"
    "model:\n"
    "  name: t\n"
    "  layers: 2\n"
    "  d_model: 256\n"
    "  routed_experts: 4\n"
    "  expert_d_ff: 512\n"
    "  top_k: 2\n";

static int timing_run(const aimc_arch *a, uint64_t tokens, aimc_timing_report *r)
{
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    int rc = aimc_model_load_string(moe_text, "t.yaml", 0, &m, &d);
    if (!rc) {
        aimc_map_opts mo = {0};
        mo.shape_only = 1;
        rc = aimc_map_plan_ex(a, m, &mo, &p, &d);
    }
    aimc_timing_opts o = {tokens, 1, NULL, NULL};
    if (!rc) rc = aimc_timing_run(a, m, p, &o, r, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    aimc_plan_free(p);
    aimc_model_free(m);
    return rc;
}

/* Timing-only: one token through both layers; tokens pipeline across layers (4 tokens take
 * less than 4 single tokens); a run is a function of its inputs. */
static void test_timing_only(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.hierarchy.chips_auto = 1; /* as many chips as the model needs: chip links in use */
    aimc_timing_report r1, r4, r4b;
    CU_ASSERT_EQUAL_FATAL(timing_run(&a, 1, &r1), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(timing_run(&a, 4, &r4), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(timing_run(&a, 4, &r4b), AIMC_OK);
    CU_ASSERT(r1.time_ns > 0);
    /* At least router, gate/up/down of 2 experts per layer: 2 x 4 tile MVM latencies. */
    aimc_activity act;
    aimc_tile_cost c;
    aimc_activity_peak(&a, &act);
    aimc_cost_tile(&a, 128, 64, &act, &c);
    CU_ASSERT(r1.first_token_ns >= 2 * 3 * c.latency_ns);
    CU_ASSERT(r4.time_ns < 4 * r1.time_ns);
    CU_ASSERT(r4.time_ns > r1.time_ns);
    CU_ASSERT_EQUAL(r4.ticks, r4b.ticks);
    CU_ASSERT_EQUAL(r4.events, r4b.events);
    CU_ASSERT_DOUBLE_EQUAL(r4.energy_pj[AIMC_PART_ADC], r4b.energy_pj[AIMC_PART_ADC], 0);
    /* Dynamic ADC energy is data-free (conversions = steps x columns x row blocks x slices
     * of the active matrices, all experts alike): 4 tokens, 4 times one; static energy is
     * leakage x makespan, so 4 pipelined tokens cost less than 4 single ones. */
    double dyn1 = r1.energy_pj[AIMC_PART_ADC] - r1.static_pj[AIMC_PART_ADC];
    double dyn4 = r4.energy_pj[AIMC_PART_ADC] - r4.static_pj[AIMC_PART_ADC];
    CU_ASSERT(dyn1 > 0);
    CU_ASSERT_DOUBLE_EQUAL(dyn4, 4 * dyn1, 1e-9 * dyn4);
    CU_ASSERT(r4.static_pj[AIMC_PART_ADC] < 4 * r1.static_pj[AIMC_PART_ADC]);
    CU_ASSERT(r1.utilisation[AIMC_PART_XBAR] > 0 && r1.utilisation[AIMC_PART_XBAR] <= 1);
    CU_ASSERT(r1.tile_mvms > 0 && r4.tile_mvms == 4 * r1.tile_mvms);
    CU_ASSERT(r1.chips_used >= 2);
    CU_ASSERT(r1.energy_pj[AIMC_PART_CHIP_LINK] > 0);
}

int test_calibration_register(void)
{
    AIMC_SUITE("calibration", {"isaac: Table I and IV within 3 %", test_isaac},
               {"hermes: 63.1 TOPS, 9.76 TOPS/W within 5 %", test_hermes},
               {"puma: pipelined MVM", test_puma},
               {"periphery peak by hand", test_periphery_by_hand},
               {"pipelined tile: formula = engine", test_tile_formula_vs_engine},
               {"isaac filled event by event reaches the peak", test_isaac_fill_reaches_peak},
               {"timing-only mode", test_timing_only});
    return 0;
}
