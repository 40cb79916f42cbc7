/* driver.c - the aimc driver core: the public API of aimc.h over a HAL backend.
 *
 * Knows the register map (aimc_regs.h, generated from aimc_regs.yaml) and the descriptor
 * format, never a backend's internals: every device access goes through the aimc_hal_ops
 * table chosen by the URI's scheme. Commands go into a ring of AIMC_DRV_RING_ENTRIES
 * descriptors in a DMA buffer; each gets a fence (1, 2, ...) and a job entry holding its
 * DMA buffers and the user's output pointer until aimc_fence_wait() finishes it. One mutex
 * per device serialises the calls; waits release it while they sleep. Protocol:
 * docs/driver.md.
 */
#include "aimc.h"

#include <math.h>
#include <pthread.h>
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
#define AIMC_DRV_SYNC_TIMEOUT_NS 600000000000LL /* bound on one PROGRAM or READBACK */
#define AIMC_DRV_WAIT_SLICE_NS 1000000LL        /* longest sleep between two DONE_FENCE reads */
#define AIMC_DRV_FJ_PER_PJ 1000.0

/* The backends, by scheme. A new backend adds one line. */
static const aimc_hal_ops *const aimc_drv_backends[] = {
    &aimc_hal_sim_ops,
    &aimc_hal_mock_ops,
    &aimc_hal_uio_ops,
    &aimc_hal_sysc_ops,
    &aimc_hal_rtl_ops,
};

typedef struct drv_job {
    uint64_t fence;
    uint32_t slot;         /* ring slot of its descriptor */
    int status_valid;      /* status was saved before the slot was reused or at a reset */
    int aborted;           /* a reset ended it before it completed */
    uint32_t status;
    uint8_t desc[AIMC_DESC_BYTES]; /* as submitted, for error texts and shape records */
    void *buf_in;          /* DMA buffers (weights / x), NULL if none */
    void *buf_aux;         /* tiles / y */
    void *buf_rep;         /* PROGRAM report record */
    float *user_y;         /* MVM / READBACK: where y goes at wait */
    size_t y_bytes;
    aimc_weights_report *user_rep;
} drv_job;

typedef struct drv_shape {
    uint32_t id, rows, cols;
} drv_shape;

struct aimc_bo {
    aimc_dev *dev;
    void *cpu;
    uint64_t addr;
    size_t size;
    unsigned flags;       /* AIMC_BO_* */
    aimc_bo *prev, *next; /* the device's list of live buffer objects */
};

struct aimc_dev {
    uint64_t magic; /* AIMC_DRV_MAGIC while open */
    const aimc_hal_ops *hal;
    void *ctx;
    pthread_mutex_t lock;

    uint8_t *ring;
    uint64_t ring_addr;
    uint32_t ring_entries;
    uint32_t tail;          /* free-running, as RING_TAIL */
    uint64_t *slot_fence;   /* fence whose descriptor is in each slot, 0 = none */
    uint64_t next_fence;

    drv_job *jobs;
    size_t n_jobs, cap_jobs;
    drv_shape *shapes;      /* matrices programmed successfully since open or reset */
    size_t n_shapes, cap_shapes;
    aimc_bo *bos;           /* live buffer objects, freed at close */

    aimc_dev_info info;
    uint32_t watchdog_us;
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

/* Lock dev, or AIMC_ERR_BADHANDLE for something that is no open device. */
static int drv_lock(aimc_dev *dev)
{
    if (!dev_ok(dev)) return AIMC_ERR_BADHANDLE;
    pthread_mutex_lock(&dev->lock);
    return AIMC_OK;
}

static int drv_unlock(aimc_dev *dev, int rc)
{
    pthread_mutex_unlock(&dev->lock);
    return rc;
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
    dev->hal->dma_free(dev->ctx, j->buf_rep);
    if (dev->slot_fence[j->slot] == j->fence) dev->slot_fence[j->slot] = 0;
    *j = dev->jobs[--dev->n_jobs];
}

/* ---- device setup: the one place that reads the capability registers ---- */

static void drv_read_info(aimc_dev *dev, aimc_dev_info *i)
{
    i->id = rd(dev, AIMC_REG_ID);
    i->version = rd(dev, AIMC_REG_VERSION);
    i->xbar_rows = rd(dev, AIMC_REG_CAP_XBAR_ROWS);
    i->xbar_cols = rd(dev, AIMC_REG_CAP_XBAR_COLS);
    i->crossbars = rd(dev, AIMC_REG_CAP_XBARS);
    i->adc_bits = rd(dev, AIMC_REG_CAP_ADC_BITS);
    i->dac_bits = rd(dev, AIMC_REG_CAP_DAC_BITS);
    i->bits_per_cell = rd(dev, AIMC_REG_CAP_BITS_PER_CELL);
    i->weight_bits = rd(dev, AIMC_REG_CAP_WEIGHT_BITS);
    i->max_matrices = rd(dev, AIMC_REG_CAP_MAX_MATRICES);
    i->max_dim = rd(dev, AIMC_REG_CAP_MAX_DIM);
    i->max_batch = rd(dev, AIMC_REG_CAP_MAX_BATCH);
    i->max_tiles = rd(dev, AIMC_REG_CAP_MAX_TILES);
    i->max_ring = rd(dev, AIMC_REG_CAP_MAX_RING);
    i->max_elems = rd(dev, AIMC_REG_CAP_MAX_ELEMS);
    i->max_verify = rd(dev, AIMC_REG_CAP_MAX_VERIFY);
    i->timing_only = (rd(dev, AIMC_REG_CAP_FLAGS) & AIMC_REG_CAP_FLAGS_TIMING_ONLY) != 0;
}

/* After a soft reset: program the ring, unmask the interrupts, arm the watchdog, enable. */
static int drv_setup(aimc_dev *dev)
{
    dev->tail = 0;
    memset(dev->slot_fence, 0, dev->ring_entries * sizeof *dev->slot_fence);
    wr(dev, AIMC_REG_RING_BASE_LO, (uint32_t)dev->ring_addr);
    wr(dev, AIMC_REG_RING_BASE_HI, (uint32_t)(dev->ring_addr >> 32));
    wr(dev, AIMC_REG_RING_SIZE, dev->ring_entries);
    wr(dev, AIMC_REG_IRQ_MASK, AIMC_REG_IRQ_ALL);
    wr(dev, AIMC_REG_WATCHDOG_US, dev->watchdog_us);
    wr(dev, AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
    uint32_t st = rd(dev, AIMC_REG_STATUS), err = rd(dev, AIMC_REG_ERROR);
    if (!(st & AIMC_REG_STATUS_READY) || err)
        return drv_fail(dev, AIMC_ERR_DEVICE, "device not ready after setup (STATUS=0x%x, "
                        "ERROR=0x%x)", st, err);
    return AIMC_OK;
}

/* ---- submission ---- */

/* Whether a command's outputs go to host memory the host reads: a buffer object made with
 * AIMC_BO_HOST_READ holds one of them. Lock held. */
static int desc_to_host(const aimc_dev *dev, const uint8_t *desc)
{
    static const struct {
        uint32_t op, field;
    } outs[] = {
        {AIMC_DESC_OP_MVM, AIMC_DESC_MVM_Y_ADDR},        {AIMC_DESC_OP_READBACK, AIMC_DESC_RDBK_OUT_ADDR},
        {AIMC_DESC_OP_RMSNORM, AIMC_DESC_RMS_OUT_ADDR},  {AIMC_DESC_OP_TOPK, AIMC_DESC_TOPK_IDX_ADDR},
        {AIMC_DESC_OP_TOPK, AIMC_DESC_TOPK_W_ADDR},      {AIMC_DESC_OP_SILU_MUL, AIMC_DESC_SILU_OUT_ADDR},
        {AIMC_DESC_OP_GATHER, AIMC_DESC_GATH_DST_ADDR},  {AIMC_DESC_OP_SCALE_ACC, AIMC_DESC_SACC_DST_ADDR},
        {AIMC_DESC_OP_ROUTE, AIMC_DESC_ROUTE_IDX_ADDR},  {AIMC_DESC_OP_ROUTE, AIMC_DESC_ROUTE_W_ADDR},
        {AIMC_DESC_OP_NORM, AIMC_DESC_NORM_OUT_ADDR},    {AIMC_DESC_OP_ACT, AIMC_DESC_ACT_OUT_ADDR},
        {AIMC_DESC_OP_ATTN, AIMC_DESC_ATTN_OUT_ADDR},
    };
    const uint32_t op = aimc_le_get16(desc + AIMC_DESC_OPCODE);
    for (size_t i = 0; i < sizeof outs / sizeof outs[0]; i++) {
        if (outs[i].op != op) continue;
        const uint64_t a = aimc_le_get64(desc + outs[i].field);
        for (const aimc_bo *b = dev->bos; b; b = b->next)
            if ((b->flags & AIMC_BO_HOST_READ) && a >= b->addr && a - b->addr < b->size) return 1;
    }
    return 0;
}

/* Put desc into the ring as job *proto (its buffers become the job's, also on failure),
 * stamp the next fence into it and ring the doorbell. Called with the lock held; may
 * release it while waiting for ring space. */
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
            uint64_t left = deadline - now;
            pthread_mutex_unlock(&dev->lock);
            dev->hal->irq_wait(dev->ctx, (int64_t)(left < AIMC_DRV_WAIT_SLICE_NS
                                                      ? left : AIMC_DRV_WAIT_SLICE_NS));
            pthread_mutex_lock(&dev->lock);
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
        if (old && !old->status_valid && !old->aborted) {
            old->status = aimc_le_get32(entry + AIMC_DESC_STATUS);
            old->status_valid = 1;
        }
    }
    if (desc_to_host(dev, desc))
        aimc_le_put16(desc + AIMC_DESC_FLAGS,
                      aimc_le_get16(desc + AIMC_DESC_FLAGS) | AIMC_DESC_FLAG_TO_HOST);
    uint64_t f = dev->next_fence++;
    aimc_le_put64(desc + AIMC_DESC_FENCE, f);
    aimc_le_put32(desc + AIMC_DESC_STATUS, 0);

