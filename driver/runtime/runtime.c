/* runtime.c - an MoE model's forward pass through the driver (aimc_rt.h): every step of a
 * layer is a device command; the host only moves the input in, reads the routing decisions
 * to make each expert's token list, and moves the output out. */
#include "aimc_rt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aimc_moe.h"
#include "rng.h"

int aimc_rt_program(aimc_dev *dev, const aimc_model *model, const aimc_plan *plan,
                    const aimc_weights_opts *opts, aimc_weights_report *total, aimc_diag *d)
{
    if (total) memset(total, 0, sizeof *total);
    double sq = 0; /* sum of squared conductance errors, for the total's rms */
    aimc_dev_info info;
    int rc = aimc_query(dev, &info);
    if (rc != AIMC_OK) return aimc_diag_set(d, rc, "querying the device: %s", aimc_strerror(rc));
    if (model->n_matrices > info.max_matrices)
        return aimc_diag_set(d, AIMC_ERR_NOFIT, "model %s has %zu matrices, the device holds at "
                             "most %u (CAP_MAX_MATRICES)", model->name, model->n_matrices,
                             info.max_matrices);
    for (size_t i = 0; i < model->n_matrices; i++) {
        const aimc_matrix *m = &model->m[i];
        if (!m->w)
            return aimc_diag_set(d, AIMC_ERR_INVALID, "matrix %s has no weights", m->name);
        aimc_weights_report rep = {0};
        rc = aimc_weights_program(dev, (uint32_t)i, m->w, m->rows, m->cols,
                                  plan->tiles + plan->first[i], plan->count[i], opts, &rep);
        /* Devices left outside the tolerance by verify are a result, not a failure: the
         * matrix is programmed and the report says how many. */
        if (rc == AIMC_ERR_DEVICE && rep.devices_failed > 0) rc = AIMC_OK;
        if (total && rc == AIMC_OK) {
            if (rep.iterations > total->iterations) total->iterations = rep.iterations;
            total->devices += rep.devices;
            total->devices_failed += rep.devices_failed;
            total->pulses += rep.pulses;
            sq += rep.rms_error_us * rep.rms_error_us * (double)rep.devices;
            total->rms_error_us = total->devices ? sqrt(sq / (double)total->devices) : 0.0;
        }
        if (rc != AIMC_OK)
            return aimc_diag_set(d, rc, "programming %s: %s", m->name,
                                 *aimc_error_text(dev) ? aimc_error_text(dev)
                                                       : aimc_strerror(rc));
    }
    return AIMC_OK;
}

/* One expert's work on the device: its tokens and their buffers (device memory). */
typedef struct {
    long gate, up, down;  /* matrix indices */
    uint32_t n, ff;       /* tokens routed here, hidden width */
    int shared;
    uint32_t *tok;        /* host copy of the token list */
    float *weight;        /* host copy of the routing weights */
    aimc_bo *btok, *bw, *bin, *bg, *bu, *bh, *bout;
} expert_job;

static void job_free(expert_job *j)
{
    free(j->tok);
    free(j->weight);
    aimc_bo_destroy(j->btok);
    aimc_bo_destroy(j->bw);
    aimc_bo_destroy(j->bin);
    aimc_bo_destroy(j->bg);
    aimc_bo_destroy(j->bu);
    aimc_bo_destroy(j->bh);
    aimc_bo_destroy(j->bout);
}

/* The fences of one layer, waited for in order at the end (commands run in order). */
typedef struct {
    uint64_t *f;
    size_t n, cap;
} fence_list;

static int drv_err(aimc_dev *dev, int rc, const char *what, aimc_diag *d)
{
    return aimc_diag_set(d, rc, "%s: %s", what,
                         *aimc_error_text(dev) ? aimc_error_text(dev) : aimc_strerror(rc));
}

static int fence_push(fence_list *l, uint64_t f)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 64;
        uint64_t *nf = realloc(l->f, cap * sizeof *nf);
        if (!nf) return AIMC_ERR_NOMEM;
        l->f = nf;
        l->cap = cap;
    }
    l->f[l->n++] = f;
    return AIMC_OK;
}

/* Wait for every fence of l; the first failure is reported, the rest are still waited for
 * so that no command is in flight when its buffers are freed. */
static int fence_wait_all(aimc_dev *dev, fence_list *l, int rc, aimc_diag *d)
{
    for (size_t i = 0; i < l->n; i++) {
        int r = aimc_fence_wait(dev, l->f[i], -1);
        if (r != AIMC_OK && rc == AIMC_OK) rc = drv_err(dev, r, "MoE layer command", d);
    }
    l->n = 0;
    return rc;
}

