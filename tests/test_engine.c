/* test_engine.c - the discrete-event engine (sim/engine/aimc_engine.h): event order, array
 * resources, counters, determinism, traces, bad input. Expected times are computed by hand
 * in the comments beside each assertion.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aimc_engine.h"
#include "tests.h"

/* ---- helpers ------------------------------------------------------------------------- */

static aimc_eng *eng_new(void)
{
    aimc_eng *e = NULL;
    CU_ASSERT_FATAL(aimc_eng_create(&e) == AIMC_OK);
    CU_ASSERT_FATAL(e != NULL);
    return e;
}

static int array(aimc_eng *e, const char *name, uint32_t track, uint32_t units)
{
    int id = -1;
    CU_ASSERT_FATAL(aimc_eng_array_add(e, name, track, units, &id, NULL) == AIMC_OK);
    return id;
}

static aimc_eng_res_stats stats(const aimc_eng *e, int id)
{
    aimc_eng_res_stats s;
    memset(&s, 0, sizeof s);
    CU_ASSERT(aimc_eng_res_stats_get(e, id, &s) == AIMC_OK);
    return s;
}

/* xorshift64* (Vigna): test data only. */
static uint64_t rnd_next(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * UINT64_C(2685821657736338717);
}

/* ---- events -------------------------------------------------------------------------- */

typedef struct ev_log {
    size_t n;
    uint64_t cycle[64];
    uint64_t arg[64];
} ev_log;

static int log_event(aimc_eng *e, void *payload, uint64_t arg)
{
    ev_log *l = payload;
    if (l->n < 64) {
        l->cycle[l->n] = aimc_eng_now(e);
        l->arg[l->n] = arg;
        l->n++;
    }
    return AIMC_OK;
}

/* Schedules two more events: one at the same cycle (runs after those already queued there)
 * and one 5 cycles later. */
static int spawn_event(aimc_eng *e, void *payload, uint64_t arg)
{
    log_event(e, payload, arg);
    if (aimc_eng_after(e, 0, log_event, payload, arg + 100) != AIMC_OK) return AIMC_ERR_STATE;
    return aimc_eng_after(e, 5, log_event, payload, arg + 200);
}

static int fail_event(aimc_eng *e, void *payload, uint64_t arg)
{
    log_event(e, payload, arg);
    return AIMC_ERR_DEVICE;
}

static void test_event_order(void)
{
    aimc_eng *e = eng_new();
    ev_log l = {0};
    /* Times 30, 10, 20, 10, 10, 0 in this order: ties keep insertion order. */
    const uint64_t at[6] = {30, 10, 20, 10, 10, 0};
    for (uint64_t i = 0; i < 6; i++) CU_ASSERT(aimc_eng_at(e, at[i], log_event, &l, i) == 0);
    CU_ASSERT(aimc_eng_pending(e) == 6);
    CU_ASSERT(aimc_eng_run(e, UINT64_MAX) == AIMC_OK);
    const uint64_t want_arg[6] = {5, 1, 3, 4, 2, 0}, want_cycle[6] = {0, 10, 10, 10, 20, 30};
    CU_ASSERT_FATAL(l.n == 6);
    for (int i = 0; i < 6; i++) {
        CU_ASSERT(l.arg[i] == want_arg[i]);
        CU_ASSERT(l.cycle[i] == want_cycle[i]);
    }
    CU_ASSERT(aimc_eng_now(e) == 30);
    CU_ASSERT(aimc_eng_events_run(e) == 6);
    CU_ASSERT(aimc_eng_pending(e) == 0);
    /* The past is refused; a NULL callback too; now + delay must not overflow. */
    CU_ASSERT(aimc_eng_at(e, 29, log_event, &l, 0) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_at(e, 40, NULL, &l, 0) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_after(e, UINT64_MAX, log_event, &l, 0) == AIMC_ERR_RANGE);
    CU_ASSERT(aimc_eng_pending(e) == 0);
    aimc_eng_destroy(e);
}

static void test_event_spawn_and_limit(void)
{
    aimc_eng *e = eng_new();
    ev_log l = {0};
    CU_ASSERT(aimc_eng_at(e, 10, spawn_event, &l, 1) == 0);
    CU_ASSERT(aimc_eng_at(e, 10, log_event, &l, 2) == 0);
    CU_ASSERT(aimc_eng_at(e, 100, log_event, &l, 3) == 0);
    /* Up to cycle 12: 1 (spawns 101 at 10 and 201 at 15), 2, then 101 - queued after 2. */
    CU_ASSERT(aimc_eng_run(e, 12) == AIMC_OK);
    CU_ASSERT_FATAL(l.n == 3);
    CU_ASSERT(l.arg[0] == 1 && l.arg[1] == 2 && l.arg[2] == 101);
    CU_ASSERT(l.cycle[2] == 10);
    CU_ASSERT(aimc_eng_now(e) == 12); /* the limit, since the next event lies beyond it */
    CU_ASSERT(aimc_eng_pending(e) == 2);
    CU_ASSERT(aimc_eng_run(e, UINT64_MAX) == AIMC_OK);
    CU_ASSERT_FATAL(l.n == 5);
    CU_ASSERT(l.arg[3] == 201 && l.cycle[3] == 15);
    CU_ASSERT(l.arg[4] == 3 && l.cycle[4] == 100);
    CU_ASSERT(aimc_eng_now(e) == 100);

    /* A failing callback stops the run with its code; later events stay queued. */
    CU_ASSERT(aimc_eng_at(e, 110, fail_event, &l, 4) == 0);
    CU_ASSERT(aimc_eng_at(e, 120, log_event, &l, 5) == 0);
    CU_ASSERT(aimc_eng_run(e, UINT64_MAX) == AIMC_ERR_DEVICE);
    CU_ASSERT(l.n == 6 && aimc_eng_now(e) == 110 && aimc_eng_pending(e) == 1);
    CU_ASSERT(aimc_eng_run(e, UINT64_MAX) == AIMC_OK);
    CU_ASSERT(l.n == 7 && l.arg[6] == 5);
    aimc_eng_destroy(e);
}

