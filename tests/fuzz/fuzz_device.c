/* fuzz_device.c - libFuzzer target: raw commands and register writes against the device
 * model behind sim: (sim/device), through its registers and through the driver.
 *
 * Memory: MEM bytes of host memory at device address HB (the sim: driver's first buffer
 * object, so that one input means the same in both modes): the ring at 0 (register mode),
 * the input's data at DATA, a valid job's operands at JOB.
 *
 * The input:
 *   byte 0     bits 0-3: descriptors (0..15); bit 4: a timing-only device (register mode);
 *              bit 5: ring the doorbell before the register writes; bit 6: through the
 *              driver on sim: (aimc_submit_raw and aimc_fence_wait; no register writes)
 *   byte 1     register writes (0..15, register mode)
 *   then       the descriptors, 64 bytes each
 *   then       the register writes, 8 bytes each: u32 offset (bit 31: a read instead),
 *              u32 value; the device runs a few events after each
 *   then       data, copied to host memory at DATA (the rest of memory holds a pattern)
 * Missing bytes are zeros.
 *
 * What must hold: no crash, leak or sanitizer report; the device comes to rest (a bounded
 * number of aimc_accel_run calls; through the driver, every wait returns within 10 s with
 * OK or DEVICE and a message); ERROR, STATUS and IRQ_STATUS hold known bits, and STATUS.ERROR
 * says whether ERROR is set. Then, after a soft reset (aimc_reset through the driver), a valid job of every
 * opcode (PROGRAM with verify, MVM, READBACK, RMSNORM, TOPK, SILU_MUL, GATHER, SCALE_ACC,
 * ROUTE, NORM, ACT, ATTN, FENCE) must give exactly what it gave on a fresh device: every output byte, every
 * status, the device clock and the counters.
 *
 * Seeds: with AIMC_FUZZ_SEEDS_OUT=DIR the target writes its seed corpus there and exits
 * (tests/fuzz/seeds.sh): the valid job and each of its commands alone, in both modes, with
 * register writes, and with data from the file AIMC_FUZZ_SEED_DATA (the repository's model
 * weights).
 */
#include "fuzz_util.h"

#include "aimc.h"
#include "aimc_accel.h"
#include "aimc_hal.h"
#include "aimc_regs.h"

#define MEM (256u << 10)
#define RING_N 16u
#define DATA 0x400u
#define JOB 0x20000u
#define JOB_BYTES 0x4000u
#define RUN_CALLS 200000 /* aimc_accel_run calls before an input counts as a hang */
#define WAIT_NS 10000000000LL

/* The driver's list names every backend; this target links only sim:, mock: and uio:. */
static int no_open(const char *rest, const aimc_open_opts *o, void **ctx, aimc_diag *d)
{
    (void)rest;
    (void)o;
    (void)ctx;
    return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "not in the fuzz target");
}
const aimc_hal_ops aimc_hal_sysc_ops = {.scheme = "sysc", .open = no_open};
const aimc_hal_ops aimc_hal_rtl_ops = {.scheme = "rtl", .open = no_open};

typedef struct {
    uint8_t *mem;
    aimc_accel *dev;
} host;

static uint64_t HB;                /* device address of memory */
static host reg_dev[2];            /* register mode: values, timing-only */
static aimc_dev *drv;              /* driver mode: sim: */
static aimc_bo *drv_bo;
static uint8_t pristine[JOB_BYTES]; /* the job's operands */
enum { JOB_N = 13 };
static uint8_t job_desc[JOB_N][AIMC_DESC_BYTES];

typedef struct {
    uint8_t mem[JOB_BYTES];
    uint32_t status[JOB_N];
    int rc[JOB_N];
    uint64_t cnt[6];
} job_result;
static job_result golden[3]; /* register values, register timing-only, driver */

static int host_read(void *ctx, uint64_t addr, void *dst, size_t n)
{
    host *h = ctx;
    if (addr < HB || n > MEM || addr - HB > MEM - n) return -1;
    memcpy(dst, h->mem + (addr - HB), n);
    return 0;
}

static int host_write(void *ctx, uint64_t addr, const void *src, size_t n)
{
    host *h = ctx;
    if (addr < HB || n > MEM || addr - HB > MEM - n) return -1;
    memcpy(h->mem + (addr - HB), src, n);
    return 0;
}

