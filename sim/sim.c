/* sim.c - the analog machine model: crossbar conductances, device physics at programming and
 * at read time, program-and-verify, DAC, ADC, shift-and-add, and the time and energy of every
 * matrix-vector product.
 *
 * The model, its formulas, its cost model and its random keys are in docs/simulator.md and
 * docs/devices.md; the contract is sim/aimc_sim.h. Conductances are stored per crossbar,
 * row-major, as floats in "level units": n = (g - g_min) / dG, dG = (g_max - g_min) /
 * (2^bits_per_cell - 1), so that an ideal device holds exact small integers and
 * g_us = g_min + n * dG.
 *
 * A read uses per tile what it needs, derived from the crossbar when it was written or the
 * read time changed: the column signal per unit input D (G+ - G- per weight, or G) in fixed
 * point, int16 units of 2^-q levels, q chosen so that every column sum is an exact float (or,
 * failing that, an exact double); the matrix products are then exact and their result does
 * not depend on summation order, batch split or thread count. Each (input step, vector) x
 * tile product is one row of a BLAS GEMM.
 */
#include "aimc_sim.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

/* One crossbar: programmed conductances (rows x cols, level units, NULL until first
 * programmed), PCM drift exponents (NULL unless pcm), the number of program calls that wrote
 * it, and the activations it has served. */
typedef struct sim_xbar {
    float *g_lv;
    float *nu;
    uint64_t gen;
    uint64_t reads;
} sim_xbar;

