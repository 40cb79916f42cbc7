/* aimc_tile.h - one placed tile: the unit the mapper places, the driver programs and the
 * device executes.
 *
 * A tile is the block rows [row0, row0+nrows) x columns [col0, col0+ncols) of one weight
 * matrix, bit slice `slice` of its stored weight codes, held by crossbar `xbar` in the
 * physical columns [xbar_col0, xbar_col0 + ncols * cols_per_weight) and the word lines
 * [0, nrows). With differential encoding a weight column uses two adjacent physical columns
 * (G+ at xbar_col0 + 2j, G- at xbar_col0 + 2j + 1).
 *
 * The layout is fixed (32 bytes, little-endian): the device reads tile tables from host
 * memory by DMA in exactly this form (docs/driver.md).
 */
#ifndef AIMC_TILE_H
#define AIMC_TILE_H

#include <stdint.h>

typedef struct aimc_tile {
    uint32_t matrix;    /* matrix index in the model (the driver's matrix id) */
    uint32_t row0;      /* first matrix row (input) held */
    uint32_t nrows;     /* matrix rows held, 1..crossbar.rows */
    uint32_t col0;      /* first matrix column (output) held */
    uint32_t ncols;     /* matrix columns held, 1..logical columns of a crossbar */
    uint32_t slice;     /* weight bit slice, 0 = least significant bits */
    uint32_t xbar;      /* global crossbar: (chip*cores_per_chip + core)*crossbars_per_core + k */
    uint32_t xbar_col0; /* first physical column used in that crossbar */
} aimc_tile;

_Static_assert(sizeof(aimc_tile) == 32, "aimc_tile is a 32-byte DMA descriptor");

#endif /* AIMC_TILE_H */