/* ---- the valid job ---- */

static float pat(uint32_t i)
{
    return (float)((int)((i * 2654435761u) >> 24) - 128) / 64.0f;
}

static void job_build(void)
{
    const uint64_t J = HB + JOB;
    float *f = (float *)pristine;
    for (uint32_t i = 0; i < JOB_BYTES / 4; i++) f[i] = pat(i);
    /* tiles of a 16 x 8 matrix, one per slice, crossbars 0..3 (the small machine below) */
    for (uint32_t s = 0; s < 4; s++) {
        const aimc_tile t = {0, 0, 16, 0, 8, s, s, 0};
        aimc_tile_encode(&t, pristine + 0x400 + 32 * s);
    }
    const uint32_t gidx[4] = {3, 1, 0, 2};
    for (int i = 0; i < 4; i++) aimc_le_put32(pristine + 0x2400 + 4 * i, gidx[i]);
    memset(job_desc, 0, sizeof job_desc);
    uint8_t *d = job_desc[0];
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_PROGRAM);
    aimc_le_put32(d + AIMC_DESC_PROG_ROWS, 16);
    aimc_le_put32(d + AIMC_DESC_PROG_COLS, 8);
    aimc_le_put32(d + AIMC_DESC_PROG_NTILES, 4);
    aimc_le_put64(d + AIMC_DESC_PROG_W_ADDR, J);
    aimc_le_put64(d + AIMC_DESC_PROG_TILES_ADDR, J + 0x400);
    aimc_le_put32(d + AIMC_DESC_PROG_VERIFY_ITERS, 2);
    const float tol = 1.0f;
    memcpy(d + AIMC_DESC_PROG_VERIFY_TOL, &tol, 4);
    aimc_le_put64(d + AIMC_DESC_PROG_REPORT_ADDR, J + 0x3000);
    d = job_desc[1];
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_MVM);
    aimc_le_put32(d + AIMC_DESC_MVM_BATCH, 2);
    aimc_le_put32(d + AIMC_DESC_MVM_ROWS, 16);
    aimc_le_put32(d + AIMC_DESC_MVM_COLS, 8);
    aimc_le_put64(d + AIMC_DESC_MVM_X_ADDR, J + 0x800);
    aimc_le_put64(d + AIMC_DESC_MVM_Y_ADDR, J + 0xC00);
    d = job_desc[2];
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_READBACK);
    aimc_le_put32(d + AIMC_DESC_RDBK_NROWS, 4);
    aimc_le_put32(d + AIMC_DESC_RDBK_COLS, 8);
    aimc_le_put64(d + AIMC_DESC_RDBK_OUT_ADDR, J + 0x3400);
    d = job_desc[3];
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_RMSNORM);
    aimc_le_put32(d + AIMC_DESC_RMS_BATCH, 4);
    aimc_le_put32(d + AIMC_DESC_RMS_DIM, 16);
    aimc_le_put64(d + AIMC_DESC_RMS_IN_ADDR, J + 0x1000);
    aimc_le_put64(d + AIMC_DESC_RMS_OUT_ADDR, J + 0x1400);
    d = job_desc[4];
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_TOPK);
    aimc_le_put32(d + AIMC_DESC_TOPK_BATCH, 4);
    aimc_le_put32(d + AIMC_DESC_TOPK_N, 16);
    aimc_le_put32(d + AIMC_DESC_TOPK_K, 3);
    aimc_le_put64(d + AIMC_DESC_TOPK_IN_ADDR, J + 0x1000);
    aimc_le_put64(d + AIMC_DESC_TOPK_IDX_ADDR, J + 0x1800);
    aimc_le_put64(d + AIMC_DESC_TOPK_W_ADDR, J + 0x1C00);
    d = job_desc[5];
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_SILU_MUL);
    aimc_le_put32(d + AIMC_DESC_SILU_COUNT, 64);
    aimc_le_put64(d + AIMC_DESC_SILU_G_ADDR, J + 0x1000);
    aimc_le_put64(d + AIMC_DESC_SILU_U_ADDR, J + 0x1400);
    aimc_le_put64(d + AIMC_DESC_SILU_OUT_ADDR, J + 0x2000);
    d = job_desc[6];
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_GATHER);
    aimc_le_put32(d + AIMC_DESC_GATH_BATCH, 4);
    aimc_le_put32(d + AIMC_DESC_GATH_DIM, 16);
    aimc_le_put32(d + AIMC_DESC_GATH_SRC_ROWS, 4);
    aimc_le_put64(d + AIMC_DESC_GATH_SRC_ADDR, J + 0x1000);
    aimc_le_put64(d + AIMC_DESC_GATH_IDX_ADDR, J + 0x2400);
    aimc_le_put64(d + AIMC_DESC_GATH_DST_ADDR, J + 0x2800);
    d = job_desc[7];
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_SCALE_ACC);
    aimc_le_put32(d + AIMC_DESC_SACC_BATCH, 4);
    aimc_le_put32(d + AIMC_DESC_SACC_DIM, 16);
    aimc_le_put32(d + AIMC_DESC_SACC_DST_ROWS, 4);
    aimc_le_put64(d + AIMC_DESC_SACC_SRC_ADDR, J + 0x2800);
    aimc_le_put64(d + AIMC_DESC_SACC_IDX_ADDR, J + 0x2400);
    aimc_le_put64(d + AIMC_DESC_SACC_W_ADDR, J + 0x1C00);
    aimc_le_put64(d + AIMC_DESC_SACC_DST_ADDR, J + 0x2C00);
    /* ROUTE: sigmoid, biases (the pattern after the record), 2 of 4 groups */
    aimc_route_rule_write(pristine + 0x3580, 1, 1, 4, 2, 1.5f, 1);
    d = job_desc[8];
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_ROUTE);
    aimc_le_put32(d + AIMC_DESC_ROUTE_BATCH, 4);
    aimc_le_put32(d + AIMC_DESC_ROUTE_N, 16);
    aimc_le_put32(d + AIMC_DESC_ROUTE_K, 3);
    aimc_le_put64(d + AIMC_DESC_ROUTE_IN_ADDR, J + 0x1000);
    aimc_le_put64(d + AIMC_DESC_ROUTE_IDX_ADDR, J + 0x3500);
    aimc_le_put64(d + AIMC_DESC_ROUTE_W_ADDR, J + 0x3540);
    aimc_le_put64(d + AIMC_DESC_ROUTE_RULE_ADDR, J + 0x3580);
    d = job_desc[9];
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_NORM);
    aimc_le_put32(d + AIMC_DESC_NORM_BATCH, 4);
    aimc_le_put32(d + AIMC_DESC_NORM_DIM, 16);
    const float eps = 1e-5f;
    memcpy(d + AIMC_DESC_NORM_EPS, &eps, 4);
    aimc_le_put64(d + AIMC_DESC_NORM_IN_ADDR, J + 0x1000);
    aimc_le_put64(d + AIMC_DESC_NORM_OUT_ADDR, J + 0x3600);
    aimc_le_put64(d + AIMC_DESC_NORM_W_ADDR, J + 0x1400);
    d = job_desc[10];
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_ACT);
    aimc_le_put32(d + AIMC_DESC_ACT_COUNT, 64);
    aimc_le_put64(d + AIMC_DESC_ACT_IN_ADDR, J + 0x1400);
    aimc_le_put64(d + AIMC_DESC_ACT_OUT_ADDR, J + 0x3700);
    /* ATTN: 2 heads on one kv head, dk = dv = 8, 2 queries appended at positions 2, 3 of 8 */
    aimc_attn_record_write(pristine + 0x3800, 2, 1, 8, 8, 8, 4, 0, 0, 0.35f, 10000.0f, 1);
    d = job_desc[11];
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_ATTN);
    aimc_le_put32(d + AIMC_DESC_ATTN_BATCH, 2);
    aimc_le_put32(d + AIMC_DESC_ATTN_POS0, 2);
    aimc_le_put64(d + AIMC_DESC_ATTN_Q_ADDR, J + 0x1000);
    aimc_le_put64(d + AIMC_DESC_ATTN_KV_ADDR, J + 0x1400);
    aimc_le_put64(d + AIMC_DESC_ATTN_OUT_ADDR, J + 0x3840);
    aimc_le_put64(d + AIMC_DESC_ATTN_CACHE_ADDR, J + 0x3900);
    aimc_le_put64(d + AIMC_DESC_ATTN_PARAM_ADDR, J + 0x3800);
    d = job_desc[12];
    aimc_le_put16(d + AIMC_DESC_OPCODE, AIMC_DESC_OP_FENCE);
    for (int i = 0; i < JOB_N; i++) aimc_le_put16(job_desc[i] + AIMC_DESC_FLAGS, AIMC_DESC_FLAG_IRQ);
}

