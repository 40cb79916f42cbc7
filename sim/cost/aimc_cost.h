/* aimc_peak.h - closed-form costs: one tile's pipelined cost per input vector at a given
 * activity, and the peak figures of a whole machine.
 *
 * These use the simulator's cost formulas (docs/simulator.md) with averages in place of the
 * data: the simulator's per-tile timing, the mapper's estimates, the timing-only engine and
 * the peak figures of `aimc info` all come from here, and the simulated steady state can be
 * checked against them. Formulas in docs/cli.md ("aimc info") and docs/engine.md.
 */
#ifndef AIMC_PEAK_H
#define AIMC_PEAK_H

#include <stdint.h>

#include "aimc_arch.h"

/* What the data does to a tile's cost, on average. */
typedef struct aimc_activity {
    double drive_fraction; /* word lines driven (input bit or code not 0) per step, 0..1 */
    double v2_mean;        /* mean of (v / v_full_scale)^2 over driven and idle rows, 0..1 */
    double g_mean_us;      /* mean conductance of the tile's devices, uS */
} aimc_activity;

/* Full load: every row driven at full scale, devices at (g_min + g_max) / 2. */
void aimc_activity_peak(const aimc_arch *a, aimc_activity *act);

/* One input vector through one tile of nrows x ncols weights (ncols weight columns).
 *
 * The tile is a two-stage pipeline over its S input steps: integration (drive the word
 * lines, settle, integrate: t_int = crossbar.integration_ns) and conversion (the tile's
 * columns on the crossbar's ADCs: t_conv = ceil(ncols / adc.per_crossbar) x
 * adc.conversion_ns). Sample-and-hold keeps step i's column values while step i+1
 * integrates, so the steps stream at the pace of the slower stage:
 *   latency   = t_int + t_conv + (S - 1) max(t_int, t_conv)     one vector alone
 *   per vector at steady state = S max(t_int, t_conv)            vectors back to back
 * and B vectors back to back take latency + (B - 1) S max(t_int, t_conv)
 * (aimc_cost_tile_ns). Shift-and-add is digital work, counted in digital_ops. */
typedef struct aimc_tile_cost {
    int steps;                /* S, input steps (DAC) */
    double integrate_ns;      /* t_int, one step */
    double convert_ns;        /* t_conv, one step's columns */
    double step_ns;           /* the pipeline's interval: max(t_int, t_conv) */
    double latency_ns;        /* one vector alone: t_int + t_conv + (S - 1) step_ns */
    double analog_ns;         /* one vector at steady state: S step_ns */
    double digital_ops;       /* shift-and-add per step and column, plus one accumulate per column */
    double energy_pj[4];      /* dac, xbar, adc, digital (aimc_component order) */
} aimc_tile_cost;

void aimc_cost_tile(const aimc_arch *a, uint32_t nrows, uint32_t ncols,
                    const aimc_activity *act, aimc_tile_cost *c);

/* Analog time of `vectors` input vectors back to back through the tile of c:
 * latency_ns + (vectors - 1) analog_ns; 0 for no vectors. */
double aimc_cost_tile_ns(const aimc_tile_cost *c, uint64_t vectors);

/* The device's clocked timing (docs/rtl.md, "Cycle accounting"): what the sequencer of the
 * RTL (rtl/aimc_tileseq.sv) counts and the simulator's cycle counters use, in whole cycles of
 * the digital clock. One input step integrates for aimc_cycles_integrate cycles; the ADCs run
 * on their own clock, one round (every ADC of the crossbar converts one column) taking
 * aimc_cycles_conv_fp16 / 65536 cycles, and the sequencer sees a step's conversions done at the
 * next clock edge: ceil(ceil(ncols / adc.per_crossbar) x round) cycles (at least 1). */
uint32_t aimc_cycles_integrate(const aimc_arch *a);
uint32_t aimc_cycles_conv_fp16(const aimc_arch *a);
uint64_t aimc_cycles_convert(const aimc_arch *a, uint32_t ncols);

/* The parts of a chip whose power and area `aimc info` reports, in report order: the four
 * aimc_component parts (their static power included), then the periphery. */
typedef enum {
    AIMC_PART_DAC = 0,
    AIMC_PART_XBAR,
    AIMC_PART_ADC,
    AIMC_PART_DIGITAL,   /* the cores' shift-and-add, accumulators and registers */
    AIMC_PART_BUFFER,    /* the tiles' buffers (eDRAM, SRAM) */
    AIMC_PART_BUS,       /* buffer-to-core buses */
    AIMC_PART_NOC,       /* routers */
    AIMC_PART_UNITS,     /* the tiles' digital units (activation, top-k, pooling) */
    AIMC_PART_CHIP_LINK, /* chip-to-chip links */
    AIMC_PART_COUNT
} aimc_part;

/* "dac", "xbar", "adc", "digital", "buffer", "bus", "noc", "units", "chip_link";
 * "unknown" for anything else. */
const char *aimc_part_name(aimc_part p);

/* Tiles and routers of one chip: ceil(cores_per_chip / cores_per_cluster) and
 * ceil(tiles / noc.clusters_per_router). */
uint64_t aimc_arch_clusters_per_chip(const aimc_arch *a);
uint64_t aimc_arch_routers_per_chip(const aimc_arch *a);

typedef struct aimc_peak {
    double ops_per_mvm;        /* 2 x rows x logical columns, per crossbar group of one weight */
    double mvm_ns;             /* one input vector through one full tile, steady state */
    double mvm_latency_ns;     /* one input vector alone through one full tile */
    double tops;               /* whole machine, weight-precision ops (MAC = 2 ops) per second */
    double tops_per_chip;
    double chip_power_w;       /* one chip at peak: every part busy all the time + static */
    double chip_static_w;      /* of which static (leakage) power */
    double chip_area_mm2;      /* one chip, every part */
    double power_w;            /* whole machine */
    double area_mm2;           /* whole machine */
    double tops_per_w;
    double tops_per_mm2;
    double power_w_by_part[AIMC_PART_COUNT]; /* per chip, aimc_part order */
    double area_mm2_by_part[AIMC_PART_COUNT];
    double power_w_by_component[4]; /* per chip: dac, xbar, adc, digital = the first 4 parts */
    double area_mm2_by_component[4];/* per chip, same order */
    double weights_capacity;   /* weights the machine can hold */
    uint64_t clusters_per_chip, routers_per_chip;
} aimc_peak;

/* Fill *p for an arch that passed aimc_arch_validate(). */
void aimc_peak_compute(const aimc_arch *a, aimc_peak *p);

#endif /* AIMC_PEAK_H */
