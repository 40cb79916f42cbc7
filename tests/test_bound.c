/* test_bound.c - the "bound" suite: no device command holds the host past its timeout, and
 * working in pieces changes no result (issue 20; docs/engine.md, "How work is bounded").
 *
 * - Every digital command at the largest shape the capability registers allow, waited for
 *   on sim: in waits of 100 ms: each wait comes back within 100 ms + BOUND_SLACK_NS (wall
 *   clock), and the command completes with results checked against an independent recount.
 * - An MVM at the largest batch: the wait comes back in time, aimc_reset ends the command,
 *   and the device works afterwards.
 * - TOPK's heap against the runtime's reference selection (aimc_moe_top_k_softmax, the
 *   O(n k^2) scans the device used before), NaNs, infinities, signed zeros and ties
 *   included; and against a sort where k = n.
 * - Pieces change nothing: each digital command through the ring (in pieces) against the
 *   same command in one go (aimc_accel_cmd_start), bit for bit; an MVM split into calls
 *   against one call of aimc_xbar; the device clock of a value run against a timing-only
 *   run of the same commands; a reset in the middle of a command.
 * Each timed test prints its figures (bound: ...).
 */
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aimc.h"
#include "aimc_accel.h"
#include "aimc_moe.h"
#include "aimc_regs.h"
#include "aimc_xbar.h"
#include "tests.h"

#define BOUND_TIMEOUT_NS 100000000LL /* the timeout the issue asks for: 100 ms */
/* How late a wait may come back: docs/driver.md, "Bounded waits". One piece of work: a few
 * ms in a release build, up to about 60 ms of CPU under the sanitizers (a 64 MiB allocation),
 * stretched by a shared 2-core machine's scheduling (measured up to 127 ms late there at a
 * load average of 7). The earlier device held a wait for 29 s at n = k = 2000. */
#define BOUND_SLACK_NS 500000000LL
#define SEED 0xb0u

static uint64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t rng_state = 88172645463325252ull;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* One of 64 levels in [-4, 4): many ties. */
static float level(void)
{
    return (float)((int)(rng() % 64) - 32) / 8.0f;
}

static float unit(void)
{
    return (float)((double)(rng() >> 11) * 0x1.0p-53 * 2.0 - 1.0);
}

/* ---- waiting with a timeout ---- */

typedef struct {
    int waits, late;
    double worst_ms, total_s;
} bound_stats;

/* Wait for fence f in waits of 100 ms until one does not time out; every wait must come
 * back within 100 ms + BOUND_SLACK_NS, wall clock (counted in s->late otherwise). The last
 * code. */
static int wait_bounded(aimc_dev *dev, uint64_t f, bound_stats *s)
{
    const uint64_t t0 = wall_ns();
    int rc;
    memset(s, 0, sizeof *s);
    do {
        const uint64_t a = wall_ns();
        rc = aimc_fence_wait(dev, f, BOUND_TIMEOUT_NS);
        const uint64_t e = wall_ns() - a;
        s->waits++;
        if (e > (uint64_t)(BOUND_TIMEOUT_NS + BOUND_SLACK_NS)) s->late++;
        const double over = ((double)e - (double)BOUND_TIMEOUT_NS) / 1e6;
        if (rc == AIMC_ERR_TIMEOUT && over > s->worst_ms) s->worst_ms = over;
    } while (rc == AIMC_ERR_TIMEOUT && s->waits < 100000);
    s->total_s = (double)(wall_ns() - t0) / 1e9;
    return rc;
}

static void report(const char *what, const bound_stats *s)
{
    printf("\nbound: %s: %.2f s in %d waits of 100 ms, latest return +%.1f ms\n", what,
           s->total_s, s->waits, s->worst_ms);
}

static aimc_bo *bo_new(aimc_dev *dev, size_t bytes)
{
    aimc_bo *b = NULL;
    CU_ASSERT_EQUAL(aimc_bo_create(dev, bytes, &b), AIMC_OK);
    return b;
}

/* ---- TOPK: the heap against the reference ---- */

typedef struct {
    float v;
    uint32_t i;
} ent;

