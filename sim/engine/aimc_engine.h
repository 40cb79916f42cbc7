/* engine.h - aimc's discrete-event engine in cycles: an event queue, resources that can be
 * busy (servers, links, banked memories, a 2-D mesh network), pipelines, per-resource
 * counters and a Chrome trace-event writer.
 *
 * One aimc_eng handle owns everything (no global state). Time is a uint64 count of cycles of
 * one clock chosen by the caller. docs/engine.md describes the model; in short:
 *
 *  - Events: a callback, a payload pointer and a uint64 argument, due at a cycle. The queue
 *    is a binary heap ordered by (cycle, insertion sequence), so events due at the same cycle
 *    run in the order they were scheduled and a run is deterministic. aimc_eng_run()
 *    executes them; a callback may schedule more.
 *  - Resources are reservation tables: a request says when it is ready and how long it keeps
 *    the resource; the call returns when it completes. Requests to one resource are served
 *    first come, first served in the order of the calls (FIFO), each on the unit that
 *    becomes free first. Event callbacks pass aimc_eng_now() as the ready time and schedule
 *    their continuation at the returned completion; closed-form callers (the pipeline, the
 *    mesh) chain reservations directly.
 *  - Every resource counts its busy cycles, operations and bytes; an optional trace hook
 *    sees every busy interval (begin, end, resource name, track, unit).
 *
 * Functions return AIMC_OK or a negative AIMC_ERR_* (aimc_status.h); a NULL engine is
 * AIMC_ERR_BADHANDLE (getters return 0). A failing call changes nothing. Calls that take an aimc_diag put the reason there (it may be NULL); the
 * per-request calls (reserve, send, access, pipeline) only return the code, documented at
 * each. Resource ids are small integers handed out from 0 in creation order.
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
/* Free the engine, its resources and meshes; closes an open trace file without finishing
 * it. NULL is a no-op. */
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
uint64_t aimc_eng_events_run(const aimc_eng *e);   /* events executed since creation */

/* The latest cycle anything is known to happen: max(now, the latest end of any reservation
 * made so far). After a closed-form simulation it is the makespan. */
uint64_t aimc_eng_horizon(const aimc_eng *e);

/* ---- resources ------------------------------------------------------------------------ */

#define AIMC_ENG_NAME_MAX 64      /* resource and mesh names, terminating NUL included */
#define AIMC_ENG_UNITS_MAX 65536  /* units of a server, banks of a memory */

typedef enum aimc_eng_kind {
    AIMC_ENG_SERVER = 0, /* n identical units, FIFO */
    AIMC_ENG_LINK = 1,   /* one serialising channel: width in bytes per cycle, latency */
    AIMC_ENG_MEMORY = 2, /* banks, each a one-unit server; address interleaved */
} aimc_eng_kind;

/* A server of `units` identical units (1..AIMC_ENG_UNITS_MAX): a crossbar's ADCs behind
 * their multiplexer, DACs, a digital unit, a shift-and-add unit. `track` groups resources
 * in traces (e.g. the core's number). Names are 1..AIMC_ENG_NAME_MAX-1 printable ASCII
 * characters; they need not be unique. *id receives the resource id.
 * Returns AIMC_OK, AIMC_ERR_INVALID or AIMC_ERR_NOMEM. */
int aimc_eng_server_add(aimc_eng *e, const char *name, uint32_t track, uint32_t units,
                        int *id, aimc_diag *d);

/* One job of `cycles` on server id, ready at cycle `ready`: it starts on the unit that
 * becomes free first (lowest unit number on a tie), at max(ready, that unit's free cycle);
 * *done (may be NULL) receives start + cycles. A job of 0 cycles occupies nothing and is
 * done at `ready`. FIFO is in call order: issue requests in non-decreasing ready order (as
 * event callbacks do) for a time-accurate queue.
 * Returns AIMC_OK, AIMC_ERR_BADHANDLE (not a server of e) or AIMC_ERR_RANGE (overflow). */
int aimc_eng_server_reserve(aimc_eng *e, int id, uint64_t ready, uint64_t cycles,
                            uint64_t *done);

/* `jobs` jobs of `cycles` each, all ready at `ready`, as `jobs` calls of
 * aimc_eng_server_reserve() would place them; *done receives the completion of the last
 * (ready when jobs is 0). 128 columns converted on one ADC take 128 conversions; on 8 ADCs
 * that were free, ceil(128 / 8) = 16 rounds. Same returns. */
