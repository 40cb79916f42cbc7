/* aimc_accel.h - the register-level aimc accelerator: register file, command processor, DMA,
 * interrupt and watchdog, over the analog values of aimc_xbar.h, keeping time on the
 * discrete-event engine (aimc_engine.h) with the durations of the cost layer (aimc_cost.h).
 *
 * The model follows docs/driver.md (register map: common/aimc_regs.h, whose doc texts are the
 * register semantics). A device is a state struct plus reg_read32/reg_write32 on it, in the
 * manner of a QEMU device model; the host side (a driver backend, a test, the SystemC
 * wrapper) is reached only through the callbacks given at creation.
 *
 * Time (docs/engine.md, "The device owns time"): the device has its own clock (CNT_TIME).
 * A DOORBELL write only schedules the command processor; nothing runs inside a register
 * access. aimc_accel_run() lets the device work: it fetches descriptors by DMA, executes
 * each command's values in ring order when it is fetched, and books the command's work
 * (transfers, crossbar pipelines, digital units) on the machine's resources, so that
 * independent commands overlap and commands that share a resource or data wait for each
 * other. A command completes when its work ends: the device writes its status word (with
 * AIMC_DESC_STATUS_DONE) and raises the interrupt then; commands may complete out of order,
 * RING_HEAD and DONE_FENCE advance over the completed prefix of the ring.
 *
 * Host time (docs/engine.md, "How work is bounded"): a command's values work is done in
 * pieces of about 2^20 operations (a few ms), one per aimc_accel_run call. While a command
 * is being dispatched no event runs and the clock stands still, so the results, times and
 * energies are those of a dispatch done at once; a host that looks at its clock between
 * calls (driver/hal/hal_sim.c) never waits more than a piece past its timeout. The floors: a
 * piece holds at least one MVM vector, and a PROGRAM's programming is one piece.
 *
 * Whatever the host writes, the device never crashes, never prints and never exits: a bad
 * command sets ERROR bits, writes its status into the descriptor, completes and raises the
 * error interrupt; the next command works.
 */
#ifndef AIMC_ACCEL_H
#define AIMC_ACCEL_H

#include <stddef.h>
#include <stdint.h>

#include "aimc_arch.h"
#include "aimc_status.h"

typedef struct aimc_xbar_mvm_run aimc_xbar_mvm_run; /* aimc_xbar.h */

/* The device's view of its host. dma_read copies n bytes at device address dev_addr into
 * dst, dma_write copies n bytes from src to dev_addr; each returns 0, or a nonzero value
 * when [dev_addr, dev_addr + n) is not host memory the device may touch (a DMA fault; the
 * callback must then not touch dst / host memory). irq(ctx, level) is called when the
 * interrupt line changes: level 1 = asserted. Any callback may be NULL: DMA then always
 * faults, the interrupt goes nowhere. */
typedef struct aimc_accel_host {
    void *ctx;
    int (*dma_read)(void *ctx, uint64_t dev_addr, void *dst, size_t n);
    int (*dma_write)(void *ctx, uint64_t dev_addr, const void *src, size_t n);
    void (*irq)(void *ctx, int level);
} aimc_accel_host;

typedef struct aimc_accel aimc_accel;

/* How the model runs. Zero-initialised: values computed, energy from the data. */
typedef struct aimc_accel_opts {
    int timing_only;        /* 1: time and energy only (CAP_FLAGS.TIMING_ONLY): no weights are
                             * held, no outputs written; the DAC and array energy come from
                             * the assumed activity (aimc_cost_mvm_activity) */
    int activity_assumed;   /* 1: with values too, take the DAC and array energy from the
                             * assumed activity, as a timing-only run does */
    const char *trace_path; /* Chrome trace-event JSON of every resource's busy intervals
                             * (written until destroy or reset); NULL: none */
} aimc_accel_opts;

/* Create a device simulating arch (NULL: aimc_arch_defaults) with every random draw keyed
 * by seed; host and opts (NULL: defaults) are copied. The device starts as after
 * aimc_accel_reset: disabled, no matrices, counters 0, clock 0. Returns AIMC_OK,
 * AIMC_ERR_INVALID (NULL out or host, or an arch the value model rejects; reason in d),
 * AIMC_ERR_UNSUPPORTED, AIMC_ERR_IO (the trace file) or AIMC_ERR_NOMEM. */
int aimc_accel_create(const aimc_arch *arch, uint64_t seed, const aimc_accel_host *host,
                      const aimc_accel_opts *opts, aimc_accel **out, aimc_diag *d);

/* Free the device (finishing its trace file). NULL is a no-op. Host memory is not touched. */
void aimc_accel_destroy(aimc_accel *dev);

/* Reset, as writing CTRL.SOFT_RESET does: every register to its reset value (CTRL, ERROR,
 * ERROR_FENCE, ERROR_INFO, IRQ_STATUS, IRQ_MASK, ring registers, DONE_FENCE, the counters
 * and the clock 0), every command in flight dropped (no later write to host memory), and the
 * machine recreated with the same arch and seed, so no matrix is programmed and later
 * results are as from a fresh device. The interrupt line drops. Should recreating the
 * machine fail (out of memory), STATUS.READY stays 0 and every command fails with
 * ERROR_INTERNAL. */
