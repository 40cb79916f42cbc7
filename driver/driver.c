/* driver.c - the aimc driver core: the public API of aimc.h over a HAL backend.
 *
 * Knows the register map (aimc_regs.h) and the descriptor format, never a backend's
 * internals: every device access goes through the aimc_hal_ops table chosen by the URI's
 * scheme. Commands go into a ring of AIMC_DRV_RING_ENTRIES descriptors in a DMA buffer;
 * each gets a fence (1, 2, ...) and a job entry holding its DMA buffers and the user's
 * output pointer until aimc_fence_wait() finishes it. Protocol: docs/driver.md.
 */
#include "aimc.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_hal.h"
#include "aimc_regs.h"

#define AIMC_DRV_MAGIC 0x616D63447276ABCDull
#define AIMC_DRV_RING_ENTRIES 256u
#define AIMC_DRV_RING_WAIT_NS 1000000000LL      /* wait for ring space before ERR_STATE */
#define AIMC_DRV_PROGRAM_TIMEOUT_NS 600000000000LL /* bound on one PROGRAM command */
#define AIMC_DRV_FJ_PER_PJ 1000.0

/* The backends, by scheme. A new backend adds one line. */
static const aimc_hal_ops *const aimc_drv_backends[] = {
    &aimc_hal_sim_ops,
};

typedef struct drv_job {
    uint64_t fence;
    uint32_t slot;         /* ring slot of its descriptor */
    int status_valid;      /* status was copied out before the slot was reused */
    uint32_t status;
    uint8_t desc[AIMC_DESC_BYTES]; /* as submitted, for error texts and shape records */
    void *buf_in;          /* DMA buffers (weights / x), NULL if none */
    void *buf_aux;         /* tiles / y */
    float *user_y;         /* MVM: where y goes at wait */
    size_t y_bytes;
} drv_job;

typedef struct drv_shape {
    uint32_t id, rows, cols;
} drv_shape;

struct aimc_dev {
    uint64_t magic; /* AIMC_DRV_MAGIC while open */
    const aimc_hal_ops *hal;
    void *ctx;

    uint8_t *ring;
    uint64_t ring_addr;
    uint32_t ring_entries;
    uint32_t tail;          /* free-running, as RING_TAIL */
    uint64_t *slot_fence;   /* fence whose descriptor is in each slot, 0 = none */
    uint64_t next_fence;

    drv_job *jobs;
    size_t n_jobs, cap_jobs;
    drv_shape *shapes;      /* matrices this handle programmed successfully */
    size_t n_shapes, cap_shapes;

    aimc_dev_info info;
    uint32_t max_dim, max_batch, max_tiles;
    char err[512];
};

/* ---- small helpers ---- */

static int dev_ok(const aimc_dev *dev)
{
    return dev && dev->magic == AIMC_DRV_MAGIC;
}

static int drv_fail(aimc_dev *dev, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int drv_fail(aimc_dev *dev, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dev->err, sizeof dev->err, fmt, ap);
    va_end(ap);
    return rc;
}

static uint32_t rd(aimc_dev *dev, uint32_t off)
{
    return dev->hal->reg_read32(dev->ctx, off);
}

static void wr(aimc_dev *dev, uint32_t off, uint32_t val)
{
    dev->hal->reg_write32(dev->ctx, off, val);
}

/* A 64-bit register pair: LO first, which latches HI. */
static uint64_t rd64(aimc_dev *dev, uint32_t lo_off)
{
    uint32_t lo = rd(dev, lo_off);
    uint32_t hi = rd(dev, lo_off + 4);
    return (uint64_t)hi << 32 | lo;
}

static void put_u16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    put_u32(p, (uint32_t)v);
    put_u32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get_u16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static const drv_shape *shape_find(const aimc_dev *dev, uint32_t id)
{
    for (size_t i = 0; i < dev->n_shapes; i++)
        if (dev->shapes[i].id == id) return &dev->shapes[i];
    return NULL;
}

