/* xoshiro256** (Blackman & Vigna, https://prng.di.unimi.it/), seeded with splitmix64. */
#include "check/rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void check_rng_seed(check_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t check_rng_next(check_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in (0, 1]: never 0, so log() is finite. */
static double uniform_open0(check_rng *r)
{
    return ((double)(check_rng_next(r) >> 11) + 1.0) * 0x1.0p-53;
}

double check_rng_normal(check_rng *r)
{
    const double two_pi = 6.283185307179586476925;
    double u1 = uniform_open0(r), u2 = uniform_open0(r);
    return sqrt(-2.0 * log(u1)) * cos(two_pi * u2);
}
