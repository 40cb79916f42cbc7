/* sysc_dev.cpp - glue between the aimc device model (sim/device/accel.c) and SystemC TLM-2.0:
 * aimc_sysc_dev and aimc_sysc_mem (aimc_sysc.h). The device's behaviour is the C model's;
 * this file only carries transactions, DMA, the interrupt and time across. */
#include "aimc_sysc.h"

#include <cstring>

extern "C" {
#include "aimc_cost.h"
#include "aimc_regs.h"
}

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_ZERO_TIME;

namespace {
const double aimc_sysc_default_mhz = 1000.0; /* only if the arch has no clock */
const uint32_t aimc_sysc_reg_bytes = 4;
} // namespace

aimc_sysc_dev::aimc_sysc_dev(sc_core::sc_module_name name, const aimc_arch *arch,
                             uint64_t seed)
    : sc_module(name), regs("regs"), dma("dma"), irq("irq"), tick_(1, sc_core::SC_US)
{
    regs.register_b_transport(this, &aimc_sysc_dev::b_transport);
    regs.register_transport_dbg(this, &aimc_sysc_dev::transport_dbg);
    dma.register_invalidate_direct_mem_ptr(this, &aimc_sysc_dev::invalidate_direct_mem_ptr);
    SC_HAS_PROCESS(aimc_sysc_dev);
    SC_METHOD(irq_method);
    sensitive << irq_evq_;
    dont_initialize();
    SC_METHOD(tick_method);
    sensitive << tick_ev_;
    dont_initialize();
    SC_THREAD(device_thread);
    aimc_diag d = {{0}};
    if (configure(arch, seed, &d) != AIMC_OK) error_ = d.msg;
}

aimc_sysc_dev::~aimc_sysc_dev()
{
    aimc_accel_destroy(model_);
}

int aimc_sysc_dev::configure(const aimc_arch *arch, uint64_t seed, aimc_diag *d)
{
    aimc_accel_host host = {this, dma_read_cb, dma_write_cb, irq_cb};
    aimc_accel *m = nullptr;
    int rc = aimc_accel_create(arch, seed, &host, nullptr, &m, d);
    if (rc != AIMC_OK) return rc;
    release();
    model_ = m;
    error_.clear();
    if (elaborated_) { /* a fresh device's line is low */
        irq_edges_.emplace(sc_core::sc_time_stamp(), false);
        irq_evq_.notify(SC_ZERO_TIME);
    }
    aimc_arch a;
    if (arch)
        a = *arch;
    else
        aimc_arch_defaults(&a);
    if (!(a.clock.frequency_mhz > 0)) a.clock.frequency_mhz = aimc_sysc_default_mhz;
    period_ = sc_time(aimc_cost_ns(&a, 1.0), SC_NS); /* one cycle of the device's clock */
    t0_ = sc_core::sc_time_stamp();
    dmi_.clear();
    if (elaborated_) work_ev_.notify(SC_ZERO_TIME);
    return AIMC_OK;
}

uint64_t aimc_sysc_dev::cycle_at(const sc_time &t) const
{
    if (t <= t0_ || period_ == SC_ZERO_TIME) return 0;
    return (t - t0_).value() / period_.value();
}

sc_time aimc_sysc_dev::time_of(uint64_t cycle) const
{
    const sc_time::value_type p = period_.value();
    const sc_time::value_type room = ~sc_time::value_type(0) - t0_.value();
    if (p != 0 && cycle > room / p) return sc_core::sc_max_time();
    return t0_ + sc_time::from_value(p * cycle);
}

/* What a step of the model reported: a new interrupt cause is told at the model's time. */
void aimc_sysc_dev::note(int r)
{
    if (r != AIMC_ACCEL_IRQ) return;
    const sc_time at = time_of(aimc_accel_now(model_)), now = sc_core::sc_time_stamp();
    cause_ev_.notify(at > now ? at - now : SC_ZERO_TIME);
}

