/* cost.c - the cost layer's formulas: time, energy of events, static power, area, the
 * crossbar pipeline, a placed matrix's figures, and the schedules of moves, MVMs and digital
 * work (aimc_cost.h; the model in docs/engine.md). */
#include "aimc_cost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- time ------------------------------------------------------------------------------ */

uint64_t aimc_cost_cycles(const aimc_arch *a, double ns)
{
    if (!(ns > 0)) return 0;
    const double c = ceil(ns * a->clock.frequency_mhz / 1000.0 - 1e-9);
    return c < 0 ? 0 : c >= 1.8e19 ? UINT64_MAX : (uint64_t)c;
}

double aimc_cost_ns(const aimc_arch *a, double cycles)
{
    return cycles * 1000.0 / a->clock.frequency_mhz;
}

/* ---- events and energy ------------------------------------------------------------------ */

void aimc_cost_events_add_scaled(aimc_cost_events *acc, const aimc_cost_events *e, double k)
{
    acc->dac_drives += k * e->dac_drives;
    acc->xbar_charge += k * e->xbar_charge;
    acc->xbar_reads += k * e->xbar_reads;
    acc->adc_conversions += k * e->adc_conversions;
    acc->digital_ops += k * e->digital_ops;
    acc->program_pulses += k * e->program_pulses;
    acc->buffer_accesses += k * e->buffer_accesses;
    acc->bus_bytes += k * e->bus_bytes;
    acc->noc_bytes += k * e->noc_bytes;
    acc->noc_byte_hops += k * e->noc_byte_hops;
    acc->units_ops += k * e->units_ops;
    acc->link_bytes += k * e->link_bytes;
    acc->host_bytes += k * e->host_bytes;
    acc->kv_bytes += k * e->kv_bytes;
}

void aimc_cost_events_add(aimc_cost_events *acc, const aimc_cost_events *e)
{
    aimc_cost_events_add_scaled(acc, e, 1.0);
}

void aimc_cost_energy(const aimc_arch *a, const aimc_cost_events *e, double pj[AIMC_PART_COUNT])
{
    const double v = a->device.read_voltage_v;
    pj[AIMC_PART_DAC] += e->dac_drives * a->dac.energy_pj;
    /* V^2 G t per device: V^2 * uS * ns = 1e-15 J = 1e-3 pJ. */
    pj[AIMC_PART_XBAR] += e->xbar_charge * v * v * a->crossbar.integration_ns * 1e-3 +
                          e->program_pulses * a->device.pulse_energy_pj;
    pj[AIMC_PART_ADC] += e->adc_conversions * aimc_cost_adc_energy_pj(a);
    pj[AIMC_PART_DIGITAL] += e->digital_ops * a->digital.energy_pj_per_op;
    pj[AIMC_PART_BUFFER] += e->buffer_accesses * a->buffer.energy_pj +
                            e->kv_bytes * a->kv_cache.energy_pj_per_byte;
    pj[AIMC_PART_BUS] += e->bus_bytes * 8.0 * a->bus.energy_pj_per_bit;
    pj[AIMC_PART_NOC] += e->noc_byte_hops / AIMC_COST_VALUE_BYTES * a->mapping.noc_hop_energy_pj;
    pj[AIMC_PART_UNITS] += e->units_ops * a->units.energy_pj_per_op;
    pj[AIMC_PART_CHIP_LINK] += e->link_bytes / AIMC_COST_VALUE_BYTES *
                               a->mapping.chip_link_energy_pj;
    pj[AIMC_PART_HOST_DMA] += e->host_bytes * a->host_dma.energy_pj_per_byte;
}

/* ---- a chip -------------------------------------------------------------------------------- */

static uint64_t ceil_div(uint64_t x, uint64_t y)
{
    return y ? x / y + (x % y != 0) : 0;
}

uint64_t aimc_cost_clusters_per_chip(const aimc_arch *a)
{
    return ceil_div((uint64_t)a->hierarchy.cores_per_chip, (uint64_t)a->hierarchy.cores_per_cluster);
}

uint64_t aimc_cost_routers_per_chip(const aimc_arch *a)
{
    return ceil_div(aimc_cost_clusters_per_chip(a), (uint64_t)a->noc.clusters_per_router);
}

uint32_t aimc_cost_links_per_chip(const aimc_arch *a)
{
    if (a->chip_link.count_auto && a->hierarchy.chips <= 1 && !a->hierarchy.chips_auto) return 0;
    return a->chip_link.count > 0 ? (uint32_t)a->chip_link.count : 0;
}

/* The SAR survey model (aimc_cost.h). */
#define ADC_FOM_WALDEN_FJ 10.0     /* fJ per conversion step */
#define ADC_THERMAL_FROM_BITS 9    /* above: energy quadruples per bit */
#define ADC_NS_PER_BIT (0.78125 / 8.0)
#define ADC_AREA_8BIT_UM2 1500.0

double aimc_cost_adc_energy_pj(const aimc_arch *a)
{
    if (!a->adc.energy_auto) return a->adc.energy_pj;
    const int b = a->adc.bits;
    const int w = b < ADC_THERMAL_FROM_BITS ? b : ADC_THERMAL_FROM_BITS;
    return ADC_FOM_WALDEN_FJ * 1e-3 * ldexp(1.0, w) * ldexp(1.0, 2 * (b - w));
}

double aimc_cost_adc_conversion_ns(const aimc_arch *a)
{
    return a->adc.conversion_auto ? a->adc.bits * ADC_NS_PER_BIT : a->adc.conversion_ns;
}

double aimc_cost_adc_area_um2(const aimc_arch *a)
{
    return a->adc.area_auto ? ADC_AREA_8BIT_UM2 * ldexp(1.0, a->adc.bits - 8) : a->adc.area_um2;
}

