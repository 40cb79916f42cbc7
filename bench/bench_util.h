/* bench_util.h - what the benchmarks share: CPU time of the process and the in-run
 * reference, 64-bit keys per second sorted by the C library's qsort (bench/README.md). */
#ifndef AIMC_BENCH_UTIL_H
#define AIMC_BENCH_UTIL_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* CPU seconds of this process: on a shared machine, wall time would count the time other
 * processes hold the core. */
static inline double bench_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Keys per second qsort sorts (n pseudo-random 64-bit keys); 0 when out of memory. */
static inline double bench_qsort_keys_per_s(size_t n)
{
    uint64_t *k = malloc(n * sizeof *k), z = 88172645463325252u;
    if (!k) return 0;
    for (size_t i = 0; i < n; i++) {
        z ^= z << 13, z ^= z >> 7, z ^= z << 17;
        k[i] = z;
    }
    const double t0 = bench_now_s();
    qsort(k, n, sizeof *k, bench_cmp_u64);
    const double t = bench_now_s() - t0;
    free(k);
    return t > 0 ? (double)n / t : 0;
}

#endif /* AIMC_BENCH_UTIL_H */
