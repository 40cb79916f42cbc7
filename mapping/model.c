/* model.c - MoE model files: load a model file (models/, docs/models.md), expand its shape
 * into the ordered list of weight matrices and generate their deterministic random weights.
 */
#include "aimc_map.h"

#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_yaml.h"
#include "rng.h"

#define MODEL_VERSION 1

/* Ranges of the model keys (docs/models.md). */
#define MODEL_LAYERS_MAX 1024L
#define MODEL_D_MODEL_MAX 65536L
#define MODEL_EXPERTS_MAX 4096L
#define MODEL_SHARED_MAX 4096L
#define MODEL_D_FF_MAX 1048576L

/* The stream key of matrix i: a function of (seed, i) only (common/rng.h). */
static uint64_t weight_key(uint64_t seed, uint64_t i)
{
    return aimc_rng_key(seed, AIMC_RNG_DOMAIN_WEIGHTS, i, 0);
}

/* Element k of a matrix with stream key `key` and fan-in rows: a standard normal (draw k of
 * the key's Box-Muller pairs) or uniform, scaled to the fan-in. */
static float weight_value(uint64_t key, uint64_t k, aimc_dist dist, uint32_t rows)
{
    if (dist == AIMC_DIST_UNIFORM) {
        double a = sqrt(3.0 / rows);
        return (float)(a * (2.0 * aimc_rng_uniform(key, k) - 1.0));
    }
    return (float)(aimc_rng_normal(key, k) / sqrt((double)rows));
}

/* Frees the matrices, their weights and the model; NULL is a no-op. */
void aimc_model_free(aimc_model *m)
{
    if (!m) return;
    if (m->m)
        for (size_t i = 0; i < m->n_matrices; i++) free(m->m[i].w);
    free(m->m);
    free(m);
}

/* Index of matrix (layer, kind, expert): routers take expert -1, shared expert s is
 * n_experts + s. -1 when m is NULL or there is no such matrix. */
long aimc_model_find(const aimc_model *m, int layer, aimc_mat_kind kind, int expert)
{
    if (!m || !m->m || layer < 0 || layer >= m->layers || (int)kind < (int)AIMC_MAT_ROUTER)
        return -1;
    if (kind == AIMC_MAT_ROUTER ? expert != -1
                                : (expert < 0 || expert >= m->n_experts + m->n_shared ||
                                   kind > AIMC_MAT_DOWN))
        return -1;
    /* Loaded models follow the documented order: compute the index and confirm it. */
    size_t per_layer = 1 + 3 * (size_t)m->n_experts + 3 * (size_t)m->n_shared;
    size_t idx = (size_t)layer * per_layer;
    if (kind != AIMC_MAT_ROUTER) idx += 1 + 3 * (size_t)expert + (size_t)(kind - AIMC_MAT_GATE);
    if (idx < m->n_matrices && m->m[idx].layer == layer && m->m[idx].kind == kind &&
        m->m[idx].expert == expert)
        return (long)idx;
    /* A hand-built model in another order: search. */
    for (size_t i = 0; i < m->n_matrices; i++)
        if (m->m[i].layer == layer && m->m[i].kind == kind && m->m[i].expert == expert)
            return (long)i;
    return -1;
}

long aimc_model_head(const aimc_model *m)
{
    if (!m || !m->m || m->n_classes <= 0 || m->n_matrices == 0) return -1;
    size_t i = m->n_matrices - 1;
    return m->m[i].kind == AIMC_MAT_HEAD ? (long)i : -1;
}

/* Sum of rows * cols over all matrices (0 for NULL); counts weights also when w is NULL. */
uint64_t aimc_model_weight_count(const aimc_model *m)
{
    uint64_t n = 0;
    if (!m || !m->m) return 0;
    for (size_t i = 0; i < m->n_matrices; i++) n += (uint64_t)m->m[i].rows * m->m[i].cols;
    return n;
}

static void set_matrix(aimc_matrix *mx, int layer, aimc_mat_kind kind, int expert,
                       uint32_t rows, uint32_t cols, const char *what, int what_index)
{
    static const char *const kind_names[] = {"router", "gate", "up", "down", "head"};
    if (kind == AIMC_MAT_HEAD)
        snprintf(mx->name, sizeof mx->name, "head");
    else if (kind == AIMC_MAT_ROUTER)
        snprintf(mx->name, sizeof mx->name, "layer%d.router", layer);
    else
        snprintf(mx->name, sizeof mx->name, "layer%d.%s%d.%s", layer, what, what_index,
                 kind_names[kind]);
    mx->kind = kind;
    mx->layer = layer;
    mx->expert = expert;
    mx->rows = rows;
    mx->cols = cols;
    mx->w = NULL;
}

