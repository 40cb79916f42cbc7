/* safetensors.c - model weights from safetensors files (one file, or shards with an index
 * JSON): F32, F16, BF16 and F8_E4M3 with block scales converted to float, one matrix per
 * tensor or per expert of a stacked tensor, the parameter vectors; the header is parsed by
 * cJSON (docs/models.md).
 *
 * Format (huggingface/safetensors): 8 bytes little-endian header length N, N bytes of JSON
 * {"NAME": {"dtype": "F32"|"F16"|"BF16"|"F8_E4M3"|..., "shape": [..], "data_offsets": [b, e]},
 * ..., "__metadata__": {...}}, then the data; offsets count from the first byte after the
 * header. FP8 checkpoints (DeepSeek-V3) keep beside each F8_E4M3 tensor NAME a tensor
 * NAME_scale_inv of one scale per block of B x B weights: weight = fp8 value x scale.
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
#define ST_MAX_RANK 3
#define ST_MAX_DIM 4294967295.0   /* a dimension of a shape */
#define ST_MAX_VALUES (1ull << 40) /* the values of a tensor, more than any file holds */

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

/* FP8 E4M3 as float8_e4m3fn (OCP 8-bit floating point, "FN": no infinities): sign, 4 exponent
 * bits of bias 7, 3 mantissa bits; exponent 0 is subnormal (m x 2^-9); S.1111.111 is NaN; the
 * largest value is 448. */
static float e4m3_to_float(uint8_t b)
{
    const int e = (b >> 3) & 0xf, f = b & 7;
    float v;
    if (e == 15 && f == 7) v = NAN;
    else if (e == 0) v = ldexpf((float)f, -9);
    else v = ldexpf((float)(8 + f), e - 10);
    return (b & 0x80) ? -v : v;
}

/* A JSON number that is an integer in 0..max, or -1. */
static double st_uint(const cJSON *j, double max)
{
    if (!cJSON_IsNumber(j) || !(j->valuedouble >= 0) || j->valuedouble > max ||
        floor(j->valuedouble) != j->valuedouble)
        return -1;
    return j->valuedouble;
}

/* ---- one image: its header, its tensors -------------------------------------------------- */

typedef enum { ST_F32 = 0, ST_F16, ST_BF16, ST_F8_E4M3 } st_dtype;

typedef struct {
    cJSON *root;                /* the parsed header */
    const unsigned char *data;  /* the data after it */
    size_t data_len;
} st_image;

typedef struct {
    st_dtype dt;
    int es;                     /* bytes per element */
    int rank;
    uint64_t shape[ST_MAX_RANK];
    const unsigned char *p;     /* its data */
    const char *dtname;
} st_tensor;

/* Parse the header of buf[0..len). AIMC_ERR_PARSE with what's name for a short or malformed
 * one. */
static int st_open_image(const unsigned char *buf, size_t len, const char *what, st_image *im,
                         aimc_diag *d)
{
    memset(im, 0, sizeof *im);
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
    im->root = root;
    im->data = buf + 8 + hlen;
    im->data_len = len - 8 - (size_t)hlen;
    return AIMC_OK;
}

/* "[a, b, c]" of a shape into buf. */
static const char *shape_text(char *buf, size_t cap, const uint64_t *s, int rank)
{
    size_t o = 0;
    o += (size_t)snprintf(buf + o, cap - o, "[");
    for (int i = 0; i < rank && o < cap; i++)
        o += (size_t)snprintf(buf + o, cap - o, "%s%llu", i ? ", " : "", (unsigned long long)s[i]);
    if (o < cap) snprintf(buf + o, cap - o, "]");
    return buf;
}

/* Tensor `name` of the image: dtype known, shape of rank 1..3, data_offsets inside the data
 * and exactly the shape's bytes. */
