/* kern.c - the arithmetic of a matrix-vector product: the tiles' storage formats and their
 * decoding, the DAC, the signal products (a fused decode-and-accumulate kernel for few
 * vectors, BLAS GEMMs for many), the read noise (quasi-static over the steps of a read), the
 * ADC and the shift-and-add of one chunk of vectors, and the exact path
 * (docs/simulator.md, "Matrix-vector product"). Internal to sim/xbar (xbar_int.h).
 *
 * Every sum of the signal is exact (integers in fixed point, docs/simulator.md), and so is
 * every sum that enters the noise's covariances, so that the fused kernel, the GEMMs and the
 * exact path give the same bits and no result depends on the batch split or thread count.
 * The hot loops run over blocks of SIM_LANES elements, which the compiler vectorises; on
 * x86-64 they are also compiled for AVX2 and AVX-512 and chosen at run time (KERN_CLONES;
 * AVX-512 vectorises the ziggurat's fast path too). Floating-point contraction is off
 * (-std=c11), so every clone rounds alike.
 */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"
#include "xbar_int.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && defined(__linux__)
#define KERN_CLONES                                                                        \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERN_CLONES
#endif
/* The ADC's clamps and roundings are selects; GCC turns them into vector blends only when it
 * may assume that floating-point operations do not trap. No trap is enabled, and every value
 * is computed either way, so the results are the same bits. */
#if defined(__GNUC__) && !defined(__clang__)
#define KERN_NOTRAP __attribute__((optimize("no-trapping-math")))
#else
#define KERN_NOTRAP
#endif

/* The fused kernel decodes each row once and adds it into every step's accumulator; above
 * this many vectors a chunk unpacks the tile and calls BLAS: sgemm overtakes it from 5
 * vectors on (256 x 256, default configuration, 131 against 131 us per vector at 4 and 5),
 * dgemm, for tiles whose sums need double, from 32 (peers' configuration: 7.7 against 6.9 us
 * per vector at 32, 7.8 against 8.7 at 16). */
#define FUSED_MAX_VECTORS 4
#define FUSED_MAX_VECTORS_DBL 16

/* Cholesky pivots below this fraction of their diagonal are taken as 0 (the variable is then
 * a combination of the earlier ones; the variance dropped is below 1e-12 of it). */
#define CHOL_EPS 1e-12

/* ---- storage formats --------------------------------------------------------------- */

size_t xbar_pk_bytes(int fmt, size_t n)
{
    return fmt == SIM_FMT_PK14 ? (n + PK_GROUP - 1) / PK_GROUP * PK_GROUP_BYTES : 4 * n;
}

void xbar_pk_put(uint8_t *pk, size_t k, uint32_t w)
{
    uint8_t *g = pk + k / PK_GROUP * PK_GROUP_BYTES;
    const unsigned c = (unsigned)(k % PK_GROUP);
    g[c] = (uint8_t)(w & 0xff);
    g[64 + c % 32] |= (uint8_t)(((w >> 8) & 15) << (4 * (c / 32)));
    g[96 + c % 16] |= (uint8_t)(((w >> 12) & 3) << (2 * (c / 16)));
}

static uint32_t pk_get(const uint8_t *pk, size_t k)
{
    const uint8_t *g = pk + k / PK_GROUP * PK_GROUP_BYTES;
    const unsigned c = (unsigned)(k % PK_GROUP);
    return (uint32_t)g[c] | (uint32_t)((g[64 + c % 32] >> (4 * (c / 32))) & 15) << 8 |
           (uint32_t)((g[96 + c % 16] >> (2 * (c / 16))) & 3) << 12;
}

/* The signed target level of pair k. */
int xbar_tile_td(const aimc_xbar *s, const sim_tile *tl, size_t k)
{
    if (tl->fmt == SIM_FMT_WIDE) {
        const int16_t *w = (const int16_t *)(const void *)tl->pk;
        size_t n = (size_t)tl->t.nrows * tl->t.ncols;
        return w[n + k];
    }
    return (int)(pk_get(tl->pk, k) >> PK_RES_BITS) - s->td_off;
}

/* D of the 64 pairs of PK14 group g, 2^-q level units. */
__attribute__((always_inline)) static inline void
pk_group_decode(const uint8_t *restrict g, int q, int32_t c, float *restrict out)
{
    uint32_t w[PK_GROUP];
    for (int b = 0; b < 64; b++) w[b] = g[b];
    for (int b = 0; b < 32; b++) {
        w[b] |= (uint32_t)(g[64 + b] & 15) << 8;
        w[b + 32] |= (uint32_t)(g[64 + b] >> 4) << 8;
    }
    for (int b = 0; b < 16; b++) {
        w[b] |= (uint32_t)(g[96 + b] & 3) << 12;
        w[b + 16] |= (uint32_t)((g[96 + b] >> 2) & 3) << 12;
        w[b + 32] |= (uint32_t)((g[96 + b] >> 4) & 3) << 12;
        w[b + 48] |= (uint32_t)(g[96 + b] >> 6) << 12;
    }
    for (int b = 0; b < 64; b++)
        out[b] = (float)((int32_t)((w[b] >> PK_RES_BITS) << q) + (int32_t)(w[b] & 2047) - c);
}

/* D of pairs [k0, k0 + n) of a tile as floats (exact: |D| < 2^15). */
__attribute__((always_inline)) static inline void
decode_range(const sim_tile *tl, size_t k0, size_t n, float *restrict out)
{
    if (tl->fmt == SIM_FMT_WIDE) {
        const int16_t *w = (const int16_t *)(const void *)tl->pk + k0;
        size_t j = 0;
        for (; j + SIM_LANES <= n; j += SIM_LANES)
            for (int l = 0; l < SIM_LANES; l++) out[j + l] = (float)w[j + l];
        for (; j < n; j++) out[j] = (float)w[j];
        return;
    }
    size_t k = k0, j = 0;
    float tmp[PK_GROUP];
    while (j < n) {
        const size_t g = k / PK_GROUP, c = k % PK_GROUP;
        const uint8_t *gp = tl->pk + g * PK_GROUP_BYTES;
        if (c == 0 && n - j >= PK_GROUP) {
            pk_group_decode(gp, tl->q, tl->pkc, out + j);
            j += PK_GROUP;
            k += PK_GROUP;
            continue;
        }
        pk_group_decode(gp, tl->q, tl->pkc, tmp);
        size_t take = PK_GROUP - c < n - j ? PK_GROUP - c : n - j;
        memcpy(out + j, tmp + c, take * sizeof *out);
        j += take;
        k += take;
    }
}

/* D of every pair, 2^-q level units, as float (exact: |D| < 2^15). */
KERN_CLONES
void xbar_unpack_f(const sim_tile *tl, float *out)
{
    decode_range(tl, 0, (size_t)tl->t.nrows * tl->t.ncols, out);
}

/* The same as doubles; tmp holds nrows x ncols floats. */
void xbar_unpack_d(const sim_tile *tl, float *tmp, double *out)
{
    const size_t n = (size_t)tl->t.nrows * tl->t.ncols;
    xbar_unpack_f(tl, tmp);
    for (size_t k = 0; k < n; k++) out[k] = (double)tmp[k];
}

/* ---- DAC ------------------------------------------------------------------------- */

/* Whether every x[i], i < n, is finite (vector loop: a count of the others). */
KERN_CLONES KERN_NOTRAP
int xbar_all_finite(const float *x, size_t n)
{
    size_t i = 0;
    uint32_t bad[SIM_LANES] = {0};
    for (; i + SIM_LANES <= n; i += SIM_LANES) {
        const float *xb = x + i;
        for (int l = 0; l < SIM_LANES; l++) bad[l] += !(fabsf(xb[l]) <= FLT_MAX);
    }
    uint32_t b = 0;
    for (int l = 0; l < SIM_LANES; l++) b += bad[l];
    for (; i < n; i++) b += !isfinite(x[i]);
    return b == 0;
}

