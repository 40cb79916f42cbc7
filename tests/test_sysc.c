/* test_sysc.c - the SystemC virtual platform (sim/sysc/aimc_vp.h) and the "sysc:" backend:
 * register latency in SystemC time, DMA as TLM transactions and through DMI, the interrupt,
 * one platform per process, and results bit-identical to "sim:". The conformance suite
 * runs on sysc: too (tests/conformance, "conformance sysc:").
 */
#include <string.h>

#include <CUnit/CUnit.h>

#include "aimc.h"
#include "aimc_cost.h"
#include "aimc_regs.h"
#include "aimc_tile.h"
#include "aimc_vp.h"
#include "tests.h"

#define SYSC_MHZ 500.0 /* a 2 ns clock: every delay below is a whole number of ns */
#define SYSC_PERIOD_NS 2u

static void sysc_arch(aimc_arch *a)
{
    aimc_arch_defaults(a);
    a->clock.frequency_mhz = SYSC_MHZ;
}

/* Register accesses cost reg_latency_cycles clock periods each, in the host's local time
 * and, after a sync, in sc_time_stamp(). */
static void test_reg_latency(void)
{
    aimc_arch a;
    aimc_vp *vp = NULL;
    aimc_diag d = {{0}};
    uint32_t v = 0;
    sysc_arch(&a);
    for (uint32_t lat = 1; lat <= 3; lat += 2) {
        aimc_vp_opts o = {.arch = &a, .seed = 1, .quantum_ns = 1000, .reg_latency_cycles = lat};
        CU_ASSERT_EQUAL_FATAL(aimc_vp_create(&o, &vp, &d), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_vp_sync(vp), AIMC_OK);
        uint64_t k0 = aimc_vp_kernel_time_ns(vp), t0 = aimc_vp_time_ns(vp);
        CU_ASSERT_EQUAL(k0, t0);
        CU_ASSERT_EQUAL(aimc_vp_reg_read32(vp, AIMC_REG_ID, &v), AIMC_OK);
        CU_ASSERT_EQUAL(v, AIMC_REG_ID_VALUE);
        CU_ASSERT_EQUAL(aimc_vp_time_ns(vp) - t0, lat * SYSC_PERIOD_NS);
        CU_ASSERT_EQUAL(aimc_vp_kernel_time_ns(vp), k0); /* within the quantum: local only */
        for (int i = 1; i < 100; i++) {
            CU_ASSERT_EQUAL(aimc_vp_reg_write32(vp, AIMC_REG_IRQ_MASK, 0), AIMC_OK);
        }
        CU_ASSERT_EQUAL(aimc_vp_time_ns(vp) - t0, 100u * lat * SYSC_PERIOD_NS);
        CU_ASSERT_EQUAL(aimc_vp_sync(vp), AIMC_OK);
        /* sc_time_stamp() moved by exactly the 100 accesses' latency */
        CU_ASSERT_EQUAL(aimc_vp_kernel_time_ns(vp) - k0, 100u * lat * SYSC_PERIOD_NS);
        aimc_vp_stats s;
        CU_ASSERT_EQUAL(aimc_vp_stats_get(vp, &s), AIMC_OK);
        CU_ASSERT_EQUAL(s.reg_transactions, 100);
        /* the quantum keeper synchronised at each 1000 ns quantum boundary crossed */
        CU_ASSERT_EQUAL(s.syncs, (k0 + 100u * lat * SYSC_PERIOD_NS) / 1000u - k0 / 1000u);
        /* outside the window or unaligned: an error response, no time */
        uint64_t t1 = aimc_vp_time_ns(vp);
        CU_ASSERT_EQUAL(aimc_vp_reg_read32(vp, AIMC_REG_WINDOW_BYTES, &v), AIMC_ERR_RANGE);
        CU_ASSERT_EQUAL(aimc_vp_reg_write32(vp, AIMC_REG_CTRL + 1, 1), AIMC_ERR_RANGE);
        CU_ASSERT_EQUAL(aimc_vp_time_ns(vp), t1);
        aimc_vp_destroy(vp);
    }
}

