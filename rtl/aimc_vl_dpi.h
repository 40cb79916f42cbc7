/* aimc_vl_dpi.h - binding the DPI-C functions of the analog half's model (rtl/aimc_vl_dpi.c) to
 * a device, and the operand buffers between the RTL's DMA and the C half.
 *
 * The DPI imports are plain C functions with no handle; the wrapper (rtl/aimc_vl.cpp) binds
 * the C half and the operand buffers of the model it is about to clock, per thread, before
 * every evaluation.
 *
 * The operand buffers: the RTL reads every range a command reads from host memory through its
 * AXI4 master and hands the beats over (stage_in); the C half's DMA callbacks read from them
 * and write into them instead of host memory; the RTL asks what was written (stage_written,
 * stage_out) and writes it to host memory through its AXI4 master. A read by the C half of
 * bytes no staged range covers is answered as a fault and counted (aimc_vl_unstaged): the RTL
 * failed to move an operand.
 */
#ifndef AIMC_VL_DPI_H
#define AIMC_VL_DPI_H

#include <stdint.h>

#include "aimc_accel.h"

typedef struct aimc_vl_stage aimc_vl_stage;

/* The device and operand buffers the DPI functions of this thread act on (NULL: none; they
 * then answer ERROR.INTERNAL and zeros). */
void aimc_vl_dpi_bind(aimc_accel *dev, aimc_vl_stage *st);

/* Drop every staged range (a new command). */
void aimc_vl_stage_clear(aimc_vl_stage *st);
/* One beat the RTL read for the range [base, base + len): the bytes in strb's lanes of the
 * 8-byte beat at addr; err: they are not host memory (the range is unknown from there on). */
void aimc_vl_stage_in(aimc_vl_stage *st, uint64_t base, uint64_t len, uint64_t addr,
                      uint64_t data, unsigned strb, int err);
/* 1 when the C half wrote a byte of [addr, addr + len) since the last clear. */
int aimc_vl_stage_written(const aimc_vl_stage *st, uint64_t addr, uint64_t len);
/* The bytes the C half wrote in the 8-byte beat at addr (the last write of each byte): data
 * in their lanes, strb the lanes written. */
void aimc_vl_stage_out(const aimc_vl_stage *st, uint64_t addr, uint64_t *data, unsigned *strb);

#endif /* AIMC_VL_DPI_H */