static int st_find(const st_image *im, const char *what, const char *name, st_tensor *t,
                   aimc_diag *d)
{
    static const struct {
        const char *name;
        st_dtype dt;
        int es;
    } dtypes[] = {{"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2},
                  {"F8_E4M3", ST_F8_E4M3, 1}};
    memset(t, 0, sizeof *t);
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(im->root, name);
    if (!j) return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: no tensor %s", what, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!cJSON_IsString(dt) || !dt->valuestring)
        return aimc_diag_set(d, AIMC_ERR_PARSE, "%s: %s: dtype missing or not a string", what,
                             name);
    t->es = 0;
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (strcmp(dt->valuestring, dtypes[i].name) == 0) {
            t->dt = dtypes[i].dt;
            t->es = dtypes[i].es;
            t->dtname = dtypes[i].name;
        }
    if (!t->es)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED,
                             "%s: %s: dtype %.16s is not supported (F32, F16, BF16, F8_E4M3)",
                             what, name, dt->valuestring);
    const int rank = cJSON_IsArray(shape) ? cJSON_GetArraySize(shape) : -1;
    if (rank < 1 || rank > ST_MAX_RANK)
        return aimc_diag_set(d, AIMC_ERR_PARSE, "%s: %s: shape must be a list of 1 to %d sizes",
                             what, name, ST_MAX_RANK);
    uint64_t n = 1;
    int over = 0; /* the product passed ST_MAX_VALUES */
    for (int i = 0; i < rank; i++) {
        const cJSON *s = cJSON_GetArrayItem(shape, i);
        const double v = st_uint(s, ST_MAX_DIM);
        if (v < 0 && st_uint(s, HUGE_VAL) >= 0)
            return aimc_diag_set(d, AIMC_ERR_PARSE, "%s: %s: shape[%d] is %.0f, above the limit "
                                 "of %.0f per dimension", what, name, i, s->valuedouble,
                                 ST_MAX_DIM);
        if (v < 0)
            return aimc_diag_set(d, AIMC_ERR_PARSE, "%s: %s: shape[%d] is not a size (an integer "
                                 "0..%.0f)", what, name, i, ST_MAX_DIM);
        t->shape[i] = (uint64_t)v;
        if (t->shape[i] && n > ST_MAX_VALUES / t->shape[i]) over = 1;
        else n *= t->shape[i];
    }
    t->rank = rank;
    if (over || n > ST_MAX_VALUES) {
        char sh[96];
        return aimc_diag_set(d, AIMC_ERR_PARSE, "%s: %s: shape %s holds more than 2^40 (%llu) "
                             "values, the limit of a tensor", what, name,
                             shape_text(sh, sizeof sh, t->shape, rank),
                             (unsigned long long)ST_MAX_VALUES);
    }
    double b, e;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        (b = st_uint(cJSON_GetArrayItem(offs, 0), (double)im->data_len)) < 0 ||
        (e = st_uint(cJSON_GetArrayItem(offs, 1), (double)im->data_len)) < 0 || e < b)
        return aimc_diag_set(d, AIMC_ERR_PARSE,
                             "%s: %s: data_offsets must be [begin, end] within the %zu data bytes",
                             what, name, im->data_len);
    if ((uint64_t)(e - b) != n * (uint64_t)t->es)
        return aimc_diag_set(d, AIMC_ERR_PARSE, "%s: %s: %.0f data bytes for %llu %s values",
                             what, name, e - b, (unsigned long long)n, t->dtname);
    t->p = im->data + (size_t)b;
    return AIMC_OK;
}

/* Element k (in the file's order) of t, as stored (an FP8 value without its scale). */
static float st_elem(const st_tensor *t, uint64_t k)
{
    const unsigned char *q = t->p + k * (uint64_t)t->es;
    switch (t->dt) {
    case ST_F32: {
        uint32_t u = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
                     (uint32_t)q[3] << 24;
        float v;
        memcpy(&v, &u, sizeof v);
        return v;
    }
    case ST_F16: return half_to_float((uint16_t)(q[0] | q[1] << 8));
    case ST_BF16: return bf16_to_float((uint16_t)(q[0] | q[1] << 8));
    case ST_F8_E4M3: return e4m3_to_float(q[0]);
    }
    return NAN;
}

/* What to read: the tensor's expected shape (rank 1: [n]; rank 2: the matrix, [cols, rows]
 * when transposed; rank 3: [experts, ...] of which `slice` is read), into out as rows x cols
 * floats, row-major. */
typedef struct {
    int rank;
    uint64_t shape[ST_MAX_RANK];
    uint64_t slice;
    uint32_t rows, cols;
    int transpose;
    int block;                  /* FP8: square scale blocks */
    uint64_t col0;              /* rank 2: the first of the cols columns read of a matrix of */
    uint64_t full_cols;         /* this many (0: cols), a part of a wider tensor */
} st_want;

