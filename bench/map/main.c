/* main.c - bench/map: DeepSeek-V3 mapped shape-only on auto chips (pack, uniform routing),
 * plan and summary, on one core: host time and peak memory (VmHWM of this process).
 *
 * Reference in the same run: the time to stream as many 32-byte tile records as the plan
 * has through a 64 MiB buffer (memset), i.e. what merely writing a per-tile plan would cost
 * without holding it. Prints BENCH lines (bench/README.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aimc_map.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Peak resident set of this process in MiB (VmHWM in /proc/self/status), -1 if unknown. */
static double peak_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double kib = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kib = strtod(line + 6, NULL);
    fclose(f);
    return kib < 0 ? -1 : kib / 1024.0;
}

int main(void)
{
    aimc_arch a;
    aimc_arch_defaults(&a);
    a.hierarchy.chips_auto = 1;
    aimc_model *m = NULL;
    aimc_plan *p = NULL;
    aimc_diag d = {{0}};
    double t0 = now_s();
    if (aimc_model_load("models/deepseek-v3.yaml", 0, &m, &d)) {
        fprintf(stderr, "bench map: %s\n", d.msg);
        return 1;
    }
    aimc_map_opts o = {NULL, NULL, 0, 1};
    if (aimc_map_plan_ex(&a, m, &o, &p, &d)) {
        fprintf(stderr, "bench map: %s\n", d.msg);
        return 1;
    }
    double t1 = now_s();
    aimc_map_summary s;
    if (aimc_map_summarise(&a, m, p, NULL, &s, &d)) {
        fprintf(stderr, "bench map: %s\n", d.msg);
        return 1;
    }
    double t2 = now_s();
    double peak = peak_mib();

    /* Reference: stream n_tiles x 32 bytes through a 64 MiB buffer. */
    const size_t buf_bytes = 64u << 20;
    unsigned char *buf = malloc(buf_bytes);
    if (!buf) return 1;
    unsigned long long bytes = (unsigned long long)p->n_tiles * 32ull, done = 0;
    double t3 = now_s();
    unsigned sum = 0;
    for (int pass = 0; done < bytes; pass++) {
        size_t n = bytes - done < buf_bytes ? (size_t)(bytes - done) : buf_bytes;
        memset(buf, pass & 0xff, n);
        sum += buf[n - 1];
        done += n;
    }
    double t4 = now_s();
    free(buf);

    printf("deepseek-v3 shape-only: %zu tiles in %zu runs on %d chips; plan %.2f s, summary %.2f s\n",
           p->n_tiles, p->n_runs, p->chips, t1 - t0, t2 - t1);
    printf("BENCH map_deepseek_v3_s %.3f s\n", t2 - t0);
    printf("BENCH map_deepseek_v3_plan_s %.3f s\n", t1 - t0);
    printf("BENCH map_deepseek_v3_peak_mib %.1f MiB\n", peak);
    printf("BENCH map_stream_tile_records_s %.3f s\n", t4 - t3);
    printf("BENCH map_deepseek_v3_vs_stream %.2f ratio\n", (t2 - t0) / (t4 - t3));
    printf("(checksum %u)\n", sum & 1);
    aimc_plan_free(p);
    aimc_model_free(m);
    return 0;
}