/* The heap against a sorted reference: 5000 events at random times, many ties. */
typedef struct order_check {
    uint64_t last_cycle, last_seq_arg;
    size_t n, bad;
} order_check;

static int check_order(aimc_eng *e, void *payload, uint64_t arg)
{
    order_check *c = payload;
    const uint64_t t = aimc_eng_now(e);
    /* arg = cycle << 20 | insertion index: must come out non-decreasing. */
    if ((arg >> 20) != t) c->bad++;
    if (c->n > 0 && arg <= c->last_seq_arg) c->bad++;
    c->last_seq_arg = arg;
    c->last_cycle = t;
    c->n++;
    return AIMC_OK;
}

static void test_event_heap_random(void)
{
    aimc_eng *e = eng_new();
    order_check c = {0};
    uint64_t s = 42;
    for (uint64_t i = 0; i < 5000; i++) {
        const uint64_t t = rnd_next(&s) % 300; /* about 17 events per cycle */
        CU_ASSERT(aimc_eng_at(e, t, check_order, &c, t << 20 | i) == 0);
    }
    CU_ASSERT(aimc_eng_run(e, UINT64_MAX) == 0);
    CU_ASSERT(c.n == 5000);
    CU_ASSERT(c.bad == 0);
    aimc_eng_destroy(e);
}

/* ---- arrays -------------------------------------------------------------------------- */

/* Arrays: work names the units it occupies. Hand-computed on 4 units. */
static void test_array_units(void)
{
    aimc_eng *e = eng_new();
    int id = -1;
    uint64_t done = 0, t = 0;
    CU_ASSERT_FATAL(aimc_eng_array_add(e, "cores", 3, 4, &id, NULL) == AIMC_OK);
    /* units 0-1 for 10 cycles from 0; unit 1 again from 5 waits for it: 10..15; units 2-3
     * from 0 overlap with both: 0..7. */
    CU_ASSERT(aimc_eng_array_reserve(e, id, 0, 2, 0, 10, &done) == AIMC_OK);
    CU_ASSERT(done == 10);
    CU_ASSERT(aimc_eng_array_reserve(e, id, 1, 1, 5, 5, &done) == AIMC_OK);
    CU_ASSERT(done == 15);
    CU_ASSERT(aimc_eng_array_reserve(e, id, 2, 2, 0, 7, &done) == AIMC_OK);
    CU_ASSERT(done == 7);
    /* all four are free together from 15 (unit 1); units 0, 2, 3 from 10 */
    CU_ASSERT(aimc_eng_array_free_at(e, id, 0, 4, 0, &t) == AIMC_OK && t == 15);
    CU_ASSERT(aimc_eng_array_free_at(e, id, 2, 2, 3, &t) == AIMC_OK && t == 7);
    CU_ASSERT(aimc_eng_array_free_at(e, id, 2, 2, 9, &t) == AIMC_OK && t == 9);
    aimc_eng_res_stats st = stats(e, id);
    CU_ASSERT(st.kind == AIMC_ENG_ARRAY && st.units == 4);
    CU_ASSERT(st.busy_cycles == 2 * 10 + 5 + 2 * 7 && st.ops == 3 && st.last_end == 15);
    /* zero cycles: nothing booked, done at the start */
    CU_ASSERT(aimc_eng_array_reserve(e, id, 3, 1, 20, 0, &done) == AIMC_OK && done == 20);
    CU_ASSERT(aimc_eng_array_reserve(e, id, 3, 2, 0, 1, &done) == AIMC_ERR_RANGE);
    CU_ASSERT(aimc_eng_array_reserve(e, id, 4, 1, 0, 1, &done) == AIMC_ERR_RANGE);
    CU_ASSERT(aimc_eng_array_reserve(e, id, 0, 0, 0, 1, &done) == AIMC_ERR_RANGE);
    CU_ASSERT(aimc_eng_array_reserve(e, id + 7, 0, 1, 0, 1, &done) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_array_reserve(e, id, 0, 1, UINT64_MAX - 2, 10, &done) == AIMC_ERR_RANGE);
    aimc_eng_destroy(e);
}


