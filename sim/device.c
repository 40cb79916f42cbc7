/* device.c - the register-level aimc device model: register file, command ring, DMA, IRQ.
 *
 * Follows docs/driver.md (registers and descriptors: driver/aimc_regs.h). The state struct
 * below is the device's whole architectural state. Every value the host hands over
 * (register writes, descriptors, tile tables, DMA addresses) is checked before use; a bad
 * one is answered with ERROR bits, a status word in the descriptor and the error
 * interrupt, as silicon must, and never with a crash.
 */
#include "aimc_device.h"

#include <stdlib.h>
#include <string.h>

#include "aimc_regs.h"
#include "aimc_sim.h"
#include "aimc_tile.h"

/* Device limits, reported by the CAP_MAX_* registers. They keep every size product far
 * below 2^63: rows * cols * 4 <= 2^34 bytes, batch * dim * 4 <= 2^34 bytes. */
#define DEV_MAX_MATRICES ((uint32_t)AIMC_SIM_MAX_MATRICES)
#define DEV_MAX_DIM 65536u
#define DEV_MAX_BATCH 65536u
#define DEV_MAX_TILES (1u << 20)
#define DEV_MAX_RING 65536u
#define DEV_FJ_PER_PJ 1000.0

struct aimc_sim_dev {
    aimc_arch arch;
    uint64_t seed;
    aimc_sim_dev_host host;
    aimc_sim *sim; /* NULL only when a reset could not recreate it */

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
    aimc_sim_stats stats; /* the performance counters */
    int busy;
    int irq_line;
    uint32_t latch_off; /* HI offset whose half is latched; 0 = none */
    uint32_t latch_hi;
};

/* ---- little-endian field access ---- */

static uint32_t get_u16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p)
{
    return (uint64_t)get_u32(p) | (uint64_t)get_u32(p + 4) << 32;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- interrupt and error state ---- */

static void update_irq(aimc_sim_dev *dev)
{
    int level = (dev->irq_status & dev->irq_mask) != 0;
    if (level == dev->irq_line) return;
    dev->irq_line = level;
    if (dev->host.irq) dev->host.irq(dev->host.ctx, level);
}

/* Record error bits: the first error since ERROR was 0 latches its fence and detail. */
static void raise_error(aimc_sim_dev *dev, uint32_t bits, uint64_t fence, uint32_t info)
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

static int dma_read(aimc_sim_dev *dev, uint64_t addr, void *dst, size_t n)
{
    if (n == 0) return 0;
    if (!dev->host.dma_read || addr > UINT64_MAX - n) return -1;
    return dev->host.dma_read(dev->host.ctx, addr, dst, n) ? -1 : 0;
}

static int dma_write(aimc_sim_dev *dev, uint64_t addr, const void *src, size_t n)
{
    if (n == 0) return 0;
    if (!dev->host.dma_write || addr > UINT64_MAX - n) return -1;
    return dev->host.dma_write(dev->host.ctx, addr, src, n) ? -1 : 0;
}

/* Check that the first and last byte of [addr, addr + n) can be read, before the device
 * allocates a buffer of n bytes for it (the full transfer is still checked). */
static int dma_probe(aimc_sim_dev *dev, uint64_t addr, uint64_t n)
{
    uint8_t b;
    if (n == 0) return 0;
    if (addr > UINT64_MAX - n) return -1;
    if (dma_read(dev, addr, &b, 1)) return -1;
    return dma_read(dev, addr + n - 1, &b, 1);
}

/* ---- command execution ---- */

/* Offset of the first nonzero byte of desc[from, to), or 0 when all are zero. */
static uint32_t nonzero_at(const uint8_t *desc, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to; i++)
        if (desc[i]) return i;
    return 0;
}

static int matrix_programmed(const aimc_sim_dev *dev, uint32_t id, uint32_t *rows,
                             uint32_t *cols)
{
    *rows = 0;
    *cols = 0;
    int rc = aimc_sim_matrix_shape(dev->sim, id, rows, cols);
    return rc >= 0 && *rows > 0 && *cols > 0;
}

