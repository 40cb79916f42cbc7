/* aimc_engine.h - aimc's discrete-event engine in cycles: an event queue, array resources
 * whose units work books by number, busy statistics per resource and a trace of every busy
 * interval (a hook, or a Chrome trace-event file).
 *
 * One aimc_eng handle owns everything (no global state). Time is a uint64 count of cycles of
 * one clock chosen by the caller. The engine computes no durations: they come from the cost
 * layer (sim/cost/aimc_cost.h), and the device (sim/device/sched.c) books them here.
 *
 *  - Events: a callback, a payload pointer and a uint64 argument, due at a cycle. The queue
 *    is a binary heap ordered by (cycle, insertion sequence), so events due at the same cycle
 *    run in the order they were scheduled and a run is deterministic. aimc_eng_run()
 *    executes them; a callback may schedule more.
 *  - Arrays: resources of numbered units (e.g. the cores of a chip). A booking names a range
 *    of units, the cycle it is ready and how many cycles it takes; the units are booked
 *    together, from the first cycle at or after the ready cycle when all of them are free,
 *    and the call returns the end. Event callbacks pass aimc_eng_now() as the ready cycle and
 *    schedule their continuation at the returned end.
 *  - Every resource counts its busy unit-cycles, its bookings and the latest end of its
 *    work; an optional trace hook sees every busy interval (begin, end, resource, track,
 *    unit), and aimc_eng_trace_open() writes them to a Chrome trace file instead.
 *
 * Functions return AIMC_OK or a negative AIMC_ERR_* (aimc_status.h); a NULL engine is
 * AIMC_ERR_BADHANDLE (getters return 0). A failing call changes nothing. Calls that take an
 * aimc_diag put the reason there (it may be NULL); the per-booking calls only return the
 * code, documented at each. Resource ids are small integers handed out from 0 in creation
 * order.
 */
#ifndef AIMC_ENGINE_H
#define AIMC_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "aimc_status.h"

typedef struct aimc_eng aimc_eng;

/* ---- events --------------------------------------------------------------------------- */

/* An event's action. Return AIMC_OK to go on; a negative code stops aimc_eng_run(), which
 * returns that code (the event counts as executed). */
typedef int (*aimc_eng_fn)(aimc_eng *e, void *payload, uint64_t arg);

/* Create an empty engine at cycle 0. Returns AIMC_OK, AIMC_ERR_INVALID (out is NULL) or
 * AIMC_ERR_NOMEM. */
int aimc_eng_create(aimc_eng **out);
/* Free the engine and its resources; closes an open trace file without finishing it. NULL
 * is a no-op. */
void aimc_eng_destroy(aimc_eng *e);

/* The current cycle: the due time of the event being (or last) executed, or the limit of
 * the last aimc_eng_run() that stopped at its limit. */
uint64_t aimc_eng_now(const aimc_eng *e);

/* Schedule fn(e, payload, arg) at `cycle` (>= now) or `delay` cycles after now. The payload
 * stays the caller's. Returns AIMC_OK, AIMC_ERR_INVALID (fn NULL, cycle < now),
 * AIMC_ERR_RANGE (now + delay overflows) or AIMC_ERR_NOMEM (the queue could not grow; it
 * grows by doubling, so scheduling allocates only when the queue reaches a new maximum). */
int aimc_eng_at(aimc_eng *e, uint64_t cycle, aimc_eng_fn fn, void *payload, uint64_t arg);
int aimc_eng_after(aimc_eng *e, uint64_t delay, aimc_eng_fn fn, void *payload, uint64_t arg);

/* Execute events in (cycle, sequence) order while the earliest is due at or before
 * limit_cycle (UINT64_MAX: until the queue is empty). When the next event lies beyond a
 * finite limit (or none is left), now becomes limit_cycle; with UINT64_MAX it stays at the
 * last event's cycle. Returns AIMC_OK, or the first negative code a callback returned. */
int aimc_eng_run(aimc_eng *e, uint64_t limit_cycle);

size_t aimc_eng_pending(const aimc_eng *e);        /* events in the queue */
uint64_t aimc_eng_next_cycle(const aimc_eng *e);   /* the earliest queued event's cycle;
                                                    * UINT64_MAX when none */
uint64_t aimc_eng_events_run(const aimc_eng *e);   /* events executed since creation */

/* The latest cycle anything is known to happen: max(now, the latest end of any booking made
 * so far). After bookings made without events it is their makespan. */
uint64_t aimc_eng_horizon(const aimc_eng *e);

/* ---- array resources ------------------------------------------------------------------ */

#define AIMC_ENG_NAME_MAX 64                /* resource names, terminating NUL included */
#define AIMC_ENG_ARRAY_UNITS_MAX (1u << 24) /* units of an array */

/* The kind of a resource, as statistics and traces report it; arrays are the only kind. */
typedef enum aimc_eng_kind {
    AIMC_ENG_ARRAY = 0, /* units addressed by number: a booking names the units it occupies */
} aimc_eng_kind;