/* The small machine: ideal 16 x 16 crossbars would hide the noise; PCM keeps it, so a
 * reset that left the random state behind would show in the MVM. The ADC's range is its
 * full scale (a calibrated range sorts outputs at every PROGRAM: slow for a fuzz target). */
static void fuzz_arch(aimc_arch *a)
{
    aimc_arch_defaults(a);
    a->device.type = AIMC_DEVICE_PCM;
    a->adc.range = AIMC_ADC_RANGE_FULL_SCALE;
    a->crossbar.rows = 16;
    a->crossbar.cols = 16;
    a->hierarchy.chips = 1;
    a->hierarchy.cores_per_chip = 2;
    a->hierarchy.crossbars_per_core = 4;
}

static uint32_t rd(host *h, uint32_t off)
{
    return aimc_accel_reg_read32(h->dev, off);
}

static void wr(host *h, uint32_t off, uint32_t v)
{
    aimc_accel_reg_write32(h->dev, off, v);
}

static void setup_ring(host *h)
{
    wr(h, AIMC_REG_RING_BASE_LO, (uint32_t)HB);
    wr(h, AIMC_REG_RING_BASE_HI, (uint32_t)(HB >> 32));
    wr(h, AIMC_REG_RING_SIZE, RING_N);
    wr(h, AIMC_REG_IRQ_MASK, AIMC_REG_IRQ_ALL);
    wr(h, AIMC_REG_CTRL, AIMC_REG_CTRL_ENABLE);
}

