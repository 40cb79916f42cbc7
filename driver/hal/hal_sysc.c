/* hal_sysc.c - the "sysc:" driver backend: the device in the SystemC TLM-2.0 virtual
 * platform, through its C bindings (sim/sysc/aimc_vp.h, docs/sysc.md).
 *
 * Registers are TLM transactions with annotated delays; DMA buffers are host allocations
 * mapped into the platform's memory model at addresses of a private device address space
 * (hal_pool.h: 4 KiB aligned, an unmapped gap after each, never 0),
 * so a bad address is an address error the memory answers, seen by the device as a DMA
 * fault. irq_wait lets the device work, SystemC time passing as its clock does, until the
 * interrupt or min(timeout, 1 ms) of SystemC time (the driver loops, as on sim:); time_ns is
 * SystemC time, so the driver's timeouts are simulated time (a 1 s timeout costs no second
 * of wall time). A mutex serialises every call into the platform (SystemC's kernel is one per
 * process), since irq_wait and time_ns run without the driver's lock. One sysc: device may
 * be open per process at a time (aimc_vp.h): a second open fails with AIMC_ERR_STATE.
 *
 * URI: "sysc:" with options separated by ',': "hang_after=N" (the model's fault injection,
 * as sim:), "quantum_ns=N" (the host's time quantum), "reg_latency_cycles=N", "no_dmi".
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_accel.h"
#include "aimc_hal.h"
#include "aimc_vp.h"
#include "hal_pool.h"

#define AIMC_HAL_SYSC_OPT_MAX 64
#define AIMC_HAL_SYSC_WAIT_SLICE_NS 1000000LL /* longest run of SystemC time per irq_wait */

typedef struct hal_sysc {
    pthread_mutex_t lock;
    aimc_vp *vp;
    aimc_hal_pool pool;
} hal_sysc;

static int hal_sysc_parse(const char *rest, aimc_vp_opts *o, unsigned long long *hang_after,
                          aimc_diag *d)
{
    const char *p = rest ? rest : "";
    while (*p) {
        char opt[AIMC_HAL_SYSC_OPT_MAX];
        size_t n = strcspn(p, ",");
        unsigned long long v;
        if (n >= sizeof opt) goto bad;
        memcpy(opt, p, n);
        opt[n] = '\0';
        if (aimc_hal_opt_num(opt, "hang_after", AIMC_ACCEL_HANG_NEVER - 1ull, &v))
            *hang_after = v;
        else if (aimc_hal_opt_num(opt, "quantum_ns", UINT32_MAX, &v) && v > 0)
            o->quantum_ns = v;
        else if (aimc_hal_opt_num(opt, "reg_latency_cycles", UINT32_MAX, &v) && v > 0)
            o->reg_latency_cycles = (uint32_t)v;
        else if (strcmp(opt, "no_dmi") == 0)
            o->no_dmi = 1;
        else
            goto bad;
        p += n;
        if (*p == ',') p++;
    }
    return AIMC_OK;
bad:
    return aimc_diag_set(d, AIMC_ERR_INVALID, "sysc: options are hang_after=N, quantum_ns=N, "
                         "reg_latency_cycles=N, no_dmi (separated by ','), got \"sysc:%s\"",
                         rest);
}

