/* platforms.cpp - aimc's SystemC module (sim/sysc/aimc_sysc.h) in platforms built of
 * Accellera's own TLM-2.0 example components, as Debian's libsystemc-doc installs them
 * (/usr/share/doc/libsystemc/examples/tlm/common; make compiles them from there), with a
 * protocol-checking probe (probe.h, our code) on every link:
 *
 *   lt-dmi    host ─► lt_initiator ─► SimpleBusLT ─► lt_dmi_target   (memory, DMI)
 *   lt-synch  host ─► lt_initiator ─► SimpleBusLT ─► lt_synch_target (memory, wait()s)
 *   at        host ─► at_initiator_explicit ─► SimpleBusAT ─► at_target_4_phase (memory,
 *                                                                4 phases)
 *
 * In each, aimc.dma is the bus's second initiator and aimc.regs its second target
 * (addresses 0x1000_0000 up; the examples' buses decode address bits 31..28); aimc.irq wakes
 * the host. The host is our traffic generator: it hands each transaction to the example
 * initiator through its sc_fifo and takes it back from the response fifo, so every register
 * access, every byte of a descriptor and every result crosses the examples' code. It runs:
 *
 *   registers   values, timing, byte enables, address/size errors, debug transport, no DMI
 *   full job    PROGRAM + MVM through the ring: the doorbell returns at once, the host sees
 *               BUSY while the device works, the interrupt, y = x W; every DMA transaction
 *               inside [doorbell, interrupt], y written after the work (device time)
 *   busy        a second doorbell while a long job runs: BUSY, both complete, in order
 *   reset       SOFT_RESET while the DMA of a job is in flight and while it computes: no DMA
 *               write after the reset, y and the status word untouched; a job after it works
 *   interrupt   the line follows IRQ_STATUS & IRQ_MASK as the host writes them
 *   memory      aimc_sysc_mem's error responses (byte enables, streaming width)
 *   own AT      an AT initiator of ours on a second device: the register socket's phases
 *               and timing, every way of ending a response, response exclusion
 *
 * Usage: sysc_tlm lt-dmi|lt-synch|at. Prints what it measured and ends with
 * "sysc-tlm PLATFORM: N passed, M failed"; exit status 0 only when all passed.
 */
#define REPORT_DEFINE_GLOBALS /* the examples' reporting switches (reporting.h), all off */
#include "reporting.h"

#include "at_initiator_explicit.h"
#include "at_target_4_phase.h"
#include "lt_dmi_target.h"
#include "lt_initiator.h"
#include "lt_synch_target.h"
#include "models/SimpleBusAT.h"
#include "models/SimpleBusLT.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <tlm_utils/simple_initiator_socket.h>

#include "aimc_sysc.h"
#include "probe.h"

extern "C" {
#include "aimc_accel.h"
#include "aimc_regs.h"
}

using sc_core::sc_time;
using sc_core::SC_NS;
using sc_core::SC_US;
using sc_core::SC_ZERO_TIME;
typedef tlm::tlm_generic_payload gp;

namespace {

int n_pass, n_fail;

void check(bool ok, const char *what, int line)
{
    if (ok) {
        n_pass++;
        return;
    }
    n_fail++;
    std::printf("FAIL (platforms.cpp:%d): %s\n", line, what);
}
#define CHECK(c) check((c), #c, __LINE__)

const uint64_t REGS = 0x10000000; /* aimc's registers on the examples' buses (port 1) */
const uint64_t MEM_BYTES = 1 << 20;
/* where things lie in the memory (port 0) */
const uint64_t RING = 0x1000, W_ADDR = 0x2000, TILES = 0x8000, X_ADDR = 0x10000,
               X2_ADDR = 0x30000, Y_ADDR = 0x50000, Y2_ADDR = 0x58000;
const uint32_t RING_SLOTS = 8;
const uint32_t R = 32, C = 8;   /* the matrix */
const uint32_t B_LONG = 32;     /* vectors of a long job (tens of us) */
const uint32_t SENTINEL = 0xA5A5A5A5u;
const sc_time AT_END_RSP(2, SC_US); /* at_initiator_explicit's END_RESP delay */

void le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- the host: our traffic generator in front of an example initiator ---- */

struct host : sc_core::sc_module, tlm::tlm_mm_interface {
    sc_core::sc_port<sc_core::sc_fifo_out_if<gp *>> req;
    sc_core::sc_port<sc_core::sc_fifo_in_if<gp *>> rsp;
    sc_core::sc_in<bool> irq;
    tlm_utils::simple_initiator_socket<host> mem_socket; /* straight to an aimc_sysc_mem */
    std::function<void()> program;
    bool finished = false;

    explicit host(sc_core::sc_module_name n)
        : sc_module(n), req("req"), rsp("rsp"), irq("irq"), mem_socket("mem_socket")
    {
        SC_HAS_PROCESS(host);
        SC_THREAD(run);
    }
    void run()
    {
        program();
        finished = true;
        /* at_initiator_explicit's thread keeps an ostringstream on its stack for ever; end
         * the thread (its stack unwinds) so that LeakSanitizer sees its buffer freed */
        sc_core::sc_process_handle ati(sc_core::sc_find_object("at_initiator.initiator_thread"));
        if (ati.valid()) ati.kill();
        sc_core::sc_stop();
    }
    /* tlm_mm_interface: the last reference is gone */
    void free(gp *t) override
    {
        t->reset();
        delete t;
    }