/* Expand the shape held in m into m->m (and the weights when with_weights). */
static int model_expand(aimc_model *m, int with_weights, const char *file, aimc_diag *d)
{
    size_t per_layer = 1 + 3 * (size_t)m->n_experts + 3 * (size_t)m->n_shared;
    m->n_matrices = (size_t)(m->layers - m->dense_layers) * per_layer + 3 * (size_t)m->dense_layers +
                    (m->n_classes > 0);
    m->m = calloc(m->n_matrices, sizeof *m->m);
    if (!m->m) goto out_nomem;
    size_t i = 0;
    for (int l = 0; l < m->layers; l++) {
        uint32_t dm = (uint32_t)m->d_model;
        if (l < m->dense_layers) {
            uint32_t ff = (uint32_t)m->dense_d_ff;
            set_matrix(&m->m[i++], l, AIMC_MAT_GATE, AIMC_EXPERT_DENSE, dm, ff, "dense", 0);
            set_matrix(&m->m[i++], l, AIMC_MAT_UP, AIMC_EXPERT_DENSE, dm, ff, "dense", 0);
            set_matrix(&m->m[i++], l, AIMC_MAT_DOWN, AIMC_EXPERT_DENSE, ff, dm, "dense", 0);
            continue;
        }
        set_matrix(&m->m[i++], l, AIMC_MAT_ROUTER, -1, dm, (uint32_t)m->n_experts, "", 0);
        for (int e = 0; e < m->n_experts + m->n_shared; e++) {
            int shared = e >= m->n_experts;
            uint32_t ff = (uint32_t)(shared ? m->shared_d_ff : m->d_ff);
            const char *what = shared ? "shared" : "expert";
            int wi = shared ? e - m->n_experts : e;
            set_matrix(&m->m[i++], l, AIMC_MAT_GATE, e, dm, ff, what, wi);
            set_matrix(&m->m[i++], l, AIMC_MAT_UP, e, dm, ff, what, wi);
            set_matrix(&m->m[i++], l, AIMC_MAT_DOWN, e, ff, dm, what, wi);
        }
    }
    if (m->n_classes > 0)
        set_matrix(&m->m[i++], m->layers - 1, AIMC_MAT_HEAD, AIMC_EXPERT_HEAD,
                   (uint32_t)m->d_model, (uint32_t)m->n_classes, "", 0);
    if (!with_weights || m->weights.source != AIMC_WSRC_RANDOM) return AIMC_OK;
    for (i = 0; i < m->n_matrices; i++) {
        aimc_matrix *mx = &m->m[i];
        uint64_t n = (uint64_t)mx->rows * mx->cols;
        if (n > SIZE_MAX / sizeof *mx->w) goto out_nomem;
        mx->w = malloc((size_t)n * sizeof *mx->w);
        if (!mx->w) goto out_nomem;
        uint64_t key = weight_key(m->weights.seed, i);
        for (uint64_t k = 0; k < n; k++)
            mx->w[k] = weight_value(key, k, m->weights.distribution, mx->rows);
    }
    return AIMC_OK;

out_nomem:
    return aimc_diag_set(d, AIMC_ERR_NOMEM,
                         "%s: out of memory for model %s (%zu matrices, %llu weights)", file,
                         m->name, m->n_matrices,
                         (unsigned long long)aimc_model_weight_count(m));
}

/* A required key of map: "file: missing required key PATH". */
static int get_required(const aimc_ydoc *doc, const aimc_ynode *map, const char *key,
                        const char *path, const aimc_ynode **out, aimc_diag *d)
{
    *out = aimc_ymap_get(map, key);
    if (!*out)
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: missing required key %s", doc->name,
                             path);
    return AIMC_OK;
}

static int get_int(const aimc_ydoc *doc, const aimc_ynode *map, const char *key,
                   const char *path, long lo, long hi, long *out, aimc_diag *d)
{
    const aimc_ynode *n;
    int rc = get_required(doc, map, key, path, &n, d);
    if (rc) return rc;
    return aimc_ynode_int(doc, n, path, lo, hi, out, d);
}

