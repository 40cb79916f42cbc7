/* train.c - data sets and the training of small MoE classifiers (aimc_train.h). */
#include "aimc_train.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aimc_moe.h"
#include "rng.h"

/* ---- data sets ------------------------------------------------------------------------ */

void aimc_dataset_free(aimc_dataset *ds)
{
    if (!ds) return;
    free(ds->x);
    free(ds->label);
    free(ds);
}

static aimc_dataset *dataset_new(size_t n, int dim)
{
    aimc_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return NULL;
    ds->n = n;
    ds->dim = dim;
    ds->x = malloc((n ? n : 1) * (size_t)dim * sizeof *ds->x);
    ds->label = malloc((n ? n : 1) * sizeof *ds->label);
    if (!ds->x || !ds->label) {
        aimc_dataset_free(ds);
        return NULL;
    }
    return ds;
}

int aimc_dataset_load_csv(const char *path, int dim, double scale, aimc_dataset **out,
                          aimc_diag *d)
{
    *out = NULL;
    if (dim < 1 || !(scale > 0)) return aimc_diag_set(d, AIMC_ERR_INVALID, "bad dim or scale");
    FILE *f = fopen(path, "r");
    if (!f) return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return aimc_diag_set(d, AIMC_ERR_IO, "%s: is a directory, not a file", path);
    }
    size_t cap = 1024, n = 0;
    aimc_dataset *ds = dataset_new(cap, dim);
    char line[8192];
    int rc = AIMC_OK, lineno = 0;
    if (!ds) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
        goto out;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '\n' || line[0] == '\0') continue;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = aimc_diag_set(d, AIMC_ERR_PARSE, "%s:%d:1: line longer than %zu bytes", path,
                               lineno, sizeof line - 1);
            goto out;
        }
        if (n == cap) {
            cap *= 2;
            float *nx = realloc(ds->x, cap * (size_t)dim * sizeof *nx);
            if (nx) ds->x = nx;
            int *nl = realloc(ds->label, cap * sizeof *nl);
            if (nl) ds->label = nl;
            if (!nx || !nl) {
                rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
                goto out;
            }
        }
        char *p = line;
        for (int j = 0; j <= dim; j++) {
            char *end;
            errno = 0;
            double v = strtod(p, &end);
            int col = (int)(p - line) + 1;
            if (end == p || errno || !isfinite(v)) {
                rc = aimc_diag_set(d, AIMC_ERR_PARSE, "%s:%d:%d: expected a number", path,
                                   lineno, col);
                goto out;
            }
            if (j < dim) {
                ds->x[n * (size_t)dim + (size_t)j] = (float)(v / scale);
            } else {
                if (v != floor(v) || v < 0 || v > 1e6) {
                    rc = aimc_diag_set(d, AIMC_ERR_PARSE,
                                       "%s:%d:%d: label: expected an integer >= 0, got %g", path,
                                       lineno, col, v);
                    goto out;
                }
                ds->label[n] = (int)v;
                if ((int)v + 1 > ds->n_classes) ds->n_classes = (int)v + 1;
            }
            p = end;
            while (*p == ' ') p++;
            if (j < dim && *p++ != ',') {
                rc = aimc_diag_set(d, AIMC_ERR_PARSE, "%s:%d:%d: expected %d values and a label",
                                   path, lineno, (int)(p - line), dim);
                goto out;
            }
        }
        while (*p == ' ' || *p == '\r' || *p == '\n') p++;
        if (*p) {
            rc = aimc_diag_set(d, AIMC_ERR_PARSE, "%s:%d:%d: extra text after the label", path,
                               lineno, (int)(p - line) + 1);
            goto out;
        }
        n++;
    }
    ds->n = n;
    if (n == 0) rc = aimc_diag_set(d, AIMC_ERR_PARSE, "%s: no samples", path);
out:
    fclose(f);
    if (rc != AIMC_OK) {
        aimc_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return AIMC_OK;
}

