/* test_fuzz.c - bad command buffers against the device model, through the driver and at
 * the register level: every one must end in an error register bit, the error interrupt
 * and a driver error code, never a crash or a hang; after aimc_reset the next valid job
 * succeeds.
 *
 * FUZZ_DRIVER_CASES descriptors go through aimc_submit_raw (mutated valid commands: bad
 * opcodes, nonzero reserved bytes and flags, sizes 0 or above the caps, addresses outside
 * host memory, ranges that run past the end of their buffer, truncated tile tables and
 * index tables), and FUZZ_RING_CASES ring misuses go to the device model's registers
 * (ring overflow, descriptors straddling the end of host memory). Fixed seed.
 */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "aimc.h"
#include "aimc_accel.h"
#include "aimc_regs.h"
#include "tests.h"

#define FUZZ_DRIVER_CASES 100000
#define FUZZ_RING_CASES 20000
#define FUZZ_RESET_EVERY 5000
#define FUZZ_BO_BYTES 4096u
#define FUZZ_R 8
#define FUZZ_C 5

static uint64_t fuzz_state = 0x9E3779B97F4A7C15ull;

static uint64_t fuzz_next(void) /* xorshift64* */
{
    fuzz_state ^= fuzz_state >> 12;
    fuzz_state ^= fuzz_state << 25;
    fuzz_state ^= fuzz_state >> 27;
    return fuzz_state * 0x2545F4914F6CDD1Dull;
}

static uint32_t fuzz_below(uint32_t n)
{
    return (uint32_t)(fuzz_next() % n);
}

static void fuzz_arch(aimc_arch *a) /* a small device: quick to create and reset */
{
    aimc_arch_defaults(a);
    a->device.type = AIMC_DEVICE_IDEAL;
    a->crossbar.rows = 16;
    a->crossbar.cols = 16;
    a->hierarchy.chips = 1;
    a->hierarchy.cores_per_chip = 2;
    a->hierarchy.crossbars_per_core = 4;
}

static int fuzz_program(aimc_dev *dev)
{
    aimc_arch a;
    aimc_tile t[8];
    float w[FUZZ_R * FUZZ_C];
    fuzz_arch(&a);
    int n = aimc_arch_slices(&a);
    for (int i = 0; i < FUZZ_R * FUZZ_C; i++) w[i] = (float)(i % 7) - 3.0f;
    for (int s = 0; s < n; s++)
        t[s] = (aimc_tile){.matrix = 0, .row0 = 0, .nrows = FUZZ_R, .col0 = 0, .ncols = FUZZ_C,
                           .slice = (uint32_t)s, .xbar = (uint32_t)s, .xbar_col0 = 0};
    return aimc_weights_program(dev, 0, w, FUZZ_R, FUZZ_C, t, (size_t)n, NULL, NULL);
}

/* A valid MVM on matrix 0: the proof that the device still works. */
static int fuzz_valid_job(aimc_dev *dev)
{
    float x[FUZZ_R] = {1, 0, 0, 0, 0, 0, 0, 0}, y[FUZZ_C];
    uint64_t f;
    int rc = aimc_submit_mvm(dev, 0, x, 1, y, &f);
    return rc ? rc : aimc_fence_wait(dev, f, 1000000000);
}

/* The address fields of each opcode, and a u32 size field that may be 0 (BAD_DESC). */
typedef struct {
    uint16_t op;
    uint8_t addr[4], n_addr;
    uint8_t size_field;
    uint8_t reserved; /* first reserved byte, 0 = none */
} fuzz_op;

