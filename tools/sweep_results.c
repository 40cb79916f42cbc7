/* sweep_results.c - the append log of a sweep (one checksummed line per finished point),
 * the Pareto front, and the CSV and JSON result files written from the log, sorted by point.
 *
 * "Nothing lost": each finished point is one line appended with a single write(2) on a
 * descriptor opened O_APPEND, ending in the CRC-32 of the line. Reading the log back takes
 * each point's first valid line; a line with a wrong checksum or a torn last line (the
 * process died inside the write) is ignored, so that point runs again. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "aimc_yaml.h"
#include "cli.h"
#include "json.h"
#include "sweep.h"

#define LOG_MAGIC "aimc-sweep-log"
#define LOG_VERSION 1

uint32_t sweep_crc32(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

int sweep_results_init(sweep_results *r, uint64_t n_points, size_t n_metrics)
{
    memset(r, 0, sizeof *r);
    r->n_points = n_points;
    r->n_metrics = n_metrics;
    size_t n = (size_t)n_points;
    r->done = calloc(n ? n : 1, 1);
    r->ok = calloc(n ? n : 1, 1);
    r->pareto = calloc(n ? n : 1, 1);
    r->m = calloc(n * (n_metrics ? n_metrics : 1) + 1, sizeof *r->m);
    r->error = calloc(n ? n : 1, sizeof *r->error);
    if (!r->done || !r->ok || !r->pareto || !r->m || !r->error) {
        sweep_results_free(r);
        return AIMC_ERR_NOMEM;
    }
    return AIMC_OK;
}

void sweep_results_free(sweep_results *r)
{
    if (!r) return;
    if (r->error)
        for (uint64_t i = 0; i < r->n_points; i++) free(r->error[i]);
    free(r->error);
    free(r->done);
    free(r->ok);
    free(r->pareto);
    free(r->m);
    memset(r, 0, sizeof *r);
}

/* Append "\t<crc>\n" to the payload in buf[0..len); returns the new length or -1. */
static int seal(char *buf, size_t len, size_t cap)
{
    uint32_t crc = sweep_crc32(buf, len);
    int n = snprintf(buf + len, cap - len, "\t%08" PRIx32 "\n", crc);
    if (n < 0 || (size_t)n >= cap - len) return -1;
    return (int)(len + (size_t)n);
}

int sweep_log_header(const sweep_spec *s, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s\t%d\t%016" PRIx64 "\t%" PRIu64 "\t%zu", LOG_MAGIC,
                     LOG_VERSION, s->hash, s->n_points, s->n_metrics);
    if (n < 0 || (size_t)n >= cap) return -1;
    return seal(buf, (size_t)n, cap);
}

int sweep_log_format(const sweep_spec *s, uint64_t idx, int ok, const double *m,
                     const char *err, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%" PRIu64 "\t%s", idx, ok ? "ok" : "error");
    if (n < 0 || (size_t)n >= cap) return -1;
    size_t len = (size_t)n;
    if (ok) {
        for (size_t i = 0; i < s->n_metrics; i++) {
            char t[40];
            sweep_format_double(m[i], t, sizeof t);
            n = snprintf(buf + len, cap - len, "\t%s", t);
            if (n < 0 || (size_t)n >= cap - len) return -1;
            len += (size_t)n;
        }
    } else {
        if (len + 2 >= cap) return -1;
        buf[len++] = '\t';
        /* the message on one line, without tabs */
        for (const char *p = err ? err : "unknown error"; *p && len + 20 < cap; p++)
            buf[len++] = (*p == '\t' || *p == '\n' || *p == '\r') ? ' ' : *p;
    }
    return seal(buf, len, cap);
}

/* Split line[0..len) at tabs into f[] (in place, in a copy); returns the field count. */
static size_t split(char *line, char **f, size_t maxf)
{
    size_t n = 0;
    f[n++] = line;
    for (char *p = line; *p; p++) {
        if (*p != '\t') continue;
        *p = '\0';
        if (n == maxf) return maxf + 1;
        f[n++] = p + 1;
    }
    return n;
}

