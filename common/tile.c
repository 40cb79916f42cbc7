/* tile.c - the order a machine runs a matrix's tiles in (aimc_tile.h). */
#include "aimc_tile.h"

#include <stdlib.h>

typedef struct {
    uint32_t xbar, col, idx;
} tile_key;

static int tile_key_cmp(const void *pa, const void *pb)
{
    const tile_key *a = pa, *b = pb;
    if (a->xbar != b->xbar) return a->xbar < b->xbar ? -1 : 1;
    if (a->col != b->col) return a->col < b->col ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

int aimc_tile_order(const aimc_tile *tiles, size_t n, uint32_t *order, uint32_t *rank,
                    uint32_t *count)
{
    if (n == 0) return 0;
    if (n > UINT32_MAX) return -1;
    tile_key *k = malloc(n * sizeof *k);
    if (!k) return -1;
    for (size_t i = 0; i < n; i++) k[i] = (tile_key){tiles[i].xbar, tiles[i].xbar_col0, (uint32_t)i};
    qsort(k, n, sizeof *k, tile_key_cmp);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && k[j].xbar == k[i].xbar) j++;
        for (size_t q = i; q < j; q++) {
            order[q] = k[q].idx;
            if (rank) rank[k[q].idx] = (uint32_t)(q - i);
            if (count) count[k[q].idx] = (uint32_t)(j - i);
        }
        i = j;
    }
    free(k);
    return 0;
}