void aimc_accel_reset(aimc_accel *dev);

/* Register access at byte offset off (aimc_regs.h). Unknown or unaligned offsets read 0 and
 * ignore writes; writes to read-only registers are ignored. A DOORBELL write schedules the
 * command processor; commands run in aimc_accel_run. */
uint32_t aimc_accel_reg_read32(aimc_accel *dev, uint32_t off);
void aimc_accel_reg_write32(aimc_accel *dev, uint32_t off, uint32_t val);

/* A register read without side effects (the LO/HI latch stays as it was): a debugger's
 * view, for SystemC's debug transport. */
uint32_t aimc_accel_reg_peek32(aimc_accel *dev, uint32_t off);

/* The interrupt line: 1 when IRQ_STATUS & IRQ_MASK is nonzero. */
int aimc_accel_irq_level(const aimc_accel *dev);

/* ---- time ---- */

/* The device clock (CNT_TIME), cycles of clock.frequency_mhz since the last reset. */
uint64_t aimc_accel_now(const aimc_accel *dev);

/* What aimc_accel_run found. */
enum {
    AIMC_ACCEL_IRQ = 1,  /* the interrupt line is asserted */
    AIMC_ACCEL_MORE = 0, /* max_events ran; more are scheduled */
    AIMC_ACCEL_IDLE = -1 /* nothing is scheduled: the device waits for the host (or is hung) */
};

/* Let the device work: execute its scheduled events in time order (all events of one cycle
 * at a time) until one raises an interrupt cause while the line is asserted, max_events
 * (>= 1) cycles with events have run, a piece of values work is done, or none is left. The
 * clock advances to each event's time. A dispatch that needs more than the piece stops
 * there (AIMC_ACCEL_MORE) and goes on at the next call, before any other event. Returns
 * AIMC_ACCEL_IRQ, AIMC_ACCEL_MORE or AIMC_ACCEL_IDLE (also for a NULL device). A line
 * already asserted when it is called (an error not yet cleared) does not stop it: only a
 * new cause does. */
int aimc_accel_run(aimc_accel *dev, uint64_t max_events);

/* Time passes with nothing scheduled: ns nanoseconds of idle device time (the host waits
 * on a device that has no work it can do, e.g. a hung one). With commands pending the clock
 * runs on, and with WATCHDOG_US nonzero that much such time halts the device
 * (STATUS.HALTED, ERROR.WATCHDOG, IRQ_STATUS.ERROR) until a soft reset. Does nothing while
 * events are scheduled (returns AIMC_ACCEL_MORE); AIMC_ACCEL_IRQ when the watchdog raised
 * the interrupt, else AIMC_ACCEL_IDLE. A device in the middle of a dispatch is busy, not
 * idle: AIMC_ACCEL_MORE, no time passes. */
int aimc_accel_advance(aimc_accel *dev, uint64_t ns);

/* The cycle of the next scheduled event, UINT64_MAX when none is (also for NULL); the
 * current cycle while a dispatch is under way. */
uint64_t aimc_accel_next_event(const aimc_accel *dev);

/* Time passes up to `cycle` (a clock that follows another's, as in a SystemC platform): the
 * events due by then run, in time order, and the clock is at `cycle` (a `cycle` in the past
 * changes nothing). Time the device spends waiting with commands pending and nothing
 * scheduled counts towards the watchdog, as in aimc_accel_advance. A dispatch under way
 * (or one that an event starts) completes first, piece after piece, however long it takes.
 * Returns as aimc_accel_run. */
int aimc_accel_advance_to(aimc_accel *dev, uint64_t cycle);

/* ---- host memory ---- */

/* The host wrote [addr, addr + bytes) (or allocated it afresh): commands that read it fetch
 * it from host memory over the host link, not from a chip buffer that held an older copy. */
void aimc_accel_host_wrote(aimc_accel *dev, uint64_t addr, uint64_t bytes);

/* ---- profile: what each matrix and each kind of command did (a simulator's view) ---- */

/* Since creation or a soft reset (not CNT_CTRL): per matrix id (MVM, READBACK and PROGRAM on
 * it) or per opcode (every command of it), the commands completed, the vectors they ran
 * (MVM, READBACK), their busy cycles (their share of CNT_CYCLES) and their energy per part
 * (their share of the energy counters; descriptor fetches belong to no command). */
#define AIMC_ACCEL_PROF_OPS 16
typedef struct aimc_accel_prof {
    uint64_t commands, vectors, busy_cycles;
    double energy_pj[AIMC_PART_COUNT];
} aimc_accel_prof;
enum { AIMC_ACCEL_PROF_MATRIX = 0, AIMC_ACCEL_PROF_OPCODE = 1 };
/* The entry of matrix `id` or opcode `id` into *out (zeros for one never used). AIMC_OK, or
 * AIMC_ERR_INVALID (NULL, an unknown kind, an opcode >= AIMC_ACCEL_PROF_OPS). */
