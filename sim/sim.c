/* sim.c - the analog machine model: crossbar conductances, programming and read noise,
 * DAC, ADC, shift-and-add, and the time and energy of every matrix-vector product.
 *
 * The model, its formulas, its cost model and its random keys are in docs/simulator.md; the
 * contract is sim/aimc_sim.h. Conductances are stored per crossbar, row-major, as floats in
 * "level units": n = (g - g_min) / dG, dG = (g_max - g_min) / (2^bits_per_cell - 1), so that
 * an ideal device holds exact small integers and g_us = g_min + n * dG.
 */
#include "aimc_sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* One crossbar: conductances (rows x cols, level units, NULL until first programmed), the
 * number of program calls that wrote it, and the number of activations it has served. */
typedef struct sim_xbar {
    float *g_lv;
    uint64_t gen;
    uint64_t reads;
} sim_xbar;

/* One tile of a programmed matrix with what a read needs, derived from its crossbar's
 * conductances (rebuilt when the crossbar was written again since). */
typedef struct sim_tile {
    aimc_tile t;
    float *d;          /* nrows x ncols: column signal per unit input, level units */
    double *row_g_us;  /* nrows: sum of the conductances (uS) of the tile's devices in row i */
    uint64_t gen;      /* crossbar generation d and row_g_us were built from */
    double lsb;        /* ADC LSB of this tile, level units */
    double off_scale;  /* offset encoding: the part of 2^(Wb-1) this slice stores, weighted */
    int shift;         /* slice * bits_per_cell */
    int f32;           /* column sums fit float exactly: nrows * u_max * L <= 2^24 */
    uint32_t xbar_slot;  /* rank by first column among the matrix's tiles on its crossbar */
    uint32_t xbar_tiles; /* the matrix's tiles on that crossbar */
} sim_tile;

typedef struct sim_matrix {
    uint32_t rows, cols;
    double w_scale;
    size_t n_tiles;
    sim_tile *tiles;
    uint32_t max_tile_rows, max_tile_cols;
    /* Per-vector costs that do not depend on the data. */
    uint64_t cycles_per_vec;
    uint64_t xbar_reads_per_vec;
    uint64_t conversions_per_vec;
    uint64_t digital_ops_per_vec;
} sim_matrix;

struct aimc_sim {
    aimc_arch arch;
    uint64_t seed;
    long n_xbars;
    sim_xbar *xbars;
    sim_matrix **mats; /* indexed by id, mats_cap entries */
    uint32_t mats_cap;
    /* Derived from arch once. */
    int bits;      /* B */
    int level_max; /* L = 2^B - 1 */
    int slices;    /* S_w */
    int cpw;       /* physical columns per weight column */
    int steps;     /* input steps per vector */
    int n_dev;     /* devices per weight column per row: 2 or 1 */
    int32_t w_code_max; /* 2^(Wb-1) - 1 */
    int32_t x_code_max; /* 2^(Db-1) - 1 */
    int32_t u_max;      /* 1 or x_code_max */
    double dg_us;       /* dG */
};

void aimc_sim_stats_add(aimc_sim_stats *a, const aimc_sim_stats *b)
{
    if (!a || !b) return;
    a->cycles += b->cycles;
    a->time_ns += b->time_ns;
    for (int c = 0; c < AIMC_COMP_COUNT; c++) a->energy_pj[c] += b->energy_pj[c];
    a->mvms += b->mvms;
    a->xbar_reads += b->xbar_reads;
    a->dac_drives += b->dac_drives;
    a->adc_conversions += b->adc_conversions;
    a->adc_saturations += b->adc_saturations;
    a->digital_ops += b->digital_ops;
    a->cells_programmed += b->cells_programmed;
}