int aimc_eng_server_batch(aimc_eng *e, int id, uint64_t ready, uint64_t jobs, uint64_t cycles,
                          uint64_t *done);

/* A link: a channel moving bytes_per_cycle bytes per cycle (> 0, finite), each transfer
 * arriving latency_cycles after its last byte left. Chip-to-chip links, host DMA and each
 * directed link of a mesh are links. */
typedef struct aimc_eng_link_params {
    double bytes_per_cycle;
    uint64_t latency_cycles;
} aimc_eng_link_params;

int aimc_eng_link_add(aimc_eng *e, const char *name, uint32_t track,
                      const aimc_eng_link_params *p, int *id, aimc_diag *d);

/* Cycles a transfer of `bytes` occupies a link of this width: ceil(bytes / bytes_per_cycle),
 * where a quotient within 1e-9 (relative) of an integer counts as that integer, so that
 * 128 bytes on a 6.4 B/cycle link take 20 cycles, not 21. */
uint64_t aimc_eng_serial_cycles(double bytes_per_cycle, uint64_t bytes);

/* Send `bytes` (1..2^53) over link id, ready at `ready`: the link is busy from
 * start = max(ready, link free) for aimc_eng_serial_cycles() cycles; *arrive (may be NULL)
 * receives start + those cycles + latency_cycles. Two transfers ready together on one link
 * take twice the serialisation time of one. Returns AIMC_OK, AIMC_ERR_BADHANDLE (not a
 * link), AIMC_ERR_INVALID (bytes out of range) or AIMC_ERR_RANGE (overflow). */
int aimc_eng_link_send(aimc_eng *e, int id, uint64_t ready, uint64_t bytes, uint64_t *arrive);

/* A banked memory (SRAM, eDRAM, a buffer): `banks` banks; byte address a lies in bank
 * (a / interleave_bytes) mod banks; a bank moves bytes_per_access bytes per access, and an
 * access keeps the bank busy access_cycles. Bank bandwidth = bytes_per_access / access_cycles
 * bytes per cycle; the memory's is `banks` times that. All fields >= 1. */
typedef struct aimc_eng_mem_params {
    uint32_t banks;
    uint32_t interleave_bytes;
    uint32_t bytes_per_access;
    uint64_t access_cycles;
} aimc_eng_mem_params;

int aimc_eng_mem_add(aimc_eng *e, const char *name, uint32_t track,
                     const aimc_eng_mem_params *p, int *id, aimc_diag *d);

/* Read or write `bytes` (1..2^53) at byte address `addr` (addr + bytes < 2^64), ready at
 * `ready`. The range is cut at interleave boundaries; each bank serves its pieces back to
 * back in one busy interval of sum(ceil(piece / bytes_per_access)) x access_cycles, from
 * max(ready, bank free). Distinct banks overlap; the same bank serialises (a conflict).
 * *done (may be NULL) receives the end of the last bank's interval.
 * Returns AIMC_OK, AIMC_ERR_BADHANDLE, AIMC_ERR_INVALID or AIMC_ERR_RANGE. */
int aimc_eng_mem_access(aimc_eng *e, int id, uint64_t addr, uint64_t bytes, uint64_t ready,
                        uint64_t *done);

/* What a resource did. busy_cycles adds up every unit's busy intervals, so utilisation over
 * an elapsed time is busy_cycles / (units x elapsed) (aimc_eng_utilisation). */
typedef struct aimc_eng_res_stats {
    const char *name;     /* the engine's copy; valid while the engine lives */
    aimc_eng_kind kind;
    uint32_t track;
    uint32_t units;       /* servers: units; links: 1; memories: banks */
    uint64_t busy_cycles; /* unit-cycles busy */
    uint64_t ops;         /* server jobs, link transfers, memory accesses (calls) */
    uint64_t bytes;       /* link and memory bytes moved (0 for servers) */
    uint64_t last_end;    /* latest end of any busy interval (0 if none) */
} aimc_eng_res_stats;