/* Counts the spans a trace hook sees, and their busy cycles. */
typedef struct span_log {
    size_t n;
    uint64_t busy;
    size_t bad;
} span_log;

static void count_span(void *user, const aimc_eng_span *s)
{
    span_log *l = user;
    l->n++;
    l->busy += s->end - s->begin;
    l->bad += !(s->end > s->begin) || s->name == NULL || s->kind != AIMC_ENG_ARRAY;
}

/* The edges of an array, zero-cycle bookings and refused bookings. 70000 units: more than a
 * 16-bit unit number holds. */
static void test_array_edges(void)
{
    aimc_eng *e = eng_new();
    const uint32_t n = 70000;
    int id = array(e, "big", 0, n);
    span_log l = {0};
    CU_ASSERT(aimc_eng_set_trace(e, count_span, &l) == AIMC_OK);
    uint64_t done = 0, t = 0;
    /* The last unit alone, then the whole array: it waits for the last unit. */
    CU_ASSERT(aimc_eng_array_reserve(e, id, n - 1, 1, 0, 10, &done) == AIMC_OK && done == 10);
    CU_ASSERT(aimc_eng_array_free_at(e, id, 0, n - 1, 0, &t) == AIMC_OK && t == 0);
    CU_ASSERT(aimc_eng_array_free_at(e, id, 0, n, 0, &t) == AIMC_OK && t == 10);
    CU_ASSERT(aimc_eng_array_reserve(e, id, 0, n, 2, 5, &done) == AIMC_OK && done == 15);
    CU_ASSERT(l.n == 1 + n && l.busy == 10 + 5 * (uint64_t)n && l.bad == 0);
    /* Ranges that leave the array, or are empty; first + count would wrap in 32 bits. */
    const uint32_t bad[6][2] = {{n - 1, 2}, {n, 1}, {0, n + 1}, {0, 0}, {1, UINT32_MAX},
                                {UINT32_MAX, 1}};
    for (int i = 0; i < 6; i++) {
        CU_ASSERT(aimc_eng_array_reserve(e, id, bad[i][0], bad[i][1], 0, 1, &done) ==
                  AIMC_ERR_RANGE);
        CU_ASSERT(aimc_eng_array_free_at(e, id, bad[i][0], bad[i][1], 0, &t) == AIMC_ERR_RANGE);
    }
    /* start may be NULL */
    CU_ASSERT(aimc_eng_array_free_at(e, id, 0, 1, 0, NULL) == AIMC_OK);

    /* Zero cycles on busy units: done at the cycle they are free (15), not at ready (3); it
     * counts as a booking but moves nothing, adds no busy cycles and no span. */
    aimc_eng_res_stats before = stats(e, id);
    CU_ASSERT(aimc_eng_array_reserve(e, id, 5, 2, 3, 0, &done) == AIMC_OK && done == 15);
    CU_ASSERT(aimc_eng_array_reserve(e, id, 5, 2, 40, 0, &done) == AIMC_OK && done == 40);
    CU_ASSERT(aimc_eng_array_free_at(e, id, 5, 2, 0, &t) == AIMC_OK && t == 15);
    aimc_eng_res_stats after = stats(e, id);
    CU_ASSERT(after.ops == before.ops + 2);
    CU_ASSERT(after.busy_cycles == before.busy_cycles && after.last_end == 15);
    CU_ASSERT(l.n == 1 + n);
    CU_ASSERT(aimc_eng_horizon(e) == 15);

    /* A booking whose end overflows is refused and changes nothing. */
    CU_ASSERT(aimc_eng_array_reserve(e, id, 0, 4, 0, UINT64_MAX - 10, &done) == AIMC_ERR_RANGE);
    after = stats(e, id);
    CU_ASSERT(after.ops == before.ops + 2 && after.busy_cycles == before.busy_cycles);
    CU_ASSERT(aimc_eng_array_free_at(e, id, 0, 4, 0, &t) == AIMC_OK && t == 15);
    CU_ASSERT(aimc_eng_horizon(e) == 15 && l.n == 1 + n);
    /* The largest end that fits is accepted. */
    CU_ASSERT(aimc_eng_array_reserve(e, id, 0, 1, 0, UINT64_MAX - 15, &done) == AIMC_OK);
    CU_ASSERT(done == UINT64_MAX);
    /* Removing the hook: later spans go nowhere. */
    CU_ASSERT(aimc_eng_set_trace(e, NULL, &l) == AIMC_OK);
    const size_t seen = l.n;
    CU_ASSERT(aimc_eng_array_reserve(e, id, 1, 1, 0, 1, &done) == AIMC_OK && done == 16);
    CU_ASSERT(l.n == seen && seen == 2 + n);
    aimc_eng_destroy(e);
}

