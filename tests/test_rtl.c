/* test_rtl.c - co-simulation of the Verilated RTL (rtl:) against the C device model (sim:).
 *
 * Both devices are opened on the same machine and seed, and get the same buffer objects in
 * the same order, so their device addresses agree and one raw descriptor means the same on
 * both. A seeded random stream of RTL_COSIM_COMMANDS valid commands (every opcode: PROGRAM
 * with random shapes and tiles that share crossbars, MVM, READBACK, the digital commands,
 * NOP, FENCE) runs on both: after each, the output buffer must be byte-identical and every
 * counter equal, CNT_CYCLES and the energy of every part included (the RTL's tile sequencer
 * counts its own cycles; the C model takes them from the cost layer's formula), CNT_TIME
 * excepted (each device's own clock). Then RTL_MALFORMED_COMMANDS mutated commands must set
 * the same ERROR bits, ERROR_INFO and ERROR_FENCE on both. The main machine has read and
 * programming noise (so the RTL must ask the analog half for the same conversions as the C
 * model draws), an 8-bit ADC whose calibrated range (95th percentile) clips, a fractional
 * ADC round time and a digital unit slower than the columns. Two more machines run
 * RTL_COSIM_VARIANT_COMMANDS each: one whose conversions take longer than its integration
 * (3 cycles against up to 13: the rounds' step is the ADCs'), behind a host memory that
 * makes the RTL wait for ready and for responses (rtl:mem_latency=3); one with multi-bit
 * inputs (one step, no shift) and an odd digital width.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "aimc.h"
#include "aimc_map.h"
#include "aimc_regs.h"
#include "aimc_rt.h"
#include "aimc_tile.h"
#include "aimc_vl.h"
#include "aimc_workload.h"
#include "tests.h"

#define RTL_COSIM_COMMANDS 1200
#define RTL_COSIM_VARIANT_COMMANDS 300
#define RTL_MALFORMED_COMMANDS 400
#define RTL_IDS 4
#define RTL_REGION 32 /* crossbars per matrix id: id x RTL_REGION .. */
#define RTL_IN_BYTES 65536u
#define RTL_OUT_BYTES 65536u
#define RTL_AUX_BYTES 4096u
#define RTL_W_BYTES 16384u
#define RTL_T_BYTES 16384u
#define RTL_WAIT_NS 10000000000LL

enum { BO_IN, BO_OUT, BO_AUX, BO_W, BO_T, BO_REP, BO_N };
static const size_t rtl_bo_bytes[BO_N] = {RTL_IN_BYTES, RTL_OUT_BYTES, RTL_AUX_BYTES,
                                          RTL_W_BYTES, RTL_T_BYTES, AIMC_REC_PREP_BYTES};

typedef struct rtl_pair {
    aimc_dev *dev[2];
    aimc_bo *bo[2][BO_N];
    uint64_t addr[BO_N];
    uint32_t rows[RTL_IDS], cols[RTL_IDS]; /* 0: not programmed */
} rtl_pair;

static uint64_t rtl_state;

static uint64_t rtl_next(void) /* xorshift64* */
{
    rtl_state ^= rtl_state >> 12;
    rtl_state ^= rtl_state << 25;
    rtl_state ^= rtl_state >> 27;
    return rtl_state * 0x2545F4914F6CDD1Dull;
}

static uint32_t rtl_below(uint32_t n)
{
    return (uint32_t)(rtl_next() % n);
}

static float rtl_float(void) /* uniform in [-2, 2) */
{
    return (float)((double)(rtl_next() >> 11) * 0x1.0p-53 * 4.0 - 2.0);
}

/* A small noisy machine (header comment). */
static void rtl_arch(aimc_arch *a)
{
    aimc_arch_defaults(a);
    a->device.type = AIMC_DEVICE_GENERIC;
    a->crossbar.rows = 32;
    a->crossbar.cols = 32;
    a->crossbar.integration_ns = 20.0;
    a->adc.bits = 8;
    a->adc.range = AIMC_ADC_RANGE_PERCENTILE; /* calibrated per tile; the tail clips */
    a->adc.range_percentile = 95.0;
    a->adc.per_crossbar = 3;
    a->adc.conversion_ns = 1.3;
    a->digital.ops_per_cycle = 8;
    a->hierarchy.crossbars_per_core = 4;
    a->hierarchy.cores_per_chip = 64;
}

/* sim: and the RTL at rtl_uri, the same machine, seed and buffer objects. */
static int rtl_open_pair(rtl_pair *p, const aimc_arch *a, const char *rtl_uri)
{
    const char *const uris[2] = {"sim:", rtl_uri};
    memset(p, 0, sizeof *p);
    for (int k = 0; k < 2; k++) {
        aimc_diag d = {{0}};
        aimc_open_opts o = {.arch = a, .seed = 11, .diag = &d};
        if (aimc_open(uris[k], &o, &p->dev[k]) != AIMC_OK) {
            fprintf(stderr, "rtl: open %s: %s\n", uris[k], d.msg);
            return -1;
        }
        for (int b = 0; b < BO_N; b++)
            if (aimc_bo_create(p->dev[k], rtl_bo_bytes[b], &p->bo[k][b]) != AIMC_OK) return -1;
    }
    for (int b = 0; b < BO_N; b++) {
        p->addr[b] = aimc_bo_addr(p->bo[0][b]);
        if (aimc_bo_addr(p->bo[1][b]) != p->addr[b]) return -1;
    }
    return 0;
}

