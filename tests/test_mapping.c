/* test_mapping.c - suite "mapping": model files, deterministic weights and the mapper's
 * plans (tiling, first-fit placement, statistics, the NOFIT message).
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_map.h"
#include "tests.h"

#define TINY_PATH "models/tiny-moe.yaml"
#define BAD_DIR "tests/models/bad"
#define BAD_MIN 5

/* ---- helpers ------------------------------------------------------------------------- */

/* A model built in code (no YAML), in the documented matrix order, without weights. */
static aimc_model *model_shape(const char *name, int layers, int d_model, int n_experts,
                               int d_ff, int n_shared, int shared_d_ff)
{
    aimc_model *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    snprintf(m->name, sizeof m->name, "%s", name);
    m->layers = layers;
    m->d_model = d_model;
    m->n_experts = n_experts;
    m->d_ff = d_ff;
    m->top_k = 1;
    m->n_shared = n_shared;
    m->shared_d_ff = shared_d_ff;
    m->n_matrices = (size_t)layers * (1 + 3 * (size_t)(n_experts + n_shared));
    m->m = calloc(m->n_matrices, sizeof *m->m);
    if (!m->m) {
        free(m);
        return NULL;
    }
    size_t i = 0;
    for (int l = 0; l < layers; l++) {
        aimc_matrix *r = &m->m[i++];
        snprintf(r->name, sizeof r->name, "layer%d.router", l);
        r->kind = AIMC_MAT_ROUTER;
        r->layer = l;
        r->expert = -1;
        r->rows = (uint32_t)d_model;
        r->cols = (uint32_t)n_experts;
        for (int e = 0; e < n_experts + n_shared; e++) {
            uint32_t ff = (uint32_t)(e < n_experts ? d_ff : shared_d_ff);
            for (int k = AIMC_MAT_GATE; k <= AIMC_MAT_DOWN; k++) {
                aimc_matrix *x = &m->m[i++];
                snprintf(x->name, sizeof x->name, "layer%d.e%d.k%d", l, e, k);
                x->kind = (aimc_mat_kind)k;
                x->layer = l;
                x->expert = e;
                x->rows = k == AIMC_MAT_DOWN ? ff : (uint32_t)d_model;
                x->cols = k == AIMC_MAT_DOWN ? (uint32_t)d_model : ff;
            }
        }
    }
    return m;
}

static aimc_model *model_tiny_shape(void)
{
    return model_shape("tiny-moe", 2, 64, 4, 128, 1, 128);
}

static aimc_arch arch_make(int rows, int cols, int bits_per_cell, aimc_sign_encoding enc,
                           int xbars_per_core, int cores_per_chip, int chips)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.crossbar.rows = rows;
    a.crossbar.cols = cols;
    a.crossbar.bits_per_cell = bits_per_cell;
    a.crossbar.weight_bits = 8;
    a.crossbar.sign_encoding = enc;
    a.hierarchy.crossbars_per_core = xbars_per_core;
    a.hierarchy.cores_per_chip = cores_per_chip;
    a.hierarchy.chips = chips;
    return a;
}

static size_t cdiv(size_t a, size_t b)
{
    return (a + b - 1) / b;
}

/* Check every invariant of a plan against its machine and model; each CU_ASSERT below
 * counts the violations of one rule, so a failure names the rule. */