size_t aimc_eng_res_count(const aimc_eng *e);
/* Returns AIMC_OK or AIMC_ERR_BADHANDLE (no such id). */
int aimc_eng_res_stats_get(const aimc_eng *e, int id, aimc_eng_res_stats *out);
/* The lowest id with this name: AIMC_OK or AIMC_ERR_NOTFOUND. */
int aimc_eng_res_find(const aimc_eng *e, const char *name, int *id);
/* busy_cycles / (units x elapsed_cycles); 0 when elapsed_cycles is 0. */
double aimc_eng_utilisation(const aimc_eng_res_stats *s, uint64_t elapsed_cycles);
/* Zero every resource's counters (busy, ops, bytes, last_end), e.g. after programming;
 * reservations already made stay. */
void aimc_eng_stats_reset(aimc_eng *e);

/* ---- pipelines ------------------------------------------------------------------------ */

/* One stage of a pipeline: `jobs` jobs (>= 1) of `cycles` each on server `res` per item. */
typedef struct aimc_eng_stage {
    int res;
    uint64_t cycles;
    uint64_t jobs;
} aimc_eng_stage;

/* `items` items (e.g. input bit slices), the first ready at `ready`, flow through the k
 * stages in order: item i enters stage s (all its jobs, as one aimc_eng_server_batch ready
 * when item i left stage s-1, at `ready` for s = 0) and leaves it when its last job ends.
 * Stage servers serve items in order (items outer, stages inner), so N items through k
 * stages of c cycles on one-unit servers take (N + k - 1) c, not N k c; the slowest stage
 * sets the pace. Between stages an item waits without blocking the stage it left.
 * *done (may be NULL) receives the cycle the last item leaves the last stage (ready if
 * items is 0). Returns AIMC_OK, AIMC_ERR_INVALID (k is 0, a stage's jobs is 0),
 * AIMC_ERR_BADHANDLE (a stage is not a server; nothing is reserved) or AIMC_ERR_RANGE. */
int aimc_eng_pipeline(aimc_eng *e, const aimc_eng_stage *stages, size_t k, uint64_t items,
                      uint64_t ready, uint64_t *done);

/* One tile's matrix-vector product with bit-serial (or multi-step) inputs, as a 4-stage
 * pipeline over the input steps: drive the word lines (dac, dac_cycles), integrate on the
 * array (array, integrate_cycles), convert the tile's columns on the crossbar's ADCs (adc: a
 * server whose units are the ADCs; one job of conversion_cycles per column, so
 * ceil(cols / ADCs) rounds), shift-and-add the step's outputs (shift_add, shift_add_cycles).
 * Input steps stream: step i+1 drives and integrates while step i is converted. */
typedef struct aimc_eng_tile {
    int dac, array, adc, shift_add;   /* servers */
    uint64_t dac_cycles;
    uint64_t integrate_cycles;
    uint64_t conversion_cycles;
    uint64_t shift_add_cycles;
} aimc_eng_tile;

/* cols >= 1 columns, steps input steps, ready at `ready`; *done as for the pipeline.
 * Same returns as aimc_eng_pipeline(). */
int aimc_eng_tile_mvm(aimc_eng *e, const aimc_eng_tile *t, uint32_t cols, uint32_t steps,
                      uint64_t ready, uint64_t *done);

/* ---- the 2-D mesh network -------------------------------------------------------------- */

typedef enum aimc_eng_noc_mode {
    /* A hop forwards the packet once all of it has arrived: per hop router latency, then
     * the whole serialisation, then link latency. */
    AIMC_ENG_NOC_STORE_FORWARD = 0,
    /* Flits follow the head through the routers; a blocked head holds every link behind it
     * until its tail can move (no buffering beyond the router): uncontended, a packet takes
     * hops x (router + link latency) + one serialisation. */
    AIMC_ENG_NOC_WORMHOLE = 1,
} aimc_eng_noc_mode;

/* Output ports of a router: towards x+1, x-1, y+1, y-1. */
typedef enum aimc_eng_dir {
    AIMC_ENG_XPLUS = 0,
    AIMC_ENG_XMINUS = 1,
    AIMC_ENG_YPLUS = 2,
    AIMC_ENG_YMINUS = 3,
} aimc_eng_dir;

/* A width_x x height_y mesh of routers, node n = y * width_x + x at (x, y); every pair of
 * neighbours is joined by two directed links, each a link resource of the engine named
 * "<mesh>.<x>.<y>.<x+|x-|y+|y->" with the mesh's track. Packets follow XY routing: along x
 * to the destination's column, then along y. Every hop costs router_latency_cycles (the
 * router the packet leaves) and link_latency_cycles (the wire), and the link is busy for the
 * packet's serialisation at link_bytes_per_cycle. 1 <= nodes <= 65536. */
