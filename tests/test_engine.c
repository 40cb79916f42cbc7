/* test_engine.c - the discrete-event engine (sim/engine/aimc_engine.h): event order, servers, links,
 * memories, pipelines, the mesh, counters, traces. Expected times are computed by hand in
 * the comments beside each assertion.
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

static int server(aimc_eng *e, const char *name, uint32_t units)
{
    int id = -1;
    CU_ASSERT_FATAL(aimc_eng_server_add(e, name, 0, units, &id, NULL) == AIMC_OK);
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

/* ---- servers ------------------------------------------------------------------------- */

static void test_server_adc_rounds(void)
{
    aimc_eng *e = eng_new();
    const uint64_t conv = 3;
    /* 128 columns on one ADC: 128 conversions, one after another. */
    int one = server(e, "adc1", 1);
    uint64_t done = 0;
    CU_ASSERT(aimc_eng_server_batch(e, one, 0, 128, conv, &done) == 0);
    CU_ASSERT(done == 128 * conv);
    aimc_eng_res_stats s = stats(e, one);
    CU_ASSERT(s.ops == 128);
    CU_ASSERT(s.busy_cycles == 128 * conv);
    CU_ASSERT(fabs(aimc_eng_utilisation(&s, done) - 1.0) < 1e-12);

    /* 128 columns on 8 ADCs: ceil(128 / 8) = 16 rounds; the same 128 conversions. */
    int eight = server(e, "adc8", 8);
    CU_ASSERT(aimc_eng_server_batch(e, eight, 0, 128, conv, &done) == 0);
    CU_ASSERT(done == 16 * conv);
    s = stats(e, eight);
    CU_ASSERT(s.ops == 128 && s.units == 8);
    CU_ASSERT(s.busy_cycles == 128 * conv);
    CU_ASSERT(fabs(aimc_eng_utilisation(&s, done) - 1.0) < 1e-12);
    /* 130 columns: 17 rounds, the last one using ADCs 0 and 1 only. */
    CU_ASSERT(aimc_eng_server_batch(e, eight, 100, 130, conv, &done) == 0);
    CU_ASSERT(done == 100 + 17 * conv);
    uint64_t t;
    CU_ASSERT(aimc_eng_server_reserve(e, eight, 0, conv, &t) == 0); /* ADC 2: free at 16 conv */
    CU_ASSERT(t == 100 + 16 * conv + conv);
    aimc_eng_destroy(e);
}

static void test_server_fifo(void)
{
    aimc_eng *e = eng_new();
    int s2 = server(e, "dig", 2);
    uint64_t d[5];
    /* Ready at 0, 0, 0, 4, 20 for 10 cycles on 2 units: [0,10) u0, [0,10) u1, [10,20) u0,
     * [10,20) u1, [20,30) u0. */
    const uint64_t ready[5] = {0, 0, 0, 4, 20};
    for (int i = 0; i < 5; i++) CU_ASSERT(aimc_eng_server_reserve(e, s2, ready[i], 10, &d[i]) == 0);
    CU_ASSERT(d[0] == 10 && d[1] == 10 && d[2] == 20 && d[3] == 20 && d[4] == 30);
    /* A job of 0 cycles is done when ready and occupies nothing. */
    CU_ASSERT(aimc_eng_server_reserve(e, s2, 7, 0, &d[0]) == 0 && d[0] == 7);
    aimc_eng_res_stats s = stats(e, s2);
    CU_ASSERT(s.busy_cycles == 50 && s.ops == 6 && s.last_end == 30);
    CU_ASSERT(fabs(aimc_eng_utilisation(&s, 30) - 50.0 / 60.0) < 1e-12);
    CU_ASSERT(aimc_eng_horizon(e) == 30);
    aimc_eng_stats_reset(e);
    s = stats(e, s2);
    CU_ASSERT(s.busy_cycles == 0 && s.ops == 0 && s.last_end == 0);
    /* Reservations stay: unit 1 is free at 20, unit 0 at 30. */
    CU_ASSERT(aimc_eng_server_reserve(e, s2, 0, 1, &d[0]) == 0 && d[0] == 21);
    aimc_eng_destroy(e);
}

/* Per unit of the two servers compared: busy cycles and latest end, from the trace hook. */
typedef struct unit_tally {
    int a, b;
    uint64_t busy[2][40], end[2][40];
} unit_tally;

static void tally_span(void *user, const aimc_eng_span *sp)
{
    unit_tally *t = user;
    const int w = sp->res == t->a ? 0 : sp->res == t->b ? 1 : -1;
    if (w < 0 || sp->unit >= 40) return;
    t->busy[w][sp->unit] += sp->end - sp->begin;
    if (sp->end > t->end[w][sp->unit]) t->end[w][sp->unit] = sp->end;
}

/* A batch books exactly what the same number of single reservations books: compare two
 * servers driven alike, by their completions, by what each unit did (trace hook), and by
 * probing them afterwards. */
