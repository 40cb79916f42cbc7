/* aimc_xbar.h - the analog values: crossbars, the matrices programmed onto them, and what one
 * matrix-vector product returns.
 *
 * aimc_xbar is the value model beneath sim/device; it counts the data-dependent events that
 * the cost layer (sim/cost/aimc_cost.h) prices, and keeps no time. It never parses YAML and never
 * prints. All randomness comes from a counter-based generator keyed by (seed, crossbar,
 * column or cell, event), so results depend only on the seed and the sequence of calls.
 *
 * Numerics (docs/simulator.md gives the formulas):
 *  - weights of a matrix are quantised to crossbar.weight_bits with one scale per matrix,
 *    per tile block or per column of a block (crossbar.weight_scale; max |w| maps to the
 *    largest code), the codes split into bit slices of
 *    crossbar.bits_per_cell, each slice a conductance on a 2^bits_per_cell-level grid
 *    between g_min and g_max, snapped to the device's `levels`, plus programming noise;
 *  - an input vector is quantised to dac.bits with one scale per vector (max |x|), driven
 *    bit-serially (one magnitude bit per step, sign as polarity), multi-bit (one step, codes
 *    as voltages) or by pulse width (one step, codes as durations);
 *  - per step and output column the bit-line signal is sum_i v_i g_ij plus one Gaussian
 *    draw of variance sum_i v_i^2 sigma_read^2 (per device), then an ADC of adc.bits over
 *    the worst-case range R of that column (the LSB is the smallest power of two with
 *    (2^(adc.bits-1) - 1) LSB >= R, so full scale is representable) or a range calibrated
 *    at programming (adc.range: max or percentile of calibration outputs);
 *  - shift-and-add over input steps and weight slices, offset or G- removal, and rescale
 *    happen in digital.
 */
#ifndef AIMC_XBAR_H
#define AIMC_XBAR_H

#include <stddef.h>
#include <stdint.h>

#include "aimc_arch.h"
#include "aimc_status.h"
#include "aimc_tile.h"
#include "aimc_api.h"

AIMC_API_BEGIN

/* What the values did that the time and energy of the work depend on: the data-dependent
 * events (docs/simulator.md). Everything that follows from the shapes alone (conversions,
 * crossbar activations, shift-and-add operations, cycles) is the cost layer's
 * (sim/cost/aimc_cost.h). Every aimc_xbar call that does work ADDS to the stats it is given
 * (so one struct can sum a whole run); pass NULL to discard. */
typedef struct aimc_xbar_stats {
    uint64_t mvms;               /* matrix-vector products (one per vector) */
    uint64_t dac_drives;         /* word lines driven with a nonzero input, per input step */
    double xbar_charge;          /* array read charge, aimc_cost_events.xbar_charge */
    uint64_t adc_saturations;    /* conversions clipped at the ADC's range */
    uint64_t cells_programmed;   /* devices written */
    uint64_t program_pulses;     /* programming pulses, verify re-writes included */
} aimc_xbar_stats;

typedef struct aimc_xbar aimc_xbar;

/* Create the machine described by arch (which must pass aimc_arch_validate; it is copied).
 * Crossbar storage is allocated when a crossbar is first programmed.
 * Returns AIMC_OK, AIMC_ERR_INVALID or AIMC_ERR_NOMEM. */
int aimc_xbar_create(const aimc_arch *arch, uint64_t seed, aimc_xbar **out);
void aimc_xbar_destroy(aimc_xbar *s); /* NULL is a no-op */

/* The arch the machine was created with. */
const aimc_arch *aimc_xbar_arch(const aimc_xbar *s);

/* Program matrix `id` (0 <= id < AIMC_XBAR_MAX_MATRICES): w is rows x cols, row-major
 * (row = input, column = output), tiles are every tile of that matrix (tile.matrix is
 * ignored). Replaces an earlier matrix of the same id; another matrix whose devices the
 * tiles overwrite goes stale (its MVMs return AIMC_ERR_STATE). Fails without changing the machine
 * when a tile lies outside the machine or the matrix, two tiles overlap in a crossbar, or
 * the tiles do not cover every (row, column, slice) exactly once:
 * AIMC_ERR_RANGE / AIMC_ERR_INVALID, with the reason in d. */
