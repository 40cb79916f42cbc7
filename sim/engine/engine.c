/* engine.c - the discrete-event engine: event queue, servers, links, banked memories,
 * pipelines and counters (sim/engine/aimc_engine.h; the model in docs/engine.md). The mesh network is in
 * eng_noc.c, the Chrome trace writer in eng_trace.c.
 */
#include "eng_internal.h"

#include <math.h>
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

static void res_free(eng_res *r)
{
    free(r->slots);
    free(r->bank_cycles);
    free(r->bank_bytes);
    free(r->touched);
    free(r->cand);
    free(r->cnt);
}

void aimc_eng_destroy(aimc_eng *e)
{
    if (!e) return;
    aimc_eng__trace_free(e);
    aimc_eng__mesh_free(e);
    for (size_t i = 0; i < e->nres; i++) res_free(&e->res[i]);
    free(e->res);
    free(e->heap);
    free(e);
}

uint64_t aimc_eng_now(const aimc_eng *e)
{
    return e ? e->now : 0;
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

/* ---- resources ------------------------------------------------------------------------ */

int aimc_eng__name_ok(const char *name)
{
    if (!name) return 0;
    size_t n = 0;
    for (; name[n]; n++)
        if ((unsigned char)name[n] < 0x20 || (unsigned char)name[n] > 0x7e) return 0;
    return n >= 1 && n < AIMC_ENG_NAME_MAX;
}

int aimc_eng__res_add(aimc_eng *e, const char *name, aimc_eng_kind kind, uint32_t track,
                      uint32_t units, int *id, aimc_diag *d)
{
    if (!e) return aimc_diag_set(d, AIMC_ERR_BADHANDLE, "engine: NULL engine");
    if (!aimc_eng__name_ok(name))
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "engine: resource name: 1 to %d printable ASCII characters",
                             AIMC_ENG_NAME_MAX - 1);
    if (units < 1 || units > AIMC_ENG_UNITS_MAX)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "engine: %s: units %u: must be 1..%d", name,
                             units, AIMC_ENG_UNITS_MAX);
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
    r.kind = kind;
    r.track = track;
    r.units = units;
    r.slots = malloc(units * sizeof *r.slots);
    if (!r.slots) return aimc_diag_set(d, AIMC_ERR_NOMEM, "engine: %s: out of memory", name);
    for (uint32_t u = 0; u < units; u++) r.slots[u] = (eng_slot){0, u};
    e->res[e->nres] = r;
    *id = (int)e->nres++;
    return AIMC_OK;
}

static eng_res *res_get(aimc_eng *e, int id, aimc_eng_kind kind)
{
    if (!e || id < 0 || (size_t)id >= e->nres || e->res[id].kind != kind) return NULL;
    return &e->res[id];
}

int aimc_eng_server_add(aimc_eng *e, const char *name, uint32_t track, uint32_t units,
                        int *id, aimc_diag *d)
{
    if (!id) return aimc_diag_set(d, AIMC_ERR_INVALID, "engine: server: id is NULL");
    int rc = aimc_eng__res_add(e, name, AIMC_ENG_SERVER, track, units, id, d);
    if (rc || units == 1) return rc;
    eng_res *r = &e->res[*id];
    r->cand = malloc(units * sizeof *r->cand);
    r->cnt = malloc(units * sizeof *r->cnt);
    if (!r->cand || !r->cnt) {
        res_free(r);
        e->nres--;
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "engine: %s: out of memory", name);
    }
    return AIMC_OK;
}

static inline int slot_before(const eng_slot *a, const eng_slot *b)
{
    return a->free_at < b->free_at || (a->free_at == b->free_at && a->unit < b->unit);
}

/* Sift h[i] down in a slot heap of n. */
static void slots_sift(eng_slot *h, uint32_t n, uint32_t i)
{
    eng_slot x = h[i];
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && slot_before(&h[c + 1], &h[c])) c++;
        if (!slot_before(&h[c], &x)) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