static void test_server_batch_equivalence(void)
{
    aimc_eng *e = eng_new();
    uint64_t s = 7;
    size_t mismatches = 0;
    static unit_tally tally;
    CU_ASSERT(aimc_eng_set_trace(e, tally_span, &tally) == 0);
    for (int round = 0; round < 400; round++) {
        const uint32_t units = 1 + (uint32_t)(rnd_next(&s) % (round < 200 ? 9 : 40));
        int a = server(e, "a", units), b = server(e, "b", units);
        memset(&tally, 0, sizeof tally);
        tally.a = a;
        tally.b = b;
        for (int k = 0; k < 6; k++) {
            const uint64_t ready = rnd_next(&s) % 50, jobs = rnd_next(&s) % (k < 3 ? 30 : 300);
            const uint64_t cyc = rnd_next(&s) % 7, pre = rnd_next(&s) % 40;
            uint64_t da = 0, db = 0, t;
            /* Disturb both the same way, then one batch against single jobs. */
            aimc_eng_server_reserve(e, a, pre, cyc + 1, &t);
            aimc_eng_server_reserve(e, b, pre, cyc + 1, &t);
            CU_ASSERT(aimc_eng_server_batch(e, a, ready, jobs, cyc, &da) == 0);
            db = ready;
            for (uint64_t j = 0; j < jobs; j++) {
                aimc_eng_server_reserve(e, b, ready, cyc, &t);
                if (t > db) db = t;
            }
            mismatches += da != db;
        }
        mismatches += memcmp(tally.busy[0], tally.busy[1], sizeof tally.busy[0]) != 0;
        mismatches += memcmp(tally.end[0], tally.end[1], sizeof tally.end[0]) != 0;
        for (uint32_t p = 0; p < units + 2; p++) {
            uint64_t ta, tb;
            aimc_eng_server_reserve(e, a, 0, 1, &ta);
            aimc_eng_server_reserve(e, b, 0, 1, &tb);
            mismatches += ta != tb;
        }
        aimc_eng_res_stats sa = stats(e, a), sb = stats(e, b);
        mismatches += sa.busy_cycles != sb.busy_cycles || sa.ops != sb.ops ||
                      sa.last_end != sb.last_end;
    }
    CU_ASSERT(mismatches == 0);
    aimc_eng_destroy(e);
}

/* ---- links --------------------------------------------------------------------------- */

static void test_link_two_flows(void)
{
    aimc_eng *e = eng_new();
    const aimc_eng_link_params p0 = {8.0, 0}, pl = {8.0, 5};
    int l0, l1, l2;
    CU_ASSERT_FATAL(aimc_eng_link_add(e, "c2c0", 0, &p0, &l0, NULL) == 0);
    CU_ASSERT_FATAL(aimc_eng_link_add(e, "c2c1", 0, &p0, &l1, NULL) == 0);
    CU_ASSERT_FATAL(aimc_eng_link_add(e, "dma", 0, &pl, &l2, NULL) == 0);
    uint64_t one, a, b;
    /* 1024 bytes at 8 B/cycle: 128 cycles. */
    CU_ASSERT(aimc_eng_link_send(e, l0, 0, 1024, &one) == 0);
    CU_ASSERT(one == 128);
    /* Two flows ready together on one link: the second waits, twice as long in all. */
    CU_ASSERT(aimc_eng_link_send(e, l1, 0, 1024, &a) == 0);
    CU_ASSERT(aimc_eng_link_send(e, l1, 0, 1024, &b) == 0);
    CU_ASSERT(a == 128 && b == 256 && b == 2 * one);
    aimc_eng_res_stats s = stats(e, l1);
    CU_ASSERT(s.busy_cycles == 256 && s.ops == 2 && s.bytes == 2048);
    /* With 5 cycles of latency: 128 + 5, then 2 x 128 + 5 (latency overlaps). */
    CU_ASSERT(aimc_eng_link_send(e, l2, 0, 1024, &a) == 0);
    CU_ASSERT(aimc_eng_link_send(e, l2, 0, 1024, &b) == 0);
    CU_ASSERT(a == 133 && b == 261);
    /* Serialisation rounds up, and is exact for widths like 6.4 B/cycle. */
    CU_ASSERT(aimc_eng_serial_cycles(6.4, 128) == 20);
    CU_ASSERT(aimc_eng_serial_cycles(6.4, 129) == 21);
    CU_ASSERT(aimc_eng_serial_cycles(0.7, 21) == 30); /* 21 / 0.7 is 30.000000000000004 */
    CU_ASSERT(aimc_eng_serial_cycles(8.0, 1) == 1);
    CU_ASSERT(aimc_eng_serial_cycles(0.5, 3) == 6);
    /* Bad requests change nothing. */
    CU_ASSERT(aimc_eng_link_send(e, l0, 0, 0, &a) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_link_send(e, l0, UINT64_MAX - 10, 1024, &a) == AIMC_ERR_RANGE);
    CU_ASSERT(stats(e, l0).ops == 1);
    CU_ASSERT(aimc_eng_link_send(e, l0, 0, 8, &a) == 0 && a == 129);
    aimc_eng_destroy(e);
}

/* ---- memories ------------------------------------------------------------------------ */

