/* eng_trace.c - the engine's trace hook and its Chrome trace-event JSON writer
 * (sim/engine/aimc_engine.h; format: the Trace Event Format document of the Chromium project, complete
 * events "X" and metadata events "M", timestamps in microseconds).
 */
#include "eng_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A resource unit's lane (Chrome "tid"): unique per (resource, unit), as units are below
 * AIMC_ENG_ARRAY_UNITS_MAX = 2^24. */
#define LANE(res, unit) (((uint64_t)(res) << 24) | (uint64_t)(unit))

struct eng_tracew {
    aimc_eng *e;
    FILE *f;
    double clock_mhz;
    int first;     /* no event written yet */
    int nomem;     /* a resource's lane bitmap could not be allocated */
    char path[512];
};

void aimc_eng__emit(aimc_eng *e, int id, uint32_t unit, uint64_t begin, uint64_t end)
{
    const eng_res *r = &e->res[id];
    const aimc_eng_span s = {id, r->name, r->kind, r->track, unit, begin, end};
    e->trace(e->trace_user, &s);
}

int aimc_eng_set_trace(aimc_eng *e, aimc_eng_trace_fn fn, void *user)
{
    if (!e) return AIMC_ERR_BADHANDLE;
    if (e->tw) return AIMC_ERR_STATE;
    e->trace = fn;
    e->trace_user = fn ? user : NULL;
    return AIMC_OK;
}

/* Resource names are printable ASCII; only '"' and '\\' need escaping in JSON. */
static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void put_sep(eng_tracew *w)
{
    fputs(w->first ? "\n" : ",\n", w->f);
    w->first = 0;
}

static const char *const kind_name[1] = {"array"};

static void tracew_hook(void *user, const aimc_eng_span *s)
{
    eng_tracew *w = user;
    eng_res *r = &w->e->res[s->res];
    if (!r->trace_seen) {
        r->trace_seen = calloc(r->units / 8 + 1, 1);
        if (!r->trace_seen) w->nomem = 1;
    }
    if (r->trace_seen) r->trace_seen[s->unit / 8] |= (uint8_t)(1u << (s->unit % 8));
    put_sep(w);
    fputs("{\"name\":", w->f);
    put_json_string(w->f, s->name);
    fprintf(w->f,
            ",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%.6f,\"dur\":%.6f,\"pid\":%" PRIu32
            ",\"tid\":%" PRIu64 ",\"args\":{\"unit\":%" PRIu32 ",\"begin_cycle\":%" PRIu64
            ",\"end_cycle\":%" PRIu64 "}}",
            kind_name[s->kind], (double)s->begin / w->clock_mhz,
            (double)(s->end - s->begin) / w->clock_mhz, s->track, LANE(s->res, s->unit),
            s->unit, s->begin, s->end);
}

int aimc_eng_trace_open(aimc_eng *e, const char *path, double clock_mhz, aimc_diag *d)
{
    if (!e) return aimc_diag_set(d, AIMC_ERR_BADHANDLE, "engine: NULL engine");
    if (!path || !path[0] || strlen(path) >= sizeof ((eng_tracew *)0)->path)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "engine: trace: path: 1 to 511 characters");
    if (!isfinite(clock_mhz) || clock_mhz <= 0)
        return aimc_diag_set(d, AIMC_ERR_INVALID,
                             "%s: clock_mhz %g: must be > 0 and finite", path, clock_mhz);
    if (e->tw || e->trace)
        return aimc_diag_set(d, AIMC_ERR_STATE, "%s: a trace hook is already installed", path);
    eng_tracew *w = calloc(1, sizeof *w);
    if (!w) return aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
    w->f = fopen(path, "w");
    if (!w->f) {
        int err = errno;
        free(w);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot create the trace file: %s", path,
                             strerror(err));
    }
    w->e = e;
    w->clock_mhz = clock_mhz;
    w->first = 1;
    strcpy(w->path, path);
    fputs("{\"traceEvents\":[", w->f);
    e->tw = w;
    e->trace = tracew_hook;
    e->trace_user = w;
    return AIMC_OK;
}

static int cmp_u32(const void *a, const void *b)
{
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Metadata: a name per process (track) and per lane that had work, sorted so that lanes keep
 * their creation order in the viewer. Returns 0 when out of memory. */
static int write_metadata(eng_tracew *w)
{
    aimc_eng *e = w->e;
    size_t ntracks = 0;
    uint32_t *tracks = malloc((e->nres ? e->nres : 1) * sizeof *tracks);
    if (!tracks) return 0;
    for (size_t i = 0; i < e->nres; i++)
        if (e->res[i].trace_seen) tracks[ntracks++] = e->res[i].track;
    qsort(tracks, ntracks, sizeof *tracks, cmp_u32);
    for (size_t i = 0; i < ntracks; i++) {
        if (i > 0 && tracks[i] == tracks[i - 1]) continue;
        put_sep(w);
        fprintf(w->f,
                "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%" PRIu32
                ",\"tid\":0,\"args\":{\"name\":\"track %" PRIu32 "\"}}",
                tracks[i], tracks[i]);
    }
    free(tracks);
    for (size_t i = 0; i < e->nres; i++) {
        const eng_res *r = &e->res[i];
        if (!r->trace_seen) continue;
        for (uint32_t u = 0; u < r->units; u++) {
            if (!(r->trace_seen[u / 8] >> (u % 8) & 1)) continue;
            put_sep(w);
            fprintf(w->f, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%" PRIu32
                          ",\"tid\":%" PRIu64 ",\"args\":{\"name\":",
                    r->track, LANE(i, u));
            if (r->units == 1) {
                put_json_string(w->f, r->name);
            } else {
                char lane[AIMC_ENG_NAME_MAX + 16];
                snprintf(lane, sizeof lane, "%s[%" PRIu32 "]", r->name, u);
                put_json_string(w->f, lane);
            }
            fprintf(w->f, "}},\n{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":%" PRIu32
                          ",\"tid\":%" PRIu64 ",\"args\":{\"sort_index\":%zu}}",
                    r->track, LANE(i, u), i);
        }
    }
    return 1;
}

/* Forget which lanes had work. */
static void lanes_free(aimc_eng *e)
{
    for (size_t i = 0; i < e->nres; i++) {
        free(e->res[i].trace_seen);
        e->res[i].trace_seen = NULL;
    }
}

int aimc_eng_trace_close(aimc_eng *e, aimc_diag *d)
{
    eng_tracew *w = e ? e->tw : NULL;
    if (!w) return aimc_diag_set(d, AIMC_ERR_STATE, "engine: trace: no trace file is open");
    const int ok = !w->nomem && write_metadata(w);
    fputs("\n]}\n", w->f);
    const int werr = ferror(w->f);
    const int cerr = fclose(w->f);
    int rc = AIMC_OK;
    if (!ok)
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory writing the trace", w->path);
    else if (werr || cerr)
        rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: writing the trace failed", w->path);
    lanes_free(e);
    e->trace = NULL;
    e->trace_user = NULL;
    e->tw = NULL;
    free(w);
    return rc;
}

void aimc_eng__trace_free(aimc_eng *e)
{
    if (!e->tw) return;
    lanes_free(e);
    fclose(e->tw->f);
    free(e->tw);
    e->tw = NULL;
    e->trace = NULL;
    e->trace_user = NULL;
}