/* One job on a server already looked up; the end is checked for overflow first. */
static int server_job(aimc_eng *e, int id, eng_res *r, uint64_t ready, uint64_t cycles,
                      uint64_t *done)
{
    eng_slot *s = &r->slots[0];
    uint64_t start = s->free_at > ready ? s->free_at : ready, end;
    if (!eng_add(start, cycles, &end)) return AIMC_ERR_RANGE;
    s->free_at = end;
    uint32_t unit = s->unit;
    if (r->units > 1) slots_sift(r->slots, r->units, 0);
    eng_busy(e, id, unit, start, end, 0);
    *done = end;
    return AIMC_OK;
}

int aimc_eng_server_reserve(aimc_eng *e, int id, uint64_t ready, uint64_t cycles,
                            uint64_t *done)
{
    eng_res *r = res_get(e, id, AIMC_ENG_SERVER);
    if (!r) return AIMC_ERR_BADHANDLE;
    uint64_t end = ready;
    if (cycles > 0) {
        int rc = server_job(e, id, r, ready, cycles, &end);
        if (rc) return rc;
    }
    r->ops++;
    if (done) *done = end;
    return AIMC_OK;
}

/* Jobs of `c` cycles that single reservations would start at or before cycle t: unit j,
 * free from g_j = max(free_at, ready), starts jobs at g_j, g_j + c, ... Stops counting at
 * `cap` (no overflow). */
static uint64_t batch_started_by(const eng_slot *sl, uint32_t m, uint64_t ready, uint64_t c,
                                 uint64_t t, uint64_t cap)
{
    uint64_t n = 0;
    for (uint32_t j = 0; j < m && n < cap; j++) {
        const uint64_t g = sl[j].free_at > ready ? sl[j].free_at : ready;
        if (t < g) continue;
        const uint64_t k = (t - g) / c + 1;
        n = k < cap - n ? n + k : cap;
    }
    return n;
}

static int cand_cmp(const void *a, const void *b)
{
    const eng_cand *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->unit > y->unit) - (x->unit < y->unit);
}

/* `jobs` (>= 1) jobs of `cycles` (>= 1) on a server of m > 1 units, placed exactly as
 * `jobs` calls of server_job() would, without placing them one by one: jobs go out in
 * order of start time, so the last one starts at the first cycle T with at least `jobs`
 * starts at or before T; every start before T is taken, and the remaining r go to the
 * units with a start at T in heap order. A unit's jobs are back to back: one busy interval
 * each. The caller checked that nothing overflows. O(m log(jobs x cycles)). */
static void server_batch_many(aimc_eng *e, int id, eng_res *r, uint64_t ready, uint64_t jobs,
                              uint64_t c, uint64_t *done)
{
    eng_slot *sl = r->slots;
    const uint32_t m = r->units;
    uint64_t gmin = UINT64_MAX;
    for (uint32_t j = 0; j < m; j++) {
        const uint64_t g = sl[j].free_at > ready ? sl[j].free_at : ready;
        if (g < gmin) gmin = g;
    }
    /* The earliest unit alone would start the last job at gmin + (jobs - 1) c. */
    uint64_t lo = gmin, hi = gmin + (jobs - 1) * c;
    while (lo < hi) {
        const uint64_t mid = lo + (hi - lo) / 2;
        if (batch_started_by(sl, m, ready, c, mid, jobs) >= jobs)
            hi = mid;
        else
            lo = mid + 1;
    }
    const uint64_t t = lo;
    const uint64_t before = t > gmin ? batch_started_by(sl, m, ready, c, t - 1, jobs) : 0;
    const uint64_t rem = jobs - before; /* 1..m */

    /* Starts before t per slot; then the units with a start at t, in the order the heap
     * would hand them out: (free_at, unit), where a unit this batch has not used yet still
     * has its own free_at (earlier than `ready` if it was idle), a used one free_at = t. */
    eng_cand *cand = r->cand;
    uint64_t *cnt = r->cnt;
    uint32_t nc = 0;
    for (uint32_t j = 0; j < m; j++) {
        const uint64_t g = sl[j].free_at > ready ? sl[j].free_at : ready;
        cnt[j] = t > g ? (t - g + c - 1) / c : 0;
        if (t >= g && (t - g) % c == 0)
            cand[nc++] = (eng_cand){t == g ? sl[j].free_at : t, sl[j].unit, j};
    }
    if (rem < nc) qsort(cand, nc, sizeof *cand, cand_cmp);
    for (uint32_t k = 0; k < nc && k < rem; k++) cnt[cand[k].slot]++;
    for (uint32_t j = 0; j < m; j++) {
        if (cnt[j] == 0) continue;
        const uint64_t g = sl[j].free_at > ready ? sl[j].free_at : ready;
        sl[j].free_at = g + cnt[j] * c;
        eng_busy(e, id, sl[j].unit, g, sl[j].free_at, 0);
    }
    for (uint32_t i = m / 2; i-- > 0;) slots_sift(sl, m, i);
    *done = t + c;
}

