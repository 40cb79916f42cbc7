/* aimc_vl_dpi.c - the DPI-C functions of the analog half's simulation model: the RTL's way to the
 * device's C half.
 *
 * Each function is called from rtl/sim/aimc_macro_dpi.sv (which declares them; their C
 * prototypes come from Verilator's generated Vaimc_sim__Dpi.h, included here so a mismatch does
 * not compile). They forward to sim/device/accel.c's split execution: a command's
 * C part (checks on matrix state, data DMA, the float units, PROGRAM), the ADC codes of one beat
 * of a tile's ADC bank, the shift-and-add results handed back, the counters the RTL does not
 * hold.
 * Bit vectors are arrays of 32-bit words, least significant first (svBitVecVal).
 */
#include <string.h>

/* Verilator declares the functions without arguments as f() (C++ style), which C reads as
 * "unspecified arguments": the prototypes below say (void). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstrict-prototypes"
#include "Vaimc_sim__Dpi.h"
#pragma GCC diagnostic pop
#include "aimc_regs.h"
#include "aimc_xbar.h"
#include "aimc_vl.h"
#include "aimc_vl_dpi.h"

void aimc_dpi_cmd_abort(void);
void aimc_dpi_counters_reset(void);
unsigned int aimc_dpi_soft_reset(void);
void aimc_dpi_stage_clear(void);

static _Thread_local aimc_accel *dpi_dev;
static _Thread_local aimc_vl_stage *dpi_stage;

void aimc_vl_dpi_bind(aimc_accel *dev, aimc_vl_stage *st)
{
    dpi_dev = dev;
    dpi_stage = st;
}

/* Lanes of one beat of the accumulation engine (NL of rtl/aimc_rtl_pkg.sv). */
#define VL_LANES 8

unsigned int aimc_dpi_cmd_start(const svBitVecVal *desc, unsigned int *info, unsigned int *kind,
                                unsigned int *computed, unsigned int *n_vec,
                                unsigned int *n_tiles, unsigned long long *busy_cycles)
{
    uint8_t d[AIMC_DESC_BYTES];
    aimc_accel_cmd c;
    uint32_t inf = 0;
    for (unsigned i = 0; i < AIMC_DESC_BYTES; i++) d[i] = (uint8_t)(desc[i / 4] >> (8 * (i % 4)));
    uint32_t bits = dpi_dev ? aimc_accel_cmd_start(dpi_dev, d, &inf, &c)
                            : AIMC_REG_ERROR_INTERNAL;
    if (!dpi_dev) memset(&c, 0, sizeof c);
    *info = inf;
    *kind = (unsigned)c.kind;
    *computed = (unsigned)c.computed;
    *n_vec = c.n_vec;
    *n_tiles = c.n_tiles;
    *busy_cycles = c.busy_cycles;
    return bits;
}

void aimc_dpi_tile(unsigned int k, unsigned int *xbar, unsigned int *ncols)
{
    uint32_t x = 0, n = 0;
    (void)aimc_xbar_mvm_run_tile(aimc_accel_cmd_job(dpi_dev), k, &x, &n);
    *xbar = x;
    *ncols = n;
}

void aimc_dpi_convert(unsigned int v, unsigned int k, unsigned int step, unsigned int col,
                      svBitVecVal *codes)
{
    const aimc_xbar_mvm_run *r = aimc_accel_cmd_job(dpi_dev);
    const int32_t *c = aimc_xbar_mvm_run_codes(r, v, k, step);
    uint32_t ncols = 0;
    memset(codes, 0, VL_LANES * sizeof *codes);
    if (!c || aimc_xbar_mvm_run_tile(r, k, NULL, &ncols)) return;
    for (uint32_t i = 0; i < VL_LANES && col + i < ncols; i++)
        codes[i] = (svBitVecVal)(uint32_t)c[col + i];
}

void aimc_dpi_accumulate(unsigned int v, unsigned int k, unsigned int col,
                         const svBitVecVal *sums)
{
    aimc_xbar_mvm_run *r = aimc_accel_cmd_job(dpi_dev);
    int64_t *a = aimc_xbar_mvm_run_acc(r, v, k);
    uint32_t ncols = 0;
    if (!a || aimc_xbar_mvm_run_tile(r, k, NULL, &ncols)) return;
    for (uint32_t i = 0; i < VL_LANES && col + i < ncols; i++)
        a[col + i] = (int64_t)((uint64_t)sums[2 * i] | (uint64_t)sums[2 * i + 1] << 32);
}

unsigned int aimc_dpi_cmd_finish(unsigned int *info)
{
    uint32_t inf = 0;
    uint32_t bits = aimc_accel_cmd_finish(dpi_dev, &inf);
    *info = inf;
    return bits;
}

void aimc_dpi_cmd_abort(void)
{
    aimc_accel_cmd_abort(dpi_dev);
}

unsigned long long aimc_dpi_counter(unsigned int lo_off)
{
    return aimc_accel_counter(dpi_dev, lo_off);
}

void aimc_dpi_counters_reset(void)
{
    aimc_accel_counters_reset(dpi_dev);
}

unsigned int aimc_dpi_soft_reset(void)
{
    return aimc_accel_machine_reset(dpi_dev) != AIMC_OK;
}

void aimc_dpi_stage_clear(void)
{
    if (dpi_stage) aimc_vl_stage_clear(dpi_stage);
}

void aimc_dpi_stage_in(unsigned long long base, unsigned long long len, unsigned long long addr,
                       unsigned long long data, unsigned int strb, unsigned int err)
{
    if (dpi_stage) aimc_vl_stage_in(dpi_stage, base, len, addr, data, strb, err != 0);
}

unsigned int aimc_dpi_stage_written(unsigned long long addr, unsigned long long len)
{
    return dpi_stage && aimc_vl_stage_written(dpi_stage, addr, len);
}

void aimc_dpi_stage_out(unsigned long long addr, unsigned long long *data, unsigned int *strb)
{
    uint64_t d = 0;
    unsigned s = 0;
    if (dpi_stage) aimc_vl_stage_out(dpi_stage, addr, &d, &s);
    *data = d;
    *strb = s;
}