static int bo_new(aimc_dev *dev, size_t bytes, aimc_bo **bo, aimc_diag *d)
{
    int rc = aimc_bo_create(dev, bytes, bo);
    return rc ? drv_err(dev, rc, "device buffer", d) : AIMC_OK;
}

int aimc_rt_layer(aimc_dev *dev, const aimc_model *model, int layer, const float *x,
                  size_t ntok, float *y, int *experts, aimc_diag *d)
{
    const size_t dm = (size_t)model->d_model;
    const int ne = model->n_experts, k = model->top_k, ns = model->n_shared;
    const int njobs = ne + ns;
    aimc_bo *bx = NULL, *bn = NULL, *blog = NULL, *bidx = NULL, *bp = NULL, *by = NULL;
    fence_list fl = {0};
    expert_job *jobs = NULL;
    aimc_dev_info info;
    uint64_t f;
    int rc;
    long router = aimc_model_find(model, layer, AIMC_MAT_ROUTER, -1);
    if (router < 0) return aimc_diag_set(d, AIMC_ERR_NOTFOUND, "layer %d has no router", layer);
    if ((rc = aimc_query(dev, &info))) return drv_err(dev, rc, "querying the device", d);
    if (ntok == 0 || ntok > info.max_batch)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%zu tokens: the device takes 1..%u per "
                             "command", ntok, info.max_batch);
    const uint32_t nt = (uint32_t)ntok;

    jobs = calloc((size_t)njobs, sizeof *jobs);
    if (!jobs) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory in layer %d", layer);
        goto out;
    }
    if ((rc = bo_new(dev, ntok * dm * sizeof(float), &bx, d)) ||
        (rc = bo_new(dev, ntok * dm * sizeof(float), &bn, d)) ||
        (rc = bo_new(dev, ntok * (size_t)ne * sizeof(float), &blog, d)) ||
        (rc = bo_new(dev, ntok * (size_t)k * sizeof(uint32_t), &bidx, d)) ||
        (rc = bo_new(dev, ntok * (size_t)k * sizeof(float), &bp, d)) ||
        (rc = bo_new(dev, ntok * dm * sizeof(float), &by, d)))
        goto out;
    memcpy(aimc_bo_map(bx), x, ntok * dm * sizeof(float));
    aimc_bo_sync(bx, AIMC_SYNC_TO_DEVICE);

    /* RMS norm, router and top-k on the device, in ring order. */
    if ((rc = aimc_submit_rmsnorm(dev, nt, (uint32_t)dm, aimc_bo_addr(bx), aimc_bo_addr(bn), &f)) ||
        (rc = fence_push(&fl, f)) ||
        (rc = aimc_submit_mvm_addr(dev, (uint32_t)router, nt, aimc_bo_addr(bn),
                                   aimc_bo_addr(blog), &f)) ||
        (rc = fence_push(&fl, f)) ||
        (rc = aimc_submit_topk(dev, nt, (uint32_t)ne, (uint32_t)k, aimc_bo_addr(blog),
                               aimc_bo_addr(bidx), aimc_bo_addr(bp), &f)) ||
        (rc = fence_push(&fl, f))) {
        rc = drv_err(dev, rc, model->m[router].name, d);
        goto out;
    }
    if ((rc = fence_wait_all(dev, &fl, AIMC_OK, d))) goto out;
    aimc_bo_sync(bidx, AIMC_SYNC_FROM_DEVICE);
    aimc_bo_sync(bp, AIMC_SYNC_FROM_DEVICE);

    /* Dispatch: the host reads the routing decisions and makes each expert's token list. */
    for (int e = 0; e < njobs; e++) {
        expert_job *j = &jobs[e];
        j->shared = e >= ne;
        j->gate = aimc_model_find(model, layer, AIMC_MAT_GATE, e);
        j->up = aimc_model_find(model, layer, AIMC_MAT_UP, e);
        j->down = aimc_model_find(model, layer, AIMC_MAT_DOWN, e);
        if (j->gate < 0 || j->up < 0 || j->down < 0) {
            rc = aimc_diag_set(d, AIMC_ERR_NOTFOUND, "layer %d expert %d is incomplete", layer, e);
            goto out;
        }
        j->ff = model->m[j->gate].cols;
        j->tok = malloc(ntok * sizeof *j->tok);
        j->weight = malloc(ntok * sizeof *j->weight);
        if (!j->tok || !j->weight) {
            rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory in layer %d", layer);
            goto out;
        }
        if (j->shared)
            for (uint32_t t = 0; t < nt; t++) j->tok[j->n++] = t;
    }
    const uint8_t *idx = aimc_bo_map(bidx);
    const float *p = aimc_bo_map(bp);
    for (size_t t = 0; t < ntok; t++)
        for (int q = 0; q < k; q++) {
            uint32_t e = aimc_le_get32(idx + (t * (size_t)k + (size_t)q) * 4);
            if (e >= (uint32_t)ne) {
                rc = aimc_diag_set(d, AIMC_ERR_DEVICE, "layer %d: the device routed token %zu "
                                   "to expert %u of %d", layer, t, e, ne);
                goto out;
            }
            expert_job *j = &jobs[e];
            j->tok[j->n] = (uint32_t)t;
            j->weight[j->n++] = p[t * (size_t)k + (size_t)q];
            if (experts) experts[t * (size_t)k + (size_t)q] = (int)e;
        }

    /* Per active expert: gather its tokens, gate and up, SiLU-gating; then the downs and
     * the weighted combine, in expert order (the order of the additions into y). */
    for (int e = 0; e < njobs; e++) {
        expert_job *j = &jobs[e];
        if (!j->n) continue;
        size_t n = j->n, ff = j->ff;
        if ((rc = bo_new(dev, n * sizeof(uint32_t), &j->btok, d)) ||
            (!j->shared && (rc = bo_new(dev, n * sizeof(float), &j->bw, d))) ||
            (rc = bo_new(dev, n * dm * sizeof(float), &j->bin, d)) ||
            (rc = bo_new(dev, n * ff * sizeof(float), &j->bg, d)) ||
            (rc = bo_new(dev, n * ff * sizeof(float), &j->bu, d)) ||
            (rc = bo_new(dev, n * ff * sizeof(float), &j->bh, d)) ||
            (rc = bo_new(dev, n * dm * sizeof(float), &j->bout, d)))
            goto out;
        uint8_t *tp = aimc_bo_map(j->btok);
        for (size_t i = 0; i < n; i++) aimc_le_put32(tp + 4 * i, j->tok[i]);
        aimc_bo_sync(j->btok, AIMC_SYNC_TO_DEVICE);
        if (j->bw) {
            memcpy(aimc_bo_map(j->bw), j->weight, n * sizeof(float));
            aimc_bo_sync(j->bw, AIMC_SYNC_TO_DEVICE);
        }
        if ((rc = aimc_submit_gather(dev, j->n, (uint32_t)dm, nt, aimc_bo_addr(bn),
                                     aimc_bo_addr(j->btok), aimc_bo_addr(j->bin), &f)) ||
            (rc = fence_push(&fl, f)) ||
            (rc = aimc_submit_mvm_addr(dev, (uint32_t)j->gate, j->n, aimc_bo_addr(j->bin),
                                       aimc_bo_addr(j->bg), &f)) ||
            (rc = fence_push(&fl, f)) ||
            (rc = aimc_submit_mvm_addr(dev, (uint32_t)j->up, j->n, aimc_bo_addr(j->bin),
                                       aimc_bo_addr(j->bu), &f)) ||
            (rc = fence_push(&fl, f)) ||
            (rc = aimc_submit_silu_mul(dev, (uint32_t)(n * ff), aimc_bo_addr(j->bg),
                                       aimc_bo_addr(j->bu), aimc_bo_addr(j->bh), &f)) ||
            (rc = fence_push(&fl, f))) {
            rc = drv_err(dev, rc, model->m[j->gate].name, d);
            goto out;
        }
    }
    for (int e = 0; e < njobs; e++) {
        expert_job *j = &jobs[e];
        if (!j->n) continue;
        if ((rc = aimc_submit_mvm_addr(dev, (uint32_t)j->down, j->n, aimc_bo_addr(j->bh),
                                       aimc_bo_addr(j->bout), &f)) ||
            (rc = fence_push(&fl, f)) ||
            (rc = aimc_submit_scale_acc(dev, j->n, (uint32_t)dm, nt, aimc_bo_addr(j->bout),
                                        aimc_bo_addr(j->btok), aimc_bo_addr(j->bw),
                                        aimc_bo_addr(by), &f)) ||
            (rc = fence_push(&fl, f))) {
            rc = drv_err(dev, rc, model->m[j->down].name, d);
            goto out;
        }
    }
    if ((rc = fence_wait_all(dev, &fl, AIMC_OK, d))) goto out;
    aimc_bo_sync(by, AIMC_SYNC_FROM_DEVICE);
    memcpy(y, aimc_bo_map(by), ntok * dm * sizeof(float));