/* Check the checksum of line[0..len) (no newline) and copy the payload into buf. */
static int unseal(const char *line, size_t len, char *buf, size_t cap)
{
    if (len < 10 || len >= cap || line[len - 9] != '\t') return AIMC_ERR_PARSE;
    for (size_t i = len - 8; i < len; i++) {
        char c = line[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return AIMC_ERR_PARSE;
    }
    uint32_t want = (uint32_t)strtoul(line + len - 8, NULL, 16);
    if (sweep_crc32(line, len - 9) != want) return AIMC_ERR_PARSE;
    memcpy(buf, line, len - 9);
    buf[len - 9] = '\0';
    return AIMC_OK;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!*s) return -1;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return 0;
}

int sweep_log_read_line(const sweep_spec *s, const char *line, size_t len, sweep_results *r)
{
    char buf[SWEEP_LINE_MAX];
    char *f[SWEEP_MAX_METRICS + 4];
    if (unseal(line, len, buf, sizeof buf)) return AIMC_ERR_PARSE;
    size_t nf = split(buf, f, SWEEP_MAX_METRICS + 3);
    uint64_t idx;
    if (nf < 3 || parse_u64(f[0], &idx) || idx >= r->n_points) return AIMC_ERR_PARSE;
    int ok = !strcmp(f[1], "ok");
    if (!ok && strcmp(f[1], "error")) return AIMC_ERR_PARSE;
    if (ok && nf != 2 + s->n_metrics) return AIMC_ERR_PARSE;
    if (!ok && nf != 3) return AIMC_ERR_PARSE;
    double mv[SWEEP_MAX_METRICS];
    if (ok) {
        for (size_t i = 0; i < s->n_metrics; i++) {
            char *end;
            mv[i] = strtod(f[2 + i], &end);
            if (end == f[2 + i] || *end) return AIMC_ERR_PARSE;
        }
    }
    if (r->done[idx]) {
        r->n_duplicate++;
        return AIMC_OK;
    }
    if (!ok) {
        r->error[idx] = strdup(f[2]);
        if (!r->error[idx]) return AIMC_ERR_NOMEM;
    } else {
        memcpy(r->m + idx * r->n_metrics, mv, s->n_metrics * sizeof *mv);
    }
    r->ok[idx] = (unsigned char)ok;
    r->done[idx] = 1;
    r->n_done++;
    return AIMC_OK;
}

int sweep_results_add(const sweep_spec *s, sweep_results *r, const char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\n') len--;
    return sweep_log_read_line(s, line, len, r);
}

int sweep_log_append(int fd, const char *line, size_t len, aimc_diag *d)
{
    ssize_t w = write(fd, line, len);
    if (w < 0 || (size_t)w != len)
        return aimc_diag_set(d, AIMC_ERR_IO, "appending to the sweep log failed: %s",
                             w < 0 ? strerror(errno) : "short write");
    return AIMC_OK;
}

int sweep_log_open(const sweep_spec *s, const char *path, int restart, sweep_results *r,
                   int *fd_out, aimc_diag *d)
{
    char *data = NULL;
    int rc = AIMC_OK;
    *fd_out = -1;
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: in use by another running sweep", path);
        goto fail;
    }
    if (restart && ftruncate(fd, 0) != 0) {
        rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot empty: %s", path, strerror(errno));
        goto fail;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: %s", path, strerror(errno));
        goto fail;
    }
    size_t size = (size_t)st.st_size;
    data = malloc(size + 1);
    if (!data) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(fd, data + got, size - got, (off_t)got);
        if (n <= 0) {
            rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: read error", path);
            goto fail;
        }
        got += (size_t)n;
    }
    /* Cut a torn last line (no newline: the writer died inside the write). */
    size_t end = size;
    while (end > 0 && data[end - 1] != '\n') end--;
    if (end < size) {
        if (ftruncate(fd, (off_t)end) != 0) {
            rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot cut its torn last line: %s", path,
                               strerror(errno));
            goto fail;
        }
        if (end > 0) r->n_corrupt++;
    }
    char hdr[256];
    int hl = sweep_log_header(s, hdr, sizeof hdr);
    if (hl < 0) {
        rc = aimc_diag_set(d, AIMC_ERR_INVALID, "sweep log header too long");
        goto fail;
    }
    if (end == 0) {
        if ((rc = sweep_log_append(fd, hdr, (size_t)hl, d))) goto fail;
    } else {
        const char *nl = memchr(data, '\n', end);
        size_t l0 = (size_t)(nl - data);
        if (l0 + 1 != (size_t)hl || memcmp(data, hdr, l0)) {
            char pay[256];
            int is_log = unseal(data, l0, pay, sizeof pay) == AIMC_OK &&
                         !strncmp(pay, LOG_MAGIC "\t", strlen(LOG_MAGIC) + 1);
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG,
                               is_log ? "%s: written for another sweep (the spec, its base "
                                        "config or its model changed); delete it or pass "
                                        "--restart"
                                      : "%s: not an aimc sweep log; delete it or pass --restart",
                               path);
            goto fail;
        }
        size_t pos = l0 + 1;
        while (pos < end) {
            const char *e = memchr(data + pos, '\n', end - pos);
            size_t len = (size_t)(e - (data + pos));
            int lrc = sweep_log_read_line(s, data + pos, len, r);
            if (lrc == AIMC_ERR_NOMEM) {
                rc = aimc_diag_set(d, lrc, "out of memory");
                goto fail;
            }
            if (lrc) r->n_corrupt++;
            pos += len + 1;
        }
    }
    free(data);
    *fd_out = fd;
    return AIMC_OK;