    /* One transaction through the example initiator; its response status. */
    tlm::tlm_response_status access(tlm::tlm_command cmd, uint64_t addr, void *p, unsigned n,
                                    const unsigned char *be = nullptr, unsigned be_n = 0,
                                    unsigned stream = 0)
    {
        gp *t = new gp(this);
        t->acquire();
        t->set_command(cmd);
        t->set_address(addr);
        t->set_data_ptr(static_cast<unsigned char *>(p));
        t->set_data_length(n);
        t->set_streaming_width(stream ? stream : n);
        t->set_byte_enable_ptr(const_cast<unsigned char *>(be));
        t->set_byte_enable_length(be_n);
        t->set_dmi_allowed(false);
        t->set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        req->write(t);
        gp *back = rsp->read();
        CHECK(back == t);
        const tlm::tlm_response_status s = t->get_response_status();
        t->release();
        return s;
    }
    uint32_t rd(uint32_t off)
    {
        uint32_t v = 0;
        CHECK(access(tlm::TLM_READ_COMMAND, REGS + off, &v, 4) == tlm::TLM_OK_RESPONSE);
        return v;
    }
    void wr(uint32_t off, uint32_t v)
    {
        CHECK(access(tlm::TLM_WRITE_COMMAND, REGS + off, &v, 4) == tlm::TLM_OK_RESPONSE);
    }
    void put(uint64_t addr, const void *p, unsigned n)
    {
        CHECK(access(tlm::TLM_WRITE_COMMAND, addr, const_cast<void *>(p), n) ==
              tlm::TLM_OK_RESPONSE);
    }
    void get(uint64_t addr, void *p, unsigned n)
    {
        CHECK(access(tlm::TLM_READ_COMMAND, addr, p, n) == tlm::TLM_OK_RESPONSE);
    }
    uint32_t get32(uint64_t addr)
    {
        uint32_t v = 0;
        get(addr, &v, 4);
        return v;
    }
    /* Wait for the interrupt line to be high, at most `limit`; true when it is. */
    bool wait_irq(const sc_time &limit)
    {
        if (!irq.read()) wait(limit, irq.posedge_event());
        return irq.read();
    }
};

/* ---- an AT initiator of our own, straight to a second device's registers ---- */

/* It answers BEGIN_RESP as `mode` says: 0 TLM_ACCEPTED (the host sends END_RESP later),
 * 1 TLM_UPDATED with END_RESP, 2 TLM_COMPLETED; the paths Accellera's initiator does not
 * take. It notes the time of each phase it receives. */
struct nb_host : sc_core::sc_module, tlm::tlm_mm_interface {
    tlm_utils::simple_initiator_socket<nb_host> socket;
    int mode = 0;
    std::map<const gp *, sc_time> end_req, begin_resp;
    sc_core::sc_event ev;

    explicit nb_host(sc_core::sc_module_name n) : sc_module(n), socket("socket")
    {
        socket.register_nb_transport_bw(this, &nb_host::bw);
    }
    void free(gp *t) override
    {
        t->reset();
        delete t;
    }
    tlm::tlm_sync_enum bw(gp &t, tlm::tlm_phase &ph, sc_time &d)
    {
        const sc_time at = sc_core::sc_time_stamp() + d;
        ev.notify(d);
        if (ph == tlm::END_REQ) {
            end_req[&t] = at;
            return tlm::TLM_ACCEPTED;
        }
        begin_resp[&t] = at;
        if (mode == 1) {
            ph = tlm::END_RESP;
            d += sc_time(5, SC_NS);
            return tlm::TLM_UPDATED;
        }
        return mode == 2 ? tlm::TLM_COMPLETED : tlm::TLM_ACCEPTED;
    }
};

/* ---- the platform ---- */

enum kind { LT_DMI, LT_SYNCH, AT };

struct platform {
    kind k;
    aimc_arch arch;
    sc_core::sc_fifo<gp *> req{"req_fifo", 4}, rsp{"rsp_fifo", 4};
    sc_core::sc_signal<bool> irq{"irq"};
    host cpu{"host"};
    aimc_sysc_dev dev;
    aimc_sysc_mem vmem{"vmem"};
    std::vector<unsigned char> vmem_bytes = std::vector<unsigned char>(256);
    tlm_probe p_cpu{"probe_cpu"}, p_dma{"probe_dma"}, p_mem{"probe_mem"}, p_regs{"probe_regs"};
    /* a second device, reached by our own AT initiator */
    aimc_sysc_dev dev2;
    aimc_sysc_mem vmem2{"vmem2"};
    sc_core::sc_signal<bool> irq2{"irq2"};
    nb_host nb{"nb_host"};
    tlm_probe p_nb{"probe_nb"};
    lt_initiator *lti = nullptr;
    at_initiator_explicit *ati = nullptr;
    SimpleBusLT<2, 2> *blt = nullptr;
    SimpleBusAT<2, 2> *bat = nullptr;
    lt_dmi_target *m_dmi = nullptr;
    lt_synch_target *m_synch = nullptr;
    at_target_4_phase *m_4p = nullptr;