void aimc_sysc_dev::advance_to(const sc_time &t)
{
    if (model_) note(aimc_accel_advance_to(model_, cycle_at(t)));
}

/* The model's events at their SystemC times. */
void aimc_sysc_dev::device_thread()
{
    for (;;) {
        const uint64_t next = model_ ? aimc_accel_next_event(model_) : UINT64_MAX;
        if (next == UINT64_MAX) {
            wait(work_ev_);
            continue;
        }
        const sc_time at = time_of(next), now = sc_core::sc_time_stamp();
        if (at > now) {
            wait(at - now, work_ev_); /* new work may come earlier */
            continue;
        }
        note(aimc_accel_run(model_, 1));
    }
}

void aimc_sysc_dev::release()
{
    aimc_accel_destroy(model_);
    model_ = nullptr;
    error_ = "no device model";
    irq_edges_.clear();
    dmi_.clear();
}

void aimc_sysc_dev::inject_hang(uint32_t after)
{
    aimc_accel_inject_hang(model_, after);
}

void aimc_sysc_dev::b_transport(tlm::tlm_generic_payload &t, sc_time &delay)
{
    uint64_t off = t.get_address();
    if (!model_) {
        t.set_response_status(tlm::TLM_GENERIC_ERROR_RESPONSE);
        return;
    }
    if (t.get_data_length() != aimc_sysc_reg_bytes || t.get_byte_enable_ptr() ||
        t.get_streaming_width() < aimc_sysc_reg_bytes) {
        t.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
        return;
    }
    if (off >= AIMC_REG_WINDOW_BYTES || (off & 3u)) {
        t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    /* The device's time reaches the access's, then the access takes its cycles. */
    advance_to(sc_core::sc_time_stamp() + delay);
    delay += reg_latency_cycles_ * period_;
    uint32_t v;
    if (t.is_read()) {
        v = aimc_accel_reg_read32(model_, (uint32_t)off);
        std::memcpy(t.get_data_ptr(), &v, sizeof v); /* little-endian host, as the map */
    } else if (t.is_write()) {
        std::memcpy(&v, t.get_data_ptr(), sizeof v);
        aimc_accel_reg_write32(model_, (uint32_t)off, v); /* DOORBELL schedules work */
        if (elaborated_) work_ev_.notify(SC_ZERO_TIME);
        arm_tick();
    }
    t.set_response_status(tlm::TLM_OK_RESPONSE);
}

unsigned int aimc_sysc_dev::transport_dbg(tlm::tlm_generic_payload &t)
{
    /* Reads only: every register write may have an effect. */
    uint64_t off = t.get_address();
    unsigned int n = t.get_data_length();
    if (!model_ || !t.is_read() || (off & 3u) || (n & 3u)) return 0;
    for (unsigned int i = 0; i < n; i += aimc_sysc_reg_bytes) {
        if (off + i >= AIMC_REG_WINDOW_BYTES) return i;
        uint32_t v = aimc_accel_reg_peek32(model_, (uint32_t)(off + i));
        std::memcpy(t.get_data_ptr() + i, &v, sizeof v);
    }
    return n;
}

void aimc_sysc_dev::invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end)
{
    for (size_t i = 0; i < dmi_.size();) {
        if (dmi_[i].get_start_address() <= end && dmi_[i].get_end_address() >= start)
            dmi_.erase(dmi_.begin() + (long)i);
        else
            i++;
    }
}

