/* aimc.h - the aimc driver API: the one interface that drives the simulated machine today
 * and the chip later. This header is the contract: what it does not declare is not API.
 *
 * A device is opened by URI; the scheme picks the backend (its HAL, docs/driver.md):
 *   "sim:"          the in-process device model (sim/device over sim/aimc_xbar)
 *   "mock:"         a register file that records every access, for unit tests
 *   "uio:/dev/uioN" silicon through Linux UIO (register BAR by mmap)
 *   "sysc:"         the same device model in a SystemC TLM-2.0 virtual platform
 *   "rtl:"          the Verilated RTL of the control path over the device model's arrays
 * (docs/driver.md lists their options).
 *
 * Every call returns AIMC_OK (0) or a negative AIMC_ERR_* code (aimc_status.h,
 * aimc_strerror() gives its text); the detailed text of a device's last error is
 * aimc_error_text(dev). No call prints or exits. Work is asynchronous: a submit returns a
 * fence; aimc_fence_wait() waits for it with a timeout and finishes the job (copies
 * results out), so output buffers given to a submit must stay valid until its fence is
 * waited for. Whatever a command asks for, a wait with a timeout returns (docs/driver.md,
 * "Bounded waits"). Commands behave as if run in submission order, so a command may use the
 * output of an earlier one without a wait in between; the device overlaps commands that do
 * not depend on each other, so they may complete out of order (aimc_fence_wait_any).
 *
 * Threads: every call on one device may come from any thread; the driver serialises them
 * (two threads may submit and wait on one device at the same time). A handle must not be
 * used after aimc_close (it is freed: the behaviour is undefined, as after free()).
 */
#ifndef AIMC_H
#define AIMC_H

#include <stddef.h>
#include <stdint.h>

#include "aimc_arch.h"
#include "aimc_status.h"
#include "aimc_tile.h"
#include "aimc_api.h"

AIMC_API_BEGIN

typedef struct aimc_dev aimc_dev;

typedef struct aimc_open_opts {
    const aimc_arch *arch; /* sim: the machine to simulate; NULL = built-in defaults */
    uint64_t seed;         /* sim: seed of every random draw of the device */
    uint32_t watchdog_us;  /* the device's watchdog (WATCHDOG_US); 0 = off */
    aimc_diag *diag;       /* if not NULL: why aimc_open failed (the backend's reason) */
    int timing_only;       /* sim:: a model of time and energy without values (weights may
                            * be NULL, outputs are not written; aimc_dev_info.timing_only) */
    int activity_assumed;  /* sim:: DAC and array energy from the assumed data activity even
                            * with values, as a timing-only device counts it */
    const char *trace_path;/* sim:: a Chrome trace of every resource's busy intervals */
} aimc_open_opts;

/* What the device says about itself, read from its ID and capability registers. */
typedef struct aimc_dev_info {
    uint32_t id;            /* AIMC_REG_ID_VALUE */
    uint32_t version;       /* register map version: major << 16 | minor */
    uint32_t xbar_rows, xbar_cols;
    uint32_t crossbars;     /* in the whole device */
    uint32_t adc_bits, dac_bits;
    uint32_t bits_per_cell, weight_bits;
    uint32_t max_matrices;  /* matrix ids are 0 .. max_matrices-1 */
    uint32_t max_dim;       /* largest rows or cols of a matrix */
    uint32_t max_batch;     /* largest batch of one command */
    uint32_t max_tiles;     /* largest tile table of one PROGRAM */
    uint32_t max_ring;      /* largest command ring */
    uint32_t max_elems;     /* largest batch x dim of a digital command or a readback */
    uint32_t max_verify;    /* largest program-and-verify round count */
    int timing_only;        /* CAP_FLAGS.TIMING_ONLY: time and energy, no values */
} aimc_dev_info;

/* The device's performance counters (docs/registers.md). Energy counters are kept by the
 * device in fJ. */