static void check_plan(const aimc_arch *a, const aimc_model *m, const aimc_plan *p)
{
    const size_t R = (size_t)a->crossbar.rows, C = (size_t)a->crossbar.cols;
    const size_t L = (size_t)aimc_arch_logical_cols(a);
    const size_t S = (size_t)aimc_arch_slices(a);
    const size_t cpw = (size_t)aimc_arch_cols_per_weight(a);
    const size_t per_chip =
        (size_t)a->hierarchy.crossbars_per_core * (size_t)a->hierarchy.cores_per_chip;
    const size_t X = (size_t)aimc_arch_total_crossbars(a);

    CU_ASSERT_EQUAL_FATAL(p->n_matrices, m->n_matrices);
    size_t bad_group = 0, bad_shape = 0, bad_cover = 0, bad_xbar = 0, bad_overlap = 0;
    size_t expect_tiles = 0, next_first = 0;
    uint64_t cells = 0;

    /* Per matrix: grouping, block shapes, and each cell covered once per slice. */
    for (size_t i = 0; i < m->n_matrices; i++) {
        const aimc_matrix *mx = &m->m[i];
        size_t rb = cdiv(mx->rows, R), cb = cdiv(mx->cols, L);
        expect_tiles += rb * cb * S;
        if (p->first[i] != next_first || p->count[i] != rb * cb * S) bad_group++;
        next_first = p->first[i] + p->count[i];
        if (next_first > p->n_tiles) {
            bad_group++;
            break;
        }
        unsigned char *cover = calloc(S * mx->rows * (size_t)mx->cols, 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(cover);
        for (size_t t = p->first[i]; t < next_first; t++) {
            const aimc_tile *tl = &p->tiles[t];
            if (tl->matrix != i || tl->slice >= S || tl->nrows < 1 || tl->nrows > R ||
                tl->ncols < 1 || tl->ncols > L || tl->row0 % R || tl->col0 % L ||
                tl->nrows != (mx->rows - tl->row0 < R ? mx->rows - tl->row0 : R) ||
                tl->ncols != (mx->cols - tl->col0 < L ? mx->cols - tl->col0 : L)) {
                bad_shape++;
                continue;
            }
            for (size_t r = tl->row0; r < tl->row0 + tl->nrows; r++)
                for (size_t c = tl->col0; c < tl->col0 + tl->ncols; c++)
                    cover[(tl->slice * mx->rows + r) * mx->cols + c]++;
            cells += (uint64_t)tl->nrows * tl->ncols * cpw;
        }
        for (size_t k = 0; k < S * mx->rows * (size_t)mx->cols; k++)
            if (cover[k] != 1) bad_cover++;
        free(cover);
    }
    CU_ASSERT_EQUAL(bad_group, 0);
    CU_ASSERT_EQUAL(bad_shape, 0);
    CU_ASSERT_EQUAL(bad_cover, 0);
    CU_ASSERT_EQUAL(p->n_tiles, expect_tiles);
    CU_ASSERT_EQUAL(next_first, p->n_tiles);

    /* Per crossbar: inside the machine, within its columns and word lines, no overlap. */
    size_t max_x = 0;
    for (size_t t = 0; t < p->n_tiles; t++)
        if (p->tiles[t].xbar > max_x) max_x = p->tiles[t].xbar;
    unsigned char *occ = calloc((max_x + 1) * C, 1);
    size_t *width = calloc(max_x + 1, sizeof *width);
    CU_ASSERT_PTR_NOT_NULL_FATAL(occ);
    CU_ASSERT_PTR_NOT_NULL_FATAL(width);
    for (size_t t = 0; t < p->n_tiles; t++) {
        const aimc_tile *tl = &p->tiles[t];
        size_t w = tl->ncols * cpw;
        if (tl->xbar >= X || tl->nrows > R || tl->xbar_col0 + w > C) {
            bad_xbar++;
            continue;
        }
        width[tl->xbar] += w;
        for (size_t c = tl->xbar_col0; c < tl->xbar_col0 + w; c++)
            if (occ[tl->xbar * C + c]++) bad_overlap++;
    }
    size_t used = 0, over = 0, chips = 0, last_chip = SIZE_MAX;
    for (size_t x = 0; x <= max_x && p->n_tiles; x++) {
        if (width[x] > C) over++;
        if (width[x]) {
            used++;
            if (x / per_chip != last_chip) {
                chips++;
                last_chip = x / per_chip;
            }
        }
    }
    CU_ASSERT_EQUAL(bad_xbar, 0);
    CU_ASSERT_EQUAL(bad_overlap, 0);
    CU_ASSERT_EQUAL(over, 0);
    /* Statistics equal their recounts. */
    CU_ASSERT_EQUAL(p->xbars_total, (long)X);
    CU_ASSERT_EQUAL(p->xbars_used, (long)used);
    CU_ASSERT_EQUAL(p->cells_total, (uint64_t)X * R * C);
    CU_ASSERT_EQUAL(p->cells_used, cells);
    CU_ASSERT_EQUAL(p->chips_used, (int)chips);
    /* First-fit opens crossbars in index order: the used ones are 0..used-1. */
    CU_ASSERT(p->n_tiles == 0 || max_x + 1 == used);
    free(occ);
    free(width);
}

static void plan_and_check(const aimc_arch *a, const aimc_model *m)
{
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    int rc = aimc_map_plan(a, m, &p, &d);
    CU_ASSERT_EQUAL(rc, AIMC_OK);
    if (rc) {
        fprintf(stderr, "\n  aimc_map_plan: %s\n", d.msg);
        return;
    }
    check_plan(a, m, p);
    aimc_plan_free(p);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    long n;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n + 1)) != NULL) {
        size_t got = fread(buf, 1, (size_t)n, f);
        buf[got] = '\0';
    }
    fclose(f);
    return buf;
}

