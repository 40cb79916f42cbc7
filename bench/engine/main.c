/* main.c - bench/engine: one token through the Mixtral-8x7B-shaped model (32 layers, top-2)
 * in timing-only mode on the default machine with `chips: auto` (sim/aimc_timing.h).
 *
 * Measures, in CPU seconds of this process on one core: the host time of one token through
 * every layer (the shape-only plan is made once and not timed; each timed run walks the tiles
 * of the matrices the token uses, builds the engine and runs it), and the engine events plus
 * reservations per second of that run. Reference, measured in the same run: 64-bit keys per second sorted by the C library's
 * qsort, so the ratio travels across machines. Prints `BENCH <name> <value> <unit>` lines.
 * Target (issue 5): under 0.25 s per token.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aimc_config.h"
#include "aimc_map.h"
#include "aimc_timing.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Keys per second qsort sorts (n pseudo-random 64-bit keys). */
static double run_qsort(size_t n)
{
    uint64_t *k = malloc(n * sizeof *k), z = 88172645463325252u;
    if (!k) return 0;
    for (size_t i = 0; i < n; i++) {
        z ^= z << 13, z ^= z >> 7, z ^= z << 17;
        k[i] = z;
    }
    double t0 = now_s();
    qsort(k, n, sizeof *k, cmp_u64);
    double t = now_s() - t0;
    free(k);
    return (double)n / t;
}

int main(void)
{
    aimc_arch a;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    const char *const sets[] = {"hierarchy.chips=auto"};
    int rc = aimc_cfg_load(NULL, sets, 1, &a, &d);
    if (!rc) rc = aimc_model_load("models/mixtral-8x7b.yaml", 0, &m, &d);
    double t0 = now_s();
    if (!rc) {
        aimc_map_opts mo = {0};
        mo.shape_only = 1;
        rc = aimc_map_plan_ex(&a, m, &mo, &p, &d);
    }
    const double plan_s = now_s() - t0;
    if (rc) {
        fprintf(stderr, "bench/engine: %s\n", d.msg[0] ? d.msg : aimc_strerror(rc));
        return 1;
    }
    /* A warm-up run, then timed runs of one token each (experts differ by seed). */
    aimc_timing_opts o = {1, 1, NULL, NULL};
    aimc_timing_report r;
    if ((rc = aimc_timing_run(&a, m, p, &o, &r, &d))) {
        fprintf(stderr, "bench/engine: %s\n", d.msg);
        return 1;
    }
    const int reps = 3;
    double best = 1e30, work = 0;
    for (int i = 0; i < reps; i++) {
        o.seed = (uint64_t)i + 2;
        t0 = now_s();
        rc = aimc_timing_run(&a, m, p, &o, &r, &d);
        const double t = now_s() - t0;
        if (rc) {
            fprintf(stderr, "bench/engine: %s\n", d.msg);
            return 1;
        }
        if (t < best) {
            best = t;
            work = (double)(r.events + r.reservations);
        }
    }
    const double ref = run_qsort(4000000);
    printf("# mixtral-8x7b on %d chips (default machine, chips: auto): one token %.3f us "
           "simulated, %llu tile MVMs, %llu chips at work; plan %.2f s\n",
           p->chips, r.time_ns * 1e-3, (unsigned long long)r.tile_mvms,
           (unsigned long long)r.chips_used, plan_s);
    printf("BENCH engine_mixtral_s_per_token %.4g s\n", best);
    printf("BENCH engine_events_per_s %.4g 1/s\n", work / best);
    printf("BENCH engine_qsort_keys_per_s %.4g 1/s\n", ref);
    printf("BENCH engine_events_vs_qsort %.4g ratio\n", work / best / ref);
    aimc_plan_free(p);
    aimc_model_free(m);
    return 0;
}
