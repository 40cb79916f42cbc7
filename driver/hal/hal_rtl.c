/* hal_rtl.c - the "rtl:" driver backend: the Verilated RTL of the device's digital control
 * path (rtl/aimc_vl.h, docs/rtl.md) with the analog arrays in C.
 *
 * Registers go through the RTL's register port; DMA buffers are host allocations at
 * addresses of a private device address space (hal_pool.h), reached by the RTL's memory port
 * and the C half's DMA through the same bounds-checked translation, so a bad address is a
 * DMA fault.
 * Time is the model's clock: irq_wait clocks it until the interrupt or the timeout (at most
 * AIMC_HAL_RTL_WAIT_SLICE_NS per call; the driver loops), and time_ns is clock cycles x the
 * period, so the driver's timeouts are simulated time. A mutex serialises every call into the
 * model, since irq_wait and time_ns run without the driver's lock.
 *
 * URI: "rtl:" with options separated by ',': "hang_after=N" (fault injection, as sim:),
 * "mem_latency=N" (host memory latency in cycles on the RTL's memory port, 0..1000;
 * aimc_vl_set_mem_latency), "wave=PATH" (write an FST waveform of every signal to PATH from
 * open to close; must be the last option, PATH runs to the end of the URI).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_accel.h"
#include "aimc_hal.h"
#include "aimc_vl.h"
#include "hal_pool.h"

#define AIMC_HAL_RTL_WAIT_SLICE_NS 1000000LL
#define AIMC_HAL_RTL_OPT_MAX 64

typedef struct hal_rtl {
    pthread_mutex_t lock;
    aimc_vl *vl;
    aimc_hal_pool pool;
} hal_rtl;

#define AIMC_HAL_RTL_MEM_LATENCY_MAX 1000

/* Options: hang_after=N, mem_latency=N and wave=PATH (last). */
static int hal_rtl_parse(const char *rest, unsigned long long *hang_after,
                         unsigned long long *mem_latency, const char **wave, aimc_diag *d)
{
    const char *p = rest ? rest : "";
    while (*p) {
        char opt[AIMC_HAL_RTL_OPT_MAX];
        size_t n = strcspn(p, ",");
        if (strncmp(p, "wave=", 5) == 0 && p[5]) {
            *wave = p + 5;
            return AIMC_OK;
        }
        if (n >= sizeof opt) goto bad;
        memcpy(opt, p, n);
        opt[n] = '\0';
        if (!aimc_hal_opt_num(opt, "hang_after", AIMC_ACCEL_HANG_NEVER - 1ull, hang_after) &&
            !aimc_hal_opt_num(opt, "mem_latency", AIMC_HAL_RTL_MEM_LATENCY_MAX, mem_latency))
            goto bad;
        p += n;
        if (*p == ',') p++;
    }
    return AIMC_OK;
bad:
    return aimc_diag_set(d, AIMC_ERR_INVALID, "rtl: options are hang_after=N, mem_latency=N "
                         "(0..%d) and wave=PATH (last), separated by ',', got \"rtl:%s\"",
                         AIMC_HAL_RTL_MEM_LATENCY_MAX, rest);
}