double aimc_sim_stats_energy_total(const aimc_sim_stats *s)
{
    double e = 0.0;
    if (!s) return 0.0;
    for (int c = 0; c < AIMC_COMP_COUNT; c++) e += s->energy_pj[c];
    return e;
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
    if (a->crossbar.bits_per_cell < 1 || a->crossbar.bits_per_cell > 16) return 0;
    if (a->crossbar.weight_bits < 2 || a->crossbar.weight_bits > 31) return 0;
    if (a->crossbar.sign_encoding != AIMC_SIGN_DIFFERENTIAL &&
        a->crossbar.sign_encoding != AIMC_SIGN_OFFSET)
        return 0;
    if (a->crossbar.sign_encoding == AIMC_SIGN_DIFFERENTIAL && a->crossbar.cols < 2) return 0;
    if (a->device.levels < (1 << a->crossbar.bits_per_cell)) return 0;
    if (!finite_nonneg(a->device.g_min_us) || !isfinite(a->device.g_max_us) ||
        a->device.g_max_us <= a->device.g_min_us)
        return 0;
    if (!finite_nonneg(a->device.program_sigma_us) || !finite_nonneg(a->device.read_sigma_us) ||
        !finite_nonneg(a->device.read_voltage_v))
        return 0;
    if (!finite_nonneg(a->crossbar.integration_ns)) return 0;
    if (a->dac.bits < 2 || a->dac.bits > 31) return 0;
    if (a->dac.mode != AIMC_DAC_BIT_SERIAL && a->dac.mode != AIMC_DAC_MULTI_BIT) return 0;
    if (!finite_nonneg(a->dac.energy_pj)) return 0;
    if (a->adc.bits < 1 || a->adc.bits > 52) return 0;
    if (a->adc.per_crossbar < 1) return 0;
    if (!finite_nonneg(a->adc.conversion_ns) || !finite_nonneg(a->adc.energy_pj)) return 0;
    if (!finite_nonneg(a->digital.energy_pj_per_op) || a->digital.ops_per_cycle < 1) return 0;
    if (a->hierarchy.crossbars_per_core < 1 || a->hierarchy.cores_per_chip < 1 ||
        a->hierarchy.chips < 1)
        return 0;
    if (!isfinite(a->clock.frequency_mhz) || a->clock.frequency_mhz <= 0.0) return 0;
    long total = aimc_arch_total_crossbars(a);
    if (total < 1 || (unsigned long)total > UINT32_MAX) return 0;
    return 1;
}

int aimc_sim_create(const aimc_arch *arch, uint64_t seed, aimc_sim **out)
{
    if (!out) return AIMC_ERR_INVALID;
    *out = NULL;
    if (!arch || !arch_usable(arch)) return AIMC_ERR_INVALID;
    if (arch->device.type != AIMC_DEVICE_IDEAL && arch->device.type != AIMC_DEVICE_GENERIC)
        return AIMC_ERR_UNSUPPORTED;

    aimc_sim *s = calloc(1, sizeof *s);
    if (!s) return AIMC_ERR_NOMEM;
    s->arch = *arch;
    s->seed = seed;
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
    s->w_code_max = (int32_t)((UINT32_C(1) << (arch->crossbar.weight_bits - 1)) - 1);
    s->x_code_max = (int32_t)((UINT32_C(1) << (arch->dac.bits - 1)) - 1);
    s->u_max = arch->dac.mode == AIMC_DAC_BIT_SERIAL ? 1 : s->x_code_max;
    s->dg_us = (arch->device.g_max_us - arch->device.g_min_us) / s->level_max;
    *out = s;
    return AIMC_OK;
}

static void matrix_free(sim_matrix *m)
{
    if (!m) return;
    for (size_t k = 0; k < m->n_tiles; k++) {
        free(m->tiles[k].d);
        free(m->tiles[k].row_g_us);
    }
    free(m->tiles);
    free(m);
}

void aimc_sim_destroy(aimc_sim *s)
{
    if (!s) return;
    for (uint32_t i = 0; i < s->mats_cap; i++) matrix_free(s->mats[i]);
    free(s->mats);
    for (long x = 0; x < s->n_xbars; x++) free(s->xbars[x].g_lv);
    free(s->xbars);
    free(s);
}

const aimc_arch *aimc_sim_arch(const aimc_sim *s)
{
    return s ? &s->arch : NULL;
}

