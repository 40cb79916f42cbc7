/* aimc_map.h - MoE model descriptions and the mapper that places their weight tiles on
 * the crossbars of a machine.
 *
 * A model file (models/NAME.yaml, docs/models.md) gives the shape of a Mixture-of-Experts
 * model and where its weights come from; aimc_model_load() expands it into the list of
 * weight matrices, in a fixed order, per layer:
 *   router (d_model x n_experts),
 *   for each routed expert e: gate (d_model x d_ff), up (d_model x d_ff), down (d_ff x d_model),
 *   for each shared expert s: gate, up, down with shared_d_ff.
 * Matrices are stored rows = inputs, columns = outputs, row-major.
 *
 * aimc_map_plan() cuts every matrix into tiles (row blocks of crossbar.rows, column blocks of
 * the crossbar's logical columns, one tile per weight bit slice) and places them first-fit.
 */
#ifndef AIMC_MAP_H
#define AIMC_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "aimc_arch.h"
#include "aimc_status.h"
#include "aimc_tile.h"

typedef enum {
    AIMC_MAT_ROUTER = 0,
    AIMC_MAT_GATE,
    AIMC_MAT_UP,
    AIMC_MAT_DOWN,
} aimc_mat_kind;

typedef enum { AIMC_DIST_NORMAL = 0, AIMC_DIST_UNIFORM } aimc_dist;

typedef struct aimc_matrix {
    char name[48];       /* "layer0.router", "layer1.expert3.up", "layer0.shared0.down" */
    aimc_mat_kind kind;
    int layer;
    int expert;          /* routed expert index; n_experts + s for shared expert s; -1 router */
    uint32_t rows, cols; /* inputs x outputs */
    float *w;            /* rows*cols, row-major; NULL when loaded without weights */
} aimc_matrix;

typedef struct aimc_model {
    char name[64];
    int layers;
    int d_model;
    int n_experts;   /* routed experts per layer */
    int d_ff;        /* routed expert hidden size */
    int top_k;       /* routed experts active per token */
    int n_shared;    /* shared experts per layer (always active) */
    int shared_d_ff; /* hidden size of a shared expert */
    struct {
        uint64_t seed;
        aimc_dist distribution; /* normal: std 1/sqrt(fan_in); uniform: +-sqrt(3/fan_in) */
    } weights;
    size_t n_matrices;
    aimc_matrix *m;
} aimc_model;

/* Load a model file. with_weights = 0 keeps shapes only (m[i].w == NULL). Errors as for
 * configs: "models/x.yaml:4:10: model.top_k: expected an integer in 1..8, got 9" (top_k
 * may not exceed n_experts). Caller frees with aimc_model_free(). */
int aimc_model_load(const char *path, int with_weights, aimc_model **out, aimc_diag *d);
int aimc_model_load_string(const char *text, const char *name, int with_weights,
                           aimc_model **out, aimc_diag *d);
void aimc_model_free(aimc_model *m); /* NULL is a no-op */

/* Index of the matrix (layer, kind, expert) in m->m, or -1. */
long aimc_model_find(const aimc_model *m, int layer, aimc_mat_kind kind, int expert);

/* Total weights of all matrices. */
uint64_t aimc_model_weight_count(const aimc_model *m);

typedef struct aimc_plan {
    size_t n_tiles;
    aimc_tile *tiles;        /* grouped by matrix: tiles[first[i] .. first[i]+count[i]) */
    size_t n_matrices;
    size_t *first, *count;   /* per matrix index */
    long xbars_total;        /* crossbars of the machine */
    long xbars_used;         /* crossbars holding at least one tile */
    uint64_t cells_total;    /* devices of the machine */
    uint64_t cells_used;     /* devices holding a weight slice (both of a differential pair) */
    int chips_used;          /* chips holding at least one tile */
} aimc_plan;

/* Place every tile of every matrix of model on arch, first-fit in crossbar order, packing
 * tiles side by side in a crossbar's free columns. When the model does not fit returns
 * AIMC_ERR_NOFIT with how many crossbars and chips it would need, e.g.
 *   "model mixtral-8x7b needs 1835008 crossbars (1792 chips of 1024); the machine has 1024
 *    (1 chip)". */
int aimc_map_plan(const aimc_arch *arch, const aimc_model *model, aimc_plan **out,
                  aimc_diag *d);
void aimc_plan_free(aimc_plan *p); /* NULL is a no-op */

#endif /* AIMC_MAP_H */