void aimc_cost_powered_chips(const aimc_arch *a, double chips, aimc_cost_powered *p)
{
    p->chips = chips;
    p->cores = chips * a->hierarchy.cores_per_chip;
    p->xbars = p->cores * a->hierarchy.crossbars_per_core;
    p->clusters = chips * (double)aimc_cost_clusters_per_chip(a);
    p->routers = chips * (double)aimc_cost_routers_per_chip(a);
}

void aimc_cost_static_mw(const aimc_arch *a, const aimc_cost_powered *p,
                         double mw[AIMC_PART_COUNT])
{
    for (int q = 0; q < AIMC_PART_COUNT; q++) mw[q] = 0;
    mw[AIMC_PART_DAC] = p->xbars * a->crossbar.rows * a->dac.leakage_mw;
    mw[AIMC_PART_ADC] = p->xbars * a->adc.per_crossbar * a->adc.leakage_mw;
    mw[AIMC_PART_DIGITAL] = p->cores * a->digital.leakage_mw_per_core;
    mw[AIMC_PART_BUFFER] = p->clusters * a->buffer.leakage_mw;
    mw[AIMC_PART_NOC] = p->routers * a->noc.leakage_mw;
    mw[AIMC_PART_UNITS] = p->clusters * a->units.leakage_mw;
    mw[AIMC_PART_CHIP_LINK] = p->chips * aimc_cost_links_per_chip(a) * a->chip_link.leakage_mw;
}

void aimc_cost_static_pj(const aimc_arch *a, const aimc_cost_powered *p, double ns,
                         double pj[AIMC_PART_COUNT])
{
    double mw[AIMC_PART_COUNT];
    aimc_cost_static_mw(a, p, mw);
    for (int q = 0; q < AIMC_PART_COUNT; q++) pj[q] = mw[q] * ns;
}

void aimc_cost_area_um2(const aimc_arch *a, double um2[AIMC_PART_COUNT])
{
    const double cores = a->hierarchy.cores_per_chip;
    const double xbars = (double)a->hierarchy.crossbars_per_core * cores;
    const double clusters = (double)aimc_cost_clusters_per_chip(a);
    const double routers = (double)aimc_cost_routers_per_chip(a);
    const double tiers = a->hierarchy.tiers > 0 ? a->hierarchy.tiers : 1;
    for (int q = 0; q < AIMC_PART_COUNT; q++) um2[q] = 0;
    um2[AIMC_PART_DAC] = xbars * a->crossbar.rows * a->dac.area_um2;
    um2[AIMC_PART_XBAR] = xbars * tiers * a->crossbar.area_um2;
    um2[AIMC_PART_ADC] = xbars * a->adc.per_crossbar * aimc_cost_adc_area_um2(a);
    um2[AIMC_PART_DIGITAL] = cores * a->digital.area_um2_per_core;
    um2[AIMC_PART_BUFFER] = clusters * a->buffer.area_um2;
    um2[AIMC_PART_BUS] = clusters * a->bus.area_um2;
    um2[AIMC_PART_NOC] = routers * a->noc.area_um2;
    um2[AIMC_PART_UNITS] = clusters * a->units.area_um2;
    um2[AIMC_PART_CHIP_LINK] = aimc_cost_links_per_chip(a) * a->chip_link.area_um2;
}

/* ---- the crossbar pipeline ------------------------------------------------------------------ */

uint64_t aimc_cost_integrate_cycles(const aimc_arch *a)
{
    const uint64_t c = aimc_cost_cycles(a, a->crossbar.integration_ns);
    return c < 1 ? 1 : c;
}

uint32_t aimc_cost_conv_fp16(const aimc_arch *a)
{
    double f = llround(aimc_cost_adc_conversion_ns(a) * a->clock.frequency_mhz / 1000.0 * 65536.0);
    return f < 1.0 ? 1u : f > (double)UINT32_MAX ? UINT32_MAX : (uint32_t)f;
}

uint64_t aimc_cost_convert_cycles(const aimc_arch *a, uint32_t ncols)
{
    const uint64_t adcs = a->adc.per_crossbar > 0 ? (uint64_t)a->adc.per_crossbar : 1u;
    const uint64_t c = (ceil_div(ncols, adcs) * aimc_cost_conv_fp16(a) + 65535u) >> 16;
    return c < 1 ? 1 : c;
}

uint64_t aimc_cost_shift_add_cycles(const aimc_arch *a, uint64_t core_ops)
{
    return ceil_div(core_ops, a->digital.ops_per_cycle > 0 ? (uint64_t)a->digital.ops_per_cycle : 1);
}

int aimc_loc_eq(aimc_loc x, aimc_loc y)
{
    if (x.chip == AIMC_LOC_HOST || y.chip == AIMC_LOC_HOST) return x.chip == y.chip;
    return x.chip == y.chip && x.cluster == y.cluster;
}

uint32_t aimc_cost_code_bytes(const aimc_arch *a)
{
    return (uint32_t)(a->dac.bits + 7) / 8;
}

uint64_t aimc_cost_mvm_cycles(const aimc_cost_mvm *m, uint64_t vectors)
{
    if (!m || vectors == 0) return 0;
    const uint64_t steady = vectors * m->period + m->shift_add;
    const uint64_t digital = m->period + vectors * m->shift_add;
    return m->tail + (steady > digital ? steady : digital);
}

void aimc_cost_mvm_events(const aimc_arch *a, const aimc_cost_mvm *m, uint64_t vectors,
                          aimc_cost_events *e)
{
    (void)a;
    const double b = (double)vectors;
    e->xbar_reads += b * (double)m->xbar_reads;
    e->adc_conversions += b * (double)m->conversions;
    e->digital_ops += b * (double)m->digital_ops;
}

