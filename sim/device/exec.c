/* exec.c - the accelerator's commands: every check of a descriptor, and the values of each
 * command, computed when the command processor fetches it (in ring order); what a command
 * reads, writes and does goes into its dev_cmd for sched.c to time.
 *
 * Follows docs/driver.md and docs/registers.md (generated from common/aimc_regs.yaml, whose
 * doc texts are the semantics). Every value the host hands over (descriptors, tile tables,
 * index tables, DMA addresses) is checked before use; a bad one is answered with ERROR bits,
 * never with a crash.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accel_int.h"
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

/* Check that the first and last byte of [addr, addr + n) can be read, before the device
 * allocates a buffer of n bytes for it (the full transfer is still checked). */
static int dma_probe(aimc_accel *dev, uint64_t addr, uint64_t n)
{
    uint8_t b;
    if (n == 0) return 0;
    if (addr > UINT64_MAX - n) return -1;
    if (dev_dma_read(dev, addr, &b, 1)) return -1;
    return dev_dma_read(dev, addr + n - 1, &b, 1);
}

static int values(const aimc_accel *dev)
{
    return !dev->opts.timing_only;
}

/* Note that c reads (write 0) or writes [addr, addr + n). */
static void operand(dev_cmd *c, uint64_t addr, uint64_t n, int write)
{
    if (c->n_opd >= DEV_MAX_OPERANDS || n == 0) return;
    dev_operand *o = &c->opd[c->n_opd++];
    memset(o, 0, sizeof *o);
    o->addr = addr;
    o->bytes = n;
    o->write = write;
    o->move = write ? 0 : n;
}

/* Fetch n bytes at the address in descriptor field `field` into a new buffer *out (NULL
 * without values: only the range is checked). 0, or the ERROR bits with *info set
 * (DMA_FAULT: the field's offset). */