int aimc_sim_matrix_shape(const aimc_sim *s, uint32_t id, uint32_t *rows, uint32_t *cols)
{
    if (!s) return AIMC_ERR_BADHANDLE;
    if (id >= AIMC_SIM_MAX_MATRICES) return AIMC_ERR_RANGE;
    if (id >= s->mats_cap || !s->mats[id]) return AIMC_ERR_STATE;
    if (rows) *rows = s->mats[id]->rows;
    if (cols) *cols = s->mats[id]->cols;
    return AIMC_OK;
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

/* Every check of aimc_sim_program that does not allocate beyond its scratch. On success
 * *by_xbar holds the tile indices sorted by (crossbar, first column); the caller frees it. */
static int validate_tiles(const aimc_sim *s, uint32_t rows, uint32_t cols, const aimc_tile *tiles,
                          size_t n_tiles, tile_key **by_xbar, aimc_diag *d)
{
    const aimc_arch *a = &s->arch;
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

/* acc[j] += sd * normal(key, c0 + j), j < n, the normals drawn two at a time. */
static void add_normals(double *acc, uint32_t n, uint64_t key, uint64_t c0, double sd)
{
    uint32_t j = 0;
    uint64_t c = c0;
    double z0, z1;
    if (n > 0 && (c & 1)) {
        acc[j++] += sd * aimc_rng_normal(key, c++);
    }
    for (; j + 2 <= n; j += 2, c += 2) {
        aimc_rng_normal_pair(key, c >> 1, &z0, &z1);
        acc[j] += sd * z0;
        acc[j + 1] += sd * z1;
    }
    if (j < n) acc[j] += sd * aimc_rng_normal(key, c);
}

/* Nearest point of the device's level grid to level l, in level units (exact when the grid
 * contains the level: k * L / (levels - 1) is then an integer computed exactly). */
static double snap_level(const aimc_sim *s, int l)
{
    int steps = s->arch.device.levels - 1;
    long k = lround((double)l * steps / s->level_max);
    return (double)(k * s->level_max) / steps;
}

/* Rebuild a tile's read data from its crossbar's conductances. Cannot fail. */
static void tile_refresh(const aimc_sim *s, sim_tile *tl)
{
    const aimc_tile *t = &tl->t;
    const sim_xbar *xb = &s->xbars[t->xbar];
    const size_t pcols = (size_t)s->arch.crossbar.cols;
    const double gmin = s->arch.device.g_min_us, dg = s->dg_us;
    for (uint32_t i = 0; i < t->nrows; i++) {
        const float *g = xb->g_lv + i * pcols + t->xbar_col0;
        float *drow = tl->d + (size_t)i * t->ncols;
        double sum_lv = 0.0;
        if (s->cpw == 2) {
            for (uint32_t j = 0; j < t->ncols; j++) {
                drow[j] = (float)((double)g[2 * j] - (double)g[2 * j + 1]);
                sum_lv += (double)g[2 * j] + (double)g[2 * j + 1];
            }
        } else {
            for (uint32_t j = 0; j < t->ncols; j++) {
                drow[j] = g[j];
                sum_lv += g[j];
            }
        }
        tl->row_g_us[i] = (double)t->ncols * s->cpw * gmin + sum_lv * dg;
    }
    tl->gen = xb->gen;
}

/* The ADC LSB of a tile of nrows rows, in level units: the smallest power of two with
 * (2^(Ab-1) - 1) * LSB >= R = nrows * u_max * L (1 * LSB >= R when Ab = 1). */
static double tile_lsb(const aimc_sim *s, uint32_t nrows)
{
    double range = (double)nrows * s->u_max * s->level_max;
    double top = ldexp(1.0, s->arch.adc.bits - 1) - 1.0;
    if (top < 1.0) top = 1.0;
    int e;
    (void)frexp(range / top, &e);
    double lsb = ldexp(1.0, e);
    while (lsb * top < range) lsb *= 2.0;
    while ((lsb / 2.0) * top >= range) lsb /= 2.0;
    return lsb;
}

/* Data-independent per-vector costs: tiles on one crossbar run in sequence, crossbars in
 * parallel; digital work of a core is its tiles' shift-and-adds and accumulations. Also each
 * tile's rank among the matrix's tiles on its crossbar (for read event numbers). */
static void matrix_plan(const aimc_sim *s, sim_matrix *m, const tile_key *by_xbar)
{
    const aimc_arch *a = &s->arch;
    const int hpc = a->hierarchy.crossbars_per_core;
    double analog_ns = 0.0, xbar_ns = 0.0;
    uint64_t core_ops = 0, max_core_ops = 0;
    long cur_xbar = -1, cur_core = -1;
    size_t run_first = 0;
    m->xbar_reads_per_vec = 0;
    m->conversions_per_vec = 0;
    m->digital_ops_per_vec = 0;
    for (size_t k = 0; k < m->n_tiles; k++) {
        sim_tile *tl = &m->tiles[by_xbar[k].idx];
        const aimc_tile *t = &tl->t;
        long xb = (long)t->xbar, core = (long)t->xbar / hpc;
        if (xb != cur_xbar) {
            xbar_ns = 0.0;
            cur_xbar = xb;
            run_first = k;
        }
        tl->xbar_slot = (uint32_t)(k - run_first);
        if (core != cur_core) {
            core_ops = 0;
            cur_core = core;
        }
        double t_step = a->crossbar.integration_ns +
                        ceil((double)t->ncols / a->adc.per_crossbar) * a->adc.conversion_ns;
        xbar_ns += s->steps * t_step;
        if (xbar_ns > analog_ns) analog_ns = xbar_ns;
        uint64_t ops = (uint64_t)t->ncols * s->steps + t->ncols;
        core_ops += ops;
        if (core_ops > max_core_ops) max_core_ops = core_ops;
        m->xbar_reads_per_vec += (uint64_t)s->steps;
        m->conversions_per_vec += (uint64_t)t->ncols * s->steps;
        m->digital_ops_per_vec += ops;
    }
    /* Slots were counted up along each crossbar's run; the run's last slot + 1 is its size. */
    for (size_t k = m->n_tiles; k-- > 0;) {
        sim_tile *tl = &m->tiles[by_xbar[k].idx];
        int last = k + 1 == m->n_tiles || m->tiles[by_xbar[k + 1].idx].t.xbar != tl->t.xbar;
        tl->xbar_tiles = last ? tl->xbar_slot + 1 : m->tiles[by_xbar[k + 1].idx].xbar_tiles;
    }
    uint64_t ppc = (uint64_t)a->digital.ops_per_cycle;
    m->cycles_per_vec = (uint64_t)ceil(analog_ns * a->clock.frequency_mhz / 1000.0) +
                        (max_core_ops + ppc - 1) / ppc;
}

int aimc_sim_program(aimc_sim *s, uint32_t id, const float *w, uint32_t rows, uint32_t cols,
                     const aimc_tile *tiles, size_t n_tiles, aimc_sim_stats *st, aimc_diag *d)
{
    if (!s) return aimc_diag_set(d, AIMC_ERR_BADHANDLE, "aimc_sim_program: NULL machine");
    if (id >= AIMC_SIM_MAX_MATRICES)
        return aimc_diag_set(d, AIMC_ERR_RANGE, "matrix id %u outside 0..%d", id,
                             AIMC_SIM_MAX_MATRICES - 1);
    if (!w || rows == 0 || cols == 0)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "matrix %u: no weights (%u x %u)", id, rows,
                             cols);
    if (!tiles || n_tiles == 0)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "matrix %u: no tiles", id);

    const aimc_arch *a = &s->arch;
    const size_t n_w = (size_t)rows * cols;
    float max_abs = 0.0f;
    for (size_t i = 0; i < n_w; i++) {
        if (!isfinite(w[i]))
            return aimc_diag_set(d, AIMC_ERR_INVALID,
                                 "matrix %u: weight [%zu][%zu] is not a finite number", id,
                                 i / cols, i % cols);
        float v = fabsf(w[i]);
        if (v > max_abs) max_abs = v;
    }

    tile_key *by_xbar = NULL;
    int rc = validate_tiles(s, rows, cols, tiles, n_tiles, &by_xbar, d);
    if (rc) return rc;

    /* Everything that can fail is allocated before the machine changes. */
    int32_t *codes = NULL;
    sim_matrix *m = NULL;
    float **fresh = NULL; /* new crossbar storage, by position in by_xbar */
    double *snapped = NULL; /* level l -> its point of the device grid, level units */
    double *rowbuf = NULL;  /* one tile row's devices, level units */
    sim_matrix **mats = s->mats;

    codes = malloc(n_w * sizeof *codes);
    m = calloc(1, sizeof *m);
    fresh = calloc(n_tiles, sizeof *fresh);
    snapped = malloc(((size_t)s->level_max + 1) * sizeof *snapped);
    rowbuf = malloc((size_t)a->crossbar.cols * sizeof *rowbuf);
    if (!codes || !m || !fresh || !snapped || !rowbuf) goto nomem;
    m->tiles = calloc(n_tiles, sizeof *m->tiles);
    if (!m->tiles) goto nomem;
    m->n_tiles = n_tiles;
    for (size_t k = 0; k < n_tiles; k++) {
        sim_tile *tl = &m->tiles[k];
        tl->t = tiles[k];
        tl->t.matrix = id;
        tl->d = malloc((size_t)tl->t.nrows * tl->t.ncols * sizeof *tl->d);
        tl->row_g_us = malloc((size_t)tl->t.nrows * sizeof *tl->row_g_us);
        if (!tl->d || !tl->row_g_us) goto nomem;
    }
    for (size_t k = 0; k < n_tiles; k++) {
        uint32_t x = tiles[by_xbar[k].idx].xbar;
        if (s->xbars[x].g_lv || (k > 0 && tiles[by_xbar[k - 1].idx].xbar == x)) continue;
        fresh[k] = calloc((size_t)a->crossbar.rows * a->crossbar.cols, sizeof(float));
        if (!fresh[k]) goto nomem;
    }
    if (id >= s->mats_cap) {
        uint32_t cap = s->mats_cap ? s->mats_cap : 16;
        while (cap <= id) cap *= 2;
        if (cap > AIMC_SIM_MAX_MATRICES) cap = AIMC_SIM_MAX_MATRICES;
        mats = realloc(s->mats, cap * sizeof *mats);
        if (!mats) goto nomem;
        memset(mats + s->mats_cap, 0, (cap - s->mats_cap) * sizeof *mats);
        s->mats = mats;
        s->mats_cap = cap;
    }

    /* Quantise: one scale per matrix, codes rounded half away from zero. */
    const int wb = a->crossbar.weight_bits;
    m->rows = rows;
    m->cols = cols;
    m->w_scale = max_abs > 0.0f ? (double)max_abs / s->w_code_max : 1.0;
    for (size_t i = 0; i < n_w; i++) {
        long q = lround((double)w[i] / m->w_scale);
        if (q > s->w_code_max) q = s->w_code_max;
        if (q < -s->w_code_max) q = -s->w_code_max;
        codes[i] = (int32_t)q;
    }

    /* Commit. Each crossbar this call writes gets one new generation. */
    for (size_t k = 0; k < n_tiles; k++) {
        sim_xbar *xb = &s->xbars[tiles[by_xbar[k].idx].xbar];
        if (fresh[k]) {
            xb->g_lv = fresh[k];
            fresh[k] = NULL;
        }
        if (k == 0 || tiles[by_xbar[k - 1].idx].xbar != tiles[by_xbar[k].idx].xbar) xb->gen++;
    }

    const int generic = a->device.type == AIMC_DEVICE_GENERIC;
    const double psig_lv = generic ? a->device.program_sigma_us / s->dg_us : 0.0;
    const double floor_lv = -a->device.g_min_us / s->dg_us; /* g = 0 */
    const int32_t offset = (int32_t)(UINT32_C(1) << (wb - 1));
    const size_t pcols = (size_t)a->crossbar.cols;
    for (int l = 0; l <= s->level_max; l++) snapped[l] = snap_level(s, l);
    uint64_t cells = 0;

    for (size_t k = 0; k < n_tiles; k++) {
        sim_tile *tl = &m->tiles[k];
        const aimc_tile *t = &tl->t;
        sim_xbar *xb = &s->xbars[t->xbar];
        const uint64_t key = aimc_rng_key(s->seed, AIMC_RNG_DOMAIN_PROGRAM, t->xbar, xb->gen);
        const int shift = (int)t->slice * s->bits;
        tl->shift = shift;
        tl->off_scale = a->crossbar.sign_encoding == AIMC_SIGN_OFFSET
                            ? ldexp((double)((offset >> shift) & s->level_max), shift)
                            : 0.0;
        tl->lsb = tile_lsb(s, t->nrows);
        tl->f32 = (double)t->nrows * s->u_max * s->level_max <= 16777216.0;
        if (t->nrows > m->max_tile_rows) m->max_tile_rows = t->nrows;
        if (t->ncols > m->max_tile_cols) m->max_tile_cols = t->ncols;
        for (uint32_t i = 0; i < t->nrows; i++) {
            const int32_t *qrow = codes + (size_t)(t->row0 + i) * cols + t->col0;
            const size_t n_dev_row = (size_t)t->ncols * s->cpw;
            for (uint32_t j = 0; j < t->ncols; j++) {
                int32_t q = qrow[j];
                if (s->cpw == 2) {
                    int l = (int)(((uint32_t)(q < 0 ? -q : q) >> shift) & (uint32_t)s->level_max);
                    rowbuf[2 * j] = snapped[q > 0 ? l : 0];
                    rowbuf[2 * j + 1] = snapped[q < 0 ? l : 0];
                } else {
                    rowbuf[j] = snapped[((uint32_t)(q + offset) >> shift) & (uint32_t)s->level_max];
                }
            }
            /* Programming noise of the device in cell (row i, physical column pc): counter
             * i * cols + pc. */
            const size_t cell0 = i * pcols + t->xbar_col0;
            if (psig_lv > 0.0) {
                add_normals(rowbuf, (uint32_t)n_dev_row, key, cell0, psig_lv);
                for (size_t c = 0; c < n_dev_row; c++)
                    if (rowbuf[c] < floor_lv) rowbuf[c] = floor_lv;
            }
            for (size_t c = 0; c < n_dev_row; c++) xb->g_lv[cell0 + c] = (float)rowbuf[c];
        }
        cells += (uint64_t)t->nrows * t->ncols * s->cpw;
    }
    for (size_t k = 0; k < n_tiles; k++) tile_refresh(s, &m->tiles[k]);
    matrix_plan(s, m, by_xbar);

    matrix_free(s->mats[id]);
    s->mats[id] = m;
    if (st) st->cells_programmed += cells;
    free(codes);
    free(fresh);
    free(snapped);
    free(rowbuf);
    free(by_xbar);
    return AIMC_OK;

nomem:
    if (fresh)
        for (size_t k = 0; k < n_tiles; k++) free(fresh[k]);
    free(fresh);
    free(snapped);
    free(rowbuf);
    free(codes);
    matrix_free(m);
    free(by_xbar);
    return aimc_diag_set(d, AIMC_ERR_NOMEM, "matrix %u: out of memory programming %zu tiles",
                         id, n_tiles);
}

