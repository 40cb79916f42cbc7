/* safetensors.c - model weights from safetensors files (one file, or shards with an index
 * JSON), f32/f16/bf16 converted to float; the header is parsed by cJSON (docs/models.md).
 *
 * Format (huggingface/safetensors): 8 bytes little-endian header length N, N bytes of JSON
 * {"NAME": {"dtype": "F32"|"F16"|"BF16"|..., "shape": [..], "data_offsets": [b, e]}, ...,
 * "__metadata__": {...}}, then the data; offsets count from the first byte after the header.
 */
#include "map_int.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_HEADER_MAX (100u << 20) /* the format's own limit: 100 MB of header */

static float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    float v;
    if (e == 0) v = ldexpf((float)f, -24); /* subnormal or zero */
    else if (e == 31) v = f ? NAN : INFINITY;
    else v = ldexpf((float)(f | 0x400), (int)e - 25);
    return sign ? -v : v;
}

static float bf16_to_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float v;
    memcpy(&v, &u, sizeof v);
    return v;
}

/* A JSON number that is an integer in 0..max, or -1. */
static double st_uint(const cJSON *j, double max)
{
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0) || j->valuedouble > max ||
        floor(j->valuedouble) != j->valuedouble)
        return -1;
    return j->valuedouble;
}

int aimc_st_read_tensor(const unsigned char *buf, size_t len, const char *what,
                        const char *name, uint32_t rows, uint32_t cols, int transpose,
                        float *out, aimc_diag *d)
{
    if ((!buf && len) || !what || !name || !out)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_st_read_tensor: NULL argument");
    if (len < 8)
        return aimc_diag_set(d, AIMC_ERR_PARSE,
                             "%s: truncated: %zu bytes, a safetensors file starts with an "
                             "8-byte header length",
                             what, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    if (hlen > ST_HEADER_MAX || hlen > len - 8)
        return aimc_diag_set(d, AIMC_ERR_PARSE,
                             "%s: header length %llu exceeds the file (%zu bytes) or 100 MB",
                             what, (unsigned long long)hlen, len);
    cJSON *root = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return aimc_diag_set(d, AIMC_ERR_PARSE, "%s: header is not a JSON object", what);
    }
    int rc;
    const size_t data_len = len - 8 - (size_t)hlen;
    const unsigned char *data = buf + 8 + hlen;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, name);
    if (!t) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: no tensor %s", what, name);
        goto out;
    }
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(t, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    int es;
    if (!cJSON_IsString(dt) || !dt->valuestring) {
        rc = aimc_diag_set(d, AIMC_ERR_PARSE, "%s: %s: dtype missing or not a string", what, name);
        goto out;
    }
    if (strcmp(dt->valuestring, "F32") == 0) es = 4;
    else if (strcmp(dt->valuestring, "F16") == 0 || strcmp(dt->valuestring, "BF16") == 0) es = 2;
    else {
        rc = aimc_diag_set(d, AIMC_ERR_UNSUPPORTED,
                           "%s: %s: dtype %.16s is not supported (F32, F16, BF16)", what, name,
                           dt->valuestring);
        goto out;
    }
    const uint32_t want0 = transpose ? cols : rows, want1 = transpose ? rows : cols;
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) != 2 ||
        st_uint(cJSON_GetArrayItem(shape, 0), 4294967295.0) != want0 ||
        st_uint(cJSON_GetArrayItem(shape, 1), 4294967295.0) != want1) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: %s: expected shape [%u, %u]", what, name,
                           (unsigned)want0, (unsigned)want1);
        goto out;
    }
    double b, e;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        (b = st_uint(cJSON_GetArrayItem(offs, 0), (double)data_len)) < 0 ||
        (e = st_uint(cJSON_GetArrayItem(offs, 1), (double)data_len)) < 0 || e < b) {
        rc = aimc_diag_set(d, AIMC_ERR_PARSE,
                           "%s: %s: data_offsets must be [begin, end] within the %zu data bytes",
                           what, name, data_len);
        goto out;
    }
    const uint64_t n = (uint64_t)rows * cols;
    if ((uint64_t)(e - b) != n * (uint64_t)es) {
        rc = aimc_diag_set(d, AIMC_ERR_PARSE, "%s: %s: %.0f data bytes for %llu %s values", what,
                           name, e - b, (unsigned long long)n, dt->valuestring);
        goto out;
    }
    const unsigned char *p = data + (size_t)b;
    for (uint64_t k = 0; k < n; k++) {
        uint64_t dst = transpose ? (k % rows) * cols + k / rows : k; /* k runs over the file */
        const unsigned char *q = p + k * (uint64_t)es;
        float v;
        if (es == 4) {
            uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                         (uint32_t)q[3] << 24;
            memcpy(&v, &u, sizeof v);
        } else {
            uint16_t h = (uint16_t)(q[0] | q[1] << 8);
            v = dt->valuestring[0] == 'B' ? bf16_to_float(h) : half_to_float(h);
        }
        out[dst] = v;
    }
    rc = AIMC_OK;
out:
    cJSON_Delete(root);
    return rc;
}

/* ---- files and shards ------------------------------------------------------------------- */

typedef struct {
    char path[1024];
    unsigned char *map;
    size_t len;
} st_file;

typedef struct {
    st_file *f;
    size_t n;
    cJSON *index;          /* weight_map of an index file, or NULL */
    char dir[1024];        /* the index's directory */
} st_set;