/* DAC codes of one input vector: one scale per vector (max |x| maps to P), codes rounded half
 * away from zero (trunc and a step on a half: lround's rule, vectorised). Returns the
 * scale. */
KERN_CLONES KERN_NOTRAP
double xbar_dac_codes(const aimc_xbar *s, const float *xv, uint32_t n, int32_t *p)
{
    float mx[SIM_LANES] = {0};
    uint32_t i = 0;
    for (; i + SIM_LANES <= n; i += SIM_LANES) {
        const float *xb = xv + i;
        for (int l = 0; l < SIM_LANES; l++) mx[l] = fabsf(xb[l]) > mx[l] ? fabsf(xb[l]) : mx[l];
    }
    float max_abs = 0.0f;
    for (int l = 0; l < SIM_LANES; l++)
        if (mx[l] > max_abs) max_abs = mx[l];
    for (; i < n; i++)
        if (fabsf(xv[i]) > max_abs) max_abs = fabsf(xv[i]);
    const double x_scale = max_abs > 0.0f ? (double)max_abs / s->x_code_max : 1.0;
    const double P = s->x_code_max;
    for (i = 0; i + SIM_LANES <= n; i += SIM_LANES) {
        const float *xb = xv + i;
        int32_t *pb = p + i;
        for (int l = 0; l < SIM_LANES; l++) {
            const double v = (double)xb[l] / x_scale, tr = trunc(v), fr = v - tr;
            double q = tr + (fr >= 0.5 ? 1.0 : 0.0) - (fr <= -0.5 ? 1.0 : 0.0);
            q = q > P ? P : q;
            q = q < -P ? -P : q;
            pb[l] = (int32_t)q;
        }
    }
    for (; i < n; i++) {
        long q = lround((double)xv[i] / x_scale);
        if (q > s->x_code_max) q = s->x_code_max;
        if (q < -s->x_code_max) q = -s->x_code_max;
        p[i] = (int32_t)q;
    }
    return x_scale;
}

/* ---- the digital half ------------------------------------------------------------- */

/* Tile tl's share of one vector's outputs Yt (the tile's columns): the shift-and-add result A
 * (sum over steps of code x 2^step, exact integers: Ai, or Ad as doubles) times the tile's
 * weight of a code, per column scale, less the offset encoding's part (pt: the vector's input
 * codes of the tile's rows). One function for the simulator, the exact path and the RTL's
 * results, so all three round alike. */
KERN_CLONES
static void tile_output(const sim_tile *tl, const int64_t *Ai, const double *Ad, const int32_t *pt,
                        double *restrict Yt)
{
    const uint32_t N = tl->t.ncols, K = tl->t.nrows;
    const double weight = ldexp(1.0, tl->shift) * tl->comp * tl->lsb * tl->scale;
    const float *cs = tl->cscale;
    if (Ai && cs)
        for (uint32_t j = 0; j < N; j++) Yt[j] += (double)Ai[j] * weight * (double)cs[j];
    else if (Ai)
        for (uint32_t j = 0; j < N; j++) Yt[j] += (double)Ai[j] * weight;
    else if (cs)
        for (size_t j = 0; j < N; j++) Yt[j] += Ad[j] * weight * (double)cs[j];
    else
        for (size_t j = 0; j < N; j++) Yt[j] += Ad[j] * weight;
    if (tl->off_scale != 0.0) {
        int64_t psum = 0;
        for (uint32_t i = 0; i < K; i++) psum += pt[i];
        const double off = tl->off_scale * (double)psum * tl->comp * tl->scale;
        for (uint32_t j = 0; j < N; j++) Yt[j] -= cs ? off * (double)cs[j] : off;
    }
}

void xbar_tile_output(const sim_tile *tl, const int64_t *A, const int32_t *pt, double *Yt)
{
    tile_output(tl, A, NULL, pt, Yt);
}

/* The ADC of a tile: gain, offset, rounding half away from zero and clipping, in codes. */
typedef struct adc_rule {
    double gl, off, code_hi, code_lo, sat_hi, sat_lo;
} adc_rule;

static adc_rule adc_rule_of(const aimc_xbar *s, const sim_tile *tl)
{
    const aimc_arch *a = &s->arch;
    adc_rule r;
    r.gl = (1.0 + a->adc.gain_error) * (1.0 / tl->lsb);
    r.off = a->adc.offset_lsb;
    r.code_hi = ldexp(1.0, a->adc.bits - 1) - 1.0;
    r.code_lo = -ldexp(1.0, a->adc.bits - 1);
    r.sat_hi = r.code_hi + 0.5;
    r.sat_lo = r.code_lo - 0.5;
    return r;
}

/* The ADC codes of SIM_LANES signals (level units) at once, as doubles, the clips counted per
 * lane (lanes with valid[l] == 0 do not count). Each signal is held inside [lo - 1, hi + 1],
 * rounded half away from zero (truncate, then step on a half or more: xv - trunc(xv) is
 * exact), and clipped to the code range. */
__attribute__((always_inline)) KERN_NOTRAP static inline void
adc_lanes(const adc_rule *r, const double *restrict sig, const double *restrict valid,
          double *restrict code_out, double *restrict sats)
{
    for (int l = 0; l < SIM_LANES; l++) {
        double xv = sig[l] * r->gl + r->off;
        xv = xv < r->sat_lo - 0.5 ? r->sat_lo - 0.5 : xv;
        xv = xv > r->sat_hi + 0.5 ? r->sat_hi + 0.5 : xv;
        const double tr = trunc(xv), fr = xv - tr;
        double code = tr + (fr >= 0.5 ? 1.0 : 0.0) - (fr <= -0.5 ? 1.0 : 0.0);
        const double clip = (code > r->code_hi ? 1.0 : 0.0) + (code < r->code_lo ? 1.0 : 0.0);
        sats[l] += valid[l] * clip;
        code = code > r->code_hi ? r->code_hi : code;
        code = code < r->code_lo ? r->code_lo : code;
        code_out[l] = code;
    }
}

/* One (vector, step) row of a tile through the ADC: signals ar[j] * dscale + nz[j] (nz NULL:
 * no noise), codes added into A times w (2^step bit-serial, else 1: exact, the tile's bound
 * keeps A below 2^53), clips into sats, codes into cc when capturing. */
KERN_CLONES KERN_NOTRAP
static void adc_row(const adc_rule *r, const float *fa, const double *da, double dscale,
                    const double *nz, uint32_t N, double w, double *restrict A,
                    double *restrict sats, int32_t *cc)
{
    double sig[SIM_LANES], code[SIM_LANES], valid[SIM_LANES];
    for (uint32_t j0 = 0; j0 < N; j0 += SIM_LANES) {
        const uint32_t n = N - j0 < SIM_LANES ? N - j0 : SIM_LANES;
        for (int l = 0; l < SIM_LANES; l++) valid[l] = (uint32_t)l < n ? 1.0 : 0.0;
        if (fa) {
            const float *fb = fa + j0;
            for (int l = 0; l < SIM_LANES; l++) sig[l] = (double)fb[l] * dscale;
        } else {
            const double *db = da + j0;
            for (int l = 0; l < SIM_LANES; l++) sig[l] = db[l] * dscale;
        }
        if (nz) {
            const double *nb = nz + j0;
            for (int l = 0; l < SIM_LANES; l++) sig[l] += nb[l];
        }
        for (int l = 0; l < SIM_LANES; l++) sig[l] = valid[l] != 0.0 ? sig[l] : 0.0;
        adc_lanes(r, sig, valid, code, sats);
        double *Ab = A + j0;
        for (int l = 0; l < SIM_LANES; l++) Ab[l] += code[l] * w;
        if (cc)
            for (uint32_t l = 0; l < n; l++) cc[j0 + l] = (int32_t)code[l];
    }
}