int aimc_dataset_split(const aimc_dataset *all, int test_every, aimc_dataset **train,
                       aimc_dataset **test)
{
    *train = *test = NULL;
    if (test_every < 2) return AIMC_ERR_INVALID;
    size_t nt = (all->n + (size_t)test_every - 1) / (size_t)test_every;
    aimc_dataset *tr = dataset_new(all->n - nt, all->dim), *te = dataset_new(nt, all->dim);
    if (!tr || !te) {
        aimc_dataset_free(tr);
        aimc_dataset_free(te);
        return AIMC_ERR_NOMEM;
    }
    size_t a = 0, b = 0, dim = (size_t)all->dim;
    for (size_t i = 0; i < all->n; i++) {
        aimc_dataset *to = i % (size_t)test_every == 0 ? te : tr;
        size_t k = to == te ? b++ : a++;
        memcpy(to->x + k * dim, all->x + i * dim, dim * sizeof *all->x);
        to->label[k] = all->label[i];
    }
    tr->n_classes = te->n_classes = all->n_classes;
    *train = tr;
    *test = te;
    return AIMC_OK;
}

/* ---- the classifier ------------------------------------------------------------------- */

void aimc_classifier_free(aimc_classifier *c)
{
    if (!c) return;
    free(c->storage);
    free(c->gate);
    free(c);
}

/* Point the matrix pointers of c into base (c's layout). */
static void layout(const aimc_classifier *c, float *base, float **router, float **gate,
                   float **up, float **down, float **head)
{
    size_t din = (size_t)c->d_in, ff = (size_t)c->d_ff;
    float *p = base;
    *router = p;
    p += din * (size_t)c->n_experts;
    for (int e = 0; e < c->n_experts; e++) {
        gate[e] = p;
        p += din * ff;
        up[e] = p;
        p += din * ff;
        down[e] = p;
        p += ff * din;
    }
    *head = p;
}

/* Matrix i of the parameter block base, in the order router, (gate, up, down) per expert,
 * head; its shape rows x cols (rows = inputs). */
static void matrix_of(const aimc_classifier *c, float *base, int i, float **w, size_t *rows,
                      size_t *cols)
{
    size_t din = (size_t)c->d_in, ff = (size_t)c->d_ff, E = (size_t)c->n_experts;
    if (i == 0) {
        *w = base, *rows = din, *cols = E;
    } else if (i <= 3 * c->n_experts) {
        size_t e = (size_t)(i - 1) / 3, k = (size_t)(i - 1) % 3;
        *w = base + din * E + e * 3 * din * ff + k * din * ff;
        *rows = k == 2 ? ff : din;
        *cols = k == 2 ? din : ff;
    } else {
        *w = base + din * E + E * 3 * din * ff, *rows = din, *cols = (size_t)c->n_classes;
    }
}

int aimc_classifier_create(int d_in, int n_experts, int top_k, int d_ff, int n_classes,
                           uint64_t seed, aimc_classifier **out)
{
    *out = NULL;
    if (d_in < 1 || n_experts < 1 || top_k < 1 || top_k > n_experts || d_ff < 1 ||
        n_classes < 2 || n_experts > 4096 || d_in > 65536 || d_ff > 65536 ||
        n_classes > AIMC_TRAIN_MAX_CLASSES || top_k > AIMC_TRAIN_MAX_TOP_K)
        return AIMC_ERR_INVALID;
    aimc_classifier *c = calloc(1, sizeof *c);
    if (!c) return AIMC_ERR_NOMEM;
    c->d_in = d_in;
    c->n_experts = n_experts;
    c->top_k = top_k;
    c->d_ff = d_ff;
    c->n_classes = n_classes;
    size_t din = (size_t)d_in, ff = (size_t)d_ff;
    c->n_params = din * (size_t)n_experts + (size_t)n_experts * 3 * din * ff +
                  din * (size_t)n_classes;
    c->storage = malloc(c->n_params * sizeof *c->storage);
    c->gate = malloc(3 * (size_t)n_experts * sizeof *c->gate);
    if (!c->storage || !c->gate) {
        aimc_classifier_free(c);
        return AIMC_ERR_NOMEM;
    }
    c->up = c->gate + n_experts;
    c->down = c->up + n_experts;
    layout(c, c->storage, &c->router, c->gate, c->up, c->down, &c->head);
    /* Each matrix N(0, 1/fan_in), keyed by (seed, matrix index of matrix_of()). */
    for (int i = 0; i < 2 + 3 * n_experts; i++) {
        float *w;
        size_t n, rows, cols;
        matrix_of(c, c->storage, i, &w, &rows, &cols);
        n = rows * cols;
        uint64_t key = aimc_rng_key(seed, AIMC_RNG_DOMAIN_WEIGHTS, (uint64_t)i, 1);
        double sd = 1.0 / sqrt((double)rows);
        for (size_t k = 0; k < n; k++) w[k] = (float)(sd * aimc_rng_normal(key, k));
    }
    *out = c;
    return AIMC_OK;
}

