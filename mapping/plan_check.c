/* plan_check.c - the rules every plan keeps, checked from its runs alone: the one validator
 * of fresh plans (aimc_map_plan_ex checks its own result) and of plans read from files
 * (aimc_plan_load). docs/mapping.md, "Rules of a plan", lists the rules.
 *
 * A run covers many tiles, so nothing here walks tiles or cells. Each run is cut into at
 * most three pieces: the part on its first crossbar, the crossbars it fills (every one the
 * same columns [0, k * width), so they all hold column 0), and the part on its last
 * crossbar. The filled crossbars of a run are a progression of stride 1 or T (tiers), i.e.
 * a rectangle of sites x tiers (a stride-1 stretch: a partial site, whole sites, a partial
 * site). Two such rectangles must not meet (both hold column 0 of a shared array); a
 * single-crossbar piece must not reach into the columns of a rectangle covering its
 * crossbar, nor into another single-crossbar piece's. One sweep over sites with the active
 * rectangles' tier intervals in a Fenwick tree answers both in O(pieces log pieces).
 */
#include "map_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Filled crossbars of one run: sites s0..s1, tiers t0..t1 of each, columns [0, kw). */
typedef struct {
    uint64_t s0, s1;
    uint32_t t0, t1, kw;
    uint32_t run;
} pc_rect;

/* One crossbar of one run: columns [c0, c1). */
typedef struct {
    uint64_t x;
    uint32_t c0, c1;
    uint32_t run;
} pc_point;

enum { EV_REMOVE = 0, EV_INSERT = 1, EV_POINT = 2, EV_FAULT = 3 };

typedef struct {
    uint64_t site;
    uint32_t kind;
    uint32_t tier;
    uint32_t c0; /* points: first column, so that one crossbar's pieces come in column order */
    size_t i;    /* rectangle, point or fault index */
} pc_event;

typedef struct {
    const aimc_arch *arch;
    const aimc_model *model;
    const aimc_plan *plan;
    const char *name;
    aimc_diag *d;
    uint32_t C, T, P, L;
    uint64_t per_chip, cap, limit;
    pc_rect *rect;
    size_t n_rect, cap_rect;
    pc_point *pt;
    size_t n_pt, cap_pt;
    uint64_t *bad; /* faulty arrays, ascending */
    size_t n_bad;
} pc_ctx;

static int pc_fail(pc_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "NAME: " and the rule; returns AIMC_ERR_CONFIG. */
static int pc_fail(pc_ctx *c, const char *fmt, ...)
{
    if (!c->d) return AIMC_ERR_CONFIG;
    int n = snprintf(c->d->msg, sizeof c->d->msg, "%s: ", c->name);
    if (n < 0 || (size_t)n >= sizeof c->d->msg) n = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->d->msg + n, sizeof c->d->msg - (size_t)n, fmt, ap);
    va_end(ap);
    return AIMC_ERR_CONFIG;
}

static int pc_nomem(pc_ctx *c)
{
    return aimc_diag_set(c->d, AIMC_ERR_NOMEM, "%s: out of memory checking the plan", c->name);
}

static int add_rect(pc_ctx *c, uint64_t s0, uint64_t s1, uint32_t t0, uint32_t t1, uint32_t kw,
                    uint32_t run)
{
    if (c->n_rect == c->cap_rect) {
        size_t cap = c->cap_rect ? 2 * c->cap_rect : 256;
        pc_rect *n = realloc(c->rect, cap * sizeof *n);
        if (!n) return AIMC_ERR_NOMEM;
        c->rect = n;
        c->cap_rect = cap;
    }
    c->rect[c->n_rect++] = (pc_rect){s0, s1, t0, t1, kw, run};
    return AIMC_OK;
}