void aimc_cost_mvm_activity(const aimc_arch *a, const aimc_cost_mvm *m, uint64_t vectors,
                            aimc_cost_events *e)
{
    const double b = (double)vectors;
    const double g_mid = 0.5 * (a->device.g_min_us + a->device.g_max_us);
    e->dac_drives += b * (double)m->row_steps * AIMC_COST_DRIVE_FRACTION;
    e->xbar_charge += b * (double)aimc_arch_input_steps(a) * (double)m->device_rows *
                      AIMC_COST_V2_MEAN * g_mid;
}

/* ---- a placed matrix ------------------------------------------------------------------------ */

void aimc_cost_mvm_free(aimc_cost_mvm *m)
{
    if (!m) return;
    free(m->chips);
    free(m->ranges);
    free(m->clusters);
    free(m);
}

/* A tile's place and block: sort keys for the distinct counts. */
typedef struct {
    uint64_t core;     /* global core */
    uint32_t chip, cluster, row0, nrows, col0, ncols;
} place_key;

static int by_core_row(const void *pa, const void *pb)
{
    const place_key *x = pa, *y = pb;
    if (x->core != y->core) return x->core < y->core ? -1 : 1;
    return x->row0 < y->row0 ? -1 : x->row0 > y->row0;
}

static int by_core_col(const void *pa, const void *pb)
{
    const place_key *x = pa, *y = pb;
    if (x->core != y->core) return x->core < y->core ? -1 : 1;
    return x->col0 < y->col0 ? -1 : x->col0 > y->col0;
}

static int by_cluster_row(const void *pa, const void *pb)
{
    const place_key *x = pa, *y = pb;
    if (x->chip != y->chip) return x->chip < y->chip ? -1 : 1;
    if (x->cluster != y->cluster) return x->cluster < y->cluster ? -1 : 1;
    return x->row0 < y->row0 ? -1 : x->row0 > y->row0;
}

static int by_cluster_col(const void *pa, const void *pb)
{
    const place_key *x = pa, *y = pb;
    if (x->chip != y->chip) return x->chip < y->chip ? -1 : 1;
    if (x->cluster != y->cluster) return x->cluster < y->cluster ? -1 : 1;
    if (x->col0 != y->col0) return x->col0 < y->col0 ? -1 : 1;
    return x->core < y->core ? -1 : x->core > y->core;
}

static int by_chip_row(const void *pa, const void *pb)
{
    const place_key *x = pa, *y = pb;
    if (x->chip != y->chip) return x->chip < y->chip ? -1 : 1;
    return x->row0 < y->row0 ? -1 : x->row0 > y->row0;
}

static int by_chip_col(const void *pa, const void *pb)
{
    const place_key *x = pa, *y = pb;
    if (x->chip != y->chip) return x->chip < y->chip ? -1 : 1;
    if (x->col0 != y->col0) return x->col0 < y->col0 ? -1 : 1;
    return x->cluster < y->cluster ? -1 : x->cluster > y->cluster;
}

static int by_col_chip(const void *pa, const void *pb)
{
    const place_key *x = pa, *y = pb;
    if (x->col0 != y->col0) return x->col0 < y->col0 ? -1 : 1;
    return x->chip < y->chip ? -1 : x->chip > y->chip;
}

/* The index of chip's entry in m->chips (they are sorted by chip). */
static aimc_cost_chip_use *chip_of(aimc_cost_mvm *m, uint32_t chip)
{
    size_t lo = 0, hi = m->n_chips;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->chips[mid].chip < chip) lo = mid + 1;
        else hi = mid;
    }
    return &m->chips[lo];
}

static aimc_cost_cluster_use *cluster_of(aimc_cost_mvm *m, aimc_cost_chip_use *c, uint32_t q)
{
    size_t lo = c->cluster0, hi = c->cluster0 + c->n_clusters;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m->clusters[mid].cluster < q) lo = mid + 1;
        else hi = mid;
    }
    return &m->clusters[lo];
}