/* Read tensor t (scales sc for FP8, else NULL) as w says into out; every value finite. */
static int st_convert(const st_tensor *t, const st_tensor *sc, const st_want *w,
                      const char *what, const char *name, float *out, aimc_diag *d)
{
    char got[96], want[96];
    int same = t->rank == w->rank;
    for (int i = 0; same && i < w->rank; i++) same = t->shape[i] == w->shape[i];
    if (!same)
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: %s: expected shape %s, got %s", what, name,
                             shape_text(want, sizeof want, w->shape, w->rank),
                             shape_text(got, sizeof got, t->shape, t->rank));
    /* The last two dimensions (one for a vector) of the file's order. */
    const uint64_t d1 = w->shape[w->rank - 1], d0 = w->rank >= 2 ? w->shape[w->rank - 2] : 1;
    const uint64_t per = d0 * d1, base = w->rank == 3 ? w->slice * per : 0;
    uint64_t s0 = 0, s1 = 0;
    if (t->dt == ST_F8_E4M3) {
        const uint64_t B = (uint64_t)(w->block > 0 ? w->block : 128);
        s0 = (d0 + B - 1) / B;
        s1 = (d1 + B - 1) / B;
        uint64_t ss[ST_MAX_RANK];
        int sr = 0;
        if (w->rank == 3) ss[sr++] = w->shape[0];
        if (w->rank >= 2) ss[sr++] = s0;
        ss[sr++] = s1;
        if (sc && sc->dt == ST_F8_E4M3)
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: %s_scale_inv: dtype F8_E4M3 is not a "
                                 "block scale's dtype (F32, F16 or BF16)", what, name);
        same = sc && sc->rank == sr;
        for (int i = 0; same && i < sr; i++) same = sc->shape[i] == ss[i];
        if (!same)
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: %s_scale_inv: expected shape %s (one "
                                 "scale per %llu x %llu block of the F8_E4M3 tensor), got %s",
                                 what, name, shape_text(want, sizeof want, ss, sr),
                                 (unsigned long long)B, (unsigned long long)B,
                                 sc ? shape_text(got, sizeof got, sc->shape, sc->rank) : "none");
    }
    const uint64_t B = (uint64_t)(w->block > 0 ? w->block : 128);
    for (uint64_t k = 0; k < per; k++) {
        const uint64_t i0 = k / d1, i1 = k % d1;
        float v = st_elem(t, base + k);
        if (sc) v *= st_elem(sc, (w->rank == 3 ? w->slice * s0 * s1 : 0) + (i0 / B) * s1 + i1 / B);
        if (!isfinite(v)) {
            char at[96];
            uint64_t ix[ST_MAX_RANK] = {w->slice, i0, i1};
            const uint64_t *from = w->rank == 3 ? ix : w->rank == 2 ? ix + 1 : ix + 2;
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: %s: element %s is %s%s", what, name,
                                 shape_text(at, sizeof at, from, w->rank),
                                 isnan(v) ? "NaN" : "infinite",
                                 sc ? " (F8_E4M3 value times its block scale)" : "");
        }
        /* rows = inputs: transposed, file [cols, rows] element (i0, i1) is w[i1][i0] */
        if (w->rank < 2) {
            out[k] = v;
            continue;
        }
        const uint64_t r = w->transpose ? i1 : i0, col = w->transpose ? i0 : i1;
        if (col < w->col0 || col >= w->col0 + w->cols) continue;
        out[r * w->cols + (col - w->col0)] = v;
    }
    return AIMC_OK;
}

int aimc_st_read_tensor(const unsigned char *buf, size_t len, const char *what,
                        const char *name, uint32_t rows, uint32_t cols, int transpose,
                        float *out, aimc_diag *d)
{
    if ((!buf && len) || !what || !name || !out)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_st_read_tensor: NULL argument");
    st_image im;
    int rc = st_open_image(buf, len, what, &im, d);
    if (rc) return rc;
    st_tensor t, sc;
    st_want w = {2, {transpose ? cols : rows, transpose ? rows : cols, 0}, 0, rows, cols,
                 transpose, 128};
    if ((rc = st_find(&im, what, name, &t, d)) == AIMC_OK) {
        int have_sc = 0;
        if (t.dt == ST_F8_E4M3) {
            char sname[300];
            snprintf(sname, sizeof sname, "%s_scale_inv", name);
            if ((rc = st_find(&im, what, sname, &sc, d)) == AIMC_OK) have_sc = 1;
        }
        if (rc == AIMC_OK) rc = st_convert(&t, have_sc ? &sc : NULL, &w, what, name, out, d);
    }
    cJSON_Delete(im.root);
    return rc;
}