/* Counters, utilisation, the horizon and resetting the counters. */
static void test_array_stats(void)
{
    aimc_eng *e = eng_new();
    int a = array(e, "dig", 5, 2), b = array(e, "dig", 6, 3);
    uint64_t d[5];
    /* On 2 units: unit 0 [0,10), unit 1 [0,10), both [10,20), unit 0 ready 4 -> [20,30),
     * unit 1 ready 20 -> [20,30). */
    CU_ASSERT(aimc_eng_array_reserve(e, a, 0, 1, 0, 10, &d[0]) == 0);
    CU_ASSERT(aimc_eng_array_reserve(e, a, 1, 1, 0, 10, &d[1]) == 0);
    CU_ASSERT(aimc_eng_array_reserve(e, a, 0, 2, 0, 10, &d[2]) == 0);
    CU_ASSERT(aimc_eng_array_reserve(e, a, 0, 1, 4, 10, &d[3]) == 0);
    CU_ASSERT(aimc_eng_array_reserve(e, a, 1, 1, 20, 10, &d[4]) == 0);
    CU_ASSERT(d[0] == 10 && d[1] == 10 && d[2] == 20 && d[3] == 30 && d[4] == 30);
    aimc_eng_res_stats s = stats(e, a);
    CU_ASSERT_STRING_EQUAL(s.name, "dig");
    CU_ASSERT(s.kind == AIMC_ENG_ARRAY && s.track == 5 && s.units == 2);
    CU_ASSERT(s.busy_cycles == 60 && s.ops == 5 && s.last_end == 30);
    CU_ASSERT(fabs(aimc_eng_utilisation(&s, 30) - 1.0) < 1e-12);
    CU_ASSERT(fabs(aimc_eng_utilisation(&s, 60) - 0.5) < 1e-12);
    CU_ASSERT(aimc_eng_utilisation(&s, 0) == 0.0);
    CU_ASSERT(aimc_eng_utilisation(NULL, 10) == 0.0);
    /* The other array is untouched; names need not be unique, find returns the lowest id. */
    s = stats(e, b);
    CU_ASSERT(s.track == 6 && s.units == 3 && s.busy_cycles == 0 && s.ops == 0);
    int id = -1;
    CU_ASSERT(aimc_eng_res_count(e) == 2);
    CU_ASSERT(aimc_eng_res_find(e, "dig", &id) == AIMC_OK && id == a);
    /* The horizon: the latest end, then now once a run passes it. */
    CU_ASSERT(aimc_eng_horizon(e) == 30 && aimc_eng_now(e) == 0);
    CU_ASSERT(aimc_eng_run(e, 100) == AIMC_OK && aimc_eng_now(e) == 100);
    CU_ASSERT(aimc_eng_horizon(e) == 100);
    /* Reset zeroes the counters, bookings stay: unit 0 is free at 30. */
    aimc_eng_stats_reset(e);
    s = stats(e, a);
    CU_ASSERT(s.busy_cycles == 0 && s.ops == 0 && s.last_end == 0);
    CU_ASSERT(aimc_eng_array_reserve(e, a, 0, 1, 0, 1, &d[0]) == 0 && d[0] == 31);
    s = stats(e, a);
    CU_ASSERT(s.busy_cycles == 1 && s.ops == 1 && s.last_end == 31);
    aimc_eng_destroy(e);
}

/* Random bookings against a per-unit reference of the documented rule: start = the latest
 * of ready and the units' free cycles, end = start + cycles, every unit free at end. */
static void test_array_reference(void)
{
    aimc_eng *e = eng_new();
    span_log l = {0};
    CU_ASSERT(aimc_eng_set_trace(e, count_span, &l) == AIMC_OK);
    uint64_t s = 99, spans = 0, all_busy = 0, horizon = 0;
    size_t bad = 0;
    for (int round = 0; round < 60; round++) {
        const uint32_t units = 1 + (uint32_t)(rnd_next(&s) % 40);
        const int id = array(e, "a", 0, units);
        uint64_t free_at[40] = {0}, busy = 0, ops = 0, last = 0;
        for (int k = 0; k < 40; k++) {
            const uint32_t first = (uint32_t)(rnd_next(&s) % units);
            const uint32_t count = 1 + (uint32_t)(rnd_next(&s) % (units - first));
            const uint64_t ready = rnd_next(&s) % 200;
            const uint64_t cycles = rnd_next(&s) % 3 == 0 ? 0 : rnd_next(&s) % 50;
            uint64_t start = ready, got = 0, probe = 0;
            for (uint32_t u = first; u < first + count; u++)
                if (free_at[u] > start) start = free_at[u];
            CU_ASSERT(aimc_eng_array_free_at(e, id, first, count, ready, &probe) == 0);
            CU_ASSERT(aimc_eng_array_reserve(e, id, first, count, ready, cycles, &got) == 0);
            bad += probe != start || got != start + cycles;
            ops++;
            if (cycles == 0) continue;
            for (uint32_t u = first; u < first + count; u++) free_at[u] = start + cycles;
            busy += count * cycles;
            spans += count;
            if (start + cycles > last) last = start + cycles;
        }
        for (uint32_t u = 0; u < units; u++) {
            uint64_t t = 0;
            CU_ASSERT(aimc_eng_array_free_at(e, id, u, 1, 0, &t) == 0);
            bad += t != free_at[u];
        }
        const aimc_eng_res_stats st = stats(e, id);
        bad += st.busy_cycles != busy || st.ops != ops || st.last_end != last;
        all_busy += busy;
        if (last > horizon) horizon = last;
    }
    CU_ASSERT(bad == 0);
    CU_ASSERT(l.n == spans && l.busy == all_busy && l.bad == 0);
    CU_ASSERT(aimc_eng_horizon(e) == horizon);
    aimc_eng_destroy(e);
}

