/* aimc_vl.cpp - the Verilated RTL's wrapper: clock, register port, memory port, waveform.
 *
 * Drives the ports of aimc_top (rtl/aimc_top.sv) cycle by cycle: the straps from the machine
 * config, the register port's valid/ready handshake, and the memory port, answered from the
 * host callbacks one cycle after a request is taken. The C half of the device (sim/device/accel.c's
 * split execution) is bound to the DPI functions (rtl/aimc_vl_dpi.c) while this model is
 * clocked. Interface and semantics: rtl/aimc_vl.h, docs/rtl.md.
 */
#include "aimc_vl.h"

#include <cmath>
#include <cstring>
#include <new>

#include "Vaimc_top.h"
#include "verilated.h"
#include "verilated_fst_c.h"

extern "C" {
#include "aimc_accel.h"
#include "aimc_cost.h"
#include "aimc_regs.h"
#include "aimc_vl_dpi.h"
}

struct aimc_vl {
    VerilatedContext *ctx = nullptr;
    Vaimc_top *top = nullptr;
    VerilatedFstC *fst = nullptr;
    aimc_accel *dev = nullptr; /* the C half: arrays, float units, data DMA */
    aimc_vl_mem mem{};
    uint64_t cycles = 0;
    uint64_t ps_per_cycle = 1000;
    /* The memory response owed: presented once rsp_wait more edges have passed. */
    bool rsp_due = false;
    uint32_t rsp_wait = 0;
    uint64_t rsp_data = 0;
    bool rsp_err = false;
    /* Memory latency (aimc_vl_set_mem_latency): ready only after a request has waited this
     * many cycles, and the response this many cycles later than the next edge. */
    uint32_t mem_latency = 0;
    uint32_t valid_cycles = 0; /* cycles the current request has waited */
};

/* ---- the host side of the memory port ---- */

/* A request on the memory port, as the RTL held it up before the clock edge took it. */
typedef struct vl_req {
    bool write;
    uint64_t addr, wdata;
    unsigned strb;
} vl_req;

/* Answer request q for the next edge. Reads and writes are 8-byte beats; a write touches the
 * bytes its strobe selects (contiguous runs). */
static void mem_serve(aimc_vl *vl, const vl_req *q)
{
    const uint64_t addr = q->addr;
    vl->rsp_due = true;
    vl->rsp_data = 0;
    vl->rsp_err = false;
    if (!q->write) {
        uint8_t b[8];
        if (!vl->mem.read || vl->mem.read(vl->mem.ctx, addr, b, sizeof b)) {
            vl->rsp_err = true;
            return;
        }
        for (int i = 7; i >= 0; i--) vl->rsp_data = vl->rsp_data << 8 | b[i];
        aimc_accel_split_host_bytes(vl->dev, sizeof b);
        return;
    }
    aimc_accel_split_host_bytes(vl->dev, (uint64_t)__builtin_popcount(q->strb & 0xffu));
    const unsigned strb = q->strb;
    const uint64_t w = q->wdata;
    for (int i = 0; i < 8;) {
        if (!(strb >> i & 1u)) { i++; continue; }
        int j = i;
        uint8_t b[8];
        while (j < 8 && (strb >> j & 1u)) {
            b[j - i] = (uint8_t)(w >> (8 * j));
            j++;
        }
        if (!vl->mem.write || vl->mem.write(vl->mem.ctx, addr + (uint64_t)i, b, (size_t)(j - i))) {
            vl->rsp_err = true;
            return;
        }
        i = j;
    }
}

/* One clock cycle: inputs settle with clk low, the request of this cycle is taken (ready,
 * after the configured wait), the rising edge, then a response presented at this edge is
 * withdrawn and the one for the request just taken is prepared. */
static void tick(aimc_vl *vl)
{
    Vaimc_top *t = vl->top;
    aimc_vl_dpi_bind(vl->dev);
    t->mem_req_ready = vl->valid_cycles >= vl->mem_latency;
    const bool present = vl->rsp_due && vl->rsp_wait == 0;
    t->mem_rsp_valid = present;
    t->mem_rsp_rdata = vl->rsp_data;
    t->mem_rsp_err = vl->rsp_err;
    t->clk = 0;
    t->eval();
    const uint64_t t0 = vl->cycles * vl->ps_per_cycle;
    if (vl->fst) vl->fst->dump(t0);
    const bool valid = t->mem_req_valid;
    const bool take = valid && t->mem_req_ready;
    const vl_req q = {t->mem_req_write != 0, t->mem_req_addr, t->mem_req_wdata,
                      t->mem_req_strb};
    t->clk = 1;
    t->eval();
    if (vl->fst) vl->fst->dump(t0 + vl->ps_per_cycle / 2);
    if (present)
        vl->rsp_due = false;
    else if (vl->rsp_due)
        vl->rsp_wait--;
    if (take) {
        mem_serve(vl, &q);
        vl->rsp_wait = vl->mem_latency;
    }
    vl->valid_cycles = valid && !take ? vl->valid_cycles + 1 : 0;
    vl->cycles++;
    t->dbg_hang_load = 0;
}

