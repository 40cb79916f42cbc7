/* runtime.c - an MoE model's forward pass through the driver (aimc_rt.h). */
#include "aimc_rt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

int aimc_rt_program(aimc_dev *dev, const aimc_model *model, const aimc_plan *plan,
                    aimc_diag *d)
{
    for (size_t i = 0; i < model->n_matrices; i++) {
        const aimc_matrix *m = &model->m[i];
        if (!m->w)
            return aimc_diag_set(d, AIMC_ERR_INVALID, "matrix %s has no weights", m->name);
        int rc = aimc_weights_program(dev, (uint32_t)i, m->w, m->rows, m->cols,
                                      plan->tiles + plan->first[i], plan->count[i]);
        if (rc != AIMC_OK)
            return aimc_diag_set(d, rc, "programming %s: %s", m->name,
                                 *aimc_error_text(dev) ? aimc_error_text(dev)
                                                       : aimc_strerror(rc));
    }
    return AIMC_OK;
}

static void rms_norm(const float *x, size_t n, float *out)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++) ss += (double)x[i] * x[i];
    double inv = 1.0 / sqrt(ss / (double)n + 1e-6);
    for (size_t i = 0; i < n; i++) out[i] = (float)(x[i] * inv);
}

static double silu(double v) { return v / (1.0 + exp(-v)); }

/* Indices of the k largest of v[0..n-1], largest first; ties go to the lower index, so the
 * choice is deterministic. Softmax of the chosen values into p. */
static void top_k_softmax(const double *v, int n, int k, int *idx, double *p)
{
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < n; e++) {
            int taken = 0;
            for (int t = 0; t < j; t++) taken |= idx[t] == e;
            if (!taken && (best < 0 || v[e] > v[best])) best = e;
        }
        idx[j] = best;
    }
    double mx = v[idx[0]], sum = 0;
    for (int j = 0; j < k; j++) sum += (p[j] = exp(v[idx[j]] - mx));
    for (int j = 0; j < k; j++) p[j] /= sum;
}

/* One expert's FFN job in flight: its tokens, their inputs, gate/up/down outputs, fences. */
typedef struct {
    long gate, up, down;  /* matrix indices */
    size_t n;             /* tokens routed here */
    size_t *tok;          /* token index of each */
    double *weight;       /* routing weight of each (1 for shared experts) */
    float *in, *g, *u, *h, *out;
    uint64_t fence[3];
} expert_job;

static void job_free(expert_job *j)
{
    free(j->tok);
    free(j->weight);
    free(j->in);
    free(j->g);
    free(j->u);
    free(j->h);
    free(j->out);
}

static int job_alloc(expert_job *j, const aimc_model *model, size_t cap, int ff)
{
    size_t dm = (size_t)model->d_model;
    j->tok = malloc(cap * sizeof *j->tok);
    j->weight = malloc(cap * sizeof *j->weight);
    j->in = malloc(cap * dm * sizeof *j->in);
    j->g = malloc(cap * (size_t)ff * sizeof *j->g);
    j->u = malloc(cap * (size_t)ff * sizeof *j->u);
    j->h = malloc(cap * (size_t)ff * sizeof *j->h);
    j->out = malloc(cap * dm * sizeof *j->out);
    return (j->tok && j->weight && j->in && j->g && j->u && j->h && j->out) ? AIMC_OK
                                                                            : AIMC_ERR_NOMEM;
}

static int wait_fence(aimc_dev *dev, uint64_t fence, const char *what, aimc_diag *d)
{
    int rc = aimc_fence_wait(dev, fence, -1);
    if (rc != AIMC_OK)
        return aimc_diag_set(d, rc, "%s: %s", what,
                             *aimc_error_text(dev) ? aimc_error_text(dev) : aimc_strerror(rc));
    return AIMC_OK;
}

static int submit(aimc_dev *dev, long id, const float *x, size_t n, float *y, uint64_t *fence,
                  const char *name, aimc_diag *d)
{
    int rc = aimc_submit_mvm(dev, (uint32_t)id, x, (uint32_t)n, y, fence);
    if (rc != AIMC_OK)
        return aimc_diag_set(d, rc, "%s: %s", name,
                             *aimc_error_text(dev) ? aimc_error_text(dev) : aimc_strerror(rc));
    return AIMC_OK;
}