static uint32_t dma_fetch(aimc_accel *dev, const uint8_t *desc, uint32_t field, uint64_t n,
                          void **out, uint32_t *info)
{
    uint64_t addr = aimc_le_get64(desc + field);
    *out = NULL;
    if (dma_probe(dev, addr, n)) { *info = field; return AIMC_REG_ERROR_DMA_FAULT; }
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
    if (dma_probe(dev, aimc_le_get64(desc + field), n)) {
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

static void count_dig(aimc_accel *dev, dev_cmd *c, aimc_dig op, uint64_t batch, uint64_t n,
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
    if (rep_addr && dma_probe(dev, rep_addr, AIMC_REC_PREP_BYTES)) {
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
        if (dma_probe(dev, t_addr, t_bytes)) {
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

uint32_t dev_mvm_prepare(aimc_accel *dev, const uint8_t *desc, uint32_t *info, uint32_t *id,
                         uint32_t *batch, float **x, float **y, uint64_t *y_bytes)
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

static uint32_t exec_mvm(aimc_accel *dev, const uint8_t *desc, dev_cmd *c, uint32_t *info)
{
    uint32_t id, batch, err;
    uint64_t y_bytes;
    float *x = NULL, *y = NULL;
    aimc_xbar_stats st = {0};

    if ((err = dev_mvm_prepare(dev, desc, info, &id, &batch, &x, &y, &y_bytes))) goto out;
    const dev_mat *m = matrix_of(dev, id);
    if (values(dev)) {
        int rc = aimc_xbar_mvm(dev->xbar, id, x, batch, y, &st);
        if (rc == AIMC_ERR_STATE) {
            *info = id;
            err = AIMC_REG_ERROR_NOT_PROGRAMMED;
            goto out;
        }
        if (rc != AIMC_OK) { err = AIMC_REG_ERROR_INTERNAL; goto out; }
        if ((err = dev_dma_store(dev, desc, AIMC_DESC_MVM_Y_ADDR, y, y_bytes, info))) goto out;
    }
    c->matrix = id;
    c->vectors = batch;
    c->anchor = -1;
    c->at = m->cost->home;
    c->out_bytes = y_bytes;
    operand(c, aimc_le_get64(desc + AIMC_DESC_MVM_X_ADDR), (uint64_t)batch * m->rows * 4, 0);
    c->opd[0].move = 0; /* the MVM's own input stage moves it (aimc_cost_mvm_in) */
    operand(c, aimc_le_get64(desc + AIMC_DESC_MVM_Y_ADDR), y_bytes, 1);
    dev_count_mvm(dev, c, m->cost, batch, values(dev) ? &st : NULL);
out:
    free(y);
    free(x);
    return err;
}

uint32_t dev_readback_prepare(aimc_accel *dev, const uint8_t *desc, uint32_t *info,
                              uint32_t *id_out, uint32_t *nrows_out, float **x_out,
                              float **y_out, uint64_t *y_bytes_out)
{
    uint32_t id, nrows, m_rows, err;
    uint32_t row0 = aimc_le_get32(desc + AIMC_DESC_RDBK_ROW0);
    uint32_t cols = aimc_le_get32(desc + AIMC_DESC_RDBK_COLS);
    float *x;

    *x_out = NULL;
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
    if (!values(dev)) return 0;
    x = calloc((size_t)nrows * m_rows, sizeof *x);
    *x_out = x;
    if (!x) return AIMC_REG_ERROR_INTERNAL;
    for (uint32_t i = 0; i < nrows; i++) x[(size_t)i * m_rows + row0 + i] = 1.0f;
    return 0;
}

/* READBACK: rows row0.. of W as the array computes them: one-hot inputs, one MVM each. */
static uint32_t exec_readback(aimc_accel *dev, const uint8_t *desc, dev_cmd *c, uint32_t *info)
{
    uint32_t id, nrows, err;
    uint64_t y_bytes;
    float *x = NULL, *y = NULL;
    aimc_xbar_stats st = {0};

    if ((err = dev_readback_prepare(dev, desc, info, &id, &nrows, &x, &y, &y_bytes))) goto out;
    if (values(dev)) {
        if (aimc_xbar_mvm(dev->xbar, id, x, nrows, y, &st) != AIMC_OK) {
            err = AIMC_REG_ERROR_INTERNAL;
            goto out;
        }
        if ((err = dev_dma_store(dev, desc, AIMC_DESC_RDBK_OUT_ADDR, y, y_bytes, info))) goto out;
    }
    const dev_mat *m = matrix_of(dev, id);
    c->matrix = id;
    c->vectors = nrows;
    c->anchor = -1;
    c->at = m->cost->home;
    c->out_bytes = y_bytes;
    operand(c, aimc_le_get64(desc + AIMC_DESC_RDBK_OUT_ADDR), y_bytes, 1);
    dev_count_mvm(dev, c, m->cost, nrows, values(dev) ? &st : NULL);
out:
    free(y);
    free(x);
    return err;
}

static uint32_t exec_rmsnorm(aimc_accel *dev, const uint8_t *desc, dev_cmd *c, uint32_t *info)
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
    if (x)
        for (uint32_t b = 0; b < batch; b++) {
            float *v = x + (size_t)b * dim;
            double ss = 0;
            for (uint32_t i = 0; i < dim; i++) ss += (double)v[i] * v[i];
            double inv = 1.0 / sqrt(ss / (double)dim + DEV_RMS_EPS);
            for (uint32_t i = 0; i < dim; i++) v[i] = (float)(v[i] * inv);
        }
    if ((err = dev_dma_store(dev, desc, AIMC_DESC_RMS_OUT_ADDR, x, bytes, info))) goto out;
    operand(c, aimc_le_get64(desc + AIMC_DESC_RMS_IN_ADDR), bytes, 0);
    operand(c, aimc_le_get64(desc + AIMC_DESC_RMS_OUT_ADDR), bytes, 1);
    c->anchor = 0;
    c->out_bytes = bytes;
    count_dig(dev, c, AIMC_DIG_RMSNORM, batch, dim, 0);
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

static uint32_t exec_topk(aimc_accel *dev, const uint8_t *desc, dev_cmd *c, uint32_t *info)
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
    uint64_t in_bytes = (uint64_t)batch * n * sizeof(float);
    if ((err = dma_fetch(dev, desc, AIMC_DESC_TOPK_IN_ADDR, in_bytes, (void **)&v, info)) ||
        (err = dma_out_buf(dev, desc, AIMC_DESC_TOPK_IDX_ADDR, out_n * 4, (void **)&ix, info)) ||
        (err = dma_out_buf(dev, desc, AIMC_DESC_TOPK_W_ADDR, out_n * sizeof(float), (void **)&w,
                           info)))
        goto out;
    if (values(dev)) {
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
    }
    if ((err = dev_dma_store(dev, desc, AIMC_DESC_TOPK_IDX_ADDR, ix, out_n * 4, info)) ||
        (err = dev_dma_store(dev, desc, AIMC_DESC_TOPK_W_ADDR, w, out_n * sizeof(float), info)))
        goto out;
    operand(c, aimc_le_get64(desc + AIMC_DESC_TOPK_IN_ADDR), in_bytes, 0);
    operand(c, aimc_le_get64(desc + AIMC_DESC_TOPK_IDX_ADDR), out_n * 4, 1);
    operand(c, aimc_le_get64(desc + AIMC_DESC_TOPK_W_ADDR), out_n * sizeof(float), 1);
    c->anchor = 0;
    c->out_bytes = out_n * 8;
    count_dig(dev, c, AIMC_DIG_TOPK, batch, n, k);
out:
    free(p);
    free(idx);
    free(w);
    free(ix);
    free(v);
    return err;
}

static uint32_t exec_silu_mul(aimc_accel *dev, const uint8_t *desc, dev_cmd *c, uint32_t *info)
{
    uint32_t count, err;
    float *g = NULL, *u = NULL;

    if ((err = field_in(desc, AIMC_DESC_SILU_COUNT, 1, DEV_MAX_ELEMS, &count, info))) return err;
    uint64_t bytes = (uint64_t)count * sizeof(float);
    if ((err = dma_fetch(dev, desc, AIMC_DESC_SILU_G_ADDR, bytes, (void **)&g, info)) ||
        (err = dma_fetch(dev, desc, AIMC_DESC_SILU_U_ADDR, bytes, (void **)&u, info)))
        goto out;
    if (dma_probe(dev, aimc_le_get64(desc + AIMC_DESC_SILU_OUT_ADDR), bytes)) {
        *info = AIMC_DESC_SILU_OUT_ADDR;
        err = AIMC_REG_ERROR_DMA_FAULT;
        goto out;
    }
    if (g)
        for (uint32_t i = 0; i < count; i++) {
            double v = g[i];
            g[i] = (float)(v / (1.0 + exp(-v)) * u[i]);
        }
    if ((err = dev_dma_store(dev, desc, AIMC_DESC_SILU_OUT_ADDR, g, bytes, info))) goto out;
    operand(c, aimc_le_get64(desc + AIMC_DESC_SILU_G_ADDR), bytes, 0);
    operand(c, aimc_le_get64(desc + AIMC_DESC_SILU_U_ADDR), bytes, 0);
    operand(c, aimc_le_get64(desc + AIMC_DESC_SILU_OUT_ADDR), bytes, 1);
    c->anchor = 0;
    c->out_bytes = bytes;
    count_dig(dev, c, AIMC_DIG_SILU_MUL, 1, count, 0);
out:
    free(u);
    free(g);
    return err;
}

static uint32_t exec_gather(aimc_accel *dev, const uint8_t *desc, dev_cmd *c, uint32_t *info)
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
    const uint64_t idx_addr = aimc_le_get64(desc + AIMC_DESC_GATH_IDX_ADDR);
    /* The index table decides what the command does: it is read in every mode. */
    if (dma_probe(dev, idx_addr, (uint64_t)batch * 4)) {
        *info = AIMC_DESC_GATH_IDX_ADDR;
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    ix = malloc((size_t)batch * 4);
    if (!ix) return AIMC_REG_ERROR_INTERNAL;
    if (dev_dma_read(dev, idx_addr, ix, (size_t)batch * 4)) {
        *info = AIMC_DESC_GATH_IDX_ADDR;
        err = AIMC_REG_ERROR_DMA_FAULT;
        goto out;
    }
    if ((err = dma_fetch(dev, desc, AIMC_DESC_GATH_SRC_ADDR, src_rows * row_bytes, (void **)&src,
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
        if (src) memcpy(dst + (size_t)i * dim, src + (size_t)r * dim, (size_t)row_bytes);
    }
    if ((err = dev_dma_store(dev, desc, AIMC_DESC_GATH_DST_ADDR, dst, batch * row_bytes, info)))
        goto out;
    operand(c, aimc_le_get64(desc + AIMC_DESC_GATH_SRC_ADDR), src_rows * row_bytes, 0);
    operand(c, idx_addr, (uint64_t)batch * 4, 0);
    operand(c, aimc_le_get64(desc + AIMC_DESC_GATH_DST_ADDR), batch * row_bytes, 1);
    c->anchor = 0;
    c->out_bytes = batch * row_bytes;
    /* one address computation per row; the copy is the buffer's reads and writes */
    count_dig(dev, c, AIMC_DIG_GATHER, batch, dim, 0);
out:
    free(dst);
    free(src);
    free(ix);
    return err;
}

static uint32_t exec_scale_acc(aimc_accel *dev, const uint8_t *desc, dev_cmd *c, uint32_t *info)
{
    uint32_t batch, dim, dst_rows, err;
    float *src = NULL, *dst = NULL, *w = NULL;
    uint8_t *ix = NULL;
    const uint64_t idx_addr = aimc_le_get64(desc + AIMC_DESC_SACC_IDX_ADDR);
    const uint64_t w_addr = aimc_le_get64(desc + AIMC_DESC_SACC_W_ADDR);
    int have_idx = idx_addr != 0, have_w = w_addr != 0;

    if ((err = field_in(desc, AIMC_DESC_SACC_BATCH, 1, DEV_MAX_BATCH, &batch, info)) ||
        (err = field_in(desc, AIMC_DESC_SACC_DIM, 1, DEV_MAX_DIM, &dim, info)) ||
        (err = field_in(desc, AIMC_DESC_SACC_DST_ROWS, 1, DEV_MAX_BATCH, &dst_rows, info)))
        return err;
    if ((uint64_t)batch * dim > DEV_MAX_ELEMS || (uint64_t)dst_rows * dim > DEV_MAX_ELEMS) {
        *info = AIMC_DESC_SACC_BATCH;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    uint64_t row_bytes = (uint64_t)dim * sizeof(float);
    if (have_idx) {
        if (dma_probe(dev, idx_addr, (uint64_t)batch * 4)) {
            *info = AIMC_DESC_SACC_IDX_ADDR;
            return AIMC_REG_ERROR_DMA_FAULT;
        }
        ix = malloc((size_t)batch * 4);
        if (!ix) return AIMC_REG_ERROR_INTERNAL;
        if (dev_dma_read(dev, idx_addr, ix, (size_t)batch * 4)) {
            *info = AIMC_DESC_SACC_IDX_ADDR;
            err = AIMC_REG_ERROR_DMA_FAULT;
            goto out;
        }
    }
    if ((have_w && (err = dma_fetch(dev, desc, AIMC_DESC_SACC_W_ADDR,
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
    if (dst)
        for (uint32_t i = 0; i < batch; i++) {
            uint32_t r = have_idx ? aimc_le_get32(ix + (size_t)i * 4) : i;
            double wi = have_w ? (double)w[i] : 1.0;
            float *d = dst + (size_t)r * dim;
            const float *s = src + (size_t)i * dim;
            for (uint32_t col = 0; col < dim; col++) d[col] += (float)(wi * s[col]);
        }
    if ((err = dev_dma_store(dev, desc, AIMC_DESC_SACC_DST_ADDR, dst, dst_rows * row_bytes, info)))
        goto out;
    /* It runs where its source lies (an expert's output, at the expert's home): the
     * accumulation target, indices and weights come to it, and the target stays there. So
     * the residual stream follows the layers across the machine instead of every layer's
     * outputs travelling back to one place. */
    operand(c, aimc_le_get64(desc + AIMC_DESC_SACC_SRC_ADDR), batch * row_bytes, 0);
    operand(c, aimc_le_get64(desc + AIMC_DESC_SACC_DST_ADDR), dst_rows * row_bytes, 0);
    if (have_idx) operand(c, idx_addr, (uint64_t)batch * 4, 0);
    if (have_w) operand(c, w_addr, (uint64_t)batch * sizeof(float), 0);
    operand(c, aimc_le_get64(desc + AIMC_DESC_SACC_DST_ADDR), dst_rows * row_bytes, 1);
    c->anchor = 0;
    c->out_bytes = dst_rows * row_bytes;
    count_dig(dev, c, AIMC_DIG_SCALE_ACC, batch, dim, 0);
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

void dev_exec(aimc_accel *dev, const uint8_t *desc, dev_cmd *c)
{
    uint32_t info = 0, err;
    c->op = aimc_le_get16(desc + AIMC_DESC_OPCODE);
    c->flags = aimc_le_get16(desc + AIMC_DESC_FLAGS);
    c->fence = aimc_le_get64(desc + AIMC_DESC_FENCE);
    c->anchor = -1;
    c->at = (aimc_loc){0, 0};
    err = dev_check_header(desc, &info);
    if (!err) {
        switch (c->op) {
        case AIMC_DESC_OP_PROGRAM: err = exec_program(dev, desc, c, &info); break;
        case AIMC_DESC_OP_MVM: err = exec_mvm(dev, desc, c, &info); break;
        case AIMC_DESC_OP_READBACK: err = exec_readback(dev, desc, c, &info); break;
        case AIMC_DESC_OP_RMSNORM: err = exec_rmsnorm(dev, desc, c, &info); break;
        case AIMC_DESC_OP_TOPK: err = exec_topk(dev, desc, c, &info); break;
        case AIMC_DESC_OP_SILU_MUL: err = exec_silu_mul(dev, desc, c, &info); break;
        case AIMC_DESC_OP_GATHER: err = exec_gather(dev, desc, c, &info); break;
        case AIMC_DESC_OP_SCALE_ACC: err = exec_scale_acc(dev, desc, c, &info); break;
        default: err = dev_exec_ext(dev, desc, c, &info); break; /* NOP, FENCE; exec_ext.c */
        }
    }
    c->err = err;
    c->info = info;
    /* The placement its stages book: the matrix's now, even if a later PROGRAM replaces it. */
    const int uses_matrix = c->op == AIMC_DESC_OP_MVM || c->op == AIMC_DESC_OP_READBACK ||
                            c->op == AIMC_DESC_OP_PROGRAM;
    c->mcost = uses_matrix && c->matrix < dev->mats_cap ? dev->mats[c->matrix].cost : NULL;
    /* A command that failed before its work did none of it (a PROGRAM whose only complaint
     * is VERIFY programmed its matrix: its work stands). */
    if (err && (err & ~AIMC_REG_ERROR_VERIFY)) {
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
}
