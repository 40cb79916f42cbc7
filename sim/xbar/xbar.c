/* xbar.c - the analog machine model: the machine, its options, programming (quantisation,
 * device physics at programming and at read time, program-and-verify, ADC calibration) and
 * the tiles' read data; the devices as aimc_xbar_cell reports them.
 *
 * The model, its formulas and its random keys are in docs/simulator.md and docs/devices.md;
 * the contract is aimc_xbar.h. The matrix-vector product is mvm.c (driver) and kern.c
 * (arithmetic); what the three files share is xbar_int.h. Conductances are in "level units":
 * n = (g - g_min) / dG, dG = (g_max - g_min) / (2^bits_per_cell - 1), so that an ideal device
 * holds exact small integers and g_us = g_min + n * dG.
 *
 * Nothing is stored per device. Every device's conductance is a pure function of its target
 * level, the seed, its crossbar and cell, the program generation that wrote it, the verify
 * options and the read time, so it is regenerated when needed. A tile keeps, per weight
 * column and word line (a "pair": G+ and G- of a differential weight, or one offset device),
 * the signed target level of the slice and what a read needs: the column signal per unit
 * input D (G+ - G-, or G) in fixed point, int units of 2^-q levels, q chosen so that every
 * column sum is an exact float (or, failing that, an exact double); the matrix products are
 * then exact and their result does not depend on summation order, batch split or thread
 * count. Both are packed in 14 bits when they fit (docs/simulator.md, "Storage").
 */
#include "aimc_xbar.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "xbar_int.h"

void aimc_xbar_stats_add(aimc_xbar_stats *a, const aimc_xbar_stats *b)
{
    if (!a || !b) return;
    a->mvms += b->mvms;
    a->dac_drives += b->dac_drives;
    a->xbar_charge += b->xbar_charge;
    a->adc_saturations += b->adc_saturations;
    a->cells_programmed += b->cells_programmed;
    a->program_pulses += b->program_pulses;
}

/* ---- creation ---------------------------------------------------------------------- */

static int finite_nonneg(double v)
{
    return isfinite(v) && v >= 0.0;
}

/* What the arithmetic of this file relies on (aimc_arch_validate checks more). */
static int arch_usable(const aimc_arch *a)
{
    if (a->version != AIMC_ARCH_VERSION) return 0;
    if (a->crossbar.rows < 1 || a->crossbar.cols < 1) return 0;
    if (a->crossbar.bits_per_cell < 1 || a->crossbar.bits_per_cell > 8) return 0;
    if (a->crossbar.weight_bits < 2 || a->crossbar.weight_bits > 31) return 0;
    if (a->crossbar.sign_encoding != AIMC_SIGN_DIFFERENTIAL &&
        a->crossbar.sign_encoding != AIMC_SIGN_OFFSET)
        return 0;
    if (a->crossbar.sign_encoding == AIMC_SIGN_DIFFERENTIAL && a->crossbar.cols < 2) return 0;
    if (a->crossbar.weight_scale != AIMC_WSCALE_MATRIX &&
        a->crossbar.weight_scale != AIMC_WSCALE_TILE &&
        a->crossbar.weight_scale != AIMC_WSCALE_COLUMN)
        return 0;
    if (a->device.levels < (1 << a->crossbar.bits_per_cell)) return 0;
    if (!finite_nonneg(a->device.g_min_us) || !isfinite(a->device.g_max_us) ||
        a->device.g_max_us <= a->device.g_min_us)
        return 0;
    if (!finite_nonneg(a->device.program_sigma_us) || !finite_nonneg(a->device.read_sigma_us) ||
        !finite_nonneg(a->device.read_voltage_v) || !finite_nonneg(a->device.program_sigma_rel) ||
        !finite_nonneg(a->device.read_sigma_rel) || !finite_nonneg(a->device.read_time_s) ||
        !finite_nonneg(a->device.pulse_energy_pj) || !finite_nonneg(a->device.pulse_ns))
        return 0;
    if (!finite_nonneg(a->device.stuck_on_rate) || !finite_nonneg(a->device.stuck_off_rate) ||
        a->device.stuck_on_rate + a->device.stuck_off_rate > 1.0)
        return 0;
    if (!finite_nonneg(a->crossbar.integration_ns) ||
        !finite_nonneg(a->crossbar.wire_resistance_ohm))
        return 0;
    if (a->dac.bits < 2 || a->dac.bits > 31) return 0;
    if (a->dac.mode != AIMC_DAC_BIT_SERIAL && a->dac.mode != AIMC_DAC_MULTI_BIT &&
        a->dac.mode != AIMC_DAC_PULSE_WIDTH)
        return 0;
    if (!finite_nonneg(a->dac.energy_pj)) return 0;
    if (a->adc.bits < 1 || a->adc.bits > 52) return 0;
    /* The shift-and-add sum of a column, below 2^(adc.bits - 1 + steps), is exact in double. */
    if (a->adc.bits - 1 + aimc_arch_input_steps(a) > 53) return 0;
    if (a->adc.per_crossbar < 1) return 0;
    if (!finite_nonneg(a->adc.conversion_ns) || !finite_nonneg(a->adc.energy_pj)) return 0;
    if (!isfinite(a->adc.offset_lsb) || !isfinite(a->adc.gain_error) ||
        a->adc.gain_error <= -1.0)
        return 0;
    if (a->adc.range != AIMC_ADC_RANGE_FULL_SCALE && a->adc.range != AIMC_ADC_RANGE_MAX &&
        a->adc.range != AIMC_ADC_RANGE_PERCENTILE)
        return 0;
    if (a->adc.range == AIMC_ADC_RANGE_PERCENTILE &&
        !(a->adc.range_percentile > 0.0 && a->adc.range_percentile <= 100.0))
        return 0;
    if (!finite_nonneg(a->digital.energy_pj_per_op) || a->digital.ops_per_cycle < 1) return 0;
    if (a->hierarchy.crossbars_per_core < 1 || a->hierarchy.cores_per_chip < 1 ||
        a->hierarchy.chips < 1)
        return 0;
    if (!isfinite(a->clock.frequency_mhz) || a->clock.frequency_mhz <= 0.0) return 0;
    long total = aimc_arch_total_crossbars(a);
    if (total < 1 || (unsigned long)total > UINT32_MAX) return 0;
    return 1;
}

/* Nearest point of the device's level grid to level l, in level units (exact when the grid
 * contains the level: k * L / (levels - 1) is then an integer computed exactly). */
static double snap_level(const aimc_xbar *s, int l)
{
    int steps = s->arch.device.levels - 1;
    long k = lround((double)l * steps / s->level_max);
    return (double)(k * s->level_max) / steps;
}

int aimc_xbar_create(const aimc_arch *arch, uint64_t seed, aimc_xbar **out)
{
    if (!out) return AIMC_ERR_INVALID;
    *out = NULL;
    if (!arch || !arch_usable(arch)) return AIMC_ERR_INVALID;
    if (arch->device.type != AIMC_DEVICE_IDEAL && arch->device.type != AIMC_DEVICE_GENERIC &&
        arch->device.type != AIMC_DEVICE_PCM && arch->device.type != AIMC_DEVICE_RRAM)
        return AIMC_ERR_UNSUPPORTED;

    aimc_xbar *s = calloc(1, sizeof *s);
    if (!s) return AIMC_ERR_NOMEM;
    s->arch = *arch;
    s->seed = seed;
    s->threads = arch->simulator.threads >= 1 && arch->simulator.threads <= 1024
                     ? arch->simulator.threads
                     : 1;
    s->epoch = 1;
    s->exact_ok = 1;
    s->zn = aimc_znorm_tables_get();
    s->n_xbars = aimc_arch_total_crossbars(arch);
    s->xbars = calloc((size_t)s->n_xbars, sizeof *s->xbars);
    if (!s->xbars) {
        free(s);
        return AIMC_ERR_NOMEM;
    }
    s->bits = arch->crossbar.bits_per_cell;
    s->level_max = (1 << s->bits) - 1;
    s->slices = aimc_arch_slices(arch);
    s->cpw = aimc_arch_cols_per_weight(arch);
    s->steps = aimc_arch_input_steps(arch);
    s->n_dev = s->cpw;
    s->td_off = s->cpw == 2 ? s->level_max : 0;
    s->pk_ok = (s->cpw == 2 ? 2 * s->level_max + 1 : s->level_max + 1) <= PK_TD_FIELDS;
    s->w_code_max = (int32_t)((UINT32_C(1) << (arch->crossbar.weight_bits - 1)) - 1);
    s->x_code_max = (int32_t)((UINT32_C(1) << (arch->dac.bits - 1)) - 1);
    s->u_max = arch->dac.mode == AIMC_DAC_BIT_SERIAL ? 1 : s->x_code_max;
    s->dg_us = (arch->device.g_max_us - arch->device.g_min_us) / s->level_max;
    for (int l = 0; l <= s->level_max; l++) s->snapped[l] = snap_level(s, l);
    *out = s;
    return AIMC_OK;
}