/* ---- scratch ------------------------------------------------------------------------ */

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

/* Lay sc's buffers out in a from offset 0; returns the bytes they take. Only what this
 * matrix and batch can use is given room. */
static size_t scratch_layout(mvm_scratch *sc, const xbar_arena *a, const aimc_xbar *s,
                             const sim_matrix *m, uint32_t batch)
{
    const size_t nbm = batch < SIM_CHUNK ? batch : SIM_CHUNK, S = (size_t)s->steps;
    const size_t mr = S * nbm, kr = m->max_tile_rows, kc = m->max_tile_cols;
    const size_t npad = (kc + SIM_LANES - 1) / SIM_LANES * SIM_LANES;
    const int gemm = nbm > FUSED_MAX_VECTORS;
    int plane = 0, dbl = 0;
    for (size_t k = 0; k < m->n_tiles; k++) {
        plane |= m->tiles[k].vmode == SIM_VAR_PLANE;
        dbl |= !m->tiles[k].f32;
    }
    size_t off = 0;
    sc->npad = npad;
    sc->p = arena_take(a, &off, nbm * m->rows * sizeof *sc->p);
    sc->Y = arena_take(a, &off, nbm * m->cols * sizeof *sc->Y);
    sc->xs = arena_take(a, &off, nbm * sizeof *sc->xs);
    /* The exact path's sums: the whole matrix's columns when it sums, else a tile's. */
    size_t cpad = npad, ex = 0;
    if (m->exact == SIM_EXACT_SUM) cpad = (m->cols + SIM_LANES - 1) / SIM_LANES * SIM_LANES;
    if (m->exact != SIM_EXACT_NONE) ex = nbm * cpad;
    sc->Ad = arena_take(a, &off, cpad * sizeof *sc->Ad);
    sc->satl = arena_take(a, &off, SIM_LANES * sizeof *sc->satl);
    sc->uf = arena_take(a, &off, gemm ? mr * kr * sizeof *sc->uf : 0);
    sc->ud = arena_take(a, &off, dbl ? mr * kr * sizeof *sc->ud : 0);
    sc->u2 = arena_take(a, &off, plane && gemm ? nbm * kr * sizeof *sc->u2 : 0);
    sc->df = arena_take(a, &off, gemm || dbl ? kr * kc * sizeof *sc->df : 0);
    sc->dd = arena_take(a, &off, dbl || (plane && gemm) ? kr * kc * sizeof *sc->dd : 0);
    sc->af = arena_take(a, &off, (mr * npad > ex ? mr * npad : ex) * sizeof *sc->af);
    sc->ad = arena_take(a, &off, (dbl ? (mr * npad > ex ? mr * npad : ex) : ex) * sizeof *sc->ad);
    sc->vd = arena_take(a, &off, plane ? nbm * npad * sizeof *sc->vd : 0);
    sc->drow = arena_take(a, &off, npad * sizeof *sc->drow);
    sc->drowd = arena_take(a, &off, dbl ? npad * sizeof *sc->drowd : 0);
    sc->nz = arena_take(a, &off, S * npad * sizeof *sc->nz);
    sc->W = arena_take(a, &off,
                       plane && S > 1 && S <= 8 ? ((size_t)1 << S) * npad * sizeof *sc->W : 0);
    sc->C = arena_take(a, &off, plane && S > 1 ? S * (S + 1) / 2 * npad * sizeof *sc->C : 0);
    sc->L = arena_take(a, &off, nbm * S * S * sizeof *sc->L);
    sc->usq = arena_take(a, &off, kr * sizeof *sc->usq);
    sc->rb_l = arena_take(a, &off, nbm);
    sc->rb_lz = arena_take(a, &off, nbm);
    /* The exact path: the largest block it multiplies (the whole matrix when it sums). */
    size_t qn = 0;
    if (m->exact != SIM_EXACT_NONE) {
        qn = m->exact == SIM_EXACT_SUM ? (size_t)m->rows * m->cols : kr * kc;
        if (qn < cpad) qn = cpad;
    }
    /* (doubles when the sums pass 2^24) */
    sc->qf = arena_take(a, &off, qn * sizeof(double));
    sc->pf = arena_take(a, &off, m->exact != SIM_EXACT_NONE ? nbm * m->rows * sizeof(double) : 0);
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

/* ---- vector loops ------------------------------------------------------------------- */

static inline void add_lanes(float *restrict a, const float *restrict d)
{
    for (int l = 0; l < SIM_LANES; l++) a[l] += d[l];
}

static inline void sub_lanes(float *restrict a, const float *restrict d)
{
    for (int l = 0; l < SIM_LANES; l++) a[l] -= d[l];
}

static inline void axpy_lanes(float *restrict a, float u, const float *restrict d)
{
    for (int l = 0; l < SIM_LANES; l++) a[l] += u * d[l];
}

/* o[j] = q[j] + add as floats, j < n (exact: the caller's bound). Blocks of 64, which the
 * compiler widens in whole vectors. */
static inline void codes_to_float(float *restrict o, const void *codes, int bytes, size_t at,
                                  uint32_t n, int32_t add)
{
    const float fadd = (float)add;
    uint32_t j = 0;
    if (bytes == 1) {
        const int8_t *q = (const int8_t *)codes + at;
        for (; j + 64 <= n; j += 64) {
            const int8_t *qb = q + j;
            float *ob = o + j;
            for (int l = 0; l < 64; l++) ob[l] = (float)qb[l] + fadd;
        }
        for (; j < n; j++) o[j] = (float)q[j] + fadd;
    } else {
        const int16_t *q = (const int16_t *)codes + at;
        for (; j + 64 <= n; j += 64) {
            const int16_t *qb = q + j;
            float *ob = o + j;
            for (int l = 0; l < 64; l++) ob[l] = (float)qb[l] + fadd;
        }
        for (; j < n; j++) o[j] = (float)q[j] + fadd;
    }
}

/* The same as doubles (exact below 2^53). */
static inline void codes_to_double(double *restrict o, const void *codes, int bytes, size_t at,
                                   uint32_t n, int32_t add)
{
    uint32_t j = 0;
    if (bytes == 1) {
        const int8_t *q = (const int8_t *)codes + at;
        for (; j + SIM_LANES <= n; j += SIM_LANES) {
            const int8_t *qb = q + j;
            double *ob = o + j;
            for (int l = 0; l < SIM_LANES; l++) ob[l] = (double)((int32_t)qb[l] + add);
        }
        for (; j < n; j++) o[j] = (double)((int32_t)q[j] + add);
    } else {
        const int16_t *q = (const int16_t *)codes + at;
        for (; j + SIM_LANES <= n; j += SIM_LANES) {
            const int16_t *qb = q + j;
            double *ob = o + j;
            for (int l = 0; l < SIM_LANES; l++) ob[l] = (double)((int32_t)qb[l] + add);
        }
        for (; j < n; j++) o[j] = (double)((int32_t)q[j] + add);
    }
}

/* a += c0 d[0] + c1 d[ld] + c2 d[2 ld] + c3 d[3 ld] */
static inline void axpy4_lanes(float *restrict a, float c0, float c1, float c2, float c3,
                               const float *restrict d, size_t ld)
{
    for (int l = 0; l < SIM_LANES; l++)
        a[l] += c0 * d[l] + c1 * d[ld + l] + c2 * d[2 * ld + l] + c3 * d[3 * ld + l];
}

static inline void axpy_lanes_d(double *restrict a, double u, const double *restrict d)
{
    for (int l = 0; l < SIM_LANES; l++) a[l] += u * d[l];
}

/* ---- the drives of a row block ------------------------------------------------------- */

/* Rows [row0, row0 + K) of the chunk's codes start a new row block: its counters (drives,
 * energy weights) and nothing built yet. Tiles of the same rows (the slices and column blocks
 * of one row block) share what follows. */
KERN_CLONES
static void block_start(const aimc_xbar *s, mvm_scratch *sc, uint32_t rows, uint32_t row0,
                        uint32_t K, uint32_t nb)
{
    const int serial = s->arch.dac.mode == AIMC_DAC_BIT_SERIAL;
    const int pwm = s->arch.dac.mode == AIMC_DAC_PULSE_WIDTH;
    const double umax = s->u_max;
    double *restrict usq = sc->usq;
    uint64_t nnz = 0;
    for (uint32_t i = 0; i < K; i++) usq[i] = 0.0;
    for (uint32_t v = 0; v < nb; v++) {
        const int32_t *restrict pt = sc->p + (size_t)v * rows + row0;
        uint32_t cnt = 0;
        if (serial) {
            /* Each set bit is a step driving the row with u^2 = 1. */
            for (uint32_t i = 0; i < K; i++) {
                const uint32_t bits =
                    (uint32_t)__builtin_popcount((uint32_t)(pt[i] < 0 ? -pt[i] : pt[i]));
                cnt += bits;
                usq[i] += (double)bits;
            }
        } else {
            /* Energy V^2 G t: a voltage u / u_max for the whole step, or (pulse width) the
             * full voltage for |u| / u_max of it. */
            uint32_t i = 0;
            uint32_t c16[SIM_LANES] = {0};
            for (; i + SIM_LANES <= K; i += SIM_LANES) {
                const int32_t *pb = pt + i;
                double *ub = usq + i;
                for (int l = 0; l < SIM_LANES; l++) {
                    const double c = (double)pb[l];
                    c16[l] += pb[l] != 0;
                    ub[l] += pwm ? (c < 0.0 ? -c : c) * umax : c * c;
                }
            }
            for (int l = 0; l < SIM_LANES; l++) cnt += c16[l];
            for (; i < K; i++) {
                const double c = (double)pt[i];
                cnt += pt[i] != 0;
                usq[i] += pwm ? (c < 0.0 ? -c : c) * umax : c * c;
            }
        }
        nnz += cnt;
    }
    sc->rb_row0 = row0;
    sc->rb_nrows = K;
    sc->rb_valid = 1;
    sc->rb_uf = sc->rb_ud = sc->rb_u2 = 0;
    memset(sc->rb_l, 0, nb);
    sc->rb_nnz = nnz;
}

/* The drives as the GEMMs' left operand: row r = step * nb + v holds vector v's word-line
 * values at that step. */
static void block_drives(const aimc_xbar *s, mvm_scratch *sc, uint32_t rows, uint32_t nb,
                         int dbl)
{
    const int serial = s->arch.dac.mode == AIMC_DAC_BIT_SERIAL;
    const uint32_t K = sc->rb_nrows;
    for (int step = 0; step < s->steps; step++)
        for (uint32_t v = 0; v < nb; v++) {
            const size_t r = (size_t)step * nb + v;
            const int32_t *pt = sc->p + (size_t)v * rows + sc->rb_row0;
            if (dbl) {
                double *ud = sc->ud + r * K;
                for (uint32_t i = 0; i < K; i++) ud[i] = (double)xbar_drive_of(serial, pt[i], step);
            } else {
                float *uf = sc->uf + r * K;
                for (uint32_t i = 0; i < K; i++) uf[i] = (float)xbar_drive_of(serial, pt[i], step);
            }
        }
    if (dbl)
        sc->rb_ud = 1;
    else
        sc->rb_uf = 1;
}

/* Cholesky factor L (lower, S x S, row-major) of the symmetric positive semidefinite C (its
 * lower triangle, row-major S x S): pivots below CHOL_EPS of their diagonal are 0, and so is
 * the rest of their column. */
static void cholesky(const double *C, int S, double *L)
{
    for (int k = 0; k < S; k++) {
        double d = C[k * S + k];
        for (int p = 0; p < k; p++) d -= L[k * S + p] * L[k * S + p];
        const double lk = d > CHOL_EPS * C[k * S + k] && d > 0.0 ? sqrt(d) : 0.0;
        for (int p = k; p < S; p++) L[k * S + p] = 0.0;
        L[k * S + k] = lk;
        for (int i = k + 1; i < S; i++) {
            double e = C[i * S + k];
            for (int p = 0; p < k; p++) e -= L[i * S + p] * L[k * S + p];
            L[i * S + k] = lk > 0.0 ? e / lk : 0.0;
        }
    }
}

/* L of vector v for this row block: the Cholesky factor of the Gram matrix of its drives over
 * the steps, G[t][t'] = sum_i u_ti u_t'i (bit-serial: the rows driven at both steps; one
 * step: sum_i u_i^2). The read noise of a column with every pair's variance vpair has
 * covariance vpair G (docs/devices.md). */
static const double *block_chol(const aimc_xbar *s, mvm_scratch *sc, uint32_t rows, uint32_t v)
{
    const int S = s->steps;
    double *L = sc->L + (size_t)v * S * S;
    if (sc->rb_l[v]) return sc->rb_lz[v] ? NULL : L;
    const int32_t *pt = sc->p + (size_t)v * rows + sc->rb_row0;
    double G[32 * 32];
    memset(G, 0, (size_t)S * S * sizeof *G);
    if (s->arch.dac.mode == AIMC_DAC_BIT_SERIAL) {
        /* Count rows by their set of steps (2^S counters when S is small), then the sums over
         * the sets containing each pair of steps. */
        uint32_t cnt[256];
        if (S <= 8) {
            const uint32_t nm = 1u << S;
            memset(cnt, 0, sizeof cnt);
            for (uint32_t i = 0; i < sc->rb_nrows; i++)
                cnt[(uint32_t)(pt[i] < 0 ? -pt[i] : pt[i])]++;
            for (int b = 0; b < S; b++)
                for (uint32_t mk = 0; mk < nm; mk++)
                    if (!(mk >> b & 1)) cnt[mk] += cnt[mk | 1u << b];
            for (int t = 0; t < S; t++)
                for (int t2 = 0; t2 <= t; t2++) G[t * S + t2] = cnt[(1u << t) | (1u << t2)];
        } else {
            for (uint32_t i = 0; i < sc->rb_nrows; i++) {
                const uint32_t mk = (uint32_t)(pt[i] < 0 ? -pt[i] : pt[i]);
                for (int t = 0; t < S; t++)
                    for (int t2 = 0; t2 <= t; t2++)
                        if ((mk >> t & 1) && (mk >> t2 & 1)) G[t * S + t2] += 1.0;
            }
        }
    } else {
        for (uint32_t i = 0; i < sc->rb_nrows; i++) G[0] += (double)pt[i] * (double)pt[i];
    }
    int any = 0;
    for (int t = 0; t < S; t++) any |= G[t * S + t] > 0.0;
    sc->rb_l[v] = 1;
    sc->rb_lz[v] = !any;
    if (!any) return NULL;
    cholesky(G, S, L);
    return L;
}

/* ---- the signal ------------------------------------------------------------------------ */

static inline void add_lanes_d(double *restrict a, const double *restrict d)
{
    for (int l = 0; l < SIM_LANES; l++) a[l] += d[l];
}

static inline void sub_lanes_d(double *restrict a, const double *restrict d)
{
    for (int l = 0; l < SIM_LANES; l++) a[l] -= d[l];
}

static inline void float_to_double_lanes(double *restrict o, const float *restrict f)
{
    for (int l = 0; l < SIM_LANES; l++) o[l] = (double)f[l];
}

/* A = U D for the chunk's nb vectors, fused: each row of the tile is decoded once and added
 * into the accumulator of every (step, vector) that drives it (af: steps*nb x npad floats,
 * exact: integer-valued below 2^24; tiles whose sums need more, ad in double). One step with
 * a variance plane also gives, per vector, sum_i u_i^2 v_ij into vd (exact integer-valued
 * doubles). */
KERN_CLONES
static void fused_signal(const aimc_xbar *s, const sim_tile *tl, mvm_scratch *sc, uint32_t rows,
                         uint32_t nb)
{
    const int serial = s->arch.dac.mode == AIMC_DAC_BIT_SERIAL;
    const uint32_t K = tl->t.nrows, N = tl->t.ncols;
    const size_t npad = sc->npad, nblk = (N + SIM_LANES - 1) / SIM_LANES;
    const size_t M = (size_t)s->steps * nb;
    const int var1 = tl->vmode == SIM_VAR_PLANE && s->steps == 1, dbl = !tl->f32;
    float *restrict drow = sc->drow;
    double *restrict drd = sc->drowd;
    if (dbl)
        memset(sc->ad, 0, M * npad * sizeof *sc->ad);
    else
        memset(sc->af, 0, M * npad * sizeof *sc->af);
    if (var1) memset(sc->vd, 0, (size_t)nb * npad * sizeof *sc->vd);
    for (size_t j = N; j < nblk * SIM_LANES; j++) drow[j] = 0.0f;
    for (uint32_t i = 0; i < K; i++) {
        int any = 0;
        for (uint32_t v = 0; v < nb; v++) any |= sc->p[(size_t)v * rows + tl->t.row0 + i] != 0;
        if (!any) continue;
        decode_range(tl, (size_t)i * N, N, drow);
        if (dbl)
            for (size_t b = 0; b < nblk; b++)
                float_to_double_lanes(drd + b * SIM_LANES, drow + b * SIM_LANES);
        for (uint32_t v = 0; v < nb; v++) {
            const int32_t c = sc->p[(size_t)v * rows + tl->t.row0 + i];
            if (c == 0) continue;
            if (serial) {
                uint32_t mag = (uint32_t)(c < 0 ? -c : c);
                while (mag) {
                    const int t = __builtin_ctz(mag);
                    mag &= mag - 1;
                    const size_t at = ((size_t)t * nb + v) * npad;
                    if (dbl) {
                        double *a = sc->ad + at;
                        if (c > 0)
                            for (size_t b = 0; b < nblk; b++)
                                add_lanes_d(a + b * SIM_LANES, drd + b * SIM_LANES);
                        else
                            for (size_t b = 0; b < nblk; b++)
                                sub_lanes_d(a + b * SIM_LANES, drd + b * SIM_LANES);
                    } else {
                        float *a = sc->af + at;
                        if (c > 0)
                            for (size_t b = 0; b < nblk; b++)
                                add_lanes(a + b * SIM_LANES, drow + b * SIM_LANES);
                        else
                            for (size_t b = 0; b < nblk; b++)
                                sub_lanes(a + b * SIM_LANES, drow + b * SIM_LANES);
                    }
                }
            } else {
                if (dbl) {
                    double *a = sc->ad + (size_t)v * npad;
                    for (size_t b = 0; b < nblk; b++)
                        axpy_lanes_d(a + b * SIM_LANES, (double)c, drd + b * SIM_LANES);
                } else {
                    float *a = sc->af + (size_t)v * npad;
                    for (size_t b = 0; b < nblk; b++)
                        axpy_lanes(a + b * SIM_LANES, (float)c, drow + b * SIM_LANES);
                }
                if (var1) {
                    const uint16_t *vr = tl->vq + (size_t)i * N;
                    double *vd = sc->vd + (size_t)v * npad;
                    const double u2 = (double)c * (double)c;
                    for (uint32_t j = 0; j < N; j++) vd[j] += u2 * (double)vr[j];
                }
            }
        }
    }
}

/* A = U D by BLAS: the drives (built once per row block) times the unpacked tile, in float
 * when the tile's sums are exact floats, else in double. One step with a variance plane: the
 * variances sum_i u_i^2 v_ij as a second product. */
static void gemm_signal(const aimc_xbar *s, const sim_tile *tl, mvm_scratch *sc, uint32_t rows,
                        uint32_t nb)
{
    const int M = s->steps * (int)nb, K = (int)tl->t.nrows, N = (int)tl->t.ncols;
    const int npad = (int)sc->npad;
    if (tl->f32) {
        if (!sc->rb_uf) block_drives(s, sc, rows, nb, 0);
        xbar_unpack_f(tl, sc->df);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, sc->uf, K, sc->df,
                    N, 0.0f, sc->af, npad);
    } else {
        if (!sc->rb_ud) block_drives(s, sc, rows, nb, 1);
        xbar_unpack_d(tl, sc->df, sc->dd);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0, sc->ud, K, sc->dd,
                    N, 0.0, sc->ad, npad);
    }
    if (tl->vmode == SIM_VAR_PLANE && s->steps == 1) {
        if (!sc->rb_u2) {
            for (uint32_t v = 0; v < nb; v++) {
                const int32_t *pt = sc->p + (size_t)v * rows + tl->t.row0;
                double *u2 = sc->u2 + (size_t)v * (size_t)K;
                for (int i = 0; i < K; i++) u2[i] = (double)pt[i] * (double)pt[i];
            }
            sc->rb_u2 = 1;
        }
        const size_t n = (size_t)K * (size_t)N;
        for (size_t k = 0; k < n; k++) sc->dd[k] = (double)tl->vq[k];
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, N, K, 1.0, sc->u2, K,
                    sc->dd, N, 0.0, sc->vd, npad);
    }
}