/* One platform at a time; a new one starts where time was; NULL-safe destroy. */
static void test_one_platform(void)
{
    aimc_vp *vp = NULL, *vp2 = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_PTR_NULL(aimc_vp_current());
    CU_ASSERT_EQUAL_FATAL(aimc_vp_create(NULL, &vp, &d), AIMC_OK);
    CU_ASSERT_PTR_EQUAL(aimc_vp_current(), vp);
    CU_ASSERT_EQUAL(aimc_vp_create(NULL, &vp2, &d), AIMC_ERR_STATE);
    CU_ASSERT_PTR_NULL(vp2);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "one platform"));
    aimc_dev *dev = NULL;
    aimc_open_opts oo = {.diag = &d};
    CU_ASSERT_EQUAL(aimc_open("sysc:", &oo, &dev), AIMC_ERR_STATE);
    CU_ASSERT_PTR_NULL(dev);
    CU_ASSERT_EQUAL(aimc_vp_run(vp, 5000), AIMC_ERR_TIMEOUT); /* enabled nothing: no irq */
    uint64_t t = aimc_vp_time_ns(vp);
    aimc_vp_destroy(vp);
    aimc_vp_destroy(NULL);
    CU_ASSERT_PTR_NULL(aimc_vp_current());
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.crossbar.rows = 0; /* the model refuses it: the reason comes back */
    aimc_vp_opts o = {.arch = &a};
    CU_ASSERT(aimc_vp_create(&o, &vp, &d) < 0);
    CU_ASSERT_PTR_NULL(vp);
    CU_ASSERT_EQUAL_FATAL(aimc_vp_create(NULL, &vp, &d), AIMC_OK);
    CU_ASSERT(aimc_vp_time_ns(vp) >= t);
    aimc_vp_destroy(vp);
}

/* Program the device's ring by hand: FENCE commands fetched by DMA (TLM transactions, or
 * DMI), status written back, the interrupt raised; aimc_vp_run stops at it, SystemC time
 * having passed by the device's cycles. */
