/* usage.c - what of the machine a plan uses, for power gating (aimc_map.h). */
#include <stdlib.h>

#include "aimc_map.h"

typedef struct {
    uint64_t lo, hi; /* inclusive */
} span;

static int by_lo(const void *pa, const void *pb)
{
    const span *x = pa, *y = pb;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

/* Sort and merge n spans in place; returns how many units they cover. */
static uint64_t merge_count(span *s, size_t *n)
{
    if (*n == 0) return 0;
    qsort(s, *n, sizeof *s, by_lo);
    size_t k = 0;
    for (size_t i = 1; i < *n; i++) {
        if (s[i].lo <= s[k].hi + 1) {
            if (s[i].hi > s[k].hi) s[k].hi = s[i].hi;
        } else {
            s[++k] = s[i];
        }
    }
    *n = k + 1;
    uint64_t units = 0;
    for (size_t i = 0; i < *n; i++) units += s[i].hi - s[i].lo + 1;
    return units;
}

/* Map spans of units to spans of their groups of `per` units; with block > 0 the groups do
 * not cross blocks of `block` units (a chip's clusters), and are numbered block by block. */
static void group_spans(span *s, size_t n, uint64_t block, uint64_t per)
{
    const uint64_t groups = block ? (block + per - 1) / per : 0;
    for (size_t i = 0; i < n; i++) {
        if (!block) {
            s[i].lo /= per;
            s[i].hi /= per;
            continue;
        }
        s[i].lo = s[i].lo / block * groups + (s[i].lo % block) / per;
        s[i].hi = s[i].hi / block * groups + (s[i].hi % block) / per;
    }
}

int aimc_map_powered(const aimc_arch *a, const aimc_plan *p, aimc_cost_powered *out)
{
    if (!a || !p || !out) return AIMC_ERR_INVALID;
    if (a->power.gating == AIMC_GATING_NONE) {
        aimc_cost_powered_chips(a, (double)(p->chips > 0 ? p->chips : a->hierarchy.chips), out);
        return AIMC_OK;
    }
    const uint64_t T = p->tiers > 0 ? (uint64_t)p->tiers : 1;
    const uint64_t xpc = (uint64_t)a->hierarchy.crossbars_per_core;
    const uint64_t cpc = (uint64_t)a->hierarchy.cores_per_chip;
    const uint64_t per_cl = (uint64_t)a->hierarchy.cores_per_cluster;
    const uint64_t cl_chip = aimc_cost_clusters_per_chip(a);
    const uint64_t per_rt = (uint64_t)a->noc.clusters_per_router;
    const uint64_t cols = (uint64_t)a->crossbar.cols;
    span *s = malloc((p->n_runs ? p->n_runs : 1) * sizeof *s);
    if (!s) return AIMC_ERR_NOMEM;
    size_t n = 0;
    for (size_t r = 0; r < p->n_runs; r++) {
        const aimc_run *ru = &p->runs[r];
        if (ru->n == 0 || ru->width == 0) continue;
        /* the run's last array: tiles after the first array's f go k to an array */
        const uint64_t k = cols / ru->width, f = (cols - ru->col0) / ru->width;
        uint64_t last = ru->xbar0;
        if (ru->n > f && k > 0) last += (uint64_t)ru->stride * (1 + (ru->n - f - 1) / k);
        const uint64_t first = f > 0 ? ru->xbar0 : ru->xbar0 + ru->stride;
        s[n++] = (span){first / T, last / T}; /* sites: the tiers of a site share it */
    }
    out->xbars = (double)merge_count(s, &n);
    group_spans(s, n, 0, xpc); /* cores */
    out->cores = (double)merge_count(s, &n);
    group_spans(s, n, cpc, per_cl); /* clusters, within a chip */
    out->clusters = (double)merge_count(s, &n);
    group_spans(s, n, cl_chip, per_rt); /* routers, within a chip */
    out->routers = (double)merge_count(s, &n);
    const uint64_t rt_chip = aimc_cost_routers_per_chip(a);
    for (size_t i = 0; i < n; i++) {
        s[i].lo /= rt_chip;
        s[i].hi /= rt_chip;
    }
    out->chips = (double)merge_count(s, &n);
    free(s);
    return AIMC_OK;
}