int aimc_cost_mvm_build(const aimc_arch *a, uint32_t rows, uint32_t cols,
                        const aimc_tile *tiles, size_t n, aimc_cost_mvm **out)
{
    *out = NULL;
    aimc_cost_mvm *m = calloc(1, sizeof *m);
    uint32_t *order = malloc((n ? n : 1) * sizeof *order);
    uint32_t *rank = malloc((n ? n : 1) * sizeof *rank);
    place_key *k = malloc((n ? n : 1) * sizeof *k);
    uint64_t *conv_r = NULL;
    int rc = AIMC_ERR_NOMEM;
    if (!m || !order || !rank || !k || aimc_tile_order(tiles, n, order, rank, NULL)) goto out;
    m->rows = rows;
    m->cols = cols;
    m->tiles = n;

    const uint64_t S = (uint64_t)aimc_arch_input_steps(a);
    const uint64_t t_int = aimc_cost_integrate_cycles(a);
    const uint64_t xpc = (uint64_t)a->hierarchy.crossbars_per_core;
    const uint64_t cpc = (uint64_t)a->hierarchy.cores_per_chip;
    const uint64_t cpcl = (uint64_t)a->hierarchy.cores_per_cluster;
    const uint64_t cpw = (uint64_t)aimc_arch_cols_per_weight(a);
    const uint64_t code = aimc_cost_code_bytes(a);

    /* The pipeline: rounds, conversions, the busiest core's ops. */
    uint32_t rounds = 0;
    for (size_t i = 0; i < n; i++)
        if (rank[i] + 1 > rounds) rounds = rank[i] + 1;
    conv_r = calloc(rounds ? rounds : 1, sizeof *conv_r);
    if (!conv_r) goto out;
    uint64_t core_ops = 0, max_core_ops = 0, cur_core = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        const aimc_tile *t = &tiles[order[i]];
        const uint64_t conv = aimc_cost_convert_cycles(a, t->ncols);
        if (conv > conv_r[rank[order[i]]]) conv_r[rank[order[i]]] = conv;
        const uint64_t core = t->xbar / xpc, ops = (S + 1) * t->ncols;
        if (core != cur_core) {
            core_ops = 0;
            cur_core = core;
        }
        core_ops += ops;
        if (core_ops > max_core_ops) max_core_ops = core_ops;
        m->xbar_reads += S;
        m->conversions += S * t->ncols;
        m->digital_ops += ops;
        m->row_steps += S * t->nrows;
        m->device_rows += (uint64_t)t->nrows * t->ncols * cpw;
        k[i] = (place_key){core, (uint32_t)(core / cpc), (uint32_t)((core % cpc) / cpcl),
                           t->row0, t->nrows, t->col0, t->ncols};
    }
    m->rounds = rounds;
    for (uint32_t r = 0; r < rounds; r++) m->period += S * (conv_r[r] > t_int ? conv_r[r] : t_int);
    m->tail = rounds ? (conv_r[rounds - 1] < t_int ? conv_r[rounds - 1] : t_int) : 0;
    m->shift_add = aimc_cost_shift_add_cycles(a, max_core_ops);

    /* Chips and clusters (k is in crossbar order: chips, clusters and cores ascend). */
    size_t n_chips = 0, n_clusters = 0, n_ranges = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || k[i].chip != k[i - 1].chip) n_chips++;
        if (i == 0 || k[i].chip != k[i - 1].chip || k[i].cluster != k[i - 1].cluster) n_clusters++;
        if (i == 0 || (k[i].core != k[i - 1].core && k[i].core != k[i - 1].core + 1) ||
            k[i].chip != k[i - 1].chip)
            n_ranges++;
    }
    m->chips = calloc(n_chips ? n_chips : 1, sizeof *m->chips);
    m->clusters = calloc(n_clusters ? n_clusters : 1, sizeof *m->clusters);
    m->ranges = calloc(n_ranges ? n_ranges : 1, sizeof *m->ranges);
    if (!m->chips || !m->clusters || !m->ranges) goto out;
    {
        size_t ci = 0, qi = 0, ri = 0;
        for (size_t i = 0; i < n; i++) {
            const int new_chip = i == 0 || k[i].chip != k[i - 1].chip;
            if (new_chip) {
                aimc_cost_chip_use *c = &m->chips[ci++];
                c->chip = k[i].chip;
                c->home_cluster = k[i].cluster;
                c->cluster0 = qi;
                c->range0 = ri;
            }
            aimc_cost_chip_use *c = &m->chips[ci - 1];
            if (new_chip || k[i].cluster != k[i - 1].cluster) {
                m->clusters[qi].cluster = k[i].cluster;
                m->clusters[qi].hops = aimc_cost_hops(a, c->home_cluster, k[i].cluster);
                if (m->clusters[qi].hops > c->max_hops) c->max_hops = m->clusters[qi].hops;
                qi++;
                c->n_clusters++;
            }
            const uint32_t core_in_chip = (uint32_t)(k[i].core % cpc);
            if (new_chip || (k[i].core != k[i - 1].core && k[i].core != k[i - 1].core + 1)) {
                m->ranges[ri].first = core_in_chip;
                m->ranges[ri].count = 1;
                ri++;
                c->n_ranges++;
            } else if (k[i].core == k[i - 1].core + 1) {
                m->ranges[ri - 1].count++;
            }
        }
        m->n_chips = ci;
    }
    m->home = (aimc_loc){m->chips[0].chip, m->chips[0].home_cluster};

    /* Input rows: distinct row blocks per core (codes over the bus), per cluster (its
     * buffer's share), per chip. */
    qsort(k, n, sizeof *k, by_core_row);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || k[i].core != k[i - 1].core || k[i].row0 != k[i - 1].row0) {
            aimc_cost_chip_use *c = chip_of(m, k[i].chip);
            cluster_of(m, c, k[i].cluster)->code_bytes += (uint64_t)k[i].nrows * code;
        }
    qsort(k, n, sizeof *k, by_cluster_row);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || k[i].chip != k[i - 1].chip || k[i].cluster != k[i - 1].cluster ||
            k[i].row0 != k[i - 1].row0) {
            aimc_cost_chip_use *c = chip_of(m, k[i].chip);
            aimc_cost_cluster_use *q = cluster_of(m, c, k[i].cluster);
            q->rows += k[i].nrows;
            if (q->cluster != c->home_cluster) {
                c->noc_in_bytes += (uint64_t)k[i].nrows * AIMC_COST_VALUE_BYTES;
                c->noc_in_byte_hops += (uint64_t)k[i].nrows * AIMC_COST_VALUE_BYTES * q->hops;
            }
        }
    qsort(k, n, sizeof *k, by_chip_row);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || k[i].chip != k[i - 1].chip || k[i].row0 != k[i - 1].row0)
            chip_of(m, k[i].chip)->rows += k[i].nrows;

    /* Partial sums: each core writes one vector per column block it holds into its cluster's
     * buffer (slices and row blocks of the core already added by its shift-and-add). */
    qsort(k, n, sizeof *k, by_core_col);
    for (size_t i = 0; i < n; i++)
        if (i == 0 || k[i].core != k[i - 1].core || k[i].col0 != k[i - 1].col0) {
            aimc_cost_chip_use *c = chip_of(m, k[i].chip);
            cluster_of(m, c, k[i].cluster)->psum_values += k[i].ncols;
        }
    /* Per cluster and column block: the cores' vectors are added (all but the first), and a
     * cluster other than its chip's home sends its sum to the home. */
    qsort(k, n, sizeof *k, by_cluster_col);
    for (size_t i = 0; i < n;) {
        size_t j = i, cores = 0;
        for (; j < n && k[j].chip == k[i].chip && k[j].cluster == k[i].cluster &&
               k[j].col0 == k[i].col0;
             j++)
            if (j == i || k[j].core != k[j - 1].core) cores++;
        aimc_cost_chip_use *c = chip_of(m, k[i].chip);
        aimc_cost_cluster_use *q = cluster_of(m, c, k[i].cluster);
        q->adds += (cores - 1) * (uint64_t)k[i].ncols;
        if (q->cluster != c->home_cluster) {
            q->out_values += k[i].ncols;
            c->noc_out_bytes += (uint64_t)k[i].ncols * AIMC_COST_VALUE_BYTES;
            c->noc_out_byte_hops += (uint64_t)k[i].ncols * AIMC_COST_VALUE_BYTES * q->hops;
        }
        i = j;
    }
    /* Per chip and column block: the clusters' vectors meet at the chip's home; a chip other
     * than the matrix's home sends its sum there. */
    qsort(k, n, sizeof *k, by_chip_col);
    for (size_t i = 0; i < n;) {
        size_t j = i, clusters = 0;
        for (; j < n && k[j].chip == k[i].chip && k[j].col0 == k[i].col0; j++)
            if (j == i || k[j].cluster != k[j - 1].cluster) clusters++;
        aimc_cost_chip_use *c = chip_of(m, k[i].chip);
        c->adds += (clusters - 1) * (uint64_t)k[i].ncols;
        if (c->chip != m->home.chip) c->out_values += k[i].ncols;
        i = j;
    }
    qsort(k, n, sizeof *k, by_col_chip);
    for (size_t i = 0; i < n;) {
        size_t j = i, chips = 0;
        for (; j < n && k[j].col0 == k[i].col0; j++)
            if (j == i || k[j].chip != k[j - 1].chip) chips++;
        m->home_adds += (chips - 1) * (uint64_t)k[i].ncols;
        i = j;
    }
    *out = m;
    m = NULL;
    rc = AIMC_OK;
