/* sysc_dev.cpp - glue between the aimc device model (sim/device/accel.c) and SystemC TLM-2.0:
 * aimc_sysc_dev and aimc_sysc_mem (aimc_sysc.h). The device's behaviour is the C model's;
 * this file only carries transactions, DMA, the interrupt and time across.
 *
 * Who touches the model when: the device's thread runs its events (and so all DMA, from
 * inside them); a register access applies at once when the thread is outside the model, and
 * is posted (a write) or served from the state as it is (a read) while the thread is inside
 * it, i.e. waiting in a DMA transaction. A register access never runs device events: it
 * brings the model's clock up to the access's time only as far as no event is due, so no
 * DMA ever starts from a caller's context (a method process, an AT bus, C code outside the
 * kernel) and nothing re-enters the model. */
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

bool is_reset(uint32_t off, uint32_t v)
{
    return off == AIMC_REG_CTRL && (v & AIMC_REG_CTRL_SOFT_RESET);
}
} // namespace

aimc_sysc_dev::aimc_sysc_dev(sc_core::sc_module_name name, const aimc_arch *arch,
                             uint64_t seed)
    : sc_module(name), regs("regs"), dma("dma"), irq("irq"), tick_(1, sc_core::SC_US),
      req_peq_("req_peq"), rsp_peq_("rsp_peq")
{
    regs.register_b_transport(this, &aimc_sysc_dev::b_transport);
    regs.register_nb_transport_fw(this, &aimc_sysc_dev::nb_transport_fw);
    regs.register_transport_dbg(this, &aimc_sysc_dev::transport_dbg);
    dma.register_invalidate_direct_mem_ptr(this, &aimc_sysc_dev::invalidate_direct_mem_ptr);
    SC_HAS_PROCESS(aimc_sysc_dev);
    SC_METHOD(irq_method);
    sensitive << irq_evq_;
    dont_initialize();
    SC_METHOD(req_method);
    sensitive << req_peq_.get_event();
    dont_initialize();
    SC_METHOD(rsp_method);
    sensitive << rsp_peq_.get_event() << rsp_ev_;
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
    aimc_accel_set_done_hook(model_, done_cb);
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
    if (elaborated_) work_ev_.notify(SC_ZERO_TIME);
    return AIMC_OK;
}

void aimc_sysc_dev::release()
{
    aimc_accel_destroy(model_);
    model_ = nullptr;
    error_ = "no device model";
    irq_edges_.clear();
    dmi_.clear();
    held_.clear();
    posted_.clear();
    reset_pending_ = false;
    dma_exc_ = nullptr;
}

void aimc_sysc_dev::inject_hang(uint32_t after)
{
    aimc_accel_inject_hang(model_, after);
}

/* ---- time ---- */

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

/* The model's clock up to time t, short of its next event: time passes (the watchdog sees
 * idle time), no work runs. Only the device's thread runs events. */
void aimc_sysc_dev::sync_to(const sc_time &t)
{
    if (!model_ || in_model_) return;
    const uint64_t now = aimc_accel_now(model_), next = aimc_accel_next_event(model_);
    uint64_t c = cycle_at(t);
    if (next != UINT64_MAX && c >= next) c = next > 0 ? next - 1 : 0;
    if (c > now) note(aimc_accel_advance_to(model_, c));
}

/* Commands wait with nothing scheduled and the watchdog is on: idle time must reach it. */
bool aimc_sysc_dev::watchdog_waits() const
{
    return aimc_accel_reg_peek32(model_, AIMC_REG_WATCHDOG_US) != 0 &&
           (aimc_accel_reg_peek32(model_, AIMC_REG_STATUS) & AIMC_REG_STATUS_BUSY) != 0 &&
           (aimc_accel_reg_peek32(model_, AIMC_REG_STATUS) & AIMC_REG_STATUS_HALTED) == 0;
}

/* The device: the model's events at their SystemC times, every DMA issued from here. */
void aimc_sysc_dev::device_thread()
{
    for (;;) {
        drain_posted();
        if (!model_) {
            wait(work_ev_);
            continue;
        }
        const sc_time now = sc_core::sc_time_stamp();
        sync_to(now);
        const uint64_t next = aimc_accel_next_event(model_);
        if (next != UINT64_MAX && time_of(next) <= now) {
            in_model_ = true;
            const int r = aimc_accel_run(model_, 1); /* the events of one cycle */
            in_model_ = false;
            note(r);
            if (dma_exc_) { /* an exception inside a DMA, held across the C model */
                std::exception_ptr e = dma_exc_;
                dma_exc_ = nullptr;
                std::rethrow_exception(e);
            }
            continue;
        }
        if (next != UINT64_MAX)
            wait(time_of(next) - now, work_ev_); /* new work may come earlier */
        else if (watchdog_waits())
            wait(tick_, work_ev_);
        else
            wait(work_ev_);
    }
}