static void rtl_close_pair(rtl_pair *p)
{
    for (int k = 0; k < 2; k++) {
        for (int b = 0; b < BO_N; b++) aimc_bo_destroy(p->bo[k][b]);
        aimc_close(p->dev[k]);
    }
}

/* The same bytes into buffer b of both devices. */
static void rtl_put(rtl_pair *p, int b, size_t off, const void *src, size_t n)
{
    CU_ASSERT_FATAL(off <= rtl_bo_bytes[b] && n <= rtl_bo_bytes[b] - off);
    for (int k = 0; k < 2; k++) memcpy((char *)aimc_bo_map(p->bo[k][b]) + off, src, n);
}

/* A PROGRAM descriptor for matrix id with a random shape; weights and tile table written to
 * both devices. Column blocks of at most half a crossbar pair up on one crossbar, so tiles
 * share crossbars and the sequencer runs rounds. */
static void rtl_program_desc(rtl_pair *p, uint8_t *d, uint32_t id, const aimc_arch *a)
{
    const uint32_t xr = (uint32_t)a->crossbar.rows, lc = (uint32_t)aimc_arch_logical_cols(a);
    const uint32_t cpw = (uint32_t)aimc_arch_cols_per_weight(a);
    const uint32_t slices = (uint32_t)aimc_arch_slices(a);
    const uint32_t rows = 1 + rtl_below(2 * xr), cols = 1 + rtl_below(2 * lc);
    const uint32_t bw = rtl_below(2) ? lc : lc / 2;
    uint32_t n = 0, xbar = id * RTL_REGION, col_slot = 0;
    float w[64 * 32];
    uint8_t tiles[RTL_T_BYTES];
    for (uint32_t i = 0; i < rows * cols; i++) w[i] = rtl_float();
    for (uint32_t s = 0; s < slices; s++)
        for (uint32_t r0 = 0; r0 < rows; r0 += xr)
            for (uint32_t c0 = 0; c0 < cols; c0 += bw) {
                aimc_tile t = {.matrix = id, .row0 = r0, .nrows = rows - r0 < xr ? rows - r0 : xr,
                               .col0 = c0, .ncols = cols - c0 < bw ? cols - c0 : bw,
                               .slice = s, .xbar = xbar, .xbar_col0 = col_slot * bw * cpw};
                aimc_tile_encode(&t, tiles + (size_t)n * AIMC_REC_TILE_BYTES);
                n++;
                if (bw == lc / 2 && col_slot == 0) {
                    col_slot = 1;
                } else {
                    col_slot = 0;
                    xbar++;
                }
            }
    rtl_put(p, BO_W, 0, w, (size_t)rows * cols * sizeof *w);
    rtl_put(p, BO_T, 0, tiles, (size_t)n * AIMC_REC_TILE_BYTES);
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_PROGRAM);
    aimc_le_put32(d + AIMC_DESC_PROG_MATRIX, id);
    aimc_le_put32(d + AIMC_DESC_PROG_ROWS, rows);
    aimc_le_put32(d + AIMC_DESC_PROG_COLS, cols);
    aimc_le_put32(d + AIMC_DESC_PROG_NTILES, n);
    aimc_le_put64(d + AIMC_DESC_PROG_W_ADDR, p->addr[BO_W]);
    aimc_le_put64(d + AIMC_DESC_PROG_TILES_ADDR, p->addr[BO_T]);
    aimc_le_put32(d + AIMC_DESC_PROG_VERIFY_ITERS, rtl_below(3));
    const float tol = 0.25f;
    uint32_t tol_bits;
    memcpy(&tol_bits, &tol, sizeof tol_bits);
    aimc_le_put32(d + AIMC_DESC_PROG_VERIFY_TOL, tol_bits);
    aimc_le_put64(d + AIMC_DESC_PROG_REPORT_ADDR, rtl_below(2) ? p->addr[BO_REP] : 0);
    p->rows[id] = rows;
    p->cols[id] = cols;
}

/* A random offset of n floats inside a buffer of `bytes`. */
static uint64_t rtl_at(uint64_t base, size_t bytes, uint64_t n)
{
    const uint64_t room = bytes / 4 - n;
    return base + 4 * (uint64_t)rtl_below((uint32_t)(room + 1));
}