static void test_mem_banks(void)
{
    aimc_eng *e = eng_new();
    /* 4 banks interleaved by 64 B; a bank moves 32 B per access of 2 cycles. */
    const aimc_eng_mem_params p = {4, 64, 32, 2};
    int m, m2;
    CU_ASSERT_FATAL(aimc_eng_mem_add(e, "edram", 3, &p, &m, NULL) == 0);
    CU_ASSERT_FATAL(aimc_eng_mem_add(e, "edram2", 3, &p, &m2, NULL) == 0);
    uint64_t a, b;
    /* Same bank (addresses 0 and 256 are both bank 0): 64 B = 2 accesses = 4 cycles each,
     * one after the other. */
    CU_ASSERT(aimc_eng_mem_access(e, m, 0, 64, 0, &a) == 0);
    CU_ASSERT(aimc_eng_mem_access(e, m, 256, 64, 0, &b) == 0);
    CU_ASSERT(a == 4 && b == 8);
    /* Distinct banks (0 and 64): they overlap. */
    CU_ASSERT(aimc_eng_mem_access(e, m2, 0, 64, 0, &a) == 0);
    CU_ASSERT(aimc_eng_mem_access(e, m2, 64, 64, 0, &b) == 0);
    CU_ASSERT(a == 4 && b == 4);
    aimc_eng_res_stats s = stats(e, m);
    CU_ASSERT(s.busy_cycles == 8 && s.ops == 2 && s.bytes == 128 && s.units == 4);

    /* 1024 B from address 32: a 32 B head in bank 0, 15 whole pieces in banks 1,2,3,0,...,
     * a 32 B tail in bank 0. Bank 0: 2 + 3 x 4 + 2 = 16 cycles; banks 1-3: 4 x 4 = 16. */
    int m3;
    CU_ASSERT_FATAL(aimc_eng_mem_add(e, "sram", 0, &p, &m3, NULL) == 0);
    CU_ASSERT(aimc_eng_mem_access(e, m3, 32, 1024, 10, &a) == 0);
    CU_ASSERT(a == 26);
    s = stats(e, m3);
    CU_ASSERT(s.busy_cycles == 64 && s.bytes == 1024 && s.ops == 1);
    /* The same on one bank: 32 accesses of 2 cycles. */
    const aimc_eng_mem_params p1 = {1, 64, 32, 2};
    int m4;
    CU_ASSERT_FATAL(aimc_eng_mem_add(e, "sram1", 0, &p1, &m4, NULL) == 0);
    CU_ASSERT(aimc_eng_mem_access(e, m4, 32, 1024, 10, &a) == 0);
    CU_ASSERT(a == 10 + 64);
    /* Out of range. */
    CU_ASSERT(aimc_eng_mem_access(e, m4, UINT64_MAX - 3, 8, 0, &a) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_mem_access(e, m4, 0, 0, 0, &a) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_mem_access(e, m4, 0, 8, UINT64_MAX - 1, &a) == AIMC_ERR_RANGE);
    CU_ASSERT(stats(e, m4).ops == 1);
    aimc_eng_destroy(e);
}

/* Random accesses against a piece-by-piece reference of the documented rule. */
static void test_mem_reference(void)
{
    aimc_eng *e = eng_new();
    uint64_t s = 99;
    size_t bad = 0;
    for (int round = 0; round < 50; round++) {
        aimc_eng_mem_params p;
        p.banks = 1 + (uint32_t)(rnd_next(&s) % 8);
        p.interleave_bytes = 1 + (uint32_t)(rnd_next(&s) % 100);
        p.bytes_per_access = 1 + (uint32_t)(rnd_next(&s) % 40);
        p.access_cycles = 1 + rnd_next(&s) % 4;
        int m;
        CU_ASSERT_FATAL(aimc_eng_mem_add(e, "m", 0, &p, &m, NULL) == 0);
        uint64_t free_at[8] = {0};
        for (int k = 0; k < 20; k++) {
            const uint64_t addr = rnd_next(&s) % 5000, bytes = 1 + rnd_next(&s) % 3000;
            const uint64_t ready = rnd_next(&s) % 2000;
            uint64_t cyc[8] = {0}, done = ready, got;
            for (uint64_t a = addr; a < addr + bytes;) {
                const uint64_t stop = (a / p.interleave_bytes + 1) * p.interleave_bytes;
                const uint64_t len = (stop < addr + bytes ? stop : addr + bytes) - a;
                cyc[(a / p.interleave_bytes) % p.banks] +=
                    (len + p.bytes_per_access - 1) / p.bytes_per_access * p.access_cycles;
                a += len;
            }
            for (uint32_t bk = 0; bk < p.banks; bk++) {
                if (!cyc[bk]) continue;
                const uint64_t st = free_at[bk] > ready ? free_at[bk] : ready;
                free_at[bk] = st + cyc[bk];
                if (free_at[bk] > done) done = free_at[bk];
            }
            CU_ASSERT(aimc_eng_mem_access(e, m, addr, bytes, ready, &got) == 0);
            bad += got != done;
        }
    }
    CU_ASSERT(bad == 0);
    aimc_eng_destroy(e);
}

/* ---- pipelines ----------------------------------------------------------------------- */

static void test_pipeline_n_plus_k(void)
{
    aimc_eng *e = eng_new();
    const uint64_t c = 3, n = 16;
    aimc_eng_stage st[4];
    for (int s = 0; s < 4; s++) {
        char nm[16];
        snprintf(nm, sizeof nm, "st%d", s);
        st[s] = (aimc_eng_stage){server(e, nm, 1), c, 1};
    }
    uint64_t done = 0;
    /* 16 items through 4 stages of 3 cycles: (16 + 4 - 1) x 3 = 57, not 16 x 4 x 3 = 192. */
    CU_ASSERT(aimc_eng_pipeline(e, st, 4, n, 0, &done) == 0);
    CU_ASSERT(done == (n + 4 - 1) * c);
    CU_ASSERT(done != n * 4 * c);
    for (int s = 0; s < 4; s++) {
        aimc_eng_res_stats r = stats(e, st[s].res);
        CU_ASSERT(r.ops == n && r.busy_cycles == n * c);
    }
    /* One item: the sum of the stages. No items: done at ready. */
    aimc_eng *e2 = eng_new();
    aimc_eng_stage st2[3] = {{server(e2, "a", 1), 2, 1}, {server(e2, "b", 1), 5, 1},
                             {server(e2, "c", 1), 1, 1}};
    CU_ASSERT(aimc_eng_pipeline(e2, st2, 3, 1, 100, &done) == 0 && done == 108);
    CU_ASSERT(aimc_eng_pipeline(e2, st2, 3, 0, 300, &done) == 0 && done == 300);
    /* The slowest stage sets the pace: 10 items through 2, 5, 1 cycles, starting at 200 with
     * every stage free: first leaves at 208, then one every 5: 208 + 9 x 5 = 253. */
    CU_ASSERT(aimc_eng_pipeline(e2, st2, 3, 10, 200, &done) == 0 && done == 253);
    /* Errors book nothing. */
    aimc_eng_stage bad[2] = {st2[0], {12345, 1, 1}};
    const uint64_t ops = stats(e2, st2[0].res).ops;
    CU_ASSERT(aimc_eng_pipeline(e2, bad, 2, 4, 0, &done) == AIMC_ERR_BADHANDLE);
    bad[1] = (aimc_eng_stage){st2[1].res, 1, 0};
    CU_ASSERT(aimc_eng_pipeline(e2, bad, 2, 4, 0, &done) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_pipeline(e2, st2, 0, 4, 0, &done) == AIMC_ERR_INVALID);
    bad[1] = (aimc_eng_stage){st2[1].res, UINT64_MAX / 2, 1};
    CU_ASSERT(aimc_eng_pipeline(e2, bad, 2, 4, 0, &done) == AIMC_ERR_RANGE);
    CU_ASSERT(stats(e2, st2[0].res).ops == ops);
    aimc_eng_destroy(e2);
    aimc_eng_destroy(e);
}

