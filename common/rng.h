/* rng.h - counter-based random numbers: a draw is a pure function of a key and a counter,
 * never of a hidden state. Every random number of aimc (device noise, model weights, input
 * tokens) comes from here.
 *
 * A key is a 64-bit hash of (seed, domain, a, b) - for example (seed, programming, crossbar,
 * program generation) - and the counter picks one draw under that key (for example the cell
 * index). The mixer is SplitMix64's finaliser (Steele, Lea and Flood, "Fast splittable
 * pseudorandom number generators", OOPSLA 2014; constants as in Vigna's splitmix64.c), used as
 * a hash: draw(key, i) = mix64(key + (i + 1) * golden gamma). Nothing here allocates, fails or
 * keeps state, so results do not depend on thread count, call order within a key, or
 * addresses.
 *
 * Internal to the aimc libraries and tools (not part of the driver API): prefix aimc_rng_.
 */
#ifndef AIMC_RNG_H
#define AIMC_RNG_H

#include <stdint.h>

/* Domains keep the draws of different purposes apart. */
enum {
    AIMC_RNG_DOMAIN_PROGRAM = 1, /* programming noise: (crossbar, generation), counter = cell */
    AIMC_RNG_DOMAIN_READ = 2,    /* read noise: (crossbar, read event), counter = column */
    AIMC_RNG_DOMAIN_WEIGHTS = 3, /* model weights: (matrix index, 0), counter = element */
    AIMC_RNG_DOMAIN_TOKENS = 4,  /* input tokens of a run: (0, 0), counter = element */
    AIMC_RNG_DOMAIN_FAULT = 5,   /* stuck-at faults: (crossbar, 0), counter = cell */
    AIMC_RNG_DOMAIN_DRIFT = 6,   /* pcm drift exponents: (crossbar, generation), counter = cell */
    AIMC_RNG_DOMAIN_VERIFY = 7,  /* program-and-verify re-writes: (crossbar, generation),
                                  * sub-key the round, counter = cell */
};

#define AIMC_RNG_GOLDEN UINT64_C(0x9e3779b97f4a7c15)

/* SplitMix64's finaliser: a bijection of 64-bit words with full avalanche. */
static inline uint64_t aimc_rng_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* The key of (seed, domain, a, b): each word is folded in through the bijective mixer, so
 * for a fixed prefix distinct words give distinct keys. */
static inline uint64_t aimc_rng_key(uint64_t seed, uint64_t domain, uint64_t a, uint64_t b)
{
    uint64_t h = aimc_rng_mix64(seed + AIMC_RNG_GOLDEN);
    h = aimc_rng_mix64(h ^ (domain * AIMC_RNG_GOLDEN));
    h = aimc_rng_mix64(h ^ a);
    return aimc_rng_mix64((h + AIMC_RNG_GOLDEN) ^ b);
}

/* Draw number `counter` under `key`: 64 uniformly distributed bits. */
static inline uint64_t aimc_rng_u64(uint64_t key, uint64_t counter)
{
    return aimc_rng_mix64(key + (counter + 1) * AIMC_RNG_GOLDEN);
}

/* A uniform double in the open interval (0, 1): the top 53 bits of aimc_rng_u64 plus one
 * half, times 2^-53. */
double aimc_rng_uniform(uint64_t key, uint64_t counter);

/* A standard normal N(0, 1). Counters 2h and 2h + 1 are the two outputs of one Box-Muller
 * transform of the uniforms number 2h and 2h + 1 of key: r = sqrt(-2 ln u0), a = 2 pi u1,
 * normal(2h) = r cos a, normal(2h + 1) = r sin a (independent standard normals). */
double aimc_rng_normal(uint64_t key, uint64_t counter);

/* Both normals of pair h at once: *z0 = aimc_rng_normal(key, 2h), *z1 = ...(key, 2h + 1). */
void aimc_rng_normal_pair(uint64_t key, uint64_t h, double *z0, double *z1);

#endif /* AIMC_RNG_H */