/* One tile of a programmed matrix with what a read needs. */
typedef struct sim_tile {
    aimc_tile t;
    int16_t *dq;       /* nrows x ncols: column signal per unit input, 2^-q level units */
    float *s2q;        /* nrows x ncols: read variance per unit input^2, 2^-qs level^2 units;
                        * NULL when every device has the same sigma (ideal, generic) */
    double *row_g_us;  /* nrows: sum of the conductances (uS) of the tile's devices in row i */
    uint64_t gen;      /* crossbar generation the read data was built from */
    uint64_t epoch;    /* machine read-option epoch it was built at */
    int q, qs;
    int f32;           /* D sums are exact in float (else double) */
    double comp;       /* drift compensation factor (1 when off) */
    double lsb;        /* ADC LSB of this tile, level units */
    double off_scale;  /* offset encoding: the part of 2^(Wb-1) this slice stores, weighted */
    int shift;         /* slice * bits_per_cell */
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
    int threads;
    uint64_t epoch;    /* bumped when a read option (time, compensation) changes */
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
    a->program_pulses += b->program_pulses;
    a->verify_reads += b->verify_reads;
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
    if (a->crossbar.bits_per_cell < 1 || a->crossbar.bits_per_cell > 8) return 0;
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
    if (a->dac.mode != AIMC_DAC_BIT_SERIAL && a->dac.mode != AIMC_DAC_MULTI_BIT) return 0;
    if (!finite_nonneg(a->dac.energy_pj)) return 0;
    if (a->adc.bits < 1 || a->adc.bits > 52) return 0;
    if (a->adc.per_crossbar < 1) return 0;
    if (!finite_nonneg(a->adc.conversion_ns) || !finite_nonneg(a->adc.energy_pj)) return 0;
    if (!isfinite(a->adc.offset_lsb) || !isfinite(a->adc.gain_error) ||
        a->adc.gain_error <= -1.0)
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

int aimc_sim_create(const aimc_arch *arch, uint64_t seed, aimc_sim **out)
{
    if (!out) return AIMC_ERR_INVALID;
    *out = NULL;
    if (!arch || !arch_usable(arch)) return AIMC_ERR_INVALID;
    if (arch->device.type != AIMC_DEVICE_IDEAL && arch->device.type != AIMC_DEVICE_GENERIC &&
        arch->device.type != AIMC_DEVICE_PCM && arch->device.type != AIMC_DEVICE_RRAM)
        return AIMC_ERR_UNSUPPORTED;

    aimc_sim *s = calloc(1, sizeof *s);
    if (!s) return AIMC_ERR_NOMEM;
    s->arch = *arch;
    s->seed = seed;
    s->threads = 1;
    s->epoch = 1;
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
        free(m->tiles[k].dq);
        free(m->tiles[k].s2q);
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
    for (long x = 0; x < s->n_xbars; x++) {
        free(s->xbars[x].g_lv);
        free(s->xbars[x].nu);
    }
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

int aimc_sim_set_read_time(aimc_sim *s, double read_time_s)
{
    if (!s) return AIMC_ERR_BADHANDLE;
    if (!isfinite(read_time_s) || read_time_s < 0.0) return AIMC_ERR_INVALID;
    s->arch.device.read_time_s = read_time_s;
    s->epoch++;
    return AIMC_OK;
}

int aimc_sim_set_drift_compensation(aimc_sim *s, int on)
{
    if (!s) return AIMC_ERR_BADHANDLE;
    s->arch.device.drift_compensation = on ? 1 : 0;
    s->epoch++;
    return AIMC_OK;
}

int aimc_sim_set_threads(aimc_sim *s, int threads)
{
    if (!s) return AIMC_ERR_BADHANDLE;
    if (threads < 1 || threads > 1024) return AIMC_ERR_INVALID;
    s->threads = threads;
    return AIMC_OK;
}

size_t aimc_sim_memory_bytes(const aimc_sim *s)
{
    if (!s) return 0;
    size_t b = sizeof *s + (size_t)s->n_xbars * sizeof *s->xbars +
               s->mats_cap * sizeof *s->mats;
    const size_t cells = (size_t)s->arch.crossbar.rows * s->arch.crossbar.cols;
    for (long x = 0; x < s->n_xbars; x++) {
        const sim_xbar *xb = &s->xbars[x];
        b += (xb->g_lv ? cells * sizeof(float) : 0) + (xb->nu ? cells * sizeof(float) : 0);
    }
    for (uint32_t i = 0; i < s->mats_cap; i++) {
        const sim_matrix *m = s->mats[i];
        if (!m) continue;
        b += sizeof *m + m->n_tiles * sizeof *m->tiles;
        for (size_t k = 0; k < m->n_tiles; k++) {
            const sim_tile *tl = &m->tiles[k];
            size_t n = (size_t)tl->t.nrows * tl->t.ncols;
            b += n * sizeof *tl->dq + (tl->s2q ? n * sizeof *tl->s2q : 0) +
                 tl->t.nrows * sizeof *tl->row_g_us;
        }
    }
    return b;
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

/* acc[j] += sqrt(var[j] * scale) * normal(key, c0 + j), j < n: the same draws as
 * add_normals, each with its own variance. */
static void add_normals_var(double *acc, const double *var, double scale, uint32_t n,
                            uint64_t key, uint64_t c0)
{
    uint32_t j = 0;
    uint64_t c = c0;
    double z0, z1;
    if (n > 0 && (c & 1)) {
        acc[j] += sqrt(var[j] * scale) * aimc_rng_normal(key, c++);
        j++;
    }
    for (; j + 2 <= n; j += 2, c += 2) {
        aimc_rng_normal_pair(key, c >> 1, &z0, &z1);
        acc[j] += sqrt(var[j] * scale) * z0;
        acc[j + 1] += sqrt(var[j + 1] * scale) * z1;
    }
    if (j < n) acc[j] += sqrt(var[j] * scale) * aimc_rng_normal(key, c);
}

/* Nearest point of the device's level grid to level l, in level units (exact when the grid
 * contains the level: k * L / (levels - 1) is then an integer computed exactly). */
static double snap_level(const aimc_sim *s, int l)
{
    int steps = s->arch.device.levels - 1;
    long k = lround((double)l * steps / s->level_max);
    return (double)(k * s->level_max) / steps;
}

/* Programming error sigma of a device aimed at level t, level units (docs/devices.md). */
static double program_sigma_lv(const aimc_sim *s, double t_lv)
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

/* Write one device aimed at level t with standard normal z: level units, never below g = 0. */
static float write_device(const aimc_sim *s, double t_lv, double z)
{
    const double floor_lv = -s->arch.device.g_min_us / s->dg_us;
    double sig = program_sigma_lv(s, t_lv);
    if (sig <= 0.0) return (float)t_lv;
    double v = t_lv + sig * z;
    return (float)(v < floor_lv ? floor_lv : v);
}

/* The device value of a stuck cell, level units, or -1 when cell is healthy. */
static double stuck_level(const aimc_sim *s, uint32_t xbar, uint64_t cell)
{
    int f = aimc_sim_fault_of(&s->arch, s->seed, xbar, cell);
    if (f == AIMC_FAULT_STUCK_ON) return s->level_max;
    if (f == AIMC_FAULT_STUCK_OFF) return 0.0;
    return -1.0;
}

/* The device as read at the current read time: conductance (level units) and read variance
 * (level^2 units) of one read. Exactly the programmed value when nothing changes it. */
static double device_read(const aimc_sim *s, const sim_xbar *xb, size_t cell, uint32_t row,
                          uint32_t pcol, double *var_lv2)
{
    const aimc_arch *a = &s->arch;
    const double g_lv = xb->g_lv[cell];
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
        g_us *= aimc_pcm_drift_factor(xb->nu ? xb->nu[cell] : 0.0, t);
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
static int uniform_sigma(const aimc_sim *s)
{
    const aimc_arch *a = &s->arch;
    return a->device.type == AIMC_DEVICE_IDEAL || a->device.type == AIMC_DEVICE_GENERIC ||
           (a->device.type == AIMC_DEVICE_RRAM && a->device.read_sigma_rel == 0.0 &&
            a->crossbar.wire_resistance_ohm == 0.0);
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

/* Rebuild a tile's read data from its crossbar at the current read options. dbuf and vbuf
 * hold nrows x ncols doubles each (scratch). */
static void tile_refresh(const aimc_sim *s, sim_tile *tl, double *dbuf, double *vbuf)
{
    const aimc_tile *t = &tl->t;
    const sim_xbar *xb = &s->xbars[t->xbar];
    const aimc_arch *a = &s->arch;
    const size_t pcols = (size_t)a->crossbar.cols;
    const double gmin = a->device.g_min_us, dg = s->dg_us;
    const int per_dev = tl->s2q != NULL;
    const int comp_on = a->device.drift_compensation != 0;
    double max_d = 0.0, max_v = 0.0, r0 = 0.0, rt = 0.0;
    double *col0 = NULL;

    for (uint32_t i = 0; i < t->nrows; i++) {
        const size_t cell0 = i * pcols + t->xbar_col0;
        double sum_lv = 0.0;
        for (uint32_t j = 0; j < t->ncols; j++) {
            double va, vb = 0.0, gb = 0.0;
            uint32_t pc = t->xbar_col0 + j * (uint32_t)s->cpw;
            double ga = device_read(s, xb, cell0 + (size_t)j * s->cpw, i, pc, &va);
            if (s->cpw == 2) gb = device_read(s, xb, cell0 + 2 * (size_t)j + 1, i, pc + 1, &vb);
            double dv = ga - gb;
            dbuf[(size_t)i * t->ncols + j] = dv;
            vbuf[(size_t)i * t->ncols + j] = va + vb;
            if (fabs(dv) > max_d) max_d = fabs(dv);
            if (va + vb > max_v) max_v = va + vb;
            sum_lv += ga + gb;
        }
        tl->row_g_us[i] = (double)t->ncols * s->cpw * gmin + sum_lv * dg;
    }

    /* Fixed point: the largest q <= 14 with max |D| 2^q in int16, lowered so that every
     * column sum (at most nrows * u_max * max|D| 2^q) is an exact float, unless that would
     * leave fewer than 8 fractional bits: then sums are taken in double (exact below 2^53). */
    int q16 = 14;
    while (q16 > -16 && max_d * ldexp(1.0, q16) > 32767.0) q16--;
    double bound = (double)t->nrows * s->u_max * (max_d > 0.0 ? max_d : 1.0);
    int qf = 14;
    while (qf > -40 && bound * ldexp(1.0, qf) >= 16777216.0) qf--;
    int want = q16 < 8 ? q16 : 8;
    if (qf >= want) {
        tl->f32 = 1;
        tl->q = qf < q16 ? qf : q16;
    } else {
        tl->f32 = 0;
        tl->q = q16;
    }
    const double sc = ldexp(1.0, tl->q);
    for (size_t k = 0; k < (size_t)t->nrows * t->ncols; k++)
        tl->dq[k] = (int16_t)lround(dbuf[k] * sc);

    if (per_dev) {
        /* Variances: max 2^20 units, and every sum of u^2 var below 2^53. */
        double vb = (double)t->nrows * s->u_max * (double)s->u_max;
        int qs = 40;
        while (qs > -60 && (max_v * ldexp(1.0, qs) > 1048576.0 ||
                            vb * (max_v > 0 ? max_v : 1.0) * ldexp(1.0, qs) > 4.0e15))
            qs--;
        tl->qs = qs;
        const double ss = ldexp(1.0, qs);
        for (size_t k = 0; k < (size_t)t->nrows * t->ncols; k++)
            tl->s2q[k] = (float)nearbyint(vbuf[k] * ss);
    }

    /* Drift compensation: the response to all word lines at full scale, sum over columns of
     * |column output|, right after programming (r0) and now (rt). */
    tl->comp = 1.0;
    if (comp_on) {
        col0 = vbuf; /* reuse: the variances are stored already */
        for (uint32_t j = 0; j < t->ncols; j++) col0[j] = 0.0;
        for (uint32_t i = 0; i < t->nrows; i++) {
            const float *g = xb->g_lv + i * pcols + t->xbar_col0;
            for (uint32_t j = 0; j < t->ncols; j++)
                col0[j] += s->cpw == 2 ? (double)g[2 * j] - (double)g[2 * j + 1] : (double)g[j];
        }
        for (uint32_t j = 0; j < t->ncols; j++) {
            double c = 0.0;
            for (uint32_t i = 0; i < t->nrows; i++) c += dbuf[(size_t)i * t->ncols + j];
            r0 += fabs(col0[j]);
            rt += fabs(c);
        }
        if (rt > 0.0 && r0 > 0.0) tl->comp = r0 / rt;
    }
    tl->gen = xb->gen;
    tl->epoch = s->epoch;
}

/* The target levels (level units, snapped to the device grid) of the devices of tile row i,
 * physical column order. */
static void tile_row_targets(const aimc_sim *s, const sim_tile *tl, const int32_t *codes,
                             uint32_t cols, uint32_t i, const double *snapped, double *rowbuf)
{
    const aimc_tile *t = &tl->t;
    const int shift = tl->shift;
    const int32_t offset = (int32_t)(UINT32_C(1) << (s->arch.crossbar.weight_bits - 1));
    const int32_t *qrow = codes + (size_t)(t->row0 + i) * cols + t->col0;
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
}

/* Program-and-verify rounds after the first write of matrix m (docs/devices.md): each round
 * reads every device, and re-programs each device further than the tolerance from its target
 * with a fresh programming-noise draw keyed by (seed, crossbar, generation, round) and the
 * cell. Stops early when a round finds no miss. Returns the rounds performed; adds the
 * re-programming pulses to *pulses and per crossbar to xpulses (indexed like s->xbars). */
static uint32_t verify_rounds(aimc_sim *s, sim_matrix *m, const int32_t *codes, uint32_t cols,
                              const double *snapped, double *rowbuf,
                              const aimc_program_opts *opts, uint64_t *pulses,
                              uint64_t *xpulses)
{
    const size_t pcols = (size_t)s->arch.crossbar.cols;
    const double tol_lv = opts->tolerance_us / s->dg_us;
    uint32_t r;
    for (r = 1; r <= opts->max_iterations; r++) {
        uint64_t missed = 0;
        for (size_t k = 0; k < m->n_tiles; k++) {
            const sim_tile *tl = &m->tiles[k];
            const aimc_tile *t = &tl->t;
            sim_xbar *xb = &s->xbars[t->xbar];
            const uint64_t key = aimc_rng_key(
                aimc_rng_key(s->seed, AIMC_RNG_DOMAIN_VERIFY, t->xbar, xb->gen), r, 0, 0);
            for (uint32_t i = 0; i < t->nrows; i++) {
                tile_row_targets(s, tl, codes, cols, i, snapped, rowbuf);
                const size_t cell0 = i * pcols + t->xbar_col0;
                float *g = xb->g_lv + cell0;
                for (size_t c = 0; c < (size_t)t->ncols * s->cpw; c++) {
                    if (fabs((double)g[c] - rowbuf[c]) <= tol_lv) continue;
                    missed++;
                    xpulses[t->xbar]++;
                    if (stuck_level(s, t->xbar, cell0 + c) >= 0.0) continue; /* no effect */
                    g[c] = write_device(s, rowbuf[c], aimc_rng_normal(key, cell0 + c));
                }
            }
        }
        if (missed == 0) break;
        *pulses += missed;
    }
    return r > opts->max_iterations ? opts->max_iterations : r;
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
    return aimc_sim_program_verify(s, id, w, rows, cols, tiles, n_tiles, NULL, NULL, st, d);
}

int aimc_sim_program_verify(aimc_sim *s, uint32_t id, const float *w, uint32_t rows,
                            uint32_t cols, const aimc_tile *tiles, size_t n_tiles,
                            const aimc_program_opts *opts, aimc_program_report *rep,
                            aimc_sim_stats *st, aimc_diag *d)
{
    if (rep) memset(rep, 0, sizeof *rep);
    if (!s) return aimc_diag_set(d, AIMC_ERR_BADHANDLE, "aimc_sim_program: NULL machine");
    if (id >= AIMC_SIM_MAX_MATRICES)
        return aimc_diag_set(d, AIMC_ERR_RANGE, "matrix id %u outside 0..%d", id,
                             AIMC_SIM_MAX_MATRICES - 1);
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
    const int pcm = a->device.type == AIMC_DEVICE_PCM;
    const size_t ncell = (size_t)a->crossbar.rows * a->crossbar.cols;
    int32_t *codes = NULL;
    sim_matrix *m = NULL;
    float **fresh = NULL;   /* new crossbar storage, by position in by_xbar */
    float **fresh_nu = NULL;/* new drift exponents (pcm), likewise */
    double *snapped = NULL; /* level l -> its point of the device grid, level units */
    double *rowbuf = NULL;  /* one tile row's devices, level units */
    double *dbuf = NULL, *vbuf = NULL;
    uint64_t *xpulses = NULL;
    sim_matrix **mats = s->mats;

    codes = malloc(n_w * sizeof *codes);
    m = calloc(1, sizeof *m);
    fresh = calloc(n_tiles, sizeof *fresh);
    fresh_nu = calloc(n_tiles, sizeof *fresh_nu);
    snapped = malloc(((size_t)s->level_max + 1) * sizeof *snapped);
    rowbuf = malloc((size_t)a->crossbar.cols * sizeof *rowbuf);
    xpulses = calloc((size_t)s->n_xbars, sizeof *xpulses);
    if (!codes || !m || !fresh || !fresh_nu || !snapped || !rowbuf || !xpulses) goto nomem;
    m->tiles = calloc(n_tiles, sizeof *m->tiles);
    if (!m->tiles) goto nomem;
    m->n_tiles = n_tiles;
    for (size_t k = 0; k < n_tiles; k++) {
        sim_tile *tl = &m->tiles[k];
        tl->t = tiles[k];
        tl->t.matrix = id;
        const size_t n = (size_t)tl->t.nrows * tl->t.ncols;
        tl->dq = malloc(n * sizeof *tl->dq);
        tl->row_g_us = malloc((size_t)tl->t.nrows * sizeof *tl->row_g_us);
        if (!tl->dq || !tl->row_g_us) goto nomem;
        if (!uniform_sigma(s)) {
            tl->s2q = malloc(n * sizeof *tl->s2q);
            if (!tl->s2q) goto nomem;
        }
        if (tl->t.nrows > m->max_tile_rows) m->max_tile_rows = tl->t.nrows;
        if (tl->t.ncols > m->max_tile_cols) m->max_tile_cols = tl->t.ncols;
    }
    dbuf = malloc((size_t)m->max_tile_rows * m->max_tile_cols * sizeof *dbuf);
    vbuf = malloc((size_t)m->max_tile_rows * m->max_tile_cols * sizeof *vbuf);
    if (!dbuf || !vbuf) goto nomem;
    for (size_t k = 0; k < n_tiles; k++) {
        uint32_t x = tiles[by_xbar[k].idx].xbar;
        if (k > 0 && tiles[by_xbar[k - 1].idx].xbar == x) continue;
        if (!s->xbars[x].g_lv) {
            fresh[k] = calloc(ncell, sizeof(float));
            if (!fresh[k]) goto nomem;
        }
        if (pcm && !s->xbars[x].nu) {
            fresh_nu[k] = calloc(ncell, sizeof(float));
            if (!fresh_nu[k]) goto nomem;
        }
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
        if (fresh_nu[k]) {
            xb->nu = fresh_nu[k];
            fresh_nu[k] = NULL;
        }
        if (k == 0 || tiles[by_xbar[k - 1].idx].xbar != tiles[by_xbar[k].idx].xbar) xb->gen++;
    }

    const int32_t offset = (int32_t)(UINT32_C(1) << (wb - 1));
    const size_t pcols = (size_t)a->crossbar.cols;
    const int faults = a->device.stuck_on_rate > 0.0 || a->device.stuck_off_rate > 0.0;
    for (int l = 0; l <= s->level_max; l++) snapped[l] = snap_level(s, l);
    uint64_t cells = 0;

    for (size_t k = 0; k < n_tiles; k++) {
        sim_tile *tl = &m->tiles[k];
        const aimc_tile *t = &tl->t;
        sim_xbar *xb = &s->xbars[t->xbar];
        const uint64_t key = aimc_rng_key(s->seed, AIMC_RNG_DOMAIN_PROGRAM, t->xbar, xb->gen);
        const uint64_t nkey = aimc_rng_key(s->seed, AIMC_RNG_DOMAIN_DRIFT, t->xbar, xb->gen);
        const int shift = (int)t->slice * s->bits;
        tl->shift = shift;
        tl->off_scale = a->crossbar.sign_encoding == AIMC_SIGN_OFFSET
                            ? ldexp((double)((offset >> shift) & s->level_max), shift)
                            : 0.0;
        tl->lsb = tile_lsb(s, t->nrows);
        const size_t n_dev_row = (size_t)t->ncols * s->cpw;
        for (uint32_t i = 0; i < t->nrows; i++) {
            tile_row_targets(s, tl, codes, cols, i, snapped, rowbuf);
            /* The device in cell (row i, physical column pc): counter i * cols + pc. */
            const size_t cell0 = i * pcols + t->xbar_col0;
            if (a->device.type == AIMC_DEVICE_GENERIC && a->device.program_sigma_us > 0.0) {
                /* Constant sigma: pairs of draws at once, then the floor at g = 0. */
                const double floor_lv = -a->device.g_min_us / s->dg_us;
                add_normals(rowbuf, (uint32_t)n_dev_row, key, cell0,
                            a->device.program_sigma_us / s->dg_us);
                for (size_t c = 0; c < n_dev_row; c++)
                    xb->g_lv[cell0 + c] = (float)(rowbuf[c] < floor_lv ? floor_lv : rowbuf[c]);
            } else {
                for (size_t c = 0; c < n_dev_row; c++)
                    xb->g_lv[cell0 + c] =
                        a->device.type == AIMC_DEVICE_IDEAL
                            ? (float)rowbuf[c]
                            : write_device(s, rowbuf[c], aimc_rng_normal(key, cell0 + c));
            }
            if (pcm) {
                tile_row_targets(s, tl, codes, cols, i, snapped, rowbuf);
                for (size_t c = 0; c < n_dev_row; c++) {
                    double mu, sg;
                    aimc_pcm_drift_params(a->device.g_min_us + rowbuf[c] * s->dg_us,
                                          a->device.g_max_us, &mu, &sg);
                    xb->nu[cell0 + c] =
                        (float)fabs(mu + sg * aimc_rng_normal(nkey, cell0 + c));
                }
            }
            if (faults)
                for (size_t c = 0; c < n_dev_row; c++) {
                    double lv = stuck_level(s, t->xbar, cell0 + c);
                    if (lv < 0.0) continue;
                    xb->g_lv[cell0 + c] = (float)lv;
                    if (pcm) xb->nu[cell0 + c] = 0.0f;
                }
        }
        cells += (uint64_t)t->nrows * n_dev_row;
        xpulses[t->xbar] += (uint64_t)t->nrows * n_dev_row;
    }
    uint64_t pulses = cells;
    uint32_t rounds = 0;
    if (opts && opts->max_iterations > 0)
        rounds = verify_rounds(s, m, codes, cols, snapped, rowbuf, opts, &pulses, xpulses);
    if (rep) {
        rep->iterations = rounds;
        rep->devices = cells;
        rep->pulses = pulses;
        double tol_lv = opts ? opts->tolerance_us / s->dg_us : 0.0;
        double sum2 = 0.0;
        uint64_t failed = 0;
        for (size_t k = 0; k < n_tiles; k++) {
            const sim_tile *tl = &m->tiles[k];
            const float *g = s->xbars[tl->t.xbar].g_lv;
            for (uint32_t i = 0; i < tl->t.nrows; i++) {
                tile_row_targets(s, tl, codes, cols, i, snapped, rowbuf);
                const float *gr = g + i * pcols + tl->t.xbar_col0;
                for (size_t c = 0; c < (size_t)tl->t.ncols * s->cpw; c++) {
                    double e = (double)gr[c] - rowbuf[c];
                    sum2 += e * e;
                    if (opts && fabs(e) > tol_lv) failed++;
                }
            }
        }
        rep->devices_failed = failed;
        rep->rms_error_us = cells ? sqrt(sum2 / (double)cells) * s->dg_us : 0.0;
    }
    for (size_t k = 0; k < n_tiles; k++) tile_refresh(s, &m->tiles[k], dbuf, vbuf);
    matrix_plan(s, m, by_xbar);

    if (st) {
        /* Programming cost (docs/devices.md): pulses of one crossbar one after another, each
         * verify round a read of every row; crossbars in parallel. */
        double t_max = 0.0, rows_read = 0.0;
        for (size_t k = 0; k < n_tiles; k++) {
            uint32_t x = tiles[by_xbar[k].idx].xbar;
            if (k > 0 && tiles[by_xbar[k - 1].idx].xbar == x) continue;
            double tx = (double)xpulses[x] * a->device.pulse_ns +
                        (double)rounds * a->crossbar.rows * a->crossbar.integration_ns;
            if (tx > t_max) t_max = tx;
            rows_read += (double)rounds * a->crossbar.rows;
            st->verify_reads += rounds;
        }
        uint64_t cyc = (uint64_t)ceil(t_max * a->clock.frequency_mhz / 1000.0);
        st->cycles += cyc;
        st->time_ns += (double)cyc * 1000.0 / a->clock.frequency_mhz;
        st->energy_pj[AIMC_COMP_XBAR] += (double)pulses * a->device.pulse_energy_pj;
        st->energy_pj[AIMC_COMP_ADC] +=
            rounds > 0 ? (double)cells * rounds * a->adc.energy_pj : 0.0;
        st->energy_pj[AIMC_COMP_DAC] += rows_read * a->dac.energy_pj;
        st->program_pulses += pulses;
        st->cells_programmed += cells;
    }

    matrix_free(s->mats[id]);
    s->mats[id] = m;
    free(codes);
    free(fresh);
    free(fresh_nu);
    free(snapped);
    free(rowbuf);
    free(dbuf);
    free(vbuf);
    free(xpulses);
    free(by_xbar);
    return AIMC_OK;

nomem:
    if (fresh)
        for (size_t k = 0; k < n_tiles; k++) free(fresh[k]);
    if (fresh_nu)
        for (size_t k = 0; k < n_tiles; k++) free(fresh_nu[k]);
    free(fresh);
    free(fresh_nu);
    free(snapped);
    free(rowbuf);
    free(dbuf);
    free(vbuf);
    free(xpulses);
    free(codes);
    matrix_free(m);
    free(by_xbar);
    return aimc_diag_set(d, AIMC_ERR_NOMEM, "matrix %u: out of memory programming %zu tiles",
                         id, n_tiles);
}

int aimc_sim_device(const aimc_sim *s, uint32_t xbar, uint32_t row, uint32_t col,
                    aimc_sim_device_info *out)
{
    if (!s) return AIMC_ERR_BADHANDLE;
    if (!out) return AIMC_ERR_INVALID;
    memset(out, 0, sizeof *out);
    if ((long)xbar >= s->n_xbars || row >= (uint32_t)s->arch.crossbar.rows ||
        col >= (uint32_t)s->arch.crossbar.cols)
        return AIMC_ERR_RANGE;
    const sim_xbar *xb = &s->xbars[xbar];
    const size_t cell = (size_t)row * s->arch.crossbar.cols + col;
    out->fault = aimc_sim_fault_of(&s->arch, s->seed, xbar, cell);
    if (!xb->g_lv) return AIMC_OK;
    double var;
    out->programmed = 1;
    out->g_prog_us = s->arch.device.g_min_us + xb->g_lv[cell] * s->dg_us;
    out->nu = xb->nu ? xb->nu[cell] : 0.0;
    out->g_read_us = s->arch.device.g_min_us + device_read(s, xb, cell, row, col, &var) * s->dg_us;
    out->read_sigma_us = sqrt(var) * s->dg_us;
    return AIMC_OK;
}

/* ---- matrix-vector products -------------------------------------------------------- */

/* Vectors processed together: their (input step, vector) rows against a tile are one GEMM.
 * Results do not depend on it (every product is exact, every draw keyed by its event). */
#define SIM_CHUNK 64

/* What one worker needs: scratch, sized for the matrix's largest tile and a full chunk. */
typedef struct mvm_scratch {
    int32_t *p;      /* SIM_CHUNK x rows: input codes */
    double *Y;       /* SIM_CHUNK x cols: shift-and-add accumulators */
    float *uf;       /* steps*SIM_CHUNK x max_rows: drives (float path) */
    double *ud;      /* the same (double path), and u^2 for the variance product */
    float *df;       /* max_rows x max_cols: D of one tile, float */
    double *dd;      /* the same, double; also the variance matrix */
    float *af;       /* steps*SIM_CHUNK x max_cols: products */
    double *ad;      /* the same, double */
    double *vd;      /* variances */
    double *acc;     /* max_cols */
    double *sum_u2;  /* steps*SIM_CHUNK */
} mvm_scratch;

/* The work of one chunk and what it counted. */
typedef struct mvm_chunk {
    uint64_t drives, sats;
    double xbar_e; /* sum of u^2 row_g_us (or |u| u_max row_g_us) over activations */
} mvm_chunk;

typedef struct mvm_job {
    aimc_sim *s;
    const sim_matrix *m;
    const float *x;
    float *y;
    uint32_t batch;
    uint32_t n_chunks;
    mvm_chunk *chunks;
    int n_workers;
    int worker;
    mvm_scratch sc;
    int rc;
} mvm_job;

static void scratch_free(mvm_scratch *sc)
{
    free(sc->p);
    free(sc->Y);
    free(sc->uf);
    free(sc->ud);
    free(sc->df);
    free(sc->dd);
    free(sc->af);
    free(sc->ad);
    free(sc->vd);
    free(sc->acc);
    free(sc->sum_u2);
    memset(sc, 0, sizeof *sc);
}

static int scratch_alloc(mvm_scratch *sc, const aimc_sim *s, const sim_matrix *m)
{
    const size_t mr = (size_t)s->steps * SIM_CHUNK;
    memset(sc, 0, sizeof *sc);
    sc->p = malloc((size_t)SIM_CHUNK * m->rows * sizeof *sc->p);
    sc->Y = malloc((size_t)SIM_CHUNK * m->cols * sizeof *sc->Y);
    sc->uf = malloc(mr * m->max_tile_rows * sizeof *sc->uf);
    sc->ud = malloc(mr * m->max_tile_rows * sizeof *sc->ud);
    sc->df = malloc((size_t)m->max_tile_rows * m->max_tile_cols * sizeof *sc->df);
    sc->dd = malloc((size_t)m->max_tile_rows * m->max_tile_cols * sizeof *sc->dd);
    sc->af = malloc(mr * m->max_tile_cols * sizeof *sc->af);
    sc->ad = malloc(mr * m->max_tile_cols * sizeof *sc->ad);
    sc->vd = malloc(mr * m->max_tile_cols * sizeof *sc->vd);
    sc->acc = malloc(m->max_tile_cols * sizeof *sc->acc);
    sc->sum_u2 = malloc(mr * sizeof *sc->sum_u2);
    if (!sc->p || !sc->Y || !sc->uf || !sc->ud || !sc->df || !sc->dd || !sc->af || !sc->ad ||
        !sc->vd || !sc->acc || !sc->sum_u2) {
        scratch_free(sc);
        return AIMC_ERR_NOMEM;
    }
    return AIMC_OK;
}

/* One chunk of nb vectors from vector b0: DAC, every tile, ADC, shift-and-add, rescale. */
static void mvm_chunk_run(const aimc_sim *s, const sim_matrix *m, const float *x, float *y,
                          uint32_t b0, uint32_t nb, mvm_scratch *sc, mvm_chunk *out)
{
    const aimc_arch *a = &s->arch;
    const int serial = a->dac.mode == AIMC_DAC_BIT_SERIAL;
    const int generic = a->device.type == AIMC_DEVICE_GENERIC ||
                        (a->device.type == AIMC_DEVICE_RRAM && uniform_sigma(s));
    const double rsig_lv = generic ? a->device.read_sigma_us / s->dg_us : 0.0;
    const double code_hi = ldexp(1.0, a->adc.bits - 1) - 1.0;
    const double code_lo = -ldexp(1.0, a->adc.bits - 1);
    const double gain = 1.0 + a->adc.gain_error, adc_off = a->adc.offset_lsb;
    const int steps = s->steps;
    const uint32_t M = (uint32_t)steps * nb;
    double x_scale[SIM_CHUNK];
    uint64_t drives = 0, sats = 0;
    double xbar_e = 0.0;

    /* DAC quantisation: one scale per vector, codes rounded half away from zero. */
    for (uint32_t v = 0; v < nb; v++) {
        const float *xv = x + (size_t)(b0 + v) * m->rows;
        int32_t *pv = sc->p + (size_t)v * m->rows;
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
    memset(sc->Y, 0, (size_t)nb * m->cols * sizeof *sc->Y);

    for (size_t k = 0; k < m->n_tiles; k++) {
        const sim_tile *tl = &m->tiles[k];
        const aimc_tile *t = &tl->t;
        const sim_xbar *xbar = &s->xbars[t->xbar];
        const uint32_t K = t->nrows, N = t->ncols;
        const int per_dev = tl->s2q != NULL;

        /* Drives: row r = step * nb + v of U holds vector v's word-line values at step. */
        for (int step = 0; step < steps; step++)
            for (uint32_t v = 0; v < nb; v++) {
                const uint32_t r = (uint32_t)step * nb + v;
                const int32_t *pt = sc->p + (size_t)v * m->rows + t->row0;
                float *uf = sc->uf + (size_t)r * K;
                double *ud = sc->ud + (size_t)r * K;
                double su2 = 0.0, e = 0.0;
                uint64_t nnz = 0;
                for (uint32_t i = 0; i < K; i++) {
                    int32_t u = pt[i];
                    if (serial) {
                        int32_t mag = u < 0 ? -u : u;
                        int32_t bit = (mag >> step) & 1;
                        u = u < 0 ? -bit : bit;
                    }
                    double du = (double)u, u2 = du * du;
                    uf[i] = (float)u;
                    if (!tl->f32) ud[i] = du;
                    nnz += u != 0;
                    su2 += u2;
                    e += u2 * tl->row_g_us[i];
                }
                sc->sum_u2[r] = su2;
                drives += nnz;
                xbar_e += e;
            }

        /* A = U D, exact: integer-valued operands with every sum representable. */
        const size_t nd = (size_t)K * N;
        if (tl->f32) {
            for (size_t q = 0; q < nd; q++) sc->df[q] = (float)tl->dq[q];
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                        sc->uf, (int)K, sc->df, (int)N, 0.0f, sc->af, (int)N);
        } else {
            for (size_t q = 0; q < nd; q++) sc->dd[q] = (double)tl->dq[q];
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0,
                        sc->ud, (int)K, sc->dd, (int)N, 0.0, sc->ad, (int)N);
        }
        /* Per-device read sigma: the column variance is (u^2) x (sigma^2), a second exact
         * product (integer-valued doubles below 2^53). */
        if (per_dev) {
            for (uint32_t r = 0; r < M; r++) {
                double *ud = sc->ud + (size_t)r * K;
                const float *uf = sc->uf + (size_t)r * K;
                for (uint32_t i = 0; i < K; i++) ud[i] = (double)uf[i] * (double)uf[i];
            }
            for (size_t q = 0; q < nd; q++) sc->dd[q] = (double)tl->s2q[q];
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0,
                        sc->ud, (int)K, sc->dd, (int)N, 0.0, sc->vd, (int)N);
        }

        const double dscale = ldexp(1.0, -tl->q), vscale = ldexp(1.0, -tl->qs);
        const uint64_t col_base = t->xbar_col0 / (uint32_t)s->cpw;
        for (uint32_t r = 0; r < M; r++) {
            const uint32_t step = r / nb, v = r % nb;
            double *Yt = sc->Y + (size_t)v * m->cols + t->col0;
            double *acc = sc->acc;
            if (tl->f32) {
                const float *ar = sc->af + (size_t)r * N;
                for (uint32_t j = 0; j < N; j++) acc[j] = (double)ar[j] * dscale;
            } else {
                const double *ar = sc->ad + (size_t)r * N;
                for (uint32_t j = 0; j < N; j++) acc[j] = ar[j] * dscale;
            }
            /* Read noise: one Gaussian per column and step, keyed by the read event: as if
             * each vector ran the matrix's tiles on this crossbar one after another. */
            const uint64_t event = xbar->reads +
                                   ((uint64_t)(b0 + v) * tl->xbar_tiles + tl->xbar_slot) *
                                       (uint64_t)steps +
                                   step;
            const uint64_t key = aimc_rng_key(s->seed, AIMC_RNG_DOMAIN_READ, t->xbar, event);
            if (per_dev) {
                add_normals_var(acc, sc->vd + (size_t)r * N, vscale, N, key, col_base);
            } else if (rsig_lv > 0.0 && sc->sum_u2[r] > 0.0) {
                add_normals(acc, N, key, col_base, sqrt(sc->sum_u2[r] * s->n_dev) * rsig_lv);
            }

            /* ADC (gain and offset error, rounding, clipping), then shift-and-add. */
            const double weight = ldexp(1.0, tl->shift + (serial ? (int)step : 0)) * tl->comp;
            const double inv_lsb = 1.0 / tl->lsb;
            for (uint32_t j = 0; j < N; j++) {
                double code = round(acc[j] * gain * inv_lsb + adc_off);
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
        if (tl->off_scale != 0.0)
            for (uint32_t v = 0; v < nb; v++) {
                const int32_t *pt = sc->p + (size_t)v * m->rows + t->row0;
                double *Yt = sc->Y + (size_t)v * m->cols + t->col0;
                int64_t psum = 0;
                for (uint32_t i = 0; i < K; i++) psum += pt[i];
                const double off = tl->off_scale * (double)psum * tl->comp;
                for (uint32_t j = 0; j < N; j++) Yt[j] -= off;
            }
    }

    for (uint32_t v = 0; v < nb; v++) {
        float *yv = y + (size_t)(b0 + v) * m->cols;
        const double *Yv = sc->Y + (size_t)v * m->cols;
        for (uint32_t c = 0; c < m->cols; c++) yv[c] = (float)(Yv[c] * m->w_scale * x_scale[v]);
    }
    out->drives = drives;
    out->sats = sats;
    out->xbar_e = xbar_e;
}

static void *mvm_worker(void *arg)
{
    mvm_job *j = arg;
    for (uint32_t c = (uint32_t)j->worker; c < j->n_chunks; c += (uint32_t)j->n_workers) {
        uint32_t b0 = c * SIM_CHUNK;
        uint32_t nb = j->batch - b0 < SIM_CHUNK ? j->batch - b0 : SIM_CHUNK;
        mvm_chunk_run(j->s, j->m, j->x, j->y, b0, nb, &j->sc, &j->chunks[c]);
    }
    return NULL;
}

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
    const uint32_t n_chunks = (batch + SIM_CHUNK - 1) / SIM_CHUNK;
    int n_workers = s->threads < (int)n_chunks ? s->threads : (int)n_chunks;
    mvm_chunk *chunks = calloc(n_chunks, sizeof *chunks);
    mvm_job *jobs = calloc((size_t)n_workers, sizeof *jobs);
    pthread_t *tids = calloc((size_t)n_workers, sizeof *tids);
    double *dbuf = malloc((size_t)m->max_tile_rows * m->max_tile_cols * sizeof *dbuf);
    double *vbuf = malloc((size_t)m->max_tile_rows * m->max_tile_cols * sizeof *vbuf);
    if (!chunks || !jobs || !tids || !dbuf || !vbuf) {
        rc = AIMC_ERR_NOMEM;
        goto out;
    }
    for (int w = 0; w < n_workers; w++) {
        jobs[w] = (mvm_job){s, m, x, y, batch, n_chunks, chunks, n_workers, w, {0}, 0};
        if (scratch_alloc(&jobs[w].sc, s, m)) {
            rc = AIMC_ERR_NOMEM;
            goto out;
        }
    }

    /* A crossbar written by a later program call, or a changed read option, since a tile's
     * read data was built: rebuild it. */
    for (size_t k = 0; k < m->n_tiles; k++)
        if (m->tiles[k].gen != s->xbars[m->tiles[k].t.xbar].gen || m->tiles[k].epoch != s->epoch)
            tile_refresh(s, &m->tiles[k], dbuf, vbuf);

    int started = 0;
    for (int w = 1; w < n_workers; w++) {
        if (pthread_create(&tids[w], NULL, mvm_worker, &jobs[w]) != 0) break;
        started = w;
    }
    /* Workers that did not start: their chunks run here, after worker 0's. */
    mvm_worker(&jobs[0]);
    for (int w = started + 1; w < n_workers; w++) mvm_worker(&jobs[w]);
    for (int w = 1; w <= started; w++) pthread_join(tids[w], NULL);

    /* Every tile of the matrix activated its crossbar once per step and vector. */
    for (size_t k = 0; k < m->n_tiles; k++)
        s->xbars[m->tiles[k].t.xbar].reads += (uint64_t)batch * s->steps;

    if (st) {
        uint64_t drives = 0, sats = 0;
        double xbar_e = 0.0;
        for (uint32_t c = 0; c < n_chunks; c++) {
            drives += chunks[c].drives;
            sats += chunks[c].sats;
            xbar_e += chunks[c].xbar_e;
        }
        const double v_unit = a->device.read_voltage_v / s->u_max;
        /* pJ per (uS x input-unit^2): V^2 * G * t with V in V, G in uS, t in ns: 1e-15 J. */
        const double xbar_pj_per = v_unit * v_unit * a->crossbar.integration_ns * 1e-3;
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
        st->energy_pj[AIMC_COMP_XBAR] += xbar_e * xbar_pj_per;
        st->energy_pj[AIMC_COMP_ADC] += (double)convs * a->adc.energy_pj;
        st->energy_pj[AIMC_COMP_DIGITAL] += (double)ops * a->digital.energy_pj_per_op;
    }
out:
    if (jobs)
        for (int w = 0; w < n_workers; w++) scratch_free(&jobs[w].sc);
    free(jobs);
    free(tids);
    free(chunks);
    free(dbuf);
    free(vbuf);
    return rc;
}
