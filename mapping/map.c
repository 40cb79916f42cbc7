/* map.c - the mapper: cuts every weight matrix of a model into crossbar tiles and bit
 * slices and places them on the crossbars of a machine by a strategy (docs/mapping.md).
 *
 * Placement works on runs (aimc_run): a stretch of consecutive tiles of one matrix on
 * consecutive fresh crossbars is one record whatever its length, so a model of 3e8 tiles
 * is placed in a few thousand steps. Partly filled crossbars (narrow tiles) sit in a pool of
 * min-heaps, one per free-column count, so first fit finds the lowest-numbered crossbar with
 * room without scanning crossbars.
 */
#include "map_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- geometry ------------------------------------------------------------------------- */

typedef struct {
    uint32_t rows, cols, L, P, S; /* word lines, physical columns, logical columns, columns
                                   * per weight, slices */
    uint32_t T;                   /* tiers per site */
    uint64_t per_core, per_chip;  /* arrays per core, per chip */
} geom;

static uint64_t ceil_div64(uint64_t a, uint64_t b)
{
    return (a + b - 1) / b;
}

static void geom_init(const aimc_arch *a, geom *g)
{
    g->rows = (uint32_t)a->crossbar.rows;
    g->cols = (uint32_t)a->crossbar.cols;
    g->L = (uint32_t)aimc_arch_logical_cols(a);
    g->P = (uint32_t)aimc_arch_cols_per_weight(a);
    g->S = (uint32_t)aimc_arch_slices(a);
    g->T = (uint32_t)(a->hierarchy.tiers > 0 ? a->hierarchy.tiers : 1);
    g->per_core = (uint64_t)a->hierarchy.crossbars_per_core * g->T;
    g->per_chip = g->per_core * (uint64_t)a->hierarchy.cores_per_chip;
}

void aimc_map_blocks(const aimc_arch *arch, const aimc_matrix *mx, uint32_t *rb, uint32_t *cb,
                     uint32_t *slices)
{
    uint32_t R = (uint32_t)arch->crossbar.rows, L = (uint32_t)aimc_arch_logical_cols(arch);
    *rb = (uint32_t)ceil_div64(mx->rows, R);
    *cb = (uint32_t)ceil_div64(mx->cols, L);
    *slices = (uint32_t)aimc_arch_slices(arch);
}

/* Crossbar and column of tile j of run r on crossbars of `cols` physical columns. */
static void run_pos(const aimc_run *r, uint32_t cols, uint32_t j, uint64_t *x, uint32_t *c)
{
    uint32_t k = cols / r->width, f = (cols - r->col0) / r->width;
    if (j < f) {
        *x = r->xbar0;
        *c = r->col0 + j * r->width;
    } else {
        uint32_t q = j - f;
        *x = (uint64_t)r->xbar0 + (uint64_t)r->stride * (1 + q / k);
        *c = (q % k) * r->width;
    }
}

void aimc_run_tile(const aimc_arch *arch, const aimc_model *model, const aimc_run *r,
                   uint32_t j, aimc_tile *t)
{
    const aimc_matrix *mx = &model->m[r->matrix];
    uint32_t rb, cb, S;
    aimc_map_blocks(arch, mx, &rb, &cb, &S);
    uint32_t R = (uint32_t)arch->crossbar.rows, L = (uint32_t)aimc_arch_logical_cols(arch);
    uint32_t k = r->tile0 + j;
    uint32_t s = k % S, c = (k / S) % cb, b = k / (S * cb);
    uint64_t x;
    uint32_t col;
    run_pos(r, (uint32_t)arch->crossbar.cols, j, &x, &col);
    t->matrix = r->matrix;
    t->row0 = b * R;
    t->nrows = mx->rows - t->row0 < R ? mx->rows - t->row0 : R;
    t->col0 = c * L;
    t->ncols = mx->cols - t->col0 < L ? mx->cols - t->col0 : L;
    t->slice = s;
    t->xbar = (uint32_t)x;
    t->xbar_col0 = col;
}

/* ---- the pool of partly filled crossbars ------------------------------------------------ */

typedef struct {
    uint32_t *x;
    size_t n, cap;
} heap;

typedef struct {
    heap *b;            /* b[f]: crossbars with f free columns, f in 1..cols-1 */
    uint32_t *active;   /* bucket numbers that may be non-empty */
    unsigned char *on;  /* on[f]: f is in active */
    size_t n_active;
    uint32_t cols;
} pool;

