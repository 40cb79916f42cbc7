/* fuzz_sweep_spec.c - libFuzzer target: design-space sweep specs (tools/sweep_spec.c).
 *
 * The input is a spec's text, named as if it were in configs/sweeps/ (so that the seeds'
 * base.config ../default.yaml resolves). A spec that loads gives its first and last point
 * and their machine configs (an invalid combination is an error with a message); one that
 * does not load must say why.
 */
#include "aimc_config.h"
#include "fuzz_util.h"
#include "sweep.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    sweep_spec *s = calloc(1, sizeof *s);
    if (!s) abort();
    aimc_diag d = {{0}};
    int rc = sweep_spec_load_string(text, "configs/sweeps/fuzz.yaml", s, &d);
    if (rc) {
        fuzz_check_error(rc, &d, NULL);
    } else {
        static sweep_point pt;
        uint64_t idx[2] = {0, s->n_points ? s->n_points - 1 : 0};
        for (int k = 0; k < 2 && s->n_points; k++) {
            if ((rc = sweep_point_get(s, idx[k], &pt))) {
                fprintf(stderr, "fuzz: point %llu of %llu: error %d\n",
                        (unsigned long long)idx[k], (unsigned long long)s->n_points, rc);
                abort();
            }
            if (pt.n != sweep_value_columns(s)) abort();
            aimc_arch a;
            uint64_t seed;
            if ((rc = sweep_point_arch(s, &pt, &a, &seed, &d))) fuzz_check_error(rc, &d, NULL);
        }
    }
    sweep_spec_free(s);
    free(s);
    free(text);
    return 0;
}
