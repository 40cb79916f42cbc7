/* evaluate.c - one evaluation of a model on a machine through the driver, its tokens in and
 * its outputs out (cli.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "aimc.h"
#include "aimc_cost.h"
#include "aimc_train.h"
#include "cli.h"
#include "rng.h"

/* The inputs of a run: a classifier's test samples and labels when the model names a data
 * set (all of them when ntok is 0; ntok beyond them goes round them again), else ntok random
 * tokens. */
static int make_inputs(const aimc_model *m, uint64_t seed, size_t *ntok, float **x0,
                       int **labels, aimc_diag *d)
{
    size_t dm = (size_t)m->d_model;
    *x0 = NULL;
    *labels = NULL;
    if (!m->eval.data[0]) {
        if (*ntok == 0) *ntok = CLI_DEFAULT_TOKENS;
        if (!(*x0 = malloc(*ntok * dm * sizeof **x0)))
            return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for %zu tokens", *ntok);
        aimc_rt_tokens(seed, *ntok, dm, *x0);
        return AIMC_OK;
    }
    aimc_dataset *all = NULL, *train = NULL, *test = NULL;
    int rc = aimc_dataset_load_csv(m->eval.data, m->d_model, m->eval.scale, &all, d);
    if (rc != AIMC_OK) return rc;
    if ((rc = aimc_dataset_split(all, m->eval.test_every, &train, &test)) != AIMC_OK) {
        aimc_diag_set(d, rc, "%s: cannot split the data set", m->eval.data);
        goto out;
    }
    if (test->n == 0) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: the test split is empty", m->eval.data);
        goto out;
    }
    if (*ntok == 0) *ntok = test->n;
    *x0 = malloc(*ntok * dm * sizeof **x0);
    *labels = malloc(*ntok * sizeof **labels);
    if (!*x0 || !*labels) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for %zu samples", *ntok);
        goto out;
    }
    /* More tokens than samples go round the test set again. */
    for (size_t i = 0; i < *ntok; i++) {
        memcpy(*x0 + i * dm, test->x + (i % test->n) * dm, dm * sizeof **x0);
        (*labels)[i] = test->label[i % test->n];
    }
out:
    aimc_dataset_free(test);
    aimc_dataset_free(train);
    aimc_dataset_free(all);
    return rc;
}

void cli_outputs_free(cli_outputs *o)
{
    if (!o) return;
    free(o->inputs);
    free(o->x);
    free(o->layers);
    free(o->logits);
    free(o->experts);
    free(o->labels);
    free(o->ids);
    memset(o, 0, sizeof *o);
}

void cli_breakdown_free(cli_breakdown *b)
{
    if (!b) return;
    free(b->matrix);
    b->matrix = NULL;
    b->n_matrices = 0;
}

static void profile_sub(aimc_profile *a, const aimc_profile *b)
{
    a->commands -= b->commands;
    a->vectors -= b->vectors;
    a->busy_cycles -= b->busy_cycles;
    for (int q = 0; q < AIMC_PART_COUNT; q++) a->energy_pj[q] -= b->energy_pj[q];
}

/* Every entry of the device's profile now (n_matrices matrices, 16 opcodes); 0 when the
 * backend keeps none. */
static int profile_snap(aimc_dev *dev, size_t n_matrices, cli_breakdown *b)
{
    memset(b, 0, sizeof *b);
    b->matrix = calloc(n_matrices ? n_matrices : 1, sizeof *b->matrix);
    if (!b->matrix) return AIMC_ERR_NOMEM;
    b->n_matrices = n_matrices;
    for (size_t i = 0; i < n_matrices; i++)
        if (aimc_profile_read(dev, AIMC_PROFILE_MATRIX, (uint32_t)i, &b->matrix[i])) return 0;
    for (uint32_t k = 0; k < 16; k++)
        if (aimc_profile_read(dev, AIMC_PROFILE_OPCODE, k, &b->opcode[k])) return 0;
    b->available = 1;
    return 0;
}

/* Buffers for every token's outputs (cli_eval_opts.keep_outputs: 1 inputs, outputs and
 * routing, 2 also every layer's), given to the runtime; the inputs copied from x0. */