static void hal_rtl_close(void *ctx)
{
    hal_rtl *h = ctx;
    if (!h) return;
    aimc_vl_destroy(h->vl);
    aimc_hal_pool_fini(&h->pool);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

static int hal_rtl_open(const char *rest, const aimc_open_opts *opts, void **ctx, aimc_diag *d)
{
    unsigned long long hang_after = AIMC_ACCEL_HANG_NEVER, mem_latency = 0;
    const char *wave = NULL;
    hal_rtl *h;
    int rc;

    if ((rc = hal_rtl_parse(rest, &hang_after, &mem_latency, &wave, d)) != AIMC_OK) return rc;
    h = calloc(1, sizeof *h);
    if (!h) return aimc_diag_set(d, AIMC_ERR_NOMEM, "rtl: out of memory");
    pthread_mutex_init(&h->lock, NULL);
    aimc_hal_pool_init(&h->pool);
    const aimc_vl_mem mem = {&h->pool, aimc_hal_pool_read, aimc_hal_pool_write};
    rc = aimc_vl_create(opts ? opts->arch : NULL, opts ? opts->seed : 0, &mem, &h->vl, d);
    if (rc == AIMC_OK && wave) rc = aimc_vl_trace_open(h->vl, wave, d);
    if (rc != AIMC_OK) {
        hal_rtl_close(h);
        return rc;
    }
    aimc_vl_inject_hang(h->vl, (uint32_t)hang_after);
    aimc_vl_set_mem_latency(h->vl, (uint32_t)mem_latency);
    *ctx = h;
    return AIMC_OK;
}

static uint32_t hal_rtl_reg_read32(void *ctx, uint32_t off)
{
    hal_rtl *h = ctx;
    pthread_mutex_lock(&h->lock);
    uint32_t v = aimc_vl_reg_read32(h->vl, off);
    pthread_mutex_unlock(&h->lock);
    return v;
}

static void hal_rtl_reg_write32(void *ctx, uint32_t off, uint32_t val)
{
    hal_rtl *h = ctx;
    pthread_mutex_lock(&h->lock);
    aimc_vl_reg_write32(h->vl, off, val); /* a DOORBELL runs the commands inside */
    pthread_mutex_unlock(&h->lock);
}

static int hal_rtl_dma_alloc(void *ctx, size_t size, void **cpu, uint64_t *dev_addr)
{
    hal_rtl *h = ctx;
    pthread_mutex_lock(&h->lock);
    int rc = aimc_hal_pool_alloc(&h->pool, size, cpu, dev_addr);
    if (rc == AIMC_OK) aimc_vl_host_wrote(h->vl, *dev_addr, size); /* fresh: in host memory */
    pthread_mutex_unlock(&h->lock);
    return rc;
}

static void hal_rtl_dma_sync(void *ctx, uint64_t dev_addr, size_t size, int dir)
{
    hal_rtl *h = ctx;
    if (dir != AIMC_SYNC_TO_DEVICE) return;
    pthread_mutex_lock(&h->lock);
    aimc_vl_host_wrote(h->vl, dev_addr, size);
    pthread_mutex_unlock(&h->lock);
}

static void hal_rtl_dma_free(void *ctx, void *cpu)
{
    hal_rtl *h = ctx;
    if (!cpu) return;
    pthread_mutex_lock(&h->lock);
    (void)aimc_hal_pool_free(&h->pool, cpu, NULL);
    pthread_mutex_unlock(&h->lock);
}

static int hal_rtl_irq_wait(void *ctx, int64_t timeout_ns)
{
    hal_rtl *h = ctx;
    pthread_mutex_lock(&h->lock);
    int64_t ns = timeout_ns < AIMC_HAL_RTL_WAIT_SLICE_NS ? timeout_ns : AIMC_HAL_RTL_WAIT_SLICE_NS;
    const uint64_t ps = aimc_vl_ps_per_cycle(h->vl);
    (void)aimc_vl_run(h->vl, ns > 0 ? ((uint64_t)ns * 1000u + ps - 1) / ps : 0);
    int level = aimc_vl_irq(h->vl);
    pthread_mutex_unlock(&h->lock);
    return level ? AIMC_OK : AIMC_ERR_TIMEOUT;
}

static uint64_t hal_rtl_time_ns(void *ctx)
{
    hal_rtl *h = ctx;
    pthread_mutex_lock(&h->lock);
    uint64_t t = aimc_vl_cycles(h->vl) * aimc_vl_ps_per_cycle(h->vl) / 1000u;
    pthread_mutex_unlock(&h->lock);
    return t;
}

/* The device model's profile. */
static int hal_rtl_profile(void *ctx, int kind, uint32_t id, aimc_profile *out)
{
    hal_rtl *h = ctx;
    aimc_accel_prof p;
    pthread_mutex_lock(&h->lock);
    const int rc = aimc_accel_profile(aimc_vl_device(h->vl), kind, id, &p);
    pthread_mutex_unlock(&h->lock);
    if (rc) return rc;
    out->commands = p.commands;
    out->vectors = p.vectors;
    out->busy_cycles = p.busy_cycles;
    for (int q = 0; q < AIMC_PART_COUNT; q++) out->energy_pj[q] = p.energy_pj[q];
    return AIMC_OK;
}

const aimc_hal_ops aimc_hal_rtl_ops = {
    .scheme = "rtl",
    .open = hal_rtl_open,
    .close = hal_rtl_close,
    .reg_read32 = hal_rtl_reg_read32,
    .reg_write32 = hal_rtl_reg_write32,
    .dma_alloc = hal_rtl_dma_alloc,
    .dma_free = hal_rtl_dma_free,
    .dma_sync = hal_rtl_dma_sync,
    .irq_wait = hal_rtl_irq_wait,
    .time_ns = hal_rtl_time_ns,
    .profile = hal_rtl_profile,
};