static int pool_init(pool *p, uint32_t cols)
{
    memset(p, 0, sizeof *p);
    p->cols = cols;
    p->b = calloc(cols + 1, sizeof *p->b);
    p->active = calloc(cols + 1, sizeof *p->active);
    p->on = calloc(cols + 1, 1);
    return p->b && p->active && p->on ? AIMC_OK : AIMC_ERR_NOMEM;
}

static void pool_free(pool *p)
{
    if (p->b)
        for (uint32_t f = 0; f <= p->cols; f++) free(p->b[f].x);
    free(p->b);
    free(p->active);
    free(p->on);
}

static void pool_clear(pool *p)
{
    for (size_t i = 0; i < p->n_active; i++) {
        p->b[p->active[i]].n = 0;
        p->on[p->active[i]] = 0;
    }
    p->n_active = 0;
}

static int pool_push(pool *p, uint32_t x, uint32_t f)
{
    heap *h = &p->b[f];
    if (h->n == h->cap) {
        size_t cap = h->cap ? 2 * h->cap : 16;
        uint32_t *nx = realloc(h->x, cap * sizeof *nx);
        if (!nx) return AIMC_ERR_NOMEM;
        h->x = nx;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0 && h->x[(i - 1) / 2] > x) {
        h->x[i] = h->x[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->x[i] = x;
    if (!p->on[f]) {
        p->on[f] = 1;
        p->active[p->n_active++] = f;
    }
    return AIMC_OK;
}

static uint32_t heap_pop(heap *h)
{
    uint32_t top = h->x[0], last = h->x[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && h->x[c + 1] < h->x[c]) c++;
        if (h->x[c] >= last) break;
        h->x[i] = h->x[c];
        i = c;
    }
    if (h->n) h->x[i] = last;
    return top;
}

/* The lowest-numbered crossbar with at least w free columns: 1 and *x, *f, or 0. */
static int pool_take(pool *p, uint32_t w, uint32_t *x, uint32_t *f)
{
    uint32_t best_f = 0, best_x = UINT32_MAX;
    for (size_t i = 0; i < p->n_active;) {
        uint32_t b = p->active[i];
        if (p->b[b].n == 0) { /* drop an emptied bucket */
            p->on[b] = 0;
            p->active[i] = p->active[--p->n_active];
            continue;
        }
        if (b >= w && p->b[b].x[0] < best_x) {
            best_x = p->b[b].x[0];
            best_f = b;
        }
        i++;
    }
    if (!best_f) return 0;
    *x = heap_pop(&p->b[best_f]);
    *f = best_f;
    return 1;
}

/* ---- placement state -------------------------------------------------------------------- */

typedef struct {
    int tiered;          /* 0: fresh crossbars from st->next; 1: tier `tier` of sites[] */
    uint32_t tier;
    const uint32_t *sites;
    size_t n_sites, pos;
} lane;

typedef struct {
    geom g;
    int dry;             /* count only: no runs, no faults */
    uint64_t next;       /* next never-opened crossbar of the sequential lane */
    uint64_t opened, span, skipped;
    const uint64_t *bad; /* sorted faulty crossbars */
    size_t n_bad, bpos;
    aimc_run *runs;
    size_t n_runs, cap_runs;
    uint32_t replica;
    int overflow;        /* a crossbar number passed UINT32_MAX */
} mstate;

static int bad_at(const mstate *st, uint64_t x, size_t *pos)
{
    size_t lo = *pos, hi = st->n_bad;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (st->bad[mid] < x) lo = mid + 1;
        else hi = mid;
    }
    *pos = lo;
    return lo < st->n_bad && st->bad[lo] == x;
}

/* Up to `want` fresh crossbars in one stretch: *x0, *stride; returns how many (>= 1), or 0
 * when a tier lane is exhausted (cannot happen when stacks were sized by a dry run). */
static uint64_t lane_fresh(mstate *st, lane *ln, uint64_t want, uint64_t *x0, uint32_t *stride)
{
    uint64_t got;
    if (!ln->tiered) {
        while (bad_at(st, st->next, &st->bpos)) {
            st->next++;
            st->skipped++;
        }
        uint64_t limit = st->bpos < st->n_bad ? st->bad[st->bpos] - st->next : UINT64_MAX;
        got = want < limit ? want : limit;
        *x0 = st->next;
        *stride = 1;
        st->next += got;
    } else {
        if (ln->pos >= ln->n_sites) return 0;
        got = 1;
        while (got < want && ln->pos + got < ln->n_sites &&
               ln->sites[ln->pos + got] == ln->sites[ln->pos] + got)
            got++;
        *x0 = (uint64_t)ln->sites[ln->pos] * st->g.T + ln->tier;
        *stride = st->g.T;
        ln->pos += got;
    }
    st->opened += got;
    uint64_t last = *x0 + (uint64_t)*stride * (got - 1);
    if (last + 1 > st->span) st->span = last + 1;
    if (last > UINT32_MAX) st->overflow = 1;
    return got;
}

