/* hal_mock.c - the "mock:" driver backend: a register file that records every access
 * (aimc_mock.h), with a trivial command processor or none ("mock:hang").
 *
 * Registers are an array of AIMC_REG_WINDOW_BYTES / 4 words with the side effects the
 * driver relies on: W1C for ERROR and IRQ_STATUS, SOFT_RESET, RING_SIZE resetting head and
 * tail, STATUS computed, 64-bit LO/HI pairs as two words. DMA buffers are host
 * allocations with addresses from AIMC_HAL_MOCK_DMA_BASE (like sim:). Guarded by a mutex:
 * test hooks and irq_wait run beside the driver's calls.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aimc_hal.h"
#include "aimc_mock.h"
#include "aimc_regs.h"

#define AIMC_HAL_MOCK_DMA_BASE 0x200000000ull
#define AIMC_HAL_MOCK_DMA_ALIGN 4096ull
#define AIMC_HAL_MOCK_WAIT_SLICE_NS 100000LL
#define AIMC_HAL_MOCK_WORDS (AIMC_REG_WINDOW_BYTES / 4u)

/* The small device the capability registers describe. */
static const struct { uint32_t off, val; } mock_caps[] = {
    {AIMC_REG_ID, AIMC_REG_ID_VALUE},     {AIMC_REG_VERSION, AIMC_REG_VERSION_VALUE},
    {AIMC_REG_CAP_XBAR_ROWS, 64},         {AIMC_REG_CAP_XBAR_COLS, 64},
    {AIMC_REG_CAP_XBARS, 4},              {AIMC_REG_CAP_ADC_BITS, 8},
    {AIMC_REG_CAP_DAC_BITS, 8},           {AIMC_REG_CAP_BITS_PER_CELL, 2},
    {AIMC_REG_CAP_WEIGHT_BITS, 8},        {AIMC_REG_CAP_MAX_MATRICES, 16},
    {AIMC_REG_CAP_MAX_DIM, 4096},         {AIMC_REG_CAP_MAX_BATCH, 4096},
    {AIMC_REG_CAP_MAX_TILES, 4096},       {AIMC_REG_CAP_MAX_RING, 256},
    {AIMC_REG_CAP_MAX_ELEMS, 1u << 20},   {AIMC_REG_CAP_MAX_VERIFY, 16},
};

typedef struct mock_buf {
    void *cpu;
    uint64_t addr;
    size_t size;
} mock_buf;

typedef struct hal_mock {
    pthread_mutex_t lock;
    int hang;
    uint32_t reg[AIMC_HAL_MOCK_WORDS];
    aimc_mock_access *log;
    size_t n_log, cap_log;
    mock_buf *bufs;
    size_t n_bufs, cap_bufs;
    uint64_t next_addr;
} hal_mock;

static void mock_log(hal_mock *m, char op, uint32_t off, uint32_t val)
{
    if (m->n_log == m->cap_log) {
        size_t cap = m->cap_log ? 2 * m->cap_log : 256;
        aimc_mock_access *nl = realloc(m->log, cap * sizeof *nl);
        if (!nl) return; /* the log is best effort; the device goes on */
        m->log = nl;
        m->cap_log = cap;
    }
    m->log[m->n_log++] = (aimc_mock_access){op, off, val};
}

static void mock_reset(hal_mock *m)
{
    memset(m->reg, 0, sizeof m->reg);
    for (size_t i = 0; i < sizeof mock_caps / sizeof mock_caps[0]; i++)
        m->reg[mock_caps[i].off / 4] = mock_caps[i].val;
}

static uint32_t *R(hal_mock *m, uint32_t off)
{
    return &m->reg[off / 4];
}

static mock_buf *mock_translate(hal_mock *m, uint64_t addr, size_t n)
{
    for (size_t i = 0; i < m->n_bufs; i++) {
        mock_buf *b = &m->bufs[i];
        if (addr >= b->addr && n <= b->size && addr - b->addr <= b->size - n) return b;
    }
    return NULL;
}

