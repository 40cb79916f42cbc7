/* aimc_vp.h - C bindings of the aimc SystemC virtual platform (sim/sysc, docs/sysc.md).
 *
 * A platform is the aimc device module (aimc_sysc_dev) with its DMA socket bound to a memory
 * model holding host memory, its interrupt on a signal, and a host initiator whose register
 * accesses are TLM-2.0 transactions with annotated delays, kept loosely timed by a
 * tlm_utils::tlm_quantumkeeper. Time is SystemC time.
 *
 * SystemC's kernel is one per process and cannot elaborate new modules once simulation has
 * started. So: ONE platform is live per process at a time. The first aimc_vp_create
 * elaborates the modules; they live until the process exits. aimc_vp_destroy frees the
 * device model and unmaps the memory; a later aimc_vp_create gives the same modules a fresh
 * device model (its arch, seed, quantum), as a new platform. SystemC time never goes back:
 * a new platform starts at the time the previous one left. A program that also builds its
 * own SystemC modules must do so before its first aimc_vp_create (or use aimc_sysc_dev in its
 * own platform instead, aimc_sysc.h).
 *
 * Threads: no two calls may run at the same time (one SystemC kernel); a caller with threads
 * serialises them (driver/hal/hal_sysc.c holds a mutex). Every call returns AIMC_OK or a
 * negative AIMC_ERR_* code; no call prints, exits or lets a C++ exception through.
 */
#ifndef AIMC_VP_H
#define AIMC_VP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "aimc_arch.h"
#include "aimc_status.h"

typedef struct aimc_vp aimc_vp;

typedef struct aimc_vp_opts {
    const aimc_arch *arch;       /* NULL: aimc_arch_defaults; the clock period is
                                    1000 / arch->clock.frequency_mhz ns */
    uint64_t seed;               /* the device model's random draws */
    uint64_t quantum_ns;         /* the host's time quantum; 0: AIMC_VP_QUANTUM_NS */
    uint32_t reg_latency_cycles; /* device clocks per register access; 0: 1 */
    int no_dmi;                  /* nonzero: the memory refuses DMI (every DMA is a
                                    b_transport) */
} aimc_vp_opts;

#define AIMC_VP_QUANTUM_NS 1000u /* 1 us, a common LT quantum (docs/sysc.md) */

/* Create the platform (opts NULL: all defaults). AIMC_ERR_STATE if one is live in this
 * process; the device model's errors (AIMC_ERR_INVALID for a bad arch, ...); reason in d. */
int aimc_vp_create(const aimc_vp_opts *opts, aimc_vp **out, aimc_diag *d);
/* The live platform of this process, or NULL: e.g. the one a "sysc:" driver device opened,
 * to read its SystemC time or statistics. */
aimc_vp *aimc_vp_current(void);
/* Free the device model and unmap all memory; the modules stay for the next create. NULL:
 * no-op. */
void aimc_vp_destroy(aimc_vp *vp);

/* Attach n bytes of host memory at device (bus) address addr to the memory model the
 * device's DMA reaches; AIMC_ERR_INVALID for n 0, NULL host, a wrap or an overlap.
 * aimc_vp_mem_unmap removes the region that starts at addr (AIMC_ERR_NOTFOUND if none). */
int aimc_vp_mem_map(aimc_vp *vp, uint64_t addr, void *host, size_t n);
int aimc_vp_mem_unmap(aimc_vp *vp, uint64_t addr);

/* A 32-bit register access at byte offset off: one TLM transaction, its delay annotated
 * to the host's local time (synchronised when the quantum is used up). AIMC_ERR_RANGE if
 * the device answers with an error response (offset outside the window or unaligned). */
int aimc_vp_reg_read32(aimc_vp *vp, uint32_t off, uint32_t *val);
int aimc_vp_reg_write32(aimc_vp *vp, uint32_t off, uint32_t val);

/* Synchronise, then let the device work, SystemC time passing as its clock does, until it
 * raises its interrupt or timeout_ns of SystemC time has passed: AIMC_OK when it raised it,
 * AIMC_ERR_TIMEOUT otherwise. */
int aimc_vp_run(aimc_vp *vp, uint64_t timeout_ns);
/* The interrupt line as the platform's signal has it (after aimc_vp_run or a sync). */
int aimc_vp_irq_level(const aimc_vp *vp);
/* The host's current time in ns: sc_time_stamp() plus its unsynchronised local time. */
uint64_t aimc_vp_time_ns(const aimc_vp *vp);
/* sc_time_stamp() in ns, the kernel's time alone. */
uint64_t aimc_vp_kernel_time_ns(const aimc_vp *vp);
/* Run the kernel up to the host's local time. */
int aimc_vp_sync(aimc_vp *vp);

/* The host wrote [addr, addr + n) of the memory the device reaches (aimc_accel_host_wrote). */
int aimc_vp_host_wrote(aimc_vp *vp, uint64_t addr, uint64_t n);
/* The platform's device model (for aimc_accel_profile), NULL for NULL. */
const struct aimc_accel *aimc_vp_device(const aimc_vp *vp);

/* The device model's fault-injection knob (aimc_accel_inject_hang). */
int aimc_vp_inject_hang(aimc_vp *vp, uint32_t after);

/* Counts since the platform's creation. */
typedef struct aimc_vp_stats {
    uint64_t reg_transactions;  /* register transactions the host sent */
    uint64_t dma_transactions;  /* DMA transactions the device sent (b_transport) */
    uint64_t dma_dmi_accesses;  /* DMA accesses through DMI pointers */
    uint64_t dmi_grants;        /* DMI pointers the memory granted */
    uint64_t syncs;             /* times the quantum keeper made the host synchronise */
} aimc_vp_stats;
int aimc_vp_stats_get(const aimc_vp *vp, aimc_vp_stats *out);

#ifdef __cplusplus
}
#endif

#endif /* AIMC_VP_H */