out:
    rc = fence_wait_all(dev, &fl, rc, d);
    if (jobs)
        for (int e = 0; e < njobs; e++) job_free(&jobs[e]);
    free(jobs);
    free(fl.f);
    aimc_bo_destroy(by);
    aimc_bo_destroy(bp);
    aimc_bo_destroy(bidx);
    aimc_bo_destroy(blog);
    aimc_bo_destroy(bn);
    aimc_bo_destroy(bx);
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
        aimc_moe_rms_norm(x + t * dm, dm, xn);
        for (size_t i = 0; i < dm; i++) in[i] = xn[i];
        matmul_ref(&model->m[router], in, 1, lv);
        aimc_moe_top_k_softmax(lv, ne, k, idx, p);
        for (size_t c = 0; c < dm; c++) yt[c] = 0;
        for (int j = 0; j < k + model->n_shared; j++) {
            int e = j < k ? idx[j] : ne + (j - k);
            double wgt = j < k ? p[j] : 1.0;
            const aimc_matrix *mg = &model->m[aimc_model_find(model, layer, AIMC_MAT_GATE, e)];
            const aimc_matrix *mu = &model->m[aimc_model_find(model, layer, AIMC_MAT_UP, e)];
            const aimc_matrix *md = &model->m[aimc_model_find(model, layer, AIMC_MAT_DOWN, e)];
            matmul_ref(mg, in, 1, g);
            matmul_ref(mu, in, 1, u);
            for (uint32_t i = 0; i < mg->cols; i++) g[i] = aimc_moe_silu(g[i]) * u[i];
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

static size_t argmax(const float *v, size_t n)
{
    size_t best = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[best]) best = i;
    return best;
}