/* ---- files and shards ------------------------------------------------------------------- */

typedef struct {
    char path[1024];
    unsigned char *map;
    size_t len;
    st_image im;               /* parsed when first used */
    int parsed;
} st_file;

typedef struct {
    st_file **f;
    size_t n;
    cJSON *index;          /* weight_map of an index file, or NULL */
    char dir[1024];        /* the index's directory */
    const char *path;      /* the file or index the model names */
} st_set;

static int st_map(st_set *s, const char *path, st_file **out, aimc_diag *d)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->f[i]->path, path) == 0) {
            *out = s->f[i];
            return AIMC_OK;
        }
    if (strlen(path) >= sizeof s->f[0]->path)
        return aimc_diag_set(d, AIMC_ERR_IO, "%.200s...: path too long", path);
    st_file **nf = realloc(s->f, (s->n + 1) * sizeof *nf);
    if (!nf) return aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
    s->f = nf;
    st_file *f = calloc(1, sizeof *f);
    if (!f) return aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
    memcpy(f->path, path, strlen(path) + 1);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        free(f);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat stt;
    if (fstat(fd, &stt) != 0 || stt.st_size < 0) {
        close(fd);
        free(f);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    }
    if (!S_ISREG(stt.st_mode)) {
        close(fd);
        free(f);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: %s", path,
                             S_ISDIR(stt.st_mode) ? "is a directory, not a file"
                                                  : "not a regular file (safetensors are mapped)");
    }
    f->len = (size_t)stt.st_size;
    if (f->len) {
        void *m = mmap(NULL, f->len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            close(fd);
            free(f);
            return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
        }
        f->map = m;
    }
    close(fd);
    s->f[s->n++] = f;
    *out = f;
    return AIMC_OK;
}

static void st_close(st_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->f[i]->map) munmap(s->f[i]->map, s->f[i]->len);
        cJSON_Delete(s->f[i]->im.root);
        free(s->f[i]);
    }
    free(s->f);
    cJSON_Delete(s->index);
}

/* Tensor `name` wherever the set keeps it; *file names the file for messages. */
static int st_get(st_set *s, const char *name, st_tensor *t, const char **file, aimc_diag *d)
{
    char path[1100];
    if (s->index) {
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(s->index, name);
        if (!cJSON_IsString(fn) || !fn->valuestring || strchr(fn->valuestring, '/'))
            return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: weight_map has no file for %s",
                                 s->path, name);
        snprintf(path, sizeof path, "%s/%s", s->dir, fn->valuestring);
    } else {
        snprintf(path, sizeof path, "%s", s->path);
    }
    st_file *f = NULL;
    int rc = st_map(s, path, &f, d);
    if (rc) return rc;
    if (!f->parsed) {
        if ((rc = st_open_image(f->map, f->len, f->path, &f->im, d))) return rc;
        f->parsed = 1;
    }
    *file = f->path;
    return st_find(&f->im, f->path, name, t, d);
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

/* Read tensor `name` as w says into a new float array *out. */
static int st_load(st_set *s, const char *name, const st_want *w, float **out, aimc_diag *d)
{
    st_tensor t, sc;
    const char *file = s->path;
    int rc = st_get(s, name, &t, &file, d);
    if (rc) return rc;
    int have_sc = 0;
    if (t.dt == ST_F8_E4M3) {
        char sname[300];
        const char *sfile;
        snprintf(sname, sizeof sname, "%s_scale_inv", name);
        if ((rc = st_get(s, sname, &sc, &sfile, d))) return rc;
        have_sc = 1;
    }
    const uint64_t n = (uint64_t)w->rows * w->cols;
    *out = n <= SIZE_MAX / sizeof **out ? malloc((size_t)(n ? n : 1) * sizeof **out) : NULL;
    if (!*out) return aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory for %s", file, name);
    rc = st_convert(&t, have_sc ? &sc : NULL, w, file, name, *out, d);
    if (rc) {
        free(*out);
        *out = NULL;
    }
    return rc;
}

/* The name pattern of matrix mx and its names key, and the index its {expert} or {shared}
 * takes. */