static int parse_model_section(const aimc_ydoc *doc, const aimc_ynode *sec, aimc_model *m,
                               aimc_diag *d)
{
    static const char *const keys[] = {"name",         "layers", "d_model",
                                       "routed_experts", "expert_d_ff", "top_k",
                                       "shared_experts", "shared_d_ff", "ffn",
                                       "dense_layers", "dense_d_ff", "classes"};
    static const char *const ffn_names[] = {"swiglu"};
    const aimc_ynode *n;
    long v;
    int rc;

    if ((rc = aimc_ynode_expect_map(doc, sec, "model", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, sec, "model", keys, sizeof keys / sizeof keys[0], d)))
        return rc;
    if ((rc = get_required(doc, sec, "name", "model.name", &n, d))) return rc;
    if ((rc = aimc_ynode_str(doc, n, "model.name", m->name, sizeof m->name, d))) return rc;
    if ((rc = get_int(doc, sec, "layers", "model.layers", 1, MODEL_LAYERS_MAX, &v, d)))
        return rc;
    m->layers = (int)v;
    if ((rc = get_int(doc, sec, "d_model", "model.d_model", 1, MODEL_D_MODEL_MAX, &v, d)))
        return rc;
    m->d_model = (int)v;
    if ((rc = get_int(doc, sec, "routed_experts", "model.routed_experts", 1, MODEL_EXPERTS_MAX,
                      &v, d)))
        return rc;
    m->n_experts = (int)v;
    if ((rc = get_int(doc, sec, "expert_d_ff", "model.expert_d_ff", 1, MODEL_D_FF_MAX, &v, d)))
        return rc;
    m->d_ff = (int)v;
    /* top_k may not exceed routed_experts: the range says so. */
    if ((rc = get_int(doc, sec, "top_k", "model.top_k", 1, m->n_experts, &v, d))) return rc;
    m->top_k = (int)v;
    m->n_shared = 0;
    if ((n = aimc_ymap_get(sec, "shared_experts"))) {
        if ((rc = aimc_ynode_int(doc, n, "model.shared_experts", 0, MODEL_SHARED_MAX, &v, d)))
            return rc;
        m->n_shared = (int)v;
    }
    m->shared_d_ff = 0;
    n = aimc_ymap_get(sec, "shared_d_ff");
    if (!n && m->n_shared > 0)
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "%s: missing required key model.shared_d_ff "
                             "(model.shared_experts is %d)",
                             doc->name, m->n_shared);
    if (n) {
        if ((rc = aimc_ynode_int(doc, n, "model.shared_d_ff", 1, MODEL_D_FF_MAX, &v, d)))
            return rc;
        m->shared_d_ff = (int)v;
    }
    m->dense_layers = 0;
    m->dense_d_ff = 0;
    if ((n = aimc_ymap_get(sec, "dense_layers"))) {
        if ((rc = aimc_ynode_int(doc, n, "model.dense_layers", 0, m->layers - 1, &v, d)))
            return rc;
        m->dense_layers = (int)v;
    }
    n = aimc_ymap_get(sec, "dense_d_ff");
    if (!n && m->dense_layers > 0)
        return aimc_diag_set(d, AIMC_ERR_CONFIG,
                             "%s: missing required key model.dense_d_ff "
                             "(model.dense_layers is %d)",
                             doc->name, m->dense_layers);
    if (n) {
        if ((rc = aimc_ynode_int(doc, n, "model.dense_d_ff", 1, MODEL_D_FF_MAX, &v, d)))
            return rc;
        m->dense_d_ff = (int)v;
    }
    m->n_classes = 0;
    if ((n = aimc_ymap_get(sec, "classes"))) {
        if ((rc = aimc_ynode_int(doc, n, "model.classes", 2, MODEL_D_MODEL_MAX, &v, d)))
            return rc;
        m->n_classes = (int)v;
    }
    if ((n = aimc_ymap_get(sec, "ffn"))) {
        int kind;
        if ((rc = aimc_ynode_enum(doc, n, "model.ffn", ffn_names, 1, &kind, d))) return rc;
    }
    return AIMC_OK;
}

/* A path of a model file, relative to the file's directory unless absolute, into out;
 * non-zero when it does not fit. */
static int resolve_path(const char *file, const char *path, char *out, size_t cap)
{
    const char *slash = file ? strrchr(file, '/') : NULL;
    int w = path[0] != '/' && slash
                ? snprintf(out, cap, "%.*s/%s", (int)(slash - file), file, path)
                : snprintf(out, cap, "%s", path);
    return w < 0 || (size_t)w >= cap;
}

/* weights.safetensors: {path, transpose, names: {router, gate, up, down, shared_gate,
 * shared_up, shared_down, dense_gate, dense_up, dense_down}} (docs/models.md). */