/* ---- hardware noise model ---------------------------------------------------------------- */

void aimc_hw_noise_of(const aimc_arch *a, uint32_t rows, aimc_hw_noise *n)
{
    const int B = a->crossbar.bits_per_cell, S_w = aimc_arch_slices(a);
    const double L = (double)((1 << B) - 1);
    const double dG = (a->device.g_max_us - a->device.g_min_us) / L;
    const double n_dev = aimc_arch_cols_per_weight(a);
    const int ideal = a->device.type == AIMC_DEVICE_IDEAL;
    const double sp = ideal ? 0.0 : a->device.program_sigma_us / dG; /* in levels */
    const double sr = ideal ? 0.0 : a->device.read_sigma_us / dG;
    const double wmax = (double)((1L << (a->crossbar.weight_bits - 1)) - 1);
    const double xmax = (double)((1L << (a->dac.bits - 1)) - 1);
    const int serial = a->dac.mode == AIMC_DAC_BIT_SERIAL;
    const double u_max = serial ? 1.0 : xmax;
    const int steps = aimc_arch_input_steps(a);

    /* Weight error in codes^2: rounding to a code, plus programming noise of every device of
     * every slice, weighted by the slice's significance. */
    double var_w = 1.0 / 12.0;
    for (int s = 0; s < S_w; s++) var_w += n_dev * sp * sp * pow(4.0, s * B);
    n->weight_rel = sqrt(var_w) / wmax;

    /* Output error in (weight code x input code)^2 per conversion: the ADC's rounding (none
     * on an ideal device whose LSB resolves a level) and the read noise, summed over row
     * blocks, slices and input steps with their significance. Inputs: a row is driven with
     * probability 1/2 per bit-serial step, at a mean square of 1/3 of full scale multi-bit. */
    double var_y = 0;
    for (uint32_t r0 = 0; r0 < rows; r0 += (uint32_t)a->crossbar.rows) {
        uint32_t nr = rows - r0 < (uint32_t)a->crossbar.rows ? rows - r0 : (uint32_t)a->crossbar.rows;
        double lsb = aimc_arch_full_scale_lsb(a, nr);
        double q = (ideal && lsb <= 1.0) ? 0.0 : lsb * lsb / 12.0;
        double u2 = serial ? 0.5 : u_max * u_max / 3.0;
        double rd = nr * u2 * n_dev * sr * sr;
        for (int s = 0; s < S_w; s++)
            for (int t = 0; t < steps; t++)
                var_y += (q + rd) * pow(4.0, s * B) * (serial ? pow(4.0, t) : 1.0);
    }
    n->output_rel = sqrt(var_y) / (wmax * xmax);
}

/* ---- forward and backward ---------------------------------------------------------------- */

/* What one sample's forward pass keeps for its backward pass. */
typedef struct {
    float *n;        /* d_in: normalised input */
    double inv_r;    /* 1 / rms(x) */
    float *l;        /* E: router logits */
    double *ld;      /* E: the same in double, for the shared top-k */
    int *sel;        /* k: chosen experts, largest logit first */
    double *p;       /* k: their gate weights */
    float *a, *b, *g;/* k x ff: gate and up outputs, silu(a) * b */
    float *o;        /* k x d_in: expert outputs */
    float *h;        /* d_in: x + y */
    float *z;        /* n_classes: logits */
    float *tmp;      /* scratch, max(d_in, ff) */
} fwd_cache;

typedef struct {
    const aimc_classifier *c;
    float *w;          /* the weights the pass uses (c's layout) */
    const aimc_hw_noise *noise; /* per matrix output noise (NULL: none) */
    const float *wmax; /* per matrix max |w| */
    uint64_t key;      /* noise key of this batch */
    uint64_t sample;   /* sample index within the batch, for the noise counter */
} fwd_ctx;

static void cache_free(fwd_cache *f)
{
    free(f->ld);
    free(f->n);
    free(f->sel);
    free(f->p);
}