/* A random valid descriptor (matrices must have been programmed for MVM and READBACK). */
static void rtl_valid_desc(rtl_pair *p, uint8_t *d, const aimc_arch *a)
{
    memset(d, 0, AIMC_DESC_BYTES);
    aimc_le_put16(d + AIMC_DESC_FLAGS, rtl_below(2) ? AIMC_DESC_FLAG_IRQ : 0);
    const uint32_t kind = rtl_below(100), id = rtl_below(RTL_IDS);
    const uint32_t batch = 1 + rtl_below(3);
    const uint64_t in = p->addr[BO_IN], out = p->addr[BO_OUT], aux = p->addr[BO_AUX];
    if (kind < 4) {
        rtl_program_desc(p, d, id, a);
    } else if (kind < 45) {
        aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_MVM);
        aimc_le_put32(d + AIMC_DESC_MVM_MATRIX, id);
        aimc_le_put32(d + AIMC_DESC_MVM_BATCH, batch);
        aimc_le_put32(d + AIMC_DESC_MVM_ROWS, p->rows[id]);
        aimc_le_put32(d + AIMC_DESC_MVM_COLS, p->cols[id]);
        aimc_le_put64(d + AIMC_DESC_MVM_X_ADDR, rtl_at(in, RTL_IN_BYTES, batch * p->rows[id]));
        aimc_le_put64(d + AIMC_DESC_MVM_Y_ADDR, rtl_at(out, RTL_OUT_BYTES, batch * p->cols[id]));
    } else if (kind < 55) {
        const uint32_t row0 = rtl_below(p->rows[id]);
        const uint32_t left = p->rows[id] - row0, nrows = 1 + rtl_below(left < 3 ? left : 3);
        aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_READBACK);
        aimc_le_put32(d + AIMC_DESC_RDBK_MATRIX, id);
        aimc_le_put32(d + AIMC_DESC_RDBK_ROW0, row0);
        aimc_le_put32(d + AIMC_DESC_RDBK_NROWS, nrows);
        aimc_le_put32(d + AIMC_DESC_RDBK_COLS, p->cols[id]);
        aimc_le_put64(d + AIMC_DESC_RDBK_OUT_ADDR, rtl_at(out, RTL_OUT_BYTES, nrows * p->cols[id]));
    } else if (kind < 63) {
        const uint32_t dim = 1 + rtl_below(64);
        aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_RMSNORM);
        aimc_le_put32(d + AIMC_DESC_RMS_BATCH, batch);
        aimc_le_put32(d + AIMC_DESC_RMS_DIM, dim);
        aimc_le_put64(d + AIMC_DESC_RMS_IN_ADDR, rtl_at(in, RTL_IN_BYTES, batch * dim));
        aimc_le_put64(d + AIMC_DESC_RMS_OUT_ADDR, rtl_at(out, RTL_OUT_BYTES, batch * dim));
    } else if (kind < 71) {
        const uint32_t n = 1 + rtl_below(32), k = 1 + rtl_below(n);
        aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_TOPK);
        aimc_le_put32(d + AIMC_DESC_TOPK_BATCH, batch);
        aimc_le_put32(d + AIMC_DESC_TOPK_N, n);
        aimc_le_put32(d + AIMC_DESC_TOPK_K, k);
        aimc_le_put64(d + AIMC_DESC_TOPK_IN_ADDR, rtl_at(in, RTL_IN_BYTES, batch * n));
        aimc_le_put64(d + AIMC_DESC_TOPK_IDX_ADDR, out);
        aimc_le_put64(d + AIMC_DESC_TOPK_W_ADDR, out + RTL_OUT_BYTES / 2);
    } else if (kind < 79) {
        const uint32_t count = 1 + rtl_below(128);
        aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_SILU_MUL);
        aimc_le_put32(d + AIMC_DESC_SILU_COUNT, count);
        aimc_le_put64(d + AIMC_DESC_SILU_G_ADDR, rtl_at(in, RTL_IN_BYTES, count));
        aimc_le_put64(d + AIMC_DESC_SILU_U_ADDR, rtl_at(in, RTL_IN_BYTES, count));
        aimc_le_put64(d + AIMC_DESC_SILU_OUT_ADDR, rtl_at(out, RTL_OUT_BYTES, count));
    } else if (kind < 87) {
        const uint32_t dim = 1 + rtl_below(32), src_rows = 1 + rtl_below(8);
        uint32_t idx[4];
        for (uint32_t i = 0; i < 4; i++) idx[i] = rtl_below(src_rows);
        rtl_put(p, BO_AUX, 0, idx, sizeof idx);
        aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_GATHER);
        aimc_le_put32(d + AIMC_DESC_GATH_BATCH, batch);
        aimc_le_put32(d + AIMC_DESC_GATH_DIM, dim);
        aimc_le_put32(d + AIMC_DESC_GATH_SRC_ROWS, src_rows);
        aimc_le_put64(d + AIMC_DESC_GATH_SRC_ADDR, rtl_at(in, RTL_IN_BYTES, src_rows * dim));
        aimc_le_put64(d + AIMC_DESC_GATH_IDX_ADDR, aux);
        aimc_le_put64(d + AIMC_DESC_GATH_DST_ADDR, rtl_at(out, RTL_OUT_BYTES, batch * dim));
    } else if (kind < 95) {
        const uint32_t dim = 1 + rtl_below(32), dst_rows = 1 + rtl_below(8);
        uint32_t idx[4];
        float w[4];
        for (uint32_t i = 0; i < 4; i++) {
            idx[i] = rtl_below(dst_rows);
            w[i] = rtl_float();
        }
        rtl_put(p, BO_AUX, 0, idx, sizeof idx);
        rtl_put(p, BO_AUX, 64, w, sizeof w);
        aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_SCALE_ACC);
        aimc_le_put32(d + AIMC_DESC_SACC_BATCH, batch);
        aimc_le_put32(d + AIMC_DESC_SACC_DIM, dim);
        aimc_le_put32(d + AIMC_DESC_SACC_DST_ROWS, batch > dst_rows ? batch : dst_rows);
        aimc_le_put64(d + AIMC_DESC_SACC_SRC_ADDR, rtl_at(in, RTL_IN_BYTES, batch * dim));
        aimc_le_put64(d + AIMC_DESC_SACC_IDX_ADDR, rtl_below(2) ? aux : 0);
        aimc_le_put64(d + AIMC_DESC_SACC_W_ADDR, rtl_below(2) ? aux + 64 : 0);
        aimc_le_put64(d + AIMC_DESC_SACC_DST_ADDR, rtl_at(out, RTL_OUT_BYTES, 8 * dim));
    } else {
        aimc_le_put16(d + AIMC_DESC_OPCODE, kind < 98 ? AIMC_DESC_OP_NOP : AIMC_DESC_OP_FENCE);
    }
}