out:
    aimc_cost_mvm_free(m);
    free(order);
    free(rank);
    free(k);
    free(conv_r);
    return rc;
}

/* ---- resources ---------------------------------------------------------------------------- */

const char *aimc_res_name(aimc_res r)
{
    static const char *const names[AIMC_RES_COUNT] = {"host_in", "host_out", "link",  "noc",
                                                      "buffer",  "bus",      "units", "cores",
                                                      "kv"};
    return (int)r >= 0 && r < AIMC_RES_COUNT ? names[r] : "unknown";
}

static uint64_t hop_cycles(const aimc_arch *a)
{
    const uint64_t c = aimc_cost_cycles(a, a->mapping.noc_hop_ns);
    return c < 1 ? 1 : c;
}

uint64_t aimc_cost_busy(const aimc_arch *a, aimc_res r, uint64_t amount)
{
    if (amount == 0) return 0;
    switch (r) {
    case AIMC_RES_HOST_IN:
    case AIMC_RES_HOST_OUT: return aimc_cost_cycles(a, (double)amount / a->host_dma.gbytes_per_s);
    case AIMC_RES_LINK:
        return aimc_cost_cycles(a, (double)amount / ((aimc_cost_links_per_chip(a) ? aimc_cost_links_per_chip(a) : 1) * a->chip_link.gbytes_per_s));
    case AIMC_RES_NOC:
        return ceil_div(amount, (uint64_t)a->noc.ports * (uint64_t)a->noc.flit_bytes) * hop_cycles(a);
    case AIMC_RES_BUFFER:
        return ceil_div(amount, (uint64_t)a->buffer.banks) * aimc_cost_cycles(a, a->buffer.access_ns);
    case AIMC_RES_BUS:
        return ceil_div(amount * 8, (uint64_t)a->bus.width_bits) * aimc_cost_cycles(a, a->bus.transfer_ns);
    case AIMC_RES_UNITS: return aimc_cost_units_cycles(a, amount);
    case AIMC_RES_CORES: return amount;
    case AIMC_RES_KV: return aimc_cost_cycles(a, (double)amount / a->kv_cache.gbytes_per_s);
    default: return 0;
    }
}

uint64_t aimc_cost_latency(const aimc_arch *a, aimc_res r, uint32_t hops)
{
    switch (r) {
    case AIMC_RES_HOST_IN:
    case AIMC_RES_HOST_OUT: return aimc_cost_cycles(a, a->host_dma.latency_ns);
    case AIMC_RES_LINK: return aimc_cost_cycles(a, a->mapping.chip_link_ns);
    case AIMC_RES_NOC: return (uint64_t)hops * hop_cycles(a);
    case AIMC_RES_KV: return aimc_cost_cycles(a, a->kv_cache.latency_ns);
    default: return 0;
    }
}

uint32_t aimc_cost_hops(const aimc_arch *a, uint32_t cluster_a, uint32_t cluster_b)
{
    const uint64_t routers = aimc_cost_routers_per_chip(a);
    uint64_t w = 1;
    while (w * w < routers) w++;
    const uint64_t per = (uint64_t)a->noc.clusters_per_router;
    const uint64_t ra = cluster_a / per, rb = cluster_b / per;
    const uint64_t xa = ra % w, ya = ra / w, xb = rb % w, yb = rb / w;
    return (uint32_t)((xa > xb ? xa - xb : xb - xa) + (ya > yb ? ya - yb : yb - ya));
}

static uint64_t free_book(void *ctx, const aimc_cost_booking *b, int probe)
{
    (void)ctx;
    return probe ? b->ready : b->ready + b->busy;
}

const aimc_cost_booker aimc_cost_free_booker = {free_book, NULL};

static uint64_t book(const aimc_cost_booker *bk, aimc_res r, uint32_t chip, uint32_t unit,
                     uint64_t ready, uint64_t busy)
{
    const aimc_cost_booking b = {r, chip, unit, 1, ready, busy};
    return busy ? bk->book(bk->ctx, &b, 0) : ready;
}

static uint64_t accesses(const aimc_arch *a, uint64_t bytes)
{
    return ceil_div(bytes, (uint64_t)a->buffer.bytes_per_access);
}