typedef struct aimc_counters {
    uint64_t cycles;           /* busy cycles of the work, command by command */
    uint64_t time;             /* the device clock, cycles since reset (CNT_TIME) */
    uint64_t mvms;
    uint64_t adc_conversions;
    uint64_t adc_saturations;
    uint64_t dac_drives;
    uint64_t xbar_reads;
    uint64_t digital_ops;
    uint64_t cells_programmed;
    double energy_pj[AIMC_PART_COUNT]; /* per part (aimc_arch.h), pJ */
    uint64_t noc_bytes;        /* bytes over the on-chip networks (each transfer once) */
    uint64_t link_bytes;       /* bytes over chip-to-chip links */
    uint64_t host_bytes;       /* bytes between host memory and the device */
} aimc_counters;

/* The device's sticky error state (docs/registers.md: ERROR, ERROR_FENCE, ERROR_INFO). */
typedef struct aimc_dev_error {
    uint32_t bits;       /* ERROR: AIMC_REG_ERROR_* bits since last cleared */
    uint64_t fence;      /* fence of the first failure since ERROR was 0 (0: not a command) */
    uint32_t info;       /* detail of that failure */
    uint32_t irq_status; /* IRQ_STATUS: pending interrupt causes */
    uint32_t status;     /* STATUS: READY, BUSY, ERROR, HALTED */
} aimc_dev_error;

/* Open the device named by uri. *dev is NULL on failure, and opts->diag (if given) says
 * why. AIMC_ERR_NOTFOUND for an unknown scheme; the backend's code otherwise. */
int aimc_open(const char *uri, const aimc_open_opts *opts, aimc_dev **out);
void aimc_close(aimc_dev *dev); /* NULL is a no-op */

int aimc_query(aimc_dev *dev, aimc_dev_info *info);

/* ---- buffer objects: memory both the CPU and the device reach ---- */

typedef struct aimc_bo aimc_bo;
typedef enum { AIMC_SYNC_TO_DEVICE = 1, AIMC_SYNC_FROM_DEVICE = 2 } aimc_sync_dir;

/* A zero-filled buffer of bytes > 0 bytes. Destroy it before closing its device. */
int aimc_bo_create(aimc_dev *dev, size_t bytes, aimc_bo **out);
/* The same with flags: AIMC_BO_HOST_READ says the host reads what commands write into the
 * buffer, so a command writing it completes only when its outputs are in host memory
 * (FLAG_TO_HOST); other buffers' outputs may stay in the device's own memories. */
#define AIMC_BO_HOST_READ 1u
int aimc_bo_create_ex(aimc_dev *dev, size_t bytes, unsigned flags, aimc_bo **out);
void *aimc_bo_map(aimc_bo *bo);            /* its CPU address; NULL for a NULL bo */
uint64_t aimc_bo_addr(const aimc_bo *bo);  /* its device address, for descriptors; 0 for NULL */
size_t aimc_bo_size(const aimc_bo *bo);
/* Make CPU writes visible to the device (TO_DEVICE, before a submit that reads the buffer)
 * or device writes visible to the CPU (FROM_DEVICE, after the fence). Every backend so far
 * is cache-coherent, so this is a memory barrier; call it anyway. */
int aimc_bo_sync(aimc_bo *bo, aimc_sync_dir dir);
void aimc_bo_destroy(aimc_bo *bo);         /* NULL is a no-op */

/* ---- weights ---- */

/* Program-and-verify: after the first write, up to max_iterations rounds each read every
 * device and rewrite those further than tolerance_us from their target. */
typedef struct aimc_weights_opts {
    uint32_t max_iterations; /* 0: write once, no verify; at most info.max_verify */
    double tolerance_us;     /* >= 0 */
} aimc_weights_opts;

typedef struct aimc_weights_report {
    uint32_t iterations;     /* verify rounds performed */
    uint64_t devices;        /* devices written */
    uint64_t devices_failed; /* outside the tolerance after the last round */
    uint64_t pulses;         /* programming pulses, all rounds */
    double rms_error_us;     /* rms conductance error after programming */
} aimc_weights_report;