/* Every counter and the output buffer agree; 0 when they do. */
static int rtl_compare(rtl_pair *p, int i, const uint8_t *d)
{
    aimc_counters c[2];
    for (int k = 0; k < 2; k++)
        if (aimc_counters_read(p->dev[k], &c[k]) != AIMC_OK) return -1;
    const int same_out = memcmp(aimc_bo_map(p->bo[0][BO_OUT]), aimc_bo_map(p->bo[1][BO_OUT]),
                                RTL_OUT_BYTES) == 0;
    const int same_rep = memcmp(aimc_bo_map(p->bo[0][BO_REP]), aimc_bo_map(p->bo[1][BO_REP]),
                                AIMC_REC_PREP_BYTES) == 0;
    /* Every counter but the clock: the RTL's counts its own cycles (register accesses, DMA
     * handshakes, one command at a time), the model's the command processor's time. */
    c[0].time = c[1].time = 0;
    if (same_out && same_rep && memcmp(&c[0], &c[1], sizeof c[0]) == 0) return 0;
    fprintf(stderr,
            "rtl co-sim: command %d (opcode %u) differs: out %s, report %s, cycles %llu / %llu, "
            "mvms %llu / %llu, conversions %llu / %llu, digital ops %llu / %llu\n",
            i, aimc_le_get16(d + AIMC_DESC_OPCODE), same_out ? "same" : "DIFFERENT",
            same_rep ? "same" : "DIFFERENT", (unsigned long long)c[0].cycles,
            (unsigned long long)c[1].cycles, (unsigned long long)c[0].mvms,
            (unsigned long long)c[1].mvms, (unsigned long long)c[0].adc_conversions,
            (unsigned long long)c[1].adc_conversions, (unsigned long long)c[0].digital_ops,
            (unsigned long long)c[1].digital_ops);
    for (int k = 0; k < AIMC_PART_COUNT; k++)
        if (c[0].energy_pj[k] != c[1].energy_pj[k])
            fprintf(stderr, "  energy of %s: %.6f / %.6f pJ\n", aimc_part_name((aimc_part)k),
                    c[0].energy_pj[k], c[1].energy_pj[k]);
    return -1;
}

/* Submit d on both; both must complete with the same result code (rc_out). */
static int rtl_submit_both(rtl_pair *p, const uint8_t *d, int *rc_out)
{
    int rc[2];
    for (int k = 0; k < 2; k++) {
        uint64_t f;
        rc[k] = aimc_submit_raw(p->dev[k], d, AIMC_DESC_BYTES, &f);
        if (rc[k] == AIMC_OK) rc[k] = aimc_fence_wait(p->dev[k], f, RTL_WAIT_NS);
    }
    *rc_out = rc[0];
    return rc[0] == rc[1] ? 0 : -1;
}

static void rtl_fill_inputs(rtl_pair *p)
{
    float *in = malloc(RTL_IN_BYTES);
    CU_ASSERT_FATAL(in != NULL);
    for (size_t i = 0; i < RTL_IN_BYTES / 4; i++) in[i] = rtl_float();
    rtl_put(p, BO_IN, 0, in, RTL_IN_BYTES);
    free(in);
}

/* n random valid commands on machine a, identical on sim: and rtl_uri; the rtl: counters at
 * the end in *c. */
