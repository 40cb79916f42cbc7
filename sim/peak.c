/* peak.c - closed-form tile costs and the analytical peak of a machine (aimc_peak.h). */
#include "aimc_peak.h"

#include <math.h>
#include <string.h>

void aimc_activity_peak(const aimc_arch *a, aimc_activity *act)
{
    act->drive_fraction = 1.0;
    act->v2_mean = 1.0;
    act->g_mean_us = 0.5 * (a->device.g_min_us + a->device.g_max_us);
}

void aimc_cost_tile(const aimc_arch *a, uint32_t nrows, uint32_t ncols,
                    const aimc_activity *act, aimc_tile_cost *c)
{
    const double v = a->device.read_voltage_v;
    const double steps = aimc_arch_input_steps(a);
    const double devices_per_row = (double)ncols * aimc_arch_cols_per_weight(a);
    memset(c, 0, sizeof *c);
    c->steps = aimc_arch_input_steps(a);
    c->step_ns = a->crossbar.integration_ns +
                 ceil((double)ncols / a->adc.per_crossbar) * a->adc.conversion_ns;
    c->analog_ns = steps * c->step_ns;
    c->digital_ops = (steps + 1) * ncols;
    c->energy_pj[0] = steps * nrows * act->drive_fraction * a->dac.energy_pj;
    /* V^2 G t per device: V^2 * uS * ns = 1e-15 J = 1e-3 pJ. */
    c->energy_pj[1] = steps * nrows * act->v2_mean * v * v * devices_per_row * act->g_mean_us *
                      a->crossbar.integration_ns * 1e-3;
    c->energy_pj[2] = steps * ncols * a->adc.energy_pj;
    c->energy_pj[3] = c->digital_ops * a->digital.energy_pj_per_op;
}

void aimc_peak_compute(const aimc_arch *a, aimc_peak *p)
{
    memset(p, 0, sizeof *p);
    const uint32_t rows = (uint32_t)a->crossbar.rows;
    const uint32_t lcols = (uint32_t)aimc_arch_logical_cols(a);
    const double slices = aimc_arch_slices(a);
    const double xbars_chip = (double)a->hierarchy.crossbars_per_core * a->hierarchy.cores_per_chip;
    const double chips = a->hierarchy.chips;

    /* Every crossbar busy on a full tile. */
    aimc_activity act;
    aimc_tile_cost t;
    aimc_activity_peak(a, &act);
    aimc_cost_tile(a, rows, lcols, &act, &t);
    p->mvm_ns = t.analog_ns;

    /* A weight of full precision occupies `slices` crossbars' columns, so a group of `slices`
     * crossbars performs rows x lcols weight-precision MACs per input vector. */
    p->ops_per_mvm = 2.0 * rows * lcols;
    const double groups_chip = xbars_chip / slices;
    p->tops_per_chip = groups_chip * p->ops_per_mvm / (p->mvm_ns * 1e-9) / 1e12;
    p->tops = p->tops_per_chip * chips;

    for (int c = 0; c < 4; c++) {
        p->power_w_by_component[c] = xbars_chip * t.energy_pj[c] * 1e-12 / (p->mvm_ns * 1e-9);
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
