/* sim_znorm.h - fast exact standard normals keyed by (key, counter): a ziggurat on the
 * counter-based generator of common/rng.h. Internal to sim/.
 *
 * aimc_znorm(key, c) is a pure function of key and c, like aimc_rng_normal(), but about ten
 * times faster: one 64-bit draw aimc_rng_u64(key, c) gives the layer (its low 8 bits) and a
 * uniform (its top 53 bits); 98.8 % of the draws are accepted with one multiply and one
 * compare. The rejected ones (wedges and the tail) continue on their own sub-stream,
 * aimc_rng_u64(aimc_rng_key(key, AIMC_ZNORM_RETRY, c, 0), j), j = 0, 1, ... so the result never
 * depends on other counters. Method: Marsaglia and Tsang, "The Ziggurat Method for Generating
 * Random Variables", J. Stat. Softw. 5(8), 2000, with 256 layers and the symmetric uniform
 * of Doornik, "An Improved Ziggurat Method to Generate Normal Random Samples", 2005; the
 * tables are built once from the layer equations (sim/xbar/znorm.c), not copied.
 */
#ifndef AIMC_XBAR_ZNORM_H
#define AIMC_XBAR_ZNORM_H

#include <stdint.h>

#include "rng.h"

#define AIMC_ZNORM_LAYERS 256
#define AIMC_ZNORM_RETRY 0x7a69676775726174ULL /* "ziggurat": the domain of the retries */

typedef struct aimc_znorm_tables {
    double x[AIMC_ZNORM_LAYERS + 1]; /* layer edges, x[0] = V / f(R) > x[1] = R > ... x[256] = 0 */
    double f[AIMC_ZNORM_LAYERS + 1]; /* exp(-x^2 / 2) at the edges */
} aimc_znorm_tables;

/* The tables (built on first use, thread-safe). */
const aimc_znorm_tables *aimc_znorm_tables_get(void);

/* The slow path of aimc_znorm: wedges and tail. */
double aimc_znorm_slow(const aimc_znorm_tables *t, uint64_t key, uint64_t counter, uint64_t bits);

/* A standard normal N(0, 1), draw number `counter` under `key`. */
static inline double aimc_znorm(const aimc_znorm_tables *t, uint64_t key, uint64_t counter)
{
    const uint64_t bits = aimc_rng_u64(key, counter);
    const unsigned i = (unsigned)(bits & 0xff);
    /* u in (-1, 1): 53 bits independent of the layer's 8 */
    const double u = ((double)(bits >> 11) + 0.5) * 0x1.0p-52 - 1.0;
    const double x = u * t->x[i];
    if (x < t->x[i + 1] && x > -t->x[i + 1]) return x;
    return aimc_znorm_slow(t, key, counter, bits);
}

#endif /* AIMC_XBAR_ZNORM_H */
