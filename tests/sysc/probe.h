/* probe.h - a TLM-2.0 probe for tests/sysc: sits between an initiator socket and a target
 * socket, forwards every call both ways unchanged, checks the base protocol (IEEE 1666-2011,
 * clauses 14-16) on that link, and logs every transaction with its times.
 *
 *   initiator ──► probe.in  [checks, log]  probe.out ──► target
 *
 * Checked (a broken rule is a violation: counted, its text kept):
 *   - b_transport: from a thread process; the transaction not in flight on the
 *     non-blocking path; response status INCOMPLETE on entry and set on return;
 *   - nb_transport_fw / _bw: only BEGIN_REQ and END_RESP forward, END_REQ and BEGIN_RESP
 *     backward; each transaction's phases in order (BEGIN_REQ, [END_REQ], BEGIN_RESP,
 *     END_RESP, any of the later ones may be skipped only as the base protocol allows);
 *     a memory manager on every non-blocking transaction; request exclusion (no BEGIN_REQ
 *     while another request phase is open on the link) and response exclusion (no
 *     BEGIN_RESP while another response phase is open); legal return values for each phase
 *     (END_RESP answered with COMPLETED, UPDATED only with the next phase, never to END_REQ);
 *     a response status set when the response starts; no phase earlier in time than the
 *     previous one of the same transaction; a new transaction in its initial state (data
 *     pointer and length, byte enable length, streaming width, DMI hint clear, response
 *     INCOMPLETE);
 *   - get_direct_mem_ptr: a granted range contains the address and grants some access;
 *   - transport_dbg: never more bytes than asked for;
 *   - at the end (finish()): no transaction left open: a deadlock shows as one.
 *
 * Every transaction becomes a record: command, address (as it entered the probe), length,
 * the time its request started (sc_time_stamp() plus the annotated delay) and the time its
 * response ended, and its response status. The test reads them (e.g. the DMA of a job).
 * Our own code, written for these tests; no part of it is Accellera's.
 */
#ifndef AIMC_TEST_PROBE_H
#define AIMC_TEST_PROBE_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <systemc>
#include <tlm>