static int add_point(pc_ctx *c, uint64_t x, uint32_t c0, uint32_t c1, uint32_t run)
{
    if (c->n_pt == c->cap_pt) {
        size_t cap = c->cap_pt ? 2 * c->cap_pt : 256;
        pc_point *n = realloc(c->pt, cap * sizeof *n);
        if (!n) return AIMC_ERR_NOMEM;
        c->pt = n;
        c->cap_pt = cap;
    }
    c->pt[c->n_pt++] = (pc_point){x, c0, c1, run};
    return AIMC_OK;
}

/* Crossbars xbar0 + stride * i, i = 1..cnt (all filled: columns [0, kw)) as rectangles. */
static int add_filled(pc_ctx *c, uint64_t xbar0, uint32_t stride, uint64_t cnt, uint32_t kw,
                      uint32_t run)
{
    const uint64_t T = c->T;
    uint64_t a = xbar0 + stride, b = xbar0 + (uint64_t)stride * cnt;
    if (stride == T) /* one tier (T == 1: every crossbar is a site) */
        return add_rect(c, a / T, b / T, (uint32_t)(a % T), (uint32_t)(a % T), kw, run);
    /* stride 1 over several tiers: a partial site, whole sites, a partial site */
    uint64_t sa = a / T, sb = b / T;
    if (sa == sb) return add_rect(c, sa, sa, (uint32_t)(a % T), (uint32_t)(b % T), kw, run);
    int rc;
    uint64_t lo = sa, hi = sb;
    if (a % T) {
        if ((rc = add_rect(c, sa, sa, (uint32_t)(a % T), (uint32_t)(T - 1), kw, run))) return rc;
        lo = sa + 1;
    }
    if (b % T != T - 1) {
        if ((rc = add_rect(c, sb, sb, 0, (uint32_t)(b % T), kw, run))) return rc;
        hi = sb - 1;
    }
    if (lo <= hi && (rc = add_rect(c, lo, hi, 0, (uint32_t)(T - 1), kw, run)))
        return rc;
    return AIMC_OK;
}

/* Tile width (physical columns) of column block `blk` of a matrix with cb blocks. */
static uint32_t block_width(const pc_ctx *c, const aimc_matrix *mx, uint64_t blk, uint32_t cb)
{
    uint32_t nc = blk + 1 < cb ? c->L : mx->cols - (cb - 1) * c->L;
    return nc * c->P;
}

/* The shape rules of run i: a real stretch of tiles of its matrix, all of the run's width,
 * inside the crossbar and the machine. Adds its pieces. */