/* Append a run, merging it into the previous one when it continues that run's pattern. */
static int emit(mstate *st, uint32_t matrix, uint32_t tile0, uint32_t n, uint32_t width,
                uint64_t x0, uint32_t col0, uint32_t stride)
{
    if (st->dry) return AIMC_OK;
    if (st->n_runs) {
        aimc_run *r = &st->runs[st->n_runs - 1];
        if (r->matrix == matrix && r->replica == st->replica && r->width == width &&
            r->tile0 + r->n == tile0 && (col0 == 0 || n == 1)) {
            uint32_t f = (st->g.cols - r->col0) / width;
            aimc_run t = *r;
            if (r->n <= f) t.stride = stride; /* the next crossbar is still to come */
            uint64_t px;
            uint32_t pc;
            run_pos(&t, st->g.cols, r->n, &px, &pc);
            if (px == x0 && pc == col0 && (n == 1 || t.stride == stride)) {
                r->stride = t.stride;
                r->n += n;
                return AIMC_OK;
            }
        }
    }
    if (st->n_runs == st->cap_runs) {
        size_t cap = st->cap_runs ? 2 * st->cap_runs : 1024;
        aimc_run *nr = realloc(st->runs, cap * sizeof *nr);
        if (!nr) return AIMC_ERR_NOMEM;
        st->runs = nr;
        st->cap_runs = cap;
    }
    aimc_run *r = &st->runs[st->n_runs++];
    r->matrix = matrix;
    r->tile0 = tile0;
    r->n = n;
    r->width = width;
    r->xbar0 = (uint32_t)x0;
    r->col0 = col0;
    r->stride = stride;
    r->replica = st->replica;
    return AIMC_OK;
}

/* Place n tiles of one width, tiles tile0.. of matrix, by first fit in pool, else on fresh
 * crossbars of the lane. */
static int place_segment(mstate *st, lane *ln, pool *pl, uint32_t matrix, uint32_t tile0,
                         uint64_t n, uint32_t w)
{
    const uint32_t cols = st->g.cols;
    int rc;
    while (n > 0) {
        uint32_t x, f;
        if (w < cols && pool_take(pl, w, &x, &f)) {
            if ((rc = emit(st, matrix, tile0, 1, w, x, cols - f, 1))) return rc;
            if (f > w && (rc = pool_push(pl, x, f - w))) return rc;
            tile0++;
            n--;
            continue;
        }
        uint32_t k = cols / w;
        uint64_t x0;
        uint32_t stride;
        uint64_t got = lane_fresh(st, ln, ceil_div64(n, k), &x0, &stride);
        if (!got) return AIMC_ERR_INVALID;
        uint64_t tiles = got * k < n ? got * k : n;
        if ((rc = emit(st, matrix, tile0, (uint32_t)tiles, w, x0, 0, stride))) return rc;
        /* Leftover columns of these crossbars join the pool (none for full-width tiles). */
        if (cols % w || tiles % k) {
            for (uint64_t i = 0; i < got; i++) {
                uint64_t on = i + 1 < got ? k : tiles - (got - 1) * k;
                uint32_t fr = cols - (uint32_t)on * w;
                if (fr && (rc = pool_push(pl, (uint32_t)(x0 + (uint64_t)stride * i), fr)))
                    return rc;
            }
        }
        tile0 += (uint32_t)tiles;
        n -= tiles;
    }
    return AIMC_OK;
}

/* Place every tile of matrix mi, in tile order, as segments of equal width. */
static int place_matrix(mstate *st, const aimc_model *m, size_t mi, lane *ln, pool *pl)
{
    const aimc_matrix *mx = &m->m[mi];
    const geom *g = &st->g;
    uint32_t RB = (uint32_t)ceil_div64(mx->rows, g->rows), CB = (uint32_t)ceil_div64(mx->cols, g->L);
    uint32_t last_nc = mx->cols - (CB - 1) * g->L;
    uint32_t wfull = g->L * g->P, wlast = last_nc * g->P;
    int rc;
    if (wlast == wfull)
        return place_segment(st, ln, pl, (uint32_t)mi, 0, (uint64_t)RB * CB * g->S, wfull);
    uint32_t t = 0;
    for (uint32_t b = 0; b < RB; b++) {
        if (CB > 1) {
            if ((rc = place_segment(st, ln, pl, (uint32_t)mi, t, (uint64_t)(CB - 1) * g->S,
                                    wfull)))
                return rc;
            t += (CB - 1) * g->S;
        }
        if ((rc = place_segment(st, ln, pl, (uint32_t)mi, t, g->S, wlast))) return rc;
        t += g->S;
    }
    return AIMC_OK;
}