static void matrix_free(sim_matrix *m)
{
    if (!m) return;
    for (size_t k = 0; k < m->n_tiles; k++) {
        free(m->tiles[k].pk);
        free(m->tiles[k].vq);
        free(m->tiles[k].vcol);
        free(m->tiles[k].row_g_us);
        free(m->tiles[k].cscale);
    }
    free(m->tiles);
    free(m->order);
    free(m->codes);
    free(m);
}

void aimc_xbar_destroy(aimc_xbar *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < s->mats_cap; i++) matrix_free(s->mats[i]);
    free(s->mats);
    free(s->xbars);
    xbar_scratch_release(s);
    free(s);
}

const aimc_arch *aimc_xbar_arch(const aimc_xbar *s)
{
    return s ? &s->arch : NULL;
}

int aimc_xbar_matrix_shape(const aimc_xbar *s, uint32_t id, uint32_t *rows, uint32_t *cols)
{
    if (!s) return AIMC_ERR_BADHANDLE;
    if (id >= AIMC_XBAR_MAX_MATRICES) return AIMC_ERR_RANGE;
    if (id >= s->mats_cap || !s->mats[id]) return AIMC_ERR_STATE;
    if (rows) *rows = s->mats[id]->rows;
    if (cols) *cols = s->mats[id]->cols;
    return AIMC_OK;
}

size_t aimc_xbar_matrix_tiles(const aimc_xbar *s, uint32_t id)
{
    if (!s || id >= s->mats_cap || !s->mats[id]) return 0;
    return s->mats[id]->n_tiles;
}

int aimc_xbar_set_read_time(aimc_xbar *s, double read_time_s)
{
    if (!s) return AIMC_ERR_BADHANDLE;
    if (!isfinite(read_time_s) || read_time_s < 0.0) return AIMC_ERR_INVALID;
    s->arch.device.read_time_s = read_time_s;
    s->epoch++;
    return AIMC_OK;
}

int aimc_xbar_set_drift_compensation(aimc_xbar *s, int on)
{
    if (!s) return AIMC_ERR_BADHANDLE;
    s->arch.device.drift_compensation = on ? 1 : 0;
    s->epoch++;
    return AIMC_OK;
}

int aimc_xbar_set_exact_path(aimc_xbar *s, int allow)
{
    if (!s) return AIMC_ERR_BADHANDLE;
    s->exact_ok = allow ? 1 : 0;
    return AIMC_OK;
}

int aimc_xbar_exact_path(const aimc_xbar *s, uint32_t id)
{
    if (!s || id >= s->mats_cap || !s->mats[id] || !s->exact_ok) return 0;
    return s->mats[id]->exact;
}

int aimc_xbar_set_threads(aimc_xbar *s, int threads)
{
    if (!s) return AIMC_ERR_BADHANDLE;
    if (threads < 1 || threads > 1024) return AIMC_ERR_INVALID;
    s->threads = threads;
    s->arch.simulator.threads = threads;
    return AIMC_OK;
}


size_t aimc_xbar_memory_bytes(const aimc_xbar *s)
{
    if (!s) return 0;
    size_t b = sizeof *s + (size_t)s->n_xbars * sizeof *s->xbars +
               s->mats_cap * sizeof *s->mats;
    for (uint32_t i = 0; i < s->mats_cap; i++) {
        const sim_matrix *m = s->mats[i];
        if (!m) continue;
        b += sizeof *m + m->n_tiles * sizeof *m->tiles + m->n_tiles * sizeof *m->order;
        if (m->codes) b += (size_t)m->rows * m->cols * (size_t)m->code_bytes;
        for (size_t k = 0; k < m->n_tiles; k++) {
            const sim_tile *tl = &m->tiles[k];
            size_t n = (size_t)tl->t.nrows * tl->t.ncols;
            b += xbar_pk_bytes(tl->fmt, n) + (tl->vq ? n * sizeof *tl->vq : 0) +
                 (tl->vcol ? tl->t.ncols * sizeof *tl->vcol : 0) +
                 tl->t.nrows * sizeof *tl->row_g_us +
                 (tl->cscale ? tl->t.ncols * sizeof *tl->cscale : 0);
        }
    }
    return b;
}

size_t aimc_xbar_scratch_bytes(const aimc_xbar *s)
{
    return s ? xbar_scratch_bytes_of(s) : 0;
}

/* ---- programming ------------------------------------------------------------------- */

/* A tile index with the sort keys it is ordered by. */
typedef struct tile_key {
    uint64_t k1, k2, k3;
    size_t idx;
} tile_key;

static int tile_key_cmp(const void *pa, const void *pb)
{
    const tile_key *a = pa, *b = pb;
    if (a->k1 != b->k1) return a->k1 < b->k1 ? -1 : 1;
    if (a->k2 != b->k2) return a->k2 < b->k2 ? -1 : 1;
    if (a->k3 != b->k3) return a->k3 < b->k3 ? -1 : 1;
    if (a->idx != b->idx) return a->idx < b->idx ? -1 : 1;
    return 0;
}

/* Every check of aimc_xbar_program that does not allocate beyond its scratch. On success
 * *by_xbar holds the tile indices sorted by (crossbar, first column); the caller frees it. */