struct tlm_probe : sc_core::sc_module,
                   tlm::tlm_fw_transport_if<>,
                   tlm::tlm_bw_transport_if<> {
    tlm::tlm_target_socket<32> in;
    tlm::tlm_initiator_socket<32> out;

    struct record {
        tlm::tlm_command cmd;
        uint64_t addr;
        unsigned len;
        sc_core::sc_time begin, end;
        tlm::tlm_response_status status;
        bool nb;   /* the non-blocking path */
        bool done; /* its response has ended */
    };
    std::vector<record> log;
    std::vector<std::string> violations;
    uint64_t dmi_granted = 0, dmi_refused = 0, dbg_calls = 0;

    explicit tlm_probe(sc_core::sc_module_name name) : sc_module(name), in("in"), out("out")
    {
        in.bind(*this);
        out.bind(*this);
    }

    /* Records whose request started in [t0, t1]. */
    std::vector<record> between(const sc_core::sc_time &t0, const sc_core::sc_time &t1) const
    {
        std::vector<record> r;
        for (const record &x : log)
            if (x.begin >= t0 && x.begin <= t1) r.push_back(x);
        return r;
    }

    /* Violations so far, plus one for every transaction still open. */
    size_t finish()
    {
        for (const auto &o : open_)
            violate(o.first, "transaction still open at the end (phase " +
                                 phase_name(o.second.phase) + ")");
        open_.clear();
        return violations.size();
    }

private:
    struct state {
        tlm::tlm_phase phase; /* the last phase seen on the link */
        sc_core::sc_time at;  /* its time */
        size_t rec;           /* index into log */
    };
    std::map<const tlm::tlm_generic_payload *, state> open_;
    const tlm::tlm_generic_payload *req_open_ = nullptr;  /* request phase open */
    const tlm::tlm_generic_payload *resp_open_ = nullptr; /* response phase open */
    std::map<const tlm::tlm_generic_payload *, int> in_b_; /* inside b_transport */

    static std::string phase_name(const tlm::tlm_phase &p)
    {
        if (p == tlm::BEGIN_REQ) return "BEGIN_REQ";
        if (p == tlm::END_REQ) return "END_REQ";
        if (p == tlm::BEGIN_RESP) return "BEGIN_RESP";
        if (p == tlm::END_RESP) return "END_RESP";
        return "unknown phase";
    }
    void violate(const tlm::tlm_generic_payload *t, const std::string &what)
    {
        char b[64];
        std::snprintf(b, sizeof b, " (address 0x%llx)",
                      t ? (unsigned long long)t->get_address() : 0ull);
        violations.push_back(std::string(name()) + " at " + sc_core::sc_time_stamp().to_string() +
                             ": " + what + b);
    }
    size_t add(const tlm::tlm_generic_payload &t, const sc_core::sc_time &begin, bool nb)
    {
        log.push_back(record{t.get_command(), t.get_address(), t.get_data_length(), begin,
                             sc_core::SC_ZERO_TIME, tlm::TLM_INCOMPLETE_RESPONSE, nb, false});
        return log.size() - 1;
    }
    void end(size_t rec, const tlm::tlm_generic_payload &t, const sc_core::sc_time &at)
    {
        log[rec].end = at;
        log[rec].status = t.get_response_status();
        log[rec].done = true;
    }
    /* A phase of an open transaction at time `at`: not earlier than its previous one. */
    void step(state &s, const tlm::tlm_generic_payload &t, const tlm::tlm_phase &p,
              const sc_core::sc_time &at)
    {
        if (at < s.at) violate(&t, phase_name(p) + " earlier than " + phase_name(s.phase));
        s.phase = p;
        s.at = at;
    }
    void close(const tlm::tlm_generic_payload &t, const sc_core::sc_time &at)
    {
        auto it = open_.find(&t);
        if (it == open_.end()) return;
        end(it->second.rec, t, at);
        if (req_open_ == &t) req_open_ = nullptr;
        if (resp_open_ == &t) resp_open_ = nullptr;
        open_.erase(it);
    }
    void begin_resp(const tlm::tlm_generic_payload &t, state &s, const sc_core::sc_time &at)
    {
        if (s.phase != tlm::BEGIN_REQ && s.phase != tlm::END_REQ)
            violate(&t, "BEGIN_RESP after " + phase_name(s.phase));
        if (resp_open_ && resp_open_ != &t)
            violate(&t, "BEGIN_RESP while another response phase is open (response exclusion)");
        if (t.get_response_status() == tlm::TLM_INCOMPLETE_RESPONSE)
            violate(&t, "BEGIN_RESP with the response status INCOMPLETE");
        if (req_open_ == &t) req_open_ = nullptr; /* BEGIN_RESP ends the request phase too */
        resp_open_ = &t;
        step(s, t, tlm::BEGIN_RESP, at);
    }

public:
    /* The attributes a new transaction must have (b_transport, BEGIN_REQ). */
    void initial(const tlm::tlm_generic_payload &t)
    {
        const bool ignore = t.get_command() == tlm::TLM_IGNORE_COMMAND;
        if (!ignore && (!t.get_data_ptr() || t.get_data_length() == 0))
            violate(&t, "a new transaction without data");
        if (t.get_byte_enable_ptr() && t.get_byte_enable_length() == 0)
            violate(&t, "byte enables of length 0");
        if (t.get_streaming_width() == 0) violate(&t, "streaming width 0");
        if (t.is_dmi_allowed()) violate(&t, "a new transaction with the DMI hint set");
        if (t.get_response_status() != tlm::TLM_INCOMPLETE_RESPONSE)
            violate(&t, "a new transaction with a response status other than INCOMPLETE");
    }

    /* ---- forward path ---- */
    void b_transport(tlm::tlm_generic_payload &t, sc_core::sc_time &delay) override
    {
        sc_core::sc_process_handle h = sc_core::sc_get_current_process_handle();
        if (!h.valid() || h.proc_kind() != sc_core::SC_THREAD_PROC_)
            violate(&t, "b_transport called from outside a thread process");
        if (open_.count(&t)) violate(&t, "b_transport of a transaction open on the nb path");
        initial(t);
        const size_t rec = add(t, sc_core::sc_time_stamp() + delay, false);
        in_b_[&t]++;
        out->b_transport(t, delay);
        if (--in_b_[&t] == 0) in_b_.erase(&t);
        if (t.get_response_status() == tlm::TLM_INCOMPLETE_RESPONSE)
            violate(&t, "b_transport returned with the response status INCOMPLETE");
        end(rec, t, sc_core::sc_time_stamp() + delay);
    }

    tlm::tlm_sync_enum nb_transport_fw(tlm::tlm_generic_payload &t, tlm::tlm_phase &ph,
                                       sc_core::sc_time &delay) override
    {
        const sc_core::sc_time at = sc_core::sc_time_stamp() + delay;
        const tlm::tlm_phase sent = ph;
        if (sent == tlm::BEGIN_REQ) {
            if (!t.has_mm()) violate(&t, "BEGIN_REQ of a transaction without a memory manager");
            if (open_.count(&t)) violate(&t, "BEGIN_REQ of a transaction already open");
            if (in_b_.count(&t)) violate(&t, "BEGIN_REQ of a transaction inside b_transport");
            if (req_open_) violate(&t, "BEGIN_REQ while another request phase is open "
                                       "(request exclusion)");
            initial(t);
            open_[&t] = state{tlm::BEGIN_REQ, at, add(t, at, true)};
            req_open_ = &t;
        } else if (sent == tlm::END_RESP) {
            auto it = open_.find(&t);
            if (it == open_.end())
                violate(&t, "END_RESP of a transaction not open");
            else {
                if (it->second.phase != tlm::BEGIN_RESP)
                    violate(&t, "END_RESP after " + phase_name(it->second.phase));
                step(it->second, t, tlm::END_RESP, at);
            }
        } else {
            violate(&t, phase_name(sent) + " on the forward path");
        }
        const tlm::tlm_sync_enum r = out->nb_transport_fw(t, ph, delay);
        const sc_core::sc_time at2 = sc_core::sc_time_stamp() + delay;
        auto it = open_.find(&t);
        if (it == open_.end()) return r;
        if (sent == tlm::END_RESP) {
            if (r != tlm::TLM_COMPLETED) violate(&t, "END_RESP not answered with COMPLETED");
            close(t, at);
            return r;
        }
        /* answers to BEGIN_REQ */
        if (r == tlm::TLM_ACCEPTED) {
            if (ph != sent) violate(&t, "ACCEPTED with a changed phase");
        } else if (r == tlm::TLM_UPDATED) {
            if (ph == tlm::END_REQ) {
                step(it->second, t, tlm::END_REQ, at2);
                req_open_ = nullptr;
            } else if (ph == tlm::BEGIN_RESP) {
                begin_resp(t, it->second, at2);
            } else {
                violate(&t, "UPDATED to " + phase_name(ph) + " after BEGIN_REQ");
            }
        } else if (r == tlm::TLM_COMPLETED) {
            if (t.get_response_status() == tlm::TLM_INCOMPLETE_RESPONSE)
                violate(&t, "COMPLETED with the response status INCOMPLETE");
            close(t, at2);
        } else {
            violate(&t, "unknown tlm_sync_enum");
        }
        return r;
    }

    bool get_direct_mem_ptr(tlm::tlm_generic_payload &t, tlm::tlm_dmi &dmi) override
    {
        const uint64_t addr = t.get_address();
        const bool ok = out->get_direct_mem_ptr(t, dmi);
        if (ok) {
            dmi_granted++;
            if (dmi.get_start_address() > addr || dmi.get_end_address() < addr)
                violate(&t, "DMI granted for a range without the address");
            if (dmi.get_granted_access() == tlm::tlm_dmi::DMI_ACCESS_NONE)
                violate(&t, "DMI granted with no access");
        } else {
            dmi_refused++;
        }
        return ok;
    }

    unsigned int transport_dbg(tlm::tlm_generic_payload &t) override
    {
        const unsigned asked = t.get_data_length();
        dbg_calls++;
        const unsigned n = out->transport_dbg(t);
        if (n > asked) violate(&t, "transport_dbg moved more bytes than asked for");
        return n;
    }

    /* ---- backward path ---- */
    tlm::tlm_sync_enum nb_transport_bw(tlm::tlm_generic_payload &t, tlm::tlm_phase &ph,
                                       sc_core::sc_time &delay) override
    {
        const sc_core::sc_time at = sc_core::sc_time_stamp() + delay;
        const tlm::tlm_phase sent = ph;
        auto it = open_.find(&t);
        if (it == open_.end()) {
            violate(&t, phase_name(sent) + " backward for a transaction not open");
            return in->nb_transport_bw(t, ph, delay);
        }
        if (sent == tlm::END_REQ) {
            if (it->second.phase != tlm::BEGIN_REQ)
                violate(&t, "END_REQ after " + phase_name(it->second.phase));
            step(it->second, t, tlm::END_REQ, at);
            if (req_open_ == &t) req_open_ = nullptr;
        } else if (sent == tlm::BEGIN_RESP) {
            begin_resp(t, it->second, at);
        } else {
            violate(&t, phase_name(sent) + " on the backward path");
        }
        const tlm::tlm_sync_enum r = in->nb_transport_bw(t, ph, delay);
        const sc_core::sc_time at2 = sc_core::sc_time_stamp() + delay;
        it = open_.find(&t);
        if (it == open_.end()) return r;
        if (sent == tlm::END_REQ) {
            if (r == tlm::TLM_UPDATED) violate(&t, "END_REQ answered with UPDATED");
            if (r == tlm::TLM_COMPLETED) close(t, at2);
            return r;
        }
        if (r == tlm::TLM_ACCEPTED) {
            if (ph != sent) violate(&t, "ACCEPTED with a changed phase");
        } else if (r == tlm::TLM_UPDATED) {
            if (ph != tlm::END_RESP)
                violate(&t, "UPDATED to " + phase_name(ph) + " after BEGIN_RESP");
            close(t, at2);
        } else if (r == tlm::TLM_COMPLETED) {
            close(t, at2);
        }
        return r;
    }

    void invalidate_direct_mem_ptr(sc_dt::uint64 start, sc_dt::uint64 end) override
    {
        if (start > end) violate(nullptr, "DMI invalidation of an empty range");
        in->invalidate_direct_mem_ptr(start, end);
    }
};

#endif /* AIMC_TEST_PROBE_H */