/* Read or write bytes of cluster (chip, q)'s buffer. */
static uint64_t buffer_io(const aimc_arch *a, uint32_t chip, uint32_t q, uint64_t bytes,
                          uint64_t ready, const aimc_cost_booker *bk, aimc_cost_events *ev)
{
    const uint64_t n = accesses(a, bytes);
    ev->buffer_accesses += (double)n;
    return book(bk, AIMC_RES_BUFFER, chip, q, ready, aimc_cost_busy(a, AIMC_RES_BUFFER, n));
}

/* bytes over chip's NoC for `hops` hops (the farthest), byte_hops moved in all. */
static uint64_t noc(const aimc_arch *a, uint32_t chip, uint64_t bytes, uint32_t hops,
                    uint64_t byte_hops, uint64_t ready, const aimc_cost_booker *bk,
                    aimc_cost_events *ev)
{
    if (bytes == 0 || hops == 0) return ready;
    ev->noc_bytes += (double)bytes;
    ev->noc_byte_hops += (double)byte_hops;
    return book(bk, AIMC_RES_NOC, chip, 0, ready, aimc_cost_busy(a, AIMC_RES_NOC, bytes)) +
           aimc_cost_latency(a, AIMC_RES_NOC, hops);
}

uint64_t aimc_cost_move(const aimc_arch *a, aimc_loc from, aimc_loc to, uint64_t bytes,
                        uint64_t ready, const aimc_cost_booker *bk, aimc_cost_events *ev)
{
    if (bytes == 0 || aimc_loc_eq(from, to)) return ready;
    const int from_host = from.chip == AIMC_LOC_HOST, to_host = to.chip == AIMC_LOC_HOST;
    uint64_t t = ready;
    if (!from_host) t = buffer_io(a, from.chip, from.cluster, bytes, t, bk, ev);
    if (!from_host && !to_host && from.chip == to.chip) {
        const uint32_t h = aimc_cost_hops(a, from.cluster, to.cluster);
        t = noc(a, from.chip, bytes, h, bytes * h, t, bk, ev);
    } else {
        if (!from_host) {
            const uint32_t h = aimc_cost_hops(a, from.cluster, 0);
            t = noc(a, from.chip, bytes, h, bytes * h, t, bk, ev);
        }
        aimc_res r = from_host ? AIMC_RES_HOST_IN : to_host ? AIMC_RES_HOST_OUT : AIMC_RES_LINK;
        if (r == AIMC_RES_LINK) ev->link_bytes += (double)bytes;
        else ev->host_bytes += (double)bytes;
        t = book(bk, r, from_host ? 0 : from.chip, 0, t, aimc_cost_busy(a, r, bytes)) +
            aimc_cost_latency(a, r, 0);
        if (!to_host) {
            const uint32_t h = aimc_cost_hops(a, 0, to.cluster);
            t = noc(a, to.chip, bytes, h, bytes * h, t, bk, ev);
        }
    }
    if (!to_host) t = buffer_io(a, to.chip, to.cluster, bytes, t, bk, ev);
    return t;
}

/* ---- an MVM ---------------------------------------------------------------------------------- */

uint64_t aimc_cost_mvm_in(const aimc_arch *a, const aimc_cost_mvm *m, uint64_t vectors,
                          aimc_loc from, uint64_t ready, const aimc_cost_booker *bk,
                          aimc_cost_events *ev)
{
    uint64_t done = ready;
    const uint64_t B = vectors;
    for (size_t i = 0; i < m->n_chips; i++) {
        const aimc_cost_chip_use *c = &m->chips[i];
        const aimc_loc home = {c->chip, c->home_cluster};
        /* The chip's rows arrive at its home cluster, which multicasts each other cluster
         * its rows over the NoC. */
        const uint64_t t_home = aimc_cost_move(a, from, home, c->rows * AIMC_COST_VALUE_BYTES * B,
                                               ready, bk, ev);
        uint64_t t_sent = t_home;
        if (c->noc_in_bytes) {
            t_sent = buffer_io(a, c->chip, c->home_cluster, c->noc_in_bytes * B, t_home, bk, ev);
            t_sent = noc(a, c->chip, c->noc_in_bytes * B, c->max_hops, c->noc_in_byte_hops * B,
                         t_sent, bk, ev);
        }
        for (size_t j = 0; j < c->n_clusters; j++) {
            const aimc_cost_cluster_use *q = &m->clusters[c->cluster0 + j];
            const int is_home = q->cluster == c->home_cluster;
            uint64_t t = is_home ? t_home : t_sent;
            const uint64_t bytes = q->rows * AIMC_COST_VALUE_BYTES * B;
            if (!is_home) t = buffer_io(a, c->chip, q->cluster, bytes, t, bk, ev); /* arrive */
            /* read, quantise to input codes, over the bus to the cores */
            t = buffer_io(a, c->chip, q->cluster, bytes, t, bk, ev);
            ev->bus_bytes += (double)(q->code_bytes * B);
            t = book(bk, AIMC_RES_BUS, c->chip, q->cluster, t,
                     aimc_cost_busy(a, AIMC_RES_BUS, q->code_bytes * B));
            if (t > done) done = t;
        }
    }
    return done;
}

uint64_t aimc_cost_cores_book(const aimc_cost_mvm *m, uint64_t busy, uint64_t ready,
                              const aimc_cost_booker *bk)
{
    if (busy == 0) return ready;
    uint64_t start = ready;
    for (size_t i = 0; i < m->n_chips; i++)
        for (size_t r = 0; r < m->chips[i].n_ranges; r++) {
            const aimc_cost_range *g = &m->ranges[m->chips[i].range0 + r];
            const aimc_cost_booking b = {AIMC_RES_CORES, m->chips[i].chip, g->first, g->count,
                                         ready, busy};
            const uint64_t s = bk->book(bk->ctx, &b, 1);
            if (s > start) start = s;
        }
    for (size_t i = 0; i < m->n_chips; i++)
        for (size_t r = 0; r < m->chips[i].n_ranges; r++) {
            const aimc_cost_range *g = &m->ranges[m->chips[i].range0 + r];
            const aimc_cost_booking b = {AIMC_RES_CORES, m->chips[i].chip, g->first, g->count,
                                         start, busy};
            (void)bk->book(bk->ctx, &b, 0);
        }
    return start + busy;
}

