/* plan_io.c - plan files: the compact plan (runs) as JSON through cJSON, and back
 * (schema in docs/mapping.md, "Plan files").
 */
#include "map_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_FORMAT 1

static const char *const strategy_names[] = {"pack", "locality", "balance", "replicate", "tiered"};

int aimc_plan_save(const aimc_plan *plan, const aimc_arch *arch, const aimc_model *model,
                   const char *path, aimc_diag *d)
{
    if (!plan || !arch || !model || !path)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_plan_save: NULL argument");
    FILE *f = fopen(path, "w");
    if (!f) return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    /* Written directly: a large plan has many runs and cJSON would hold them all twice. */
    char name[2 * sizeof model->name];
    size_t o = 0;
    for (const char *c = model->name; *c && o + 2 < sizeof name; c++) {
        if (*c == '"' || *c == '\\') name[o++] = '\\';
        name[o++] = (unsigned char)*c < 0x20 ? '?' : *c;
    }
    name[o] = '\0';
    fprintf(f,
            "{\n  \"aimc_plan\": %d,\n  \"model\": \"%s\",\n  \"machine\": {\"crossbar_rows\": %d, "
            "\"crossbar_cols\": %d, \"slices\": %d, \"cols_per_weight\": %d, "
            "\"crossbars_per_core\": %d, \"cores_per_chip\": %d, \"tiers\": %d},\n"
            "  \"strategy\": \"%s\",\n  \"chips\": %d,\n  \"matrices\": %zu,\n"
            "  \"crossbars_used\": %ld,\n  \"crossbars_span\": %llu,\n"
            "  \"crossbars_skipped\": %llu,\n"
            "  \"run_fields\": [\"matrix\", \"tile0\", \"n\", \"width\", \"xbar0\", \"col0\", "
            "\"stride\", \"replica\"],\n  \"runs\": [",
            PLAN_FORMAT, name, arch->crossbar.rows, arch->crossbar.cols,
            aimc_arch_slices(arch), aimc_arch_cols_per_weight(arch),
            arch->hierarchy.crossbars_per_core, arch->hierarchy.cores_per_chip, plan->tiers,
            strategy_names[plan->strategy < 5 ? plan->strategy : 0], plan->chips,
            plan->n_matrices, plan->xbars_used, (unsigned long long)plan->xbars_span,
            (unsigned long long)plan->xbars_skipped);
    for (size_t k = 0; k < plan->n_runs; k++) {
        const aimc_run *r = &plan->runs[k];
        fprintf(f, "%s\n    [%u, %u, %u, %u, %u, %u, %u, %u]", k ? "," : "", r->matrix, r->tile0,
                r->n, r->width, r->xbar0, r->col0, r->stride, r->replica);
    }
    fprintf(f, "\n  ]\n}\n");
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return AIMC_OK;
}

static int get_uint(const cJSON *o, const char *key, double max, double *v)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0) || j->valuedouble > max ||
        floor(j->valuedouble) != j->valuedouble)
        return -1;
    *v = j->valuedouble;
    return 0;
}

static const char *const run_fields[8] = {"matrix", "tile0", "n",      "width",
                                          "xbar0",  "col0",  "stride", "replica"};

/* The plan of the JSON text, runs in file order, statistics as the file states them; the
 * rules are checked afterwards by aimc_plan_validate. */
