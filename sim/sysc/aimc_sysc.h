/* aimc_sysc.h - the aimc device as a SystemC TLM-2.0 module, and a host memory model.
 *
 * C++17, for SystemC platforms (docs/sysc.md). aimc_sysc_dev wraps the one device model,
 * sim/device/aimc_accel.h: the module holds no device logic of its own. It turns
 *   - TLM-2.0 transactions on its target socket `regs` into the model's 32-bit register
 *     accesses at the transaction's address (an offset of the register window,
 *     AIMC_REG_WINDOW_BYTES long): b_transport (loosely timed), nb_transport_fw with the
 *     4-phase base protocol (approximately timed) and transport_dbg;
 *   - the model's DMA callbacks into transactions on its initiator socket `dma` (or memcpy
 *     through a DMI pointer where the target granted one);
 *   - the model's interrupt callback into the output `irq`, at the SystemC time the edge
 *     happened.
 * The device runs in its own SC_THREAD, in the device's simulated time: the thread executes
 * the model's events (cycle c at the configure time + c clock periods, the cost layer's
 * cycles), so every DMA transaction leaves at the cycle the device issues it, from the
 * thread; a register access never runs device work, it returns at once (a DOORBELL only
 * schedules it: a posted doorbell) and the host and the device overlap, as on silicon.
 * Results the device computes when it dispatches a command are held and written when the
 * command's work ends (its results reach host memory then in the device's timing), before
 * its status word. The DMA may wait() in a target (a memory behind a bus); register writes
 * arriving meanwhile are posted and applied, in order, when the DMA returns; a SOFT_RESET
 * among them stops all DMA at once (no later write reaches host memory). The clock period is
 * 1000 / clock.frequency_mhz ns from the aimc_arch.
 *
 * aimc_sysc_mem is a simple memory model: host memory regions at bus addresses, with
 * b_transport, transport_dbg and DMI (granted per region unless disabled), invalidated when a
 * region is removed. Any TLM-2.0 memory of the user's platform serves as well.
 */
#ifndef AIMC_SYSC_H
#define AIMC_SYSC_H

#include <cstdint>
#include <deque>
#include <exception>
#include <map>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/peq_with_get.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

extern "C" {
#include "aimc_accel.h"
}

class aimc_sysc_dev : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<aimc_sysc_dev> regs;   /* the register window */
    tlm_utils::simple_initiator_socket<aimc_sysc_dev> dma; /* DMA into host memory */
    sc_core::sc_out<bool> irq;                             /* the interrupt line */

    /* A device simulating arch (NULL: aimc_arch_defaults) with random draws keyed by seed.
     * If the model cannot be created, ok() is false and error() says why; the module then
     * answers every transaction with TLM_GENERIC_ERROR_RESPONSE. */
    aimc_sysc_dev(sc_core::sc_module_name name, const aimc_arch *arch, uint64_t seed);
    ~aimc_sysc_dev() override;
    aimc_sysc_dev(const aimc_sysc_dev &) = delete;
    aimc_sysc_dev &operator=(const aimc_sysc_dev &) = delete;

    /* Replace the device model by a fresh one (arch, seed): the C bindings reuse one
     * elaborated module for successive platforms. AIMC_OK or the model's error (in d).
     * Not while the simulation runs. */
    int configure(const aimc_arch *arch, uint64_t seed, aimc_diag *d);
    /* Free the device model (ok() turns false) and drop its pending interrupt edges, held
     * results and posted writes. Not while the simulation runs. */
    void release();
    bool ok() const { return model_ != nullptr; }
    const std::string &error() const { return error_; }

    sc_core::sc_time clock_period() const { return period_; }
    /* Latency of one register access in device clock cycles (default 1): added to a
     * b_transport's delay; the time from END_REQ to BEGIN_RESP on the non-blocking path. */
    void set_reg_latency_cycles(unsigned cycles) { reg_latency_cycles_ = cycles; }
    /* How often the device's thread lets idle time reach the model's watchdog while
     * WATCHDOG_US is nonzero and commands wait with nothing scheduled (default 1 us). */
    void set_watchdog_tick(const sc_core::sc_time &t) { tick_ = t; }
    /* The model's fault-injection knob (aimc_accel_inject_hang). */
    void inject_hang(uint32_t after);
    /* The host wrote host memory the device reaches (aimc_accel_host_wrote). */
    void host_wrote(uint64_t addr, uint64_t n) { aimc_accel_host_wrote(model_, addr, n); }
    /* The interrupt level as the model has it now (irq follows at the edge's time). */
    bool irq_level() const { return aimc_accel_irq_level(model_) != 0; }
    /* The device model (its profile, aimc_accel_profile); NULL when none. */
    const aimc_accel *model() const { return model_; }
    /* Notified at the SystemC time the model raises an interrupt cause while its line is
     * asserted (a new cause with the line already high included, which irq does not show). */
    const sc_core::sc_event &irq_cause_event() const { return cause_ev_; }
    /* The SystemC time of the model's cycle 0 (the last configure). */
    sc_core::sc_time clock_origin() const { return t0_; }

    /* Transaction counts since construction: DMA transactions sent on `dma`, DMA accesses
     * served through DMI pointers, DMI pointers granted; register writes posted because
     * they arrived while the device's thread was inside a DMA transaction. */
    uint64_t dma_transactions() const { return n_dma_tlm_; }
    uint64_t dma_dmi_accesses() const { return n_dma_dmi_; }
    uint64_t dmi_grants() const { return n_dmi_grants_; }
    uint64_t posted_writes() const { return n_posted_; }

