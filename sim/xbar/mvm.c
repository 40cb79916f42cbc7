/* mvm.c - aimc_xbar_mvm and the split MVM of the RTL (aimc_xbar_mvm_run_*): checks, read-data
 * refresh, chunks of vectors over threads, counters. The arithmetic is kern.c's.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "xbar_int.h"

typedef struct mvm_job {
    aimc_xbar *s;
    const sim_matrix *m;
    const float *x;
    float *y;
    uint32_t batch;
    uint32_t n_chunks;
    mvm_chunk *chunks;
    int n_workers;
    int worker;
    const mvm_capture *cap;
    mvm_scratch sc;
    pthread_t tid;
} mvm_job;

/* Room for `workers` workers and n_chunks chunks in the machine's pool (kept between calls). */
static int pool_reserve(aimc_xbar *s, int workers, uint32_t n_chunks)
{
    if (workers > s->n_arenas) {
        xbar_arena *a = realloc(s->arenas, (size_t)workers * sizeof *a);
        if (!a) return AIMC_ERR_NOMEM;
        memset(a + s->n_arenas, 0, (size_t)(workers - s->n_arenas) * sizeof *a);
        s->arenas = a;
        mvm_job *j = realloc(s->jobs, (size_t)workers * sizeof *j);
        if (!j) return AIMC_ERR_NOMEM;
        s->jobs = j;
        s->n_arenas = workers;
    }
    if (n_chunks > s->chunks_cap) {
        mvm_chunk *c = realloc(s->chunks, (size_t)n_chunks * sizeof *c);
        if (!c) return AIMC_ERR_NOMEM;
        s->chunks = c;
        s->chunks_cap = n_chunks;
    }
    return AIMC_OK;
}

void xbar_scratch_release(aimc_xbar *s)
{
    for (int w = 0; w < s->n_arenas; w++) free(s->arenas[w].base);
    free(s->arenas);
    free(s->jobs);
    free(s->chunks);
    s->arenas = NULL;
    s->jobs = NULL;
    s->chunks = NULL;
    s->n_arenas = 0;
    s->chunks_cap = 0;
}

size_t xbar_scratch_bytes_of(const aimc_xbar *s)
{
    size_t b = (size_t)s->n_arenas * (sizeof(xbar_arena) + sizeof(mvm_job)) +
               (size_t)s->chunks_cap * sizeof(mvm_chunk);
    for (int w = 0; w < s->n_arenas; w++) b += s->arenas[w].cap;
    return b;
}

static void *mvm_worker(void *arg)
{
    mvm_job *j = arg;
    for (uint32_t c = (uint32_t)j->worker; c < j->n_chunks; c += (uint32_t)j->n_workers) {
        uint32_t b0 = c * SIM_CHUNK;
        uint32_t nb = j->batch - b0 < SIM_CHUNK ? j->batch - b0 : SIM_CHUNK;
        xbar_chunk_run(j->s, j->m, j->x, j->y, b0, nb, &j->sc, &j->chunks[c], j->cap);
    }
    return NULL;
}

