/* peak.c - closed-form pipelined tile costs and the analytical peak of a machine
 * (aimc_peak.h; formulas in docs/cli.md "aimc info" and docs/engine.md). */
#include "aimc_cost.h"

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
    c->integrate_ns = a->crossbar.integration_ns;
    c->convert_ns = ceil((double)ncols / a->adc.per_crossbar) * a->adc.conversion_ns;
    c->step_ns = fmax(c->integrate_ns, c->convert_ns);
    c->latency_ns = c->integrate_ns + c->convert_ns + (steps - 1) * c->step_ns;
    c->analog_ns = steps * c->step_ns;
    c->digital_ops = (steps + 1) * ncols;
    c->energy_pj[0] = steps * nrows * act->drive_fraction * a->dac.energy_pj;
    /* V^2 G t per device: V^2 * uS * ns = 1e-15 J = 1e-3 pJ. */
    c->energy_pj[1] = steps * nrows * act->v2_mean * v * v * devices_per_row * act->g_mean_us *
                      a->crossbar.integration_ns * 1e-3;
    c->energy_pj[2] = steps * ncols * a->adc.energy_pj;
    c->energy_pj[3] = c->digital_ops * a->digital.energy_pj_per_op;
}

double aimc_cost_tile_ns(const aimc_tile_cost *c, uint64_t vectors)
{
    if (vectors == 0) return 0.0;
    return c->latency_ns + (double)(vectors - 1) * c->analog_ns;
}

/* ns -> clock cycles, rounded up; a hair below an integer (binary fractions of decimal ns)
 * is that integer. */
static double cycles_of_ns(const aimc_arch *a, double ns)
{
    return ceil(ns * a->clock.frequency_mhz / 1000.0 - 1e-9);
}

uint32_t aimc_cycles_integrate(const aimc_arch *a)
{
    double c = cycles_of_ns(a, a->crossbar.integration_ns);
    return c < 1.0 ? 1u : c > (double)UINT32_MAX ? UINT32_MAX : (uint32_t)c;
}

uint32_t aimc_cycles_conv_fp16(const aimc_arch *a)
{
    double f = llround(a->adc.conversion_ns * a->clock.frequency_mhz / 1000.0 * 65536.0);
    return f < 1.0 ? 1u : f > (double)UINT32_MAX ? UINT32_MAX : (uint32_t)f;
}

uint64_t aimc_cycles_convert(const aimc_arch *a, uint32_t ncols)
{
    const uint64_t adcs = a->adc.per_crossbar > 0 ? (uint64_t)a->adc.per_crossbar : 1u;
    const uint64_t rounds = ((uint64_t)ncols + adcs - 1) / adcs;
    const uint64_t c = (rounds * aimc_cycles_conv_fp16(a) + 65535u) >> 16;
    return c < 1 ? 1 : c;
}

const char *aimc_part_name(aimc_part p)
{
    static const char *const names[AIMC_PART_COUNT] = {
        "dac", "xbar", "adc", "digital", "buffer", "bus", "noc", "units", "chip_link"};
    return (int)p >= 0 && p < AIMC_PART_COUNT ? names[p] : "unknown";
}

uint64_t aimc_arch_clusters_per_chip(const aimc_arch *a)
{
    const uint64_t c = (uint64_t)a->hierarchy.cores_per_chip;
    const uint64_t t = (uint64_t)a->hierarchy.cores_per_cluster;
    return (c + t - 1) / t;
}

uint64_t aimc_arch_routers_per_chip(const aimc_arch *a)
{
    const uint64_t r = (uint64_t)a->noc.clusters_per_router;
    return (aimc_arch_clusters_per_chip(a) + r - 1) / r;
}

