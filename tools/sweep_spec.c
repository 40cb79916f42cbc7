/* sweep_spec.c - sweep specs: parsing (through aimc_yaml.h), checking every varied value
 * against the config key table, and the values of each point (grid, random, Latin
 * hypercube), a pure function of (spec, point index). Format: docs/dse.md. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aimc_config.h"
#include "aimc_yaml.h"
#include "rng.h"
#include "sweep.h"

/* Random draws of the sampler, kept apart from the simulator's domains (common/rng.h). */
#define SWEEP_RNG_DOMAIN_SAMPLE UINT64_C(0x5357450001) /* (point, dim) -> uniform */
#define SWEEP_RNG_DOMAIN_LHS UINT64_C(0x5357450002)    /* (dim, 0) -> strata shuffle */
#define SWEEP_LHS_MAX_POINTS 1000000
#define SWEEP_SPEC_VERSION 1

static const char *const method_names[] = {"grid", "random", "lhs"};

/* ---- small helpers ----------------------------------------------------------------------- */

static int at(aimc_diag *d, const aimc_ydoc *doc, const aimc_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int at(aimc_diag *d, const aimc_ydoc *doc, const aimc_ynode *n, const char *fmt, ...)
{
    char body[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    if (n && n->line > 0)
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%d:%d: %s", doc->name, n->line, n->col,
                             body);
    return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: %s", doc->name, body);
}

static const char *kind_name(const aimc_ynode *n)
{
    if (!n) return "nothing";
    return n->kind == AIMC_YNODE_MAP ? "a mapping"
           : n->kind == AIMC_YNODE_SEQ ? "a sequence"
                                       : "a scalar";
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) h = (h ^ p[i]) * UINT64_C(0x100000001b3);
    return h;
}
#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)

/* Read a whole file into a NUL-terminated buffer. */
static int slurp(const char *path, char **out, size_t *len, aimc_diag *d)
{
    FILE *f = fopen(path, "rb");
    if (!f) return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: is a directory, not a file", path);
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            size_t nc = cap ? 2 * cap : 16384;
            char *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(f);
                return aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + n, 1, 4096, f);
        n += got;
        if (got < 4096) break;
        if (n > AIMC_YAML_MAX_FILE) { /* e.g. /dev/zero */
            free(buf);
            fclose(f);
            return aimc_diag_set(d, AIMC_ERR_IO, "%s: larger than %d MiB", path,
                                 AIMC_YAML_MAX_FILE >> 20);
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: read error", path);
    }
    buf[n] = '\0';
    *out = buf;
    if (len) *len = n;
    return AIMC_OK;
}

/* dir of spec + rel, unless rel is absolute. */
static int resolve(const char *spec_path, const char *rel, char *out, size_t cap)
{
    const char *slash = strrchr(spec_path, '/');
    int n;
    if (rel[0] == '/' || !slash)
        n = snprintf(out, cap, "%s", rel);
    else
        n = snprintf(out, cap, "%.*s/%s", (int)(slash - spec_path), spec_path, rel);
    return n < 0 || (size_t)n >= cap ? -1 : 0;
}

