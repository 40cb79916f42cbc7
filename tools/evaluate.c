/* evaluate.c - one evaluation of a model on a machine through the driver (cli.h). */
#include <stdlib.h>
#include <string.h>

#include "aimc.h"
#include "aimc_cost.h"
#include "aimc_train.h"
#include "cli.h"

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
    free(o->x);
    free(o->logits);
    free(o->experts);
    free(o->labels);
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

/* Buffers for every token's outputs (cli_eval_opts.keep_outputs), given to the runtime. */
static int keep_outputs(const aimc_model *m, size_t ntok, const int *labels, aimc_rt_opts *ro,
                        cli_outputs *out, aimc_diag *d)
{
    const size_t moe = (size_t)(m->layers - m->dense_layers);
    out->ntok = ntok;
    out->x = malloc(ntok * (size_t)m->d_model * sizeof *out->x);
    out->experts = malloc((moe ? moe : 1) * ntok * (size_t)m->top_k * sizeof *out->experts);
    if (m->n_classes > 0) out->logits = malloc(ntok * (size_t)m->n_classes * sizeof *out->logits);
    if (labels && (out->labels = malloc(ntok * sizeof *out->labels)))
        memcpy(out->labels, labels, ntok * sizeof *out->labels);
    if (!out->x || !out->experts || (m->n_classes > 0 && !out->logits) || (labels && !out->labels))
        return aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for the outputs of %zu tokens", ntok);
    ro->x_out = out->x;
    ro->logits_out = out->logits;
    if (!ro->experts_out) ro->experts_out = out->experts;
    return AIMC_OK;
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
    if ((rc = make_inputs(m, o->seed, &ntok, &x0, &labels, d)) != AIMC_OK) goto out;
    if (info.timing_only) {
        free(x0);
        free(labels);
        x0 = NULL;
        labels = NULL;
    }
    aimc_rt_opts ro = {.batch = o->batch,
                       .window = o->window,
                       .replay = o->replay,
                       .routing = o->routing,
                       .seed = o->seed,
                       .experts_out = o->experts_out};
    if (o->keep_outputs && !info.timing_only &&
        (rc = keep_outputs(m, ntok, labels, &ro, &ex->outputs, d)) != AIMC_OK)
        goto out;
    if ((rc = profile_snap(dev, m->n_matrices, &before)) ||
        (rc = aimc_rt_run(dev, m, x0, ntok, labels, &ro, rep, d))) {
        if (!d->msg[0]) aimc_diag_set(d, rc, "out of memory");
        goto out;
    }
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