#define AIMC_XBAR_MAX_MATRICES 65536
int aimc_xbar_program(aimc_xbar *s, uint32_t id, const float *w, uint32_t rows, uint32_t cols,
                     const aimc_tile *tiles, size_t n_tiles, aimc_xbar_stats *st, aimc_diag *d);

/* Program-and-verify (docs/devices.md): after the first write, each round reads every
 * device of the matrix, and re-programs those further than tolerance_us from their target,
 * up to max_iterations rounds. Each write is a pulse; each round a verify read. */
typedef struct aimc_program_opts {
    uint32_t max_iterations; /* verify rounds after the first write; 0: write once, no verify */
    double tolerance_us;     /* a device passes when |g - g_target| <= tolerance_us */
} aimc_program_opts;

typedef struct aimc_program_report {
    uint32_t iterations;     /* verify rounds performed */
    uint64_t devices;        /* devices written at least once */
    uint64_t devices_failed; /* devices outside the tolerance after the last round */
    uint64_t pulses;         /* programming pulses, all rounds */
    double rms_error_us;     /* rms of g - g_target over the devices, after programming */
    uint64_t xbars;          /* crossbars written */
    uint64_t pulses_max;     /* pulses of the busiest crossbar (they write one after another) */
} aimc_program_report;

/* aimc_xbar_program() with program-and-verify options (NULL: write once) and a report (may
 * be NULL). The same validation, the same failure behaviour. */
int aimc_xbar_program_verify(aimc_xbar *s, uint32_t id, const float *w, uint32_t rows,
                            uint32_t cols, const aimc_tile *tiles, size_t n_tiles,
                            const aimc_program_opts *opts, aimc_program_report *rep,
                            aimc_xbar_stats *st, aimc_diag *d);

/* The checks of aimc_xbar_program on a tile table, without a machine: every tile inside the
 * machine and the matrix, no two on the same devices, every (row, column, slice) covered
 * once. AIMC_OK, AIMC_ERR_RANGE, AIMC_ERR_INVALID or AIMC_ERR_NOMEM, the reason in d. */
int aimc_xbar_check_tiles(const aimc_arch *a, uint32_t rows, uint32_t cols,
                          const aimc_tile *tiles, size_t n_tiles, aimc_diag *d);

/* Whether id is programmed, and its shape. */
int aimc_xbar_matrix_shape(const aimc_xbar *s, uint32_t id, uint32_t *rows, uint32_t *cols);

/* The tiles matrix id was programmed with; 0 when it is not programmed. */
size_t aimc_xbar_matrix_tiles(const aimc_xbar *s, uint32_t id);

/* y[b*cols + c] = sum_r x[b*rows + r] * W[r][c], as the machine computes it, for b < batch.
 * AIMC_ERR_STATE when id is not programmed or was overwritten by another matrix. Adds the
 * data-dependent events to st. AIMC_ERR_NOMEM when rebuilding read data after a read-option change fails. */
int aimc_xbar_mvm(aimc_xbar *s, uint32_t id, const float *x, uint32_t batch, float *y,
                 aimc_xbar_stats *st);

/* An MVM whose digital half runs elsewhere: the RTL's tile sequencer and shift-and-add
 * (rtl/, docs/rtl.md). run_open does what aimc_xbar_mvm does up to the ADCs (same draws, same
 * stats added to st) and keeps every ADC code; the caller reads the codes of vector v, tile k
 * (crossbar order: run_tile), input step `step` (ncols of them), writes each tile's
 * shift-and-add results (sum over steps of code x 2^step with bit-serial inputs, else the code)
 * into run_acc (ncols int64, zero at open), and run_finish turns them into y (batch x cols)
 * exactly as aimc_xbar_mvm would have from the same results. Memory: batch x (tile columns) x
 * (steps x 4 + 8) bytes. run_codes / run_acc return NULL for an index out of range. */
typedef struct aimc_xbar_mvm_run aimc_xbar_mvm_run;
int aimc_xbar_mvm_run_open(aimc_xbar *s, uint32_t id, const float *x, uint32_t batch,
                          aimc_xbar_stats *st, aimc_xbar_mvm_run **out);
