#include "check/stats.h"

#include <math.h>
#include <stdlib.h>

check_stats check_compare(const int8_t *out, const int8_t *ref, size_t n)
{
    check_stats s = {0};
    s.out_min = s.ref_min = 127;
    s.out_max = s.ref_max = -128;
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, sae = 0, sse = 0;
    size_t w1 = 0, w5 = 0;
    for (size_t i = 0; i < n; i++) {
        double x = out[i], y = ref[i];
        int e = abs(out[i] - ref[i]);
        sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y;
        sae += e, sse += (double)e * e;
        w1 += e <= 1, w5 += e <= 5;
        if (e > s.max_err) s.max_err = e;
        if (out[i] < s.out_min) s.out_min = out[i];
        if (out[i] > s.out_max) s.out_max = out[i];
        if (ref[i] < s.ref_min) s.ref_min = ref[i];
        if (ref[i] > s.ref_max) s.ref_max = ref[i];
    }
    double dn = (double)n;
    double cov = sxy - sx * sy / dn, vx = sxx - sx * sx / dn, vy = syy - sy * sy / dn;
    s.corr = (vx > 0 && vy > 0) ? cov / sqrt(vx * vy) : (vx == vy ? 1.0 : 0.0);
    s.mae = sae / dn;
    s.rmse = sqrt(sse / dn);
    s.within1 = (double)w1 / dn;
    s.within5 = (double)w5 / dn;
    return s;
}