/* ---- mapper -------------------------------------------------------------------------- */

/* tiny-moe on the default machine: the worked example of docs/mapping.md. */
static void test_plan_tiny_default(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    aimc_model *m = model_tiny_shape();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    aimc_plan *p = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan(&a, m, &p, NULL), AIMC_OK);
    check_plan(&a, m, p);
    /* 2 layers x (router 4 + 5 experts x (gate 8 + up 8 + down 4)) tiles: on 128x128
     * differential crossbars a weight column block is 64 wide, so gate and up (128 outputs)
     * have two column blocks of 4 slices each. */
    CU_ASSERT_EQUAL(p->n_tiles, 208);
    CU_ASSERT_EQUAL(p->xbars_total, 1024);
    CU_ASSERT_EQUAL(p->xbars_used, 201);
    CU_ASSERT_EQUAL(p->chips_used, 1);
    CU_ASSERT_EQUAL(p->cells_total, 1024ull * 128 * 128);
    CU_ASSERT_EQUAL(p->cells_used, 1970176ull);
    /* First tiles: router slices side by side in crossbar 0, 8 columns each; every gate, up
     * and down slice fills a crossbar of its own (128 physical columns), so layer 0's first
     * expert takes crossbars 1..20 and its down slices 17..20. */
    CU_ASSERT_EQUAL(p->tiles[3].xbar, 0);
    CU_ASSERT_EQUAL(p->tiles[3].xbar_col0, 24);
    CU_ASSERT_EQUAL(p->tiles[4].xbar, 1);
    CU_ASSERT_EQUAL(p->tiles[4].xbar_col0, 0);
    size_t down0 = p->first[3];
    CU_ASSERT_EQUAL(p->tiles[down0].xbar, 17);
    CU_ASSERT_EQUAL(p->tiles[down0].xbar_col0, 0);
    CU_ASSERT_EQUAL(p->tiles[down0 + 1].xbar, 18);
    /* Layer 1's router packs into crossbar 0 after layer 0's router. */
    size_t router1 = p->first[16];
    CU_ASSERT_EQUAL(p->tiles[router1].xbar, 0);
    CU_ASSERT_EQUAL(p->tiles[router1].xbar_col0, 32);
    aimc_plan_free(p);
    /* The same model on 2 chips of 16 crossbars (docs/mapping.md). */
    a.hierarchy.crossbars_per_core = 4;
    a.hierarchy.cores_per_chip = 4;
    a.hierarchy.chips = 2;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL(aimc_map_plan(&a, m, &p, &d), AIMC_ERR_NOFIT);
    CU_ASSERT_STRING_EQUAL(d.msg, "model tiny-moe needs 201 crossbars (13 chips of 16); the "
                                  "machine has 32 (2 chips)");
    free(m->m);
    free(m);
}

