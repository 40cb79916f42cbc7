/* arch.c - defaults and derived quantities of the machine description.
 *
 * The defaults are the machine of configs/default.yaml; the two must agree (a test loads
 * the file and compares). Sources of the calibrated numbers are cited in that file.
 */
#include "aimc_arch.h"

#include <math.h>

#include <string.h>

void aimc_arch_defaults(aimc_arch *a)
{
    memset(a, 0, sizeof *a);
    a->version = AIMC_ARCH_VERSION;
    strcpy(a->name, "default");

    a->device.type = AIMC_DEVICE_GENERIC;
    a->device.g_min_us = 0.0;
    a->device.g_max_us = 25.0;
    a->device.levels = 16;
    a->device.program_sigma_us = 0.5;
    a->device.read_sigma_us = 0.25;
    a->device.read_voltage_v = 0.2;
    a->device.program_sigma_rel = 0.0;
    a->device.read_sigma_rel = 0.0;
    a->device.read_time_s = 1.0;
    a->device.drift_compensation = 0;
    a->device.stuck_on_rate = 0.0;
    a->device.stuck_off_rate = 0.0;
    a->device.pulse_energy_pj = 10.0;
    a->device.pulse_ns = 100.0;

    a->crossbar.rows = 128;
    a->crossbar.cols = 128;
    a->crossbar.bits_per_cell = 2;
    a->crossbar.weight_bits = 8;
    a->crossbar.sign_encoding = AIMC_SIGN_DIFFERENTIAL;
    a->crossbar.integration_ns = 100.0;
    a->crossbar.area_um2 = 25.0;
    a->crossbar.wire_resistance_ohm = 0.0;
    a->crossbar.weight_scale = AIMC_WSCALE_MATRIX;

    a->dac.bits = 8;
    a->dac.mode = AIMC_DAC_BIT_SERIAL;
    a->dac.energy_pj = 0.417;
    a->dac.area_um2 = 0.166;
    a->dac.leakage_mw = 0.00039;

    a->adc.bits = 10;
    a->adc.per_crossbar = 8;
    a->adc.conversion_ns = 0.78;      /* used when not auto */
    a->adc.energy_pj = 2.38;
    a->adc.area_um2 = 1200.0;
    a->adc.conversion_auto = 1;       /* the default machine's ADC: the survey model */
    a->adc.energy_auto = 1;
    a->adc.area_auto = 1;
    a->adc.offset_lsb = 0.0;
    a->adc.gain_error = 0.0;
    a->adc.leakage_mw = 0.2;
    a->adc.range = AIMC_ADC_RANGE_PERCENTILE;
    a->adc.range_percentile = 99.9;

    a->digital.energy_pj_per_op = 0.021;
    a->digital.area_um2_per_core = 2000.0;
    a->digital.ops_per_cycle = 32;
    a->digital.leakage_mw_per_core = 0.0;

    a->hierarchy.crossbars_per_core = 16;
    a->hierarchy.cores_per_chip = 64;
    a->hierarchy.chips = 1;
    a->hierarchy.chips_auto = 0;
    a->power.gating = AIMC_GATING_UNUSED;
    a->hierarchy.tiers = 1;
    a->hierarchy.cores_per_cluster = 1;

    a->clock.frequency_mhz = 1000.0;

    a->mapping.strategy = AIMC_STRATEGY_PACK;
    a->mapping.replicate_threshold = 0.0;
    a->mapping.fault_threshold = 1.0;
    a->mapping.noc_hop_ns = 1.0;
    a->mapping.noc_hop_energy_pj = 2.59;
    a->mapping.chip_link_ns = 5.0;
    a->mapping.chip_link_energy_pj = 6500.0;

    a->program.verify_iterations = 0;
    a->program.verify_tolerance_us = 0.25;

    a->buffer.kb = 64;
    a->buffer.banks = 2;
    a->buffer.bytes_per_access = 32;
    a->buffer.access_ns = 2.0;
    a->buffer.energy_pj = 17.2;
    a->buffer.leakage_mw = 0.46;
    a->buffer.area_um2 = 86000.0;
    a->bus.width_bits = 384;
    a->bus.transfer_ns = 1.0;
    a->bus.energy_pj_per_bit = 0.054;
    a->bus.area_um2 = 90000.0;
    a->noc.flit_bytes = 4;
    a->noc.ports = 5;
    a->noc.clusters_per_router = 1;
    a->noc.leakage_mw = 0.41;
    a->noc.area_um2 = 47000.0;
    a->chip_link.count = 4;
    a->chip_link.count_auto = 1;
    a->chip_link.gbytes_per_s = 1.6;
    a->chip_link.leakage_mw = 0.0;
    a->chip_link.area_um2 = 5.72e6;
    a->units.energy_pj_per_op = 0.2;
    a->units.ops_per_cycle = 4;
    a->units.leakage_mw = 0.0;
    a->units.area_um2 = 4100.0;
    a->host_dma.gbytes_per_s = 16.0;
    a->host_dma.latency_ns = 1000.0;
    a->host_dma.energy_pj_per_byte = 10.0;
    /* The KV cache off-chip, in memory like one HBM2 stack per chip: 400 GB/s (JEDEC HBM2E
     * class), 3.9 pJ/bit (O'Connor et al., "Fine-Grained DRAM", MICRO 2017) = 31.2 pJ/B. */
    a->kv_cache.memory = AIMC_KV_OFFCHIP;
    a->kv_cache.gbytes_per_s = 400.0;
    a->kv_cache.latency_ns = 100.0;
    a->kv_cache.energy_pj_per_byte = 31.2;
    a->kv_cache.gbytes = 16.0;
    a->simulator.threads = 1;
}

