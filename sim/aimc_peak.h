/* aimc_peak.h - closed-form costs: one tile's cost per input vector at a given activity,
 * and the peak figures of a whole machine.
 *
 * These use the simulator's cost formulas (docs/simulator.md) with averages in place of the
 * data: the mapper's estimates and the peak figures of `aimc info` come from here, and the
 * simulated steady state can be checked against them. Formulas in docs/cli.md ("aimc info").
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

/* One input vector through one tile of nrows x ncols weights (ncols weight columns): */
typedef struct aimc_tile_cost {
    int steps;                /* input steps (DAC) */
    double step_ns;           /* integrate, then convert the columns on the crossbar's ADCs */
    double analog_ns;         /* steps x step_ns */
    double digital_ops;       /* shift-and-add per step and column, plus one accumulate per column */
    double energy_pj[4];      /* dac, xbar, adc, digital (aimc_component order) */
} aimc_tile_cost;

void aimc_cost_tile(const aimc_arch *a, uint32_t nrows, uint32_t ncols,
                    const aimc_activity *act, aimc_tile_cost *c);

typedef struct aimc_peak {
    double ops_per_mvm;        /* 2 x rows x logical columns, per crossbar group of one weight */
    double mvm_ns;             /* one input vector through one full tile: steps x step time */
    double tops;               /* whole machine, weight-precision ops (MAC = 2 ops) per second */
    double tops_per_chip;
    double chip_power_w;       /* one chip at peak: dynamic energy per second */
    double chip_area_mm2;      /* one chip: arrays, DACs, ADCs, digital */
    double power_w;            /* whole machine */
    double area_mm2;           /* whole machine */
    double tops_per_w;
    double tops_per_mm2;
    double power_w_by_component[4]; /* per chip: dac, xbar, adc, digital (aimc_component order) */
    double area_mm2_by_component[4];/* per chip, same order */
    double weights_capacity;   /* weights the machine can hold */
} aimc_peak;

/* Fill *p for an arch that passed aimc_arch_validate(). */
void aimc_peak_compute(const aimc_arch *a, aimc_peak *p);

#endif /* AIMC_PEAK_H */
