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

#include <stddef.h>
#include <stdint.h>
#include "aimc_api.h"

AIMC_API_BEGIN

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

#ifdef __cplusplus
static_assert(sizeof(aimc_tile) == 32, "aimc_tile is a 32-byte DMA descriptor");
#else
_Static_assert(sizeof(aimc_tile) == 32, "aimc_tile is a 32-byte DMA descriptor");
#endif

/* The order in which a machine runs a matrix's tiles: by crossbar, then by first physical
 * column. order[i] (n entries) receives the index of the i-th tile in that order; rank[k]
 * (may be NULL) tile k's position among the tiles of its crossbar (its round: the tiles of one
 * crossbar take turns, first column first) and count[k] (may be NULL) how many tiles share
 * that crossbar. Ties (two tiles at one column, which a valid plan never has) go by index.
 * Returns 0, or -1 when out of memory. The value model and the cost layer both use it, so
 * the round a tile's reads are keyed by is the round its time is counted in. */
int aimc_tile_order(const aimc_tile *tiles, size_t n, uint32_t *order, uint32_t *rank,
                    uint32_t *count);

/* ---- little-endian fields of DMA records and descriptors (shared by the driver and the
 * device model, so both read and write the same bytes) ---- */

static inline uint32_t aimc_le_get16(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8;
}

static inline uint32_t aimc_le_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t aimc_le_get64(const uint8_t *p)
{
    return (uint64_t)aimc_le_get32(p) | (uint64_t)aimc_le_get32(p + 4) << 32;
}

static inline void aimc_le_put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static inline void aimc_le_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static inline void aimc_le_put64(uint8_t *p, uint64_t v)
{
    aimc_le_put32(p, (uint32_t)v);
    aimc_le_put32(p + 4, (uint32_t)(v >> 32));
}

/* The 32-byte DMA form of a tile: its eight u32 fields in declaration order. */
static inline void aimc_tile_encode(const aimc_tile *t, uint8_t p[32])
{
    const uint32_t f[8] = {t->matrix, t->row0, t->nrows, t->col0,
                           t->ncols, t->slice, t->xbar, t->xbar_col0};
    for (int i = 0; i < 8; i++) aimc_le_put32(p + 4 * i, f[i]);
}

static inline void aimc_tile_decode(const uint8_t p[32], aimc_tile *t)
{
    t->matrix = aimc_le_get32(p + 0);
    t->row0 = aimc_le_get32(p + 4);
    t->nrows = aimc_le_get32(p + 8);
    t->col0 = aimc_le_get32(p + 12);
    t->ncols = aimc_le_get32(p + 16);
    t->slice = aimc_le_get32(p + 20);
    t->xbar = aimc_le_get32(p + 24);
    t->xbar_col0 = aimc_le_get32(p + 28);
}

AIMC_API_END

#endif /* AIMC_TILE_H */