/* Run the device until nothing is scheduled; a device that never rests is a finding. */
static void settle(host *h)
{
    for (int i = 0; aimc_accel_run(h->dev, 1u << 12) != AIMC_ACCEL_IDLE; i++)
        if (i == RUN_CALLS) {
            fprintf(stderr, "fuzz: the device does not come to rest\n");
            abort();
        }
}

static void counters(aimc_accel *dev, uint64_t c[6])
{
    static const uint32_t reg[6] = {AIMC_REG_CNT_TIME_LO,          AIMC_REG_CNT_CYCLES_LO,
                                    AIMC_REG_CNT_MVMS_LO,          AIMC_REG_CNT_DIGITAL_OPS_LO,
                                    AIMC_REG_CNT_ENERGY_XBAR_FJ_LO, AIMC_REG_CNT_HOST_BYTES_LO};
    for (int i = 0; i < 6; i++) c[i] = aimc_accel_counter(dev, reg[i]);
}

/* The valid job at register level, after a soft reset. */
static void job_reg(host *h, job_result *r)
{
    wr(h, AIMC_REG_CTRL, AIMC_REG_CTRL_SOFT_RESET);
    setup_ring(h);
    memcpy(h->mem + JOB, pristine, JOB_BYTES);
    for (int i = 0; i < JOB_N; i++) {
        uint8_t *slot = h->mem + (size_t)i * AIMC_DESC_BYTES;
        memcpy(slot, job_desc[i], AIMC_DESC_BYTES);
        aimc_le_put64(slot + AIMC_DESC_FENCE, (uint64_t)i + 1);
    }
    wr(h, AIMC_REG_RING_TAIL, JOB_N);
    wr(h, AIMC_REG_DOORBELL, 1);
    settle(h);
    memset(r, 0, sizeof *r);
    memcpy(r->mem, h->mem + JOB, JOB_BYTES);
    for (int i = 0; i < JOB_N; i++)
        r->status[i] = aimc_le_get32(h->mem + (size_t)i * AIMC_DESC_BYTES + AIMC_DESC_STATUS);
    counters(h->dev, r->cnt);
}

