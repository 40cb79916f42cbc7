/* kern.c - the arithmetic of a matrix-vector product: the tiles' storage formats and their
 * unpacking, the DAC, the read-noise draws, the ADC and the shift-and-add of one chunk of
 * vectors (docs/simulator.md, "Matrix-vector product"). Internal to sim/xbar (xbar_int.h).
 */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "xbar_int.h"

/* Bytes of a tile's packed read data. */
size_t xbar_pk_bytes(int fmt, size_t n)
{
    return fmt == SIM_FMT_PK14 ? (n + 3) / 4 * 7 + 1 : 4 * n;
}


/* D of one 14-bit word: the target's D plus the sign-extended 11-bit residual. */
static inline float pk_value(const int32_t *tq, uint32_t w)
{
    return (float)(tq[(w >> PK_RES_BITS) & 7] + ((int32_t)((w & 0x7ff) ^ 0x400) - 0x400));
}

void xbar_store56(uint8_t *p, uint64_t v)
{
    for (int b = 0; b < 7; b++) p[b] = (uint8_t)(v >> (8 * b));
}

/* The signed target level of pair k. */
int xbar_tile_td(const aimc_xbar *s, const sim_tile *tl, size_t k)
{
    if (tl->fmt == SIM_FMT_WIDE) {
        const int16_t *w = (const int16_t *)(const void *)tl->pk;
        size_t n = (size_t)tl->t.nrows * tl->t.ncols;
        return w[n + k];
    }
    uint64_t v = load56(tl->pk + k / 4 * 7);
    return (int)((v >> (14 * (k % 4) + PK_RES_BITS)) & 7) - s->td_off;
}

/* D of every pair, 2^-q level units, as float (exact: |D| < 2^15). */
void xbar_unpack_f(const sim_tile *tl, float *out)
{
    const size_t n = (size_t)tl->t.nrows * tl->t.ncols;
    if (tl->fmt == SIM_FMT_WIDE) {
        const int16_t *w = (const int16_t *)(const void *)tl->pk;
        for (size_t k = 0; k < n; k++) out[k] = (float)w[k];
        return;
    }
    const size_t full = n / 4;
    const int32_t *tq = tl->tq;
    const uint8_t *pk = tl->pk;
    for (size_t g = 0; g < full; g++) {
        const uint64_t v = load56(pk + g * 7);
        float *o = out + g * 4;
        o[0] = pk_value(tq, (uint32_t)v & 0x3fff);
        o[1] = pk_value(tq, (uint32_t)(v >> 14) & 0x3fff);
        o[2] = pk_value(tq, (uint32_t)(v >> 28) & 0x3fff);
        o[3] = pk_value(tq, (uint32_t)(v >> 42) & 0x3fff);
    }
    if (full * 4 < n) {
        const uint64_t v = load56(pk + full * 7);
        for (size_t k = full * 4; k < n; k++)
            out[k] = pk_value(tq, (uint32_t)(v >> (14 * (k - full * 4))) & 0x3fff);
    }
}

/* The same as doubles; tmp holds nrows x ncols floats (PK14 only). */
void xbar_unpack_d(const sim_tile *tl, float *tmp, double *out)
{
    const size_t n = (size_t)tl->t.nrows * tl->t.ncols;
    if (tl->fmt == SIM_FMT_WIDE) {
        const int16_t *w = (const int16_t *)(const void *)tl->pk;
        for (size_t k = 0; k < n; k++) out[k] = (double)w[k];
        return;
    }
    xbar_unpack_f(tl, tmp);
    for (size_t k = 0; k < n; k++) out[k] = (double)tmp[k];
}

/* DAC codes of one input vector: one scale per vector (max |x| maps to P), codes rounded half
 * away from zero. Returns the scale. */
double xbar_dac_codes(const aimc_xbar *s, const float *xv, uint32_t n, int32_t *p)
{
    float max_abs = 0.0f;
    for (uint32_t i = 0; i < n; i++)
        if (fabsf(xv[i]) > max_abs) max_abs = fabsf(xv[i]);
    double x_scale = max_abs > 0.0f ? (double)max_abs / s->x_code_max : 1.0;
    for (uint32_t i = 0; i < n; i++) {
        long q = lround((double)xv[i] / x_scale);
        if (q > s->x_code_max) q = s->x_code_max;
        if (q < -s->x_code_max) q = -s->x_code_max;
        p[i] = (int32_t)q;
    }
    return x_scale;
}


