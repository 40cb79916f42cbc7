/* sysc_platform.cpp - a user's SystemC platform with the aimc device in it (docs/sysc.md):
 * the user's own CPU model (an initiator thread) and the device's DMA reach, through the
 * user's own bus (an address router), a RAM and the device's registers; the device's
 * interrupt wakes the CPU. The CPU programs an 8 x 5 matrix and runs one y = x W by writing
 * command descriptors into RAM, as a driver does, and checks y against the exact product.
 * make test builds and runs it; it exits non-zero if anything is wrong.
 *
 *   cpu.socket ──► bus ──► [0x0000_0000, 1 MiB)  ram (aimc_sysc_mem, grants DMI)
 *   aimc.dma   ──►     └─► [0x4000_0000, 4 KiB)  aimc.regs
 *   aimc.irq ──► irq signal ──► cpu.irq
 */
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/tlm_quantumkeeper.h>

#include "aimc_sysc.h"

extern "C" {
#include "aimc_regs.h"
}

using namespace sc_core;

static const uint64_t RAM_BASE = 0x00000000, RAM_BYTES = 1 << 20;
static const uint64_t AIMC_BASE = 0x40000000;

/* Store v little-endian in n bytes at p (descriptors and records are little-endian). */
static void le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* The user's interconnect: two targets behind an address decoder, any number of
 * initiators in front. Forwards b_transport, the debug transport and DMI (with the address
 * translated), and DMI invalidations back to every initiator. */
struct bus : sc_module {
    tlm_utils::multi_passthrough_target_socket<bus> in;
    tlm_utils::multi_passthrough_initiator_socket<bus> out; /* 0: ram, 1: aimc regs */

    SC_CTOR(bus) : in("in"), out("out")
    {
        in.register_b_transport(this, &bus::b_transport);
        in.register_transport_dbg(this, &bus::transport_dbg);
        in.register_get_direct_mem_ptr(this, &bus::get_dmi);
        out.register_invalidate_direct_mem_ptr(this, &bus::invalidate);
    }
    /* Target port and its base for addr, or -1. */
    int decode(uint64_t addr, uint64_t &base)
    {
        if (addr >= RAM_BASE && addr - RAM_BASE < RAM_BYTES) return base = RAM_BASE, 0;
        if (addr >= AIMC_BASE && addr - AIMC_BASE < AIMC_REG_WINDOW_BYTES)
            return base = AIMC_BASE, 1;
        return -1;
    }
    void b_transport(int, tlm::tlm_generic_payload &t, sc_time &delay)
    {
        uint64_t addr = t.get_address(), base;
        int port = decode(addr, base);
        if (port < 0) return t.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
        t.set_address(addr - base);
        out[port]->b_transport(t, delay);
        t.set_address(addr);
    }
    unsigned int transport_dbg(int, tlm::tlm_generic_payload &t)
    {
        uint64_t addr = t.get_address(), base;
        int port = decode(addr, base);
        if (port < 0) return 0;
        t.set_address(addr - base);
        unsigned int n = out[port]->transport_dbg(t);
        t.set_address(addr);
        return n;
    }
    bool get_dmi(int, tlm::tlm_generic_payload &t, tlm::tlm_dmi &dmi)
    {
        uint64_t addr = t.get_address(), base;
        int port = decode(addr, base);
        if (port < 0) return false;
        t.set_address(addr - base);
        bool ok = out[port]->get_direct_mem_ptr(t, dmi);
        t.set_address(addr);
        dmi.set_start_address(dmi.get_start_address() + base);
        dmi.set_end_address(dmi.get_end_address() + base);
        return ok;
    }
    void invalidate(int port, sc_dt::uint64 start, sc_dt::uint64 end)
    {
        uint64_t base = port == 0 ? RAM_BASE : AIMC_BASE;
        for (unsigned i = 0; i < in.size(); i++) in[i]->invalidate_direct_mem_ptr(start + base, end + base);
    }
};

/* The user's CPU: a loosely timed initiator thread with a quantum keeper. */
struct cpu : sc_module {
    tlm_utils::simple_initiator_socket<cpu> socket;
    sc_in<bool> irq;
    int failures = 0;
    tlm_utils::tlm_quantumkeeper qk;

    SC_CTOR(cpu) : socket("socket"), irq("irq")
    {
        SC_THREAD(run);
    }

    void access(tlm::tlm_command cmd, uint64_t addr, void *p, unsigned n)
    {
        tlm::tlm_generic_payload t;
        sc_time delay = qk.get_local_time();
        t.set_command(cmd);
        t.set_address(addr);
        t.set_data_ptr(static_cast<unsigned char *>(p));
        t.set_data_length(n);
        t.set_streaming_width(n);
        t.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
        socket->b_transport(t, delay);
        if (t.get_response_status() != tlm::TLM_OK_RESPONSE) failures++;
        qk.set(delay);
        if (qk.need_sync()) qk.sync();
    }
    void wr32(uint32_t off, uint32_t v) { access(tlm::TLM_WRITE_COMMAND, AIMC_BASE + off, &v, 4); }
    uint32_t rd32(uint32_t off)
    {
        uint32_t v = 0;
        access(tlm::TLM_READ_COMMAND, AIMC_BASE + off, &v, 4);
        return v;
    }
    void put(uint64_t addr, const void *p, unsigned n)
    {
        access(tlm::TLM_WRITE_COMMAND, addr, const_cast<void *>(p), n);
    }
    void wait_irq()
    {
        qk.sync();
        if (!irq.read()) wait(irq.posedge_event());
        qk.reset();
        wr32(AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);
    }

