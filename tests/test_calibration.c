/* test_calibration.c - the presets against their published figures, the periphery's peak
 * figures by hand, full ISAAC cores on the device against the analytical peak, and the
 * timing-only mode (suite "calibration"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "aimc_config.h"
#include "aimc_map.h"
#include "aimc_cost.h"
#include "aimc.h"
#include "aimc_rt.h"
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
    /* 16 steps of max(t_int, t_conv) at 1.2 GHz: 100 ns = 120 cycles, 128 x 0.78125 ns = 120
     * cycles: P = 1920 cycles = 1600 ns. Alone, + m (120 cycles) + D: 8 crossbars x 17 x 128
     * shift-and-add operations at 12 per cycle, 1451 cycles. */
    CU_ASSERT_DOUBLE_EQUAL(p.mvm_ns, 1600.0, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(p.mvm_latency_ns, (120 + 1920 + 1451) / 1.2, 1e-9);
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

/* PUMA: the figures of the puma-simulator's own files (github.com/Aayush-Ankit/puma-simulator:
 * include/config.py at 964f96f, include/constants.py at 930dfcd; configs/puma.yaml cites
 * each), named as there. Times in cycles of cycle_time, powers in mW, areas in mm^2. */
enum {
    PUMA_NUM_BITS = 16,          /* config.py: num_bits */
    PUMA_INPUT_PREC = 16,        /* config.py: input_prec */
    PUMA_WEIGHT_WIDTH = 16,      /* config.py: weight_width */
    PUMA_XBAR_BITS = 2,          /* config.py: xbar_bits */
    PUMA_XBAR_SIZE = 128,        /* config.py: xbar_size */
    PUMA_NUM_MATRIX = 2,         /* config.py: num_matrix, MVM units per core */
    PUMA_DAC_RES = 1,            /* config.py: dac_res */
    PUMA_ADC_RES = 8,            /* config.py: adc_res */
    PUMA_NUM_ADC_PER_MATRIX = 2, /* config.py: num_adc_per_matrix */
    PUMA_NUM_IMA = 8,            /* config.py: num_ima, cores per tile */
    PUMA_NUM_TILE_MAX = 168,     /* config.py: num_tile_max, tiles per node */
    PUMA_NUM_NODE = 1,           /* config.py: num_node */
    PUMA_EDRAM_SIZE_KB = 64,     /* config.py: edram_size */
    PUMA_EDRAM_BUSWIDTH = 256,   /* config.py: edram_buswidth, bits */
    PUMA_FLIT_WIDTH = 32,        /* config.py: flit_width, bits */
    PUMA_NOC_NUM_PORT = 4,       /* config.py: noc_num_port */
    PUMA_CMESH_C = 4,            /* config.py: cmesh_c, tiles per router */
    PUMA_PHY2LOG_RATIO = PUMA_NUM_BITS / PUMA_XBAR_BITS, /* config.py: 8 crossbars per unit */
    PUMA_NUM_ADC = PUMA_NUM_ADC_PER_MATRIX * PUMA_NUM_MATRIX, /* config.py: 4 per core */
};
static const double puma_cycle_time = 1.0;       /* constants.py: ns */
static const double puma_xbar_lat = 128.0;       /* constants.py: xbar_lat_dict['2']['128'] */
static const double puma_xbar_pow = 0.3;         /* constants.py: xbar_pow_dict['2']['128'] */
static const double puma_xbar_area = 2.5e-5;     /* constants.py: xbar_area_dict['2']['128'] */
static const double puma_dac_pow_dyn = 0.00350625, puma_dac_pow_leak = 0.000390625,
                    puma_dac_area = 1.67e-7;     /* constants.py: dac_*_dict['1'] */
static const double puma_adc_lat = 1.0, puma_adc_pow_dyn = 1.8, puma_adc_pow_leak = 0.2,
                    puma_adc_area = 0.0012;      /* constants.py: adc_*_dict['8'] */
static const double puma_sna_pow_dyn = 0.05 - 0.005; /* constants.py: sna_pow_dyn */
static const double puma_edram_lat = 2.0, puma_edram_pow_dyn = 17.2 / 2,
                    puma_edram_pow_leak = 0.46, puma_edram_area = 0.086; /* ['64'] */
static const double puma_edram_bus_lat = 1.0, puma_edram_bus_pow_dyn = 6.0 / 2,
                    puma_edram_bus_area = 0.090; /* constants.py: edram_bus_* */
static const double puma_noc_pow_dyn = 16.13, puma_noc_pow_leak = 0.41,
                    puma_noc_area = 0.047;       /* constants.py: noc_*_dict['4'] */
static const double puma_ht_lat = 5.0, puma_noc_inter_pow_dyn = 10400.0,
                    puma_noc_inter_area = 22.88, puma_ht_gbytes_per_s = 6.4; /* constants.py */

/* A full PUMA core: its 2 MVM units each hold one 128 x 128 block of a 128 x 256 matrix,
 * the block's 8 slices on 8 crossbars. */
static int puma_core_matrix(aimc_dev *dev, const aimc_arch *a, uint32_t core)
{
    const uint32_t rows = (uint32_t)a->crossbar.rows, lcols = (uint32_t)aimc_arch_logical_cols(a);
    const uint32_t xpc = (uint32_t)a->hierarchy.crossbars_per_core;
    const uint32_t slices = (uint32_t)aimc_arch_slices(a);
    aimc_tile t[64];
    for (uint32_t s = 0; s < xpc && s < 64; s++)
        t[s] = (aimc_tile){.matrix = core, .row0 = 0, .nrows = rows, .col0 = s / slices * lcols,
                           .ncols = lcols, .slice = s % slices, .xbar = core * xpc + s,
                           .xbar_col0 = 0};
    return aimc_weights_program(dev, core, NULL, rows, xpc / slices * lcols, t, xpc, NULL, NULL);
}

/* Busy cycles of one full PUMA core for a batch of B vectors on the timing-only device. */
static uint64_t puma_core_cycles(const aimc_arch *a, uint32_t B)
{
    const uint32_t rows = (uint32_t)a->crossbar.rows;
    const uint32_t cols = (uint32_t)(a->hierarchy.crossbars_per_core / aimc_arch_slices(a) *
                                     aimc_arch_logical_cols(a));
    aimc_dev *dev = NULL;
    aimc_bo *x = NULL, *y = NULL;
    aimc_open_opts o = {.arch = a, .seed = 1, .timing_only = 1};
    uint64_t f = 0, cycles = 0;
    aimc_counters c0, c1;
    if (aimc_open("sim:", &o, &dev) == AIMC_OK &&
        aimc_bo_create(dev, (size_t)B * rows * 4, &x) == AIMC_OK &&
        aimc_bo_create(dev, (size_t)B * cols * 4, &y) == AIMC_OK &&
        puma_core_matrix(dev, a, 0) == AIMC_OK && aimc_counters_read(dev, &c0) == AIMC_OK &&
        aimc_submit_mvm_addr(dev, 0, B, aimc_bo_addr(x), aimc_bo_addr(y), &f) == AIMC_OK &&
        aimc_fence_wait(dev, f, -1) == AIMC_OK && aimc_counters_read(dev, &c1) == AIMC_OK)
        cycles = c1.cycles - c0.cycles;
    aimc_bo_destroy(y);
    aimc_bo_destroy(x);
    aimc_close(dev);
    return cycles;
}

/* configs/puma.yaml has the puma-simulator's organisation, figure by figure, and its MVM
 * follows PUMA's timing through aimc's crossbar pipeline (docs/engine.md), by hand at 1 GHz:
 *   S = input_prec / dac_res = 16 steps; t_int = xbar_lat = 128 cycles; t_conv = 128 columns
 *   on the crossbar's ADC at 1 cycle each = 128 cycles;
 *   P = S x max(t_int, t_conv) = 16 x 128 = 2048, m = min(t_int, t_conv) = 128,
 *   D = ceil(16 crossbars x (S + 1) x 128 columns / 272 ops per cycle) = ceil(34816 / 272) = 128;
 *   T(1) = m + P + D = 2304 = (16 + 2) x 128, PUMA's MVM instruction (its wiki, ima.py);
 *   at steady state one vector per max(P, D) = 2048 cycles;
 *   T(32) = m + max(32 P + D, P + 32 D) = 128 + max(65664, 6144) = 65792. */
static void test_puma(void)
{
    aimc_arch a;
    CU_ASSERT_EQUAL_FATAL(load("configs/puma.yaml", &a), AIMC_OK);
    aimc_peak p;
    aimc_peak_compute(&a, &p);

    /* The crossbar and its cells: 16-bit weights as 8 slices of 2 bits. */
    CU_ASSERT_EQUAL(a.crossbar.rows, PUMA_XBAR_SIZE);
    CU_ASSERT_EQUAL(a.crossbar.cols, PUMA_XBAR_SIZE);
    CU_ASSERT_EQUAL(aimc_arch_logical_cols(&a), PUMA_XBAR_SIZE);
    CU_ASSERT_EQUAL(a.crossbar.bits_per_cell, PUMA_XBAR_BITS);
    CU_ASSERT_EQUAL(a.device.levels, 1 << PUMA_XBAR_BITS);
    CU_ASSERT_EQUAL(a.crossbar.weight_bits, PUMA_WEIGHT_WIDTH);
    CU_ASSERT_EQUAL(aimc_arch_slices(&a), PUMA_PHY2LOG_RATIO);
    CU_ASSERT_DOUBLE_EQUAL(a.crossbar.integration_ns, puma_xbar_lat * puma_cycle_time, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a.crossbar.area_um2, puma_xbar_area * 1e6, 1e-9);
    /* an array at the mean conductance draws xbar_pow: rows x cols x g x V^2 (uS V^2 = uW) */
    const double g_mid = 0.5 * (a.device.g_min_us + a.device.g_max_us);
    const double v = a.device.read_voltage_v;
    CU_ASSERT(within(PUMA_XBAR_SIZE * PUMA_XBAR_SIZE * g_mid * v * v * 1e-3, puma_xbar_pow, 1e-4));

    /* Inputs: 16 bits, one per step. */
    CU_ASSERT_EQUAL(a.dac.mode, AIMC_DAC_BIT_SERIAL);
    CU_ASSERT_EQUAL(aimc_arch_input_steps(&a), PUMA_INPUT_PREC / PUMA_DAC_RES);
    CU_ASSERT_EQUAL(a.dac.bits, PUMA_INPUT_PREC + 1); /* bit-serial takes bits - 1 steps */

    /* The hierarchy: 2 MVM units of 8 crossbars per core, 8 cores per tile, 168 tiles, 4 tiles
     * per router, one node. */
    CU_ASSERT_EQUAL(a.hierarchy.crossbars_per_core, PUMA_NUM_MATRIX * PUMA_PHY2LOG_RATIO);
    CU_ASSERT_EQUAL(a.hierarchy.cores_per_cluster, PUMA_NUM_IMA);
    CU_ASSERT_EQUAL(a.hierarchy.cores_per_chip, PUMA_NUM_TILE_MAX * PUMA_NUM_IMA);
    CU_ASSERT_EQUAL(p.clusters_per_chip, PUMA_NUM_TILE_MAX);
    CU_ASSERT_EQUAL(a.noc.clusters_per_router, PUMA_CMESH_C);
    CU_ASSERT_EQUAL(p.routers_per_chip, PUMA_NUM_TILE_MAX / PUMA_CMESH_C);
    CU_ASSERT_EQUAL(a.hierarchy.chips, PUMA_NUM_NODE);
    CU_ASSERT_DOUBLE_EQUAL(a.clock.frequency_mhz, 1000.0 / puma_cycle_time, 1e-12);

    /* ADCs (configs/puma.yaml's header): 8 bits; one per crossbar converting a column per
     * cycle, as PUMA's timing does, each with a quarter of a PUMA ADC's area and leakage, so
     * that a core has the area and static power of num_adc = 4 ADCs; energy per conversion
     * adc_pow_dyn over adc_lat. DACs: one array of 128 per MVM unit, shared by its 8
     * crossbars. */
    const double xpc = a.hierarchy.crossbars_per_core;
    CU_ASSERT_EQUAL(a.adc.bits, PUMA_ADC_RES);
    CU_ASSERT_EQUAL(a.adc.per_crossbar, 1);
    CU_ASSERT_DOUBLE_EQUAL(a.adc.conversion_ns, puma_adc_lat * puma_cycle_time, 1e-12);
    CU_ASSERT_EQUAL(aimc_cost_convert_cycles(&a, PUMA_XBAR_SIZE), (uint64_t)(PUMA_XBAR_SIZE * puma_adc_lat));
    CU_ASSERT_DOUBLE_EQUAL(a.adc.energy_pj, puma_adc_pow_dyn * puma_adc_lat * puma_cycle_time, 1e-12);
    CU_ASSERT(within(xpc * a.adc.per_crossbar * a.adc.area_um2, PUMA_NUM_ADC * puma_adc_area * 1e6, 1e-9));
    CU_ASSERT(within(xpc * a.adc.per_crossbar * a.adc.leakage_mw, PUMA_NUM_ADC * puma_adc_pow_leak, 1e-9));
    const double dacs = PUMA_NUM_MATRIX * PUMA_XBAR_SIZE; /* per core */
    CU_ASSERT(within(xpc * a.crossbar.rows * a.dac.area_um2, dacs * puma_dac_area * 1e6, 1e-9));
    CU_ASSERT(within(xpc * a.crossbar.rows * a.dac.leakage_mw, dacs * puma_dac_pow_leak, 1e-6));
    CU_ASSERT(within(xpc * a.crossbar.rows * a.dac.energy_pj, dacs * puma_dac_pow_dyn, 1e-9));
    CU_ASSERT_DOUBLE_EQUAL(a.digital.energy_pj_per_op, puma_sna_pow_dyn * puma_cycle_time, 1e-12);

    /* The tile's eDRAM and bus, the router, HyperTransport. */
    CU_ASSERT_EQUAL(a.buffer.kb, PUMA_EDRAM_SIZE_KB);
    CU_ASSERT_EQUAL(a.buffer.bytes_per_access * 8, PUMA_EDRAM_BUSWIDTH);
    CU_ASSERT_DOUBLE_EQUAL(a.buffer.access_ns, puma_edram_lat * puma_cycle_time, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a.buffer.energy_pj, puma_edram_pow_dyn * puma_edram_lat, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a.buffer.leakage_mw, puma_edram_pow_leak, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a.buffer.area_um2, puma_edram_area * 1e6, 1e-6);
    CU_ASSERT_EQUAL(a.bus.width_bits, PUMA_EDRAM_BUSWIDTH);
    CU_ASSERT_DOUBLE_EQUAL(a.bus.transfer_ns, puma_edram_bus_lat * puma_cycle_time, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a.bus.energy_pj_per_bit * PUMA_EDRAM_BUSWIDTH, puma_edram_bus_pow_dyn, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a.bus.area_um2, puma_edram_bus_area * 1e6, 1e-6);
    CU_ASSERT_EQUAL(a.noc.flit_bytes * 8, PUMA_FLIT_WIDTH);
    CU_ASSERT_EQUAL(a.noc.ports, PUMA_NOC_NUM_PORT);
    CU_ASSERT_DOUBLE_EQUAL(a.noc.leakage_mw, puma_noc_pow_leak, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a.noc.area_um2, puma_noc_area * 1e6, 1e-6);
    /* every port moving a flit per cycle: the router's noc_pow_dyn */
    CU_ASSERT(within(a.noc.ports * a.mapping.noc_hop_energy_pj / puma_cycle_time, puma_noc_pow_dyn, 1e-9));
    CU_ASSERT_DOUBLE_EQUAL(a.mapping.chip_link_ns, puma_ht_lat, 1e-12);
    CU_ASSERT_EQUAL(a.chip_link.count, 1);
    CU_ASSERT_DOUBLE_EQUAL(a.chip_link.gbytes_per_s, puma_ht_gbytes_per_s, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a.chip_link.area_um2, puma_noc_inter_area * 1e6, 1e-3);
    /* 32 bits at 6.4 GB/s for 10.4 W */
    CU_ASSERT(within(a.mapping.chip_link_energy_pj, puma_noc_inter_pow_dyn * 4 / puma_ht_gbytes_per_s, 1e-12));

    /* The pipeline by hand (above). */
    const uint64_t S = PUMA_INPUT_PREC / PUMA_DAC_RES, step = 128, m = 128;
    CU_ASSERT_EQUAL(aimc_cost_integrate_cycles(&a), step);
    CU_ASSERT_EQUAL(aimc_cost_shift_add_cycles(&a, 16 * (S + 1) * 128), 128);
    CU_ASSERT_DOUBLE_EQUAL(p.mvm_latency_ns, m + S * step + 128, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(p.mvm_latency_ns, (PUMA_INPUT_PREC / PUMA_DAC_RES + 2) * puma_xbar_lat, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(p.mvm_ns, S * step, 1e-9);
    /* and on the device, one full core */
    CU_ASSERT_EQUAL(puma_core_cycles(&a, 1), 2304);
    CU_ASSERT_EQUAL(puma_core_cycles(&a, 32), 128 + 32 * 2048 + 128);
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
    a.mapping.noc_hop_ns = 0.5;           /* below a cycle: a hop takes a cycle, 2 ns */
    CU_ASSERT_EQUAL_FATAL(aimc_arch_validate(&a, NULL), AIMC_OK);
    aimc_peak p;
    aimc_peak_compute(&a, &p);
    CU_ASSERT_EQUAL(p.clusters_per_chip, 2);
    CU_ASSERT_EQUAL(p.routers_per_chip, 1);
    /* buffer: 2 tiles x (2 banks x 17.2 pJ / 2 ns + 0.46 mW) */
    CU_ASSERT_DOUBLE_EQUAL(p.power_w_by_part[AIMC_PART_BUFFER], 2 * (2 * 17.2 / 2 + 0.46) * 1e-3, 1e-12);
    /* bus: 2 x 384 bits x 0.054 pJ per transfer of 1 ns, which takes a cycle (2 ns) */
    CU_ASSERT(within(p.power_w_by_part[AIMC_PART_BUS], 2 * 384 * 0.054 / 2 * 1e-3, 1e-7));
    /* noc: 1 router x (5 ports x 2.59 pJ x 4/4 / 2 ns + 0.41 mW) */
    CU_ASSERT(within(p.power_w_by_part[AIMC_PART_NOC], (5 * 2.59 / 2 + 0.41) * 1e-3, 1e-7));
    /* units: 2 x 4 ops x 0.5 per ns x 0.2 pJ */
    CU_ASSERT_DOUBLE_EQUAL(p.power_w_by_part[AIMC_PART_UNITS], 2 * 4 * 0.5 * 0.2 * 1e-3, 1e-12);
    /* chip links: `count: auto` gives a one-chip machine none */
    CU_ASSERT_EQUAL(aimc_cost_links_per_chip(&a), 0);
    CU_ASSERT_DOUBLE_EQUAL(p.power_w_by_part[AIMC_PART_CHIP_LINK], 0.0, 0.0);
    /* ADC from the survey model at 10 bits: 10 fJ x 2^9 x 4 = 20.48 pJ per conversion, 6000
     * um^2 (1500 x 2^2); static: 6 cores x 16 crossbars x 8 ADCs x 0.2 mW on top. The
     * conversions of a vector, 7 steps x 64 columns per crossbar, every P = 7 x 100 ns. */
    double adc_dyn = 6 * 16 * (7 * 64 * 20.48) / 700.0 * 1e-3;
    CU_ASSERT_DOUBLE_EQUAL(p.power_w_by_part[AIMC_PART_ADC], adc_dyn + 6 * 16 * 8 * 0.2e-3, 1e-12);
    double area = 2 * 86000 + 2 * 90000 + 47000 + 2 * 4100; /* um^2 */
    double arrays = 6 * 16 * (25 + 128 * 0.166 + 8 * 6000) + 6 * 2000;
    CU_ASSERT_DOUBLE_EQUAL(p.chip_area_mm2, (area + arrays) * 1e-6, 1e-9);
    /* Four links when the config says so: 4 x 1.6 B/ns x 6500/4 pJ per byte, 4 x 5.72 mm^2. */
    a.chip_link.count_auto = 0;
    aimc_peak_compute(&a, &p);
    CU_ASSERT_DOUBLE_EQUAL(p.power_w_by_part[AIMC_PART_CHIP_LINK], 4 * 1.6 * 1625 * 1e-3, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(p.chip_area_mm2, (area + 4 * 5.72e6 + arrays) * 1e-6, 1e-9);
}

/* A full ISAAC core: its 8 crossbars each hold one slice of a 128 x lcols matrix. */
static int isaac_core_matrix(aimc_dev *dev, const aimc_arch *a, uint32_t core)
{
    const uint32_t rows = (uint32_t)a->crossbar.rows, lcols = (uint32_t)aimc_arch_logical_cols(a);
    const uint32_t xpc = (uint32_t)a->hierarchy.crossbars_per_core;
    aimc_tile t[64];
    for (uint32_t s = 0; s < xpc && s < 64; s++)
        t[s] = (aimc_tile){.matrix = core, .row0 = 0, .nrows = rows, .col0 = 0, .ncols = lcols,
                           .slice = s, .xbar = core * xpc + s, .xbar_col0 = 0};
    return aimc_weights_program(dev, core, NULL, rows, lcols, t, xpc, NULL, NULL);
}

/* Full ISAAC cores on the timing-only device, fed from their tile's buffer as ISAAC's IMAs
 * are (an RMS norm puts the input vectors into cluster 0's buffer; the outputs stay there).
 * Each core's busy cycles for B vectors are the crossbar pipeline's T(B) by hand; one core
 * reaches the analytical peak but for the command's fixed costs (fetching it, its status
 * word) and moving its batch in before the run and out after it (docs/engine.md: a
 * command's stages do not overlap its own vectors), 32 x 128 codes over the bus and 32 x 128
 * sums into the buffer, under 15 % against 32 vectors of 1.6 us; the 12 cores of the cluster
 * work side by side, sharing the bus, so 12 take far less than 12 times one. */
static void test_isaac_cores_reach_peak(void)
{
    aimc_arch a;
    CU_ASSERT_EQUAL_FATAL(load("configs/isaac.yaml", &a), AIMC_OK);
    const uint32_t rows = (uint32_t)a.crossbar.rows, lcols = (uint32_t)aimc_arch_logical_cols(&a);
    CU_ASSERT_EQUAL_FATAL(aimc_arch_slices(&a), a.hierarchy.crossbars_per_core);
    CU_ASSERT_EQUAL_FATAL(a.hierarchy.cores_per_cluster, 12);
    aimc_peak p;
    aimc_peak_compute(&a, &p);
    enum { B = 32, CORES = 12 };
    double makespan[2] = {0};
    for (int k = 0; k < 2; k++) {
        const uint32_t n = k ? CORES : 1;
        aimc_dev *dev = NULL;
        aimc_bo *xin = NULL, *x = NULL, *y[CORES] = {0};
        aimc_open_opts o = {.arch = &a, .seed = 1, .timing_only = 1,
                            .trace_path = getenv("AIMC_TEST_TRACE")};
        CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, (size_t)B * rows * 4, &xin), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, (size_t)B * rows * 4, &x), AIMC_OK);
        for (uint32_t c = 0; c < n; c++) {
            CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, (size_t)B * lcols * 4, &y[c]), AIMC_OK);
            CU_ASSERT_EQUAL_FATAL(isaac_core_matrix(dev, &a, c), AIMC_OK);
        }
        uint64_t f[CORES], g;
        CU_ASSERT_EQUAL(aimc_submit_rmsnorm(dev, B, rows, aimc_bo_addr(xin), aimc_bo_addr(x), &g), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_fence_wait(dev, g, -1), AIMC_OK);
        aimc_counters c0, c1;
        CU_ASSERT_EQUAL(aimc_counters_read(dev, &c0), AIMC_OK);
        for (uint32_t c = 0; c < n; c++)
            CU_ASSERT_EQUAL(aimc_submit_mvm_addr(dev, c, B, aimc_bo_addr(x), aimc_bo_addr(y[c]), &f[c]), AIMC_OK);
        for (uint32_t c = 0; c < n; c++) CU_ASSERT_EQUAL(aimc_fence_wait(dev, f[c], -1), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_counters_read(dev, &c1), AIMC_OK);
        /* T(32) = m + max(32 P + D, P + 32 D), P = 1920, m = 120, D = 1451 (test_isaac) */
        CU_ASSERT_EQUAL(c1.cycles - c0.cycles, (uint64_t)n * (120 + 32 * 1920 + 1451));
        makespan[k] = (double)(c1.time - c0.time);
        for (uint32_t c = 0; c < n; c++) aimc_bo_destroy(y[c]);
        aimc_bo_destroy(x);
        aimc_bo_destroy(xin);
        aimc_close(dev);
    }
    const double peak_ns = B * p.mvm_ns; /* 32 vectors at the peak interval */
    const double ns1 = makespan[0] / 1.2, ns12 = makespan[1] / 1.2;
    if (ns1 > 1.15 * peak_ns || ns12 > 1.5 * ns1)
        fprintf(stderr, "\n  isaac: 1 core %.0f ns, 12 cores %.0f ns; peak %.0f ns\n", ns1, ns12,
                peak_ns);
    CU_ASSERT(ns1 >= peak_ns && ns12 >= ns1); /* never faster than the peak */
    CU_ASSERT(ns1 <= 1.15 * peak_ns);
    CU_ASSERT(ns12 <= 1.5 * ns1);
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

