/* routing.c - expert routing statistics: uniform, Zipf, or from a JSON file
 * (docs/mapping.md, "Routing statistics"). JSON through cJSON.
 */
#include "map_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rng.h"

void aimc_routing_free(aimc_routing *r)
{
    if (!r) return;
    free(r->p);
    free(r->coact);
    free(r);
}

static int routing_new(const aimc_model *m, aimc_routing **out, aimc_diag *d)
{
    *out = NULL;
    if (!m) return aimc_diag_set(d, AIMC_ERR_INVALID, "routing: model is NULL");
    aimc_routing *r = calloc(1, sizeof *r);
    if (!r) return aimc_diag_set(d, AIMC_ERR_NOMEM, "routing: out of memory");
    r->layers = m->layers - m->dense_layers;
    r->experts = m->n_experts;
    r->top_k = m->top_k;
    r->p = calloc((size_t)(r->layers > 0 ? r->layers : 1) * (size_t)r->experts, sizeof *r->p);
    if (!r->p) {
        free(r);
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "routing: out of memory");
    }
    *out = r;
    return AIMC_OK;
}

int aimc_routing_uniform(const aimc_model *m, aimc_routing **out, aimc_diag *d)
{
    int rc = routing_new(m, out, d);
    if (rc) return rc;
    aimc_routing *r = *out;
    for (size_t i = 0; i < (size_t)r->layers * r->experts; i++)
        r->p[i] = (double)r->top_k / r->experts;
    snprintf(r->source, sizeof r->source, "uniform");
    return AIMC_OK;
}

/* p_e = min(1, c w_e) with sum p = k: water-filling over the weights (sorted or not). */
static void cap_to_k(const double *w, double *p, int n, int k)
{
    unsigned char *cap = calloc((size_t)n, 1);
    for (int iter = 0; iter <= n; iter++) {
        double rest = k, ws = 0;
        for (int e = 0; e < n; e++) {
            if (cap && cap[e]) rest -= 1.0;
            else ws += w[e];
        }
        int changed = 0;
        for (int e = 0; e < n; e++) {
            if (cap && cap[e]) {
                p[e] = 1.0;
                continue;
            }
            p[e] = ws > 0 ? rest * w[e] / ws : 0;
            if (p[e] > 1.0 && cap) {
                cap[e] = 1;
                changed = 1;
            }
        }
        if (!changed) break;
    }
    free(cap);
}

int aimc_routing_zipf(const aimc_model *m, double s, uint64_t seed, aimc_routing **out,
                      aimc_diag *d)
{
    if (!(s >= 0 && s <= 100))
        return aimc_diag_set(d, AIMC_ERR_INVALID, "routing: zipf exponent must be in 0..100, got %g", s);
    int rc = routing_new(m, out, d);
    if (rc) return rc;
    aimc_routing *r = *out;
    int n = r->experts;
    double *w = malloc((size_t)n * sizeof *w);
    int *perm = malloc((size_t)n * sizeof *perm);
    if (!w || !perm) {
        free(w);
        free(perm);
        aimc_routing_free(r);
        *out = NULL;
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "routing: out of memory");
    }
    for (int l = 0; l < r->layers; l++) {
        /* Ranks: a Fisher-Yates permutation keyed by (seed, layer). */
        uint64_t key = aimc_rng_key(seed, AIMC_RNG_DOMAIN_WEIGHTS, (uint64_t)l, 0x7a697066ULL);
        for (int e = 0; e < n; e++) perm[e] = e;
        for (int e = n - 1; e > 0; e--) {
            int j = (int)(aimc_rng_uniform(key, (uint64_t)e) * (e + 1));
            if (j > e) j = e;
            int t = perm[e];
            perm[e] = perm[j];
            perm[j] = t;
        }
        for (int rank = 0; rank < n; rank++) w[perm[rank]] = pow(rank + 1.0, -s);
        cap_to_k(w, r->p + (size_t)l * n, n, r->top_k);
    }
    free(w);
    free(perm);
    snprintf(r->source, sizeof r->source, "zipf %g", s);
    return AIMC_OK;
}

