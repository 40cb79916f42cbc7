/* aimc_device.h - the register-level aimc device: register file, command ring processor,
 * DMA and interrupt, over the analog machine of aimc_xbar.h.
 *
 * The model follows docs/driver.md (register map: common/aimc_regs.h). A device is a state
 * struct plus reg_read32/reg_write32 on it, in the manner of a QEMU device model; the host
 * side (a driver backend, a test, later a SystemC wrapper) is reached only through the
 * callbacks given at creation. Commands are processed synchronously when the DOORBELL
 * register is written. The register semantics are the doc texts of common/aimc_regs.yaml
 * (docs/registers.md); this is the one device model (the SystemC and RTL models follow it). Whatever the host writes, the device never crashes, never prints
 * and never exits: a bad command sets ERROR bits, writes its status into the descriptor,
 * completes (DONE_FENCE advances) and raises the error interrupt; the next command works.
 */
#ifndef AIMC_DEVICE_H
#define AIMC_DEVICE_H

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

/* Create a device simulating arch (NULL: aimc_arch_defaults) with every random draw keyed
 * by seed; host is copied. The device starts as after aimc_accel_reset: disabled, no
 * matrices, counters 0. Returns AIMC_OK, AIMC_ERR_INVALID (NULL out or host, or an arch
 * aimc_xbar_create rejects; reason in d), AIMC_ERR_UNSUPPORTED or AIMC_ERR_NOMEM. */
int aimc_accel_create(const aimc_arch *arch, uint64_t seed, const aimc_accel_host *host,
                        aimc_accel **out, aimc_diag *d);

/* Free the device and its machine. NULL is a no-op. Host memory is not touched. */
void aimc_accel_destroy(aimc_accel *dev);

/* Reset, as writing CTRL.SOFT_RESET does: every register to its reset value (CTRL,
 * ERROR, ERROR_FENCE, ERROR_INFO, IRQ_STATUS, IRQ_MASK, ring registers, DONE_FENCE and the
 * counters 0), and the machine recreated with the same arch and seed, so no matrix is
 * programmed and later results are as from a fresh device. The interrupt line drops.
 * Should recreating the machine fail (out of memory), STATUS.READY stays 0 and every
 * command fails with ERROR_INTERNAL. */
void aimc_accel_reset(aimc_accel *dev);

/* Register access at byte offset off (aimc_regs.h). Unknown or unaligned offsets read 0 and
 * ignore writes; writes to read-only registers are ignored. A DOORBELL write runs every
 * command from RING_HEAD to RING_TAIL before it returns. */
uint32_t aimc_accel_reg_read32(aimc_accel *dev, uint32_t off);
void aimc_accel_reg_write32(aimc_accel *dev, uint32_t off, uint32_t val);

/* The interrupt line: 1 when IRQ_STATUS & IRQ_MASK is nonzero. */
int aimc_accel_irq_level(const aimc_accel *dev);

/* The device's cycle counter (CNT_CYCLES) without touching the LO/HI latch: a wrapper
 * (sim/sysc) reads it around a DOORBELL write to time the commands. NULL: 0. */
uint64_t aimc_accel_cycles(const aimc_accel *dev);

/* A register read without side effects (the LO/HI latch stays as it was): a debugger's
 * view, for SystemC's debug transport. */
uint32_t aimc_accel_reg_peek32(aimc_accel *dev, uint32_t off);

/* Device time passes: ns nanoseconds of wall time while the host waits (hal_sim calls it
 * from irq_wait). Commands run inside the DOORBELL write, so time matters only to the
 * watchdog: with WATCHDOG_US nonzero, commands pending and no command consumed for that
 * long, the device halts (STATUS.HALTED, ERROR.WATCHDOG, IRQ_STATUS.ERROR) until a soft
 * reset. */
void aimc_accel_advance(aimc_accel *dev, uint64_t ns);

/* Fault injection, a knob of the model (silicon has none; no register reaches it): after
 * `after` more commands have been consumed, the command processor hangs: it consumes no
 * further command, DONE_FENCE stops, STATUS.BUSY reads 1, and only the watchdog or a soft
 * reset ends it. The knob fires once; a soft reset ends a hang but leaves a knob that has
 * not fired armed (so it can be set before the driver's open-time reset).
 * AIMC_ACCEL_HANG_NEVER disarms it. */
#define AIMC_ACCEL_HANG_NEVER UINT32_MAX
void aimc_accel_inject_hang(aimc_accel *dev, uint32_t after);

/* ---- split execution: the device's C half under a command processor elsewhere ----
 * The RTL of the digital control path (rtl/, docs/rtl.md) fetches and checks descriptors,
 * sequences tiles and shift-and-adds in its own logic, and reaches the rest of the device
 * through these: the analog arrays, the float units (digital commands, input and output
 * scaling), data DMA through the host callbacks, and the counters the RTL does not hold.
 * The ring registers, ERROR, IRQ and the watchdog of this struct are unused then. */
typedef struct aimc_accel_cmd {
    int kind;             /* 0: executed here; 1: an analog job (MVM, READBACK) to sequence */
    int computed;         /* kind 0: a digital command did its work (its ops are due) */
    uint32_t n_vec;       /* kind 1: input vectors */
    uint32_t n_tiles;     /* kind 1: tiles (aimc_xbar_mvm_run_tile order) */
    uint64_t busy_cycles; /* kind 0: a PROGRAM's programming cycles; else 0 */
} aimc_accel_cmd;

/* Start the command in desc (64 bytes) as process_ring would execute it: the ERROR bits (0
 * = accepted) with the detail in *info. A kind 1 job stays open until cmd_finish or
 * cmd_abort (starting another command aborts it). */
uint32_t aimc_accel_cmd_start(aimc_accel *dev, const uint8_t *desc, uint32_t *info,
                                aimc_accel_cmd *c);
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

#endif /* AIMC_DEVICE_H */