static void rtl_cosim(const aimc_arch *a, const char *rtl_uri, int n, uint64_t seed,
                      aimc_counters *c)
{
    rtl_pair p;
    uint8_t d[AIMC_DESC_BYTES];
    int fails = 0, done = 0, rc;
    uint64_t mvm_commands = 0;
    rtl_state = seed;
    CU_ASSERT_EQUAL_FATAL(rtl_open_pair(&p, a, rtl_uri), 0);
    rtl_fill_inputs(&p);
    for (uint32_t id = 0; id < RTL_IDS; id++) {
        memset(d, 0, sizeof d);
        rtl_program_desc(&p, d, id, a);
        CU_ASSERT_EQUAL(rtl_submit_both(&p, d, &rc), 0);
        CU_ASSERT(rc == AIMC_OK || rc == AIMC_ERR_DEVICE); /* DEVICE: verify left misses */
    }
    for (int i = 0; i < n && fails == 0; i++) {
        rtl_valid_desc(&p, d, a);
        const uint32_t op = aimc_le_get16(d + AIMC_DESC_OPCODE);
        mvm_commands += op == AIMC_DESC_OP_MVM || op == AIMC_DESC_OP_READBACK;
        if (rtl_submit_both(&p, d, &rc) || (rc != AIMC_OK && op != AIMC_DESC_OP_PROGRAM) ||
            rtl_compare(&p, i, d)) {
            fprintf(stderr, "rtl co-sim: command %d (opcode %u): rc %d: %s | %s\n", i, op, rc,
                    aimc_error_text(p.dev[0]), aimc_error_text(p.dev[1]));
            fails++;
        }
        done++;
    }
    CU_ASSERT_EQUAL(fails, 0);
    CU_ASSERT_EQUAL(done, n);
    CU_ASSERT(mvm_commands >= (uint64_t)n / 3); /* the analog path was exercised */
    CU_ASSERT_EQUAL(aimc_counters_read(p.dev[1], c), AIMC_OK);
    rtl_close_pair(&p);
}

/* The acceptance test: RTL_COSIM_COMMANDS random valid commands, identical on both. */
static void test_rtl_cosim(void)
{
    aimc_arch a;
    aimc_counters c;
    rtl_arch(&a);
    rtl_cosim(&a, "rtl:", RTL_COSIM_COMMANDS, 0x5EED0008ull, &c);
    CU_ASSERT(c.adc_saturations > 0); /* the 8-bit ADC clipped: saturation was compared too */
}

/* Conversions slower than integration, behind a slow host memory; multi-bit inputs. */
static void test_rtl_cosim_variants(void)
{
    aimc_arch a;
    aimc_counters c;
    rtl_arch(&a);
    a.crossbar.integration_ns = 2.5; /* 3 cycles; 16 columns on 1 ADC: ceil(16 x 0.78) = 13 */
    a.adc.per_crossbar = 1;
    a.adc.conversion_ns = 0.78;
    rtl_cosim(&a, "rtl:mem_latency=3", RTL_COSIM_VARIANT_COMMANDS, 0x5EED0108ull, &c);
    CU_ASSERT(c.cycles > 0);
    rtl_arch(&a);
    a.dac.mode = AIMC_DAC_MULTI_BIT;
    a.digital.ops_per_cycle = 3;
    rtl_cosim(&a, "rtl:", RTL_COSIM_VARIANT_COMMANDS, 0x5EED0208ull, &c);
    CU_ASSERT(c.cycles > 0);
}

/* A matrix of more tiles than the RTL's tile table: its MVM is refused on rtl: with
 * ERROR.INTERNAL and the tile count, before anything runs (no counter moves); sim: runs it. */