int aimc_rt_layer(aimc_dev *dev, const aimc_model *model, int layer, const float *x,
                  size_t ntok, float *y, int *experts, aimc_diag *d)
{
    const size_t dm = (size_t)model->d_model;
    const int ne = model->n_experts, k = model->top_k, ns = model->n_shared;
    const int njobs = ne + ns;
    int rc = AIMC_OK;
    long router = aimc_model_find(model, layer, AIMC_MAT_ROUTER, -1);
    if (router < 0) return aimc_diag_set(d, AIMC_ERR_NOTFOUND, "layer %d has no router", layer);

    float *xn = malloc(ntok * dm * sizeof *xn);
    float *logits = malloc(ntok * (size_t)ne * sizeof *logits);
    double *lv = malloc((size_t)ne * sizeof *lv);
    double *p = malloc((size_t)k * sizeof *p);
    int *idx = malloc((size_t)k * sizeof *idx);
    expert_job *jobs = calloc((size_t)njobs, sizeof *jobs);
    if (!xn || !logits || !lv || !p || !idx || !jobs) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory in layer %d", layer);
        goto out;
    }
    for (size_t t = 0; t < ntok; t++) rms_norm(x + t * dm, dm, xn + t * dm);

    /* Router on the device, then top-k and softmax on the host. */
    uint64_t f;
    if ((rc = submit(dev, router, xn, ntok, logits, &f, model->m[router].name, d)) ||
        (rc = wait_fence(dev, f, model->m[router].name, d)))
        goto out;

    for (int e = 0; e < njobs; e++) {
        expert_job *j = &jobs[e];
        int shared = e >= ne;
        j->gate = aimc_model_find(model, layer, AIMC_MAT_GATE, e);
        j->up = aimc_model_find(model, layer, AIMC_MAT_UP, e);
        j->down = aimc_model_find(model, layer, AIMC_MAT_DOWN, e);
        if (j->gate < 0 || j->up < 0 || j->down < 0) {
            rc = aimc_diag_set(d, AIMC_ERR_NOTFOUND, "layer %d expert %d is incomplete", layer, e);
            goto out;
        }
        if ((rc = job_alloc(j, model, ntok, shared ? model->shared_d_ff : model->d_ff))) {
            aimc_diag_set(d, rc, "out of memory in layer %d", layer);
            goto out;
        }
        if (shared) {
            for (size_t t = 0; t < ntok; t++) {
                j->tok[j->n] = t;
                j->weight[j->n++] = 1.0;
            }
        }
    }
    for (size_t t = 0; t < ntok; t++) {
        for (int e = 0; e < ne; e++) lv[e] = logits[t * (size_t)ne + (size_t)e];
        top_k_softmax(lv, ne, k, idx, p);
        for (int j = 0; j < k; j++) {
            expert_job *job = &jobs[idx[j]];
            job->tok[job->n] = t;
            job->weight[job->n++] = p[j];
            if (experts) experts[t * (size_t)k + (size_t)j] = idx[j];
        }
    }

    /* Gate and up of every active expert in flight together, then the downs. */
    for (int e = 0; e < njobs; e++) {
        expert_job *j = &jobs[e];
        if (!j->n) continue;
        for (size_t i = 0; i < j->n; i++) memcpy(j->in + i * dm, xn + j->tok[i] * dm, dm * sizeof *xn);
        if ((rc = submit(dev, j->gate, j->in, j->n, j->g, &j->fence[0], model->m[j->gate].name, d)) ||
            (rc = submit(dev, j->up, j->in, j->n, j->u, &j->fence[1], model->m[j->up].name, d)))
            goto out;
    }
    for (int e = 0; e < njobs; e++) {
        expert_job *j = &jobs[e];
        if (!j->n) continue;
        if ((rc = wait_fence(dev, j->fence[0], model->m[j->gate].name, d)) ||
            (rc = wait_fence(dev, j->fence[1], model->m[j->up].name, d)))
            goto out;
        size_t ff = model->m[j->gate].cols;
        for (size_t i = 0; i < j->n * ff; i++) j->h[i] = (float)(silu(j->g[i]) * j->u[i]);
        if ((rc = submit(dev, j->down, j->h, j->n, j->out, &j->fence[2], model->m[j->down].name, d)))
            goto out;
    }
    memset(y, 0, ntok * dm * sizeof *y);
    for (int e = 0; e < njobs; e++) {
        expert_job *j = &jobs[e];
        if (!j->n) continue;
        if ((rc = wait_fence(dev, j->fence[2], model->m[j->down].name, d))) goto out;
        for (size_t i = 0; i < j->n; i++)
            for (size_t c = 0; c < dm; c++)
                y[j->tok[i] * dm + c] += (float)(j->weight[i] * j->out[i * dm + c]);
    }