/* ---- straps ---- */

static uint32_t clamp32(double v)
{
    if (!(v > 0)) return 0;
    if (v > 4294967295.0) return UINT32_MAX;
    return (uint32_t)v;
}

static void set_straps(aimc_vl *vl, const aimc_arch *a)
{
    Vaimc_top *t = vl->top;
    t->cap_xbar_rows = clamp32(a->crossbar.rows);
    t->cap_xbar_cols = clamp32(a->crossbar.cols);
    t->cap_xbars = clamp32((double)aimc_arch_total_crossbars(a));
    t->cap_adc_bits = clamp32(a->adc.bits);
    t->cap_dac_bits = clamp32(a->dac.bits);
    t->cap_bits_per_cell = clamp32(a->crossbar.bits_per_cell);
    t->cap_weight_bits = clamp32(a->crossbar.weight_bits);
    t->cfg_int_cycles = clamp32((double)aimc_cost_integrate_cycles(a));
    t->cfg_conv_fp16 = aimc_cost_conv_fp16(a);
    t->cfg_adcs = clamp32(a->adc.per_crossbar);
    t->cfg_steps = clamp32(aimc_arch_input_steps(a));
    t->cfg_serial = a->dac.mode == AIMC_DAC_BIT_SERIAL;
    t->cfg_ops_per_cycle = clamp32(a->digital.ops_per_cycle);
    t->cfg_unit_ops_per_cycle = clamp32(a->units.ops_per_cycle);
    t->cfg_xbars_per_core = clamp32(a->hierarchy.crossbars_per_core);
    const double cpu = std::llround(a->clock.frequency_mhz);
    t->cfg_cycles_per_us = cpu < 1 ? 1 : clamp32(cpu);
}

/* ---- host callbacks of the C half: the same host memory ---- */

static int host_read(void *ctx, uint64_t addr, void *dst, size_t n)
{
    aimc_vl *vl = static_cast<aimc_vl *>(ctx);
    return vl->mem.read ? vl->mem.read(vl->mem.ctx, addr, dst, n) : -1;
}

static int host_write(void *ctx, uint64_t addr, const void *src, size_t n)
{
    aimc_vl *vl = static_cast<aimc_vl *>(ctx);
    return vl->mem.write ? vl->mem.write(vl->mem.ctx, addr, src, n) : -1;
}

/* ---- the interface ---- */

extern "C" int aimc_vl_create(const aimc_arch *arch, uint64_t seed, const aimc_vl_mem *mem,
                              aimc_vl **out, aimc_diag *d)
{
    aimc_arch def;
    if (!out || !mem) return aimc_diag_set(d, AIMC_ERR_INVALID, "rtl: NULL argument");
    *out = nullptr;
    if (!arch) {
        aimc_arch_defaults(&def);
        arch = &def;
    }
    if (arch->adc.per_crossbar > AIMC_VL_MAX_ADCS)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED,
                             "rtl: adc.per_crossbar = %d: the RTL's conversion slot carries at "
                             "most %d ADCs",
                             arch->adc.per_crossbar, AIMC_VL_MAX_ADCS);
    if (aimc_arch_input_steps(arch) > 31)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED,
                             "rtl: %d input steps: the RTL's sequencer counts at most 31",
                             aimc_arch_input_steps(arch));
    aimc_vl *vl = new (std::nothrow) aimc_vl;
    if (!vl) return aimc_diag_set(d, AIMC_ERR_NOMEM, "rtl: out of memory");
    vl->mem = *mem;
    const aimc_accel_host host = {vl, host_read, host_write, nullptr};
    int rc = aimc_accel_create(arch, seed, &host, nullptr, &vl->dev, d);
    if (rc != AIMC_OK) {
        delete vl;
        return rc;
    }
    aimc_accel_set_job_tiles_max(vl->dev, AIMC_VL_MAX_TILES);
    vl->ctx = new (std::nothrow) VerilatedContext;
    if (vl->ctx) {
        vl->ctx->traceEverOn(true);
        vl->top = new (std::nothrow) Vaimc_top{vl->ctx, "aimc"};
    }
    if (!vl->top) {
        aimc_vl_destroy(vl);
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "rtl: out of memory");
    }
    const double f = aimc_accel_arch(vl->dev)->clock.frequency_mhz;
    vl->ps_per_cycle = (uint64_t)std::llround(1e6 / f);
    if (vl->ps_per_cycle < 2) vl->ps_per_cycle = 2;
    set_straps(vl, aimc_accel_arch(vl->dev));
    vl->top->reg_valid = 0;
    vl->top->dbg_hang_after = UINT32_MAX;
    vl->top->dbg_hang_load = 1;
    vl->top->rst_n = 0;
    aimc_vl_clock(vl, 4);
    vl->top->rst_n = 1;
    aimc_vl_clock(vl, 1);
    *out = vl;
    return AIMC_OK;
}