static int keep_outputs(const aimc_model *m, size_t ntok, const float *x0, const int *labels,
                        int keep, aimc_rt_opts *ro, cli_outputs *out, aimc_diag *d)
{
    const size_t moe = (size_t)(m->layers - m->dense_layers), dm = (size_t)m->d_model;
    out->ntok = ntok;
    out->inputs = malloc(ntok * dm * sizeof *out->inputs);
    out->x = malloc(ntok * dm * sizeof *out->x);
    out->experts = malloc((moe ? moe : 1) * ntok * (size_t)m->top_k * sizeof *out->experts);
    if (keep > 1) out->layers = malloc(ntok * dm * (size_t)m->layers * sizeof *out->layers);
    if (m->n_classes > 0) out->logits = malloc(ntok * (size_t)m->n_classes * sizeof *out->logits);
    if (labels && (out->labels = malloc(ntok * sizeof *out->labels)))
        memcpy(out->labels, labels, ntok * sizeof *out->labels);
    if (!out->inputs || !out->x || !out->experts || (keep > 1 && !out->layers) ||
        (m->n_classes > 0 && !out->logits) || (labels && !out->labels))
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for the outputs of %zu tokens", ntok);
    memcpy(out->inputs, x0, ntok * dm * sizeof *x0);
    ro->x_out = out->x;
    ro->layers_out = out->layers;
    ro->logits_out = out->logits;
    ro->experts_out = out->experts;
    return AIMC_OK;
}

int cli_sequence_opts_check(const aimc_model *m, int prompt, int generate,
                            const char *const names[3], aimc_diag *d)
{
    if (!(prompt || generate) || m->attn.kind != AIMC_ATTN_NONE) return AIMC_OK;
    return aimc_diag_set(d, AIMC_ERR_INVALID, "%s: model %s has no attention, so its tokens are "
                         "no sequence (each goes through the layers on its own; %s sets how "
                         "many enter together); %s and %s are for models with attention",
                         prompt ? names[0] : names[1], m->name, names[2], names[0], names[1]);
}

size_t cli_lm_window(const aimc_model *m, size_t n)
{
    return m->eval.context > 0 && (size_t)m->eval.context < n ? (size_t)m->eval.context : n;
}

/* ---- a language model on its text ----------------------------------------------------------- */

/* A language model's evaluation: the token ids (o->ids, else the held-out chunks of eval.text,
 * else random ids of seed), at most ntok of them (0: all). With eval.context set they run in
 * windows of that many (each a sequence from position 0); without it all of them are one
 * sequence (one window of every token). A window is prefilled at once (teacher forcing)
 * unless o->prompt or o->generate say how its tokens enter; each token's label is the next id
 * of its window; the reports are summed into *rep. info: the device's limits per command
 * (aimc_dev_info). keep (value runs, may be NULL): every token's outputs, the windows' in
 * order (cli_outputs: inputs, hidden, logits over the vocabulary, routing, ids). */