static int shape_set(aimc_dev *dev, uint32_t id, uint32_t rows, uint32_t cols)
{
    drv_shape *s = (drv_shape *)shape_find(dev, id);
    if (!s) {
        if (dev->n_shapes == dev->cap_shapes) {
            size_t cap = dev->cap_shapes ? 2 * dev->cap_shapes : 16;
            drv_shape *ns = realloc(dev->shapes, cap * sizeof *ns);
            if (!ns) return AIMC_ERR_NOMEM;
            dev->shapes = ns;
            dev->cap_shapes = cap;
        }
        s = &dev->shapes[dev->n_shapes++];
        s->id = id;
    }
    s->rows = rows;
    s->cols = cols;
    return AIMC_OK;
}

static drv_job *job_find(aimc_dev *dev, uint64_t fence)
{
    for (size_t i = 0; i < dev->n_jobs; i++)
        if (dev->jobs[i].fence == fence) return &dev->jobs[i];
    return NULL;
}

static void job_release(aimc_dev *dev, drv_job *j)
{
    dev->hal->dma_free(dev->ctx, j->buf_in);
    dev->hal->dma_free(dev->ctx, j->buf_aux);
    if (dev->slot_fence[j->slot] == j->fence) dev->slot_fence[j->slot] = 0;
    *j = dev->jobs[--dev->n_jobs];
}

/* ---- submission ---- */

/* Put desc into the ring as job *proto (its buffers become the job's, also on failure),
 * stamp the next fence into it and ring the doorbell. */
static int drv_submit(aimc_dev *dev, uint8_t *desc, const drv_job *proto, uint64_t *fence)
{
    int rc;

    /* room in the ring: never overwrite a descriptor the device has not consumed */
    if (dev->tail - rd(dev, AIMC_REG_RING_HEAD) >= dev->ring_entries) {
        uint64_t deadline = dev->hal->time_ns(dev->ctx) + AIMC_DRV_RING_WAIT_NS;
        while (dev->tail - rd(dev, AIMC_REG_RING_HEAD) >= dev->ring_entries) {
            uint64_t now = dev->hal->time_ns(dev->ctx);
            if (now >= deadline) {
                rc = drv_fail(dev, AIMC_ERR_STATE, "command ring full: the device consumes "
                              "no commands (RING_HEAD=%u)", rd(dev, AIMC_REG_RING_HEAD));
                goto fail;
            }
            dev->hal->irq_wait(dev->ctx, (int64_t)(deadline - now));
        }
    }
    if (dev->n_jobs == dev->cap_jobs) {
        size_t cap = dev->cap_jobs ? 2 * dev->cap_jobs : 64;
        drv_job *nj = realloc(dev->jobs, cap * sizeof *nj);
        if (!nj) {
            rc = drv_fail(dev, AIMC_ERR_NOMEM, "out of memory for the job table");
            goto fail;
        }
        dev->jobs = nj;
        dev->cap_jobs = cap;
    }

    uint32_t slot = dev->tail & (dev->ring_entries - 1);
    uint8_t *entry = dev->ring + (size_t)slot * AIMC_DESC_BYTES;
    if (dev->slot_fence[slot]) { /* keep the status of a consumed, not yet waited job */
        drv_job *old = job_find(dev, dev->slot_fence[slot]);
        if (old && !old->status_valid) {
            old->status = get_u32(entry + AIMC_DESC_STATUS);
            old->status_valid = 1;
        }
    }
    uint64_t f = dev->next_fence++;
    put_u64(desc + AIMC_DESC_FENCE, f);
    put_u32(desc + AIMC_DESC_STATUS, 0);

    drv_job *j = &dev->jobs[dev->n_jobs++];
    *j = *proto;
    j->fence = f;
    j->slot = slot;
    j->status_valid = 0;
    j->status = 0;
    memcpy(j->desc, desc, AIMC_DESC_BYTES);

    memcpy(entry, desc, AIMC_DESC_BYTES);
    dev->slot_fence[slot] = f;
    dev->tail++;
    atomic_thread_fence(memory_order_release); /* descriptor before tail */
    wr(dev, AIMC_REG_RING_TAIL, dev->tail);
    wr(dev, AIMC_REG_DOORBELL, 1);
    *fence = f;
    return AIMC_OK;
fail:
    dev->hal->dma_free(dev->ctx, proto->buf_in);
    dev->hal->dma_free(dev->ctx, proto->buf_aux);
    return rc;
}