/* ---- registers ---- */

/* Whether t is a register access the window takes; *mask: the enabled bytes of the word.
 * Byte enables: a read returns the enabled bytes; a write must enable all four (a register
 * write is an action on the whole register), else BYTE_ENABLE_ERROR. */
tlm::tlm_response_status aimc_sysc_dev::reg_check(const tlm::tlm_generic_payload &t,
                                                  unsigned *mask) const
{
    if (!model_) return tlm::TLM_GENERIC_ERROR_RESPONSE;
    const uint64_t off = t.get_address();
    if (off >= AIMC_REG_WINDOW_BYTES || (off & 3u)) return tlm::TLM_ADDRESS_ERROR_RESPONSE;
    if (t.get_data_length() != aimc_sysc_reg_bytes ||
        t.get_streaming_width() < aimc_sysc_reg_bytes)
        return tlm::TLM_BURST_ERROR_RESPONSE;
    *mask = 0xFu;
    if (const unsigned char *be = t.get_byte_enable_ptr()) {
        const unsigned n = t.get_byte_enable_length();
        if (n == 0) return tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE;
        *mask = 0;
        for (unsigned i = 0; i < aimc_sysc_reg_bytes; i++)
            if (be[i % n] != TLM_BYTE_DISABLED) *mask |= 1u << i;
        if (t.is_write() && *mask != 0xFu) return tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE;
    }
    return tlm::TLM_OK_RESPONSE;
}

/* A checked access at time `at`. */
void aimc_sysc_dev::reg_access(tlm::tlm_generic_payload &t, unsigned mask, const sc_time &at)
{
    const uint32_t off = (uint32_t)t.get_address();
    drain_posted();
    if (t.is_read()) {
        sync_to(at);
        const uint32_t v = aimc_accel_reg_read32(model_, off); /* little-endian, as the map */
        unsigned char b[aimc_sysc_reg_bytes];
        std::memcpy(b, &v, sizeof b);
        for (unsigned i = 0; i < aimc_sysc_reg_bytes; i++)
            if (mask & (1u << i)) t.get_data_ptr()[i] = b[i];
    } else if (t.is_write()) {
        uint32_t v;
        std::memcpy(&v, t.get_data_ptr(), sizeof v);
        reg_write(off, v, at);
    }
}

void aimc_sysc_dev::reg_write(uint32_t off, uint32_t v, const sc_time &at)
{
    if (in_model_) { /* the thread waits in a DMA transaction: applied when it returns */
        posted_.push_back(posted{off, v});
        n_posted_++;
        if (is_reset(off, v)) { /* from now on no DMA, no held result reaches memory */
            reset_pending_ = true;
            held_.clear();
        }
        return;
    }
    sync_to(at);
    reg_apply(off, v);
}

void aimc_sysc_dev::reg_apply(uint32_t off, uint32_t v)
{
    const bool reset = is_reset(off, v);
    if (reset) held_.clear(); /* the commands they belong to are dropped */
    aimc_accel_reg_write32(model_, off, v); /* a DOORBELL schedules work */
    if (reset && reset_pending_) {
        reset_pending_ = false;
        /* edges were held back while the reset was pending: the line is the model's now */
        irq_edges_.emplace(sc_core::sc_time_stamp(), aimc_accel_irq_level(model_) != 0);
        irq_evq_.notify(SC_ZERO_TIME);
    }
    if (elaborated_) work_ev_.notify(SC_ZERO_TIME);
}

/* Apply the writes posted while the thread was inside the model, in order. */
void aimc_sysc_dev::drain_posted()
{
    if (in_model_) return;
    while (!posted_.empty() && model_) {
        const posted p = posted_.front();
        posted_.pop_front();
        sync_to(sc_core::sc_time_stamp());
        reg_apply(p.off, p.val);
    }
}

void aimc_sysc_dev::b_transport(tlm::tlm_generic_payload &t, sc_time &delay)
{
    unsigned mask = 0;
    const tlm::tlm_response_status st = reg_check(t, &mask);
    if (st != tlm::TLM_OK_RESPONSE) {
        t.set_response_status(st);
        return;
    }
    /* the access happens at its annotated time and takes its cycles */
    reg_access(t, mask, sc_core::sc_time_stamp() + delay);
    delay += reg_latency_cycles_ * period_;
    t.set_response_status(tlm::TLM_OK_RESPONSE);
}