/* The valid job through the driver, after aimc_reset. */
static void job_drv(job_result *r)
{
    memset(r, 0, sizeof *r);
    if (aimc_reset(drv) != AIMC_OK) {
        fprintf(stderr, "fuzz: aimc_reset: %s\n", aimc_error_text(drv));
        abort();
    }
    uint8_t *m = aimc_bo_map(drv_bo);
    memcpy(m + JOB, pristine, JOB_BYTES);
    aimc_bo_sync(drv_bo, AIMC_SYNC_TO_DEVICE);
    uint64_t f[JOB_N];
    for (int i = 0; i < JOB_N; i++)
        if (aimc_submit_raw(drv, job_desc[i], AIMC_DESC_BYTES, &f[i]) != AIMC_OK) abort();
    for (int i = 0; i < JOB_N; i++) r->rc[i] = aimc_fence_wait(drv, f[i], WAIT_NS);
    memcpy(r->mem, m + JOB, JOB_BYTES);
    aimc_counters c;
    aimc_counters_read(drv, &c);
    const uint64_t v[6] = {c.time, c.cycles, c.mvms, c.digital_ops, 0, c.host_bytes};
    memcpy(r->cnt, v, sizeof v);
}

static void job_check(const job_result *got, const job_result *want, const char *where)
{
    if (memcmp(got, want, sizeof *got) == 0) return;
    for (int i = 0; i < JOB_N; i++)
        if (got->status[i] != want->status[i] || got->rc[i] != want->rc[i])
            fprintf(stderr, "fuzz: %s: command %d: status 0x%x rc %d, fresh 0x%x rc %d\n", where,
                    i, got->status[i], got->rc[i], want->status[i], want->rc[i]);
    for (int i = 0; i < 6; i++)
        if (got->cnt[i] != want->cnt[i])
            fprintf(stderr, "fuzz: %s: counter %d: %llu, fresh %llu\n", where, i,
                    (unsigned long long)got->cnt[i], (unsigned long long)want->cnt[i]);
    for (uint32_t i = 0; i < JOB_BYTES; i++)
        if (got->mem[i] != want->mem[i]) {
            fprintf(stderr, "fuzz: %s: job memory differs from byte 0x%x\n", where, JOB + i);
            break;
        }
    fprintf(stderr, "fuzz: %s: the valid job after a reset differs from a fresh device's\n",
            where);
    abort();
}

/* ---- seeds ---- */

static void put_seed(const char *dir, const char *name, const uint8_t *p, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    fuzz_write(path, p, n);
}

static void write_seeds(const char *dir, const char *data_file)
{
    enum { CAP = 2 + JOB_N * AIMC_DESC_BYTES + 16 * 8 + (JOB - DATA) };
    static uint8_t s[CAP], data[JOB - DATA];
    size_t data_n = 0;
    FILE *f = data_file ? fopen(data_file, "rb") : NULL;
    if (f) {
        data_n = fread(data, 1, sizeof data, f);
        fclose(f);
    }
    char name[64];
    for (int mode = 0; mode < 3; mode++) { /* register values, timing-only, driver */
        const uint8_t flags = (uint8_t)(mode == 1 ? 0x10 : mode == 2 ? 0x40 : 0);
        /* the whole job, with its operands as data */
        size_t n = 0;
        s[n++] = (uint8_t)(JOB_N | flags);
        s[n++] = 0;
        for (int i = 0; i < JOB_N; i++, n += AIMC_DESC_BYTES)
            memcpy(s + n, job_desc[i], AIMC_DESC_BYTES);
        snprintf(name, sizeof name, "job-%d", mode);
        put_seed(dir, name, s, n);
        /* each command alone, behind the PROGRAM (its job's operands in memory) */
        for (int c = 1; c < JOB_N; c++) {
            n = 0;
            s[n++] = (uint8_t)(2 | flags);
            s[n++] = 0;
            memcpy(s + n, job_desc[0], AIMC_DESC_BYTES);
            memcpy(s + n + AIMC_DESC_BYTES, job_desc[c], AIMC_DESC_BYTES);
            n += 2 * AIMC_DESC_BYTES;
            snprintf(name, sizeof name, "cmd%d-%d", c, mode);
            put_seed(dir, name, s, n);
        }
        /* the digital commands on the data region, filled from the repository's file */
        if (data_n) {
            n = 0;
            s[n++] = (uint8_t)(5 | flags);
            s[n++] = 0;
            for (int c = 3; c < 8; c++, n += AIMC_DESC_BYTES) {
                memcpy(s + n, job_desc[c], AIMC_DESC_BYTES);
                for (uint32_t off = 0x10; off < AIMC_DESC_BYTES; off += 8) {
                    const uint64_t a = aimc_le_get64(s + n + off);
                    if (a >= HB + JOB && a < HB + JOB + JOB_BYTES)
                        aimc_le_put64(s + n + off, a - JOB + DATA);
                }
            }
            memcpy(s + n, data, data_n);
            n += data_n;
            snprintf(name, sizeof name, "data-%d", mode);
            put_seed(dir, name, s, n);
        }
    }
    /* register writes: the ring moved while busy, the watchdog, a soft reset mid-way */
    size_t n = 0;
    s[n++] = (uint8_t)(JOB_N | 0x20);
    s[n++] = 5;
    for (int i = 0; i < JOB_N; i++, n += AIMC_DESC_BYTES) memcpy(s + n, job_desc[i], AIMC_DESC_BYTES);
    const uint32_t w[5][2] = {{AIMC_REG_WATCHDOG_US, 1},
                              {AIMC_REG_RING_SIZE, 8},
                              {AIMC_REG_CNT_CTRL, AIMC_REG_CNT_CTRL_RESET},
                              {AIMC_REG_CNT_TIME_LO | 0x80000000u, 0},
                              {AIMC_REG_CTRL, AIMC_REG_CTRL_SOFT_RESET}};
    for (int i = 0; i < 5; i++, n += 8) {
        aimc_le_put32(s + n, w[i][0]);
        aimc_le_put32(s + n + 4, w[i][1]);
    }
    put_seed(dir, "registers", s, n);
}

