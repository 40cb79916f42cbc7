/* aimc_timing.h - the timing-only mode: the discrete-event engine (sim/engine/aimc_engine.h) driven from a
 * mapper's plan and routing statistics, without values, for models too large to simulate with
 * values; and the fill workload that checks the engine against the analytical peak.
 *
 * Time inside is in picoseconds (engine ticks), so that ADC conversions of 0.78125 ns and a
 * 1.2 GHz clock both land on the grid; reports give ns and clock cycles. docs/engine.md
 * ("Timing-only mode") describes the model. Prints nothing; errors come back with an
 * aimc_diag.
 */
#ifndef AIMC_TIMING_H
#define AIMC_TIMING_H

#include <stdint.h>

#include "aimc_arch.h"
#include "aimc_map.h"
#include "aimc_cost.h"
#include "aimc_status.h"

typedef struct aimc_timing_opts {
    uint64_t tokens;              /* tokens through every layer, >= 1 */
    uint64_t seed;                /* the experts each token picks */
    const aimc_routing *routing;  /* expert probabilities; NULL: uniform */
    const char *trace_path;       /* Chrome trace-event JSON of per-core activity; NULL: none */
} aimc_timing_opts;

typedef struct aimc_timing_report {
    uint64_t tokens, layers;
    uint64_t ticks;               /* makespan, ps */
    double time_ns;               /* makespan */
    double cycles;                /* makespan in clock.frequency_mhz cycles */
    double first_token_ns;        /* latency of the first token through every layer */
    double tokens_per_s;          /* tokens / makespan */
    double energy_pj[AIMC_PART_COUNT]; /* dynamic + static, aimc_part order */
    double static_pj[AIMC_PART_COUNT]; /* of which static: leakage x makespan, chips used */
    double utilisation[AIMC_PART_COUNT]; /* busy / (units x makespan) of the part's resources
                                          * that exist (arrays: cores used; 0: not timed) */
    uint64_t events;              /* engine events executed */
    uint64_t reservations;        /* server batches, link transfers */
    uint64_t tile_mvms;           /* tile MVMs represented (one per tile per token) */
    uint64_t chips_used;          /* chips that did work */
} aimc_timing_report;

/* Run opts->tokens tokens of model m through plan p (from aimc_map_plan_ex; shape-only plans
 * are fine) on arch a. Returns AIMC_OK, AIMC_ERR_INVALID, AIMC_ERR_NOMEM, AIMC_ERR_IO (trace)
 * or AIMC_ERR_RANGE, with the reason in d. */
int aimc_timing_run(const aimc_arch *a, const aimc_model *m, const aimc_plan *p,
                    const aimc_timing_opts *opts, aimc_timing_report *rep, aimc_diag *d);

/* The fill workload: every crossbar of one chip holds a full tile, the crossbars of a core a
 * weight group; `vectors` input vectors stream through every core, event by event: inputs
 * read from the tile's buffer over its bus, each crossbar's input steps through the pipeline
 * (integration, conversions on its ADCs, shift-and-add on the core's digital unit), outputs
 * back over the bus into the buffer. */
typedef struct aimc_timing_fill_report {
    uint64_t vectors;
    double first_ns;              /* when the first vector finished on every core */
    double last_ns;               /* when the last did */
    double steady_ns_per_vector;  /* (last - first) / (vectors - 1) */
    double tops;                  /* the chip's weight-precision ops per second at that pace */
    uint64_t events;
} aimc_timing_fill_report;

/* vectors >= 2. Same returns as aimc_timing_run(). */
int aimc_timing_fill(const aimc_arch *a, uint64_t vectors, aimc_timing_fill_report *rep,
                     aimc_diag *d);

#endif /* AIMC_TIMING_H */