static int lm_windows(aimc_dev *dev, const aimc_model *m, const cli_eval_opts *o, size_t ntok,
                      int timing_only, const aimc_dev_info *info, const aimc_rt_opts *ro0,
                      aimc_rt_report *rep, cli_outputs *keep, aimc_diag *d)
{
    const size_t dm = (size_t)m->d_model, V = (size_t)m->vocab;
    const size_t moe = (size_t)(m->layers - m->dense_layers), K = (size_t)m->top_k;
    uint8_t *text = NULL, *tr = NULL, *te = NULL;
    size_t len = 0, ntr = 0, nte = 0;
    int *ids = NULL, *wexp = NULL, rc = AIMC_OK;
    size_t n = 0;
    if (o->ids) {
        n = o->n_ids;
    } else if (m->eval.text[0]) {
        if ((rc = aimc_text_load(m->eval.text, &text, &len, d)) ||
            (rc = aimc_text_split(text, len, 512, (size_t)m->eval.test_every, &tr, &ntr, &te, &nte)))
            goto out;
        n = nte;
    } else {
        n = ntok ? ntok : CLI_DEFAULT_TOKENS;
    }
    if (ntok && ntok < n) n = ntok;
    if (!(ids = malloc((n ? n : 1) * sizeof *ids))) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
        goto out;
    }
    const uint64_t key = aimc_rng_key(o->seed, AIMC_RNG_DOMAIN_TOKENS, 77, 0);
    for (size_t i = 0; i < n; i++)
        ids[i] = o->ids ? o->ids[i] : te ? te[i] : (int)(aimc_rng_u64(key, i) % V);
    /* Windows only where the model says how long its context is: the ids are otherwise one
     * text, and cutting it would restart the positions (and empty the KV caches) where the
     * model never would. */
    const size_t W = n ? cli_lm_window(m, n) : 1;
    if (keep && o->keep_outputs > 1) {
        rc = aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s: every layer's output is kept for models "
                           "without attention, dense layers or a vocabulary only", m->name);
        goto out;
    }
    if (keep) { /* the windows' outputs side by side; each window's routing through wexp */
        keep->ntok = n;
        keep->inputs = malloc(n * dm * sizeof *keep->inputs);
        keep->x = malloc(n * dm * sizeof *keep->x);
        keep->logits = malloc(n * V * sizeof *keep->logits);
        keep->experts = malloc((moe ? moe : 1) * n * K * sizeof *keep->experts);
        keep->ids = malloc(n * sizeof *keep->ids);
        wexp = malloc((moe ? moe : 1) * W * K * sizeof *wexp);
        if (!keep->inputs || !keep->x || !keep->logits || !keep->experts || !keep->ids || !wexp) {
            rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for the outputs of %zu tokens", n);
            goto out;
        }
        memcpy(keep->ids, ids, n * sizeof *ids);
    }
    float *x0 = timing_only ? NULL : malloc(W * dm * sizeof *x0);
    int *lab = malloc(W * sizeof *lab);
    if ((!timing_only && !x0) || !lab) {
        free(x0);
        free(lab);
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
        goto out;
    }
    aimc_rt_report *r = malloc(sizeof *r);
    double nll_hw = 0, nll_f = 0, right_hw = 0, right_f = 0, err2 = 0, agree = 0;
    size_t scored = 0;
    memset(rep, 0, sizeof *rep);
    aimc_counters c0, c1; /* the windows' counters: the device's, around them all */
    if ((rc = aimc_counters_read(dev, &c0)))
        aimc_diag_set(d, rc, "reading counters: %s", aimc_strerror(rc));
    /* the largest group every command takes, for the longest window (a shorter one's cache
     * fits where the longest's does) */
    const size_t fit = aimc_rt_group_max(m, W, info->max_batch, info->max_elems);
    for (size_t w0 = 0; r && rc == AIMC_OK && w0 < n; w0 += W) {
        const size_t wn = n - w0 < W ? n - w0 : W;
        for (size_t t = 0; t < wn; t++) {
            if ((size_t)ids[w0 + t] >= V) {
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "token %zu: id %d outside the vocabulary "
                                   "of %zu", w0 + t, ids[w0 + t], V);
                break;
            }
            if (x0) memcpy(x0 + t * dm, m->embed + (size_t)ids[w0 + t] * dm, dm * sizeof *x0);
            lab[t] = t + 1 < wn ? ids[w0 + t + 1] : -1;
        }
        if (rc) break;
        aimc_rt_opts ro = *ro0;
        /* Teacher forcing: the window's ids are given, so they all enter at once, one prefill.
         * The runtime refuses a group larger than every command of the model takes (the
         * device's tokens per command, and its floats per operand: each digital step over its
         * dimension, attention's queries, outputs and cache rows; aimc_rt_group_max). A longer
         * window stays one sequence, prefilled in chunks of the largest group that fits (the
         * prompt and then groups of the same size, each entering once the one before has
         * issued its commands, so the caches grow in position order): causal attention gives
         * every token the same result as one prefill would. Not cut into windows: that would
         * restart the positions. No group fits a cache too long for the device: the run
         * then says so. */
        if (!ro.prompt && !ro.generate) {
            ro.prompt = wn;
            if (fit && wn > fit) ro.prompt = ro.batch = fit;
        }
        ro.experts_out = keep ? wexp : NULL;
        ro.x_out = keep ? keep->x + w0 * dm : NULL;
        ro.logits_out = keep ? keep->logits + w0 * V : NULL;
        ro.layers_out = NULL;
        if ((rc = aimc_rt_run(dev, m, x0, wn, x0 ? lab : NULL, &ro, r, d))) break;
        if (keep && x0) { /* the window's inputs, and its routing (MoE layers x wn x top_k) */
            memcpy(keep->inputs + w0 * dm, x0, wn * dm * sizeof *x0);
            for (size_t l = 0; l < moe; l++)
                memcpy(keep->experts + (l * n + w0) * K, wexp + l * wn * K, wn * K * sizeof *wexp);
        }
        if (w0 == 0) rep->first_cycles = r->first_cycles, rep->first_tokens = r->first_tokens;
        rep->tokens += r->tokens;
        rep->groups += r->groups;
        rep->macs += r->macs;
        rep->makespan_cycles += r->makespan_cycles;
        rep->values = r->values;
        rep->layers = r->layers;
        err2 += r->rel_rms_error * r->rel_rms_error * (double)wn;
        agree += r->routing_agreement * (double)wn;
        if (r->lm && r->scored) {
            nll_hw += log(r->perplexity_hw) * (double)r->scored;
            nll_f += log(r->perplexity_float) * (double)r->scored;
            right_hw += r->accuracy_hw * (double)r->scored;
            right_f += r->accuracy_float * (double)r->scored;
            scored += r->scored;
        }
    }
    if (!r && rc == AIMC_OK) rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory");
    if (rc == AIMC_OK) {
        if ((rc = aimc_counters_read(dev, &c1)))
            aimc_diag_set(d, rc, "reading counters: %s", aimc_strerror(rc));
        else
            aimc_counters_sub(&c1, &c0, &rep->cost);
    }
    if (rc == AIMC_OK && rep->tokens) {
        rep->rel_rms_error = sqrt(err2 / (double)rep->tokens);
        rep->routing_agreement = agree / (double)rep->tokens;
        if (scored) {
            rep->lm = rep->classified = 1;
            rep->scored = scored;
            rep->perplexity_hw = exp(nll_hw / (double)scored);
            rep->perplexity_float = exp(nll_f / (double)scored);
            rep->accuracy_hw = right_hw / (double)scored;
            rep->accuracy_float = right_f / (double)scored;
        }
    }
    free(r);
    free(x0);
    free(lab);