    drv_job *j = &dev->jobs[dev->n_jobs++];
    *j = *proto;
    j->fence = f;
    j->slot = slot;
    j->status_valid = 0;
    j->aborted = 0;
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
    dev->hal->dma_free(dev->ctx, proto->buf_rep);
    return rc;
}

/* A descriptor with opcode op and FLAG_IRQ; the caller fills the payload. */
static void desc_init(uint8_t desc[AIMC_DESC_BYTES], uint32_t op)
{
    memset(desc, 0, AIMC_DESC_BYTES);
    aimc_le_put16(desc + AIMC_DESC_OPCODE, op);
    aimc_le_put16(desc + AIMC_DESC_FLAGS, AIMC_DESC_FLAG_IRQ);
}

/* Submit a descriptor without driver-owned buffers. */
static int submit_plain(aimc_dev *dev, uint8_t *desc, uint64_t *fence, const char *what)
{
    drv_job job = {0};
    int rc = drv_lock(dev);
    if (rc) return rc;
    if (!fence) return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "%s: fence is NULL", what));
    return drv_unlock(dev, drv_submit(dev, desc, &job, fence));
}

/* ---- error decoding ---- */

static void describe_error(aimc_dev *dev, const drv_job *j, uint32_t status, int have_info,
                           uint32_t info)
{
    const uint8_t *d = j->desc;
    uint32_t op = aimc_le_get16(d + AIMC_DESC_OPCODE);
    uint32_t matrix = aimc_le_get32(d + AIMC_DESC_PAYLOAD);
    char what[256];

    if (status & AIMC_REG_ERROR_BAD_OPCODE)
        snprintf(what, sizeof what, "bad opcode 0x%x", op);
    else if (status & AIMC_REG_ERROR_BAD_DESC)
        snprintf(what, sizeof what, have_info ? "bad descriptor field at byte 0x%x"
                                              : "bad descriptor field", info);
    else if (status & AIMC_REG_ERROR_NOT_PROGRAMMED)
        snprintf(what, sizeof what, "matrix %u not programmed", matrix);
    else if (status & AIMC_REG_ERROR_SHAPE)
        snprintf(what, sizeof what, "matrix %u has another shape than the command's", matrix);
    else if (status & AIMC_REG_ERROR_XBAR_RANGE)
        snprintf(what, sizeof what, have_info ? "matrix %u: tile %u lies outside the "
                 "device's crossbars" : "matrix %u: a tile lies outside the device's "
                 "crossbars", matrix, info);
    else if (status & AIMC_REG_ERROR_PROGRAM_FAILED)
        snprintf(what, sizeof what, "programming matrix %u failed: its tiles overlap or "
                 "do not cover it", matrix);
    else if (status & AIMC_REG_ERROR_INDEX)
        snprintf(what, sizeof what, have_info ? "row index %u outside its table"
                                              : "a row index outside its table", info);
    else if (status & AIMC_REG_ERROR_DMA_FAULT)
        snprintf(what, sizeof what, have_info ? "DMA fault (address field at byte 0x%x)"
                                              : "DMA fault", info);
    else if (status & AIMC_REG_ERROR_VERIFY)
        snprintf(what, sizeof what, "program-and-verify left devices of matrix %u outside "
                 "the tolerance", matrix);
    else if (status & AIMC_REG_ERROR_RING)
        snprintf(what, sizeof what, "command ring error");
    else
        snprintf(what, sizeof what, "device out of resources");
    drv_fail(dev, AIMC_ERR_DEVICE, "device error: %s (ERROR=0x%x, fence %llu)", what, status,
             (unsigned long long)j->fence);
}

/* The job of a completed command: decode its status, copy results out, release it. */
static int job_finish(aimc_dev *dev, drv_job *j)
{
    uint32_t status = (j->status_valid
                           ? j->status
                           : aimc_le_get32(dev->ring + (size_t)j->slot * AIMC_DESC_BYTES +
                                           AIMC_DESC_STATUS)) &
                      ~AIMC_DESC_STATUS_DONE;
    uint32_t op = aimc_le_get16(j->desc + AIMC_DESC_OPCODE);
    int rc = AIMC_OK;

    if (j->user_rep && j->buf_rep) {
        const uint8_t *r = j->buf_rep;
        uint64_t rms_bits = aimc_le_get64(r + AIMC_REC_PREP_RMS_ERROR_US);
        j->user_rep->iterations = aimc_le_get32(r + AIMC_REC_PREP_ITERATIONS);
        j->user_rep->devices = aimc_le_get64(r + AIMC_REC_PREP_DEVICES);
        j->user_rep->devices_failed = aimc_le_get64(r + AIMC_REC_PREP_FAILED);
        j->user_rep->pulses = aimc_le_get64(r + AIMC_REC_PREP_PULSES);
        memcpy(&j->user_rep->rms_error_us, &rms_bits, sizeof rms_bits);
    }
    /* a PROGRAM whose only complaint is verify has programmed the matrix */
    if (op == AIMC_DESC_OP_PROGRAM && (status & ~AIMC_REG_ERROR_VERIFY) == 0 &&
        shape_set(dev, aimc_le_get32(j->desc + AIMC_DESC_PROG_MATRIX),
                  aimc_le_get32(j->desc + AIMC_DESC_PROG_ROWS),
                  aimc_le_get32(j->desc + AIMC_DESC_PROG_COLS)) != AIMC_OK)
        rc = drv_fail(dev, AIMC_ERR_NOMEM, "out of memory recording a matrix shape");
    if (status) {
        int have_info = rd64(dev, AIMC_REG_ERROR_FENCE_LO) == j->fence;
        uint32_t info = rd(dev, AIMC_REG_ERROR_INFO);
        describe_error(dev, j, status, have_info, info);
        wr(dev, AIMC_REG_ERROR, status);
        wr(dev, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ERROR);
        rc = AIMC_ERR_DEVICE;
    } else if (j->user_y && j->y_bytes) {
        memcpy(j->user_y, j->buf_aux, j->y_bytes);
    }
    job_release(dev, j);
    return rc;
}