static int validate_tiles(const aimc_arch *a, uint32_t rows, uint32_t cols,
                          const aimc_tile *tiles, size_t n_tiles, tile_key **by_xbar,
                          aimc_diag *d)
{
    const struct {
        long n_xbars;
        int cpw, slices;
    } m = {aimc_arch_total_crossbars(a), aimc_arch_cols_per_weight(a), aimc_arch_slices(a)},
      *s = &m;
    int rc = AIMC_OK;
    tile_key *kx = NULL, *km = NULL;
    *by_xbar = NULL;

    for (size_t k = 0; k < n_tiles; k++) {
        const aimc_tile *t = &tiles[k];
        if (t->nrows == 0 || t->ncols == 0)
            return aimc_diag_set(d, AIMC_ERR_INVALID, "tile %zu: empty (%u rows x %u columns)",
                                 k, t->nrows, t->ncols);
        if ((long)t->xbar >= s->n_xbars)
            return aimc_diag_set(d, AIMC_ERR_RANGE,
                                 "tile %zu: crossbar %u outside the machine (0..%ld)", k, t->xbar,
                                 s->n_xbars - 1);
        if (t->nrows > (uint32_t)a->crossbar.rows)
            return aimc_diag_set(d, AIMC_ERR_RANGE,
                                 "tile %zu: %u rows exceed the crossbar's %d word lines", k,
                                 t->nrows, a->crossbar.rows);
        uint64_t pend = (uint64_t)t->xbar_col0 + (uint64_t)t->ncols * (uint64_t)s->cpw;
        if (pend > (uint64_t)a->crossbar.cols)
            return aimc_diag_set(d, AIMC_ERR_RANGE,
                                 "tile %zu: physical columns [%u, %llu) of crossbar %u exceed its "
                                 "%d columns",
                                 k, t->xbar_col0, (unsigned long long)pend, t->xbar,
                                 a->crossbar.cols);
        if ((uint64_t)t->row0 + t->nrows > rows)
            return aimc_diag_set(d, AIMC_ERR_RANGE,
                                 "tile %zu: matrix rows [%u, %llu) exceed the matrix's %u rows", k,
                                 t->row0, (unsigned long long)t->row0 + t->nrows, rows);
        if ((uint64_t)t->col0 + t->ncols > cols)
            return aimc_diag_set(d, AIMC_ERR_RANGE,
                                 "tile %zu: matrix columns [%u, %llu) exceed the matrix's %u "
                                 "columns",
                                 k, t->col0, (unsigned long long)t->col0 + t->ncols, cols);
        if (t->slice >= (uint32_t)s->slices)
            return aimc_diag_set(d, AIMC_ERR_RANGE, "tile %zu: slice %u outside 0..%d", k,
                                 t->slice, s->slices - 1);
    }

    kx = malloc(n_tiles * sizeof *kx);
    km = malloc(n_tiles * sizeof *km);
    if (!kx || !km) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory checking %zu tiles", n_tiles);
        goto out;
    }

    /* Two tiles of this call may not share a device: same crossbar and intersecting physical
     * column ranges (every tile uses word lines from 0). */
    for (size_t k = 0; k < n_tiles; k++) {
        kx[k] = (tile_key){tiles[k].xbar, tiles[k].xbar_col0, 0, k};
        km[k] = (tile_key){tiles[k].slice, tiles[k].row0, tiles[k].col0, k};
    }
    qsort(kx, n_tiles, sizeof *kx, tile_key_cmp);
    for (size_t k = 1; k < n_tiles; k++) {
        const aimc_tile *p = &tiles[kx[k - 1].idx], *t = &tiles[kx[k].idx];
        if (p->xbar != t->xbar) continue;
        uint64_t pend = (uint64_t)p->xbar_col0 + (uint64_t)p->ncols * s->cpw;
        if (pend > t->xbar_col0) {
            rc = aimc_diag_set(d, AIMC_ERR_INVALID,
                               "tiles %zu and %zu overlap in crossbar %u (physical columns "
                               "[%u, %llu) and from %u)",
                               kx[k - 1].idx, kx[k].idx, t->xbar, p->xbar_col0,
                               (unsigned long long)pend, t->xbar_col0);
            goto out;
        }
    }

    /* Every (row, column, slice) of the matrix exactly once: per slice, no two tiles
     * intersect and their areas add up to rows x cols. */
    qsort(km, n_tiles, sizeof *km, tile_key_cmp);
    size_t first = 0;
    for (uint32_t sl = 0; sl < (uint32_t)s->slices; sl++) {
        uint64_t area = 0;
        size_t end = first;
        while (end < n_tiles && km[end].k1 == sl) end++;
        for (size_t i = first; i < end; i++) {
            const aimc_tile *ti = &tiles[km[i].idx];
            area += (uint64_t)ti->nrows * ti->ncols;
            /* Sorted by row0: only later tiles starting above ti's last row can intersect. */
            for (size_t j = i + 1; j < end; j++) {
                const aimc_tile *tj = &tiles[km[j].idx];
                if ((uint64_t)tj->row0 >= (uint64_t)ti->row0 + ti->nrows) break;
                if ((uint64_t)tj->col0 < (uint64_t)ti->col0 + ti->ncols &&
                    (uint64_t)ti->col0 < (uint64_t)tj->col0 + tj->ncols) {
                    rc = aimc_diag_set(d, AIMC_ERR_INVALID,
                                       "tiles %zu and %zu both hold slice %u of matrix row %u, "
                                       "column %u",
                                       km[i].idx, km[j].idx, sl, tj->row0,
                                       ti->col0 > tj->col0 ? ti->col0 : tj->col0);
                    goto out;
                }
            }
        }
        if (area != (uint64_t)rows * cols) {
            rc = aimc_diag_set(d, AIMC_ERR_INVALID,
                               "the tiles of slice %u cover %llu of the matrix's %llu "
                               "(row, column) positions; every one must be covered once",
                               sl, (unsigned long long)area,
                               (unsigned long long)rows * cols);
            goto out;
        }
        first = end;
    }

    *by_xbar = kx;
    kx = NULL;
out:
    free(kx);
    free(km);
    return rc;
}


/* Programming error sigma of a device aimed at level t, level units (docs/devices.md). */
static double program_sigma_lv(const aimc_xbar *s, double t_lv)
{
    const aimc_arch *a = &s->arch;
    double g_us = a->device.g_min_us + t_lv * s->dg_us, sg;
    switch (a->device.type) {
    case AIMC_DEVICE_GENERIC: return a->device.program_sigma_us / s->dg_us;
    case AIMC_DEVICE_RRAM:
        sg = a->device.program_sigma_rel * g_us;
        return sqrt(a->device.program_sigma_us * a->device.program_sigma_us + sg * sg) /
               s->dg_us;
    case AIMC_DEVICE_PCM: return aimc_pcm_program_sigma_us(g_us, a->device.g_max_us) / s->dg_us;
    default: return 0.0;
    }
}

/* Write one device aimed at level t with standard normal z: level units, never below g = 0,
 * rounded to float (the precision of a programmed value). */
static double write_device(const aimc_xbar *s, double t_lv, double z)
{
    const double floor_lv = -s->arch.device.g_min_us / s->dg_us;
    double sig = program_sigma_lv(s, t_lv);
    if (sig <= 0.0) return t_lv;
    double v = t_lv + sig * z;
    return (double)(float)(v < floor_lv ? floor_lv : v);
}

/* The random keys of one tile's program call. */
typedef struct prog_keys {
    uint32_t xbar;
    uint64_t program, drift, verify;
    uint32_t rounds;
    double tol_lv;
} prog_keys;

static void prog_keys_of(const aimc_xbar *s, uint32_t xbar, uint64_t gen, uint32_t rounds,
                         double tol_lv, prog_keys *k)
{
    k->xbar = xbar;
    k->program = aimc_rng_key(s->seed, AIMC_RNG_DOMAIN_PROGRAM, xbar, gen);
    k->drift = aimc_rng_key(s->seed, AIMC_RNG_DOMAIN_DRIFT, xbar, gen);
    k->verify = aimc_rng_key(s->seed, AIMC_RNG_DOMAIN_VERIFY, xbar, gen);
    k->rounds = rounds;
    k->tol_lv = tol_lv;
}

/* The programmed value (level units) of the device in `cell` aimed at level t_lv, after its
 * write and the verify rounds: a pure function of its keys (docs/devices.md). *nu gets its
 * drift exponent (pcm, else 0), *redraws the verify re-writes it received (its pulses beyond
 * the first). A stuck device holds its stuck value and misses every round it is off target. */
static double device_prog(const aimc_xbar *s, const prog_keys *k, uint64_t cell, double t_lv,
                          double *nu, uint32_t *redraws)
{
    const aimc_arch *a = &s->arch;
    int f = aimc_xbar_fault_of(a, s->seed, k->xbar, cell);
    double g;
    *nu = 0.0;
    *redraws = 0;
    if (f != AIMC_FAULT_NONE) {
        g = f == AIMC_FAULT_STUCK_ON ? (double)s->level_max : 0.0;
        if (k->rounds > 0 && fabs(g - t_lv) > k->tol_lv) *redraws = k->rounds;
        return g;
    }
    g = a->device.type == AIMC_DEVICE_IDEAL
            ? t_lv
            : write_device(s, t_lv, aimc_rng_normal(k->program, cell));
    for (uint32_t r = 1; r <= k->rounds && fabs(g - t_lv) > k->tol_lv; r++) {
        (*redraws)++;
        g = write_device(s, t_lv, aimc_rng_normal(aimc_rng_key(k->verify, r, 0, 0), cell));
    }
    if (a->device.type == AIMC_DEVICE_PCM) {
        double mu, sg;
        aimc_pcm_drift_params(a->device.g_min_us + t_lv * s->dg_us, a->device.g_max_us, &mu, &sg);
        *nu = (double)(float)fabs(mu + sg * aimc_rng_normal(k->drift, cell));
    }
    return g;
}

/* The device as read at the current read time: conductance (level units) and read variance
 * (level^2 units) of one read. Exactly the programmed value when nothing changes it. */
