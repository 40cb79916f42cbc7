/* exec.c - the accelerator's commands: every check of a descriptor, and the values of each
 * command, computed when the command processor fetches it (in ring order); what a command
 * reads, writes and does goes into its dev_cmd for sched.c to time.
 *
 * Follows docs/driver.md and docs/registers.md (generated from common/aimc_regs.yaml, whose
 * doc texts are the semantics). Every value the host hands over (descriptors, tile tables,
 * index tables, DMA addresses) is checked before use; a bad one is answered with ERROR bits,
 * never with a crash.
 *
 * A command runs in pieces (dev_exec_begin, dev_exec_step): each step takes what it does
 * from a budget of operations, so the host can look at its clock between pieces; loops keep
 * their order across pieces, so the values are the same as in one go (docs/engine.md, "How
 * work is bounded"). TOPK keeps a heap of the k best logits: O(n log k) per vector.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accel_int.h"
#include "exec_int.h"
#include "aimc_tile.h"

/* ---- DMA through the host callbacks ---- */

int dev_dma_read(aimc_accel *dev, uint64_t addr, void *dst, size_t n)
{
    if (n == 0) return 0;
    if (!dev->host.dma_read || addr > UINT64_MAX - n) return -1;
    return dev->host.dma_read(dev->host.ctx, addr, dst, n) ? -1 : 0;
}

int dev_dma_write(aimc_accel *dev, uint64_t addr, const void *src, size_t n)
{
    if (n == 0) return 0;
    if (!dev->host.dma_write || addr > UINT64_MAX - n) return -1;
    return dev->host.dma_write(dev->host.ctx, addr, src, n) ? -1 : 0;
}

/* (exec_int.h) */
int dev_dma_probe(aimc_accel *dev, uint64_t addr, uint64_t n)
{
    uint8_t b;
    if (n == 0) return 0;
    if (addr > UINT64_MAX - n) return -1;
    if (dev_dma_read(dev, addr, &b, 1)) return -1;
    return dev_dma_read(dev, addr + n - 1, &b, 1);
}

/* Fetch n bytes at the address in descriptor field `field` into a new buffer *out (NULL
 * without values: only the range is checked). 0, or the ERROR bits with *info set
 * (DMA_FAULT: the field's offset). */