void sweep_format_double(double v, char *buf, size_t cap)
{
    if (!isfinite(v)) {
        snprintf(buf, cap, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return;
    }
    /* no exponent for magnitudes a reader takes in at a glance */
    double a = fabs(v);
    int plain = a == 0 || (a >= 1e-4 && a < 1e15);
    for (int p = 1; p <= 17; p++) {
        snprintf(buf, cap, "%.*g", p, v);
        if (strtod(buf, NULL) == v && (!plain || !strchr(buf, 'e'))) return;
    }
    snprintf(buf, cap, "%.17g", v);
}

/* ---- key types ---------------------------------------------------------------------------- */

typedef enum { KEY_DOUBLE, KEY_INT, KEY_OTHER } key_kind;

/* What a config key takes, asked of the key table itself through aimc_cfg_set: a key that
 * accepts 0.5 is numeric, one that answers "expected an integer" takes integers, any other
 * refusal (enum names) is KEY_OTHER. An unknown key's message comes back in d. */
static int key_probe(const char *key, key_kind *kind, aimc_diag *d)
{
    if (!strcmp(key, SWEEP_SEED_KEY)) {
        *kind = KEY_INT;
        return AIMC_OK;
    }
    aimc_arch a;
    aimc_arch_defaults(&a);
    char as[200];
    snprintf(as, sizeof as, "%s=0.5", key);
    aimc_diag pd = {{0}};
    if (aimc_cfg_set(&a, as, &pd) == AIMC_OK) {
        *kind = KEY_DOUBLE;
        return AIMC_OK;
    }
    if (strstr(pd.msg, "unknown key") || strstr(pd.msg, "is a section")) {
        /* "--set k=0.5: k: unknown key; did you mean ...?" -> from "k: " on */
        const char *m = strstr(pd.msg, ": ");
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s", m ? m + 2 : pd.msg);
    }
    *kind = strstr(pd.msg, "expected an integer") ? KEY_INT : KEY_OTHER;
    return AIMC_OK;
}

/* Check one value of key against the key table (alone, on the defaults). */
static int value_check(const char *key, const char *val, aimc_diag *d)
{
    if (!strcmp(key, SWEEP_SEED_KEY)) {
        long v;
        if (aimc_parse_long(val, &v) || v < 0)
            return aimc_diag_set(d, AIMC_ERR_CONFIG,
                                 "seed: expected an integer in 0..%ld, got %s", (long)LONG_MAX,
                                 val);
        return AIMC_OK;
    }
    aimc_arch a;
    aimc_arch_defaults(&a);
    char as[200];
    snprintf(as, sizeof as, "%s=%s", key, val);
    return aimc_cfg_set(&a, as, d);
}

/* ---- the vary section ------------------------------------------------------------------- */

static int add_value(sweep_dim *dm, size_t *cap, const char *const *vals)
{
    if (dm->n_values == SWEEP_MAX_VALUES) return -1;
    if (dm->n_values == *cap) {
        size_t nc = *cap ? 2 * *cap : 16;
        void *nv = realloc(dm->values, nc * (size_t)dm->n_keys * sizeof *dm->values);
        if (!nv) return -1;
        dm->values = nv;
        *cap = nc;
    }
    for (int k = 0; k < dm->n_keys; k++)
        snprintf(dm->values[dm->n_values * (size_t)dm->n_keys + (size_t)k], SWEEP_VALUE_LEN,
                 "%s", vals[k]);
    dm->n_values++;
    return 0;
}

/* The text of a numeric value v for key k of dm. */
static void num_text(const sweep_dim *dm, int k, double v, char *buf, size_t cap)
{
    if (dm->key_is_int[k])
        snprintf(buf, cap, "%ld", (long)lround(v));
    else {
        /* 12 significant digits drop the rounding noise of lo + i * step */
        char t[64];
        snprintf(t, sizeof t, "%.12g", v);
        sweep_format_double(strtod(t, NULL), buf, cap);
    }
}

static int parse_list(const aimc_ydoc *doc, const aimc_ynode *vn, const char *path,
                      sweep_dim *dm, aimc_diag *d)
{
    if (vn->kind != AIMC_YNODE_SEQ || vn->n == 0)
        return at(d, doc, vn, "%s.values: expected a non-empty sequence, got %s", path,
                  vn->kind == AIMC_YNODE_SEQ ? "an empty one" : kind_name(vn));
    size_t cap = 0;
    for (size_t i = 0; i < vn->n; i++) {
        const aimc_ynode *it = vn->items[i];
        const char *vals[SWEEP_MAX_KEYS];
        const aimc_ynode *nodes[SWEEP_MAX_KEYS];
        if (dm->n_keys == 1) {
            if (it->kind != AIMC_YNODE_SCALAR)
                return at(d, doc, it, "%s.values[%zu]: expected a scalar, got %s", path, i,
                          kind_name(it));
            vals[0] = it->scalar;
            nodes[0] = it;
        } else {
            if (it->kind == AIMC_YNODE_SCALAR) {
                /* one value for every tied key */
                for (int k = 0; k < dm->n_keys; k++) {
                    vals[k] = it->scalar;
                    nodes[k] = it;
                }
            } else if (it->kind != AIMC_YNODE_SEQ || it->n != (size_t)dm->n_keys) {
                return at(d, doc, it,
                          "%s.values[%zu]: expected a scalar or a sequence of %d values (one "
                          "per key), got %s",
                          path, i, dm->n_keys, kind_name(it));
            } else {
                for (int k = 0; k < dm->n_keys; k++) {
                    if (it->items[k]->kind != AIMC_YNODE_SCALAR)
                        return at(d, doc, it->items[k],
                                  "%s.values[%zu][%d]: expected a scalar, got %s", path, i, k,
                                  kind_name(it->items[k]));
                    vals[k] = it->items[k]->scalar;
                    nodes[k] = it->items[k];
                }
            }
        }
        for (int k = 0; k < dm->n_keys; k++) {
            aimc_diag vd = {{0}};
            if (strlen(vals[k]) >= SWEEP_VALUE_LEN)
                return at(d, doc, nodes[k], "%s.values[%zu]: longer than %d characters", path,
                          i, SWEEP_VALUE_LEN - 1);
            if (value_check(dm->keys[k], vals[k], &vd))
                return at(d, doc, nodes[k], "%s.values[%zu]: %s", path, i, vd.msg);
        }
        if (add_value(dm, &cap, vals))
            return at(d, doc, vn, "%s.values: more than %d values", path, SWEEP_MAX_VALUES);
    }
    return AIMC_OK;
}

/* range: [lo, hi] or [lo, hi, step]; log_range: [lo, hi] or [lo, hi, factor]. */
static int parse_range(const aimc_ydoc *doc, const aimc_ynode *rn, const char *path,
                       const char *what, int log_scale, sweep_dim *dm, aimc_diag *d)
{
    char p[160];
    snprintf(p, sizeof p, "%s.%s", path, what);
    if (rn->kind != AIMC_YNODE_SEQ || rn->n < 2 || rn->n > 3)
        return at(d, doc, rn, "%s: expected [lo, hi] or [lo, hi, %s], got %s", p,
                  log_scale ? "factor" : "step", kind_name(rn));
    for (int k = 0; k < dm->n_keys; k++) {
        key_kind kk;
        aimc_diag kd = {{0}};
        key_probe(dm->keys[k], &kk, &kd);
        if (kk == KEY_OTHER)
            return at(d, doc, rn, "%s: %s is not numeric; list its values instead", p,
                      dm->keys[k]);
    }
    double v[3] = {0, 0, 0};
    for (size_t i = 0; i < rn->n; i++) {
        char ip[200];
        snprintf(ip, sizeof ip, "%s[%zu]", p, i);
        int rc = aimc_ynode_double(doc, rn->items[i], ip, -1e300, 1e300, &v[i], d);
        if (rc) return rc;
    }
    if (!(v[0] <= v[1])) return at(d, doc, rn, "%s: lo must not exceed hi, got %g > %g", p, v[0], v[1]);
    if (log_scale && !(v[0] > 0))
        return at(d, doc, rn, "%s: lo must be positive for a log range, got %g", p, v[0]);
    if (rn->n == 3 && (log_scale ? !(v[2] > 1) : !(v[2] > 0)))
        return at(d, doc, rn->items[2], "%s: the %s must be %s, got %g", p,
                  log_scale ? "factor" : "step", log_scale ? "greater than 1" : "positive", v[2]);
    /* Both ends must be valid values of every key. */
    for (int e = 0; e < 2; e++) {
        for (int k = 0; k < dm->n_keys; k++) {
            char t[SWEEP_VALUE_LEN];
            aimc_diag vd = {{0}};
            num_text(dm, k, v[e], t, sizeof t);
            if (value_check(dm->keys[k], t, &vd))
                return at(d, doc, rn->items[e], "%s: %s", p, vd.msg);
        }
    }
    dm->log_scale = log_scale;
    if (rn->n == 2) {
        dm->continuous = 1;
        dm->lo = v[0];
        dm->hi = v[1];
        return AIMC_OK;
    }
    size_t cap = 0;
    for (size_t i = 0;; i++) {
        double x = log_scale ? v[0] * pow(v[2], (double)i) : v[0] + (double)i * v[2];
        if (x > v[1] + 1e-9 * fabs(v[1])) break;
        char t[SWEEP_MAX_KEYS][SWEEP_VALUE_LEN];
        const char *vals[SWEEP_MAX_KEYS];
        for (int k = 0; k < dm->n_keys; k++) {
            num_text(dm, k, x, t[k], sizeof t[k]);
            vals[k] = t[k];
        }
        /* integer keys: drop a value that rounds to the previous one */
        if (dm->n_values > 0) {
            int same = 1;
            for (int k = 0; k < dm->n_keys && same; k++)
                same = !strcmp(vals[k], dm->values[(dm->n_values - 1) * (size_t)dm->n_keys +
                                                   (size_t)k]);
            if (same) continue;
        }
        if (add_value(dm, &cap, vals))
            return at(d, doc, rn, "%s: more than %d values", p, SWEEP_MAX_VALUES);
    }
    return AIMC_OK;
}

static int parse_dim(const aimc_ydoc *doc, const aimc_ynode *n, size_t idx, sweep_dim *dm,
                     aimc_diag *d)
{
    static const char *const known[] = {"key", "keys", "values", "range", "log_range"};
    char path[64];
    snprintf(path, sizeof path, "vary[%zu]", idx);
    dm->line = n->line;
    dm->col = n->col;
    if (n->kind != AIMC_YNODE_MAP)
        return at(d, doc, n, "%s: expected a mapping (key, values | range | log_range), got %s",
                  path, kind_name(n));
    int rc = aimc_ymap_check_keys(doc, n, path, known, 5, d);
    if (rc) return rc;
    const aimc_ynode *key = aimc_ymap_get(n, "key"), *keys = aimc_ymap_get(n, "keys");
    if (!!key == !!keys) return at(d, doc, n, "%s: give exactly one of key and keys", path);
    const aimc_ynode *kn[SWEEP_MAX_KEYS];
    if (key) {
        dm->n_keys = 1;
        kn[0] = key;
    } else {
        if (keys->kind != AIMC_YNODE_SEQ || keys->n < 1 || keys->n > SWEEP_MAX_KEYS)
            return at(d, doc, keys, "%s.keys: expected a sequence of 1..%d keys, got %s", path,
                      SWEEP_MAX_KEYS, kind_name(keys));
        dm->n_keys = (int)keys->n;
        for (size_t k = 0; k < keys->n; k++) kn[k] = keys->items[k];
    }
    for (int k = 0; k < dm->n_keys; k++) {
        if (kn[k]->kind != AIMC_YNODE_SCALAR || !kn[k]->scalar[0] ||
            strlen(kn[k]->scalar) >= SWEEP_KEY_LEN)
            return at(d, doc, kn[k], "%s.key: expected a config key name, got %s", path,
                      kind_name(kn[k]));
        snprintf(dm->keys[k], SWEEP_KEY_LEN, "%s", kn[k]->scalar);
        for (int j = 0; j < k; j++)
            if (!strcmp(dm->keys[j], dm->keys[k]))
                return at(d, doc, kn[k], "%s.keys: %s given twice", path, dm->keys[k]);
        key_kind kk;
        aimc_diag kd = {{0}};
        if (key_probe(dm->keys[k], &kk, &kd)) return at(d, doc, kn[k], "%s: %s", path, kd.msg);
        dm->key_is_int[k] = kk == KEY_INT;
    }
    const aimc_ynode *vals = aimc_ymap_get(n, "values"), *rng = aimc_ymap_get(n, "range"),
                     *lrng = aimc_ymap_get(n, "log_range");
    if (!!vals + !!rng + !!lrng != 1)
        return at(d, doc, n, "%s: give exactly one of values, range and log_range", path);
    if (vals) return parse_list(doc, vals, path, dm, d);
    return parse_range(doc, rng ? rng : lrng, path, rng ? "range" : "log_range", !rng, dm, d);
}

/* ---- the whole spec --------------------------------------------------------------------- */

static int get_str(const aimc_ydoc *doc, const aimc_ynode *map, const char *key,
                   const char *path, char *buf, size_t cap, aimc_diag *d)
{
    const aimc_ynode *n = aimc_ymap_get(map, key);
    if (!n) return AIMC_OK;
    return aimc_ynode_str(doc, n, path, buf, cap, d);
}

static int parse_base(const aimc_ydoc *doc, const aimc_ynode *b, sweep_spec *s, aimc_diag *d)
{
    static const char *const known[] = {"config", "model", "set", "seed", "tokens", "backend"};
    if (!b) return AIMC_OK;
    int rc = aimc_ynode_expect_map(doc, b, "base", d);
    if (!rc) rc = aimc_ymap_check_keys(doc, b, "base", known, 6, d);
    char rel[SWEEP_PATH_LEN] = "";
    if (!rc) rc = get_str(doc, b, "config", "base.config", rel, sizeof rel, d);
    if (rc) return rc;
    if (rel[0] && resolve(s->path, rel, s->config_path, sizeof s->config_path))
        return at(d, doc, aimc_ymap_get(b, "config"), "base.config: path too long");
    rel[0] = '\0';
    if ((rc = get_str(doc, b, "model", "base.model", rel, sizeof rel, d))) return rc;
    if (rel[0] && resolve(s->path, rel, s->model_path, sizeof s->model_path))
        return at(d, doc, aimc_ymap_get(b, "model"), "base.model: path too long");
    if ((rc = get_str(doc, b, "backend", "base.backend", s->backend, sizeof s->backend, d)))
        return rc;
    long v;
    const aimc_ynode *n;
    if ((n = aimc_ymap_get(b, "seed"))) {
        if ((rc = aimc_ynode_int(doc, n, "base.seed", 0, LONG_MAX, &v, d))) return rc;
        s->seed = (uint64_t)v;
    }
    if ((n = aimc_ymap_get(b, "tokens"))) {
        if ((rc = aimc_ynode_int(doc, n, "base.tokens", 1, 65536, &v, d))) return rc;
        s->tokens = v;
    }
    if ((n = aimc_ymap_get(b, "set"))) {
        if (n->kind != AIMC_YNODE_SEQ || n->n > SWEEP_MAX_SETS)
            return at(d, doc, n, "base.set: expected a sequence of at most %d key=value, got %s",
                      SWEEP_MAX_SETS, kind_name(n));
        for (size_t i = 0; i < n->n; i++) {
            char p[64];
            snprintf(p, sizeof p, "base.set[%zu]", i);
            if ((rc = aimc_ynode_str(doc, n->items[i], p, s->sets[i], sizeof s->sets[i], d)))
                return rc;
            aimc_arch a;
            aimc_arch_defaults(&a);
            aimc_diag sd = {{0}};
            if (aimc_cfg_set(&a, s->sets[i], &sd))
                return at(d, doc, n->items[i], "%s: %s", p, sd.msg);
        }
        s->n_sets = n->n;
    }
    return AIMC_OK;
}

static int parse_sampling(const aimc_ydoc *doc, const aimc_ynode *n, sweep_spec *s,
                          aimc_diag *d)
{
    static const char *const known[] = {"method", "points", "seed"};
    uint64_t grid = 1;
    for (size_t i = 0; i < s->n_dims; i++) {
        const sweep_dim *dm = &s->dims[i];
        if (dm->continuous) {
            grid = 0;
            break;
        }
        if (grid > SWEEP_MAX_POINTS / dm->n_values) grid = SWEEP_MAX_POINTS + 1;
        else grid *= dm->n_values;
    }
    s->method = SWEEP_GRID;
    int rc;
    if (n) {
        if ((rc = aimc_ynode_expect_map(doc, n, "sampling", d))) return rc;
        if ((rc = aimc_ymap_check_keys(doc, n, "sampling", known, 3, d))) return rc;
        const aimc_ynode *m = aimc_ymap_get(n, "method");
        int mi = 0;
        if (m && (rc = aimc_ynode_enum(doc, m, "sampling.method", method_names, 3, &mi, d)))
            return rc;
        s->method = (sweep_method)mi;
        long v;
        const aimc_ynode *pn = aimc_ymap_get(n, "points");
        if (s->method == SWEEP_GRID && pn)
            return at(d, doc, pn, "sampling.points: a grid has every combination (%llu); "
                                  "points is for random and lhs",
                      (unsigned long long)grid);
        if (s->method != SWEEP_GRID) {
            long hi = s->method == SWEEP_LHS ? SWEEP_LHS_MAX_POINTS : SWEEP_MAX_POINTS;
            if ((rc = aimc_ynode_int(doc, pn, "sampling.points", 1, hi, &v, d))) return rc;
            s->n_points = (uint64_t)v;
        }
        const aimc_ynode *sn = aimc_ymap_get(n, "seed");
        if (sn) {
            if ((rc = aimc_ynode_int(doc, sn, "sampling.seed", 0, LONG_MAX, &v, d))) return rc;
            s->sample_seed = (uint64_t)v;
        }
    }
    if (s->method == SWEEP_GRID) {
        if (grid == 0) {
            for (size_t i = 0; i < s->n_dims; i++)
                if (s->dims[i].continuous)
                    return aimc_diag_set(d, AIMC_ERR_CONFIG,
                                         "%s:%d:%d: vary[%zu]: a range without a step has no "
                                         "grid; give a step or use sampling.method random or lhs",
                                         doc->name, s->dims[i].line, s->dims[i].col, i);
        }
        if (grid > SWEEP_MAX_POINTS)
            return at(d, doc, n, "sampling: the grid has more than %d points", SWEEP_MAX_POINTS);
        s->n_points = grid;
    }
    return AIMC_OK;
}

static int parse_metrics(const aimc_ydoc *doc, const aimc_ynode *root, sweep_spec *s,
                         aimc_diag *d)
{
    const aimc_ynode *n = aimc_ymap_get(root, "metrics");
    if (!n) {
        for (size_t i = 0; i < sweep_metric_count() && i < SWEEP_MAX_METRICS; i++)
            s->metrics[s->n_metrics++] = (int)i;
    } else {
        if (n->kind != AIMC_YNODE_SEQ || n->n == 0 || n->n > SWEEP_MAX_METRICS)
            return at(d, doc, n, "metrics: expected a sequence of 1..%d metric names, got %s",
                      SWEEP_MAX_METRICS, kind_name(n));
        for (size_t i = 0; i < n->n; i++) {
            const aimc_ynode *it = n->items[i];
            int mi = it->kind == AIMC_YNODE_SCALAR ? sweep_metric_find(it->scalar) : -1;
            if (mi < 0) {
                const char *names[SWEEP_MAX_METRICS * 2];
                size_t nn = 0;
                for (; nn < sweep_metric_count() && nn < SWEEP_MAX_METRICS * 2; nn++)
                    names[nn] = sweep_metric_at(nn)->name;
                long near = it->kind == AIMC_YNODE_SCALAR ? aimc_suggest(it->scalar, names, nn)
                                                          : -1;
                if (near >= 0)
                    return at(d, doc, it, "metrics[%zu]: unknown metric %s; did you mean %s?", i,
                              it->scalar, names[near]);
                return at(d, doc, it, "metrics[%zu]: unknown metric (docs/dse.md lists them)",
                          i);
            }
            for (size_t j = 0; j < s->n_metrics; j++)
                if (s->metrics[j] == mi)
                    return at(d, doc, it, "metrics[%zu]: %s given twice", i, it->scalar);
            s->metrics[s->n_metrics++] = mi;
        }
    }
    return AIMC_OK;
}

/* The position of metric name in s->metrics, or -1. */
static int spec_metric(const sweep_spec *s, const char *name)
{
    int mi = sweep_metric_find(name);
    for (size_t j = 0; j < s->n_metrics; j++)
        if (s->metrics[j] == mi) return (int)j;
    return -1;
}

static int parse_objectives(const aimc_ydoc *doc, const aimc_ynode *root, sweep_spec *s,
                            aimc_diag *d)
{
    static const char *const senses[] = {"min", "max"};
    const aimc_ynode *n = aimc_ymap_get(root, "objectives");
    if (!n) return AIMC_OK;
    int rc = aimc_ynode_expect_map(doc, n, "objectives", d);
    if (rc) return rc;
    if (n->n > SWEEP_MAX_OBJECTIVES)
        return at(d, doc, n, "objectives: at most %d", SWEEP_MAX_OBJECTIVES);
    for (size_t i = 0; i < n->n; i++) {
        int j = spec_metric(s, n->keys[i]);
        if (j < 0)
            return aimc_diag_set(d, AIMC_ERR_CONFIG,
                                 "%s:%d:%d: objectives.%s: not a recorded metric (add it to "
                                 "metrics)",
                                 doc->name, n->key_line[i], n->key_col[i], n->keys[i]);
        char p[128];
        snprintf(p, sizeof p, "objectives.%s", n->keys[i]);
        int sense;
        if ((rc = aimc_ynode_enum(doc, n->items[i], p, senses, 2, &sense, d))) return rc;
        s->obj[s->n_objectives] = j;
        s->obj_max[s->n_objectives++] = sense;
    }
    return AIMC_OK;
}

static int parse_plot(const aimc_ydoc *doc, const aimc_ynode *root, sweep_spec *s,
                      aimc_diag *d)
{
    static const char *const known[] = {"x", "y", "color"};
    s->plot_color = -1;
    /* defaults: the first two objectives, else the first two metrics */
    s->plot_x = s->n_objectives >= 1 ? s->obj[0] : 0;
    s->plot_y = s->plot_x;
    if (s->n_objectives >= 2)
        s->plot_y = s->obj[1];
    else if (s->n_metrics > 1)
        s->plot_y = s->plot_x == 0 ? 1 : 0;
    const aimc_ynode *n = aimc_ymap_get(root, "plot");
    if (!n) return AIMC_OK;
    int rc = aimc_ynode_expect_map(doc, n, "plot", d);
    if (!rc) rc = aimc_ymap_check_keys(doc, n, "plot", known, 3, d);
    if (rc) return rc;
    const char *axes[2] = {"x", "y"};
    int *dst[2] = {&s->plot_x, &s->plot_y};
    for (int a = 0; a < 2; a++) {
        const aimc_ynode *an = aimc_ymap_get(n, axes[a]);
        if (!an) continue;
        int j = an->kind == AIMC_YNODE_SCALAR ? spec_metric(s, an->scalar) : -1;
        if (j < 0) return at(d, doc, an, "plot.%s: not a recorded metric", axes[a]);
        *dst[a] = j;
    }
    const aimc_ynode *cn = aimc_ymap_get(n, "color");
    if (cn) {
        for (size_t i = 0; i < s->n_dims && s->plot_color < 0 && cn->kind == AIMC_YNODE_SCALAR; i++)
            for (int k = 0; k < s->dims[i].n_keys; k++)
                if (!strcmp(s->dims[i].keys[k], cn->scalar) && !s->dims[i].continuous)
                    s->plot_color = (int)i;
        if (s->plot_color < 0)
            return at(d, doc, cn, "plot.color: expected a key of a vary entry with values or a "
                                  "step");
    }
    return AIMC_OK;
}

static int make_lhs(sweep_spec *s, aimc_diag *d)
{
    size_t n = (size_t)s->n_points;
    s->lhs_perm = malloc(s->n_dims * n * sizeof *s->lhs_perm);
    if (!s->lhs_perm) return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for %zu points", n);
    for (size_t dim = 0; dim < s->n_dims; dim++) {
        size_t *p = s->lhs_perm + dim * n;
        for (size_t i = 0; i < n; i++) p[i] = i;
        uint64_t key = aimc_rng_key(s->sample_seed, SWEEP_RNG_DOMAIN_LHS, dim, 0);
        for (size_t i = n; i > 1; i--) { /* Fisher-Yates, from the counter-based draws */
            size_t j = (size_t)(aimc_rng_uniform(key, i) * (double)i);
            if (j >= i) j = i - 1;
            size_t t = p[i - 1];
            p[i - 1] = p[j];
            p[j] = t;
        }
    }
    return AIMC_OK;
}

static int parse_doc(const aimc_ydoc *doc, sweep_spec *s, aimc_diag *d)
{
    static const char *const known[] = {"version", "name",    "base", "vary",
                                        "sampling", "metrics", "objectives", "plot"};
    const aimc_ynode *root = doc->root;
    int rc = aimc_ynode_expect_map(doc, root, "the spec's top level", d);
    if (!rc) rc = aimc_ymap_check_keys(doc, root, "", known, 8, d);
    if (rc) return rc;
    long v;
    if ((rc = aimc_ynode_int(doc, aimc_ymap_get(root, "version"), "version", SWEEP_SPEC_VERSION,
                             SWEEP_SPEC_VERSION, &v, d)))
        return rc;
    if ((rc = get_str(doc, root, "name", "name", s->name, sizeof s->name, d))) return rc;
    if ((rc = parse_base(doc, aimc_ymap_get(root, "base"), s, d))) return rc;
    const aimc_ynode *vary = aimc_ymap_get(root, "vary");
    if (!vary) return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: missing required key vary", doc->name);
    if (vary->kind != AIMC_YNODE_SEQ || vary->n == 0 || vary->n > SWEEP_MAX_DIMS)
        return at(d, doc, vary, "vary: expected a sequence of 1..%d entries, got %s",
                  SWEEP_MAX_DIMS, kind_name(vary));
    for (size_t i = 0; i < vary->n; i++) {
        s->n_dims = i + 1;
        if ((rc = parse_dim(doc, vary->items[i], i, &s->dims[i], d))) return rc;
        for (size_t j = 0; j < i; j++)
            for (int a = 0; a < s->dims[j].n_keys; a++)
                for (int b = 0; b < s->dims[i].n_keys; b++)
                    if (!strcmp(s->dims[j].keys[a], s->dims[i].keys[b]))
                        return at(d, doc, vary->items[i], "vary[%zu]: %s is already varied by "
                                                          "vary[%zu]",
                                  i, s->dims[i].keys[b], j);
    }
    if ((rc = parse_sampling(doc, aimc_ymap_get(root, "sampling"), s, d))) return rc;
    if ((rc = parse_metrics(doc, root, s, d))) return rc;
    if ((rc = parse_objectives(doc, root, s, d))) return rc;
    if ((rc = parse_plot(doc, root, s, d))) return rc;
    if (s->method == SWEEP_LHS && (rc = make_lhs(s, d))) return rc;
    return AIMC_OK;
}

static void spec_init(sweep_spec *s, const char *name)
{
    memset(s, 0, sizeof *s);
    snprintf(s->path, sizeof s->path, "%s", name);
    s->seed = 1;
    s->tokens = 16;
    snprintf(s->backend, sizeof s->backend, "sim:");
    s->sample_seed = 1;
    s->plot_color = -1;
    /* the name defaults to the file's base name without .yaml */
    const char *b = strrchr(name, '/');
    b = b ? b + 1 : name;
    size_t len = strlen(b);
    if (len > 5 && !strcmp(b + len - 5, ".yaml")) len -= 5;
    snprintf(s->name, sizeof s->name, "%.*s", (int)(len < 63 ? len : 63), b);
}

int sweep_spec_load_string(const char *text, const char *name, sweep_spec *s, aimc_diag *d)
{
    spec_init(s, name);
    aimc_ydoc *doc = NULL;
    int rc = aimc_ydoc_load_string(text, strlen(text), name, &doc, d);
    if (rc) return rc;
    if (!doc->root) {
        aimc_ydoc_free(doc);
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: empty sweep spec", name);
    }
    rc = parse_doc(doc, s, d);
    aimc_ydoc_free(doc);
    if (rc) return rc;
    uint64_t h = fnv1a(FNV_OFFSET, text, strlen(text));
    if (s->config_path[0]) {
        size_t len;
        if ((rc = slurp(s->config_path, &s->config_text, &len, d))) return rc;
        h = fnv1a(h, s->config_text, len);
        /* the base config and the fixed sets must load on their own */
        aimc_arch a;
        const char *sets[SWEEP_MAX_SETS];
        for (size_t i = 0; i < s->n_sets; i++) sets[i] = s->sets[i];
        if ((rc = aimc_cfg_load_string(s->config_text, s->config_path, sets, s->n_sets, &a, d)))
            return rc;
    }
    s->hash = h;
    return AIMC_OK;
}

int sweep_spec_load(const char *path, sweep_spec *s, aimc_diag *d)
{
    char *text = NULL;
    spec_init(s, path);
    int rc = slurp(path, &text, NULL, d);
    if (rc) return rc;
    rc = sweep_spec_load_string(text, path, s, d);
    free(text);
    return rc;
}

int sweep_spec_add_model(sweep_spec *s, const char *default_model, aimc_diag *d)
{
    if (!s->model_path[0]) snprintf(s->model_path, sizeof s->model_path, "%s", default_model);
    char *text = NULL;
    size_t len;
    int rc = slurp(s->model_path, &text, &len, d);
    if (rc) return rc;
    s->hash = fnv1a(s->hash, text, len);
    free(text);
    return AIMC_OK;
}

void sweep_spec_free(sweep_spec *s)
{
    if (!s) return;
    for (size_t i = 0; i < SWEEP_MAX_DIMS; i++) {
        free(s->dims[i].values);
        s->dims[i].values = NULL;
    }
    free(s->config_text);
    s->config_text = NULL;
    free(s->lhs_perm);
    s->lhs_perm = NULL;
}

/* ---- points ------------------------------------------------------------------------------ */

size_t sweep_value_columns(const sweep_spec *s)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n_dims; i++) n += (size_t)s->dims[i].n_keys;
    return n;
}