out:
    free(wexp);
    free(ids);
    free(text);
    free(tr);
    free(te);
    return rc;
}

int cli_evaluate(const aimc_arch *a0, const aimc_model *m, const cli_eval_opts *o,
                 aimc_plan **plan, aimc_arch *arch_used, aimc_rt_report *rep,
                 cli_eval_out *ex, aimc_diag *d)
{
    cli_eval_out local;
    if (!ex) ex = &local;
    memset(ex, 0, sizeof *ex);
    cli_breakdown before = {0};
    aimc_dev *dev = NULL;
    float *x0 = NULL, *faults = NULL;
    int *labels = NULL;
    aimc_arch a = *a0;
    size_t ntok = o->ntok;
    const int lm = m->vocab && !o->x0; /* a language model on ids (lm_windows) */
    *plan = NULL;
    aimc_map_opts mo = {0};
    faults = cli_fault_map(&a, o->seed, &mo.n_fault);
    mo.fault_fraction = faults;
    mo.shape_only = o->timing_only;
    mo.routing = o->routing;
    int rc = aimc_map_plan_ex(&a, m, &mo, plan, d);
    if (rc != AIMC_OK) goto out;
    if (a.hierarchy.chips_auto && (rc = aimc_map_fit_chips(&a, *plan)) != AIMC_OK) {
        aimc_diag_set(d, rc, "chips: auto: %s", aimc_strerror(rc));
        goto out;
    }
    if (arch_used) *arch_used = a;
    aimc_diag why = {{0}};
    aimc_open_opts oo = {.arch = &a,
                         .seed = o->seed,
                         .diag = &why,
                         .timing_only = o->timing_only,
                         .activity_assumed = o->activity_assumed,
                         .trace_path = o->trace};
    if ((rc = aimc_open(o->backend, &oo, &dev)) != AIMC_OK) {
        if (why.msg[0]) aimc_diag_set(d, rc, "cannot open the device: %s", why.msg);
        else aimc_diag_set(d, rc, "cannot open device %s: %s", o->backend, aimc_strerror(rc));
        goto out;
    }
    aimc_dev_info info;
    if ((rc = aimc_query(dev, &info)) != AIMC_OK) {
        aimc_diag_set(d, rc, "querying %s: %s", o->backend, aimc_strerror(rc));
        goto out;
    }
    if (o->timing_only && !info.timing_only) {
        rc = aimc_diag_set(d, AIMC_ERR_UNSUPPORTED, "%s has values: timing-only runs need a "
                           "timing-only device (sim:)", o->backend);
        goto out;
    }
    aimc_weights_opts wo = {.max_iterations = (uint32_t)a.program.verify_iterations,
                            .tolerance_us = a.program.verify_tolerance_us};
    aimc_weights_report wr;
    aimc_counters p0, p1;
    if ((rc = aimc_counters_read(dev, &p0)) != AIMC_OK) {
        aimc_diag_set(d, rc, "reading counters: %s", aimc_strerror(rc));
        goto out;
    }
    if ((rc = aimc_rt_program(dev, &a, m, *plan, &wo, &wr, d)) != AIMC_OK) goto out;
    if ((rc = aimc_counters_read(dev, &p1)) != AIMC_OK) {
        aimc_diag_set(d, rc, "reading counters: %s", aimc_strerror(rc));
        goto out;
    }
    aimc_counters pd;
    aimc_counters_sub(&p1, &p0, &pd);
    ex->deploy.program = wr;
    ex->deploy.verify_conversions = pd.adc_conversions;
    ex->deploy.time_ns = aimc_cost_ns(&a, (double)pd.time);
    memcpy(ex->deploy.energy_pj, pd.energy_pj, sizeof pd.energy_pj);
    /* The same tokens either way: a classifier's test samples or random tokens (a
     * timing-only device takes none, only their number). */
    if (o->x0) {
        if (!(x0 = malloc(ntok * (size_t)m->d_model * sizeof *x0))) {
            rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for %zu tokens", ntok);
            goto out;
        }
        memcpy(x0, o->x0, ntok * (size_t)m->d_model * sizeof *x0);
    } else if (!lm && (rc = make_inputs(m, o->seed, &ntok, &x0, &labels, d)) != AIMC_OK) {
        goto out; /* a language model's inputs are its ids' embeddings (lm_windows) */
    }
    aimc_rt_opts ro = {.batch = o->batch,
                       .window = o->window,
                       .replay = o->replay,
                       .routing = o->routing,
                       .seed = o->seed,
                       .experts_out = o->experts_out,
                       .prompt = o->prompt,
                       .generate = o->generate};
    if (o->keep_outputs && !info.timing_only && !lm &&
        (rc = keep_outputs(m, ntok, x0, labels, o->keep_outputs, &ro, &ex->outputs, d)) != AIMC_OK)
        goto out;
    if (info.timing_only) {
        free(x0);
        free(labels);
        x0 = NULL;
        labels = NULL;
    }
    if ((rc = profile_snap(dev, m->n_matrices, &before))) {
        aimc_diag_set(d, rc, "out of memory");
        goto out;
    }
    if (lm) { /* a language model on its text, in windows */
        if ((rc = lm_windows(dev, m, o, o->ntok, info.timing_only, &info, &ro, rep,
                             o->keep_outputs && !info.timing_only ? &ex->outputs : NULL, d)))
            goto out;
    } else if ((rc = aimc_rt_run(dev, m, x0, ntok, labels, &ro, rep, d))) {
        if (!d->msg[0]) aimc_diag_set(d, rc, "out of memory");
        goto out;
    }
    if (o->experts_out && ro.experts_out != o->experts_out) /* kept in the outputs too */
        memcpy(o->experts_out, ro.experts_out,
               (size_t)(m->layers - m->dense_layers) * ntok * (size_t)m->top_k * sizeof *o->experts_out);
    rep->program = wr;
    if ((rc = aimc_map_powered(&a, *plan, &rep->powered)) != AIMC_OK) {
        aimc_diag_set(d, rc, "what is powered: %s", aimc_strerror(rc));
        goto out;
    }
    if (before.available) {
        if ((rc = profile_snap(dev, m->n_matrices, &ex->breakdown))) {
            aimc_diag_set(d, rc, "out of memory");
            goto out;
        }
        for (size_t i = 0; ex->breakdown.available && i < m->n_matrices; i++)
            profile_sub(&ex->breakdown.matrix[i], &before.matrix[i]);
        for (int k = 0; ex->breakdown.available && k < 16; k++)
            profile_sub(&ex->breakdown.opcode[k], &before.opcode[k]);
    }
out:
    cli_breakdown_free(&before);
    if (ex == &local || rc) {
        cli_breakdown_free(&ex->breakdown);
        cli_outputs_free(&ex->outputs);
    }
    free(labels);
    free(x0);
    free(faults);
    aimc_close(dev);
    return rc;
}