static int cache_alloc(fwd_cache *f, const aimc_classifier *c)
{
    size_t din = (size_t)c->d_in, ff = (size_t)c->d_ff, k = (size_t)c->top_k;
    size_t E = (size_t)c->n_experts, C = (size_t)c->n_classes;
    size_t big = din > ff ? din : ff;
    size_t nf = din + E + 3 * k * ff + k * din + din + C + big;
    memset(f, 0, sizeof *f);
    f->n = malloc(nf * sizeof *f->n);
    f->sel = malloc(k * sizeof *f->sel);
    f->p = malloc(k * sizeof *f->p);
    f->ld = malloc(E * sizeof *f->ld);
    if (!f->n || !f->sel || !f->p || !f->ld) {
        cache_free(f);
        return AIMC_ERR_NOMEM;
    }
    f->l = f->n + din;
    f->a = f->l + E;
    f->b = f->a + k * ff;
    f->g = f->b + k * ff;
    f->o = f->g + k * ff;
    f->h = f->o + k * din;
    f->z = f->h + din;
    f->tmp = f->z + C;
    return AIMC_OK;
}

/* out[cols] = in[rows] W (+ output noise of matrix mi when the context has noise). */
static void mvm(const fwd_ctx *x, int mi, const float *in, float *out)
{
    float *w;
    size_t r, cols;
    matrix_of(x->c, x->w, mi, &w, &r, &cols);
    for (size_t j = 0; j < cols; j++) out[j] = 0;
    float xmax = 0;
    for (size_t i = 0; i < r; i++) {
        float v = in[i];
        if (fabsf(v) > xmax) xmax = fabsf(v);
        if (v == 0) continue;
        const float *wr = w + i * cols;
        for (size_t j = 0; j < cols; j++) out[j] += v * wr[j];
    }
    if (!x->noise) return;
    double sd = x->noise[mi].output_rel * x->wmax[mi] * xmax;
    uint64_t base = (x->sample * 16384u + (uint64_t)mi) * 65536u;
    for (size_t j = 0; j < cols; j++) out[j] += (float)(sd * aimc_rng_normal(x->key, base + j));
}

static void forward(const fwd_ctx *x, const float *in, fwd_cache *f)
{
    const aimc_classifier *c = x->c;
    const size_t din = (size_t)c->d_in, ff = (size_t)c->d_ff;
    const int E = c->n_experts, k = c->top_k;
    f->inv_r = aimc_moe_rms_inv(in, din);
    for (size_t i = 0; i < din; i++) f->n[i] = (float)(in[i] * f->inv_r);
    mvm(x, 0, f->n, f->l);
    for (int e = 0; e < E; e++) f->ld[e] = f->l[e];
    aimc_moe_top_k_softmax(f->ld, E, k, f->sel, f->p); /* as the runtime's reference */
    for (size_t i = 0; i < din; i++) f->h[i] = in[i];
    for (int j = 0; j < k; j++) {
        int e = f->sel[j];
        float *a = f->a + (size_t)j * ff, *b = f->b + (size_t)j * ff, *g = f->g + (size_t)j * ff;
        float *o = f->o + (size_t)j * din;
        mvm(x, 1 + 3 * e, f->n, a);
        mvm(x, 2 + 3 * e, f->n, b);
        for (size_t i = 0; i < ff; i++) g[i] = (float)(aimc_moe_silu(a[i]) * b[i]);
        mvm(x, 3 + 3 * e, g, o);
        for (size_t i = 0; i < din; i++) f->h[i] += (float)(f->p[j] * o[i]);
    }
    mvm(x, 1 + 3 * E, f->h, f->z);
}