const char *sweep_value_column(const sweep_spec *s, size_t c)
{
    for (size_t i = 0; i < s->n_dims; i++) {
        if (c < (size_t)s->dims[i].n_keys) return s->dims[i].keys[c];
        c -= (size_t)s->dims[i].n_keys;
    }
    return NULL;
}

int sweep_point_get(const sweep_spec *s, uint64_t idx, sweep_point *p)
{
    if (idx >= s->n_points) return AIMC_ERR_RANGE;
    p->index = idx;
    p->n = 0;
    uint64_t rest = idx;
    /* grid: the last dimension varies fastest, as nested loops in the spec's order */
    uint64_t radix[SWEEP_MAX_DIMS];
    for (size_t i = s->n_dims; i-- > 0;) {
        const sweep_dim *dm = &s->dims[i];
        radix[i] = dm->continuous ? 0 : rest % dm->n_values;
        if (!dm->continuous) rest /= dm->n_values;
    }
    for (size_t i = 0; i < s->n_dims; i++) {
        const sweep_dim *dm = &s->dims[i];
        double u = 0;
        if (s->method != SWEEP_GRID) {
            u = aimc_rng_uniform(aimc_rng_key(s->sample_seed, SWEEP_RNG_DOMAIN_SAMPLE, idx, i), 0);
            if (s->method == SWEEP_LHS)
                u = ((double)s->lhs_perm[i * (size_t)s->n_points + (size_t)idx] + u) /
                    (double)s->n_points;
        }
        if (!dm->continuous) {
            size_t v = s->method == SWEEP_GRID ? (size_t)radix[i] : (size_t)(u * (double)dm->n_values);
            if (v >= dm->n_values) v = dm->n_values - 1;
            p->dim_value[i] = v;
            for (int k = 0; k < dm->n_keys; k++)
                snprintf(p->vals[p->n++], SWEEP_VALUE_LEN, "%s",
                         dm->values[v * (size_t)dm->n_keys + (size_t)k]);
        } else {
            double x = dm->log_scale ? exp(log(dm->lo) + u * (log(dm->hi) - log(dm->lo)))
                                     : dm->lo + u * (dm->hi - dm->lo);
            if (x > dm->hi) x = dm->hi;
            if (x < dm->lo) x = dm->lo;
            p->dim_value[i] = 0;
            for (int k = 0; k < dm->n_keys; k++) {
                if (dm->key_is_int[k])
                    snprintf(p->vals[p->n++], SWEEP_VALUE_LEN, "%ld", (long)lround(x));
                else
                    sweep_format_double(x, p->vals[p->n++], SWEEP_VALUE_LEN);
            }
        }
    }
    return AIMC_OK;
}