/* ---- tokens in, outputs out ------------------------------------------------------------- */

#define CLI_TOKENS_MAX 65536
#define CLI_IDS_BYTES_MAX (1 << 26) /* an ids file's text: 64 MiB, 1024 bytes an id */

int cli_tokens_read(const char *path, const aimc_model *m, float **x0, size_t *ntok,
                    aimc_diag *d)
{
    const size_t dm = (size_t)m->d_model;
    *x0 = NULL;
    *ntok = 0;
    FILE *f = fopen(path, "r");
    if (!f) return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) { /* fopen takes one; reads fail */
        fclose(f);
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: is a directory, not a file", path);
    }
    size_t cap = 0, line_no = 0, lcap = 0;
    char *line = NULL;
    float *x = NULL;
    int rc = AIMC_OK;
    for (;;) {
        /* one line, however long */
        size_t len = 0;
        int ch;
        while ((ch = fgetc(f)) != EOF && ch != '\n') {
            if (ch == '\0') { /* would end the line's string where the file does not */
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%zu:%zu: a NUL byte: a tokens file is "
                                   "text", path, line_no + 1, len + 1);
                goto out;
            }
            if (len + 2 > lcap) {
                size_t nc = lcap ? 2 * lcap : 256;
                char *nl = realloc(line, nc);
                if (!nl) goto nomem;
                line = nl;
                lcap = nc;
            }
            line[len++] = (char)ch;
        }
        if (ch == EOF && len == 0) break;
        line_no++;
        if (!line) continue;
        line[len] = '\0';
        const char *p = line + strspn(line, " \t\r,");
        if (!*p || *p == '#') {
            if (ch == EOF) break;
            continue;
        }
        if (*ntok == CLI_TOKENS_MAX) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%zu: more than %d tokens", path, line_no,
                               CLI_TOKENS_MAX);
            goto out;
        }
        if (*ntok == cap) {
            size_t nc = cap ? 2 * cap : 64;
            float *nx = realloc(x, nc * dm * sizeof *nx);
            if (!nx) goto nomem;
            x = nx;
            cap = nc;
        }
        size_t got = 0;
        while (*p) {
            char *end;
            errno = 0;
            const double v = strtod(p, &end);
            if (end == p || !(end[0] == '\0' || strchr(" \t\r,", end[0]))) {
                const size_t wl = strcspn(p, " \t\r,");
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%zu:%zu: not a number: \"%.*s\"", path,
                                   line_no, (size_t)(p - line) + 1, (int)(wl > 40 ? 40 : wl), p);
                goto out;
            }
            if (errno == ERANGE || v != v || v > 3.4e38 || v < -3.4e38) {
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%zu:%zu: not a finite float32: %.*s",
                                   path, line_no, (size_t)(p - line) + 1, (int)(end - p), p);
                goto out;
            }
            if (got < dm) x[*ntok * dm + got] = (float)v;
            got++;
            p = end + strspn(end, " \t\r,");
        }
        if (got != dm) {
            rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%zu: expected %zu numbers (model %s's "
                               "d_model), got %zu", path, line_no, dm, m->name, got);
            goto out;
        }
        (*ntok)++;
        if (ch == EOF) break;
    }
    if (ferror(f)) {
        rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: read error", path);
        goto out;
    }
    if (*ntok == 0) {
        rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: no tokens (one line of %zu numbers each)",
                           path, dm);
        goto out;
    }
    *x0 = x;
    x = NULL;
    goto out;