/* ---- determinism --------------------------------------------------------------------- */

typedef struct world {
    int cores, io;
    uint64_t log[4096][2];
    size_t n;
} world;

/* A job steps through 12 random bookings; each step's event is scheduled at the previous
 * booking's end. arg: job << 32 | step. */
static int job_step(aimc_eng *e, void *payload, uint64_t arg)
{
    world *w = payload;
    const uint64_t now = aimc_eng_now(e), job = arg >> 32, step = arg & 0xffffffffu;
    if (w->n < 4096) {
        w->log[w->n][0] = now;
        w->log[w->n][1] = arg;
        w->n++;
    }
    if (step == 12) return AIMC_OK;
    uint64_t h = (job * 0x9e3779b97f4a7c15u) ^ (step * 0xbf58476d1ce4e5b9u);
    h ^= h >> 31;
    const int io = h % 3 == 0;
    const uint32_t units = io ? 3 : 16;
    const uint32_t first = (uint32_t)((h >> 8) % units);
    const uint32_t count = 1 + (uint32_t)((h >> 16) % (units - first));
    uint64_t t = now;
    int rc = aimc_eng_array_reserve(e, io ? w->io : w->cores, first, count, now,
                                    (h >> 24) % 9, &t);
    if (rc) return rc;
    return aimc_eng_at(e, t, job_step, w, arg + 1);
}

static void world_run(world *w, aimc_eng_res_stats *st, size_t *nst, uint64_t *end,
                      uint64_t *now)
{
    aimc_eng *e = eng_new();
    w->cores = array(e, "cores", 0, 16);
    w->io = array(e, "io", 1, 3);
    w->n = 0;
    for (uint64_t j = 0; j < 200; j++) CU_ASSERT(aimc_eng_at(e, j % 7, job_step, w, j << 32) == 0);
    CU_ASSERT(aimc_eng_run(e, UINT64_MAX) == AIMC_OK);
    CU_ASSERT(aimc_eng_events_run(e) == 200 * 13 && aimc_eng_pending(e) == 0);
    *nst = aimc_eng_res_count(e);
    for (size_t i = 0; i < *nst && i < 2; i++) st[i] = stats(e, (int)i);
    *end = aimc_eng_horizon(e);
    *now = aimc_eng_now(e);
    aimc_eng_destroy(e);
}

static void test_determinism(void)
{
    static world w1, w2;
    aimc_eng_res_stats s1[2], s2[2];
    size_t n1, n2;
    uint64_t end1, end2, now1, now2;
    world_run(&w1, s1, &n1, &end1, &now1);
    world_run(&w2, s2, &n2, &end2, &now2);
    CU_ASSERT(w1.n == 200 * 13);
    CU_ASSERT(w1.n == w2.n);
    CU_ASSERT(memcmp(w1.log, w2.log, w1.n * sizeof w1.log[0]) == 0);
    CU_ASSERT_FATAL(n1 == n2 && n1 == 2);
    CU_ASSERT(end1 == end2 && now1 == now2);
    size_t diff = 0;
    for (size_t i = 0; i < 2; i++)
        diff += s1[i].busy_cycles != s2[i].busy_cycles || s1[i].ops != s2[i].ops ||
                s1[i].last_end != s2[i].last_end;
    CU_ASSERT(diff == 0);
    /* The log is in time order, ties in scheduling order: a job's steps in step order. */
    size_t unordered = 0;
    for (size_t i = 1; i < w1.n; i++) unordered += w1.log[i][0] < w1.log[i - 1][0];
    CU_ASSERT(unordered == 0);
    /* Both arrays did work, 12 bookings per job in all; the horizon is the later of the last
     * event and the latest end. */
    CU_ASSERT(s1[0].busy_cycles > 0 && s1[1].busy_cycles > 0);
    CU_ASSERT(s1[0].ops + s1[1].ops == 200 * 12);
    const uint64_t last = s1[0].last_end > s1[1].last_end ? s1[0].last_end : s1[1].last_end;
    CU_ASSERT(end1 == (now1 > last ? now1 : last));
}

/* ---- traces -------------------------------------------------------------------------- */

/* A small scenario on five tracks: returns the total busy cycles of every resource. Spans:
 * cores 2 + 3, xbar 4 (units 2-5; units 0, 1, 6, 7 never work), buf "in" 1, dma 1 (unit 1);
 * "idle" (track 4) only has a booking of 0 cycles. */