/* ---- open, close, query ---- */

static void drv_free(aimc_dev *dev)
{
    while (dev->bos) aimc_bo_destroy(dev->bos);
    while (dev->n_jobs) job_release(dev, &dev->jobs[dev->n_jobs - 1]);
    if (dev->ring) dev->hal->dma_free(dev->ctx, dev->ring);
    dev->hal->close(dev->ctx);
    free(dev->jobs);
    free(dev->shapes);
    free(dev->slot_fence);
    pthread_mutex_destroy(&dev->lock);
    dev->magic = 0;
    free(dev);
}

void aimc_close(aimc_dev *dev)
{
    if (!dev_ok(dev)) return;
    wr(dev, AIMC_REG_CTRL, 0);
    drv_free(dev);
}

int aimc_open(const char *uri, const aimc_open_opts *opts, aimc_dev **out)
{
    const aimc_hal_ops *hal = NULL;
    aimc_diag local = {{0}}, *d = opts && opts->diag ? opts->diag : &local;
    aimc_dev *dev;
    void *cpu;
    const char *colon;
    int rc;

    if (!out) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_open: out is NULL");
    *out = NULL;
    if (!uri) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_open: uri is NULL");
    colon = strchr(uri, ':');
    if (!colon)
        return aimc_diag_set(d, AIMC_ERR_NOTFOUND, "%s: not a device URI (scheme:rest, e.g. "
                             "sim:)", uri);
    for (size_t i = 0; i < sizeof aimc_drv_backends / sizeof aimc_drv_backends[0]; i++) {
        const char *s = aimc_drv_backends[i]->scheme;
        if (strlen(s) == (size_t)(colon - uri) && !strncmp(s, uri, (size_t)(colon - uri)))
            hal = aimc_drv_backends[i];
    }
    if (!hal) {
        char known[128] = "";
        size_t k = 0;
        for (size_t i = 0; i < sizeof aimc_drv_backends / sizeof aimc_drv_backends[0]; i++) {
            int w = snprintf(known + k, sizeof known - k, "%s%s:", i ? ", " : "",
                             aimc_drv_backends[i]->scheme);
            if (w < 0 || (size_t)w >= sizeof known - k) break;
            k += (size_t)w;
        }
        return aimc_diag_set(d, AIMC_ERR_NOTFOUND, "%s: unknown scheme (known: %s)", uri, known);
    }

    dev = calloc(1, sizeof *dev);
    if (!dev) return aimc_diag_set(d, AIMC_ERR_NOMEM, "aimc_open: out of memory");
    dev->hal = hal;
    dev->next_fence = 1;
    dev->ring_entries = AIMC_DRV_RING_ENTRIES;
    dev->watchdog_us = opts ? opts->watchdog_us : 0;
    pthread_mutex_init(&dev->lock, NULL);
    rc = hal->open(colon + 1, opts, &dev->ctx, d);
    if (rc != AIMC_OK) {
        pthread_mutex_destroy(&dev->lock);
        free(dev);
        return rc;
    }
    dev->magic = AIMC_DRV_MAGIC;

    if (rd(dev, AIMC_REG_ID) != AIMC_REG_ID_VALUE) {
        rc = aimc_diag_set(d, AIMC_ERR_DEVICE, "%s: ID register reads 0x%08x, not an aimc "
                           "device (0x%08x)", uri, rd(dev, AIMC_REG_ID), AIMC_REG_ID_VALUE);
        goto fail;
    }
    wr(dev, AIMC_REG_CTRL, AIMC_REG_CTRL_SOFT_RESET);
    drv_read_info(dev, &dev->info);
    if (dev->info.max_ring < dev->ring_entries) {
        rc = aimc_diag_set(d, AIMC_ERR_DEVICE, "%s: the device's ring holds at most %u "
                           "commands, the driver needs %u", uri, dev->info.max_ring,
                           dev->ring_entries);
        goto fail;
    }
    dev->slot_fence = calloc(dev->ring_entries, sizeof *dev->slot_fence);
    if (!dev->slot_fence) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "aimc_open: out of memory");
        goto fail;
    }
    rc = hal->dma_alloc(dev->ctx, (size_t)dev->ring_entries * AIMC_DESC_BYTES, &cpu,
                        &dev->ring_addr);
    if (rc != AIMC_OK) {
        aimc_diag_set(d, rc, "%s: cannot allocate the command ring: %s", uri, aimc_strerror(rc));
        goto fail;
    }
    dev->ring = cpu;
    if ((rc = drv_setup(dev)) != AIMC_OK) {
        aimc_diag_set(d, rc, "%s: %s", uri, dev->err);
        goto fail;
    }
    *out = dev;
    return AIMC_OK;

fail:
    aimc_close(dev); /* frees dev */
    return rc;
}

int aimc_query(aimc_dev *dev, aimc_dev_info *info)
{
    int rc = drv_lock(dev);
    if (rc) return rc;
    if (!info) return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_query: info is NULL"));
    drv_read_info(dev, &dev->info);
    *info = dev->info;
    return drv_unlock(dev, AIMC_OK);
}

void *aimc_drv_backend_ctx(aimc_dev *dev, const aimc_hal_ops *hal)
{
    return dev_ok(dev) && dev->hal == hal ? dev->ctx : NULL;
}

int aimc_hal_opt_num(const char *opt, const char *key, unsigned long long max,
                     unsigned long long *v)
{
    const size_t k = strlen(key);
    char *end;
    if (strncmp(opt, key, k) != 0 || opt[k] != '=' || opt[k + 1] < '0' || opt[k + 1] > '9')
        return 0;
    *v = strtoull(opt + k + 1, &end, 10);
    return *end == '\0' && *v <= max;
}

/* ---- buffer objects ---- */

/* Allocate a DMA buffer of n bytes (n > 0) or fail with a message. Lock held. */
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

int aimc_bo_create(aimc_dev *dev, size_t bytes, aimc_bo **out)
{
    return aimc_bo_create_ex(dev, bytes, 0, out);
}

int aimc_bo_create_ex(aimc_dev *dev, size_t bytes, unsigned flags, aimc_bo **out)
{
    aimc_bo *bo;
    int rc = drv_lock(dev);
    if (rc) return rc;
    if (!out) return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_bo_create: out is NULL"));
    *out = NULL;
    if (bytes == 0)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_bo_create: size 0"));
    if (flags & ~AIMC_BO_HOST_READ)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_bo_create: unknown flags "
                                        "0x%x", flags & ~AIMC_BO_HOST_READ));
    if (!(bo = calloc(1, sizeof *bo)))
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_NOMEM, "aimc_bo_create: out of memory"));
    if ((rc = drv_dma_alloc(dev, bytes, &bo->cpu, &bo->addr)) != AIMC_OK) {
        free(bo);
        return drv_unlock(dev, rc);
    }
    bo->dev = dev;
    bo->size = bytes;
    bo->flags = flags;
    bo->next = dev->bos;
    if (dev->bos) dev->bos->prev = bo;
    dev->bos = bo;
    *out = bo;
    return drv_unlock(dev, AIMC_OK);
}

