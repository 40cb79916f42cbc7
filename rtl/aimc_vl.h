/* aimc_vl.h - C interface to the Verilated RTL of the aimc device's digital control path.
 *
 * The RTL (the SystemVerilog in rtl/, docs/rtl.md) holds the register window, the command
 * processor and its DMA, the tile sequencer and the accumulation engine; Verilator turns it,
 * with the simulation model of the analog half (rtl/sim/), into a C++ model, which this
 * wrapper clocks. The analog arrays and the float units stay in C (the split execution API of
 * sim/device/aimc_accel.h), reached through DPI-C. The host is two callbacks behind the AXI4
 * slave this wrapper puts on the RTL's DMA master: every byte between host memory and the
 * device (descriptors, status words, every operand) crosses it; the C half reads and writes
 * only the operand buffers the RTL fills and drains.
 *
 * Time is the model's clock: nothing happens between calls. A register access takes a few
 * clock cycles (an AXI4-Lite transaction); a DOORBELL write clocks the model until the
 * command processor has nothing left to do (ring drained, or hung, or halted), so commands
 * complete inside the write, as on sim:. aimc_vl_run lets time pass otherwise (the watchdog).
 * One thread at a time per model; different models may run in different threads.
 */
#ifndef AIMC_VL_H
#define AIMC_VL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" { /* the project's C headers carry no linkage of their own */
#endif

#include "aimc_arch.h"
#include "aimc_status.h"

/* Host memory as the device sees it: read/write n bytes at device address addr; 0, or
 * nonzero when [addr, addr + n) is not host memory (a DMA fault; nothing touched then). */
typedef struct aimc_vl_mem {
    void *ctx;
    int (*read)(void *ctx, uint64_t addr, void *dst, size_t n);
    int (*write)(void *ctx, uint64_t addr, const void *src, size_t n);
} aimc_vl_mem;

typedef struct aimc_vl aimc_vl;

/* Largest ADC count per crossbar the RTL's timing tables take, and the largest tile count of
 * one MVM's matrix its tile tables hold (RTL_MAX_ADCS and RTL_MAX_TILES of
 * rtl/aimc_rtl_pkg.sv). A larger matrix's MVM and READBACK end in ERROR.INTERNAL with ERROR_INFO
 * its tile count; sim: has no such limit. */
#define AIMC_VL_MAX_ADCS 256
#define AIMC_VL_MAX_TILES 256

/* Create the model for arch (NULL: defaults) with every random draw of the analog half keyed
 * by seed, reset it (power-on), and leave it idle. AIMC_OK; AIMC_ERR_INVALID (NULL out or
 * mem, an arch the simulator rejects); AIMC_ERR_UNSUPPORTED (an arch the RTL cannot carry:
 * more than AIMC_VL_MAX_ADCS ADCs per crossbar, more than 31 input steps); AIMC_ERR_NOMEM.
 * The reason is in d. */
int aimc_vl_create(const aimc_arch *arch, uint64_t seed, const aimc_vl_mem *mem, aimc_vl **out,
                   aimc_diag *d);

/* Close the waveform if open and free everything. NULL is a no-op. */
void aimc_vl_destroy(aimc_vl *vl);

/* 32-bit register access at byte offset off (common/aimc_regs.h), through the register
 * port. A DOORBELL write returns when the command processor is no longer active. */
uint32_t aimc_vl_reg_read32(aimc_vl *vl, uint32_t off);
void aimc_vl_reg_write32(aimc_vl *vl, uint32_t off, uint32_t val);

/* Let up to `cycles` clock cycles pass, returning early when the interrupt line is (or
 * becomes) asserted; returns the cycles that passed. When nothing can change until a
 * register write (idle, hung without a watchdog), time jumps without clocking. */
uint64_t aimc_vl_run(aimc_vl *vl, uint64_t cycles);

/* Run exactly n clock cycles (tests, waveforms). */
void aimc_vl_clock(aimc_vl *vl, uint64_t n);

/* Host memory latency on the RTL's AXI4 master: an address (AR, AW) is taken only after it
 * has waited `cycles` cycles, and the first read beat and the write response come `cycles`
 * cycles later. 0 (the default): taken at once. It moves no counter: DMA cycles are not
 * CNT_CYCLES. */
void aimc_vl_set_mem_latency(aimc_vl *vl, uint32_t cycles);

/* Reads by the C half (the arrays, the float units) of host bytes the RTL's DMA had not moved
 * into its operand buffers since create: 0 unless the RTL forgot an operand (each was answered
 * as a DMA fault). */
uint64_t aimc_vl_unstaged(const aimc_vl *vl);

/* The interrupt line (1 = asserted). */
int aimc_vl_irq(const aimc_vl *vl);

/* Clock cycles since create (register handshakes included): the host's view of device time.
 * CNT_CYCLES counts only the cycles of the work (docs/rtl.md). */
uint64_t aimc_vl_cycles(const aimc_vl *vl);

/* Picoseconds per clock cycle (1e6 / clock.frequency_mhz, rounded). */
uint64_t aimc_vl_ps_per_cycle(const aimc_vl *vl);

/* Fault injection (as aimc_accel_inject_hang): the command processor hangs after `after`
 * more commands; AIMC_ACCEL_HANG_NEVER (0xFFFFFFFF) disarms. Survives soft resets until fired. */
void aimc_vl_inject_hang(aimc_vl *vl, uint32_t after);
/* The host wrote [addr, addr + n) of its memory (aimc_accel_host_wrote of the C half). */
void aimc_vl_host_wrote(aimc_vl *vl, uint64_t addr, uint64_t n);
/* The C half (for aimc_accel_profile), NULL for NULL. */
const struct aimc_accel *aimc_vl_device(const aimc_vl *vl);

/* Waveform: start writing every signal to an FST file at path (GTKWave opens it), from the
 * current cycle on; AIMC_OK, or AIMC_ERR_IO / AIMC_ERR_STATE (one is open) with the reason
 * in d. trace_close flushes and closes it (no-op when none is open). */
int aimc_vl_trace_open(aimc_vl *vl, const char *path, aimc_diag *d);
void aimc_vl_trace_close(aimc_vl *vl);

#ifdef __cplusplus
}
#endif

#endif /* AIMC_VL_H */