typedef struct aimc_eng_mesh_params {
    uint32_t width_x, height_y;
    double link_bytes_per_cycle;
    uint64_t link_latency_cycles;
    uint64_t router_latency_cycles;
    aimc_eng_noc_mode mode;
} aimc_eng_mesh_params;

/* *mesh receives the mesh id (its own numbering, from 0). Returns AIMC_OK, AIMC_ERR_INVALID
 * or AIMC_ERR_NOMEM. */
int aimc_eng_mesh_add(aimc_eng *e, const char *name, uint32_t track,
                      const aimc_eng_mesh_params *p, int *mesh, aimc_diag *d);

/* The link resource leaving node `node` in direction `dir`. Returns AIMC_OK,
 * AIMC_ERR_BADHANDLE (no such mesh), AIMC_ERR_RANGE (no such node) or AIMC_ERR_NOTFOUND (the
 * node is on that edge of the mesh). */
int aimc_eng_mesh_link(const aimc_eng *e, int mesh, uint32_t node, aimc_eng_dir dir, int *res);

/* The XY route from src to dst: *hops receives |dx| + |dy| and links[0..min(hops, cap))
 * the link resources in order (links may be NULL when cap is 0). Returns AIMC_OK,
 * AIMC_ERR_BADHANDLE or AIMC_ERR_RANGE (a node outside the mesh). */
int aimc_eng_mesh_route(const aimc_eng *e, int mesh, uint32_t src, uint32_t dst, int *links,
                        size_t cap, size_t *hops);

/* Send a packet of `bytes` (1..2^53) from src to dst, ready at `ready`, reserving each link
 * of its route in order (see aimc_eng_noc_mode); *arrive (may be NULL) receives the cycle its
 * last byte reaches dst (ready when src == dst). Returns AIMC_OK, AIMC_ERR_BADHANDLE,
 * AIMC_ERR_INVALID (bytes) or AIMC_ERR_RANGE (a node, or overflow). */
int aimc_eng_mesh_send(aimc_eng *e, int mesh, uint32_t src, uint32_t dst, uint64_t bytes,
                       uint64_t ready, uint64_t *arrive);

/* ---- traces --------------------------------------------------------------------------- */

/* One busy interval [begin, end) of one unit of one resource (end > begin), reported when
 * it is reserved. `unit` is the server unit, the memory bank, 0 for links; `bytes` what a
 * link or bank moved in it (0 for servers). */
typedef struct aimc_eng_span {
    int res;
    const char *name;
    aimc_eng_kind kind;
    uint32_t track;
    uint32_t unit;
    uint64_t begin, end;
    uint64_t bytes;
} aimc_eng_span;

typedef void (*aimc_eng_trace_fn)(void *user, const aimc_eng_span *span);

/* Install (fn non-NULL) or remove (fn NULL) the trace hook. Returns AIMC_OK, or
 * AIMC_ERR_STATE while a trace file is open (it uses the hook). */
int aimc_eng_set_trace(aimc_eng *e, aimc_eng_trace_fn fn, void *user);

/* Write every busy interval from now on to `path` as Chrome trace-event JSON (it opens in
 * Perfetto and chrome://tracing): {"traceEvents":[...]} of complete events (ph "X") with ts
 * and dur in microseconds (cycles / clock_mhz), pid = the resource's track, tid = a lane
 * per resource unit; aimc_eng_trace_close() adds the names of the lanes and tracks as
 * metadata events (ph "M") and closes the file. clock_mhz > 0 and finite.
 * Returns AIMC_OK, AIMC_ERR_INVALID, AIMC_ERR_STATE (a hook or a file is already set),
 * AIMC_ERR_IO (cannot create the file) or AIMC_ERR_NOMEM. */
int aimc_eng_trace_open(aimc_eng *e, const char *path, double clock_mhz, aimc_diag *d);
/* Finish and close the trace file (the hook is removed either way). Returns AIMC_OK,
 * AIMC_ERR_STATE (none open), AIMC_ERR_NOMEM or AIMC_ERR_IO (a write failed: the file is
 * incomplete). */
int aimc_eng_trace_close(aimc_eng *e, aimc_diag *d);

#endif /* AIMC_ENGINE_H */