/* Program matrix `matrix_id`: w is rows x cols float32, row-major (row = input; NULL on a
 * timing-only device, which holds no values), and tiles are the plan's tiles of that matrix; opts NULL = write once; rep (may be NULL) receives
 * the device's report. Synchronous. AIMC_ERR_DEVICE when the device refused (details in
 * aimc_error_text); when verify leaves devices outside the tolerance the matrix is
 * programmed, *rep is filled and the result is AIMC_ERR_DEVICE (ERROR.VERIFY). */
int aimc_weights_program(aimc_dev *dev, uint32_t matrix_id, const float *w, uint32_t rows,
                         uint32_t cols, const aimc_tile *tiles, size_t n_tiles,
                         const aimc_weights_opts *opts, aimc_weights_report *rep);

/* Read rows x cols (the programmed shape) of matrix_id back into w, row-major, as the
 * array computes them: each row is an MVM of a one-hot input (DAC, crossbar with read
 * noise, ADC), so the result is the dequantised conductances seen through the periphery.
 * Synchronous. Counts as rows MVMs in the counters. */
int aimc_weights_readback(aimc_dev *dev, uint32_t matrix_id, float *w, uint32_t rows,
                          uint32_t cols);

/* ---- jobs ---- */

/* Queue y = x W for `batch` vectors (x: batch x rows, y: batch x cols, float32) on a
 * programmed matrix; the driver copies x in and y out. Errors found by the device (matrix
 * not programmed, bad address) are reported by aimc_fence_wait() as AIMC_ERR_DEVICE. */
int aimc_submit_mvm(aimc_dev *dev, uint32_t matrix_id, const float *x, uint32_t batch,
                    float *y, uint64_t *fence);

/* The same on device addresses (aimc_bo_addr + offset): no copies. */
int aimc_submit_mvm_addr(aimc_dev *dev, uint32_t matrix_id, uint32_t batch, uint64_t x_addr,
                         uint64_t y_addr, uint64_t *fence);

/* The digital steps of an MoE layer as device commands, on device addresses (formulas in
 * docs/driver.md; the device checks every address and size):
 *   rmsnorm:   out = x / sqrt(mean(x^2) + 1e-6), batch vectors of dim
 *   topk:      per vector of n logits, the k largest (u32 indices, largest first) and the
 *              softmax of the chosen logits (float32 weights)
 *   silu_mul:  out[i] = silu(g[i]) * u[i], count elements
 *   gather:    dst row i = src row idx[i] (u32), batch rows of dim, src has src_rows rows
 *   scale_acc: dst row idx[i] += w[i] * src row i; idx_addr 0 = row i, w_addr 0 = weight 1 */
int aimc_submit_rmsnorm(aimc_dev *dev, uint32_t batch, uint32_t dim, uint64_t in_addr,
                        uint64_t out_addr, uint64_t *fence);
int aimc_submit_topk(aimc_dev *dev, uint32_t batch, uint32_t n, uint32_t k, uint64_t in_addr,
                     uint64_t idx_addr, uint64_t w_addr, uint64_t *fence);
int aimc_submit_silu_mul(aimc_dev *dev, uint32_t count, uint64_t g_addr, uint64_t u_addr,
                         uint64_t out_addr, uint64_t *fence);
int aimc_submit_gather(aimc_dev *dev, uint32_t batch, uint32_t dim, uint32_t src_rows,
                       uint64_t src_addr, uint64_t idx_addr, uint64_t dst_addr,
                       uint64_t *fence);
int aimc_submit_scale_acc(aimc_dev *dev, uint32_t batch, uint32_t dim, uint32_t dst_rows,
                          uint64_t src_addr, uint64_t idx_addr, uint64_t w_addr,
                          uint64_t dst_addr, uint64_t *fence);