#define SCENARIO_SPANS 11
static uint64_t trace_scenario(aimc_eng *e)
{
    const int cores = array(e, "cores", 0, 4), xbar = array(e, "xbar", 1, 8);
    const int buf = array(e, "buf \"in\"", 2, 1), dma = array(e, "dma", 3, 2);
    const int idle = array(e, "idle", 4, 2);
    uint64_t done;
    CU_ASSERT(aimc_eng_array_reserve(e, cores, 0, 2, 0, 3, &done) == 0 && done == 3);
    CU_ASSERT(aimc_eng_array_reserve(e, cores, 1, 3, 0, 2, &done) == 0 && done == 5);
    CU_ASSERT(aimc_eng_array_reserve(e, xbar, 2, 4, done, 4, &done) == 0 && done == 9);
    CU_ASSERT(aimc_eng_array_reserve(e, xbar, 7, 1, 0, 0, NULL) == 0); /* no span */
    CU_ASSERT(aimc_eng_array_reserve(e, buf, 0, 1, done, 6, &done) == 0 && done == 15);
    CU_ASSERT(aimc_eng_array_reserve(e, dma, 1, 1, done, 1, &done) == 0 && done == 16);
    CU_ASSERT(aimc_eng_array_reserve(e, idle, 0, 2, 0, 0, NULL) == 0);
    uint64_t busy = 0;
    for (size_t i = 0; i < aimc_eng_res_count(e); i++) busy += stats(e, (int)i).busy_cycles;
    return busy;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}

/* What a Chrome trace file holds. */
typedef struct trace_summary {
    size_t bad;           /* malformed events, or ts / dur not matching the cycles */
    size_t nx;            /* complete events */
    double dur_cycles;    /* their durations in cycles */
    size_t quoted;        /* complete events named buf "in" */
    size_t nthread, nproc;/* lane and track names */
    size_t ntids, npids;  /* distinct lanes and tracks of complete events */
    double tids[256], pids[256];
    char lanes[16][AIMC_ENG_NAME_MAX + 16]; /* the first 16 lane names */
} trace_summary;

static int read_trace(const char *path, double clock_mhz, trace_summary *t)
{
    memset(t, 0, sizeof *t);
    char *text = slurp(path);
    if (!text) return 0;
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (!root) return 0;
    const cJSON *evs = cJSON_GetObjectItemCaseSensitive(root, "traceEvents");
    if (!cJSON_IsObject(root) || cJSON_GetArraySize(root) != 1 || !cJSON_IsArray(evs)) {
        cJSON_Delete(root);
        return 0;
    }
    const cJSON *ev;
    cJSON_ArrayForEach(ev, evs) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(ev, "name");
        const cJSON *ph = cJSON_GetObjectItemCaseSensitive(ev, "ph");
        const cJSON *pid = cJSON_GetObjectItemCaseSensitive(ev, "pid");
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(ev, "tid");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(ev, "args");
        if (!cJSON_IsString(name) || !cJSON_IsString(ph) || !cJSON_IsNumber(pid) ||
            !cJSON_IsNumber(tid) || !cJSON_IsObject(args)) {
            t->bad++;
            continue;
        }
        if (strcmp(ph->valuestring, "X") == 0) {
            const cJSON *cat = cJSON_GetObjectItemCaseSensitive(ev, "cat");
            const cJSON *ts = cJSON_GetObjectItemCaseSensitive(ev, "ts");
            const cJSON *dur = cJSON_GetObjectItemCaseSensitive(ev, "dur");
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(args, "begin_cycle");
            const cJSON *en = cJSON_GetObjectItemCaseSensitive(args, "end_cycle");
            if (!cJSON_IsString(cat) || strcmp(cat->valuestring, "array") != 0 ||
                !cJSON_IsNumber(ts) || !cJSON_IsNumber(dur) || !cJSON_IsNumber(b) ||
                !cJSON_IsNumber(en) || !(dur->valuedouble > 0) ||
                fabs(ts->valuedouble * clock_mhz - b->valuedouble) > 1e-6 ||
                fabs(dur->valuedouble * clock_mhz - (en->valuedouble - b->valuedouble)) > 1e-6)
                t->bad++;
            else
                t->dur_cycles += dur->valuedouble * clock_mhz;
            t->nx++;
            t->quoted += strcmp(name->valuestring, "buf \"in\"") == 0;
            size_t i = 0;
            while (i < t->ntids && t->tids[i] != tid->valuedouble) i++;
            if (i == t->ntids && t->ntids < 256) t->tids[t->ntids++] = tid->valuedouble;
            for (i = 0; i < t->npids && t->pids[i] != pid->valuedouble;) i++;
            if (i == t->npids && t->npids < 256) t->pids[t->npids++] = pid->valuedouble;
        } else if (strcmp(ph->valuestring, "M") == 0) {
            const cJSON *an = cJSON_GetObjectItemCaseSensitive(args, "name");
            if (strcmp(name->valuestring, "thread_name") == 0 && cJSON_IsString(an)) {
                if (t->nthread < 16)
                    snprintf(t->lanes[t->nthread], sizeof t->lanes[0], "%s", an->valuestring);
                t->nthread++;
            }
            t->nproc += strcmp(name->valuestring, "process_name") == 0 && cJSON_IsString(an);
        } else {
            t->bad++;
        }
    }
    cJSON_Delete(root);
    return 1;
}

static int has_lane(const trace_summary *t, const char *name)
{
    for (size_t i = 0; i < t->nthread && i < 16; i++)
        if (strcmp(t->lanes[i], name) == 0) return 1;
    return 0;
}