int aimc_sysc_dev::dma_access(tlm::tlm_command cmd, uint64_t addr, unsigned char *p, size_t n)
{
    /* The model's own clock times the transfer (the host link of the cost layer); the
     * annotated delay of the memory is not added to it. */
    sc_time delay = SC_ZERO_TIME;
    if (n == 0) return 0;
    if (addr + (n - 1) < addr) return AIMC_ERR_RANGE;
    tlm::tlm_dmi::dmi_access_e need =
        cmd == tlm::TLM_READ_COMMAND ? tlm::tlm_dmi::DMI_ACCESS_READ : tlm::tlm_dmi::DMI_ACCESS_WRITE;
    for (const tlm::tlm_dmi &r : dmi_) {
        if (addr < r.get_start_address() || addr + (n - 1) > r.get_end_address() ||
            (r.get_granted_access() & need) != need)
            continue;
        unsigned char *host = r.get_dmi_ptr() + (addr - r.get_start_address());
        if (cmd == tlm::TLM_READ_COMMAND)
            std::memcpy(p, host, n);
        else
            std::memcpy(host, p, n);
        delay += cmd == tlm::TLM_READ_COMMAND ? r.get_read_latency() : r.get_write_latency();
        n_dma_dmi_++;
        return 0;
    }
    tlm::tlm_generic_payload t;
    t.set_command(cmd);
    t.set_address(addr);
    t.set_data_ptr(p);
    t.set_data_length((unsigned int)n);
    t.set_streaming_width((unsigned int)n);
    t.set_byte_enable_ptr(nullptr);
    t.set_dmi_allowed(false);
    t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    if ((uint64_t)n > UINT32_MAX) return AIMC_ERR_RANGE;
    dma->b_transport(t, delay);
    n_dma_tlm_++;
    if (t.get_response_status() != tlm::TLM_OK_RESPONSE) return AIMC_ERR_RANGE;
    if (t.is_dmi_allowed()) {
        tlm::tlm_dmi r;
        t.set_address(addr);
        if (dma->get_direct_mem_ptr(t, r)) {
            dmi_.push_back(r);
            n_dmi_grants_++;
        }
    }
    return 0;
}

int aimc_sysc_dev::dma_read_cb(void *ctx, uint64_t addr, void *dst, size_t n)
{
    return static_cast<aimc_sysc_dev *>(ctx)->dma_access(tlm::TLM_READ_COMMAND, addr,
                                                         static_cast<unsigned char *>(dst), n);
}

int aimc_sysc_dev::dma_write_cb(void *ctx, uint64_t addr, const void *src, size_t n)
{
    /* TLM's data pointer is not const; a write target only reads it */
    unsigned char *p = static_cast<unsigned char *>(const_cast<void *>(src));
    return static_cast<aimc_sysc_dev *>(ctx)->dma_access(tlm::TLM_WRITE_COMMAND, addr, p, n);
}

void aimc_sysc_dev::irq_cb(void *ctx, int level)
{
    /* The edge lies at the model's time, which runs ahead of the kernel's when an access
     * with an annotated delay let it. */
    aimc_sysc_dev *m = static_cast<aimc_sysc_dev *>(ctx);
    const sc_time now = sc_core::sc_time_stamp(), t = m->time_of(aimc_accel_now(m->model_));
    const sc_time at = t > now ? t - now : SC_ZERO_TIME;
    m->irq_edges_.emplace(now + at, level != 0);
    m->irq_evq_.notify(at);
}

void aimc_sysc_dev::irq_method()
{
    /* every edge due by now, in order; the last one decides the line */
    auto end = irq_edges_.upper_bound(sc_core::sc_time_stamp());
    if (end == irq_edges_.begin()) return;
    bool level = std::prev(end)->second;
    irq_edges_.erase(irq_edges_.begin(), end);
    irq.write(level);
}

void aimc_sysc_dev::arm_tick()
{
    if (tick_armed_ || !model_ || aimc_accel_reg_peek32(model_, AIMC_REG_WATCHDOG_US) == 0)
        return;
    tick_armed_ = true;
    tick_ev_.notify(tick_);
}

void aimc_sysc_dev::tick_method()
{
    tick_armed_ = false;
    advance_to(sc_core::sc_time_stamp()); /* idle time reaches the watchdog */
    arm_tick();
}