static double device_read(const aimc_xbar *s, double g_lv, double nu, uint32_t row, uint32_t pcol,
                          double *var_lv2)
{
    const aimc_arch *a = &s->arch;
    const double r_ohm = a->crossbar.wire_resistance_ohm;
    double g_us = a->device.g_min_us + g_lv * s->dg_us, sig_us = 0.0, t;
    int changed = 0;
    switch (a->device.type) {
    case AIMC_DEVICE_GENERIC: sig_us = a->device.read_sigma_us; break;
    case AIMC_DEVICE_RRAM:
        t = a->device.read_sigma_rel * g_us;
        sig_us = sqrt(a->device.read_sigma_us * a->device.read_sigma_us + t * t);
        break;
    case AIMC_DEVICE_PCM:
        t = a->device.read_time_s;
        sig_us = aimc_pcm_read_rel_sigma(g_us, a->device.g_max_us, t);
        g_us *= aimc_pcm_drift_factor(nu, t);
        sig_us *= fabs(g_us);
        changed = 1;
        break;
    default: break;
    }
    if (r_ohm > 0.0) {
        /* First-order IR drop (docs/devices.md): the device in series with the wire from the
         * word-line driver (column 0 side) and to the ADC (below the last row). */
        double segs = (double)(pcol + 1) + (double)(a->crossbar.rows - row);
        double f = 1.0 / (1.0 + g_us * 1e-6 * r_ohm * segs);
        g_us *= f;
        sig_us *= f;
        changed = 1;
    }
    *var_lv2 = (sig_us / s->dg_us) * (sig_us / s->dg_us);
    return changed ? (g_us - a->device.g_min_us) / s->dg_us : g_lv;
}

/* Whether every device has the same read sigma (then the read variance of a column is that
 * sigma^2 times sum u^2, without a per-device product). */
int xbar_uniform_sigma(const aimc_xbar *s)
{
    const aimc_arch *a = &s->arch;
    return a->device.type == AIMC_DEVICE_IDEAL || a->device.type == AIMC_DEVICE_GENERIC ||
           (a->device.type == AIMC_DEVICE_RRAM && a->device.read_sigma_rel == 0.0 &&
            a->crossbar.wire_resistance_ohm == 0.0);
}

/* The ADC LSB of a tile of nrows rows at full scale, in level units (common/arch.c). */
static double tile_lsb(const aimc_xbar *s, uint32_t nrows)
{
    return aimc_arch_full_scale_lsb(&s->arch, nrows);
}

/* ---- a tile's packed read data ------------------------------------------------------ */

/* The target levels (device grid, level units) of the devices of a pair with signed target
 * level td: differential G+ and G-, or the one offset device (*tb = 0). Returns the target
 * signal ta - tb. */
static double pair_targets(const aimc_xbar *s, int td, double *ta, double *tb)
{
    if (s->cpw == 2) {
        *ta = s->snapped[td > 0 ? td : 0];
        *tb = s->snapped[td < 0 ? -td : 0];
        return *ta - *tb;
    }
    *ta = s->snapped[td];
    *tb = 0.0;
    return *ta;
}

/* Scratch of tile_build, sized for the largest tile. */
typedef struct build_scratch {
    double *d;     /* nrows x ncols: mean read signal D (clipped reads), level units */
    double *g;     /* nrows x ncols: the signal of the conductances themselves (no read noise) */
    double *v;     /* nrows x ncols: read variance of the pair (clipped reads), level^2 */
    double *c0;    /* ncols: column sums right after programming */
    int16_t *td;   /* nrows x ncols: signed target levels */
} build_scratch;

/* What a build saw of the devices (for the program-and-verify report). */
typedef struct build_stats {
    uint64_t cells, redraws, failed;
    uint32_t max_redraws;
    double sum2;      /* squared programming error, level^2 */
    int count_failed; /* verify options were given: count devices outside the tolerance */
} build_stats;

/* Beyond this many sigmas above 0 the clipping of a read changes its mean and variance by
 * less than 1e-17 of sigma (Phi(-9) = 1.1e-19): the read is the unclipped Gaussian. */
#define CLIP_FAR 9.0

/* The read of a device of conductance g_us (>= 0) with read noise sigma_us, clipped at 0 (a
 * conductance is never negative): X = max(0, g + sigma Z). Its mean and variance, exactly
 * (the rectified normal: x = g / sigma, Q = Phi(-x), phi the standard density), as the
 * shift of the mean E X - g = sigma (phi(x) - x Q) and
 *   Var X = sigma^2 (1 - Q + x^2 Q (1 - Q) - x phi(x) (1 - 2 Q) - phi(x)^2).
 * docs/devices.md, "Read noise near g = 0". */
static void clipped_read(double g_us, double sigma_us, double *shift_us, double *var_us2)
{
    *shift_us = 0.0;
    *var_us2 = sigma_us * sigma_us;
    if (sigma_us <= 0.0) return;
    const double x = g_us / sigma_us;
    if (x >= CLIP_FAR) return;
    const double q = 0.5 * erfc(x * M_SQRT1_2);
    const double phi = exp(-0.5 * x * x) * 0.39894228040143267794; /* 1 / sqrt(2 pi) */
    *shift_us = sigma_us * (phi - x * q);
    const double r = 1.0 - q + x * x * q * (1.0 - q) - x * phi * (1.0 - 2.0 * q) - phi * phi;
    *var_us2 = sigma_us * sigma_us * (r > 0.0 ? r : 0.0);
}

/* The PK14 word of a pair: target field f (3 bits) and the residual r biased by 1024. */
static uint32_t pk_word(int f, long r)
{
    return ((uint32_t)f << PK_RES_BITS) | (uint32_t)(r + PK_RES_MAX + 1);
}

/* (Re)build tile tl's read data from its targets td (nrows x ncols signed levels) at the
 * current read options: regenerate every device, read it, choose the fixed point, pack.
 * Allocates the new storage before freeing the old: on AIMC_ERR_NOMEM tl is unchanged. */