static const fuzz_op fuzz_ops[] = {
    {AIMC_DESC_OP_PROGRAM, {AIMC_DESC_PROG_W_ADDR, AIMC_DESC_PROG_TILES_ADDR}, 2,
     AIMC_DESC_PROG_ROWS, 0},
    {AIMC_DESC_OP_MVM, {AIMC_DESC_MVM_X_ADDR, AIMC_DESC_MVM_Y_ADDR}, 2, AIMC_DESC_MVM_BATCH,
     AIMC_DESC_MVM_RESERVED},
    {AIMC_DESC_OP_READBACK, {AIMC_DESC_RDBK_OUT_ADDR}, 1, AIMC_DESC_RDBK_NROWS,
     AIMC_DESC_RDBK_RESERVED},
    {AIMC_DESC_OP_RMSNORM, {AIMC_DESC_RMS_IN_ADDR, AIMC_DESC_RMS_OUT_ADDR}, 2,
     AIMC_DESC_RMS_DIM, AIMC_DESC_RMS_RESERVED},
    {AIMC_DESC_OP_TOPK, {AIMC_DESC_TOPK_IN_ADDR, AIMC_DESC_TOPK_IDX_ADDR, AIMC_DESC_TOPK_W_ADDR},
     3, AIMC_DESC_TOPK_K, AIMC_DESC_TOPK_RESERVED},
    {AIMC_DESC_OP_SILU_MUL, {AIMC_DESC_SILU_G_ADDR, AIMC_DESC_SILU_U_ADDR,
                             AIMC_DESC_SILU_OUT_ADDR}, 3, AIMC_DESC_SILU_COUNT,
     AIMC_DESC_SILU_RESERVED},
    {AIMC_DESC_OP_GATHER, {AIMC_DESC_GATH_SRC_ADDR, AIMC_DESC_GATH_IDX_ADDR,
                           AIMC_DESC_GATH_DST_ADDR}, 3, AIMC_DESC_GATH_BATCH,
     AIMC_DESC_GATH_RESERVED},
    {AIMC_DESC_OP_SCALE_ACC, {AIMC_DESC_SACC_SRC_ADDR, AIMC_DESC_SACC_IDX_ADDR,
                              AIMC_DESC_SACC_W_ADDR, AIMC_DESC_SACC_DST_ADDR}, 4,
     AIMC_DESC_SACC_BATCH, 0},
    {AIMC_DESC_OP_NORM, {AIMC_DESC_NORM_IN_ADDR, AIMC_DESC_NORM_OUT_ADDR, AIMC_DESC_NORM_W_ADDR}, 3,
     AIMC_DESC_NORM_DIM, AIMC_DESC_NORM_RESERVED},
    {AIMC_DESC_OP_ACT, {AIMC_DESC_ACT_IN_ADDR, AIMC_DESC_ACT_OUT_ADDR}, 2, AIMC_DESC_ACT_COUNT,
     AIMC_DESC_ACT_RESERVED},
};

/* A valid descriptor of fuzz_ops[i] on buffer objects at a (src) and b (dst), each
 * FUZZ_BO_BYTES; small sizes; matrix 0 is 8 x 5. */