static void test_plan_invariants(void)
{
    struct {
        aimc_arch a;
        aimc_model *m;
    } c[] = {
        /* offset, 3 bits per cell: 3 slices, 1 column per weight, odd rows and cols */
        {arch_make(100, 90, 3, AIMC_SIGN_OFFSET, 4, 2, 64),
         model_shape("odd", 2, 130, 3, 77, 2, 201)},
        /* differential, 1 bit per cell: 7 slices, 45 logical columns */
        {arch_make(64, 90, 1, AIMC_SIGN_DIFFERENTIAL, 4, 2, 256),
         model_shape("odd", 2, 130, 3, 77, 2, 201)},
        /* differential, 2 bits per cell: 4 slices, 25 logical columns, 37 word lines */
        {arch_make(37, 50, 2, AIMC_SIGN_DIFFERENTIAL, 3, 5, 64),
         model_shape("nosh", 3, 100, 5, 33, 0, 0)},
        /* differential, 3 bits per cell: 3 slices, tiny-moe */
        {arch_make(256, 256, 3, AIMC_SIGN_DIFFERENTIAL, 16, 64, 1), model_tiny_shape()},
        /* offset, 2 bits per cell: 4 slices, tiny-moe on small chips */
        {arch_make(128, 128, 2, AIMC_SIGN_OFFSET, 2, 2, 64), model_tiny_shape()},
        /* offset, 1 bit per cell, one-column router next to wide tiles */
        {arch_make(33, 17, 1, AIMC_SIGN_OFFSET, 8, 8, 64),
         model_shape("thin", 1, 40, 1, 19, 1, 3)},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(c[i].m);
        plan_and_check(&c[i].a, c[i].m);
        free(c[i].m->m);
        free(c[i].m);
    }
}

/* Hand-computed: 64x64 crossbars, offset, 4 bits per cell -> 2 slices of 64 columns.
 * Model: 1 layer, d_model 64, 1 routed expert of d_ff 64. Router slices (1 column each)
 * share crossbar 0; gate, up, down slices each fill one crossbar: 1 + 6 = 7 crossbars;
 * with 2 crossbars per chip that is 4 chips. */
static void test_plan_nofit(void)
{
    aimc_model *m = model_shape("nofit", 1, 64, 1, 64, 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    aimc_arch a = arch_make(64, 64, 4, AIMC_SIGN_OFFSET, 2, 1, 1);
    aimc_plan *p = (aimc_plan *)&a; /* must be reset to NULL on failure */
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL(aimc_map_plan(&a, m, &p, &d), AIMC_ERR_NOFIT);
    CU_ASSERT_PTR_NULL(p);
    CU_ASSERT_STRING_EQUAL(d.msg,
                           "model nofit needs 7 crossbars (4 chips of 2); the machine has 2 "
                           "(1 chip)");
    a.hierarchy.chips = 3;
    CU_ASSERT_EQUAL(aimc_map_plan(&a, m, &p, &d), AIMC_ERR_NOFIT);
    CU_ASSERT_STRING_EQUAL(d.msg,
                           "model nofit needs 7 crossbars (4 chips of 2); the machine has 6 "
                           "(3 chips)");
    /* One chip more and it fits, using all 4 chips and 7 of 8 crossbars. */
    a.hierarchy.chips = 4;
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan(&a, m, &p, &d), AIMC_OK);
    check_plan(&a, m, p);
    CU_ASSERT_EQUAL(p->xbars_used, 7);
    CU_ASSERT_EQUAL(p->chips_used, 4);
    CU_ASSERT_EQUAL(p->tiles[1].xbar, 0);
    CU_ASSERT_EQUAL(p->tiles[1].xbar_col0, 1);
    CU_ASSERT_EQUAL(p->tiles[7].xbar, 6);
    aimc_plan_free(p);
    free(m->m);
    free(m);
}

static void test_plan_args(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    aimc_model *m = model_tiny_shape();
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL(aimc_map_plan(NULL, m, &p, &d), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_map_plan(&a, NULL, &p, &d), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_map_plan(&a, m, NULL, &d), AIMC_ERR_INVALID);
    m->m[5].rows = 0;
    CU_ASSERT_EQUAL(aimc_map_plan(&a, m, &p, &d), AIMC_ERR_INVALID);
    CU_ASSERT_PTR_NULL(p);
    aimc_plan_free(NULL);
    free(m->m);
    free(m);
}

