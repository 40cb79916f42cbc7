/* hal_pool.c - DMA buffers of a simulated backend (hal_pool.h). */
#include "hal_pool.h"

#include <stdlib.h>
#include <string.h>

#include "aimc_status.h"

void aimc_hal_pool_init(aimc_hal_pool *p)
{
    memset(p, 0, sizeof *p);
    p->next_addr = AIMC_HAL_POOL_BASE;
}

void aimc_hal_pool_fini(aimc_hal_pool *p)
{
    for (size_t i = 0; i < p->n_bufs; i++) free(p->bufs[i].cpu);
    free(p->bufs);
    aimc_hal_pool_init(p);
}

int aimc_hal_pool_alloc(aimc_hal_pool *p, size_t size, void **cpu, uint64_t *dev_addr)
{
    if (size == 0) return AIMC_ERR_INVALID;
    /* the buffer, rounded up to the alignment, plus one unmapped gap */
    if (size > UINT64_MAX / 2) return AIMC_ERR_NOMEM;
    const uint64_t span =
        ((uint64_t)size + 2 * AIMC_HAL_POOL_ALIGN - 1) & ~(AIMC_HAL_POOL_ALIGN - 1);
    if (p->next_addr > UINT64_MAX - span) return AIMC_ERR_NOMEM;
    if (p->n_bufs == p->cap_bufs) {
        size_t cap = p->cap_bufs ? 2 * p->cap_bufs : 16;
        aimc_hal_pool_buf *nb = realloc(p->bufs, cap * sizeof *nb);
        if (!nb) return AIMC_ERR_NOMEM;
        p->bufs = nb;
        p->cap_bufs = cap;
    }
    void *b = calloc(1, size);
    if (!b) return AIMC_ERR_NOMEM;
    p->bufs[p->n_bufs++] = (aimc_hal_pool_buf){b, p->next_addr, size};
    *cpu = b;
    *dev_addr = p->next_addr;
    p->next_addr += span;
    return AIMC_OK;
}

int aimc_hal_pool_free(aimc_hal_pool *p, void *cpu, uint64_t *addr)
{
    if (!cpu) return 0;
    for (size_t i = 0; i < p->n_bufs; i++) {
        if (p->bufs[i].cpu != cpu) continue;
        if (addr) *addr = p->bufs[i].addr;
        free(cpu);
        p->bufs[i] = p->bufs[--p->n_bufs];
        return 1;
    }
    return 0;
}

/* The buffer holding [addr, addr + n), or NULL. */
static aimc_hal_pool_buf *pool_find(aimc_hal_pool *p, uint64_t addr, size_t n)
{
    for (size_t i = 0; i < p->n_bufs; i++) {
        aimc_hal_pool_buf *b = &p->bufs[i];
        if (addr >= b->addr && n <= b->size && addr - b->addr <= b->size - n) return b;
    }
    return NULL;
}

int aimc_hal_pool_read(void *pool, uint64_t addr, void *dst, size_t n)
{
    const aimc_hal_pool_buf *b = pool_find(pool, addr, n);
    if (!b) return AIMC_ERR_RANGE;
    memcpy(dst, (const char *)b->cpu + (addr - b->addr), n);
    return AIMC_OK;
}

int aimc_hal_pool_write(void *pool, uint64_t addr, const void *src, size_t n)
{
    const aimc_hal_pool_buf *b = pool_find(pool, addr, n);
    if (!b) return AIMC_ERR_RANGE;
    memcpy((char *)b->cpu + (addr - b->addr), src, n);
    return AIMC_OK;
}