/* ---- error decoding ---- */

static void describe_error(aimc_dev *dev, const drv_job *j, uint32_t status, int have_info,
                           uint32_t info)
{
    const uint8_t *d = j->desc;
    uint32_t op = get_u16(d + AIMC_DESC_OPCODE);
    uint32_t matrix = get_u32(d + AIMC_DESC_PAYLOAD);
    char what[256];

    if (status & AIMC_REG_ERROR_BAD_OPCODE)
        snprintf(what, sizeof what, "bad opcode 0x%x", op);
    else if (status & AIMC_REG_ERROR_BAD_DESC)
        snprintf(what, sizeof what, have_info ? "bad descriptor field at byte 0x%x"
                                              : "bad descriptor field", info);
    else if (status & AIMC_REG_ERROR_NOT_PROGRAMMED)
        snprintf(what, sizeof what, "matrix %u not programmed", matrix);
    else if (status & AIMC_REG_ERROR_SHAPE)
        snprintf(what, sizeof what, "matrix %u has another shape than %ux%u", matrix,
                 get_u32(d + AIMC_DESC_MVM_ROWS), get_u32(d + AIMC_DESC_MVM_COLS));
    else if (status & AIMC_REG_ERROR_XBAR_RANGE)
        snprintf(what, sizeof what, have_info ? "matrix %u: tile %u lies outside the "
                 "device's crossbars" : "matrix %u: a tile lies outside the device's "
                 "crossbars", matrix, info);
    else if (status & AIMC_REG_ERROR_PROGRAM_FAILED)
        snprintf(what, sizeof what, "programming matrix %u failed: its tiles overlap or "
                 "do not cover it", matrix);
    else if (status & AIMC_REG_ERROR_DMA_FAULT)
        snprintf(what, sizeof what, have_info ? "DMA fault (address field at byte 0x%x)"
                                              : "DMA fault", info);
    else if (status & AIMC_REG_ERROR_RING)
        snprintf(what, sizeof what, "command ring error");
    else
        snprintf(what, sizeof what, "device out of resources");
    drv_fail(dev, AIMC_ERR_DEVICE, "device error: %s (ERROR=0x%x, fence %llu)", what, status,
             (unsigned long long)j->fence);
}

/* ---- public API ---- */

void aimc_close(aimc_dev *dev)
{
    if (!dev_ok(dev)) return;
    wr(dev, AIMC_REG_CTRL, 0);
    while (dev->n_jobs) job_release(dev, &dev->jobs[dev->n_jobs - 1]);
    dev->hal->dma_free(dev->ctx, dev->ring);
    dev->hal->close(dev->ctx);
    free(dev->jobs);
    free(dev->shapes);
    free(dev->slot_fence);
    dev->magic = 0;
    free(dev);
}

