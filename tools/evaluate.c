/* evaluate.c - one evaluation of a model on a machine through the driver (cli.h). */
#include <stdlib.h>

#include "aimc.h"
#include "cli.h"

int cli_evaluate(const aimc_arch *a, const aimc_model *m, const char *backend, uint64_t seed,
                 size_t ntok, aimc_plan **plan, aimc_rt_report *rep, aimc_diag *d)
{
    aimc_dev *dev = NULL;
    float *x0 = NULL;
    *plan = NULL;
    int rc = aimc_map_plan(a, m, plan, d);
    if (rc != AIMC_OK) goto out;
    aimc_diag why = {{0}};
    aimc_open_opts oo = {.arch = a, .seed = seed, .diag = &why};
    if ((rc = aimc_open(backend, &oo, &dev)) != AIMC_OK) {
        aimc_diag_set(d, rc, "cannot open device %s: %s", backend,
                      why.msg[0] ? why.msg : aimc_strerror(rc));
        goto out;
    }
    if ((rc = aimc_rt_program(dev, m, *plan, d)) != AIMC_OK) goto out;
    size_t dm = (size_t)m->d_model;
    x0 = malloc(ntok * dm * sizeof *x0);
    if (!x0) {
        rc = aimc_diag_set(d, AIMC_ERR_NOMEM, "out of memory for %zu tokens", ntok);
        goto out;
    }
    aimc_rt_tokens(seed, ntok, dm, x0);
    rc = aimc_rt_run(dev, m, x0, ntok, rep, d);
out:
    free(x0);
    aimc_close(dev);
    return rc;
}