uint32_t aimc_xbar_mvm_run_tiles(const aimc_xbar_mvm_run *r);
uint32_t aimc_xbar_mvm_run_vectors(const aimc_xbar_mvm_run *r);
int aimc_xbar_mvm_run_tile(const aimc_xbar_mvm_run *r, uint32_t k, uint32_t *xbar, uint32_t *ncols);
const int32_t *aimc_xbar_mvm_run_codes(const aimc_xbar_mvm_run *r, uint32_t v, uint32_t k,
                                      uint32_t step);
int64_t *aimc_xbar_mvm_run_acc(aimc_xbar_mvm_run *r, uint32_t v, uint32_t k);
int aimc_xbar_mvm_run_finish(const aimc_xbar_mvm_run *r, float *y);
void aimc_xbar_mvm_run_free(aimc_xbar_mvm_run *r);

/* ---- runtime options (docs/simulator.md) ---- */

/* Reads happen read_time_s seconds after programming (>= 0): drives PCM drift and 1/f read
 * noise (docs/devices.md). The same as the config key device.read_time_s.
 * AIMC_ERR_INVALID for a negative or non-finite time. */
int aimc_xbar_set_read_time(aimc_xbar *s, double read_time_s);

/* Global drift compensation on (1) or off (0): per tile, a calibration read of a known
 * input (all word lines at full scale) after drift; the tile's outputs are rescaled by the
 * ratio of its response right after programming to its current response. */
int aimc_xbar_set_drift_compensation(aimc_xbar *s, int on);

/* Threads an MVM may use (>= 1; default simulator.threads of the arch). Results are
 * bit-identical for any count. */
int aimc_xbar_set_threads(aimc_xbar *s, int threads);

/* ---- devices and faults (docs/devices.md) ---- */

enum { AIMC_FAULT_NONE = 0, AIMC_FAULT_STUCK_ON = 1, AIMC_FAULT_STUCK_OFF = 2 };

/* The fault of cell (row * crossbar.cols + physical column) of crossbar xbar: drawn once per
 * crossbar from the seed (device.stuck_on_rate, device.stuck_off_rate), independent of what
 * is programmed, so the mapper can read the map before programming. */
int aimc_xbar_fault_of(const aimc_arch *a, uint64_t seed, uint32_t xbar, uint64_t cell);

/* Fraction of the devices of crossbar xbar that are stuck (on or off). */
double aimc_xbar_fault_fraction(const aimc_arch *a, uint64_t seed, uint32_t xbar);

/* One device as the machine now reads it. */
typedef struct aimc_xbar_cell_info {
    int programmed;      /* 0: never written (all other fields 0) */
    int fault;           /* AIMC_FAULT_* */
    double g_prog_us;    /* after programming (and verify) */
    double nu;           /* pcm drift exponent, else 0 */
    double g_read_us;    /* at the current read time, IR drop included */
    double read_sigma_us;/* read noise sigma of one read at the current read time */
} aimc_xbar_cell_info;

/* The device in (row, physical column) of crossbar xbar, regenerated from the live tile that
 * holds it (programmed = 0 when none does). */
int aimc_xbar_cell(const aimc_xbar *s, uint32_t xbar, uint32_t row, uint32_t col,
                    aimc_xbar_cell_info *out);

/* PCM statistics (aihwkit after Nandakumar et al. 2019; REFERENCES.md), conductances in uS. */
double aimc_pcm_program_sigma_us(double g_target_us, double g_max_us);
void aimc_pcm_drift_params(double g_target_us, double g_max_us, double *mu, double *sigma);
double aimc_pcm_drift_factor(double nu, double read_time_s); /* ((t + t0) / t0)^-nu */
double aimc_pcm_read_rel_sigma(double g_prog_us, double g_max_us, double read_time_s);

/* Memory held by the machine: every allocation (crossbar records, matrices, their tiles'
 * packed read data, row sums and scales), bytes. */
size_t aimc_xbar_memory_bytes(const aimc_xbar *s);

/* Add b into a, field by field. */
void aimc_xbar_stats_add(aimc_xbar_stats *a, const aimc_xbar_stats *b);

AIMC_API_END

#endif /* AIMC_XBAR_H */