void *aimc_bo_map(aimc_bo *bo)
{
    return bo ? bo->cpu : NULL;
}

uint64_t aimc_bo_addr(const aimc_bo *bo)
{
    return bo ? bo->addr : 0;
}

size_t aimc_bo_size(const aimc_bo *bo)
{
    return bo ? bo->size : 0;
}

int aimc_bo_sync(aimc_bo *bo, aimc_sync_dir dir)
{
    if (!bo) return AIMC_ERR_BADHANDLE;
    if (dir != AIMC_SYNC_TO_DEVICE && dir != AIMC_SYNC_FROM_DEVICE) return AIMC_ERR_INVALID;
    atomic_thread_fence(memory_order_seq_cst);
    aimc_dev *dev = bo->dev;
    if (dev->hal->dma_sync) {
        pthread_mutex_lock(&dev->lock);
        dev->hal->dma_sync(dev->ctx, bo->addr, bo->size, (int)dir);
        pthread_mutex_unlock(&dev->lock);
    }
    return AIMC_OK;
}

void aimc_bo_destroy(aimc_bo *bo)
{
    if (!bo) return;
    aimc_dev *dev = bo->dev;
    pthread_mutex_lock(&dev->lock);
    if (bo->prev) bo->prev->next = bo->next;
    else dev->bos = bo->next;
    if (bo->next) bo->next->prev = bo->prev;
    dev->hal->dma_free(dev->ctx, bo->cpu);
    pthread_mutex_unlock(&dev->lock);
    free(bo);
}

/* ---- weights ---- */

/* Wait for a synchronous command; on a timeout, detach the caller's pointers from its job
 * so that a late completion writes nothing the caller no longer owns. */
static int wait_sync(aimc_dev *dev, uint64_t fence)
{
    int rc = aimc_fence_wait(dev, fence, AIMC_DRV_SYNC_TIMEOUT_NS);
    if (rc == AIMC_ERR_TIMEOUT) {
        pthread_mutex_lock(&dev->lock);
        drv_job *j = job_find(dev, fence);
        if (j) {
            j->user_y = NULL;
            j->user_rep = NULL;
        }
        pthread_mutex_unlock(&dev->lock);
    }
    return rc;
}

int aimc_weights_program(aimc_dev *dev, uint32_t matrix_id, const float *w, uint32_t rows,
                         uint32_t cols, const aimc_tile *tiles, size_t n_tiles,
                         const aimc_weights_opts *opts, aimc_weights_report *rep)
{
    uint8_t desc[AIMC_DESC_BYTES];
    drv_job job = {0};
    uint64_t w_addr = 0, t_addr = 0, r_addr = 0, fence;
    uint32_t iters = opts ? opts->max_iterations : 0;
    double tol = opts ? opts->tolerance_us : 0.0;
    void *cpu;
    int rc = drv_lock(dev);

    if (rc) return rc;
    if ((!w && !dev->info.timing_only) || (!tiles && n_tiles))
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID,
                                        "aimc_weights_program: NULL weights or tiles"));
    if (matrix_id >= dev->info.max_matrices)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_weights_program: matrix "
                                        "id %u, the device holds ids 0..%u", matrix_id,
                                        dev->info.max_matrices - 1));
    if (rows == 0 || cols == 0 || rows > dev->info.max_dim || cols > dev->info.max_dim)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_weights_program: %ux%u "
                                        "outside 1..%u per dimension", rows, cols,
                                        dev->info.max_dim));
    if (n_tiles > dev->info.max_tiles)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_weights_program: %zu "
                                        "tiles, the device takes at most %u", n_tiles,
                                        dev->info.max_tiles));
    if (iters > dev->info.max_verify || !isfinite(tol) || tol < 0 || tol > 3.4e38)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_weights_program: verify "
                                        "rounds %u (at most %u) or tolerance %g uS (>= 0) out "
                                        "of range", iters, dev->info.max_verify, tol));

    if (w) {
        if ((rc = drv_dma_alloc(dev, (uint64_t)rows * cols * sizeof(float), &cpu, &w_addr)))
            return drv_unlock(dev, rc);
        job.buf_in = cpu;
        memcpy(cpu, w, (size_t)rows * cols * sizeof(float));
    }
    if (n_tiles) {
        if ((rc = drv_dma_alloc(dev, (uint64_t)n_tiles * AIMC_REC_TILE_BYTES, &cpu, &t_addr)))
            goto fail;
        job.buf_aux = cpu;
        for (size_t i = 0; i < n_tiles; i++)
            aimc_tile_encode(&tiles[i], (uint8_t *)cpu + i * AIMC_REC_TILE_BYTES);
    }
    if (rep) {
        if ((rc = drv_dma_alloc(dev, AIMC_REC_PREP_BYTES, &cpu, &r_addr))) goto fail;
        job.buf_rep = cpu;
        job.user_rep = rep;
        memset(rep, 0, sizeof *rep);
    }
    float tol_f = (float)tol;
    uint32_t tol_bits;
    memcpy(&tol_bits, &tol_f, sizeof tol_bits);
    desc_init(desc, AIMC_DESC_OP_PROGRAM);
    aimc_le_put32(desc + AIMC_DESC_PROG_MATRIX, matrix_id);
    aimc_le_put32(desc + AIMC_DESC_PROG_ROWS, rows);
    aimc_le_put32(desc + AIMC_DESC_PROG_COLS, cols);
    aimc_le_put32(desc + AIMC_DESC_PROG_NTILES, (uint32_t)n_tiles);
    aimc_le_put64(desc + AIMC_DESC_PROG_W_ADDR, w_addr);
    aimc_le_put64(desc + AIMC_DESC_PROG_TILES_ADDR, t_addr);
    aimc_le_put32(desc + AIMC_DESC_PROG_VERIFY_ITERS, iters);
    aimc_le_put32(desc + AIMC_DESC_PROG_VERIFY_TOL, tol_bits);
    aimc_le_put64(desc + AIMC_DESC_PROG_REPORT_ADDR, r_addr);
    rc = drv_submit(dev, desc, &job, &fence); /* owns the buffers from here */
    drv_unlock(dev, rc);
    if (rc) return rc;
    return wait_sync(dev, fence);
fail:
    dev->hal->dma_free(dev->ctx, job.buf_in);
    dev->hal->dma_free(dev->ctx, job.buf_aux);
    return drv_unlock(dev, rc);
}