/* Check one tile against the machine; 0 when it lies inside. */
static int tile_in_machine(const aimc_sim_dev *dev, const aimc_tile *t)
{
    uint64_t xbars = (uint64_t)aimc_arch_total_crossbars(&dev->arch);
    uint64_t used = (uint64_t)t->xbar_col0 +
                    (uint64_t)t->ncols * (uint64_t)aimc_arch_cols_per_weight(&dev->arch);
    if (t->xbar >= xbars) return -1;
    if (t->nrows == 0 || t->nrows > (uint64_t)dev->arch.crossbar.rows) return -1;
    if (t->ncols == 0 || used > (uint64_t)dev->arch.crossbar.cols) return -1;
    return 0;
}

static uint32_t exec_program(aimc_sim_dev *dev, const uint8_t *desc, uint32_t *info)
{
    uint32_t id = get_u32(desc + AIMC_DESC_PROG_MATRIX);
    uint32_t rows = get_u32(desc + AIMC_DESC_PROG_ROWS);
    uint32_t cols = get_u32(desc + AIMC_DESC_PROG_COLS);
    uint32_t n_tiles = get_u32(desc + AIMC_DESC_PROG_NTILES);
    uint64_t w_addr = get_u64(desc + AIMC_DESC_PROG_W_ADDR);
    uint64_t t_addr = get_u64(desc + AIMC_DESC_PROG_TILES_ADDR);
    uint32_t bad = nonzero_at(desc, AIMC_DESC_PROG_RESERVED, AIMC_DESC_BYTES);
    uint32_t err = 0;
    float *w = NULL;
    uint8_t *raw = NULL;
    aimc_tile *tiles = NULL;

    if (bad) { *info = bad; return AIMC_REG_ERROR_BAD_DESC; }
    if (id >= DEV_MAX_MATRICES) { *info = AIMC_DESC_PROG_MATRIX; return AIMC_REG_ERROR_BAD_DESC; }
    if (rows == 0 || rows > DEV_MAX_DIM) { *info = AIMC_DESC_PROG_ROWS; return AIMC_REG_ERROR_BAD_DESC; }
    if (cols == 0 || cols > DEV_MAX_DIM) { *info = AIMC_DESC_PROG_COLS; return AIMC_REG_ERROR_BAD_DESC; }
    if (n_tiles == 0 || n_tiles > DEV_MAX_TILES) {
        *info = AIMC_DESC_PROG_NTILES;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    if (!dev->sim) return AIMC_REG_ERROR_INTERNAL;

    uint64_t w_bytes = (uint64_t)rows * cols * sizeof(float);
    uint64_t t_bytes = (uint64_t)n_tiles * sizeof(aimc_tile);
    if (dma_probe(dev, w_addr, w_bytes)) { *info = AIMC_DESC_PROG_W_ADDR; return AIMC_REG_ERROR_DMA_FAULT; }
    if (dma_probe(dev, t_addr, t_bytes)) {
        *info = AIMC_DESC_PROG_TILES_ADDR;
        return AIMC_REG_ERROR_DMA_FAULT;
    }

    if (w_bytes > SIZE_MAX || t_bytes > SIZE_MAX) return AIMC_REG_ERROR_INTERNAL;
    w = malloc((size_t)w_bytes);
    raw = malloc((size_t)t_bytes);
    tiles = malloc((size_t)n_tiles * sizeof *tiles);
    if (!w || !raw || !tiles) { err = AIMC_REG_ERROR_INTERNAL; goto out; }
    if (dma_read(dev, w_addr, w, (size_t)w_bytes)) {
        *info = AIMC_DESC_PROG_W_ADDR;
        err = AIMC_REG_ERROR_DMA_FAULT;
        goto out;
    }
    if (dma_read(dev, t_addr, raw, (size_t)t_bytes)) {
        *info = AIMC_DESC_PROG_TILES_ADDR;
        err = AIMC_REG_ERROR_DMA_FAULT;
        goto out;
    }
    for (uint32_t i = 0; i < n_tiles; i++) {
        const uint8_t *p = raw + (size_t)i * sizeof(aimc_tile);
        aimc_tile *t = &tiles[i];
        t->matrix = get_u32(p + 0);
        t->row0 = get_u32(p + 4);
        t->nrows = get_u32(p + 8);
        t->col0 = get_u32(p + 12);
        t->ncols = get_u32(p + 16);
        t->slice = get_u32(p + 20);
        t->xbar = get_u32(p + 24);
        t->xbar_col0 = get_u32(p + 28);
        if (tile_in_machine(dev, t)) {
            *info = i;
            err = AIMC_REG_ERROR_XBAR_RANGE;
            goto out;
        }
    }
    int rc = aimc_sim_program(dev->sim, id, w, rows, cols, tiles, n_tiles, &dev->stats, NULL);
    if (rc == AIMC_ERR_NOMEM) {
        err = AIMC_REG_ERROR_INTERNAL;
    } else if (rc != AIMC_OK) {
        *info = id;
        err = AIMC_REG_ERROR_PROGRAM_FAILED;
    }
out:
    free(tiles);
    free(raw);
    free(w);
    return err;
}

static uint32_t exec_mvm(aimc_sim_dev *dev, const uint8_t *desc, uint32_t *info)
{
    uint32_t id = get_u32(desc + AIMC_DESC_MVM_MATRIX);
    uint32_t batch = get_u32(desc + AIMC_DESC_MVM_BATCH);
    uint32_t rows = get_u32(desc + AIMC_DESC_MVM_ROWS);
    uint32_t cols = get_u32(desc + AIMC_DESC_MVM_COLS);
    uint64_t x_addr = get_u64(desc + AIMC_DESC_MVM_X_ADDR);
    uint64_t y_addr = get_u64(desc + AIMC_DESC_MVM_Y_ADDR);
    uint32_t bad = nonzero_at(desc, AIMC_DESC_MVM_RESERVED, AIMC_DESC_BYTES);
    uint32_t m_rows, m_cols, err = 0;
    float *x = NULL, *y = NULL;

    if (bad) { *info = bad; return AIMC_REG_ERROR_BAD_DESC; }
    if (id >= DEV_MAX_MATRICES) { *info = AIMC_DESC_MVM_MATRIX; return AIMC_REG_ERROR_BAD_DESC; }
    if (batch == 0 || batch > DEV_MAX_BATCH) { *info = AIMC_DESC_MVM_BATCH; return AIMC_REG_ERROR_BAD_DESC; }
    if (!dev->sim) return AIMC_REG_ERROR_INTERNAL;
    if (!matrix_programmed(dev, id, &m_rows, &m_cols)) {
        *info = id;
        return AIMC_REG_ERROR_NOT_PROGRAMMED;
    }
    if (rows != m_rows || cols != m_cols) { *info = id; return AIMC_REG_ERROR_SHAPE; }

    /* m_rows, m_cols <= DEV_MAX_DIM (a PROGRAM checked them), batch <= DEV_MAX_BATCH. */
    uint64_t x_bytes = (uint64_t)batch * rows * sizeof(float);
    uint64_t y_bytes = (uint64_t)batch * cols * sizeof(float);
    if (dma_probe(dev, x_addr, x_bytes)) { *info = AIMC_DESC_MVM_X_ADDR; return AIMC_REG_ERROR_DMA_FAULT; }
    if (dma_probe(dev, y_addr, y_bytes)) { *info = AIMC_DESC_MVM_Y_ADDR; return AIMC_REG_ERROR_DMA_FAULT; }

    if (x_bytes > SIZE_MAX || y_bytes > SIZE_MAX) return AIMC_REG_ERROR_INTERNAL;
    x = malloc((size_t)x_bytes);
    y = malloc((size_t)y_bytes);
    if (!x || !y) { err = AIMC_REG_ERROR_INTERNAL; goto out; }
    if (dma_read(dev, x_addr, x, (size_t)x_bytes)) {
        *info = AIMC_DESC_MVM_X_ADDR;
        err = AIMC_REG_ERROR_DMA_FAULT;
        goto out;
    }
    int rc = aimc_sim_mvm(dev->sim, id, x, batch, y, &dev->stats);
    if (rc == AIMC_ERR_STATE) {
        *info = id;
        err = AIMC_REG_ERROR_NOT_PROGRAMMED;
        goto out;
    }
    if (rc != AIMC_OK) { err = AIMC_REG_ERROR_INTERNAL; goto out; }
    if (dma_write(dev, y_addr, y, (size_t)y_bytes)) {
        *info = AIMC_DESC_MVM_Y_ADDR;
        err = AIMC_REG_ERROR_DMA_FAULT;
    }
out:
    free(y);
    free(x);
    return err;
}

/* Execute one descriptor; returns its ERROR bits (0 = OK) and the detail in *info. */
static uint32_t exec_cmd(aimc_sim_dev *dev, const uint8_t *desc, uint32_t *info)
{
    uint32_t op = get_u16(desc + AIMC_DESC_OPCODE);
    uint32_t flags = get_u16(desc + AIMC_DESC_FLAGS);
    uint32_t bad;

    *info = 0;
    switch (op) {
    case AIMC_DESC_OP_NOP:
    case AIMC_DESC_OP_FENCE:
    case AIMC_DESC_OP_PROGRAM:
    case AIMC_DESC_OP_MVM:
        break;
    default:
        *info = op;
        return AIMC_REG_ERROR_BAD_OPCODE;
    }
    if (flags & ~AIMC_DESC_FLAGS_ALL) {
        *info = AIMC_DESC_FLAGS;
        return AIMC_REG_ERROR_BAD_DESC;
    }
    switch (op) {
    case AIMC_DESC_OP_PROGRAM: return exec_program(dev, desc, info);
    case AIMC_DESC_OP_MVM: return exec_mvm(dev, desc, info);
    default:
        bad = nonzero_at(desc, AIMC_DESC_NOP_RESERVED, AIMC_DESC_BYTES);
        if (bad) { *info = bad; return AIMC_REG_ERROR_BAD_DESC; }
        return 0; /* commands complete in order, so a FENCE has nothing to wait for */
    }
}

static int ring_config_ok(const aimc_sim_dev *dev)
{
    uint32_t n = dev->ring_size;
    return n != 0 && (n & (n - 1)) == 0 && n <= DEV_MAX_RING &&
           (dev->ring_base % AIMC_DESC_BYTES) == 0 && dev->ring_base != 0 &&
           dev->ring_base <= UINT64_MAX - (uint64_t)n * AIMC_DESC_BYTES;
}

/* The doorbell: run every command from RING_HEAD to RING_TAIL. A descriptor that cannot
 * be fetched stops the ring (its fence is unknown) with ERROR_RING | ERROR_DMA_FAULT. */
static void process_ring(aimc_sim_dev *dev)
{
    if (!(dev->ctrl & AIMC_REG_CTRL_ENABLE)) return;
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

        if (dma_read(dev, addr, desc, sizeof desc)) {
            raise_error(dev, AIMC_REG_ERROR_RING | AIMC_REG_ERROR_DMA_FAULT, 0, slot);
            return;
        }
        dev->busy = 1;
        uint32_t bits = exec_cmd(dev, desc, &info);
        dev->busy = 0;
        put_u32(st, bits);
        if (dma_write(dev, addr + AIMC_DESC_STATUS, st, sizeof st)) {
            if (!bits) info = slot;
            bits |= AIMC_REG_ERROR_DMA_FAULT | AIMC_REG_ERROR_RING;
        }
        uint64_t fence = get_u64(desc + AIMC_DESC_FENCE);
        dev->ring_head++;
        dev->done_fence = fence;
        raise_error(dev, bits, fence, info);
        if ((get_u16(desc + AIMC_DESC_FLAGS) & AIMC_DESC_FLAG_IRQ) ||
            get_u16(desc + AIMC_DESC_OPCODE) == AIMC_DESC_OP_FENCE)
            dev->irq_status |= AIMC_REG_IRQ_DONE;
        update_irq(dev);
    }
}

