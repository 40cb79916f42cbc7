/* aimc_peak.h - analytical peak figures of a machine: what it can do at best.
 *
 * These are closed-form numbers from the arch alone, using the same cost formulas as the
 * simulator (docs/simulator.md): every crossbar busy on full tiles, every word line driven at
 * full scale, every column converted. The simulated steady state can be checked against
 * them. Formulas in docs/cli.md ("aimc info").
 */
#ifndef AIMC_PEAK_H
#define AIMC_PEAK_H

#include "aimc_arch.h"

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
