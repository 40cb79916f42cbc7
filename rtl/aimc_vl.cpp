/* aimc_vl.cpp - the Verilated RTL's wrapper: clock, the register window's AXI4-Lite bus, host
 * memory behind the AXI4 master, waveform.
 *
 * Drives the ports of aimc_sim (rtl/sim/aimc_sim.sv: the control path rtl/aimc_top.sv with the
 * analog half as DPI-C calls) cycle by cycle: the straps from the machine config, register
 * accesses as an AXI4-Lite master, and an AXI4 slave in front of the host memory callbacks.
 * The C half of the device (sim/device/accel.c's split execution) is bound to the DPI functions
 * (rtl/aimc_vl_dpi.c) while this model is clocked. Interface and semantics: rtl/aimc_vl.h,
 * docs/rtl.md.
 */
#include "aimc_vl.h"

#include <cmath>
#include <cstring>
#include <new>
#include <vector>

#include "Vaimc_sim.h"
#include "verilated.h"
#include "verilated_fst_c.h"

extern "C" {
#include "aimc_accel.h"
#include "aimc_cost.h"
#include "aimc_regs.h"
#include "aimc_vl_dpi.h"
}

/* One AXI4 burst the slave works on: INCR, beats of 2^size bytes from addr. */
typedef struct vl_burst {
    bool on = false;
    uint64_t addr = 0;
    unsigned size = 3, beats = 0, done = 0;
    bool id = false;
    bool err = false; /* a write beat faulted */
    uint32_t wait = 0; /* cycles before the next beat (reads) or the response (writes) */
} vl_burst;

/* ---- the operand buffers (aimc_vl_dpi.h) ---- */

/* A range the RTL read: [base, base + len), its first `ok` bytes as read, and whether a fault
 * ended the reading (the bytes after them are not host memory, as far as it knows). */
typedef struct stage_in_range {
    uint64_t base, len;
    std::vector<uint8_t> bytes;
    bool fault;
} stage_in_range;

/* A write of the C half. */
typedef struct stage_out_range {
    uint64_t addr;
    std::vector<uint8_t> bytes;
} stage_out_range;

struct aimc_vl_stage {
    std::vector<stage_in_range> in;
    std::vector<stage_out_range> out;
    uint64_t unstaged = 0; /* reads of the C half no range covered */
};

extern "C" void aimc_vl_stage_clear(aimc_vl_stage *st)
{
    st->in.clear();
    st->out.clear();
}

extern "C" void aimc_vl_stage_in(aimc_vl_stage *st, uint64_t base, uint64_t len, uint64_t addr,
                                 uint64_t data, unsigned strb, int err)
{
    if (st->in.empty() || st->in.back().base != base || st->in.back().len != len ||
        st->in.back().fault)
        st->in.push_back(stage_in_range{base, len, {}, false});
    stage_in_range *r = &st->in.back();
    if (err) {
        r->fault = true;
        return;
    }
    for (unsigned i = 0; i < 8; i++) {
        if (!(strb >> i & 1u)) continue;
        /* the beats of a range come in address order, each byte once */
        if ((addr & ~7ull) + i != base + r->bytes.size()) continue;
        r->bytes.push_back((uint8_t)(data >> (8 * i)));
    }
}

extern "C" int aimc_vl_stage_written(const aimc_vl_stage *st, uint64_t addr, uint64_t len)
{
    for (const stage_out_range &w : st->out)
        if (w.addr < addr + len && addr < w.addr + w.bytes.size()) return 1;
    return 0;
}

extern "C" void aimc_vl_stage_out(const aimc_vl_stage *st, uint64_t addr, uint64_t *data,
                                  unsigned *strb)
{
    const uint64_t beat = addr & ~7ull;
    *data = 0;
    *strb = 0;
    for (const stage_out_range &w : st->out) /* later writes overwrite earlier ones */
        for (unsigned i = 0; i < 8; i++) {
            const uint64_t a = beat + i;
            if (a < w.addr || a - w.addr >= w.bytes.size()) continue;
            *data = (*data & ~(0xFFull << (8 * i))) | (uint64_t)w.bytes[a - w.addr] << (8 * i);
            *strb |= 1u << i;
        }
}