/* ---- groups: the matrices that work together ----------------------------------------- */

typedef struct {
    size_t first, n;  /* matrices first .. first+n-1 */
    int layer;
    int expert;       /* routed expert, n_experts + s for shared, -1 router, -2 dense */
} group;

/* Groups of the model in order: a router, a dense FFN, each expert's gate, up and down. */
static size_t make_groups(const aimc_model *m, group *gr)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n_matrices;) {
        const aimc_matrix *mx = &m->m[i];
        size_t j = i + 1;
        if (mx->kind != AIMC_MAT_ROUTER)
            while (j < m->n_matrices && m->m[j].layer == mx->layer &&
                   m->m[j].expert == mx->expert && m->m[j].kind != AIMC_MAT_ROUTER)
                j++;
        gr[n].first = i;
        gr[n].n = j - i;
        gr[n].layer = mx->layer;
        gr[n].expert = mx->expert;
        n++;
        i = j;
    }
    return n;
}

static int place_group(mstate *st, const aimc_model *m, const group *g, lane *ln, pool *pl)
{
    for (size_t i = 0; i < g->n; i++) {
        int rc = place_matrix(st, m, g->first + i, ln, pl);
        if (rc) return rc;
    }
    return AIMC_OK;
}

/* Crossbars a group needs on its own (fresh crossbars, its own pool, no faults). */
static int group_xbars(const geom *g, const aimc_model *m, const group *gr, pool *scratch,
                       uint64_t *out)
{
    mstate d;
    memset(&d, 0, sizeof d);
    d.g = *g;
    d.dry = 1;
    lane ln = {0};
    pool_clear(scratch);
    int rc = place_group(&d, m, gr, &ln, scratch);
    pool_clear(scratch);
    *out = d.opened;
    return rc;
}

/* Activation probability of a group per token (routed experts from the statistics). */
static double group_p(const aimc_model *m, const aimc_routing *r, const group *g)
{
    if (g->expert < 0 || g->expert >= m->n_experts) return 1.0;
    int l = g->layer - m->dense_layers;
    if (!r || l < 0 || l >= r->layers || g->expert >= r->experts)
        return (double)m->top_k / m->n_experts;
    return r->p[(size_t)l * r->experts + g->expert];
}

static void align_next(mstate *st, uint64_t unit)
{
    if (unit > 1 && st->next % unit) st->next += unit - st->next % unit;
}

/* Sites [*first ..) : n_sites of them, none with a faulty tier, starting at st->next's site.
 * Writes them into sites (capacity n). */
static void take_sites(mstate *st, uint32_t *sites, size_t n)
{
    const uint64_t T = st->g.T;
    align_next(st, T);
    uint64_t s = st->next / T;
    size_t pos = st->bpos;
    for (size_t i = 0; i < n;) {
        int bad = 0;
        size_t p2 = pos;
        for (uint64_t t = 0; t < T; t++) bad |= bad_at(st, s * T + t, &p2);
        if (bad) {
            st->skipped += T;
        } else {
            sites[i++] = (uint32_t)s;
        }
        s++;
    }
    st->next = s * T;
}

typedef struct {
    int e;
    double p;
} ranked;

static int by_p_desc(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? 1 : -1;
    return x->e - y->e;
}

static int by_run(const void *a, const void *b)
{
    const aimc_run *x = a, *y = b;
    if (x->replica != y->replica) return x->replica < y->replica ? -1 : 1;
    if (x->matrix != y->matrix) return x->matrix < y->matrix ? -1 : 1;
    return x->tile0 < y->tile0 ? -1 : x->tile0 > y->tile0;
}

/* ---- strategies ------------------------------------------------------------------------ */

/* The layer's routed-expert groups (indices into gr) from gi on; returns how many. */
static size_t layer_experts(const aimc_model *m, const group *gr, size_t ng, size_t gi)
{
    size_t n = 0;
    while (gi + n < ng && gr[gi + n].layer == gr[gi].layer && gr[gi + n].expert >= 0 &&
           gr[gi + n].expert < m->n_experts)
        n++;
    return n;
}