static int parse_safetensors_section(const aimc_ydoc *doc, const aimc_ynode *sec, aimc_model *m,
                                     aimc_diag *d)
{
    static const char *const keys[] = {"path", "transpose", "names"};
    static const char *const nkeys[] = {"router",      "gate",      "up",        "down",
                                        "shared_gate", "shared_up", "shared_down",
                                        "dense_gate",  "dense_up",  "dense_down",
                                        "head"};
    static const char *const bools[] = {"false", "true"};
    const aimc_ynode *n, *names;
    char path[512];
    int rc;
    if ((rc = aimc_ynode_expect_map(doc, sec, "weights.safetensors", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, sec, "weights.safetensors", keys, 3, d))) return rc;
    if ((rc = get_required(doc, sec, "path", "weights.safetensors.path", &n, d))) return rc;
    if ((rc = aimc_ynode_str(doc, n, "weights.safetensors.path", path, sizeof path, d)))
        return rc;
    if (resolve_path(doc->name, path, m->weights.path, sizeof m->weights.path))
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: weights.safetensors.path: longer than %zu "
                             "bytes with the model file's directory", doc->name,
                             sizeof m->weights.path - 1);
    m->weights.transpose = 1;
    if ((n = aimc_ymap_get(sec, "transpose"))) {
        int b;
        if ((rc = aimc_ynode_enum(doc, n, "weights.safetensors.transpose", bools, 2, &b, d)))
            return rc;
        m->weights.transpose = b;
    }
    if ((rc = get_required(doc, sec, "names", "weights.safetensors.names", &names, d)))
        return rc;
    if ((rc = aimc_ynode_expect_map(doc, names, "weights.safetensors.names", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, names, "weights.safetensors.names", nkeys, 11, d)))
        return rc;
    for (int k = 0; k < 11; k++) {
        char *dst = k < 4    ? m->weights.names[k]
                    : k < 7  ? m->weights.shared_names[k - 4]
                    : k < 10 ? m->weights.dense_names[k - 7]
                             : m->weights.head_name;
        char key[64];
        snprintf(key, sizeof key, "weights.safetensors.names.%s", nkeys[k]);
        dst[0] = '\0';
        if ((n = aimc_ymap_get(names, nkeys[k])) &&
            (rc = aimc_ynode_str(doc, n, key, dst, sizeof m->weights.names[0], d)))
            return rc;
    }
    m->weights.source = AIMC_WSRC_SAFETENSORS;
    return AIMC_OK;
}

static int parse_weights_section(const aimc_ydoc *doc, const aimc_ynode *sec, aimc_model *m,
                                 aimc_diag *d)
{
    static const char *const keys[] = {"random", "safetensors"};
    static const char *const rkeys[] = {"seed", "distribution"};
    static const char *const dist_names[] = {"normal", "uniform"};
    const aimc_ynode *rnd, *n;
    long v;
    int rc;

    if ((rc = aimc_ynode_expect_map(doc, sec, "weights", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, sec, "weights", keys, 2, d))) return rc;
    if ((n = aimc_ymap_get(sec, "safetensors"))) {
        if (aimc_ymap_get(sec, "random"))
            return aimc_diag_set(d, AIMC_ERR_CONFIG,
                                 "%s: weights: give random or safetensors, not both", doc->name);
        return parse_safetensors_section(doc, n, m, d);
    }
    if ((rc = get_required(doc, sec, "random", "weights.random", &rnd, d))) return rc;
    if ((rc = aimc_ynode_expect_map(doc, rnd, "weights.random", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, rnd, "weights.random", rkeys, 2, d))) return rc;
    if ((rc = get_int(doc, rnd, "seed", "weights.random.seed", 0, LONG_MAX, &v, d)))
        return rc;
    m->weights.seed = (uint64_t)v;
    m->weights.distribution = AIMC_DIST_NORMAL;
    if ((n = aimc_ymap_get(rnd, "distribution"))) {
        int dist;
        if ((rc = aimc_ynode_enum(doc, n, "weights.random.distribution", dist_names, 2, &dist,
                                  d)))
            return rc;
        m->weights.distribution = (aimc_dist)dist;
    }
    return AIMC_OK;
}