static void fuzz_valid(uint8_t *d, const fuzz_op *o, uint64_t a, uint64_t b, uint64_t tiles)
{
    memset(d, 0, AIMC_DESC_BYTES);
    aimc_le_put16(d + AIMC_DESC_OPCODE, o->op);
    aimc_le_put16(d + AIMC_DESC_FLAGS, AIMC_DESC_FLAG_IRQ);
    uint32_t n = 1 + fuzz_below(4);
    switch (o->op) {
    case AIMC_DESC_OP_PROGRAM:
        aimc_le_put32(d + AIMC_DESC_PROG_MATRIX, 1);
        aimc_le_put32(d + AIMC_DESC_PROG_ROWS, FUZZ_R);
        aimc_le_put32(d + AIMC_DESC_PROG_COLS, FUZZ_C);
        aimc_le_put32(d + AIMC_DESC_PROG_NTILES, 1);
        aimc_le_put64(d + AIMC_DESC_PROG_W_ADDR, a);
        aimc_le_put64(d + AIMC_DESC_PROG_TILES_ADDR, tiles);
        break;
    case AIMC_DESC_OP_MVM:
        aimc_le_put32(d + AIMC_DESC_MVM_BATCH, n);
        aimc_le_put32(d + AIMC_DESC_MVM_ROWS, FUZZ_R);
        aimc_le_put32(d + AIMC_DESC_MVM_COLS, FUZZ_C);
        aimc_le_put64(d + AIMC_DESC_MVM_X_ADDR, a);
        aimc_le_put64(d + AIMC_DESC_MVM_Y_ADDR, b);
        break;
    case AIMC_DESC_OP_READBACK:
        aimc_le_put32(d + AIMC_DESC_RDBK_NROWS, n);
        aimc_le_put32(d + AIMC_DESC_RDBK_COLS, FUZZ_C);
        aimc_le_put64(d + AIMC_DESC_RDBK_OUT_ADDR, b);
        break;
    case AIMC_DESC_OP_RMSNORM:
        aimc_le_put32(d + AIMC_DESC_RMS_BATCH, n);
        aimc_le_put32(d + AIMC_DESC_RMS_DIM, 8);
        aimc_le_put64(d + AIMC_DESC_RMS_IN_ADDR, a);
        aimc_le_put64(d + AIMC_DESC_RMS_OUT_ADDR, b);
        break;
    case AIMC_DESC_OP_TOPK:
        aimc_le_put32(d + AIMC_DESC_TOPK_BATCH, n);
        aimc_le_put32(d + AIMC_DESC_TOPK_N, 8);
        aimc_le_put32(d + AIMC_DESC_TOPK_K, 2);
        aimc_le_put64(d + AIMC_DESC_TOPK_IN_ADDR, a);
        aimc_le_put64(d + AIMC_DESC_TOPK_IDX_ADDR, b);
        aimc_le_put64(d + AIMC_DESC_TOPK_W_ADDR, b + 1024);
        break;
    case AIMC_DESC_OP_SILU_MUL:
        aimc_le_put32(d + AIMC_DESC_SILU_COUNT, 8 * n);
        aimc_le_put64(d + AIMC_DESC_SILU_G_ADDR, a);
        aimc_le_put64(d + AIMC_DESC_SILU_U_ADDR, a + 1024);
        aimc_le_put64(d + AIMC_DESC_SILU_OUT_ADDR, b);
        break;
    case AIMC_DESC_OP_GATHER: /* indices in the zero-filled b: row 0 */
        aimc_le_put32(d + AIMC_DESC_GATH_BATCH, n);
        aimc_le_put32(d + AIMC_DESC_GATH_DIM, 8);
        aimc_le_put32(d + AIMC_DESC_GATH_SRC_ROWS, 4);
        aimc_le_put64(d + AIMC_DESC_GATH_SRC_ADDR, a);
        aimc_le_put64(d + AIMC_DESC_GATH_IDX_ADDR, b + 2048);
        aimc_le_put64(d + AIMC_DESC_GATH_DST_ADDR, b);
        break;
    case AIMC_DESC_OP_NORM: {
        const float eps = 1e-5f;
        uint32_t u;
        memcpy(&u, &eps, sizeof u);
        aimc_le_put32(d + AIMC_DESC_NORM_BATCH, n);
        aimc_le_put32(d + AIMC_DESC_NORM_DIM, 8);
        aimc_le_put32(d + AIMC_DESC_NORM_EPS, u);
        aimc_le_put64(d + AIMC_DESC_NORM_IN_ADDR, a);
        aimc_le_put64(d + AIMC_DESC_NORM_OUT_ADDR, b);
        aimc_le_put64(d + AIMC_DESC_NORM_W_ADDR, a + 1024);
        break;
    }
    case AIMC_DESC_OP_ACT:
        aimc_le_put32(d + AIMC_DESC_ACT_COUNT, 8 * n);
        aimc_le_put64(d + AIMC_DESC_ACT_IN_ADDR, a);
        aimc_le_put64(d + AIMC_DESC_ACT_OUT_ADDR, b);
        break;
    default: /* SCALE_ACC */
        aimc_le_put32(d + AIMC_DESC_SACC_BATCH, n);
        aimc_le_put32(d + AIMC_DESC_SACC_DIM, 8);
        aimc_le_put32(d + AIMC_DESC_SACC_DST_ROWS, 4);
        aimc_le_put64(d + AIMC_DESC_SACC_SRC_ADDR, a);
        aimc_le_put64(d + AIMC_DESC_SACC_IDX_ADDR, b + 2048);
        aimc_le_put64(d + AIMC_DESC_SACC_W_ADDR, 0);
        aimc_le_put64(d + AIMC_DESC_SACC_DST_ADDR, b);
        break;
    }
}