/* ---- registers ---- */

static uint64_t energy_fj(const aimc_sim_dev *dev, aimc_component c)
{
    double fj = dev->stats.energy_pj[c] * DEV_FJ_PER_PJ;
    return fj > 0 ? (uint64_t)(fj + 0.5) : 0;
}

/* The 64-bit value whose LO half is at off; 0 when off is no LO register. */
static int reg64(const aimc_sim_dev *dev, uint32_t lo_off, uint64_t *v)
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

uint32_t aimc_sim_dev_reg_read32(aimc_sim_dev *dev, uint32_t off)
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
    case AIMC_REG_CTRL: return dev->ctrl;
    case AIMC_REG_STATUS:
        return ((dev->ctrl & AIMC_REG_CTRL_ENABLE) && dev->sim ? AIMC_REG_STATUS_READY : 0) |
               (dev->busy ? AIMC_REG_STATUS_BUSY : 0) |
               (dev->error ? AIMC_REG_STATUS_ERROR : 0);
    case AIMC_REG_ERROR: return dev->error;
    case AIMC_REG_ERROR_INFO: return dev->error_info;
    case AIMC_REG_IRQ_STATUS: return dev->irq_status;
    case AIMC_REG_IRQ_MASK: return dev->irq_mask;
    case AIMC_REG_RING_SIZE: return dev->ring_size;
    case AIMC_REG_RING_HEAD: return dev->ring_head;
    case AIMC_REG_RING_TAIL: return dev->ring_tail;
    default: return 0;
    }
}