static int place_tiered_layer(mstate *st, const aimc_model *m, const aimc_routing *r,
                              const group *ex, size_t ne, pool *pl)
{
    const uint32_t T = st->g.T;
    size_t nst = (ne + T - 1) / T;
    int rc = AIMC_ERR_NOMEM;
    ranked *rk = calloc(ne, sizeof *rk);
    int *stack = calloc(ne, sizeof *stack), *fill = calloc(nst, sizeof *fill);
    int *member = calloc(nst * T, sizeof *member);
    uint32_t *sites = NULL;
    if (!rk || !stack || !fill || !member) goto out;
    /* Hottest first; each expert joins the stack (with room) it is least co-active with. */
    for (size_t i = 0; i < ne; i++) {
        rk[i].e = (int)i;
        rk[i].p = group_p(m, r, &ex[i]);
    }
    qsort(rk, ne, sizeof *rk, by_p_desc);
    int l = ex[0].layer - m->dense_layers;
    for (size_t i = 0; i < ne; i++) {
        size_t best = 0;
        double best_c = INFINITY;
        for (size_t s = 0; s < nst; s++) {
            if (fill[s] == (int)T) continue;
            double c = 0;
            for (int k = 0; k < fill[s]; k++)
                c += r ? aimc_routing_pair(r, l, ex[rk[i].e].expert, ex[member[s * T + k]].expert)
                       : 0.0;
            if (c < best_c) {
                best_c = c;
                best = s;
            }
        }
        member[best * T + fill[best]++] = rk[i].e;
        stack[rk[i].e] = (int)best;
    }
    for (size_t s = 0; s < nst; s++) {
        uint64_t need = 0;
        for (int k = 0; k < fill[s]; k++) {
            uint64_t x;
            if ((rc = group_xbars(&st->g, m, &ex[member[s * T + k]], pl, &x))) goto out;
            if (x > need) need = x;
        }
        free(sites);
        sites = malloc((need ? need : 1) * sizeof *sites);
        if (!sites) {
            rc = AIMC_ERR_NOMEM;
            goto out;
        }
        take_sites(st, sites, need);
        for (int k = 0; k < fill[s]; k++) {
            lane ln = {1, (uint32_t)k, sites, need, 0};
            pool_clear(pl);
            if ((rc = place_group(st, m, &ex[member[s * T + k]], &ln, pl))) goto out;
        }
        pool_clear(pl);
    }
    rc = AIMC_OK;
out:
    free(rk);
    free(stack);
    free(fill);
    free(member);
    free(sites);
    return rc;
}

/* Place every group by the strategy. */
static int place_all(mstate *st, const aimc_arch *a, const aimc_model *m, const aimc_routing *r,
                     const group *gr, size_t ng, pool *pl)
{
    const aimc_map_strategy strat = a->mapping.strategy;
    const uint64_t core = st->g.per_core;
    lane seq = {0};
    int rc;
    for (size_t gi = 0; gi < ng;) {
        const group *g = &gr[gi];
        size_t ne = layer_experts(m, gr, ng, gi);
        if (strat == AIMC_STRATEGY_TIERED && ne > 0) {
            if ((rc = place_tiered_layer(st, m, r, g, ne, pl))) return rc;
            gi += ne;
            continue;
        }
        if (strat == AIMC_STRATEGY_BALANCE && ne > 0) {
            /* Hot and cold alternate, each expert on cores of its own. */
            ranked *rk = calloc(ne, sizeof *rk);
            if (!rk) return AIMC_ERR_NOMEM;
            for (size_t i = 0; i < ne; i++) {
                rk[i].e = (int)i;
                rk[i].p = group_p(m, r, &g[i]);
            }
            qsort(rk, ne, sizeof *rk, by_p_desc);
            for (size_t i = 0, lo = 0, hi = ne; i < ne; i++) {
                size_t pick = i % 2 == 0 ? lo++ : --hi;
                align_next(st, core);
                pool_clear(pl);
                if ((rc = place_group(st, m, &g[rk[pick].e], &seq, pl))) {
                    free(rk);
                    return rc;
                }
            }
            free(rk);
            pool_clear(pl);
            gi += ne;
            continue;
        }
        if (strat == AIMC_STRATEGY_LOCALITY || strat == AIMC_STRATEGY_BALANCE) {
            uint64_t need, off = st->next % core;
            if ((rc = group_xbars(&st->g, m, g, pl, &need))) return rc;
            if (off && ceil_div64(need, core) < ceil_div64(off + need, core))
                align_next(st, core);
            pool_clear(pl);
            if ((rc = place_group(st, m, g, &seq, pl))) return rc;
            pool_clear(pl);
        } else if (strat == AIMC_STRATEGY_TIERED) {
            /* Router, shared and dense matrices: on sites of their own. */
            align_next(st, st->g.T);
            if ((rc = place_group(st, m, g, &seq, pl))) return rc;
            if (gi + 1 == ng || gr[gi + 1].layer != g->layer ||
                (gr[gi + 1].expert >= 0 && gr[gi + 1].expert < m->n_experts))
                pool_clear(pl);
        } else {
            if ((rc = place_group(st, m, g, &seq, pl))) return rc; /* pack, replicate */
        }
        gi++;
    }
    return AIMC_OK;
}