/* Mutate d into a bad command; returns the ERROR bit the device must set. */
static uint32_t fuzz_mutate(uint8_t *d, const fuzz_op *o, uint64_t a)
{
    switch (fuzz_below(6)) {
    case 0: /* an opcode that does not exist */
        aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_ATTN + 1 + fuzz_below(0xFFFF - AIMC_DESC_OP_ATTN - 1));
        return AIMC_REG_ERROR_BAD_OPCODE;
    case 1: { /* an unknown flag: a bit above the known ones */
        uint32_t top = 0;
        while ((AIMC_DESC_FLAGS_ALL >> top) != 0) top++;
        aimc_le_put16(d + AIMC_DESC_FLAGS, (uint16_t)(1u << (top + fuzz_below(16 - top))));
        return AIMC_REG_ERROR_BAD_DESC;
    }
    case 2: /* a size of 0 */
        aimc_le_put32(d + o->size_field, 0);
        return AIMC_REG_ERROR_BAD_DESC;
    case 3: /* a reserved byte, or (no reserved bytes) a size far above the caps */
        if (o->reserved) {
            d[o->reserved + fuzz_below(AIMC_DESC_BYTES - o->reserved)] = (uint8_t)(1 + fuzz_below(255));
        } else {
            aimc_le_put32(d + o->size_field, 0x80000000u | (uint32_t)fuzz_next());
        }
        return AIMC_REG_ERROR_BAD_DESC;
    case 4: { /* an address outside host memory: low, random high, or wrapping 2^64 */
        uint8_t f = o->addr[fuzz_below(o->n_addr)];
        uint64_t bad;
        switch (fuzz_below(3)) {
        case 0: bad = 1 + fuzz_below(0xFFFFFFF0u); break;
        case 1: bad = fuzz_next() | 0x8000000000000000ull; break;
        default: bad = UINT64_MAX - fuzz_below(64); break;
        }
        if (o->op == AIMC_DESC_OP_SCALE_ACC && (f == AIMC_DESC_SACC_IDX_ADDR || f == AIMC_DESC_SACC_W_ADDR) && bad == 0) bad = 1;
        aimc_le_put64(d + f, bad);
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    default: { /* a range running past the end of its buffer (truncated table or vector) */
        uint8_t f = o->addr[fuzz_below(o->n_addr)];
        aimc_le_put64(d + f, a + FUZZ_BO_BYTES - 1 - fuzz_below(3));
        return AIMC_REG_ERROR_DMA_FAULT;
    }
    }
}

