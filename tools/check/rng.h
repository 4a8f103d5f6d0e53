/* Deterministic random numbers for the accuracy harness (xoshiro256**, seeded by splitmix64). */
#ifndef QATTN_CHECK_RNG_H
#define QATTN_CHECK_RNG_H

#include <stdint.h>

typedef struct check_rng {
    uint64_t s[4];
} check_rng;

void check_rng_seed(check_rng *r, uint64_t seed);
uint64_t check_rng_next(check_rng *r);
/* Standard normal (Box-Muller). */
double check_rng_normal(check_rng *r);

#endif