static void test_trace(void)
{
    /* The hook sees every busy interval once. */
    aimc_eng *e = eng_new();
    span_log l = {0};
    CU_ASSERT(aimc_eng_set_trace(e, count_span, &l) == 0);
    const uint64_t busy = trace_scenario(e);
    CU_ASSERT(busy == 2 * 3 + 3 * 2 + 4 * 4 + 6 + 1);
    CU_ASSERT(l.n == SCENARIO_SPANS && l.bad == 0);
    CU_ASSERT(l.busy == busy);
    aimc_eng_destroy(e);

    /* The file: {"traceEvents":[...]}, one "X" per interval, ts and dur in us at 500 MHz. */
    char path[] = "/tmp/aimc_eng_traceXXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    close(fd);
    e = eng_new();
    aimc_diag d;
    CU_ASSERT(aimc_eng_trace_open(e, path, 500.0, &d) == 0);
    CU_ASSERT(aimc_eng_set_trace(e, count_span, &l) == AIMC_ERR_STATE);
    CU_ASSERT(aimc_eng_trace_open(e, path, 500.0, &d) == AIMC_ERR_STATE);
    CU_ASSERT(trace_scenario(e) == busy);
    CU_ASSERT(aimc_eng_trace_close(e, &d) == 0);
    CU_ASSERT(aimc_eng_trace_close(e, &d) == AIMC_ERR_STATE);

    static trace_summary t;
    CU_ASSERT_FATAL(read_trace(path, 500.0, &t));
    CU_ASSERT(t.bad == 0);
    CU_ASSERT(t.nx == SCENARIO_SPANS);
    CU_ASSERT(fabs(t.dur_cycles - (double)busy) < 1e-3);
    CU_ASSERT(t.quoted == 1); /* the name with quotes survived escaping */
    /* A lane per unit that had work: cores 0-3, xbar 2-5, buf "in", dma unit 1; xbar's units
     * 0, 1, 6 and 7 and dma's unit 0 never worked and have none. */
    CU_ASSERT(t.ntids == 4 + 4 + 1 + 1);
    CU_ASSERT(t.nthread == t.ntids);
    CU_ASSERT(has_lane(&t, "cores[0]") && has_lane(&t, "cores[3]"));
    CU_ASSERT(has_lane(&t, "xbar[2]") && has_lane(&t, "xbar[5]"));
    CU_ASSERT(!has_lane(&t, "xbar[0]") && !has_lane(&t, "xbar[7]"));
    CU_ASSERT(has_lane(&t, "buf \"in\"")); /* a one-unit array's lane is its name */
    CU_ASSERT(has_lane(&t, "dma[1]") && !has_lane(&t, "dma[0]"));
    /* One name per track that had work: tracks 0, 1, 2 and 3, not 4. */
    CU_ASSERT(t.nproc == t.npids && t.npids == 4);
    unlink(path);
    /* Bad arguments. */
    CU_ASSERT(aimc_eng_trace_open(e, path, 0.0, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_trace_open(e, path, NAN, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_trace_open(e, "", 100.0, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_trace_open(e, "/nonexistent-dir/x.json", 100.0, &d) == AIMC_ERR_IO);
    CU_ASSERT(strstr(d.msg, "/nonexistent-dir/x.json") != NULL);
    aimc_eng_destroy(e);

    /* Lanes of a large array stay apart from the next resource's: unit 65536 of resource 0
     * and unit 0 of resource 1 are two lanes with their own names. */
    e = eng_new();
    const int big = array(e, "big", 0, 70000), next = array(e, "next", 0, 1);
    CU_ASSERT(aimc_eng_trace_open(e, path, 1000.0, &d) == 0);
    CU_ASSERT(aimc_eng_array_reserve(e, big, 65536, 1, 0, 5, NULL) == 0);
    CU_ASSERT(aimc_eng_array_reserve(e, next, 0, 1, 0, 5, NULL) == 0);
    CU_ASSERT(aimc_eng_trace_close(e, &d) == 0);
    CU_ASSERT_FATAL(read_trace(path, 1000.0, &t));
    CU_ASSERT(t.bad == 0 && t.nx == 2 && t.ntids == 2 && t.npids == 1);
    CU_ASSERT(t.nthread == 2 && has_lane(&t, "big[65536]") && has_lane(&t, "next"));
    /* A second file of the same engine starts afresh: only the lanes that work in it. */
    CU_ASSERT(aimc_eng_trace_open(e, path, 1000.0, &d) == 0);
    CU_ASSERT(aimc_eng_array_reserve(e, next, 0, 1, 0, 5, NULL) == 0);
    CU_ASSERT(aimc_eng_trace_close(e, &d) == 0);
    CU_ASSERT_FATAL(read_trace(path, 1000.0, &t));
    CU_ASSERT(t.nx == 1 && t.nthread == 1 && has_lane(&t, "next"));
    aimc_eng_destroy(e);
    unlink(path);

    /* Destroying an engine with an open trace frees it (checked under the sanitizers). */
    e = eng_new();
    CU_ASSERT(aimc_eng_trace_open(e, path, 1000.0, &d) == 0);
    trace_scenario(e);
    aimc_eng_destroy(e);
    unlink(path);
}

/* ---- bad input ----------------------------------------------------------------------- */

static void test_bad_input(void)
{
    aimc_eng *e = eng_new();
    aimc_diag d;
    int id;
    CU_ASSERT(aimc_eng_create(NULL) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_array_add(e, "", 0, 1, &id, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(strstr(d.msg, "name") != NULL);
    CU_ASSERT(aimc_eng_array_add(e, NULL, 0, 1, &id, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_array_add(e, "tab\there", 0, 1, &id, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_array_add(e, "caf\xc3\xa9", 0, 1, &id, &d) == AIMC_ERR_INVALID);
    char longname[AIMC_ENG_NAME_MAX + 1];
    memset(longname, 'a', AIMC_ENG_NAME_MAX);
    longname[AIMC_ENG_NAME_MAX] = 0;
    CU_ASSERT(aimc_eng_array_add(e, longname, 0, 1, &id, &d) == AIMC_ERR_INVALID);
    longname[AIMC_ENG_NAME_MAX - 1] = 0; /* 63 characters: fine */
    CU_ASSERT(aimc_eng_array_add(e, longname, 0, 1, &id, &d) == AIMC_OK && id == 0);
    CU_ASSERT(aimc_eng_array_add(e, "adc", 0, 0, &id, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(strstr(d.msg, "adc: units 0") != NULL);
    CU_ASSERT(aimc_eng_array_add(e, "adc", 0, AIMC_ENG_ARRAY_UNITS_MAX + 1, &id, &d) ==
              AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_array_add(e, "adc", 0, 1, NULL, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(strstr(d.msg, "id") != NULL);
    /* Only the one good array was added. */
    CU_ASSERT(aimc_eng_res_count(e) == 1);
    CU_ASSERT(aimc_eng_res_find(e, longname, &id) == AIMC_OK && id == 0);
    CU_ASSERT(aimc_eng_res_find(e, "nope", &id) == AIMC_ERR_NOTFOUND);
    CU_ASSERT(aimc_eng_res_find(e, NULL, &id) == AIMC_ERR_NOTFOUND);

    /* Unknown ids. */
    uint64_t t;
    aimc_eng_res_stats s;
    CU_ASSERT(aimc_eng_array_reserve(e, -1, 0, 1, 0, 1, &t) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_array_reserve(e, 1, 0, 1, 0, 1, &t) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_array_free_at(e, 99, 0, 1, 0, &t) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_res_stats_get(e, 99, &s) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_res_stats_get(e, -1, &s) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_res_stats_get(e, 0, NULL) == AIMC_ERR_BADHANDLE);
    /* Overflow is refused and books nothing. */
    CU_ASSERT(aimc_eng_array_reserve(e, 0, 0, 1, UINT64_MAX - 1, 5, &t) == AIMC_ERR_RANGE);
    CU_ASSERT(stats(e, 0).ops == 0 && stats(e, 0).busy_cycles == 0);
    CU_ASSERT(aimc_eng_horizon(e) == 0);
    aimc_eng_destroy(e);
    aimc_eng_destroy(NULL);

    /* A NULL engine is a bad handle, not a crash; getters return 0 (no event: UINT64_MAX). */
    CU_ASSERT(aimc_eng_at(NULL, 0, log_event, NULL, 0) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_after(NULL, 0, log_event, NULL, 0) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_run(NULL, 10) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_array_add(NULL, "a", 0, 1, &id, &d) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_array_reserve(NULL, 0, 0, 1, 0, 1, &t) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_array_free_at(NULL, 0, 0, 1, 0, &t) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_res_stats_get(NULL, 0, &s) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_res_find(NULL, "a", &id) == AIMC_ERR_NOTFOUND);
    CU_ASSERT(aimc_eng_set_trace(NULL, count_span, NULL) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_trace_open(NULL, "x.json", 1.0, &d) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_trace_close(NULL, &d) == AIMC_ERR_STATE);
    CU_ASSERT(aimc_eng_now(NULL) == 0 && aimc_eng_res_count(NULL) == 0);
    CU_ASSERT(aimc_eng_pending(NULL) == 0 && aimc_eng_events_run(NULL) == 0);
    CU_ASSERT(aimc_eng_horizon(NULL) == 0 && aimc_eng_next_cycle(NULL) == UINT64_MAX);
    aimc_eng_stats_reset(NULL);
}

int test_engine_register(void)
{
    AIMC_SUITE("engine",
               {"events: time order, ties in insertion order, bad times", test_event_order},
               {"events: spawned events, run limit, failing callback", test_event_spawn_and_limit},
               {"events: 5000 random events come out sorted and stable", test_event_heap_random},
               {"array: work on named units overlaps or queues", test_array_units},
               {"array: edges, zero-cycle bookings, refused bookings change nothing", test_array_edges},
               {"array: counters, utilisation, horizon, reset", test_array_stats},
               {"array: random bookings against a per-unit reference", test_array_reference},
               {"determinism: identical event order, times and counters", test_determinism},
               {"trace: hook spans and a well-formed Chrome trace file", test_trace},
               {"bad input: names, units, handles, overflow", test_bad_input});
    return 0;
}