static const char *matrix_pattern(const aimc_model *model, const aimc_matrix *mx, const char **key,
                                  int *idx)
{
    static const char *const routed[] = {"router", "gate", "up", "down"};
    static const char *const shared[] = {"shared_gate", "shared_up", "shared_down",
                                         "shared_expert_gate"};
    static const char *const dense[] = {"dense_gate", "dense_up", "dense_down"};
    static const char *const attn[] = {"q", "k", "v", "o", "q_a", "q_b", "kv_a"};
    *idx = mx->expert;
    if (mx->expert == AIMC_EXPERT_ATTN) {
        *key = attn[mx->kind - AIMC_MAT_Q];
        return model->weights.attn_names[mx->kind - AIMC_MAT_Q];
    }
    if (mx->expert == AIMC_EXPERT_ROUTER) {
        *key = "router";
        return model->weights.names[0];
    }
    if (mx->expert == AIMC_EXPERT_HEAD) {
        *key = "head";
        return model->weights.head_name;
    }
    if (mx->expert == AIMC_EXPERT_DENSE) {
        *key = dense[mx->kind - AIMC_MAT_GATE];
        return model->weights.dense_names[mx->kind - AIMC_MAT_GATE];
    }
    if (mx->expert >= model->n_experts) {
        const int k = mx->kind == AIMC_MAT_SGATE ? 3 : (int)(mx->kind - AIMC_MAT_GATE);
        *idx = mx->expert - model->n_experts;
        *key = shared[k];
        return model->weights.shared_names[k];
    }
    *key = routed[mx->kind];
    return model->weights.names[mx->kind];
}

int aimc_model_load_safetensors(aimc_model *model, const char *path, aimc_diag *d)
{
    static const char *const vkeys[AIMC_VEC_KINDS] = {"ffn_norm", "router_bias", "attn_norm",
                                                      "q_norm",   "k_norm",      "q_a_norm",
                                                      "kv_a_norm", "final_norm"};
    if (!model || !path)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_model_load_safetensors: NULL argument");
    st_set s;
    memset(&s, 0, sizeof s);
    s.path = path;
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
        const char *key;
        int idx;
        const char *pat = matrix_pattern(model, mx, &key, &idx);
        if (!pat[0]) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                               "%s: weights.safetensors.names.%s is required for matrix %s",
                               model->name, key, mx->name);
            break;
        }
        char name[256];
        st_name(name, sizeof name, pat, mx->layer, idx);
        const int tr = model->weights.transpose;
        /* a head's part reads its columns of the whole head */
        const uint64_t full = mx->kind == AIMC_MAT_HEAD && model->head_parts > 1
                                  ? (uint64_t)model->n_classes : mx->cols;
        st_want w = {2, {tr ? full : mx->rows, tr ? mx->rows : full, 0}, 0, mx->rows,
                     mx->cols, tr, model->weights.fp8_block,
                     mx->kind == AIMC_MAT_HEAD ? (uint64_t)mx->part * AIMC_MODEL_MAX_COLS : 0, full};
        const int stacked = model->weights.stacked && mx->expert >= 0 &&
                            mx->expert < model->n_experts && mx->kind != AIMC_MAT_ROUTER;
        if (stacked) { /* one [experts, out, in] tensor per layer: expert e's slice */
            w.rank = 3;
            w.shape[2] = w.shape[1];
            w.shape[1] = w.shape[0];
            w.shape[0] = (uint64_t)model->n_experts;
            w.slice = (uint64_t)mx->expert;
        }
        free(mx->w);
        mx->w = NULL;
        rc = st_load(&s, name, &w, &mx->w, d);
    }
    for (size_t i = 0; i < model->n_vectors && rc == AIMC_OK; i++) {
        aimc_vector *v = &model->v[i];
        const char *pat = model->weights.vec_names[v->kind];
        if (!pat[0]) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                               "%s: weights.safetensors.names.%s is required for vector %s",
                               model->name, vkeys[v->kind], v->name);
            break;
        }
        char name[256];
        st_name(name, sizeof name, pat, v->layer, 0);
        st_want w = {1, {v->n, 0, 0}, 0, 1, v->n, 0, model->weights.fp8_block};
        free(v->v);
        v->v = NULL;
        rc = st_load(&s, name, &w, &v->v, d);
    }
    if (rc == AIMC_OK && model->vocab) { /* the embedding table [vocab, d_model], as stored */
        if (!model->weights.embed_name[0]) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: weights.safetensors.names.embed is "
                               "required for the embedding table", model->name);
        } else {
            st_want w = {2, {(uint64_t)model->vocab, (uint64_t)model->d_model, 0}, 0,
                         (uint32_t)model->vocab, (uint32_t)model->d_model, 0,
                         model->weights.fp8_block};
            free(model->embed);
            model->embed = NULL;
            rc = st_load(&s, model->weights.embed_name, &w, &model->embed, d);
        }
    }
    st_close(&s);
    if (rc) {
        free(model->embed);
        model->embed = NULL;
        for (size_t i = 0; i < model->n_matrices; i++) {
            free(model->m[i].w);
            model->m[i].w = NULL;
        }
        for (size_t i = 0; i < model->n_vectors; i++) {
            free(model->v[i].v);
            model->v[i].v = NULL;
        }
    }
    return rc;
}

