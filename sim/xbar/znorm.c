/* znorm.c - the ziggurat's tables and its slow path (sim_znorm.h). */
#include "xbar_znorm.h"

#include <math.h>
#include <pthread.h>

/* 256 layers: the rightmost edge R and the common area V of every layer (base strip with
 * the tail included) for f(x) = exp(-x^2 / 2), as in Marsaglia and Tsang (2000), Table 1
 * ("r = 3.6541528853610088, v = 4.92867323399e-3"). */
#define ZN_R 3.6541528853610088
#define ZN_V 4.92867323399e-3

static aimc_znorm_tables zn_tables;
static pthread_once_t zn_once = PTHREAD_ONCE_INIT;

static void zn_build(void)
{
    aimc_znorm_tables *t = &zn_tables;
    const double fr = exp(-0.5 * ZN_R * ZN_R);
    t->x[0] = ZN_V / fr;
    t->x[1] = ZN_R;
    for (int i = 1; i < AIMC_ZNORM_LAYERS - 1; i++) {
        /* layer i+1's edge: x_i (f(x_{i+1}) - f(x_i)) = V */
        t->x[i + 1] = sqrt(-2.0 * log(ZN_V / t->x[i] + exp(-0.5 * t->x[i] * t->x[i])));
    }
    t->x[AIMC_ZNORM_LAYERS] = 0.0;
    for (int i = 0; i <= AIMC_ZNORM_LAYERS; i++) t->f[i] = exp(-0.5 * t->x[i] * t->x[i]);
}

const aimc_znorm_tables *aimc_znorm_tables_get(void)
{
    pthread_once(&zn_once, zn_build);
    return &zn_tables;
}

static double zn_unit(uint64_t b)
{
    return ((double)(b >> 11) + 0.5) * 0x1.0p-53;
}

double aimc_znorm_slow(const aimc_znorm_tables *t, uint64_t key, uint64_t counter, uint64_t bits)
{
    const uint64_t rkey = aimc_rng_key(key, AIMC_ZNORM_RETRY, counter, 0);
    uint64_t j = 0;
    for (;;) {
        const unsigned i = (unsigned)(bits & 0xff);
        const double u = ((double)(bits >> 11) + 0.5) * 0x1.0p-52 - 1.0;
        const double x = u * t->x[i];
        if (fabs(x) < t->x[i + 1]) return x;
        if (i == 0) {
            /* The base strip beyond R: Marsaglia's tail method. */
            double xt, yt;
            do {
                xt = -log(zn_unit(aimc_rng_u64(rkey, j++))) / ZN_R;
                yt = -log(zn_unit(aimc_rng_u64(rkey, j++)));
            } while (yt + yt < xt * xt);
            return u < 0.0 ? -(ZN_R + xt) : ZN_R + xt;
        }
        /* The wedge between layers i and i+1: accept under the density. */
        const double fy = t->f[i] + zn_unit(aimc_rng_u64(rkey, j++)) * (t->f[i + 1] - t->f[i]);
        if (fy < exp(-0.5 * x * x)) return x;
        bits = aimc_rng_u64(rkey, j++);
    }
}