/* Ring setup registers change only while the device is disabled. */
static int ring_setup_allowed(aimc_sim_dev *dev)
{
    if (!(dev->ctrl & AIMC_REG_CTRL_ENABLE)) return 1;
    raise_error(dev, AIMC_REG_ERROR_RING, 0, 0);
    return 0;
}

void aimc_sim_dev_reg_write32(aimc_sim_dev *dev, uint32_t off, uint32_t val)
{
    if (!dev || off >= AIMC_REG_WINDOW_BYTES || (off & 3u)) return;
    switch (off) {
    case AIMC_REG_CTRL:
        if (val & AIMC_REG_CTRL_SOFT_RESET) {
            aimc_sim_dev_reset(dev);
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
    default:
        return; /* read-only or unknown */
    }
}

int aimc_sim_dev_irq_level(const aimc_sim_dev *dev)
{
    return dev ? dev->irq_line : 0;
}

void aimc_sim_dev_reset(aimc_sim_dev *dev)
{
    if (!dev) return;
    aimc_sim_destroy(dev->sim);
    dev->sim = NULL;
    if (aimc_sim_create(&dev->arch, dev->seed, &dev->sim) != AIMC_OK) dev->sim = NULL;
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
    memset(&dev->stats, 0, sizeof dev->stats);
    dev->busy = 0;
    dev->latch_off = 0;
    dev->latch_hi = 0;
    update_irq(dev);
}

int aimc_sim_dev_create(const aimc_arch *arch, uint64_t seed, const aimc_sim_dev_host *host,
                        aimc_sim_dev **out, aimc_diag *d)
{
    aimc_sim_dev *dev;
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
    rc = aimc_sim_create(&dev->arch, seed, &dev->sim);
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

void aimc_sim_dev_destroy(aimc_sim_dev *dev)
{
    if (!dev) return;
    aimc_sim_destroy(dev->sim);
    free(dev);
}