/* acc[j] += sd * z(key, c0 + j), j < n: read noise, one ziggurat normal per column. */
static void add_normals(const aimc_xbar *s, double *acc, uint32_t n, uint64_t key, uint64_t c0,
                        double sd)
{
    for (uint32_t j = 0; j < n; j++) acc[j] += sd * aimc_znorm(s->zn, key, c0 + j);
}

/* acc[j] += sqrt(var[j] * scale) * z(key, c0 + j), j < n: the same draws, each with its own
 * variance. */
static void add_normals_var(const aimc_xbar *s, double *acc, const double *var, double scale,
                            uint32_t n, uint64_t key, uint64_t c0)
{
    for (uint32_t j = 0; j < n; j++)
        acc[j] += sqrt(var[j] * scale) * aimc_znorm(s->zn, key, c0 + j);
}


/* ---- matrix-vector products -------------------------------------------------------- */



/* Tile tl's share of one vector's outputs Yt (the tile's columns): the shift-and-add result A
 * (sum over steps of code x 2^step, exact integers) times the tile's weight of a code, per
 * column scale, less the offset encoding's part (pt: the vector's input codes of the tile's
 * rows). One function for the simulator and the RTL's results, so both round alike. */
void xbar_tile_output(const sim_tile *tl, const int64_t *A, const int32_t *pt, double *Yt)
{
    const uint32_t N = tl->t.ncols, K = tl->t.nrows;
    const double weight = ldexp(1.0, tl->shift) * tl->comp * tl->lsb * tl->scale;
    const float *cs = tl->cscale;
    if (cs)
        for (uint32_t j = 0; j < N; j++) Yt[j] += (double)A[j] * weight * (double)cs[j];
    else
        for (uint32_t j = 0; j < N; j++) Yt[j] += (double)A[j] * weight;
    if (tl->off_scale != 0.0) {
        int64_t psum = 0;
        for (uint32_t i = 0; i < K; i++) psum += pt[i];
        const double off = tl->off_scale * (double)psum * tl->comp * tl->scale;
        for (uint32_t j = 0; j < N; j++) Yt[j] -= cs ? off * (double)cs[j] : off;
    }
}



/* Buffers are 64-byte aligned within the arena. */
#define ARENA_ALIGN 64