/* ---- read noise ------------------------------------------------------------------------- */

/* z[t][l] = the standard normal of column col0 + l at step t, aimc_znorm(key, (col0 + l) S +
 * t), for the steps with draw[t] != 0 and the lanes l < n; 0 elsewhere. The fast path of the
 * ziggurat for all lanes at once, the rare rejections (1.2 %) through aimc_znorm_slow: the
 * same numbers as aimc_znorm. */
__attribute__((always_inline)) KERN_NOTRAP static inline void
normals_block(const aimc_znorm_tables *zt, uint64_t key, uint64_t col0, int S,
              const unsigned char *draw, uint32_t n, double (*restrict z)[SIM_LANES])
{
    const double *restrict X = zt->x;
    uint64_t bits[SIM_LANES];
    double ok[SIM_LANES];
    for (int t = 0; t < S; t++) {
        double *restrict zr = z[t];
        if (!draw[t]) {
            for (int l = 0; l < SIM_LANES; l++) zr[l] = 0.0;
            continue;
        }
        const uint64_t c0 = col0 * (uint64_t)S + (uint64_t)t;
        for (int l = 0; l < SIM_LANES; l++) {
            const uint64_t b = aimc_rng_u64(key, c0 + (uint64_t)l * (uint64_t)S);
            const unsigned i = (unsigned)(b & 0xff);
            const double u = ((double)(b >> 11) + 0.5) * 0x1.0p-52 - 1.0;
            const double x = u * X[i];
            const double xa = x < 0.0 ? -x : x;
            ok[l] = xa < X[i + 1] ? 1.0 : 0.0;
            zr[l] = x;
            bits[l] = b;
        }
        for (uint32_t l = 0; l < n; l++)
            if (ok[l] == 0.0) zr[l] = aimc_znorm_slow(zt, key, c0 + l * (uint64_t)S, bits[l]);
        for (uint32_t l = n; l < SIM_LANES; l++) zr[l] = 0.0;
    }
}