/* ---- aimc_sysc_mem ---- */

aimc_sysc_mem::aimc_sysc_mem(sc_core::sc_module_name name)
    : sc_module(name), socket("socket"), latency_(SC_ZERO_TIME)
{
    socket.register_b_transport(this, &aimc_sysc_mem::b_transport);
    socket.register_transport_dbg(this, &aimc_sysc_mem::transport_dbg);
    socket.register_get_direct_mem_ptr(this, &aimc_sysc_mem::get_direct_mem_ptr);
}

bool aimc_sysc_mem::map(uint64_t addr, void *host, size_t n)
{
    if (n == 0 || !host || addr + (n - 1) < addr) return false;
    auto next = regions_.lower_bound(addr);
    if (next != regions_.end() && next->first <= addr + (n - 1)) return false;
    if (next != regions_.begin()) {
        const region &prev = std::prev(next)->second;
        if (prev.addr + (prev.n - 1) >= addr) return false;
    }
    regions_[addr] = region{addr, n, static_cast<unsigned char *>(host)};
    return true;
}

bool aimc_sysc_mem::unmap(uint64_t addr)
{
    auto it = regions_.find(addr);
    if (it == regions_.end()) return false;
    uint64_t end = it->second.addr + (it->second.n - 1);
    regions_.erase(it);
    socket->invalidate_direct_mem_ptr(addr, end);
    return true;
}

void aimc_sysc_mem::unmap_all()
{
    regions_.clear();
    socket->invalidate_direct_mem_ptr(0, ~(sc_dt::uint64)0);
}

const aimc_sysc_mem::region *aimc_sysc_mem::find(uint64_t addr, uint64_t n) const
{
    auto it = regions_.upper_bound(addr);
    if (it == regions_.begin() || n == 0) return nullptr;
    const region &r = std::prev(it)->second;
    if (addr - r.addr > r.n || n > r.n - (addr - r.addr)) return nullptr;
    return &r;
}

void aimc_sysc_mem::b_transport(tlm::tlm_generic_payload &t, sc_time &delay)
{
    const region *r = find(t.get_address(), t.get_data_length());
    if (t.get_byte_enable_ptr() || t.get_streaming_width() < t.get_data_length()) {
        t.set_response_status(tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
        return;
    }
    if (!r) {
        t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        return;
    }
    unsigned char *host = r->host + (t.get_address() - r->addr);
    if (t.is_read())
        std::memcpy(t.get_data_ptr(), host, t.get_data_length());
    else if (t.is_write())
        std::memcpy(host, t.get_data_ptr(), t.get_data_length());
    delay += latency_;
    t.set_dmi_allowed(allow_dmi_);
    t.set_response_status(tlm::TLM_OK_RESPONSE);
}

unsigned int aimc_sysc_mem::transport_dbg(tlm::tlm_generic_payload &t)
{
    const region *r = find(t.get_address(), t.get_data_length());
    if (!r) return 0;
    unsigned char *host = r->host + (t.get_address() - r->addr);
    if (t.is_read())
        std::memcpy(t.get_data_ptr(), host, t.get_data_length());
    else if (t.is_write())
        std::memcpy(host, t.get_data_ptr(), t.get_data_length());
    return t.get_data_length();
}

bool aimc_sysc_mem::get_direct_mem_ptr(tlm::tlm_generic_payload &t, tlm::tlm_dmi &dmi)
{
    const region *r = find(t.get_address(), 1);
    if (!allow_dmi_ || !r) return false;
    dmi.set_dmi_ptr(r->host);
    dmi.set_start_address(r->addr);
    dmi.set_end_address(r->addr + (r->n - 1));
    dmi.set_granted_access(tlm::tlm_dmi::DMI_ACCESS_READ_WRITE);
    dmi.set_read_latency(latency_);
    dmi.set_write_latency(latency_);
    return true;
}