static void test_tile_mvm(void)
{
    aimc_eng *e = eng_new();
    aimc_eng_tile t = {server(e, "dac", 1), server(e, "array", 1), server(e, "adc", 8),
                       server(e, "sa", 1), 1, 2, 1, 1};
    uint64_t done = 0;
    /* 128 columns on 8 ADCs: 16 conversions of 1 cycle per input step. 8 steps: step 0
     * drives [0,1), integrates [1,3), converts [3,19); step i integrates while step i-1 is
     * converted and is converted in [3 + 16 i, 19 + 16 i); the last shift-and-add ends at
     * 3 + 8 x 16 + 1 = 132 = dac + integrate + 8 x 16 + shift-add. */
    CU_ASSERT(aimc_eng_tile_mvm(e, &t, 128, 8, 0, &done) == 0);
    CU_ASSERT(done == 132);
    aimc_eng_res_stats adc = stats(e, t.adc);
    CU_ASSERT(adc.ops == 8 * 128 && adc.busy_cycles == 8 * 128);
    /* The ADCs are busy all of [3, 131): utilisation 1 over that window. */
    CU_ASSERT(fabs(aimc_eng_utilisation(&adc, 128) - 1.0) < 1e-12);
    CU_ASSERT(stats(e, t.array).busy_cycles == 16);
    /* Not streamed, each step would take 1 + 2 + 16 + 1 = 20 cycles: 160 > 132. */
    CU_ASSERT(done < 8 * 20);
    CU_ASSERT(aimc_eng_tile_mvm(e, &t, 0, 8, 0, &done) == AIMC_ERR_INVALID);
    aimc_eng_destroy(e);
}

/* ---- the mesh ------------------------------------------------------------------------ */

static int mesh_new(aimc_eng *e, aimc_eng_noc_mode mode, uint32_t w, uint32_t h)
{
    const aimc_eng_mesh_params p = {w, h, 16.0, 2, 1, mode};
    int m = -1;
    CU_ASSERT_FATAL(aimc_eng_mesh_add(e, "noc", 7, &p, &m, NULL) == AIMC_OK);
    return m;
}

static int mlink(aimc_eng *e, int m, uint32_t node, aimc_eng_dir dir)
{
    int id = -1;
    CU_ASSERT(aimc_eng_mesh_link(e, m, node, dir, &id) == AIMC_OK);
    return id;
}

static void test_mesh_route_xy(void)
{
    aimc_eng *e = eng_new();
    int m = mesh_new(e, AIMC_ENG_NOC_WORMHOLE, 4, 4);
    /* 4 x 4: 2 x (3 x 4) links along x and as many along y = 48 link resources. */
    CU_ASSERT(aimc_eng_res_count(e) == 48);
    int links[16];
    size_t hops = 0;
    /* (0,0) -> (3,3): x first, then y. */
    CU_ASSERT(aimc_eng_mesh_route(e, m, 0, 15, links, 16, &hops) == 0);
    CU_ASSERT_FATAL(hops == 6);
    const int want[6] = {mlink(e, m, 0, AIMC_ENG_XPLUS),  mlink(e, m, 1, AIMC_ENG_XPLUS),
                         mlink(e, m, 2, AIMC_ENG_XPLUS),  mlink(e, m, 3, AIMC_ENG_YPLUS),
                         mlink(e, m, 7, AIMC_ENG_YPLUS),  mlink(e, m, 11, AIMC_ENG_YPLUS)};
    for (int i = 0; i < 6; i++) CU_ASSERT(links[i] == want[i]);
    CU_ASSERT_STRING_EQUAL(stats(e, links[0]).name, "noc.0.0.x+");
    CU_ASSERT_STRING_EQUAL(stats(e, links[5]).name, "noc.3.2.y+");
    CU_ASSERT(stats(e, links[5]).track == 7);
    /* (3,2) -> (1,0): x- twice at y = 2, then y- twice at x = 1. */
    CU_ASSERT(aimc_eng_mesh_route(e, m, 11, 1, links, 16, &hops) == 0);
    CU_ASSERT_FATAL(hops == 4);
    CU_ASSERT(links[0] == mlink(e, m, 11, AIMC_ENG_XMINUS));
    CU_ASSERT(links[1] == mlink(e, m, 10, AIMC_ENG_XMINUS));
    CU_ASSERT(links[2] == mlink(e, m, 9, AIMC_ENG_YMINUS));
    CU_ASSERT(links[3] == mlink(e, m, 5, AIMC_ENG_YMINUS));
    /* Hop counts: |dx| + |dy| for every pair; a short buffer gets the first links only. */
    size_t bad = 0;
    for (uint32_t a = 0; a < 16; a++)
        for (uint32_t b = 0; b < 16; b++) {
            size_t hh;
            CU_ASSERT(aimc_eng_mesh_route(e, m, a, b, NULL, 0, &hh) == 0);
            const long dx = labs((long)(a % 4) - (long)(b % 4)), dy = labs((long)(a / 4) - (long)(b / 4));
            bad += hh != (size_t)(dx + dy);
        }
    CU_ASSERT(bad == 0);
    CU_ASSERT(aimc_eng_mesh_route(e, m, 0, 15, links, 2, &hops) == 0 && hops == 6);
    CU_ASSERT(links[1] == want[1]);
    /* Edges and bad ids. */
    int id;
    CU_ASSERT(aimc_eng_mesh_link(e, m, 3, AIMC_ENG_XPLUS, &id) == AIMC_ERR_NOTFOUND);
    CU_ASSERT(aimc_eng_mesh_link(e, m, 0, AIMC_ENG_YMINUS, &id) == AIMC_ERR_NOTFOUND);
    CU_ASSERT(aimc_eng_mesh_link(e, m, 16, AIMC_ENG_XPLUS, &id) == AIMC_ERR_RANGE);
    CU_ASSERT(aimc_eng_mesh_link(e, m + 1, 0, AIMC_ENG_XPLUS, &id) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_mesh_route(e, m, 0, 16, links, 16, &hops) == AIMC_ERR_RANGE);
    aimc_eng_destroy(e);
}

