/* engine.c - the discrete-event engine: the event queue, array resources and their counters
 * (sim/engine/aimc_engine.h; the model in docs/engine.md). The trace hook and the Chrome trace
 * writer are in eng_trace.c.
 */
#include "eng_internal.h"

#include <stdlib.h>
#include <string.h>

#define EVENTS_INITIAL 256
#define RES_INITIAL 16

/* ---- engine --------------------------------------------------------------------------- */

int aimc_eng_create(aimc_eng **out)
{
    if (!out) return AIMC_ERR_INVALID;
    *out = NULL;
    aimc_eng *e = calloc(1, sizeof *e);
    if (!e) return AIMC_ERR_NOMEM;
    e->heap = malloc(EVENTS_INITIAL * sizeof *e->heap);
    if (!e->heap) {
        free(e);
        return AIMC_ERR_NOMEM;
    }
    e->cap = EVENTS_INITIAL;
    *out = e;
    return AIMC_OK;
}

void aimc_eng_destroy(aimc_eng *e)
{
    if (!e) return;
    aimc_eng__trace_free(e);
    for (size_t i = 0; i < e->nres; i++) free(e->res[i].free_at);
    free(e->res);
    free(e->heap);
    free(e);
}

uint64_t aimc_eng_now(const aimc_eng *e)
{
    return e ? e->now : 0;
}

uint64_t aimc_eng_next_cycle(const aimc_eng *e)
{
    return e && e->n > 0 ? e->heap[0].cycle : UINT64_MAX;
}

size_t aimc_eng_pending(const aimc_eng *e)
{
    return e ? e->n : 0;
}

uint64_t aimc_eng_events_run(const aimc_eng *e)
{
    return e ? e->events_run : 0;
}

uint64_t aimc_eng_horizon(const aimc_eng *e)
{
    if (!e) return 0;
    return e->horizon > e->now ? e->horizon : e->now;
}

/* ---- the event queue: a binary min-heap on (cycle, seq) -------------------------------- */

static inline int ev_before(const eng_event *a, const eng_event *b)
{
    return a->cycle < b->cycle || (a->cycle == b->cycle && a->seq < b->seq);
}

int aimc_eng_at(aimc_eng *e, uint64_t cycle, aimc_eng_fn fn, void *payload, uint64_t arg)
{
    if (!e) return AIMC_ERR_BADHANDLE;
    if (!fn || cycle < e->now) return AIMC_ERR_INVALID;
    if (e->n == e->cap) {
        if (e->cap > SIZE_MAX / 2 / sizeof *e->heap) return AIMC_ERR_NOMEM;
        eng_event *h = realloc(e->heap, 2 * e->cap * sizeof *h);
        if (!h) return AIMC_ERR_NOMEM;
        e->heap = h;
        e->cap *= 2;
    }
    eng_event ev = {cycle, e->seq++, fn, payload, arg};
    /* Sift up: move parents down into the hole until ev fits. */
    size_t i = e->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!ev_before(&ev, &e->heap[p])) break;
        e->heap[i] = e->heap[p];
        i = p;
    }
    e->heap[i] = ev;
    return AIMC_OK;
}

int aimc_eng_after(aimc_eng *e, uint64_t delay, aimc_eng_fn fn, void *payload, uint64_t arg)
{
    uint64_t cycle;
    if (!e) return AIMC_ERR_BADHANDLE;
    if (!eng_add(e->now, delay, &cycle)) return AIMC_ERR_RANGE;
    return aimc_eng_at(e, cycle, fn, payload, arg);
}

/* Remove the root into *out. */
static void heap_pop(aimc_eng *e, eng_event *out)
{
    *out = e->heap[0];
    eng_event last = e->heap[--e->n];
    size_t n = e->n, i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && ev_before(&e->heap[c + 1], &e->heap[c])) c++;
        if (!ev_before(&e->heap[c], &last)) break;
        e->heap[i] = e->heap[c];
        i = c;
    }
    if (n > 0) e->heap[i] = last;
}

int aimc_eng_run(aimc_eng *e, uint64_t limit_cycle)
{
    if (!e) return AIMC_ERR_BADHANDLE;
    while (e->n > 0 && e->heap[0].cycle <= limit_cycle) {
        eng_event ev;
        heap_pop(e, &ev);
        e->now = ev.cycle;
        e->events_run++;
        int rc = ev.fn(e, ev.payload, ev.arg);
        if (rc < 0) return rc;
    }
    if (limit_cycle != UINT64_MAX && limit_cycle > e->now) e->now = limit_cycle;
    return AIMC_OK;
}

/* ---- array resources ------------------------------------------------------------------ */

/* 1..AIMC_ENG_NAME_MAX-1 printable ASCII characters. */
static int name_ok(const char *name)
{
    if (!name) return 0;
    size_t n = 0;
    for (; name[n]; n++)
        if ((unsigned char)name[n] < 0x20 || (unsigned char)name[n] > 0x7e) return 0;
    return n >= 1 && n < AIMC_ENG_NAME_MAX;
}