static int parse_plan(const char *path, const char *text, size_t len, const aimc_arch *arch,
                      const aimc_model *model, aimc_plan *p, aimc_diag *d)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    int rc = AIMC_OK;
    double v;
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= text && at <= text + len ? (long)(at - text) : -1;
        return aimc_diag_set(d, AIMC_ERR_PARSE, "%s: not valid JSON (near byte %ld)", path, off);
    }
    if (!cJSON_IsObject(root)) {
        rc = aimc_diag_set(d, AIMC_ERR_PARSE, "%s: not a JSON object", path);
        goto out;
    }
    if (get_uint(root, "aimc_plan", 1e9, &v) || v != PLAN_FORMAT) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: aimc_plan: expected format %d", path,
                           PLAN_FORMAT);
        goto out;
    }
    const cJSON *mn = cJSON_GetObjectItemCaseSensitive(root, "model");
    if (!cJSON_IsString(mn) || strcmp(mn->valuestring, model->name) != 0) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: model: the plan is not for model %s", path,
                           model->name);
        goto out;
    }
    const cJSON *mach = cJSON_GetObjectItemCaseSensitive(root, "machine");
    struct {
        const char *key;
        int want;
    } chk[] = {{"crossbar_rows", arch->crossbar.rows},
               {"crossbar_cols", arch->crossbar.cols},
               {"slices", aimc_arch_slices(arch)},
               {"cols_per_weight", aimc_arch_cols_per_weight(arch)},
               {"crossbars_per_core", arch->hierarchy.crossbars_per_core},
               {"cores_per_chip", arch->hierarchy.cores_per_chip},
               {"tiers", arch->hierarchy.tiers}};
    for (size_t i = 0; i < sizeof chk / sizeof chk[0]; i++)
        if (get_uint(mach, chk[i].key, 1e9, &v) || (int)v != chk[i].want) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                               "%s: machine.%s: the plan was made for another machine "
                               "(this one has %d)",
                               path, chk[i].key, chk[i].want);
            goto out;
        }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "strategy");
    int strat = -1;
    for (int i = 0; i < 5; i++)
        if (cJSON_IsString(st) && strcmp(st->valuestring, strategy_names[i]) == 0) strat = i;
    if (strat < 0) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                           "%s: strategy: expected pack, locality, balance, replicate or tiered",
                           path);
        goto out;
    }
    p->strategy = (aimc_map_strategy)strat;
    if (get_uint(root, "matrices", 1e12, &v) || v != (double)model->n_matrices) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: matrices: expected %zu (the matrices of "
                           "model %s)", path, model->n_matrices, model->name);
        goto out;
    }
    double chips, used, span, skipped;
    if (get_uint(root, "chips", 1 << 30, &chips) || chips < 1) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: chips: expected an integer in 1..%d", path,
                           1 << 30);
        goto out;
    }
    static const char *const stat_keys[] = {"crossbars_used", "crossbars_span",
                                            "crossbars_skipped"};
    double *stat[] = {&used, &span, &skipped};
    for (int i = 0; i < 3; i++)
        if (get_uint(root, stat_keys[i], 4294967296.0, stat[i])) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: %s: expected an integer in 0..4294967296",
                               path, stat_keys[i]);
            goto out;
        }
    const cJSON *rf = cJSON_GetObjectItemCaseSensitive(root, "run_fields");
    int rf_ok = cJSON_IsArray(rf) && cJSON_GetArraySize(rf) == 8;
    for (int q = 0; rf_ok && q < 8; q++) {
        const cJSON *e = cJSON_GetArrayItem(rf, q);
        rf_ok = cJSON_IsString(e) && strcmp(e->valuestring, run_fields[q]) == 0;
    }
    if (!rf_ok) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                           "%s: run_fields: expected [\"matrix\", \"tile0\", \"n\", \"width\", "
                           "\"xbar0\", \"col0\", \"stride\", \"replica\"]",
                           path);
        goto out;
    }
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(root, "runs");
    if (!cJSON_IsArray(runs)) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: runs: expected an array", path);
        goto out;
    }
    size_t n = (size_t)cJSON_GetArraySize(runs);
    p->runs = calloc(n ? n : 1, sizeof *p->runs);
    if (!p->runs) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, runs)
    {
        uint32_t f[8];
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 8) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: runs[%zu]: expected 8 integers", path, k);
            goto out;
        }
        int q = 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, it)
        {
            if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0) || e->valuedouble > 4294967295.0 ||
                floor(e->valuedouble) != e->valuedouble) {
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: runs[%zu][%d] (%s): expected an "
                                   "integer in 0..4294967295", path, k, q, run_fields[q]);
                goto out;
            }
            f[q++] = (uint32_t)e->valuedouble;
        }
        aimc_run *r = &p->runs[k++];
        r->matrix = f[0], r->tile0 = f[1], r->n = f[2], r->width = f[3];
        r->xbar0 = f[4], r->col0 = f[5], r->stride = f[6], r->replica = f[7];
    }
    p->n_runs = k;
    p->chips = (int)chips;
    p->xbars_used = (long)used;
    p->xbars_span = (uint64_t)span;
    p->xbars_skipped = (uint64_t)skipped;
out:
    cJSON_Delete(root);
    return rc;
}

int aimc_plan_load(const char *path, const aimc_arch *arch, const aimc_model *model,
                   const aimc_map_opts *opts, aimc_plan **out, aimc_diag *d)
{
    if (!out) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_plan_load: out is NULL");
    *out = NULL;
    if (!path || !arch || !model)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_plan_load: NULL argument");
    aimc_map_opts none = {0};
    if (!opts) opts = &none;
    size_t len;
    char *text = NULL;
    int rc = aimc_map_read_file(path, &text, &len, d);
    if (rc) return rc;
    aimc_plan *p = calloc(1, sizeof *p);
    if (!p) {
        free(text);
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
    }
    rc = parse_plan(path, text, len, arch, model, p, d);
    free(text);
    if (!rc)
        rc = aimc_plan_validate(arch, model, p, opts->fault_fraction, opts->n_fault, path, d);
    if (!rc) {
        aimc_arch a2 = *arch;
        a2.mapping.strategy = p->strategy;
        rc = aimc_map_finish_plan(&a2, model, p, opts->shape_only, d);
    }
    if (rc) {
        aimc_plan_free(p);
        return rc;
    }
    const uint64_t per_chip = (uint64_t)arch->hierarchy.crossbars_per_core *
                              (uint64_t)arch->hierarchy.cores_per_chip *
                              (uint64_t)arch->hierarchy.tiers;
    p->xbars_total = (long)((uint64_t)p->chips * per_chip);
    p->cells_total = (uint64_t)p->xbars_total * (uint64_t)arch->crossbar.rows *
                     (uint64_t)arch->crossbar.cols;
    *out = p;
    return AIMC_OK;
}