static int tile_build(const aimc_xbar *s, sim_tile *tl, const int16_t *td, build_scratch *b,
                      build_stats *bs)
{
    const aimc_tile *t = &tl->t;
    const aimc_arch *a = &s->arch;
    const size_t pcols = (size_t)a->crossbar.cols, n = (size_t)t->nrows * t->ncols;
    const double gmin = a->device.g_min_us, dg = s->dg_us;
    prog_keys keys;
    double max_d = 0.0, max_v = 0.0, max_res = 0.0, r0 = 0.0, rt = 0.0;
    int exact = 1;

    prog_keys_of(s, t->xbar, tl->wgen, tl->vrounds, tl->vtol_lv, &keys);
    for (uint32_t j = 0; j < t->ncols; j++) b->c0[j] = 0.0;
    for (uint32_t i = 0; i < t->nrows; i++) {
        const size_t cell0 = i * pcols + t->xbar_col0;
        double sum_lv = 0.0;
        for (uint32_t j = 0; j < t->ncols; j++) {
            const size_t k = (size_t)i * t->ncols + j;
            const uint32_t pc = t->xbar_col0 + j * (uint32_t)s->cpw;
            double ta, tb, nua, nub = 0.0, va, vb = 0.0, gb = 0.0, rb = 0.0;
            double ma, mb = 0.0, ca, cb = 0.0;
            uint32_t ka, kb = 0;
            const double tdiff = pair_targets(s, td[k], &ta, &tb);
            const double ga = device_prog(s, &keys, cell0 + (size_t)j * s->cpw, ta, &nua, &ka);
            const double ra = device_read(s, ga, nua, i, pc, &va);
            clipped_read(gmin + ra * dg, sqrt(va) * dg, &ma, &ca);
            if (s->cpw == 2) {
                gb = device_prog(s, &keys, cell0 + 2 * (size_t)j + 1, tb, &nub, &kb);
                rb = device_read(s, gb, nub, i, pc + 1, &vb);
                clipped_read(gmin + rb * dg, sqrt(vb) * dg, &mb, &cb);
            }
            /* The mean read in level units (exactly the read conductances where nothing
             * clips). */
            const double dv = (ra + ma / dg) - (rb + mb / dg);
            const double vv = (ca + cb) / (dg * dg);
            b->d[k] = dv;
            b->g[k] = ra - rb;
            b->v[k] = vv;
            b->c0[j] += ga - gb;
            if (fabs(dv) > max_d) max_d = fabs(dv);
            if (fabs(dv - tdiff) > max_res) max_res = fabs(dv - tdiff);
            if (vv > max_v) max_v = vv;
            exact &= vv == 0.0 && dv == (double)td[k];
            sum_lv += ra + rb;
            if (bs) {
                bs->cells += (uint64_t)s->cpw;
                bs->redraws += ka + kb;
                if (ka > bs->max_redraws) bs->max_redraws = ka;
                if (kb > bs->max_redraws) bs->max_redraws = kb;
                bs->sum2 += (ga - ta) * (ga - ta) + (s->cpw == 2 ? (gb - tb) * (gb - tb) : 0.0);
                if (bs->count_failed) {
                    bs->failed += fabs(ga - ta) > tl->vtol_lv;
                    if (s->cpw == 2) bs->failed += fabs(gb - tb) > tl->vtol_lv;
                }
            }
        }
        tl->row_g_us[i] = (float)((double)t->ncols * s->cpw * gmin + sum_lv * dg);
    }

    /* Fixed point: the largest q <= 14 with max |D| 2^q in int16, lowered so that every
     * column sum (at most nrows * u_max * max|D| 2^q) is an exact float, unless that would
     * leave fewer than 8 fractional bits: then sums are taken in double (exact below 2^53). */
    int q16 = 14;
    while (q16 > -16 && max_d * ldexp(1.0, q16) > 32767.0) q16--;
    double bound = (double)t->nrows * s->u_max * (max_d > 0.0 ? max_d : 1.0);
    int qf = 14, q, f32;
    while (qf > -40 && bound * ldexp(1.0, qf) >= 16777216.0) qf--;
    int want = q16 < 8 ? q16 : 8;
    if (qf >= want) {
        f32 = 1;
        q = qf < q16 ? qf : q16;
    } else {
        f32 = 0;
        q = q16;
    }

    /* Packed when the grid holds every level (the target's D is then the signed level
     * times 2^q), the targets fit 3 bits and the residuals D - target 11 bits at a q that
     * keeps at least min(q, PK_Q_MIN) fractional bits. */
    int fmt = SIM_FMT_WIDE, qp = q;
    if (s->pk_ok && q >= 0) {
        const int qmin = q < PK_Q_MIN ? q : PK_Q_MIN;
        while (qp > qmin && max_res * ldexp(1.0, qp) + 1.0 > (double)PK_RES_MAX) qp--;
        const double sc = ldexp(1.0, qp);
        fmt = SIM_FMT_PK14;
        for (size_t k = 0; k < n && fmt == SIM_FMT_PK14; k++) {
            long r = lround(b->d[k] * sc) - (long)td[k] * (1L << qp);
            if (r > PK_RES_MAX || r < -PK_RES_MAX - 1) fmt = SIM_FMT_WIDE;
        }
        if (fmt == SIM_FMT_PK14) q = qp;
    }

    /* Read variance: one value for every pair, or a plane in fixed point 2^-qs: at most
     * 65535 units, and every sum of u^2 v over the tile's rows below 2^53 (one step) and
     * below 2^32 (bit-serial, the kernel's buckets). */
    int vmode = SIM_VAR_NONE, qs = 0;
    double vpair = 0.0;
    if (max_v > 0.0) {
        vmode = SIM_VAR_UNIFORM;
        vpair = b->v[0];
        for (size_t k = 1; k < n && vmode == SIM_VAR_UNIFORM; k++)
            if (b->v[k] != vpair) vmode = SIM_VAR_PLANE;
    }
    /* One sigma for every device (generic, rram without read_sigma_rel): pairs differ only
     * where clipping near 0 lowers a variance; a column's noise takes the mean of its pairs'
     * (docs/devices.md, "Read noise near g = 0"). */
    if (vmode == SIM_VAR_PLANE && xbar_uniform_sigma(s)) vmode = SIM_VAR_COLUMN;
    if (vmode == SIM_VAR_PLANE) {
        const double u2 = (double)s->u_max * s->u_max * t->nrows;
        qs = 60;
        while (qs > -60 && (max_v * ldexp(1.0, qs) > 65535.0 ||
                            u2 * max_v * ldexp(1.0, qs) > 4.0e15 ||
                            (double)t->nrows * max_v * ldexp(1.0, qs) > 4.0e9))
            qs--;
    }

    uint8_t *pk = calloc(xbar_pk_bytes(fmt, n), 1);
    uint16_t *vq = vmode == SIM_VAR_PLANE ? malloc(n * sizeof *vq) : NULL;
    double *vcol = vmode == SIM_VAR_COLUMN ? calloc(t->ncols, sizeof *vcol) : NULL;
    if (!pk || (vmode == SIM_VAR_PLANE && !vq) || (vmode == SIM_VAR_COLUMN && !vcol)) {
        free(pk);
        free(vq);
        free(vcol);
        return AIMC_ERR_NOMEM;
    }
    const double sc = ldexp(1.0, q);
    if (fmt == SIM_FMT_WIDE) {
        int16_t *w = (int16_t *)(void *)pk;
        for (size_t k = 0; k < n; k++) {
            w[k] = (int16_t)lround(b->d[k] * sc);
            w[n + k] = td[k];
        }
    } else {
        for (size_t k = 0; k < n; k++)
            xbar_pk_put(pk, k,
                        pk_word(td[k] + s->td_off, lround(b->d[k] * sc) - (long)td[k] * (1L << q)));
    }
    if (vq) {
        const double ss = ldexp(1.0, qs);
        for (size_t k = 0; k < n; k++) vq[k] = (uint16_t)nearbyint(b->v[k] * ss);
    }
    if (vcol) {
        for (size_t k = 0; k < n; k++) vcol[k % t->ncols] += b->v[k];
        for (uint32_t j = 0; j < t->ncols; j++) vcol[j] /= (double)t->nrows;
    }
    free(tl->pk);
    free(tl->vq);
    free(tl->vcol);
    tl->pk = pk;
    tl->vq = vq;
    tl->vcol = vcol;
    tl->fmt = fmt;
    tl->q = q;
    tl->pkc = fmt == SIM_FMT_PK14 ? (PK_RES_MAX + 1) + (s->td_off << q) : 0;
    tl->f32 = f32;
    tl->vmode = vmode;
    tl->vpair = vpair;
    tl->qs = qs;

    /* Drift compensation: the response to all word lines at full scale, sum over columns of
     * |column output|, right after programming (r0) and now (rt), of the conductances (the
     * calibration reads average the read noise away). */
    tl->comp = 1.0;
    if (a->device.drift_compensation) {
        for (uint32_t j = 0; j < t->ncols; j++) {
            double c = 0.0;
            for (uint32_t i = 0; i < t->nrows; i++) c += b->g[(size_t)i * t->ncols + j];
            r0 += fabs(b->c0[j]);
            rt += fabs(c);
        }
        if (rt > 0.0 && r0 > 0.0) tl->comp = r0 / rt;
    }
    tl->noiseless = exact && tl->comp == 1.0;
    tl->epoch = s->epoch;
    return AIMC_OK;
}

/* Rebuild a tile from its stored targets at the current read options. */
static int tile_refresh(const aimc_xbar *s, sim_tile *tl, build_scratch *b)
{
    const size_t n = (size_t)tl->t.nrows * tl->t.ncols;
    for (size_t k = 0; k < n; k++) b->td[k] = (int16_t)xbar_tile_td(s, tl, k);
    return tile_build(s, tl, b->td, b, NULL);
}

static void build_scratch_free(build_scratch *b)
{
    free(b->d);
    free(b->g);
    free(b->v);
    free(b->c0);
    free(b->td);
    memset(b, 0, sizeof *b);
}

static int build_scratch_alloc(build_scratch *b, uint32_t max_rows, uint32_t max_cols)
{
    const size_t n = (size_t)max_rows * max_cols;
    b->d = malloc(n * sizeof *b->d);
    b->g = malloc(n * sizeof *b->g);
    b->v = malloc(n * sizeof *b->v);
    b->c0 = malloc((size_t)max_cols * sizeof *b->c0);
    b->td = malloc(n * sizeof *b->td);
    if (!b->d || !b->g || !b->v || !b->c0 || !b->td) {
        build_scratch_free(b);
        return AIMC_ERR_NOMEM;
    }
    return AIMC_OK;
}