int aimc_eng_server_batch(aimc_eng *e, int id, uint64_t ready, uint64_t jobs, uint64_t cycles,
                          uint64_t *done)
{
    eng_res *r = res_get(e, id, AIMC_ENG_SERVER);
    if (!r) return AIMC_ERR_BADHANDLE;
    uint64_t end = ready;
    if (jobs > 0 && cycles > 0) {
        /* Check the worst case (every job after the latest free unit) before booking. */
        uint64_t latest = ready, total, bound;
        for (uint32_t u = 0; u < r->units; u++)
            if (r->slots[u].free_at > latest) latest = r->slots[u].free_at;
        if (!eng_mul(jobs, cycles, &total) || !eng_add(latest, total, &bound))
            return AIMC_ERR_RANGE;
        if (r->units == 1) {
            uint64_t start = r->slots[0].free_at > ready ? r->slots[0].free_at : ready;
            end = start + total;
            r->slots[0].free_at = end;
            eng_busy(e, id, 0, start, end, 0);
        } else if (jobs == 1) {
            server_job(e, id, r, ready, cycles, &end); /* cannot overflow: bound checked */
        } else {
            server_batch_many(e, id, r, ready, jobs, cycles, &end);
        }
    }
    r->ops += jobs;
    if (done) *done = end;
    return AIMC_OK;
}

/* ---- links ---------------------------------------------------------------------------- */

static int link_params_ok(const aimc_eng_link_params *p)
{
    return p && isfinite(p->bytes_per_cycle) && p->bytes_per_cycle > 0;
}

int aimc_eng_link_add(aimc_eng *e, const char *name, uint32_t track,
                      const aimc_eng_link_params *p, int *id, aimc_diag *d)
{
    if (!id) return aimc_diag_set(d, AIMC_ERR_INVALID, "engine: link: id is NULL");
    if (!link_params_ok(p))
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "engine: link %s: bytes_per_cycle: must be > 0 and finite",
                             name ? name : "(null)");
    int rc = aimc_eng__res_add(e, name, AIMC_ENG_LINK, track, 1, id, d);
    if (rc) return rc;
    e->res[*id].link = *p;
    return AIMC_OK;
}

uint64_t aimc_eng_serial_cycles(double bytes_per_cycle, uint64_t bytes)
{
    if (bytes == 0) return 0;
    double q = (double)bytes / bytes_per_cycle;
    double r = nearbyint(q);
    if (fabs(q - r) <= 1e-9 * q) q = r;
    q = ceil(q);
    if (!(q < 18446744073709551616.0)) return UINT64_MAX; /* 2^64: saturate */
    return q < 1 ? 1 : (uint64_t)q;
}