/* eval: {data, scale, test_every} (docs/models.md): the data set a classifier is scored on. */
static int parse_eval_section(const aimc_ydoc *doc, const aimc_ynode *sec, aimc_model *m,
                              aimc_diag *d)
{
    static const char *const keys[] = {"data", "scale", "test_every"};
    const aimc_ynode *n;
    char path[512];
    long v;
    int rc;
    if ((rc = aimc_ynode_expect_map(doc, sec, "eval", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, sec, "eval", keys, 3, d))) return rc;
    if (m->n_classes == 0)
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: eval: needs model.classes",
                             doc->name, sec->line, sec->col);
    if ((rc = get_required(doc, sec, "data", "eval.data", &n, d))) return rc;
    if ((rc = aimc_ynode_str(doc, n, "eval.data", path, sizeof path, d))) return rc;
    if (resolve_path(doc->name, path, m->eval.data, sizeof m->eval.data))
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: eval.data: longer than %zu bytes with the "
                             "model file's directory", doc->name, sizeof m->eval.data - 1);
    m->eval.scale = 1.0;
    if ((n = aimc_ymap_get(sec, "scale")) &&
        (rc = aimc_ynode_double(doc, n, "eval.scale", 1e-30, 1e30, &m->eval.scale, d)))
        return rc;
    m->eval.test_every = 5;
    if ((n = aimc_ymap_get(sec, "test_every"))) {
        if ((rc = aimc_ynode_int(doc, n, "eval.test_every", 2, 1000000, &v, d))) return rc;
        m->eval.test_every = (int)v;
    }
    return AIMC_OK;
}

/* Build a model from a parsed document; the caller frees doc. */
static int model_from_doc(const aimc_ydoc *doc, int with_weights, aimc_model **out,
                          aimc_diag *d)
{
    static const char *const keys[] = {"version", "model", "weights", "eval"};
    const aimc_ynode *root = doc->root, *n;
    long v;
    int rc;

    if (!root) return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: empty model file", doc->name);
    if ((rc = aimc_ynode_expect_map(doc, root, "", d))) return rc;
    if ((rc = aimc_ymap_check_keys(doc, root, "", keys, sizeof keys / sizeof keys[0], d)))
        return rc;
    if ((rc = get_int(doc, root, "version", "version", MODEL_VERSION, MODEL_VERSION, &v, d)))
        return rc;

    aimc_model *m = calloc(1, sizeof *m);
    if (!m) return aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", doc->name);
    m->weights.seed = 1;
    m->weights.distribution = AIMC_DIST_NORMAL;
    if ((rc = get_required(doc, root, "model", "model", &n, d))) goto out_free;
    if ((rc = parse_model_section(doc, n, m, d))) goto out_free;
    if ((n = aimc_ymap_get(root, "weights")) && (rc = parse_weights_section(doc, n, m, d)))
        goto out_free;
    if ((n = aimc_ymap_get(root, "eval")) && (rc = parse_eval_section(doc, n, m, d)))
        goto out_free;
    if ((rc = model_expand(m, with_weights, doc->name, d))) goto out_free;
    if (with_weights && m->weights.source == AIMC_WSRC_SAFETENSORS &&
        (rc = aimc_model_load_safetensors(m, m->weights.path, d)))
        goto out_free;
    *out = m;
    return AIMC_OK;

out_free:
    aimc_model_free(m);
    return rc;
}

/* Load a model from YAML text; name is the file name used in messages. *out is NULL on
 * failure (AIMC_ERR_PARSE, _CONFIG, _NOMEM, _INVALID); the caller frees *out. */
int aimc_model_load_string(const char *text, const char *name, int with_weights,
                           aimc_model **out, aimc_diag *d)
{
    if (!out) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_model_load_string: out is NULL");
    *out = NULL;
    if (!text) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_model_load_string: text is NULL");
    aimc_ydoc *doc = NULL;
    int rc = aimc_ydoc_load_string(text, strlen(text), name ? name : "<string>", &doc, d);
    if (rc) return rc;
    rc = model_from_doc(doc, with_weights, out, d);
    aimc_ydoc_free(doc);
    return rc;
}

/* Load a model file; as aimc_model_load_string, plus AIMC_ERR_IO for an unreadable file. */
int aimc_model_load(const char *path, int with_weights, aimc_model **out, aimc_diag *d)
{
    if (!out) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_model_load: out is NULL");
    *out = NULL;
    if (!path) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_model_load: path is NULL");
    aimc_ydoc *doc = NULL;
    int rc = aimc_ydoc_load_file(path, &doc, d);
    if (rc) return rc;
    rc = model_from_doc(doc, with_weights, out, d);
    aimc_ydoc_free(doc);
    return rc;
}