static void test_mesh_latency(void)
{
    /* 64 B at 16 B/cycle: 4 cycles per link; router 1, link latency 2; 0 -> 3 is 3 hops.
     * Store-and-forward: 3 x (1 + 4 + 2) = 21. Wormhole: 3 x (1 + 2) + 4 = 13. */
    for (int mode = 0; mode < 2; mode++) {
        aimc_eng *e = eng_new();
        int m = mesh_new(e, (aimc_eng_noc_mode)mode, 4, 1);
        uint64_t t;
        CU_ASSERT(aimc_eng_mesh_send(e, m, 0, 3, 64, 10, &t) == 0);
        CU_ASSERT(t == 10 + (mode == AIMC_ENG_NOC_STORE_FORWARD ? 21 : 13));
        aimc_eng_res_stats s = stats(e, mlink(e, m, 1, AIMC_ENG_XPLUS));
        CU_ASSERT(s.busy_cycles == 4 && s.bytes == 64 && s.ops == 1);
        /* To itself: no hop, no time. */
        CU_ASSERT(aimc_eng_mesh_send(e, m, 2, 2, 64, 50, &t) == 0 && t == 50);
        CU_ASSERT(aimc_eng_mesh_send(e, m, 0, 3, 0, 0, &t) == AIMC_ERR_INVALID);
        CU_ASSERT(aimc_eng_mesh_send(e, m, 0, 4, 8, 0, &t) == AIMC_ERR_RANGE);
        CU_ASSERT(aimc_eng_mesh_send(e, m + 1, 0, 3, 8, 0, &t) == AIMC_ERR_BADHANDLE);
        aimc_eng_destroy(e);
    }
}

static void test_mesh_contention(void)
{
    /* Wormhole, ser 4, router 1, link 2 (hop 3). Flow A: 0 -> 3 on row 0, ready 0: links
     * x+ of nodes 0, 1, 2 busy [1,5), [4,8), [7,11); arrives 11 + 2 = 13. */
    aimc_eng *e = eng_new();
    int m = mesh_new(e, AIMC_ENG_NOC_WORMHOLE, 4, 2);
    uint64_t a, b, c;
    CU_ASSERT(aimc_eng_mesh_send(e, m, 0, 3, 64, 0, &a) == 0);
    CU_ASSERT(a == 13);
    /* Flow B: 1 -> 2 shares node 1's x+ link, free at 8: busy [8,12), arrives 14. */
    CU_ASSERT(aimc_eng_mesh_send(e, m, 1, 2, 64, 0, &b) == 0);
    CU_ASSERT(b == 14);
    /* Flow C: 5 -> 6 on row 1, a disjoint path: uncontended 1 + 4 + 2 = 7. */
    CU_ASSERT(aimc_eng_mesh_send(e, m, 5, 6, 64, 0, &c) == 0);
    CU_ASSERT(c == 7);
    CU_ASSERT(stats(e, mlink(e, m, 1, AIMC_ENG_XPLUS)).busy_cycles == 8);
    aimc_eng_destroy(e);

    /* A blocked wormhole packet holds the links behind it. First 1 -> 3 (links of nodes 1,
     * 2 busy [1,5), [4,8)), then 0 -> 3: node 0's link from 1, its head reaches node 1's
     * link at 4 but waits until 5, node 2's at 8; tail ends 12, arrives 14. Node 1's link
     * is held until max(5 + 4, 12 - 3) = 9, node 0's until max(1 + 4, 9 - 3) = 6: busy 5
     * cycles, not 4. Store-and-forward buffers instead: 0 -> 3 arrives at 21 with node 0's
     * link busy 4 cycles. */
    for (int mode = 0; mode < 2; mode++) {
        e = eng_new();
        m = mesh_new(e, (aimc_eng_noc_mode)mode, 4, 1);
        CU_ASSERT(aimc_eng_mesh_send(e, m, 1, 3, 64, 0, &a) == 0);
        CU_ASSERT(aimc_eng_mesh_send(e, m, 0, 3, 64, 0, &b) == 0);
        const int n0 = mlink(e, m, 0, AIMC_ENG_XPLUS), n1 = mlink(e, m, 1, AIMC_ENG_XPLUS);
        if (mode == AIMC_ENG_NOC_WORMHOLE) {
            CU_ASSERT(a == 10 && b == 14);
            CU_ASSERT(stats(e, n0).busy_cycles == 5);
            CU_ASSERT(stats(e, n1).busy_cycles == 4 + 4);
            CU_ASSERT(stats(e, n1).last_end == 9);
        } else {
            /* 1 -> 3: hops [1,5) then [8,12), arrives 14. 0 -> 3: [1,5), then node 1's
             * link: head at 8, free at 5 -> [8,12), node 2's: head 15 -> [15,19), 21. */
            CU_ASSERT(a == 14 && b == 21);
            CU_ASSERT(stats(e, n0).busy_cycles == 4);
        }
        aimc_eng_destroy(e);
    }
}