static void test_ring_dma_irq(void)
{
    for (int no_dmi = 0; no_dmi <= 1; no_dmi++) {
        enum { SLOTS = 4 };
        static uint8_t ring[SLOTS * AIMC_DESC_BYTES];
        const uint64_t base = 0x40000;
        aimc_vp *vp = NULL;
        aimc_diag d = {{0}};
        aimc_vp_opts o = {.no_dmi = no_dmi};
        uint32_t v = 0;
        CU_ASSERT_EQUAL_FATAL(aimc_vp_create(&o, &vp, &d), AIMC_OK);
        memset(ring, 0, sizeof ring);
        CU_ASSERT_EQUAL(aimc_vp_mem_map(vp, base, ring, sizeof ring), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_vp_mem_map(vp, base + 8, ring, 8), AIMC_ERR_INVALID); /* overlap */
        for (uint32_t i = 0; i < 3; i++) {
            aimc_le_put16(ring + i * AIMC_DESC_BYTES + AIMC_DESC_OPCODE, AIMC_DESC_OP_FENCE);
            aimc_le_put64(ring + i * AIMC_DESC_BYTES + AIMC_DESC_FENCE, 10 + i);
        }
        aimc_vp_reg_write32(vp, AIMC_REG_RING_BASE_LO, (uint32_t)base);
        aimc_vp_reg_write32(vp, AIMC_REG_RING_BASE_HI, 0);
        aimc_vp_reg_write32(vp, AIMC_REG_RING_SIZE, SLOTS);
        aimc_vp_reg_write32(vp, AIMC_REG_IRQ_MASK, AIMC_REG_IRQ_ALL);
        aimc_vp_reg_write32(vp, AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
        CU_ASSERT_EQUAL(aimc_vp_run(vp, 1000), AIMC_ERR_TIMEOUT);
        CU_ASSERT_EQUAL(aimc_vp_irq_level(vp), 0);
        aimc_vp_reg_write32(vp, AIMC_REG_RING_TAIL, 3);
        uint32_t clk0 = 0, clk1 = 0;
        CU_ASSERT_EQUAL(aimc_vp_reg_read32(vp, AIMC_REG_CNT_TIME_LO, &clk0), AIMC_OK);
        uint64_t t_bell = aimc_vp_time_ns(vp);
        CU_ASSERT_EQUAL(aimc_vp_reg_write32(vp, AIMC_REG_DOORBELL, 1), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_vp_run(vp, 1000000), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_vp_irq_level(vp), 1);
        /* The first FENCE raised the line once the device had fetched the three (one burst
         * over the host link) and written its status word back: the cost layer's cycles of
         * those two transfers after the doorbell, in SystemC time. */
        const uint64_t t_irq = aimc_vp_kernel_time_ns(vp);
        aimc_arch def;
        aimc_arch_defaults(&def); /* the platform's machine */
        aimc_cost_events ev = {0};
        const uint64_t fetch = aimc_cost_fetch(&def, 3, AIMC_DESC_BYTES, 0, &aimc_cost_free_booker, &ev);
        const uint64_t cycles = aimc_cost_complete(&def, fetch, &aimc_cost_free_booker, &ev);
        const double period_ns = 1000.0 / def.clock.frequency_mhz;
        CU_ASSERT(cycles > 2);
        CU_ASSERT_EQUAL(t_irq, t_bell + (uint64_t)((double)cycles * period_ns));
        /* the device's clock is SystemC time */
        CU_ASSERT_EQUAL(aimc_vp_reg_read32(vp, AIMC_REG_CNT_TIME_LO, &clk1), AIMC_OK);
        CU_ASSERT_EQUAL(clk1 - clk0, (t_irq - t_bell) / period_ns + 1); /* + the read before */
        /* each FENCE raises the line anew: run until all three have completed */
        for (int k = 0; k < 3 && (aimc_vp_reg_read32(vp, AIMC_REG_RING_HEAD, &v), v != 3); k++)
            (void)aimc_vp_run(vp, 1000000);
        CU_ASSERT_EQUAL(aimc_vp_reg_read32(vp, AIMC_REG_DONE_FENCE_LO, &v), AIMC_OK);
        CU_ASSERT_EQUAL(v, 12);
        CU_ASSERT_EQUAL(aimc_vp_reg_read32(vp, AIMC_REG_RING_HEAD, &v), AIMC_OK);
        CU_ASSERT_EQUAL(v, 3);
        aimc_vp_stats s;
        CU_ASSERT_EQUAL(aimc_vp_stats_get(vp, &s), AIMC_OK);
        /* one fetch of the three descriptors and 3 status write-backs */
        CU_ASSERT_EQUAL(s.dma_transactions + s.dma_dmi_accesses, 4);
        if (no_dmi) {
            CU_ASSERT_EQUAL(s.dmi_grants, 0);
            CU_ASSERT_EQUAL(s.dma_dmi_accesses, 0);
        } else {
            CU_ASSERT_EQUAL(s.dmi_grants, 1);
            CU_ASSERT_EQUAL(s.dma_transactions, 1); /* then DMI for the rest */
        }
        /* acknowledge: the line falls */
        aimc_vp_reg_write32(vp, AIMC_REG_IRQ_STATUS, AIMC_REG_IRQ_ALL);
        CU_ASSERT_EQUAL(aimc_vp_run(vp, 100), AIMC_ERR_TIMEOUT);
        CU_ASSERT_EQUAL(aimc_vp_irq_level(vp), 0);
        /* unmapped memory: the next descriptor's fetch is a DMA fault (ERROR.RING) */
        CU_ASSERT_EQUAL(aimc_vp_mem_unmap(vp, base), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_vp_mem_unmap(vp, base), AIMC_ERR_NOTFOUND);
        aimc_vp_reg_write32(vp, AIMC_REG_RING_TAIL, 4);
        aimc_vp_reg_write32(vp, AIMC_REG_DOORBELL, 1);
        CU_ASSERT_EQUAL(aimc_vp_run(vp, 1000000), AIMC_OK);
        CU_ASSERT_EQUAL(aimc_vp_reg_read32(vp, AIMC_REG_ERROR, &v), AIMC_OK);
        CU_ASSERT(v & AIMC_REG_ERROR_RING);
        aimc_vp_destroy(vp);
    }
}

/* A command's results reach host memory when its work ends, not when the device fetches
 * and computes it: while a PROGRAM programs the arrays, the MVM behind it (dispatched,
 * waiting for the PROGRAM) has written nothing; at its interrupt y is there. */
static void test_results_when_done(void)
{
    enum { R = 16, C = 8, B = 4 };
    static uint8_t mem[0x8000];
    const uint64_t base = 0x100000, ring = base, w_addr = base + 0x1000,
                   tiles = base + 0x2000, x_addr = base + 0x3000, y_addr = base + 0x4000;
    aimc_vp *vp = NULL;
    aimc_diag d = {{0}};
    aimc_arch a;
    aimc_arch_defaults(&a);
    CU_ASSERT_EQUAL_FATAL(aimc_vp_create(NULL, &vp, &d), AIMC_OK);
    memset(mem, 0, sizeof mem);
    CU_ASSERT_EQUAL(aimc_vp_mem_map(vp, base, mem, sizeof mem), AIMC_OK);
    for (int i = 0; i < R * C; i++) {
        float f = (float)((i * 5) % 9 - 4) / 8.0f;
        memcpy(mem + (w_addr - base) + 4 * (size_t)i, &f, 4);
    }
    for (int i = 0; i < B * R; i++) {
        float f = (float)((i * 3) % 7 - 3) / 4.0f;
        memcpy(mem + (x_addr - base) + 4 * (size_t)i, &f, 4);
    }
    memset(mem + (y_addr - base), 0xA5, B * C * 4);
    const int slices = aimc_arch_slices(&a);
    for (int s = 0; s < slices; s++) {
        uint8_t *rec = mem + (tiles - base) + (size_t)s * AIMC_REC_TILE_BYTES;
        aimc_le_put32(rec + AIMC_REC_TILE_NROWS, R);
        aimc_le_put32(rec + AIMC_REC_TILE_NCOLS, C);
        aimc_le_put32(rec + AIMC_REC_TILE_SLICE, (uint32_t)s);
        aimc_le_put32(rec + AIMC_REC_TILE_XBAR, (uint32_t)s);
    }
    uint8_t *p = mem + (ring - base), *m = p + AIMC_DESC_BYTES;
    aimc_le_put16(p + AIMC_DESC_OPCODE, AIMC_DESC_OP_PROGRAM);
    aimc_le_put64(p + AIMC_DESC_FENCE, 1);
    aimc_le_put32(p + AIMC_DESC_PROG_ROWS, R);
    aimc_le_put32(p + AIMC_DESC_PROG_COLS, C);
    aimc_le_put32(p + AIMC_DESC_PROG_NTILES, (uint32_t)slices);
    aimc_le_put64(p + AIMC_DESC_PROG_W_ADDR, w_addr);
    aimc_le_put64(p + AIMC_DESC_PROG_TILES_ADDR, tiles);
    aimc_le_put16(m + AIMC_DESC_OPCODE, AIMC_DESC_OP_MVM);
    aimc_le_put16(m + AIMC_DESC_FLAGS, AIMC_DESC_FLAG_IRQ | AIMC_DESC_FLAG_TO_HOST);
    aimc_le_put64(m + AIMC_DESC_FENCE, 2);
    aimc_le_put32(m + AIMC_DESC_MVM_BATCH, B);
    aimc_le_put32(m + AIMC_DESC_MVM_ROWS, R);
    aimc_le_put32(m + AIMC_DESC_MVM_COLS, C);
    aimc_le_put64(m + AIMC_DESC_MVM_X_ADDR, x_addr);
    aimc_le_put64(m + AIMC_DESC_MVM_Y_ADDR, y_addr);
    aimc_vp_reg_write32(vp, AIMC_REG_RING_BASE_LO, (uint32_t)ring);
    aimc_vp_reg_write32(vp, AIMC_REG_RING_BASE_HI, (uint32_t)(ring >> 32));
    aimc_vp_reg_write32(vp, AIMC_REG_RING_SIZE, 4);
    aimc_vp_reg_write32(vp, AIMC_REG_IRQ_MASK, AIMC_REG_IRQ_ALL);
    aimc_vp_reg_write32(vp, AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
    aimc_vp_reg_write32(vp, AIMC_REG_RING_TAIL, 2);
    aimc_vp_reg_write32(vp, AIMC_REG_DOORBELL, 1);
    /* 10 us on: both fetched (the MVM computed and waiting), the arrays still programming */
    CU_ASSERT_EQUAL(aimc_vp_run(vp, 10000), AIMC_ERR_TIMEOUT);
    size_t untouched = 0;
    for (size_t i = 0; i < B * C * 4; i++) untouched += mem[(y_addr - base) + i] == 0xA5;
    CU_ASSERT_EQUAL(untouched, (size_t)B * C * 4);
    CU_ASSERT_EQUAL(aimc_le_get32(m + AIMC_DESC_STATUS), 0);
    uint32_t v = 0;
    CU_ASSERT_EQUAL(aimc_vp_reg_read32(vp, AIMC_REG_STATUS, &v), AIMC_OK);
    CU_ASSERT(v & AIMC_REG_STATUS_BUSY);
    /* the MVM's interrupt: y written, then its status word */
    CU_ASSERT_EQUAL(aimc_vp_run(vp, 10000000), AIMC_OK);
    CU_ASSERT(aimc_le_get32(m + AIMC_DESC_STATUS) & AIMC_DESC_STATUS_DONE);
    CU_ASSERT_EQUAL(aimc_le_get32(m + AIMC_DESC_STATUS) & ~AIMC_DESC_STATUS_DONE, 0);
    untouched = 0;
    for (size_t i = 0; i < B * C * 4; i++) untouched += mem[(y_addr - base) + i] == 0xA5;
    CU_ASSERT_EQUAL(untouched, 0);
    aimc_vp_destroy(vp);
}

/* A small noisy MVM through the driver on a backend: y, the counters, and for sysc: the
 * SystemC time the job took. */
#define SYSC_R 40
#define SYSC_C 24
#define SYSC_B 3
static void sysc_mvm(const char *uri, float *y, aimc_counters *c, uint64_t *ns,
                     uint64_t *regs, uint64_t *dt)
{
    aimc_arch a;
    aimc_diag d = {{0}};
    aimc_dev *dev = NULL;
    float w[SYSC_R * SYSC_C], x[SYSC_B * SYSC_R];
    aimc_tile t[16];
    uint64_t f;
    sysc_arch(&a); /* the default machine: noise on */
    for (int i = 0; i < SYSC_R * SYSC_C; i++) w[i] = (float)((i * 37) % 23 - 11) / 16.0f;
    for (int i = 0; i < SYSC_B * SYSC_R; i++) x[i] = (float)((i * 13) % 9 - 4) / 5.0f;
    int n = aimc_arch_slices(&a);
    for (int s = 0; s < n; s++)
        t[s] = (aimc_tile){.matrix = 0, .row0 = 0, .nrows = SYSC_R, .col0 = 0, .ncols = SYSC_C,
                           .slice = (uint32_t)s, .xbar = (uint32_t)s, .xbar_col0 = 0};
    aimc_open_opts o = {.arch = &a, .seed = 77, .diag = &d};
    CU_ASSERT_EQUAL_FATAL(aimc_open(uri, &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_weights_program(dev, 0, w, SYSC_R, SYSC_C, t, (size_t)n, NULL, NULL),
                    AIMC_OK);
    CU_ASSERT_EQUAL(aimc_counters_reset(dev), AIMC_OK);
    aimc_counters c0;
    CU_ASSERT_EQUAL(aimc_counters_read(dev, &c0), AIMC_OK);
    aimc_vp *vp = aimc_vp_current();
    aimc_vp_stats s0 = {0}, s1 = {0};
    uint64_t t0 = vp ? aimc_vp_time_ns(vp) : 0;
    if (vp) aimc_vp_stats_get(vp, &s0);
    CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 0, x, SYSC_B, y, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 1000000000), AIMC_OK);
    *ns = vp ? aimc_vp_time_ns(vp) - t0 : 0;
    if (vp) aimc_vp_stats_get(vp, &s1);
    *regs = s1.reg_transactions - s0.reg_transactions;
    CU_ASSERT_EQUAL(aimc_counters_read(dev, c), AIMC_OK);
    *dt = c->time - c0.time; /* the device's clock over submit + wait */
    aimc_close(dev);
}

static void test_same_as_sim(void)
{
    float ys[SYSC_B * SYSC_C], yc[SYSC_B * SYSC_C];
    aimc_counters cs, cc;
    uint64_t ns_s, ns_c, regs_s, regs_c, dt_s, dt_c;
    memset(ys, 0, sizeof ys);
    memset(yc, 0xff, sizeof yc);
    sysc_mvm("sim:", ys, &cs, &ns_s, &regs_s, &dt_s);
    sysc_mvm("sysc:", yc, &cc, &ns_c, &regs_c, &dt_c);
    CU_ASSERT_EQUAL(memcmp(ys, yc, sizeof ys), 0); /* bit-identical */
    CU_ASSERT(cs.cycles > 0);
    CU_ASSERT_EQUAL(cs.cycles, cc.cycles);
    CU_ASSERT_EQUAL(cs.mvms, cc.mvms);
    CU_ASSERT_EQUAL(cs.adc_conversions, cc.adc_conversions);
    for (int k = 0; k < AIMC_PART_COUNT; k++) CU_ASSERT_EQUAL(cs.energy_pj[k], cc.energy_pj[k]);
    /* On sim: the job took the device dt_s cycles (fetch, input, the arrays, output, status
     * word: more than the arrays' busy cycles), the host's accesses none. On sysc: the
     * device works in SystemC time beside the host, whose register accesses take a cycle
     * each (2 ns): submit + wait take the job's cycles and at most those accesses more. */
    CU_ASSERT(regs_c > 0);
    CU_ASSERT(dt_s > cs.cycles);
    CU_ASSERT(ns_c >= dt_s * SYSC_PERIOD_NS);
    CU_ASSERT(ns_c <= (dt_s + regs_c) * SYSC_PERIOD_NS);
    CU_ASSERT(dt_c >= dt_s); /* the device's clock ran with SystemC time */
}

/* URI options reach the platform. */
static void test_uri(void)
{
    aimc_dev *dev = NULL;
    aimc_diag d = {{0}};
    aimc_open_opts o = {.diag = &d};
    CU_ASSERT_EQUAL_FATAL(aimc_open("sysc:quantum_ns=50,reg_latency_cycles=4,no_dmi", &o, &dev),
                          AIMC_OK);
    aimc_vp *vp = aimc_vp_current();
    CU_ASSERT_PTR_NOT_NULL_FATAL(vp);
    aimc_vp_stats s;
    uint64_t f;
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, 1000000), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_vp_stats_get(vp, &s), AIMC_OK);
    CU_ASSERT_EQUAL(s.dmi_grants, 0);
    CU_ASSERT(s.dma_transactions >= 2);
    CU_ASSERT(s.syncs > 0); /* 4 ns per access against a 50 ns quantum */
    aimc_close(dev);
    CU_ASSERT_PTR_NULL(aimc_vp_current());
    CU_ASSERT_EQUAL(aimc_open("sysc:quantum_ns=0", &o, &dev), AIMC_ERR_INVALID);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "quantum_ns=0"));
    CU_ASSERT_EQUAL(aimc_open("sysc:no_dmi,", &o, &dev), AIMC_OK);
    aimc_close(dev);
}