void aimc_peak_compute(const aimc_arch *a, aimc_peak *p)
{
    memset(p, 0, sizeof *p);
    const uint32_t rows = (uint32_t)a->crossbar.rows;
    const uint32_t lcols = (uint32_t)aimc_arch_logical_cols(a);
    const double slices = aimc_arch_slices(a);
    const double cores = a->hierarchy.cores_per_chip;
    const double xbars_chip = (double)a->hierarchy.crossbars_per_core * cores;
    const double adcs_chip = xbars_chip * a->adc.per_crossbar;
    const double chips = a->hierarchy.chips;
    const double per_ns = a->clock.frequency_mhz / 1000.0; /* clock cycles per ns */
    p->clusters_per_chip = aimc_arch_clusters_per_chip(a);
    p->routers_per_chip = aimc_arch_routers_per_chip(a);
    const double tiles = (double)p->clusters_per_chip, routers = (double)p->routers_per_chip;

    /* Every crossbar busy on full tiles, vectors back to back: steady state. */
    aimc_activity act;
    aimc_tile_cost t;
    aimc_activity_peak(a, &act);
    aimc_cost_tile(a, rows, lcols, &act, &t);
    p->mvm_ns = t.analog_ns;
    p->mvm_latency_ns = t.latency_ns;

    /* A weight of full precision occupies `slices` crossbars' columns, so a group of `slices`
     * crossbars performs rows x lcols weight-precision MACs per input vector. */
    p->ops_per_mvm = 2.0 * rows * lcols;
    const double groups_chip = xbars_chip / slices;
    p->tops_per_chip = groups_chip * p->ops_per_mvm / (p->mvm_ns * 1e-9) / 1e12;
    p->tops = p->tops_per_chip * chips;

    /* Power in mW (pJ per ns): dynamic at full activity, then static. */
    double mw[AIMC_PART_COUNT] = {0}, st[AIMC_PART_COUNT] = {0}, um2[AIMC_PART_COUNT] = {0};
    for (int c = 0; c < 4; c++) mw[c] = xbars_chip * t.energy_pj[c] / p->mvm_ns;
    st[AIMC_PART_DAC] = xbars_chip * rows * a->dac.leakage_mw;
    st[AIMC_PART_ADC] = adcs_chip * a->adc.leakage_mw;
    st[AIMC_PART_DIGITAL] = cores * a->digital.leakage_mw_per_core;
    /* The periphery busy all the time: every bank accessed back to back, the bus moving a
     * word every transfer_ns, every router port a flit per hop time (at least a cycle), the
     * units retiring ops_per_cycle, every chip link at its bandwidth. */
    const double hop_ns = fmax(a->mapping.noc_hop_ns, 1.0 / per_ns);
    mw[AIMC_PART_BUFFER] = tiles * a->buffer.banks * a->buffer.energy_pj / a->buffer.access_ns;
    st[AIMC_PART_BUFFER] = tiles * a->buffer.leakage_mw;
    mw[AIMC_PART_BUS] = tiles * a->bus.width_bits * a->bus.energy_pj_per_bit / a->bus.transfer_ns;
    mw[AIMC_PART_NOC] = routers * a->noc.ports * a->mapping.noc_hop_energy_pj *
                        (a->noc.flit_bytes / 4.0) / hop_ns;
    st[AIMC_PART_NOC] = routers * a->noc.leakage_mw;
    mw[AIMC_PART_UNITS] = tiles * a->units.ops_per_cycle * per_ns * a->units.energy_pj_per_op;
    st[AIMC_PART_UNITS] = tiles * a->units.leakage_mw;
    mw[AIMC_PART_CHIP_LINK] = a->chip_link.count * a->chip_link.gbytes_per_s *
                              (a->mapping.chip_link_energy_pj / 4.0);
    st[AIMC_PART_CHIP_LINK] = a->chip_link.count * a->chip_link.leakage_mw;

    um2[AIMC_PART_DAC] = xbars_chip * rows * a->dac.area_um2;
    um2[AIMC_PART_XBAR] = xbars_chip * a->crossbar.area_um2;
    um2[AIMC_PART_ADC] = adcs_chip * a->adc.area_um2;
    um2[AIMC_PART_DIGITAL] = cores * a->digital.area_um2_per_core;
    um2[AIMC_PART_BUFFER] = tiles * a->buffer.area_um2;
    um2[AIMC_PART_BUS] = tiles * a->bus.area_um2;
    um2[AIMC_PART_NOC] = routers * a->noc.area_um2;
    um2[AIMC_PART_UNITS] = tiles * a->units.area_um2;
    um2[AIMC_PART_CHIP_LINK] = a->chip_link.count * a->chip_link.area_um2;

    for (int c = 0; c < AIMC_PART_COUNT; c++) {
        p->power_w_by_part[c] = (mw[c] + st[c]) * 1e-3;
        p->area_mm2_by_part[c] = um2[c] * 1e-6;
        p->chip_power_w += p->power_w_by_part[c];
        p->chip_static_w += st[c] * 1e-3;
        p->chip_area_mm2 += p->area_mm2_by_part[c];
    }
    for (int c = 0; c < 4; c++) {
        p->power_w_by_component[c] = p->power_w_by_part[c];
        p->area_mm2_by_component[c] = p->area_mm2_by_part[c];
    }

    p->power_w = p->chip_power_w * chips;
    p->area_mm2 = p->chip_area_mm2 * chips;
    p->tops_per_w = p->power_w > 0 ? p->tops / p->power_w : 0.0;
    p->tops_per_mm2 = p->area_mm2 > 0 ? p->tops / p->area_mm2 : 0.0;
    p->weights_capacity = xbars_chip * chips / slices * rows * lcols;
}
