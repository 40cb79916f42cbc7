/* main.c - bench/first_token: Mixtral-8x7B timing-only on configs/hermes.yaml (as many chips
 * as it needs): the first token's latency alone and as the first of 1024 tokens streamed
 * behind each other (groups of one, aimc_rt.h). Prints the simulated latencies and their
 * ratio (1 when the tokens behind never delay the first), and the host's CPU seconds per
 * token of the 1024-token run against qsort's keys per second measured in the same run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "aimc.h"
#include "aimc_config.h"
#include "aimc_map.h"
#include "aimc_rt.h"
#include "bench_util.h"

/* Program a fresh timing-only device and run ntok tokens; *cpu gets the run's CPU time. */
static int run(const aimc_arch *a, const aimc_model *m, const aimc_plan *p, size_t ntok,
               aimc_rt_report *r, double *cpu, aimc_diag *d)
{
    aimc_dev *dev = NULL;
    aimc_open_opts o = {.arch = a, .seed = 1, .timing_only = 1, .diag = d};
    int rc = aimc_open("sim:", &o, &dev);
    if (!rc) rc = aimc_rt_program(dev, a, m, p, NULL, NULL, d);
    aimc_rt_opts ro = {.batch = 1, .seed = 3};
    const double t0 = bench_now_s();
    if (!rc) rc = aimc_rt_run(dev, m, NULL, ntok, NULL, &ro, r, d);
    *cpu = bench_now_s() - t0;
    aimc_close(dev);
    return rc;
}

int main(void)
{
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    const char *const sets[] = {"hierarchy.chips=auto"};
    int rc = aimc_cfg_load("configs/hermes.yaml", sets, 1, &a, &d);
    if (!rc) rc = aimc_model_load_string(
                  /* the MoE blocks of models/mixtral-8x7b.yaml: independent tokens (with its
                   * attention the tokens are one sequence, docs/mapping.md) */
                  "version: 1\nmodel: {name: mixtral-8x7b, layers: 32, d_model: 4096, "
                  "routed_experts: 8, expert_d_ff: 14336, top_k: 2}\n",
                  "mixtral-ffn.yaml", 0, &m, &d);
    if (!rc) {
        aimc_map_opts mo = {.shape_only = 1};
        rc = aimc_map_plan_ex(&a, m, &mo, &p, &d);
    }
    if (!rc) rc = aimc_map_fit_chips(&a, p);
    aimc_rt_report *r1 = calloc(1, sizeof *r1), *rn = calloc(1, sizeof *rn);
    double cpu1 = 0, cpun = 0;
    if (!rc && (!r1 || !rn)) rc = AIMC_ERR_NOMEM;
    if (!rc) rc = run(&a, m, p, 1, r1, &cpu1, &d);
    if (!rc) rc = run(&a, m, p, 1024, rn, &cpun, &d);
    if (rc) {
        fprintf(stderr, "bench/first_token: %s\n", d.msg[0] ? d.msg : aimc_strerror(rc));
        return 1;
    }
    const double ns = 1000.0 / a.clock.frequency_mhz, ref = bench_qsort_keys_per_s(4000000);
    printf("# mixtral-8x7b on hermes, %d chips: first token %.3f ms alone, %.3f ms of 1024; "
           "1024 tokens in %.3f ms simulated\n",
           p->chips, (double)r1->first_cycles * ns * 1e-6, (double)rn->first_cycles * ns * 1e-6,
           (double)rn->makespan_cycles * ns * 1e-6);
    printf("BENCH first_token_1024_vs_1 %.6f ratio\n",
           (double)rn->first_cycles / (double)r1->first_cycles);
    printf("BENCH first_token_s_per_token %.4g s\n", cpun / 1024.0);
    printf("BENCH first_token_qsort_keys_per_s %.4g 1/s\n", ref);
    free(rn);
    free(r1);
    aimc_plan_free(p);
    aimc_model_free(m);
    return 0;
}