int aimc_arch_stored_bits(const aimc_arch *a)
{
    /* Differential: the sign is the choice of device, so only the magnitude bits are
     * stored. Offset: the whole biased (unsigned) code is stored. */
    return a->crossbar.sign_encoding == AIMC_SIGN_DIFFERENTIAL ? a->crossbar.weight_bits - 1
                                                               : a->crossbar.weight_bits;
}

int aimc_arch_slices(const aimc_arch *a)
{
    int b = a->crossbar.bits_per_cell;
    return (aimc_arch_stored_bits(a) + b - 1) / b;
}

int aimc_arch_cols_per_weight(const aimc_arch *a)
{
    return a->crossbar.sign_encoding == AIMC_SIGN_DIFFERENTIAL ? 2 : 1;
}

int aimc_arch_logical_cols(const aimc_arch *a)
{
    return a->crossbar.cols / aimc_arch_cols_per_weight(a);
}

int aimc_arch_input_steps(const aimc_arch *a)
{
    /* Bit-serial drives one magnitude bit per step with the sign as the drive polarity. */
    return a->dac.mode == AIMC_DAC_BIT_SERIAL ? a->dac.bits - 1 : 1;
}

double aimc_arch_full_scale_lsb(const aimc_arch *a, uint32_t nrows)
{
    const double level_max = ldexp(1.0, a->crossbar.bits_per_cell) - 1.0;
    const double u_max = a->dac.mode == AIMC_DAC_BIT_SERIAL || a->dac.bits < 1 || a->dac.bits > 32
                             ? 1.0
                             : ldexp(1.0, a->dac.bits - 1) - 1.0;
    const double range = (double)nrows * u_max * level_max;
    if (!(range > 0.0)) return 1.0; /* no rows (or a degenerate arch): nothing to convert */
    double top = a->adc.bits >= 1 ? ldexp(1.0, a->adc.bits - 1) - 1.0 : 1.0;
    if (top < 1.0) top = 1.0;
    int e;
    (void)frexp(range / top, &e);
    double lsb = ldexp(1.0, e);
    while (lsb * top < range) lsb *= 2.0;
    while ((lsb / 2.0) * top >= range) lsb /= 2.0;
    return lsb;
}

long aimc_arch_total_crossbars(const aimc_arch *a)
{
    return (long)a->hierarchy.crossbars_per_core * a->hierarchy.cores_per_chip *
           a->hierarchy.chips;
}

const char *aimc_part_name(aimc_part p)
{
    static const char *const names[AIMC_PART_COUNT] = {
        "dac", "xbar", "adc", "digital", "buffer", "bus", "noc", "units", "chip_link", "host_dma"};
    return (int)p >= 0 && p < AIMC_PART_COUNT ? names[p] : "unknown";
}
