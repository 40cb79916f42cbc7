/* device.c - the register-level aimc device model: register file, command ring, DMA, IRQ,
 * watchdog, and the commands of common/aimc_regs.yaml.
 *
 * Follows docs/driver.md and docs/registers.md (generated from common/aimc_regs.yaml, whose
 * doc texts are the register semantics). The state struct below is the device's whole
 * architectural state. Every value the host hands over (register writes, descriptors, tile
 * tables, index tables, DMA addresses) is checked before use; a bad one is answered with
 * ERROR bits, a status word in the descriptor and the error interrupt, as silicon must, and
 * never with a crash.
 */
#include "aimc_accel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_regs.h"
#include "aimc_xbar.h"
#include "aimc_tile.h"

/* Device limits, reported by the CAP_MAX_* registers. They keep every size product far
 * below 2^63: rows * cols * 4 <= 2^34 bytes, batch * dim * 4 <= 2^34 bytes; a digital
 * command or a readback touches at most DEV_MAX_ELEMS floats (64 MiB) per buffer. */
#define DEV_MAX_MATRICES ((uint32_t)AIMC_XBAR_MAX_MATRICES)
#define DEV_MAX_DIM 65536u
#define DEV_MAX_BATCH 65536u
#define DEV_MAX_TILES (1u << 20)
#define DEV_MAX_RING 65536u
#define DEV_MAX_ELEMS (1u << 24)
#define DEV_MAX_VERIFY 1000u
#define DEV_FJ_PER_PJ 1000.0
#define DEV_NS_PER_US 1000u
#define DEV_RMS_EPS 1e-6 /* the runtime's RMS norm epsilon (driver/runtime/aimc_rt.h) */

struct aimc_accel {
    aimc_arch arch;
    uint64_t seed;
    aimc_accel_host host;
    aimc_xbar *sim; /* NULL only when a reset could not recreate it */

    uint32_t ctrl;
    uint32_t error;
    uint64_t error_fence;
    uint32_t error_info;
    uint32_t irq_status;
    uint32_t irq_mask;
    uint64_t ring_base;
    uint32_t ring_size;
    uint32_t ring_head;
    uint32_t ring_tail;
    uint64_t done_fence;
    uint32_t watchdog_us;
    aimc_xbar_stats stats; /* the performance counters */
    int busy;
    int halted;           /* the watchdog fired */
    int irq_line;
    uint32_t latch_off;   /* HI offset whose half is latched; 0 = none */
    uint32_t latch_hi;
    uint64_t idle_ns;     /* device time without progress while commands are pending */
    uint32_t hang_after;  /* fault injection: commands left before the processor hangs */
    int hung;
    /* Split execution (aimc_accel_cmd_*): the analog job in flight. */
    aimc_xbar_mvm_run *job;
    uint8_t job_desc[AIMC_DESC_BYTES];
    uint32_t job_out_field; /* descriptor field of the output address */
    uint64_t job_out_bytes;
    uint32_t job_tiles_max; /* the control path's tile table: larger jobs fail; 0 = none */
};

/* ---- interrupt and error state ---- */

static void update_irq(aimc_accel *dev)
{
    int level = (dev->irq_status & dev->irq_mask) != 0;
    if (level == dev->irq_line) return;
    dev->irq_line = level;
    if (dev->host.irq) dev->host.irq(dev->host.ctx, level);
}

/* Record error bits: the first error since ERROR was 0 latches its fence and detail. */
static void raise_error(aimc_accel *dev, uint32_t bits, uint64_t fence, uint32_t info)
{
    if (!bits) return;
    if (!dev->error) {
        dev->error_fence = fence;
        dev->error_info = info;
    }
    dev->error |= bits;
    dev->irq_status |= AIMC_REG_IRQ_ERROR;
    update_irq(dev);
}

/* ---- DMA through the host callbacks ---- */

static int dma_read(aimc_accel *dev, uint64_t addr, void *dst, size_t n)
{
    if (n == 0) return 0;
    if (!dev->host.dma_read || addr > UINT64_MAX - n) return -1;
    return dev->host.dma_read(dev->host.ctx, addr, dst, n) ? -1 : 0;
}

static int dma_write(aimc_accel *dev, uint64_t addr, const void *src, size_t n)
{
    if (n == 0) return 0;
    if (!dev->host.dma_write || addr > UINT64_MAX - n) return -1;
    return dev->host.dma_write(dev->host.ctx, addr, src, n) ? -1 : 0;
}

/* Check that the first and last byte of [addr, addr + n) can be read, before the device
 * allocates a buffer of n bytes for it (the full transfer is still checked). */
static int dma_probe(aimc_accel *dev, uint64_t addr, uint64_t n)
{
    uint8_t b;
    if (n == 0) return 0;
    if (addr > UINT64_MAX - n) return -1;
    if (dma_read(dev, addr, &b, 1)) return -1;
    return dma_read(dev, addr + n - 1, &b, 1);
}

/* Fetch n bytes at the address in descriptor field `field` into a new buffer *out.
 * 0, or the ERROR bits with *info set (DMA_FAULT: the field's offset). */