uint64_t aimc_cost_mvm_run(const aimc_arch *a, const aimc_cost_mvm *m, uint64_t vectors,
                           uint64_t ready, const aimc_cost_booker *bk)
{
    (void)a;
    return aimc_cost_cores_book(m, aimc_cost_mvm_cycles(m, vectors), ready, bk);
}

uint64_t aimc_cost_mvm_out(const aimc_arch *a, const aimc_cost_mvm *m, uint64_t vectors,
                           uint64_t ready, const aimc_cost_booker *bk, aimc_cost_events *ev)
{
    const uint64_t B = vectors;
    uint64_t done = ready;
    for (size_t i = 0; i < m->n_chips; i++) {
        const aimc_cost_chip_use *c = &m->chips[i];
        uint64_t t_home = ready, t_others = ready;
        for (size_t j = 0; j < c->n_clusters; j++) {
            const aimc_cost_cluster_use *q = &m->clusters[c->cluster0 + j];
            /* the cores' partial sums over the bus into the buffer, added by the units */
            const uint64_t bytes = q->psum_values * AIMC_COST_VALUE_BYTES * B;
            ev->bus_bytes += (double)bytes;
            uint64_t t = book(bk, AIMC_RES_BUS, c->chip, q->cluster, ready,
                              aimc_cost_busy(a, AIMC_RES_BUS, bytes));
            t = buffer_io(a, c->chip, q->cluster, bytes, t, bk, ev);
            if (q->adds) {
                ev->units_ops += (double)(q->adds * B);
                t = book(bk, AIMC_RES_UNITS, c->chip, q->cluster, t,
                         aimc_cost_busy(a, AIMC_RES_UNITS, q->adds * B));
            }
            if (q->cluster == c->home_cluster) {
                if (t > t_home) t_home = t;
            } else {
                t = buffer_io(a, c->chip, q->cluster, q->out_values * AIMC_COST_VALUE_BYTES * B, t,
                              bk, ev);
                if (t > t_others) t_others = t;
            }
        }
        /* the other clusters' sums over the NoC to the home, written and added there */
        uint64_t t = t_home;
        if (c->noc_out_bytes) {
            uint64_t tn = noc(a, c->chip, c->noc_out_bytes * B, c->max_hops,
                              c->noc_out_byte_hops * B, t_others, bk, ev);
            tn = buffer_io(a, c->chip, c->home_cluster, c->noc_out_bytes * B, tn, bk, ev);
            if (tn > t) t = tn;
        }
        if (c->adds) {
            ev->units_ops += (double)(c->adds * B);
            t = book(bk, AIMC_RES_UNITS, c->chip, c->home_cluster, t,
                     aimc_cost_busy(a, AIMC_RES_UNITS, c->adds * B));
        }
        /* a chip other than the matrix's home sends its sum there */
        if (c->out_values)
            t = aimc_cost_move(a, (aimc_loc){c->chip, c->home_cluster}, m->home,
                               c->out_values * AIMC_COST_VALUE_BYTES * B, t, bk, ev);
        if (t > done) done = t;
    }
    if (m->home_adds) {
        ev->units_ops += (double)(m->home_adds * B);
        done = book(bk, AIMC_RES_UNITS, m->home.chip, m->home.cluster, done,
                    aimc_cost_busy(a, AIMC_RES_UNITS, m->home_adds * B));
    }
    return done;
}

/* ---- digital work ------------------------------------------------------------------------------ */

uint64_t aimc_cost_dig_ops(aimc_dig op, uint64_t batch, uint64_t n, uint64_t k)
{
    switch (op) {
    case AIMC_DIG_RMSNORM: return batch * (2 * n + 1);
    case AIMC_DIG_TOPK: return batch * (n * k + 3 * k);
    case AIMC_DIG_SILU_MUL: return 4 * n;
    case AIMC_DIG_GATHER: return batch;
    case AIMC_DIG_SCALE_ACC: return 2 * batch * n;
    case AIMC_DIG_ROUTE: return batch * (4 * n + n * k + 3 * k);
    case AIMC_DIG_NORM: return batch * ((k ? 3 : 2) * n + 1);
    case AIMC_DIG_ACT: return 3 * n;
    case AIMC_DIG_ATTN: return 0; /* aimc_cost_attn_ops */
    }
    return 0;
}

void aimc_cost_dig_io(aimc_dig op, uint64_t batch, uint64_t n, uint64_t k, uint64_t *in,
                      uint64_t *out)
{
    const uint64_t v = AIMC_COST_VALUE_BYTES;
    switch (op) {
    case AIMC_DIG_RMSNORM: *in = *out = batch * n * v; return;
    case AIMC_DIG_TOPK: *in = batch * n * v; *out = 2 * batch * k * v; return;
    case AIMC_DIG_SILU_MUL: *in = 2 * n * v; *out = n * v; return;
    case AIMC_DIG_GATHER: *in = *out = batch * n * v; return;
    case AIMC_DIG_SCALE_ACC: *in = 2 * batch * n * v; *out = batch * n * v; return;
    case AIMC_DIG_ROUTE: *in = batch * n * v + (n + 6) * v; *out = 2 * batch * k * v; return;
    case AIMC_DIG_NORM: *in = batch * n * v + (k ? n * v : 0); *out = batch * n * v; return;
    case AIMC_DIG_ACT: *in = *out = n * v; return;
    case AIMC_DIG_ATTN: break; /* the command knows its bytes */
    }
    *in = *out = 0;
}

