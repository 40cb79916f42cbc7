/* eng_internal.h - the engine's state, shared by sim/engine/engine.c, sim/engine/eng_noc.c and
 * sim/engine/eng_trace.c. Not API: callers use sim/engine/aimc_engine.h only.
 */
#ifndef AIMC_ENG_INTERNAL_H
#define AIMC_ENG_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

#include "aimc_engine.h"

/* A queued event; the heap orders by (cycle, seq). */
typedef struct eng_event {
    uint64_t cycle;
    uint64_t seq;
    aimc_eng_fn fn;
    void *payload;
    uint64_t arg;
} eng_event;

/* A unit of a resource and the cycle it becomes free. Servers keep their slots as a
 * min-heap on (free_at, unit); links have one slot; memories index slots by bank. */
typedef struct eng_slot {
    uint64_t free_at;
    uint32_t unit;
} eng_slot;

/* A server unit that could take a job at one cycle, with its heap order key. */
typedef struct eng_cand {
    uint64_t key;
    uint32_t unit;
    uint32_t slot;
} eng_cand;

typedef struct eng_res {
    char name[AIMC_ENG_NAME_MAX];
    aimc_eng_kind kind;
    uint32_t track;
    uint32_t units;
    eng_slot *slots;
    aimc_eng_link_params link;
    aimc_eng_mem_params mem;
    uint64_t *bank_cycles;  /* memories: per-access scratch, one per bank */
    uint64_t *bank_bytes;
    uint32_t *touched;      /* banks touched by the access being placed */
    eng_cand *cand;         /* servers of > 1 unit: batch scratch, one per unit */
    uint64_t *cnt;
    uint64_t busy, ops, bytes, last_end;
    uint32_t trace_lanes;   /* 1 + the highest unit a trace file has seen */
} eng_res;

typedef struct eng_mesh {
    char name[AIMC_ENG_NAME_MAX];
    uint32_t track;
    aimc_eng_mesh_params p;
    int *links;       /* nodes x 4: link resource per (node, direction), -1 at an edge */
    int *route;       /* scratch for one send: up to width_x + height_y links */
    uint64_t *start;  /* scratch: busy interval per hop */
    uint64_t *end;
} eng_mesh;

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
    eng_mesh *mesh;
    size_t nmesh, mesh_cap;
    aimc_eng_trace_fn trace;
    void *trace_user;
    eng_tracew *tw;
};

/* Append a resource (name checked, units slots at free cycle 0). Returns AIMC_OK,
 * AIMC_ERR_INVALID or AIMC_ERR_NOMEM with the reason in d. */
int aimc_eng__res_add(aimc_eng *e, const char *name, aimc_eng_kind kind, uint32_t track,
                      uint32_t units, int *id, aimc_diag *d);

/* Check a name: 1..AIMC_ENG_NAME_MAX-1 printable ASCII characters. */
int aimc_eng__name_ok(const char *name);

/* Report a busy interval to the trace hook (called only when one is installed). */
void aimc_eng__emit(aimc_eng *e, int id, uint32_t unit, uint64_t begin, uint64_t end,
                    uint64_t bytes);

/* Book [begin, end) of one unit: counters, horizon, trace. */
static inline void eng_busy(aimc_eng *e, int id, uint32_t unit, uint64_t begin, uint64_t end,
                            uint64_t bytes)
{
    eng_res *r = &e->res[id];
    r->busy += end - begin;
    if (end > r->last_end) r->last_end = end;
    if (end > e->horizon) e->horizon = end;
    if (e->trace && end > begin) aimc_eng__emit(e, id, unit, begin, end, bytes);
}

/* a + b into *out; 0 on overflow. */
static inline int eng_add(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a > UINT64_MAX - b) return 0;
    *out = a + b;
    return 1;
}

/* a * b into *out; 0 on overflow. */
static inline int eng_mul(uint64_t a, uint64_t b, uint64_t *out)
{
    if (a != 0 && b > UINT64_MAX / a) return 0;
    *out = a * b;
    return 1;
}

/* Destroy the mesh part of an engine (eng_noc.c) and the trace writer (eng_trace.c). */
void aimc_eng__mesh_free(aimc_eng *e);
void aimc_eng__trace_free(aimc_eng *e);

#define AIMC_ENG_BYTES_MAX (UINT64_C(1) << 53)

#endif /* AIMC_ENG_INTERNAL_H */