static int mvm_exec(aimc_xbar *s, uint32_t id, const float *x, uint32_t batch, float *y,
                    aimc_xbar_stats *st, const mvm_capture *cap)
{
    if (!s) return AIMC_ERR_BADHANDLE;
    if (id >= AIMC_XBAR_MAX_MATRICES) return AIMC_ERR_RANGE;
    if (id >= s->mats_cap || !s->mats[id] || s->mats[id]->stale) return AIMC_ERR_STATE;
    if (batch == 0) return AIMC_OK;
    if (!x || !y) return AIMC_ERR_INVALID;

    sim_matrix *m = s->mats[id];
    if (!xbar_all_finite(x, (size_t)batch * m->rows)) return AIMC_ERR_INVALID;

    /* A read option changed since a tile's read data was built: rebuild it. */
    int rc = xbar_refresh_matrix(s, m);
    if (rc) return rc;

    const uint32_t n_chunks = (batch + SIM_CHUNK - 1) / SIM_CHUNK;
    int n_workers = s->threads < (int)n_chunks ? s->threads : (int)n_chunks;
    rc = pool_reserve(s, n_workers, n_chunks);
    if (rc) return rc;
    mvm_chunk *chunks = s->chunks;
    mvm_job *jobs = s->jobs;
    for (int w = 0; w < n_workers; w++) {
        jobs[w] = (mvm_job){.s = s, .m = m, .x = x, .y = y, .batch = batch, .n_chunks = n_chunks,
                            .chunks = chunks, .n_workers = n_workers, .worker = w, .cap = cap};
        rc = xbar_scratch_carve(&jobs[w].sc, &s->arenas[w], s, m, batch);
        if (rc) return rc;
    }

    int started = 0;
    for (int w = 1; w < n_workers; w++) {
        if (pthread_create(&jobs[w].tid, NULL, mvm_worker, &jobs[w]) != 0) break;
        started = w;
    }
    /* Workers that did not start: their chunks run here, after worker 0's. */
    mvm_worker(&jobs[0]);
    for (int w = started + 1; w < n_workers; w++) mvm_worker(&jobs[w]);
    for (int w = 1; w <= started; w++) pthread_join(jobs[w].tid, NULL);

    /* Every tile of the matrix activated its crossbar once per step and vector. */
    for (size_t k = 0; k < m->n_tiles; k++)
        s->xbars[m->tiles[k].t.xbar].reads += (uint64_t)batch * s->steps;

    if (st) {
        uint64_t drives = 0, sats = 0;
        double xbar_e = 0.0;
        for (uint32_t c = 0; c < n_chunks; c++) {
            drives += chunks[c].drives;
            sats += chunks[c].sats;
            xbar_e += chunks[c].xbar_e;
        }
        st->mvms += batch;
        st->dac_drives += drives;
        st->adc_saturations += sats;
        /* xbar_e is in input-code units squared: (v / v_read)^2 = (u / u_max)^2. */
        st->xbar_charge += xbar_e / ((double)s->u_max * (double)s->u_max);
    }
    return AIMC_OK;
}

int aimc_xbar_mvm(aimc_xbar *s, uint32_t id, const float *x, uint32_t batch, float *y,
                 aimc_xbar_stats *st)
{
    return mvm_exec(s, id, x, batch, y, st, NULL);
}

/* ---- an MVM whose shift-and-add happens elsewhere (the RTL) -------------------------- */

struct aimc_xbar_mvm_run {
    const aimc_xbar *s;
    const sim_matrix *m;
    uint32_t batch;
    mvm_capture cap;
    size_t *off;  /* per tile (m->tiles order): offset in a vector's codes and accumulators */
    int64_t *A;   /* batch x per_vec / steps: the shift-and-add results handed back */
};

void aimc_xbar_mvm_run_free(aimc_xbar_mvm_run *r)
{
    if (!r) return;
    free(r->cap.codes);
    free(r->cap.p);
    free(r->cap.x_scale);
    free(r->off);
    free(r->A);
    free(r);
}