int sweep_point_arch(const sweep_spec *s, const sweep_point *p, aimc_arch *a, uint64_t *seed,
                     aimc_diag *d)
{
    char (*as)[SWEEP_KEY_LEN + SWEEP_VALUE_LEN + 2] =
        malloc((SWEEP_MAX_SETS + SWEEP_MAX_DIMS * SWEEP_MAX_KEYS) * sizeof *as);
    const char *sets[SWEEP_MAX_SETS + SWEEP_MAX_DIMS * SWEEP_MAX_KEYS];
    if (!as) return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (size_t i = 0; i < s->n_sets; i++) sets[n++] = s->sets[i];
    *seed = s->seed;
    size_t c = 0;
    for (size_t i = 0; i < s->n_dims; i++) {
        for (int k = 0; k < s->dims[i].n_keys; k++, c++) {
            const char *key = s->dims[i].keys[k];
            if (!strcmp(key, SWEEP_SEED_KEY)) {
                *seed = strtoull(p->vals[c], NULL, 10);
                continue;
            }
            snprintf(as[n], sizeof as[n], "%s=%s", key, p->vals[c]);
            sets[n] = as[n];
            n++;
        }
    }
    int rc = s->config_text
                 ? aimc_cfg_load_string(s->config_text, s->config_path, sets, n, a, d)
                 : aimc_cfg_load(NULL, sets, n, a, d);
    free(as);
    return rc;
}