/* nz[t][j] = sd_j (L z_j)_t for the columns j < N (0 in the lanes beyond): z_j the steps'
 * standard normals of column j under the read's key (counter (c0 + j) S + t; only the steps
 * with a nonzero pivot draw), L lower triangular S x S, sd_j = sqrt(vcol[j]), or sqrt(vpair)
 * when vcol is NULL. */
KERN_CLONES KERN_NOTRAP
static void noise_shared(const aimc_xbar *s, const double *L, double vpair, const double *vcol,
                         uint64_t key, uint64_t c0, uint32_t N, double *nz, size_t npad)
{
    const int S = s->steps;
    double z[32][SIM_LANES], sd[SIM_LANES];
    unsigned char draw[32];
    for (int t = 0; t < S; t++) draw[t] = L[t * S + t] > 0.0;
    const double sd0 = sqrt(vpair);
    for (uint32_t j0 = 0; j0 < N; j0 += SIM_LANES) {
        const uint32_t n = N - j0 < SIM_LANES ? N - j0 : SIM_LANES;
        normals_block(s->zn, key, c0 + j0, S, draw, n, z);
        if (vcol)
            for (uint32_t l = 0; l < SIM_LANES; l++) sd[l] = l < n ? sqrt(vcol[j0 + l]) : 0.0;
        else
            for (int l = 0; l < SIM_LANES; l++) sd[l] = sd0;
        for (int t = 0; t < S; t++) {
            double acc[SIM_LANES];
            for (int l = 0; l < SIM_LANES; l++) acc[l] = 0.0;
            for (int t2 = 0; t2 <= t; t2++) {
                const double c = L[t * S + t2];
                for (int l = 0; l < SIM_LANES; l++) acc[l] += c * z[t2][l];
            }
            double *o = nz + (size_t)t * npad + j0;
            for (int l = 0; l < SIM_LANES; l++) o[l] = sd[l] * acc[l];
        }
    }
}

