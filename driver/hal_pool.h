/* hal_pool.h - DMA buffers of a simulated backend: host allocations at addresses of a private
 * device address space.
 *
 * Internal to the driver's backends (sim:, sysc:, rtl:). A buffer of n bytes gets the next
 * address from AIMC_HAL_POOL_BASE up, 4 KiB aligned, with an unmapped 4 KiB gap after it
 * and never 0, so an address a device computes wrongly lands in a gap or outside every
 * buffer: a DMA fault the device sees, never a host crash. Not thread-safe: the backend
 * holds its lock around every call.
 */
#ifndef AIMC_HAL_POOL_H
#define AIMC_HAL_POOL_H

#include <stddef.h>
#include <stdint.h>

#define AIMC_HAL_POOL_BASE 0x100000000ull
#define AIMC_HAL_POOL_ALIGN 4096ull

typedef struct aimc_hal_pool_buf {
    void *cpu;
    uint64_t addr;
    size_t size;
} aimc_hal_pool_buf;

typedef struct aimc_hal_pool {
    aimc_hal_pool_buf *bufs;
    size_t n_bufs, cap_bufs;
    uint64_t next_addr;
} aimc_hal_pool;

void aimc_hal_pool_init(aimc_hal_pool *p);
/* Free every buffer and the table. */
void aimc_hal_pool_fini(aimc_hal_pool *p);

/* A zero-filled buffer of size bytes: AIMC_OK with *cpu and *dev_addr, AIMC_ERR_INVALID
 * (size 0) or AIMC_ERR_NOMEM. */
int aimc_hal_pool_alloc(aimc_hal_pool *p, size_t size, void **cpu, uint64_t *dev_addr);

/* Forget the buffer whose CPU address is cpu and free it; its device address in *addr (when
 * addr is not NULL). 1 when it was there, 0 otherwise (NULL cpu: 0). */
int aimc_hal_pool_free(aimc_hal_pool *p, void *cpu, uint64_t *addr);

/* Copy n bytes at device address addr out of (read) or into (write) the pool: AIMC_OK, or
 * AIMC_ERR_RANGE when [addr, addr + n) is not inside one buffer. The signatures of the
 * devices' DMA callbacks, with the pool as ctx. */
int aimc_hal_pool_read(void *pool, uint64_t addr, void *dst, size_t n);
int aimc_hal_pool_write(void *pool, uint64_t addr, const void *src, size_t n);

#endif /* AIMC_HAL_POOL_H */