/* Add d(loss)/d(weights) of one sample into grad (c's layout); returns the sample's loss. */
static double backward(const fwd_ctx *x, const fwd_cache *f, int label, float *grad,
                       float *dh)
{
    const aimc_classifier *c = x->c;
    const size_t din = (size_t)c->d_in, ff = (size_t)c->d_ff, C = (size_t)c->n_classes;
    const int E = c->n_experts, k = c->top_k;
    float *w, *gw;
    size_t rows, cols;

    /* softmax cross-entropy */
    double mx = f->z[0], sum = 0;
    for (size_t i = 1; i < C; i++)
        if (f->z[i] > mx) mx = f->z[i];
    for (size_t i = 0; i < C; i++) sum += exp(f->z[i] - mx);
    double loss = -(f->z[label] - mx - log(sum));
    float dz[AIMC_TRAIN_MAX_CLASSES];
    for (size_t i = 0; i < C; i++) dz[i] = (float)(exp(f->z[i] - mx) / sum - (i == (size_t)label));

    /* head: dW = h^T dz; dh = dz W^T */
    matrix_of(c, x->w, 1 + 3 * E, &w, &rows, &cols);
    matrix_of(c, grad, 1 + 3 * E, &gw, &rows, &cols);
    for (size_t i = 0; i < din; i++) {
        double acc = 0;
        for (size_t j = 0; j < C; j++) {
            gw[i * C + j] += f->h[i] * dz[j];
            acc += (double)w[i * C + j] * dz[j];
        }
        dh[i] = (float)acc;
    }
    double dp[AIMC_TRAIN_MAX_TOP_K];
    for (int j = 0; j < k; j++) {
        int e = f->sel[j];
        const float *a = f->a + (size_t)j * ff, *b = f->b + (size_t)j * ff;
        const float *g = f->g + (size_t)j * ff, *o = f->o + (size_t)j * din;
        double acc = 0;
        for (size_t i = 0; i < din; i++) acc += (double)dh[i] * o[i];
        dp[j] = acc;
        /* down: o = g Wd; do = p dh */
        float *wd, *gwd, *gwg, *gwu;
        matrix_of(c, x->w, 3 + 3 * e, &wd, &rows, &cols);
        matrix_of(c, grad, 3 + 3 * e, &gwd, &rows, &cols);
        matrix_of(c, grad, 1 + 3 * e, &gwg, &rows, &cols);
        matrix_of(c, grad, 2 + 3 * e, &gwu, &rows, &cols);
        float *dg = f->tmp;
        for (size_t i = 0; i < ff; i++) {
            double s = 0;
            for (size_t m = 0; m < din; m++) {
                float dov = (float)(f->p[j] * dh[m]);
                gwd[i * din + m] += g[i] * dov;
                s += (double)wd[i * din + m] * dov;
            }
            dg[i] = (float)s;
        }
        for (size_t i = 0; i < ff; i++) {
            double sg = 1.0 / (1.0 + exp(-(double)a[i]));
            double si = a[i] * sg;
            double da = dg[i] * b[i] * (sg * (1.0 + a[i] * (1.0 - sg)));
            double db = dg[i] * si;
            for (size_t m = 0; m < din; m++) {
                gwg[m * ff + i] += (float)(f->n[m] * da);
                gwu[m * ff + i] += (float)(f->n[m] * db);
            }
        }
    }
    /* gate softmax over the chosen logits: dl_j = p_j (dp_j - sum_k p_k dp_k) */
    double pd = 0;
    for (int j = 0; j < k; j++) pd += f->p[j] * dp[j];
    float *gwr;
    matrix_of(c, grad, 0, &gwr, &rows, &cols);
    for (int j = 0; j < k; j++) {
        int e = f->sel[j];
        double dl = f->p[j] * (dp[j] - pd);
        for (size_t m = 0; m < din; m++) gwr[m * (size_t)E + (size_t)e] += (float)(f->n[m] * dl);
    }
    return loss;
}

void aimc_classifier_forward(const aimc_classifier *c, const float *x, float *logits)
{
    fwd_cache f;
    if (cache_alloc(&f, c) != AIMC_OK) {
        for (int i = 0; i < c->n_classes; i++) logits[i] = NAN;
        return;
    }
    fwd_ctx ctx = {.c = c, .w = c->storage};
    forward(&ctx, x, &f);
    memcpy(logits, f.z, (size_t)c->n_classes * sizeof *logits);
    cache_free(&f);
}

double aimc_classifier_accuracy(const aimc_classifier *c, const aimc_dataset *ds)
{
    fwd_cache f;
    if (cache_alloc(&f, c) != AIMC_OK) return NAN;
    fwd_ctx ctx = {.c = c, .w = c->storage};
    size_t right = 0;
    for (size_t s = 0; s < ds->n; s++) {
        forward(&ctx, ds->x + s * (size_t)ds->dim, &f);
        int best = 0;
        for (int i = 1; i < c->n_classes; i++)
            if (f.z[i] > f.z[best]) best = i;
        right += best == ds->label[s];
    }
    cache_free(&f);
    return (double)right / (double)ds->n;
}