/* The commands of a whole transformer block's routing and norms (docs/driver.md):
 *   route:   per vector of n router logits, the routing rule of the record at rule_addr
 *            (aimc_route_rule_write, then with bias the n float32 correction biases): the k
 *            chosen experts (u32 indices) and their float32 weights
 *   norm:    out = x / sqrt(mean(x^2) + eps) * w, batch vectors of dim, stride floats apart
 *            (0: dim; another stride only in place, out_addr = in_addr) (w_addr 0: w = 1)
 *   sigmoid: out[i] = 1 / (1 + exp(-in[i])), count elements
 * A rule record and a norm's weights are constants of the model: the host writes them before
 * their first command and does not change them (the device may keep them). */
#define AIMC_ROUTE_RULE_BYTES 24 /* the record; with bias, n floats follow it */
int aimc_submit_route(aimc_dev *dev, uint32_t batch, uint32_t n, uint32_t k, uint64_t in_addr,
                      uint64_t idx_addr, uint64_t w_addr, uint64_t rule_addr, uint64_t *fence);
/* Fill a rule record (AIMC_ROUTE_RULE_BYTES): score 0 softmax, 1 sigmoid; norm 1 divides the
 * weights by their sum; groups and topk_groups (1 and 1: no groups); the weights' scale; bias
 * 1: n float32 correction biases follow the record. */
void aimc_route_rule_write(void *rec, uint32_t score, uint32_t norm, uint32_t groups,
                           uint32_t topk_groups, float scale, uint32_t bias);
int aimc_submit_norm(aimc_dev *dev, uint32_t batch, uint32_t dim, uint32_t stride, float eps,
                     uint64_t in_addr, uint64_t out_addr, uint64_t w_addr, uint64_t *fence);
int aimc_submit_sigmoid(aimc_dev *dev, uint32_t count, uint64_t in_addr, uint64_t out_addr,
                        uint64_t *fence);

/* Causal attention with a KV cache (docs/driver.md, ATTN): batch queries at positions pos0 ..
 * (batch x heads x dk at q_addr), the new keys then values at kv_addr, the outputs (batch x
 * heads x dv) to out_addr; cache_addr holds the layer's cache (ctx rows of keys, then of
 * values), which the device appends to and keeps (kv_cache.memory); param_addr a record of
 * the shapes (aimc_attn_record_write), a constant of the model. rope_mode 0 rotates pairs
 * (i, i + rope_dim/2), 1 pairs (2i, 2i+1); v_in_k 1: the values are the first dv of each key;
 * append 1: the new keys and values are appended, 0: an earlier ATTN of another group of heads
 * of the same tokens has appended them (kv_addr unused). */
#define AIMC_ATTN_RECORD_BYTES 44
void aimc_attn_record_write(void *rec, uint32_t heads, uint32_t kv_heads, uint32_t dk,
                            uint32_t dv, uint32_t ctx, uint32_t rope_dim, uint32_t rope_mode,
                            uint32_t v_in_k, float scale, float theta, uint32_t append);
int aimc_submit_attn(aimc_dev *dev, uint32_t batch, uint32_t pos0, uint64_t q_addr,
                     uint64_t kv_addr, uint64_t out_addr, uint64_t cache_addr,
                     uint64_t param_addr, uint64_t *fence);

/* A FENCE command (completes when every earlier command has; raises the DONE interrupt). */
int aimc_submit_fence(aimc_dev *dev, uint64_t *fence);

/* Queue a raw command descriptor (docs/driver.md) as it is, except that the driver writes
 * its fence and a zero status, and sets FLAG_TO_HOST when the command writes into a buffer
 * object made with AIMC_BO_HOST_READ; for tests and tools that must send what the driver
 * would never build. len must be the descriptor size (64). */
int aimc_submit_raw(aimc_dev *dev, const void *desc, size_t len, uint64_t *fence);