/* The 4-phase base protocol: BEGIN_REQ is accepted (END_REQ) at its annotated time, when
 * the access happens; BEGIN_RESP follows reg_latency_cycles later (at once for an error),
 * one response at a time (the response exclusion rule), each waiting for END_RESP. */
tlm::tlm_sync_enum aimc_sysc_dev::nb_transport_fw(tlm::tlm_generic_payload &t,
                                                  tlm::tlm_phase &phase, sc_time &delay)
{
    if (phase == tlm::BEGIN_REQ) {
        if (t.has_mm()) t.acquire();
        req_peq_.notify(t, delay);
        return tlm::TLM_ACCEPTED;
    }
    if (phase == tlm::END_RESP) {
        if (&t == rsp_open_) {
            rsp_open_ = nullptr;
            if (t.has_mm()) t.release();
            rsp_free_at_ = sc_core::sc_time_stamp() + delay;
            rsp_ev_.notify(delay);
        }
        return tlm::TLM_COMPLETED;
    }
    return tlm::TLM_ACCEPTED; /* END_REQ and BEGIN_RESP are not an initiator's to send */
}

void aimc_sysc_dev::req_method()
{
    while (tlm::tlm_generic_payload *t = req_peq_.get_next_transaction()) {
        unsigned mask = 0;
        const tlm::tlm_response_status st = reg_check(*t, &mask);
        sc_time lat = SC_ZERO_TIME;
        if (st == tlm::TLM_OK_RESPONSE) {
            reg_access(*t, mask, sc_core::sc_time_stamp());
            lat = reg_latency_cycles_ * period_;
        }
        t->set_response_status(st);
        tlm::tlm_phase ph = tlm::END_REQ;
        sc_time d = SC_ZERO_TIME;
        if (regs->nb_transport_bw(*t, ph, d) == tlm::TLM_COMPLETED) { /* the initiator ended it */
            if (t->has_mm()) t->release();
            continue;
        }
        rsp_peq_.notify(*t, lat);
    }
}

void aimc_sysc_dev::rsp_method()
{
    while (tlm::tlm_generic_payload *t = rsp_peq_.get_next_transaction()) rsp_queue_.push_back(t);
    const sc_time now = sc_core::sc_time_stamp();
    while (!rsp_open_ && !rsp_queue_.empty()) {
        if (rsp_free_at_ > now) { /* the last response ends later */
            rsp_ev_.notify(rsp_free_at_ - now);
            return;
        }
        tlm::tlm_generic_payload *t = rsp_queue_.front();
        rsp_queue_.pop_front();
        tlm::tlm_phase ph = tlm::BEGIN_RESP;
        sc_time d = SC_ZERO_TIME;
        const tlm::tlm_sync_enum r = regs->nb_transport_bw(*t, ph, d);
        if (r == tlm::TLM_ACCEPTED) { /* END_RESP comes on the forward path */
            rsp_open_ = t;
            return;
        }
        /* UPDATED (to END_RESP) or COMPLETED: the response ends at now + d */
        if (t->has_mm()) t->release();
        rsp_free_at_ = now + d;
    }
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

/* ---- DMA ---- */

void aimc_sysc_dev::invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end)
{
    for (size_t i = 0; i < dmi_.size();) {
        if (dmi_[i].get_start_address() <= end && dmi_[i].get_end_address() >= start)
            dmi_.erase(dmi_.begin() + (long)i);
        else
            i++;
    }
}

/* One access on the bus (or through DMI), from the device's thread. The model's own clock
 * times the transfer (the host link of the cost layer); the delay the target annotates is
 * not added to it, and a target that wait()s holds the device's thread (its later events
 * then run late, at once). */