/* The trivial command processor: every pending command completes with status 0. */
static void mock_doorbell(hal_mock *m)
{
    uint32_t size = *R(m, AIMC_REG_RING_SIZE);
    uint64_t base = (uint64_t)*R(m, AIMC_REG_RING_BASE_HI) << 32 | *R(m, AIMC_REG_RING_BASE_LO);
    if (m->hang || !(*R(m, AIMC_REG_CTRL) & AIMC_REG_CTRL_ENABLE) || !size ||
        (size & (size - 1)))
        return;
    while (*R(m, AIMC_REG_RING_HEAD) != *R(m, AIMC_REG_RING_TAIL)) {
        uint32_t slot = *R(m, AIMC_REG_RING_HEAD) & (size - 1);
        mock_buf *b = mock_translate(m, base + (uint64_t)slot * AIMC_DESC_BYTES, AIMC_DESC_BYTES);
        if (!b) {
            *R(m, AIMC_REG_ERROR) |= AIMC_REG_ERROR_RING | AIMC_REG_ERROR_DMA_FAULT;
            *R(m, AIMC_REG_IRQ_STATUS) |= AIMC_REG_IRQ_ERROR;
            return;
        }
        uint8_t *d = (uint8_t *)b->cpu + (base + (uint64_t)slot * AIMC_DESC_BYTES - b->addr);
        uint64_t fence = aimc_le_get64(d + AIMC_DESC_FENCE);
        aimc_le_put32(d + AIMC_DESC_STATUS, 0);
        (*R(m, AIMC_REG_RING_HEAD))++;
        *R(m, AIMC_REG_DONE_FENCE_LO) = (uint32_t)fence;
        *R(m, AIMC_REG_DONE_FENCE_HI) = (uint32_t)(fence >> 32);
        *R(m, AIMC_REG_IRQ_STATUS) |= AIMC_REG_IRQ_DONE;
    }
}

static uint32_t mock_status(hal_mock *m)
{
    uint32_t s = 0;
    if (*R(m, AIMC_REG_CTRL) & AIMC_REG_CTRL_ENABLE) s |= AIMC_REG_STATUS_READY;
    if (m->hang && *R(m, AIMC_REG_RING_HEAD) != *R(m, AIMC_REG_RING_TAIL))
        s |= AIMC_REG_STATUS_BUSY;
    if (*R(m, AIMC_REG_ERROR)) s |= AIMC_REG_STATUS_ERROR;
    return s;
}

static uint32_t hal_mock_reg_read32(void *ctx, uint32_t off)
{
    hal_mock *m = ctx;
    uint32_t v = 0;
    pthread_mutex_lock(&m->lock);
    if (off < AIMC_REG_WINDOW_BYTES && !(off & 3u))
        v = off == AIMC_REG_STATUS ? mock_status(m) : *R(m, off);
    mock_log(m, 'R', off, v);
    pthread_mutex_unlock(&m->lock);
    return v;
}

static void hal_mock_reg_write32(void *ctx, uint32_t off, uint32_t val)
{
    hal_mock *m = ctx;
    pthread_mutex_lock(&m->lock);
    mock_log(m, 'W', off, val);
    if (off >= AIMC_REG_WINDOW_BYTES || (off & 3u)) goto out;
    switch (off) {
    case AIMC_REG_CTRL:
        if (val & AIMC_REG_CTRL_SOFT_RESET) mock_reset(m);
        else *R(m, off) = val & AIMC_REG_CTRL_ENABLE;
        break;
    case AIMC_REG_ERROR:
    case AIMC_REG_IRQ_STATUS:
        *R(m, off) &= ~val;
        break;
    case AIMC_REG_RING_SIZE:
        *R(m, off) = val;
        *R(m, AIMC_REG_RING_HEAD) = 0;
        *R(m, AIMC_REG_RING_TAIL) = 0;
        break;
    case AIMC_REG_DOORBELL:
        mock_doorbell(m);
        break;
    case AIMC_REG_CNT_CTRL:
        break;
    default:
        *R(m, off) = val;
        break;
    }
out:
    pthread_mutex_unlock(&m->lock);
}