out:
    /* Jobs still in flight after an error are waited for so that their output buffers may
     * be freed safely; their own errors are secondary and not reported. */
    if (rc != AIMC_OK && jobs) {
        for (int e = 0; e < njobs; e++)
            for (int q = 0; q < 3; q++)
                if (jobs[e].fence[q]) (void)aimc_fence_wait(dev, jobs[e].fence[q], -1);
    }
    if (jobs)
        for (int e = 0; e < njobs; e++) job_free(&jobs[e]);
    free(jobs);
    free(idx);
    free(p);
    free(lv);
    free(logits);
    free(xn);
    return rc;
}

/* out[n x cols] = in[n x rows] W, in double. */
static void matmul_ref(const aimc_matrix *m, const double *in, size_t n, double *out)
{
    for (size_t t = 0; t < n; t++) {
        double *o = out + t * m->cols;
        for (uint32_t c = 0; c < m->cols; c++) o[c] = 0;
        for (uint32_t r = 0; r < m->rows; r++) {
            double v = in[t * m->rows + r];
            const float *w = m->w + (size_t)r * m->cols;
            for (uint32_t c = 0; c < m->cols; c++) o[c] += v * w[c];
        }
    }
}

int aimc_rt_layer_ref(const aimc_model *model, int layer, const float *x, size_t ntok,
                      double *y, int *experts)
{
    const size_t dm = (size_t)model->d_model;
    const int ne = model->n_experts, k = model->top_k;
    size_t ffmax = (size_t)(model->d_ff > model->shared_d_ff ? model->d_ff : model->shared_d_ff);
    float *xn = malloc(dm * sizeof *xn);
    double *in = malloc(dm * sizeof *in);
    double *lv = malloc((size_t)ne * sizeof *lv);
    double *g = malloc(ffmax * sizeof *g), *u = malloc(ffmax * sizeof *u);
    double *out = malloc(dm * sizeof *out);
    double *p = malloc((size_t)k * sizeof *p);
    int *idx = malloc((size_t)k * sizeof *idx);
    int rc = AIMC_OK;
    if (!xn || !in || !lv || !g || !u || !out || !p || !idx) {
        rc = AIMC_ERR_NOMEM;
        goto out;
    }
    long router = aimc_model_find(model, layer, AIMC_MAT_ROUTER, -1);
    for (size_t t = 0; t < ntok; t++) {
        double *yt = y + t * dm;
        rms_norm(x + t * dm, dm, xn);
        for (size_t i = 0; i < dm; i++) in[i] = xn[i];
        matmul_ref(&model->m[router], in, 1, lv);
        top_k_softmax(lv, ne, k, idx, p);
        for (size_t c = 0; c < dm; c++) yt[c] = 0;
        for (int j = 0; j < k + model->n_shared; j++) {
            int e = j < k ? idx[j] : ne + (j - k);
            double wgt = j < k ? p[j] : 1.0;
            const aimc_matrix *mg = &model->m[aimc_model_find(model, layer, AIMC_MAT_GATE, e)];
            const aimc_matrix *mu = &model->m[aimc_model_find(model, layer, AIMC_MAT_UP, e)];
            const aimc_matrix *md = &model->m[aimc_model_find(model, layer, AIMC_MAT_DOWN, e)];
            matmul_ref(mg, in, 1, g);
            matmul_ref(mu, in, 1, u);
            for (uint32_t i = 0; i < mg->cols; i++) g[i] = silu(g[i]) * u[i];
            matmul_ref(md, g, 1, out);
            for (size_t c = 0; c < dm; c++) yt[c] += wgt * out[c];
        }
        if (experts)
            for (int j = 0; j < k; j++) experts[t * (size_t)k + (size_t)j] = idx[j];
    }
out:
    free(idx);
    free(p);
    free(out);
    free(u);
    free(g);
    free(lv);
    free(in);
    free(xn);
    return rc;
}