/* Map moe_text shape-only on a, program a timing-only device and run `tokens` tokens in
 * groups of `batch` with uniform routing drawn from seed 3. */
static int timing_run(const aimc_arch *a, size_t tokens, size_t batch, aimc_rt_report *r)
{
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_dev *dev = NULL;
    aimc_diag d = {{0}};
    int rc = aimc_model_load_string(moe_text, "t.yaml", 0, &m, &d);
    if (!rc) {
        aimc_map_opts mo = {0};
        mo.shape_only = 1;
        rc = aimc_map_plan_ex(a, m, &mo, &p, &d);
    }
    aimc_arch used = *a; /* the chips the plan needs */
    if (!rc && used.hierarchy.chips_auto) rc = aimc_map_fit_chips(&used, p);
    aimc_open_opts o = {.arch = &used, .seed = 1, .timing_only = 1};
    if (!rc) rc = aimc_open("sim:", &o, &dev);
    if (!rc) rc = aimc_rt_program(dev, &used, m, p, NULL, NULL, &d);
    aimc_rt_opts ro = {.batch = batch, .seed = 3};
    if (!rc) rc = aimc_rt_run(dev, m, NULL, tokens, NULL, &ro, r, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    aimc_close(dev);
    aimc_plan_free(p);
    aimc_model_free(m);
    return rc;
}

/* Timing-only through the runtime: no values; tokens in groups of one pipeline across the
 * layers (4 take less than 4 single tokens, more than one); the first token is delayed by
 * less than 1 % by the ones behind it; a run is a function of its inputs; dynamic energy
 * counts events (4 tokens through experts of one shape: 4 times the conversions of one). */
static void test_timing_only(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.hierarchy.chips_auto = 1; /* as many chips as the model needs: chip links in use */
    aimc_rt_report r1, r4, r4b;
    CU_ASSERT_EQUAL_FATAL(timing_run(&a, 1, 1, &r1), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(timing_run(&a, 4, 1, &r4), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(timing_run(&a, 4, 1, &r4b), AIMC_OK);
    CU_ASSERT_EQUAL(r1.values, 0);
    CU_ASSERT_EQUAL(r4.groups, 4);
    CU_ASSERT(r1.makespan_cycles > 0);
    CU_ASSERT_EQUAL(r1.first_cycles, r1.makespan_cycles);
    CU_ASSERT(r4.makespan_cycles < 4 * r1.makespan_cycles);
    CU_ASSERT(r4.makespan_cycles > r1.makespan_cycles);
    /* the groups behind meet the first only on the periphery (aimc_rt.h) */
    CU_ASSERT(r4.first_cycles >= r1.first_cycles && r4.first_cycles <= 1.01 * r1.first_cycles);
    CU_ASSERT_EQUAL(r4.makespan_cycles, r4b.makespan_cycles);
    CU_ASSERT_EQUAL(r4.cost.cycles, r4b.cost.cycles);
    for (int c = 0; c < AIMC_PART_COUNT; c++)
        CU_ASSERT_DOUBLE_EQUAL(r4.cost.energy_pj[c], r4b.cost.energy_pj[c], 0);
    CU_ASSERT(r1.cost.adc_conversions > 0);
    CU_ASSERT_EQUAL(r4.cost.adc_conversions, 4 * r1.cost.adc_conversions);
    CU_ASSERT_DOUBLE_EQUAL(r4.cost.energy_pj[AIMC_PART_ADC], 4 * r1.cost.energy_pj[AIMC_PART_ADC],
                           1e-9 * r4.cost.energy_pj[AIMC_PART_ADC]);
    CU_ASSERT(r1.cost.energy_pj[AIMC_PART_CHIP_LINK] > 0); /* the model spans chips */
}

int test_calibration_register(void)
{
    AIMC_SUITE("calibration", {"isaac: Table I and IV within 3 %", test_isaac},
               {"hermes: 63.1 TOPS, 9.76 TOPS/W within 5 %", test_hermes},
               {"puma: the simulator's organisation, pipelined MVM", test_puma},
               {"periphery peak by hand", test_periphery_by_hand},
               {"isaac: full cores on the device reach the peak", test_isaac_cores_reach_peak},
               {"timing-only mode", test_timing_only});
    return 0;
}