nomem:
    rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
out:
    if (rc) *ntok = 0;
    free(x);
    free(line);
    fclose(f);
    return rc;
}

int cli_dump_write(const char *path, const aimc_model *m, const aimc_arch *a, uint64_t seed,
                   size_t ntok, const float *inputs, const float *hidden,
                   const float *layers_out, const float *logits, const int *experts,
                   const int *ids, aimc_diag *d)
{
    const size_t L = (size_t)m->layers, dm = (size_t)m->d_model;
    aimc_st_tensor *t = calloc(L + 5, sizeof *t);
    char (*names)[48] = calloc(L, sizeof *names);
    char seed_s[32];
    int rc;
    if (!t || !names) {
        free(t);
        free(names);
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", path);
    }
    size_t n = 0;
    if (inputs) t[n++] = (aimc_st_tensor){"input", 0, 2, {ntok, dm, 0}, inputs};
    if (hidden) t[n++] = (aimc_st_tensor){"hidden", 0, 2, {ntok, dm, 0}, hidden};
    for (size_t l = 0; layers_out && l < L; l++) {
        snprintf(names[l], sizeof names[l], "layers.%zu.hidden", l);
        t[n++] = (aimc_st_tensor){names[l], 0, 2, {ntok, dm, 0}, layers_out + l * ntok * dm};
    }
    if (logits)
        t[n++] = (aimc_st_tensor){"logits", 0, 2, {ntok, (uint64_t)m->n_classes, 0}, logits};
    const uint64_t moe = (uint64_t)(m->layers - m->dense_layers);
    if (experts && moe)
        t[n++] = (aimc_st_tensor){"experts", 1, 3, {moe, ntok, (uint64_t)m->top_k}, experts};
    if (ids) t[n++] = (aimc_st_tensor){"ids", 1, 1, {ntok, 0, 0}, ids};
    snprintf(seed_s, sizeof seed_s, "%llu", (unsigned long long)seed);
    const char *meta[] = {"format", "aimc outputs", "model", m->name, "machine", a->name,
                          "seed", seed_s};
    rc = aimc_st_write(path, t, n, meta, 4, d);
    free(t);
    free(names);
    return rc;
}