/* ---- matrix-vector products -------------------------------------------------------- */

/* acc[j] += u * d[j], j < n. Written out in blocks of 8 so that -O2's straight-line (SLP)
 * vectoriser turns each block into vector operations. */
static void axpy_f32(float *restrict acc, const float *restrict d, float u, uint32_t n)
{
    uint32_t j = 0;
    for (; j + 8 <= n; j += 8) {
        float *restrict a = acc + j;
        const float *restrict b = d + j;
        a[0] += u * b[0];
        a[1] += u * b[1];
        a[2] += u * b[2];
        a[3] += u * b[3];
        a[4] += u * b[4];
        a[5] += u * b[5];
        a[6] += u * b[6];
        a[7] += u * b[7];
    }
    for (; j < n; j++) acc[j] += u * d[j];
}

static void axpy_f64(double *restrict acc, const float *restrict d, double u, uint32_t n)
{
    for (uint32_t j = 0; j < n; j++) acc[j] += u * d[j];
}

/* Vectors processed together, tile by tile, so that a tile's data is read from cache once
 * per chunk rather than once per vector. Results do not depend on it. */
#define SIM_CHUNK 32

int aimc_sim_mvm(aimc_sim *s, uint32_t id, const float *x, uint32_t batch, float *y,
                 aimc_sim_stats *st)
{
    if (!s) return AIMC_ERR_BADHANDLE;
    if (id >= AIMC_SIM_MAX_MATRICES) return AIMC_ERR_RANGE;
    if (id >= s->mats_cap || !s->mats[id]) return AIMC_ERR_STATE;
    if (batch == 0) return AIMC_OK;
    if (!x || !y) return AIMC_ERR_INVALID;

    sim_matrix *m = s->mats[id];
    const aimc_arch *a = &s->arch;
    const size_t n_x = (size_t)batch * m->rows;
    for (size_t i = 0; i < n_x; i++)
        if (!isfinite(x[i])) return AIMC_ERR_INVALID;

    int rc = AIMC_OK;
    int32_t *p = malloc((size_t)SIM_CHUNK * m->rows * sizeof *p);
    double *Y = malloc((size_t)SIM_CHUNK * m->cols * sizeof *Y);
    uint32_t *nz_row = malloc(m->max_tile_rows * sizeof *nz_row);
    double *nz_u = malloc(m->max_tile_rows * sizeof *nz_u);
    double *acc = malloc(m->max_tile_cols * sizeof *acc);
    float *acc_f = malloc(m->max_tile_cols * sizeof *acc_f);
    if (!p || !Y || !nz_row || !nz_u || !acc || !acc_f) {
        rc = AIMC_ERR_NOMEM;
        goto out;
    }

    /* A crossbar written by a later program call than a tile's data is read as it now is. */
    for (size_t k = 0; k < m->n_tiles; k++)
        if (m->tiles[k].gen != s->xbars[m->tiles[k].t.xbar].gen) tile_refresh(s, &m->tiles[k]);

    const int serial = a->dac.mode == AIMC_DAC_BIT_SERIAL;
    const int generic = a->device.type == AIMC_DEVICE_GENERIC;
    const double rsig_lv = generic ? a->device.read_sigma_us / s->dg_us : 0.0;
    const double code_hi = ldexp(1.0, a->adc.bits - 1) - 1.0;
    const double code_lo = -ldexp(1.0, a->adc.bits - 1);
    const double v_unit = a->device.read_voltage_v / s->u_max;
    /* pJ per (uS x input-unit^2): V^2 * G * t with V in V, G in uS, t in ns gives 1e-15 J. */
    const double xbar_pj_per = v_unit * v_unit * a->crossbar.integration_ns * 1e-3;
    uint64_t drives = 0, sats = 0;
    double xbar_g_u2 = 0.0; /* sum over activations of sum_i u_i^2 * row_g_us[i] */
    double x_scale[SIM_CHUNK];

    for (uint32_t b0 = 0; b0 < batch; b0 += SIM_CHUNK) {
        const uint32_t nb = batch - b0 < SIM_CHUNK ? batch - b0 : SIM_CHUNK;

        /* DAC quantisation: one scale per vector, codes rounded half away from zero. */
        for (uint32_t v = 0; v < nb; v++) {
            const float *xv = x + (size_t)(b0 + v) * m->rows;
            int32_t *pv = p + (size_t)v * m->rows;
            float max_abs = 0.0f;
            for (uint32_t i = 0; i < m->rows; i++)
                if (fabsf(xv[i]) > max_abs) max_abs = fabsf(xv[i]);
            x_scale[v] = max_abs > 0.0f ? (double)max_abs / s->x_code_max : 1.0;
            for (uint32_t i = 0; i < m->rows; i++) {
                long q = lround((double)xv[i] / x_scale[v]);
                if (q > s->x_code_max) q = s->x_code_max;
                if (q < -s->x_code_max) q = -s->x_code_max;
                pv[i] = (int32_t)q;
            }
        }
        memset(Y, 0, (size_t)nb * m->cols * sizeof *Y);

        for (size_t k = 0; k < m->n_tiles; k++) {
            const sim_tile *tl = &m->tiles[k];
            const aimc_tile *t = &tl->t;
            const sim_xbar *xbar = &s->xbars[t->xbar];
            for (uint32_t v = 0; v < nb; v++) {
                const int32_t *pt = p + (size_t)v * m->rows + t->row0;
                double *Yt = Y + (size_t)v * m->cols + t->col0;
                /* Read event number of step 0: as if each vector ran the matrix's tiles on
                 * this crossbar one after another (docs/simulator.md). */
                const uint64_t event0 =
                    xbar->reads +
                    ((uint64_t)(b0 + v) * tl->xbar_tiles + tl->xbar_slot) * (uint64_t)s->steps;
                for (int step = 0; step < s->steps; step++) {
                    uint32_t nnz = 0;
                    double sum_u2 = 0.0;
                    for (uint32_t i = 0; i < t->nrows; i++) {
                        int32_t u = pt[i];
                        if (serial) {
                            int32_t mag = u < 0 ? -u : u;
                            int32_t bit = (mag >> step) & 1;
                            u = u < 0 ? -bit : bit;
                        }
                        if (u == 0) continue;
                        nz_row[nnz] = i;
                        nz_u[nnz] = u;
                        nnz++;
                        sum_u2 += (double)u * u;
                        xbar_g_u2 += (double)u * u * tl->row_g_us[i];
                    }
                    drives += nnz;

                    /* Column sums in float when every partial sum of an ideal device is an
                     * integer below 2^24 (so exact), else in double. */
                    if (tl->f32) {
                        memset(acc_f, 0, t->ncols * sizeof *acc_f);
                        for (uint32_t r = 0; r < nnz; r++)
                            axpy_f32(acc_f, tl->d + (size_t)nz_row[r] * t->ncols,
                                     (float)nz_u[r], t->ncols);
                        for (uint32_t j = 0; j < t->ncols; j++) acc[j] = acc_f[j];
                    } else {
                        memset(acc, 0, t->ncols * sizeof *acc);
                        for (uint32_t r = 0; r < nnz; r++)
                            axpy_f64(acc, tl->d + (size_t)nz_row[r] * t->ncols, nz_u[r],
                                     t->ncols);
                    }
                    /* Read noise: one Gaussian per column and step. */
                    if (rsig_lv > 0.0 && sum_u2 > 0.0) {
                        const double sd = sqrt(sum_u2 * s->n_dev) * rsig_lv;
                        const uint64_t key = aimc_rng_key(s->seed, AIMC_RNG_DOMAIN_READ, t->xbar,
                                                          event0 + (uint64_t)step);
                        /* Counter: the weight column's index in the crossbar, i.e. its G+
                         * physical column / 2 (differential) or its physical column. */
                        add_normals(acc, t->ncols, key, t->xbar_col0 / (uint32_t)s->cpw, sd);
                    }

                    /* ADC, then shift-and-add. */
                    const double weight = ldexp(1.0, tl->shift + (serial ? step : 0));
                    for (uint32_t j = 0; j < t->ncols; j++) {
                        double code = round(acc[j] / tl->lsb);
                        if (code > code_hi) {
                            code = code_hi;
                            sats++;
                        } else if (code < code_lo) {
                            code = code_lo;
                            sats++;
                        }
                        Yt[j] += code * tl->lsb * weight;
                    }
                }
                if (tl->off_scale != 0.0) {
                    int64_t psum = 0;
                    for (uint32_t i = 0; i < t->nrows; i++) psum += pt[i];
                    const double off = tl->off_scale * (double)psum;
                    for (uint32_t j = 0; j < t->ncols; j++) Yt[j] -= off;
                }
            }
        }

        for (uint32_t v = 0; v < nb; v++) {
            float *yv = y + (size_t)(b0 + v) * m->cols;
            const double *Yv = Y + (size_t)v * m->cols;
            for (uint32_t c = 0; c < m->cols; c++)
                yv[c] = (float)(Yv[c] * m->w_scale * x_scale[v]);
        }
    }

    /* Every tile of the matrix activated its crossbar once per step and vector. */
    for (size_t k = 0; k < m->n_tiles; k++)
        s->xbars[m->tiles[k].t.xbar].reads += (uint64_t)batch * s->steps;

    if (st) {
        const uint64_t cycles = m->cycles_per_vec * batch;
        const uint64_t convs = m->conversions_per_vec * batch;
        const uint64_t ops = m->digital_ops_per_vec * batch;
        st->cycles += cycles;
        st->time_ns += (double)cycles * 1000.0 / a->clock.frequency_mhz;
        st->mvms += batch;
        st->xbar_reads += m->xbar_reads_per_vec * batch;
        st->dac_drives += drives;
        st->adc_conversions += convs;
        st->adc_saturations += sats;
        st->digital_ops += ops;
        st->energy_pj[AIMC_COMP_DAC] += (double)drives * a->dac.energy_pj;
        st->energy_pj[AIMC_COMP_XBAR] += xbar_g_u2 * xbar_pj_per;
        st->energy_pj[AIMC_COMP_ADC] += (double)convs * a->adc.energy_pj;
        st->energy_pj[AIMC_COMP_DIGITAL] += (double)ops * a->digital.energy_pj_per_op;
    }
out:
    free(p);
    free(Y);
    free(nz_row);
    free(nz_u);
    free(acc);
    free(acc_f);
    return rc;
}