double aimc_routing_pair(const aimc_routing *r, int l, int e, int f)
{
    if (!r || l < 0 || l >= r->layers || e < 0 || f < 0 || e >= r->experts || f >= r->experts ||
        e == f)
        return 0.0;
    if (r->coact) return r->coact[((size_t)l * r->experts + e) * r->experts + f];
    const double *p = r->p + (size_t)l * r->experts;
    double k = r->top_k, s2 = 0;
    for (int i = 0; i < r->experts; i++) s2 += p[i] * p[i];
    double den = k * k - s2;
    return den > 0 ? k * (k - 1) / den * p[e] * p[f] : 0.0;
}

int aimc_map_read_file(const char *path, char **text, size_t *len, aimc_diag *d)
{
    *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: is a directory, not a file", path);
    }
    char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 65536 + 1 > cap) {
            size_t nc = cap ? 2 * cap : 65536 * 2;
            char *nb = nc > AIMC_MAP_MAX_FILE + 65536 + 1 ? NULL : realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(f);
                if (nc > AIMC_MAP_MAX_FILE + 65536 + 1)
                    return aimc_diag_set(d, AIMC_ERR_IO, "%s: larger than %d MiB", path,
                                         AIMC_MAP_MAX_FILE >> 20);
                return aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = nc;
        }
        size_t got = fread(buf + n, 1, 65536, f);
        n += got;
        if (got < 65536) break;
    }
    int err = ferror(f) ? errno : 0;
    fclose(f);
    if (err || n > AIMC_MAP_MAX_FILE) {
        free(buf);
        if (n > AIMC_MAP_MAX_FILE)
            return aimc_diag_set(d, AIMC_ERR_IO, "%s: larger than %d MiB", path,
                                 AIMC_MAP_MAX_FILE >> 20);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: read error: %s", path, strerror(err));
    }
    buf[n] = '\0';
    *text = buf;
    if (len) *len = n;
    return AIMC_OK;
}

/* A non-negative integer-valued number, or -1. */
static double json_count(const cJSON *j)
{
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0) || j->valuedouble > 9.007199254740992e15 ||
        floor(j->valuedouble) != j->valuedouble)
        return -1;
    return j->valuedouble;
}