/* Larger first, ties to the lower index (no NaN). */
static int ent_cmp(const void *a, const void *b)
{
    const ent *x = a, *y = b;
    if (x->v != y->v) return x->v > y->v ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Vector v (n logits, no NaN): do idx and w (k of them) hold its k largest by a sort and
 * their softmax, bit for bit? */
static int topk_sorted_ok(const float *v, uint32_t n, uint32_t k, const uint8_t *idx,
                          const float *w)
{
    ent *e = malloc((size_t)n * sizeof *e);
    double *p = malloc((size_t)k * sizeof *p);
    int ok = e && p;
    for (uint32_t i = 0; ok && i < n; i++) e[i] = (ent){v[i], i};
    if (ok) qsort(e, n, sizeof *e, ent_cmp);
    double sum = 0;
    for (uint32_t j = 0; ok && j < k; j++) sum += (p[j] = exp((double)e[j].v - (double)e[0].v));
    for (uint32_t j = 0; ok && j < k; j++) {
        const float want = (float)(p[j] / sum);
        ok = aimc_le_get32(idx + 4 * (size_t)j) == e[j].i && memcmp(&w[j], &want, 4) == 0;
    }
    free(e);
    free(p);
    return ok;
}

/* The same weight bit for bit, or both NaN (a NaN's sign bit depends on how the compiler
 * ordered the operations that made it: an infinite logit gives exp(inf - inf)). */
static int same_weight(float got, float want)
{
    return isnan(want) ? isnan(got) : memcmp(&got, &want, sizeof got) == 0;
}

/* Random vectors of 1..48 logits (levels with ties, NaN, +-inf, +-0, random floats), k from
 * 1 to n, batches of 1..3: the device's choice and weights equal the reference's. */
static void test_topk_reference(void)
{
    enum { CASES = 1500, NMAX = 48, BMAX = 3 };
    aimc_dev *dev;
    aimc_open_opts o = {.seed = SEED};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    aimc_bo *bx = bo_new(dev, NMAX * BMAX * 4), *bi = bo_new(dev, NMAX * BMAX * 4),
            *bw = bo_new(dev, NMAX * BMAX * 4);
    float *x = aimc_bo_map(bx);
    const uint8_t *gi = aimc_bo_map(bi);
    const float *gw = aimc_bo_map(bw);
    double v[NMAX], p[NMAX];
    int sel[NMAX], bad = 0, with_nan = 0;
    for (int c = 0; c < CASES; c++) {
        const uint32_t n = 1 + (uint32_t)(rng() % NMAX), k = 1 + (uint32_t)(rng() % n);
        const uint32_t batch = 1 + (uint32_t)(rng() % BMAX);
        int nan_here = 0;
        for (uint32_t i = 0; i < n * batch; i++) {
            const uint64_t r = rng() % 20;
            x[i] = r == 0 ? NAN : r == 1 ? INFINITY : r == 2 ? -INFINITY : r == 3 ? -0.0f
                 : r == 4 ? 0.0f : r < 8 ? unit() : level();
            nan_here |= r == 0;
        }
        with_nan += nan_here;
        aimc_bo_sync(bx, AIMC_SYNC_TO_DEVICE);
        uint64_t f;
        CU_ASSERT_EQUAL_FATAL(aimc_submit_topk(dev, batch, n, k, aimc_bo_addr(bx),
                                               aimc_bo_addr(bi), aimc_bo_addr(bw), &f),
                              AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_fence_wait(dev, f, -1), AIMC_OK);
        for (uint32_t b = 0; b < batch; b++) {
            for (uint32_t i = 0; i < n; i++) v[i] = x[b * n + i];
            aimc_moe_top_k_softmax(v, (int)n, (int)k, sel, p);
            for (uint32_t j = 0; j < k; j++) {
                bad += aimc_le_get32(gi + 4 * (b * k + j)) != (uint32_t)sel[j] ||
                       !same_weight(gw[b * k + j], (float)p[j]);
            }
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(with_nan > CASES / 2); /* the NaN rule was exercised */
    aimc_bo_destroy(bx);
    aimc_bo_destroy(bi);
    aimc_bo_destroy(bw);
    aimc_close(dev);
}

/* Wide vectors, whose work spans pieces: k = 5 of 65536 logits with NaNs and ties against
 * the reference (cheap for small k), and k = n = 65536 against a sort. */
static void test_topk_wide(void)
{
    enum { N = 65536, B = 24, K = 5, BK = 3 };
    aimc_dev *dev;
    aimc_open_opts o = {.seed = SEED};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    aimc_bo *bx = bo_new(dev, (size_t)N * B * 4), *bi = bo_new(dev, (size_t)N * B * 4),
            *bw = bo_new(dev, (size_t)N * B * 4);
    float *x = aimc_bo_map(bx);
    const uint8_t *gi = aimc_bo_map(bi);
    const float *gw = aimc_bo_map(bw);
    for (size_t i = 0; i < (size_t)N * B; i++) x[i] = rng() % 1000 == 0 ? NAN : level();
    x[1] = NAN; /* taken as soon as index 0 is */
    aimc_bo_sync(bx, AIMC_SYNC_TO_DEVICE);
    uint64_t f;
    CU_ASSERT_EQUAL_FATAL(aimc_submit_topk(dev, B, N, K, aimc_bo_addr(bx), aimc_bo_addr(bi),
                                           aimc_bo_addr(bw), &f), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_fence_wait(dev, f, -1), AIMC_OK);
    double *v = malloc(N * sizeof *v), p[K];
    int sel[K], bad = 0;
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    for (uint32_t b = 0; b < B; b++) {
        for (uint32_t i = 0; i < N; i++) v[i] = x[(size_t)b * N + i];
        aimc_moe_top_k_softmax(v, N, K, sel, p);
        for (uint32_t j = 0; j < K; j++) {
            bad += aimc_le_get32(gi + 4 * (b * K + j)) != (uint32_t)sel[j] ||
                   !same_weight(gw[b * K + j], (float)p[j]);
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    free(v);
    /* k = n: the whole order, with ties, against a sort */
    for (size_t i = 0; i < (size_t)N * BK; i++) x[i] = level();
    aimc_bo_sync(bx, AIMC_SYNC_TO_DEVICE);
    CU_ASSERT_EQUAL_FATAL(aimc_submit_topk(dev, BK, N, N, aimc_bo_addr(bx), aimc_bo_addr(bi),
                                           aimc_bo_addr(bw), &f), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_fence_wait(dev, f, -1), AIMC_OK);
    for (uint32_t b = 0; b < BK; b++)
        CU_ASSERT(topk_sorted_ok(x + (size_t)b * N, N, N, gi + (size_t)b * N * 4,
                                 gw + (size_t)b * N));
    aimc_bo_destroy(bx);
    aimc_bo_destroy(bi);
    aimc_bo_destroy(bw);
    aimc_close(dev);
}

/* ---- the largest shapes, 100 ms at a time ---- */

/* A routing candidate: choice score and expert. */
typedef struct {
    double c;
    uint32_t i;
} route_cand;

/* Larger first, ties to the lower index, NaN last (the order docs/driver.md gives ROUTE). */
static int route_cmp(const void *a, const void *b)
{
    const route_cand *x = a, *y = b;
    const int xn = isnan(x->c), yn = isnan(y->c);
    if (xn != yn) return xn - yn;
    if (!xn && x->c != y->c) return x->c > y->c ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* A sigmoid rule without groups by a sort of all n candidates: do idx and w (k) hold the k
 * best (choice s + bias) and s / (their sum + 1e-20) x scale, bit for bit? */
static int route_sorted_ok(const float *v, const float *bias, uint32_t n, uint32_t k,
                           float scale, const uint8_t *idx, const float *w)
{
    route_cand *e = malloc((size_t)n * sizeof *e);
    double *sc = malloc((size_t)n * sizeof *sc);
    int ok = e && sc;
    for (uint32_t i = 0; ok && i < n; i++) {
        sc[i] = 1.0 / (1.0 + exp(-(double)v[i]));
        e[i] = (route_cand){sc[i] + (double)bias[i], i};
    }
    if (ok) qsort(e, n, sizeof *e, route_cmp);
    double sum = 0;
    for (uint32_t j = 0; ok && j < k; j++) sum += sc[e[j].i];
    for (uint32_t j = 0; ok && j < k; j++) {
        const float want = (float)(sc[e[j].i] / (sum + 1e-20) * (double)scale);
        ok = aimc_le_get32(idx + 4 * (size_t)j) == e[j].i && memcmp(&w[j], &want, 4) == 0;
    }
    free(e);
    free(sc);
    return ok;
}

/* RoPE by rotate_half: pair i (i, i + r/2) of the last r of n turns by pos x theta^(-2i/r). */
static void rope_ref(float *x, uint32_t n, uint32_t r, double theta, uint32_t pos)
{
    float *y = x + (n - r);
    for (uint32_t i = 0; i < r / 2; i++) {
        const double ang = (double)pos * pow(theta, -2.0 * (double)i / (double)r);
        const double xa = y[i], xb = y[i + r / 2];
        y[i] = (float)(xa * cos(ang) - xb * sin(ang));
        y[i + r / 2] = (float)(xb * cos(ang) + xa * sin(ang));
    }
}

/* Each digital command at the largest shape the capability registers allow: every 100 ms
 * wait comes back in time, the command completes, and its results are recounted. */
static void test_largest_digital(void)
{
    aimc_dev *dev;
    aimc_dev_info info;
    aimc_open_opts o = {.seed = SEED};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_query(dev, &info), AIMC_OK);
    const uint32_t N = info.max_dim, B = info.max_elems / info.max_dim; /* 65536, 256 */
    const size_t E = (size_t)info.max_elems, bytes = E * 4;
    CU_ASSERT_EQUAL(N, 65536u);
    CU_ASSERT_EQUAL(B, 256u);
    aimc_bo *ba = bo_new(dev, bytes), *bb = bo_new(dev, bytes), *bc = bo_new(dev, bytes),
            *bidx = bo_new(dev, (size_t)B * 4), *bwt = bo_new(dev, (size_t)B * 4);
    float *a = aimc_bo_map(ba), *b = aimc_bo_map(bb), *c = aimc_bo_map(bc);
    float *wt = aimc_bo_map(bwt);
    uint32_t *idx = aimc_bo_map(bidx);
    if (!a || !b || !c || !idx || !wt) {
        aimc_close(dev);
        return;
    }
    for (size_t i = 0; i < E; i++) {
        a[i] = level() + unit() / 64.0f;
        b[i] = unit();
    }
    for (uint32_t i = 0; i < B; i++) {
        idx[i] = (i * 37u + 11u) % B; /* a permutation */
        wt[i] = unit();
    }
    aimc_bo_sync(ba, AIMC_SYNC_TO_DEVICE);
    aimc_bo_sync(bb, AIMC_SYNC_TO_DEVICE);
    aimc_bo_sync(bidx, AIMC_SYNC_TO_DEVICE);
    aimc_bo_sync(bwt, AIMC_SYNC_TO_DEVICE);
    const uint64_t A = aimc_bo_addr(ba), Bb = aimc_bo_addr(bb), C = aimc_bo_addr(bc);
    bound_stats s;
    uint64_t f;
    char what[128];
    const uint32_t rows[3] = {0, B / 2, B - 1}; /* the vectors recounted */

    /* RMSNORM of 256 vectors of 65536 into c */
    CU_ASSERT_EQUAL(aimc_submit_rmsnorm(dev, B, N, A, C, &f), AIMC_OK);
    CU_ASSERT_EQUAL(wait_bounded(dev, f, &s), AIMC_OK);
    CU_ASSERT_EQUAL(s.late, 0);
    snprintf(what, sizeof what, "RMSNORM %u x %u", B, N);
    report(what, &s);
    for (int r = 0; r < 3; r++) {
        const float *v = a + (size_t)rows[r] * N, *got = c + (size_t)rows[r] * N;
        double ss = 0;
        for (uint32_t i = 0; i < N; i++) ss += (double)v[i] * v[i];
        const double inv = 1.0 / sqrt(ss / N + 1e-6);
        int bad = 0;
        for (uint32_t i = 0; i < N; i++) bad += got[i] != (float)(v[i] * inv);
        CU_ASSERT_EQUAL(bad, 0);
    }

    /* TOPK, k = n: each vector sorted whole, into b (indices) and c (weights) */
    CU_ASSERT_EQUAL(aimc_submit_topk(dev, B, N, N, A, Bb, C, &f), AIMC_OK);
    CU_ASSERT_EQUAL(wait_bounded(dev, f, &s), AIMC_OK);
    CU_ASSERT_EQUAL(s.late, 0);
    snprintf(what, sizeof what, "TOPK %u x %u, k %u", B, N, N);
    report(what, &s);
    for (int r = 0; r < 3; r++)
        CU_ASSERT(topk_sorted_ok(a + (size_t)rows[r] * N, N, N,
                                 (const uint8_t *)(b + (size_t)rows[r] * N),
                                 c + (size_t)rows[r] * N));

    /* TOPK, k = 8 (a router's k on the widest vectors) */
    CU_ASSERT_EQUAL(aimc_submit_topk(dev, B, N, 8, A, Bb, C, &f), AIMC_OK);
    CU_ASSERT_EQUAL(wait_bounded(dev, f, &s), AIMC_OK);
    CU_ASSERT_EQUAL(s.late, 0);
    snprintf(what, sizeof what, "TOPK %u x %u, k 8", B, N);
    report(what, &s);
    for (int r = 0; r < 3; r++)
        CU_ASSERT(topk_sorted_ok(a + (size_t)rows[r] * N, N, 8,
                                 (const uint8_t *)(b + (size_t)rows[r] * 8),
                                 c + (size_t)rows[r] * 8));

    /* SILU_MUL of 2^24 elements: c = silu(a) * u, u a fresh copy of noise in b */
    for (size_t i = 0; i < E; i++) b[i] = unit();
    aimc_bo_sync(bb, AIMC_SYNC_TO_DEVICE);
    CU_ASSERT_EQUAL(aimc_submit_silu_mul(dev, (uint32_t)E, A, Bb, C, &f), AIMC_OK);
    CU_ASSERT_EQUAL(wait_bounded(dev, f, &s), AIMC_OK);
    CU_ASSERT_EQUAL(s.late, 0);
    snprintf(what, sizeof what, "SILU_MUL %zu", E);
    report(what, &s);
    {
        int bad = 0;
        for (size_t i = 0; i < E; i += 4099) {
            const double g = a[i];
            bad += c[i] != (float)(g / (1.0 + exp(-g)) * b[i]);
        }
        bad += c[E - 1] != (float)((double)a[E - 1] / (1.0 + exp(-(double)a[E - 1])) * b[E - 1]);
        CU_ASSERT_EQUAL(bad, 0);
    }

    /* GATHER: 256 rows of 65536 from 256, row i = a's row idx[i] */
    CU_ASSERT_EQUAL(aimc_submit_gather(dev, B, N, B, A, aimc_bo_addr(bidx), C, &f), AIMC_OK);
    CU_ASSERT_EQUAL(wait_bounded(dev, f, &s), AIMC_OK);
    CU_ASSERT_EQUAL(s.late, 0);
    snprintf(what, sizeof what, "GATHER %u x %u from %u rows", B, N, B);
    report(what, &s);
    for (int r = 0; r < 3; r++)
        CU_ASSERT_EQUAL(memcmp(c + (size_t)rows[r] * N, a + (size_t)idx[rows[r]] * N,
                               (size_t)N * 4), 0);

    /* SCALE_ACC: b's rows idx[i] += wt[i] * a's row i (b as it is now, kept to compare) */
    float *b0 = malloc(bytes);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b0);
    memcpy(b0, b, bytes);
    CU_ASSERT_EQUAL(aimc_submit_scale_acc(dev, B, N, B, A, aimc_bo_addr(bidx),
                                          aimc_bo_addr(bwt), Bb, &f), AIMC_OK);
    CU_ASSERT_EQUAL(wait_bounded(dev, f, &s), AIMC_OK);
    CU_ASSERT_EQUAL(s.late, 0);
    snprintf(what, sizeof what, "SCALE_ACC %u x %u into %u rows", B, N, B);
    report(what, &s);
    for (int r = 0; r < 3; r++) {
        const uint32_t i = rows[r], d = idx[i];
        int bad = 0;
        for (uint32_t col = 0; col < N; col++) {
            float want = b0[(size_t)d * N + col];
            want += (float)((double)wt[i] * a[(size_t)i * N + col]);
            bad += b[(size_t)d * N + col] != want;
        }
        CU_ASSERT_EQUAL(bad, 0);
    }
    free(b0);

    /* NORM of 256 vectors of 65536 with weights (b's first row) and eps, into c */
    const float eps = 1e-5f;
    CU_ASSERT_EQUAL(aimc_submit_norm(dev, B, N, 0, eps, A, C, Bb, &f), AIMC_OK);
    CU_ASSERT_EQUAL(wait_bounded(dev, f, &s), AIMC_OK);
    CU_ASSERT_EQUAL(s.late, 0);
    snprintf(what, sizeof what, "NORM %u x %u, weights", B, N);
    report(what, &s);
    for (int r = 0; r < 3; r++) {
        const float *v = a + (size_t)rows[r] * N, *got = c + (size_t)rows[r] * N;
        double ss = 0;
        for (uint32_t i = 0; i < N; i++) ss += (double)v[i] * v[i];
        const double inv = 1.0 / sqrt(ss / N + (double)eps);
        int bad = 0;
        for (uint32_t i = 0; i < N; i++) bad += got[i] != (float)((double)v[i] * inv * (double)b[i]);
        CU_ASSERT_EQUAL(bad, 0);
    }

    /* ACT (sigmoid) of 2^24 elements into c */
    CU_ASSERT_EQUAL(aimc_submit_sigmoid(dev, (uint32_t)E, A, C, &f), AIMC_OK);
    CU_ASSERT_EQUAL(wait_bounded(dev, f, &s), AIMC_OK);
    CU_ASSERT_EQUAL(s.late, 0);
    snprintf(what, sizeof what, "ACT %zu", E);
    report(what, &s);
    {
        int bad = 0;
        for (size_t i = 0; i < E; i += 4099) bad += c[i] != (float)(1.0 / (1.0 + exp(-(double)a[i])));
        bad += c[E - 1] != (float)(1.0 / (1.0 + exp(-(double)a[E - 1])));
        CU_ASSERT_EQUAL(bad, 0);
    }

    /* ROUTE, k = n: a sigmoid rule with biases, each vector's candidates ordered whole, into
     * b (indices) and c (weights) */
    {
        aimc_bo *brule = bo_new(dev, AIMC_ROUTE_RULE_BYTES + (size_t)N * 4);
        uint8_t *rule = aimc_bo_map(brule);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rule);
        aimc_route_rule_write(rule, 1, 1, 1, 1, 2.0f, 1);
        float *bias = malloc((size_t)N * 4);
        CU_ASSERT_PTR_NOT_NULL_FATAL(bias);
        for (uint32_t i = 0; i < N; i++) bias[i] = level() / 32.0f;
        memcpy(rule + AIMC_ROUTE_RULE_BYTES, bias, (size_t)N * 4);
        aimc_bo_sync(brule, AIMC_SYNC_TO_DEVICE);
        CU_ASSERT_EQUAL(aimc_submit_route(dev, B, N, N, A, Bb, C, aimc_bo_addr(brule), &f),
                        AIMC_OK);
        CU_ASSERT_EQUAL(wait_bounded(dev, f, &s), AIMC_OK);
        CU_ASSERT_EQUAL(s.late, 0);
        snprintf(what, sizeof what, "ROUTE %u x %u, k %u, sigmoid with biases", B, N, N);
        report(what, &s);
        for (int r = 0; r < 3; r++)
            CU_ASSERT(route_sorted_ok(a + (size_t)rows[r] * N, bias, N, N, 2.0f,
                                      (const uint8_t *)(b + (size_t)rows[r] * N),
                                      c + (size_t)rows[r] * N));
        free(bias);
        aimc_bo_destroy(brule);
    }

    /* ATTN over the longest cache (65536 positions): 4 new queries of 8 heads sharing one
     * key-value head (dk = dv = 64, all of the keys rotated), appended to the cache;
     * recounted by a straightforward loop in double */
    {
        enum { CTX = 65536, TB = 4, H = 8, DK = 64, DV = 64, RD = 64 };
        const uint32_t pos0 = CTX - TB;
        const double theta = 10000.0, scale = 0.125;
        const size_t cache_fl = (size_t)CTX * (DK + DV);
        aimc_bo *bq = bo_new(dev, (size_t)TB * H * DK * 4), *bkv = bo_new(dev, (size_t)TB * (DK + DV) * 4),
                *bo = bo_new(dev, (size_t)TB * H * DV * 4), *bcache = bo_new(dev, cache_fl * 4),
                *bpar = bo_new(dev, AIMC_ATTN_RECORD_BYTES);
        float *q = aimc_bo_map(bq), *kv = aimc_bo_map(bkv), *out = aimc_bo_map(bo);
        float *cache = aimc_bo_map(bcache);
        CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
        aimc_attn_record_write(aimc_bo_map(bpar), H, 1, DK, DV, CTX, RD, 0, 0, (float)scale,
                               (float)theta, 1);
        for (size_t i = 0; i < (size_t)TB * H * DK; i++) q[i] = unit();
        for (size_t i = 0; i < (size_t)TB * (DK + DV); i++) kv[i] = unit();
        for (size_t i = 0; i < cache_fl; i++) cache[i] = unit();
        float *keys = malloc((size_t)CTX * DK * 4), *vals = malloc((size_t)CTX * DV * 4);
        double *p = malloc((size_t)CTX * sizeof *p);
        CU_ASSERT_PTR_NOT_NULL_FATAL(keys && vals && p);
        /* what the cache holds after the command: the old rows, then the new keys rotated */
        memcpy(keys, cache, (size_t)pos0 * DK * 4);
        memcpy(vals, cache + (size_t)CTX * DK, (size_t)pos0 * DV * 4);
        for (uint32_t t = 0; t < TB; t++) {
            memcpy(keys + (size_t)(pos0 + t) * DK, kv + (size_t)t * DK, DK * 4);
            rope_ref(keys + (size_t)(pos0 + t) * DK, DK, RD, theta, pos0 + t);
            memcpy(vals + (size_t)(pos0 + t) * DV, kv + (size_t)TB * DK + (size_t)t * DV, DV * 4);
        }
        aimc_bo_sync(bq, AIMC_SYNC_TO_DEVICE);
        aimc_bo_sync(bkv, AIMC_SYNC_TO_DEVICE);
        aimc_bo_sync(bcache, AIMC_SYNC_TO_DEVICE);
        aimc_bo_sync(bpar, AIMC_SYNC_TO_DEVICE);
        CU_ASSERT_EQUAL(aimc_submit_attn(dev, TB, pos0, aimc_bo_addr(bq), aimc_bo_addr(bkv),
                                         aimc_bo_addr(bo), aimc_bo_addr(bcache),
                                         aimc_bo_addr(bpar), &f), AIMC_OK);
        CU_ASSERT_EQUAL(wait_bounded(dev, f, &s), AIMC_OK);
        CU_ASSERT_EQUAL(s.late, 0);
        snprintf(what, sizeof what, "ATTN %u queries x %u heads at positions %u.., dk = dv = %u",
                 (unsigned)TB, (unsigned)H, (unsigned)pos0, (unsigned)DK);
        report(what, &s);
        aimc_bo_sync(bo, AIMC_SYNC_FROM_DEVICE);
        aimc_bo_sync(bcache, AIMC_SYNC_FROM_DEVICE);
        int bad = 0;
        double worst = 0;
        for (uint32_t t = 0; t < TB; t++) {
            bad += memcmp(cache + (size_t)(pos0 + t) * DK, keys + (size_t)(pos0 + t) * DK, DK * 4) != 0;
            bad += memcmp(cache + (size_t)CTX * DK + (size_t)(pos0 + t) * DV,
                          vals + (size_t)(pos0 + t) * DV, DV * 4) != 0;
            const uint32_t n = pos0 + t + 1;
            for (uint32_t h = 0; h < H; h++) {
                float qh[DK];
                memcpy(qh, q + ((size_t)t * H + h) * DK, sizeof qh);
                rope_ref(qh, DK, RD, theta, pos0 + t);
                double mx = -INFINITY, sum = 0;
                for (uint32_t i = 0; i < n; i++) {
                    double sc = 0;
                    for (uint32_t e = 0; e < DK; e++) sc += (double)qh[e] * keys[(size_t)i * DK + e];
                    p[i] = sc * scale;
                    mx = p[i] > mx ? p[i] : mx;
                }
                for (uint32_t i = 0; i < n; i++) sum += (p[i] = exp(p[i] - mx));
                for (uint32_t e = 0; e < DV; e++) {
                    double acc = 0;
                    for (uint32_t i = 0; i < n; i++) acc += p[i] * vals[(size_t)i * DV + e];
                    const double want = acc / sum, got = out[((size_t)t * H + h) * DV + e];
                    const double err = fabs(got - want) / (1e-3 + fabs(want));
                    worst = err > worst ? err : worst;
                }
            }
        }
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT(worst < 1e-5);
        free(keys);
        free(vals);
        free(p);
        aimc_bo_destroy(bq);
        aimc_bo_destroy(bkv);
        aimc_bo_destroy(bo);
        aimc_bo_destroy(bcache);
        aimc_bo_destroy(bpar);
    }

    /* one past the limits: refused at once, naming the field (docs/driver.md) */
    CU_ASSERT_EQUAL(aimc_submit_topk(dev, B + 1, N, 8, A, Bb, C, &f), AIMC_OK);
    CU_ASSERT_EQUAL(wait_bounded(dev, f, &s), AIMC_ERR_DEVICE);
    CU_ASSERT_EQUAL(s.waits, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(aimc_error_text(dev), "field at byte 0x10"));
    CU_ASSERT_EQUAL(aimc_submit_topk(dev, 1, N + 1, 8, A, Bb, C, &f), AIMC_OK);
    CU_ASSERT_EQUAL(wait_bounded(dev, f, &s), AIMC_ERR_DEVICE);
    CU_ASSERT_PTR_NOT_NULL(strstr(aimc_error_text(dev), "field at byte 0x14"));

    aimc_bo_destroy(ba);
    aimc_bo_destroy(bb);
    aimc_bo_destroy(bc);
    aimc_bo_destroy(bidx);
    aimc_bo_destroy(bwt);
    aimc_close(dev);
}

/* A small machine for the analog tests: ideal devices, 64 x 64 crossbars. */
static void small_arch(aimc_arch *a)
{
    aimc_arch_defaults(a);
    a->device.type = AIMC_DEVICE_IDEAL;
    a->crossbar.rows = 64;
    a->crossbar.cols = 64;
    a->hierarchy.cores_per_chip = 4;
    a->hierarchy.crossbars_per_core = 8;
}

/* Tiles of a rows x cols matrix (rows <= crossbar rows, cols <= its logical columns): one
 * per slice, on crossbars xbar0 ... */
static size_t slice_tiles(const aimc_arch *a, uint32_t rows, uint32_t cols, uint32_t xbar0,
                          aimc_tile *t)
{
    const int slices = aimc_arch_slices(a);
    for (int s = 0; s < slices; s++)
        t[s] = (aimc_tile){0, 0, rows, 0, cols, (uint32_t)s, xbar0 + (uint32_t)s, 0};
    return (size_t)slices;
}

/* An MVM of the largest batch: the first wait comes back in time, a reset ends the command
 * (ABORTED) before it wrote anything, and an MVM afterwards is right. */
static void test_largest_mvm_reset(void)
{
    enum { R = 64, C = 32, SMALL = 5 };
    aimc_arch a;
    small_arch(&a);
    aimc_dev *dev;
    aimc_dev_info info;
    aimc_tile t[16];
    aimc_open_opts o = {.arch = &a, .seed = SEED};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_query(dev, &info), AIMC_OK);
    const uint32_t batch = info.max_batch;
    const size_t n = slice_tiles(&a, R, C, 0, t);
    float *w = malloc(R * C * sizeof *w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(w);
    for (int i = 0; i < R * C; i++) w[i] = unit();
    aimc_bo *bx = bo_new(dev, (size_t)batch * R * 4), *by = bo_new(dev, (size_t)batch * C * 4);
    float *x = aimc_bo_map(bx);
    const float *y = aimc_bo_map(by);
    for (size_t i = 0; i < (size_t)batch * R; i++) x[i] = unit();
    aimc_bo_sync(bx, AIMC_SYNC_TO_DEVICE);
    CU_ASSERT_EQUAL_FATAL(aimc_weights_program(dev, 1, w, R, C, t, n, NULL, NULL), AIMC_OK);
    uint64_t f;
    CU_ASSERT_EQUAL(aimc_submit_mvm_addr(dev, 1, batch, aimc_bo_addr(bx), aimc_bo_addr(by), &f),
                    AIMC_OK);
    const uint64_t t0 = wall_ns();
    const int rc = aimc_fence_wait(dev, f, BOUND_TIMEOUT_NS);
    const uint64_t e = wall_ns() - t0;
    printf("\nbound: MVM of %u vectors: the 100 ms wait returned \"%s\" after %.1f ms\n", batch,
           aimc_strerror(rc), (double)e / 1e6);
    CU_ASSERT_EQUAL(rc, AIMC_ERR_TIMEOUT);
    CU_ASSERT(e <= (uint64_t)(BOUND_TIMEOUT_NS + BOUND_SLACK_NS));
    CU_ASSERT_EQUAL(aimc_reset(dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, BOUND_TIMEOUT_NS), AIMC_ERR_ABORTED);
    int written = 0; /* it stopped before its outputs */
    for (size_t i = 0; i < (size_t)batch * C; i += 97) written += y[i] != 0.0f;
    CU_ASSERT_EQUAL(written, 0);
    /* the device works afterwards: an MVM as the value model computes it */
    CU_ASSERT_EQUAL_FATAL(aimc_weights_program(dev, 1, w, R, C, t, n, NULL, NULL), AIMC_OK);
    float yd[SMALL * C], ys[SMALL * C];
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 1, x, SMALL, yd, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, -1), AIMC_OK);
    aimc_xbar *s;
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, SEED, &s), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_program(s, 1, w, R, C, t, n, NULL, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 1, x, SMALL, ys, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(memcmp(yd, ys, sizeof yd), 0);
    aimc_xbar_destroy(s);
    free(w);
    aimc_bo_destroy(bx);
    aimc_bo_destroy(by);
    aimc_close(dev);
}

/* The watchdog counts device time with nothing scheduled: the host time a command's values
 * take is not such time, so a 1 ms watchdog lets a long TOPK complete. */
static void test_watchdog_not_host_time(void)
{
    enum { N = 65536, B = 16 };
    aimc_dev *dev;
    aimc_open_opts o = {.seed = SEED, .watchdog_us = 1000};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    aimc_bo *bx = bo_new(dev, (size_t)N * B * 4), *bi = bo_new(dev, (size_t)N * B * 4),
            *bw = bo_new(dev, (size_t)N * B * 4);
    float *x = aimc_bo_map(bx);
    for (size_t i = 0; i < (size_t)N * B; i++) x[i] = unit();
    aimc_bo_sync(bx, AIMC_SYNC_TO_DEVICE);
    uint64_t f;
    bound_stats s;
    CU_ASSERT_EQUAL(aimc_submit_topk(dev, B, N, N, aimc_bo_addr(bx), aimc_bo_addr(bi),
                                     aimc_bo_addr(bw), &f), AIMC_OK);
    CU_ASSERT_EQUAL(wait_bounded(dev, f, &s), AIMC_OK);
    CU_ASSERT_EQUAL(s.late, 0);
    report("TOPK 16 x 65536, k 65536, 1 ms watchdog", &s);
    aimc_dev_error e;
    CU_ASSERT_EQUAL(aimc_error_get(dev, &e), AIMC_OK);
    CU_ASSERT_EQUAL(e.bits & AIMC_REG_ERROR_WATCHDOG, 0);
    CU_ASSERT_EQUAL(e.status & AIMC_REG_STATUS_HALTED, 0);
    aimc_bo_destroy(bx);
    aimc_bo_destroy(bi);
    aimc_bo_destroy(bw);
    aimc_close(dev);
}

/* ---- pieces change nothing ---- */

/* An MVM split into calls of the value model (its batch far above a piece) against one
 * call: the same outputs, bit for bit, and the same counted events. */
static void test_split_mvm(void)
{
    enum { R = 64, C = 32, B = 1000 };
    aimc_arch a;
    small_arch(&a);
    a.device.type = AIMC_DEVICE_PCM; /* programming and read noise: every draw counts */
    aimc_tile t[16];
    const size_t n = slice_tiles(&a, R, C, 2, t);
    float *w = malloc(R * C * 4), *x = malloc(B * R * 4), *yd = malloc(B * C * 4),
          *ys = malloc(B * C * 4);
    CU_ASSERT_FATAL(w && x && yd && ys);
    for (int i = 0; i < R * C; i++) w[i] = unit();
    for (int i = 0; i < B * R; i++) x[i] = unit();
    aimc_dev *dev;
    aimc_open_opts o = {.arch = &a, .seed = SEED};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_weights_program(dev, 0, w, R, C, t, n, NULL, NULL), AIMC_OK);
    aimc_counters c0, c1;
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c0), AIMC_OK);
    uint64_t f;
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 0, x, B, yd, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, -1), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c1), AIMC_OK);
    aimc_close(dev);
    aimc_xbar *s;
    aimc_xbar_stats st = {0};
    CU_ASSERT_EQUAL_FATAL(aimc_xbar_create(&a, SEED, &s), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_program(s, 0, w, R, C, t, n, NULL, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_xbar_mvm(s, 0, x, B, ys, &st), AIMC_OK);
    aimc_xbar_destroy(s);
    CU_ASSERT_EQUAL(memcmp(yd, ys, (size_t)B * C * 4), 0);
    CU_ASSERT_EQUAL(c1.mvms - c0.mvms, B);
    CU_ASSERT_EQUAL(c1.dac_drives - c0.dac_drives, st.dac_drives);
    CU_ASSERT_EQUAL(c1.adc_saturations - c0.adc_saturations, st.adc_saturations);
    free(w);
    free(x);
    free(yd);
    free(ys);
}