int aimc_sysc_dev::bus_access(tlm::tlm_command cmd, uint64_t addr, unsigned char *p, size_t n)
{
    if (addr + (n - 1) < addr || (uint64_t)n > UINT32_MAX) return AIMC_ERR_RANGE;
    const tlm::tlm_dmi::dmi_access_e need = cmd == tlm::TLM_READ_COMMAND
                                                ? tlm::tlm_dmi::DMI_ACCESS_READ
                                                : tlm::tlm_dmi::DMI_ACCESS_WRITE;
    for (const tlm::tlm_dmi &r : dmi_) {
        if (addr < r.get_start_address() || addr + (n - 1) > r.get_end_address() ||
            (r.get_granted_access() & need) != need)
            continue;
        unsigned char *host = r.get_dmi_ptr() + (addr - r.get_start_address());
        if (cmd == tlm::TLM_READ_COMMAND)
            std::memcpy(p, host, n);
        else
            std::memcpy(host, p, n);
        n_dma_dmi_++;
        return 0;
    }
    /* A transfer shorter than a word (the model probes the ends of a range with single
     * bytes) goes through a word of our own: targets that look at a whole data word
     * whatever the length (Accellera's example memory formats one for its log) stay
     * inside it. */
    unsigned char word[8] = {0};
    unsigned char *data = p;
    if (n < sizeof word) {
        data = word;
        if (cmd == tlm::TLM_WRITE_COMMAND) std::memcpy(word, p, n);
    }
    tlm::tlm_generic_payload t;
    sc_time delay = SC_ZERO_TIME; /* this call's own: nothing keeps a pointer to it */
    t.set_command(cmd);
    t.set_address(addr);
    t.set_data_ptr(data);
    t.set_data_length((unsigned int)n);
    t.set_streaming_width((unsigned int)n);
    t.set_byte_enable_ptr(nullptr);
    t.set_dmi_allowed(false);
    t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    try {
        dma->b_transport(t, delay);
    } catch (...) { /* may not cross the C model: the thread rethrows it */
        if (!dma_exc_) dma_exc_ = std::current_exception();
        return AIMC_ERR_DEVICE;
    }
    n_dma_tlm_++;
    if (t.get_response_status() != tlm::TLM_OK_RESPONSE) return AIMC_ERR_RANGE;
    if (data != p && cmd == tlm::TLM_READ_COMMAND) std::memcpy(p, word, n);
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

/* A DMA callback of the model. Reads go to the bus now and see the results still held (a
 * later command reading an earlier one's output); a command's result writes are held until
 * its work ends (flush); descriptor fetches and status words go at once. After a posted
 * SOFT_RESET or an exception nothing reaches the bus. */
int aimc_sysc_dev::dma_access(tlm::tlm_command cmd, uint64_t addr, unsigned char *p, size_t n)
{
    if (n == 0) return 0;
    if (reset_pending_ || dma_exc_) return AIMC_ERR_STATE;
    if (addr + (n - 1) < addr) return AIMC_ERR_RANGE;
    const int64_t slot = aimc_accel_dma_slot(model_);
    if (cmd == tlm::TLM_WRITE_COMMAND && slot >= 0) {
        held_.push_back(held{(uint32_t)slot, addr, std::vector<unsigned char>(p, p + n)});
        return 0;
    }
    const int rc = bus_access(cmd, addr, p, n);
    if (rc || cmd != tlm::TLM_READ_COMMAND) return rc;
    for (const held &h : held_) { /* in the order they were made */
        const uint64_t h_end = h.addr + h.data.size(), end = addr + n;
        const uint64_t lo = h.addr > addr ? h.addr : addr, hi = h_end < end ? h_end : end;
        if (lo < hi) std::memcpy(p + (lo - addr), h.data.data() + (lo - h.addr), hi - lo);
    }
    return 0;
}

/* The work of the command in `slot` has ended: its held results to memory now. */
int aimc_sysc_dev::flush(uint32_t slot)
{
    std::vector<held> mine;
    for (size_t i = 0; i < held_.size();) {
        if (held_[i].slot == slot) {
            mine.push_back(std::move(held_[i]));
            held_.erase(held_.begin() + (long)i);
        } else {
            i++;
        }
    }
    int rc = 0;
    for (held &h : mine) {
        if (reset_pending_ || dma_exc_) return AIMC_ERR_STATE; /* a reset came meanwhile */
        if (bus_access(tlm::TLM_WRITE_COMMAND, h.addr, h.data.data(), h.data.size()))
            rc = AIMC_ERR_RANGE;
    }
    return rc;
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

int aimc_sysc_dev::done_cb(void *ctx, uint32_t slot)
{
    return static_cast<aimc_sysc_dev *>(ctx)->flush(slot) ? 1 : 0;
}

/* ---- the interrupt ---- */

void aimc_sysc_dev::irq_cb(void *ctx, int level)
{
    /* The edge lies at the model's time, which runs ahead of the kernel's when an access
     * with an annotated delay let it. While a reset is posted the line is left alone (the
     * reset sets it). */
    aimc_sysc_dev *m = static_cast<aimc_sysc_dev *>(ctx);
    if (m->reset_pending_) return;
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
    if (t.get_streaming_width() < t.get_data_length()) { /* streaming: not supported */
        t.set_response_status(tlm::TLM_BURST_ERROR_RESPONSE);
        return;
    }
    if (t.get_byte_enable_ptr()) { /* byte enables: not supported */
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