/* Loss and gradient (mean over the samples idx[0..n-1]) with the weights and noise of ctx. */
static double loss_grad(const fwd_ctx *ctx, const aimc_dataset *ds, const size_t *idx,
                        size_t n, float *grad)
{
    const aimc_classifier *c = ctx->c;
    fwd_cache f;
    float *dh = malloc((size_t)c->d_in * sizeof *dh);
    if (!dh || cache_alloc(&f, c) != AIMC_OK) {
        free(dh);
        return NAN;
    }
    memset(grad, 0, c->n_params * sizeof *grad);
    double loss = 0;
    fwd_ctx x = *ctx;
    for (size_t s = 0; s < n; s++) {
        x.sample = s;
        forward(&x, ds->x + idx[s] * (size_t)ds->dim, &f);
        loss += backward(&x, &f, ds->label[idx[s]], grad, dh);
    }
    for (size_t i = 0; i < c->n_params; i++) grad[i] /= (float)n;
    cache_free(&f);
    free(dh);
    return loss / (double)n;
}

double aimc_classifier_loss_grad(const aimc_classifier *c, const aimc_dataset *ds,
                                 size_t first, size_t n, float *grad)
{
    size_t *idx = malloc(n * sizeof *idx);
    if (!idx) return NAN;
    for (size_t i = 0; i < n; i++) idx[i] = first + i;
    fwd_ctx ctx = {.c = c, .w = c->storage};
    double l = loss_grad(&ctx, ds, idx, n, grad);
    free(idx);
    return l;
}

int aimc_classifier_train(aimc_classifier *c, const aimc_dataset *ds, const aimc_train_opts *o,
                          aimc_diag *d)
{
    if (ds->dim != c->d_in || ds->n_classes > c->n_classes || o->batch < 1 || o->epochs < 0)
        return aimc_diag_set(d, AIMC_ERR_INVALID, "data set and classifier do not agree");
    const size_t P = c->n_params, N = ds->n;
    const int nm = 2 + 3 * c->n_experts;
    float *grad = malloc(P * sizeof *grad), *m1 = calloc(P, sizeof *m1), *m2 = calloc(P, sizeof *m2);
    float *wn = o->hw ? malloc(P * sizeof *wn) : NULL;
    size_t *perm = malloc(N * sizeof *perm);
    aimc_hw_noise *noise = o->hw ? malloc((size_t)nm * sizeof *noise) : NULL;
    float *wmax = o->hw ? malloc((size_t)nm * sizeof *wmax) : NULL;
    int rc = AIMC_OK;
    if (!grad || !m1 || !m2 || !perm || (o->hw && (!wn || !noise || !wmax))) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for training");
        goto out;
    }
    for (int i = 0; o->hw && i < nm; i++) {
        float *w;
        size_t rows, cols;
        matrix_of(c, c->storage, i, &w, &rows, &cols);
        aimc_hw_noise_of(o->hw, (uint32_t)rows, &noise[i]);
    }
    const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
    uint64_t step = 0;
    for (size_t i = 0; i < N; i++) perm[i] = i;
    for (int ep = 0; ep < o->epochs; ep++) {
        /* Fisher-Yates with the counter-based generator: a function of (seed, epoch). */
        uint64_t key = aimc_rng_key(o->seed, AIMC_RNG_DOMAIN_TOKENS, 1000 + (uint64_t)ep, 0);
        for (size_t i = N - 1; i > 0; i--) {
            size_t j = (size_t)(aimc_rng_u64(key, i) % (i + 1));
            size_t t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (size_t b0 = 0; b0 < N; b0 += (size_t)o->batch) {
            size_t n = N - b0 < (size_t)o->batch ? N - b0 : (size_t)o->batch;
            fwd_ctx ctx = {.c = c, .w = c->storage};
            step++;
            if (o->hw) {
                /* The batch sees freshly drawn weight and output noise. */
                uint64_t nk = aimc_rng_key(o->seed, AIMC_RNG_DOMAIN_PROGRAM, 7777, step);
                for (int i = 0; i < nm; i++) {
                    float *w, *v;
                    size_t rows, cols;
                    matrix_of(c, c->storage, i, &w, &rows, &cols);
                    matrix_of(c, wn, i, &v, &rows, &cols);
                    float mx = 0;
                    for (size_t k = 0; k < rows * cols; k++)
                        if (fabsf(w[k]) > mx) mx = fabsf(w[k]);
                    wmax[i] = mx;
                    double sd = noise[i].weight_rel * mx;
                    size_t off = (size_t)(v - wn);
                    for (size_t k = 0; k < rows * cols; k++)
                        v[k] = w[k] + (float)(sd * aimc_rng_normal(nk, off + k));
                }
                ctx.w = wn;
                ctx.noise = noise;
                ctx.wmax = wmax;
                ctx.key = aimc_rng_key(o->seed, AIMC_RNG_DOMAIN_READ, 7777, step);
            }
            double loss = loss_grad(&ctx, ds, perm + b0, n, grad);
            if (!isfinite(loss)) {
                rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "training diverged or ran out of memory");
                goto out;
            }
            double c1 = 1.0 - pow(b1, (double)step), c2 = 1.0 - pow(b2, (double)step);
            for (size_t i = 0; i < P; i++) {
                m1[i] = (float)(b1 * m1[i] + (1 - b1) * grad[i]);
                m2[i] = (float)(b2 * m2[i] + (1 - b2) * (double)grad[i] * grad[i]);
                c->storage[i] -= (float)(o->lr * (m1[i] / c1) / (sqrt(m2[i] / c2) + eps));
            }
        }
    }