int xbar_refresh_matrix(const aimc_xbar *s, sim_matrix *m)
{
    build_scratch bsc = {0};
    int rc = AIMC_OK;
    for (size_t k = 0; k < m->n_tiles && rc == AIMC_OK; k++) {
        if (m->tiles[k].epoch == s->epoch) continue;
        if (!bsc.d && build_scratch_alloc(&bsc, m->max_tile_rows, m->max_tile_cols))
            rc = AIMC_ERR_NOMEM;
        else
            rc = tile_refresh(s, &m->tiles[k], &bsc);
    }
    build_scratch_free(&bsc);
    m->exact = xbar_exact_mode(s, m);
    return rc;
}

/* Signed target levels of tile tl's pairs from the weight codes: the slice's level of |q|,
 * signed by q (differential), or the slice's level of q + 2^(Wb-1) (offset). */
static void tile_targets(const aimc_xbar *s, const sim_tile *tl, const int32_t *codes,
                         uint32_t cols, int16_t *td)
{
    const aimc_tile *t = &tl->t;
    const int32_t offset = (int32_t)(UINT32_C(1) << (s->arch.crossbar.weight_bits - 1));
    const uint32_t lm = (uint32_t)s->level_max;
    for (uint32_t i = 0; i < t->nrows; i++) {
        const int32_t *qrow = codes + (size_t)(t->row0 + i) * cols + t->col0;
        int16_t *out = td + (size_t)i * t->ncols;
        for (uint32_t j = 0; j < t->ncols; j++) {
            int32_t q = qrow[j];
            if (s->cpw == 2) {
                int l = (int)(((uint32_t)(q < 0 ? -q : q) >> tl->shift) & lm);
                out[j] = (int16_t)(q < 0 ? -l : l);
            } else {
                out[j] = (int16_t)(((uint32_t)(q + offset) >> tl->shift) & lm);
            }
        }
    }
}

/* The matrix's tiles in the order the machine runs them (aimc_tile_order: by crossbar, then
 * first column), and each tile's round on its crossbar and the tiles sharing it: a read's event
 * number counts the crossbar's activations in that order. */
static int matrix_plan(sim_matrix *m, const aimc_tile *tiles)
{
    uint32_t *rank = malloc(m->n_tiles * sizeof *rank), *count = malloc(m->n_tiles * sizeof *count);
    int rc = AIMC_ERR_NOMEM;
    if (rank && count && aimc_tile_order(tiles, m->n_tiles, m->order, rank, count) == 0) {
        for (size_t k = 0; k < m->n_tiles; k++) {
            m->tiles[k].xbar_slot = rank[k];
            m->tiles[k].xbar_tiles = count[k];
        }
        rc = AIMC_OK;
    }
    free(rank);
    free(count);
    return rc;
}

static int cmp_dbl(const void *pa, const void *pb)
{
    double x = *(const double *)pa, y = *(const double *)pb;
    return x < y ? -1 : x > y;
}

/* Calibrated ADC range (adc.range max or percentile, docs/simulator.md): the tile's
 * noise-free column signals for SIM_CALIB_VECTORS inputs uniform in [-1, 1], keyed by (seed,
 * calibration, matrix id) and counter vector x rows + row, through the DAC as any input; the
 * largest |signal| or its percentile is full scale. Falls back to full scale when that is 0.
 * pcal: SIM_CALIB_VECTORS x rows codes. Scratch: u (steps*V x nrows), dd (nrows x ncols),
 * tmp (floats, nrows x ncols), out (steps*V x ncols). */
static double tile_lsb_calibrated(const aimc_xbar *s, const sim_tile *tl, uint32_t rows,
                                  const int32_t *pcal, double *u, double *dd, float *tmp,
                                  double *out)
{
    const aimc_tile *t = &tl->t;
    const int serial = s->arch.dac.mode == AIMC_DAC_BIT_SERIAL;
    const uint32_t V = SIM_CALIB_VECTORS, M = (uint32_t)s->steps * V;
    for (int step = 0; step < s->steps; step++)
        for (uint32_t v = 0; v < V; v++) {
            double *ur = u + ((size_t)step * V + v) * t->nrows;
            const int32_t *pv = pcal + (size_t)v * rows + t->row0;
            for (uint32_t i = 0; i < t->nrows; i++) ur[i] = xbar_drive_of(serial, pv[i], step);
        }
    xbar_unpack_d(tl, tmp, dd);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)t->ncols, (int)t->nrows,
                1.0, u, (int)t->nrows, dd, (int)t->ncols, 0.0, out, (int)t->ncols);
    const size_t n = (size_t)M * t->ncols;
    for (size_t k = 0; k < n; k++) out[k] = fabs(out[k]) * ldexp(1.0, -tl->q);
    double r;
    if (s->arch.adc.range == AIMC_ADC_RANGE_MAX) {
        r = 0.0;
        for (size_t k = 0; k < n; k++)
            if (out[k] > r) r = out[k];
    } else {
        qsort(out, n, sizeof *out, cmp_dbl);
        double pos = ceil(s->arch.adc.range_percentile / 100.0 * (double)n);
        size_t idx = pos < 1.0 ? 0 : (size_t)pos - 1;
        if (idx >= n) idx = n - 1;
        r = out[idx];
    }
    double top = ldexp(1.0, s->arch.adc.bits - 1) - 1.0;
    if (top < 1.0) top = 1.0;
    return r > 0.0 ? r / top : tile_lsb(s, t->nrows);
}

/* Weight scales (crossbar.weight_scale) and codes. Matrix: one scale, max |w| -> Q. Tile and
 * column: per block of the slice-0 tiles (every slice's tiles must cut the matrix into the
 * same blocks), max |w| of the block, or of each column of the block, -> Q. Scales are
 * floats, the codes lround(w / scale) clamped to [-Q, Q]. */
static int quantise(const aimc_xbar *s, sim_matrix *m, const float *w, const aimc_tile *tiles,
                    size_t n_tiles, int32_t *codes, aimc_diag *d)
{
    const uint32_t rows = m->rows, cols = m->cols;
    const int mode = s->arch.crossbar.weight_scale;
    const double Q = s->w_code_max;
    if (mode == AIMC_WSCALE_MATRIX) {
        float max_abs = 0.0f;
        for (size_t i = 0; i < (size_t)rows * cols; i++)
            if (fabsf(w[i]) > max_abs) max_abs = fabsf(w[i]);
        m->w_scale = max_abs > 0.0f ? (double)max_abs / Q : 1.0;
        for (size_t i = 0; i < (size_t)rows * cols; i++) {
            long q = lround((double)w[i] / m->w_scale);
            codes[i] = (int32_t)(q > Q ? Q : q < -Q ? -Q : q);
        }
        for (size_t k = 0; k < n_tiles; k++) m->tiles[k].scale = 1.0;
        return AIMC_OK;
    }
    m->w_scale = 1.0;
    /* Blocks: the slice-0 tiles. Every other tile must match one exactly. */
    for (size_t k = 0; k < n_tiles; k++) {
        const aimc_tile *t = &tiles[k];
        if (t->slice == 0) continue;
        size_t b = 0;
        for (; b < n_tiles; b++) {
            const aimc_tile *z = &tiles[b];
            if (z->slice == 0 && z->row0 == t->row0 && z->col0 == t->col0 &&
                z->nrows == t->nrows && z->ncols == t->ncols)
                break;
        }
        if (b == n_tiles)
            return aimc_diag_set(d, AIMC_ERR_INVALID,
                                 "tile %zu: crossbar.weight_scale %s needs every slice cut into "
                                 "the same blocks; no slice-0 tile holds rows %u.. columns %u..",
                                 k, mode == AIMC_WSCALE_TILE ? "tile" : "column", t->row0,
                                 t->col0);
    }
    for (size_t k = 0; k < n_tiles; k++) {
        const aimc_tile *t = &tiles[k];
        if (t->slice != 0) continue;
        for (uint32_t j = 0; j < (mode == AIMC_WSCALE_TILE ? 1u : t->ncols); j++) {
            const uint32_t c0 = mode == AIMC_WSCALE_TILE ? t->col0 : t->col0 + j;
            const uint32_t nc = mode == AIMC_WSCALE_TILE ? t->ncols : 1;
            float max_abs = 0.0f;
            for (uint32_t i = t->row0; i < t->row0 + t->nrows; i++)
                for (uint32_t c = c0; c < c0 + nc; c++)
                    if (fabsf(w[(size_t)i * cols + c]) > max_abs)
                        max_abs = fabsf(w[(size_t)i * cols + c]);
            float sc = max_abs > 0.0f ? (float)((double)max_abs / Q) : 1.0f;
            if (!(sc > 0.0f)) sc = 1.0f; /* below the smallest float: codes stay 0 */
            for (uint32_t i = t->row0; i < t->row0 + t->nrows; i++)
                for (uint32_t c = c0; c < c0 + nc; c++) {
                    long q = lround((double)w[(size_t)i * cols + c] / (double)sc);
                    codes[(size_t)i * cols + c] = (int32_t)(q > Q ? Q : q < -Q ? -Q : q);
                }
            /* Every tile of this block (any slice) gets the scale. */
            for (size_t b = 0; b < n_tiles; b++) {
                const aimc_tile *z = &tiles[b];
                if (z->row0 != t->row0 || z->col0 != t->col0 || z->nrows != t->nrows ||
                    z->ncols != t->ncols)
                    continue;
                if (mode == AIMC_WSCALE_TILE)
                    m->tiles[b].scale = sc;
                else
                    m->tiles[b].cscale[j] = sc;
            }
        }
    }
    return AIMC_OK;
}