int aimc_weights_readback(aimc_dev *dev, uint32_t matrix_id, float *w, uint32_t rows,
                          uint32_t cols)
{
    uint8_t desc[AIMC_DESC_BYTES];
    drv_job job = {0};
    uint64_t addr, fence;
    void *cpu;
    const drv_shape *s;
    int rc = drv_lock(dev);

    if (rc) return rc;
    if (!w) return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_weights_readback: w is NULL"));
    if (!(s = shape_find(dev, matrix_id)))
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_STATE, "aimc_weights_readback: matrix %u "
                                        "is not programmed", matrix_id));
    if (s->rows != rows || s->cols != cols)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_weights_readback: matrix "
                                        "%u is %ux%u, not %ux%u", matrix_id, s->rows, s->cols,
                                        rows, cols));
    if (rows > dev->info.max_batch || (uint64_t)rows * rows > dev->info.max_elems ||
        (uint64_t)rows * cols > dev->info.max_elems)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_UNSUPPORTED, "aimc_weights_readback: "
                                        "%ux%u is above the device's readback limit (%u "
                                        "elements)", rows, cols, dev->info.max_elems));
    if ((rc = drv_dma_alloc(dev, (uint64_t)rows * cols * sizeof(float), &cpu, &addr)))
        return drv_unlock(dev, rc);
    job.buf_aux = cpu;
    job.user_y = w;
    job.y_bytes = (size_t)rows * cols * sizeof(float);
    desc_init(desc, AIMC_DESC_OP_READBACK);
    aimc_le_put16(desc + AIMC_DESC_FLAGS, AIMC_DESC_FLAG_IRQ | AIMC_DESC_FLAG_TO_HOST);
    aimc_le_put32(desc + AIMC_DESC_RDBK_MATRIX, matrix_id);
    aimc_le_put32(desc + AIMC_DESC_RDBK_ROW0, 0);
    aimc_le_put32(desc + AIMC_DESC_RDBK_NROWS, rows);
    aimc_le_put32(desc + AIMC_DESC_RDBK_COLS, cols);
    aimc_le_put64(desc + AIMC_DESC_RDBK_OUT_ADDR, addr);
    rc = drv_submit(dev, desc, &job, &fence);
    drv_unlock(dev, rc);
    if (rc) return rc;
    return wait_sync(dev, fence);
}

/* ---- jobs ---- */

int aimc_submit_mvm(aimc_dev *dev, uint32_t matrix_id, const float *x, uint32_t batch,
                    float *y, uint64_t *fence)
{
    uint8_t desc[AIMC_DESC_BYTES];
    drv_job job = {0};
    uint64_t x_addr = 0, y_addr = 0;
    uint32_t rows = 0, cols = 0;
    const drv_shape *s;
    void *cpu;
    int rc = drv_lock(dev);

    if (rc) return rc;
    if (!x || !y || !fence)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_submit_mvm: NULL x, y or fence"));
    if (batch == 0 || batch > dev->info.max_batch)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_submit_mvm: batch %u "
                                        "outside 1..%u", batch, dev->info.max_batch));
    /* A matrix not programmed since open or reset goes to the device as a 0 x 0 MVM without
     * buffers: the device, not the driver, answers it (NOT_PROGRAMMED or SHAPE). */
    s = shape_find(dev, matrix_id);
    if (s) {
        rows = s->rows;
        cols = s->cols;
        if ((rc = drv_dma_alloc(dev, (uint64_t)batch * rows * sizeof(float), &cpu, &x_addr)))
            return drv_unlock(dev, rc);
        job.buf_in = cpu;
        memcpy(cpu, x, (size_t)batch * rows * sizeof(float));
        if ((rc = drv_dma_alloc(dev, (uint64_t)batch * cols * sizeof(float), &cpu, &y_addr))) {
            dev->hal->dma_free(dev->ctx, job.buf_in);
            return drv_unlock(dev, rc);
        }
        job.buf_aux = cpu;
        job.user_y = y;
        job.y_bytes = (size_t)batch * cols * sizeof(float);
    }
    desc_init(desc, AIMC_DESC_OP_MVM);
    /* y comes back to the caller: the result goes to host memory */
    aimc_le_put16(desc + AIMC_DESC_FLAGS, AIMC_DESC_FLAG_IRQ | AIMC_DESC_FLAG_TO_HOST);
    aimc_le_put32(desc + AIMC_DESC_MVM_MATRIX, matrix_id);
    aimc_le_put32(desc + AIMC_DESC_MVM_BATCH, batch);
    aimc_le_put32(desc + AIMC_DESC_MVM_ROWS, rows);
    aimc_le_put32(desc + AIMC_DESC_MVM_COLS, cols);
    aimc_le_put64(desc + AIMC_DESC_MVM_X_ADDR, x_addr);
    aimc_le_put64(desc + AIMC_DESC_MVM_Y_ADDR, y_addr);
    return drv_unlock(dev, drv_submit(dev, desc, &job, fence));
}

int aimc_submit_mvm_addr(aimc_dev *dev, uint32_t matrix_id, uint32_t batch, uint64_t x_addr,
                         uint64_t y_addr, uint64_t *fence)
{
    uint8_t desc[AIMC_DESC_BYTES];
    uint32_t rows = 0, cols = 0;
    int rc = drv_lock(dev);
    if (rc) return rc;
    const drv_shape *s = shape_find(dev, matrix_id);
    if (s) {
        rows = s->rows;
        cols = s->cols;
    }
    drv_unlock(dev, AIMC_OK);
    desc_init(desc, AIMC_DESC_OP_MVM);
    aimc_le_put32(desc + AIMC_DESC_MVM_MATRIX, matrix_id);
    aimc_le_put32(desc + AIMC_DESC_MVM_BATCH, batch);
    aimc_le_put32(desc + AIMC_DESC_MVM_ROWS, rows);
    aimc_le_put32(desc + AIMC_DESC_MVM_COLS, cols);
    aimc_le_put64(desc + AIMC_DESC_MVM_X_ADDR, x_addr);
    aimc_le_put64(desc + AIMC_DESC_MVM_Y_ADDR, y_addr);
    return submit_plain(dev, desc, fence, "aimc_submit_mvm_addr");
}

int aimc_submit_rmsnorm(aimc_dev *dev, uint32_t batch, uint32_t dim, uint64_t in_addr,
                        uint64_t out_addr, uint64_t *fence)
{
    uint8_t desc[AIMC_DESC_BYTES];
    desc_init(desc, AIMC_DESC_OP_RMSNORM);
    aimc_le_put32(desc + AIMC_DESC_RMS_BATCH, batch);
    aimc_le_put32(desc + AIMC_DESC_RMS_DIM, dim);
    aimc_le_put64(desc + AIMC_DESC_RMS_IN_ADDR, in_addr);
    aimc_le_put64(desc + AIMC_DESC_RMS_OUT_ADDR, out_addr);
    return submit_plain(dev, desc, fence, "aimc_submit_rmsnorm");
}

int aimc_submit_topk(aimc_dev *dev, uint32_t batch, uint32_t n, uint32_t k, uint64_t in_addr,
                     uint64_t idx_addr, uint64_t w_addr, uint64_t *fence)
{
    uint8_t desc[AIMC_DESC_BYTES];
    desc_init(desc, AIMC_DESC_OP_TOPK);
    aimc_le_put32(desc + AIMC_DESC_TOPK_BATCH, batch);
    aimc_le_put32(desc + AIMC_DESC_TOPK_N, n);
    aimc_le_put32(desc + AIMC_DESC_TOPK_K, k);
    aimc_le_put64(desc + AIMC_DESC_TOPK_IN_ADDR, in_addr);
    aimc_le_put64(desc + AIMC_DESC_TOPK_IDX_ADDR, idx_addr);
    aimc_le_put64(desc + AIMC_DESC_TOPK_W_ADDR, w_addr);
    return submit_plain(dev, desc, fence, "aimc_submit_topk");
}

int aimc_submit_silu_mul(aimc_dev *dev, uint32_t count, uint64_t g_addr, uint64_t u_addr,
                         uint64_t out_addr, uint64_t *fence)
{
    uint8_t desc[AIMC_DESC_BYTES];
    desc_init(desc, AIMC_DESC_OP_SILU_MUL);
    aimc_le_put32(desc + AIMC_DESC_SILU_COUNT, count);
    aimc_le_put64(desc + AIMC_DESC_SILU_G_ADDR, g_addr);
    aimc_le_put64(desc + AIMC_DESC_SILU_U_ADDR, u_addr);
    aimc_le_put64(desc + AIMC_DESC_SILU_OUT_ADDR, out_addr);
    return submit_plain(dev, desc, fence, "aimc_submit_silu_mul");
}