private:
    /* registers */
    void b_transport(tlm::tlm_generic_payload &t, sc_core::sc_time &delay);
    tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload &t, tlm::tlm_phase &phase,
                                       sc_core::sc_time &delay);
    unsigned int transport_dbg(tlm::tlm_generic_payload &t);
    tlm::tlm_response_status reg_check(const tlm::tlm_generic_payload &t, unsigned *mask) const;
    void reg_access(tlm::tlm_generic_payload &t, unsigned mask, const sc_core::sc_time &at);
    void reg_write(uint32_t off, uint32_t v, const sc_core::sc_time &at);
    void reg_apply(uint32_t off, uint32_t v);
    void drain_posted();
    void req_method();
    void rsp_method();
    /* time */
    void device_thread();
    void irq_method();
    uint64_t cycle_at(const sc_core::sc_time &t) const;
    sc_core::sc_time time_of(uint64_t cycle) const;
    void sync_to(const sc_core::sc_time &t);
    void note(int r);
    bool watchdog_waits() const;
    /* DMA */
    void invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end);
    int dma_access(tlm::tlm_command cmd, uint64_t addr, unsigned char *p, size_t n);
    int bus_access(tlm::tlm_command cmd, uint64_t addr, unsigned char *p, size_t n);
    int flush(uint32_t slot);
    void end_of_elaboration() override { elaborated_ = true; }
    static int dma_read_cb(void *ctx, uint64_t addr, void *dst, size_t n);
    static int dma_write_cb(void *ctx, uint64_t addr, const void *src, size_t n);
    static int done_cb(void *ctx, uint32_t slot);
    static void irq_cb(void *ctx, int level);

    aimc_accel *model_ = nullptr;
    std::string error_;
    sc_core::sc_time period_;
    sc_core::sc_time tick_;
    unsigned reg_latency_cycles_ = 1;
    sc_core::sc_time t0_;                    /* the SystemC time of the model's cycle 0 */
    sc_core::sc_event work_ev_;              /* the model may have new events */
    sc_core::sc_event cause_ev_;             /* a new interrupt cause */
    bool in_model_ = false;                  /* the thread is inside the model (maybe in a
                                                DMA transaction that waits) */
    bool reset_pending_ = false;             /* a SOFT_RESET is posted: no more DMA */
    struct posted {
        uint32_t off, val;
    };
    std::deque<posted> posted_;              /* register writes that came while in_model_ */
    struct held {
        uint32_t slot;
        uint64_t addr;
        std::vector<unsigned char> data;
    };
    std::vector<held> held_;                 /* results held until their command's done */
    std::exception_ptr dma_exc_;             /* thrown inside a DMA: rethrown by the thread */
    /* the non-blocking path of `regs` */
    tlm_utils::peq_with_get<tlm::tlm_generic_payload> req_peq_; /* BEGIN_REQ at its time */
    tlm_utils::peq_with_get<tlm::tlm_generic_payload> rsp_peq_; /* responses when due */
    std::deque<tlm::tlm_generic_payload *> rsp_queue_; /* due, waiting for the channel */
    tlm::tlm_generic_payload *rsp_open_ = nullptr;      /* BEGIN_RESP sent, no END_RESP yet */
    sc_core::sc_time rsp_free_at_;                      /* an UPDATED END_RESP's time */
    sc_core::sc_event rsp_ev_;
    std::vector<tlm::tlm_dmi> dmi_;          /* DMI regions granted to `dma` */
    std::multimap<sc_core::sc_time, bool> irq_edges_; /* pending edges by absolute time */
    sc_core::sc_event_queue irq_evq_;
    bool elaborated_ = false;
    uint64_t n_dma_tlm_ = 0, n_dma_dmi_ = 0, n_dmi_grants_ = 0, n_posted_ = 0;
};

class aimc_sysc_mem : public sc_core::sc_module {
public:
    tlm_utils::simple_target_socket<aimc_sysc_mem> socket;

    explicit aimc_sysc_mem(sc_core::sc_module_name name);

    /* Map n bytes of host memory at bus address addr; false if it overlaps a region or
     * wraps. Unmap removes the region starting at addr (invalidating DMI pointers to it). */
    bool map(uint64_t addr, void *host, size_t n);
    bool unmap(uint64_t addr);
    void unmap_all();
    /* Latency per access (b_transport and DMI alike; default 0) and whether DMI is granted
     * (default yes). */
    void set_latency(const sc_core::sc_time &t) { latency_ = t; }
    void set_dmi(bool allow) { allow_dmi_ = allow; }

private:
    struct region {
        uint64_t addr;
        size_t n;
        unsigned char *host;
    };
    const region *find(uint64_t addr, uint64_t n) const;
    void b_transport(tlm::tlm_generic_payload &t, sc_core::sc_time &delay);
    unsigned int transport_dbg(tlm::tlm_generic_payload &t);
    bool get_direct_mem_ptr(tlm::tlm_generic_payload &t, tlm::tlm_dmi &dmi);

    std::map<uint64_t, region> regions_;
    sc_core::sc_time latency_;
    bool allow_dmi_ = true;
};

#endif /* AIMC_SYSC_H */