/* Long work is not idleness: with a 100 us watchdog, a PROGRAM and an MVM of 4096 vectors,
 * each far longer than 100 us of device time, complete on sysc: as on sim: (the watchdog
 * counts only time with commands pending and nothing scheduled). */
static void test_watchdog_long_work(void)
{
    enum { R = 128, C = 16, B = 4096 };
    static float w[R * C], x[B * R], y[B * C];
    for (int i = 0; i < R * C; i++) w[i] = (float)((i % 7) - 3) / 4.0f;
    const char *const uris[2] = {"sim:", "sysc:"};
    for (int k = 0; k < 2; k++) {
        aimc_arch a;
        aimc_arch_defaults(&a);
        aimc_tile t[16];
        int n = aimc_arch_slices(&a);
        for (int s = 0; s < n; s++)
            t[s] = (aimc_tile){.matrix = 0, .row0 = 0, .nrows = R, .col0 = 0, .ncols = C,
                               .slice = (uint32_t)s, .xbar = (uint32_t)s, .xbar_col0 = 0};
        aimc_diag d = {{0}};
        aimc_dev *dev = NULL;
        aimc_open_opts o = {.arch = &a, .seed = 3, .watchdog_us = 100, .diag = &d};
        CU_ASSERT_EQUAL_FATAL(aimc_open(uris[k], &o, &dev), AIMC_OK);
        aimc_counters c0, c1;
        CU_ASSERT_EQUAL(aimc_counters_read(dev, &c0), AIMC_OK);
        int rc = aimc_weights_program(dev, 0, w, R, C, t, (size_t)n, NULL, NULL);
        if (rc) fprintf(stderr, "\n  %s program: %s\n", uris[k], aimc_error_text(dev));
        CU_ASSERT_EQUAL(rc, AIMC_OK);
        uint64_t f;
        CU_ASSERT_EQUAL(aimc_submit_mvm(dev, 0, x, B, y, &f), AIMC_OK);
        rc = aimc_fence_wait(dev, f, 10000000000LL);
        if (rc) fprintf(stderr, "\n  %s mvm: %s\n", uris[k], aimc_error_text(dev));
        CU_ASSERT_EQUAL(rc, AIMC_OK);
        CU_ASSERT_EQUAL(aimc_counters_read(dev, &c1), AIMC_OK);
        /* both took longer than the watchdog's 100 us of device time */
        CU_ASSERT(c1.time - c0.time > 2 * (uint64_t)(100 * a.clock.frequency_mhz));
        aimc_close(dev);
    }
}

int test_sysc_register(void)
{
    AIMC_SUITE("sysc",
               {"register latency in SystemC time (sc_time_stamp deltas)", test_reg_latency},
               {"one platform per process, recreated", test_one_platform},
               {"ring DMA over TLM and DMI, interrupt, DMA fault", test_ring_dma_irq},
               {"results reach memory when the work ends", test_results_when_done},
               {"sysc: bit-identical to sim:, command time in SystemC time", test_same_as_sim},
               {"URI options", test_uri},
               {"a 100 us watchdog lets long work finish (sim:, sysc:)", test_watchdog_long_work});
    return 0;
}