int aimc_eng_link_send(aimc_eng *e, int id, uint64_t ready, uint64_t bytes, uint64_t *arrive)
{
    eng_res *r = res_get(e, id, AIMC_ENG_LINK);
    if (!r) return AIMC_ERR_BADHANDLE;
    if (bytes < 1 || bytes > AIMC_ENG_BYTES_MAX) return AIMC_ERR_INVALID;
    uint64_t ser = aimc_eng_serial_cycles(r->link.bytes_per_cycle, bytes);
    uint64_t start = r->slots[0].free_at > ready ? r->slots[0].free_at : ready, end, arr;
    if (!eng_add(start, ser, &end) || !eng_add(end, r->link.latency_cycles, &arr))
        return AIMC_ERR_RANGE;
    r->slots[0].free_at = end;
    r->ops++;
    r->bytes += bytes;
    eng_busy(e, id, 0, start, end, bytes);
    if (arrive) *arrive = arr;
    return AIMC_OK;
}

/* ---- banked memories ------------------------------------------------------------------ */

int aimc_eng_mem_add(aimc_eng *e, const char *name, uint32_t track,
                     const aimc_eng_mem_params *p, int *id, aimc_diag *d)
{
    const char *nm = name ? name : "(null)";
    if (!id) return aimc_diag_set(d, AIMC_ERR_INVALID, "engine: memory: id is NULL");
    if (!p || p->banks < 1 || p->interleave_bytes < 1 || p->bytes_per_access < 1 ||
        p->access_cycles < 1)
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "engine: memory %s: banks, interleave_bytes, bytes_per_access "
                             "and access_cycles: must be >= 1", nm);
    int rc = aimc_eng__res_add(e, name, AIMC_ENG_MEMORY, track, p->banks, id, d);
    if (rc) return rc;
    eng_res *r = &e->res[*id];
    r->mem = *p;
    r->bank_cycles = calloc(p->banks, sizeof *r->bank_cycles);
    r->bank_bytes = calloc(p->banks, sizeof *r->bank_bytes);
    r->touched = malloc(p->banks * sizeof *r->touched);
    if (!r->bank_cycles || !r->bank_bytes || !r->touched) {
        res_free(r);
        e->nres--;
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "engine: memory %s: out of memory", nm);
    }
    return AIMC_OK;
}

/* Add n pieces of `len` bytes to bank b's tally; 0 on overflow. */
static int mem_tally(eng_res *r, uint32_t *ntouched, uint32_t b, uint64_t n, uint64_t len)
{
    uint64_t per, cyc, byt;
    const uint64_t accesses = len / r->mem.bytes_per_access + (len % r->mem.bytes_per_access != 0);
    if (n == 0) return 1;
    if (!eng_mul(accesses, r->mem.access_cycles, &per) || !eng_mul(per, n, &cyc)) return 0;
    if (r->bank_cycles[b] == 0 && r->bank_bytes[b] == 0) r->touched[(*ntouched)++] = b;
    if (!eng_add(r->bank_cycles[b], cyc, &r->bank_cycles[b])) return 0;
    byt = n * len; /* <= bytes of the access <= 2^53 */
    r->bank_bytes[b] += byt;
    return 1;
}