static uint32_t dma_fetch(aimc_accel *dev, const uint8_t *desc, uint32_t field, uint64_t n,
                          void **out, uint32_t *info)
{
    uint64_t addr = aimc_le_get64(desc + field);
    *out = NULL;
    if (dev_dma_probe(dev, addr, n)) { *info = field; return AIMC_REG_ERROR_DMA_FAULT; }
    if (!values(dev)) return 0;
    if (n > SIZE_MAX) return AIMC_REG_ERROR_INTERNAL;
    *out = malloc(n ? (size_t)n : 1);
    if (!*out) return AIMC_REG_ERROR_INTERNAL;
    if (dev_dma_read(dev, addr, *out, (size_t)n)) {
        free(*out);
        *out = NULL;
        *info = field;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    return 0;
}

/* Write n bytes of src to the address in descriptor field `field` (nothing without values). */
uint32_t dev_dma_store(aimc_accel *dev, const uint8_t *desc, uint32_t field, const void *src,
                       uint64_t n, uint32_t *info)
{
    if (!values(dev)) return 0;
    if (dev_dma_write(dev, aimc_le_get64(desc + field), src, (size_t)n)) {
        *info = field;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    return 0;
}

/* A new zeroed buffer for n bytes of output (NULL without values), after checking the
 * output range exists. */
static uint32_t dma_out_buf(aimc_accel *dev, const uint8_t *desc, uint32_t field, uint64_t n,
                            void **out, uint32_t *info)
{
    *out = NULL;
    if (dev_dma_probe(dev, aimc_le_get64(desc + field), n)) {
        *info = field;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    if (!values(dev)) return 0;
    if (n > SIZE_MAX) return AIMC_REG_ERROR_INTERNAL;
    *out = calloc(1, n ? (size_t)n : 1);
    return *out ? 0 : AIMC_REG_ERROR_INTERNAL;
}

/* ---- checks ---- */

/* Offset of the first nonzero byte of desc[from, to), or 0 when all are zero. */
static uint32_t nonzero_at(const uint8_t *desc, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++)
        if (desc[i]) return i;
    return 0;
}

static const dev_mat *matrix_of(const aimc_accel *dev, uint32_t id)
{
    if (id >= dev->mats_cap || !dev->mats[id].cost) return NULL;
    return &dev->mats[id];
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

void dev_cost_reap(aimc_accel *dev)
{
    for (uint32_t i = 0; i < dev->n_stale; i++) aimc_cost_mvm_free(dev->stale[i]);
    dev->n_stale = 0;
}

void dev_cost_retire(aimc_accel *dev, aimc_cost_mvm *m)
{
    if (!m) return;
    if (dev->n_stale == dev->cap_stale) {
        const uint32_t cap = dev->cap_stale ? 2 * dev->cap_stale : 8;
        aimc_cost_mvm **p = realloc(dev->stale, cap * sizeof *p);
        if (!p) return; /* out of memory: commands in flight may still read it; let it leak */
        dev->stale = p;
        dev->cap_stale = cap;
    }
    dev->stale[dev->n_stale++] = m;
}

void dev_mats_clear(aimc_accel *dev)
{
    for (uint32_t i = 0; i < dev->mats_cap; i++) aimc_cost_mvm_free(dev->mats[i].cost);
    free(dev->mats);
    dev->mats = NULL;
    dev->mats_cap = 0;
    dev_cost_reap(dev);
    free(dev->stale);
    dev->stale = NULL;
    dev->cap_stale = 0;
}

static int mats_grow(aimc_accel *dev, uint32_t id)
{
    if (id < dev->mats_cap) return 0;
    uint32_t cap = dev->mats_cap ? dev->mats_cap : 16;
    while (cap <= id) cap *= 2;
    if (cap > DEV_MAX_MATRICES) cap = DEV_MAX_MATRICES;
    dev_mat *m = realloc(dev->mats, cap * sizeof *m);
    if (!m) return -1;
    memset(m + dev->mats_cap, 0, (cap - dev->mats_cap) * sizeof *m);
    dev->mats = m;
    dev->mats_cap = cap;
    return 0;
}

/* ---- counts ---- */

void dev_count_mvm(aimc_accel *dev, dev_cmd *c, const aimc_cost_mvm *m, uint64_t vectors,
                   const aimc_xbar_stats *st)
{
    const aimc_arch *a = &dev->arch;
    aimc_cost_mvm_events(a, m, vectors, &c->ev);
    if (st && !dev->opts.activity_assumed) {
        c->ev.dac_drives += (double)st->dac_drives;
        c->ev.xbar_charge += st->xbar_charge;
        c->cnt.adc_sat += st->adc_saturations;
    } else {
        if (st) c->cnt.adc_sat += st->adc_saturations;
        aimc_cost_mvm_activity(a, m, vectors, &c->ev);
    }
    c->cnt.mvms += vectors;
    c->cnt.adc_conv += vectors * m->conversions;
    c->cnt.xbar_reads += vectors * m->xbar_reads;
    c->cnt.digital_ops += vectors * m->digital_ops;
    c->cnt.cycles += aimc_cost_mvm_cycles(m, vectors);
}

void dev_count_dig(aimc_accel *dev, dev_cmd *c, aimc_dig op, uint64_t batch, uint64_t n,
                      uint64_t k)
{
    const uint64_t ops = aimc_cost_dig_ops(op, batch, n, k);
    c->dig = op;
    c->dig_ops = ops;
    aimc_cost_dig_io(op, batch, n, k, &c->dig_in, &c->dig_out);
    c->cnt.digital_ops += ops;
    c->cnt.cycles += aimc_cost_units_cycles(&dev->arch, ops);
}

/* ---- commands ---- */

static uint32_t exec_program(aimc_accel *dev, const uint8_t *desc, dev_cmd *c, uint32_t *info)
{
    uint32_t id, rows, cols, n_tiles, iters;
    uint64_t rep_addr = aimc_le_get64(desc + AIMC_DESC_PROG_REPORT_ADDR);
    uint64_t w_addr = aimc_le_get64(desc + AIMC_DESC_PROG_W_ADDR);
    float tol;
    uint32_t err;
    float *w = NULL;
    uint8_t *raw = NULL;
    aimc_tile *tiles = NULL;
    aimc_cost_mvm *cm = NULL;
    const aimc_arch *a = &dev->arch;

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
    if (!dev->machine_ok) return AIMC_REG_ERROR_INTERNAL;
    if (rep_addr && dev_dma_probe(dev, rep_addr, AIMC_REC_PREP_BYTES)) {
        *info = AIMC_DESC_PROG_REPORT_ADDR;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    uint64_t w_bytes = (uint64_t)rows * cols * sizeof(float);
    uint64_t t_bytes = (uint64_t)n_tiles * AIMC_REC_TILE_BYTES;
    /* A timing-only device holds no weights: W_ADDR 0 is allowed there. */
    if (values(dev) || w_addr) {
        if ((err = dma_fetch(dev, desc, AIMC_DESC_PROG_W_ADDR, w_bytes, (void **)&w, info)))
            goto out;
        operand(c, w_addr, w_bytes, 0);
    }
    /* The tile table is read in every mode: it says where the matrix lives. */
    {
        uint64_t t_addr = aimc_le_get64(desc + AIMC_DESC_PROG_TILES_ADDR);
        if (dev_dma_probe(dev, t_addr, t_bytes)) {
            *info = AIMC_DESC_PROG_TILES_ADDR;
            err = AIMC_REG_ERROR_DMA_FAULT;
            goto out;
        }
        raw = malloc((size_t)t_bytes);
        if (!raw) { err = AIMC_REG_ERROR_INTERNAL; goto out; }
        if (dev_dma_read(dev, t_addr, raw, (size_t)t_bytes)) {
            *info = AIMC_DESC_PROG_TILES_ADDR;
            err = AIMC_REG_ERROR_DMA_FAULT;
            goto out;
        }
        operand(c, t_addr, t_bytes, 0);
    }
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
    if (mats_grow(dev, id) ||
        aimc_cost_mvm_build(a, rows, cols, tiles, n_tiles, &cm) != AIMC_OK) {
        err = AIMC_REG_ERROR_INTERNAL;
        goto out;
    }
    aimc_program_report rep = {0};
    if (values(dev)) {
        aimc_program_opts opts = {.max_iterations = iters, .tolerance_us = tol};
        aimc_xbar_stats st = {0};
        int rc = aimc_xbar_program_verify(dev->xbar, id, w, rows, cols, tiles, n_tiles, &opts,
                                          &rep, &st, NULL);
        if (rc == AIMC_ERR_NOMEM) { err = AIMC_REG_ERROR_INTERNAL; goto out; }
        if (rc != AIMC_OK) { *info = id; err = AIMC_REG_ERROR_PROGRAM_FAILED; goto out; }
    } else {
        int rc = aimc_xbar_check_tiles(a, rows, cols, tiles, n_tiles, NULL);
        if (rc == AIMC_ERR_NOMEM) { err = AIMC_REG_ERROR_INTERNAL; goto out; }
        if (rc != AIMC_OK) { *info = id; err = AIMC_REG_ERROR_PROGRAM_FAILED; goto out; }
        /* Without values: every device written once (no verify round can be known). */
        const uint64_t cpw = (uint64_t)aimc_arch_cols_per_weight(a);
        uint64_t cur = UINT64_MAX, in_x = 0;
        uint32_t *order = malloc((size_t)n_tiles * sizeof *order);
        if (!order || aimc_tile_order(tiles, n_tiles, order, NULL, NULL)) {
            free(order);
            err = AIMC_REG_ERROR_INTERNAL;
            goto out;
        }
        for (uint32_t k = 0; k < n_tiles; k++) {
            const aimc_tile *t = &tiles[order[k]];
            const uint64_t dv = (uint64_t)t->nrows * t->ncols * cpw;
            if (t->xbar != cur) {
                cur = t->xbar;
                in_x = 0;
                rep.xbars++;
            }
            in_x += dv;
            if (in_x > rep.pulses_max) rep.pulses_max = in_x;
            rep.devices += dv;
        }
        rep.pulses = rep.devices;
        free(order);
    }
    /* The matrix is programmed: its placement replaces the old one, which commands already
     * dispatched keep using until they complete. */
    dev_cost_retire(dev, dev->mats[id].cost);
    dev->mats[id].cost = cm;
    dev->mats[id].rows = rows;
    dev->mats[id].cols = cols;
    cm = NULL;
    c->matrix = id;
    c->anchor = -1;
    c->at = dev->mats[id].cost->home;
    c->prog_bytes = w_bytes + t_bytes;
    c->prog_cycles = aimc_cost_program_cycles(a, rep.pulses_max, rep.iterations);
    c->cnt.cycles += c->prog_cycles;
    c->cnt.cells_prog += rep.devices;
    aimc_cost_program_events(a, rep.pulses, rep.xbars, rep.devices, rep.iterations, &c->ev);
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
        /* The report is the one output a timing-only PROGRAM writes too. */
        if (dev_dma_write(dev, rep_addr, r, sizeof r)) {
            *info = AIMC_DESC_PROG_REPORT_ADDR;
            err |= AIMC_REG_ERROR_DMA_FAULT;
        }
        operand(c, rep_addr, sizeof r, 1);
        c->out_bytes = sizeof r;
    }
out:
    aimc_cost_mvm_free(cm);
    free(tiles);
    free(raw);
    free(w);
    return err;
}

/* The matrix of an MVM or READBACK: programmed, and with these columns. */
static uint32_t check_matrix(aimc_accel *dev, uint32_t id, uint32_t *m_rows, uint32_t cols,
                             uint32_t *info)
{
    if (!dev->machine_ok) return AIMC_REG_ERROR_INTERNAL;
    const dev_mat *m = matrix_of(dev, id);
    if (!m) {
        *info = id;
        return AIMC_REG_ERROR_NOT_PROGRAMMED;
    }
    *m_rows = m->rows;
    if (cols != m->cols) { *info = id; return AIMC_REG_ERROR_SHAPE; }
    return 0;
}

/* An MVM's fields against its matrix: id, batch, rows (the matrix's) and cols. */
static uint32_t mvm_check(aimc_accel *dev, const uint8_t *desc, uint32_t *info, uint32_t *id,
                          uint32_t *batch, uint32_t *rows, uint32_t *cols)
{
    uint32_t m_rows, err;
    *rows = aimc_le_get32(desc + AIMC_DESC_MVM_ROWS);
    *cols = aimc_le_get32(desc + AIMC_DESC_MVM_COLS);
    if ((err = field_in(desc, AIMC_DESC_MVM_MATRIX, 0, DEV_MAX_MATRICES - 1, id, info)) ||
        (err = field_in(desc, AIMC_DESC_MVM_BATCH, 1, DEV_MAX_BATCH, batch, info)) ||
        (err = check_matrix(dev, *id, &m_rows, *cols, info)))
        return err;
    if (*rows != m_rows) { *info = *id; return AIMC_REG_ERROR_SHAPE; }
    return 0;
}

uint32_t dev_mvm_prepare(aimc_accel *dev, const uint8_t *desc, uint32_t *info, uint32_t *id,
                         uint32_t *batch, float **x, float **y, uint64_t *y_bytes)
{
    uint32_t rows, cols, err;
    if ((err = mvm_check(dev, desc, info, id, batch, &rows, &cols))) return err;
    /* rows, cols <= DEV_MAX_DIM (a PROGRAM checked them), batch <= DEV_MAX_BATCH. */
    uint64_t x_bytes = (uint64_t)*batch * rows * sizeof(float);
    *y_bytes = (uint64_t)*batch * cols * sizeof(float);
    if ((err = dma_fetch(dev, desc, AIMC_DESC_MVM_X_ADDR, x_bytes, (void **)x, info)))
        return err;
    return dma_out_buf(dev, desc, AIMC_DESC_MVM_Y_ADDR, *y_bytes, (void **)y, info);
}

/* A READBACK's fields against its matrix: id, rows row0 .. row0 + nrows - 1 of a matrix of
 * m_rows rows and cols columns. */
static uint32_t readback_check(aimc_accel *dev, const uint8_t *desc, uint32_t *info,
                               uint32_t *id, uint32_t *nrows, uint32_t *row0, uint32_t *m_rows,
                               uint32_t *cols)
{
    uint32_t err;
    *row0 = aimc_le_get32(desc + AIMC_DESC_RDBK_ROW0);
    *cols = aimc_le_get32(desc + AIMC_DESC_RDBK_COLS);
    if ((err = field_in(desc, AIMC_DESC_RDBK_MATRIX, 0, DEV_MAX_MATRICES - 1, id, info)) ||
        (err = field_in(desc, AIMC_DESC_RDBK_NROWS, 1, DEV_MAX_BATCH, nrows, info)) ||
        (err = check_matrix(dev, *id, m_rows, *cols, info)))
        return err;
    if ((uint64_t)*row0 + *nrows > *m_rows) {
        *info = AIMC_DESC_RDBK_ROW0;
        return AIMC_REG_ERROR_SHAPE;
    }
    if ((uint64_t)*nrows * *m_rows > DEV_MAX_ELEMS || (uint64_t)*nrows * *cols > DEV_MAX_ELEMS) {
        *info = AIMC_DESC_RDBK_NROWS;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    return 0;
}

/* READBACK's inputs: one one-hot vector per row, row0 + i hot in vector i. */
static float *readback_inputs(uint32_t nrows, uint32_t row0, uint32_t m_rows)
{
    float *x = calloc((size_t)nrows * m_rows, sizeof *x);
    if (x)
        for (uint32_t i = 0; i < nrows; i++) x[(size_t)i * m_rows + row0 + i] = 1.0f;
    return x;
}

uint32_t dev_readback_prepare(aimc_accel *dev, const uint8_t *desc, uint32_t *info,
                              uint32_t *id_out, uint32_t *nrows_out, float **x_out,
                              float **y_out, uint64_t *y_bytes_out)
{
    uint32_t id, nrows, row0, m_rows, cols, err;
    *x_out = NULL;
    if ((err = readback_check(dev, desc, info, &id, &nrows, &row0, &m_rows, &cols))) return err;
    uint64_t y_bytes = (uint64_t)nrows * cols * sizeof(float);
    *id_out = id;
    *nrows_out = nrows;
    *y_bytes_out = y_bytes;
    if ((err = dma_out_buf(dev, desc, AIMC_DESC_RDBK_OUT_ADDR, y_bytes, (void **)y_out, info)))
        return err;
    if (!values(dev)) return 0;
    *x_out = readback_inputs(nrows, row0, m_rows);
    return *x_out ? 0 : AIMC_REG_ERROR_INTERNAL;
}

/* ---- commands in pieces --------------------------------------------------------------------
 *
 * Each command is a sequence of steps (w->phase): its checks in the documented order, its
 * DMA reads, its arithmetic, its DMA writes, then what it counts. A step that has a budget
 * left does work and takes what it did from w->budget; when the budget is spent the
 * command returns W_MORE and goes on from the same place at the next piece. Loops keep
 * their order across pieces, so every value (sums included) is the same as in one go. The
 * mechanism (w_take, w_read, w_write, W_STEP...) is in exec_int.h, shared with exec_ext.c. */

/* Bytes of DMA per operation of the budget, and the block a transfer piece is cut in. */
#define W_DMA_BYTES_PER_OP 1u
#define W_DMA_BLOCK 4096u

/* The length of the transfer's next callback: what the budget pays for, in blocks, at most
 * DEV_DMA_PIECE and what is left; 0 when the budget is spent. */
static uint64_t w_dma_len(dev_work *w, uint64_t n)
{
    const uint64_t left = n - w->dma_done;
    uint64_t len = w_take(w, (left + W_DMA_BLOCK - 1) / W_DMA_BLOCK,
                          W_DMA_BLOCK / W_DMA_BYTES_PER_OP) * W_DMA_BLOCK;
    if (len > DEV_DMA_PIECE) len = DEV_DMA_PIECE;
    return len > left ? left : len;
}

int w_dma_in(aimc_accel *dev, dev_work *w, uint64_t addr, uint32_t field, void *dst, uint64_t n)
{
    if (!w->dma_open) {
        w->dma_open = 1;
        w->dma_done = 0;
    }
    while (w->dma_done < n) {
        const uint64_t len = w_dma_len(w, n);
        if (len == 0) return W_MORE;
        if (dev_dma_read(dev, addr + w->dma_done, (uint8_t *)dst + w->dma_done, (size_t)len)) {
            w->dma_open = 0;
            return w_fail(w, AIMC_REG_ERROR_DMA_FAULT, field);
        }
        w->dma_done += len;
    }
    w->dma_open = 0;
    return W_DONE;
}

int w_dma_out(aimc_accel *dev, dev_work *w, uint64_t addr, uint32_t field, const void *src,
              uint64_t n)
{
    if (!w->dma_open) {
        w->dma_open = 1;
        w->dma_done = 0;
    }
    while (w->dma_done < n) {
        const uint64_t len = w_dma_len(w, n);
        if (len == 0) return W_MORE;
        if (dev_dma_write(dev, addr + w->dma_done, (const uint8_t *)src + w->dma_done,
                          (size_t)len)) {
            w->dma_open = 0;
            return w_fail(w, AIMC_REG_ERROR_DMA_FAULT, field);
        }
        w->dma_done += len;
    }
    w->dma_open = 0;
    return W_DONE;
}

int w_read_at(aimc_accel *dev, dev_work *w, uint64_t addr, uint32_t field, uint64_t n,
              void **out, int always)
{
    if (!w->dma_open) {
        if (w->budget <= 0) return W_MORE;
        *out = NULL;
        if (dev_dma_probe(dev, addr, n)) return w_fail(w, AIMC_REG_ERROR_DMA_FAULT, field);
        if (!values(dev) && !always) return W_DONE;
        if (n > SIZE_MAX) return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
        *out = malloc(n ? (size_t)n : 1);
        if (!*out) return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
        w->dma_open = 1;
        w->dma_done = 0;
    }
    const int r = w_dma_in(dev, w, addr, field, *out, n);
    if (w->err) {
        free(*out);
        *out = NULL;
    }
    return r;
}

int w_read(aimc_accel *dev, dev_work *w, uint32_t field, uint64_t n, void **out, int always)
{
    return w_read_at(dev, w, aimc_le_get64(w->desc + field), field, n, out, always);
}

int w_write(aimc_accel *dev, dev_work *w, uint32_t field, const void *src, uint64_t n)
{
    if (!values(dev)) return W_DONE;
    return w_dma_out(dev, w, aimc_le_get64(w->desc + field), field, src, n);
}

int w_outbuf(aimc_accel *dev, dev_work *w, uint32_t field, uint64_t n, void **out)
{
    if (w->budget <= 0) return W_MORE;
    *out = NULL;
    if (dev_dma_probe(dev, aimc_le_get64(w->desc + field), n))
        return w_fail(w, AIMC_REG_ERROR_DMA_FAULT, field);
    if (!values(dev)) return W_DONE;
    if (n > SIZE_MAX) return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
    *out = malloc(n ? (size_t)n : 1);
    w->budget -= (int64_t)(n / 16);
    return *out ? W_DONE : w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
}

void w_release(dev_work *w, void *p, uint64_t bytes)
{
    void **q = p;
    if (!*q) return;
    free(*q);
    *q = NULL;
    w->budget -= (int64_t)(bytes / 16);
}

/* The vectors of an MVM on a rows x cols matrix that one call of the value model runs: all
 * when their cells (*per, a vector's) fit in one piece; else as many as fit, at least one,
 * in whole groups of 64 when there is room for one (the value model's own groups, sim/xbar).
 * Split, an MVM's outputs are the same (every draw is keyed by its vector); only the sum of
 * its array charge (an energy) is added call by call, so its last bits may differ. */
static uint64_t mvm_span(const aimc_accel *dev, uint64_t vectors, uint32_t rows, uint32_t cols,
                         uint64_t *per)
{
    const uint64_t cpw = (uint64_t)aimc_arch_cols_per_weight(&dev->arch);
    const uint64_t slices = (uint64_t)aimc_arch_slices(&dev->arch);
    *per = (uint64_t)rows * cols * (cpw ? cpw : 1) * (slices ? slices : 1); /* its cells */
    if (vectors * *per <= DEV_WORK_PIECE) return vectors;
    uint64_t span = DEV_WORK_PIECE / *per;
    if (span >= 64) span -= span % 64;
    return span ? span : 1;
}

/* The command record of an MVM-shaped command (MVM, READBACK) once its output is written: its
 * matrix, vectors and place; the caller adds its operands and counts its work. */
static const dev_mat *mvm_result(aimc_accel *dev, dev_work *w)
{
    const dev_mat *m = matrix_of(dev, w->id);
    dev_cmd *c = w->c;
    c->matrix = w->id;
    c->vectors = w->batch;
    c->anchor = -1;
    c->at = m->cost->home;
    c->out_bytes = w->bytes;
    return m;
}

/* The MVMs of vectors w->i .. w->batch - 1 on w->id, x and y rows of w->rows and w->cols,
 * a span of vectors per call while the budget lasts. A matrix overwritten by another
 * (aimc_xbar: STATE) is NOT_PROGRAMMED when `mvm`, every failure INTERNAL otherwise. */
static int w_mvm(aimc_accel *dev, dev_work *w, int mvm)
{
    uint64_t per;
    const uint64_t span = mvm_span(dev, w->batch, w->rows, w->cols, &per);
    while (w->i < w->batch) {
        if (w->budget <= 0) return W_MORE;
        const uint64_t nv = w->batch - w->i < span ? w->batch - w->i : span;
        w->budget -= (int64_t)(nv * per);
        int rc = aimc_xbar_mvm(dev->xbar, w->id, w->x + w->i * w->rows, (uint32_t)nv,
                               w->y + w->i * w->cols, &w->st);
        if (rc == AIMC_ERR_STATE && mvm) return w_fail(w, AIMC_REG_ERROR_NOT_PROGRAMMED, w->id);
        if (rc != AIMC_OK) return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
        w->i += nv;
    }
    return W_DONE;
}

static int run_program(aimc_accel *dev, dev_work *w)
{
    /* One piece, however long: the value model programs a matrix in one call. */
    if (w->budget <= 0) return W_MORE;
    const uint64_t rows = aimc_le_get32(w->desc + AIMC_DESC_PROG_ROWS);
    const uint64_t cols = aimc_le_get32(w->desc + AIMC_DESC_PROG_COLS);
    w->budget -= (int64_t)(rows > DEV_MAX_DIM || cols > DEV_MAX_DIM ? 1 : rows * cols);
    w->err = exec_program(dev, w->desc, w->c, &w->info);
    return W_DONE;
}

static int run_mvm(aimc_accel *dev, dev_work *w)
{
    const uint8_t *d = w->desc;
    dev_cmd *c = w->c;
    for (;;) switch (w->phase) {
    case 0: {
        uint32_t err, info = 0;
        if ((err = mvm_check(dev, d, &info, &w->id, &w->batch, &w->rows, &w->cols)))
            return w_fail(w, err, info);
        w->bytes = (uint64_t)w->batch * w->cols * sizeof(float);
        w->phase = 1;
        break;
    }
    case 1:
        W_STEP(w_read(dev, w, AIMC_DESC_MVM_X_ADDR,
                      (uint64_t)w->batch * w->rows * sizeof(float), (void **)&w->x, 0));
        w->phase = 6;
        break;
    case 6:
        W_STEP(w_outbuf(dev, w, AIMC_DESC_MVM_Y_ADDR, w->bytes, (void **)&w->y));
        w->phase = values(dev) ? 2 : 5;
        break;
    case 2: /* the value model's own checks, before any vector runs: the matrix still holds
             * its devices (batch 0 checks only that), then every input is finite */
        if (w->budget <= 0) return W_MORE;
        {
            int rc = aimc_xbar_mvm(dev->xbar, w->id, w->x, 0, w->y, NULL);
            if (rc == AIMC_ERR_STATE) return w_fail(w, AIMC_REG_ERROR_NOT_PROGRAMMED, w->id);
            if (rc != AIMC_OK) return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
        }
        w->i = 0;
        w->phase = 3;
        break;
    case 3: {
        const uint64_t n = (uint64_t)w->batch * w->rows;
        while (w->i < n) {
            const uint64_t m = w_take(w, n - w->i, 1);
            if (!m) return W_MORE;
            for (uint64_t e = w->i; e < w->i + m; e++)
                if (!isfinite(w->x[e])) return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
            w->i += m;
        }
        w->i = 0;
        w->phase = 4;
        break;
    }
    case 4:
        if (w_mvm(dev, w, 1) == W_MORE) return W_MORE;
        if (w->err) return W_DONE;
        w_release(w, &w->x, (uint64_t)w->batch * w->rows * sizeof(float));
        w->phase = 5;
        break;
    case 5:
        W_STEP(w_write(dev, w, AIMC_DESC_MVM_Y_ADDR, w->y, w->bytes));
        {
            const dev_mat *m = mvm_result(dev, w);
            operand(c, aimc_le_get64(d + AIMC_DESC_MVM_X_ADDR),
                    (uint64_t)w->batch * m->rows * 4, 0);
            c->opd[0].move = 0; /* the MVM's own input stage moves it (aimc_cost_mvm_in) */
            operand(c, aimc_le_get64(d + AIMC_DESC_MVM_Y_ADDR), w->bytes, 1);
            dev_count_mvm(dev, c, m->cost, w->batch, values(dev) ? &w->st : NULL);
        }
        return W_DONE;
    default:
        return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
    }
}

/* READBACK: rows row0.. of W as the array computes them: one-hot inputs, one MVM each. */
static int run_readback(aimc_accel *dev, dev_work *w)
{
    const uint8_t *d = w->desc;
    dev_cmd *c = w->c;
    for (;;) switch (w->phase) {
    case 0: {
        uint32_t err, info = 0;
        if ((err = readback_check(dev, d, &info, &w->id, &w->batch, &w->row0, &w->rows,
                                  &w->cols)))
            return w_fail(w, err, info);
        w->bytes = (uint64_t)w->batch * w->cols * sizeof(float);
        w->phase = 3;
        break;
    }
    case 3:
        W_STEP(w_outbuf(dev, w, AIMC_DESC_RDBK_OUT_ADDR, w->bytes, (void **)&w->y));
        w->phase = values(dev) ? 4 : 2;
        break;
    case 4: /* the one-hot inputs */
        if (w->budget <= 0) return W_MORE;
        if (!(w->x = readback_inputs(w->batch, w->row0, w->rows)))
            return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
        w->budget -= (int64_t)((uint64_t)w->batch * w->rows / 4);
        w->i = 0;
        w->phase = 1;
        break;
    case 1:
        if (w_mvm(dev, w, 0) == W_MORE) return W_MORE;
        if (w->err) return W_DONE;
        w_release(w, &w->x, (uint64_t)w->batch * w->rows * sizeof(float));
        w->phase = 2;
        break;
    case 2:
        W_STEP(w_write(dev, w, AIMC_DESC_RDBK_OUT_ADDR, w->y, w->bytes));
        {
            const dev_mat *m = mvm_result(dev, w);
            operand(c, aimc_le_get64(d + AIMC_DESC_RDBK_OUT_ADDR), w->bytes, 1);
            dev_count_mvm(dev, c, m->cost, w->batch, values(dev) ? &w->st : NULL);
        }
        return W_DONE;
    default:
        return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
    }
}

static int run_rmsnorm(aimc_accel *dev, dev_work *w)
{
    const uint8_t *d = w->desc;
    dev_cmd *c = w->c;
    for (;;) switch (w->phase) {
    case 0: {
        uint32_t err, info = 0;
        if ((err = field_in(d, AIMC_DESC_RMS_BATCH, 1, DEV_MAX_BATCH, &w->batch, &info)) ||
            (err = field_in(d, AIMC_DESC_RMS_DIM, 1, DEV_MAX_DIM, &w->dim, &info)))
            return w_fail(w, err, info);
        if ((uint64_t)w->batch * w->dim > DEV_MAX_ELEMS)
            return w_fail(w, AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_RMS_BATCH);
        w->bytes = (uint64_t)w->batch * w->dim * sizeof(float);
        w->phase = 1;
        break;
    }
    case 1:
        W_STEP(w_read(dev, w, AIMC_DESC_RMS_IN_ADDR, w->bytes, (void **)&w->x, 0));
        if (dev_dma_probe(dev, aimc_le_get64(d + AIMC_DESC_RMS_OUT_ADDR), w->bytes))
            return w_fail(w, AIMC_REG_ERROR_DMA_FAULT, AIMC_DESC_RMS_OUT_ADDR);
        w->j = 0; /* the vector */
        w->i = 0; /* 0 .. dim - 1: its sum of squares; dim .. 2 dim - 1: its scaling */
        w->acc = 0;
        w->phase = w->x ? 2 : 3;
        break;
    case 2:
        while (w->j < w->batch) {
            float *v = w->x + (size_t)w->j * w->dim;
            const uint64_t dim = w->dim;
            const uint64_t m = w_take(w, 2 * dim - w->i, 1);
            if (!m) return W_MORE;
            const uint64_t end = w->i + m;
            if (w->i < dim) {
                const uint64_t e_sum = end < dim ? end : dim;
                double ss = w->acc;
                for (uint64_t e = w->i; e < e_sum; e++) ss += (double)v[e] * v[e];
                /* the sum done: acc holds the scale */
                w->acc = e_sum == dim ? 1.0 / sqrt(ss / (double)dim + DEV_RMS_EPS) : ss;
                w->i = e_sum;
            }
            const double inv = w->acc;
            for (uint64_t e = w->i; e < end; e++) v[e - dim] = (float)(v[e - dim] * inv);
            w->i = end;
            if (w->i == 2 * dim) {
                w->j++;
                w->i = 0;
                w->acc = 0;
            }
        }
        w->phase = 3;
        break;
    case 3:
        W_STEP(w_write(dev, w, AIMC_DESC_RMS_OUT_ADDR, w->x, w->bytes));
        operand(c, aimc_le_get64(d + AIMC_DESC_RMS_IN_ADDR), w->bytes, 0);
        operand(c, aimc_le_get64(d + AIMC_DESC_RMS_OUT_ADDR), w->bytes, 1);
        c->anchor = 0;
        c->out_bytes = w->bytes;
        dev_count_dig(dev, c, AIMC_DIG_RMSNORM, w->batch, w->dim, 0);
        return W_DONE;
    default:
        return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
    }
}

/* TOPK: per vector of n logits, the k largest, largest first, ties to the lower index, and
 * the softmax of the chosen ones. A heap keeps the k best of the non-NaN logits seen so far
 * (its root the worst of them), so a vector costs O(n log k): a logit that beats the root
 * replaces it and sinks. A NaN logit takes part as the selection the runtime's reference
 * makes (aimc_moe_top_k_softmax: each pass takes the lowest index not yet taken if its logit
 * is NaN, else the best of the non-NaN ones): the NaNs are merged into the heap's order. */

/* A heap entry: a logit and its index. */
typedef struct { float v; uint32_t i; } topk_ent;

/* Logit a ranks before logit b (neither NaN): larger, or equal and of the lower index. */
static inline int topk_before(topk_ent a, topk_ent b)
{
    return a.v > b.v || (a.v == b.v && a.i < b.i);
}

/* Sink the entry at i of heap h (hn entries, the worst at the root); the levels it moved. */
static uint32_t topk_sink(topk_ent *h, uint32_t hn, uint32_t i)
{
    uint32_t levels = 0;
    const topk_ent e = h[i];
    for (;;) {
        const uint32_t l = 2 * i + 1, r = l + 1;
        if (l >= hn) break;
        const uint32_t worse = r < hn && topk_before(h[l], h[r]) ? r : l;
        if (!topk_before(e, h[worse])) break;
        h[i] = h[worse];
        i = worse;
        levels++;
    }
    h[i] = e;
    return levels;
}

/* Add entry e to heap h of hn entries (fewer than its room): the levels it rose. */
static uint32_t topk_push(topk_ent *h, uint32_t hn, topk_ent e)
{
    uint32_t i = hn, levels = 0;
    while (i > 0) {
        const uint32_t parent = (i - 1) / 2;
        if (!topk_before(h[parent], e)) break;
        h[i] = h[parent];
        i = parent;
        levels++;
    }
    h[i] = e;
    return levels;
}

/* The chosen indices of vector v in order into idx (k of them) from the heap's best ones in
 * order (sel, nsel of them) and the NaNs (nnan of them; taken: n bytes of room). */
static void topk_merge(const float *v, uint32_t n, uint32_t k, const uint32_t *sel,
                       uint32_t nsel, uint32_t nnan, uint8_t *taken, uint32_t *idx)
{
    if (nnan == 0) { /* nsel == k: k <= n logits, none NaN */
        memcpy(idx, sel, (size_t)k * sizeof *idx);
        return;
    }
    /* The reference's pass t takes the lowest index p not yet taken if v[p] is NaN, else the
     * best non-NaN logit not yet taken, which is sel[q] (the first q are taken). While a
     * logit is left, p < n; when v[p] is not NaN a non-NaN logit is left, so q < nsel. */
    memset(taken, 0, n);
    uint32_t p = 0, q = 0;
    for (uint32_t t = 0; t < k; t++) {
        while (p < n && taken[p]) p++;
        const uint32_t e = p < n && isnan(v[p]) ? p : q < nsel ? sel[q++] : p;
        taken[e] = 1;
        idx[t] = e;
    }
}

/* Operations of the budget per level an entry moves in the heap (a move costs about as
 * much as 8 simple element operations). */
#define W_TOPK_LEVEL 8

static int run_topk(aimc_accel *dev, dev_work *w)
{
    const uint8_t *d = w->desc;
    dev_cmd *c = w->c;
    for (;;) switch (w->phase) {
    case 0: {
        uint32_t err, info = 0;
        if ((err = field_in(d, AIMC_DESC_TOPK_BATCH, 1, DEV_MAX_BATCH, &w->batch, &info)) ||
            (err = field_in(d, AIMC_DESC_TOPK_N, 1, DEV_MAX_DIM, &w->n, &info)) ||
            (err = field_in(d, AIMC_DESC_TOPK_K, 1, w->n, &w->k, &info)))
            return w_fail(w, err, info);
        if ((uint64_t)w->batch * w->n > DEV_MAX_ELEMS)
            return w_fail(w, AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_TOPK_BATCH);
        w->bytes = (uint64_t)w->batch * w->k * 4; /* each output */
        w->phase = 1;
        break;
    }
    case 1:
        W_STEP(w_read(dev, w, AIMC_DESC_TOPK_IN_ADDR, (uint64_t)w->batch * w->n * sizeof(float),
                      (void **)&w->x, 0));
        w->phase = 7;
        break;
    case 7:
        W_STEP(w_outbuf(dev, w, AIMC_DESC_TOPK_IDX_ADDR, w->bytes, (void **)&w->ox));
        w->phase = 8;
        break;
    case 8:
        W_STEP(w_outbuf(dev, w, AIMC_DESC_TOPK_W_ADDR, w->bytes, (void **)&w->wt));
        w->phase = 9;
        break;
    case 9:
        if (w->budget <= 0) return W_MORE;
        if (values(dev)) {
            w->heap = malloc((size_t)w->k * sizeof(topk_ent));
            w->sel = malloc((size_t)w->k * sizeof *w->sel);
            w->p = malloc((size_t)w->k * sizeof *w->p);
            w->taken = malloc(w->n);
            if (!w->heap || !w->sel || !w->p || !w->taken)
                return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
        }
        w->j = 0; /* the vector */
        w->i = 0; /* its next logit */
        w->hn = w->nnan = 0;
        w->phase = values(dev) ? 2 : 5;
        break;
    case 2: { /* the k best non-NaN logits of vector j into the heap */
        const float *v = w->x + (size_t)w->j * w->n;
        topk_ent *h = w->heap;
        while (w->i < w->n) {
            if (w->budget <= 0) return W_MORE;
            const topk_ent e = {v[w->i], (uint32_t)w->i};
            uint32_t levels = 0;
            w->i++;
            if (isnan(e.v))
                w->nnan++;
            else if (w->hn < w->k)
                levels = topk_push(h, w->hn++, e);
            else if (topk_before(e, h[0])) {
                h[0] = e;
                levels = topk_sink(h, w->hn, 0);
            }
            w->budget -= 1 + W_TOPK_LEVEL * (int64_t)levels;
        }
        w->nsel = w->hn;
        w->phase = 3;
        break;
    }
    case 3: { /* the heap emptied worst first: sel in order, best first */
        topk_ent *h = w->heap;
        while (w->hn > 0) {
            if (w->budget <= 0) return W_MORE;
            w->sel[w->hn - 1] = h[0].i;
            h[0] = h[--w->hn];
            w->budget -= 1 + W_TOPK_LEVEL * (int64_t)topk_sink(h, w->hn, 0);
        }
        w->phase = 4;
        break;
    }
    case 4: { /* the choice with the NaNs, its softmax (in double), the outputs */
        if (!w_take(w, 1, (uint64_t)w->n + 24u * w->k)) return W_MORE;
        const float *v = w->x + (size_t)w->j * w->n;
        uint32_t *idx = (uint32_t *)w->heap; /* empty now: room for k indices */
        topk_merge(v, w->n, w->k, w->sel, w->nsel, w->nnan, w->taken, idx);
        double mx = v[idx[0]], sum = 0;
        for (uint32_t t = 0; t < w->k; t++) sum += (w->p[t] = exp((double)v[idx[t]] - mx));
        for (uint32_t t = 0; t < w->k; t++) w->p[t] /= sum;
        for (uint32_t t = 0; t < w->k; t++) {
            aimc_le_put32(w->ox + ((size_t)w->j * w->k + t) * 4, idx[t]);
            w->wt[(size_t)w->j * w->k + t] = (float)w->p[t];
        }
        w->j++;
        w->i = 0;
        w->hn = w->nnan = 0;
        w->phase = w->j < w->batch ? 2 : 5;
        if (w->phase == 5) {
            w_release(w, &w->x, (uint64_t)w->batch * w->n * sizeof(float));
            w_release(w, &w->heap, (uint64_t)w->k * sizeof(topk_ent));
            w_release(w, &w->sel, (uint64_t)w->k * sizeof *w->sel);
            w_release(w, &w->p, (uint64_t)w->k * sizeof *w->p);
            w_release(w, &w->taken, w->n);
        }
        break;
    }
    case 5:
        W_STEP(w_write(dev, w, AIMC_DESC_TOPK_IDX_ADDR, w->ox, w->bytes));
        w_release(w, &w->ox, w->bytes);
        w->phase = 6;
        break;
    case 6:
        W_STEP(w_write(dev, w, AIMC_DESC_TOPK_W_ADDR, w->wt, w->bytes));
        operand(c, aimc_le_get64(d + AIMC_DESC_TOPK_IN_ADDR),
                (uint64_t)w->batch * w->n * sizeof(float), 0);
        operand(c, aimc_le_get64(d + AIMC_DESC_TOPK_IDX_ADDR), w->bytes, 1);
        operand(c, aimc_le_get64(d + AIMC_DESC_TOPK_W_ADDR), w->bytes, 1);
        c->anchor = 0;
        c->out_bytes = 2 * w->bytes;
        dev_count_dig(dev, c, AIMC_DIG_TOPK, w->batch, w->n, w->k);
        return W_DONE;
    default:
        return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
    }
}

static int run_silu_mul(aimc_accel *dev, dev_work *w)
{
    const uint8_t *d = w->desc;
    dev_cmd *c = w->c;
    for (;;) switch (w->phase) {
    case 0: {
        uint32_t err, info = 0;
        if ((err = field_in(d, AIMC_DESC_SILU_COUNT, 1, DEV_MAX_ELEMS, &w->n, &info)))
            return w_fail(w, err, info);
        w->bytes = (uint64_t)w->n * sizeof(float);
        w->phase = 1;
        break;
    }
    case 1:
        W_STEP(w_read(dev, w, AIMC_DESC_SILU_G_ADDR, w->bytes, (void **)&w->x, 0));
        w->phase = 2;
        break;
    case 2:
        W_STEP(w_read(dev, w, AIMC_DESC_SILU_U_ADDR, w->bytes, (void **)&w->u, 0));
        if (dev_dma_probe(dev, aimc_le_get64(d + AIMC_DESC_SILU_OUT_ADDR), w->bytes))
            return w_fail(w, AIMC_REG_ERROR_DMA_FAULT, AIMC_DESC_SILU_OUT_ADDR);
        w->i = 0;
        w->phase = w->x ? 3 : 4;
        break;
    case 3: /* out = silu(g) * u, into g's copy */
        while (w->i < w->n) {
            const uint64_t m = w_take(w, w->n - w->i, 16);
            if (!m) return W_MORE;
            float *g = w->x;
            const float *u = w->u;
            for (uint64_t i = w->i; i < w->i + m; i++) {
                double v = g[i];
                g[i] = (float)(v / (1.0 + exp(-v)) * u[i]);
            }
            w->i += m;
        }
        w_release(w, &w->u, w->bytes);
        w->phase = 4;
        break;
    case 4:
        W_STEP(w_write(dev, w, AIMC_DESC_SILU_OUT_ADDR, w->x, w->bytes));
        operand(c, aimc_le_get64(d + AIMC_DESC_SILU_G_ADDR), w->bytes, 0);
        operand(c, aimc_le_get64(d + AIMC_DESC_SILU_U_ADDR), w->bytes, 0);
        operand(c, aimc_le_get64(d + AIMC_DESC_SILU_OUT_ADDR), w->bytes, 1);
        c->anchor = 0;
        c->out_bytes = w->bytes;
        dev_count_dig(dev, c, AIMC_DIG_SILU_MUL, 1, w->n, 0);
        return W_DONE;
    default:
        return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
    }
}

/* Index w->i .. w->batch - 1 of the index table ix (or row i, without one) against `rows`
 * rows: INDEX with the position of the first one outside. */
static int w_check_index(dev_work *w, uint32_t rows)
{
    while (w->i < w->batch) {
        const uint64_t m = w_take(w, w->batch - w->i, 1);
        if (!m) return W_MORE;
        for (uint64_t i = w->i; i < w->i + m; i++) {
            const uint32_t r = w->ix ? aimc_le_get32(w->ix + (size_t)i * 4) : (uint32_t)i;
            if (r >= rows) return w_fail(w, AIMC_REG_ERROR_INDEX, (uint32_t)i);
        }
        w->i += m;
    }
    return W_DONE;
}

/* The bytes of one row of dim floats (GATHER, SCALE_ACC). */
#define W_ROW_BYTES(w) ((uint64_t)(w)->dim * sizeof(float))

static int run_gather(aimc_accel *dev, dev_work *w)
{
    const uint8_t *d = w->desc;
    dev_cmd *c = w->c;
    for (;;) switch (w->phase) {
    case 0: {
        uint32_t err, info = 0;
        if ((err = field_in(d, AIMC_DESC_GATH_BATCH, 1, DEV_MAX_BATCH, &w->batch, &info)) ||
            (err = field_in(d, AIMC_DESC_GATH_DIM, 1, DEV_MAX_DIM, &w->dim, &info)) ||
            (err = field_in(d, AIMC_DESC_GATH_SRC_ROWS, 1, DEV_MAX_BATCH, &w->src_rows, &info)))
            return w_fail(w, err, info);
        if ((uint64_t)w->batch * w->dim > DEV_MAX_ELEMS ||
            (uint64_t)w->src_rows * w->dim > DEV_MAX_ELEMS)
            return w_fail(w, AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_GATH_BATCH);
        w->bytes = (uint64_t)w->batch * w->dim * sizeof(float);
        w->phase = 1;
        break;
    }
    case 1: /* the index table decides what the command does: it is read in every mode */
        W_STEP(w_read(dev, w, AIMC_DESC_GATH_IDX_ADDR, (uint64_t)w->batch * 4, (void **)&w->ix,
                      1));
        w->phase = 2;
        break;
    case 2:
        W_STEP(w_read(dev, w, AIMC_DESC_GATH_SRC_ADDR, w->src_rows * W_ROW_BYTES(w), (void **)&w->x,
                      0));
        w->phase = 6;
        break;
    case 6:
        W_STEP(w_outbuf(dev, w, AIMC_DESC_GATH_DST_ADDR, w->bytes, (void **)&w->y));
        w->i = 0;
        w->phase = 3;
        break;
    case 3:
        if (w_check_index(w, w->src_rows) == W_MORE) return W_MORE;
        if (w->err) return W_DONE;
        w->i = 0;
        w->phase = w->x ? 4 : 5;
        break;
    case 4: /* one row at a time */
        while (w->i < w->batch) {
            const uint64_t m = w_take(w, w->batch - w->i, W_ROW_BYTES(w));
            if (!m) return W_MORE;
            for (uint64_t i = w->i; i < w->i + m; i++) {
                const uint32_t r = aimc_le_get32(w->ix + (size_t)i * 4);
                memcpy(w->y + (size_t)i * w->dim, w->x + (size_t)r * w->dim, (size_t)W_ROW_BYTES(w));
            }
            w->i += m;
        }
        w_release(w, &w->x, w->src_rows * W_ROW_BYTES(w));
        w->phase = 5;
        break;
    case 5:
        W_STEP(w_write(dev, w, AIMC_DESC_GATH_DST_ADDR, w->y, w->bytes));
        operand(c, aimc_le_get64(d + AIMC_DESC_GATH_SRC_ADDR), w->src_rows * W_ROW_BYTES(w), 0);
        operand(c, aimc_le_get64(d + AIMC_DESC_GATH_IDX_ADDR), (uint64_t)w->batch * 4, 0);
        operand(c, aimc_le_get64(d + AIMC_DESC_GATH_DST_ADDR), w->bytes, 1);
        c->anchor = 0;
        c->out_bytes = w->bytes;
        /* one address computation per row; the copy is the buffer's reads and writes */
        dev_count_dig(dev, c, AIMC_DIG_GATHER, w->batch, w->dim, 0);
        return W_DONE;
    default:
        return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
    }
}

static int run_scale_acc(aimc_accel *dev, dev_work *w)
{
    const uint8_t *d = w->desc;
    dev_cmd *c = w->c;
    const uint64_t idx_addr = aimc_le_get64(d + AIMC_DESC_SACC_IDX_ADDR);
    const uint64_t w_addr = aimc_le_get64(d + AIMC_DESC_SACC_W_ADDR);
    const int have_idx = idx_addr != 0, have_w = w_addr != 0;
    for (;;) switch (w->phase) {
    case 0: {
        uint32_t err, info = 0;
        if ((err = field_in(d, AIMC_DESC_SACC_BATCH, 1, DEV_MAX_BATCH, &w->batch, &info)) ||
            (err = field_in(d, AIMC_DESC_SACC_DIM, 1, DEV_MAX_DIM, &w->dim, &info)) ||
            (err = field_in(d, AIMC_DESC_SACC_DST_ROWS, 1, DEV_MAX_BATCH, &w->src_rows, &info)))
            return w_fail(w, err, info);
        if ((uint64_t)w->batch * w->dim > DEV_MAX_ELEMS ||
            (uint64_t)w->src_rows * w->dim > DEV_MAX_ELEMS)
            return w_fail(w, AIMC_REG_ERROR_BAD_DESC, AIMC_DESC_SACC_BATCH);
        w->bytes = (uint64_t)w->src_rows * w->dim * sizeof(float); /* the target */
        w->phase = 1;
        break;
    }
    case 1: /* the index table is read in every mode */
        if (have_idx)
            W_STEP(w_read(dev, w, AIMC_DESC_SACC_IDX_ADDR, (uint64_t)w->batch * 4,
                          (void **)&w->ix, 1));
        w->phase = 2;
        break;
    case 2:
        if (have_w)
            W_STEP(w_read(dev, w, AIMC_DESC_SACC_W_ADDR, (uint64_t)w->batch * sizeof(float),
                          (void **)&w->wt, 0));
        w->phase = 3;
        break;
    case 3:
        W_STEP(w_read(dev, w, AIMC_DESC_SACC_SRC_ADDR, w->batch * W_ROW_BYTES(w), (void **)&w->x, 0));
        w->phase = 4;
        break;
    case 4:
        W_STEP(w_read(dev, w, AIMC_DESC_SACC_DST_ADDR, w->bytes, (void **)&w->y, 0));
        w->i = 0;
        w->phase = 5;
        break;
    case 5:
        if (w_check_index(w, w->src_rows) == W_MORE) return W_MORE;
        if (w->err) return W_DONE;
        w->i = 0; /* the source row */
        w->j = 0; /* its next column */
        w->phase = w->y ? 6 : 7;
        break;
    case 6: /* dst[idx[i]] += w[i] * src[i], rows in order (an index may repeat) */
        while (w->i < w->batch) {
            const uint64_t m = w_take(w, w->dim - w->j, 2);
            if (!m) return W_MORE;
            const uint32_t r = w->ix ? aimc_le_get32(w->ix + (size_t)w->i * 4) : (uint32_t)w->i;
            const double wi = w->wt ? (double)w->wt[w->i] : 1.0;
            float *dr = w->y + (size_t)r * w->dim;
            const float *s = w->x + (size_t)w->i * w->dim;
            for (uint64_t col = w->j; col < w->j + m; col++) dr[col] += (float)(wi * s[col]);
            w->j += m;
            if (w->j == w->dim) {
                w->j = 0;
                w->i++;
            }
        }
        w_release(w, &w->x, w->batch * W_ROW_BYTES(w));
        w->phase = 7;
        break;
    case 7:
        W_STEP(w_write(dev, w, AIMC_DESC_SACC_DST_ADDR, w->y, w->bytes));
        /* It runs where its source lies (an expert's output, at the expert's home): the
         * accumulation target, indices and weights come to it, and the target stays there.
         * So the residual stream follows the layers across the machine instead of every
         * layer's outputs travelling back to one place. */
        operand(c, aimc_le_get64(d + AIMC_DESC_SACC_SRC_ADDR), w->batch * W_ROW_BYTES(w), 0);
        operand(c, aimc_le_get64(d + AIMC_DESC_SACC_DST_ADDR), w->bytes, 0);
        if (have_idx) operand(c, idx_addr, (uint64_t)w->batch * 4, 0);
        if (have_w) operand(c, w_addr, (uint64_t)w->batch * sizeof(float), 0);
        operand(c, aimc_le_get64(d + AIMC_DESC_SACC_DST_ADDR), w->bytes, 1);
        c->anchor = 0;
        c->out_bytes = w->bytes;
        dev_count_dig(dev, c, AIMC_DIG_SCALE_ACC, w->batch, w->dim, 0);
        return W_DONE;
    default:
        return w_fail(w, AIMC_REG_ERROR_INTERNAL, 0);
    }
}

/* NOP and FENCE: nothing to do, one operation. */
static int run_nop(dev_work *w)
{
    if (w->budget <= 0) return W_MORE;
    w->budget -= 1;
    return W_DONE;
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

uint32_t dev_check_header(const uint8_t *desc, uint32_t *info)
{
    uint32_t op = aimc_le_get16(desc + AIMC_DESC_OPCODE);
    uint32_t flags = aimc_le_get16(desc + AIMC_DESC_FLAGS);
    const dev_rsvd *r = NULL;
    uint32_t bad;

    *info = 0;
    for (size_t i = 0; i < sizeof dev_reserved / sizeof dev_reserved[0]; i++)
        if (dev_reserved[i].op == op) r = &dev_reserved[i];
    dev_rsvd ext = {op, 0, 0, 0, 0}; /* the commands of exec_ext.c */
    if (!r && dev_ext_reserved(op, &ext.from, &ext.to, &ext.from2, &ext.to2)) r = &ext;
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

/* ---- the command's life ---- */

/* Free the host copies of w's command. */
static void w_free(dev_work *w)
{
    free(w->x);
    free(w->y);
    free(w->u);
    free(w->wt);
    free(w->ix);
    free(w->ox);
    free(w->heap);
    free(w->sel);
    free(w->taken);
    free(w->p);
    free(w->kc);
    free(w->vc);
    free(w->pv);
    free(w->aux);
}

void dev_exec_drop(dev_work *w)
{
    const int64_t budget = w->budget;
    if (w->open) w_free(w);
    memset(w, 0, sizeof *w);
    w->budget = budget;
}

void dev_exec_begin(aimc_accel *dev, dev_work *w, const uint8_t *desc, dev_cmd *c)
{
    (void)dev;
    dev_exec_drop(w);
    w->open = 1;
    w->c = c;
    memcpy(w->desc, desc, AIMC_DESC_BYTES);
    c->op = aimc_le_get16(desc + AIMC_DESC_OPCODE);
    c->flags = aimc_le_get16(desc + AIMC_DESC_FLAGS);
    c->fence = aimc_le_get64(desc + AIMC_DESC_FENCE);
    c->anchor = -1;
    c->at = (aimc_loc){0, 0};
    w->err = dev_check_header(desc, &w->info);
}

/* The command is complete: its result into c; a command that failed before its work did
 * none of it. */
static void w_close(aimc_accel *dev, dev_work *w)
{
    dev_cmd *c = w->c;
    c->err = w->err;
    c->info = w->info;
    /* The placement its stages book: the matrix's now, even if a later PROGRAM replaces it. */
    const int uses_matrix = c->op == AIMC_DESC_OP_MVM || c->op == AIMC_DESC_OP_READBACK ||
                            c->op == AIMC_DESC_OP_PROGRAM;
    c->mcost = uses_matrix && c->matrix < dev->mats_cap ? dev->mats[c->matrix].cost : NULL;
    /* (a PROGRAM whose only complaint is VERIFY programmed its matrix: its work stands) */
    if (c->err && (c->err & ~AIMC_REG_ERROR_VERIFY)) {
        memset(&c->cnt, 0, sizeof c->cnt);
        memset(&c->ev, 0, sizeof c->ev);
        c->n_opd = 0;
        c->prog_cycles = 0;
        c->vectors = 0;
        c->dig_ops = 0;
        c->kv_read = c->kv_write = 0;
        c->out_bytes = 0;
        c->prog_bytes = 0;
    }
    dev_exec_drop(w);
}

int dev_exec_step(aimc_accel *dev, dev_work *w)
{
    if (!w->open) return 1;
    int r = W_DONE;
    if (!w->err) switch (w->c->op) {
        case AIMC_DESC_OP_PROGRAM: r = run_program(dev, w); break;
        case AIMC_DESC_OP_MVM: r = run_mvm(dev, w); break;
        case AIMC_DESC_OP_READBACK: r = run_readback(dev, w); break;
        case AIMC_DESC_OP_RMSNORM: r = run_rmsnorm(dev, w); break;
        case AIMC_DESC_OP_TOPK: r = run_topk(dev, w); break;
        case AIMC_DESC_OP_SILU_MUL: r = run_silu_mul(dev, w); break;
        case AIMC_DESC_OP_GATHER: r = run_gather(dev, w); break;
        case AIMC_DESC_OP_SCALE_ACC: r = run_scale_acc(dev, w); break;
        case AIMC_DESC_OP_ROUTE: r = dev_run_route(dev, w); break;   /* exec_ext.c */
        case AIMC_DESC_OP_NORM: r = dev_run_norm(dev, w); break;
        case AIMC_DESC_OP_ACT: r = dev_run_act(dev, w); break;
        case AIMC_DESC_OP_ATTN: r = dev_run_attn(dev, w); break;
        default: r = run_nop(w); break; /* NOP, FENCE */
        }
    if (r == W_MORE) return 0;
    w_close(dev, w);
    return 1;
}

void dev_exec(aimc_accel *dev, const uint8_t *desc, dev_cmd *c)
{
    dev_work w;
    memset(&w, 0, sizeof w);
    dev_exec_begin(dev, &w, desc, c);
    do w.budget = INT64_MAX;
    while (!dev_exec_step(dev, &w));
}
