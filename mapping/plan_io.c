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

int aimc_plan_load(const char *path, const aimc_arch *arch, const aimc_model *model,
                   int shape_only, aimc_plan **out, aimc_diag *d)
{
    if (!out) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_plan_load: out is NULL");
    *out = NULL;
    if (!path || !arch || !model)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_plan_load: NULL argument");
    size_t len;
    char *text = aimc_map_read_file(path, &len);
    if (!text) return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    aimc_plan *p = NULL;
    unsigned char *seen = NULL;
    int rc;
    double v;
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
    p = calloc(1, sizeof *p);
    if (!p) goto nomem;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "strategy");
    p->strategy = AIMC_STRATEGY_PACK;
    for (int i = 0; i < 5; i++)
        if (cJSON_IsString(st) && strcmp(st->valuestring, strategy_names[i]) == 0)
            p->strategy = (aimc_map_strategy)i;
    double chips, used, span, skipped;
    if (get_uint(root, "chips", 1 << 30, &chips) || chips < 1 ||
        get_uint(root, "crossbars_used", 4294967296.0, &used) ||
        get_uint(root, "crossbars_span", 4294967296.0, &span) ||
        get_uint(root, "crossbars_skipped", 4294967296.0, &skipped)) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                           "%s: chips, crossbars_used, crossbars_span, crossbars_skipped: "
                           "expected integers",
                           path);
        goto out;
    }
    if (!arch->hierarchy.chips_auto && (int)chips != arch->hierarchy.chips) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: chips: the plan has %d, the machine %d", path,
                           (int)chips, arch->hierarchy.chips);
        goto out;
    }
    const cJSON *runs = cJSON_GetObjectItemCaseSensitive(root, "runs");
    if (!cJSON_IsArray(runs)) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: runs: expected an array", path);
        goto out;
    }
    const uint64_t per_chip = (uint64_t)arch->hierarchy.crossbars_per_core *
                              (uint64_t)arch->hierarchy.cores_per_chip * (uint64_t)arch->hierarchy.tiers;
    const uint64_t cap = (uint64_t)chips * per_chip;
    const uint32_t cols = (uint32_t)arch->crossbar.cols, P = (uint32_t)aimc_arch_cols_per_weight(arch);
    size_t n = (size_t)cJSON_GetArraySize(runs);
    p->runs = calloc(n ? n : 1, sizeof *p->runs);
    if (!p->runs) goto nomem;
    size_t k = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, runs)
    {
        uint32_t f[8];
        if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != 8) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: runs[%zu]: expected 8 integers", path, k);
            goto out;
        }
        for (int q = 0; q < 8; q++) {
            const cJSON *e = cJSON_GetArrayItem(it, q);
            if (!cJSON_IsNumber(e) || !(e->valuedouble >= 0) || e->valuedouble > 4294967295.0 ||
                floor(e->valuedouble) != e->valuedouble) {
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: runs[%zu][%d]: expected an integer "
                                   "in 0..4294967295", path, k, q);
                goto out;
            }
            f[q] = (uint32_t)e->valuedouble;
        }
        aimc_run *r = &p->runs[k];
        r->matrix = f[0], r->tile0 = f[1], r->n = f[2], r->width = f[3];
        r->xbar0 = f[4], r->col0 = f[5], r->stride = f[6], r->replica = f[7];
        /* The run must describe real tiles of its matrix, of their width, inside the machine. */
        const char *why = NULL;
        if (r->matrix >= model->n_matrices) why = "matrix out of range";
        else if (r->n == 0 || r->stride == 0 || r->width == 0 || r->width > cols ||
                 r->col0 + r->width > cols || r->replica > 65535)
            why = "n, stride, width, col0 or replica out of range";
        else {
            uint32_t rb, cb, S;
            aimc_map_blocks(arch, &model->m[r->matrix], &rb, &cb, &S);
            uint64_t nt = (uint64_t)rb * cb * S;
            if ((uint64_t)r->tile0 + r->n > nt) why = "tiles beyond the matrix";
            else {
                for (uint32_t j = 0; j < r->n && !why; j++) {
                    aimc_tile t;
                    aimc_run_tile(arch, model, r, j, &t);
                    if (t.ncols * P != r->width) why = "a tile's width differs from the run's";
                }
                uint64_t kk = cols / r->width, ff = (cols - r->col0) / r->width;
                uint64_t last = r->n <= ff ? r->xbar0
                                           : r->xbar0 + (uint64_t)r->stride * (1 + (r->n - ff - 1) / kk);
                if (last >= cap) why = "a crossbar beyond the machine";
            }
        }
        if (why) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: runs[%zu]: %s", path, k, why);
            goto out;
        }
        k++;
    }
    p->n_runs = k;
    p->chips = (int)chips;
    p->xbars_total = (long)cap;
    p->xbars_used = (long)used;
    p->xbars_span = (uint64_t)span;
    p->xbars_skipped = (uint64_t)skipped;
    p->cells_total = cap * (uint64_t)arch->crossbar.rows * cols;
    {
        aimc_arch a2 = *arch;
        a2.mapping.strategy = p->strategy;
        aimc_map_strategy keep = p->strategy;
        if ((rc = aimc_map_finish_plan(&a2, model, p, shape_only, d))) goto out;
        p->strategy = keep;
    }
    /* Every (matrix, tile) exactly once per replica it has. */
    for (size_t i = 0, r0 = 0; i < p->n_runs; i++) {
        const aimc_run *r = &p->runs[i];
        if (i == 0 || r->matrix != p->runs[r0].matrix || r->replica != p->runs[r0].replica) {
            uint32_t expect = 0;
            for (size_t q = i; q < p->n_runs && p->runs[q].matrix == r->matrix &&
                               p->runs[q].replica == r->replica;
                 q++) {
                if (p->runs[q].tile0 != expect) {
                    rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                                       "%s: matrix %u replica %u: tiles not covered exactly once",
                                       path, r->matrix, r->replica);
                    goto out;
                }
                expect += p->runs[q].n;
            }
            if (expect != p->count[r->matrix]) {
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                                   "%s: matrix %u replica %u: %u of %zu tiles placed", path,
                                   r->matrix, r->replica, expect, p->count[r->matrix]);
                goto out;
            }
            r0 = i;
        }
    }
    for (size_t i = 0; i < model->n_matrices; i++)
        if (p->replicas[i] == 0) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: matrix %zu (%s) has no tiles", path, i,
                               model->m[i].name);
            goto out;
        }
    *out = p;
    p = NULL;
    rc = AIMC_OK;
    goto out;
nomem:
    rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
out:
    free(seen);
    aimc_plan_free(p);
    cJSON_Delete(root);
    return rc;
}
