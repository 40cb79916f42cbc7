/* peak.c - analytical peak throughput, power and area of a machine (aimc_peak.h). */
#include "aimc_peak.h"

#include <math.h>
#include <string.h>

void aimc_peak_compute(const aimc_arch *a, aimc_peak *p)
{
    memset(p, 0, sizeof *p);
    const double rows = a->crossbar.rows;
    const double lcols = aimc_arch_logical_cols(a);
    const double pcols = a->crossbar.cols;
    const double slices = aimc_arch_slices(a);
    const double steps = aimc_arch_input_steps(a);
    const double xbars_chip = (double)a->hierarchy.crossbars_per_core * a->hierarchy.cores_per_chip;
    const double chips = a->hierarchy.chips;

    /* One step of one crossbar on a full tile: integrate, then convert every weight column on
     * the crossbar's ADCs (the simulator's t_step). */
    const double step_ns = a->crossbar.integration_ns +
                           ceil(lcols / a->adc.per_crossbar) * a->adc.conversion_ns;
    p->mvm_ns = steps * step_ns;

    /* A weight of full precision occupies `slices` crossbars' columns, so a group of `slices`
     * crossbars performs rows x lcols weight-precision MACs per input vector. */
    p->ops_per_mvm = 2.0 * rows * lcols;
    const double groups_chip = xbars_chip / slices;
    p->tops_per_chip = groups_chip * p->ops_per_mvm / (p->mvm_ns * 1e-9) / 1e12;
    p->tops = p->tops_per_chip * chips;

    /* Energy of one crossbar step at full scale: every row driven, every device at the mean
     * programmed conductance, every column converted and shift-added. */
    const double g_mean_us = 0.5 * (a->device.g_min_us + a->device.g_max_us);
    const double v = a->device.read_voltage_v;
    double e_step_pj[4];
    e_step_pj[0] = rows * a->dac.energy_pj;
    e_step_pj[1] = rows * pcols * v * v * g_mean_us * a->crossbar.integration_ns * 1e-3;
    e_step_pj[2] = lcols * a->adc.energy_pj;
    e_step_pj[3] = lcols * a->digital.energy_pj_per_op;
    /* Accumulation of each tile's columns into the matrix output, once per vector. */
    const double e_acc_pj = lcols * a->digital.energy_pj_per_op;

    for (int c = 0; c < 4; c++) {
        double e_vec_pj = e_step_pj[c] * steps + (c == 3 ? e_acc_pj : 0.0);
        p->power_w_by_component[c] = xbars_chip * e_vec_pj * 1e-12 / (p->mvm_ns * 1e-9);
        p->chip_power_w += p->power_w_by_component[c];
    }

    p->area_mm2_by_component[0] = xbars_chip * rows * a->dac.area_um2 * 1e-6;
    p->area_mm2_by_component[1] = xbars_chip * a->crossbar.area_um2 * 1e-6;
    p->area_mm2_by_component[2] = xbars_chip * a->adc.per_crossbar * a->adc.area_um2 * 1e-6;
    p->area_mm2_by_component[3] = a->hierarchy.cores_per_chip * a->digital.area_um2_per_core * 1e-6;
    for (int c = 0; c < 4; c++) p->chip_area_mm2 += p->area_mm2_by_component[c];

    p->power_w = p->chip_power_w * chips;
    p->area_mm2 = p->chip_area_mm2 * chips;
    p->tops_per_w = p->power_w > 0 ? p->tops / p->power_w : 0.0;
    p->tops_per_mm2 = p->area_mm2 > 0 ? p->tops / p->area_mm2 : 0.0;
    p->weights_capacity = xbars_chip * chips / slices * rows * lcols;
}