static int check_run(pc_ctx *c, uint32_t i, uint64_t *span)
{
    const aimc_run *r = &c->plan->runs[i];
    const aimc_model *m = c->model;
    if (r->matrix >= m->n_matrices)
        return pc_fail(c, "runs[%u]: matrix %u: expected a matrix index in 0..%zu", i, r->matrix,
                       m->n_matrices - 1);
    const aimc_matrix *mx = &m->m[r->matrix];
    if (r->n == 0) return pc_fail(c, "runs[%u]: n 0: a run holds at least one tile", i);
    if (r->replica > AIMC_PLAN_MAX_REPLICA)
        return pc_fail(c, "runs[%u]: replica %u: expected 0..%u", i, r->replica,
                       AIMC_PLAN_MAX_REPLICA);
    uint32_t rb, cb, S;
    aimc_map_blocks(c->arch, mx, &rb, &cb, &S);
    uint64_t nt = (uint64_t)rb * cb * S, end = (uint64_t)r->tile0 + r->n;
    if (end > nt)
        return pc_fail(c, "runs[%u]: tiles %u..%llu of matrix %u (%s): it has %llu tiles (0..%llu)",
                       i, r->tile0, (unsigned long long)end - 1, r->matrix, mx->name,
                       (unsigned long long)nt, (unsigned long long)nt - 1);
    /* Column blocks q0..q1 (tile k is in block (k / S) % cb); the last block may be narrower. */
    uint64_t q0 = r->tile0 / S, q1 = (end - 1) / S;
    uint32_t wfull = block_width(c, mx, 0, cb), wlast = block_width(c, mx, cb - 1, cb);
    int has_last = q0 + (cb - 1 - q0 % cb) <= q1;
    int has_full = cb > 1 && !(q0 == q1 && q0 % cb == cb - 1);
    if (has_last && has_full && wlast != wfull)
        return pc_fail(c, "runs[%u]: its tiles of matrix %u (%s) are %u and %u columns wide; a "
                       "run holds tiles of one width", i, r->matrix, mx->name, wfull, wlast);
    uint32_t want = has_full ? wfull : wlast;
    if (r->width != want)
        return pc_fail(c, "runs[%u]: width %u: its tiles of matrix %u (%s) are %u columns wide",
                       i, r->width, r->matrix, mx->name, want);
    if (r->stride != 1 && r->stride != c->T) {
        if (c->T == 1) return pc_fail(c, "runs[%u]: stride %u: expected 1", i, r->stride);
        return pc_fail(c, "runs[%u]: stride %u: expected 1 or %u (the machine's tiers)", i,
                       r->stride, c->T);
    }
    if ((uint64_t)r->col0 + r->width > c->C)
        return pc_fail(c, "runs[%u]: col0 %u + width %u passes the crossbar's %u columns", i,
                       r->col0, r->width, c->C);
    /* Tiles per crossbar k, on the first crossbar f (>= 1 since col0 + width <= C). */
    uint64_t k = c->C / r->width, f = (c->C - r->col0) / r->width, n = r->n;
    uint64_t full = 0, rem = 0, last = r->xbar0;
    if (n > f) {
        full = (n - f) / k;
        rem = (n - f) % k;
        last = r->xbar0 + (uint64_t)r->stride * (full + (rem ? 1 : 0));
    }
    if (last >= c->limit) {
        if (c->limit == c->cap)
            return pc_fail(c, "runs[%u]: crossbars %u..%llu: past the machine's last crossbar "
                           "%llu (%d chip%s)",
                           i, r->xbar0, (unsigned long long)last, (unsigned long long)c->cap - 1,
                           c->plan->chips, c->plan->chips == 1 ? "" : "s");
        return pc_fail(c, "runs[%u]: crossbar %llu: crossbar numbers are 32-bit", i,
                       (unsigned long long)last);
    }
    if (last + 1 > *span) *span = last + 1;
    int rc;
    if (n <= f) return add_point(c, r->xbar0, r->col0, r->col0 + (uint32_t)n * r->width, i);
    if ((rc = add_point(c, r->xbar0, r->col0, r->col0 + (uint32_t)f * r->width, i))) return rc;
    if (full && (rc = add_filled(c, r->xbar0, r->stride, full, (uint32_t)k * r->width, i)))
        return rc;
    if (rem && (rc = add_point(c, last, 0, (uint32_t)rem * r->width, i))) return rc;
    return AIMC_OK;
}

/* ---- every tile once per replica ------------------------------------------------------ */

/* A run's place in the coverage order: matrix, replica, first tile, then its index. */
typedef struct {
    uint32_t matrix, replica, tile0, run;
} pc_key;

static int by_key(const void *a, const void *b)
{
    const pc_key *x = a, *y = b;
    if (x->matrix != y->matrix) return x->matrix < y->matrix ? -1 : 1;
    if (x->replica != y->replica) return x->replica < y->replica ? -1 : 1;
    if (x->tile0 != y->tile0) return x->tile0 < y->tile0 ? -1 : 1;
    return x->run < y->run ? -1 : x->run > y->run;
}

/* Tiles lo..hi-1 of matrix mi, replica rep, are missing. */
static int not_placed(pc_ctx *c, size_t mi, uint32_t rep, uint64_t lo, uint64_t hi)
{
    const char *mn = c->model->m[mi].name;
    if (hi - lo == 1)
        return pc_fail(c, "matrix %zu (%s) replica %u: tile %llu is not placed; every tile is "
                       "placed once per replica", mi, mn, rep, (unsigned long long)lo);
    return pc_fail(c, "matrix %zu (%s) replica %u: tiles %llu..%llu are not placed; every tile "
                   "is placed once per replica",
                   mi, mn, rep, (unsigned long long)lo, (unsigned long long)hi - 1);
}