/* Free crossbars in [from, to) of the sequential lane (faulty ones excluded). */
static uint64_t free_between(const mstate *st, uint64_t from, uint64_t to)
{
    if (to <= from) return 0;
    size_t a = 0, b = 0;
    bad_at(st, from, &a);
    bad_at(st, to, &b);
    return (to - from) - (b - a);
}

/* replicate: copies of the hottest routed experts into the crossbars left free. */
static int place_replicas(mstate *st, const aimc_arch *a, const aimc_model *m,
                          const aimc_routing *r, const group *gr, size_t ng, uint64_t cap,
                          int *copies, pool *pl)
{
    size_t n = 0;
    ranked *rk = calloc(ng ? ng : 1, sizeof *rk);
    if (!rk) return AIMC_ERR_NOMEM;
    for (size_t gi = 0; gi < ng; gi++)
        if (gr[gi].expert >= 0 && gr[gi].expert < m->n_experts &&
            group_p(m, r, &gr[gi]) >= a->mapping.replicate_threshold) {
            rk[n].e = (int)gi;
            rk[n].p = group_p(m, r, &gr[gi]);
            n++;
        }
    qsort(rk, n, sizeof *rk, by_p_desc);
    lane seq = {0};
    int rc = AIMC_OK;
    for (size_t i = 0; i < n; i++) {
        const group *g = &gr[rk[i].e];
        uint64_t need;
        if ((rc = group_xbars(&st->g, m, g, pl, &need))) break;
        if (need > free_between(st, st->next, cap)) continue;
        int c = copies[g->first];
        st->replica = (uint32_t)c;
        pool_clear(pl);
        if ((rc = place_group(st, m, g, &seq, pl))) break;
        for (size_t k = 0; k < g->n; k++) copies[g->first + k] = c + 1;
    }
    pool_clear(pl);
    st->replica = 0;
    free(rk);
    return rc;
}

/* ---- the plan ------------------------------------------------------------------------- */

void aimc_plan_free(aimc_plan *p)
{
    if (!p) return;
    free(p->tiles);
    free(p->first);
    free(p->count);
    free(p->runs);
    free(p->replicas);
    free(p);
}

