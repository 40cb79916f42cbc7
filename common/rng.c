/* rng.c - uniform and normal draws of the counter-based generator (rng.h). */
#include "rng.h"

#include <math.h>

double aimc_rng_uniform(uint64_t key, uint64_t counter)
{
    return ((double)(aimc_rng_u64(key, counter) >> 11) + 0.5) * 0x1.0p-53;
}

static const double two_pi = 6.283185307179586476925286766559;

double aimc_rng_normal(uint64_t key, uint64_t counter)
{
    uint64_t h = counter >> 1;
    double r = sqrt(-2.0 * log(aimc_rng_uniform(key, 2 * h)));
    double a = two_pi * aimc_rng_uniform(key, 2 * h + 1);
    return (counter & 1) ? r * sin(a) : r * cos(a);
}

void aimc_rng_normal_pair(uint64_t key, uint64_t h, double *z0, double *z1)
{
    double r = sqrt(-2.0 * log(aimc_rng_uniform(key, 2 * h)));
    double a = two_pi * aimc_rng_uniform(key, 2 * h + 1);
    *z0 = r * cos(a);
    *z1 = r * sin(a);
}
