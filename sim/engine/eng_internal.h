/* eng_internal.h - the engine's state, shared by sim/engine/engine.c and
 * sim/engine/eng_trace.c. Not API: callers use sim/engine/aimc_engine.h only.
 */
#ifndef AIMC_ENG_INTERNAL_H
#define AIMC_ENG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "aimc_engine.h"

/* A queued event; the heap orders by (cycle, seq). */
typedef struct eng_event {
    uint64_t cycle;
    uint64_t seq;
    aimc_eng_fn fn;
    void *payload;
    uint64_t arg;
} eng_event;

/* An array resource: free_at[u] is the cycle unit u becomes free. */
typedef struct eng_res {
    char name[AIMC_ENG_NAME_MAX];
    aimc_eng_kind kind;
    uint32_t track;
    uint32_t units;
    uint64_t *free_at;
    uint64_t busy, ops, last_end;
    uint8_t *trace_seen;    /* while a trace file is open: a bit per unit that had work */
} eng_res;

typedef struct eng_tracew eng_tracew;

struct aimc_eng {
    uint64_t now;
    uint64_t seq;
    uint64_t events_run;
    uint64_t horizon;
    eng_event *heap;
    size_t n, cap;
    eng_res *res;
    size_t nres, res_cap;
    aimc_eng_trace_fn trace;
    void *trace_user;
    eng_tracew *tw;
};

/* Report a busy interval to the trace hook (called only when one is installed). */
void aimc_eng__emit(aimc_eng *e, int id, uint32_t unit, uint64_t begin, uint64_t end);

/* Book [begin, end) of one unit: counters, horizon, trace. */
static inline void eng_busy(aimc_eng *e, int id, uint32_t unit, uint64_t begin, uint64_t end)
{
    eng_res *r = &e->res[id];
    r->busy += end - begin;
    if (end > r->last_end) r->last_end = end;
    if (end > e->horizon) e->horizon = end;
    if (e->trace && end > begin) aimc_eng__emit(e, id, unit, begin, end);
}

/* a + b into *out; 0 on overflow. */
static inline int eng_add(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a > UINT64_MAX - b) return 0;
    *out = a + b;
    return 1;
}

/* Destroy the trace writer and its per-resource state (eng_trace.c). */
void aimc_eng__trace_free(aimc_eng *e);

#endif /* AIMC_ENG_INTERNAL_H */