static void test_rtl_tile_limit(void)
{
    aimc_arch a;
    rtl_pair p;
    const uint32_t rows = 4, cols = 80, slices = 4, lc = 16;
    const uint32_t n = cols * slices; /* one column per tile: 320 tiles, 16 per crossbar */
    uint8_t tiles[320 * AIMC_REC_TILE_BYTES], d[AIMC_DESC_BYTES];
    float w[4 * 80];
    int rc;
    rtl_arch(&a);
    rtl_state = 0x71E5ull;
    CU_ASSERT_EQUAL_FATAL(rtl_open_pair(&p, &a, "rtl:"), 0);
    CU_ASSERT_FATAL(n > AIMC_VL_MAX_TILES && (uint32_t)aimc_arch_slices(&a) == slices &&
                    (uint32_t)aimc_arch_logical_cols(&a) == lc);
    for (uint32_t i = 0; i < rows * cols; i++) w[i] = rtl_float();
    for (uint32_t k = 0; k < n; k++) {
        const uint32_t s = k / cols, c = k % cols;
        aimc_tile t = {.nrows = rows, .col0 = c, .ncols = 1, .slice = s,
                       .xbar = (s * cols + c) / lc, .xbar_col0 = (c % lc) * 2};
        aimc_tile_encode(&t, tiles + (size_t)k * AIMC_REC_TILE_BYTES);
    }
    rtl_put(&p, BO_W, 0, w, sizeof w);
    rtl_put(&p, BO_T, 0, tiles, sizeof tiles);
    memset(d, 0, sizeof d);
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_PROGRAM);
    aimc_le_put32(d + AIMC_DESC_PROG_ROWS, rows);
    aimc_le_put32(d + AIMC_DESC_PROG_COLS, cols);
    aimc_le_put32(d + AIMC_DESC_PROG_NTILES, n);
    aimc_le_put64(d + AIMC_DESC_PROG_W_ADDR, p.addr[BO_W]);
    aimc_le_put64(d + AIMC_DESC_PROG_TILES_ADDR, p.addr[BO_T]);
    CU_ASSERT_EQUAL(rtl_submit_both(&p, d, &rc), 0);
    CU_ASSERT_EQUAL(rc, AIMC_OK);
    rtl_fill_inputs(&p);
    memset(d, 0, sizeof d);
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_MVM);
    aimc_le_put32(d + AIMC_DESC_MVM_BATCH, 2);
    aimc_le_put32(d + AIMC_DESC_MVM_ROWS, rows);
    aimc_le_put32(d + AIMC_DESC_MVM_COLS, cols);
    aimc_le_put64(d + AIMC_DESC_MVM_X_ADDR, p.addr[BO_IN]);
    aimc_le_put64(d + AIMC_DESC_MVM_Y_ADDR, p.addr[BO_OUT]);
    aimc_counters c0, c1;
    aimc_dev_error e;
    uint64_t f;
    uint64_t g;
    CU_ASSERT_EQUAL(aimc_counters_read(p.dev[1], &c0), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_raw(p.dev[1], d, sizeof d, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_submit_fence(p.dev[1], &g), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(p.dev[1], g, RTL_WAIT_NS), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_error_get(p.dev[1], &e), AIMC_OK);
    CU_ASSERT_EQUAL(e.bits, AIMC_REG_ERROR_INTERNAL);
    CU_ASSERT_EQUAL(e.info, n);
    CU_ASSERT_EQUAL(aimc_fence_wait(p.dev[1], f, RTL_WAIT_NS), AIMC_ERR_DEVICE);
    CU_ASSERT_EQUAL(aimc_counters_read(p.dev[1], &c1), AIMC_OK);
    /* the arrays never ran: no work counted (the clock ran on, the descriptors and status
     * words crossed the host link) */
    CU_ASSERT_EQUAL(c1.cycles, c0.cycles);
    CU_ASSERT_EQUAL(c1.mvms, c0.mvms);
    CU_ASSERT_EQUAL(c1.adc_conversions, c0.adc_conversions);
    CU_ASSERT_EQUAL(c1.dac_drives, c0.dac_drives);
    CU_ASSERT_EQUAL(c1.xbar_reads, c0.xbar_reads);
    CU_ASSERT_EQUAL(c1.digital_ops, c0.digital_ops);
    for (int k = AIMC_PART_DAC; k <= AIMC_PART_UNITS; k++)
        CU_ASSERT_EQUAL(c1.energy_pj[k], c0.energy_pj[k]);
    CU_ASSERT_EQUAL(aimc_submit_raw(p.dev[0], d, sizeof d, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(p.dev[0], f, RTL_WAIT_NS), AIMC_OK);
    rtl_close_pair(&p);
}

/* rtl: has the commands of register map 2.0 and says so (VERSION 2.0); the runtime refuses a
 * model whose workload needs map 2.1's (here ROUTE: a rule that does not renormalise) before
 * it issues anything, and runs the same model under the default rule. */
static void test_rtl_map_version(void)
{
    static const char *fmt = "version: 1\n"
                             "model:\n  name: %s\n  layers: 2\n  d_model: 16\n"
                             "  routed_experts: 4\n  expert_d_ff: 8\n  top_k: 2\n%s"
                             "weights:\n  random: {seed: 3, distribution: normal}\n";
    char text[2][512];
    aimc_model *m[2] = {NULL, NULL};
    aimc_diag d = {{0}};
    snprintf(text[0], sizeof text[0], fmt, "plain", "");
    snprintf(text[1], sizeof text[1], fmt, "olmoe-rule", "  routing: {normalize: false}\n");
    for (int i = 0; i < 2; i++)
        CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(text[i], "v.yaml", 1, &m[i], &d), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_wl_map_version(m[0]), 0x00020000u);
    CU_ASSERT_EQUAL(aimc_wl_map_version(m[1]), 0x00020001u);
    CU_ASSERT_EQUAL(AIMC_REG_VERSION_VALUE, 0x00020001u);

    aimc_arch a;
    rtl_arch(&a);
    aimc_dev *dev = NULL;
    aimc_open_opts oo = {.arch = &a, .seed = 1};
    CU_ASSERT_EQUAL_FATAL(aimc_open("rtl:", &oo, &dev), AIMC_OK);
    aimc_dev_info info;
    CU_ASSERT_EQUAL(aimc_query(dev, &info), AIMC_OK);
    CU_ASSERT_EQUAL(info.version, 0x00020000u);
    float x[2 * 16];
    for (int i = 0; i < 2 * 16; i++) x[i] = (float)(i % 7) - 3.0f;
    aimc_plan *p[2] = {NULL, NULL};
    aimc_weights_report wr;
    aimc_rt_report *r = calloc(1, sizeof *r);
    CU_ASSERT_FATAL(r != NULL);
    for (int i = 0; i < 2; i++) {
        CU_ASSERT_EQUAL_FATAL(aimc_map_plan(&a, m[i], &p[i], &d), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_rt_program(dev, &a, m[i], p[i], NULL, &wr, &d), AIMC_OK);
        aimc_counters c0, c1;
        aimc_rt_opts ro = {.batch = 2};
        CU_ASSERT_EQUAL(aimc_counters_read(dev, &c0), AIMC_OK);
        d.msg[0] = 0;
        const int rc = aimc_rt_run(dev, m[i], x, 2, NULL, &ro, r, &d);
        CU_ASSERT_EQUAL(aimc_counters_read(dev, &c1), AIMC_OK);
        if (i == 0) {
            if (rc) fprintf(stderr, "\n  %s\n", d.msg);
            CU_ASSERT_EQUAL(rc, AIMC_OK);
            CU_ASSERT(c1.mvms > c0.mvms);
            continue;
        }
        CU_ASSERT_EQUAL(rc, AIMC_ERR_UNSUPPORTED);
        CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "olmoe-rule needs the commands of register map 2.1"));
        CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "implements map 2.0"));
        CU_ASSERT_EQUAL(c1.mvms, c0.mvms); /* nothing was issued */
        CU_ASSERT_EQUAL(c1.digital_ops, c0.digital_ops);
        CU_ASSERT_EQUAL(c1.cycles, c0.cycles);
    }
    free(r);
    for (int i = 0; i < 2; i++) {
        aimc_plan_free(p[i]);
        aimc_model_free(m[i]);
    }
    aimc_close(dev);
}