static void hal_mock_close(void *ctx)
{
    hal_mock *m = ctx;
    if (!m) return;
    for (size_t i = 0; i < m->n_bufs; i++) free(m->bufs[i].cpu);
    free(m->bufs);
    free(m->log);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

static int hal_mock_open(const char *rest, const aimc_open_opts *opts, void **ctx, aimc_diag *d)
{
    hal_mock *m;
    (void)opts;
    if (rest[0] && strcmp(rest, "hang"))
        return aimc_diag_set(d, AIMC_ERR_INVALID, "mock: takes nothing or \"hang\", got "
                             "\"mock:%s\"", rest);
    if (!(m = calloc(1, sizeof *m))) return aimc_diag_set(d, AIMC_ERR_NOMEM, "mock: out of memory");
    pthread_mutex_init(&m->lock, NULL);
    m->hang = rest[0] != '\0';
    m->next_addr = AIMC_HAL_MOCK_DMA_BASE;
    mock_reset(m);
    *ctx = m;
    return AIMC_OK;
}

static int hal_mock_dma_alloc(void *ctx, size_t size, void **cpu, uint64_t *dev_addr)
{
    hal_mock *m = ctx;
    int rc = AIMC_OK;
    if (size == 0) return AIMC_ERR_INVALID;
    if (size > UINT32_MAX) return AIMC_ERR_NOMEM; /* the mock device is small */
    pthread_mutex_lock(&m->lock);
    uint64_t span = ((uint64_t)size + 2 * AIMC_HAL_MOCK_DMA_ALIGN - 1) &
                    ~(AIMC_HAL_MOCK_DMA_ALIGN - 1);
    if (m->n_bufs == m->cap_bufs) {
        size_t cap = m->cap_bufs ? 2 * m->cap_bufs : 16;
        mock_buf *nb = realloc(m->bufs, cap * sizeof *nb);
        if (!nb) { rc = AIMC_ERR_NOMEM; goto out; }
        m->bufs = nb;
        m->cap_bufs = cap;
    }
    void *p = calloc(1, size);
    if (!p) { rc = AIMC_ERR_NOMEM; goto out; }
    m->bufs[m->n_bufs++] = (mock_buf){p, m->next_addr, size};
    *cpu = p;
    *dev_addr = m->next_addr;
    m->next_addr += span;
out:
    pthread_mutex_unlock(&m->lock);
    return rc;
}

static void hal_mock_dma_free(void *ctx, void *cpu)
{
    hal_mock *m = ctx;
    if (!cpu) return;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n_bufs; i++)
        if (m->bufs[i].cpu == cpu) {
            free(cpu);
            m->bufs[i] = m->bufs[--m->n_bufs];
            break;
        }
    pthread_mutex_unlock(&m->lock);
}

static int hal_mock_irq_wait(void *ctx, int64_t timeout_ns)
{
    hal_mock *m = ctx;
    for (int pass = 0; pass < 2; pass++) {
        pthread_mutex_lock(&m->lock);
        int level = (*R(m, AIMC_REG_IRQ_STATUS) & *R(m, AIMC_REG_IRQ_MASK)) != 0;
        pthread_mutex_unlock(&m->lock);
        if (level) return AIMC_OK;
        int64_t ns = timeout_ns < AIMC_HAL_MOCK_WAIT_SLICE_NS ? timeout_ns
                                                              : AIMC_HAL_MOCK_WAIT_SLICE_NS;
        if (pass || ns <= 0) break;
        struct timespec ts = {0, (long)ns};
        nanosleep(&ts, NULL);
    }
    return AIMC_ERR_TIMEOUT;
}

static uint64_t hal_mock_time_ns(void *ctx)
{
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

const aimc_hal_ops aimc_hal_mock_ops = {
    .scheme = "mock",
    .open = hal_mock_open,
    .close = hal_mock_close,
    .reg_read32 = hal_mock_reg_read32,
    .reg_write32 = hal_mock_reg_write32,
    .dma_alloc = hal_mock_dma_alloc,
    .dma_free = hal_mock_dma_free,
    .irq_wait = hal_mock_irq_wait,
    .time_ns = hal_mock_time_ns,
};

/* ---- test hooks ---- */

size_t aimc_mock_log(aimc_dev *dev, aimc_mock_access *out, size_t cap)
{
    hal_mock *m = aimc_drv_backend_ctx(dev, &aimc_hal_mock_ops);
    if (!m) return 0;
    pthread_mutex_lock(&m->lock);
    size_t n = m->n_log;
    if (out) memcpy(out, m->log, (cap < n ? cap : n) * sizeof *out);
    pthread_mutex_unlock(&m->lock);
    return n;
}

int aimc_mock_log_clear(aimc_dev *dev)
{
    hal_mock *m = aimc_drv_backend_ctx(dev, &aimc_hal_mock_ops);
    if (!m) return AIMC_ERR_BADHANDLE;
    pthread_mutex_lock(&m->lock);
    m->n_log = 0;
    pthread_mutex_unlock(&m->lock);
    return AIMC_OK;
}

int aimc_mock_set_reg(aimc_dev *dev, uint32_t off, uint32_t val)
{
    hal_mock *m = aimc_drv_backend_ctx(dev, &aimc_hal_mock_ops);
    if (!m) return AIMC_ERR_BADHANDLE;
    if (off >= AIMC_REG_WINDOW_BYTES || (off & 3u)) return AIMC_ERR_RANGE;
    pthread_mutex_lock(&m->lock);
    *R(m, off) = val;
    pthread_mutex_unlock(&m->lock);
    return AIMC_OK;
}