out:
    free(wmax);
    free(noise);
    free(perm);
    free(wn);
    free(m2);
    free(m1);
    free(grad);
    return rc;
}

/* ---- safetensors ------------------------------------------------------------------------ */

/* Write one little-endian u64. */
static int put_u64(FILE *f, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
    return fwrite(b, 1, 8, f) == 8 ? 0 : -1;
}

int aimc_classifier_save(const aimc_classifier *c, const char *path, aimc_diag *d)
{
    const int nm = 2 + 3 * c->n_experts;
    size_t cap = 256 + (size_t)nm * 160, used = 0;
    char *hdr = malloc(cap);
    if (!hdr) return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
    uint64_t off = 0;
    used += (size_t)snprintf(hdr + used, cap - used,
                             "{\"__metadata__\":{\"format\":\"aimc-moe-classifier\",\"d_in\":\"%d\","
                             "\"experts\":\"%d\",\"top_k\":\"%d\",\"d_ff\":\"%d\",\"classes\":\"%d\"}",
                             c->d_in, c->n_experts, c->top_k, c->d_ff, c->n_classes);
    for (int i = 0; i < nm; i++) {
        float *w;
        size_t rows, cols;
        char name[64];
        matrix_of(c, c->storage, i, &w, &rows, &cols);
        if (i == 0)
            snprintf(name, sizeof name, "layers.0.router");
        else if (i == nm - 1)
            snprintf(name, sizeof name, "head");
        else
            snprintf(name, sizeof name, "layers.0.experts.%d.%s", (i - 1) / 3,
                     (const char *[]){"gate", "up", "down"}[(i - 1) % 3]);
        uint64_t bytes = (uint64_t)rows * cols * 4;
        used += (size_t)snprintf(hdr + used, cap - used,
                                 ",\"%s\":{\"dtype\":\"F32\",\"shape\":[%zu,%zu],"
                                 "\"data_offsets\":[%llu,%llu]}",
                                 name, rows, cols, (unsigned long long)off,
                                 (unsigned long long)(off + bytes));
        off += bytes;
    }
    used += (size_t)snprintf(hdr + used, cap - used, "}");
    while (used % 8) hdr[used++] = ' '; /* the data starts 8-byte aligned */
    FILE *f = fopen(path, "wb");
    int rc = AIMC_OK;
    if (!f) {
        rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
        goto out;
    }
    int bad = put_u64(f, used) || fwrite(hdr, 1, used, f) != used;
    for (int i = 0; i < nm && !bad; i++) {
        float *w;
        size_t rows, cols;
        matrix_of(c, c->storage, i, &w, &rows, &cols);
        for (size_t k = 0; k < rows * cols && !bad; k++) {
            uint32_t u;
            memcpy(&u, &w[k], 4);
            unsigned char b[4] = {(unsigned char)u, (unsigned char)(u >> 8),
                                  (unsigned char)(u >> 16), (unsigned char)(u >> 24)};
            bad = fwrite(b, 1, 4, f) != 4;
        }
    }
    if (fclose(f) != 0) bad = 1;
    if (bad) rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: write failed", path);
out:
    free(hdr);
    return rc;
}