/* Mutate a valid descriptor into one the device must refuse. */
static void rtl_mutate(rtl_pair *p, uint8_t *d)
{
    const uint32_t op = aimc_le_get16(d + AIMC_DESC_OPCODE);
    switch (rtl_below(8)) {
    case 0:
        aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_ATTN + 1 + rtl_below(0xFFFF - AIMC_DESC_OP_ATTN - 1));
        break;
    case 1: { /* a flag above the known ones */
        uint32_t top = 0;
        while ((AIMC_DESC_FLAGS_ALL >> top) != 0) top++;
        aimc_le_put16(d + AIMC_DESC_FLAGS, (uint16_t)(1u << (top + rtl_below(16 - top))));
        break;
    }
    case 2: /* a nonzero byte anywhere in the payload: reserved, or a field out of range */
        d[0x10 + rtl_below(AIMC_DESC_BYTES - 0x10)] ^= (uint8_t)(1 + rtl_below(255));
        break;
    case 3: /* a u32 field 0 or huge */
        aimc_le_put32(d + 0x10 + 4 * rtl_below(4), rtl_below(2) ? 0 : 0x80000000u | rtl_below(1u << 30));
        break;
    case 4: /* an address field outside host memory (offsets of u64 fields are 8-aligned) */
        aimc_le_put64(d + 0x18 + 8 * rtl_below(5), 1 + rtl_below(0xFFFFF));
        break;
    case 5: /* a range running past the end of the input buffer */
        aimc_le_put64(d + 0x20, p->addr[BO_IN] + RTL_IN_BYTES - 4 * rtl_below(3));
        break;
    case 6: /* a matrix never programmed, or a shape that differs */
        if (op == AIMC_DESC_OP_MVM || op == AIMC_DESC_OP_READBACK)
            aimc_le_put32(d + 0x10, rtl_below(2) ? 100 + rtl_below(1000) : rtl_below(RTL_IDS));
        aimc_le_put32(d + 0x1C, aimc_le_get32(d + 0x1C) + 1);
        break;
    default: /* a row index outside its table */
        aimc_le_put32((uint8_t *)aimc_bo_map(p->bo[0][BO_AUX]) + 4 * rtl_below(3), 1000);
        memcpy(aimc_bo_map(p->bo[1][BO_AUX]), aimc_bo_map(p->bo[0][BO_AUX]), 16);
        break;
    }
}