/* The same with a covariance per column: C holds, for entry (t, t2 <= t) at index
 * t (t + 1) / 2 + t2, the npad columns' covariances in units of `unit`. */
static void noise_columns(const aimc_xbar *s, const double *C, double unit, uint64_t key,
                          uint64_t c0, uint32_t N, double *nz, size_t npad)
{
    const int S = s->steps;
    double Cj[32 * 32], L[32 * 32], z[32];
    const double sd = sqrt(unit);
    for (uint32_t j = 0; j < N; j++) {
        for (int t = 0; t < S; t++)
            for (int t2 = 0; t2 <= t; t2++)
                Cj[t * S + t2] = C[(size_t)(t * (t + 1) / 2 + t2) * npad + j];
        cholesky(Cj, S, L);
        const uint64_t base = (c0 + j) * (uint64_t)S;
        for (int t = 0; t < S; t++)
            z[t] = L[t * S + t] > 0.0 ? aimc_znorm(s->zn, key, base + (uint64_t)t) : 0.0;
        for (int t = 0; t < S; t++) {
            double n = 0.0;
            for (int t2 = 0; t2 <= t; t2++) n += L[t * S + t2] * z[t2];
            nz[(size_t)t * npad + j] = sd * n;
        }
    }
}

/* W[mask] += the variance row of pair row i for every row driven with |code| = mask, then the
 * superset sums over the S bits: W[A] = sum over masks containing A. Exact (uint32: the tile's
 * sums stay below 2^32, xbar.c). */
KERN_CLONES
static void buckets_serial(const aimc_xbar *s, const sim_tile *tl, mvm_scratch *sc,
                           const int32_t *pt)
{
    const int S = s->steps;
    const uint32_t K = tl->t.nrows, N = tl->t.ncols, nm = 1u << S;
    const size_t npad = sc->npad, nblk = (N + SIM_LANES - 1) / SIM_LANES;
    uint32_t *restrict W = sc->W;
    memset(W, 0, (size_t)nm * npad * sizeof *W);
    for (uint32_t i = 0; i < K; i++) {
        const uint32_t mk = (uint32_t)(pt[i] < 0 ? -pt[i] : pt[i]);
        if (!mk) continue;
        const uint16_t *vr = tl->vq + (size_t)i * N;
        uint32_t *w = W + (size_t)mk * npad;
        for (uint32_t j = 0; j < N; j++) w[j] += vr[j];
    }
    for (int b = 0; b < S; b++)
        for (uint32_t mk = 0; mk < nm; mk++) {
            if (mk >> b & 1) continue;
            uint32_t *restrict lo = W + (size_t)mk * npad;
            const uint32_t *restrict hi = W + (size_t)(mk | 1u << b) * npad;
            for (size_t bl = 0; bl < nblk; bl++)
                for (int l = 0; l < SIM_LANES; l++)
                    lo[bl * SIM_LANES + l] += hi[bl * SIM_LANES + l];
        }
}

/* The read noise of vector v's read of tile tl with a variance plane into nz: per column the
 * covariance of its steps, sum_i v_ij u_i u_i^T (exact), its Cholesky factor, the draws. */
static void noise_plane(const aimc_xbar *s, const sim_tile *tl, mvm_scratch *sc, uint32_t rows,
                        uint32_t v, uint64_t key, uint64_t c0)
{
    const int S = s->steps;
    const uint32_t K = tl->t.nrows, N = tl->t.ncols;
    const size_t npad = sc->npad;
    const double unit = ldexp(1.0, -tl->qs);
    const int32_t *pt = sc->p + (size_t)v * rows + tl->t.row0;
    if (S == 1) {
        /* One step: a variance per column (vd, from the signal pass). */
        const double *vd = sc->vd + (size_t)v * npad;
        double z;
        for (uint32_t j = 0; j < N; j++) {
            const double var = vd[j];
            z = var > 0.0 ? aimc_znorm(s->zn, key, c0 + j) : 0.0;
            sc->nz[j] = sqrt(var * unit) * z;
        }
        return;
    }
    double *C = sc->C;
    if (S <= 8) {
        buckets_serial(s, tl, sc, pt);
        for (int t = 0; t < S; t++)
            for (int t2 = 0; t2 <= t; t2++) {
                const uint32_t *w = sc->W + (size_t)((1u << t) | (1u << t2)) * npad;
                double *c = C + (size_t)(t * (t + 1) / 2 + t2) * npad;
                for (uint32_t j = 0; j < N; j++) c[j] = (double)w[j];
            }
    } else {
        memset(C, 0, (size_t)S * (S + 1) / 2 * npad * sizeof *C);
        for (uint32_t i = 0; i < K; i++) {
            const uint32_t mk = (uint32_t)(pt[i] < 0 ? -pt[i] : pt[i]);
            const uint16_t *vr = tl->vq + (size_t)i * N;
            for (int t = 0; t < S; t++) {
                if (!(mk >> t & 1)) continue;
                for (int t2 = 0; t2 <= t; t2++) {
                    if (!(mk >> t2 & 1)) continue;
                    double *c = C + (size_t)(t * (t + 1) / 2 + t2) * npad;
                    for (uint32_t j = 0; j < N; j++) c[j] += (double)vr[j];
                }
            }
        }
    }
    noise_columns(s, C, unit, key, c0, N, sc->nz, npad);
}

/* ---- one chunk ---------------------------------------------------------------------------- */

static void exact_chunk(const aimc_xbar *s, const sim_matrix *m, mvm_scratch *sc, uint32_t nb,
                        uint64_t *drives, uint64_t *sats, double *xbar_e);

/* y of the chunk's vectors from their digital sums Y: y = Y w_scale x_scale, rounded. */
KERN_CLONES
static void chunk_output(const sim_matrix *m, const mvm_scratch *sc, float *y, uint32_t b0,
                         uint32_t nb)
{
    for (uint32_t v = 0; v < nb; v++) {
        float *restrict yv = y + (size_t)(b0 + v) * m->cols;
        const double *restrict Yv = sc->Y + (size_t)v * m->cols;
        const double ws = m->w_scale, xs = sc->xs[v];
        for (size_t c = 0; c < m->cols; c++) yv[c] = (float)(Yv[c] * ws * xs);
    }
}

