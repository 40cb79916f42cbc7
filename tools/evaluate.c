/* evaluate.c - one evaluation of a model on a machine through the driver (cli.h). */
#include <stdlib.h>
#include <string.h>

#include "aimc.h"
#include "aimc_train.h"
#include "cli.h"

/* The inputs of a run: a classifier's test samples and labels when the model names a data
 * set, else ntok random tokens. */
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
    if (*ntok == 0 || *ntok > test->n) *ntok = test->n;
    *x0 = malloc(*ntok * dm * sizeof **x0);
    *labels = malloc(*ntok * sizeof **labels);
    if (!*x0 || !*labels) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for %zu samples", *ntok);
        goto out;
    }
    memcpy(*x0, test->x, *ntok * dm * sizeof **x0);
    memcpy(*labels, test->label, *ntok * sizeof **labels);
out:
    aimc_dataset_free(test);
    aimc_dataset_free(train);
    aimc_dataset_free(all);
    return rc;
}

int cli_evaluate(const aimc_arch *a0, const aimc_model *m, const cli_eval_opts *o,
                 aimc_plan **plan, aimc_arch *arch_used, aimc_rt_report *rep, aimc_diag *d)
{
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
    if ((rc = aimc_rt_program(dev, &a, m, *plan, &wo, &wr, d)) != AIMC_OK) goto out;
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
    rc = aimc_rt_run(dev, m, x0, ntok, labels, &ro, rep, d);
    rep->program = wr;
out:
    free(labels);
    free(x0);
    free(faults);
    aimc_close(dev);
    return rc;
}