int aimc_xbar_program(aimc_xbar *s, uint32_t id, const float *w, uint32_t rows, uint32_t cols,
                     const aimc_tile *tiles, size_t n_tiles, aimc_xbar_stats *st, aimc_diag *d)
{
    return aimc_xbar_program_verify(s, id, w, rows, cols, tiles, n_tiles, NULL, NULL, st, d);
}

/* Whether tile t of a live matrix shares devices with a tile of by_xbar (sorted by
 * crossbar, first column). */
static int overlaps(const aimc_xbar *s, const aimc_tile *t, const aimc_tile *tiles,
                    const tile_key *by_xbar, size_t n)
{
    size_t lo = 0, hi = n;
    while (lo < hi) { /* first new tile with (xbar, col0) >= (t->xbar, 0) */
        size_t mid = (lo + hi) / 2;
        if (by_xbar[mid].k1 < t->xbar)
            lo = mid + 1;
        else
            hi = mid;
    }
    const uint64_t t0 = t->xbar_col0, t1 = t0 + (uint64_t)t->ncols * s->cpw;
    for (size_t k = lo; k < n && by_xbar[k].k1 == t->xbar; k++) {
        const aimc_tile *u = &tiles[by_xbar[k].idx];
        const uint64_t u0 = u->xbar_col0, u1 = u0 + (uint64_t)u->ncols * s->cpw;
        if (u0 >= t1) break;
        if (u1 > t0) return 1;
    }
    return 0;
}

int aimc_xbar_program_verify(aimc_xbar *s, uint32_t id, const float *w, uint32_t rows,
                            uint32_t cols, const aimc_tile *tiles, size_t n_tiles,
                            const aimc_program_opts *opts, aimc_program_report *rep,
                            aimc_xbar_stats *st, aimc_diag *d)
{
    if (rep) memset(rep, 0, sizeof *rep);
    if (!s) return aimc_diag_set(d, AIMC_ERR_BADHANDLE, "aimc_xbar_program: NULL machine");
    if (id >= AIMC_XBAR_MAX_MATRICES)
        return aimc_diag_set(d, AIMC_ERR_RANGE, "matrix id %u outside 0..%d", id,
                             AIMC_XBAR_MAX_MATRICES - 1);
    if (!w || rows == 0 || cols == 0)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "matrix %u: no weights (%u x %u)", id, rows,
                             cols);
    if (!tiles || n_tiles == 0)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "matrix %u: no tiles", id);
    if (opts && (!isfinite(opts->tolerance_us) || opts->tolerance_us < 0.0))
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "matrix %u: verify tolerance must be a finite number >= 0 uS, got %g",
                             id, opts->tolerance_us);

    const aimc_arch *a = &s->arch;
    const size_t n_w = (size_t)rows * cols;
    for (size_t i = 0; i < n_w; i++)
        if (!isfinite(w[i]))
            return aimc_diag_set(d, AIMC_ERR_INVALID,
                                 "matrix %u: weight [%zu][%zu] is not a finite number", id,
                                 i / cols, i % cols);

    tile_key *by_xbar = NULL;
    int rc = validate_tiles(&s->arch, rows, cols, tiles, n_tiles, &by_xbar, d);
    if (rc) return rc;

    /* Everything that can fail happens before the machine changes. */
    int32_t *codes = NULL, *pcal = NULL;
    sim_matrix *m = NULL;
    build_scratch bsc = {0};
    double *cu = NULL, *cdd = NULL, *cout = NULL;
    float *ctmp = NULL, *cxv = NULL;
    uint64_t *xpulses = NULL;
    sim_matrix **mats = s->mats;
    build_stats bs = {0};
    const int calibrate = a->adc.range != AIMC_ADC_RANGE_FULL_SCALE;

    codes = malloc(n_w * sizeof *codes);
    m = calloc(1, sizeof *m);
    xpulses = calloc((size_t)s->n_xbars, sizeof *xpulses);
    if (!codes || !m || !xpulses) goto nomem;
    m->tiles = calloc(n_tiles, sizeof *m->tiles);
    m->order = malloc(n_tiles * sizeof *m->order);
    if (!m->tiles || !m->order) goto nomem;
    m->n_tiles = n_tiles;
    m->rows = rows;
    m->cols = cols;
    for (size_t k = 0; k < n_tiles; k++) {
        sim_tile *tl = &m->tiles[k];
        tl->t = tiles[k];
        tl->t.matrix = id;
        tl->scale = 1.0;
        tl->row_g_us = malloc((size_t)tl->t.nrows * sizeof *tl->row_g_us);
        if (!tl->row_g_us) goto nomem;
        if (a->crossbar.weight_scale == AIMC_WSCALE_COLUMN) {
            tl->cscale = malloc((size_t)tl->t.ncols * sizeof *tl->cscale);
            if (!tl->cscale) goto nomem;
        }
        if (tl->t.nrows > m->max_tile_rows) m->max_tile_rows = tl->t.nrows;
        if (tl->t.ncols > m->max_tile_cols) m->max_tile_cols = tl->t.ncols;
    }
    if (build_scratch_alloc(&bsc, m->max_tile_rows, m->max_tile_cols)) goto nomem;
    if (calibrate) {
        const size_t M = (size_t)s->steps * SIM_CALIB_VECTORS;
        pcal = malloc((size_t)SIM_CALIB_VECTORS * rows * sizeof *pcal);
        cu = malloc(M * m->max_tile_rows * sizeof *cu);
        cdd = malloc((size_t)m->max_tile_rows * m->max_tile_cols * sizeof *cdd);
        ctmp = malloc((size_t)m->max_tile_rows * m->max_tile_cols * sizeof *ctmp);
        cout = malloc(M * m->max_tile_cols * sizeof *cout);
        cxv = malloc((size_t)rows * sizeof *cxv);
        if (!pcal || !cu || !cdd || !ctmp || !cout || !cxv) goto nomem;
    }
    if (id >= s->mats_cap) {
        uint32_t cap = s->mats_cap ? s->mats_cap : 16;
        while (cap <= id) cap *= 2;
        if (cap > AIMC_XBAR_MAX_MATRICES) cap = AIMC_XBAR_MAX_MATRICES;
        mats = realloc(s->mats, cap * sizeof *mats);
        if (!mats) goto nomem;
        memset(mats + s->mats_cap, 0, (cap - s->mats_cap) * sizeof *mats);
        s->mats = mats;
        s->mats_cap = cap;
    }

    rc = quantise(s, m, w, tiles, n_tiles, codes, d);
    if (rc) goto fail;

    /* Build every tile with the generation its crossbar is about to get. */
    const int32_t offset = (int32_t)(UINT32_C(1) << (a->crossbar.weight_bits - 1));
    const uint32_t vrounds = opts ? opts->max_iterations : 0;
    const double vtol_lv = opts ? opts->tolerance_us / s->dg_us : 0.0;
    bs.count_failed = opts != NULL;
    for (size_t k = 0; k < n_tiles; k++) {
        sim_tile *tl = &m->tiles[k];
        const aimc_tile *t = &tl->t;
        const uint64_t cells0 = bs.cells, redraws0 = bs.redraws;
        tl->shift = (int)t->slice * s->bits;
        tl->off_scale = a->crossbar.sign_encoding == AIMC_SIGN_OFFSET
                            ? ldexp((double)((offset >> tl->shift) & s->level_max), tl->shift)
                            : 0.0;
        tl->wgen = s->xbars[t->xbar].gen + 1;
        tl->vrounds = vrounds;
        tl->vtol_lv = vtol_lv;
        tile_targets(s, tl, codes, cols, bsc.td);
        if (tile_build(s, tl, bsc.td, &bsc, &bs)) goto nomem;
        xpulses[t->xbar] += (bs.cells - cells0) + (bs.redraws - redraws0);
        tl->lsb = tile_lsb(s, t->nrows);
    }
    if (calibrate) {
        /* Calibration inputs through the DAC, then each tile's range (docs/simulator.md). */
        const uint64_t ckey = aimc_rng_key(s->seed, SIM_RNG_DOMAIN_CALIB, id, 0);
        for (uint32_t v = 0; v < SIM_CALIB_VECTORS; v++) {
            for (uint32_t i = 0; i < rows; i++)
                cxv[i] = (float)(2.0 * aimc_rng_uniform(ckey, (uint64_t)v * rows + i) - 1.0);
            (void)xbar_dac_codes(s, cxv, rows, pcal + (size_t)v * rows);
        }
        for (size_t k = 0; k < n_tiles; k++)
            m->tiles[k].lsb =
                tile_lsb_calibrated(s, &m->tiles[k], rows, pcal, cu, cdd, ctmp, cout);
    }
    if (matrix_plan(m, tiles)) goto nomem;

    /* The exact path's operand: the codes, kept when every device reads exactly its level
     * (docs/simulator.md, "The exact path"). */
    int all_exact = a->crossbar.weight_bits <= 16;
    for (size_t k = 0; k < n_tiles && all_exact; k++) all_exact = m->tiles[k].noiseless;
    if (all_exact) {
        m->code_bytes = a->crossbar.weight_bits <= 8 ? 1 : 2;
        m->codes = malloc(n_w * (size_t)m->code_bytes);
        if (!m->codes) goto nomem;
        if (m->code_bytes == 1)
            for (size_t i = 0; i < n_w; i++) ((int8_t *)m->codes)[i] = (int8_t)codes[i];
        else
            for (size_t i = 0; i < n_w; i++) ((int16_t *)m->codes)[i] = (int16_t)codes[i];
    }
    m->exact = xbar_exact_mode(s, m);

    /* Commit. Each crossbar this call writes gets one new generation; a live matrix of
     * another id whose devices this call overwrote goes stale (docs/simulator.md). */
    for (size_t k = 0; k < n_tiles; k++)
        if (k == 0 || tiles[by_xbar[k - 1].idx].xbar != tiles[by_xbar[k].idx].xbar)
            s->xbars[tiles[by_xbar[k].idx].xbar].gen++;
    for (uint32_t i = 0; i < s->mats_cap; i++) {
        sim_matrix *o = s->mats[i];
        if (!o || i == id || o->stale) continue;
        for (size_t k = 0; k < o->n_tiles; k++)
            if (overlaps(s, &o->tiles[k].t, tiles, by_xbar, n_tiles)) {
                o->stale = 1;
                o->stale_by = id;
                break;
            }
    }

    uint32_t rounds = 0;
    if (vrounds > 0) rounds = bs.max_redraws + 1 < vrounds ? bs.max_redraws + 1 : vrounds;
    const uint64_t pulses = bs.cells + bs.redraws;
    uint64_t xbars = 0, pulses_max = 0;
    for (size_t k = 0; k < n_tiles; k++) {
        const uint32_t x = tiles[by_xbar[k].idx].xbar;
        if (k > 0 && tiles[by_xbar[k - 1].idx].xbar == x) continue;
        xbars++;
        if (xpulses[x] > pulses_max) pulses_max = xpulses[x];
    }
    if (rep) {
        rep->iterations = rounds;
        rep->devices = bs.cells;
        rep->pulses = pulses;
        rep->devices_failed = bs.failed;
        rep->rms_error_us = bs.cells ? sqrt(bs.sum2 / (double)bs.cells) * s->dg_us : 0.0;
        rep->xbars = xbars;
        rep->pulses_max = pulses_max;
    }
    if (st) {
        st->program_pulses += pulses;
        st->cells_programmed += bs.cells;
    }

    matrix_free(s->mats[id]);
    s->mats[id] = m;
    m = NULL;
    rc = AIMC_OK;
    goto out;