/* One chunk of nb vectors from vector b0: DAC, every tile, ADC, shift-and-add, rescale. */
void xbar_chunk_run(const aimc_xbar *s, const sim_matrix *m, const float *x, float *y,
                    uint32_t b0, uint32_t nb, mvm_scratch *sc, mvm_chunk *out,
                    const mvm_capture *cap)
{
    const int serial = s->arch.dac.mode == AIMC_DAC_BIT_SERIAL;
    const int S = s->steps;
    const size_t npad = sc->npad;
    uint64_t drives = 0, sats = 0;
    double xbar_e = 0.0;

    for (uint32_t v = 0; v < nb; v++) {
        sc->xs[v] = xbar_dac_codes(s, x + (size_t)(b0 + v) * m->rows, m->rows,
                                   sc->p + (size_t)v * m->rows);
        if (cap) {
            memcpy(cap->p + (size_t)(b0 + v) * m->rows, sc->p + (size_t)v * m->rows,
                   (size_t)m->rows * sizeof *cap->p);
            cap->x_scale[b0 + v] = sc->xs[v];
        }
    }
    memset(sc->Y, 0, (size_t)nb * m->cols * sizeof *sc->Y);
    memset(sc->satl, 0, SIM_LANES * sizeof *sc->satl);
    sc->rb_valid = 0;

    if (m->exact != SIM_EXACT_NONE && s->exact_ok && !cap) {
        exact_chunk(s, m, sc, nb, &drives, &sats, &xbar_e);
        chunk_output(m, sc, y, b0, nb);
        out->drives = drives;
        out->sats = sats;
        out->xbar_e = xbar_e;
        return;
    }

    for (size_t k = 0; k < m->n_tiles; k++) {
        const sim_tile *tl = &m->tiles[k];
        const aimc_tile *t = &tl->t;
        const sim_xbar *xbar = &s->xbars[t->xbar];
        const uint32_t N = t->ncols;

        if (!sc->rb_valid || t->row0 != sc->rb_row0 || t->nrows != sc->rb_nrows)
            block_start(s, sc, m->rows, t->row0, t->nrows, nb);
        drives += sc->rb_nnz;
        for (uint32_t i = 0; i < t->nrows; i++) xbar_e += sc->usq[i] * (double)tl->row_g_us[i];

        if (nb <= (tl->f32 ? FUSED_MAX_VECTORS : FUSED_MAX_VECTORS_DBL))
            fused_signal(s, tl, sc, m->rows, nb);
        else
            gemm_signal(s, tl, sc, m->rows, nb);

        const double dscale = ldexp(1.0, -tl->q);
        const uint64_t col_base = t->xbar_col0 / (uint32_t)s->cpw;
        const adc_rule rule = adc_rule_of(s, tl);
        for (uint32_t v = 0; v < nb; v++) {
            /* Read noise, quasi-static over the read: one key per read of the tile (the
             * crossbar's activation count at its first step), the steps' draws correlated
             * as the devices' deviations are shared (docs/devices.md). */
            const uint64_t event = xbar->reads +
                                   ((uint64_t)(b0 + v) * tl->xbar_tiles + tl->xbar_slot) *
                                       (uint64_t)S;
            const uint64_t key = aimc_rng_key(s->seed, AIMC_RNG_DOMAIN_READ, t->xbar, event);
            int noisy = 0;
            if (tl->vmode == SIM_VAR_UNIFORM || tl->vmode == SIM_VAR_COLUMN) {
                const double *L = block_chol(s, sc, m->rows, v);
                if (L) {
                    noise_shared(s, L, tl->vpair, tl->vcol, key, col_base, N, sc->nz, npad);
                    noisy = 1;
                }
            } else if (tl->vmode == SIM_VAR_PLANE) {
                noise_plane(s, tl, sc, m->rows, v, key, col_base);
                noisy = 1;
            }

            /* ADC, then the shift-and-add: A += code x 2^step (bit-serial inputs), exact. */
            double *Ad = sc->Ad, *sl = sc->satl;
            memset(Ad, 0, npad * sizeof *Ad);
            for (int step = 0; step < S; step++) {
                const size_t r = (size_t)step * nb + v;
                int32_t *cc = cap ? cap->codes + (size_t)(b0 + v) * cap->per_vec + cap->off[k] +
                                        (size_t)step * N
                                  : NULL;
                adc_row(&rule, tl->f32 ? sc->af + r * npad : NULL,
                        tl->f32 ? NULL : sc->ad + r * npad, dscale,
                        noisy ? sc->nz + (size_t)step * npad : NULL, N,
                        serial ? ldexp(1.0, step) : 1.0, Ad, sl, cc);
            }
            tile_output(tl, NULL, Ad, sc->p + (size_t)v * m->rows + t->row0,
                        sc->Y + (size_t)v * m->cols + t->col0);
        }
    }
    for (int l = 0; l < SIM_LANES; l++) sats += (uint64_t)sc->satl[l];

    chunk_output(m, sc, y, b0, nb);
    out->drives = drives;
    out->sats = sats;
    out->xbar_e = xbar_e;
}

/* ---- the exact path ------------------------------------------------------------------ */

/* Whether x is a power of two (any sign of exponent). */
static int pow2(double x)
{
    int e;
    return x > 0.0 && frexp(x, &e) == 0.5;
}

/* When one integer GEMM of the quantised operands gives the bits of every slice and step
 * (docs/simulator.md, "The exact path"): every device reads exactly its integer level with
 * no noise (the matrix kept its codes), and either
 *  - one input step and one weight slice: per tile the column sums are the GEMM of the codes
 *    (plus 2^(Wb-1) sum p with offset encoding), through the same ADC and shift-and-add, or
 *  - every ADC is lossless (no gain or offset error, a power-of-two LSB <= 1 level, so every
 *    integer signal is a code, and a range holding the largest |signal| of its tile, so none
 *    clips) and one weight scale for the matrix: the shift-and-add of the slices and steps is
 *    then exactly sum_i p_i q_ij, and so is every partial sum of it (below 2^53), so its
 *    rescale is the full path's to the bit. */
int xbar_exact_mode(const aimc_xbar *s, const sim_matrix *m)
{
    const aimc_arch *a = &s->arch;
    if (!m->codes) return SIM_EXACT_NONE;
    for (size_t k = 0; k < m->n_tiles; k++)
        if (!m->tiles[k].noiseless) return SIM_EXACT_NONE;
    const double P = s->x_code_max, Q = s->w_code_max;
    if (s->steps == 1 && s->slices == 1) {
        /* Per tile sums: below 2^53 (the arch's bounds: rows * 2^30 * 2^16). */
        return (double)m->max_tile_rows * P * (2.0 * Q + 1.0) < 0x1p53 ? SIM_EXACT_TILE
                                                                        : SIM_EXACT_NONE;
    }
    if (a->crossbar.weight_scale != AIMC_WSCALE_MATRIX || a->adc.gain_error != 0.0 ||
        a->adc.offset_lsb != 0.0)
        return SIM_EXACT_NONE;
    if ((double)m->rows * P * (2.0 * Q + 1.0) >= 0x1p53) return SIM_EXACT_NONE;
    const double top = ldexp(1.0, a->adc.bits - 1) - 1.0;
    for (size_t k = 0; k < m->n_tiles; k++) {
        const sim_tile *tl = &m->tiles[k];
        if (!pow2(tl->lsb) || tl->lsb > 1.0) return SIM_EXACT_NONE;
        if (top * tl->lsb < (double)tl->t.nrows * s->u_max * s->level_max) return SIM_EXACT_NONE;
    }
    return SIM_EXACT_SUM;
}

/* acc (nb x npad) = the chunk's codes of rows [row0, row0 + K) times those rows of the
 * matrix's codes, columns [col0, col0 + N), each plus `add`: exact sums, in float when the
 * caller's bound keeps them below 2^24 (dbl 0: acc is float), else in double. One row at a
 * time for few vectors, else one BLAS GEMM. */
