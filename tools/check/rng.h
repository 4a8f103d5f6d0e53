/*
 * The harness's random numbers: the same stream as numpy's legacy np.random.seed(s);
 * np.random.randn(...) (MT19937 seeded by init_genrand, polar Box-Muller), so `qattn check`
 * replays the seed's test and DESIGN.md's protocols on exactly their inputs.
 */
#ifndef QATTN_CHECK_RNG_H
#define QATTN_CHECK_RNG_H

#include <stdint.h>

typedef struct check_rng {
    uint32_t mt[624];
    int index;
    int has_gauss;
    double gauss;
} check_rng;

void check_rng_seed(check_rng *r, uint32_t seed);
/* One draw of np.random.randn() (float64). */
double check_rng_normal(check_rng *r);

#endif
