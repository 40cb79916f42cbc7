/* accel.c - the register-level aimc accelerator: creation and reset, the register file,
 * interrupt and error state, counters, and the split execution the RTL's command processor
 * drives (aimc_accel.h). Commands are checked and computed in exec.c and timed in sched.c.
 *
 * Follows docs/driver.md and docs/registers.md (generated from common/aimc_regs.yaml). The
 * state struct (accel_int.h) is the device's whole architectural state.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "accel_int.h"

#define DEV_FJ_PER_PJ 1000.0

/* ---- interrupt and error state ---- */

void dev_update_irq(aimc_accel *dev)
{
    int level = (dev->irq_status & dev->irq_mask) != 0;
    if (level == dev->irq_line) return;
    dev->irq_line = level;
    if (dev->host.irq) dev->host.irq(dev->host.ctx, level);
}

/* Record error bits: the first error since ERROR was 0 latches its fence and detail. */
void dev_raise_error(aimc_accel *dev, uint32_t bits, uint64_t fence, uint32_t info)
{
    if (!bits) return;
    if (!dev->error) {
        dev->error_fence = fence;
        dev->error_info = info;
    }
    dev->error |= bits;
    dev->irq_status |= AIMC_REG_IRQ_ERROR;
    dev->irq_raised++;
    dev_update_irq(dev);
}

/* ---- the machine ---- */

/* Recreate the values and the command processor (no matrix, clock 0). AIMC_OK, or an error
 * with machine_ok 0 (every command then fails with ERROR.INTERNAL). */
static int machine_make(aimc_accel *dev, aimc_diag *d)
{
    int rc;
    aimc_accel_cmd_abort(dev);
    aimc_xbar_destroy(dev->xbar);
    dev->xbar = NULL;
    dev_mats_clear(dev);
    dev_sched_fini(dev);
    memset(&dev->cnt, 0, sizeof dev->cnt);
    free(dev->prof_mat);
    dev->prof_mat = NULL;
    dev->prof_cap = 0;
    memset(dev->prof_op, 0, sizeof dev->prof_op);
    dev->machine_ok = 0;
    if (!dev->opts.timing_only && (rc = aimc_xbar_create(&dev->arch, dev->seed, &dev->xbar))) {
        dev->xbar = NULL;
        return aimc_diag_set(d, rc, "device: cannot create the machine: %s", aimc_strerror(rc));
    }
    if ((rc = dev_sched_init(dev, d))) return rc;
    if (dev->ring_size && dev_ring_alloc(dev, dev->ring_size))
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "device: out of memory");
    dev->machine_ok = 1;
    return AIMC_OK;
}

void aimc_accel_reset(aimc_accel *dev)
{
    if (!dev) return;
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
    dev->ring_fetch = 0;
    dev->ring_fetched = 0;
    dev->done_fence = 0;
    dev->watchdog_us = 0;
    dev->halted = 0;
    dev->hung = 0; /* an armed hang knob stays armed: it is no register */
    dev->ring_stopped = 0;
    dev->idle_ns = 0;
    dev->latch_off = 0;
    dev->latch_hi = 0;
    (void)machine_make(dev, NULL);
    dev_update_irq(dev);
}

int aimc_accel_create(const aimc_arch *arch, uint64_t seed, const aimc_accel_host *host,
                      const aimc_accel_opts *opts, aimc_accel **out, aimc_diag *d)
{
    if (!out || !host) return aimc_diag_set(d, AIMC_ERR_INVALID, "device: NULL argument");
    *out = NULL;
    aimc_accel *dev = calloc(1, sizeof *dev);
    if (!dev) return aimc_diag_set(d, AIMC_ERR_NOMEM, "device: out of memory");
    if (arch)
        dev->arch = *arch;
    else
        aimc_arch_defaults(&dev->arch);
    dev->seed = seed;
    dev->host = *host;
    if (opts) dev->opts = *opts;
    if (opts && opts->trace_path) {
        if (strlen(opts->trace_path) >= sizeof dev->trace_path) {
            free(dev);
            return aimc_diag_set(d, AIMC_ERR_INVALID, "device: trace path too long");
        }
        strcpy(dev->trace_path, opts->trace_path);
    }
    dev->opts.trace_path = NULL;
    dev->hang_after = AIMC_ACCEL_HANG_NEVER;
    dev->dma_slot = -1;
    int rc = machine_make(dev, d);
    if (rc != AIMC_OK) {
        aimc_accel_destroy(dev);
        return rc;
    }
    *out = dev;
    return AIMC_OK;
}