int aimc_submit_gather(aimc_dev *dev, uint32_t batch, uint32_t dim, uint32_t src_rows,
                       uint64_t src_addr, uint64_t idx_addr, uint64_t dst_addr,
                       uint64_t *fence)
{
    uint8_t desc[AIMC_DESC_BYTES];
    desc_init(desc, AIMC_DESC_OP_GATHER);
    aimc_le_put32(desc + AIMC_DESC_GATH_BATCH, batch);
    aimc_le_put32(desc + AIMC_DESC_GATH_DIM, dim);
    aimc_le_put32(desc + AIMC_DESC_GATH_SRC_ROWS, src_rows);
    aimc_le_put64(desc + AIMC_DESC_GATH_SRC_ADDR, src_addr);
    aimc_le_put64(desc + AIMC_DESC_GATH_IDX_ADDR, idx_addr);
    aimc_le_put64(desc + AIMC_DESC_GATH_DST_ADDR, dst_addr);
    return submit_plain(dev, desc, fence, "aimc_submit_gather");
}

int aimc_submit_scale_acc(aimc_dev *dev, uint32_t batch, uint32_t dim, uint32_t dst_rows,
                          uint64_t src_addr, uint64_t idx_addr, uint64_t w_addr,
                          uint64_t dst_addr, uint64_t *fence)
{
    uint8_t desc[AIMC_DESC_BYTES];
    desc_init(desc, AIMC_DESC_OP_SCALE_ACC);
    aimc_le_put32(desc + AIMC_DESC_SACC_BATCH, batch);
    aimc_le_put32(desc + AIMC_DESC_SACC_DIM, dim);
    aimc_le_put32(desc + AIMC_DESC_SACC_DST_ROWS, dst_rows);
    aimc_le_put64(desc + AIMC_DESC_SACC_SRC_ADDR, src_addr);
    aimc_le_put64(desc + AIMC_DESC_SACC_IDX_ADDR, idx_addr);
    aimc_le_put64(desc + AIMC_DESC_SACC_W_ADDR, w_addr);
    aimc_le_put64(desc + AIMC_DESC_SACC_DST_ADDR, dst_addr);
    return submit_plain(dev, desc, fence, "aimc_submit_scale_acc");
}

int aimc_submit_route(aimc_dev *dev, uint32_t batch, uint32_t n, uint32_t k, uint64_t in_addr,
                      uint64_t idx_addr, uint64_t w_addr, uint64_t rule_addr, uint64_t *fence)
{
    uint8_t desc[AIMC_DESC_BYTES];
    desc_init(desc, AIMC_DESC_OP_ROUTE);
    aimc_le_put32(desc + AIMC_DESC_ROUTE_BATCH, batch);
    aimc_le_put32(desc + AIMC_DESC_ROUTE_N, n);
    aimc_le_put32(desc + AIMC_DESC_ROUTE_K, k);
    aimc_le_put64(desc + AIMC_DESC_ROUTE_IN_ADDR, in_addr);
    aimc_le_put64(desc + AIMC_DESC_ROUTE_IDX_ADDR, idx_addr);
    aimc_le_put64(desc + AIMC_DESC_ROUTE_W_ADDR, w_addr);
    aimc_le_put64(desc + AIMC_DESC_ROUTE_RULE_ADDR, rule_addr);
    return submit_plain(dev, desc, fence, "aimc_submit_route");
}

_Static_assert(AIMC_ROUTE_RULE_BYTES == AIMC_REC_RULE_BYTES, "aimc.h's rule record size");

void aimc_route_rule_write(void *rec, uint32_t score, uint32_t norm, uint32_t groups,
                           uint32_t topk_groups, float scale, uint32_t bias)
{
    uint8_t *r = rec;
    uint32_t u;
    memcpy(&u, &scale, sizeof u);
    memset(r, 0, AIMC_ROUTE_RULE_BYTES);
    aimc_le_put32(r + AIMC_REC_RULE_SCORE, score);
    aimc_le_put32(r + AIMC_REC_RULE_NORM, norm);
    aimc_le_put32(r + AIMC_REC_RULE_GROUPS, groups);
    aimc_le_put32(r + AIMC_REC_RULE_TOPK_GROUPS, topk_groups);
    aimc_le_put32(r + AIMC_REC_RULE_SCALE, u);
    aimc_le_put32(r + AIMC_REC_RULE_BIAS, bias);
}

int aimc_submit_norm(aimc_dev *dev, uint32_t batch, uint32_t dim, uint32_t stride, float eps,
                     uint64_t in_addr, uint64_t out_addr, uint64_t w_addr, uint64_t *fence)
{
    uint8_t desc[AIMC_DESC_BYTES];
    uint32_t u;
    memcpy(&u, &eps, sizeof u);
    desc_init(desc, AIMC_DESC_OP_NORM);
    aimc_le_put32(desc + AIMC_DESC_NORM_BATCH, batch);
    aimc_le_put32(desc + AIMC_DESC_NORM_DIM, dim);
    aimc_le_put32(desc + AIMC_DESC_NORM_EPS, u);
    aimc_le_put32(desc + AIMC_DESC_NORM_STRIDE, stride);
    aimc_le_put64(desc + AIMC_DESC_NORM_IN_ADDR, in_addr);
    aimc_le_put64(desc + AIMC_DESC_NORM_OUT_ADDR, out_addr);
    aimc_le_put64(desc + AIMC_DESC_NORM_W_ADDR, w_addr);
    return submit_plain(dev, desc, fence, "aimc_submit_norm");
}

int aimc_submit_sigmoid(aimc_dev *dev, uint32_t count, uint64_t in_addr, uint64_t out_addr,
                        uint64_t *fence)
{
    uint8_t desc[AIMC_DESC_BYTES];
    desc_init(desc, AIMC_DESC_OP_ACT);
    aimc_le_put32(desc + AIMC_DESC_ACT_COUNT, count);
    aimc_le_put32(desc + AIMC_DESC_ACT_FUNC, 0);
    aimc_le_put64(desc + AIMC_DESC_ACT_IN_ADDR, in_addr);
    aimc_le_put64(desc + AIMC_DESC_ACT_OUT_ADDR, out_addr);
    return submit_plain(dev, desc, fence, "aimc_submit_sigmoid");
}

_Static_assert(AIMC_ATTN_RECORD_BYTES == AIMC_REC_ATTN_BYTES, "aimc.h's attention record size");

void aimc_attn_record_write(void *rec, uint32_t heads, uint32_t kv_heads, uint32_t dk,
                            uint32_t dv, uint32_t ctx, uint32_t rope_dim, uint32_t rope_mode,
                            uint32_t v_in_k, float scale, float theta, uint32_t append)
{
    uint8_t *r = rec;
    uint32_t us, ut;
    memcpy(&us, &scale, sizeof us);
    memcpy(&ut, &theta, sizeof ut);
    memset(r, 0, AIMC_ATTN_RECORD_BYTES);
    aimc_le_put32(r + AIMC_REC_ATTN_HEADS, heads);
    aimc_le_put32(r + AIMC_REC_ATTN_KV_HEADS, kv_heads);
    aimc_le_put32(r + AIMC_REC_ATTN_DK, dk);
    aimc_le_put32(r + AIMC_REC_ATTN_DV, dv);
    aimc_le_put32(r + AIMC_REC_ATTN_CTX, ctx);
    aimc_le_put32(r + AIMC_REC_ATTN_ROPE_DIM, rope_dim);
    aimc_le_put32(r + AIMC_REC_ATTN_ROPE_MODE, rope_mode);
    aimc_le_put32(r + AIMC_REC_ATTN_V_IN_K, v_in_k);
    aimc_le_put32(r + AIMC_REC_ATTN_SCALE, us);
    aimc_le_put32(r + AIMC_REC_ATTN_THETA, ut);
    aimc_le_put32(r + AIMC_REC_ATTN_APPEND, append);
}