/* ---- determinism --------------------------------------------------------------------- */

typedef struct world {
    int srv, link, mem, mesh;
    uint64_t log[4096][2];
    size_t n;
} world;

/* A job steps through a few random requests; each step's event is scheduled at the
 * previous request's completion. arg: job << 32 | step. */
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
    uint64_t t = now;
    int rc;
    switch (h % 4) {
    case 0: rc = aimc_eng_server_batch(e, w->srv, now, 1 + h % 5, 3, &t); break;
    case 1: rc = aimc_eng_link_send(e, w->link, now, 1 + (h >> 8) % 500, &t); break;
    case 2: rc = aimc_eng_mem_access(e, w->mem, (h >> 8) % 4096, 1 + (h >> 20) % 300, now, &t); break;
    default:
        rc = aimc_eng_mesh_send(e, w->mesh, (uint32_t)((h >> 8) % 9), (uint32_t)((h >> 16) % 9),
                                1 + (h >> 24) % 200, now, &t);
        break;
    }
    if (rc) return rc;
    return aimc_eng_at(e, t, job_step, w, arg + 1);
}

static void world_run(world *w, aimc_eng_res_stats *st, size_t *nst, uint64_t *end)
{
    aimc_eng *e = eng_new();
    const aimc_eng_link_params lp = {4.0, 3};
    const aimc_eng_mem_params mp = {4, 64, 32, 2};
    const aimc_eng_mesh_params np = {3, 3, 8.0, 1, 1, AIMC_ENG_NOC_WORMHOLE};
    CU_ASSERT(aimc_eng_server_add(e, "srv", 0, 3, &w->srv, NULL) == 0);
    CU_ASSERT(aimc_eng_link_add(e, "lnk", 0, &lp, &w->link, NULL) == 0);
    CU_ASSERT(aimc_eng_mem_add(e, "mem", 0, &mp, &w->mem, NULL) == 0);
    CU_ASSERT(aimc_eng_mesh_add(e, "noc", 0, &np, &w->mesh, NULL) == 0);
    w->n = 0;
    for (uint64_t j = 0; j < 200; j++) CU_ASSERT(aimc_eng_at(e, j % 7, job_step, w, j << 32) == 0);
    CU_ASSERT(aimc_eng_run(e, UINT64_MAX) == AIMC_OK);
    *nst = aimc_eng_res_count(e);
    for (size_t i = 0; i < *nst && i < 64; i++) st[i] = stats(e, (int)i);
    *end = aimc_eng_horizon(e);
    aimc_eng_destroy(e);
}

static void test_determinism(void)
{
    static world w1, w2;
    static aimc_eng_res_stats s1[64], s2[64];
    size_t n1, n2;
    uint64_t end1, end2;
    world_run(&w1, s1, &n1, &end1);
    world_run(&w2, s2, &n2, &end2);
    CU_ASSERT(w1.n == 200 * 13);
    CU_ASSERT(w1.n == w2.n);
    CU_ASSERT(memcmp(w1.log, w2.log, w1.n * sizeof w1.log[0]) == 0);
    CU_ASSERT(n1 == n2 && n1 == 3 + 24);
    CU_ASSERT(end1 == end2);
    size_t diff = 0;
    for (size_t i = 0; i < n1 && i < 64; i++)
        diff += s1[i].busy_cycles != s2[i].busy_cycles || s1[i].ops != s2[i].ops ||
                s1[i].bytes != s2[i].bytes || s1[i].last_end != s2[i].last_end;
    CU_ASSERT(diff == 0);
    /* The log is in time order, ties in scheduling order. */
    size_t unordered = 0;
    for (size_t i = 1; i < w1.n; i++) unordered += w1.log[i][0] < w1.log[i - 1][0];
    CU_ASSERT(unordered == 0);
    /* Every kind of resource did work. */
    CU_ASSERT(s1[0].busy_cycles > 0 && s1[1].busy_cycles > 0 && s1[2].busy_cycles > 0);
}

/* ---- traces -------------------------------------------------------------------------- */

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
    l->bad += !(s->end > s->begin) || s->name == NULL;
}