void aimc_accel_destroy(aimc_accel *dev)
{
    if (!dev) return;
    aimc_accel_cmd_abort(dev);
    aimc_xbar_destroy(dev->xbar);
    dev_mats_clear(dev);
    dev_sched_fini(dev);
    free(dev->prof_mat);
    free(dev);
}

/* ---- registers ---- */

static uint64_t energy_fj(const aimc_accel *dev, aimc_part p)
{
    double fj = dev->cnt.energy_pj[p] * DEV_FJ_PER_PJ;
    return fj > 0 ? (uint64_t)llround(fj) : 0;
}

/* The 64-bit value whose LO half is at off; 0 when off is no LO register. */
static int reg64(const aimc_accel *dev, uint32_t lo_off, uint64_t *v)
{
    switch (lo_off) {
    case AIMC_REG_ERROR_FENCE_LO: *v = dev->error_fence; return 1;
    case AIMC_REG_RING_BASE_LO: *v = dev->ring_base; return 1;
    case AIMC_REG_DONE_FENCE_LO: *v = dev->done_fence; return 1;
    case AIMC_REG_CNT_CYCLES_LO: *v = dev->cnt.cycles; return 1;
    case AIMC_REG_CNT_MVMS_LO: *v = dev->cnt.mvms; return 1;
    case AIMC_REG_CNT_ADC_CONV_LO: *v = dev->cnt.adc_conv; return 1;
    case AIMC_REG_CNT_ADC_SAT_LO: *v = dev->cnt.adc_sat; return 1;
    case AIMC_REG_CNT_DAC_DRIVES_LO: *v = (uint64_t)llround(dev->cnt.dac_drives); return 1;
    case AIMC_REG_CNT_XBAR_READS_LO: *v = dev->cnt.xbar_reads; return 1;
    case AIMC_REG_CNT_DIGITAL_OPS_LO: *v = dev->cnt.digital_ops; return 1;
    case AIMC_REG_CNT_CELLS_PROG_LO: *v = dev->cnt.cells_prog; return 1;
    case AIMC_REG_CNT_ENERGY_DAC_FJ_LO: *v = energy_fj(dev, AIMC_PART_DAC); return 1;
    case AIMC_REG_CNT_ENERGY_XBAR_FJ_LO: *v = energy_fj(dev, AIMC_PART_XBAR); return 1;
    case AIMC_REG_CNT_ENERGY_ADC_FJ_LO: *v = energy_fj(dev, AIMC_PART_ADC); return 1;
    case AIMC_REG_CNT_ENERGY_DIG_FJ_LO: *v = energy_fj(dev, AIMC_PART_DIGITAL); return 1;
    case AIMC_REG_CNT_ENERGY_BUFFER_FJ_LO: *v = energy_fj(dev, AIMC_PART_BUFFER); return 1;
    case AIMC_REG_CNT_ENERGY_BUS_FJ_LO: *v = energy_fj(dev, AIMC_PART_BUS); return 1;
    case AIMC_REG_CNT_ENERGY_NOC_FJ_LO: *v = energy_fj(dev, AIMC_PART_NOC); return 1;
    case AIMC_REG_CNT_ENERGY_UNITS_FJ_LO: *v = energy_fj(dev, AIMC_PART_UNITS); return 1;
    case AIMC_REG_CNT_ENERGY_LINK_FJ_LO: *v = energy_fj(dev, AIMC_PART_CHIP_LINK); return 1;
    case AIMC_REG_CNT_ENERGY_HOST_FJ_LO: *v = energy_fj(dev, AIMC_PART_HOST_DMA); return 1;
    case AIMC_REG_CNT_TIME_LO: *v = aimc_accel_now(dev); return 1;
    case AIMC_REG_CNT_NOC_BYTES_LO: *v = (uint64_t)llround(dev->cnt.noc_bytes); return 1;
    case AIMC_REG_CNT_LINK_BYTES_LO: *v = (uint64_t)llround(dev->cnt.link_bytes); return 1;
    case AIMC_REG_CNT_HOST_BYTES_LO: *v = (uint64_t)llround(dev->cnt.host_bytes); return 1;
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
    case AIMC_REG_CAP_FLAGS: return dev->opts.timing_only ? AIMC_REG_CAP_FLAGS_TIMING_ONLY : 0;
    case AIMC_REG_CTRL: return dev->ctrl;
    case AIMC_REG_STATUS:
        return ((dev->ctrl & AIMC_REG_CTRL_ENABLE) && dev->machine_ok && !dev->halted
                    ? AIMC_REG_STATUS_READY : 0) |
               (dev->ring_head != dev->ring_tail || dev->hung ? AIMC_REG_STATUS_BUSY : 0) |
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
/* Ring setup while disabled and with no command in flight (none being fetched, every
 * fetched one retired): a burst or a command still running would land in the new ring. */
static int ring_setup_allowed(aimc_accel *dev)
{
    if (!(dev->ctrl & AIMC_REG_CTRL_ENABLE) && !dev->fetching && dev->ring_head == dev->ring_fetch)
        return 1;
    dev_raise_error(dev, AIMC_REG_ERROR_RING, 0, 0);
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
        dev_doorbell(dev); /* enabling with commands pending starts them */
        return;
    case AIMC_REG_ERROR:
        dev->error &= ~val;
        return;
    case AIMC_REG_IRQ_STATUS:
        dev->irq_status &= ~val;
        dev_update_irq(dev);
        return;
    case AIMC_REG_IRQ_MASK:
        dev->irq_mask = val & AIMC_REG_IRQ_ALL;
        dev_update_irq(dev);
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
        if (val == 0 || (val & (val - 1)) || val > DEV_MAX_RING || dev_ring_alloc(dev, val)) {
            dev_raise_error(dev, AIMC_REG_ERROR_RING, 0, val);
            return;
        }
        dev->ring_size = val;
        dev->ring_head = 0;
        dev->ring_tail = 0;
        dev->ring_fetch = 0;
        dev->ring_fetched = 0;
        return;
    case AIMC_REG_RING_TAIL:
        /* free-running: at most RING_SIZE commands may be outstanding, and the tail may not
         * move behind a descriptor already fetched (the processor would fetch on past it) */
        if (dev->ring_size == 0 || val - dev->ring_head > dev->ring_size ||
            val - dev->ring_fetched > dev->ring_size) {
            dev_raise_error(dev, AIMC_REG_ERROR_RING, 0, val);
            return;
        }
        dev->ring_tail = val;
        return;
    case AIMC_REG_DOORBELL:
        dev_doorbell(dev);
        return;
    case AIMC_REG_WATCHDOG_US:
        dev->watchdog_us = val;
        dev->idle_ns = 0;
        return;
    case AIMC_REG_CNT_CTRL:
        if (val & AIMC_REG_CNT_CTRL_RESET) memset(&dev->cnt, 0, sizeof dev->cnt);
        return;
    default:
        return; /* read-only or unknown */
    }
}

int aimc_accel_irq_level(const aimc_accel *dev)
{
    return dev ? dev->irq_line : 0;
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

void aimc_accel_inject_hang(aimc_accel *dev, uint32_t after)
{
    if (dev) dev->hang_after = after;
}

/* ---- split execution (the RTL's command processor, rtl/; docs/rtl.md) ---- */

void aimc_accel_cmd_abort(aimc_accel *dev)
{
    if (!dev) return;
    aimc_xbar_mvm_run_free(dev->job);
    dev->job = NULL;
}

/* The bookkeeping a command the RTL runs shares with the command processor: where its data
 * lies, what it moves (energy, no time), and its counts, added now. */
static void split_account(aimc_accel *dev, dev_cmd *c)
{
    for (int i = 0; i < c->n_opd; i++)
        if (!c->opd[i].write) c->opd[i].loc = dev_where_is(dev, c->opd[i].addr);
    if (c->anchor >= 0 && c->anchor < c->n_opd) c->at = aimc_cost_site(c->opd[c->anchor].loc);
    for (int i = 0; i < c->n_opd; i++)
        if (c->opd[i].write) dev_where_set(dev, c->opd[i].addr, c->opd[i].bytes, c->at);
    dev_account_free(dev, c);
    dev_count(dev, c);
}

void aimc_accel_split_host_bytes(aimc_accel *dev, uint64_t bytes)
{
    if (!dev) return;
    aimc_cost_events ev = {0};
    ev.host_bytes = (double)bytes;
    dev_add_events(dev, &ev);
}

/* Start an MVM or READBACK as an analog job: checks, input, the array's ADC codes. */
static uint32_t job_start(aimc_accel *dev, const uint8_t *desc, uint32_t *info)
{
    const int mvm = aimc_le_get16(desc + AIMC_DESC_OPCODE) == AIMC_DESC_OP_MVM;
    uint32_t id = 0, n = 0, err;
    float *x = NULL, *y = NULL;
    uint64_t y_bytes = 0;
    aimc_xbar_stats st = {0};
    dev_cmd *c = &dev->split_cmd;

    memset(c, 0, sizeof *c);
    err = mvm ? dev_mvm_prepare(dev, desc, info, &id, &n, &x, &y, &y_bytes)
              : dev_readback_prepare(dev, desc, info, &id, &n, &x, &y, &y_bytes);
    const size_t n_tiles = err ? 0 : aimc_xbar_matrix_tiles(dev->xbar, id);
    if (!err && dev->job_tiles_max && n_tiles > dev->job_tiles_max) {
        /* Refused before the arrays run, so no counter or read event moves. */
        *info = n_tiles > UINT32_MAX ? UINT32_MAX : (uint32_t)n_tiles;
        err = AIMC_REG_ERROR_INTERNAL;
    } else if (!err) {
        int rc = aimc_xbar_mvm_run_open(dev->xbar, id, x, n, &st, &dev->job);
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
    /* What the job counts and moves: as the command processor's MVM would. */
    const aimc_cost_mvm *m = dev->mats[id].cost;
    c->op = aimc_le_get16(desc + AIMC_DESC_OPCODE);
    c->flags = aimc_le_get16(desc + AIMC_DESC_FLAGS);
    c->matrix = id;
    c->mcost = m;
    c->vectors = n;
    c->anchor = -1;
    c->at = m->home;
    c->out_bytes = y_bytes;
    if (mvm) {
        c->opd[c->n_opd++] = (dev_operand){aimc_le_get64(desc + AIMC_DESC_MVM_X_ADDR),
                                           (uint64_t)n * m->rows * 4, 0, 0, {0, 0}};
        c->opd[c->n_opd++] = (dev_operand){aimc_le_get64(desc + AIMC_DESC_MVM_Y_ADDR), y_bytes,
                                           1, 0, {0, 0}};
    } else {
        c->opd[c->n_opd++] = (dev_operand){aimc_le_get64(desc + AIMC_DESC_RDBK_OUT_ADDR),
                                           y_bytes, 1, 0, {0, 0}};
    }
    dev_count_mvm(dev, c, m, n, &st);
    split_account(dev, c);
    return 0;
}

uint32_t aimc_accel_cmd_start(aimc_accel *dev, const uint8_t *desc, uint32_t *info,
                              aimc_accel_cmd *cmd)
{
    uint32_t dummy, err;
    if (!info) info = &dummy;
    *info = 0;
    if (!dev || !desc || !cmd) return AIMC_REG_ERROR_INTERNAL;
    memset(cmd, 0, sizeof *cmd);
    aimc_accel_cmd_abort(dev);
    if ((err = dev_check_header(desc, info))) return err;
    const uint32_t op = aimc_le_get16(desc + AIMC_DESC_OPCODE);
    if (op == AIMC_DESC_OP_MVM || op == AIMC_DESC_OP_READBACK) {
        if (!dev->machine_ok || !dev->xbar) return AIMC_REG_ERROR_INTERNAL;
        if ((err = job_start(dev, desc, info))) return err;
        cmd->kind = 1;
        cmd->n_vec = aimc_xbar_mvm_run_vectors(dev->job);
        cmd->n_tiles = aimc_xbar_mvm_run_tiles(dev->job);
        return 0;
    }
    dev_cmd *c = &dev->split_cmd;
    memset(c, 0, sizeof *c);
    dev_exec(dev, desc, c);
    cmd->computed = c->dig_ops != 0;
    if (op == AIMC_DESC_OP_PROGRAM) cmd->busy_cycles = c->prog_cycles;
    split_account(dev, c);
    *info = c->info;
    return c->err;
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
        err = dev_dma_store(dev, dev->job_desc, dev->job_out_field, y, dev->job_out_bytes, info);
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
    if (dev) memset(&dev->cnt, 0, sizeof dev->cnt);
}

int aimc_accel_machine_reset(aimc_accel *dev)
{
    if (!dev) return AIMC_ERR_BADHANDLE;
    return machine_make(dev, NULL) == AIMC_OK ? AIMC_OK : AIMC_ERR_NOMEM;
}

const aimc_arch *aimc_accel_arch(const aimc_accel *dev)
{
    return dev ? &dev->arch : NULL;
}