int aimc_open(const char *uri, const aimc_open_opts *opts, aimc_dev **out)
{
    const aimc_hal_ops *hal = NULL;
    aimc_diag diag;
    aimc_dev *dev;
    void *cpu;
    const char *colon;
    int rc;

    if (!out) return AIMC_ERR_INVALID;
    *out = NULL;
    if (!uri) return AIMC_ERR_INVALID;
    colon = strchr(uri, ':');
    if (!colon) return AIMC_ERR_NOTFOUND;
    for (size_t i = 0; i < sizeof aimc_drv_backends / sizeof aimc_drv_backends[0]; i++) {
        const char *s = aimc_drv_backends[i]->scheme;
        if (strlen(s) == (size_t)(colon - uri) && !strncmp(s, uri, (size_t)(colon - uri)))
            hal = aimc_drv_backends[i];
    }
    if (!hal) return AIMC_ERR_NOTFOUND;

    dev = calloc(1, sizeof *dev);
    if (!dev) return AIMC_ERR_NOMEM;
    dev->hal = hal;
    dev->next_fence = 1;
    dev->ring_entries = AIMC_DRV_RING_ENTRIES;
    rc = hal->open(colon + 1, opts, &dev->ctx, &diag);
    if (rc != AIMC_OK) goto fail_free;
    dev->magic = AIMC_DRV_MAGIC;

    if (rd(dev, AIMC_REG_ID) != AIMC_REG_ID_VALUE) {
        rc = AIMC_ERR_DEVICE;
        goto fail_close;
    }
    wr(dev, AIMC_REG_CTRL, AIMC_REG_CTRL_SOFT_RESET);
    dev->info.id = rd(dev, AIMC_REG_ID);
    dev->info.version = rd(dev, AIMC_REG_VERSION);
    dev->info.xbar_rows = rd(dev, AIMC_REG_CAP_XBAR_ROWS);
    dev->info.xbar_cols = rd(dev, AIMC_REG_CAP_XBAR_COLS);
    dev->info.crossbars = rd(dev, AIMC_REG_CAP_XBARS);
    dev->info.adc_bits = rd(dev, AIMC_REG_CAP_ADC_BITS);
    dev->info.dac_bits = rd(dev, AIMC_REG_CAP_DAC_BITS);
    dev->max_dim = rd(dev, AIMC_REG_CAP_MAX_DIM);
    dev->max_batch = rd(dev, AIMC_REG_CAP_MAX_BATCH);
    dev->max_tiles = rd(dev, AIMC_REG_CAP_MAX_TILES);
    if (rd(dev, AIMC_REG_CAP_MAX_RING) < dev->ring_entries) {
        rc = AIMC_ERR_DEVICE;
        goto fail_close;
    }

    dev->slot_fence = calloc(dev->ring_entries, sizeof *dev->slot_fence);
    if (!dev->slot_fence) {
        rc = AIMC_ERR_NOMEM;
        goto fail_close;
    }
    rc = hal->dma_alloc(dev->ctx, (size_t)dev->ring_entries * AIMC_DESC_BYTES, &cpu,
                        &dev->ring_addr);
    if (rc != AIMC_OK) goto fail_close;
    dev->ring = cpu;
    wr(dev, AIMC_REG_RING_BASE_LO, (uint32_t)dev->ring_addr);
    wr(dev, AIMC_REG_RING_BASE_HI, (uint32_t)(dev->ring_addr >> 32));
    wr(dev, AIMC_REG_RING_SIZE, dev->ring_entries);
    wr(dev, AIMC_REG_IRQ_MASK, AIMC_REG_IRQ_ALL);
    wr(dev, AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
    if (!(rd(dev, AIMC_REG_STATUS) & AIMC_REG_STATUS_READY) || rd(dev, AIMC_REG_ERROR)) {
        rc = AIMC_ERR_DEVICE;
        goto fail_close;
    }
    *out = dev;
    return AIMC_OK;

fail_close:
    aimc_close(dev); /* frees dev */
    return rc;
fail_free:
    free(dev);
    return rc;
}

int aimc_query(aimc_dev *dev, aimc_dev_info *info)
{
    if (!dev_ok(dev)) return AIMC_ERR_BADHANDLE;
    if (!info) return drv_fail(dev, AIMC_ERR_INVALID, "aimc_query: info is NULL");
    info->id = rd(dev, AIMC_REG_ID);
    info->version = rd(dev, AIMC_REG_VERSION);
    info->xbar_rows = rd(dev, AIMC_REG_CAP_XBAR_ROWS);
    info->xbar_cols = rd(dev, AIMC_REG_CAP_XBAR_COLS);
    info->crossbars = rd(dev, AIMC_REG_CAP_XBARS);
    info->adc_bits = rd(dev, AIMC_REG_CAP_ADC_BITS);
    info->dac_bits = rd(dev, AIMC_REG_CAP_DAC_BITS);
    return AIMC_OK;
}

/* Allocate a DMA buffer of n bytes (n > 0) or fail with a message. */
static int drv_dma_alloc(aimc_dev *dev, uint64_t n, void **cpu, uint64_t *addr)
{
    int rc;
    if (n > SIZE_MAX) return drv_fail(dev, AIMC_ERR_NOMEM, "DMA buffer of %llu bytes too big",
                                      (unsigned long long)n);
    rc = dev->hal->dma_alloc(dev->ctx, (size_t)n, cpu, addr);
    if (rc != AIMC_OK)
        return drv_fail(dev, rc, "cannot allocate a DMA buffer of %llu bytes: %s",
                        (unsigned long long)n, aimc_strerror(rc));
    return AIMC_OK;
}

int aimc_weights_program(aimc_dev *dev, uint32_t matrix_id, const float *w, uint32_t rows,
                         uint32_t cols, const aimc_tile *tiles, size_t n_tiles)
{
    uint8_t desc[AIMC_DESC_BYTES] = {0};
    drv_job job = {0};
    uint64_t w_addr = 0, t_addr = 0, fence;
    void *cpu;
    int rc;

    if (!dev_ok(dev)) return AIMC_ERR_BADHANDLE;
    if (!w || (!tiles && n_tiles))
        return drv_fail(dev, AIMC_ERR_INVALID, "aimc_weights_program: NULL weights or tiles");
    if (rows == 0 || cols == 0 || rows > dev->max_dim || cols > dev->max_dim)
        return drv_fail(dev, AIMC_ERR_INVALID, "aimc_weights_program: %ux%u outside "
                        "1..%u per dimension", rows, cols, dev->max_dim);
    if (n_tiles > dev->max_tiles)
        return drv_fail(dev, AIMC_ERR_INVALID, "aimc_weights_program: %zu tiles, the device "
                        "takes at most %u", n_tiles, dev->max_tiles);

    rc = drv_dma_alloc(dev, (uint64_t)rows * cols * sizeof(float), &cpu, &w_addr);
    if (rc) return rc;
    job.buf_in = cpu;
    memcpy(cpu, w, (size_t)rows * cols * sizeof(float));
    if (n_tiles) {
        rc = drv_dma_alloc(dev, (uint64_t)n_tiles * sizeof(aimc_tile), &cpu, &t_addr);
        if (rc) {
            dev->hal->dma_free(dev->ctx, job.buf_in);
            return rc;
        }
        job.buf_aux = cpu;
        for (size_t i = 0; i < n_tiles; i++) { /* the 32-byte little-endian DMA form */
            uint8_t *p = (uint8_t *)cpu + i * sizeof(aimc_tile);
            const aimc_tile *t = &tiles[i];
            put_u32(p + 0, t->matrix);
            put_u32(p + 4, t->row0);
            put_u32(p + 8, t->nrows);
            put_u32(p + 12, t->col0);
            put_u32(p + 16, t->ncols);
            put_u32(p + 20, t->slice);
            put_u32(p + 24, t->xbar);
            put_u32(p + 28, t->xbar_col0);
        }
    }
    put_u16(desc + AIMC_DESC_OPCODE, AIMC_DESC_OP_PROGRAM);
    put_u16(desc + AIMC_DESC_FLAGS, AIMC_DESC_FLAG_IRQ);
    put_u32(desc + AIMC_DESC_PROG_MATRIX, matrix_id);
    put_u32(desc + AIMC_DESC_PROG_ROWS, rows);
    put_u32(desc + AIMC_DESC_PROG_COLS, cols);
    put_u32(desc + AIMC_DESC_PROG_NTILES, (uint32_t)n_tiles);
    put_u64(desc + AIMC_DESC_PROG_W_ADDR, w_addr);
    put_u64(desc + AIMC_DESC_PROG_TILES_ADDR, t_addr);
    rc = drv_submit(dev, desc, &job, &fence);
    if (rc) return rc;
    return aimc_fence_wait(dev, fence, AIMC_DRV_PROGRAM_TIMEOUT_NS);
}

int aimc_submit_mvm(aimc_dev *dev, uint32_t matrix_id, const float *x, uint32_t batch,
                    float *y, uint64_t *fence)
{
    uint8_t desc[AIMC_DESC_BYTES] = {0};
    drv_job job = {0};
    uint64_t x_addr = 0, y_addr = 0;
    uint32_t rows = 0, cols = 0;
    const drv_shape *s;
    void *cpu;
    int rc;

    if (!dev_ok(dev)) return AIMC_ERR_BADHANDLE;
    if (!x || !y || !fence)
        return drv_fail(dev, AIMC_ERR_INVALID, "aimc_submit_mvm: NULL x, y or fence");
    if (batch == 0 || batch > dev->max_batch)
        return drv_fail(dev, AIMC_ERR_INVALID, "aimc_submit_mvm: batch %u outside 1..%u",
                        batch, dev->max_batch);
    /* A matrix this handle never programmed goes to the device as a 0 x 0 MVM without
     * buffers: the device, not the driver, answers it (NOT_PROGRAMMED or SHAPE). */
    s = shape_find(dev, matrix_id);
    if (s) {
        rows = s->rows;
        cols = s->cols;
        rc = drv_dma_alloc(dev, (uint64_t)batch * rows * sizeof(float), &cpu, &x_addr);
        if (rc) return rc;
        job.buf_in = cpu;
        memcpy(cpu, x, (size_t)batch * rows * sizeof(float));
        rc = drv_dma_alloc(dev, (uint64_t)batch * cols * sizeof(float), &cpu, &y_addr);
        if (rc) {
            dev->hal->dma_free(dev->ctx, job.buf_in);
            return rc;
        }
        job.buf_aux = cpu;
        job.user_y = y;
        job.y_bytes = (size_t)batch * cols * sizeof(float);
    }
    put_u16(desc + AIMC_DESC_OPCODE, AIMC_DESC_OP_MVM);
    put_u16(desc + AIMC_DESC_FLAGS, AIMC_DESC_FLAG_IRQ);
    put_u32(desc + AIMC_DESC_MVM_MATRIX, matrix_id);
    put_u32(desc + AIMC_DESC_MVM_BATCH, batch);
    put_u32(desc + AIMC_DESC_MVM_ROWS, rows);
    put_u32(desc + AIMC_DESC_MVM_COLS, cols);
    put_u64(desc + AIMC_DESC_MVM_X_ADDR, x_addr);
    put_u64(desc + AIMC_DESC_MVM_Y_ADDR, y_addr);
    return drv_submit(dev, desc, &job, fence);
}

int aimc_submit_raw(aimc_dev *dev, const void *desc, size_t len, uint64_t *fence)
{
    uint8_t d[AIMC_DESC_BYTES];
    drv_job job = {0};

    if (!dev_ok(dev)) return AIMC_ERR_BADHANDLE;
    if (!desc || !fence)
        return drv_fail(dev, AIMC_ERR_INVALID, "aimc_submit_raw: NULL descriptor or fence");
    if (len != AIMC_DESC_BYTES)
        return drv_fail(dev, AIMC_ERR_INVALID, "aimc_submit_raw: a descriptor is %u bytes, "
                        "got %zu", AIMC_DESC_BYTES, len);
    memcpy(d, desc, sizeof d);
    return drv_submit(dev, d, &job, fence);
}

int aimc_fence_wait(aimc_dev *dev, uint64_t fence, int64_t timeout_ns)
{
    uint64_t start, deadline;
    drv_job *j;
    uint32_t status;
    int rc = AIMC_OK;

    if (!dev_ok(dev)) return AIMC_ERR_BADHANDLE;
    if (fence == 0 || fence >= dev->next_fence)
        return drv_fail(dev, AIMC_ERR_INVALID, "aimc_fence_wait: fence %llu was never issued",
                        (unsigned long long)fence);
    start = dev->hal->time_ns(dev->ctx);
    deadline = timeout_ns < 0 ? UINT64_MAX : start + (uint64_t)timeout_ns;
    for (;;) {
        if (rd64(dev, AIMC_REG_DONE_FENCE_LO) >= fence) break;
        /* a device that cannot progress never completes the fence: do not wait for it */
        uint32_t st = rd(dev, AIMC_REG_STATUS);
        if (!(st & AIMC_REG_STATUS_READY) || (rd(dev, AIMC_REG_ERROR) & AIMC_REG_ERROR_RING) ||
            (!(st & AIMC_REG_STATUS_BUSY) && rd(dev, AIMC_REG_RING_HEAD) == dev->tail)) {
            return drv_fail(dev, AIMC_ERR_DEVICE, "device error: fence %llu cannot complete "
                            "(STATUS=0x%x, ERROR=0x%x, RING_HEAD=%u, tail %u)",
                            (unsigned long long)fence, st, rd(dev, AIMC_REG_ERROR),
                            rd(dev, AIMC_REG_RING_HEAD), dev->tail);
        }
        uint64_t now = dev->hal->time_ns(dev->ctx);
        if (now >= deadline)
            return drv_fail(dev, AIMC_ERR_TIMEOUT, "fence %llu not done after %lld ns",
                            (unsigned long long)fence, (long long)timeout_ns);
        uint64_t left = deadline - now;
        if (dev->hal->irq_wait(dev->ctx, left > INT64_MAX ? INT64_MAX : (int64_t)left) ==
            AIMC_OK)
            wr(dev, AIMC_REG_IRQ_STATUS, rd(dev, AIMC_REG_IRQ_STATUS)); /* acknowledge */
    }
    atomic_thread_fence(memory_order_acquire); /* DONE_FENCE before the status word */

    j = job_find(dev, fence);
    if (!j) return AIMC_OK; /* already finished by an earlier wait */
    status = j->status_valid
                 ? j->status
                 : get_u32(dev->ring + (size_t)j->slot * AIMC_DESC_BYTES + AIMC_DESC_STATUS);
    if (status) {
        int have_info = rd64(dev, AIMC_REG_ERROR_FENCE_LO) == fence;
        uint32_t info = rd(dev, AIMC_REG_ERROR_INFO);
        describe_error(dev, j, status, have_info, info);
        wr(dev, AIMC_REG_ERROR, AIMC_REG_ERROR_ALL);
        wr(dev, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ERROR);
        rc = AIMC_ERR_DEVICE;
    } else {
        if (j->user_y && j->y_bytes) memcpy(j->user_y, j->buf_aux, j->y_bytes);
        if (get_u16(j->desc + AIMC_DESC_OPCODE) == AIMC_DESC_OP_PROGRAM)
            rc = shape_set(dev, get_u32(j->desc + AIMC_DESC_PROG_MATRIX),
                           get_u32(j->desc + AIMC_DESC_PROG_ROWS),
                           get_u32(j->desc + AIMC_DESC_PROG_COLS));
        if (rc) drv_fail(dev, rc, "out of memory recording a matrix shape");
    }
    job_release(dev, j);
    return rc;
}

int aimc_counters_read(aimc_dev *dev, aimc_counters *c)
{
    static const uint32_t energy_reg[4] = {
        AIMC_REG_CNT_ENERGY_DAC_FJ_LO, AIMC_REG_CNT_ENERGY_XBAR_FJ_LO,
        AIMC_REG_CNT_ENERGY_ADC_FJ_LO, AIMC_REG_CNT_ENERGY_DIG_FJ_LO,
    };
    if (!dev_ok(dev)) return AIMC_ERR_BADHANDLE;
    if (!c) return drv_fail(dev, AIMC_ERR_INVALID, "aimc_counters_read: c is NULL");
    c->cycles = rd64(dev, AIMC_REG_CNT_CYCLES_LO);
    c->mvms = rd64(dev, AIMC_REG_CNT_MVMS_LO);
    c->adc_conversions = rd64(dev, AIMC_REG_CNT_ADC_CONV_LO);
    c->adc_saturations = rd64(dev, AIMC_REG_CNT_ADC_SAT_LO);
    c->dac_drives = rd64(dev, AIMC_REG_CNT_DAC_DRIVES_LO);
    c->xbar_reads = rd64(dev, AIMC_REG_CNT_XBAR_READS_LO);
    c->digital_ops = rd64(dev, AIMC_REG_CNT_DIGITAL_OPS_LO);
    c->cells_programmed = rd64(dev, AIMC_REG_CNT_CELLS_PROG_LO);
    for (int i = 0; i < 4; i++)
        c->energy_pj[i] = (double)rd64(dev, energy_reg[i]) / AIMC_DRV_FJ_PER_PJ;
    return AIMC_OK;
}

const char *aimc_error_text(aimc_dev *dev)
{
    if (!dev_ok(dev)) return "bad handle: NULL, closed or not an aimc device";
    return dev->err;
}
