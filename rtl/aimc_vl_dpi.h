/* aimc_vl_dpi.h - binding the DPI-C functions of the RTL (rtl/aimc_vl_dpi.c) to a device.
 *
 * The RTL's DPI imports are plain C functions with no handle; the wrapper (rtl/aimc_vl.cpp)
 * binds the C half of the model it is about to clock, per thread, before every evaluation.
 */
#ifndef AIMC_VL_DPI_H
#define AIMC_VL_DPI_H

#include "aimc_accel.h"

/* The device the DPI functions of this thread act on (NULL: none; they then answer
 * ERROR.INTERNAL and zeros). */
void aimc_vl_dpi_bind(aimc_accel *dev);

#endif /* AIMC_VL_DPI_H */