/* The C half reads [addr, addr + n): from a range the RTL read. 0, or -1 for bytes that are
 * not host memory (past a fault in their range) or that no range covers (counted). */
static int stage_read(aimc_vl_stage *st, uint64_t addr, void *dst, size_t n)
{
    bool in_extent = false;
    for (const stage_in_range &r : st->in) {
        if (addr < r.base || addr - r.base > r.len || n > r.len - (addr - r.base)) continue;
        in_extent = true; /* inside the range the RTL was asked to read */
        const uint64_t off = addr - r.base;
        if (off + n <= r.bytes.size()) {
            memcpy(dst, r.bytes.data() + off, n);
            return 0;
        }
    }
    if (!in_extent) st->unstaged++;
    return -1;
}

static void stage_write(aimc_vl_stage *st, uint64_t addr, const void *src, size_t n)
{
    const uint8_t *p = static_cast<const uint8_t *>(src);
    st->out.push_back(stage_out_range{addr, std::vector<uint8_t>(p, p + n)});
}

struct aimc_vl {
    VerilatedContext *ctx = nullptr;
    Vaimc_sim *top = nullptr;
    VerilatedFstC *fst = nullptr;
    aimc_accel *dev = nullptr; /* the C half: arrays, float units */
    aimc_vl_stage stage;       /* its operands, as the RTL's DMA moves them */
    aimc_vl_mem mem{};
    uint64_t cycles = 0;
    uint64_t ps_per_cycle = 1000;
    /* Memory latency (aimc_vl_set_mem_latency): AR and AW are taken only after they have
     * waited this many cycles; the first read beat and the write response come this many
     * cycles after the edge that took the address (or the last data beat). */
    uint32_t mem_latency = 0;
    uint32_t ar_waited = 0, aw_waited = 0;
    vl_burst rd, wr;
    bool wr_resp = false; /* the write response is being presented */
    /* AXI4-Lite handshakes at the last edge (the master side of reg_access) */
    bool lite_aw = false, lite_ar = false, lite_b = false, lite_r = false;
};

/* ---- the host side: an AXI4 slave in front of the memory callbacks ---- */

/* The byte lanes of beat i of burst b, and its address (narrow beats use their own lanes). */
static uint64_t beat_addr(const vl_burst *b, unsigned i)
{
    const uint64_t step = 1ull << b->size;
    return i == 0 ? b->addr : (b->addr & ~(step - 1)) + (uint64_t)i * step;
}

/* Read the current beat of the read burst: data in its lanes, its bytes in *bytes; false when
 * one is not host memory (SLVERR). */
static bool mem_read_beat(aimc_vl *vl, uint64_t *data, unsigned *bytes)
{
    const vl_burst *b = &vl->rd;
    const uint64_t a = beat_addr(b, b->done);
    const unsigned lane = (unsigned)(a & 7u);
    unsigned n = (1u << b->size) - (unsigned)(a & ((1u << b->size) - 1u));
    if (lane + n > 8) n = 8 - lane;
    uint8_t buf[8] = {0};
    *data = 0;
    *bytes = n;
    if (!vl->mem.read || vl->mem.read(vl->mem.ctx, a, buf + lane, n)) return false;
    for (int i = 7; i >= 0; i--) *data = *data << 8 | buf[i];
    return true;
}