int aimc_submit_attn(aimc_dev *dev, uint32_t batch, uint32_t pos0, uint64_t q_addr,
                     uint64_t kv_addr, uint64_t out_addr, uint64_t cache_addr,
                     uint64_t param_addr, uint64_t *fence)
{
    uint8_t desc[AIMC_DESC_BYTES];
    desc_init(desc, AIMC_DESC_OP_ATTN);
    aimc_le_put32(desc + AIMC_DESC_ATTN_BATCH, batch);
    aimc_le_put32(desc + AIMC_DESC_ATTN_POS0, pos0);
    aimc_le_put64(desc + AIMC_DESC_ATTN_Q_ADDR, q_addr);
    aimc_le_put64(desc + AIMC_DESC_ATTN_KV_ADDR, kv_addr);
    aimc_le_put64(desc + AIMC_DESC_ATTN_OUT_ADDR, out_addr);
    aimc_le_put64(desc + AIMC_DESC_ATTN_CACHE_ADDR, cache_addr);
    aimc_le_put64(desc + AIMC_DESC_ATTN_PARAM_ADDR, param_addr);
    return submit_plain(dev, desc, fence, "aimc_submit_attn");
}

int aimc_submit_fence(aimc_dev *dev, uint64_t *fence)
{
    uint8_t desc[AIMC_DESC_BYTES];
    desc_init(desc, AIMC_DESC_OP_FENCE);
    return submit_plain(dev, desc, fence, "aimc_submit_fence");
}

int aimc_submit_raw(aimc_dev *dev, const void *desc, size_t len, uint64_t *fence)
{
    uint8_t d[AIMC_DESC_BYTES];
    drv_job job = {0};
    int rc = drv_lock(dev);

    if (rc) return rc;
    if (!desc || !fence)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_submit_raw: NULL "
                                        "descriptor or fence"));
    if (len != AIMC_DESC_BYTES)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_submit_raw: a descriptor "
                                        "is %u bytes, got %zu", AIMC_DESC_BYTES, len));
    memcpy(d, desc, sizeof d);
    return drv_unlock(dev, drv_submit(dev, d, &job, fence));
}

/* ---- completion ---- */

/* Whether job j has completed: its status saved, the in-order DONE_FENCE past it, or its
 * status word in the ring marked DONE by the device (commands may complete out of order). */
static int job_done(aimc_dev *dev, const drv_job *j)
{
    if (j->status_valid) return 1;
    if (dev->slot_fence[j->slot] == j->fence &&
        (aimc_le_get32(dev->ring + (size_t)j->slot * AIMC_DESC_BYTES + AIMC_DESC_STATUS) &
         AIMC_DESC_STATUS_DONE)) {
        atomic_thread_fence(memory_order_acquire);
        return 1;
    }
    return rd64(dev, AIMC_REG_DONE_FENCE_LO) >= j->fence;
}

/* Wait for the first of the n fences to complete and finish it (lock held on entry and
 * exit; released while waiting). */
static int wait_any(aimc_dev *dev, const uint64_t *fences, size_t n, int64_t timeout_ns,
                    size_t *index)
{
    uint64_t deadline;
    int polled = 0;
    for (size_t i = 0; i < n; i++)
        if (fences[i] == 0 || fences[i] >= dev->next_fence)
            return drv_fail(dev, AIMC_ERR_INVALID, "aimc_fence_wait: fence %llu was never "
                            "issued", (unsigned long long)fences[i]);
    uint64_t start = dev->hal->time_ns(dev->ctx);
    deadline = timeout_ns < 0 ? UINT64_MAX : start + (uint64_t)timeout_ns;
    for (;;) {
        for (size_t i = 0; i < n; i++) {
            drv_job *j = job_find(dev, fences[i]);
            *index = i;
            /* every issued fence has a job until it is finished */
            if (!j) return AIMC_OK;
            if (j->aborted) {
                job_release(dev, j);
                return drv_fail(dev, AIMC_ERR_ABORTED, "fence %llu was aborted by a reset",
                                (unsigned long long)fences[i]);
            }
            if (job_done(dev, j)) return job_finish(dev, j);
        }
        const uint64_t fence = fences[0];
        uint32_t st = rd(dev, AIMC_REG_STATUS), err = rd(dev, AIMC_REG_ERROR);
        if ((st & AIMC_REG_STATUS_HALTED) || (err & AIMC_REG_ERROR_WATCHDOG))
            return drv_fail(dev, AIMC_ERR_TIMEOUT, "fence %llu: the device's watchdog halted "
                            "it (no progress for %u us, RING_HEAD=%u); aimc_reset recovers",
                            (unsigned long long)fence, dev->watchdog_us,
                            rd(dev, AIMC_REG_RING_HEAD));
        /* a device that cannot progress never completes the fence: do not wait for it. An
         * asynchronous device may finish between the reads, so the jobs are checked again
         * after it is seen idle. */
        int stuck = !(st & AIMC_REG_STATUS_READY) || (err & AIMC_REG_ERROR_RING);
        int idle = !(st & AIMC_REG_STATUS_BUSY) && rd(dev, AIMC_REG_RING_HEAD) == dev->tail;
        if (stuck || idle) {
            int any = 0;
            for (size_t i = 0; i < n; i++) {
                drv_job *j = job_find(dev, fences[i]);
                any |= !j || j->aborted || job_done(dev, j);
            }
            if (any) continue; /* it completed meanwhile */
            return drv_fail(dev, AIMC_ERR_DEVICE, "device error: fence %llu cannot complete "
                            "(STATUS=0x%x, ERROR=0x%x, RING_HEAD=%u, tail %u)%s",
                            (unsigned long long)fence, st, err, rd(dev, AIMC_REG_RING_HEAD),
                            dev->tail, stuck ? "; aimc_reset recovers" : "");
        }
        uint64_t now = dev->hal->time_ns(dev->ctx);
        /* A poll still lets the device take one step: a simulated device works only when
         * the host waits on it. */
        if (now >= deadline && polled)
            return drv_fail(dev, AIMC_ERR_TIMEOUT, "fence %llu not done after %lld ns",
                            (unsigned long long)fence, (long long)timeout_ns);
        polled = 1;
        uint64_t left = deadline > now ? deadline - now : 0;
        pthread_mutex_unlock(&dev->lock);
        int irq = dev->hal->irq_wait(dev->ctx, (int64_t)(left < AIMC_DRV_WAIT_SLICE_NS
                                                             ? left : AIMC_DRV_WAIT_SLICE_NS));
        pthread_mutex_lock(&dev->lock);
        if (irq == AIMC_OK) /* acknowledge DONE; ERROR stays for the failing job's waiter */
            wr(dev, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_DONE);
    }
}

int aimc_fence_wait(aimc_dev *dev, uint64_t fence, int64_t timeout_ns)
{
    size_t index;
    int rc = drv_lock(dev);
    if (rc) return rc;
    return drv_unlock(dev, wait_any(dev, &fence, 1, timeout_ns, &index));
}

int aimc_fence_wait_any(aimc_dev *dev, const uint64_t *fences, size_t n, int64_t timeout_ns,
                        size_t *index)
{
    size_t local;
    int rc = drv_lock(dev);
    if (rc) return rc;
    if (!fences || n == 0)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_fence_wait_any: no fences"));
    return drv_unlock(dev, wait_any(dev, fences, n, timeout_ns, index ? index : &local));
}

int aimc_fence_poll(aimc_dev *dev, uint64_t fence)
{
    return aimc_fence_wait(dev, fence, 0);
}