static void hal_sysc_close(void *ctx)
{
    hal_sysc *h = ctx;
    if (!h) return;
    aimc_vp_destroy(h->vp);
    aimc_hal_pool_fini(&h->pool);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static int hal_sysc_open(const char *rest, const aimc_open_opts *opts, void **ctx, aimc_diag *d)
{
    aimc_vp_opts o = {0};
    unsigned long long hang_after = AIMC_ACCEL_HANG_NEVER;
    hal_sysc *h;
    int rc;

    if ((rc = hal_sysc_parse(rest, &o, &hang_after, d)) != AIMC_OK) return rc;
    o.arch = opts ? opts->arch : NULL;
    o.seed = opts ? opts->seed : 0;
    h = calloc(1, sizeof *h);
    if (!h) return aimc_diag_set(d, AIMC_ERR_NOMEM, "sysc: out of memory");
    pthread_mutex_init(&h->lock, NULL);
    aimc_hal_pool_init(&h->pool);
    if ((rc = aimc_vp_create(&o, &h->vp, d)) != AIMC_OK) {
        pthread_mutex_destroy(&h->lock);
        free(h);
        return rc;
    }
    aimc_vp_inject_hang(h->vp, (uint32_t)hang_after);
    *ctx = h;
    return AIMC_OK;
}

static uint32_t hal_sysc_reg_read32(void *ctx, uint32_t off)
{
    hal_sysc *h = ctx;
    uint32_t v = 0;
    pthread_mutex_lock(&h->lock);
    (void)aimc_vp_reg_read32(h->vp, off, &v); /* an error response reads 0, as sim: */
    pthread_mutex_unlock(&h->lock);
    return v;
}

static void hal_sysc_reg_write32(void *ctx, uint32_t off, uint32_t val)
{
    hal_sysc *h = ctx;
    pthread_mutex_lock(&h->lock);
    (void)aimc_vp_reg_write32(h->vp, off, val); /* posted: the device works as SystemC time runs */
    pthread_mutex_unlock(&h->lock);
}

/* A pool buffer, mapped into the platform's memory at its device address. */
static int hal_sysc_dma_alloc_locked(hal_sysc *h, size_t size, void **cpu, uint64_t *dev_addr)
{
    int rc = aimc_hal_pool_alloc(&h->pool, size, cpu, dev_addr);
    if (rc != AIMC_OK) return rc;
    if (aimc_vp_mem_map(h->vp, *dev_addr, *cpu, size) != AIMC_OK) {
        (void)aimc_hal_pool_free(&h->pool, *cpu, NULL);
        return AIMC_ERR_NOMEM;
    }
    (void)aimc_vp_host_wrote(h->vp, *dev_addr, size); /* fresh: in host memory */
    return AIMC_OK;
}

static int hal_sysc_dma_alloc(void *ctx, size_t size, void **cpu, uint64_t *dev_addr)
{
    hal_sysc *h = ctx;
    pthread_mutex_lock(&h->lock);
    int rc = hal_sysc_dma_alloc_locked(h, size, cpu, dev_addr);
    pthread_mutex_unlock(&h->lock);
    return rc;
}

static void hal_sysc_dma_free(void *ctx, void *cpu)
{
    hal_sysc *h = ctx;
    if (!cpu) return;
    pthread_mutex_lock(&h->lock);
    uint64_t addr;
    /* the platform only records the region: unmapping after the free touches no memory */
    if (aimc_hal_pool_free(&h->pool, cpu, &addr)) (void)aimc_vp_mem_unmap(h->vp, addr);
    pthread_mutex_unlock(&h->lock);
}

static void hal_sysc_dma_sync(void *ctx, uint64_t dev_addr, size_t size, int dir)
{
    hal_sysc *h = ctx;
    if (dir != AIMC_SYNC_TO_DEVICE) return;
    pthread_mutex_lock(&h->lock);
    (void)aimc_vp_host_wrote(h->vp, dev_addr, size);
    pthread_mutex_unlock(&h->lock);
}

static int hal_sysc_irq_wait(void *ctx, int64_t timeout_ns)
{
    hal_sysc *h = ctx;
    pthread_mutex_lock(&h->lock);
    int64_t ns = timeout_ns < AIMC_HAL_SYSC_WAIT_SLICE_NS ? timeout_ns : AIMC_HAL_SYSC_WAIT_SLICE_NS;
    int rc = aimc_vp_run(h->vp, ns > 0 ? (uint64_t)ns : 0);
    pthread_mutex_unlock(&h->lock);
    return rc == AIMC_OK ? AIMC_OK : AIMC_ERR_TIMEOUT;
}

static uint64_t hal_sysc_time_ns(void *ctx)
{
    hal_sysc *h = ctx;
    pthread_mutex_lock(&h->lock);
    uint64_t t = aimc_vp_time_ns(h->vp);
    pthread_mutex_unlock(&h->lock);
    return t;
}

/* The device model's profile. */
static int hal_sysc_profile(void *ctx, int kind, uint32_t id, aimc_profile *out)
{
    hal_sysc *h = ctx;
    aimc_accel_prof p;
    pthread_mutex_lock(&h->lock);
    const int rc = aimc_accel_profile(aimc_vp_device(h->vp), kind, id, &p);
    pthread_mutex_unlock(&h->lock);
    if (rc) return rc;
    out->commands = p.commands;
    out->vectors = p.vectors;
    out->busy_cycles = p.busy_cycles;
    for (int q = 0; q < AIMC_PART_COUNT; q++) out->energy_pj[q] = p.energy_pj[q];
    return AIMC_OK;
}

const aimc_hal_ops aimc_hal_sysc_ops = {
    .scheme = "sysc",
    .open = hal_sysc_open,
    .close = hal_sysc_close,
    .reg_read32 = hal_sysc_reg_read32,
    .reg_write32 = hal_sysc_reg_write32,
    .dma_alloc = hal_sysc_dma_alloc,
    .dma_free = hal_sysc_dma_free,
    .dma_sync = hal_sysc_dma_sync,
    .irq_wait = hal_sysc_irq_wait,
    .time_ns = hal_sysc_time_ns,
    .profile = hal_sysc_profile,
};
