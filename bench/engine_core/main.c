/* main.c - bench/engine_core: events per second of the discrete-event engine (sim/engine/aimc_engine.h).
 *
 * Three workloads on one core, each timed over a few million events:
 *  - bare: 4096 jobs, each event reschedules itself 1..64 cycles later (queue only);
 *  - booking: each event also books 1 to 4 adjacent units of one of 64 four-unit arrays and
 *    reschedules at the end of the booking (the event-driven device pattern);
 *  - cores: lockstep bookings of 4 to 16 cores of a 2048-core array (how the device books an
 *    MVM's cores), per second.
 * Reference, measured in the same run: how many 64-bit keys per second the C library's qsort
 * orders (a heap of n events does the work of sorting them), so the ratio is comparable
 * across machines. Times are CPU seconds of this process. Prints `BENCH <name> <value>
 * <unit>` lines.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "aimc_engine.h"

#define JOBS 4096
#define ARRAYS 64
#define UNITS 4

/* CPU time of this (single-threaded) process: on a shared machine, wall time would count
 * the time other processes hold the core. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench {
    int arr[ARRAYS];
    uint64_t budget; /* events left to schedule */
} bench;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 31;
    x *= UINT64_C(0x9e3779b97f4a7c15);
    x ^= x >> 29;
    return x;
}

static int bare_event(aimc_eng *e, void *payload, uint64_t arg)
{
    bench *b = payload;
    if (b->budget == 0) return AIMC_OK;
    b->budget--;
    const uint64_t h = mix(arg);
    return aimc_eng_after(e, 1 + (h & 63), bare_event, b, h);
}

static int booking_event(aimc_eng *e, void *payload, uint64_t arg)
{
    bench *b = payload;
    if (b->budget == 0) return AIMC_OK;
    b->budget--;
    const uint64_t h = mix(arg);
    const uint32_t count = 1 + (uint32_t)(h >> 16 & 3);
    const uint32_t first = (uint32_t)(h >> 24) % (UNITS - count + 1);
    uint64_t done;
    int rc = aimc_eng_array_reserve(e, b->arr[h % ARRAYS], first, count, aimc_eng_now(e),
                                    1 + (h >> 8 & 31), &done);
    if (rc) return rc;
    return aimc_eng_at(e, done, booking_event, b, h);
}

/* Run `events` events of fn from JOBS jobs; returns events per second (0 on error). */
static double run_events(aimc_eng_fn fn, uint64_t events)
{
    aimc_eng *e = NULL;
    bench b;
    if (aimc_eng_create(&e)) return 0;
    for (int i = 0; i < ARRAYS; i++) {
        char name[16];
        snprintf(name, sizeof name, "arr%d", i);
        if (aimc_eng_array_add(e, name, 0, UNITS, &b.arr[i], NULL)) return 0;
    }
    b.budget = events - JOBS;
    for (uint64_t j = 0; j < JOBS; j++)
        if (aimc_eng_at(e, j & 15, fn, &b, j)) return 0;
    const double t0 = now_s();
    int rc = aimc_eng_run(e, UINT64_MAX);
    const double t1 = now_s();
    const uint64_t n = aimc_eng_events_run(e);
    aimc_eng_destroy(e);
    if (rc || n != events) return 0;
    return (double)n / (t1 - t0);
}

static double run_cores(uint64_t n)
{
    aimc_eng *e = NULL;
    int cores;
    if (aimc_eng_create(&e)) return 0;
    if (aimc_eng_array_add(e, "cores", 0, 2048, &cores, NULL)) return 0;
    uint64_t ready = 0, done;
    const double t0 = now_s();
    for (uint64_t i = 0; i < n; i++) {
        const uint64_t h = mix(i + 7);
        const uint32_t count = 4 + (uint32_t)(h & 12), first = (uint32_t)((h >> 8) % (2048 - 16));
        if (aimc_eng_array_reserve(e, cores, first, count, ready, 700 + (h >> 40) % 64, &done))
            return 0;
        ready += 1 + (h >> 20) % 8;
    }
    const double t1 = now_s();
    aimc_eng_destroy(e);
    return (double)n / (t1 - t0);
}

static int cmp_u64(const void *a, const void *b)
{
    const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static double run_qsort(size_t n)
{
    uint64_t *k = malloc(n * sizeof *k);
    if (!k) return 0;
    for (size_t i = 0; i < n; i++) k[i] = mix(i + 1);
    const double t0 = now_s();
    qsort(k, n, sizeof *k, cmp_u64);
    const double t1 = now_s();
    free(k);
    return (double)n / (t1 - t0);
}

int main(void)
{
    const uint64_t events = 8000000;
    const double bare = run_events(bare_event, events);
    const double booked = run_events(booking_event, events);
    const double cores = run_cores(2000000);
    const double ref = run_qsort(4000000);
    if (bare <= 0 || booked <= 0 || cores <= 0 || ref <= 0) {
        fprintf(stderr, "engine_core: a workload failed\n");
        return 1;
    }
    printf("BENCH engine_core_events_per_s %.4g 1/s\n", booked);
    printf("BENCH engine_core_bare_events_per_s %.4g 1/s\n", bare);
    printf("BENCH engine_core_core_bookings_per_s %.4g 1/s\n", cores);
    printf("BENCH engine_core_qsort_keys_per_s %.4g 1/s\n", ref);
    printf("BENCH engine_core_events_vs_qsort %.3f ratio\n", booked / ref);
    return 0;
}