fail:
    free(data);
    close(fd);
    return rc;
}

/* ---- Pareto front ------------------------------------------------------------------------ */

/* Objective j of point i, as a value to minimise. */
static double objv(const sweep_spec *s, const sweep_results *r, uint64_t i, size_t j)
{
    double v = r->m[i * r->n_metrics + (size_t)s->obj[j]];
    return s->obj_max[j] ? -v : v;
}

void sweep_pareto(const sweep_spec *s, sweep_results *r)
{
    memset(r->pareto, 0, (size_t)r->n_points);
    if (s->n_objectives == 0) return;
    for (uint64_t i = 0; i < r->n_points; i++) {
        if (!r->done[i] || !r->ok[i]) continue;
        int finite = 1;
        for (size_t j = 0; j < s->n_objectives; j++) finite &= isfinite(objv(s, r, i, j)) != 0;
        if (!finite) continue;
        int dominated = 0;
        for (uint64_t k = 0; k < r->n_points && !dominated; k++) {
            if (k == i || !r->done[k] || !r->ok[k]) continue;
            int no_worse = 1, better = 0;
            for (size_t j = 0; j < s->n_objectives && no_worse; j++) {
                double a = objv(s, r, k, j), b = objv(s, r, i, j);
                if (!isfinite(a) || a > b) no_worse = 0;
                if (a < b) better = 1;
            }
            dominated = no_worse && better;
        }
        r->pareto[i] = (unsigned char)!dominated;
    }
}

/* ---- result files -------------------------------------------------------------------------- */