/* Wait until job `fence` has completed, at most timeout_ns (negative: no limit), and
 * finish it. AIMC_OK; AIMC_ERR_TIMEOUT (not done in time, or the device's watchdog halted
 * it); AIMC_ERR_DEVICE when the job failed (the device's error register is decoded into
 * aimc_error_text and cleared; the device stays usable) or the device cannot complete it
 * (a ring error: aimc_reset); AIMC_ERR_ABORTED when aimc_reset ended the job. A fence
 * already finished returns AIMC_OK.
 * The wait ends at its timeout whatever the device does (hung, or on a command of the
 * largest shapes). A simulated device works while the host waits, in pieces between which
 * the wait looks at its clock, so it may end one piece late: a few ms; at most one MVM
 * vector, or a PROGRAM's whole programming, which is one piece (docs/driver.md, "Bounded
 * waits"). A command not done by then goes on at the next wait. */
int aimc_fence_wait(aimc_dev *dev, uint64_t fence, int64_t timeout_ns);

/* aimc_fence_wait without waiting: AIMC_ERR_TIMEOUT while the job is still running. A
 * simulated device is given a moment to progress (as a real one runs meanwhile). */
int aimc_fence_poll(aimc_dev *dev, uint64_t fence);

/* Wait until any of the n fences has completed, at most timeout_ns (negative: no limit), and
 * finish that one: *index receives its position in fences (the lowest when several have).
 * Returns as aimc_fence_wait for that fence (*index names it also when that is an error of
 * the command: DEVICE, ABORTED); AIMC_ERR_INVALID for n 0 or a fence never issued, and
 * AIMC_ERR_TIMEOUT, leave *index unspecified. */
int aimc_fence_wait_any(aimc_dev *dev, const uint64_t *fences, size_t n, int64_t timeout_ns,
                        size_t *index);

int aimc_counters_read(aimc_dev *dev, aimc_counters *c);
/* Every counter but the clock (CNT_TIME) to 0 (CNT_CTRL.RESET). */
int aimc_counters_reset(aimc_dev *dev);
/* out = a - b, counter by counter: what the device did between two reads (b before a). */
void aimc_counters_sub(const aimc_counters *a, const aimc_counters *b, aimc_counters *out);

/* What each matrix and each kind of command did, as a simulated device keeps it (sim:,
 * sysc:, rtl:) since open or reset: kind AIMC_PROFILE_MATRIX with a matrix id (its MVMs,
 * READBACKs and PROGRAMs) or AIMC_PROFILE_OPCODE with an opcode (every command of it): the
 * commands completed, their vectors, their busy cycles and their energy per part (their
 * shares of the counters; descriptor fetches are no command's). AIMC_ERR_UNSUPPORTED on a
 * backend that keeps none (silicon, mock:). */
typedef struct aimc_profile {
    uint64_t commands, vectors, busy_cycles;
    double energy_pj[AIMC_PART_COUNT];
} aimc_profile;
#define AIMC_PROFILE_MATRIX 0
#define AIMC_PROFILE_OPCODE 1
int aimc_profile_read(aimc_dev *dev, int kind, uint32_t id, aimc_profile *out);
/* The name of a descriptor opcode ("mvm", "scale_acc"; common/aimc_regs.yaml), or NULL. */
const char *aimc_opcode_name(uint32_t op);

/* Read the device's sticky error state without clearing it. */
int aimc_error_get(aimc_dev *dev, aimc_dev_error *e);

/* Soft-reset the device and set it up again (ring, interrupts, watchdog): clears sticky
 * errors, a ring error and a watchdog halt. Every job not yet waited for ends: one that had
 * completed keeps its result, the others end as AIMC_ERR_ABORTED. No matrix stays
 * programmed (the device forgets them). */
int aimc_reset(aimc_dev *dev);

/* The last detailed error of dev ("" when none); the pointer stays valid until the next
 * call on dev from any thread. For a NULL dev, a constant text. */
const char *aimc_error_text(aimc_dev *dev);

AIMC_API_END

#endif /* AIMC_H */