/* ---- models -------------------------------------------------------------------------- */

static void test_model_tiny_shape(void)
{
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    int rc = aimc_model_load(TINY_PATH, 0, &m, &d);
    CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
    CU_ASSERT_STRING_EQUAL(m->name, "tiny-moe");
    CU_ASSERT_EQUAL(m->layers, 2);
    CU_ASSERT_EQUAL(m->d_model, 64);
    CU_ASSERT_EQUAL(m->n_experts, 4);
    CU_ASSERT_EQUAL(m->d_ff, 128);
    CU_ASSERT_EQUAL(m->top_k, 2);
    CU_ASSERT_EQUAL(m->n_shared, 1);
    CU_ASSERT_EQUAL(m->shared_d_ff, 128);
    CU_ASSERT_EQUAL(m->weights.seed, 1);
    CU_ASSERT_EQUAL(m->weights.distribution, AIMC_DIST_NORMAL);
    CU_ASSERT_EQUAL_FATAL(m->n_matrices, 32);
    for (size_t i = 0; i < m->n_matrices; i++) CU_ASSERT_PTR_NULL(m->m[i].w);

    /* The documented order, checked by name, kind, expert and shape. */
    static const char *const kinds[] = {"gate", "up", "down"};
    size_t i = 0, bad = 0;
    for (int l = 0; l < 2; l++) {
        char want[48];
        snprintf(want, sizeof want, "layer%d.router", l);
        if (strcmp(m->m[i].name, want) || m->m[i].kind != AIMC_MAT_ROUTER ||
            m->m[i].layer != l || m->m[i].expert != -1 || m->m[i].rows != 64 ||
            m->m[i].cols != 4)
            bad++;
        i++;
        for (int e = 0; e < 5; e++) {
            for (int k = 0; k < 3; k++, i++) {
                if (e < 4)
                    snprintf(want, sizeof want, "layer%d.expert%d.%s", l, e, kinds[k]);
                else
                    snprintf(want, sizeof want, "layer%d.shared%d.%s", l, e - 4, kinds[k]);
                uint32_t r = k == 2 ? 128 : 64, c = k == 2 ? 64 : 128;
                if (strcmp(m->m[i].name, want) || m->m[i].kind != (aimc_mat_kind)(k + 1) ||
                    m->m[i].layer != l || m->m[i].expert != e || m->m[i].rows != r ||
                    m->m[i].cols != c)
                    bad++;
            }
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_STRING_EQUAL(m->m[27].name, "layer1.expert3.up");
    CU_ASSERT_STRING_EQUAL(m->m[15].name, "layer0.shared0.down");

    CU_ASSERT_EQUAL(aimc_model_find(m, 0, AIMC_MAT_ROUTER, -1), 0);
    CU_ASSERT_EQUAL(aimc_model_find(m, 1, AIMC_MAT_UP, 3), 27);
    CU_ASSERT_EQUAL(aimc_model_find(m, 0, AIMC_MAT_DOWN, 4), 15);
    CU_ASSERT_EQUAL(aimc_model_find(m, 1, AIMC_MAT_ROUTER, -1), 16);
    CU_ASSERT_EQUAL(aimc_model_find(m, 2, AIMC_MAT_ROUTER, -1), -1);
    CU_ASSERT_EQUAL(aimc_model_find(m, 0, AIMC_MAT_GATE, 5), -1);
    CU_ASSERT_EQUAL(aimc_model_find(m, 0, AIMC_MAT_GATE, -1), -1);
    CU_ASSERT_EQUAL(aimc_model_find(NULL, 0, AIMC_MAT_ROUTER, -1), -1);
    /* 2 x (64*4 + 5 x 3 x 64*128) */
    CU_ASSERT_EQUAL(aimc_model_weight_count(m), 246272);

    /* Loaded, it plans exactly like the hand-built shape of the worked example. */
    aimc_arch a;
    aimc_arch_defaults(&a);
    aimc_plan *p = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan(&a, m, &p, &d), AIMC_OK);
    check_plan(&a, m, p);
    CU_ASSERT_EQUAL(p->n_tiles, 208);
    CU_ASSERT_EQUAL(p->xbars_used, 201);
    aimc_plan_free(p);
    aimc_model_free(m);
    aimc_model_free(NULL);
}

static const char *model_text(char *buf, size_t cap, const char *shape, long seed,
                              const char *dist)
{
    snprintf(buf, cap,
             "version: 1\nmodel:\n%s\nweights:\n  random: {seed: %ld, distribution: %s}\n",
             shape, seed, dist);
    return buf;
}

#define TINY_SHAPE                                                                         \
    "  name: t\n  layers: %d\n  d_model: 64\n  routed_experts: 4\n  expert_d_ff: 128\n"   \
    "  top_k: 2\n  shared_experts: 1\n  shared_d_ff: 128"

static void test_model_weights_deterministic(void)
{
    aimc_model *a = NULL, *b = NULL, *c = NULL, *one = NULL;
    char text[512], shape[256];
    CU_ASSERT_EQUAL_FATAL(aimc_model_load(TINY_PATH, 1, &a, NULL), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_model_load(TINY_PATH, 1, &b, NULL), AIMC_OK);
    snprintf(shape, sizeof shape, TINY_SHAPE, 2);
    CU_ASSERT_EQUAL_FATAL(
        aimc_model_load_string(model_text(text, sizeof text, shape, 2, "normal"), "s2", 1, &c,
                               NULL),
        AIMC_OK);
    snprintf(shape, sizeof shape, TINY_SHAPE, 1);
    CU_ASSERT_EQUAL_FATAL(
        aimc_model_load_string(model_text(text, sizeof text, shape, 1, "normal"), "l1", 1, &one,
                               NULL),
        AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(one->n_matrices, 16);
    size_t same_ab = 0, same_c = 0, same_one = 0, equal_c = 0, n = 0;
    for (size_t i = 0; i < a->n_matrices; i++) {
        size_t bytes = (size_t)a->m[i].rows * a->m[i].cols * sizeof(float);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a->m[i].w);
        same_ab += memcmp(a->m[i].w, b->m[i].w, bytes) == 0;
        same_c += memcmp(a->m[i].w, c->m[i].w, bytes) == 0;
        /* A matrix's weights do not depend on how many matrices follow it. */
        if (i < one->n_matrices) same_one += memcmp(a->m[i].w, one->m[i].w, bytes) == 0;
        for (size_t k = 0; k < (size_t)a->m[i].rows * a->m[i].cols; k++, n++)
            equal_c += a->m[i].w[k] == c->m[i].w[k];
    }
    CU_ASSERT_EQUAL(same_ab, a->n_matrices);
    CU_ASSERT_EQUAL(same_c, 0);
    CU_ASSERT_EQUAL(same_one, one->n_matrices);
    /* Two independent continuous draws coincide as floats with probability ~2^-24 each. */
    CU_ASSERT(equal_c < n / 1000);
    /* Different matrices of one model differ (layer 0 and layer 1 gate of expert 0). */
    CU_ASSERT(memcmp(a->m[1].w, a->m[17].w, 64 * 128 * sizeof(float)) != 0);
    aimc_model_free(a);
    aimc_model_free(b);
    aimc_model_free(c);
    aimc_model_free(one);
}

/* Mean 0 and standard deviation sigma = 1/sqrt(rows), each within 4 standard errors:
 * sigma/sqrt(n) for the mean; about sigma/sqrt(2n) for the sample standard deviation of a
 * normal sample (a uniform sample's is smaller, sigma*sqrt(0.2/n), so the bound holds). */
static void check_moments(const aimc_matrix *mx, double bound)
{
    double n = (double)mx->rows * mx->cols, sum = 0, sum2 = 0, sigma = 1.0 / sqrt(mx->rows);
    size_t outside = 0;
    for (size_t k = 0; k < (size_t)n; k++) {
        sum += mx->w[k];
        if (bound > 0 && fabs(mx->w[k]) > bound) outside++;
    }
    double mean = sum / n;
    for (size_t k = 0; k < (size_t)n; k++) sum2 += (mx->w[k] - mean) * (mx->w[k] - mean);
    double sd = sqrt(sum2 / (n - 1));
    CU_ASSERT(fabs(mean) < 4 * sigma / sqrt(n));
    CU_ASSERT(fabs(sd - sigma) < 4 * sigma / sqrt(2 * n));
    CU_ASSERT_EQUAL(outside, 0);
}

static void test_model_weights_statistics(void)
{
    static const char shape[] = "  name: big\n  layers: 1\n  d_model: 1024\n"
                                "  routed_experts: 1\n  expert_d_ff: 2048\n  top_k: 1";
    char text[512];
    const char *dists[] = {"normal", "uniform"};
    for (int di = 0; di < 2; di++) {
        aimc_model *m = NULL;
        aimc_diag d = {{0}};
        int rc = aimc_model_load_string(model_text(text, sizeof text, shape, 12345, dists[di]),
                                        "big", 1, &m, &d);
        CU_ASSERT_EQUAL_FATAL(rc, AIMC_OK);
        CU_ASSERT_EQUAL(m->weights.distribution, (aimc_dist)di);
        CU_ASSERT_EQUAL_FATAL(m->n_matrices, 4);
        /* gate 1024 x 2048 (sigma 1/32) and down 2048 x 1024 (sigma 1/sqrt(2048)) */
        for (size_t i = 1; i < 4; i += 2) {
            const aimc_matrix *mx = &m->m[i];
            check_moments(mx, di == 1 ? sqrt(3.0 / mx->rows) : 0.0);
        }
        aimc_model_free(m);
    }
}

static void test_model_without_weights(void)
{
    aimc_model *a = NULL, *b = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_model_load(TINY_PATH, 0, &a, NULL), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(aimc_model_load(TINY_PATH, 1, &b, NULL), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(a->n_matrices, b->n_matrices);
    size_t null_a = 0, set_b = 0, same_shape = 0;
    for (size_t i = 0; i < a->n_matrices; i++) {
        null_a += a->m[i].w == NULL;
        set_b += b->m[i].w != NULL;
        same_shape += a->m[i].rows == b->m[i].rows && a->m[i].cols == b->m[i].cols &&
                      strcmp(a->m[i].name, b->m[i].name) == 0;
    }
    CU_ASSERT_EQUAL(null_a, a->n_matrices);
    CU_ASSERT_EQUAL(set_b, b->n_matrices);
    CU_ASSERT_EQUAL(same_shape, a->n_matrices);
    CU_ASSERT_EQUAL(aimc_model_weight_count(a), aimc_model_weight_count(b));
    aimc_model_free(a);
    aimc_model_free(b);
}

/* Optional keys absent: no shared experts, ffn swiglu, weights random seed 1 normal. */
static void test_model_defaults(void)
{
    static const char text[] = "version: 1\nmodel:\n  name: min\n  layers: 3\n  d_model: 8\n"
                               "  routed_experts: 2\n  expert_d_ff: 5\n  top_k: 2\n";
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(text, "min.yaml", 1, &m, &d), AIMC_OK);
    CU_ASSERT_EQUAL(m->n_shared, 0);
    CU_ASSERT_EQUAL(m->shared_d_ff, 0);
    CU_ASSERT_EQUAL(m->weights.seed, 1);
    CU_ASSERT_EQUAL(m->weights.distribution, AIMC_DIST_NORMAL);
    CU_ASSERT_EQUAL(m->n_matrices, 3 * (1 + 3 * 2));
    CU_ASSERT_STRING_EQUAL(m->m[7].name, "layer1.router");
    CU_ASSERT_EQUAL(aimc_model_find(m, 2, AIMC_MAT_DOWN, 1), 20);
    CU_ASSERT_EQUAL(aimc_model_find(m, 2, AIMC_MAT_DOWN, 2), -1);
    CU_ASSERT_EQUAL(aimc_model_weight_count(m), 3 * (8 * 2 + 2 * 3 * 8 * 5));
    /* The same shape with the defaults written out has the same weights. */
    static const char full[] = "version: 1\nmodel:\n  name: min\n  layers: 3\n  d_model: 8\n"
                               "  routed_experts: 2\n  expert_d_ff: 5\n  top_k: 2\n"
                               "  shared_experts: 0\n  ffn: swiglu\n"
                               "weights:\n  random:\n    seed: 1\n";
    aimc_model *f = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(full, "full.yaml", 1, &f, &d), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(f->n_matrices, m->n_matrices);
    size_t same = 0;
    for (size_t i = 0; i < m->n_matrices; i++)
        same += memcmp(m->m[i].w, f->m[i].w, m->m[i].rows * m->m[i].cols * sizeof(float)) == 0;
    CU_ASSERT_EQUAL(same, m->n_matrices);
    aimc_model_free(m);
    aimc_model_free(f);
}

static void test_model_errors(void)
{
    aimc_model *m = (aimc_model *)&m;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL(aimc_model_load("models/no-such-model.yaml", 0, &m, &d), AIMC_ERR_IO);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_EQUAL(aimc_model_load(NULL, 0, &m, &d), AIMC_ERR_INVALID);
    CU_ASSERT_EQUAL(aimc_model_load_string(NULL, "x", 0, &m, &d), AIMC_ERR_INVALID);
    /* top_k's range follows routed_experts. */
    static const char text[] = "version: 1\nmodel:\n  name: x\n  layers: 1\n  d_model: 8\n"
                               "  routed_experts: 3\n  expert_d_ff: 8\n  top_k: 4\n";
    CU_ASSERT_EQUAL(aimc_model_load_string(text, "x.yaml", 0, &m, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "x.yaml:8:10: model.top_k: expected an integer in 1..3, got 4");
    CU_ASSERT_PTR_NULL(m);
}

/* Every tests/models/bad/NAME.yaml fails to load with exactly NAME.expect's message. */
static void test_model_bad_files(void)
{
    DIR *dir = opendir(BAD_DIR);
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0) continue;
        char path[512], expect_path[512];
        snprintf(path, sizeof path, "%s/%s", BAD_DIR, e->d_name);
        snprintf(expect_path, sizeof expect_path, "%s/%.*s.expect", BAD_DIR, (int)(len - 5),
                 e->d_name);
        char *expect = read_text(expect_path);
        CU_ASSERT_PTR_NOT_NULL(expect);
        if (!expect) continue;
        size_t el = strlen(expect);
        while (el && (expect[el - 1] == '\n' || expect[el - 1] == '\r')) expect[--el] = '\0';
        aimc_model *m = NULL;
        aimc_diag d = {{0}};
        int rc = aimc_model_load(path, 1, &m, &d);
        CU_ASSERT(rc == AIMC_ERR_CONFIG || rc == AIMC_ERR_PARSE);
        CU_ASSERT_PTR_NULL(m);
        CU_ASSERT_STRING_EQUAL(d.msg, expect);
        if (strcmp(d.msg, expect) != 0)
            fprintf(stderr, "\n  %s:\n    got    %s\n    expect %s\n", path, d.msg, expect);
        aimc_model_free(m);
        free(expect);
        n++;
    }
    closedir(dir);
    CU_ASSERT(n >= BAD_MIN);
}

int test_mapping_register(void)
{
    AIMC_SUITE("mapping",
               {"plan: tiny-moe on the default machine", test_plan_tiny_default},
               {"plan: invariants on odd shapes and encodings", test_plan_invariants},
               {"plan: NOFIT message", test_plan_nofit},
               {"plan: bad arguments", test_plan_args},
               {"model: tiny-moe shapes and order", test_model_tiny_shape},
               {"model: deterministic weights", test_model_weights_deterministic},
               {"model: weight statistics", test_model_weights_statistics},
               {"model: shapes without weights", test_model_without_weights},
               {"model: optional keys", test_model_defaults},
               {"model: errors", test_model_errors},
               {"model: malformed files", test_model_bad_files});
    return 0;
}
