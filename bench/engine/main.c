/* main.c - bench/engine: one token of Mixtral-8x7B (32 layers, top-2) through the timing-only
 * device on the default machine with `chips: auto`: the driver, the runtime's commands, the
 * device's command processor and the cost layer's schedules on the event engine.
 *
 * Measures, in CPU seconds of this process on one core, the host time of one token through
 * every layer (the shape-only plan and the programming are made once and not timed), and the
 * engine events of that token per second. Reference, measured in the same run: 64-bit keys
 * per second sorted by the C library's qsort, so the ratio travels across machines. Prints
 * `BENCH <name> <value> <unit>` lines. Target: under 0.25 s per token.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "aimc.h"
#include "aimc_config.h"
#include "aimc_map.h"
#include "aimc_rt.h"
#include "bench_util.h"

int main(void)
{
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_dev *dev = NULL;
    aimc_diag d = {{0}};
    const char *const sets[] = {"hierarchy.chips=auto"};
    int rc = aimc_cfg_load(NULL, sets, 1, &a, &d);
    if (!rc) rc = aimc_model_load_string(
                  /* the MoE blocks of models/mixtral-8x7b.yaml: independent tokens (with its
                   * attention the tokens are one sequence, docs/mapping.md) */
                  "version: 1\nmodel: {name: mixtral-8x7b, layers: 32, d_model: 4096, "
                  "routed_experts: 8, expert_d_ff: 14336, top_k: 2}\n",
                  "mixtral-ffn.yaml", 0, &m, &d);
    double t0 = bench_now_s();
    if (!rc) {
        aimc_map_opts mo = {.shape_only = 1};
        rc = aimc_map_plan_ex(&a, m, &mo, &p, &d);
    }
    if (!rc) rc = aimc_map_fit_chips(&a, p);
    const double plan_s = bench_now_s() - t0;
    aimc_open_opts o = {.arch = &a, .seed = 1, .timing_only = 1, .diag = &d};
    if (!rc) rc = aimc_open("sim:", &o, &dev);
    t0 = bench_now_s();
    if (!rc) rc = aimc_rt_program(dev, &a, m, p, NULL, NULL, &d);
    const double program_s = bench_now_s() - t0;
    if (rc) {
        fprintf(stderr, "bench/engine: %s\n", d.msg[0] ? d.msg : aimc_strerror(rc));
        return 1;
    }
    /* Timed runs of one token each (experts differ by seed); the first warms up. */
    aimc_rt_report *r = calloc(1, sizeof *r);
    if (!r) return 1;
    const int reps = 4;
    double best = 1e30;
    uint64_t cycles = 0, mvms = 0;
    for (int i = 0; i < reps; i++) {
        aimc_rt_opts ro = {.batch = 1, .seed = (uint64_t)i + 2};
        t0 = bench_now_s();
        rc = aimc_rt_run(dev, m, NULL, 1, NULL, &ro, r, &d);
        const double t = bench_now_s() - t0;
        if (rc) {
            fprintf(stderr, "bench/engine: %s\n", d.msg);
            return 1;
        }
        if (i > 0 && t < best) {
            best = t;
            cycles = r->makespan_cycles;
            mvms = r->cost.mvms;
        }
    }
    const double ref = bench_qsort_keys_per_s(4000000);
    printf("# mixtral-8x7b on %d chips (default machine, chips: auto): one token %.3f us "
           "simulated, %llu MVMs; plan %.2f s, programming %.2f s\n",
           p->chips, (double)cycles * 1000.0 / a.clock.frequency_mhz * 1e-3,
           (unsigned long long)mvms, plan_s, program_s);
    printf("BENCH engine_mixtral_s_per_token %.4g s\n", best);
    printf("BENCH engine_qsort_keys_per_s %.4g 1/s\n", ref);
    printf("BENCH engine_token_vs_qsort %.4g ratio\n", best * ref);
    free(r);
    aimc_close(dev);
    aimc_plan_free(p);
    aimc_model_free(m);
    return 0;
}
