/* test_mapper.c - suite "mapper": strategies, replicas, tiers, faults, many chips, routing
 * statistics, plan files, the summary, safetensors weights (with a fuzz test of the loader)
 * and the public model files.
 */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_map.h"
#include "tests.h"

/* ---- helpers ------------------------------------------------------------------------- */

static aimc_arch small_arch(int rows, int cols, int bpc, aimc_sign_encoding enc, int xpc, int cpc,
                            int chips, int tiers, aimc_map_strategy strat)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.crossbar.rows = rows;
    a.crossbar.cols = cols;
    a.crossbar.bits_per_cell = bpc;
    a.crossbar.weight_bits = 8;
    a.crossbar.sign_encoding = enc;
    a.hierarchy.crossbars_per_core = xpc;
    a.hierarchy.cores_per_chip = cpc;
    a.hierarchy.chips = chips;
    a.hierarchy.tiers = tiers;
    a.mapping.strategy = strat;
    return a;
}

static aimc_model *load_yaml(const char *text)
{
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    int rc = aimc_model_load_string(text, "<test>", 0, &m, &d);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    return m;
}

static aimc_model *model_of(int layers, int dense, int d_model, int experts, int d_ff, int top_k,
                            int shared)
{
    char text[1024];
    snprintf(text, sizeof text,
             "version: 1\nmodel:\n  name: t\n  layers: %d\n  d_model: %d\n  routed_experts: %d\n"
             "  expert_d_ff: %d\n  top_k: %d\n  shared_experts: %d\n  shared_d_ff: %d\n"
             "%s%s",
             layers, d_model, experts, d_ff, top_k, shared, d_ff + 3,
             dense ? "  dense_layers: 1\n" : "", dense ? "  dense_d_ff: 50\n" : "");
    return load_yaml(text);
}

/* Every invariant of a plan, from its runs: each (matrix, row block, column block, slice)
 * exactly once per replica; no crossbar over capacity (no two tiles on one column); all
 * inside the machine; no faulty crossbar used; statistics equal their recounts. */
static void check_runs(const aimc_arch *a, const aimc_model *m, const aimc_plan *p,
                       const unsigned char *faulty, const float *ff, size_t n_ff)
{
    /* The library's validator agrees (the recount below is the independent check). */
    aimc_diag vd = {{0}};
    int vrc = aimc_plan_validate(a, m, p, ff, n_ff, NULL, &vd);
    CU_ASSERT_EQUAL(vrc, AIMC_OK);
    if (vrc) fprintf(stderr, "\n  %s\n", vd.msg);
    const uint64_t cap = (uint64_t)p->xbars_total;
    const uint32_t C = (uint32_t)a->crossbar.cols, R = (uint32_t)a->crossbar.rows;
    const uint32_t P = (uint32_t)aimc_arch_cols_per_weight(a);
    unsigned char *occ = calloc(cap * C, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(occ);
    size_t bad_cover = 0, bad_overlap = 0, bad_out = 0, bad_fault = 0, bad_width = 0;
    uint64_t cells = 0;
    for (size_t i = 0; i < m->n_matrices; i++) {
        uint32_t rb, cb, S;
        aimc_map_blocks(a, &m->m[i], &rb, &cb, &S);
        size_t nt = (size_t)rb * cb * S;
        CU_ASSERT_EQUAL(p->count[i], nt);
        CU_ASSERT(p->replicas[i] >= 1);
        for (int r = 0; r < p->replicas[i]; r++) {
            unsigned char *seen = calloc(nt, 1);
            CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
            for (size_t k = 0; k < p->n_runs; k++) {
                const aimc_run *ru = &p->runs[k];
                if (ru->matrix != i || (int)ru->replica != r) continue;
                for (uint32_t j = 0; j < ru->n; j++) {
                    aimc_tile t;
                    aimc_run_tile(a, m, ru, j, &t);
                    size_t ti = ru->tile0 + j;
                    if (ti >= nt) {
                        bad_cover++;
                        continue;
                    }
                    seen[ti]++;
                    /* the tile's block is the one its index names */
                    size_t s = ti % S, c = (ti / S) % cb, b = ti / (S * cb);
                    if (t.slice != s || t.col0 != c * (uint32_t)aimc_arch_logical_cols(a) ||
                        t.row0 != b * R || t.ncols * P != ru->width || t.nrows > R)
                        bad_width++;
                    if ((uint64_t)t.xbar >= cap || t.xbar_col0 + ru->width > C) {
                        bad_out++;
                        continue;
                    }
                    if (faulty && faulty[t.xbar]) bad_fault++;
                    for (uint32_t q = 0; q < ru->width; q++)
                        if (occ[(uint64_t)t.xbar * C + t.xbar_col0 + q]++) bad_overlap++;
                    cells += (uint64_t)t.nrows * t.ncols * P;
                    /* replica 0 is also the driver's tile array */
                    if (r == 0 && p->tiles) {
                        const aimc_tile *u = &p->tiles[p->first[i] + ti];
                        if (memcmp(u, &t, sizeof t) != 0) bad_width++;
                    }
                }
            }
            for (size_t ti = 0; ti < nt; ti++)
                if (seen[ti] != 1) bad_cover++;
            free(seen);
        }
    }
    uint64_t used = 0;
    for (uint64_t x = 0; x < cap; x++) {
        int any = 0;
        for (uint32_t c = 0; c < C; c++) any |= occ[x * C + c];
        used += any != 0;
    }
    CU_ASSERT_EQUAL(bad_cover, 0);
    CU_ASSERT_EQUAL(bad_overlap, 0);
    CU_ASSERT_EQUAL(bad_out, 0);
    CU_ASSERT_EQUAL(bad_fault, 0);
    CU_ASSERT_EQUAL(bad_width, 0);
    CU_ASSERT_EQUAL(cells, p->cells_used);
    CU_ASSERT_EQUAL(used, (uint64_t)p->xbars_used);
    if (bad_cover || bad_overlap || bad_out || bad_fault || bad_width || used != (uint64_t)p->xbars_used)
        fprintf(stderr, "\n  strategy %d: cover %zu overlap %zu out %zu fault %zu shape %zu used %llu/%ld\n",
                p->strategy, bad_cover, bad_overlap, bad_out, bad_fault, bad_width,
                (unsigned long long)used, p->xbars_used);
    free(occ);
}

/* ---- strategies ------------------------------------------------------------------------ */

static void test_strategies_invariants(void)
{
    aimc_model *models[] = {model_of(3, 1, 70, 5, 90, 2, 1), model_of(2, 0, 64, 4, 128, 2, 1),
                            model_of(2, 0, 33, 7, 19, 3, 0)};
    aimc_routing *rt[3];
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_PTR_NOT_NULL_FATAL(models[i]);
        CU_ASSERT_EQUAL_FATAL(aimc_routing_zipf(models[i], 1.1, 7, &rt[i], NULL), AIMC_OK);
    }
    for (int s = AIMC_STRATEGY_PACK; s <= AIMC_STRATEGY_TIERED; s++) {
        aimc_arch archs[] = {
            small_arch(64, 64, 2, AIMC_SIGN_DIFFERENTIAL, 4, 4, 80, s == AIMC_STRATEGY_TIERED ? 3 : 1,
                       (aimc_map_strategy)s),
            small_arch(40, 30, 3, AIMC_SIGN_OFFSET, 3, 5, 60, s == AIMC_STRATEGY_TIERED ? 2 : 1,
                       (aimc_map_strategy)s),
        };
        for (size_t ai = 0; ai < 2; ai++)
            for (int mi = 0; mi < 3; mi++) {
                aimc_plan *p = NULL;
                aimc_diag d = {{0}};
                aimc_map_opts o = {rt[mi], NULL, 0, 0};
                int rc = aimc_map_plan_ex(&archs[ai], models[mi], &o, &p, &d);
                CU_ASSERT_EQUAL(rc, AIMC_OK);
                if (rc) {
                    fprintf(stderr, "\n  strategy %d arch %zu model %d: %s\n", s, ai, mi, d.msg);
                    continue;
                }
                CU_ASSERT_EQUAL(p->strategy, s);
                check_runs(&archs[ai], models[mi], p, NULL, NULL, 0);
                aimc_plan_free(p);
            }
    }
    for (int i = 0; i < 3; i++) {
        aimc_routing_free(rt[i]);
        aimc_model_free(models[i]);
    }
}

/* Pack through aimc_map_plan_ex equals aimc_map_plan (the driver's default) tile for tile. */
static void test_pack_is_default(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    aimc_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_model_load("models/tiny-moe.yaml", 0, &m, NULL), AIMC_OK);
    aimc_plan *p = NULL, *q = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan(&a, m, &p, NULL), AIMC_OK);
    aimc_map_opts o = {NULL, NULL, 0, 1};
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan_ex(&a, m, &o, &q, NULL), AIMC_OK);
    CU_ASSERT_PTR_NULL(q->tiles); /* shape-only */
    CU_ASSERT_EQUAL(p->n_runs, q->n_runs);
    CU_ASSERT(memcmp(p->runs, q->runs, p->n_runs * sizeof *p->runs) == 0);
    CU_ASSERT_EQUAL(p->xbars_used, 201);
    /* 208 tiles in far fewer runs: router slices side by side are one run. */
    CU_ASSERT(p->n_runs < 40);
    check_runs(&a, m, p, NULL, NULL, 0);
    aimc_plan_free(p);
    aimc_plan_free(q);
    aimc_model_free(m);
}

