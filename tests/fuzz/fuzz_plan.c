/* fuzz_plan.c - libFuzzer target: plan files (aimc_plan_load and aimc_plan_validate,
 * mapping/plan_io.c and plan_check.c), then what reads a loaded plan: the summary
 * (mapping/estimate.c) and the SVG picture.
 *
 * The input is a plan file for models/digits-moe.yaml, read on two machines: the default
 * one (1 chip, tiles kept) and one of 2 tiers with chips: auto (shape-only). A plan that
 * loads must pass the validator again, summarise, and survive a save and load unchanged;
 * a plan that does not load must say why, starting with the file name.
 */
#include "aimc_map.h"
#include "fuzz_util.h"

#define FUZZ_SPAN_MAX (1u << 16)

static aimc_model *model;
static aimc_arch arch[2];
static const char *in_path, *out_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    aimc_diag d = {{0}};
    if (aimc_model_load("models/digits-moe.yaml", 0, &model, &d)) {
        fprintf(stderr, "fuzz_plan: %s (run from the repository root)\n", d.msg);
        exit(1);
    }
    aimc_arch_defaults(&arch[0]);
    aimc_arch_defaults(&arch[1]);
    arch[1].hierarchy.tiers = 2;
    arch[1].hierarchy.chips_auto = 1;
    arch[1].mapping.strategy = AIMC_STRATEGY_TIERED;
    in_path = fuzz_temp_path(".json");
    out_path = fuzz_temp_path("-out.json");
    return 0;
}

static void check_loaded(const aimc_arch *a, aimc_plan *p, int shape_only)
{
    aimc_diag d = {{0}};
    int rc = aimc_plan_validate(a, model, p, NULL, 0, "loaded", &d);
    if (rc) {
        fprintf(stderr, "fuzz: a loaded plan fails validation: %s\n", d.msg);
        abort();
    }
    /* The summary holds a load per core of the span: up to 2^32 crossbars on chips: auto
     * is a valid plan but half a gigabyte; the fuzzer keeps to spans of a few chips. */
    aimc_map_summary s;
    if (p->xbars_span <= FUZZ_SPAN_MAX && (rc = aimc_map_summarise(a, model, p, NULL, &s, &d))) {
        fprintf(stderr, "fuzz: a loaded plan does not summarise: %s\n", d.msg);
        abort();
    }
    if (p->xbars_span <= FUZZ_SPAN_MAX && (rc = aimc_plan_svg(p, a, model, "/dev/null", &d)))
        fuzz_check_error(rc, &d, NULL);
    if ((rc = aimc_plan_save(p, a, model, out_path, &d))) {
        fprintf(stderr, "fuzz: a loaded plan cannot be saved: %s\n", d.msg);
        abort();
    }
    aimc_plan *q = NULL;
    aimc_map_opts o = {NULL, NULL, 0, shape_only};
    if ((rc = aimc_plan_load(out_path, a, model, &o, &q, &d))) {
        fprintf(stderr, "fuzz: a saved plan does not load back: %s\n", d.msg);
        abort();
    }
    if (q->n_runs != p->n_runs || memcmp(q->runs, p->runs, p->n_runs * sizeof *p->runs) != 0 ||
        q->xbars_used != p->xbars_used || q->xbars_span != p->xbars_span ||
        q->chips != p->chips || q->n_tiles_all != p->n_tiles_all ||
        (p->tiles && memcmp(q->tiles, p->tiles, p->n_tiles * sizeof *p->tiles) != 0)) {
        fprintf(stderr, "fuzz: a plan saved and loaded back differs\n");
        abort();
    }
    aimc_plan_free(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write(in_path, data, size);
    for (int k = 0; k < 2; k++) {
        aimc_plan *p = NULL;
        aimc_diag d = {{0}};
        aimc_map_opts o = {NULL, NULL, 0, k};
        int rc = aimc_plan_load(in_path, &arch[k], model, &o, &p, &d);
        if (rc) {
            fuzz_check_error(rc, &d, in_path);
            if (p) abort();
            continue;
        }
        check_loaded(&arch[k], p, k);
        aimc_plan_free(p);
    }
    return 0;
}