int aimc_routing_load(const char *path, const aimc_model *m, aimc_routing **out, aimc_diag *d)
{
    if (!out) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_routing_load: out is NULL");
    *out = NULL;
    if (!path || !m) return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_routing_load: NULL argument");
    size_t len;
    char *text;
    int rc = aimc_map_read_file(path, &text, &len, d);
    if (rc) return rc;
    cJSON *root = cJSON_ParseWithLength(text, len);
    aimc_routing *r = NULL;
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= text && at <= text + len ? (long)(at - text) : -1;
        rc = aimc_diag_set(d, AIMC_ERR_PARSE, "%s: not valid JSON (near byte %ld)", path, off);
        goto out;
    }
    const cJSON *tok = cJSON_GetObjectItemCaseSensitive(root, "tokens");
    double tokens = json_count(tok);
    if (!cJSON_IsObject(root) || tokens < 1) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: tokens: expected a positive integer", path);
        goto out;
    }
    const cJSON *layers = cJSON_GetObjectItemCaseSensitive(root, "layers");
    if ((rc = routing_new(m, &r, d))) goto out;
    if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) != r->layers) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                           "%s: layers: expected an array of %d MoE layers (model %s)", path,
                           r->layers, m->name);
        goto out;
    }
    for (int l = 0; l < r->layers; l++) {
        const cJSON *lay = cJSON_GetArrayItem(layers, l);
        const cJSON *counts = cJSON_GetObjectItemCaseSensitive(lay, "counts");
        if (!cJSON_IsArray(counts) || cJSON_GetArraySize(counts) != r->experts) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                               "%s: layers[%d].counts: expected an array of %d counts", path, l,
                               r->experts);
            goto out;
        }
        double sum = 0;
        for (int e = 0; e < r->experts; e++) {
            double c = json_count(cJSON_GetArrayItem(counts, e));
            if (c < 0 || c > tokens) {
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                                   "%s: layers[%d].counts[%d]: expected an integer in 0..%.0f",
                                   path, l, e, tokens);
                goto out;
            }
            r->p[(size_t)l * r->experts + e] = c / tokens;
            sum += c;
        }
        if (sum > tokens * r->top_k) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                               "%s: layers[%d].counts: sum %.0f exceeds tokens x top_k = %.0f",
                               path, l, sum, tokens * r->top_k);
            goto out;
        }
        const cJSON *co = cJSON_GetObjectItemCaseSensitive(lay, "coactivation");
        if (!co) continue;
        if (!r->coact) {
            size_t n = (size_t)r->layers * r->experts * r->experts;
            r->coact = calloc(n, sizeof *r->coact);
            if (!r->coact) {
                rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
                goto out;
            }
        }
        if (!cJSON_IsArray(co) || cJSON_GetArraySize(co) != r->experts) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                               "%s: layers[%d].coactivation: expected %d rows of %d counts", path,
                               l, r->experts, r->experts);
            goto out;
        }
        for (int e = 0; e < r->experts; e++) {
            const cJSON *row = cJSON_GetArrayItem(co, e);
            if (!cJSON_IsArray(row) || cJSON_GetArraySize(row) != r->experts) {
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                                   "%s: layers[%d].coactivation[%d]: expected %d counts", path, l,
                                   e, r->experts);
                goto out;
            }
            for (int f = 0; f < r->experts; f++) {
                double c = json_count(cJSON_GetArrayItem(row, f));
                if (c < 0 || c > tokens) {
                    rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                                       "%s: layers[%d].coactivation[%d][%d]: expected an integer "
                                       "in 0..%.0f",
                                       path, l, e, f, tokens);
                    goto out;
                }
                r->coact[((size_t)l * r->experts + e) * r->experts + f] = c / tokens;
            }
        }
    }
    {
        const char *base = strrchr(path, '/');
        snprintf(r->source, sizeof r->source, "%s", base ? base + 1 : path);
    }
    *out = r;
    r = NULL;
    rc = AIMC_OK;
out:
    aimc_routing_free(r);
    cJSON_Delete(root);
    free(text);
    return rc;
}

int aimc_routing_from_spec(const char *spec, const aimc_model *m, aimc_routing **out,
                           aimc_diag *d)
{
    if (!spec || !out) return aimc_diag_set(d, AIMC_ERR_INVALID, "routing: NULL argument");
    if (strcmp(spec, "uniform") == 0) return aimc_routing_uniform(m, out, d);
    if (strncmp(spec, "zipf:", 5) == 0) {
        double s = 0;
        unsigned long long seed = 1;
        int n1 = 0, n2 = 0, ok = sscanf(spec + 5, "%lf%n", &s, &n1) == 1 && n1 > 0;
        if (ok && spec[5 + n1] == ':')
            ok = sscanf(spec + 6 + n1, "%llu%n", &seed, &n2) == 1 && n2 > 0 &&
                 spec[6 + n1 + n2] == '\0';
        else if (ok)
            ok = spec[5 + n1] == '\0';
        if (!ok)
            return aimc_diag_set(d, AIMC_ERR_CONFIG,
                                 "routing %s: expected uniform, zipf:S, zipf:S:SEED or a file",
                                 spec);
        return aimc_routing_zipf(m, s, seed, out, d);
    }
    return aimc_routing_load(spec, m, out, d);
}