    platform(kind k_, const aimc_arch *a) : k(k_), arch(*a), dev("aimc", a, 42), dev2("aimc2", a, 7)
    {
        nb.socket.bind(p_nb.in);
        p_nb.out.bind(dev2.regs);
        dev2.dma.bind(vmem2.socket);
        dev2.irq.bind(irq2);
        const sc_time acc(10, SC_NS), rd(50, SC_NS), wr(30, SC_NS);
        cpu.req.bind(req);
        cpu.rsp.bind(rsp);
        cpu.irq.bind(irq);
        dev.irq.bind(irq);
        cpu.mem_socket.bind(vmem.socket);
        vmem.map(0, vmem_bytes.data(), vmem_bytes.size());
        if (k == AT) {
            /* the initiator ends each response 2 us after it began: a doorbell's
             * transaction is still open on the bus while the device does its first DMA
             * over it */
            ati = new at_initiator_explicit("at_initiator", 1, AT_END_RSP);
            bat = new SimpleBusAT<2, 2>("bus");
            m_4p = new at_target_4_phase("memory", 2, "memory_socket", MEM_BYTES, 4, acc, rd, wr);
            ati->request_in_port.bind(req);
            ati->response_out_port.bind(rsp);
            ati->initiator_socket.bind(p_cpu.in);
            p_cpu.out.bind(bat->target_socket[0]);
            p_dma.out.bind(bat->target_socket[1]);
            bat->initiator_socket[0].bind(p_mem.in);
            bat->initiator_socket[1].bind(p_regs.in);
            p_mem.out.bind(m_4p->m_memory_socket);
        } else {
            lti = new lt_initiator("lt_initiator", 1);
            blt = new SimpleBusLT<2, 2>("bus");
            lti->request_in_port.bind(req);
            lti->response_out_port.bind(rsp);
            lti->initiator_socket.bind(p_cpu.in);
            p_cpu.out.bind(blt->target_socket[0]);
            p_dma.out.bind(blt->target_socket[1]);
            blt->initiator_socket[0].bind(p_mem.in);
            blt->initiator_socket[1].bind(p_regs.in);
            if (k == LT_DMI) {
                /* DMI from 100 ns to 300 us (then invalidated for good: the device falls
                 * back to transactions) */
                m_dmi = new lt_dmi_target("memory", 2, "memory_socket", MEM_BYTES, 4, acc, rd, wr,
                                          sc_time(100, SC_NS), sc_time(300, SC_US));
                p_mem.out.bind(m_dmi->m_memory_socket);
            } else {
                /* a slow memory that wait()s inside b_transport */
                m_synch = new lt_synch_target("memory", 2, "memory_socket", MEM_BYTES, 4, acc,
                                              sc_time(300, SC_NS), sc_time(200, SC_NS));
                p_mem.out.bind(m_synch->m_memory_socket);
            }
        }
        dev.dma.bind(p_dma.in);
        p_regs.out.bind(dev.regs);
    }
};

platform *the; /* lives to the end of the process (the examples' memories are never freed) */

const char *kind_name(kind k)
{
    return k == LT_DMI ? "lt-dmi" : k == LT_SYNCH ? "lt-synch" : "at";
}

/* ---- the reference: the same device model in C, no SystemC, fed the same commands ---- */

struct ref_model {
    std::vector<unsigned char> mem = std::vector<unsigned char>(MEM_BYTES);
    aimc_accel *dev = nullptr;

    static int rd(void *ctx, uint64_t a, void *dst, size_t n)
    {
        ref_model *r = static_cast<ref_model *>(ctx);
        if (a > MEM_BYTES || n > MEM_BYTES - a) return -1;
        std::memcpy(dst, r->mem.data() + a, n);
        return 0;
    }
    static int wr(void *ctx, uint64_t a, const void *src, size_t n)
    {
        ref_model *r = static_cast<ref_model *>(ctx);
        if (a > MEM_BYTES || n > MEM_BYTES - a) return -1;
        std::memcpy(r->mem.data() + a, src, n);
        return 0;
    }
    explicit ref_model(const aimc_arch *a)
    {
        const aimc_accel_host host = {this, rd, wr, nullptr};
        (void)aimc_accel_create(a, 42, &host, nullptr, &dev, nullptr);
    }
    ~ref_model() { aimc_accel_destroy(dev); }
    ref_model(const ref_model &) = delete;
    ref_model &operator=(const ref_model &) = delete;
    void put(uint64_t a, const void *p, size_t n)
    {
        std::memcpy(mem.data() + a, p, n);
        aimc_accel_host_wrote(dev, a, n);
    }
    /* a register write; after a doorbell, the device runs until it has nothing left */
    void wr32(uint32_t off, uint32_t v)
    {
        aimc_accel_reg_write32(dev, off, v);
        if (off == AIMC_REG_DOORBELL)
            while (aimc_accel_run(dev, 1u << 20) != AIMC_ACCEL_IDLE) {
            }
    }
};

/* ---- what the host runs ---- */

struct job {
    uint32_t batch;
    uint64_t x, y;
    std::vector<float> xv;
};

struct scenario {
    platform &P;
    host &h;
    ref_model ref;
    sc_time period;
    std::vector<float> w;
    uint32_t tail = 0;     /* RING_TAIL written so far */
    uint64_t fence = 0;

    explicit scenario(platform &p) : P(p), h(p.cpu), ref(&p.arch), period(p.dev.clock_period())
    {
        for (uint32_t i = 0; i < R * C; i++) w.push_back((float)((int)((i * 7) % 11) - 5) / 8.0f);
    }

    uint64_t slot_addr(uint32_t n) const
    {
        return RING + (uint64_t)(n % RING_SLOTS) * AIMC_DESC_BYTES;
    }

    /* Memory and register writes that the reference model mirrors. */
    void put(uint64_t a, const void *p, unsigned n)
    {
        h.put(a, p, n);
        ref.put(a, p, n);
    }
    void wr(uint32_t off, uint32_t v)
    {
        h.wr(off, v);
        ref.wr32(off, v);
    }
    /* Write a descriptor at ring position n (status word 0). */
    void put_desc(uint32_t n, const uint8_t *d) { put(slot_addr(n), d, AIMC_DESC_BYTES); }