/* ---- writing ---------------------------------------------------------------------------- */

int aimc_st_write(const char *path, const aimc_st_tensor *t, size_t n, const char *const *meta,
                  size_t n_meta, aimc_diag *d)
{
    if (!path || (n && !t) || (n_meta && !meta))
        return aimc_diag_set(d, AIMC_ERR_INVALID, "aimc_st_write: NULL argument");
    cJSON *root = cJSON_CreateObject(), *md = cJSON_CreateObject();
    int rc = AIMC_OK;
    if (!root || !md) goto nomem;
    for (size_t i = 0; i < n_meta; i++)
        if (!cJSON_AddStringToObject(md, meta[2 * i], meta[2 * i + 1] ? meta[2 * i + 1] : ""))
            goto nomem;
    cJSON_AddItemToObject(root, "__metadata__", md);
    md = NULL;
    uint64_t off = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t cnt = 1;
        if (!t[i].name || t[i].rank < 1 || t[i].rank > 3 || (!t[i].data && t[i].shape[0])) {
            rc = aimc_diag_set(d, AIMC_ERR_INVALID, "%s: tensor %zu: no name, data or rank 1..3",
                               path, i);
            goto out;
        }
        cJSON *j = cJSON_CreateObject(), *sh = cJSON_CreateArray(), *of = cJSON_CreateArray();
        if (!j || !sh || !of) {
            cJSON_Delete(j);
            cJSON_Delete(sh);
            cJSON_Delete(of);
            goto nomem;
        }
        for (int k = 0; k < t[i].rank; k++) {
            cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)t[i].shape[k]));
            cnt *= t[i].shape[k];
        }
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + 4 * cnt)));
        cJSON_AddStringToObject(j, "dtype", t[i].i32 ? "I32" : "F32");
        cJSON_AddItemToObject(j, "shape", sh);
        cJSON_AddItemToObject(j, "data_offsets", of);
        cJSON_AddItemToObject(root, t[i].name, j);
        off += 4 * cnt;
    }
    char *hdr = cJSON_PrintUnformatted(root);
    if (!hdr) goto nomem;
    size_t hl = strlen(hdr), pad = (8 - hl % 8) % 8;
    FILE *f = fopen(path, "wb");
    if (!f) {
        rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
        free(hdr);
        goto out;
    }
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)(hl + pad) >> (8 * i));
    int bad = fwrite(len, 1, 8, f) != 8 || fwrite(hdr, 1, hl, f) != hl ||
              fwrite("        ", 1, pad, f) != pad;
    free(hdr);
    unsigned char buf[1 << 14];
    for (size_t i = 0; i < n && !bad; i++) {
        uint64_t cnt = 1;
        for (int k = 0; k < t[i].rank; k++) cnt *= t[i].shape[k];
        const unsigned char *p = t[i].data;
        size_t used = 0;
        for (uint64_t k = 0; k < cnt && !bad; k++) { /* little-endian whatever the host */
            uint32_t u;
            memcpy(&u, p + 4 * k, 4);
            for (int q = 0; q < 4; q++) buf[used++] = (unsigned char)(u >> (8 * q));
            if (used == sizeof buf || k + 1 == cnt) {
                bad = fwrite(buf, 1, used, f) != used;
                used = 0;
            }
        }
    }
    if (fclose(f) != 0) bad = 1;
    if (bad) rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: write error", path);
    goto out;
nomem:
    rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
out:
    cJSON_Delete(md);
    cJSON_Delete(root);
    return rc;
}