static int check_cover(pc_ctx *c)
{
    const aimc_plan *p = c->plan;
    const aimc_model *m = c->model;
    pc_key *ix = malloc((p->n_runs ? p->n_runs : 1) * sizeof *ix);
    if (!ix) return pc_nomem(c);
    for (size_t i = 0; i < p->n_runs; i++)
        ix[i] = (pc_key){p->runs[i].matrix, p->runs[i].replica, p->runs[i].tile0, (uint32_t)i};
    qsort(ix, p->n_runs, sizeof *ix, by_key);
    int rc = AIMC_OK;
    size_t q = 0;
    for (size_t mi = 0; mi < m->n_matrices && !rc; mi++) {
        uint32_t rb, cb, S;
        aimc_map_blocks(c->arch, &m->m[mi], &rb, &cb, &S);
        uint64_t nt = (uint64_t)rb * cb * S;
        const char *mn = m->m[mi].name;
        if (q == p->n_runs || ix[q].matrix != mi) {
            rc = pc_fail(c, "matrix %zu (%s): no tile placed; every tile is placed once per "
                         "replica", mi, mn);
            break;
        }
        for (uint32_t rep = 0; q < p->n_runs && ix[q].matrix == mi && !rc; rep++) {
            if (ix[q].replica != rep) {
                rc = pc_fail(c, "matrix %zu (%s): replica %u has no tile but replica %u has; "
                             "every tile is placed once per replica",
                             mi, mn, rep, ix[q].replica);
                break;
            }
            uint64_t expect = 0;
            uint32_t prev = 0;
            for (; q < p->n_runs && ix[q].matrix == mi && ix[q].replica == rep; q++) {
                if (ix[q].tile0 < expect) {
                    rc = pc_fail(c, "runs[%u]: tile %u of matrix %zu (%s) replica %u is "
                                 "already placed by runs[%u]; every tile is placed once per "
                                 "replica",
                                 ix[q].run, ix[q].tile0, mi, mn, rep, prev);
                    break;
                }
                if (ix[q].tile0 > expect) {
                    rc = not_placed(c, mi, rep, expect, ix[q].tile0);
                    break;
                }
                expect += p->runs[ix[q].run].n;
                prev = ix[q].run;
            }
            if (!rc && expect < nt) rc = not_placed(c, mi, rep, expect, nt);
        }
    }
    free(ix);
    return rc;
}

/* ---- no two runs on one cell, no faulty array used --------------------------------------- */