extern "C" void aimc_vl_destroy(aimc_vl *vl)
{
    if (!vl) return;
    aimc_vl_trace_close(vl);
    if (vl->top) {
        aimc_vl_dpi_bind(vl->dev);
        vl->top->final();
    }
    delete vl->top;
    delete vl->ctx;
    aimc_vl_dpi_bind(nullptr);
    aimc_accel_destroy(vl->dev);
    delete vl;
}

extern "C" const struct aimc_accel *aimc_vl_device(const aimc_vl *vl)
{
    return vl ? vl->dev : nullptr;
}

extern "C" void aimc_vl_host_wrote(aimc_vl *vl, uint64_t addr, uint64_t n)
{
    if (vl) aimc_accel_host_wrote(vl->dev, addr, n);
}

extern "C" void aimc_vl_clock(aimc_vl *vl, uint64_t n)
{
    if (!vl) return;
    for (uint64_t i = 0; i < n; i++) tick(vl);
}

/* One access on the register port: hold it until reg_ready, then a cycle with it dropped. */
static uint32_t reg_access(aimc_vl *vl, bool write, uint32_t off, uint32_t val)
{
    Vaimc_top *t = vl->top;
    t->reg_valid = 1;
    t->reg_write = write;
    t->reg_addr = off & 0xFFFu;
    t->reg_wdata = val;
    uint32_t r = 0;
    for (;;) {
        tick(vl);
        if (t->reg_ready) {
            r = t->reg_rdata;
            break;
        }
    }
    t->reg_valid = 0;
    t->reg_write = 0;
    tick(vl);
    return r;
}

extern "C" uint32_t aimc_vl_reg_read32(aimc_vl *vl, uint32_t off)
{
    if (!vl || off >= AIMC_REG_WINDOW_BYTES) return 0;
    return reg_access(vl, false, off, 0);
}

extern "C" void aimc_vl_reg_write32(aimc_vl *vl, uint32_t off, uint32_t val)
{
    if (!vl || off >= AIMC_REG_WINDOW_BYTES) return;
    reg_access(vl, true, off, val);
    while (vl->top->cp_active) tick(vl);
}

extern "C" uint64_t aimc_vl_run(aimc_vl *vl, uint64_t cycles)
{
    if (!vl) return 0;
    uint64_t n = 0;
    while (n < cycles && !vl->top->irq) {
        if (vl->top->quiescent && !vl->fst) {
            /* Nothing changes until a register write: time passes unclocked. */
            vl->cycles += cycles - n;
            return cycles;
        }
        tick(vl);
        n++;
    }
    return n;
}

extern "C" void aimc_vl_set_mem_latency(aimc_vl *vl, uint32_t cycles)
{
    if (vl) vl->mem_latency = cycles;
}

extern "C" int aimc_vl_irq(const aimc_vl *vl)
{
    return vl && vl->top->irq;
}

extern "C" uint64_t aimc_vl_cycles(const aimc_vl *vl)
{
    return vl ? vl->cycles : 0;
}

extern "C" uint64_t aimc_vl_ps_per_cycle(const aimc_vl *vl)
{
    return vl ? vl->ps_per_cycle : 0;
}

extern "C" void aimc_vl_inject_hang(aimc_vl *vl, uint32_t after)
{
    if (!vl) return;
    vl->top->dbg_hang_after = after;
    vl->top->dbg_hang_load = 1;
    tick(vl);
}

extern "C" int aimc_vl_trace_open(aimc_vl *vl, const char *path, aimc_diag *d)
{
    if (!vl || !path) return aimc_diag_set(d, AIMC_ERR_INVALID, "rtl: NULL argument");
    if (vl->fst) return aimc_diag_set(d, AIMC_ERR_STATE, "rtl: a waveform is already open");
    FILE *probe = fopen(path, "wb");
    if (!probe) return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot write the waveform", path);
    fclose(probe);
    vl->fst = new (std::nothrow) VerilatedFstC;
    if (!vl->fst) return aimc_diag_set(d, AIMC_ERR_NOMEM, "rtl: out of memory");
    vl->top->trace(vl->fst, 99);
    vl->fst->open(path);
    if (!vl->fst->isOpen()) {
        delete vl->fst;
        vl->fst = nullptr;
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot write the waveform", path);
    }
    return AIMC_OK;
}

extern "C" void aimc_vl_trace_close(aimc_vl *vl)
{
    if (!vl || !vl->fst) return;
    vl->fst->dump(vl->cycles * vl->ps_per_cycle);
    vl->fst->close();
    delete vl->fst;
    vl->fst = nullptr;
}