KERN_CLONES
static void exact_gemm(const sim_matrix *m, mvm_scratch *sc, uint32_t nb, uint32_t row0,
                       uint32_t K, uint32_t col0, uint32_t N, int32_t add, int dbl, void *acc)
{
    const size_t npad = (N + SIM_LANES - 1) / SIM_LANES * SIM_LANES, nblk = npad / SIM_LANES;
    float *restrict qf = sc->qf, *restrict pf = sc->pf;
    double *restrict qd = (double *)(void *)sc->qf, *restrict pd = (double *)(void *)sc->pf;
    if (nb > FUSED_MAX_VECTORS) {
        for (uint32_t i = 0; i < K; i++) {
            const size_t at = (size_t)(row0 + i) * m->cols + col0;
            if (dbl)
                codes_to_double(qd + (size_t)i * N, m->codes, m->code_bytes, at, N, add);
            else
                codes_to_float(qf + (size_t)i * N, m->codes, m->code_bytes, at, N, add);
        }
        for (uint32_t v = 0; v < nb; v++) {
            const int32_t *pv = sc->p + (size_t)v * m->rows + row0;
            for (uint32_t i = 0; i < K; i++) {
                if (dbl)
                    pd[(size_t)v * K + i] = (double)pv[i];
                else
                    pf[(size_t)v * K + i] = (float)pv[i];
            }
        }
        if (dbl)
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)N, (int)K, 1.0,
                        pd, (int)K, qd, (int)N, 0.0, acc, (int)npad);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nb, (int)N, (int)K, 1.0f,
                        pf, (int)K, qf, (int)N, 0.0f, acc, (int)npad);
        return;
    }
    memset(acc, 0, (size_t)nb * npad * (dbl ? sizeof(double) : sizeof(float)));
    if (!dbl) {
        /* Four rows at a time: each block of the accumulators is loaded once per four rows
         * (the sums are exact integers, so their order does not matter). */
        float *restrict rows4 = qf; /* 4 x npad */
        for (size_t r = 0; r < 4; r++)
            for (size_t j = N; j < npad; j++) rows4[r * npad + j] = 0.0f;
        for (uint32_t i0 = 0; i0 < K; i0 += 4) {
            const uint32_t nr = K - i0 < 4 ? K - i0 : 4;
            for (uint32_t r = 0; r < 4; r++) {
                if (r < nr)
                    codes_to_float(rows4 + r * npad, m->codes, m->code_bytes,
                                   (size_t)(row0 + i0 + r) * m->cols + col0, N, add);
                else
                    memset(rows4 + r * npad, 0, npad * sizeof *rows4);
            }
            for (uint32_t v = 0; v < nb; v++) {
                const int32_t *pv = sc->p + (size_t)v * m->rows + row0 + i0;
                const float c0 = (float)pv[0], c1 = nr > 1 ? (float)pv[1] : 0.0f;
                const float c2 = nr > 2 ? (float)pv[2] : 0.0f, c3 = nr > 3 ? (float)pv[3] : 0.0f;
                float *a = (float *)acc + (size_t)v * npad;
                for (size_t b = 0; b < nblk; b++)
                    axpy4_lanes(a + b * SIM_LANES, c0, c1, c2, c3, rows4 + b * SIM_LANES, npad);
            }
        }
        return;
    }
    for (size_t j = N; j < npad; j++) qd[j] = 0.0;
    for (uint32_t i = 0; i < K; i++) {
        const size_t at = (size_t)(row0 + i) * m->cols + col0;
        codes_to_double(qd, m->codes, m->code_bytes, at, N, add);
        for (uint32_t v = 0; v < nb; v++) {
            const int32_t c = sc->p[(size_t)v * m->rows + row0 + i];
            if (c == 0) continue;
            double *a = (double *)acc + (size_t)v * npad;
            for (size_t b = 0; b < nblk; b++)
                axpy_lanes_d(a + b * SIM_LANES, (double)c, qd + b * SIM_LANES);
        }
    }
}

/* One chunk by the exact path: the counters of the full path (the same loops), then the
 * integer GEMM and, per tile or for the whole matrix, the full path's digital half. */
static void exact_chunk(const aimc_xbar *s, const sim_matrix *m, mvm_scratch *sc, uint32_t nb,
                        uint64_t *drives, uint64_t *sats, double *xbar_e)
{
    for (size_t k = 0; k < m->n_tiles; k++) {
        const sim_tile *tl = &m->tiles[k];
        if (!sc->rb_valid || tl->t.row0 != sc->rb_row0 || tl->t.nrows != sc->rb_nrows)
            block_start(s, sc, m->rows, tl->t.row0, tl->t.nrows, nb);
        *drives += sc->rb_nnz;
        for (uint32_t i = 0; i < tl->t.nrows; i++) *xbar_e += sc->usq[i] * (double)tl->row_g_us[i];
    }
    const double P = s->x_code_max, Q = s->w_code_max;
    const int32_t off =
        s->cpw == 1 ? (int32_t)(UINT32_C(1) << (s->arch.crossbar.weight_bits - 1)) : 0;
    if (m->exact == SIM_EXACT_SUM) {
        /* Y = sum_i p_i q_ij: the slices' and steps' shift-and-add, exactly. */
        const size_t npad = (m->cols + SIM_LANES - 1) / SIM_LANES * SIM_LANES;
        if ((double)m->rows * P * Q < 0x1p24) {
            exact_gemm(m, sc, nb, 0, m->rows, 0, m->cols, 0, 0, sc->af);
            for (uint32_t v = 0; v < nb; v++)
                for (uint32_t c = 0; c < m->cols; c++)
                    sc->Y[(size_t)v * m->cols + c] = (double)sc->af[(size_t)v * npad + c];
        } else {
            exact_gemm(m, sc, nb, 0, m->rows, 0, m->cols, 0, 1, sc->ad);
            for (uint32_t v = 0; v < nb; v++)
                for (uint32_t c = 0; c < m->cols; c++)
                    sc->Y[(size_t)v * m->cols + c] = sc->ad[(size_t)v * npad + c];
        }
        return;
    }
    /* One step, one slice: per tile the sums, the ADC, the shift-and-add (the code). */
    memset(sc->Y, 0, (size_t)nb * m->cols * sizeof *sc->Y);
    for (size_t k = 0; k < m->n_tiles; k++) {
        const sim_tile *tl = &m->tiles[k];
        const aimc_tile *t = &tl->t;
        const size_t npad = (t->ncols + SIM_LANES - 1) / SIM_LANES * SIM_LANES;
        /* |q| <= Q (differential), 1 <= q + 2^(Wb-1) <= 2Q + 1 (offset). */
        const int f32 = (double)t->nrows * P * (off ? 2.0 * Q + 1.0 : Q) < 0x1p24;
        exact_gemm(m, sc, nb, t->row0, t->nrows, t->col0, t->ncols, off, !f32,
                   f32 ? (void *)sc->af : (void *)sc->ad);
        const adc_rule rule = adc_rule_of(s, tl);
        for (uint32_t v = 0; v < nb; v++) {
            double *Ad = sc->Ad, *sl = sc->satl;
            memset(Ad, 0, npad * sizeof *Ad);
            adc_row(&rule, f32 ? sc->af + (size_t)v * npad : NULL,
                    f32 ? NULL : sc->ad + (size_t)v * npad, 1.0, NULL, t->ncols, 1.0, Ad, sl,
                    NULL);
            tile_output(tl, NULL, Ad, sc->p + (size_t)v * m->rows + t->row0,
                        sc->Y + (size_t)v * m->cols + t->col0);
        }
    }
    for (int l = 0; l < SIM_LANES; l++) *sats += (uint64_t)sc->satl[l];
    for (int l = 0; l < SIM_LANES; l++) sc->satl[l] = 0.0;
}