int aimc_xbar_mvm_run_open(aimc_xbar *s, uint32_t id, const float *x, uint32_t batch,
                          aimc_xbar_stats *st, aimc_xbar_mvm_run **out)
{
    if (!out) return AIMC_ERR_INVALID;
    *out = NULL;
    if (!s) return AIMC_ERR_BADHANDLE;
    if (id >= AIMC_XBAR_MAX_MATRICES) return AIMC_ERR_RANGE;
    if (id >= s->mats_cap || !s->mats[id] || s->mats[id]->stale) return AIMC_ERR_STATE;
    if (batch == 0 || !x) return AIMC_ERR_INVALID;
    const sim_matrix *m = s->mats[id];
    aimc_xbar_mvm_run *r = calloc(1, sizeof *r);
    if (!r) return AIMC_ERR_NOMEM;
    r->s = s;
    r->m = m;
    r->batch = batch;
    r->off = malloc(m->n_tiles * sizeof *r->off);
    size_t cols_sum = 0;
    if (r->off)
        for (size_t k = 0; k < m->n_tiles; k++) {
            r->off[k] = cols_sum;
            cols_sum += m->tiles[k].t.ncols;
        }
    const size_t steps = (size_t)s->steps;
    r->cap.per_vec = cols_sum * steps;
    r->cap.codes = malloc((size_t)batch * r->cap.per_vec * sizeof *r->cap.codes);
    r->cap.p = malloc((size_t)batch * m->rows * sizeof *r->cap.p);
    r->cap.x_scale = malloc((size_t)batch * sizeof *r->cap.x_scale);
    r->A = calloc((size_t)batch * cols_sum, sizeof *r->A);
    size_t *coff = malloc(m->n_tiles * sizeof *coff);
    float *y = malloc((size_t)batch * m->cols * sizeof *y);
    int rc = AIMC_ERR_NOMEM;
    if (r->off && r->cap.codes && r->cap.p && r->cap.x_scale && r->A && coff && y) {
        for (size_t k = 0; k < m->n_tiles; k++) coff[k] = r->off[k] * steps;
        r->cap.off = coff;
        rc = mvm_exec(s, id, x, batch, y, st, &r->cap);
    }
    free(y);
    free(coff);
    r->cap.off = NULL;
    if (rc) {
        aimc_xbar_mvm_run_free(r);
        return rc;
    }
    *out = r;
    return AIMC_OK;
}

uint32_t aimc_xbar_mvm_run_tiles(const aimc_xbar_mvm_run *r)
{
    return r ? (uint32_t)r->m->n_tiles : 0;
}

uint32_t aimc_xbar_mvm_run_vectors(const aimc_xbar_mvm_run *r)
{
    return r ? r->batch : 0;
}

int aimc_xbar_mvm_run_tile(const aimc_xbar_mvm_run *r, uint32_t k, uint32_t *xbar, uint32_t *ncols)
{
    if (!r || k >= r->m->n_tiles) return AIMC_ERR_RANGE;
    const aimc_tile *t = &r->m->tiles[r->m->order[k]].t;
    if (xbar) *xbar = t->xbar;
    if (ncols) *ncols = t->ncols;
    return AIMC_OK;
}

const int32_t *aimc_xbar_mvm_run_codes(const aimc_xbar_mvm_run *r, uint32_t v, uint32_t k,
                                      uint32_t step)
{
    if (!r || v >= r->batch || k >= r->m->n_tiles || step >= (uint32_t)r->s->steps) return NULL;
    const uint32_t i = r->m->order[k];
    return r->cap.codes + (size_t)v * r->cap.per_vec + r->off[i] * (size_t)r->s->steps +
           (size_t)step * r->m->tiles[i].t.ncols;
}

int64_t *aimc_xbar_mvm_run_acc(aimc_xbar_mvm_run *r, uint32_t v, uint32_t k)
{
    if (!r || v >= r->batch || k >= r->m->n_tiles) return NULL;
    const size_t per = r->cap.per_vec / (size_t)r->s->steps;
    return r->A + (size_t)v * per + r->off[r->m->order[k]];
}

int aimc_xbar_mvm_run_finish(const aimc_xbar_mvm_run *r, float *y)
{
    if (!r || !y) return AIMC_ERR_INVALID;
    const sim_matrix *m = r->m;
    const size_t per = r->cap.per_vec / (size_t)r->s->steps;
    double *Y = malloc((size_t)m->cols * sizeof *Y);
    if (!Y) return AIMC_ERR_NOMEM;
    for (uint32_t v = 0; v < r->batch; v++) {
        const int32_t *pv = r->cap.p + (size_t)v * m->rows;
        memset(Y, 0, (size_t)m->cols * sizeof *Y);
        for (size_t k = 0; k < m->n_tiles; k++) {
            const sim_tile *tl = &m->tiles[k];
            xbar_tile_output(tl, r->A + (size_t)v * per + r->off[k], pv + tl->t.row0,
                        Y + tl->t.col0);
        }
        float *yv = y + (size_t)v * m->cols;
        for (uint32_t c = 0; c < m->cols; c++)
            yv[c] = (float)(Y[c] * m->w_scale * r->cap.x_scale[v]);
    }
    free(Y);
    return AIMC_OK;
}
