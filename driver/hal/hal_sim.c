/* hal_sim.c - the "sim:" driver backend: the accelerator model (sim/device/aimc_accel.h)
 * in-process.
 *
 * Registers are function calls into the model. DMA buffers are host allocations given
 * addresses in a private device address space (hal_pool.h: 4 KiB aligned, an unmapped gap
 * after each buffer, never 0); the device's DMA callbacks translate device addresses back
 * with bounds checks, so a bad address is a DMA fault seen by the device, never a host
 * crash. The interrupt line is a flag set by the device's irq callback.
 *
 * The device works only when the host waits (irq_wait): it runs its events, in simulated
 * time, until its interrupt line rises, between checks of the wall clock so that a wait
 * returns within its timeout: each aimc_accel_run call does at most AIMC_HAL_SIM_EVENTS
 * cycles of events or one piece of a command's values work (docs/engine.md, "How work is
 * bounded"), so a wait ends at most one piece late. A device with nothing scheduled (idle, or hung) lets the
 * waited wall time pass as idle device time (its watchdog's). So every result and every
 * simulated time depends only on the sequence of register accesses, never on the host's
 * speed. A mutex guards the device and the buffer list, since irq_wait runs without the
 * driver's lock.
 *
 * URI: "sim:" or "sim:hang_after=N" (fault injection: the device's command processor hangs
 * after N commands, aimc_accel_inject_hang; the hung-device tests use it).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aimc_accel.h"
#include "aimc_hal.h"
#include "hal_pool.h"

#define AIMC_HAL_SIM_WAIT_SLICE_NS 1000000LL
#define AIMC_HAL_SIM_EVENTS 256 /* events between two looks at the wall clock */

typedef struct hal_sim {
    pthread_mutex_t lock;
    aimc_accel *dev;
    aimc_hal_pool pool;
    int irq_level; /* the device's interrupt line, as its callback last set it */
} hal_sim;

static int hal_sim_dma_read_cb(void *ctx, uint64_t addr, void *dst, size_t n)
{
    return aimc_hal_pool_read(&((hal_sim *)ctx)->pool, addr, dst, n);
}

static int hal_sim_dma_write_cb(void *ctx, uint64_t addr, const void *src, size_t n)
{
    return aimc_hal_pool_write(&((hal_sim *)ctx)->pool, addr, src, n);
}

static void hal_sim_irq_cb(void *ctx, int level)
{
    ((hal_sim *)ctx)->irq_level = level;
}