static void test_fuzz_driver(void)
{
    aimc_arch arch;
    fuzz_arch(&arch);
    aimc_open_opts o = {.arch = &arch, .seed = 3};
    aimc_dev *dev;
    aimc_bo *ba, *bb, *bt;
    uint8_t d[AIMC_DESC_BYTES];
    size_t bad = 0, recovered = 0;

    CU_ASSERT_EQUAL_FATAL(aimc_open("sim:", &o, &dev), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, FUZZ_BO_BYTES, &ba), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, FUZZ_BO_BYTES, &bb), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_bo_create(dev, AIMC_REC_TILE_BYTES, &bt), AIMC_OK);
    aimc_tile t = {.nrows = FUZZ_R, .ncols = FUZZ_C, .xbar = 7};
    aimc_tile_encode(&t, aimc_bo_map(bt));
    CU_ASSERT_EQUAL_FATAL(fuzz_program(dev), AIMC_OK);

    for (int i = 0; i < FUZZ_DRIVER_CASES; i++) {
        const fuzz_op *op = &fuzz_ops[fuzz_below(sizeof fuzz_ops / sizeof fuzz_ops[0])];
        aimc_dev_error e = {0};
        uint64_t f = 0;
        fuzz_valid(d, op, aimc_bo_addr(ba), aimc_bo_addr(bb), aimc_bo_addr(bt));
        uint32_t want = fuzz_mutate(d, op, aimc_bo_addr(ba));
        /* the device works while the host waits: wait for a fence behind the bad command,
         * then its error is there to be read */
        uint64_t g = 0;
        int ok = aimc_submit_raw(dev, d, sizeof d, &f) == AIMC_OK;
        ok = ok && aimc_submit_fence(dev, &g) == AIMC_OK;
        ok = ok && aimc_fence_wait(dev, g, 1000000000) == AIMC_OK;
        ok = ok && aimc_error_get(dev, &e) == AIMC_OK;
        ok = ok && (e.bits & want) && (e.irq_status & AIMC_REG_IRQ_ERROR) && e.fence == f;
        ok = ok && aimc_fence_wait(dev, f, 1000000000) == AIMC_ERR_DEVICE;
        if (!ok) {
            CU_FAIL("a bad command did not end in its error bit, the interrupt and a driver error");
            fprintf(stderr, "fuzz case %d: opcode 0x%x, want bit 0x%x, got 0x%x (fence %llu, error fence %llu, fence %llu behind it): %s\n", i,
                    aimc_le_get16(d), want, e.bits, (unsigned long long)f, (unsigned long long)e.fence, (unsigned long long)g, aimc_error_text(dev));
            break;
        }
        bad++;
        if ((i + 1) % FUZZ_RESET_EVERY == 0) {
            CU_ASSERT_EQUAL_FATAL(aimc_reset(dev), AIMC_OK);
            CU_ASSERT_EQUAL_FATAL(fuzz_program(dev), AIMC_OK);
            CU_ASSERT_EQUAL_FATAL(fuzz_valid_job(dev), AIMC_OK);
            recovered++;
        }
    }
    CU_ASSERT_EQUAL(bad, FUZZ_DRIVER_CASES);
    CU_ASSERT_EQUAL(recovered, FUZZ_DRIVER_CASES / FUZZ_RESET_EVERY);
    aimc_close(dev);
}

/* ---- the ring, at the register level of the device model ---- */

#define FUZZ_HOST_BASE 0x10000ull
#define FUZZ_HOST_BYTES 4096u

typedef struct {
    uint8_t mem[FUZZ_HOST_BYTES];
    int irq;
} fuzz_host;

static int fuzz_rd(void *ctx, uint64_t addr, void *dst, size_t n)
{
    fuzz_host *h = ctx;
    if (addr < FUZZ_HOST_BASE || n > FUZZ_HOST_BYTES || addr - FUZZ_HOST_BASE > FUZZ_HOST_BYTES - n)
        return -1;
    memcpy(dst, h->mem + (addr - FUZZ_HOST_BASE), n);
    return 0;
}

static int fuzz_wr(void *ctx, uint64_t addr, const void *src, size_t n)
{
    fuzz_host *h = ctx;
    if (addr < FUZZ_HOST_BASE || n > FUZZ_HOST_BYTES || addr - FUZZ_HOST_BASE > FUZZ_HOST_BYTES - n)
        return -1;
    memcpy(h->mem + (addr - FUZZ_HOST_BASE), src, n);
    return 0;
}

static void fuzz_irq(void *ctx, int level)
{
    ((fuzz_host *)ctx)->irq = level;
}

/* Let the device work until nothing is scheduled (it works only when run). */
static void fuzz_settle(aimc_accel *dev)
{
    for (int i = 0; i < 1000000 && aimc_accel_run(dev, 1u << 16) != AIMC_ACCEL_IDLE; i++) {
    }
}

/* Ring overflow (a TAIL more than RING_SIZE ahead) and descriptors straddling the end of
 * host memory: ERROR.RING, the interrupt; a soft reset and a good ring then work. */