static uint32_t dma_fetch(aimc_accel *dev, const uint8_t *desc, uint32_t field, uint64_t n,
                          void **out, uint32_t *info)
{
    uint64_t addr = aimc_le_get64(desc + field);
    *out = NULL;
    if (dma_probe(dev, addr, n)) { *info = field; return AIMC_REG_ERROR_DMA_FAULT; }
    if (n > SIZE_MAX) return AIMC_REG_ERROR_INTERNAL;
    *out = malloc(n ? (size_t)n : 1);
    if (!*out) return AIMC_REG_ERROR_INTERNAL;
    if (dma_read(dev, addr, *out, (size_t)n)) {
        free(*out);
        *out = NULL;
        *info = field;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    return 0;
}

/* Write n bytes of src to the address in descriptor field `field`. */
static uint32_t dma_store(aimc_accel *dev, const uint8_t *desc, uint32_t field,
                          const void *src, uint64_t n, uint32_t *info)
{
    if (dma_write(dev, aimc_le_get64(desc + field), src, (size_t)n)) {
        *info = field;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    return 0;
}

/* A new zeroed buffer for n bytes of output, after checking the output range exists. */
static uint32_t dma_out_buf(aimc_accel *dev, const uint8_t *desc, uint32_t field, uint64_t n,
                            void **out, uint32_t *info)
{
    *out = NULL;
    if (dma_probe(dev, aimc_le_get64(desc + field), n)) {
        *info = field;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    if (n > SIZE_MAX) return AIMC_REG_ERROR_INTERNAL;
    *out = calloc(1, n ? (size_t)n : 1);
    return *out ? 0 : AIMC_REG_ERROR_INTERNAL;
}

/* ---- command execution ---- */

/* Offset of the first nonzero byte of desc[from, to), or 0 when all are zero. */
static uint32_t nonzero_at(const uint8_t *desc, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++)
        if (desc[i]) return i;
    return 0;
}

/* A u32 field in lo..hi, else BAD_DESC with its offset. */
static uint32_t field_in(const uint8_t *desc, uint32_t off, uint32_t lo, uint32_t hi,
                         uint32_t *out, uint32_t *info)
{
    *out = aimc_le_get32(desc + off);
    if (*out < lo || *out > hi) {
        *info = off;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    return 0;
}

static int matrix_programmed(const aimc_accel *dev, uint32_t id, uint32_t *rows,
                             uint32_t *cols)
{
    *rows = 0;
    *cols = 0;
    int rc = aimc_xbar_matrix_shape(dev->sim, id, rows, cols);
    return rc >= 0 && *rows > 0 && *cols > 0;
}

/* Check one tile against the machine; 0 when it lies inside. */
static int tile_in_machine(const aimc_accel *dev, const aimc_tile *t)
{
    uint64_t xbars = (uint64_t)aimc_arch_total_crossbars(&dev->arch);
    uint64_t used = (uint64_t)t->xbar_col0 +
                    (uint64_t)t->ncols * (uint64_t)aimc_arch_cols_per_weight(&dev->arch);
    if (t->xbar >= xbars) return -1;
    if (t->nrows == 0 || t->nrows > (uint64_t)dev->arch.crossbar.rows) return -1;
    if (t->ncols == 0 || used > (uint64_t)dev->arch.crossbar.cols) return -1;
    return 0;
}

/* Digital work of a command: ops operations of the core's digital unit. */
static void count_digital(aimc_accel *dev, uint64_t ops)
{
    uint64_t per = dev->arch.digital.ops_per_cycle > 0 ? (uint64_t)dev->arch.digital.ops_per_cycle
                                                       : 1;
    uint64_t cycles = (ops + per - 1) / per;
    dev->stats.digital_ops += ops;
    dev->stats.energy_pj[AIMC_COMP_DIGITAL] += (double)ops * dev->arch.digital.energy_pj_per_op;
    dev->stats.cycles += cycles;
    if (dev->arch.clock.frequency_mhz > 0)
        dev->stats.time_ns += (double)cycles * 1000.0 / dev->arch.clock.frequency_mhz;
}

static uint32_t exec_program(aimc_accel *dev, const uint8_t *desc, uint32_t *info)
{
    uint32_t id, rows, cols, n_tiles, iters;
    uint64_t rep_addr = aimc_le_get64(desc + AIMC_DESC_PROG_REPORT_ADDR);
    float tol;
    uint32_t err;
    float *w = NULL;
    uint8_t *raw = NULL;
    aimc_tile *tiles = NULL;

    if ((err = field_in(desc, AIMC_DESC_PROG_MATRIX, 0, DEV_MAX_MATRICES - 1, &id, info)) ||
        (err = field_in(desc, AIMC_DESC_PROG_ROWS, 1, DEV_MAX_DIM, &rows, info)) ||
        (err = field_in(desc, AIMC_DESC_PROG_COLS, 1, DEV_MAX_DIM, &cols, info)) ||
        (err = field_in(desc, AIMC_DESC_PROG_NTILES, 1, DEV_MAX_TILES, &n_tiles, info)) ||
        (err = field_in(desc, AIMC_DESC_PROG_VERIFY_ITERS, 0, DEV_MAX_VERIFY, &iters, info)))
        return err;
    uint32_t tol_bits = aimc_le_get32(desc + AIMC_DESC_PROG_VERIFY_TOL);
    memcpy(&tol, &tol_bits, sizeof tol);
    if (!isfinite(tol) || tol < 0) {
        *info = AIMC_DESC_PROG_VERIFY_TOL;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    if (!dev->sim) return AIMC_REG_ERROR_INTERNAL;
    if (rep_addr && dma_probe(dev, rep_addr, AIMC_REC_PREP_BYTES)) {
        *info = AIMC_DESC_PROG_REPORT_ADDR;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    uint64_t w_bytes = (uint64_t)rows * cols * sizeof(float);
    uint64_t t_bytes = (uint64_t)n_tiles * AIMC_REC_TILE_BYTES;
    if ((err = dma_fetch(dev, desc, AIMC_DESC_PROG_W_ADDR, w_bytes, (void **)&w, info)) ||
        (err = dma_fetch(dev, desc, AIMC_DESC_PROG_TILES_ADDR, t_bytes, (void **)&raw, info)))
        goto out;
    tiles = malloc((size_t)n_tiles * sizeof *tiles);
    if (!tiles) { err = AIMC_REG_ERROR_INTERNAL; goto out; }
    for (uint32_t i = 0; i < n_tiles; i++) {
        aimc_tile_decode(raw + (size_t)i * AIMC_REC_TILE_BYTES, &tiles[i]);
        if (tile_in_machine(dev, &tiles[i])) {
            *info = i;
            err = AIMC_REG_ERROR_XBAR_RANGE;
            goto out;
        }
    }
    aimc_program_opts opts = {.max_iterations = iters, .tolerance_us = tol};
    aimc_program_report rep = {0};
    int rc = aimc_xbar_program_verify(dev->sim, id, w, rows, cols, tiles, n_tiles, &opts, &rep,
                                     &dev->stats, NULL);
    if (rc == AIMC_ERR_NOMEM) {
        err = AIMC_REG_ERROR_INTERNAL;
        goto out;
    }
    if (rc != AIMC_OK) {
        *info = id;
        err = AIMC_REG_ERROR_PROGRAM_FAILED;
        goto out;
    }
    if (iters > 0 && rep.devices_failed > 0) {
        *info = id;
        err = AIMC_REG_ERROR_VERIFY;
    }
    if (rep_addr) {
        uint8_t r[AIMC_REC_PREP_BYTES] = {0};
        uint64_t rms_bits;
        memcpy(&rms_bits, &rep.rms_error_us, sizeof rms_bits);
        aimc_le_put32(r + AIMC_REC_PREP_ITERATIONS, rep.iterations);
        aimc_le_put64(r + AIMC_REC_PREP_DEVICES, rep.devices);
        aimc_le_put64(r + AIMC_REC_PREP_FAILED, rep.devices_failed);
        aimc_le_put64(r + AIMC_REC_PREP_PULSES, rep.pulses);
        aimc_le_put64(r + AIMC_REC_PREP_RMS_ERROR_US, rms_bits);
        err |= dma_store(dev, desc, AIMC_DESC_PROG_REPORT_ADDR, r, sizeof r, info);
    }
out:
    free(tiles);
    free(raw);
    free(w);
    return err;
}

/* The matrix of an MVM or READBACK: programmed, and with these columns. */
static uint32_t check_matrix(aimc_accel *dev, uint32_t id, uint32_t *m_rows, uint32_t cols,
                             uint32_t *info)
{
    uint32_t m_cols;
    if (!dev->sim) return AIMC_REG_ERROR_INTERNAL;
    if (!matrix_programmed(dev, id, m_rows, &m_cols)) {
        *info = id;
        return AIMC_REG_ERROR_NOT_PROGRAMMED;
    }
    if (cols != m_cols) { *info = id; return AIMC_REG_ERROR_SHAPE; }
    return 0;
}

/* An MVM's checks and input: matrix id, batch, x fetched, y's range checked and a zeroed
 * buffer for it. 0 or the ERROR bits; *x and *y are freed by the caller either way. */
static uint32_t mvm_prepare(aimc_accel *dev, const uint8_t *desc, uint32_t *info,
                            uint32_t *id, uint32_t *batch, float **x, float **y,
                            uint64_t *y_bytes)
{
    uint32_t m_rows, err;
    uint32_t rows = aimc_le_get32(desc + AIMC_DESC_MVM_ROWS);
    uint32_t cols = aimc_le_get32(desc + AIMC_DESC_MVM_COLS);

    if ((err = field_in(desc, AIMC_DESC_MVM_MATRIX, 0, DEV_MAX_MATRICES - 1, id, info)) ||
        (err = field_in(desc, AIMC_DESC_MVM_BATCH, 1, DEV_MAX_BATCH, batch, info)) ||
        (err = check_matrix(dev, *id, &m_rows, cols, info)))
        return err;
    if (rows != m_rows) { *info = *id; return AIMC_REG_ERROR_SHAPE; }

    /* m_rows, cols <= DEV_MAX_DIM (a PROGRAM checked them), batch <= DEV_MAX_BATCH. */
    uint64_t x_bytes = (uint64_t)*batch * rows * sizeof(float);
    *y_bytes = (uint64_t)*batch * cols * sizeof(float);
    if ((err = dma_fetch(dev, desc, AIMC_DESC_MVM_X_ADDR, x_bytes, (void **)x, info)))
        return err;
    return dma_out_buf(dev, desc, AIMC_DESC_MVM_Y_ADDR, *y_bytes, (void **)y, info);
}

static uint32_t exec_mvm(aimc_accel *dev, const uint8_t *desc, uint32_t *info)
{
    uint32_t id, batch, err;
    uint64_t y_bytes;
    float *x = NULL, *y = NULL;

    if ((err = mvm_prepare(dev, desc, info, &id, &batch, &x, &y, &y_bytes))) goto out;
    int rc = aimc_xbar_mvm(dev->sim, id, x, batch, y, &dev->stats);
    if (rc == AIMC_ERR_STATE) {
        *info = id;
        err = AIMC_REG_ERROR_NOT_PROGRAMMED;
        goto out;
    }
    if (rc != AIMC_OK) { err = AIMC_REG_ERROR_INTERNAL; goto out; }
    err = dma_store(dev, desc, AIMC_DESC_MVM_Y_ADDR, y, y_bytes, info);
out:
    free(y);
    free(x);
    return err;
}

/* A READBACK's checks and input: one-hot rows in *x (nrows x matrix rows), a zeroed buffer
 * for the output. 0 or the ERROR bits; the caller frees *x and *y either way. */
static uint32_t readback_prepare(aimc_accel *dev, const uint8_t *desc, uint32_t *info,
                                 uint32_t *id_out, uint32_t *nrows_out, float **x_out,
                                 float **y_out, uint64_t *y_bytes_out)
{
    uint32_t id, nrows, m_rows, err;
    uint32_t row0 = aimc_le_get32(desc + AIMC_DESC_RDBK_ROW0);
    uint32_t cols = aimc_le_get32(desc + AIMC_DESC_RDBK_COLS);
    float *x;

    if ((err = field_in(desc, AIMC_DESC_RDBK_MATRIX, 0, DEV_MAX_MATRICES - 1, &id, info)) ||
        (err = field_in(desc, AIMC_DESC_RDBK_NROWS, 1, DEV_MAX_BATCH, &nrows, info)) ||
        (err = check_matrix(dev, id, &m_rows, cols, info)))
        return err;
    if ((uint64_t)row0 + nrows > m_rows) { *info = AIMC_DESC_RDBK_ROW0; return AIMC_REG_ERROR_SHAPE; }
    if ((uint64_t)nrows * m_rows > DEV_MAX_ELEMS || (uint64_t)nrows * cols > DEV_MAX_ELEMS) {
        *info = AIMC_DESC_RDBK_NROWS;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    uint64_t y_bytes = (uint64_t)nrows * cols * sizeof(float);
    *id_out = id;
    *nrows_out = nrows;
    *y_bytes_out = y_bytes;
    if ((err = dma_out_buf(dev, desc, AIMC_DESC_RDBK_OUT_ADDR, y_bytes, (void **)y_out, info)))
        return err;
    x = calloc((size_t)nrows * m_rows, sizeof *x);
    *x_out = x;
    if (!x) return AIMC_REG_ERROR_INTERNAL;
    for (uint32_t i = 0; i < nrows; i++) x[(size_t)i * m_rows + row0 + i] = 1.0f;
    return 0;
}

/* READBACK: rows row0.. of W as the array computes them: one-hot inputs, one MVM each. */
static uint32_t exec_readback(aimc_accel *dev, const uint8_t *desc, uint32_t *info)
{
    uint32_t id, nrows, err;
    uint64_t y_bytes;
    float *x = NULL, *y = NULL;

    if ((err = readback_prepare(dev, desc, info, &id, &nrows, &x, &y, &y_bytes))) goto out;
    if (aimc_xbar_mvm(dev->sim, id, x, nrows, y, &dev->stats) != AIMC_OK) {
        err = AIMC_REG_ERROR_INTERNAL;
        goto out;
    }
    err = dma_store(dev, desc, AIMC_DESC_RDBK_OUT_ADDR, y, y_bytes, info);
out:
    free(y);
    free(x);
    return err;
}

static uint32_t exec_rmsnorm(aimc_accel *dev, const uint8_t *desc, uint32_t *info)
{
    uint32_t batch, dim, err;
    float *x = NULL;

    if ((err = field_in(desc, AIMC_DESC_RMS_BATCH, 1, DEV_MAX_BATCH, &batch, info)) ||
        (err = field_in(desc, AIMC_DESC_RMS_DIM, 1, DEV_MAX_DIM, &dim, info)))
        return err;
    if ((uint64_t)batch * dim > DEV_MAX_ELEMS) { *info = AIMC_DESC_RMS_BATCH; return AIMC_REG_ERROR_BAD_DESC; }
    uint64_t bytes = (uint64_t)batch * dim * sizeof(float);
    if ((err = dma_fetch(dev, desc, AIMC_DESC_RMS_IN_ADDR, bytes, (void **)&x, info)) ||
        dma_probe(dev, aimc_le_get64(desc + AIMC_DESC_RMS_OUT_ADDR), bytes)) {
        if (!err) { *info = AIMC_DESC_RMS_OUT_ADDR; err = AIMC_REG_ERROR_DMA_FAULT; }
        goto out;
    }
    for (uint32_t b = 0; b < batch; b++) {
        float *v = x + (size_t)b * dim;
        double ss = 0;
        for (uint32_t i = 0; i < dim; i++) ss += (double)v[i] * v[i];
        double inv = 1.0 / sqrt(ss / (double)dim + DEV_RMS_EPS);
        for (uint32_t i = 0; i < dim; i++) v[i] = (float)(v[i] * inv);
    }
    count_digital(dev, (uint64_t)batch * (2u * (uint64_t)dim + 1));
    err = dma_store(dev, desc, AIMC_DESC_RMS_OUT_ADDR, x, bytes, info);
out:
    free(x);
    return err;
}

/* Indices of the k largest of v[0..n-1], largest first, ties to the lower index; the
 * softmax of the chosen values in p. The runtime's reference does the same. */
static void top_k_softmax(const float *v, uint32_t n, uint32_t k, uint32_t *idx, double *p)
{
    for (uint32_t j = 0; j < k; j++) {
        uint32_t best = n;
        for (uint32_t e = 0; e < n; e++) {
            int taken = 0;
            for (uint32_t t = 0; t < j; t++) taken |= idx[t] == e;
            if (!taken && (best == n || (double)v[e] > (double)v[best])) best = e;
        }
        idx[j] = best;
    }
    double mx = v[idx[0]], sum = 0;
    for (uint32_t j = 0; j < k; j++) sum += (p[j] = exp((double)v[idx[j]] - mx));
    for (uint32_t j = 0; j < k; j++) p[j] /= sum;
}

static uint32_t exec_topk(aimc_accel *dev, const uint8_t *desc, uint32_t *info)
{
    uint32_t batch, n, k, err;
    float *v = NULL, *w = NULL;
    uint8_t *ix = NULL;
    uint32_t *idx = NULL;
    double *p = NULL;

    if ((err = field_in(desc, AIMC_DESC_TOPK_BATCH, 1, DEV_MAX_BATCH, &batch, info)) ||
        (err = field_in(desc, AIMC_DESC_TOPK_N, 1, DEV_MAX_DIM, &n, info)) ||
        (err = field_in(desc, AIMC_DESC_TOPK_K, 1, n, &k, info)))
        return err;
    if ((uint64_t)batch * n > DEV_MAX_ELEMS) { *info = AIMC_DESC_TOPK_BATCH; return AIMC_REG_ERROR_BAD_DESC; }
    uint64_t out_n = (uint64_t)batch * k;
    if ((err = dma_fetch(dev, desc, AIMC_DESC_TOPK_IN_ADDR, (uint64_t)batch * n * sizeof(float),
                         (void **)&v, info)) ||
        (err = dma_out_buf(dev, desc, AIMC_DESC_TOPK_IDX_ADDR, out_n * 4, (void **)&ix, info)) ||
        (err = dma_out_buf(dev, desc, AIMC_DESC_TOPK_W_ADDR, out_n * sizeof(float), (void **)&w,
                           info)))
        goto out;
    idx = malloc((size_t)k * sizeof *idx);
    p = malloc((size_t)k * sizeof *p);
    if (!idx || !p) { err = AIMC_REG_ERROR_INTERNAL; goto out; }
    for (uint32_t b = 0; b < batch; b++) {
        top_k_softmax(v + (size_t)b * n, n, k, idx, p);
        for (uint32_t j = 0; j < k; j++) {
            aimc_le_put32(ix + ((size_t)b * k + j) * 4, idx[j]);
            w[(size_t)b * k + j] = (float)p[j];
        }
    }
    count_digital(dev, (uint64_t)batch * ((uint64_t)n * k + 3u * k));
    if (!(err = dma_store(dev, desc, AIMC_DESC_TOPK_IDX_ADDR, ix, out_n * 4, info)))
        err = dma_store(dev, desc, AIMC_DESC_TOPK_W_ADDR, w, out_n * sizeof(float), info);
out:
    free(p);
    free(idx);
    free(w);
    free(ix);
    free(v);
    return err;
}

static uint32_t exec_silu_mul(aimc_accel *dev, const uint8_t *desc, uint32_t *info)
{
    uint32_t count, err;
    float *g = NULL, *u = NULL;

    if ((err = field_in(desc, AIMC_DESC_SILU_COUNT, 1, DEV_MAX_ELEMS, &count, info))) return err;
    uint64_t bytes = (uint64_t)count * sizeof(float);
    if ((err = dma_fetch(dev, desc, AIMC_DESC_SILU_G_ADDR, bytes, (void **)&g, info)) ||
        (err = dma_fetch(dev, desc, AIMC_DESC_SILU_U_ADDR, bytes, (void **)&u, info)))
        goto out;
    for (uint32_t i = 0; i < count; i++) {
        double v = g[i];
        g[i] = (float)(v / (1.0 + exp(-v)) * u[i]);
    }
    count_digital(dev, 4u * (uint64_t)count);
    err = dma_store(dev, desc, AIMC_DESC_SILU_OUT_ADDR, g, bytes, info);
out:
    free(u);
    free(g);
    return err;
}

static uint32_t exec_gather(aimc_accel *dev, const uint8_t *desc, uint32_t *info)
{
    uint32_t batch, dim, src_rows, err;
    float *src = NULL, *dst = NULL;
    uint8_t *ix = NULL;

    if ((err = field_in(desc, AIMC_DESC_GATH_BATCH, 1, DEV_MAX_BATCH, &batch, info)) ||
        (err = field_in(desc, AIMC_DESC_GATH_DIM, 1, DEV_MAX_DIM, &dim, info)) ||
        (err = field_in(desc, AIMC_DESC_GATH_SRC_ROWS, 1, DEV_MAX_BATCH, &src_rows, info)))
        return err;
    if ((uint64_t)batch * dim > DEV_MAX_ELEMS || (uint64_t)src_rows * dim > DEV_MAX_ELEMS) {
        *info = AIMC_DESC_GATH_BATCH;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    uint64_t row_bytes = (uint64_t)dim * sizeof(float);
    if ((err = dma_fetch(dev, desc, AIMC_DESC_GATH_IDX_ADDR, (uint64_t)batch * 4, (void **)&ix,
                         info)) ||
        (err = dma_fetch(dev, desc, AIMC_DESC_GATH_SRC_ADDR, src_rows * row_bytes, (void **)&src,
                         info)) ||
        (err = dma_out_buf(dev, desc, AIMC_DESC_GATH_DST_ADDR, batch * row_bytes, (void **)&dst,
                           info)))
        goto out;
    for (uint32_t i = 0; i < batch; i++) {
        uint32_t r = aimc_le_get32(ix + (size_t)i * 4);
        if (r >= src_rows) {
            *info = i;
            err = AIMC_REG_ERROR_INDEX;
            goto out;
        }
        memcpy(dst + (size_t)i * dim, src + (size_t)r * dim, (size_t)row_bytes);
    }
    count_digital(dev, batch); /* one address computation per row; the copy is data movement */
    err = dma_store(dev, desc, AIMC_DESC_GATH_DST_ADDR, dst, batch * row_bytes, info);
out:
    free(dst);
    free(src);
    free(ix);
    return err;
}

static uint32_t exec_scale_acc(aimc_accel *dev, const uint8_t *desc, uint32_t *info)
{
    uint32_t batch, dim, dst_rows, err;
    float *src = NULL, *dst = NULL, *w = NULL;
    uint8_t *ix = NULL;
    int have_idx = aimc_le_get64(desc + AIMC_DESC_SACC_IDX_ADDR) != 0;
    int have_w = aimc_le_get64(desc + AIMC_DESC_SACC_W_ADDR) != 0;

    if ((err = field_in(desc, AIMC_DESC_SACC_BATCH, 1, DEV_MAX_BATCH, &batch, info)) ||
        (err = field_in(desc, AIMC_DESC_SACC_DIM, 1, DEV_MAX_DIM, &dim, info)) ||
        (err = field_in(desc, AIMC_DESC_SACC_DST_ROWS, 1, DEV_MAX_BATCH, &dst_rows, info)))
        return err;
    if ((uint64_t)batch * dim > DEV_MAX_ELEMS || (uint64_t)dst_rows * dim > DEV_MAX_ELEMS) {
        *info = AIMC_DESC_SACC_BATCH;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    uint64_t row_bytes = (uint64_t)dim * sizeof(float);
    if ((have_idx && (err = dma_fetch(dev, desc, AIMC_DESC_SACC_IDX_ADDR, (uint64_t)batch * 4,
                                      (void **)&ix, info))) ||
        (have_w && (err = dma_fetch(dev, desc, AIMC_DESC_SACC_W_ADDR,
                                    (uint64_t)batch * sizeof(float), (void **)&w, info))) ||
        (err = dma_fetch(dev, desc, AIMC_DESC_SACC_SRC_ADDR, batch * row_bytes, (void **)&src,
                         info)) ||
        (err = dma_fetch(dev, desc, AIMC_DESC_SACC_DST_ADDR, dst_rows * row_bytes, (void **)&dst,
                         info)))
        goto out;
    for (uint32_t i = 0; i < batch; i++) {
        uint32_t r = have_idx ? aimc_le_get32(ix + (size_t)i * 4) : i;
        if (r >= dst_rows) {
            *info = i;
            err = AIMC_REG_ERROR_INDEX;
            goto out;
        }
    }
    for (uint32_t i = 0; i < batch; i++) {
        uint32_t r = have_idx ? aimc_le_get32(ix + (size_t)i * 4) : i;
        double wi = have_w ? (double)w[i] : 1.0;
        float *d = dst + (size_t)r * dim;
        const float *s = src + (size_t)i * dim;
        for (uint32_t c = 0; c < dim; c++) d[c] += (float)(wi * s[c]);
    }
    count_digital(dev, 2u * (uint64_t)batch * dim);
    err = dma_store(dev, desc, AIMC_DESC_SACC_DST_ADDR, dst, dst_rows * row_bytes, info);
out:
    free(dst);
    free(src);
    free(w);
    free(ix);
    return err;
}

/* The reserved bytes and zero fields of each opcode: [from, to) ranges. */
typedef struct { uint32_t op, from, to, from2, to2; } dev_rsvd;
static const dev_rsvd dev_reserved[] = {
    {AIMC_DESC_OP_NOP, AIMC_DESC_NOP_RESERVED, AIMC_DESC_BYTES, 0, 0},
    {AIMC_DESC_OP_FENCE, AIMC_DESC_FENCE_RESERVED, AIMC_DESC_BYTES, 0, 0},
    {AIMC_DESC_OP_PROGRAM, 0, 0, 0, 0},
    {AIMC_DESC_OP_MVM, AIMC_DESC_MVM_RESERVED, AIMC_DESC_BYTES, 0, 0},
    {AIMC_DESC_OP_READBACK, AIMC_DESC_RDBK_RESERVED, AIMC_DESC_BYTES, 0, 0},
    {AIMC_DESC_OP_RMSNORM, AIMC_DESC_RMS_RESERVED, AIMC_DESC_BYTES, 0, 0},
    {AIMC_DESC_OP_TOPK, AIMC_DESC_TOPK_RESERVED, AIMC_DESC_BYTES, AIMC_DESC_TOPK_RSVD,
     AIMC_DESC_TOPK_RSVD + 4},
    {AIMC_DESC_OP_SILU_MUL, AIMC_DESC_SILU_RESERVED, AIMC_DESC_BYTES, AIMC_DESC_SILU_RSVD,
     AIMC_DESC_SILU_RSVD + 4},
    {AIMC_DESC_OP_GATHER, AIMC_DESC_GATH_RESERVED, AIMC_DESC_BYTES, AIMC_DESC_GATH_RSVD,
     AIMC_DESC_GATH_RSVD + 4},
    {AIMC_DESC_OP_SCALE_ACC, 0, 0, AIMC_DESC_SACC_RSVD, AIMC_DESC_SACC_RSVD + 4},
};

/* The checks of every descriptor: opcode, flags, reserved bytes. */
static uint32_t check_header(const uint8_t *desc, uint32_t *info)
{
    uint32_t op = aimc_le_get16(desc + AIMC_DESC_OPCODE);
    uint32_t flags = aimc_le_get16(desc + AIMC_DESC_FLAGS);
    const dev_rsvd *r = NULL;
    uint32_t bad;

    *info = 0;
    for (size_t i = 0; i < sizeof dev_reserved / sizeof dev_reserved[0]; i++)
        if (dev_reserved[i].op == op) r = &dev_reserved[i];
    if (!r) {
        *info = op;
        return AIMC_REG_ERROR_BAD_OPCODE;
    }
    if (flags & ~AIMC_DESC_FLAGS_ALL) {
        *info = AIMC_DESC_FLAGS;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    if ((bad = nonzero_at(desc, r->from2, r->to2)) || (bad = nonzero_at(desc, r->from, r->to))) {
        *info = bad;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    return 0;
}

/* Execute one descriptor; returns its ERROR bits (0 = OK) and the detail in *info. */
static uint32_t exec_cmd(aimc_accel *dev, const uint8_t *desc, uint32_t *info)
{
    uint32_t err = check_header(desc, info);
    if (err) return err;
    switch (aimc_le_get16(desc + AIMC_DESC_OPCODE)) {
    case AIMC_DESC_OP_PROGRAM: return exec_program(dev, desc, info);
    case AIMC_DESC_OP_MVM: return exec_mvm(dev, desc, info);
    case AIMC_DESC_OP_READBACK: return exec_readback(dev, desc, info);
    case AIMC_DESC_OP_RMSNORM: return exec_rmsnorm(dev, desc, info);
    case AIMC_DESC_OP_TOPK: return exec_topk(dev, desc, info);
    case AIMC_DESC_OP_SILU_MUL: return exec_silu_mul(dev, desc, info);
    case AIMC_DESC_OP_GATHER: return exec_gather(dev, desc, info);
    case AIMC_DESC_OP_SCALE_ACC: return exec_scale_acc(dev, desc, info);
    default: return 0; /* NOP, FENCE: commands complete in order, nothing to wait for */
    }
}

static int ring_config_ok(const aimc_accel *dev)
{
    uint32_t n = dev->ring_size;
    return n != 0 && (n & (n - 1)) == 0 && n <= DEV_MAX_RING &&
           (dev->ring_base % AIMC_DESC_BYTES) == 0 && dev->ring_base != 0 &&
           dev->ring_base <= UINT64_MAX - (uint64_t)n * AIMC_DESC_BYTES;
}

/* The doorbell: run every command from RING_HEAD to RING_TAIL. A descriptor that cannot
 * be fetched stops the ring (its fence is unknown) with ERROR_RING | ERROR_DMA_FAULT. */
static void process_ring(aimc_accel *dev)
{
    if (!(dev->ctrl & AIMC_REG_CTRL_ENABLE) || dev->halted || dev->hung) return;
    if (!ring_config_ok(dev)) {
        raise_error(dev, AIMC_REG_ERROR_RING, 0, 0);
        return;
    }
    while (dev->ring_head != dev->ring_tail) {
        uint32_t slot = dev->ring_head & (dev->ring_size - 1);
        uint64_t addr = dev->ring_base + (uint64_t)slot * AIMC_DESC_BYTES;
        uint8_t desc[AIMC_DESC_BYTES];
        uint8_t st[4];
        uint32_t info = 0;

        if (dev->hang_after == 0) { /* injected fault: the processor stops here */
            dev->hung = 1;
            dev->hang_after = AIMC_ACCEL_HANG_NEVER;
            return;
        }
        if (dev->hang_after != AIMC_ACCEL_HANG_NEVER) dev->hang_after--;
        if (dma_read(dev, addr, desc, sizeof desc)) {
            raise_error(dev, AIMC_REG_ERROR_RING | AIMC_REG_ERROR_DMA_FAULT, 0, slot);
            return;
        }
        dev->busy = 1;
        uint32_t bits = exec_cmd(dev, desc, &info);
        dev->busy = 0;
        aimc_le_put32(st, bits);
        if (dma_write(dev, addr + AIMC_DESC_STATUS, st, sizeof st)) {
            if (!bits) info = slot;
            bits |= AIMC_REG_ERROR_DMA_FAULT | AIMC_REG_ERROR_RING;
        }
        uint64_t fence = aimc_le_get64(desc + AIMC_DESC_FENCE);
        dev->ring_head++;
        dev->idle_ns = 0;
        dev->done_fence = fence;
        raise_error(dev, bits, fence, info);
        if ((aimc_le_get16(desc + AIMC_DESC_FLAGS) & AIMC_DESC_FLAG_IRQ) ||
            aimc_le_get16(desc + AIMC_DESC_OPCODE) == AIMC_DESC_OP_FENCE)
            dev->irq_status |= AIMC_REG_IRQ_DONE;
        update_irq(dev);
    }
}

/* ---- registers ---- */

static uint64_t energy_fj(const aimc_accel *dev, aimc_component c)
{
    double fj = dev->stats.energy_pj[c] * DEV_FJ_PER_PJ;
    return fj > 0 ? (uint64_t)(fj + 0.5) : 0;
}

/* The 64-bit value whose LO half is at off; 0 when off is no LO register. */
static int reg64(const aimc_accel *dev, uint32_t lo_off, uint64_t *v)
{
    switch (lo_off) {
    case AIMC_REG_ERROR_FENCE_LO: *v = dev->error_fence; return 1;
    case AIMC_REG_RING_BASE_LO: *v = dev->ring_base; return 1;
    case AIMC_REG_DONE_FENCE_LO: *v = dev->done_fence; return 1;
    case AIMC_REG_CNT_CYCLES_LO: *v = dev->stats.cycles; return 1;
    case AIMC_REG_CNT_MVMS_LO: *v = dev->stats.mvms; return 1;
    case AIMC_REG_CNT_ADC_CONV_LO: *v = dev->stats.adc_conversions; return 1;
    case AIMC_REG_CNT_ADC_SAT_LO: *v = dev->stats.adc_saturations; return 1;
    case AIMC_REG_CNT_DAC_DRIVES_LO: *v = dev->stats.dac_drives; return 1;
    case AIMC_REG_CNT_XBAR_READS_LO: *v = dev->stats.xbar_reads; return 1;
    case AIMC_REG_CNT_DIGITAL_OPS_LO: *v = dev->stats.digital_ops; return 1;
    case AIMC_REG_CNT_CELLS_PROG_LO: *v = dev->stats.cells_programmed; return 1;
    case AIMC_REG_CNT_ENERGY_DAC_FJ_LO: *v = energy_fj(dev, AIMC_COMP_DAC); return 1;
    case AIMC_REG_CNT_ENERGY_XBAR_FJ_LO: *v = energy_fj(dev, AIMC_COMP_XBAR); return 1;
    case AIMC_REG_CNT_ENERGY_ADC_FJ_LO: *v = energy_fj(dev, AIMC_COMP_ADC); return 1;
    case AIMC_REG_CNT_ENERGY_DIG_FJ_LO: *v = energy_fj(dev, AIMC_COMP_DIGITAL); return 1;
    default: return 0;
    }
}

static uint32_t clamp_u32(long v)
{
    if (v < 0) return 0;
    if ((unsigned long)v > UINT32_MAX) return UINT32_MAX;
    return (uint32_t)v;
}

uint32_t aimc_accel_reg_read32(aimc_accel *dev, uint32_t off)
{
    uint64_t v64;
    if (!dev || off >= AIMC_REG_WINDOW_BYTES || (off & 3u)) return 0;
    if (reg64(dev, off, &v64)) {
        dev->latch_off = off + 4;
        dev->latch_hi = (uint32_t)(v64 >> 32);
        return (uint32_t)v64;
    }
    if (off >= 4 && reg64(dev, off - 4, &v64)) {
        if (dev->latch_off == off) return dev->latch_hi;
        return (uint32_t)(v64 >> 32);
    }
    switch (off) {
    case AIMC_REG_ID: return AIMC_REG_ID_VALUE;
    case AIMC_REG_VERSION: return AIMC_REG_VERSION_VALUE;
    case AIMC_REG_CAP_XBAR_ROWS: return clamp_u32(dev->arch.crossbar.rows);
    case AIMC_REG_CAP_XBAR_COLS: return clamp_u32(dev->arch.crossbar.cols);
    case AIMC_REG_CAP_XBARS: return clamp_u32(aimc_arch_total_crossbars(&dev->arch));
    case AIMC_REG_CAP_ADC_BITS: return clamp_u32(dev->arch.adc.bits);
    case AIMC_REG_CAP_DAC_BITS: return clamp_u32(dev->arch.dac.bits);
    case AIMC_REG_CAP_BITS_PER_CELL: return clamp_u32(dev->arch.crossbar.bits_per_cell);
    case AIMC_REG_CAP_WEIGHT_BITS: return clamp_u32(dev->arch.crossbar.weight_bits);
    case AIMC_REG_CAP_MAX_MATRICES: return DEV_MAX_MATRICES;
    case AIMC_REG_CAP_MAX_DIM: return DEV_MAX_DIM;
    case AIMC_REG_CAP_MAX_BATCH: return DEV_MAX_BATCH;
    case AIMC_REG_CAP_MAX_TILES: return DEV_MAX_TILES;
    case AIMC_REG_CAP_MAX_RING: return DEV_MAX_RING;
    case AIMC_REG_CAP_MAX_ELEMS: return DEV_MAX_ELEMS;
    case AIMC_REG_CAP_MAX_VERIFY: return DEV_MAX_VERIFY;
    case AIMC_REG_CTRL: return dev->ctrl;
    case AIMC_REG_STATUS:
        return ((dev->ctrl & AIMC_REG_CTRL_ENABLE) && dev->sim && !dev->halted
                    ? AIMC_REG_STATUS_READY : 0) |
               (dev->busy || dev->hung ? AIMC_REG_STATUS_BUSY : 0) |
               (dev->error ? AIMC_REG_STATUS_ERROR : 0) |
               (dev->halted ? AIMC_REG_STATUS_HALTED : 0);
    case AIMC_REG_ERROR: return dev->error;
    case AIMC_REG_ERROR_INFO: return dev->error_info;
    case AIMC_REG_IRQ_STATUS: return dev->irq_status;
    case AIMC_REG_IRQ_MASK: return dev->irq_mask;
    case AIMC_REG_RING_SIZE: return dev->ring_size;
    case AIMC_REG_RING_HEAD: return dev->ring_head;
    case AIMC_REG_RING_TAIL: return dev->ring_tail;
    case AIMC_REG_WATCHDOG_US: return dev->watchdog_us;
    default: return 0;
    }
}

/* Ring setup registers change only while the device is disabled. */
static int ring_setup_allowed(aimc_accel *dev)
{
    if (!(dev->ctrl & AIMC_REG_CTRL_ENABLE)) return 1;
    raise_error(dev, AIMC_REG_ERROR_RING, 0, 0);
    return 0;
}

void aimc_accel_reg_write32(aimc_accel *dev, uint32_t off, uint32_t val)
{
    if (!dev || off >= AIMC_REG_WINDOW_BYTES || (off & 3u)) return;
    switch (off) {
    case AIMC_REG_CTRL:
        if (val & AIMC_REG_CTRL_SOFT_RESET) {
            aimc_accel_reset(dev);
            return;
        }
        dev->ctrl = val & AIMC_REG_CTRL_ENABLE;
        return;
    case AIMC_REG_ERROR:
        dev->error &= ~val;
        return;
    case AIMC_REG_IRQ_STATUS:
        dev->irq_status &= ~val;
        update_irq(dev);
        return;
    case AIMC_REG_IRQ_MASK:
        dev->irq_mask = val & AIMC_REG_IRQ_ALL;
        update_irq(dev);
        return;
    case AIMC_REG_RING_BASE_LO:
        if (ring_setup_allowed(dev))
            dev->ring_base = (dev->ring_base & 0xFFFFFFFF00000000ull) | val;
        return;
    case AIMC_REG_RING_BASE_HI:
        if (ring_setup_allowed(dev))
            dev->ring_base = (dev->ring_base & 0xFFFFFFFFull) | (uint64_t)val << 32;
        return;
    case AIMC_REG_RING_SIZE:
        if (!ring_setup_allowed(dev)) return;
        if (val == 0 || (val & (val - 1)) || val > DEV_MAX_RING) {
            raise_error(dev, AIMC_REG_ERROR_RING, 0, val);
            return;
        }
        dev->ring_size = val;
        dev->ring_head = 0;
        dev->ring_tail = 0;
        return;
    case AIMC_REG_RING_TAIL:
        /* free-running: at most RING_SIZE commands may be outstanding */
        if (dev->ring_size == 0 || val - dev->ring_head > dev->ring_size) {
            raise_error(dev, AIMC_REG_ERROR_RING, 0, val);
            return;
        }
        dev->ring_tail = val;
        return;
    case AIMC_REG_DOORBELL:
        process_ring(dev);
        return;
    case AIMC_REG_WATCHDOG_US:
        dev->watchdog_us = val;
        dev->idle_ns = 0;
        return;
    case AIMC_REG_CNT_CTRL:
        if (val & AIMC_REG_CNT_CTRL_RESET) memset(&dev->stats, 0, sizeof dev->stats);
        return;
    default:
        return; /* read-only or unknown */
    }
}

int aimc_accel_irq_level(const aimc_accel *dev)
{
    return dev ? dev->irq_line : 0;
}

uint64_t aimc_accel_cycles(const aimc_accel *dev)
{
    return dev ? dev->stats.cycles : 0;
}

uint32_t aimc_accel_reg_peek32(aimc_accel *dev, uint32_t off)
{
    if (!dev) return 0;
    uint32_t latch_off = dev->latch_off, latch_hi = dev->latch_hi;
    uint32_t v = aimc_accel_reg_read32(dev, off);
    dev->latch_off = latch_off;
    dev->latch_hi = latch_hi;
    return v;
}

void aimc_accel_advance(aimc_accel *dev, uint64_t ns)
{
    if (!dev || dev->halted || !dev->watchdog_us || !(dev->ctrl & AIMC_REG_CTRL_ENABLE) ||
        dev->ring_head == dev->ring_tail)
        return;
    dev->idle_ns = ns > UINT64_MAX - dev->idle_ns ? UINT64_MAX : dev->idle_ns + ns;
    if (dev->idle_ns < (uint64_t)dev->watchdog_us * DEV_NS_PER_US) return;
    dev->halted = 1;
    dev->hung = 0;
    raise_error(dev, AIMC_REG_ERROR_WATCHDOG, 0, dev->ring_head);
}

void aimc_accel_inject_hang(aimc_accel *dev, uint32_t after)
{
    if (dev) dev->hang_after = after;
}

void aimc_accel_reset(aimc_accel *dev)
{
    if (!dev) return;
    aimc_accel_cmd_abort(dev);
    aimc_xbar_destroy(dev->sim);
    dev->sim = NULL;
    if (aimc_xbar_create(&dev->arch, dev->seed, &dev->sim) != AIMC_OK) dev->sim = NULL;
    dev->ctrl = 0;
    dev->error = 0;
    dev->error_fence = 0;
    dev->error_info = 0;
    dev->irq_status = 0;
    dev->irq_mask = 0;
    dev->ring_base = 0;
    dev->ring_size = 0;
    dev->ring_head = 0;
    dev->ring_tail = 0;
    dev->done_fence = 0;
    dev->watchdog_us = 0;
    memset(&dev->stats, 0, sizeof dev->stats);
    dev->busy = 0;
    dev->halted = 0;
    dev->hung = 0; /* an armed hang knob stays armed: it is no register */
    dev->idle_ns = 0;
    dev->latch_off = 0;
    dev->latch_hi = 0;
    update_irq(dev);
}

int aimc_accel_create(const aimc_arch *arch, uint64_t seed, const aimc_accel_host *host,
                        aimc_accel **out, aimc_diag *d)
{
    aimc_accel *dev;
    int rc;

    if (!out || !host) return aimc_diag_set(d, AIMC_ERR_INVALID, "device: NULL argument");
    *out = NULL;
    dev = calloc(1, sizeof *dev);
    if (!dev) return aimc_diag_set(d, AIMC_ERR_NOMEM, "device: out of memory");
    if (arch)
        dev->arch = *arch;
    else
        aimc_arch_defaults(&dev->arch);
    dev->seed = seed;
    dev->host = *host;
    dev->hang_after = AIMC_ACCEL_HANG_NEVER;
    rc = aimc_xbar_create(&dev->arch, seed, &dev->sim);
    if (rc != AIMC_OK) {
        rc = aimc_diag_set(d, rc, "device: cannot create the machine: %s", aimc_strerror(rc));
        goto fail;
    }
    *out = dev;
    return AIMC_OK;
fail:
    free(dev);
    return rc;
}

void aimc_accel_destroy(aimc_accel *dev)
{
    if (!dev) return;
    aimc_accel_cmd_abort(dev);
    aimc_xbar_destroy(dev->sim);
    free(dev);
}

/* ---- split execution (the RTL's command processor, rtl/; docs/rtl.md) ---- */

void aimc_accel_cmd_abort(aimc_accel *dev)
{
    if (!dev) return;
    aimc_xbar_mvm_run_free(dev->job);
    dev->job = NULL;
}

/* Start an MVM or READBACK as an analog job: checks, input, the array's ADC codes. */
static uint32_t job_start(aimc_accel *dev, const uint8_t *desc, uint32_t *info)
{
    const int mvm = aimc_le_get16(desc + AIMC_DESC_OPCODE) == AIMC_DESC_OP_MVM;
    uint32_t id, n, err;
    float *x = NULL, *y = NULL;
    uint64_t y_bytes = 0;

    err = mvm ? mvm_prepare(dev, desc, info, &id, &n, &x, &y, &y_bytes)
              : readback_prepare(dev, desc, info, &id, &n, &x, &y, &y_bytes);
    const size_t n_tiles = err ? 0 : aimc_xbar_matrix_tiles(dev->sim, id);
    if (!err && dev->job_tiles_max && n_tiles > dev->job_tiles_max) {
        /* Refused before the arrays run, so no counter or read event moves. */
        *info = n_tiles > UINT32_MAX ? UINT32_MAX : (uint32_t)n_tiles;
        err = AIMC_REG_ERROR_INTERNAL;
    } else if (!err) {
        int rc = aimc_xbar_mvm_run_open(dev->sim, id, x, n, &dev->stats, &dev->job);
        if (rc == AIMC_ERR_STATE && mvm) {
            *info = id;
            err = AIMC_REG_ERROR_NOT_PROGRAMMED;
        } else if (rc != AIMC_OK) {
            err = AIMC_REG_ERROR_INTERNAL;
        }
    }
    free(x);
    free(y);
    if (err) return err;
    memcpy(dev->job_desc, desc, AIMC_DESC_BYTES);
    dev->job_out_field = mvm ? AIMC_DESC_MVM_Y_ADDR : AIMC_DESC_RDBK_OUT_ADDR;
    dev->job_out_bytes = y_bytes;
    return 0;
}

uint32_t aimc_accel_cmd_start(aimc_accel *dev, const uint8_t *desc, uint32_t *info,
                                aimc_accel_cmd *c)
{
    uint32_t dummy, err;
    if (!info) info = &dummy;
    *info = 0;
    if (!dev || !desc || !c) return AIMC_REG_ERROR_INTERNAL;
    memset(c, 0, sizeof *c);
    aimc_accel_cmd_abort(dev);
    if ((err = check_header(desc, info))) return err;
    const uint32_t op = aimc_le_get16(desc + AIMC_DESC_OPCODE);
    if (op == AIMC_DESC_OP_MVM || op == AIMC_DESC_OP_READBACK) {
        if (!dev->sim) return AIMC_REG_ERROR_INTERNAL;
        if ((err = job_start(dev, desc, info))) return err;
        c->kind = 1;
        c->n_vec = aimc_xbar_mvm_run_vectors(dev->job);
        c->n_tiles = aimc_xbar_mvm_run_tiles(dev->job);
        return 0;
    }
    const uint64_t ops0 = dev->stats.digital_ops, cyc0 = dev->stats.cycles;
    err = exec_cmd(dev, desc, info);
    c->computed = dev->stats.digital_ops != ops0;
    if (op == AIMC_DESC_OP_PROGRAM) c->busy_cycles = dev->stats.cycles - cyc0;
    return err;
}

void aimc_accel_set_job_tiles_max(aimc_accel *dev, uint32_t max_tiles)
{
    if (dev) dev->job_tiles_max = max_tiles;
}

aimc_xbar_mvm_run *aimc_accel_cmd_job(aimc_accel *dev)
{
    return dev ? dev->job : NULL;
}

uint32_t aimc_accel_cmd_finish(aimc_accel *dev, uint32_t *info)
{
    uint32_t dummy, err;
    if (!info) info = &dummy;
    *info = 0;
    if (!dev || !dev->job) return AIMC_REG_ERROR_INTERNAL;
    const uint64_t n = dev->job_out_bytes / sizeof(float);
    float *y = malloc(n ? (size_t)n * sizeof *y : 1);
    if (!y || aimc_xbar_mvm_run_finish(dev->job, y) != AIMC_OK)
        err = AIMC_REG_ERROR_INTERNAL;
    else
        err = dma_store(dev, dev->job_desc, dev->job_out_field, y, dev->job_out_bytes, info);
    free(y);
    aimc_accel_cmd_abort(dev);
    return err;
}

uint64_t aimc_accel_counter(const aimc_accel *dev, uint32_t lo_off)
{
    uint64_t v = 0;
    if (dev) (void)reg64(dev, lo_off, &v);
    return v;
}

void aimc_accel_counters_reset(aimc_accel *dev)
{
    if (dev) memset(&dev->stats, 0, sizeof dev->stats);
}

int aimc_accel_machine_reset(aimc_accel *dev)
{
    if (!dev) return AIMC_ERR_BADHANDLE;
    aimc_accel_cmd_abort(dev);
    aimc_xbar_destroy(dev->sim);
    dev->sim = NULL;
    memset(&dev->stats, 0, sizeof dev->stats);
    if (aimc_xbar_create(&dev->arch, dev->seed, &dev->sim) != AIMC_OK) {
        dev->sim = NULL;
        return AIMC_ERR_NOMEM;
    }
    return AIMC_OK;
}

const aimc_arch *aimc_accel_arch(const aimc_accel *dev)
{
    return dev ? &dev->arch : NULL;
}
