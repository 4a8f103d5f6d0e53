/* Error statistics of an int8 output against an int8 reference. */
#ifndef QATTN_CHECK_STATS_H
#define QATTN_CHECK_STATS_H

#include <stddef.h>
#include <stdint.h>

typedef struct check_stats {
    double corr;       /* Pearson correlation */
    double mae;        /* mean |error|, LSB */
    double rmse;       /* LSB */
    double within1;    /* fraction with |error| <= 1 */
    double within5;    /* fraction with |error| <= 5 */
    int max_err;       /* max |error|, LSB */
    int out_min, out_max; /* range of the output */
    int ref_min, ref_max; /* range of the reference */
} check_stats;

check_stats check_compare(const int8_t *out, const int8_t *ref, size_t n);

#endif