/* locality: tiny-moe's experts take 20 crossbars each; with 16 per core an expert can span 2
 * cores at best, and locality achieves that for every expert (pack lets some span 3). */
static void test_locality_cores(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    aimc_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_model_load("models/tiny-moe.yaml", 0, &m, NULL), AIMC_OK);
    int worst[2] = {0, 0};
    for (int s = 0; s < 2; s++) {
        a.mapping.strategy = s ? AIMC_STRATEGY_LOCALITY : AIMC_STRATEGY_PACK;
        aimc_plan *p = NULL;
        CU_ASSERT_EQUAL_FATAL(aimc_map_plan(&a, m, &p, NULL), AIMC_OK);
        check_runs(&a, m, p, NULL, NULL, 0);
        for (size_t i = 1; i < m->n_matrices; i += 3) {
            if (m->m[i].kind != AIMC_MAT_GATE) continue;
            uint32_t lo = UINT32_MAX, hi = 0;
            for (size_t k = p->first[i]; k < p->first[i + 2] + p->count[i + 2]; k++) {
                uint32_t core = p->tiles[k].xbar / 16;
                if (core < lo) lo = core;
                if (core > hi) hi = core;
            }
            if ((int)(hi - lo + 1) > worst[s]) worst[s] = (int)(hi - lo + 1);
        }
        aimc_plan_free(p);
    }
    CU_ASSERT_EQUAL(worst[0], 3);
    CU_ASSERT_EQUAL(worst[1], 2);
    aimc_model_free(m);
}

/* ---- tiers: hand-computed conflicts ----------------------------------------------------- */

/* 4 x 8 crossbars, offset encoding, 8 bits per cell: 1 slice, 8 weight columns. One layer,
 * d_model 4, 4 experts of d_ff 4, top-2: router and every gate, up, down is one tile 4
 * columns wide, so an expert on its own takes 2 crossbars (gate+up, down).
 * p = (0.9, 0.6, 0.3, 0.2); P(both) = 0.5 (0,1), 0.25 (0,2), 0.15 (0,3), 0.05 (1,2),
 * 0.05 (1,3), 0 (2,3): each row sums to p, all pairs to 1 (one pair per token at top-2). */
static aimc_routing *hand_routing(const aimc_model *m, int with_coact)
{
    aimc_routing *r = NULL;
    if (aimc_routing_uniform(m, &r, NULL)) return NULL;
    const double p[4] = {0.9, 0.6, 0.3, 0.2};
    const double c[4][4] = {{0, 0.5, 0.25, 0.15}, {0.5, 0, 0.05, 0.05}, {0.25, 0.05, 0, 0},
                            {0.15, 0.05, 0, 0}};
    memcpy(r->p, p, sizeof p);
    if (with_coact) {
        r->coact = malloc(sizeof c);
        if (!r->coact) return r;
        memcpy(r->coact, c, sizeof c);
    }
    return r;
}

static double conflicts_of(aimc_map_strategy s, int with_coact)
{
    aimc_arch a = small_arch(4, 8, 8, AIMC_SIGN_OFFSET, 4, 4, 1, 2, s);
    aimc_model *m = model_of(1, 0, 4, 4, 4, 2, 0);
    aimc_routing *r = m ? hand_routing(m, with_coact) : NULL;
    double out = -1;
    aimc_plan *p = NULL;
    aimc_map_summary sum;
    aimc_map_opts o = {r, NULL, 0, 0};
    if (r && aimc_map_plan_ex(&a, m, &o, &p, NULL) == AIMC_OK) {
        check_runs(&a, m, p, NULL, NULL, 0);
        if (aimc_map_summarise(&a, m, p, r, &sum, NULL) == AIMC_OK) out = sum.tier_conflicts;
    }
    aimc_plan_free(p);
    aimc_routing_free(r);
    aimc_model_free(m);
    return out;
}

static void test_tier_conflicts_hand(void)
{
    /* tiered, 2 tiers: hottest first, each to the stack it is least co-active with:
     * 0 -> A; 1 -> B (0.5 with A); 2 -> B (0.05 < 0.25); 3 -> A (full B).
     * Stacks {0,3}, {1,2}: 0.15 + 0.05 = 0.20 per token. */
    CU_ASSERT_DOUBLE_EQUAL(conflicts_of(AIMC_STRATEGY_TIERED, 1), 0.20, 1e-12);
    /* pack on 2 tiers: crossbars 0 (router, e0 gate), 1 (e0 up, down), 2 (e1 gate, up),
     * 3 (e1 down, e2 gate), 4 (e2 up, down), 5 (e3 gate, up), 6 (e3 down). Sites {0,1},
     * {2,3}, {4,5}, {6}: e1-e2 meet on site 1 in different tiers (crossbars 2 and 3), e2-e3
     * on site 2; e1 down and e2 gate share crossbar 3 (one tier: no conflict).
     * 0.05 + 0 = 0.05. */
    CU_ASSERT_DOUBLE_EQUAL(conflicts_of(AIMC_STRATEGY_PACK, 1), 0.05, 1e-12);
    /* Without co-activation counts: c = k(k-1)/(k^2 - sum p^2) = 2 / 2.7; the same stacks;
     * c * (0.9*0.2 + 0.6*0.3) = 0.36 * 2 / 2.7. */
    CU_ASSERT_DOUBLE_EQUAL(conflicts_of(AIMC_STRATEGY_TIERED, 0), 0.72 / 2.7, 1e-12);
    /* One tier: no conflicts whatever the placement. */
    aimc_arch a = small_arch(4, 8, 8, AIMC_SIGN_OFFSET, 4, 4, 1, 1, AIMC_STRATEGY_TIERED);
    aimc_model *m = model_of(1, 0, 4, 4, 4, 2, 0);
    aimc_routing *r = hand_routing(m, 1);
    aimc_plan *p = NULL;
    aimc_map_summary s;
    aimc_map_opts o = {r, NULL, 0, 0};
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan_ex(&a, m, &o, &p, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(aimc_map_summarise(&a, m, p, r, &s, NULL), AIMC_OK);
    CU_ASSERT_DOUBLE_EQUAL(s.tier_conflicts, 0.0, 0.0);
    aimc_plan_free(p);
    aimc_routing_free(r);
    aimc_model_free(m);
}

/* ---- replicas, faults, chips ------------------------------------------------------------ */

static void test_replicate(void)
{
    /* Pack needs 7 crossbars: router on crossbar 0 (columns 0..3), expert 0's gate beside
     * it, up and down on 1; expert 1 on 2 and half of 3; expert 2 on the rest of 3 and 4;
     * expert 3 on 5 and half of 6. A copy of an expert takes 2 crossbars of its own. */
    aimc_arch a = small_arch(4, 8, 8, AIMC_SIGN_OFFSET, 4, 2, 1, 1, AIMC_STRATEGY_REPLICATE);
    aimc_model *m = model_of(1, 0, 4, 4, 4, 2, 0);
    aimc_routing *r = hand_routing(m, 0);
    aimc_map_opts o = {r, NULL, 0, 0};
    a.mapping.replicate_threshold = 0.5; /* experts 0 (p 0.9) and 1 (p 0.6) only */
    struct {
        int xpc, copies0, copies1, used;
    } c[] = {{4, 1, 1, 7},   /* 8 crossbars: 1 spare, no room for a copy */
             {5, 2, 1, 9},   /* 10: one copy, of the hottest expert */
             {8, 2, 2, 11}}; /* 16: both experts above the threshold; expert 2 never */
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        a.hierarchy.crossbars_per_core = c[i].xpc;
        aimc_plan *p = NULL;
        CU_ASSERT_EQUAL_FATAL(aimc_map_plan_ex(&a, m, &o, &p, NULL), AIMC_OK);
        check_runs(&a, m, p, NULL, NULL, 0);
        CU_ASSERT_EQUAL(p->replicas[1], c[i].copies0); /* expert 0's gate */
        CU_ASSERT_EQUAL(p->replicas[3], c[i].copies0); /* expert 0's down */
        CU_ASSERT_EQUAL(p->replicas[4], c[i].copies1); /* expert 1's gate */
        CU_ASSERT_EQUAL(p->replicas[7], 1);            /* expert 2 */
        CU_ASSERT_EQUAL(p->xbars_used, c[i].used);
        CU_ASSERT_EQUAL(p->n_tiles_all,
                        p->n_tiles + 3 * (size_t)(c[i].copies0 - 1 + c[i].copies1 - 1));
        aimc_plan_free(p);
    }
    aimc_routing_free(r);
    aimc_model_free(m);
}