/* ---- the run by part of the model --------------------------------------------------------- */

const char *cli_model_part_name(cli_model_part p)
{
    static const char *const names[CLI_MP_COUNT] = {"attention", "ffn", "norms", "head",
                                                     "data_movement"};
    return (int)p >= 0 && p < CLI_MP_COUNT ? names[p] : "unknown";
}

static int is_movement(int q)
{
    return q == AIMC_PART_BUFFER || q == AIMC_PART_BUS || q == AIMC_PART_NOC ||
           q == AIMC_PART_CHIP_LINK || q == AIMC_PART_HOST_DMA;
}

static void parts_add(const aimc_profile *pr, cli_model_part to, double pj[CLI_MP_COUNT],
                      double *profiled)
{
    for (int q = 0; q < AIMC_PART_COUNT; q++) {
        pj[is_movement(q) ? CLI_MP_MOVEMENT : to] += pr->energy_pj[q];
        *profiled += pr->energy_pj[q];
    }
}

void cli_model_parts(const aimc_model *m, const cli_breakdown *b,
                     const double total_pj[AIMC_PART_COUNT], double pj[CLI_MP_COUNT])
{
    double profiled = 0, total = 0;
    for (int p = 0; p < CLI_MP_COUNT; p++) pj[p] = 0;
    if (!b || !b->available) return;
    for (size_t i = 0; i < b->n_matrices && i < m->n_matrices; i++) {
        const int e = m->m[i].expert;
        parts_add(&b->matrix[i], e == AIMC_EXPERT_ATTN ? CLI_MP_ATTENTION
                                 : e == AIMC_EXPERT_HEAD ? CLI_MP_HEAD
                                                         : CLI_MP_FFN,
                  pj, &profiled);
    }
    for (uint32_t k = 0; k < 16; k++) {
        const char *name = aimc_opcode_name(k);
        if (!name || !strcmp(name, "mvm") || !strcmp(name, "readback") || !strcmp(name, "program"))
            continue; /* the matrices' rows hold their commands */
        parts_add(&b->opcode[k], !strcmp(name, "attn")                                 ? CLI_MP_ATTENTION
                                 : !strcmp(name, "norm") || !strcmp(name, "rmsnorm") ? CLI_MP_NORMS
                                                                                      : CLI_MP_FFN,
                  pj, &profiled);
    }
    for (int q = 0; q < AIMC_PART_COUNT; q++) total += total_pj[q];
    if (total > profiled) pj[CLI_MP_MOVEMENT] += total - profiled; /* fetches, status words */
}

/* A token of an ids file as read: where it starts, its first bytes, whether it is digits only
 * and its value (capped: once above the vocabulary it stays above). */
typedef struct {
    size_t col, len;
    char text[48];
    int digits;
    long value;
} id_token;

#define ID_TEXT_MAX 40 /* a longer token is refused at its 41st byte, with its first 40 */

/* The message for a token that is no id below vocab (0 when it is one). */
static int id_check(const char *file, size_t line, const id_token *t, int vocab, aimc_diag *d)
{
    const int shown = (int)(t->len > ID_TEXT_MAX ? ID_TEXT_MAX : t->len);
    const char *more = t->len > ID_TEXT_MAX ? "..." : "";
    if (!t->digits || (t->len > ID_TEXT_MAX && t->value < vocab)) { /* zeros before an id */
        char esc[4 * ID_TEXT_MAX + 1]; /* the bytes as read, those not printable as \xNN */
        size_t k = 0;
        for (int i = 0; i < shown; i++) {
            const unsigned char c = (unsigned char)t->text[i];
            if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
                esc[k++] = (char)c;
            else
                k += (size_t)snprintf(esc + k, sizeof esc - k, "\\x%02x", c);
        }
        esc[k] = '\0';
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%zu:%zu: not a token id: \"%s%s\" "
                             "(expected decimal ids 0..%d)", file, line, t->col, esc, more,
                             vocab - 1);
    }
    if (t->value >= vocab)
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%zu:%zu: id %.*s%s outside 0..%d", file,
                             line, t->col, shown, t->text, more, vocab - 1);
    return AIMC_OK;
}