int aimc_map_fit_chips(aimc_arch *arch, const aimc_plan *plan)
{
    if (!arch || !plan) return AIMC_ERR_INVALID;
    arch->hierarchy.chips = plan->chips;
    arch->hierarchy.chips_auto = 0;
    return AIMC_OK;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Statistics and the tile array from the runs (shared with plan loading). */
int aimc_map_finish_plan(const aimc_arch *a, const aimc_model *m, aimc_plan *p, int shape_only,
                         aimc_diag *d)
{
    geom g;
    geom_init(a, &g);
    qsort(p->runs, p->n_runs, sizeof *p->runs, by_run);
    p->n_matrices = m->n_matrices;
    free(p->first);
    free(p->count);
    free(p->replicas);
    free(p->tiles);
    p->tiles = NULL;
    p->first = calloc(m->n_matrices ? m->n_matrices : 1, sizeof *p->first);
    p->count = calloc(m->n_matrices ? m->n_matrices : 1, sizeof *p->count);
    p->replicas = calloc(m->n_matrices ? m->n_matrices : 1, sizeof *p->replicas);
    if (!p->first || !p->count || !p->replicas)
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for the plan of %s", m->name);
    uint64_t n_tiles = 0, all = 0, cells = 0;
    p->replicas_max = 1;
    for (size_t i = 0; i < m->n_matrices; i++) {
        uint32_t rb, cb, S;
        aimc_map_blocks(a, &m->m[i], &rb, &cb, &S);
        p->first[i] = (size_t)n_tiles;
        p->count[i] = (size_t)rb * cb * S;
        n_tiles += p->count[i];
    }
    for (size_t k = 0; k < p->n_runs; k++) {
        const aimc_run *r = &p->runs[k];
        if ((int)r->replica + 1 > p->replicas[r->matrix]) p->replicas[r->matrix] = (int)r->replica + 1;
        if ((int)r->replica + 1 > p->replicas_max) p->replicas_max = (int)r->replica + 1;
        all += r->n;
    }
    for (size_t i = 0; i < m->n_matrices; i++) {
        const aimc_matrix *mx = &m->m[i];
        uint64_t mc = (uint64_t)mx->rows * mx->cols * g.S * g.P;
        cells += mc * (uint64_t)(p->replicas[i] ? p->replicas[i] : 1);
    }
    p->n_tiles = (size_t)n_tiles;
    p->n_tiles_all = all;
    p->cells_used = cells;
    if (!shape_only) {
        if (n_tiles > SIZE_MAX / sizeof(aimc_tile))
            return aimc_diag_set(d, AIMC_ERR_NOMEM, "model %s has too many tiles", m->name);
        p->tiles = malloc((n_tiles ? n_tiles : 1) * sizeof *p->tiles);
        if (!p->tiles)
            return aimc_diag_set(d, AIMC_ERR_NOMEM,
                                 "out of memory for %llu tiles of %s (try shape-only)",
                                 (unsigned long long)n_tiles, m->name);
        for (size_t k = 0; k < p->n_runs; k++) {
            const aimc_run *r = &p->runs[k];
            if (r->replica) continue;
            for (uint32_t j = 0; j < r->n; j++)
                aimc_run_tile(a, m, r, j, &p->tiles[p->first[r->matrix] + r->tile0 + j]);
        }
    }
    /* Chips holding tiles: the chip range of each run. */
    uint64_t nchips = p->xbars_span ? ceil_div64(p->xbars_span, g.per_chip) : 0;
    unsigned char *on = calloc(nchips ? nchips : 1, 1);
    if (!on) return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for the plan of %s", m->name);
    for (size_t k = 0; k < p->n_runs; k++) {
        uint64_t x0, x1;
        uint32_t c;
        run_pos(&p->runs[k], g.cols, 0, &x0, &c);
        run_pos(&p->runs[k], g.cols, p->runs[k].n - 1, &x1, &c);
        for (uint64_t ch = x0 / g.per_chip; ch <= x1 / g.per_chip && ch < nchips; ch++) on[ch] = 1;
    }
    int used = 0;
    for (uint64_t ch = 0; ch < nchips; ch++) used += on[ch];
    free(on);
    p->chips_used = used;
    p->tiers = (int)g.T;
    p->strategy = a->mapping.strategy;
    return AIMC_OK;
}

int aimc_map_plan_ex(const aimc_arch *arch, const aimc_model *model, const aimc_map_opts *opts,
                     aimc_plan **out, aimc_diag *d)
{
    if (!out) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_map_plan: out is NULL");
    *out = NULL;
    if (!arch || !model)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_map_plan: arch or model is NULL");
    if (model->n_matrices && !model->m)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_map_plan: model has no matrix list");
    aimc_map_opts none = {0};
    if (!opts) opts = &none;

    const int rows = arch->crossbar.rows;
    const int cols = arch->crossbar.cols;
    const int per_chip_x = arch->hierarchy.crossbars_per_core * arch->hierarchy.cores_per_chip;
    if (rows < 1 || cols < 1 || arch->crossbar.bits_per_cell < 1 ||
        arch->crossbar.weight_bits < 2 || per_chip_x < 1 || arch->hierarchy.chips < 1 ||
        arch->hierarchy.tiers < 1)
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "aimc_map_plan: machine %s is not valid (crossbar %dx%d, "
                             "%d crossbars per chip, %d chips)",
                             arch->name, rows, cols, per_chip_x, arch->hierarchy.chips);
    if (aimc_arch_slices(arch) < 1 || aimc_arch_logical_cols(arch) < 1)
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "aimc_map_plan: machine %s holds no weight column per crossbar",
                             arch->name);
    for (size_t i = 0; i < model->n_matrices; i++)
        if (model->m[i].rows == 0 || model->m[i].cols == 0)
            return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_map_plan: matrix %s is empty (%ux%u)",
                                 model->m[i].name, (unsigned)model->m[i].rows,
                                 (unsigned)model->m[i].cols);

    int rc = AIMC_OK;
    mstate st;
    memset(&st, 0, sizeof st);
    geom_init(arch, &st.g);
    const int autochips = arch->hierarchy.chips_auto;
    const uint64_t cap_fixed = (uint64_t)aimc_arch_total_crossbars(arch) * st.g.T;
    pool pl;
    group *gr = NULL;
    uint64_t *bad = NULL;
    int *copies = NULL;
    aimc_plan *p = NULL;
    if (pool_init(&pl, (uint32_t)cols)) goto out_nomem;
    gr = calloc(model->n_matrices ? model->n_matrices : 1, sizeof *gr);
    copies = calloc(model->n_matrices ? model->n_matrices : 1, sizeof *copies);
    if (!gr || !copies) goto out_nomem;
    for (size_t i = 0; i < model->n_matrices; i++) copies[i] = 1;
    size_t ng = make_groups(model, gr);

    /* The fault map: crossbars above the threshold are never opened. */
    if (opts->fault_fraction && opts->n_fault) {
        size_t nb = 0;
        for (size_t x = 0; x < opts->n_fault; x++)
            nb += opts->fault_fraction[x] > arch->mapping.fault_threshold;
        bad = malloc((nb ? nb : 1) * sizeof *bad);
        if (!bad) goto out_nomem;
        nb = 0;
        for (size_t x = 0; x < opts->n_fault; x++)
            if (opts->fault_fraction[x] > arch->mapping.fault_threshold) bad[nb++] = x;
        qsort(bad, nb, sizeof *bad, cmp_u64);
        st.bad = bad;
        st.n_bad = nb;
    }

    rc = place_all(&st, arch, model, opts->routing, gr, ng, &pl);
    if (rc == AIMC_ERR_NOMEM) goto out_nomem;
    if (rc) {
        rc = aimc_diag_set(d, rc, "aimc_map_plan: placing model %s failed", model->name);
        goto out_free;
    }
    if (st.overflow) {
        rc = aimc_diag_set(d, AIMC_ERR_NOFIT,
                           "model %s needs more than 2^32 crossbars; the mapper numbers "
                           "crossbars in 32 bits",
                           model->name);
        goto out_free;
    }
    if (!autochips && st.span > cap_fixed) {
        uint64_t need_chips = ceil_div64(st.span, st.g.per_chip);
        rc = aimc_diag_set(d, AIMC_ERR_NOFIT,
                           "model %s needs %llu crossbars (%llu chip%s of %llu); the machine has "
                           "%llu (%d chip%s)",
                           model->name, (unsigned long long)st.span,
                           (unsigned long long)need_chips, need_chips == 1 ? "" : "s",
                           (unsigned long long)st.g.per_chip, (unsigned long long)cap_fixed,
                           arch->hierarchy.chips, arch->hierarchy.chips == 1 ? "" : "s");
        goto out_free;
    }
    int chips = autochips ? (int)(st.span ? ceil_div64(st.span, st.g.per_chip) : 1)
                          : arch->hierarchy.chips;
    uint64_t cap = (uint64_t)chips * st.g.per_chip;
    if (arch->mapping.strategy == AIMC_STRATEGY_REPLICATE) {
        rc = place_replicas(&st, arch, model, opts->routing, gr, ng, cap, copies, &pl);
        if (rc == AIMC_ERR_NOMEM) goto out_nomem;
        if (rc) goto out_free;
    }

    p = calloc(1, sizeof *p);
    if (!p) goto out_nomem;
    p->runs = st.runs;
    p->n_runs = st.n_runs;
    st.runs = NULL;
    p->chips = chips;
    p->xbars_total = (long)cap;
    p->xbars_used = (long)st.opened;
    p->xbars_span = st.span;
    p->xbars_skipped = st.skipped;
    p->cells_total = cap * (uint64_t)rows * (uint64_t)cols;
    /* The plan keeps every rule a plan file is held to (plan_check.c). */
    char name[sizeof model->name + 32];
    snprintf(name, sizeof name, "aimc_map_plan: model %s", model->name);
    if ((rc = aimc_plan_validate(arch, model, p, opts->fault_fraction, opts->n_fault, name, d)))
        goto out_free;
    if ((rc = aimc_map_finish_plan(arch, model, p, opts->shape_only, d))) goto out_free;
    *out = p;
    p = NULL;
    goto out_free;

out_nomem:
    rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "aimc_map_plan: out of memory placing model %s",
                       model->name);
out_free:
    pool_free(&pl);
    free(st.runs);
    free(gr);
    free(bad);
    free(copies);
    aimc_plan_free(p);
    return rc;
}

/* The default: the machine's strategy, uniform routing, all tiles. */
int aimc_map_plan(const aimc_arch *arch, const aimc_model *model, aimc_plan **out,
                  aimc_diag *d)
{
    return aimc_map_plan_ex(arch, model, NULL, out, d);
}