/* Malformed commands: the same ERROR bits, detail and fence on both. */
static void test_rtl_malformed(void)
{
    aimc_arch a;
    rtl_pair p;
    uint8_t d[AIMC_DESC_BYTES];
    int fails = 0, refused = 0, rc;
    uint32_t seen = 0;
    rtl_arch(&a);
    rtl_state = 0xBAD0C0DEull;
    CU_ASSERT_EQUAL_FATAL(rtl_open_pair(&p, &a, "rtl:"), 0);
    rtl_fill_inputs(&p);
    for (uint32_t id = 0; id < RTL_IDS; id++) {
        memset(d, 0, sizeof d);
        rtl_program_desc(&p, d, id, &a);
        CU_ASSERT_EQUAL(rtl_submit_both(&p, d, &rc), 0);
    }
    for (int i = 0; i < RTL_MALFORMED_COMMANDS && fails == 0; i++) {
        aimc_dev_error e[2];
        uint64_t f[2];
        int r[2];
        do rtl_valid_desc(&p, d, &a);
        while (aimc_le_get16(d + AIMC_DESC_OPCODE) == AIMC_DESC_OP_PROGRAM);
        rtl_mutate(&p, d);
        for (int k = 0; k < 2; k++) {
            /* the devices work while the host waits: a FENCE behind the command completes
             * after it, and then its error is there to be read */
            uint64_t g = 0;
            CU_ASSERT_EQUAL(aimc_submit_raw(p.dev[k], d, sizeof d, &f[k]), AIMC_OK);
            CU_ASSERT_EQUAL(aimc_submit_fence(p.dev[k], &g), AIMC_OK);
            CU_ASSERT_EQUAL(aimc_fence_wait(p.dev[k], g, RTL_WAIT_NS), AIMC_OK);
            CU_ASSERT_EQUAL(aimc_error_get(p.dev[k], &e[k]), AIMC_OK);
            r[k] = aimc_fence_wait(p.dev[k], f[k], RTL_WAIT_NS);
        }
        if (r[0] != r[1] || e[0].bits != e[1].bits || e[0].info != e[1].info ||
            e[0].fence != e[1].fence ||
            (e[0].irq_status & AIMC_REG_IRQ_ERROR) != (e[1].irq_status & AIMC_REG_IRQ_ERROR) ||
            rtl_compare(&p, i, d)) {
            fprintf(stderr, "rtl malformed %d (opcode 0x%x): sim: rc %d bits 0x%x info 0x%x "
                    "fence %llu irq 0x%x, rtl: rc %d bits 0x%x info 0x%x fence %llu irq 0x%x\n",
                    i, aimc_le_get16(d), r[0], e[0].bits, e[0].info,
                    (unsigned long long)e[0].fence, e[0].irq_status, r[1], e[1].bits,
                    e[1].info, (unsigned long long)e[1].fence, e[1].irq_status);
            fails++;
        }
        refused += r[0] == AIMC_ERR_DEVICE;
        seen |= e[0].bits;
    }
    CU_ASSERT_EQUAL(fails, 0);
    /* Most mutations are refused (a flipped byte may leave a valid command); every kind
     * of error a command can have came up. */
    CU_ASSERT(refused >= RTL_MALFORMED_COMMANDS / 2);
    const uint32_t want = AIMC_REG_ERROR_BAD_OPCODE | AIMC_REG_ERROR_BAD_DESC |
                          AIMC_REG_ERROR_DMA_FAULT | AIMC_REG_ERROR_NOT_PROGRAMMED |
                          AIMC_REG_ERROR_SHAPE | AIMC_REG_ERROR_INDEX;
    CU_ASSERT_EQUAL(seen & want, want);
    rtl_close_pair(&p);
}

/* Backend-specific: options, and an FST waveform that is written. */
static void test_rtl_wave(void)
{
    aimc_arch a;
    aimc_dev *dev = NULL;
    char path[64], uri[128];
    snprintf(path, sizeof path, "/tmp/aimc-test-rtl-%ld.fst", (long)getpid());
    rtl_arch(&a);
    aimc_open_opts o = {.arch = &a, .seed = 1};
    CU_ASSERT_EQUAL(aimc_open("rtl:bogus=1", &o, &dev), AIMC_ERR_INVALID);
    remove(path);
    snprintf(uri, sizeof uri, "rtl:wave=%s", path);
    CU_ASSERT_EQUAL_FATAL(aimc_open(uri, &o, &dev), AIMC_OK);
    uint64_t f;
    CU_ASSERT_EQUAL(aimc_submit_fence(dev, &f), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_fence_wait(dev, f, RTL_WAIT_NS), AIMC_OK);
    aimc_close(dev);
    FILE *fp = fopen(path, "rb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
    unsigned char hdr[1];
    CU_ASSERT_EQUAL(fread(hdr, 1, 1, fp), 1);
    CU_ASSERT_EQUAL(hdr[0], 0); /* an FST file starts with its header block, type 0 */
    fseek(fp, 0, SEEK_END);
    CU_ASSERT(ftell(fp) > 1000);
    fclose(fp);
    remove(path);
    CU_ASSERT_EQUAL(aimc_open("rtl:mem_latency=1001", &o, &dev), AIMC_ERR_INVALID);
    /* An arch the RTL cannot carry is refused at open. */
    a.adc.per_crossbar = AIMC_VL_MAX_ADCS + 1;
    a.crossbar.cols = 2 * (AIMC_VL_MAX_ADCS + 1);
    dev = NULL;
    CU_ASSERT_EQUAL(aimc_open("rtl:", &o, &dev), AIMC_ERR_UNSUPPORTED);
    aimc_close(dev); /* NULL unless the open wrongly succeeded */
}

int test_rtl_register(void)
{
    AIMC_SUITE("rtl", {"co-simulation: random valid commands, identical on rtl: and sim:",
                       test_rtl_cosim},
               {"co-simulation: slow conversions and memory, multi-bit inputs",
                test_rtl_cosim_variants},
               {"co-simulation: malformed commands set the same error bits", test_rtl_malformed},
               {"a matrix beyond the RTL's tile table is refused before it runs",
                test_rtl_tile_limit},
               {"rtl: options, FST waveform, unsupported machines", test_rtl_wave},
               {"rtl: a model that needs map 2.1 is refused", test_rtl_map_version});
    return 0;
}
