/* peak.c - the analytical peak of a machine (aimc_cost.h; formulas in docs/cli.md, "aimc
 * info"): the crossbar pipeline of a full core at steady state, the cost layer's energies of
 * the events it performs, static power and area. */
#include "aimc_cost.h"

#include <math.h>
#include <string.h>

/* Rate of a resource kept busy all the time: amount per cycle, from its busy cycles for a
 * large amount (so that the rounding of one transfer does not show). */
static double rate_per_cycle(const aimc_arch *a, aimc_res r)
{
    const uint64_t amount = UINT64_C(1) << 30;
    const uint64_t busy = aimc_cost_busy(a, r, amount);
    return busy ? (double)amount / (double)busy : 0.0;
}

void aimc_peak_compute(const aimc_arch *a, aimc_peak *p)
{
    memset(p, 0, sizeof *p);
    const uint32_t rows = (uint32_t)a->crossbar.rows;
    const uint32_t lcols = (uint32_t)aimc_arch_logical_cols(a);
    const double slices = aimc_arch_slices(a);
    const uint64_t xpc = (uint64_t)a->hierarchy.crossbars_per_core;
    const double cores = a->hierarchy.cores_per_chip;
    const double xbars_chip = (double)xpc * cores;
    const double chips = a->hierarchy.chips;
    const uint64_t S = (uint64_t)aimc_arch_input_steps(a);
    p->clusters_per_chip = aimc_cost_clusters_per_chip(a);
    p->routers_per_chip = aimc_cost_routers_per_chip(a);

    /* A full core: every crossbar one full tile (one round), vectors back to back. */
    const uint64_t t_int = aimc_cost_integrate_cycles(a);
    const uint64_t t_conv = aimc_cost_convert_cycles(a, lcols);
    const uint64_t P = S * (t_conv > t_int ? t_conv : t_int);
    const uint64_t D = aimc_cost_shift_add_cycles(a, xpc * (S + 1) * lcols);
    const double interval = (double)(P > D ? P : D); /* cycles per vector per core */
    const double interval_ns = aimc_cost_ns(a, interval);
    p->mvm_ns = interval_ns;
    p->mvm_latency_ns = aimc_cost_ns(a, (double)((t_conv < t_int ? t_conv : t_int) + P + D));

    /* A weight of full precision occupies `slices` crossbars' columns, so a group of `slices`
     * crossbars performs rows x lcols weight-precision MACs per input vector. */
    p->ops_per_mvm = 2.0 * rows * lcols;
    const double groups_chip = xbars_chip / slices;
    p->tops_per_chip = groups_chip * p->ops_per_mvm / (interval_ns * 1e-9) / 1e12;
    p->tops = p->tops_per_chip * chips;

    /* Dynamic power at full activity (mW = pJ per ns): the events of one vector through every
     * core, every row driven at full scale, devices at (g_min + g_max) / 2. */
    double pj[AIMC_PART_COUNT] = {0}, mw[AIMC_PART_COUNT], st[AIMC_PART_COUNT],
           um2[AIMC_PART_COUNT];
    aimc_cost_events core = {0};
    const double g_mid = 0.5 * (a->device.g_min_us + a->device.g_max_us);
    core.dac_drives = xbars_chip * rows * (double)S;
    core.xbar_charge = xbars_chip * (double)S * rows * lcols * aimc_arch_cols_per_weight(a) * g_mid;
    core.xbar_reads = xbars_chip * (double)S;
    core.adc_conversions = xbars_chip * lcols * (double)S;
    core.digital_ops = xbars_chip * (double)((S + 1) * lcols);
    aimc_cost_energy(a, &core, pj);
    for (int c = 0; c < AIMC_PART_COUNT; c++) mw[c] = pj[c] / interval_ns;

    /* The periphery busy all the time: every buffer bank, bus, router port, digital unit and
     * chip link at its full rate. */
    const double clusters = (double)p->clusters_per_chip, routers = (double)p->routers_per_chip;
    const double per_ns = aimc_cost_ns(a, 1.0) > 0 ? 1.0 / aimc_cost_ns(a, 1.0) : 0.0;
    aimc_cost_events busy = {0};
    busy.buffer_accesses = clusters * rate_per_cycle(a, AIMC_RES_BUFFER) * per_ns;
    busy.bus_bytes = clusters * rate_per_cycle(a, AIMC_RES_BUS) * per_ns;
    busy.noc_byte_hops = routers * rate_per_cycle(a, AIMC_RES_NOC) * per_ns;
    busy.units_ops = clusters * rate_per_cycle(a, AIMC_RES_UNITS) * per_ns;
    busy.link_bytes = aimc_cost_links_per_chip(a) ? rate_per_cycle(a, AIMC_RES_LINK) * per_ns : 0;
    double pbusy[AIMC_PART_COUNT] = {0};
    aimc_cost_energy(a, &busy, pbusy); /* pJ per ns */
    for (int c = AIMC_PART_BUFFER; c <= AIMC_PART_CHIP_LINK; c++) mw[c] = pbusy[c];
    mw[AIMC_PART_HOST_DMA] = 0; /* the host's, not the chip's */

    aimc_cost_powered on;
    aimc_cost_powered_chips(a, 1, &on); /* one chip at peak: everything powered */
    aimc_cost_static_mw(a, &on, st);
    aimc_cost_area_um2(a, um2);
    for (int c = 0; c < AIMC_PART_COUNT; c++) {
        p->power_w_by_part[c] = (mw[c] + st[c]) * 1e-3;
        p->area_mm2_by_part[c] = um2[c] * 1e-6;
        p->chip_power_w += p->power_w_by_part[c];
        p->chip_static_w += st[c] * 1e-3;
        p->chip_area_mm2 += p->area_mm2_by_part[c];
    }
    p->power_w = p->chip_power_w * chips;
    p->area_mm2 = p->chip_area_mm2 * chips;
    p->tops_per_w = p->power_w > 0 ? p->tops / p->power_w : 0.0;
    p->tops_per_mm2 = p->area_mm2 > 0 ? p->tops / p->area_mm2 : 0.0;
    /* every tier of a site holds weights; one tier of a site computes at a time */
    p->weights_capacity = xbars_chip * chips * (a->hierarchy.tiers > 0 ? a->hierarchy.tiers : 1) /
                          slices * rows * lcols;
}