/* Write the strobed bytes of one beat (contiguous runs); false when one is not host memory. */
static bool mem_write_beat(aimc_vl *vl, uint64_t beat, uint64_t data, unsigned strb, bool id)
{
    bool ok = true;
    const uint64_t base = beat & ~7ull;
    if (!id) aimc_accel_split_host_bytes(vl->dev, (uint64_t)__builtin_popcount(strb & 0xffu));
    for (int i = 0; i < 8;) {
        if (!(strb >> i & 1u)) {
            i++;
            continue;
        }
        int j = i;
        uint8_t b[8];
        while (j < 8 && (strb >> j & 1u)) {
            b[j - i] = (uint8_t)(data >> (8 * j));
            j++;
        }
        if (!vl->mem.write || vl->mem.write(vl->mem.ctx, base + (uint64_t)i, b, (size_t)(j - i)))
            ok = false;
        i = j;
    }
    return ok;
}

/* One clock cycle: the slave's outputs for this cycle, inputs settle with clk low, the
 * handshakes of this edge are noted, the rising edge, then the slave's state moves on. */
static void tick(aimc_vl *vl)
{
    Vaimc_sim *t = vl->top;
    aimc_vl_dpi_bind(vl->dev, &vl->stage);
    /* read data: the current beat, once its wait is over */
    const bool r_on = vl->rd.on && vl->rd.wait == 0;
    uint64_t rdata = 0;
    unsigned r_bytes = 0;
    bool r_ok = true;
    if (r_on) r_ok = mem_read_beat(vl, &rdata, &r_bytes);
    t->m_axi_rvalid = r_on;
    t->m_axi_rdata = rdata;
    t->m_axi_rresp = r_ok ? 0 : 2;
    t->m_axi_rlast = r_on && vl->rd.done + 1 == vl->rd.beats;
    t->m_axi_rid = vl->rd.id;
    t->m_axi_bvalid = vl->wr_resp;
    t->m_axi_bresp = vl->wr.err ? 2 : 0;
    t->m_axi_bid = vl->wr.id;
    t->clk = 0;
    t->eval();
    t->m_axi_arready = !vl->rd.on && vl->ar_waited >= vl->mem_latency;
    t->m_axi_awready = !vl->wr.on && vl->aw_waited >= vl->mem_latency;
    t->m_axi_wready = vl->wr.on && !vl->wr_resp && vl->wr.done < vl->wr.beats;
    t->eval();
    const uint64_t t0 = vl->cycles * vl->ps_per_cycle;
    if (vl->fst) vl->fst->dump(t0);
    const bool ar = t->m_axi_arvalid && t->m_axi_arready;
    const bool r = r_on && t->m_axi_rready;
    const bool aw = t->m_axi_awvalid && t->m_axi_awready;
    const bool w = t->m_axi_wvalid && t->m_axi_wready;
    const bool b = vl->wr_resp && t->m_axi_bready;
    const vl_burst nar = {true, t->m_axi_araddr, t->m_axi_arsize, (unsigned)t->m_axi_arlen + 1u,
                          0, t->m_axi_arid != 0, false, vl->mem_latency};
    const vl_burst naw = {true, t->m_axi_awaddr, t->m_axi_awsize, (unsigned)t->m_axi_awlen + 1u,
                          0, t->m_axi_awid != 0, false, 0};
    const uint64_t wdata = t->m_axi_wdata;
    const unsigned wstrb = t->m_axi_wstrb;
    vl->lite_aw = t->s_axil_awvalid && t->s_axil_awready;
    vl->lite_ar = t->s_axil_arvalid && t->s_axil_arready;
    vl->lite_b = t->s_axil_bvalid && t->s_axil_bready;
    vl->lite_r = t->s_axil_rvalid && t->s_axil_rready;
    t->clk = 1;
    t->eval();
    if (vl->fst) vl->fst->dump(t0 + vl->ps_per_cycle / 2);
    /* the slave's state after the edge */
    if (vl->rd.on && vl->rd.wait > 0) vl->rd.wait--;
    if (r && r_ok && !vl->rd.id)
        aimc_accel_split_host_bytes(vl->dev, r_bytes); /* the ring's traffic (ID 0) */
    if (r && ++vl->rd.done == vl->rd.beats) vl->rd.on = false;
    if (ar) vl->rd = nar;
    vl->ar_waited = t->m_axi_arvalid && !ar ? vl->ar_waited + 1 : 0;
    if (w) {
        const uint64_t a = beat_addr(&vl->wr, vl->wr.done);
        if (!mem_write_beat(vl, a, wdata, wstrb, vl->wr.id)) vl->wr.err = true;
        if (++vl->wr.done == vl->wr.beats) vl->wr.wait = vl->mem_latency;
    } else if (vl->wr.on && vl->wr.done == vl->wr.beats && !vl->wr_resp) {
        if (vl->wr.wait > 0) vl->wr.wait--;
    }
    if (vl->wr.on && vl->wr.done == vl->wr.beats && vl->wr.wait == 0 && !w) vl->wr_resp = true;
    if (b) {
        vl->wr_resp = false;
        vl->wr.on = false;
    }
    if (aw) vl->wr = naw;
    vl->aw_waited = t->m_axi_awvalid && !aw ? vl->aw_waited + 1 : 0;
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
    Vaimc_sim *t = vl->top;
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

/* ---- the C half's DMA callbacks: the operand buffers, never host memory ---- */

static int host_read(void *ctx, uint64_t addr, void *dst, size_t n)
{
    aimc_vl *vl = static_cast<aimc_vl *>(ctx);
    return stage_read(&vl->stage, addr, dst, n);
}

static int host_write(void *ctx, uint64_t addr, const void *src, size_t n)
{
    aimc_vl *vl = static_cast<aimc_vl *>(ctx);
    stage_write(&vl->stage, addr, src, n); /* the RTL writes it out after the command */
    return 0;
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
                             "rtl: adc.per_crossbar = %d: the RTL's sequencer takes at "
                             "most %d ADCs per crossbar",
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
        vl->top = new (std::nothrow) Vaimc_sim{vl->ctx, "aimc"};
    }
    if (!vl->top) {
        aimc_vl_destroy(vl);
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "rtl: out of memory");
    }
    const double f = aimc_accel_arch(vl->dev)->clock.frequency_mhz;
    vl->ps_per_cycle = (uint64_t)std::llround(1e6 / f);
    if (vl->ps_per_cycle < 2) vl->ps_per_cycle = 2;
    set_straps(vl, aimc_accel_arch(vl->dev));
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
        aimc_vl_dpi_bind(vl->dev, &vl->stage);
        vl->top->final();
    }
    delete vl->top;
    delete vl->ctx;
    aimc_vl_dpi_bind(nullptr, nullptr);
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

