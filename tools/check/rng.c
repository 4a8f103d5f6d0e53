/* MT19937 (Matsumoto & Nishimura 1998) and numpy's legacy Gaussian (Marsaglia's polar
 * method, caching the second value), reproducing np.random.seed + np.random.randn. */
#include "check/rng.h"

#include <math.h>

void check_rng_seed(check_rng *r, uint32_t seed)
{
    r->mt[0] = seed;
    for (int i = 1; i < 624; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->index = 624;
    r->has_gauss = 0;
    r->gauss = 0.0;
}

static void regenerate(check_rng *r)
{
    for (int i = 0; i < 624; i++) {
        uint32_t y = (r->mt[i] & 0x80000000u) | (r->mt[(i + 1) % 624] & 0x7FFFFFFFu);
        r->mt[i] = r->mt[(i + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908B0DFu : 0u);
    }
    r->index = 0;
}

static uint32_t next_u32(check_rng *r)
{
    if (r->index >= 624)
        regenerate(r);
    uint32_t y = r->mt[r->index++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9D2C5680u;
    y ^= (y << 15) & 0xEFC60000u;
    return y ^ (y >> 18);
}

/* 53-bit uniform in [0, 1), as numpy's random_double. */
static double next_double(check_rng *r)
{
    uint32_t a = next_u32(r) >> 5, b = next_u32(r) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

double check_rng_normal(check_rng *r)
{
    if (r->has_gauss) {
        r->has_gauss = 0;
        return r->gauss;
    }
    double x1, x2, r2;
    do {
        x1 = 2.0 * next_double(r) - 1.0;
        x2 = 2.0 * next_double(r) - 1.0;
        r2 = x1 * x1 + x2 * x2;
    } while (r2 >= 1.0 || r2 == 0.0);
    double f = sqrt(-2.0 * log(r2) / r2);
    r->gauss = f * x1;
    r->has_gauss = 1;
    return f * x2;
}