void aimc_rt_tokens(uint64_t seed, size_t ntok, size_t d_model, float *x)
{
    uint64_t key = aimc_rng_key(seed, AIMC_RNG_DOMAIN_TOKENS, 0, 0);
    for (size_t i = 0; i < ntok * d_model; i++) x[i] = (float)aimc_rng_normal(key, i);
}

static int same_set(const int *a, const int *b, int k)
{
    for (int i = 0; i < k; i++) {
        int found = 0;
        for (int j = 0; j < k; j++) found |= a[i] == b[j];
        if (!found) return 0;
    }
    return 1;
}

static void counters_diff(aimc_counters *out, const aimc_counters *after,
                          const aimc_counters *before)
{
    out->cycles = after->cycles - before->cycles;
    out->mvms = after->mvms - before->mvms;
    out->adc_conversions = after->adc_conversions - before->adc_conversions;
    out->adc_saturations = after->adc_saturations - before->adc_saturations;
    out->dac_drives = after->dac_drives - before->dac_drives;
    out->xbar_reads = after->xbar_reads - before->xbar_reads;
    out->digital_ops = after->digital_ops - before->digital_ops;
    out->cells_programmed = after->cells_programmed - before->cells_programmed;
    for (int c = 0; c < 4; c++) out->energy_pj[c] = after->energy_pj[c] - before->energy_pj[c];
}

int aimc_rt_run(aimc_dev *dev, const aimc_model *model, const float *x0, size_t ntok,
                aimc_rt_report *r, aimc_diag *d)
{
    const size_t dm = (size_t)model->d_model, k = (size_t)model->top_k;
    memset(r, 0, sizeof *r);
    if (model->layers > AIMC_RT_MAX_LAYERS)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "at most %d layers can be run, model has %d",
                             AIMC_RT_MAX_LAYERS, model->layers);
    r->tokens = ntok;
    r->layers = model->layers;
    float *x = malloc(ntok * dm * sizeof *x);
    float *y = malloc(ntok * dm * sizeof *y);
    double *yref = malloc(ntok * dm * sizeof *yref);
    int *ehw = malloc(ntok * k * sizeof *ehw), *eref = malloc(ntok * k * sizeof *eref);
    aimc_counters before, after;
    int rc = AIMC_OK;
    if (!x || !y || !yref || !ehw || !eref) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for %zu tokens", ntok);
        goto out;
    }
    memcpy(x, x0, ntok * dm * sizeof *x);
    if ((rc = aimc_counters_read(dev, &before)) != AIMC_OK) {
        aimc_diag_set(d, rc, "reading counters: %s", aimc_strerror(rc));
        goto out;
    }
    double err2 = 0, ref2 = 0;
    size_t agree = 0;
    for (int l = 0; l < model->layers; l++) {
        if ((rc = aimc_rt_layer(dev, model, l, x, ntok, y, ehw, d)) != AIMC_OK) goto out;
        if ((rc = aimc_rt_layer_ref(model, l, x, ntok, yref, eref)) != AIMC_OK) {
            aimc_diag_set(d, rc, "reference of layer %d: %s", l, aimc_strerror(rc));
            goto out;
        }
        double le2 = 0, lr2 = 0;
        for (size_t i = 0; i < ntok * dm; i++) {
            double e = (double)y[i] - yref[i];
            le2 += e * e;
            lr2 += yref[i] * yref[i];
            x[i] += y[i];
        }
        for (size_t t = 0; t < ntok; t++) agree += same_set(ehw + t * k, eref + t * k, (int)k);
        r->layer_rel_rms_error[l] = lr2 > 0 ? sqrt(le2 / lr2) : sqrt(le2);
        err2 += le2;
        ref2 += lr2;
    }
    r->rel_rms_error = ref2 > 0 ? sqrt(err2 / ref2) : sqrt(err2);
    r->routing_agreement = (double)agree / (double)(ntok * (size_t)model->layers);
    if ((rc = aimc_counters_read(dev, &after)) != AIMC_OK) {
        aimc_diag_set(d, rc, "reading counters: %s", aimc_strerror(rc));
        goto out;
    }
    counters_diff(&r->cost, &after, &before);
out:
    free(eref);
    free(ehw);
    free(yref);
    free(y);
    free(x);
    return rc;
}