int cli_ids_read(const char *path, const aimc_model *m, int **ids, size_t *n, aimc_diag *d)
{
    *ids = NULL;
    *n = 0;
    const int text = !strncmp(path, "text:", 5);
    const char *file = text ? path + 5 : path;
    if (text && m->vocab != 256) /* bytes are ids only in a vocabulary of the 256 bytes */
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: text: needs a byte vocabulary of 256 (one "
                             "id a byte), and model %s has a vocabulary of %d: give its token "
                             "ids instead (decimal ids 0..%d)", file, m->name, m->vocab,
                             m->vocab - 1);
    FILE *f = fopen(file, "rb");
    if (!f) return aimc_diag_set(d, AIMC_ERR_IO, "%s: cannot open: %s", file, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: is a directory, not a file (--tokens-file "
                             "reads one file)", file);
    }
    /* One more than the limit at most: a longer text or a stream is refused, not read whole. */
    int *v = malloc((CLI_TOKENS_MAX + 1) * sizeof *v);
    uint8_t *buf = text ? malloc(CLI_TOKENS_MAX + 1) : NULL;
    int rc = AIMC_OK;
    size_t k = 0;
    if (!v || (text && !buf)) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "%s: out of memory", file);
        goto out;
    }
    if (text) { /* one id a byte, NUL included */
        size_t len = 0, got;
        while (len < CLI_TOKENS_MAX + 1 &&
               (got = fread(buf + len, 1, CLI_TOKENS_MAX + 1 - len, f)) > 0)
            len += got;
        if (len > CLI_TOKENS_MAX) {
            if (S_ISREG(st.st_mode) && st.st_size > CLI_TOKENS_MAX)
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: %lld bytes, more than %d tokens (one "
                                   "a byte)", file, (long long)st.st_size, CLI_TOKENS_MAX);
            else
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: more than %d tokens (one a byte)",
                                   file, CLI_TOKENS_MAX);
            goto out;
        }
        for (size_t i = 0; i < len; i++) v[k++] = buf[i];
    } else { /* decimal ids separated by blanks, commas or new lines, read as they come */
        size_t line = 1, col = 0, bytes = 0;
        id_token t = {0};
        for (;;) {
            const int ch = fgetc(f);
            if (ch != EOF) col++;
            /* separators alone never reach the id limit: a stream of them ends here */
            if (ch != EOF && ++bytes > CLI_IDS_BYTES_MAX) {
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: more than %d bytes of text holding "
                                   "%zu token ids (at most %d ids)", file, CLI_IDS_BYTES_MAX, k,
                                   CLI_TOKENS_MAX);
                break;
            }
            if (ch == '\0') { /* not a separator (a C string would end there) */
                rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s:%zu:%zu: a NUL byte: expected token "
                                   "ids 0..%d as text", file, line, col, m->vocab - 1);
                break;
            }
            if (ch == EOF || strchr(" \t\r\n,", ch)) {
                if (t.len) {
                    if ((rc = id_check(file, line, &t, m->vocab, d))) break;
                    if (k == CLI_TOKENS_MAX) {
                        rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: more than %d tokens", file,
                                           CLI_TOKENS_MAX);
                        break;
                    }
                    v[k++] = (int)t.value;
                    t.len = 0;
                }
                if (ch == EOF) break;
                if (ch == '\n') line++, col = 0;
                continue;
            }
            if (!t.len) t = (id_token){.col = col, .digits = 1};
            if (ch < '0' || ch > '9') t.digits = 0;
            else if (t.value <= m->vocab) t.value = t.value * 10 + (ch - '0');
            if (t.len < ID_TEXT_MAX) t.text[t.len] = (char)ch;
            if (++t.len > ID_TEXT_MAX) { /* no id is this long: refused without its end */
                rc = id_check(file, line, &t, m->vocab, d);
                break;
            }
        }
    }
    if (rc == AIMC_OK && ferror(f)) rc = aimc_diag_set(d, AIMC_ERR_IO, "%s: read error", file);
    if (rc == AIMC_OK && k == 0) rc = aimc_diag_set(d, AIMC_ERR_CONFIG, "%s: no tokens", file);
out:
    fclose(f);
    free(buf);
    if (rc) {
        free(v);
        return rc;
    }
    *ids = v;
    *n = k;
    return AIMC_OK;
}