int aimc_accel_profile(const aimc_accel *dev, int kind, uint32_t id, aimc_accel_prof *out);

/* ---- fault injection, a knob of the model (silicon has none; no register reaches it) ----
 * After `after` more commands have been fetched, the command processor hangs: it fetches no
 * further command, DONE_FENCE stops, STATUS.BUSY reads 1, and only the watchdog or a soft
 * reset ends it. The knob fires once; a soft reset ends a hang but leaves a knob that has
 * not fired armed (so it can be set before the driver's open-time reset).
 * AIMC_ACCEL_HANG_NEVER disarms it. */
#define AIMC_ACCEL_HANG_NEVER UINT32_MAX
void aimc_accel_inject_hang(aimc_accel *dev, uint32_t after);

/* ---- timed DMA: a host that issues DMA at the device's times (the SystemC module) ----
 * The device computes a command's results when it dispatches the command and hands them to
 * dma_write then. Inside a DMA callback, aimc_accel_dma_slot() is the ring slot of the
 * command whose dispatch made the call (its operands and results), or -1 (a descriptor
 * fetch, a status word, split execution). A host may hold such writes back; with a hook
 * set, done(host ctx, slot) is called when that command's work has ended (its results are
 * at the host in the device's timing, before its status word travels): the host writes
 * them then. A nonzero return is a DMA fault of the command (ERROR.DMA_FAULT in its status
 * word and ERROR; ERROR_INFO 0 if it is the first error). NULL removes the hook; a soft reset
 * keeps it. */
typedef int (*aimc_accel_done_fn)(void *ctx, uint32_t slot);
void aimc_accel_set_done_hook(aimc_accel *dev, aimc_accel_done_fn done);
int64_t aimc_accel_dma_slot(const aimc_accel *dev);

/* ---- split execution: the device's C half under a command processor elsewhere ----
 * The RTL of the digital control path (rtl/, docs/rtl.md) fetches and checks descriptors,
 * sequences tiles and shift-and-adds in its own logic, keeps its own clock, and reaches the
 * rest of the device through these: the analog arrays, the float units (digital commands,
 * input and output scaling), data DMA through the host callbacks, and the counters the RTL
 * does not hold (the energy of every part, from the same cost layer as aimc_accel_run's).
 * The ring registers, ERROR, IRQ, the watchdog and the clock of this struct are unused then. */
typedef struct aimc_accel_cmd {
    int kind;             /* 0: executed here; 1: an analog job (MVM, READBACK) to sequence */
    int computed;         /* kind 0: a digital command did its work (its ops are due) */
    uint32_t n_vec;       /* kind 1: input vectors */
    uint32_t n_tiles;     /* kind 1: tiles (aimc_xbar_mvm_run_tile order) */
    uint64_t busy_cycles; /* kind 0: a PROGRAM's programming cycles; else 0 */
} aimc_accel_cmd;

/* Start the command in desc (64 bytes) as the command processor would execute it: the ERROR
 * bits (0 = accepted) with the detail in *info. A kind 0 command's values are computed here,
 * whole (no pieces). A kind 1 job stays open until cmd_finish or
 * cmd_abort (starting another command aborts it). */
uint32_t aimc_accel_cmd_start(aimc_accel *dev, const uint8_t *desc, uint32_t *info,
                              aimc_accel_cmd *c);
/* The control path's own port moved `bytes` between host memory and the device (descriptor
 * fetches, status words): their energy on the host link, as the command processor's fetch
 * and completion count it. */
void aimc_accel_split_host_bytes(aimc_accel *dev, uint64_t bytes);
/* The largest tile count of a kind 1 job (the control path's tile table; 0, the default: no
 * limit): cmd_start refuses a bigger one with ERROR.INTERNAL, info = its tile count, after the
 * checks and before the arrays run. */
void aimc_accel_set_job_tiles_max(aimc_accel *dev, uint32_t max_tiles);
/* The open job's ADC codes and shift-and-add results (aimc_xbar.h); NULL when none. */
aimc_xbar_mvm_run *aimc_accel_cmd_job(aimc_accel *dev);
/* Finish the open job: outputs from its shift-and-add results, stored to host memory.
 * ERROR bits (DMA_FAULT: the output address; INTERNAL: no job) and *info. */
uint32_t aimc_accel_cmd_finish(aimc_accel *dev, uint32_t *info);
void aimc_accel_cmd_abort(aimc_accel *dev);
/* The 64-bit counter register whose LO half is at lo_off, from this struct's counters. */
uint64_t aimc_accel_counter(const aimc_accel *dev, uint32_t lo_off);
void aimc_accel_counters_reset(aimc_accel *dev);
/* The machine recreated (no matrix programmed) and the counters 0, as a soft reset does to
 * them. AIMC_OK, or AIMC_ERR_NOMEM (then every command fails with ERROR.INTERNAL). */
int aimc_accel_machine_reset(aimc_accel *dev);
const aimc_arch *aimc_accel_arch(const aimc_accel *dev);

#endif /* AIMC_ACCEL_H */