static int st_map(st_set *s, const char *path, st_file **out, aimc_diag *d)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->f[i].path, path) == 0) {
            *out = &s->f[i];
            return AIMC_OK;
        }
    st_file *nf = realloc(s->f, (s->n + 1) * sizeof *nf);
    if (!nf) return aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
    s->f = nf;
    st_file *f = &s->f[s->n];
    memset(f, 0, sizeof *f);
    if (strlen(path) >= sizeof f->path)
        return aimc_diag_set(d, AIMC_ERR_IO, "%.200s...: path too long", path);
    memcpy(f->path, path, strlen(path) + 1);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat stt;
    if (fstat(fd, &stt) != 0 || stt.st_size < 0) {
        close(fd);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (!S_ISREG(stt.st_mode)) {
        close(fd);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: %s", path,
                             S_ISDIR(stt.st_mode) ? "is a directory, not a file"
                                                  : "not a regular file (safetensors are mapped)");
    }
    f->len = (size_t)stt.st_size;
    if (f->len) {
        void *m = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        }
        f->map = m;
    }
    close(fd);
    s->n++;
    *out = f;
    return AIMC_OK;
}

static void st_close(st_set *s)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->f[i].map) munmap(s->f[i].map, s->f[i].len);
    free(s->f);
    cJSON_Delete(s->index);
}

/* Substitute {layer}, {expert}, {shared} in pat. */
static void st_name(char *out, size_t cap, const char *pat, int layer, int idx)
{
    size_t o = 0;
    for (const char *p = pat; *p && o + 1 < cap;) {
        const char *key = NULL;
        if (strncmp(p, "{layer}", 7) == 0) key = "{layer}";
        else if (strncmp(p, "{expert}", 8) == 0) key = "{expert}";
        else if (strncmp(p, "{shared}", 8) == 0) key = "{shared}";
        if (key) {
            int v = key[1] == 'l' ? layer : idx;
            int w = snprintf(out + o, cap - o, "%d", v);
            if (w < 0) break;
            o += (size_t)w < cap - o ? (size_t)w : cap - o - 1;
            p += strlen(key);
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int aimc_model_load_safetensors(aimc_model *model, const char *path, aimc_diag *d)
{
    if (!model || !path)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_model_load_safetensors: NULL argument");
    st_set s;
    memset(&s, 0, sizeof s);
    int rc = AIMC_OK;
    if (ends_with(path, ".json")) {
        size_t len;
        char *text;
        if ((rc = aimc_map_read_file(path, &text, &len, d))) return rc;
        cJSON *root = cJSON_ParseWithLength(text, len);
        free(text);
        cJSON *wm = root ? cJSON_DetachItemFromObjectCaseSensitive(root, "weight_map") : NULL;
        cJSON_Delete(root);
        if (!cJSON_IsObject(wm)) {
            cJSON_Delete(wm);
            return aimc_diag_set(d, AIMC_ERR_PARSE,
                                 "%s: expected a JSON object with an object weight_map", path);
        }
        s.index = wm;
        const char *slash = strrchr(path, '/');
        snprintf(s.dir, sizeof s.dir, "%.*s", slash ? (int)(slash - path) : 1,
                 slash ? path : ".");
    }
    for (size_t i = 0; i < model->n_matrices && rc == AIMC_OK; i++) {
        aimc_matrix *mx = &model->m[i];
        const char *pat;
        int idx = mx->expert;
        const char *key;
        if (mx->expert == AIMC_EXPERT_ROUTER) {
            pat = model->weights.names[0];
            key = "router";
        } else if (mx->expert == AIMC_EXPERT_HEAD) {
            pat = model->weights.head_name;
            key = "head";
        } else if (mx->expert == AIMC_EXPERT_DENSE) {
            pat = model->weights.dense_names[mx->kind - AIMC_MAT_GATE];
            key = mx->kind == AIMC_MAT_GATE ? "dense_gate" : mx->kind == AIMC_MAT_UP ? "dense_up" : "dense_down";
        } else if (mx->expert >= model->n_experts) {
            pat = model->weights.shared_names[mx->kind - AIMC_MAT_GATE];
            idx = mx->expert - model->n_experts;
            key = mx->kind == AIMC_MAT_GATE ? "shared_gate" : mx->kind == AIMC_MAT_UP ? "shared_up" : "shared_down";
        } else {
            pat = model->weights.names[mx->kind];
            key = mx->kind == AIMC_MAT_GATE ? "gate" : mx->kind == AIMC_MAT_UP ? "up" : "down";
        }
        if (!pat[0]) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                               "%s: weights.safetensors.names.%s is required for matrix %s",
                               model->name, key, mx->name);
            break;
        }
        char name[256], file[1100];
        st_name(name, sizeof name, pat, mx->layer, idx);
        if (s.index) {
            const cJSON *fn = cJSON_GetObjectItemCaseSensitive(s.index, name);
            if (!cJSON_IsString(fn) || !fn->valuestring || strchr(fn->valuestring, '/')) {
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: weight_map has no file for %s", path,
                                   name);
                break;
            }
            snprintf(file, sizeof file, "%s/%s", s.dir, fn->valuestring);
        } else {
            snprintf(file, sizeof file, "%s", path);
        }
        st_file *f = NULL;
        if ((rc = st_map(&s, file, &f, d))) break;
        uint64_t n = (uint64_t)mx->rows * mx->cols;
        free(mx->w);
        mx->w = n <= SIZE_MAX / sizeof *mx->w ? malloc((size_t)n * sizeof *mx->w) : NULL;
        if (!mx->w) {
            rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory for %s", file, name);
            break;
        }
        rc = aimc_st_read_tensor(f->map, f->len, file, name, mx->rows, mx->cols,
                                 model->weights.transpose, mx->w, d);
    }
    st_close(&s);
    if (rc)
        for (size_t i = 0; i < model->n_matrices; i++) {
            free(model->m[i].w);
            model->m[i].w = NULL;
        }
    return rc;
}