/* The classifier's accuracy: the head on the device over the device's residual stream x, and
 * the float model end to end on the host from x0. */
static int classify(aimc_dev *dev, const aimc_model *model, long head, const float *x0,
                    const float *x, size_t ntok, const int *labels, aimc_rt_report *r,
                    aimc_diag *d)
{
    const size_t dm = (size_t)model->d_model, C = (size_t)model->n_classes;
    const aimc_matrix *h = &model->m[head];
    float *logits = malloc(ntok * C * sizeof *logits), *xr = malloc(ntok * dm * sizeof *xr);
    double *yr = malloc(ntok * dm * sizeof *yr);
    int rc = AIMC_OK;
    if (!logits || !xr || !yr) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for %zu tokens", ntok);
        goto out;
    }
    uint64_t f;
    if ((rc = aimc_submit_mvm(dev, (uint32_t)head, x, (uint32_t)ntok, logits, &f)) != AIMC_OK ||
        (rc = aimc_fence_wait(dev, f, -1)) != AIMC_OK) {
        drv_err(dev, rc, h->name, d);
        goto out;
    }
    size_t right_hw = 0, right_fp = 0;
    for (size_t t = 0; t < ntok; t++) right_hw += argmax(logits + t * C, C) == (size_t)labels[t];
    memcpy(xr, x0, ntok * dm * sizeof *xr);
    for (int l = 0; l < model->layers; l++) {
        if ((rc = aimc_rt_layer_ref(model, l, xr, ntok, yr, NULL)) != AIMC_OK) {
            aimc_diag_set(d, rc, "reference of layer %d: %s", l, aimc_strerror(rc));
            goto out;
        }
        for (size_t i = 0; i < ntok * dm; i++) xr[i] += (float)yr[i];
    }
    for (size_t t = 0; t < ntok; t++) {
        for (size_t c = 0; c < C; c++) {
            double acc = 0;
            for (size_t i = 0; i < dm; i++) acc += (double)xr[t * dm + i] * h->w[i * C + c];
            logits[t * C + c] = (float)acc;
        }
        right_fp += argmax(logits + t * C, C) == (size_t)labels[t];
    }
    r->classified = 1;
    r->accuracy_hw = (double)right_hw / (double)ntok;
    r->accuracy_float = (double)right_fp / (double)ntok;
out:
    free(yr);
    free(xr);
    free(logits);
    return rc;
}

int aimc_rt_run(aimc_dev *dev, const aimc_model *model, const float *x0, size_t ntok,
                const int *labels, aimc_rt_report *r, aimc_diag *d)
{
    const size_t dm = (size_t)model->d_model, k = (size_t)model->top_k;
    memset(r, 0, sizeof *r);
    if (model->layers > AIMC_RT_MAX_LAYERS)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "at most %d layers can be run, model has %d",
                             AIMC_RT_MAX_LAYERS, model->layers);
    if (model->dense_layers > 0)
        return aimc_diag_set(d, AIMC_ERR_UNSUPPORTED,
                             "%s: dense layers are mapped but not run yet (model.dense_layers "
                             "is %d)",
                             model->name, model->dense_layers);
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
    long head = aimc_model_head(model);
    if (head >= 0 && labels &&
        (rc = classify(dev, model, head, x0, x, ntok, labels, r, d)) != AIMC_OK)
        goto out;
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