static void hal_sim_close(void *ctx)
{
    hal_sim *h = ctx;
    if (!h) return;
    aimc_accel_destroy(h->dev);
    aimc_hal_pool_fini(&h->pool);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static int hal_sim_open(const char *rest, const aimc_open_opts *opts, void **ctx, aimc_diag *d)
{
    hal_sim *h;
    aimc_accel_host host;
    unsigned long hang_after = AIMC_ACCEL_HANG_NEVER;
    int rc, used = 0;

    if (rest && rest[0] &&
        (sscanf(rest, "hang_after=%lu%n", &hang_after, &used) != 1 || rest[used] ||
         hang_after >= AIMC_ACCEL_HANG_NEVER))
        return aimc_diag_set(d, AIMC_ERR_INVALID, "sim: takes no path or \"hang_after=N\", "
                             "got \"sim:%s\"", rest);
    h = calloc(1, sizeof *h);
    if (!h) return aimc_diag_set(d, AIMC_ERR_NOMEM, "sim: out of memory");
    pthread_mutex_init(&h->lock, NULL);
    aimc_hal_pool_init(&h->pool);
    host.ctx = h;
    host.dma_read = hal_sim_dma_read_cb;
    host.dma_write = hal_sim_dma_write_cb;
    host.irq = hal_sim_irq_cb;
    aimc_accel_opts ao = {0};
    if (opts) {
        ao.timing_only = opts->timing_only;
        ao.activity_assumed = opts->activity_assumed;
        ao.trace_path = opts->trace_path;
    }
    rc = aimc_accel_create(opts ? opts->arch : NULL, opts ? opts->seed : 0, &host, &ao, &h->dev,
                           d);
    if (rc != AIMC_OK) {
        pthread_mutex_destroy(&h->lock);
        free(h);
        return rc;
    }
    aimc_accel_inject_hang(h->dev, (uint32_t)hang_after);
    *ctx = h;
    return AIMC_OK;
}

static uint32_t hal_sim_reg_read32(void *ctx, uint32_t off)
{
    hal_sim *h = ctx;
    pthread_mutex_lock(&h->lock);
    uint32_t v = aimc_accel_reg_read32(h->dev, off);
    pthread_mutex_unlock(&h->lock);
    return v;
}

static void hal_sim_reg_write32(void *ctx, uint32_t off, uint32_t val)
{
    hal_sim *h = ctx;
    pthread_mutex_lock(&h->lock);
    aimc_accel_reg_write32(h->dev, off, val);
    pthread_mutex_unlock(&h->lock);
}

static int hal_sim_dma_alloc(void *ctx, size_t size, void **cpu, uint64_t *dev_addr)
{
    hal_sim *h = ctx;
    pthread_mutex_lock(&h->lock);
    int rc = aimc_hal_pool_alloc(&h->pool, size, cpu, dev_addr);
    /* a fresh buffer lies in host memory, whatever the device last wrote at its address */
    if (rc == AIMC_OK) aimc_accel_host_wrote(h->dev, *dev_addr, size);
    pthread_mutex_unlock(&h->lock);
    return rc;
}

static void hal_sim_dma_free(void *ctx, void *cpu)
{
    hal_sim *h = ctx;
    if (!cpu) return;
    pthread_mutex_lock(&h->lock);
    (void)aimc_hal_pool_free(&h->pool, cpu, NULL);
    pthread_mutex_unlock(&h->lock);
}

static void hal_sim_dma_sync(void *ctx, uint64_t dev_addr, size_t size, int dir)
{
    hal_sim *h = ctx;
    if (dir != AIMC_SYNC_TO_DEVICE) return;
    pthread_mutex_lock(&h->lock);
    aimc_accel_host_wrote(h->dev, dev_addr, size);
    pthread_mutex_unlock(&h->lock);
}

static uint64_t hal_sim_time_ns(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int hal_sim_irq_wait(void *ctx, int64_t timeout_ns)
{
    hal_sim *h = ctx;
    const uint64_t start = hal_sim_time_ns(ctx);
    const uint64_t deadline = start + (uint64_t)(timeout_ns > 0 ? timeout_ns : 0);
    for (;;) {
        pthread_mutex_lock(&h->lock);
        int r = aimc_accel_run(h->dev, AIMC_HAL_SIM_EVENTS);
        pthread_mutex_unlock(&h->lock);
        if (r == AIMC_ACCEL_IRQ) return AIMC_OK;
        const uint64_t now = hal_sim_time_ns(ctx);
        if (r == AIMC_ACCEL_IDLE) {
            /* Nothing the device can do: the waited time passes as idle device time. */
            int64_t ns = now < deadline ? (int64_t)(deadline - now) : 0;
            if (ns > AIMC_HAL_SIM_WAIT_SLICE_NS) ns = AIMC_HAL_SIM_WAIT_SLICE_NS;
            if (ns > 0) {
                struct timespec ts = {0, (long)ns};
                nanosleep(&ts, NULL);
            }
            pthread_mutex_lock(&h->lock);
            r = ns > 0 ? aimc_accel_advance(h->dev, (uint64_t)ns) : AIMC_ACCEL_IDLE;
            pthread_mutex_unlock(&h->lock);
            return r == AIMC_ACCEL_IRQ ? AIMC_OK : AIMC_ERR_TIMEOUT;
        }
        if (now >= deadline) return AIMC_ERR_TIMEOUT;
    }
}

/* The device model's profile. */
static int hal_sim_profile(void *ctx, int kind, uint32_t id, aimc_profile *out)
{
    hal_sim *h = ctx;
    aimc_accel_prof p;
    pthread_mutex_lock(&h->lock);
    const int rc = aimc_accel_profile(h->dev, kind, id, &p);
    pthread_mutex_unlock(&h->lock);
    if (rc) return rc;
    out->commands = p.commands;
    out->vectors = p.vectors;
    out->busy_cycles = p.busy_cycles;
    for (int q = 0; q < AIMC_PART_COUNT; q++) out->energy_pj[q] = p.energy_pj[q];
    return AIMC_OK;
}

const aimc_hal_ops aimc_hal_sim_ops = {
    .scheme = "sim",
    .open = hal_sim_open,
    .close = hal_sim_close,
    .reg_read32 = hal_sim_reg_read32,
    .reg_write32 = hal_sim_reg_write32,
    .dma_alloc = hal_sim_dma_alloc,
    .dma_free = hal_sim_dma_free,
    .dma_sync = hal_sim_dma_sync,
    .irq_wait = hal_sim_irq_wait,
    .time_ns = hal_sim_time_ns,
    .profile = hal_sim_profile,
};