static void test_fuzz_ring(void)
{
    static fuzz_host h;
    aimc_arch arch;
    fuzz_arch(&arch);
    aimc_accel_host host = {&h, fuzz_rd, fuzz_wr, fuzz_irq};
    aimc_accel *dev;
    size_t ok = 0;
    CU_ASSERT_EQUAL_FATAL(aimc_accel_create(&arch, 1, &host, NULL, &dev, NULL), AIMC_OK);
    for (int i = 0; i < FUZZ_RING_CASES; i++) {
        uint32_t size = 1u << fuzz_below(6); /* 1..32 entries of 64 bytes: fits 4 KiB */
        int overflow = i % 2 == 0;
        /* a good ring at the start of host memory, or one whose last slot runs past its end */
        uint64_t base = overflow ? FUZZ_HOST_BASE
                                 : FUZZ_HOST_BASE + FUZZ_HOST_BYTES - (uint64_t)size * AIMC_DESC_BYTES +
                                       AIMC_DESC_BYTES * (1 + fuzz_below(4));
        aimc_accel_reg_write32(dev, AIMC_REG_CTRL, AIMC_REG_CTRL_SOFT_RESET);
        memset(h.mem, 0, sizeof h.mem); /* NOP descriptors */
        aimc_accel_reg_write32(dev, AIMC_REG_RING_BASE_LO, (uint32_t)base);
        aimc_accel_reg_write32(dev, AIMC_REG_RING_BASE_HI, (uint32_t)(base >> 32));
        aimc_accel_reg_write32(dev, AIMC_REG_RING_SIZE, size);
        aimc_accel_reg_write32(dev, AIMC_REG_IRQ_MASK, AIMC_REG_IRQ_ALL);
        aimc_accel_reg_write32(dev, AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
        if (overflow)
            aimc_accel_reg_write32(dev, AIMC_REG_RING_TAIL, size + 1 + fuzz_below(1u << 30));
        else
            aimc_accel_reg_write32(dev, AIMC_REG_RING_TAIL, size);
        aimc_accel_reg_write32(dev, AIMC_REG_DOORBELL, 1);
        fuzz_settle(dev);
        uint32_t err = aimc_accel_reg_read32(dev, AIMC_REG_ERROR);
        uint32_t want = overflow ? AIMC_REG_ERROR_RING : AIMC_REG_ERROR_RING | AIMC_REG_ERROR_DMA_FAULT;
        if ((err & want) == want && h.irq &&
            (aimc_accel_reg_read32(dev, AIMC_REG_IRQ_STATUS) & AIMC_REG_IRQ_ERROR))
            ok++;
    }
    CU_ASSERT_EQUAL(ok, FUZZ_RING_CASES);
    /* after a reset a good ring runs */
    aimc_accel_reg_write32(dev, AIMC_REG_CTRL, AIMC_REG_CTRL_SOFT_RESET);
    memset(h.mem, 0, sizeof h.mem);
    aimc_le_put64(h.mem + AIMC_DESC_FENCE, 77);
    aimc_accel_reg_write32(dev, AIMC_REG_RING_BASE_LO, (uint32_t)FUZZ_HOST_BASE);
    aimc_accel_reg_write32(dev, AIMC_REG_RING_SIZE, 4);
    aimc_accel_reg_write32(dev, AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
    aimc_accel_reg_write32(dev, AIMC_REG_RING_TAIL, 1);
    aimc_accel_reg_write32(dev, AIMC_REG_DOORBELL, 1);
    fuzz_settle(dev);
    CU_ASSERT_EQUAL(aimc_accel_reg_read32(dev, AIMC_REG_ERROR), 0);
    CU_ASSERT_EQUAL(aimc_accel_reg_read32(dev, AIMC_REG_DONE_FENCE_LO), 77);
    aimc_accel_destroy(dev);
}

int test_fuzz_register(void)
{
    AIMC_SUITE("fuzz", {"1e5 bad descriptors through the driver", test_fuzz_driver},
               {"ring overflow and truncated ring descriptors", test_fuzz_ring});
    return 0;
}
