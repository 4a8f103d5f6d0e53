/* The median of n timings (x is sorted in place), for every bench that reports one. */
#ifndef QATTN_BENCH_MEDIAN_H
#define QATTN_BENCH_MEDIAN_H

static inline double bench_median(double *x, int n)
{
    for (int i = 1; i < n; i++) /* insertion sort: n is a handful of repeats */
        for (int j = i; j > 0 && x[j] < x[j - 1]; j--) {
            const double t = x[j];
            x[j] = x[j - 1], x[j - 1] = t;
        }
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

#endif