/* ---- the target ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    aimc_arch a;
    fuzz_arch(&a);
    aimc_diag d = {{0}};
    aimc_open_opts o = {.arch = &a, .seed = 7, .diag = &d};
    if (aimc_open("sim:", &o, &drv) != AIMC_OK || aimc_bo_create(drv, MEM, &drv_bo) != AIMC_OK) {
        fprintf(stderr, "fuzz: sim: %s\n", d.msg);
        abort();
    }
    HB = aimc_bo_addr(drv_bo);
    job_build();
    const char *seeds = getenv("AIMC_FUZZ_SEEDS_OUT");
    if (seeds) {
        write_seeds(seeds, getenv("AIMC_FUZZ_SEED_DATA"));
        exit(0);
    }
    for (int t = 0; t < 2; t++) {
        host *h = &reg_dev[t];
        const aimc_accel_host cb = {h, host_read, host_write, NULL};
        const aimc_accel_opts ao = {.timing_only = t};
        h->mem = calloc(1, MEM);
        if (!h->mem || aimc_accel_create(&a, 7, &cb, &ao, &h->dev, &d) != AIMC_OK) {
            fprintf(stderr, "fuzz: device: %s\n", d.msg);
            abort();
        }
        job_reg(h, &golden[t]);
    }
    job_drv(&golden[2]);
    for (int i = 0; i < JOB_N; i++)
        if (golden[0].status[i] & ~(AIMC_DESC_STATUS_DONE | AIMC_REG_ERROR_VERIFY) ||
            (golden[2].rc[i] != AIMC_OK && golden[2].rc[i] != AIMC_ERR_DEVICE)) {
            fprintf(stderr, "fuzz: the valid job's command %d fails on a fresh device\n", i);
            abort();
        }
    return 0;
}

/* The input's memory: a pattern, its data at DATA. */
static void fill(uint8_t *mem, const uint8_t *data, size_t n)
{
    for (uint32_t i = 0; i < MEM / 4; i++) {
        const float v = pat(i ^ 0x5a5a5u);
        memcpy(mem + 4 * (size_t)i, &v, 4);
    }
    if (n > JOB - DATA) n = JOB - DATA;
    memcpy(mem + DATA, data, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t head[2] = {0, 0};
    memcpy(head, data, size < 2 ? size : 2);
    const uint32_t n_desc = head[0] & 15u, n_wr = head[1] & 15u;
    const int timing = (head[0] >> 4) & 1, early = (head[0] >> 5) & 1, via_drv = (head[0] >> 6) & 1;
    size_t at = size < 2 ? size : 2;
    uint8_t desc[15][AIMC_DESC_BYTES], wrs[15][8];
    memset(desc, 0, sizeof desc);
    memset(wrs, 0, sizeof wrs);
    for (uint32_t i = 0; i < n_desc && at < size; i++) {
        const size_t k = size - at < AIMC_DESC_BYTES ? size - at : AIMC_DESC_BYTES;
        memcpy(desc[i], data + at, k);
        at += k;
    }
    for (uint32_t i = 0; i < n_wr && at < size; i++) {
        const size_t k = size - at < 8 ? size - at : 8;
        memcpy(wrs[i], data + at, k);
        at += k;
    }

    if (via_drv) {
        fill(aimc_bo_map(drv_bo), data + at, size - at);
        aimc_bo_sync(drv_bo, AIMC_SYNC_TO_DEVICE);
        uint64_t f[15];
        uint32_t issued = 0;
        for (uint32_t i = 0; i < n_desc; i++)
            if (aimc_submit_raw(drv, desc[i], AIMC_DESC_BYTES, &f[issued]) == AIMC_OK) issued++;
        for (uint32_t i = 0; i < issued; i++) {
            const int rc = aimc_fence_wait(drv, f[i], WAIT_NS);
            if (rc != AIMC_OK && rc != AIMC_ERR_DEVICE) {
                fprintf(stderr, "fuzz: command %u: %s: %s\n", i, aimc_strerror(rc),
                        aimc_error_text(drv));
                abort();
            }
            if (rc == AIMC_ERR_DEVICE && !aimc_error_text(drv)[0]) {
                fprintf(stderr, "fuzz: command %u failed without a message\n", i);
                abort();
            }
        }
        job_result r;
        job_drv(&r);
        job_check(&r, &golden[2], "driver");
        return 0;
    }

    host *h = &reg_dev[timing];
    wr(h, AIMC_REG_CTRL, AIMC_REG_CTRL_SOFT_RESET);
    fill(h->mem, data + at, size - at);
    setup_ring(h);
    for (uint32_t i = 0; i < n_desc; i++) memcpy(h->mem + (size_t)i * AIMC_DESC_BYTES, desc[i], AIMC_DESC_BYTES);
    wr(h, AIMC_REG_RING_TAIL, n_desc);
    if (early) wr(h, AIMC_REG_DOORBELL, 1);
    for (uint32_t i = 0; i < n_wr; i++) {
        const uint32_t off = aimc_le_get32(wrs[i]), v = aimc_le_get32(wrs[i] + 4);
        if (off & 0x80000000u)
            (void)rd(h, (off & 0xffffu) % AIMC_REG_WINDOW_BYTES);
        else
            wr(h, (off & 0xffffu) % AIMC_REG_WINDOW_BYTES, v);
        (void)aimc_accel_run(h->dev, 1 + (v & 63u));
        if (v & 64u) (void)aimc_accel_advance(h->dev, 1000u * (v >> 8 & 1023u));
    }
    wr(h, AIMC_REG_DOORBELL, 1);
    settle(h);
    for (int i = 0; i < 3; i++) (void)aimc_accel_advance(h->dev, 1000000);
    /* the error state holds known bits only */
    const uint32_t err = rd(h, AIMC_REG_ERROR), status = rd(h, AIMC_REG_STATUS);
    const uint32_t status_all = AIMC_REG_STATUS_READY | AIMC_REG_STATUS_BUSY |
                                AIMC_REG_STATUS_ERROR | AIMC_REG_STATUS_HALTED;
    if ((err & ~AIMC_REG_ERROR_ALL) || (status & ~status_all) ||
        (rd(h, AIMC_REG_IRQ_STATUS) & ~AIMC_REG_IRQ_ALL) || (!err != !(status & AIMC_REG_STATUS_ERROR))) {
        fprintf(stderr, "fuzz: ERROR 0x%x, STATUS 0x%x\n", err, status);
        abort();
    }
    job_result r;
    job_reg(h, &r);
    job_check(&r, &golden[timing], timing ? "timing-only device" : "device");
    return 0;
}