    void run()
    {
        enum { R = 8, C = 5 };
        const uint64_t ring = 0x1000, w_addr = 0x2000, tiles_addr = 0x3000, x_addr = 0x4000,
                       y_addr = 0x5000;
        aimc_arch a;
        aimc_arch_defaults(&a);
        float w[R * C], x[R], y[C] = {0};
        for (int i = 0; i < R * C; i++) w[i] = (float)((i * 7) % 11 - 5) / 8.0f;
        for (int r = 0; r < R; r++) x[r] = (float)(r - 3) / 4.0f;
        put(w_addr, w, sizeof w);
        put(x_addr, x, sizeof x);
        int n = aimc_arch_slices(&a);
        for (int s = 0; s < n; s++) {
            uint8_t rec[AIMC_REC_TILE_BYTES] = {};
            le(rec + AIMC_REC_TILE_NROWS, R, 4);
            le(rec + AIMC_REC_TILE_NCOLS, C, 4);
            le(rec + AIMC_REC_TILE_SLICE, (uint32_t)s, 4);
            le(rec + AIMC_REC_TILE_XBAR, (uint32_t)s, 4); /* one crossbar per bit slice */
            put(tiles_addr + (uint64_t)s * AIMC_REC_TILE_BYTES, rec, sizeof rec);
        }
        /* two descriptors: PROGRAM, then MVM with an interrupt */
        uint8_t d[2][AIMC_DESC_BYTES] = {};
        le(d[0] + AIMC_DESC_OPCODE, AIMC_DESC_OP_PROGRAM, 2);
        le(d[0] + AIMC_DESC_FENCE, 1, 8);
        le(d[0] + AIMC_DESC_PROG_MATRIX, 0, 4);
        le(d[0] + AIMC_DESC_PROG_ROWS, R, 4);
        le(d[0] + AIMC_DESC_PROG_COLS, C, 4);
        le(d[0] + AIMC_DESC_PROG_NTILES, (uint32_t)n, 4);
        le(d[0] + AIMC_DESC_PROG_W_ADDR, w_addr, 8);
        le(d[0] + AIMC_DESC_PROG_TILES_ADDR, tiles_addr, 8);
        le(d[1] + AIMC_DESC_OPCODE, AIMC_DESC_OP_MVM, 2);
        le(d[1] + AIMC_DESC_FLAGS, AIMC_DESC_FLAG_IRQ, 2);
        le(d[1] + AIMC_DESC_FENCE, 2, 8);
        le(d[1] + AIMC_DESC_MVM_MATRIX, 0, 4);
        le(d[1] + AIMC_DESC_MVM_BATCH, 1, 4);
        le(d[1] + AIMC_DESC_MVM_ROWS, R, 4);
        le(d[1] + AIMC_DESC_MVM_COLS, C, 4);
        le(d[1] + AIMC_DESC_MVM_X_ADDR, x_addr, 8);
        le(d[1] + AIMC_DESC_MVM_Y_ADDR, y_addr, 8);
        put(ring, d, sizeof d);

        if (rd32(AIMC_REG_ID) != AIMC_REG_ID_VALUE) failures++;
        wr32(AIMC_REG_RING_BASE_LO, (uint32_t)ring);
        wr32(AIMC_REG_RING_BASE_HI, 0);
        wr32(AIMC_REG_RING_SIZE, 4);
        wr32(AIMC_REG_IRQ_MASK, AIMC_REG_IRQ_ALL);
        wr32(AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
        wr32(AIMC_REG_RING_TAIL, 2);
        sc_time t0 = qk.get_current_time();
        wr32(AIMC_REG_DOORBELL, 1);
        wait_irq();
        sc_time t1 = sc_time_stamp();
        uint32_t done = rd32(AIMC_REG_DONE_FENCE_LO), err = rd32(AIMC_REG_ERROR);
        uint32_t cyc = rd32(AIMC_REG_CNT_CYCLES_LO);
        access(tlm::TLM_READ_COMMAND, y_addr, y, sizeof y);
        if (done != 2 || err != 0) failures++;
        for (int c = 0; c < C; c++) {
            double ref = 0;
            for (int r = 0; r < R; r++) ref += (double)x[r] * w[r * C + c];
            std::printf("y[%d] = %8.4f  (exact %8.4f)\n", c, y[c], ref);
            if (std::fabs(y[c] - ref) > 0.1) failures++; /* 8-bit DAC and ADC, read noise */
        }
        std::printf("doorbell at %s, interrupt at %s (%u device cycles), %s\n",
                    t0.to_string().c_str(), t1.to_string().c_str(), cyc,
                    failures ? "FAILED" : "ok");
        sc_stop();
    }
};

int sc_main(int, char *[])
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    tlm::tlm_global_quantum::instance().set(sc_time(1, SC_US));
    std::vector<unsigned char> mem(RAM_BYTES);
    cpu c("cpu");
    bus b("bus");
    aimc_sysc_mem ram("ram");
    aimc_sysc_dev dev("aimc", &a, 42);
    sc_signal<bool> irq("irq");
    if (!dev.ok()) return std::fprintf(stderr, "aimc: %s\n", dev.error().c_str()), 1;
    ram.map(RAM_BASE, mem.data(), mem.size());
    c.socket.bind(b.in);
    dev.dma.bind(b.in);
    b.out.bind(ram.socket);
    b.out.bind(dev.regs);
    dev.irq.bind(irq);
    c.irq.bind(irq);
    sc_start();
    std::printf("sysc_platform: dma %llu transactions, %llu through DMI\n",
                (unsigned long long)dev.dma_transactions(),
                (unsigned long long)dev.dma_dmi_accesses());
    return c.failures || dev.dma_dmi_accesses() == 0 ? 1 : 0;
}