/* A small scenario: returns the total busy cycles of every resource. */
static uint64_t trace_scenario(aimc_eng *e)
{
    aimc_eng_tile t = {server(e, "dac", 1), server(e, "array", 1), server(e, "adc", 4),
                       server(e, "sa", 1), 1, 2, 1, 1};
    const aimc_eng_mesh_params np = {2, 2, 8.0, 1, 1, AIMC_ENG_NOC_WORMHOLE};
    const aimc_eng_mem_params mp = {2, 32, 32, 1};
    int m, mem;
    uint64_t done;
    CU_ASSERT(aimc_eng_mesh_add(e, "noc", 1, &np, &m, NULL) == 0);
    CU_ASSERT(aimc_eng_mem_add(e, "buf \"in\"", 2, &mp, &mem, NULL) == 0);
    CU_ASSERT(aimc_eng_tile_mvm(e, &t, 10, 4, 0, &done) == 0);
    CU_ASSERT(aimc_eng_mesh_send(e, m, 0, 3, 40, done, &done) == 0);
    CU_ASSERT(aimc_eng_mem_access(e, mem, 16, 100, done, &done) == 0);
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

static void test_trace(void)
{
    /* The hook sees every busy interval once. */
    aimc_eng *e = eng_new();
    span_log l = {0};
    CU_ASSERT(aimc_eng_set_trace(e, count_span, &l) == 0);
    const uint64_t busy = trace_scenario(e);
    CU_ASSERT(l.n > 0 && l.bad == 0);
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
    const size_t nres = aimc_eng_res_count(e);

    char *text = slurp(path);
    CU_ASSERT_FATAL(text != NULL);
    cJSON *root = cJSON_Parse(text);
    CU_ASSERT_FATAL(root != NULL);
    CU_ASSERT(cJSON_IsObject(root) && cJSON_GetArraySize(root) == 1);
    const cJSON *evs = cJSON_GetObjectItemCaseSensitive(root, "traceEvents");
    CU_ASSERT_FATAL(cJSON_IsArray(evs));
    size_t nx = 0, bad = 0, named_adc = 0, quoted = 0, nthread = 0, nproc = 0;
    size_t ntids = 0, npids = 0;
    double tids[256], pids[256];
    double dur_cycles = 0;
    const cJSON *ev;
    cJSON_ArrayForEach(ev, evs) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(ev, "name");
        const cJSON *ph = cJSON_GetObjectItemCaseSensitive(ev, "ph");
        const cJSON *pid = cJSON_GetObjectItemCaseSensitive(ev, "pid");
        const cJSON *tid = cJSON_GetObjectItemCaseSensitive(ev, "tid");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(ev, "args");
        if (!cJSON_IsString(name) || !cJSON_IsString(ph) || !cJSON_IsNumber(pid) ||
            !cJSON_IsNumber(tid) || !cJSON_IsObject(args)) {
            bad++;
            continue;
        }
        if (strcmp(ph->valuestring, "X") == 0) {
            const cJSON *ts = cJSON_GetObjectItemCaseSensitive(ev, "ts");
            const cJSON *dur = cJSON_GetObjectItemCaseSensitive(ev, "dur");
            const cJSON *b = cJSON_GetObjectItemCaseSensitive(args, "begin_cycle");
            const cJSON *en = cJSON_GetObjectItemCaseSensitive(args, "end_cycle");
            if (!cJSON_IsNumber(ts) || !cJSON_IsNumber(dur) || !cJSON_IsNumber(b) ||
                !cJSON_IsNumber(en) || !(dur->valuedouble > 0) ||
                fabs(ts->valuedouble * 500.0 - b->valuedouble) > 1e-6 ||
                fabs(dur->valuedouble * 500.0 - (en->valuedouble - b->valuedouble)) > 1e-6)
                bad++;
            else
                dur_cycles += dur->valuedouble * 500.0;
            nx++;
            quoted += strcmp(name->valuestring, "buf \"in\"") == 0;
            size_t i = 0;
            while (i < ntids && tids[i] != tid->valuedouble) i++;
            if (i == ntids && ntids < 256) tids[ntids++] = tid->valuedouble;
            for (i = 0; i < npids && pids[i] != pid->valuedouble;) i++;
            if (i == npids && npids < 256) pids[npids++] = pid->valuedouble;
        } else if (strcmp(ph->valuestring, "M") == 0) {
            const cJSON *an = cJSON_GetObjectItemCaseSensitive(args, "name");
            nthread += strcmp(name->valuestring, "thread_name") == 0 && cJSON_IsString(an);
            nproc += strcmp(name->valuestring, "process_name") == 0 && cJSON_IsString(an);
            named_adc += cJSON_IsString(an) && strncmp(an->valuestring, "adc[", 4) == 0;
        } else {
            bad++;
        }
    }
    CU_ASSERT(bad == 0);
    CU_ASSERT(nx == l.n);
    CU_ASSERT(fabs(dur_cycles - (double)busy) < 1e-3);
    CU_ASSERT(named_adc == 4);  /* one lane per ADC */
    CU_ASSERT(quoted > 0);      /* the name with quotes survived escaping */
    /* One name per lane that has events, one per track (resource tracks 0, 1 and 2). */
    CU_ASSERT(nthread == ntids);
    CU_ASSERT(nproc == npids && npids == 3);
    CU_ASSERT(ntids <= nres * 4);
    cJSON_Delete(root);
    free(text);
    unlink(path);
    /* Bad arguments. */
    CU_ASSERT(aimc_eng_trace_open(e, path, 0.0, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_trace_open(e, "/nonexistent-dir/x.json", 100.0, &d) == AIMC_ERR_IO);
    CU_ASSERT(strstr(d.msg, "/nonexistent-dir/x.json") != NULL);
    aimc_eng_destroy(e);

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
    CU_ASSERT(aimc_eng_server_add(e, "", 0, 1, &id, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(strstr(d.msg, "name") != NULL);
    CU_ASSERT(aimc_eng_server_add(e, NULL, 0, 1, &id, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_server_add(e, "tab\there", 0, 1, &id, &d) == AIMC_ERR_INVALID);
    char longname[AIMC_ENG_NAME_MAX + 1];
    memset(longname, 'a', AIMC_ENG_NAME_MAX);
    longname[AIMC_ENG_NAME_MAX] = 0;
    CU_ASSERT(aimc_eng_server_add(e, longname, 0, 1, &id, &d) == AIMC_ERR_INVALID);
    longname[AIMC_ENG_NAME_MAX - 1] = 0; /* 63 characters: fine */
    CU_ASSERT(aimc_eng_server_add(e, longname, 0, 1, &id, &d) == AIMC_OK);
    CU_ASSERT(aimc_eng_server_add(e, "adc", 0, 0, &id, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(strstr(d.msg, "adc: units 0") != NULL);
    CU_ASSERT(aimc_eng_server_add(e, "adc", 0, AIMC_ENG_UNITS_MAX + 1, &id, &d) == AIMC_ERR_INVALID);
    const aimc_eng_link_params lbad = {0.0, 1}, lnan = {NAN, 1}, linf = {INFINITY, 0};
    CU_ASSERT(aimc_eng_link_add(e, "l", 0, &lbad, &id, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(strstr(d.msg, "bytes_per_cycle") != NULL);
    CU_ASSERT(aimc_eng_link_add(e, "l", 0, &lnan, &id, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_link_add(e, "l", 0, &linf, &id, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_link_add(e, "l", 0, NULL, &id, &d) == AIMC_ERR_INVALID);
    const aimc_eng_mem_params mbad = {0, 64, 32, 2};
    CU_ASSERT(aimc_eng_mem_add(e, "m", 0, &mbad, &id, &d) == AIMC_ERR_INVALID);
    const aimc_eng_mesh_params nbad = {0, 4, 8.0, 1, 1, AIMC_ENG_NOC_WORMHOLE};
    const aimc_eng_mesh_params nbig = {300, 300, 8.0, 1, 1, AIMC_ENG_NOC_WORMHOLE};
    const aimc_eng_mesh_params nmode = {2, 2, 8.0, 1, 1, (aimc_eng_noc_mode)7};
    CU_ASSERT(aimc_eng_mesh_add(e, "n", 0, &nbad, &id, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_mesh_add(e, "n", 0, &nbig, &id, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_mesh_add(e, "n", 0, &nmode, &id, &d) == AIMC_ERR_INVALID);
    CU_ASSERT(aimc_eng_mesh_add(e, longname, 0, &nmode, &id, &d) == AIMC_ERR_INVALID);
    /* Only the one good server was added. */
    CU_ASSERT(aimc_eng_res_count(e) == 1);
    CU_ASSERT(aimc_eng_res_find(e, longname, &id) == AIMC_OK && id == 0);
    CU_ASSERT(aimc_eng_res_find(e, "nope", &id) == AIMC_ERR_NOTFOUND);

    /* Wrong kind, unknown ids. */
    uint64_t t;
    const aimc_eng_link_params lp = {1.0, 0};
    int link;
    CU_ASSERT_FATAL(aimc_eng_link_add(e, "link", 0, &lp, &link, NULL) == 0);
    CU_ASSERT(aimc_eng_server_reserve(e, link, 0, 1, &t) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_server_batch(e, -1, 0, 1, 1, &t) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_link_send(e, 0, 0, 1, &t) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_mem_access(e, link, 0, 1, 0, &t) == AIMC_ERR_BADHANDLE);
    aimc_eng_res_stats s;
    CU_ASSERT(aimc_eng_res_stats_get(e, 99, &s) == AIMC_ERR_BADHANDLE);
    /* Overflow is refused and books nothing. */
    CU_ASSERT(aimc_eng_server_reserve(e, 0, UINT64_MAX - 1, 5, &t) == AIMC_ERR_RANGE);
    CU_ASSERT(aimc_eng_server_batch(e, 0, 0, UINT64_MAX / 2, 3, &t) == AIMC_ERR_RANGE);
    CU_ASSERT(stats(e, 0).ops == 0 && stats(e, 0).busy_cycles == 0);
    aimc_eng_destroy(e);
    aimc_eng_destroy(NULL);

    /* A NULL engine is a bad handle, not a crash. */
    const aimc_eng_mem_params mp = {1, 1, 1, 1};
    const aimc_eng_mesh_params np = {2, 2, 8.0, 1, 1, AIMC_ENG_NOC_WORMHOLE};
    CU_ASSERT(aimc_eng_at(NULL, 0, log_event, NULL, 0) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_run(NULL, 10) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_server_add(NULL, "s", 0, 1, &id, &d) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_link_add(NULL, "l", 0, &lp, &id, &d) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_mem_add(NULL, "m", 0, &mp, &id, &d) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_mesh_add(NULL, "n", 0, &np, &id, &d) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_server_reserve(NULL, 0, 0, 1, &t) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_mesh_send(NULL, 0, 0, 1, 8, 0, &t) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_trace_open(NULL, "x.json", 1.0, &d) == AIMC_ERR_BADHANDLE);
    CU_ASSERT(aimc_eng_trace_close(NULL, &d) == AIMC_ERR_STATE);
    CU_ASSERT(aimc_eng_now(NULL) == 0 && aimc_eng_res_count(NULL) == 0);
}

int test_engine_register(void)
{
    AIMC_SUITE("engine",
               {"events: time order, ties in insertion order, bad times", test_event_order},
               {"events: spawned events, run limit, failing callback", test_event_spawn_and_limit},
               {"events: 5000 random events come out sorted and stable", test_event_heap_random},
               {"server: 128 columns on 1 ADC = 128 conversions, on 8 = 16 rounds", test_server_adc_rounds},
               {"server: FIFO on 2 units, zero-cycle jobs, counters, reset", test_server_fifo},
               {"server: a batch books what single jobs book", test_server_batch_equivalence},
               {"link: two flows take twice as long as one; serialisation", test_link_two_flows},
               {"memory: bank conflicts vs distinct banks, interleaving", test_mem_banks},
               {"memory: random accesses against a piece-by-piece reference", test_mem_reference},
               {"pipeline: N items through k stages take N + k - 1 steps", test_pipeline_n_plus_k},
               {"pipeline: a tile MVM streams input steps through the ADCs", test_tile_mvm},
               {"mesh: XY routes, hop counts, edges", test_mesh_route_xy},
               {"mesh: store-and-forward and wormhole latency", test_mesh_latency},
               {"mesh: shared link vs disjoint paths, wormhole blocking", test_mesh_contention},
               {"determinism: identical event order, times and counters", test_determinism},
               {"trace: hook spans and a well-formed Chrome trace file", test_trace},
               {"bad input: names, parameters, handles, overflow", test_bad_input});
    return 0;
}
