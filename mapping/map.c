/* map.c - the mapper: cuts every weight matrix of a model into crossbar tiles and bit
 * slices and places them first-fit on the crossbars of a machine (docs/mapping.md).
 */
#include "aimc_map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Crossbar column usage of a first-fit placement on a machine without a crossbar limit.
 * used[x] counts the physical columns taken in crossbar x (packed from column 0); crossbars
 * are opened in index order, so those holding tiles are exactly [0, n_open). */
typedef struct {
    uint32_t *used;
    size_t cap;     /* entries allocated in used */
    size_t n_open;  /* crossbars holding at least one tile */
    size_t cursor;  /* every crossbar below cursor is full (no free column) */
    uint32_t cols;  /* physical columns of a crossbar */
} ff_state;

static size_t ceil_div(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

/* Open one more crossbar (grow used[] when needed). Returns AIMC_OK or AIMC_ERR_NOMEM. */
static int ff_open(ff_state *s)
{
    if (s->n_open == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1024;
        uint32_t *u = realloc(s->used, cap * sizeof *u);
        if (!u) return AIMC_ERR_NOMEM;
        memset(u + s->cap, 0, (cap - s->cap) * sizeof *u);
        s->used = u;
        s->cap = cap;
    }
    s->n_open++;
    return AIMC_OK;
}

/* Put a tile of `width` physical columns (1..cols) into the first crossbar with that many
 * free columns; *xbar and *col0 receive where. Returns AIMC_OK or AIMC_ERR_NOMEM. */
static int ff_place(ff_state *s, uint32_t width, size_t *xbar, uint32_t *col0)
{
    while (s->cursor < s->n_open && s->used[s->cursor] == s->cols) s->cursor++;
    size_t x = s->cursor;
    while (x < s->n_open && s->cols - s->used[x] < width) x++;
    if (x == s->n_open) {
        int rc = ff_open(s);
        if (rc) return rc;
    }
    *xbar = x;
    *col0 = s->used[x];
    s->used[x] += width;
    return AIMC_OK;
}

/* Frees the plan and its arrays; NULL is a no-op. */
void aimc_plan_free(aimc_plan *p)
{
    if (!p) return;
    free(p->tiles);
    free(p->first);
    free(p->count);
    free(p);
}

/* Cut and place every matrix (docs/mapping.md). Fails with AIMC_ERR_INVALID (NULL argument,
 * invalid machine, empty matrix), AIMC_ERR_NOFIT (message: crossbars and chips needed) or
 * AIMC_ERR_NOMEM; then *out is NULL. The caller frees *out with aimc_plan_free(). */
int aimc_map_plan(const aimc_arch *arch, const aimc_model *model, aimc_plan **out,
                  aimc_diag *d)
{
    if (!out) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_map_plan: out is NULL");
    *out = NULL;
    if (!arch || !model)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_map_plan: arch or model is NULL");
    if (model->n_matrices && !model->m)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_map_plan: model has no matrix list");

    const int rows = arch->crossbar.rows;
    const int cols = arch->crossbar.cols;
    const int per_chip = arch->hierarchy.crossbars_per_core * arch->hierarchy.cores_per_chip;
    if (rows < 1 || cols < 1 || arch->crossbar.bits_per_cell < 1 ||
        arch->crossbar.weight_bits < 2 || per_chip < 1 || arch->hierarchy.chips < 1)
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "aimc_map_plan: machine %s is not valid (crossbar %dx%d, "
                             "%d crossbars per chip, %d chips)",
                             arch->name, rows, cols, per_chip, arch->hierarchy.chips);
    const int slices = aimc_arch_slices(arch);
    const int cpw = aimc_arch_cols_per_weight(arch);
    const int lcols = aimc_arch_logical_cols(arch);
    if (slices < 1 || lcols < 1)
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "aimc_map_plan: machine %s holds no weight column per crossbar",
                             arch->name);
    const long xbars_total = aimc_arch_total_crossbars(arch);

    /* Count the tiles: per matrix row blocks x column blocks x slices. */
    size_t n_tiles = 0;
    for (size_t i = 0; i < model->n_matrices; i++) {
        const aimc_matrix *mx = &model->m[i];
        if (mx->rows == 0 || mx->cols == 0)
            return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_map_plan: matrix %s is empty (%ux%u)",
                                 mx->name, (unsigned)mx->rows, (unsigned)mx->cols);
        size_t t = ceil_div(mx->rows, (size_t)rows) * ceil_div(mx->cols, (size_t)lcols) *
                   (size_t)slices;
        if (t > SIZE_MAX / sizeof(aimc_tile) - n_tiles)
            return aimc_diag_set(d, AIMC_ERR_NOMEM, "aimc_map_plan: model %s has too many tiles",
                                 model->name);
        n_tiles += t;
    }

    int rc = AIMC_OK;
    ff_state ff = {.cols = (uint32_t)cols};
    aimc_plan *p = calloc(1, sizeof *p);
    if (!p) goto out_nomem;
    p->n_matrices = model->n_matrices;
    p->n_tiles = n_tiles;
    p->tiles = malloc((n_tiles ? n_tiles : 1) * sizeof *p->tiles);
    p->first = calloc(model->n_matrices ? model->n_matrices : 1, sizeof *p->first);
    p->count = calloc(model->n_matrices ? model->n_matrices : 1, sizeof *p->count);
    if (!p->tiles || !p->first || !p->count) goto out_nomem;

    /* Cut and place, matrix by matrix; within a matrix row block, column block, slice. */
    size_t t = 0;
    for (size_t i = 0; i < model->n_matrices; i++) {
        const aimc_matrix *mx = &model->m[i];
        p->first[i] = t;
        for (uint32_t r0 = 0; r0 < mx->rows; r0 += (uint32_t)rows) {
            uint32_t nr = mx->rows - r0 < (uint32_t)rows ? mx->rows - r0 : (uint32_t)rows;
            for (uint32_t c0 = 0; c0 < mx->cols; c0 += (uint32_t)lcols) {
                uint32_t nc = mx->cols - c0 < (uint32_t)lcols ? mx->cols - c0 : (uint32_t)lcols;
                for (int s = 0; s < slices; s++) {
                    size_t x;
                    uint32_t xc0;
                    if (ff_place(&ff, nc * (uint32_t)cpw, &x, &xc0)) goto out_nomem;
                    aimc_tile *tl = &p->tiles[t++];
                    tl->matrix = (uint32_t)i;
                    tl->row0 = r0;
                    tl->nrows = nr;
                    tl->col0 = c0;
                    tl->ncols = nc;
                    tl->slice = (uint32_t)s;
                    tl->xbar = (uint32_t)x; /* checked against the machine below */
                    tl->xbar_col0 = xc0;
                    p->cells_used += (uint64_t)nr * nc * (uint64_t)cpw;
                }
            }
        }
        p->count[i] = t - p->first[i];
    }

    if (ff.n_open > (size_t)xbars_total) {
        size_t need_chips = ceil_div(ff.n_open, (size_t)per_chip);
        rc = aimc_diag_set(d, AIMC_ERR_NOFIT,
                           "model %s needs %zu crossbars (%zu chip%s of %d); the machine has "
                           "%ld (%d chip%s)",
                           model->name, ff.n_open, need_chips, need_chips == 1 ? "" : "s",
                           per_chip, xbars_total, arch->hierarchy.chips,
                           arch->hierarchy.chips == 1 ? "" : "s");
        goto out_free;
    }

    p->xbars_total = xbars_total;
    p->xbars_used = (long)ff.n_open;
    p->cells_total = (uint64_t)xbars_total * (uint64_t)rows * (uint64_t)cols;
    p->chips_used = (int)ceil_div(ff.n_open, (size_t)per_chip);
    free(ff.used);
    *out = p;
    return AIMC_OK;

out_nomem:
    rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "aimc_map_plan: out of memory placing model %s",
                       model->name);
out_free:
    free(ff.used);
    aimc_plan_free(p);
    return rc;
}