static size_t arena_round(size_t n)
{
    return (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

/* The next buffer of `bytes` in the arena from *off (NULL while only measuring: base NULL). */
static void *arena_take(const xbar_arena *a, size_t *off, size_t bytes)
{
    void *p = a->base ? a->base + *off : NULL;
    *off += arena_round(bytes);
    return p;
}

/* Grow a to at least `need` bytes (the old contents are not kept). */
static int arena_reserve(xbar_arena *a, size_t need)
{
    if (need <= a->cap) return AIMC_OK;
    size_t cap = a->cap ? a->cap : 4096;
    while (cap < need) cap *= 2;
    unsigned char *b = aligned_alloc(ARENA_ALIGN, cap);
    if (!b) return AIMC_ERR_NOMEM;
    free(a->base);
    a->base = b;
    a->cap = cap;
    return AIMC_OK;
}

/* Lay sc's buffers out in a from offset 0; returns the bytes they take. */
static size_t scratch_layout(mvm_scratch *sc, const xbar_arena *a, const aimc_xbar *s,
                             const sim_matrix *m, uint32_t batch)
{
    const size_t nbm = batch < SIM_CHUNK ? batch : SIM_CHUNK, mr = (size_t)s->steps * nbm;
    const size_t kr = m->max_tile_rows, kc = m->max_tile_cols;
    size_t off = 0;
    sc->p = arena_take(a, &off, nbm * m->rows * sizeof *sc->p);
    sc->Y = arena_take(a, &off, nbm * m->cols * sizeof *sc->Y);
    sc->A = arena_take(a, &off, nbm * kc * sizeof *sc->A);
    sc->uf = arena_take(a, &off, mr * kr * sizeof *sc->uf);
    sc->ud = arena_take(a, &off, mr * kr * sizeof *sc->ud);
    sc->df = arena_take(a, &off, kr * kc * sizeof *sc->df);
    sc->dd = arena_take(a, &off, kr * kc * sizeof *sc->dd);
    sc->af = arena_take(a, &off, mr * kc * sizeof *sc->af);
    sc->ad = arena_take(a, &off, mr * kc * sizeof *sc->ad);
    sc->vd = arena_take(a, &off, mr * kc * sizeof *sc->vd);
    sc->acc = arena_take(a, &off, kc * sizeof *sc->acc);
    sc->sum_u2 = arena_take(a, &off, mr * sizeof *sc->sum_u2);
    sc->usq = arena_take(a, &off, kr * sizeof *sc->usq);
    return off;
}

int xbar_scratch_carve(mvm_scratch *sc, xbar_arena *a, const aimc_xbar *s, const sim_matrix *m,
                       uint32_t batch)
{
    const xbar_arena measure = {NULL, 0};
    memset(sc, 0, sizeof *sc);
    int rc = arena_reserve(a, scratch_layout(sc, &measure, s, m, batch));
    if (rc) return rc;
    (void)scratch_layout(sc, a, s, m, batch);
    return AIMC_OK;
}

/* One chunk of nb vectors from vector b0: DAC, every tile, ADC, shift-and-add, rescale. */
void xbar_chunk_run(const aimc_xbar *s, const sim_matrix *m, const float *x, float *y,
                          uint32_t b0, uint32_t nb, mvm_scratch *sc, mvm_chunk *out,
                          const mvm_capture *cap)
{
    const aimc_arch *a = &s->arch;
    const int serial = a->dac.mode == AIMC_DAC_BIT_SERIAL;
    const int pwm = a->dac.mode == AIMC_DAC_PULSE_WIDTH;
    const int generic = a->device.type == AIMC_DEVICE_GENERIC ||
                        (a->device.type == AIMC_DEVICE_RRAM && xbar_uniform_sigma(s));
    const double rsig_lv = generic ? a->device.read_sigma_us / s->dg_us : 0.0;
    const double code_hi = ldexp(1.0, a->adc.bits - 1) - 1.0;
    const double code_lo = -ldexp(1.0, a->adc.bits - 1);
    const double sat_hi = code_hi + 0.5, sat_lo = code_lo - 0.5;
    const double gain = 1.0 + a->adc.gain_error, adc_off = a->adc.offset_lsb;
    const int steps = s->steps;
    const uint32_t M = (uint32_t)steps * nb;
    double x_scale[SIM_CHUNK];
    uint64_t drives = 0, sats = 0;
    double xbar_e = 0.0;

    for (uint32_t v = 0; v < nb; v++) {
        x_scale[v] = xbar_dac_codes(s, x + (size_t)(b0 + v) * m->rows, m->rows,
                               sc->p + (size_t)v * m->rows);
        if (cap) {
            memcpy(cap->p + (size_t)(b0 + v) * m->rows, sc->p + (size_t)v * m->rows,
                   (size_t)m->rows * sizeof *cap->p);
            cap->x_scale[b0 + v] = x_scale[v];
        }
    }
    memset(sc->Y, 0, (size_t)nb * m->cols * sizeof *sc->Y);
    sc->u_nrows = 0; /* new inputs: U is built afresh */

    for (size_t k = 0; k < m->n_tiles; k++) {
        const sim_tile *tl = &m->tiles[k];
        const aimc_tile *t = &tl->t;
        const sim_xbar *xbar = &s->xbars[t->xbar];
        const uint32_t K = t->nrows, N = t->ncols;
        const int per_dev = tl->s2q != NULL;

        /* Drives: row r = step * nb + v of U holds vector v's word-line values at step.
         * Tiles of the same rows (the slices of a row block) share them: built once. */
        if (t->row0 != sc->u_row0 || K != sc->u_nrows || (!tl->f32 && !sc->u_dbl) ||
            per_dev) {
            uint64_t nnz = 0;
            for (uint32_t i = 0; i < K; i++) sc->usq[i] = 0.0;
            for (int step = 0; step < steps; step++)
                for (uint32_t v = 0; v < nb; v++) {
                    const uint32_t r = (uint32_t)step * nb + v;
                    const int32_t *pt = sc->p + (size_t)v * m->rows + t->row0;
                    float *uf = sc->uf + (size_t)r * K;
                    double *ud = sc->ud + (size_t)r * K;
                    int64_t su2 = 0;
                    for (uint32_t i = 0; i < K; i++) {
                        const int32_t u = xbar_drive_of(serial, pt[i], step);
                        const int64_t u2 = (int64_t)u * u;
                        uf[i] = (float)u;
                        nnz += u != 0;
                        su2 += u2;
                        /* Energy V^2 G t: a voltage u / u_max for the whole step, or (pulse
                         * width) the full voltage for |u| / u_max of it. */
                        sc->usq[i] += pwm ? (double)(u < 0 ? -u : u) * s->u_max : (double)u2;
                    }
                    if (!tl->f32)
                        for (uint32_t i = 0; i < K; i++) ud[i] = (double)uf[i];
                    sc->sum_u2[r] = (double)su2;
                }
            sc->u_row0 = t->row0;
            sc->u_nrows = K;
            sc->u_dbl = !tl->f32;
            sc->u_nnz = nnz;
        }
        drives += sc->u_nnz;
        for (uint32_t i = 0; i < K; i++) xbar_e += sc->usq[i] * (double)tl->row_g_us[i];

        /* A = U D, exact: integer-valued operands with every sum representable. */
        if (tl->f32) {
            xbar_unpack_f(tl, sc->df);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0f,
                        sc->uf, (int)K, sc->df, (int)N, 0.0f, sc->af, (int)N);
        } else {
            xbar_unpack_d(tl, sc->df, sc->dd);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)N, (int)K, 1.0,
                        sc->ud, (int)K, sc->dd, (int)N, 0.0, sc->ad, (int)N);
        }
        /* Per-device read sigma: the column variance is (u^2) x (sigma^2), a second exact
         * product (integer-valued doubles below 2^53). */
        const size_t nd = (size_t)K * N;
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

        memset(sc->A, 0, (size_t)nb * N * sizeof *sc->A);
        const double dscale = ldexp(1.0, -tl->q), vscale = ldexp(1.0, -tl->qs);
        const uint64_t col_base = t->xbar_col0 / (uint32_t)s->cpw;
        const double inv_lsb = 1.0 / tl->lsb;
        for (uint32_t r = 0; r < M; r++) {
            const uint32_t step = r / nb, v = r % nb;
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
                add_normals_var(s, acc, sc->vd + (size_t)r * N, vscale, N, key, col_base);
            } else if (rsig_lv > 0.0 && sc->sum_u2[r] > 0.0) {
                add_normals(s, acc, N, key, col_base, sqrt(sc->sum_u2[r] * s->n_dev) * rsig_lv);
            }

            /* ADC (gain and offset error, rounding half away from zero, clipping), then the
             * shift-and-add: A += code x 2^step (bit-serial inputs), exact in integers. */
            const double gl = gain * inv_lsb;
            const int sh = serial ? (int)step : 0;
            int64_t *Av = sc->A + (size_t)v * N;
            int32_t *cc = cap ? cap->codes + (size_t)(b0 + v) * cap->per_vec + cap->off[k] +
                                    (size_t)step * N
                              : NULL;
            for (uint32_t j = 0; j < N; j++) {
                double xv = acc[j] * gl + adc_off;
                /* Held inside [lo - 1, hi + 1] (so the cast is defined), rounded half away
                 * from zero (truncate, then step on a half or more: xv - trunc(xv) is
                 * exact), clipped; a clip is a saturation. */
                xv = xv < sat_lo - 0.5 ? sat_lo - 0.5 : xv;
                xv = xv > sat_hi + 0.5 ? sat_hi + 0.5 : xv;
                const double tr = (double)(int64_t)xv, fr = xv - tr;
                double code = tr + (double)(fr >= 0.5) - (double)(fr <= -0.5);
                sats += (uint64_t)(code > code_hi) + (uint64_t)(code < code_lo);
                code = code > code_hi ? code_hi : code;
                code = code < code_lo ? code_lo : code;
                const int32_t ci = (int32_t)code;
                Av[j] += (int64_t)ci * ((int64_t)1 << sh);
                if (cc) cc[j] = ci;
            }
        }
        for (uint32_t v = 0; v < nb; v++)
            xbar_tile_output(tl, sc->A + (size_t)v * N, sc->p + (size_t)v * m->rows + t->row0,
                        sc->Y + (size_t)v * m->cols + t->col0);
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
