/* aimc_hal.h - the driver's hardware abstraction layer: what a backend provides.
 *
 * Internal to the driver (not public API). The driver core (driver.c) reaches a device only
 * through one aimc_hal_ops table; a backend (hal_sim.c, hal_mock.c, hal_uio.c, hal_sysc.c,
 * hal_rtl.c) implements the table and nothing else. aimc_open() picks the backend whose
 * scheme matches the URI's part before the first ':' and passes it the rest of the URI.
 *
 * Threads: the driver calls every op except irq_wait and time_ns with its device lock
 * held, so those never run concurrently on one ctx; irq_wait and time_ns are called
 * without it (a waiter must not block submitters) and must be safe against the others.
 */
#ifndef AIMC_HAL_H
#define AIMC_HAL_H

#include <stddef.h>
#include <stdint.h>

#include "aimc.h"

typedef struct aimc_hal_ops {
    const char *scheme; /* URI scheme without ':', e.g. "sim" */

    /* Open the device named by rest (the URI after "scheme:"); *ctx receives the backend's
     * state. AIMC_OK or a negative code with the reason in d. */
    int (*open)(const char *rest, const aimc_open_opts *opts, void **ctx, aimc_diag *d);
    /* Release everything open made, including DMA buffers still allocated. */
    void (*close)(void *ctx);

    /* 32-bit register access at a byte offset of the register window (aimc_regs.h). */
    uint32_t (*reg_read32)(void *ctx, uint32_t off);
    void (*reg_write32)(void *ctx, uint32_t off, uint32_t val);

    /* A buffer of size bytes that both the CPU (*cpu) and the device (*dev_addr, never 0)
     * can reach, zero-filled. AIMC_OK, AIMC_ERR_INVALID (size 0) or AIMC_ERR_NOMEM. */
    int (*dma_alloc)(void *ctx, size_t size, void **cpu, uint64_t *dev_addr);
    /* Free a dma_alloc buffer given its CPU pointer; NULL is a no-op. */
    void (*dma_free)(void *ctx, void *cpu);
    /* Optional (NULL: nothing to do): the host is about to hand [dev_addr, dev_addr + size)
     * to the device (AIMC_SYNC_TO_DEVICE: it wrote it) or to read it (FROM_DEVICE). A
     * simulated device learns there that its own copy of the range is stale. */
    void (*dma_sync)(void *ctx, uint64_t dev_addr, size_t size, int dir);

    /* Wait at most timeout_ns (>= 0) for the interrupt line to be asserted. AIMC_OK when it
     * is, AIMC_ERR_TIMEOUT otherwise. The caller acknowledges in IRQ_STATUS. A simulated
     * device works in here (with timeout 0 too: a poll lets it progress). */
    int (*irq_wait)(void *ctx, int64_t timeout_ns);
    /* A monotonic clock in ns, for timeouts. */
    uint64_t (*time_ns)(void *ctx);
    /* Optional (NULL: AIMC_ERR_UNSUPPORTED): aimc_profile_read's entry. */
    int (*profile)(void *ctx, int kind, uint32_t id, aimc_profile *out);
} aimc_hal_ops;

/* The backends. A new backend adds its table here and in driver.c's list. */
extern const aimc_hal_ops aimc_hal_sim_ops;  /* "sim:" (hal_sim.c) */
extern const aimc_hal_ops aimc_hal_mock_ops; /* "mock:" (hal_mock.c) */
extern const aimc_hal_ops aimc_hal_uio_ops;  /* "uio:" (hal_uio.c) */
extern const aimc_hal_ops aimc_hal_sysc_ops; /* "sysc:" (hal_sysc.c, sim/sysc/aimc_vp.h) */
extern const aimc_hal_ops aimc_hal_rtl_ops;  /* "rtl:" (hal_rtl.c, rtl/aimc_vl.h) */

/* The backend state of dev when its backend is hal, else NULL: for a backend's own test
 * hooks (aimc_mock.h). */
void *aimc_drv_backend_ctx(aimc_dev *dev, const aimc_hal_ops *hal);

/* One "key=N" option of a backend's URI (N decimal, in [0, max]): 1 with *v; 0 when opt is
 * another key or N is not such a number. */
int aimc_hal_opt_num(const char *opt, const char *key, unsigned long long max,
                     unsigned long long *v);

#endif /* AIMC_HAL_H */