/* A register-level host: flat memory at HB_BASE. */
#define HB_BASE 0x10000000ull
#define HB_BYTES (96u << 20)
#define HB_RING 0u         /* 16 descriptors */
#define HB_DATA (1u << 20) /* operands from here */

typedef struct {
    uint8_t *mem;
    aimc_accel *dev;
} hb_host;

static int hb_read(void *ctx, uint64_t addr, void *dst, size_t n)
{
    hb_host *h = ctx;
    if (addr < HB_BASE || n > HB_BYTES || addr - HB_BASE > HB_BYTES - n) return -1;
    memcpy(dst, h->mem + (addr - HB_BASE), n);
    return 0;
}

static int hb_write(void *ctx, uint64_t addr, const void *src, size_t n)
{
    hb_host *h = ctx;
    if (addr < HB_BASE || n > HB_BYTES || addr - HB_BASE > HB_BYTES - n) return -1;
    memcpy(h->mem + (addr - HB_BASE), src, n);
    return 0;
}

static int hb_open(hb_host *h, int timing_only)
{
    aimc_accel_host host = {h, hb_read, hb_write, NULL};
    aimc_accel_opts opts = {.timing_only = timing_only};
    h->mem = calloc(1, HB_BYTES);
    if (!h->mem) return AIMC_ERR_NOMEM;
    int rc = aimc_accel_create(NULL, SEED, &host, &opts, &h->dev, NULL);
    if (rc) return rc;
    aimc_accel_reg_write32(h->dev, AIMC_REG_RING_BASE_LO, (uint32_t)(HB_BASE + HB_RING));
    aimc_accel_reg_write32(h->dev, AIMC_REG_RING_BASE_HI, (uint32_t)((HB_BASE + HB_RING) >> 32));
    aimc_accel_reg_write32(h->dev, AIMC_REG_RING_SIZE, 16);
    aimc_accel_reg_write32(h->dev, AIMC_REG_IRQ_MASK, AIMC_REG_IRQ_ALL);
    aimc_accel_reg_write32(h->dev, AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
    return AIMC_OK;
}

static void hb_close(hb_host *h)
{
    aimc_accel_destroy(h->dev);
    free(h->mem);
}

/* Queue the n descriptors at d (fences 1..n) and ring the doorbell. */
static void hb_submit(hb_host *h, const uint8_t *d, int n)
{
    for (int i = 0; i < n; i++) {
        uint8_t *slot = h->mem + HB_RING + (size_t)i * AIMC_DESC_BYTES;
        memcpy(slot, d + (size_t)i * AIMC_DESC_BYTES, AIMC_DESC_BYTES);
        aimc_le_put64(slot + AIMC_DESC_FENCE, (uint64_t)i + 1);
    }
    aimc_accel_reg_write32(h->dev, AIMC_REG_RING_TAIL, (uint32_t)n);
    aimc_accel_reg_write32(h->dev, AIMC_REG_DOORBELL, 1);
}

/* Run the device until nothing is scheduled; the number of aimc_accel_run calls. */
static long hb_settle(hb_host *h)
{
    long calls = 0;
    while (calls < 10000000 && aimc_accel_run(h->dev, 1u << 16) != AIMC_ACCEL_IDLE) calls++;
    return calls;
}

/* Operand addresses of the descriptors below. */
#define OP_A (HB_BASE + HB_DATA)              /* 4 Mi floats */
#define OP_B (OP_A + (16u << 20))             /* 4 Mi floats */
#define OP_C (OP_B + (16u << 20))             /* 4 Mi floats */
#define OP_D (OP_C + (16u << 20))             /* 4 Mi floats */
#define OP_IDX (OP_D + (16u << 20))           /* 64 Ki u32 */
#define OP_W (OP_IDX + (256u << 10))          /* 64 Ki floats */
#define OP_RULE (OP_W + (256u << 10))         /* two RULE records (one with biases) */
#define OP_PAR (OP_RULE + (64u << 10))        /* two ATTN records */
#define OP_S(i) (OP_PAR + (4u << 10) + ((uint64_t)(i) << 20)) /* 1 MiB output slots 0..5 */
#define OP_NORM OP_S(6)                       /* 4 MiB normalised in place */
#define OP_ACT (OP_NORM + (4u << 20))         /* 8 MiB */
#define OP_CACHE1 (OP_ACT + (8u << 20))       /* 3 MiB */
#define OP_CACHE2 (OP_CACHE1 + (3u << 20))    /* 1.5 MiB */
#define OP_END (OP_CACHE2 + (1536u << 10))
_Static_assert(OP_END <= HB_BASE + HB_BYTES, "the burst's operands fit the host memory");

/* Digital commands, each above a piece of work, reading A (and B), writing C or D. */
static int digital_burst(uint8_t *d)
{
    int n = 0;
    uint8_t *p;
    memset(d, 0, 16 * AIMC_DESC_BYTES);
#define NEXT(op) (p = d + (size_t)n++ * AIMC_DESC_BYTES, aimc_le_put16(p + AIMC_DESC_OPCODE, op))
    NEXT(AIMC_DESC_OP_RMSNORM);
    aimc_le_put32(p + AIMC_DESC_RMS_BATCH, 64);
    aimc_le_put32(p + AIMC_DESC_RMS_DIM, 65536);
    aimc_le_put64(p + AIMC_DESC_RMS_IN_ADDR, OP_A);
    aimc_le_put64(p + AIMC_DESC_RMS_OUT_ADDR, OP_C);
    NEXT(AIMC_DESC_OP_TOPK);
    aimc_le_put32(p + AIMC_DESC_TOPK_BATCH, 8);
    aimc_le_put32(p + AIMC_DESC_TOPK_N, 65536);
    aimc_le_put32(p + AIMC_DESC_TOPK_K, 3000);
    aimc_le_put64(p + AIMC_DESC_TOPK_IN_ADDR, OP_A);
    aimc_le_put64(p + AIMC_DESC_TOPK_IDX_ADDR, OP_D);
    aimc_le_put64(p + AIMC_DESC_TOPK_W_ADDR, OP_D + 8 * 3000 * 4);
    NEXT(AIMC_DESC_OP_SILU_MUL);
    aimc_le_put32(p + AIMC_DESC_SILU_COUNT, 1u << 22);
    aimc_le_put64(p + AIMC_DESC_SILU_G_ADDR, OP_A);
    aimc_le_put64(p + AIMC_DESC_SILU_U_ADDR, OP_B);
    aimc_le_put64(p + AIMC_DESC_SILU_OUT_ADDR, OP_C);
    NEXT(AIMC_DESC_OP_GATHER);
    aimc_le_put32(p + AIMC_DESC_GATH_BATCH, 1000);
    aimc_le_put32(p + AIMC_DESC_GATH_DIM, 4096);
    aimc_le_put32(p + AIMC_DESC_GATH_SRC_ROWS, 1024);
    aimc_le_put64(p + AIMC_DESC_GATH_SRC_ADDR, OP_A);
    aimc_le_put64(p + AIMC_DESC_GATH_IDX_ADDR, OP_IDX);
    aimc_le_put64(p + AIMC_DESC_GATH_DST_ADDR, OP_D);
    NEXT(AIMC_DESC_OP_SCALE_ACC); /* repeated indices: the order of the rows matters */
    aimc_le_put32(p + AIMC_DESC_SACC_BATCH, 1000);
    aimc_le_put32(p + AIMC_DESC_SACC_DIM, 4096);
    aimc_le_put32(p + AIMC_DESC_SACC_DST_ROWS, 1024);
    aimc_le_put64(p + AIMC_DESC_SACC_SRC_ADDR, OP_A);
    aimc_le_put64(p + AIMC_DESC_SACC_IDX_ADDR, OP_IDX);
    aimc_le_put64(p + AIMC_DESC_SACC_W_ADDR, OP_W);
    aimc_le_put64(p + AIMC_DESC_SACC_DST_ADDR, OP_C);
    NEXT(AIMC_DESC_OP_ROUTE); /* sigmoid, biases, 4 of 8 groups (logits with NaNs) */
    aimc_le_put32(p + AIMC_DESC_ROUTE_BATCH, 64);
    aimc_le_put32(p + AIMC_DESC_ROUTE_N, 4096);
    aimc_le_put32(p + AIMC_DESC_ROUTE_K, 8);
    aimc_le_put64(p + AIMC_DESC_ROUTE_IN_ADDR, OP_A);
    aimc_le_put64(p + AIMC_DESC_ROUTE_IDX_ADDR, OP_S(0));
    aimc_le_put64(p + AIMC_DESC_ROUTE_W_ADDR, OP_S(1));
    aimc_le_put64(p + AIMC_DESC_ROUTE_RULE_ADDR, OP_RULE);
    NEXT(AIMC_DESC_OP_ROUTE); /* softmax, k = n */
    aimc_le_put32(p + AIMC_DESC_ROUTE_BATCH, 16);
    aimc_le_put32(p + AIMC_DESC_ROUTE_N, 2048);
    aimc_le_put32(p + AIMC_DESC_ROUTE_K, 2048);
    aimc_le_put64(p + AIMC_DESC_ROUTE_IN_ADDR, OP_B);
    aimc_le_put64(p + AIMC_DESC_ROUTE_IDX_ADDR, OP_S(2));
    aimc_le_put64(p + AIMC_DESC_ROUTE_W_ADDR, OP_S(3));
    aimc_le_put64(p + AIMC_DESC_ROUTE_RULE_ADDR, OP_RULE + (32u << 10));
    NEXT(AIMC_DESC_OP_NORM); /* strided, in place, with weights */
    aimc_le_put32(p + AIMC_DESC_NORM_BATCH, 200);
    aimc_le_put32(p + AIMC_DESC_NORM_DIM, 4096);
    aimc_le_put32(p + AIMC_DESC_NORM_STRIDE, 5000);
    const float eps = 1e-5f;
    uint32_t eu;
    memcpy(&eu, &eps, 4);
    aimc_le_put32(p + AIMC_DESC_NORM_EPS, eu);
    aimc_le_put64(p + AIMC_DESC_NORM_IN_ADDR, OP_NORM);
    aimc_le_put64(p + AIMC_DESC_NORM_OUT_ADDR, OP_NORM);
    aimc_le_put64(p + AIMC_DESC_NORM_W_ADDR, OP_W);
    NEXT(AIMC_DESC_OP_ACT);
    aimc_le_put32(p + AIMC_DESC_ACT_COUNT, 1u << 21);
    aimc_le_put64(p + AIMC_DESC_ACT_IN_ADDR, OP_A);
    aimc_le_put64(p + AIMC_DESC_ACT_OUT_ADDR, OP_ACT);
    NEXT(AIMC_DESC_OP_ATTN); /* GQA, interleaved RoPE, APPEND, a long cache */
    aimc_le_put32(p + AIMC_DESC_ATTN_BATCH, 8);
    aimc_le_put32(p + AIMC_DESC_ATTN_POS0, 4000);
    aimc_le_put64(p + AIMC_DESC_ATTN_Q_ADDR, OP_B);
    aimc_le_put64(p + AIMC_DESC_ATTN_KV_ADDR, OP_B + (64u << 10));
    aimc_le_put64(p + AIMC_DESC_ATTN_OUT_ADDR, OP_S(4));
    aimc_le_put64(p + AIMC_DESC_ATTN_CACHE_ADDR, OP_CACHE1);
    aimc_le_put64(p + AIMC_DESC_ATTN_PARAM_ADDR, OP_PAR);
    NEXT(AIMC_DESC_OP_ATTN); /* values in the keys (MLA), no APPEND */
    aimc_le_put32(p + AIMC_DESC_ATTN_BATCH, 4);
    aimc_le_put32(p + AIMC_DESC_ATTN_POS0, 4092);
    aimc_le_put64(p + AIMC_DESC_ATTN_Q_ADDR, OP_B + (128u << 10));
    aimc_le_put64(p + AIMC_DESC_ATTN_OUT_ADDR, OP_S(5));
    aimc_le_put64(p + AIMC_DESC_ATTN_CACHE_ADDR, OP_CACHE2);
    aimc_le_put64(p + AIMC_DESC_ATTN_PARAM_ADDR, OP_PAR + 64);
#undef NEXT
    return n;
}

static void hb_fill(hb_host *h)
{
    float *a = (float *)(h->mem + (OP_A - HB_BASE)), *b = (float *)(h->mem + (OP_B - HB_BASE));
    float *c = (float *)(h->mem + (OP_C - HB_BASE)), *w = (float *)(h->mem + (OP_W - HB_BASE));
    uint8_t *ix = h->mem + (OP_IDX - HB_BASE);
    for (size_t i = 0; i < (4u << 20); i++) {
        a[i] = rng() % 5000 == 0 ? NAN : level() + unit() / 128.0f;
        b[i] = unit();
        c[i] = unit();
    }
    for (uint32_t i = 0; i < 1000; i++) {
        aimc_le_put32(ix + 4 * i, (uint32_t)(rng() % 700)); /* repeats */
        w[i] = unit();
    }
    for (uint32_t i = 1000; i < 4096; i++) w[i] = unit(); /* NORM's weights */
    uint8_t *rule = h->mem + (OP_RULE - HB_BASE);
    aimc_route_rule_write(rule, 1, 1, 8, 4, 2.5f, 1);
    for (uint32_t i = 0; i < 4096; i++) {
        const float bias = level() / 16.0f;
        memcpy(rule + AIMC_ROUTE_RULE_BYTES + 4 * i, &bias, 4);
    }
    aimc_route_rule_write(rule + (32u << 10), 0, 0, 1, 1, 1.0f, 0);
    uint8_t *par = h->mem + (OP_PAR - HB_BASE);
    aimc_attn_record_write(par, 4, 2, 64, 32, 4096, 32, 1, 0, 0.125f, 10000.0f, 1);
    aimc_attn_record_write(par + 64, 4, 1, 96, 64, 4096, 64, 0, 1, 0.1f, 50000.0f, 0);
    float *f = (float *)(h->mem + (OP_NORM - HB_BASE));
    for (size_t i = 0; i < (size_t)(OP_END - OP_NORM) / 4; i++) f[i] = unit();
}

/* Each digital command of a burst through the ring (dispatched in pieces: the engine
 * waits while one is open) against the same command in one go (the split execution the
 * RTL uses, which computes a command whole): every output byte and the status the same. */
static void test_pieces_equal_whole(void)
{
    hb_host p, q;
    CU_ASSERT_EQUAL_FATAL(hb_open(&p, 0), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(hb_open(&q, 0), AIMC_OK);
    uint8_t d[16 * AIMC_DESC_BYTES];
    const int n = digital_burst(d);
    const uint64_t seed = rng_state;
    hb_fill(&p);
    rng_state = seed;
    hb_fill(&q);
    hb_submit(&p, d, n);
    const long calls = hb_settle(&p);
    printf("\nbound: %d digital commands in %ld calls of aimc_accel_run\n", n, calls);
    CU_ASSERT(calls > 4 * n); /* pieces: more calls than events would need */
    for (int i = 0; i < n; i++) {
        uint32_t info;
        aimc_accel_cmd cmd;
        const uint32_t err = aimc_accel_cmd_start(q.dev, d + (size_t)i * AIMC_DESC_BYTES, &info,
                                                  &cmd);
        const uint32_t st = aimc_le_get32(p.mem + HB_RING + (size_t)i * AIMC_DESC_BYTES +
                                          AIMC_DESC_STATUS);
        CU_ASSERT_EQUAL(st, err | AIMC_DESC_STATUS_DONE);
        CU_ASSERT_EQUAL(err, 0);
    }
    CU_ASSERT_EQUAL(memcmp(p.mem + HB_DATA, q.mem + HB_DATA, HB_BYTES - HB_DATA), 0);
    hb_close(&p);
    hb_close(&q);
}

/* The burst above with a value device (whose dispatch waits for pieces) and a timing-only
 * device (whose commands have no values, so nothing waits): the same device clock, busy
 * cycles and digital operations when all is done. */
static void test_pieces_keep_time(void)
{
    hb_host v, t;
    CU_ASSERT_EQUAL_FATAL(hb_open(&v, 0), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(hb_open(&t, 1), AIMC_OK);
    uint8_t d[16 * AIMC_DESC_BYTES];
    int n = digital_burst(d);
    /* and a FENCE, then a NOP that waits for nothing */
    aimc_le_put16(d + (size_t)n++ * AIMC_DESC_BYTES + AIMC_DESC_OPCODE, AIMC_DESC_OP_FENCE);
    aimc_le_put16(d + (size_t)n++ * AIMC_DESC_BYTES + AIMC_DESC_OPCODE, AIMC_DESC_OP_NOP);
    hb_fill(&v);
    memcpy(t.mem, v.mem, HB_BYTES);
    hb_submit(&v, d, n);
    hb_submit(&t, d, n);
    const long cv = hb_settle(&v), ct = hb_settle(&t);
    CU_ASSERT(cv > ct);
    CU_ASSERT(aimc_accel_now(v.dev) > 0);
    CU_ASSERT_EQUAL(aimc_accel_now(v.dev), aimc_accel_now(t.dev));
    CU_ASSERT_EQUAL(aimc_accel_counter(v.dev, AIMC_REG_CNT_CYCLES_LO),
                    aimc_accel_counter(t.dev, AIMC_REG_CNT_CYCLES_LO));
    CU_ASSERT_EQUAL(aimc_accel_counter(v.dev, AIMC_REG_CNT_DIGITAL_OPS_LO),
                    aimc_accel_counter(t.dev, AIMC_REG_CNT_DIGITAL_OPS_LO));
    CU_ASSERT_EQUAL(aimc_accel_reg_read32(v.dev, AIMC_REG_RING_HEAD), (uint32_t)n);
    hb_close(&v);
    hb_close(&t);
}

/* A soft reset while a command is half done: nothing more is written, nothing leaks (the
 * sanitizer build), and the next command works. */
static void test_reset_mid_command(void)
{
    hb_host h;
    CU_ASSERT_EQUAL_FATAL(hb_open(&h, 0), AIMC_OK);
    uint8_t d[16 * AIMC_DESC_BYTES];
    digital_burst(d);
    hb_fill(&h);
    const uint8_t *before = h.mem + (OP_C - HB_BASE);
    float c0;
    memcpy(&c0, before, 4);
    hb_submit(&h, d, 1); /* RMSNORM 64 x 65536: many pieces */
    int r = AIMC_ACCEL_MORE, runs = 0;
    for (; runs < 6 && r == AIMC_ACCEL_MORE; runs++) r = aimc_accel_run(h.dev, 1u << 16);
    CU_ASSERT_EQUAL(r, AIMC_ACCEL_MORE);
    CU_ASSERT(aimc_accel_reg_read32(h.dev, AIMC_REG_STATUS) & AIMC_REG_STATUS_BUSY);
    CU_ASSERT_EQUAL(aimc_accel_reg_read32(h.dev, AIMC_REG_RING_HEAD), 0);
    CU_ASSERT_EQUAL(aimc_accel_next_event(h.dev), aimc_accel_now(h.dev)); /* work to do now */
    CU_ASSERT_EQUAL(aimc_accel_advance(h.dev, 1000000), AIMC_ACCEL_MORE); /* no idle time */
    aimc_accel_reg_write32(h.dev, AIMC_REG_CTRL, AIMC_REG_CTRL_SOFT_RESET);
    CU_ASSERT_EQUAL(aimc_accel_run(h.dev, 1u << 16), AIMC_ACCEL_IDLE);
    CU_ASSERT_EQUAL(memcmp(&c0, before, 4), 0); /* its output was never written */
    /* set up again: the next command (the small GATHER) completes */
    aimc_accel_reg_write32(h.dev, AIMC_REG_RING_BASE_LO, (uint32_t)(HB_BASE + HB_RING));
    aimc_accel_reg_write32(h.dev, AIMC_REG_RING_BASE_HI, (uint32_t)((HB_BASE + HB_RING) >> 32));
    aimc_accel_reg_write32(h.dev, AIMC_REG_RING_SIZE, 16);
    aimc_accel_reg_write32(h.dev, AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
    hb_submit(&h, d + 3 * AIMC_DESC_BYTES, 1);
    hb_settle(&h);
    CU_ASSERT_EQUAL(aimc_le_get32(h.mem + HB_RING + AIMC_DESC_STATUS), AIMC_DESC_STATUS_DONE);
    const uint32_t r5 = aimc_le_get32(h.mem + (OP_IDX - HB_BASE) + 5 * 4);
    CU_ASSERT_EQUAL(memcmp(h.mem + (OP_D - HB_BASE) + 5 * 4096 * 4,
                           h.mem + (OP_A - HB_BASE) + (size_t)r5 * 4096 * 4, 4096 * 4), 0);
    hb_close(&h);
}

/* A RING_TAIL moved behind a burst already fetched (found by fuzz_device): refused with
 * ERROR.RING, so the processor stops at the old tail instead of fetching on forever. */
static void test_tail_behind_fetch(void)
{
    hb_host h;
    CU_ASSERT_EQUAL_FATAL(hb_open(&h, 0), AIMC_OK);
    uint8_t d[16 * AIMC_DESC_BYTES] = {0}; /* NOPs */
    hb_submit(&h, d, 9);
    CU_ASSERT_EQUAL(aimc_accel_run(h.dev, 1), AIMC_ACCEL_MORE); /* the fetch: a burst in flight */
    CU_ASSERT_EQUAL(aimc_accel_reg_read32(h.dev, AIMC_REG_RING_HEAD), 0);
    aimc_accel_reg_write32(h.dev, AIMC_REG_RING_TAIL, 0);
    CU_ASSERT_EQUAL(aimc_accel_reg_read32(h.dev, AIMC_REG_RING_TAIL), 9);
    CU_ASSERT(aimc_accel_reg_read32(h.dev, AIMC_REG_ERROR) & AIMC_REG_ERROR_RING);
    CU_ASSERT(hb_settle(&h) < 1000);
    CU_ASSERT_EQUAL(aimc_accel_reg_read32(h.dev, AIMC_REG_RING_HEAD), 9);
    aimc_accel_reg_write32(h.dev, AIMC_REG_RING_TAIL, 5); /* behind the head too */
    CU_ASSERT_EQUAL(aimc_accel_reg_read32(h.dev, AIMC_REG_RING_TAIL), 9);
    hb_close(&h);
}

int test_bound_register(void)
{
    AIMC_SUITE("bound",
               {"TOPK: the heap chooses as the reference (NaN, ties, infinities)",
                test_topk_reference},
               {"TOPK: wide vectors across pieces, k = 5 and k = n", test_topk_wide},
               {"largest digital commands: 100 ms waits return in time, results right",
                test_largest_digital},
               {"largest MVM: the wait returns in time, a reset ends it", test_largest_mvm_reset},
               {"the watchdog does not count the host's time on a command",
                test_watchdog_not_host_time},
               {"an MVM split into pieces equals one call of the value model", test_split_mvm},
               {"digital commands in pieces equal the same in one go", test_pieces_equal_whole},
               {"pieces keep the device's clock (value run = timing-only run)",
                test_pieces_keep_time},
               {"a soft reset in the middle of a command", test_reset_mid_command},
               {"a RING_TAIL behind a fetched burst is refused", test_tail_behind_fetch});
    return 0;
}