static int by_event(const void *a, const void *b)
{
    const pc_event *x = a, *y = b;
    if (x->site != y->site) return x->site < y->site ? -1 : 1;
    if (x->kind != y->kind) return x->kind < y->kind ? -1 : 1;
    if (x->tier != y->tier) return x->tier < y->tier ? -1 : 1;
    if (x->c0 != y->c0) return x->c0 < y->c0 ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Active rectangles keyed by their first tier (keys[0..nk)), at most one per key: a
 * Fenwick tree of counts finds the active rectangle with the largest first tier <= t. */
typedef struct {
    const uint32_t *keys;
    size_t nk;
    int32_t *fw;   /* 1-based */
    size_t *slot;  /* rectangle at key position, valid when its count is 1 */
    int log2;
} pc_active;

static size_t key_pos(const pc_active *a, uint32_t t) /* number of keys <= t */
{
    size_t lo = 0, hi = a->nk;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a->keys[mid] <= t) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

static void fw_add(pc_active *a, size_t pos1, int32_t v)
{
    for (; pos1 <= a->nk; pos1 += pos1 & (~pos1 + 1)) a->fw[pos1] += v;
}

static int32_t fw_sum(const pc_active *a, size_t pos1)
{
    int32_t s = 0;
    for (; pos1 > 0; pos1 -= pos1 & (~pos1 + 1)) s += a->fw[pos1];
    return s;
}

/* 1-based position of the k-th active key (k >= 1). */
static size_t fw_kth(const pc_active *a, int32_t k)
{
    size_t pos = 0;
    for (int b = a->log2; b >= 0; b--) {
        size_t nx = pos + ((size_t)1 << b);
        if (nx <= a->nk && a->fw[nx] < k) {
            pos = nx;
            k -= a->fw[nx];
        }
    }
    return pos + 1;
}

/* The active rectangle holding tier t (its tiers t0..t1 contain t), or SIZE_MAX; with
 * *pred the active rectangle with the largest t0 <= t (or SIZE_MAX). */
static size_t active_at(const pc_ctx *c, const pc_active *a, uint32_t t, size_t *pred)
{
    size_t n = key_pos(a, t);
    int32_t cnt = n ? fw_sum(a, n) : 0;
    *pred = SIZE_MAX;
    if (cnt <= 0) return SIZE_MAX;
    size_t ri = a->slot[fw_kth(a, cnt) - 1];
    *pred = ri;
    return c->rect[ri].t1 >= t ? ri : SIZE_MAX;
}

static uint64_t xbar_of(const pc_ctx *c, uint64_t site, uint32_t tier)
{
    return site * c->T + tier;
}

static int overlap(pc_ctx *c, uint32_t r1, uint32_t r2, uint64_t x, uint32_t lo, uint32_t hi)
{
    return pc_fail(c, "runs[%u]: crossbar %llu, columns %u..%u: also used by runs[%u]; two runs "
                   "never share a cell",
                   r1 > r2 ? r1 : r2, (unsigned long long)x, lo, hi, r1 > r2 ? r2 : r1);
}

static int faulty(pc_ctx *c, uint32_t run, uint64_t x)
{
    return pc_fail(c, "runs[%u]: crossbar %llu is faulty (more than mapping.fault_threshold %g "
                   "of its devices stuck); no tile goes there",
                   run, (unsigned long long)x, c->arch->mapping.fault_threshold);
}

static int is_bad(const pc_ctx *c, uint64_t x)
{
    size_t lo = 0, hi = c->n_bad;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->bad[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    return lo < c->n_bad && c->bad[lo] == x;
}

/* One sweep over sites: rectangles enter at their first site and leave after their last;
 * single-crossbar pieces and faulty arrays are looked up among the active rectangles; the
 * pieces of one crossbar come together, in column order. *used: crossbars holding tiles. */
static int check_cells(pc_ctx *c, uint64_t *used)
{
    size_t n_ev = 2 * c->n_rect + c->n_pt + c->n_bad;
    pc_event *ev = malloc((n_ev ? n_ev : 1) * sizeof *ev);
    uint32_t *keys = malloc((c->n_rect ? c->n_rect : 1) * sizeof *keys);
    pc_active act = {0};
    int rc = AIMC_OK;
    if (!ev || !keys) goto nomem;
    size_t e = 0;
    for (size_t i = 0; i < c->n_rect; i++) {
        keys[i] = c->rect[i].t0;
        ev[e++] = (pc_event){c->rect[i].s0, EV_INSERT, c->rect[i].t0, 0, i};
        ev[e++] = (pc_event){c->rect[i].s1 + 1, EV_REMOVE, c->rect[i].t0, 0, i};
    }
    for (size_t i = 0; i < c->n_pt; i++)
        ev[e++] = (pc_event){c->pt[i].x / c->T, EV_POINT, (uint32_t)(c->pt[i].x % c->T),
                             c->pt[i].c0, i};
    for (size_t i = 0; i < c->n_bad; i++)
        ev[e++] = (pc_event){c->bad[i] / c->T, EV_FAULT, (uint32_t)(c->bad[i] % c->T), 0, i};
    qsort(ev, n_ev, sizeof *ev, by_event);
    qsort(keys, c->n_rect, sizeof *keys, cmp_u32);
    size_t nk = 0;
    for (size_t i = 0; i < c->n_rect; i++)
        if (nk == 0 || keys[nk - 1] != keys[i]) keys[nk++] = keys[i];
    act.keys = keys;
    act.nk = nk;
    act.fw = calloc(nk + 1, sizeof *act.fw);
    act.slot = malloc((nk ? nk : 1) * sizeof *act.slot);
    if (!act.fw || !act.slot) goto nomem;
    while (act.log2 < 62 && ((size_t)1 << (act.log2 + 1)) <= nk) act.log2++;

    uint64_t n_used = 0;
    const pc_point *prev = NULL; /* the previous single-crossbar piece */
    for (size_t q = 0; q < n_ev && !rc; q++) {
        const pc_event *v = &ev[q];
        size_t pred;
        if (v->kind == EV_REMOVE) {
            fw_add(&act, key_pos(&act, v->tier), -1);
        } else if (v->kind == EV_INSERT) {
            const pc_rect *r = &c->rect[v->i];
            active_at(c, &act, r->t1, &pred);
            if (pred != SIZE_MAX && c->rect[pred].t1 >= r->t0) {
                const pc_rect *o = &c->rect[pred];
                uint32_t t = r->t0 > o->t0 ? r->t0 : o->t0;
                rc = overlap(c, r->run, o->run, xbar_of(c, v->site, t), 0,
                             (r->kw < o->kw ? r->kw : o->kw) - 1);
                break;
            }
            size_t pos = key_pos(&act, r->t0); /* its key's 1-based position */
            act.slot[pos - 1] = v->i;
            fw_add(&act, pos, 1);
            n_used += (r->s1 - r->s0 + 1) * ((uint64_t)r->t1 - r->t0 + 1);
        } else if (v->kind == EV_POINT) {
            const pc_point *p = &c->pt[v->i];
            if (prev && prev->x == p->x && prev->c1 > p->c0) {
                rc = overlap(c, p->run, prev->run, p->x, p->c0,
                             (p->c1 < prev->c1 ? p->c1 : prev->c1) - 1);
                break;
            }
            int first = !prev || prev->x != p->x;
            prev = p;
            if (c->n_bad && is_bad(c, p->x)) {
                rc = faulty(c, p->run, p->x);
                break;
            }
            size_t ri = active_at(c, &act, v->tier, &pred);
            if (ri == SIZE_MAX) {
                n_used += first; /* a crossbar of single pieces only */
                continue;
            }
            const pc_rect *r = &c->rect[ri];
            if (p->c0 < r->kw) {
                rc = overlap(c, p->run, r->run, p->x, p->c0, (p->c1 < r->kw ? p->c1 : r->kw) - 1);
                break;
            }
        } else {
            size_t ri = active_at(c, &act, v->tier, &pred);
            if (ri != SIZE_MAX) rc = faulty(c, c->rect[ri].run, c->bad[v->i]);
        }
    }
    *used = n_used;
    goto out;
nomem:
    rc = pc_nomem(c);
out:
    free(ev);
    free(keys);
    free(act.fw);
    free(act.slot);
    return rc;
}

int aimc_plan_validate(const aimc_arch *arch, const aimc_model *model, const aimc_plan *plan,
                       const float *fault_fraction, size_t n_fault, const char *name,
                       aimc_diag *d)
{
    if (!arch || !model || !plan || (plan->n_runs && !plan->runs) ||
        (model->n_matrices && !model->m))
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_plan_validate: NULL argument");
    pc_ctx c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.model = model;
    c.plan = plan;
    c.name = name ? name : "plan";
    c.d = d;
    c.C = (uint32_t)arch->crossbar.cols;
    c.T = (uint32_t)(arch->hierarchy.tiers > 0 ? arch->hierarchy.tiers : 1);
    c.P = (uint32_t)aimc_arch_cols_per_weight(arch);
    c.L = (uint32_t)aimc_arch_logical_cols(arch);
    if (c.C < 1 || arch->crossbar.rows < 1 || c.L < 1 || aimc_arch_slices(arch) < 1 ||
        arch->hierarchy.crossbars_per_core < 1 || arch->hierarchy.cores_per_chip < 1)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_plan_validate: machine %s is not valid",
                             arch->name);
    for (size_t i = 0; i < model->n_matrices; i++)
        if (model->m[i].rows == 0 || model->m[i].cols == 0)
            return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_plan_validate: matrix %s is empty",
                                 model->m[i].name);
    if (plan->n_runs > UINT32_MAX) return pc_fail(&c, "runs: more than 2^32 runs");
    c.per_chip = (uint64_t)arch->hierarchy.crossbars_per_core *
                 (uint64_t)arch->hierarchy.cores_per_chip * c.T;
    if (plan->chips < 1) return pc_fail(&c, "chips %d: expected at least 1", plan->chips);
    if (!arch->hierarchy.chips_auto && plan->chips != arch->hierarchy.chips)
        return pc_fail(&c, "chips: the plan has %d, the machine %d", plan->chips,
                       arch->hierarchy.chips);
    c.cap = (uint64_t)plan->chips * c.per_chip;
    c.limit = c.cap < (uint64_t)UINT32_MAX + 1 ? c.cap : (uint64_t)UINT32_MAX + 1;

    int rc = AIMC_OK;
    uint64_t span = 0, used = 0;
    for (size_t i = 0; i < plan->n_runs && !rc; i++) rc = check_run(&c, (uint32_t)i, &span);
    if (rc == AIMC_ERR_NOMEM) rc = pc_nomem(&c);
    if (!rc) rc = check_cover(&c);
    if (!rc && fault_fraction && n_fault) { /* the faulty arrays, ascending */
        size_t nb = 0;
        for (size_t x = 0; x < n_fault; x++)
            nb += fault_fraction[x] > arch->mapping.fault_threshold;
        c.bad = malloc((nb ? nb : 1) * sizeof *c.bad);
        if (!c.bad) rc = pc_nomem(&c);
        for (size_t x = 0; !rc && x < n_fault; x++)
            if (fault_fraction[x] > arch->mapping.fault_threshold) c.bad[c.n_bad++] = x;
    }
    if (!rc) rc = check_cells(&c, &used);
    /* The statistics the plan states equal what its runs give. */
    if (!rc && plan->xbars_span != span)
        rc = pc_fail(&c, "crossbars_span %llu: its runs span %llu crossbars (highest used + 1)",
                     (unsigned long long)plan->xbars_span, (unsigned long long)span);
    if (!rc && (plan->xbars_used < 0 || (uint64_t)plan->xbars_used != used))
        rc = pc_fail(&c, "crossbars_used %ld: its runs use %llu crossbars", plan->xbars_used,
                     (unsigned long long)used);
    if (!rc && plan->xbars_skipped > span - used)
        rc = pc_fail(&c, "crossbars_skipped %llu: more than the %llu unused crossbars below the "
                     "span",
                     (unsigned long long)plan->xbars_skipped, (unsigned long long)(span - used));
    if (!rc && arch->hierarchy.chips_auto) {
        uint64_t need = span ? (span + c.per_chip - 1) / c.per_chip : 1;
        if ((uint64_t)plan->chips != need)
            rc = pc_fail(&c, "chips %d: its runs need %llu chip%s of %llu crossbars (chips: auto)",
                         plan->chips, (unsigned long long)need, need == 1 ? "" : "s",
                         (unsigned long long)c.per_chip);
    }
    free(c.rect);
    free(c.pt);
    free(c.bad);
    return rc;
}