/* One access on the AXI4-Lite register window: the address (and data) until taken, then the
 * response. */
static uint32_t reg_access(aimc_vl *vl, bool write, uint32_t off, uint32_t val)
{
    Vaimc_sim *t = vl->top;
    if (write) {
        t->s_axil_awvalid = 1;
        t->s_axil_awaddr = off & 0xFFFu;
        t->s_axil_wvalid = 1;
        t->s_axil_wdata = val;
        t->s_axil_wstrb = 0xF;
        do tick(vl);
        while (!vl->lite_aw);
        t->s_axil_awvalid = 0;
        t->s_axil_wvalid = 0;
        t->s_axil_bready = 1;
        do tick(vl);
        while (!vl->lite_b);
        t->s_axil_bready = 0;
        return 0;
    }
    t->s_axil_arvalid = 1;
    t->s_axil_araddr = off & 0xFFFu;
    do tick(vl);
    while (!vl->lite_ar);
    t->s_axil_arvalid = 0;
    t->s_axil_rready = 1;
    uint32_t r;
    for (;;) {
        r = t->s_axil_rdata; /* the data presented at the edge that takes it */
        tick(vl);
        if (vl->lite_r) break;
    }
    t->s_axil_rready = 0;
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

extern "C" uint64_t aimc_vl_unstaged(const aimc_vl *vl)
{
    return vl ? vl->stage.unstaged : 0;
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