nomem:
    rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "matrix %u: out of memory programming %zu tiles", id,
                       n_tiles);
fail:
    matrix_free(m);
out:
    free(codes);
    free(pcal);
    free(cu);
    free(cdd);
    free(ctmp);
    free(cout);
    free(cxv);
    build_scratch_free(&bsc);
    free(xpulses);
    free(by_xbar);
    return rc;
}

int aimc_xbar_check_tiles(const aimc_arch *a, uint32_t rows, uint32_t cols,
                          const aimc_tile *tiles, size_t n_tiles, aimc_diag *d)
{
    tile_key *by_xbar = NULL;
    if (!a || !tiles || n_tiles == 0 || rows == 0 || cols == 0)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "no tiles or an empty matrix");
    int rc = validate_tiles(a, rows, cols, tiles, n_tiles, &by_xbar, d);
    free(by_xbar);
    return rc;
}

/* The live tile holding physical column col of crossbar xbar in word line row, and its pair
 * index and device (0: G+ or the offset device, 1: G-); NULL when no live matrix holds it. */
static const sim_tile *tile_at(const aimc_xbar *s, uint32_t xbar, uint32_t row, uint32_t col,
                               size_t *pair, int *which)
{
    for (uint32_t i = 0; i < s->mats_cap; i++) {
        const sim_matrix *m = s->mats[i];
        if (!m || m->stale) continue;
        for (size_t k = 0; k < m->n_tiles; k++) {
            const aimc_tile *t = &m->tiles[k].t;
            if (t->xbar != xbar || row >= t->nrows || col < t->xbar_col0 ||
                col >= t->xbar_col0 + t->ncols * (uint32_t)s->cpw)
                continue;
            *pair = (size_t)row * t->ncols + (col - t->xbar_col0) / (uint32_t)s->cpw;
            *which = (int)((col - t->xbar_col0) % (uint32_t)s->cpw);
            return &m->tiles[k];
        }
    }
    return NULL;
}

int aimc_xbar_cell(const aimc_xbar *s, uint32_t xbar, uint32_t row, uint32_t col,
                    aimc_xbar_cell_info *out)
{
    if (!s) return AIMC_ERR_BADHANDLE;
    if (!out) return AIMC_ERR_INVALID;
    memset(out, 0, sizeof *out);
    if ((long)xbar >= s->n_xbars || row >= (uint32_t)s->arch.crossbar.rows ||
        col >= (uint32_t)s->arch.crossbar.cols)
        return AIMC_ERR_RANGE;
    const size_t cell = (size_t)row * s->arch.crossbar.cols + col;
    out->fault = aimc_xbar_fault_of(&s->arch, s->seed, xbar, cell);
    size_t pair;
    int which;
    const sim_tile *tl = tile_at(s, xbar, row, col, &pair, &which);
    if (!tl) return AIMC_OK;
    prog_keys keys;
    double ta, tb, nu, var;
    uint32_t k;
    prog_keys_of(s, xbar, tl->wgen, tl->vrounds, tl->vtol_lv, &keys);
    (void)pair_targets(s, xbar_tile_td(s, tl, pair), &ta, &tb);
    const double g = device_prog(s, &keys, cell, which ? tb : ta, &nu, &k);
    out->programmed = 1;
    out->g_prog_us = s->arch.device.g_min_us + g * s->dg_us;
    out->nu = nu;
    out->g_read_us = s->arch.device.g_min_us + device_read(s, g, nu, row, col, &var) * s->dg_us;
    out->read_sigma_us = sqrt(var) * s->dg_us;
    return AIMC_OK;
}