/* An array of `units` (1..AIMC_ENG_ARRAY_UNITS_MAX) units that work addresses by number, e.g.
 * the cores of a chip (an MVM occupies the cores that hold its tiles, not any free ones).
 * `track` groups resources in traces (e.g. the chip's number). Names are
 * 1..AIMC_ENG_NAME_MAX-1 printable ASCII characters; they need not be unique. *id receives
 * the resource id. Bookings are served in call order per unit: issue them in non-decreasing
 * ready order (as event callbacks do) for a time-accurate queue.
 * Returns AIMC_OK, AIMC_ERR_BADHANDLE (e is NULL), AIMC_ERR_INVALID or AIMC_ERR_NOMEM. */
int aimc_eng_array_add(aimc_eng *e, const char *name, uint32_t track, uint32_t units, int *id,
                       aimc_diag *d);

/* *start (may be NULL) receives the first cycle at or after `ready` when units
 * first .. first + count - 1 are all free. Books nothing. Returns AIMC_OK, AIMC_ERR_BADHANDLE
 * (not an array of e) or AIMC_ERR_RANGE (count is 0 or the units leave the array). */
int aimc_eng_array_free_at(aimc_eng *e, int id, uint32_t first, uint32_t count, uint64_t ready,
                           uint64_t *start);

/* Keep units first .. first + count - 1 busy for `cycles` together, from start = the first
 * cycle at or after `ready` when all are free; *done (may be NULL) receives start + cycles.
 * Two bookings of one unit take the sum of their cycles; of disjoint units they overlap. A
 * booking of 0 cycles occupies nothing (it counts as a booking) and is done at start.
 * Same returns, and AIMC_ERR_RANGE when the end overflows. */
int aimc_eng_array_reserve(aimc_eng *e, int id, uint32_t first, uint32_t count, uint64_t ready,
                           uint64_t cycles, uint64_t *done);

/* ---- statistics ----------------------------------------------------------------------- */

/* What a resource did. busy_cycles adds up every unit's busy intervals, so utilisation over
 * an elapsed time is busy_cycles / (units x elapsed) (aimc_eng_utilisation). */
typedef struct aimc_eng_res_stats {
    const char *name;     /* the engine's copy; valid while the engine lives */
    aimc_eng_kind kind;
    uint32_t track;
    uint32_t units;
    uint64_t busy_cycles; /* unit-cycles busy */
    uint64_t ops;         /* bookings (successful aimc_eng_array_reserve calls) */
    uint64_t last_end;    /* latest end of any busy interval (0 if none) */
} aimc_eng_res_stats;

size_t aimc_eng_res_count(const aimc_eng *e);
/* Returns AIMC_OK or AIMC_ERR_BADHANDLE (no such id, or out is NULL). */
int aimc_eng_res_stats_get(const aimc_eng *e, int id, aimc_eng_res_stats *out);
/* The lowest id with this name: AIMC_OK or AIMC_ERR_NOTFOUND. */
int aimc_eng_res_find(const aimc_eng *e, const char *name, int *id);
/* busy_cycles / (units x elapsed_cycles); 0 when elapsed_cycles is 0. */
double aimc_eng_utilisation(const aimc_eng_res_stats *s, uint64_t elapsed_cycles);
/* Zero every resource's counters (busy, ops, last_end), e.g. after programming; bookings
 * already made stay. */
void aimc_eng_stats_reset(aimc_eng *e);

/* ---- traces --------------------------------------------------------------------------- */

/* One busy interval [begin, end) of one unit of one resource (end > begin), reported when
 * it is booked. */
typedef struct aimc_eng_span {
    int res;
    const char *name;
    aimc_eng_kind kind;
    uint32_t track;
    uint32_t unit;
    uint64_t begin, end;
} aimc_eng_span;

typedef void (*aimc_eng_trace_fn)(void *user, const aimc_eng_span *span);

/* Install (fn non-NULL) or remove (fn NULL) the trace hook. Returns AIMC_OK,
 * AIMC_ERR_BADHANDLE, or AIMC_ERR_STATE while a trace file is open (it uses the hook). */
int aimc_eng_set_trace(aimc_eng *e, aimc_eng_trace_fn fn, void *user);

/* Write every busy interval from now on to `path` as Chrome trace-event JSON (it opens in
 * Perfetto and chrome://tracing): {"traceEvents":[...]} of complete events (ph "X") with ts
 * and dur in microseconds (cycles / clock_mhz), pid = the resource's track, tid = a lane
 * per resource unit; aimc_eng_trace_close() adds the names of the tracks and of the lanes
 * that had work as metadata events (ph "M") and closes the file. clock_mhz > 0 and finite.
 * Returns AIMC_OK, AIMC_ERR_BADHANDLE, AIMC_ERR_INVALID, AIMC_ERR_STATE (a hook or a file is
 * already set), AIMC_ERR_IO (cannot create the file) or AIMC_ERR_NOMEM. */
int aimc_eng_trace_open(aimc_eng *e, const char *path, double clock_mhz, aimc_diag *d);
/* Finish and close the trace file (the hook is removed either way). Returns AIMC_OK,
 * AIMC_ERR_STATE (none open), AIMC_ERR_NOMEM or AIMC_ERR_IO (a write failed: the file is
 * incomplete). */
int aimc_eng_trace_close(aimc_eng *e, aimc_diag *d);

#endif /* AIMC_ENGINE_H */