    void ring_setup()
    {
        wr(AIMC_REG_RING_BASE_LO, (uint32_t)RING);
        wr(AIMC_REG_RING_BASE_HI, 0);
        wr(AIMC_REG_RING_SIZE, RING_SLOTS);
        wr(AIMC_REG_IRQ_MASK, AIMC_REG_IRQ_ALL);
        wr(AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
        tail = 0;
    }

    /* The weights and tile table in memory, a PROGRAM descriptor at position n. */
    void program_desc(uint32_t n)
    {
        put(W_ADDR, w.data(), (unsigned)(w.size() * 4));
        const int slices = aimc_arch_slices(&P.arch);
        for (int s = 0; s < slices; s++) {
            uint8_t rec[AIMC_REC_TILE_BYTES] = {};
            le(rec + AIMC_REC_TILE_NROWS, R, 4);
            le(rec + AIMC_REC_TILE_NCOLS, C, 4);
            le(rec + AIMC_REC_TILE_SLICE, (uint32_t)s, 4);
            le(rec + AIMC_REC_TILE_XBAR, (uint32_t)s, 4);
            put(TILES + (uint64_t)s * AIMC_REC_TILE_BYTES, rec, sizeof rec);
        }
        uint8_t d[AIMC_DESC_BYTES] = {};
        le(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_PROGRAM, 2);
        le(d + AIMC_DESC_FENCE, ++fence, 8);
        le(d + AIMC_DESC_PROG_ROWS, R, 4);
        le(d + AIMC_DESC_PROG_COLS, C, 4);
        le(d + AIMC_DESC_PROG_NTILES, (uint32_t)slices, 4);
        le(d + AIMC_DESC_PROG_W_ADDR, W_ADDR, 8);
        le(d + AIMC_DESC_PROG_TILES_ADDR, TILES, 8);
        put_desc(n, d);
    }

    /* Inputs of a job in memory, its outputs filled with SENTINEL, its MVM descriptor at
     * position n (FLAG_IRQ, FLAG_TO_HOST). */
    job mvm_desc(uint32_t n, uint32_t batch, uint64_t x, uint64_t y, int seed)
    {
        job j{batch, x, y, {}};
        for (uint32_t i = 0; i < batch * R; i++)
            j.xv.push_back((float)((int)((i * 13 + (uint32_t)seed) % 9) - 4) / 5.0f);
        put(x, j.xv.data(), (unsigned)(j.xv.size() * 4));
        std::vector<uint32_t> s(batch * C, SENTINEL);
        put(y, s.data(), (unsigned)(s.size() * 4));
        uint8_t d[AIMC_DESC_BYTES] = {};
        le(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_MVM, 2);
        le(d + AIMC_DESC_FLAGS, AIMC_DESC_FLAG_IRQ | AIMC_DESC_FLAG_TO_HOST, 2);
        le(d + AIMC_DESC_FENCE, ++fence, 8);
        le(d + AIMC_DESC_MVM_BATCH, batch, 4);
        le(d + AIMC_DESC_MVM_ROWS, R, 4);
        le(d + AIMC_DESC_MVM_COLS, C, 4);
        le(d + AIMC_DESC_MVM_X_ADDR, x, 8);
        le(d + AIMC_DESC_MVM_Y_ADDR, y, 8);
        put_desc(n, d);
        return j;
    }

    /* y of job j: bit for bit the reference model's, and near the exact product (within
     * the noise and quantisation of the default machine: 8-bit DAC and weights, 10-bit ADC,
     * read noise). */
    bool y_ok(const job &j)
    {
        std::vector<float> y(j.batch * C);
        h.get(j.y, y.data(), (unsigned)(y.size() * 4));
        if (std::memcmp(y.data(), ref.mem.data() + j.y, y.size() * 4) != 0) {
            std::printf("  y differs from the reference model's\n");
            return false;
        }
        double worst = 0, scale = 0;
        for (uint32_t b = 0; b < j.batch; b++)
            for (uint32_t c = 0; c < C; c++) {
                double ref = 0;
                for (uint32_t r = 0; r < R; r++) ref += (double)j.xv[b * R + r] * w[r * C + c];
                const double e = std::fabs(y[b * C + c] - ref);
                if (!(e <= worst)) worst = e; /* NaN (a sentinel) stays */
                if (std::fabs(ref) > scale) scale = std::fabs(ref);
            }
        const bool ok = worst <= 0.15 * scale + 0.1;
        if (!ok) std::printf("  y off the exact product by %g (largest |y| %g)\n", worst, scale);
        return ok;
    }

    bool status_done(uint32_t n)
    {
        return (h.get32(slot_addr(n) + AIMC_DESC_STATUS) & AIMC_DESC_STATUS_DONE) != 0;
    }

    /* ---- the cases ---- */

    void registers()
    {
        CHECK(h.rd(AIMC_REG_ID) == AIMC_REG_ID_VALUE);
        CHECK(h.rd(AIMC_REG_VERSION) == AIMC_REG_VERSION_VALUE);
        CHECK(h.rd(AIMC_REG_CAP_XBAR_ROWS) == (uint32_t)P.arch.crossbar.rows);
        h.wr(AIMC_REG_IRQ_MASK, 0x1);
        CHECK(h.rd(AIMC_REG_IRQ_MASK) == 0x1);
        /* a register access takes reg_latency_cycles (1) clock periods of the device */
        sc_time t0 = sc_core::sc_time_stamp();
        (void)h.rd(AIMC_REG_STATUS);
        const sc_time took = sc_core::sc_time_stamp() - t0;
        if (P.k == AT)
            CHECK(took >= period); /* plus the initiator's end-of-response delay */
        else
            CHECK(took == period);
        std::printf("  a register read took %s\n", took.to_string().c_str());
        /* byte enables: a read returns the enabled bytes only */
        const unsigned char be_lo[4] = {0xff, 0xff, 0, 0}, be_all1[1] = {0xff},
                            be_part[4] = {0xff, 0, 0xff, 0xff},
                            be_all[4] = {0xff, 0xff, 0xff, 0xff};
        const tlm::tlm_command RD = tlm::TLM_READ_COMMAND;
        uint8_t b[4] = {0xee, 0xee, 0xee, 0xee};
        CHECK(h.access(RD, REGS + AIMC_REG_ID, b, 4, be_lo, 4) == tlm::TLM_OK_RESPONSE);
        CHECK(b[0] == (AIMC_REG_ID_VALUE & 0xff) && b[1] == ((AIMC_REG_ID_VALUE >> 8) & 0xff) &&
              b[2] == 0xee && b[3] == 0xee);
        /* a write with every byte enabled is a plain write (pattern repeated: length 1 too) */
        uint32_t v = 0x3;
        CHECK(h.access(tlm::TLM_WRITE_COMMAND, REGS + AIMC_REG_IRQ_MASK, &v, 4, be_all, 4) ==
              tlm::TLM_OK_RESPONSE);
        CHECK(h.rd(AIMC_REG_IRQ_MASK) == 0x3);
        v = 0x1;
        CHECK(h.access(tlm::TLM_WRITE_COMMAND, REGS + AIMC_REG_IRQ_MASK, &v, 4, be_all1, 1) ==
              tlm::TLM_OK_RESPONSE);
        CHECK(h.rd(AIMC_REG_IRQ_MASK) == 0x1);
        /* a partial write is refused and changes nothing */
        v = 0x2;
        CHECK(h.access(tlm::TLM_WRITE_COMMAND, REGS + AIMC_REG_IRQ_MASK, &v, 4, be_part, 4) ==
              tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
        CHECK(h.rd(AIMC_REG_IRQ_MASK) == 0x1);
        /* address and size errors */
        CHECK(h.access(RD, REGS + AIMC_REG_ID + 2, &v, 4) == tlm::TLM_ADDRESS_ERROR_RESPONSE);
        CHECK(h.access(RD, REGS + AIMC_REG_WINDOW_BYTES, &v, 4) ==
              tlm::TLM_ADDRESS_ERROR_RESPONSE);
        uint64_t v64 = 0;
        CHECK(h.access(RD, REGS + AIMC_REG_ID, &v64, 8) == tlm::TLM_BURST_ERROR_RESPONSE);
        CHECK(h.access(RD, REGS + AIMC_REG_ID, &v, 4, nullptr, 0, 2) ==
              tlm::TLM_BURST_ERROR_RESPONSE);
        /* debug transport through the example initiator's socket and bus: reads, no writes */
        gp t;
        uint32_t id[2] = {0, 0};
        t.set_command(tlm::TLM_READ_COMMAND);
        t.set_address(REGS + AIMC_REG_ID);
        t.set_data_ptr(reinterpret_cast<unsigned char *>(id));
        t.set_data_length(8);
        const unsigned n = P.k == AT ? P.ati->initiator_socket->transport_dbg(t)
                                     : P.lti->initiator_socket->transport_dbg(t);
        CHECK(n == 8 && id[0] == AIMC_REG_ID_VALUE && id[1] == AIMC_REG_VERSION_VALUE);
        t.set_command(tlm::TLM_WRITE_COMMAND);
        t.set_address(REGS + AIMC_REG_IRQ_MASK);
        t.set_data_length(4);
        const unsigned nw = P.k == AT ? P.ati->initiator_socket->transport_dbg(t)
                                      : P.lti->initiator_socket->transport_dbg(t);
        CHECK(nw == 0);
        CHECK(h.rd(AIMC_REG_IRQ_MASK) == 0x1);
        /* no DMI into the registers */
        tlm::tlm_dmi dmi;
        t.set_command(tlm::TLM_READ_COMMAND);
        t.set_address(REGS);
        const bool granted = P.k == AT ? P.ati->initiator_socket->get_direct_mem_ptr(t, dmi)
                                       : P.lti->initiator_socket->get_direct_mem_ptr(t, dmi);
        CHECK(!granted);
        h.wr(AIMC_REG_IRQ_MASK, 0);
    }

    /* Every DMA transaction that began in [t0, t1] ended by t1; the one writing y began
     * after the job's work (its busy cycles after t0). */
    void dma_in(const sc_time &t0, const sc_time &t1, uint64_t y, const sc_time &work,
                const char *what)
    {
        const std::vector<tlm_probe::record> r = P.p_dma.between(t0, t1);
        size_t outside = 0, y_writes = 0, y_early = 0;
        sc_time first = t1, last = t0, y_at = SC_ZERO_TIME;
        for (const tlm_probe::record &x : r) {
            if (!x.done || x.end > t1 || x.begin < t0) outside++;
            if (x.begin < first) first = x.begin;
            if (x.end > last) last = x.end;
            if (x.cmd == tlm::TLM_WRITE_COMMAND && x.addr == y) {
                y_writes++;
                y_at = x.begin;
                if (x.begin < t0 + work) y_early++;
            }
        }
        std::printf("  %s: %zu DMA transactions from %s to %s; y written at %s (work ends "
                    "after %s); doorbell %s, interrupt %s\n",
                    what, r.size(), first.to_string().c_str(), last.to_string().c_str(),
                    y_at.to_string().c_str(), (t0 + work).to_string().c_str(),
                    t0.to_string().c_str(), t1.to_string().c_str());
        CHECK(outside == 0);
        if (P.k != LT_DMI) { /* with DMI the device reaches memory without transactions */
            CHECK(!r.empty());
            CHECK(y_writes == 1);
            CHECK(y_early == 0);
        }
    }

    sc_time full_job()
    {
        ring_setup();
        program_desc(0);
        job j = mvm_desc(1, 1, X_ADDR, Y_ADDR, 0);
        wr(AIMC_REG_RING_TAIL, tail = 2);
        const sc_time t_bell = sc_core::sc_time_stamp();
        wr(AIMC_REG_DOORBELL, 1);
        const sc_time t_bell_end = sc_core::sc_time_stamp(), bell_took = t_bell_end - t_bell;
        /* posted: the doorbell's transaction takes a register access's time, not the job's */
        CHECK(bell_took <= (P.k == AT ? AT_END_RSP + sc_time(10, SC_NS) : period));
        /* the host goes on while the device works */
        CHECK((h.rd(AIMC_REG_STATUS) & AIMC_REG_STATUS_BUSY) != 0);
        CHECK(h.wait_irq(sc_time(1, sc_core::SC_MS)));
        const sc_time t_irq = sc_core::sc_time_stamp();
        const uint32_t cycles = h.rd(AIMC_REG_CNT_CYCLES_LO);
        CHECK(h.rd(AIMC_REG_ERROR) == 0);
        CHECK(h.rd(AIMC_REG_DONE_FENCE_LO) == fence);
        CHECK(h.rd(AIMC_REG_RING_HEAD) == 2);
        CHECK(status_done(0) && status_done(1));
        CHECK(y_ok(j));
        CHECK(t_irq - t_bell > (double)cycles * period); /* the work's cycles at least */
        std::printf("  full job: doorbell took %s, interrupt %s after it (%u busy cycles)\n",
                    bell_took.to_string().c_str(), (t_irq - t_bell).to_string().c_str(), cycles);
        dma_in(t_bell, t_irq, Y_ADDR, (double)cycles * period, "full job");
        if (P.k == AT) { /* the device's DMA crossed the bus while the doorbell was open */
            const std::vector<tlm_probe::record> r = P.p_dma.between(t_bell, t_irq);
            CHECK(!r.empty() && r.front().begin < t_bell_end);
            if (!r.empty())
                std::printf("  full job: first DMA at %s, the doorbell's transaction open until "
                            "%s\n", r.front().begin.to_string().c_str(),
                            t_bell_end.to_string().c_str());
        }
        h.wr(AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);
        sc_core::wait(10 * period);
        CHECK(!h.irq.read());
        return t_irq - t_bell;
    }

    /* Wait until a DMA transaction of the device is open on the bus (the device's thread
     * waits in it), at most `limit`: with a memory that wait()s, or behind the AT bus,
     * register writes then arrive while the device is inside the model. True if one is. */
    bool dma_open(const sc_time &limit)
    {
        const sc_time end = sc_core::sc_time_stamp() + limit;
        while (sc_core::sc_time_stamp() < end) {
            if (!P.p_dma.log.empty() && !P.p_dma.log.back().done) return true;
            sc_core::wait(period);
        }
        return false;
    }

    /* A long job, then a second doorbell while it runs (while the device's DMA is in
     * flight, where it is a transaction). Returns the long job's time. */
    sc_time busy()
    {
        const uint64_t posted0 = P.dev.posted_writes();
        const uint32_t head0 = h.rd(AIMC_REG_RING_HEAD), n = tail;
        job a = mvm_desc(n, B_LONG, X_ADDR, Y_ADDR, 1);
        const uint64_t fence_a = fence;
        job b = mvm_desc(n + 1, 1, X2_ADDR, Y2_ADDR, 2);
        wr(AIMC_REG_RING_TAIL, tail = n + 1);
        const sc_time t_a = sc_core::sc_time_stamp();
        wr(AIMC_REG_DOORBELL, 1);
        const bool in_dma = dma_open(sc_time(20, SC_US));
        if (P.k != LT_DMI) CHECK(in_dma);
        wr(AIMC_REG_RING_TAIL, tail = n + 2);
        wr(AIMC_REG_DOORBELL, 1); /* while busy: a hint */
        const bool busy_seen = (h.rd(AIMC_REG_STATUS) & AIMC_REG_STATUS_BUSY) != 0;
        CHECK(busy_seen);
        CHECK(!status_done(n)); /* the long job is still running */
        /* A completes first: its interrupt while B is not done */
        CHECK(h.wait_irq(sc_time(1, sc_core::SC_MS)));
        const sc_time t_a_done = sc_core::sc_time_stamp();
        CHECK(status_done(n));
        if (P.k == LT_DMI) CHECK(!status_done(n + 1)); /* a read takes 1 ns here */
        h.wr(AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);
        if (!status_done(n + 1)) CHECK(h.wait_irq(sc_time(1, sc_core::SC_MS)));
        CHECK(status_done(n + 1));
        h.wr(AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);
        CHECK(h.rd(AIMC_REG_ERROR) == 0);
        CHECK(h.rd(AIMC_REG_RING_HEAD) == head0 + 2);
        CHECK(h.rd(AIMC_REG_DONE_FENCE_LO) == fence);
        CHECK(fence == fence_a + 1);
        CHECK(y_ok(a));
        CHECK(y_ok(b));
        /* in order: A's status word was written before B's (where DMA is a transaction) */
        sc_time st_a = SC_ZERO_TIME, st_b = SC_ZERO_TIME;
        for (const tlm_probe::record &x : P.p_dma.between(t_a, sc_core::sc_time_stamp())) {
            if (x.cmd != tlm::TLM_WRITE_COMMAND) continue;
            if (x.addr == slot_addr(n) + AIMC_DESC_STATUS) st_a = x.begin;
            if (x.addr == slot_addr(n + 1) + AIMC_DESC_STATUS) st_b = x.begin;
        }
        if (P.k != LT_DMI) CHECK(st_a > SC_ZERO_TIME && st_b > st_a);
        std::printf("  busy: second doorbell while busy (BUSY %s), job A done after %s, "
                    "status words at %s and %s; %llu register writes posted while the device "
                    "was in a DMA\n",
                    busy_seen ? "seen" : "NOT seen", (t_a_done - t_a).to_string().c_str(),
                    st_a.to_string().c_str(), st_b.to_string().c_str(),
                    (unsigned long long)(P.dev.posted_writes() - posted0));
        if (P.k != LT_DMI) CHECK(P.dev.posted_writes() > posted0);
        return t_a_done - t_a;
    }

    /* SOFT_RESET during a long job: while a DMA transaction of the device is open (after
     * == 0; where DMA is a transaction) or `after` the doorbell. Nothing is written to
     * memory after it; then the device works again. */
    void reset_during(const sc_time &after, const char *what)
    {
        const uint32_t n = tail;
        const uint64_t posted0 = P.dev.posted_writes();
        job a = mvm_desc(n, B_LONG, X_ADDR, Y_ADDR, 3);
        wr(AIMC_REG_RING_TAIL, tail = n + 1);
        wr(AIMC_REG_DOORBELL, 1);
        if (after == SC_ZERO_TIME) {
            const bool in_dma = dma_open(sc_time(20, SC_US));
            if (P.k != LT_DMI) CHECK(in_dma);
        } else {
            sc_core::wait(after);
        }
        wr(AIMC_REG_CTRL, AIMC_REG_CTRL_SOFT_RESET);
        /* when the write reached the device: its request's time on the register link */
        const sc_time t_reset = P.p_regs.log.back().begin;
        CHECK(P.p_regs.log.back().cmd == tlm::TLM_WRITE_COMMAND &&
              P.p_regs.log.back().addr == AIMC_REG_CTRL);
        sc_core::wait(sc_time(200, SC_US)); /* far longer than the job */
        size_t late = 0;
        for (const tlm_probe::record &x : P.p_dma.log)
            if (x.cmd == tlm::TLM_WRITE_COMMAND && x.begin > t_reset) late++;
        CHECK(late == 0);
        std::vector<uint32_t> y(a.batch * C);
        h.get(Y_ADDR, y.data(), (unsigned)(y.size() * 4));
        size_t touched = 0;
        for (uint32_t v : y) touched += v != SENTINEL;
        CHECK(touched == 0);
        CHECK(!status_done(n));
        CHECK(!h.irq.read());
        CHECK(h.rd(AIMC_REG_CTRL) == 0);
        CHECK(h.rd(AIMC_REG_RING_SIZE) == 0);
        CHECK((h.rd(AIMC_REG_STATUS) & AIMC_REG_STATUS_BUSY) == 0);
        CHECK(h.rd(AIMC_REG_ERROR) == 0);
        const uint64_t posted = P.dev.posted_writes() - posted0;
        std::printf("  reset %s: at %s (%s), %zu DMA writes after it, %zu words of y touched\n",
                    what, t_reset.to_string().c_str(), posted ? "posted" : "applied at once",
                    late, touched);
        if (after == SC_ZERO_TIME && P.k != LT_DMI) CHECK(posted > 0);
        /* usable after: a fresh ring, the matrix again, a job */
        ring_setup();
        program_desc(0);
        job j = mvm_desc(1, 2, X2_ADDR, Y2_ADDR, 4);
        wr(AIMC_REG_RING_TAIL, tail = 2);
        wr(AIMC_REG_DOORBELL, 1);
        CHECK(h.wait_irq(sc_time(1, sc_core::SC_MS)));
        CHECK(status_done(1));
        CHECK(h.rd(AIMC_REG_ERROR) == 0);
        CHECK(y_ok(j));
        h.wr(AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);
    }

    void interrupt()
    {
        h.wr(AIMC_REG_IRQ_MASK, 0); /* the cause without the line */
        uint8_t d[AIMC_DESC_BYTES] = {};
        le(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_FENCE, 2);
        le(d + AIMC_DESC_FENCE, ++fence, 8);
        put_desc(tail, d);
        wr(AIMC_REG_RING_TAIL, ++tail);
        wr(AIMC_REG_DOORBELL, 1);
        sc_core::wait(sc_time(50, SC_US));
        CHECK(h.rd(AIMC_REG_IRQ_STATUS) == AIMC_REG_IRQ_DONE);
        CHECK(!h.irq.read());
        h.wr(AIMC_REG_IRQ_MASK, AIMC_REG_IRQ_DONE); /* now the line rises */
        const sc_time t_mask = sc_core::sc_time_stamp();
        CHECK(h.wait_irq(sc_time(1, SC_US)));
        const sc_time rose = sc_core::sc_time_stamp() - t_mask;
        h.wr(AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_DONE); /* acknowledged: it falls */
        sc_core::wait(2 * period);
        CHECK(!h.irq.read());
        CHECK(h.rd(AIMC_REG_IRQ_STATUS) == 0);
        std::printf("  interrupt: line rose %s after IRQ_MASK was written, fell on the "
                    "acknowledgement\n", rose.to_string().c_str());
    }

    /* aimc_sysc_mem: byte enables are a BYTE_ENABLE_ERROR, a short streaming width a
     * BURST_ERROR (TLM-2.0 14.17). */
    void memory_model()
    {
        uint32_t v = 0;
        const unsigned char be[4] = {0xff, 0xff, 0xff, 0xff};
        auto go = [&](const unsigned char *bep, unsigned ben, unsigned sw) {
            gp t;
            sc_time d = SC_ZERO_TIME;
            t.set_command(tlm::TLM_READ_COMMAND);
            t.set_address(0);
            t.set_data_ptr(reinterpret_cast<unsigned char *>(&v));
            t.set_data_length(4);
            t.set_streaming_width(sw);
            t.set_byte_enable_ptr(const_cast<unsigned char *>(bep));
            t.set_byte_enable_length(ben);
            t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
            h.mem_socket->b_transport(t, d);
            return t.get_response_status();
        };
        CHECK(go(nullptr, 0, 4) == tlm::TLM_OK_RESPONSE);
        CHECK(go(be, 4, 4) == tlm::TLM_BYTE_ENABLE_ERROR_RESPONSE);
        CHECK(go(nullptr, 0, 2) == tlm::TLM_BURST_ERROR_RESPONSE);
    }

    /* Our own AT initiator on the second device: END_REQ at the request's annotated time,
     * BEGIN_RESP a clock period later, each way of ending the response, and a second
     * response held back until the first has ended (response exclusion). */
    void nb_direct()
    {
        nb_host &n = P.nb;
        const sc_time d3(3, SC_NS);
        auto begin = [&](tlm::tlm_command cmd, uint32_t off, uint32_t *v) {
            gp *t = new gp(&n);
            t->acquire();
            t->set_command(cmd);
            t->set_address(off);
            t->set_data_ptr(reinterpret_cast<unsigned char *>(v));
            t->set_data_length(4);
            t->set_streaming_width(4);
            t->set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
            tlm::tlm_phase ph = tlm::BEGIN_REQ;
            sc_time d = d3;
            CHECK(n.socket->nb_transport_fw(*t, ph, d) == tlm::TLM_ACCEPTED);
            return t;
        };
        auto until = [&](std::map<const gp *, sc_time> &m, const gp *t) {
            for (int i = 0; i < 100 && !m.count(t); i++) sc_core::wait(sc_time(1, SC_US), n.ev);
            return m.count(t) ? m[t] : sc_core::sc_max_time();
        };
        auto done = [&](gp *t) { /* forget it: a new transaction may get its address */
            n.end_req.erase(t);
            n.begin_resp.erase(t);
            t->release();
        };
        auto end_resp = [&](gp *t) {
            tlm::tlm_phase ph = tlm::END_RESP;
            sc_time d = SC_ZERO_TIME;
            CHECK(n.socket->nb_transport_fw(*t, ph, d) == tlm::TLM_COMPLETED);
        };
        for (int mode = 0; mode < 3; mode++) {
            n.mode = mode;
            uint32_t v = 0, w = (uint32_t)mode + 1; /* within IRQ_ALL */
            const sc_time t0 = sc_core::sc_time_stamp();
            gp *t = begin(tlm::TLM_WRITE_COMMAND, AIMC_REG_IRQ_MASK, &w);
            CHECK(until(n.end_req, t) == t0 + d3);
            CHECK(until(n.begin_resp, t) == t0 + d3 + period);
            CHECK(t->get_response_status() == tlm::TLM_OK_RESPONSE);
            if (mode == 0) end_resp(t);
            done(t);
            const sc_time t1 = sc_core::sc_time_stamp() + sc_time(10, SC_NS);
            sc_core::wait(t1 - sc_core::sc_time_stamp());
            gp *r = begin(tlm::TLM_READ_COMMAND, AIMC_REG_IRQ_MASK, &v);
            CHECK(until(n.begin_resp, r) == t1 + d3 + period);
            CHECK(r->get_response_status() == tlm::TLM_OK_RESPONSE && v == w);
            if (mode == 0) end_resp(r);
            done(r);
            sc_core::wait(sc_time(10, SC_NS));
        }
        /* two requests, the first response held open 50 ns: the second's waits for it */
        n.mode = 0;
        uint32_t a = 0, b = 0;
        const sc_time t0 = sc_core::sc_time_stamp();
        gp *ta = begin(tlm::TLM_READ_COMMAND, AIMC_REG_ID, &a);
        until(n.end_req, ta);
        gp *tb = begin(tlm::TLM_READ_COMMAND, AIMC_REG_VERSION, &b);
        CHECK(until(n.begin_resp, ta) == t0 + d3 + period);
        sc_core::wait(sc_time(50, SC_NS));
        CHECK(!n.begin_resp.count(tb));
        const sc_time t_end = sc_core::sc_time_stamp();
        end_resp(ta);
        CHECK(until(n.begin_resp, tb) == t_end);
        end_resp(tb);
        CHECK(a == AIMC_REG_ID_VALUE && b == AIMC_REG_VERSION_VALUE);
        done(ta);
        done(tb);
        /* an error response: at once, no latency */
        uint32_t e = 0;
        const sc_time t2 = sc_core::sc_time_stamp();
        gp *te = begin(tlm::TLM_READ_COMMAND, AIMC_REG_WINDOW_BYTES, &e);
        CHECK(until(n.begin_resp, te) == t2 + d3);
        CHECK(te->get_response_status() == tlm::TLM_ADDRESS_ERROR_RESPONSE);
        end_resp(te);
        done(te);
        std::printf("  our own AT initiator: END_REQ at the request's time, BEGIN_RESP a "
                    "period later, ended by END_RESP, UPDATED or COMPLETED; responses one at "
                    "a time\n");
    }

    void run()
    {
        std::printf("%s:\n", kind_name(P.k));
        nb_direct();
        registers();
        memory_model();
        full_job();
        const sc_time long_job = busy();
        /* a reset right after the doorbell (the fetch and the operands' DMA in flight),
         * and one in the middle of the computation */
        reset_during(SC_ZERO_TIME, "during the job's DMA");
        reset_during(long_job / 2, "while the job computes");
        interrupt();
    }
};

} // namespace

int sc_main(int argc, char *argv[])
{
    kind k;
    if (argc == 2 && std::strcmp(argv[1], "lt-dmi") == 0)
        k = LT_DMI;
    else if (argc == 2 && std::strcmp(argv[1], "lt-synch") == 0)
        k = LT_SYNCH;
    else if (argc == 2 && std::strcmp(argv[1], "at") == 0)
        k = AT;
    else {
        std::fprintf(stderr, "usage: sysc_tlm lt-dmi|lt-synch|at\n");
        return 2;
    }
    std::setvbuf(stdout, nullptr, _IOLBF, 0); /* every line out before a sanitizer's abort */
    /* the kernel's own informational messages off (the examples' reports are off already) */
    sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
    aimc_arch a;
    aimc_arch_defaults(&a);
    the = new platform(k, &a);
    if (!the->dev.ok()) {
        std::printf("aimc: %s\n", the->dev.error().c_str());
        return 1;
    }
    scenario s(*the);
    the->cpu.program = [&s] { s.run(); };
    sc_core::sc_start(sc_time(100, sc_core::SC_MS));
    CHECK(the->cpu.finished); /* else the simulation ran out of events or time: a deadlock */
    if (!the->cpu.finished)
        std::printf("  the host did not finish: simulation stopped at %s\n",
                    sc_core::sc_time_stamp().to_string().c_str());
    const tlm_probe *probes[5] = {&the->p_cpu, &the->p_dma, &the->p_mem, &the->p_regs,
                                  &the->p_nb};
    for (const tlm_probe *p : probes) {
        tlm_probe *q = const_cast<tlm_probe *>(p);
        const size_t v = q->finish();
        CHECK(v == 0);
        for (const std::string &m : q->violations) std::printf("  protocol: %s\n", m.c_str());
        std::printf("  %s: %zu transactions, %llu DMI grants, 0 violations expected, %zu seen\n",
                    q->name(), q->log.size(), (unsigned long long)q->dmi_granted, v);
    }
    std::printf("  aimc: %llu DMA transactions, %llu through DMI, %llu DMI grants\n",
                (unsigned long long)the->dev.dma_transactions(),
                (unsigned long long)the->dev.dma_dmi_accesses(),
                (unsigned long long)the->dev.dmi_grants());
    if (k == LT_DMI) CHECK(the->dev.dma_dmi_accesses() > 0);
    std::printf("sysc-tlm %s: %d passed, %d failed\n", kind_name(k), n_pass, n_fail);
    return n_fail ? 1 : 0;
}