static void test_fault_aware(void)
{
    aimc_model *m = model_of(2, 1, 70, 5, 90, 2, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    for (int s = AIMC_STRATEGY_PACK; s <= AIMC_STRATEGY_TIERED; s++) {
        aimc_arch a = small_arch(64, 64, 2, AIMC_SIGN_DIFFERENTIAL, 4, 4, 30,
                                 s == AIMC_STRATEGY_TIERED ? 2 : 1, (aimc_map_strategy)s);
        size_t n = (size_t)aimc_arch_total_crossbars(&a) * (size_t)a.hierarchy.tiers;
        float *ff = calloc(n, sizeof *ff);
        unsigned char *bad = calloc(n, 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(ff);
        CU_ASSERT_PTR_NOT_NULL_FATAL(bad);
        for (size_t x = 0; x < n; x++) {
            ff[x] = (float)((x * 7919) % 100) / 100.0f; /* 0.00 .. 0.99 */
            bad[x] = ff[x] > 0.9f;
        }
        a.mapping.fault_threshold = 0.9;
        aimc_plan *p = NULL;
        aimc_diag d = {{0}};
        aimc_map_opts o = {NULL, ff, n, 0};
        int rc = aimc_map_plan_ex(&a, m, &o, &p, &d);
        CU_ASSERT_EQUAL(rc, AIMC_OK);
        if (rc) fprintf(stderr, "\n  %s\n", d.msg);
        if (!rc) {
            check_runs(&a, m, p, bad, ff, n);
            CU_ASSERT(p->xbars_skipped > 0);
        }
        aimc_plan_free(p);
        free(ff);
        free(bad);
    }
    aimc_model_free(m);
}

static void test_chips_auto(void)
{
    aimc_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_model_load("models/tiny-moe.yaml", 0, &m, NULL), AIMC_OK);
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.hierarchy.crossbars_per_core = 4;
    a.hierarchy.cores_per_chip = 4;
    a.hierarchy.chips = 2;
    aimc_plan *p = NULL;
    CU_ASSERT_EQUAL(aimc_map_plan(&a, m, &p, NULL), AIMC_ERR_NOFIT);
    a.hierarchy.chips_auto = 1; /* 201 crossbars on chips of 16: 13 chips */
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan(&a, m, &p, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(p->chips, 13);
    CU_ASSERT_EQUAL(p->chips_used, 13);
    CU_ASSERT_EQUAL(p->xbars_total, 13 * 16);
    check_runs(&a, m, p, NULL, NULL, 0);
    aimc_map_summary s;
    CU_ASSERT_EQUAL_FATAL(aimc_map_summarise(&a, m, p, NULL, &s, NULL), AIMC_OK);
    CU_ASSERT(s.chip_crossings > 0); /* experts of 20 crossbars straddle chips of 16 */
    CU_ASSERT_EQUAL(aimc_map_fit_chips(&a, p), AIMC_OK);
    CU_ASSERT_EQUAL(a.hierarchy.chips, 13);
    CU_ASSERT_EQUAL(a.hierarchy.chips_auto, 0);
    CU_ASSERT_EQUAL(aimc_arch_validate(&a, NULL), AIMC_OK);
    aimc_plan_free(p);
    aimc_model_free(m);
}

/* ---- the summary ------------------------------------------------------------------------ */

/* Hand-checked on one layer, one expert, all on one chip of a 2 x 2 mesh of 1-crossbar
 * cores: 4 x 8 crossbars, offset, 1 slice; d_model 8 (2 row blocks), d_ff 4. */
static void test_summary_hops(void)
{
    aimc_arch a = small_arch(4, 8, 8, AIMC_SIGN_OFFSET, 1, 4, 4, 1, AIMC_STRATEGY_PACK);
    aimc_model *m = model_of(1, 0, 8, 1, 4, 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    aimc_plan *p = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan(&a, m, &p, NULL), AIMC_OK);
    check_runs(&a, m, p, NULL, NULL, 0);
    /* router 8x1 -> 2 tiles of width 1 on crossbar 0 (cols 0, 1); gate 8x4 -> 2 tiles of
     * width 4: crossbar 0 cols 2..5, crossbar 1 cols 0..3; up: crossbar 1 cols 4..7 and
     * crossbar 2 cols 0..3; down 4x8 -> 1 tile of width 8: crossbar 3. Cores = crossbars,
     * mesh 2 x 2: core c at (c % 2, c / 2). Partial sums go to the core of row block 0:
     * router 0 -> 0 (0 hops, both), gate row block 1 on core 1 -> core 0: 1 hop; up row
     * block 1 on core 2 -> core 1: |0-1| + |1-0| = 2 hops. Tiles 2+2+2+1 = 7, hops 3. */
    aimc_map_summary s;
    CU_ASSERT_EQUAL_FATAL(aimc_map_summarise(&a, m, p, NULL, &s, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(p->n_tiles, 7);
    CU_ASSERT_EQUAL(s.hops_max, 2);
    CU_ASSERT_DOUBLE_EQUAL(s.hops_mean, 3.0 / 7.0, 1e-12);
    CU_ASSERT_EQUAL(s.chip_crossings, 0);
    CU_ASSERT_EQUAL(s.cores_used, 4);
    /* top-1 of 1 expert: everything active; core 0 holds router x2 + gate x1 = 3 tiles. */
    CU_ASSERT_DOUBLE_EQUAL(s.core_load_max, 3.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(s.core_load_mean, 7.0 / 4.0, 1e-6);
    CU_ASSERT(s.energy_pj > 0 && s.latency_ns > 0);
    double by_part = 0;
    for (int q = 0; q < AIMC_PART_COUNT; q++) by_part += s.energy_pj_by_part[q];
    CU_ASSERT_DOUBLE_EQUAL(by_part, s.energy_pj, 1e-9 * s.energy_pj);
    aimc_plan_free(p);
    aimc_model_free(m);
}

/* ---- routing ---------------------------------------------------------------------------- */

static void test_routing_zipf(void)
{
    aimc_model *m = model_of(3, 1, 8, 64, 8, 8, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    aimc_routing *r = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_routing_zipf(m, 1.2, 3, &r, NULL), AIMC_OK);
    CU_ASSERT_EQUAL(r->layers, 2);
    for (int l = 0; l < r->layers; l++) {
        double sum = 0, mx = 0, pair = 0;
        for (int e = 0; e < 64; e++) {
            double p = r->p[l * 64 + e];
            CU_ASSERT(p > 0 && p <= 1.0);
            sum += p;
            if (p > mx) mx = p;
            for (int f = 0; f < 64; f++) pair += aimc_routing_pair(r, l, e, f);
        }
        CU_ASSERT_DOUBLE_EQUAL(sum, 8.0, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(mx, 1.0, 1e-9); /* rank 1 at 1.2 is capped at 1 */
        CU_ASSERT_DOUBLE_EQUAL(pair, 8.0 * 7.0, 1e-9); /* ordered co-active pairs: k(k-1) */
    }
    /* Layers get different permutations; the same seed the same one. */
    CU_ASSERT(memcmp(r->p, r->p + 64, 64 * sizeof *r->p) != 0);
    aimc_routing *r2 = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_routing_from_spec("zipf:1.2:3", m, &r2, NULL), AIMC_OK);
    CU_ASSERT(memcmp(r->p, r2->p, 128 * sizeof *r->p) == 0);
    aimc_routing_free(r2);
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL(aimc_routing_from_spec("zipf:x", m, &r2, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "routing zipf:x: expected uniform, zipf:S, zipf:S:SEED or a file");
    aimc_routing_free(r);
    aimc_model_free(m);
}

static int write_file(const char *path, const void *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(buf, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static void test_routing_file(void)
{
    aimc_model *m = model_of(1, 0, 4, 4, 4, 2, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    const char *good = "{\"tokens\": 20, \"layers\": [{\"counts\": [18, 12, 6, 4], "
                       "\"coactivation\": [[0,10,5,3],[10,0,1,1],[5,1,0,0],[3,1,0,0]]}]}";
    const char *path = aimc_test_path("routing.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    CU_ASSERT_EQUAL_FATAL(write_file(path, good, strlen(good)), 0);
    aimc_routing *r = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL_FATAL(aimc_routing_load(path, m, &r, &d), AIMC_OK);
    CU_ASSERT_DOUBLE_EQUAL(r->p[0], 0.9, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(aimc_routing_pair(r, 0, 0, 3), 0.15, 1e-12);
    aimc_routing_free(r);
    struct {
        const char *text, *msg;
    } bad[] = {
        {"{\"tokens\": 20, \"layers\": [{\"counts\": [18, 12, 6]}]}",
         ": layers[0].counts: expected an array of 4 counts"},
        {"{\"tokens\": 20, \"layers\": [{\"counts\": [18, 12, 6, 21]}]}",
         ": layers[0].counts[3]: expected an integer in 0..20"},
        {"{\"tokens\": 20, \"layers\": [{\"counts\": [20, 20, 6, 0]}]}",
         ": layers[0].counts: sum 46 exceeds tokens x top_k = 40"},
        {"{\"tokens\": 0, \"layers\": []}",
         ": tokens: expected a positive integer"},
        {"{\"tokens\": 20, \"layers\": [{\"counts\": [1,1,1,1], \"coactivation\": [[0]]}]}",
         ": layers[0].coactivation: expected 4 rows of 4 counts"},
        {"{\"tokens\": 20, \"layers\": [", ": not valid JSON (near byte 25)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CU_ASSERT_EQUAL_FATAL(write_file(path, bad[i].text, strlen(bad[i].text)), 0);
        CU_ASSERT_NOT_EQUAL(aimc_routing_load(path, m, &r, &d), AIMC_OK);
        CU_ASSERT_PTR_NULL(r);
        CU_ASSERT(aimc_test_msg_is(d.msg, path, bad[i].msg));
    }
    remove(path);
    aimc_model_free(m);
}

/* ---- plan files ------------------------------------------------------------------------- */

static void test_plan_roundtrip(void)
{
    aimc_model *m = model_of(3, 1, 70, 5, 90, 2, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    aimc_routing *r = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_routing_zipf(m, 1.0, 1, &r, NULL), AIMC_OK);
    const char *path = aimc_test_path("plan.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    for (int s = AIMC_STRATEGY_PACK; s <= AIMC_STRATEGY_TIERED; s++) {
        aimc_arch a = small_arch(64, 64, 2, AIMC_SIGN_DIFFERENTIAL, 4, 4, 80,
                                 s == AIMC_STRATEGY_TIERED ? 3 : 1, (aimc_map_strategy)s);
        aimc_plan *p = NULL, *q = NULL;
        aimc_diag d = {{0}};
        aimc_map_opts o = {r, NULL, 0, 0};
        CU_ASSERT_EQUAL_FATAL(aimc_map_plan_ex(&a, m, &o, &p, &d), AIMC_OK);
        CU_ASSERT_EQUAL_FATAL(aimc_plan_save(p, &a, m, path, &d), AIMC_OK);
        int rc = aimc_plan_load(path, &a, m, NULL, &q, &d);
        CU_ASSERT_EQUAL(rc, AIMC_OK);
        if (rc) fprintf(stderr, "\n  %s\n", d.msg);
        if (!rc) {
            CU_ASSERT_EQUAL(q->n_runs, p->n_runs);
            CU_ASSERT(memcmp(q->runs, p->runs, p->n_runs * sizeof *p->runs) == 0);
            CU_ASSERT_EQUAL(q->n_tiles, p->n_tiles);
            CU_ASSERT(memcmp(q->tiles, p->tiles, p->n_tiles * sizeof *p->tiles) == 0);
            CU_ASSERT_EQUAL(q->xbars_used, p->xbars_used);
            CU_ASSERT_EQUAL(q->xbars_total, p->xbars_total);
            CU_ASSERT_EQUAL(q->xbars_span, p->xbars_span);
            CU_ASSERT_EQUAL(q->cells_used, p->cells_used);
            CU_ASSERT_EQUAL(q->chips_used, p->chips_used);
            CU_ASSERT_EQUAL(q->strategy, p->strategy);
            CU_ASSERT_EQUAL(q->n_tiles_all, p->n_tiles_all);
        }
        aimc_plan_free(q);
        /* Another machine is refused. */
        a.crossbar.rows = 32;
        CU_ASSERT_EQUAL(aimc_plan_load(path, &a, m, NULL, &q, &d), AIMC_ERR_CONFIG);
        CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "machine.crossbar_rows: the plan was made for another machine"));
        aimc_plan_free(p);
    }
    /* A run that leaves a tile out is refused. */
    const char *bad = "{\"aimc_plan\": 1, \"model\": \"t\", \"machine\": {\"crossbar_rows\": 64, "
                      "\"crossbar_cols\": 64, \"slices\": 4, \"cols_per_weight\": 2, "
                      "\"crossbars_per_core\": 4, \"cores_per_chip\": 4, \"tiers\": 1}, "
                      "\"strategy\": \"pack\", \"chips\": 80, \"matrices\": 41, "
                      "\"crossbars_used\": 1, \"crossbars_span\": 1, \"crossbars_skipped\": 0, "
                      "\"run_fields\": [\"matrix\", \"tile0\", \"n\", \"width\", \"xbar0\", "
                      "\"col0\", \"stride\", \"replica\"], \"runs\": [[0, 1, 3, 64, 0, 0, 1, 0]]}";
    CU_ASSERT_EQUAL_FATAL(write_file(path, bad, strlen(bad)), 0);
    aimc_arch a = small_arch(64, 64, 2, AIMC_SIGN_DIFFERENTIAL, 4, 4, 80, 1, AIMC_STRATEGY_PACK);
    aimc_plan *q = NULL;
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL(aimc_plan_load(path, &a, m, NULL, &q, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_PTR_NULL(q);
    CU_ASSERT(aimc_test_msg_is(d.msg, path, ": matrix 0 (layer0.dense0.gate) replica 0: tile 0 is not placed; every tile is placed once per replica"));
    remove(path);
    aimc_routing_free(r);
    aimc_model_free(m);
}

/* ---- the rules of a plan ---------------------------------------------------------------- */

/* The whole file as a NUL-terminated string with trailing newlines removed, or NULL. */
static char *read_expect(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 4096);
    size_t n = buf ? fread(buf, 1, 4095, f) : 0;
    fclose(f);
    while (buf && n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
    return buf;
}

/* Every tests/plans/bad/NAME.json (digits-moe on the default machine, each a copy of
 * `aimc map --plan-out` with one thing broken) fails to load with exactly NAME.expect. */
static void test_plan_bad_files(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    aimc_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_model_load("models/digits-moe.yaml", 0, &m, NULL), AIMC_OK);
    DIR *dir = opendir("tests/plans/bad");
    CU_ASSERT_PTR_NOT_NULL_FATAL(dir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        char path[512], expect_path[512];
        snprintf(path, sizeof path, "tests/plans/bad/%s", e->d_name);
        snprintf(expect_path, sizeof expect_path, "tests/plans/bad/%.*s.expect", (int)(len - 5),
                 e->d_name);
        char *expect = read_expect(expect_path);
        CU_ASSERT_PTR_NOT_NULL(expect);
        if (!expect) continue;
        aimc_plan *p = NULL;
        aimc_diag d = {{0}};
        int rc = aimc_plan_load(path, &a, m, NULL, &p, &d);
        CU_ASSERT(rc == AIMC_ERR_CONFIG || rc == AIMC_ERR_PARSE);
        CU_ASSERT_PTR_NULL(p);
        CU_ASSERT_STRING_EQUAL(d.msg, expect);
        if (strcmp(d.msg, expect) != 0)
            fprintf(stderr, "\n  %s:\n    got    %s\n    expect %s\n", path, d.msg, expect);
        aimc_plan_free(p);
        free(expect);
        n++;
    }
    closedir(dir);
    CU_ASSERT(n >= 20);
    aimc_model_free(m);
}

/* A fault map: digits-moe's first-fit plan puts expert 0's down (matrix 3, four full-width
 * tiles) on crossbars 5..8 (runs[3] of the saved plan, runs sorted by matrix); crossbar 5
 * is the run's first crossbar, 7 one of the crossbars it fills. */
static void test_plan_faults(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    aimc_model *m = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_model_load("models/digits-moe.yaml", 0, &m, NULL), AIMC_OK);
    aimc_plan *p = NULL;
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan(&a, m, &p, NULL), AIMC_OK);
    CU_ASSERT_EQUAL_FATAL(p->runs[3].matrix, 3);
    CU_ASSERT_EQUAL(p->runs[3].xbar0, 5);
    float ff[1024] = {0};
    a.mapping.fault_threshold = 0.25;
    ff[40] = 0.5f; /* an unused crossbar may be faulty */
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL(aimc_plan_validate(&a, m, p, ff, 1024, NULL, &d), AIMC_OK);
    ff[7] = 0.25f; /* at the threshold: not above it */
    CU_ASSERT_EQUAL(aimc_plan_validate(&a, m, p, ff, 1024, NULL, &d), AIMC_OK);
    ff[7] = 0.26f;
    CU_ASSERT_EQUAL(aimc_plan_validate(&a, m, p, ff, 1024, NULL, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "plan: runs[3]: crossbar 7 is faulty (more than "
                                  "mapping.fault_threshold 0.25 of its devices stuck); no tile "
                                  "goes there");
    ff[5] = 1.0f;
    CU_ASSERT_EQUAL(aimc_plan_validate(&a, m, p, ff, 1024, "x.json", &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "x.json: runs[3]: crossbar 5 is faulty (more than "
                                  "mapping.fault_threshold 0.25 of its devices stuck); no tile "
                                  "goes there");
    /* The same through a plan file: the loader takes the fault map from its options. */
    const char *path = aimc_test_path("plan_faults.json");
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    CU_ASSERT_EQUAL_FATAL(aimc_plan_save(p, &a, m, path, &d), AIMC_OK);
    aimc_plan *q = NULL;
    aimc_map_opts o = {NULL, ff, 1024, 0};
    CU_ASSERT_EQUAL(aimc_plan_load(path, &a, m, &o, &q, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_PTR_NULL(q);
    CU_ASSERT(aimc_test_msg_is(d.msg, path, ": runs[3]: crossbar 5 is faulty (more than "
                                            "mapping.fault_threshold 0.25 of its devices "
                                            "stuck); no tile goes there"));
    CU_ASSERT_EQUAL(aimc_plan_load(path, &a, m, NULL, &q, &d), AIMC_OK);
    aimc_plan_free(q);
    remove(path);
    aimc_plan_free(p);
    aimc_model_free(m);
}

/* Rules on a hand-made plan with two tiers (crossbar x = site * 2 + tier): 8 x 8 offset
 * crossbars of one 8-bit slice, 4 crossbars x 2 cores x 2 tiers = 16 arrays per chip, 2
 * chips. Model: d_model 4, 2 experts of d_ff 32: router 1 tile 2 columns wide; gate and up 4
 * full tiles (8 columns); down 8 row blocks of 4 columns. */
static void test_plan_rules_hand(void)
{
    aimc_arch a = small_arch(4, 8, 8, AIMC_SIGN_OFFSET, 4, 2, 2, 2, AIMC_STRATEGY_TIERED);
    aimc_model *m = model_of(1, 0, 4, 2, 32, 1, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL_FATAL(m->n_matrices, 7);
    aimc_run runs[] = {
        {0, 0, 1, 2, 0, 0, 1, 0},  /* router: crossbar 0, columns 0..1 */
        {1, 0, 4, 8, 7, 0, 2, 0},  /* e0 gate: tier 1 of sites 3..6 (crossbars 7, 9, 11, 13) */
        {2, 0, 4, 8, 6, 0, 2, 0},  /* e0 up: tier 0 of the same sites (6, 8, 10, 12) */
        {3, 0, 8, 4, 0, 2, 1, 0},  /* e0 down: crossbar 0 columns 2..5, 1..3 full, 4 half */
        {4, 0, 4, 8, 16, 0, 1, 0}, /* e1 gate: 16..19 */
        {5, 0, 4, 8, 20, 0, 1, 0}, /* e1 up: 20..23 */
        {6, 0, 8, 4, 24, 0, 1, 0}, /* e1 down: two per crossbar, 24..27 */
    };
    aimc_plan p;
    memset(&p, 0, sizeof p);
    p.runs = runs;
    p.n_runs = 7;
    p.chips = 2;
    p.xbars_span = 28;
    p.xbars_used = 25; /* all of 0..27 but 5, 14 and 15 */
    p.xbars_skipped = 3;
    aimc_diag d = {{0}};
    int rc = aimc_plan_validate(&a, m, &p, NULL, 0, NULL, &d);
    CU_ASSERT_EQUAL(rc, AIMC_OK);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    p.xbars_skipped = 4;
    CU_ASSERT_EQUAL(aimc_plan_validate(&a, m, &p, NULL, 0, NULL, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "plan: crossbars_skipped 4: more than the 3 unused crossbars "
                                  "below the span");
    p.xbars_skipped = 0;
    p.xbars_used = 24;
    CU_ASSERT_EQUAL(aimc_plan_validate(&a, m, &p, NULL, 0, NULL, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "plan: crossbars_used 24: its runs use 25 crossbars");
    p.xbars_used = 25;
    /* A faulty array inside the crossbars e0 gate fills. */
    float ff[32] = {0};
    ff[11] = 1.0f;
    a.mapping.fault_threshold = 0.5;
    CU_ASSERT_EQUAL(aimc_plan_validate(&a, m, &p, ff, 32, NULL, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "plan: runs[1]: crossbar 11 is faulty (more than "
                                  "mapping.fault_threshold 0.5 of its devices stuck); no tile "
                                  "goes there");
    /* chips auto: exactly the chips the span needs, ceil(28 / 16) = 2. */
    a.hierarchy.chips_auto = 1;
    CU_ASSERT_EQUAL(aimc_plan_validate(&a, m, &p, NULL, 0, NULL, &d), AIMC_OK);
    p.chips = 3;
    CU_ASSERT_EQUAL(aimc_plan_validate(&a, m, &p, NULL, 0, NULL, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "plan: chips 3: its runs need 2 chips of 16 crossbars "
                                  "(chips: auto)");
    a.hierarchy.chips_auto = 0;
    p.chips = 2;
    /* e0 up with stride 1 from crossbar 10: its first crossbar is free, but it fills 11..13,
     * and 11 and 13 are e0 gate's (statistics as if no cell were shared: the cells decide). */
    runs[2].xbar0 = 10;
    runs[2].stride = 1;
    p.xbars_span = 28;
    CU_ASSERT_EQUAL(aimc_plan_validate(&a, m, &p, NULL, 0, NULL, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "plan: runs[2]: crossbar 11, columns 0..7: also used by "
                                  "runs[1]; two runs never share a cell");
    runs[2].stride = 3;
    CU_ASSERT_EQUAL(aimc_plan_validate(&a, m, &p, NULL, 0, NULL, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "plan: runs[2]: stride 3: expected 1 or 2 (the machine's "
                                  "tiers)");
    /* e1 down's last crossbar half empty: e0 down's last tile there, at column 4, fits. */
    runs[2] = (aimc_run){2, 0, 4, 8, 6, 0, 2, 0};
    runs[6].n = 7;  /* tiles 0..6 on 24..27, crossbar 27 columns 0..3 */
    runs[3].n = 7;  /* tiles 0..6 on crossbars 0..3 */
    aimc_run extra[8];
    memcpy(extra, runs, sizeof runs);
    extra[7] = (aimc_run){6, 7, 1, 4, 27, 4, 1, 0};
    p.runs = extra;
    p.n_runs = 8;
    /* e0 down lost tile 7: not placed */
    CU_ASSERT_EQUAL(aimc_plan_validate(&a, m, &p, NULL, 0, NULL, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "plan: matrix 3 (layer0.expert0.down) replica 0: tile 7 is "
                                  "not placed; every tile is placed once per replica");
    extra[3].n = 8;
    p.xbars_used = 25;
    rc = aimc_plan_validate(&a, m, &p, NULL, 0, NULL, &d);
    CU_ASSERT_EQUAL(rc, AIMC_OK);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    extra[7].col0 = 3; /* columns 3..6 of crossbar 27: 3 is e1 down's tile 6 */
    CU_ASSERT_EQUAL(aimc_plan_validate(&a, m, &p, NULL, 0, NULL, &d), AIMC_ERR_CONFIG);
    CU_ASSERT_STRING_EQUAL(d.msg, "plan: runs[7]: crossbar 27, columns 3..3: also used by "
                                  "runs[6]; two runs never share a cell");
    aimc_model_free(m);
}

/* The rules of a plan recounted tile by tile and cell by cell, written apart from the
 * library's validator: 1 when every rule holds. For small machines (a byte per cell). */
static int oracle_valid(const aimc_arch *a, const aimc_model *m, const aimc_plan *p,
                        const float *ff, size_t n_ff)
{
    const uint64_t C = (uint64_t)a->crossbar.cols, T = (uint64_t)a->hierarchy.tiers;
    const uint64_t L = (uint64_t)aimc_arch_logical_cols(a);
    const uint64_t P = (uint64_t)aimc_arch_cols_per_weight(a);
    const uint64_t S = (uint64_t)aimc_arch_slices(a), R = (uint64_t)a->crossbar.rows;
    const uint64_t per_chip = (uint64_t)a->hierarchy.crossbars_per_core *
                              (uint64_t)a->hierarchy.cores_per_chip * T;
    if (p->chips < 1 || (!a->hierarchy.chips_auto && p->chips != a->hierarchy.chips)) return 0;
    uint64_t cap = (uint64_t)p->chips * per_chip;
    if (cap > (uint64_t)UINT32_MAX + 1) cap = (uint64_t)UINT32_MAX + 1;
    uint64_t top = 0; /* highest crossbar + 1 */
    int maxrep = 0;
    /* Pass 1: each run alone. */
    for (size_t i = 0; i < p->n_runs; i++) {
        const aimc_run *r = &p->runs[i];
        if (r->matrix >= m->n_matrices || r->n == 0 || r->replica > 65535) return 0;
        const aimc_matrix *mx = &m->m[r->matrix];
        uint64_t rb = (mx->rows + R - 1) / R, cb = (mx->cols + L - 1) / L;
        if ((uint64_t)r->tile0 + r->n > rb * cb * S) return 0;
        if (r->stride != 1 && r->stride != T) return 0;
        for (uint64_t j = 0; j < r->n; j++) {
            uint64_t blk = ((r->tile0 + j) / S) % cb;
            uint64_t nc = blk + 1 < cb ? L : mx->cols - (cb - 1) * L;
            if (nc * P != r->width) return 0;
        }
        if ((uint64_t)r->col0 + r->width > C) return 0;
        uint64_t k = C / r->width, f = (C - r->col0) / r->width;
        for (uint64_t j = 0; j < r->n; j++) {
            uint64_t x = j < f ? r->xbar0 : r->xbar0 + r->stride * (1 + (j - f) / k);
            if (x >= cap) return 0;
            if (x + 1 > top) top = x + 1;
        }
        if ((int)r->replica > maxrep) maxrep = (int)r->replica;
    }
    /* Pass 2: cells, faults, coverage. */
    unsigned char *occ = calloc(top * C + 1, 1);
    unsigned char *seen = calloc(m->n_matrices * (size_t)(maxrep + 1), 4096);
    int *reps = calloc(m->n_matrices, sizeof *reps);
    int ok = occ && seen && reps;
    for (size_t i = 0; ok && i < p->n_runs; i++) {
        const aimc_run *r = &p->runs[i];
        uint64_t k = C / r->width, f = (C - r->col0) / r->width;
        if ((int)r->replica + 1 > reps[r->matrix]) reps[r->matrix] = (int)r->replica + 1;
        for (uint64_t j = 0; ok && j < r->n; j++) {
            uint64_t x = j < f ? r->xbar0 : r->xbar0 + r->stride * (1 + (j - f) / k);
            uint64_t col = j < f ? r->col0 + j * r->width : ((j - f) % k) * r->width;
            for (uint64_t q = 0; q < r->width; q++)
                if (occ[x * C + col + q]++) ok = 0;
            if (ff && x < n_ff && ff[x] > a->mapping.fault_threshold) ok = 0;
            uint64_t t = r->tile0 + j;
            if (t >= 4096) ok = 0; /* the models here have fewer tiles */
            else if (seen[((size_t)r->matrix * (size_t)(maxrep + 1) + r->replica) * 4096 + t]++)
                ok = 0;
        }
    }
    for (size_t i = 0; ok && i < m->n_matrices; i++) {
        const aimc_matrix *mx = &m->m[i];
        uint64_t nt = ((mx->rows + R - 1) / R) * ((mx->cols + L - 1) / L) * S;
        if (reps[i] == 0) ok = 0;
        for (int rp = 0; ok && rp < reps[i]; rp++)
            for (uint64_t t = 0; t < nt; t++)
                if (seen[(i * (size_t)(maxrep + 1) + (size_t)rp) * 4096 + t] != 1) ok = 0;
    }
    /* Pass 3: the statistics. */
    uint64_t used = 0;
    for (uint64_t x = 0; ok && x < top; x++) {
        int any = 0;
        for (uint64_t c = 0; c < C; c++) any |= occ[x * C + c];
        used += any != 0;
    }
    if (ok && (p->xbars_span != top || p->xbars_used < 0 || (uint64_t)p->xbars_used != used ||
               p->xbars_skipped > top - used))
        ok = 0;
    if (ok && a->hierarchy.chips_auto &&
        (uint64_t)p->chips != (top ? (top + per_chip - 1) / per_chip : 1))
        ok = 0;
    free(occ);
    free(seen);
    free(reps);
    return ok;
}

static uint64_t mut_state = 0x2545F4914F6CDD1Dull;

static uint32_t mut_below(uint32_t n) /* xorshift64 */
{
    mut_state ^= mut_state << 13;
    mut_state ^= mut_state >> 7;
    mut_state ^= mut_state << 17;
    return n ? (uint32_t)(mut_state % n) : 0;
}

/* Change one thing of plan q (runs with room for one more). */
static void mutate(aimc_plan *q, uint32_t span, uint32_t cols)
{
    uint32_t *f = NULL;
    size_t i = mut_below((uint32_t)q->n_runs);
    aimc_run *r = &q->runs[i];
    uint32_t *fields[8] = {&r->matrix, &r->tile0, &r->n,      &r->width,
                           &r->xbar0,  &r->col0,  &r->stride, &r->replica};
    switch (mut_below(8)) {
    case 0: /* a field by -2..+2 (wrapping below 0) */
        f = fields[mut_below(8)];
        *f += mut_below(5) - 2u;
        break;
    case 1: /* a field to a small value */
        f = fields[mut_below(8)];
        *f = mut_below(f == &r->xbar0 ? span + 4 : f == &r->col0 || f == &r->width ? 80 : 6);
        break;
    case 2: /* a copy of a run, maybe elsewhere */
        q->runs[q->n_runs] = *r;
        if (mut_below(2)) q->runs[q->n_runs].xbar0 = mut_below(span + 8);
        q->n_runs++;
        break;
    case 3: /* a run left out */
        memmove(r, r + 1, (q->n_runs - i - 1) * sizeof *r);
        q->n_runs--;
        break;
    case 4: /* a stated statistic */
        switch (mut_below(4)) {
        case 0: q->xbars_span += mut_below(3) - 1u; break;
        case 1: q->xbars_used += (long)mut_below(3) - 1; break;
        case 2: q->xbars_skipped += mut_below(3); break;
        default: q->chips += (int)mut_below(3) - 1; break;
        }
        break;
    default: { /* a run cut in two where a tile starts: the same placement, still valid */
        if (r->n < 2 || r->width == 0 || r->width > cols || r->col0 > cols - r->width) break;
        uint32_t j = 1 + mut_below(r->n - 1);
        aimc_run b = *r;
        uint32_t k = cols / r->width, fst = (cols - r->col0) / r->width;
        b.tile0 = r->tile0 + j;
        b.n = r->n - j;
        b.xbar0 = j < fst ? r->xbar0 : r->xbar0 + r->stride * (1 + (j - fst) / k);
        b.col0 = j < fst ? r->col0 + j * r->width : ((j - fst) % k) * r->width;
        r->n = j;
        q->runs[q->n_runs++] = b;
        break;
    }
    }
}

static int cmp_u64_t(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Set q's span, crossbars used (and chips when auto) to what its runs give, so that a changed
 * run is caught by the rule it breaks, not by the statistics. Runs whose shape is broken
 * (or far away) are left out of the count. */
static void restate(const aimc_arch *a, aimc_plan *q)
{
    const uint64_t C = (uint64_t)a->crossbar.cols;
    size_t n = 0, cap = 1024;
    uint64_t *xs = malloc(cap * sizeof *xs), top = 0;
    for (size_t i = 0; xs && i < q->n_runs; i++) {
        const aimc_run *r = &q->runs[i];
        if (r->width == 0 || r->width > C || r->col0 + (uint64_t)r->width > C || r->n > 4096 ||
            r->xbar0 > (1u << 20))
            continue;
        uint64_t k = C / r->width, f = (C - r->col0) / r->width;
        for (uint64_t j = 0; j < r->n; j++) {
            uint64_t x = j < f ? r->xbar0 : r->xbar0 + (uint64_t)r->stride * (1 + (j - f) / k);
            if (n == cap) {
                uint64_t *nx = realloc(xs, 2 * cap * sizeof *xs);
                if (!nx) break;
                xs = nx;
                cap *= 2;
            }
            xs[n++] = x;
            if (x + 1 > top) top = x + 1;
        }
    }
    if (!xs) return;
    qsort(xs, n, sizeof *xs, cmp_u64_t);
    long used = 0;
    for (size_t i = 0; i < n; i++) used += i == 0 || xs[i] != xs[i - 1];
    free(xs);
    q->xbars_span = top;
    q->xbars_used = used;
    uint64_t per_chip = (uint64_t)a->hierarchy.crossbars_per_core *
                        (uint64_t)a->hierarchy.cores_per_chip * (uint64_t)a->hierarchy.tiers;
    if (a->hierarchy.chips_auto) q->chips = top ? (int)((top + per_chip - 1) / per_chip) : 1;
}

/* Fresh plans of every strategy, each changed in one to three places (fields, copies,
 * omissions, statistics, cuts that keep the placement), sometimes with a fault map: the
 * validator accepts exactly the plans the tile-by-tile recount accepts. */
static void test_plan_validate_oracle(void)
{
    aimc_model *models[] = {model_of(2, 1, 70, 3, 90, 2, 1), model_of(1, 0, 33, 4, 19, 2, 0)};
    CU_ASSERT_PTR_NOT_NULL_FATAL(models[0]);
    CU_ASSERT_PTR_NOT_NULL_FATAL(models[1]);
    int agree = 0, disagree = 0, valid = 0, invalid = 0;
    for (int s = AIMC_STRATEGY_PACK; s <= AIMC_STRATEGY_TIERED; s++)
        for (int ai = 0; ai < 3; ai++) {
            int tiers = s == AIMC_STRATEGY_TIERED ? 3 : ai == 2 ? 2 : 1;
            aimc_arch a = ai == 1 ? small_arch(40, 30, 3, AIMC_SIGN_OFFSET, 3, 5, 40, tiers,
                                               (aimc_map_strategy)s)
                                  : small_arch(64, 64, 2, AIMC_SIGN_DIFFERENTIAL, 4, 4, 40, tiers,
                                               (aimc_map_strategy)s);
            a.hierarchy.chips_auto = ai == 2;
            a.mapping.replicate_threshold = 0.3;
            for (int mi = 0; mi < 2; mi++) {
                aimc_plan *p = NULL;
                aimc_diag d = {{0}};
                if (aimc_map_plan_ex(&a, models[mi], NULL, &p, &d) != AIMC_OK) {
                    fprintf(stderr, "\n  %s\n", d.msg);
                    CU_FAIL("mapping failed");
                    continue;
                }
                size_t nx = (size_t)p->xbars_total;
                float *ff = calloc(nx, sizeof *ff);
                aimc_run *runs = malloc((p->n_runs + 8) * sizeof *runs);
                CU_ASSERT_PTR_NOT_NULL_FATAL(ff);
                CU_ASSERT_PTR_NOT_NULL_FATAL(runs);
                for (int it = 0; it < 400; it++) {
                    aimc_plan q = *p;
                    memcpy(runs, p->runs, p->n_runs * sizeof *runs);
                    q.runs = runs;
                    int muts = 1 + (int)mut_below(3);
                    for (int k = 0; k < muts && q.n_runs > 0; k++)
                        mutate(&q, (uint32_t)p->xbars_span, (uint32_t)a.crossbar.cols);
                    if (it % 2) restate(&a, &q);
                    int faults = it % 4 == 3;
                    memset(ff, 0, nx * sizeof *ff);
                    q.xbars_skipped = q.xbars_skipped > 0 && it % 3 ? 0 : q.xbars_skipped;
                    if (faults) {
                        a.mapping.fault_threshold = 0.5;
                        ff[mut_below((uint32_t)p->xbars_span + 2)] = 0.75f;
                    }
                    int want = oracle_valid(&a, models[mi], &q, faults ? ff : NULL, nx);
                    int rc = aimc_plan_validate(&a, models[mi], &q, faults ? ff : NULL, nx,
                                                NULL, &d);
                    int got = rc == AIMC_OK;
                    if (got == want) agree++;
                    else if (disagree++ < 5)
                        fprintf(stderr, "\n  strategy %d arch %d model %d iteration %d: oracle %d, "
                                        "validator %d (%s)\n",
                                s, ai, mi, it, want, got, got ? "" : d.msg);
                    valid += want;
                    invalid += !want;
                    if (!got && strncmp(d.msg, "plan: ", 6) != 0) disagree++;
                }
                free(runs);
                free(ff);
                aimc_plan_free(p);
            }
        }
    CU_ASSERT_EQUAL(disagree, 0);
    CU_ASSERT(agree > 10000);
    CU_ASSERT(valid > 1000);
    CU_ASSERT(invalid > 1000);
    aimc_model_free(models[0]);
    aimc_model_free(models[1]);
}

/* ---- safetensors -------------------------------------------------------------------------- */

static uint16_t f2h(float f)
{
    /* round-to-nearest-even for the normal range used here */
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t sign = (u >> 16) & 0x8000, e = (u >> 23) & 0xff, man = u & 0x7fffff;
    if (e == 0) return (uint16_t)sign;
    int he = (int)e - 127 + 15;
    uint32_t hm = man >> 13, rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (hm & 1))) hm++;
    if (hm == 0x400) {
        hm = 0;
        he++;
    }
    return (uint16_t)(sign | (uint32_t)he << 10 | hm);
}

/* A safetensors image of tensors given as (name, dtype, out x in, values). */
typedef struct {
    const char *name, *dtype;
    uint32_t d0, d1;
    const float *v;
} st_tensor;

static unsigned char *st_build(const st_tensor *t, int n, size_t *len)
{
    char hdr[4096];
    size_t off = 0, h = 0;
    h += (size_t)snprintf(hdr + h, sizeof hdr - h, "{\"__metadata__\": {\"format\": \"pt\"}");
    for (int i = 0; i < n; i++) {
        size_t es = strcmp(t[i].dtype, "F32") == 0 ? 4 : 2, sz = es * t[i].d0 * t[i].d1;
        h += (size_t)snprintf(hdr + h, sizeof hdr - h,
                              ", \"%s\": {\"dtype\": \"%s\", \"shape\": [%u, %u], "
                              "\"data_offsets\": [%zu, %zu]}",
                              t[i].name, t[i].dtype, t[i].d0, t[i].d1, off, off + sz);
        off += sz;
    }
    h += (size_t)snprintf(hdr + h, sizeof hdr - h, "}");
    *len = 8 + h + off;
    unsigned char *b = calloc(*len, 1);
    if (!b) return NULL;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, hdr, h);
    unsigned char *p = b + 8 + h;
    for (int i = 0; i < n; i++)
        for (uint32_t k = 0; k < t[i].d0 * t[i].d1; k++) {
            float f = t[i].v[k];
            uint32_t u;
            memcpy(&u, &f, sizeof u);
            if (strcmp(t[i].dtype, "F32") == 0) {
                for (int q = 0; q < 4; q++) *p++ = (unsigned char)(u >> (8 * q));
            } else {
                uint16_t hv = strcmp(t[i].dtype, "BF16") == 0 ? (uint16_t)(u >> 16) : f2h(f);
                *p++ = (unsigned char)hv;
                *p++ = (unsigned char)(hv >> 8);
            }
        }
    return b;
}

/* Model: 1 layer, d_model 4, 2 experts of d_ff 2, no shared; values exact in f16 and bf16
 * (multiples of 1/8 below 16). Router and experts spread over two shards with an index. */
static void test_safetensors_model(void)
{
    float vr[8], vg[2][8], vu[2][8], vd[2][8];
    for (int k = 0; k < 8; k++) {
        vr[k] = (float)(k - 4) / 8.0f;
        for (int e = 0; e < 2; e++) {
            vg[e][k] = (float)(k + 10 * e) / 4.0f;
            vu[e][k] = -(float)(k + 3 * e) / 2.0f;
            vd[e][k] = (float)(k * k - 7 * e) / 8.0f;
        }
    }
    /* PyTorch Linear layout [out, in]: router [2, 4], gate/up [2, 4], down [4, 2]. */
    st_tensor s1[] = {{"m.l0.gate.weight", "F32", 2, 4, vr},
                      {"m.l0.e0.w1", "F16", 2, 4, vg[0]},
                      {"m.l0.e0.w3", "BF16", 2, 4, vu[0]},
                      {"m.l0.e0.w2", "F32", 4, 2, vd[0]}};
    st_tensor s2[] = {{"m.l0.e1.w1", "BF16", 2, 4, vg[1]},
                      {"m.l0.e1.w3", "F16", 2, 4, vu[1]},
                      {"m.l0.e1.w2", "F16", 4, 2, vd[1]}};
    size_t n1, n2;
    unsigned char *b1 = st_build(s1, 4, &n1), *b2 = st_build(s2, 3, &n2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b2);
    char pa[512], pb[512], pi[512], py[512];
    CU_ASSERT_PTR_NOT_NULL_FATAL(aimc_test_path("aimc_st_a.safetensors"));
    snprintf(pa, sizeof pa, "%s", aimc_test_path("aimc_st_a.safetensors"));
    snprintf(pb, sizeof pb, "%s", aimc_test_path("aimc_st_b.safetensors"));
    snprintf(pi, sizeof pi, "%s", aimc_test_path("aimc_st.index.json"));
    snprintf(py, sizeof py, "%s", aimc_test_path("aimc_st_model.yaml"));
    CU_ASSERT_EQUAL_FATAL(write_file(pa, b1, n1), 0);
    CU_ASSERT_EQUAL_FATAL(write_file(pb, b2, n2), 0);
    const char *index = "{\"metadata\": {}, \"weight_map\": {\"m.l0.gate.weight\": "
                        "\"aimc_st_a.safetensors\", \"m.l0.e0.w1\": \"aimc_st_a.safetensors\", "
                        "\"m.l0.e0.w3\": \"aimc_st_a.safetensors\", \"m.l0.e0.w2\": "
                        "\"aimc_st_a.safetensors\", \"m.l0.e1.w1\": \"aimc_st_b.safetensors\", "
                        "\"m.l0.e1.w3\": \"aimc_st_b.safetensors\", \"m.l0.e1.w2\": "
                        "\"aimc_st_b.safetensors\"}}";
    CU_ASSERT_EQUAL_FATAL(write_file(pi, index, strlen(index)), 0);
    const char *yaml =
        "version: 1\nmodel: {name: st, layers: 1, d_model: 4, routed_experts: 2, expert_d_ff: 2, "
        "top_k: 1}\nweights:\n  safetensors:\n    path: aimc_st.index.json\n    names:\n"
        "      router: m.l{layer}.gate.weight\n      gate: m.l{layer}.e{expert}.w1\n"
        "      up: m.l{layer}.e{expert}.w3\n      down: m.l{layer}.e{expert}.w2\n";
    CU_ASSERT_EQUAL_FATAL(write_file(py, yaml, strlen(yaml)), 0);
    aimc_model *m = NULL;
    aimc_diag d = {{0}};
    int rc = aimc_model_load(py, 1, &m, &d);
    CU_ASSERT_EQUAL(rc, AIMC_OK);
    if (rc) fprintf(stderr, "\n  %s\n", d.msg);
    if (!rc) {
        /* w[in * cols + out] = file[out][in] */
        int bad = 0;
        for (int i = 0; i < 4; i++)
            for (int o = 0; o < 2; o++) {
                bad += m->m[0].w[i * 2 + o] != vr[o * 4 + i];
                for (int e = 0; e < 2; e++) {
                    bad += m->m[1 + 3 * e].w[i * 2 + o] != vg[e][o * 4 + i];
                    bad += m->m[2 + 3 * e].w[i * 2 + o] != vu[e][o * 4 + i];
                    /* down: rows = d_ff (2) inputs, cols = d_model (4) outputs; file [4, 2] */
                    bad += m->m[3 + 3 * e].w[o * 4 + i] != vd[e][i * 2 + o];
                }
            }
        CU_ASSERT_EQUAL(bad, 0);
        aimc_model_free(m);
    }
    /* The single file alone lacks expert 1. */
    const char *yaml1 =
        "version: 1\nmodel: {name: st, layers: 1, d_model: 4, routed_experts: 2, expert_d_ff: 2, "
        "top_k: 1}\nweights:\n  safetensors:\n    path: aimc_st_a.safetensors\n    names:\n"
        "      router: m.l{layer}.gate.weight\n      gate: m.l{layer}.e{expert}.w1\n"
        "      up: m.l{layer}.e{expert}.w3\n      down: m.l{layer}.e{expert}.w2\n";
    CU_ASSERT_EQUAL_FATAL(write_file(py, yaml1, strlen(yaml1)), 0);
    CU_ASSERT_EQUAL(aimc_model_load(py, 1, &m, &d), AIMC_ERR_CONFIG);
    CU_ASSERT(aimc_test_msg_is(d.msg, pa, ": no tensor m.l0.e1.w1"));
    /* Truncated: the data ends early. */
    CU_ASSERT_EQUAL_FATAL(write_file(pa, b1, n1 - 3), 0);
    CU_ASSERT_EQUAL(aimc_model_load(py, 1, &m, &d), AIMC_ERR_PARSE);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "data_offsets must be [begin, end] within the"));
    remove(pa);
    remove(pb);
    remove(pi);
    remove(py);
    free(b1);
    free(b2);
}

/* Mutations of a valid image (bytes flipped, set, truncated, header length changed): the
 * reader returns OK or an error with a message, never crashes or reads outside (the
 * sanitizer build checks the latter). */
static void test_safetensors_fuzz(void)
{
    float v[12];
    for (int k = 0; k < 12; k++) v[k] = (float)k / 4.0f;
    st_tensor ts[] = {{"a", "F32", 3, 4, v}, {"b", "F16", 4, 3, v}, {"c", "BF16", 2, 6, v}};
    size_t len;
    unsigned char *good = st_build(ts, 3, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(good);
    unsigned char *buf = malloc(len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    float out[12];
    const char *names[] = {"a", "b", "c"};
    uint32_t shp[3][2] = {{4, 3}, {3, 4}, {6, 2}};
    uint64_t s = 0x9e3779b97f4a7c15ull;
    int ok = 0, err = 0, nomsg = 0;
    for (int it = 0; it < 6000; it++) {
        memcpy(buf, good, len);
        size_t n = len;
        int muts = 1 + it % 4;
        for (int q = 0; q < muts; q++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            size_t pos = (size_t)(s % len);
            switch ((s >> 32) % 4) {
            case 0: buf[pos] ^= (unsigned char)(1u << ((s >> 40) % 8)); break;
            case 1: buf[pos] = (unsigned char)(s >> 48); break;
            case 2: n = pos; break;            /* truncate */
            default: buf[(s >> 40) % 8] = (unsigned char)(s >> 52); break; /* header length */
            }
        }
        /* The reader sees exactly n bytes: copy into an exact-size block for ASan. */
        unsigned char *exact = malloc(n ? n : 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(exact);
        memcpy(exact, buf, n);
        int k = it % 3;
        aimc_diag d = {{0}};
        int rc = aimc_st_read_tensor(exact, n, "fuzz", names[k], shp[k][0], shp[k][1], 1, out, &d);
        if (rc == AIMC_OK) ok++;
        else {
            err++;
            if (!d.msg[0] || strncmp(d.msg, "fuzz: ", 6) != 0) nomsg++;
        }
        free(exact);
    }
    CU_ASSERT(ok > 0);
    CU_ASSERT(err > 1000);
    CU_ASSERT_EQUAL(nomsg, 0);
    /* The unmutated image reads back exactly (transposed). */
    aimc_diag d = {{0}};
    CU_ASSERT_EQUAL(aimc_st_read_tensor(good, len, "x", "a", 4, 3, 1, out, &d), AIMC_OK);
    CU_ASSERT_EQUAL(out[1 * 3 + 2], v[2 * 4 + 1]);
    CU_ASSERT_EQUAL(aimc_st_read_tensor(good, len, "x", "c", 6, 2, 1, out, &d), AIMC_OK);
    CU_ASSERT_EQUAL(out[5 * 2 + 1], v[1 * 6 + 5]);
    CU_ASSERT_EQUAL(aimc_st_read_tensor(good, 5, "x", "a", 4, 3, 1, out, &d), AIMC_ERR_PARSE);
    CU_ASSERT_STRING_EQUAL(d.msg, "x: truncated: 5 bytes, a safetensors file starts with an 8-byte header length");
    free(buf);
    free(good);
}

/* ---- the public model files -------------------------------------------------------------- */

static void test_public_models(void)
{
    struct {
        const char *path;
        size_t matrices;
        uint64_t weights;
    } c[] = {
        /* 32 x (q, k, v, o: 4096 x (4096 + 1024 + 1024) + 4096 x 4096; router 4096x8 + 8 x 3 x
         * 4096 x 14336) + the head 4096 x 32000 */
        {"models/mixtral-8x7b.yaml", 32 * (4 + 1 + 24) + 1,
         32ull * (4096ull * 6144 + 4096 * 4096 + 4096 * 8 + 24ull * 4096 * 14336) +
             4096ull * 32000},
        {"models/olmoe-1b-7b.yaml", 16 * (4 + 1 + 192) + 1,
         16ull * (4ull * 2048 * 2048 + 2048 * 64 + 192ull * 2048 * 1024) + 2048ull * 50304},
        /* ... the shared expert's sigmoid gate, 2048 x 1; the head in 3 parts of at most 65536
         * columns */
        {"models/qwen1.5-moe-a2.7b.yaml", 24 * (4 + 1 + 180 + 3 + 1) + 3,
         24ull * (4ull * 2048 * 2048 + 2048 * 60 + 180ull * 2048 * 1408 + 3ull * 2048 * 5632 +
                  2048) +
             2048ull * 151936},
        /* 61 x MLA (q_a 7168 x 1536, q_b 1536 x 128 x 576 and o 128 x 512 x 7168 each in 2
         * groups of 64 heads, kv_a 7168 x 576) + 3 dense x 3 x 7168 x 18432 + 58 x (7168 x 256 +
         * 257 x 3 x 7168 x 2048) + the head 7168 x 129280 in 2 parts */
        {"models/deepseek-v3.yaml", 61 * 6 + 3 * 3 + 58 * (1 + 3 * 257) + 2,
         61ull * (7168ull * 1536 + 1536ull * 128 * 576 + 7168ull * 576 + 128ull * 512 * 7168) +
             3ull * 3 * 7168 * 18432 + 58ull * (7168 * 256 + 771ull * 7168 * 2048) +
             7168ull * 129280},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        aimc_model *m = NULL;
        aimc_diag d = {{0}};
        CU_ASSERT_EQUAL_FATAL(aimc_model_load(c[i].path, 0, &m, &d), AIMC_OK);
        CU_ASSERT_EQUAL(m->n_matrices, c[i].matrices);
        CU_ASSERT_EQUAL(aimc_model_weight_count(m), c[i].weights);
        aimc_model_free(m);
    }
}

/* Mixtral shape-only with chips auto: the run list stays small (one run per matrix). */
static void test_shape_only_large(void)
{
    aimc_model *m = NULL;
    /* the MoE blocks of models/mixtral-8x7b.yaml (attention and the head left out) */
    CU_ASSERT_EQUAL_FATAL(aimc_model_load_string(
        "version: 1\nmodel: {name: mixtral-ffn, layers: 32, d_model: 4096, routed_experts: 8, "
        "expert_d_ff: 14336, top_k: 2}\n", "mixtral-ffn.yaml", 0, &m, NULL), AIMC_OK);
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.hierarchy.chips_auto = 1;
    aimc_plan *p = NULL;
    aimc_map_opts o = {NULL, NULL, 0, 1};
    CU_ASSERT_EQUAL_FATAL(aimc_map_plan_ex(&a, m, &o, &p, NULL), AIMC_OK);
    CU_ASSERT_PTR_NULL(p->tiles);
    /* router 4096x8: 32 row blocks x 1 x 4 slices of 16 columns, 8 per crossbar: 16
     * crossbars per layer; expert matrices 4096x14336 and 14336x4096: 32x224x4 and
     * 112x64x4 full-width tiles: 28672 each. */
    uint64_t per_layer = 16 + 8 * 3ull * 28672;
    CU_ASSERT_EQUAL(p->n_tiles, 32 * (128 + 8 * 3 * 28672));
    CU_ASSERT_EQUAL((uint64_t)p->xbars_used, 32 * per_layer);
    CU_ASSERT_EQUAL(p->chips, (int)((32 * per_layer + 1023) / 1024));
    CU_ASSERT(p->n_runs <= m->n_matrices + 64);
    aimc_plan_free(p);
    aimc_model_free(m);
}

int test_mapper_register(void)
{
    AIMC_SUITE("mapper", {"every strategy keeps the invariants", test_strategies_invariants},
               {"pack is the default placement", test_pack_is_default},
               {"locality keeps an expert on the fewest cores", test_locality_cores},
               {"tier conflicts equal hand-computed values", test_tier_conflicts_hand},
               {"replicate copies the hottest experts into spare crossbars", test_replicate},
               {"fault-aware placement skips faulty crossbars", test_fault_aware},
               {"chips auto plans on as many chips as needed", test_chips_auto},
               {"summary hops and loads equal hand-computed values", test_summary_hops},
               {"Zipf routing statistics", test_routing_zipf},
               {"routing statistics files", test_routing_file},
               {"plan files load back to the same plan", test_plan_roundtrip},
               {"malformed plan files give their exact messages", test_plan_bad_files},
               {"plans on faulty crossbars are refused", test_plan_faults},
               {"plan rules on a hand-made plan with two tiers", test_plan_rules_hand},
               {"the plan validator agrees with a tile-by-tile recount", test_plan_validate_oracle},
               {"safetensors weights, sharded", test_safetensors_model},
               {"safetensors fuzz", test_safetensors_fuzz},
               {"public model files", test_public_models},
               {"shape-only mapping of Mixtral on auto chips", test_shape_only_large});
    return 0;
}