int aimc_eng_mem_access(aimc_eng *e, int id, uint64_t addr, uint64_t bytes, uint64_t ready,
                        uint64_t *done)
{
    eng_res *r = res_get(e, id, AIMC_ENG_MEMORY);
    if (!r) return AIMC_ERR_BADHANDLE;
    if (bytes < 1 || bytes > AIMC_ENG_BYTES_MAX || addr > UINT64_MAX - bytes)
        return AIMC_ERR_INVALID;
    const uint64_t il = r->mem.interleave_bytes, nb = r->units, end_addr = addr + bytes;
    uint32_t nt = 0;
    int ok = 1;

    /* Tally per bank: a head piece up to the next boundary, whole pieces, a tail piece. */
    uint64_t a = addr;
    uint64_t head = il - a % il;
    if (head > bytes) head = bytes;
    ok = mem_tally(r, &nt, (uint32_t)((a / il) % nb), 1, head);
    a += head;
    if (ok && a < end_addr) {
        const uint64_t full = (end_addr - a) / il, tail = (end_addr - a) % il;
        const uint64_t b0 = (a / il) % nb;
        if (full >= nb) {
            const uint64_t q = full / nb, rem = full % nb;
            for (uint64_t k = 0; ok && k < nb; k++)
                ok = mem_tally(r, &nt, (uint32_t)((b0 + k) % nb), q + (k < rem), il);
        } else {
            for (uint64_t k = 0; ok && k < full; k++)
                ok = mem_tally(r, &nt, (uint32_t)((b0 + k) % nb), 1, il);
        }
        a += full * il;
        if (ok && tail > 0) ok = mem_tally(r, &nt, (uint32_t)((a / il) % nb), 1, tail);
    }

    /* Check every bank's end, then book. */
    uint64_t last = ready;
    for (uint32_t i = 0; ok && i < nt; i++) {
        const uint32_t b = r->touched[i];
        const uint64_t start = r->slots[b].free_at > ready ? r->slots[b].free_at : ready;
        uint64_t end;
        ok = eng_add(start, r->bank_cycles[b], &end);
        if (ok && end > last) last = end;
    }
    for (uint32_t i = 0; i < nt; i++) {
        const uint32_t b = r->touched[i];
        if (ok) {
            const uint64_t start = r->slots[b].free_at > ready ? r->slots[b].free_at : ready;
            const uint64_t end = start + r->bank_cycles[b];
            r->slots[b].free_at = end;
            eng_busy(e, id, b, start, end, r->bank_bytes[b]);
        }
        r->bank_cycles[b] = 0;
        r->bank_bytes[b] = 0;
    }
    if (!ok) return AIMC_ERR_RANGE;
    r->ops++;
    r->bytes += bytes;
    if (done) *done = last;
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
    out->bytes = r->bytes;
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
        r->busy = r->ops = r->bytes = r->last_end = 0;
    }
}

/* ---- pipelines ------------------------------------------------------------------------ */

int aimc_eng_pipeline(aimc_eng *e, const aimc_eng_stage *stages, size_t k, uint64_t items,
                      uint64_t ready, uint64_t *done)
{
    if (!stages || k == 0) return AIMC_ERR_INVALID;
    /* Validate, and bound the last completion: no job can end later than the latest free
     * unit of any stage server plus all the work of this call done one after another. */
    uint64_t latest = ready, work = 0;
    for (size_t s = 0; s < k; s++) {
        const eng_res *r = res_get(e, stages[s].res, AIMC_ENG_SERVER);
        if (!r) return AIMC_ERR_BADHANDLE;
        if (stages[s].jobs == 0) return AIMC_ERR_INVALID;
        for (uint32_t u = 0; u < r->units; u++)
            if (r->slots[u].free_at > latest) latest = r->slots[u].free_at;
        uint64_t per, all;
        if (!eng_mul(stages[s].jobs, stages[s].cycles, &per) || !eng_mul(per, items, &all) ||
            !eng_add(work, all, &work))
            return AIMC_ERR_RANGE;
    }
    uint64_t bound;
    if (!eng_add(latest, work, &bound)) return AIMC_ERR_RANGE;

    uint64_t last = ready;
    for (uint64_t i = 0; i < items; i++) {
        uint64_t t = ready;
        for (size_t s = 0; s < k; s++) {
            /* Cannot fail: handles checked, ends bounded above. */
            aimc_eng_server_batch(e, stages[s].res, t, stages[s].jobs, stages[s].cycles, &t);
        }
        last = t;
    }
    if (done) *done = last;
    return AIMC_OK;
}

int aimc_eng_tile_mvm(aimc_eng *e, const aimc_eng_tile *t, uint32_t cols, uint32_t steps,
                      uint64_t ready, uint64_t *done)
{
    if (!t || cols < 1) return AIMC_ERR_INVALID;
    const aimc_eng_stage st[4] = {
        {t->dac, t->dac_cycles, 1},
        {t->array, t->integrate_cycles, 1},
        {t->adc, t->conversion_cycles, cols},
        {t->shift_add, t->shift_add_cycles, 1},
    };
    return aimc_eng_pipeline(e, st, 4, steps, ready, done);
}