static void csv_field(FILE *f, const char *v)
{
    if (!strpbrk(v, ",\"\n\r")) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"') fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static int finish_file(FILE *f, const char *tmp, const char *path, aimc_diag *d)
{
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (bad || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return AIMC_OK;
}

int sweep_write_csv(const sweep_spec *s, const sweep_results *r, const char *path,
                    aimc_diag *d)
{
    char tmp[SWEEP_PATH_LEN + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    size_t nc = sweep_value_columns(s);
    fputs("point", f);
    for (size_t c = 0; c < nc; c++) {
        fputc(',', f);
        csv_field(f, sweep_value_column(s, c));
    }
    fputs(",status", f);
    for (size_t i = 0; i < s->n_metrics; i++) fprintf(f, ",%s", sweep_metric_at((size_t)s->metrics[i])->name);
    fputs(",pareto\n", f);
    sweep_point p;
    for (uint64_t i = 0; i < r->n_points; i++) {
        if (!r->done[i]) continue;
        sweep_point_get(s, i, &p);
        fprintf(f, "%" PRIu64, i);
        for (size_t c = 0; c < p.n; c++) {
            fputc(',', f);
            csv_field(f, p.vals[c]);
        }
        fputc(',', f);
        if (r->ok[i]) {
            fputs("ok", f);
            for (size_t j = 0; j < s->n_metrics; j++) {
                char t[40];
                sweep_format_double(r->m[i * r->n_metrics + j], t, sizeof t);
                fprintf(f, ",%s", t);
            }
        } else {
            char msg[1100];
            snprintf(msg, sizeof msg, "error: %s", r->error[i] ? r->error[i] : "");
            csv_field(f, msg);
            for (size_t j = 0; j < s->n_metrics; j++) fputc(',', f);
        }
        fprintf(f, ",%d\n", r->pareto[i]);
    }
    return finish_file(f, tmp, path, d);
}

static const char *method_name(sweep_method m)
{
    return m == SWEEP_GRID ? "grid" : m == SWEEP_RANDOM ? "random" : "lhs";
}

int sweep_write_json(const sweep_spec *s, const sweep_results *r, const char *path,
                     aimc_diag *d)
{
    char tmp[SWEEP_PATH_LEN + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    aimc_json j;
    if (aimc_json_open(&j, tmp) != 0)
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
    size_t nc = sweep_value_columns(s);
    aimc_json_obj_begin(&j, NULL);
    aimc_json_str(&j, "aimc_version", AIMC_VERSION);
    aimc_json_str(&j, "sweep", s->name);
    aimc_json_obj_begin(&j, "sampling");
    aimc_json_str(&j, "method", method_name(s->method));
    aimc_json_u64(&j, "points", s->n_points);
    if (s->method != SWEEP_GRID) aimc_json_u64(&j, "seed", s->sample_seed);
    aimc_json_obj_end(&j);
    aimc_json_arr_begin(&j, "keys");
    for (size_t c = 0; c < nc; c++) aimc_json_str(&j, NULL, sweep_value_column(s, c));
    aimc_json_arr_end(&j);
    aimc_json_arr_begin(&j, "metrics");
    for (size_t i = 0; i < s->n_metrics; i++) {
        const sweep_metric *m = sweep_metric_at((size_t)s->metrics[i]);
        aimc_json_obj_begin(&j, NULL);
        aimc_json_str(&j, "name", m->name);
        aimc_json_str(&j, "unit", m->unit);
        aimc_json_obj_end(&j);
    }
    aimc_json_arr_end(&j);
    aimc_json_arr_begin(&j, "objectives");
    for (size_t i = 0; i < s->n_objectives; i++) {
        aimc_json_obj_begin(&j, NULL);
        aimc_json_str(&j, "metric", sweep_metric_at((size_t)s->metrics[s->obj[i]])->name);
        aimc_json_str(&j, "goal", s->obj_max[i] ? "max" : "min");
        aimc_json_obj_end(&j);
    }
    aimc_json_arr_end(&j);
    aimc_json_arr_begin(&j, "results");
    sweep_point p;
    for (uint64_t i = 0; i < r->n_points; i++) {
        if (!r->done[i]) continue;
        sweep_point_get(s, i, &p);
        aimc_json_obj_begin(&j, NULL);
        aimc_json_u64(&j, "point", i);
        aimc_json_obj_begin(&j, "values");
        for (size_t c = 0; c < nc; c++) {
            double v;
            if (aimc_parse_double(p.vals[c], &v) == AIMC_OK)
                aimc_json_num(&j, sweep_value_column(s, c), v);
            else
                aimc_json_str(&j, sweep_value_column(s, c), p.vals[c]);
        }
        aimc_json_obj_end(&j);
        aimc_json_str(&j, "status", r->ok[i] ? "ok" : "error");
        if (!r->ok[i]) aimc_json_str(&j, "error", r->error[i] ? r->error[i] : "");
        if (r->ok[i]) {
            aimc_json_obj_begin(&j, "metrics");
            for (size_t k = 0; k < s->n_metrics; k++)
                aimc_json_num(&j, sweep_metric_at((size_t)s->metrics[k])->name,
                              r->m[i * r->n_metrics + k]);
            aimc_json_obj_end(&j);
        }
        aimc_json_u64(&j, "pareto", r->pareto[i]);
        aimc_json_obj_end(&j);
    }
    aimc_json_arr_end(&j);
    aimc_json_obj_end(&j);
    if (aimc_json_close(&j) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return AIMC_OK;
}