/* ---- counters, errors, reset ---- */

int aimc_counters_read(aimc_dev *dev, aimc_counters *c)
{
    static const uint32_t energy_reg[AIMC_PART_COUNT] = {
        AIMC_REG_CNT_ENERGY_DAC_FJ_LO,    AIMC_REG_CNT_ENERGY_XBAR_FJ_LO,
        AIMC_REG_CNT_ENERGY_ADC_FJ_LO,    AIMC_REG_CNT_ENERGY_DIG_FJ_LO,
        AIMC_REG_CNT_ENERGY_BUFFER_FJ_LO, AIMC_REG_CNT_ENERGY_BUS_FJ_LO,
        AIMC_REG_CNT_ENERGY_NOC_FJ_LO,    AIMC_REG_CNT_ENERGY_UNITS_FJ_LO,
        AIMC_REG_CNT_ENERGY_LINK_FJ_LO,   AIMC_REG_CNT_ENERGY_HOST_FJ_LO,
    };
    int rc = drv_lock(dev);
    if (rc) return rc;
    if (!c) return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_counters_read: c is NULL"));
    c->cycles = rd64(dev, AIMC_REG_CNT_CYCLES_LO);
    c->time = rd64(dev, AIMC_REG_CNT_TIME_LO);
    c->mvms = rd64(dev, AIMC_REG_CNT_MVMS_LO);
    c->adc_conversions = rd64(dev, AIMC_REG_CNT_ADC_CONV_LO);
    c->adc_saturations = rd64(dev, AIMC_REG_CNT_ADC_SAT_LO);
    c->dac_drives = rd64(dev, AIMC_REG_CNT_DAC_DRIVES_LO);
    c->xbar_reads = rd64(dev, AIMC_REG_CNT_XBAR_READS_LO);
    c->digital_ops = rd64(dev, AIMC_REG_CNT_DIGITAL_OPS_LO);
    c->cells_programmed = rd64(dev, AIMC_REG_CNT_CELLS_PROG_LO);
    c->noc_bytes = rd64(dev, AIMC_REG_CNT_NOC_BYTES_LO);
    c->link_bytes = rd64(dev, AIMC_REG_CNT_LINK_BYTES_LO);
    c->host_bytes = rd64(dev, AIMC_REG_CNT_HOST_BYTES_LO);
    for (int i = 0; i < AIMC_PART_COUNT; i++)
        c->energy_pj[i] = (double)rd64(dev, energy_reg[i]) / AIMC_DRV_FJ_PER_PJ;
    return drv_unlock(dev, AIMC_OK);
}

void aimc_counters_sub(const aimc_counters *a, const aimc_counters *b, aimc_counters *out)
{
    aimc_counters r;
    r.cycles = a->cycles - b->cycles;
    r.time = a->time - b->time;
    r.mvms = a->mvms - b->mvms;
    r.adc_conversions = a->adc_conversions - b->adc_conversions;
    r.adc_saturations = a->adc_saturations - b->adc_saturations;
    r.dac_drives = a->dac_drives - b->dac_drives;
    r.xbar_reads = a->xbar_reads - b->xbar_reads;
    r.digital_ops = a->digital_ops - b->digital_ops;
    r.cells_programmed = a->cells_programmed - b->cells_programmed;
    for (int i = 0; i < AIMC_PART_COUNT; i++) r.energy_pj[i] = a->energy_pj[i] - b->energy_pj[i];
    r.noc_bytes = a->noc_bytes - b->noc_bytes;
    r.link_bytes = a->link_bytes - b->link_bytes;
    r.host_bytes = a->host_bytes - b->host_bytes;
    *out = r;
}

int aimc_counters_reset(aimc_dev *dev)
{
    int rc = drv_lock(dev);
    if (rc) return rc;
    wr(dev, AIMC_REG_CNT_CTRL, AIMC_REG_CNT_CTRL_RESET);
    return drv_unlock(dev, AIMC_OK);
}

int aimc_profile_read(aimc_dev *dev, int kind, uint32_t id, aimc_profile *out)
{
    int rc = drv_lock(dev);
    if (rc) return rc;
    if (!out || (kind != AIMC_PROFILE_MATRIX && kind != AIMC_PROFILE_OPCODE))
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_profile_read: NULL out "
                                        "or unknown kind %d", kind));
    if (!dev->hal->profile)
        return drv_unlock(dev, drv_fail(dev, AIMC_ERR_UNSUPPORTED, "aimc_profile_read: the "
                                        "%s: backend keeps no profile", dev->hal->scheme));
    rc = dev->hal->profile(dev->ctx, kind, id, out);
    if (rc) return drv_unlock(dev, drv_fail(dev, rc, "aimc_profile_read: kind %d id %u: %s",
                                            kind, id, aimc_strerror(rc)));
    return drv_unlock(dev, AIMC_OK);
}

const char *aimc_opcode_name(uint32_t op)
{
    static const struct {
        uint32_t op;
        const char *name;
    } names[] = {{AIMC_DESC_OP_NOP, "nop"},         {AIMC_DESC_OP_FENCE, "fence"},
                 {AIMC_DESC_OP_PROGRAM, "program"}, {AIMC_DESC_OP_MVM, "mvm"},
                 {AIMC_DESC_OP_READBACK, "readback"}, {AIMC_DESC_OP_RMSNORM, "rmsnorm"},
                 {AIMC_DESC_OP_TOPK, "topk"},       {AIMC_DESC_OP_SILU_MUL, "silu_mul"},
                 {AIMC_DESC_OP_GATHER, "gather"},   {AIMC_DESC_OP_SCALE_ACC, "scale_acc"},
                 {AIMC_DESC_OP_ROUTE, "route"},     {AIMC_DESC_OP_NORM, "norm"},
                 {AIMC_DESC_OP_ACT, "act"},         {AIMC_DESC_OP_ATTN, "attn"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].op == op) return names[i].name;
    return NULL;
}

int aimc_error_get(aimc_dev *dev, aimc_dev_error *e)
{
    int rc = drv_lock(dev);
    if (rc) return rc;
    if (!e) return drv_unlock(dev, drv_fail(dev, AIMC_ERR_INVALID, "aimc_error_get: e is NULL"));
    e->bits = rd(dev, AIMC_REG_ERROR);
    e->fence = rd64(dev, AIMC_REG_ERROR_FENCE_LO);
    e->info = rd(dev, AIMC_REG_ERROR_INFO);
    e->irq_status = rd(dev, AIMC_REG_IRQ_STATUS);
    e->status = rd(dev, AIMC_REG_STATUS);
    return drv_unlock(dev, AIMC_OK);
}

int aimc_reset(aimc_dev *dev)
{
    int rc = drv_lock(dev);
    if (rc) return rc;
    /* what completed keeps its status; the rest is aborted */
    for (size_t i = 0; i < dev->n_jobs; i++) {
        drv_job *j = &dev->jobs[i];
        if (j->status_valid || j->aborted) continue;
        if (job_done(dev, j)) {
            j->status = aimc_le_get32(dev->ring + (size_t)j->slot * AIMC_DESC_BYTES +
                                      AIMC_DESC_STATUS);
            j->status_valid = 1;
        } else {
            j->aborted = 1;
        }
    }
    wr(dev, AIMC_REG_CTRL, AIMC_REG_CTRL_SOFT_RESET);
    dev->n_shapes = 0; /* the device forgot every matrix */
    return drv_unlock(dev, drv_setup(dev));
}

const char *aimc_error_text(aimc_dev *dev)
{
    if (!dev_ok(dev)) return "bad handle: NULL or not an aimc device";
    return dev->err;
}