int aimc_eng_array_add(aimc_eng *e, const char *name, uint32_t track, uint32_t units, int *id,
                       aimc_diag *d)
{
    if (!e) return aimc_diag_set(d, AIMC_ERR_BADHANDLE, "engine: NULL engine");
    if (!id) return aimc_diag_set(d, AIMC_ERR_INVALID, "engine: array: id is NULL");
    if (!name_ok(name))
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "engine: resource name: 1 to %d printable ASCII characters",
                             AIMC_ENG_NAME_MAX - 1);
    if (units < 1 || units > AIMC_ENG_ARRAY_UNITS_MAX)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "engine: %s: units %u: must be 1..%u", name,
                             units, AIMC_ENG_ARRAY_UNITS_MAX);
    if (e->nres >= (size_t)INT32_MAX)
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "engine: %s: too many resources", name);
    if (e->nres == e->res_cap) {
        size_t cap = e->res_cap ? 2 * e->res_cap : RES_INITIAL;
        eng_res *r = realloc(e->res, cap * sizeof *r);
        if (!r) return aimc_diag_set(d, AIMC_ERR_NOMEM, "engine: %s: out of memory", name);
        e->res = r;
        e->res_cap = cap;
    }
    eng_res r;
    memset(&r, 0, sizeof r);
    strcpy(r.name, name);
    r.kind = AIMC_ENG_ARRAY;
    r.track = track;
    r.units = units;
    r.free_at = calloc(units, sizeof *r.free_at);
    if (!r.free_at) return aimc_diag_set(d, AIMC_ERR_NOMEM, "engine: %s: out of memory", name);
    e->res[e->nres] = r;
    *id = (int)e->nres++;
    return AIMC_OK;
}

/* The array id with units first .. first + count - 1, or NULL with *rc set. */
static eng_res *array_range(aimc_eng *e, int id, uint32_t first, uint32_t count, int *rc)
{
    if (!e || id < 0 || (size_t)id >= e->nres || e->res[id].kind != AIMC_ENG_ARRAY) {
        *rc = AIMC_ERR_BADHANDLE;
        return NULL;
    }
    eng_res *r = &e->res[id];
    if (count == 0 || first >= r->units || count > r->units - first) {
        *rc = AIMC_ERR_RANGE;
        return NULL;
    }
    return r;
}

/* The first cycle at or after ready when the units are all free. */
static uint64_t range_free_at(const eng_res *r, uint32_t first, uint32_t count, uint64_t ready)
{
    uint64_t t = ready;
    for (uint32_t u = first; u < first + count; u++)
        if (r->free_at[u] > t) t = r->free_at[u];
    return t;
}

int aimc_eng_array_free_at(aimc_eng *e, int id, uint32_t first, uint32_t count, uint64_t ready,
                           uint64_t *start)
{
    int rc;
    const eng_res *r = array_range(e, id, first, count, &rc);
    if (!r) return rc;
    const uint64_t t = range_free_at(r, first, count, ready);
    if (start) *start = t;
    return AIMC_OK;
}

int aimc_eng_array_reserve(aimc_eng *e, int id, uint32_t first, uint32_t count, uint64_t ready,
                           uint64_t cycles, uint64_t *done)
{
    int rc;
    eng_res *r = array_range(e, id, first, count, &rc);
    if (!r) return rc;
    const uint64_t start = range_free_at(r, first, count, ready);
    uint64_t end;
    if (!eng_add(start, cycles, &end)) return AIMC_ERR_RANGE;
    if (cycles > 0)
        for (uint32_t u = first; u < first + count; u++) {
            r->free_at[u] = end;
            eng_busy(e, id, u, start, end);
        }
    r->ops++;
    if (done) *done = end;
    return AIMC_OK;
}

/* ---- counters ------------------------------------------------------------------------- */

size_t aimc_eng_res_count(const aimc_eng *e)
{
    return e ? e->nres : 0;
}

int aimc_eng_res_stats_get(const aimc_eng *e, int id, aimc_eng_res_stats *out)
{
    if (!e || id < 0 || (size_t)id >= e->nres || !out) return AIMC_ERR_BADHANDLE;
    const eng_res *r = &e->res[id];
    out->name = r->name;
    out->kind = r->kind;
    out->track = r->track;
    out->units = r->units;
    out->busy_cycles = r->busy;
    out->ops = r->ops;
    out->last_end = r->last_end;
    return AIMC_OK;
}

int aimc_eng_res_find(const aimc_eng *e, const char *name, int *id)
{
    if (!e || !name || !id) return AIMC_ERR_NOTFOUND;
    for (size_t i = 0; i < e->nres; i++) {
        if (strcmp(e->res[i].name, name) == 0) {
            *id = (int)i;
            return AIMC_OK;
        }
    }
    return AIMC_ERR_NOTFOUND;
}

double aimc_eng_utilisation(const aimc_eng_res_stats *s, uint64_t elapsed_cycles)
{
    if (!s || elapsed_cycles == 0 || s->units == 0) return 0.0;
    return (double)s->busy_cycles / ((double)s->units * (double)elapsed_cycles);
}

void aimc_eng_stats_reset(aimc_eng *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->nres; i++) {
        eng_res *r = &e->res[i];
        r->busy = r->ops = r->last_end = 0;
    }
}