uint64_t aimc_cost_attn_ops(uint64_t tokens, uint64_t pos0, uint64_t heads, uint64_t kv_heads,
                            uint64_t dk, uint64_t dv, uint64_t rope_dim)
{
    /* keys attended: query t sees pos0 + t + 1 of them */
    const uint64_t keys = tokens * pos0 + tokens * (tokens + 1) / 2;
    return tokens * (heads + kv_heads) * (rope_dim / 2) * 6 + heads * keys * (2 * dk + 2 * dv + 3);
}

void aimc_cost_attn_io(uint64_t tokens, uint64_t pos0, uint64_t heads, uint64_t kv_heads,
                       uint64_t dk, uint64_t dv, int v_in_k, int append,
                       aimc_cost_attn_bytes *out)
{
    const uint64_t v = AIMC_COST_VALUE_BYTES;
    const uint64_t row = kv_heads * dk + (v_in_k ? 0 : kv_heads * dv); /* a cache row */
    out->q = tokens * heads * dk * v;
    out->kv = append ? tokens * row * v : 0;
    out->out = tokens * heads * dv * v;
    out->kv_read = (append ? pos0 : pos0 + tokens) * row * v;
    out->kv_write = out->kv;
}

uint64_t aimc_cost_kv(const aimc_arch *a, aimc_loc at, uint64_t read_bytes, uint64_t write_bytes,
                      uint64_t ready, const aimc_cost_booker *bk, aimc_cost_events *ev)
{
    uint64_t t = ready;
    if (a->kv_cache.memory == AIMC_KV_BUFFER) {
        t = buffer_io(a, at.chip, at.cluster, read_bytes, t, bk, ev);
        return buffer_io(a, at.chip, at.cluster, write_bytes, t, bk, ev);
    }
    for (int w = 0; w < 2; w++) {
        const uint64_t bytes = w ? write_bytes : read_bytes;
        if (!bytes) continue;
        ev->kv_bytes += (double)bytes;
        t = book(bk, AIMC_RES_KV, at.chip, 0, t, aimc_cost_busy(a, AIMC_RES_KV, bytes)) +
            aimc_cost_latency(a, AIMC_RES_KV, 0);
    }
    return t;
}

uint64_t aimc_cost_attn_run(const aimc_arch *a, aimc_loc at, uint64_t ops, uint64_t in_bytes,
                            uint64_t out_bytes, uint64_t kv_read, uint64_t kv_write,
                            uint64_t ready, const aimc_cost_booker *bk, aimc_cost_events *ev)
{
    uint64_t t = buffer_io(a, at.chip, at.cluster, in_bytes, ready, bk, ev);
    t = aimc_cost_kv(a, at, kv_read, 0, t, bk, ev);
    ev->units_ops += (double)ops;
    t = book(bk, AIMC_RES_UNITS, at.chip, at.cluster, t, aimc_cost_busy(a, AIMC_RES_UNITS, ops));
    t = aimc_cost_kv(a, at, 0, kv_write, t, bk, ev);
    return buffer_io(a, at.chip, at.cluster, out_bytes, t, bk, ev);
}

uint64_t aimc_cost_units_cycles(const aimc_arch *a, uint64_t ops)
{
    return ceil_div(ops, a->units.ops_per_cycle > 0 ? (uint64_t)a->units.ops_per_cycle : 1);
}

uint64_t aimc_cost_dig_run(const aimc_arch *a, aimc_loc at, uint64_t ops, uint64_t in_bytes,
                           uint64_t out_bytes, uint64_t ready, const aimc_cost_booker *bk,
                           aimc_cost_events *ev)
{
    uint64_t t = buffer_io(a, at.chip, at.cluster, in_bytes, ready, bk, ev);
    ev->units_ops += (double)ops;
    t = book(bk, AIMC_RES_UNITS, at.chip, at.cluster, t, aimc_cost_busy(a, AIMC_RES_UNITS, ops));
    return buffer_io(a, at.chip, at.cluster, out_bytes, t, bk, ev);
}

aimc_loc aimc_cost_site(aimc_loc data)
{
    return data.chip == AIMC_LOC_HOST ? (aimc_loc){0, 0} : data;
}

uint64_t aimc_cost_fetch(const aimc_arch *a, uint32_t n, uint32_t desc_bytes, uint64_t ready,
                         const aimc_cost_booker *bk, aimc_cost_events *ev)
{
    const uint64_t bytes = (uint64_t)n * desc_bytes;
    ev->host_bytes += (double)bytes;
    return book(bk, AIMC_RES_HOST_IN, 0, 0, ready, aimc_cost_busy(a, AIMC_RES_HOST_IN, bytes)) +
           aimc_cost_latency(a, AIMC_RES_HOST_IN, 0);
}

uint64_t aimc_cost_complete(const aimc_arch *a, uint64_t ready, const aimc_cost_booker *bk,
                            aimc_cost_events *ev)
{
    ev->host_bytes += 4;
    return book(bk, AIMC_RES_HOST_OUT, 0, 0, ready, aimc_cost_busy(a, AIMC_RES_HOST_OUT, 4)) +
           aimc_cost_latency(a, AIMC_RES_HOST_OUT, 0);
}

/* ---- programming ------------------------------------------------------------------------------- */

uint64_t aimc_cost_program_cycles(const aimc_arch *a, uint64_t pulses_max, uint32_t rounds)
{
    const double ns = (double)pulses_max * a->device.pulse_ns +
                      (double)rounds * a->crossbar.rows * a->crossbar.integration_ns;
    return aimc_cost_cycles(a, ns);
}

void aimc_cost_program_events(const aimc_arch *a, uint64_t pulses, uint64_t xbars,
                              uint64_t cells, uint32_t rounds, aimc_cost_events *e)
{
    e->program_pulses += (double)pulses;
    if (rounds == 0) return;
    e->dac_drives += (double)rounds * (double)xbars * a->crossbar.rows;
    e->adc_conversions += (double)rounds * (double)cells;
}
