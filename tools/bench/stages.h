/* Where the time of one tier goes: its microkernels timed one stage at a time. */
#ifndef QATTN_BENCH_STAGES_H
#define QATTN_BENCH_STAGES_H

#include <stdint.h>

#include "qattn.h"

typedef struct bench_stages {
    double pack_ms, scores_ms, softmax_ms, pv_ms; /* one thread, whole call's worth */
    double softmax_gscores;                        /* softmax stage, G scores/s, one core */
    int softmax_table;                             /* the weights came from exp_table's table */
} bench_stages;

/* Times each stage of `isa` (a fast tier) over the work of one call on q, k, v
 * ([heads, len, d], no mask). Returns 0 if the tier has no microkernels or memory runs out. */
int bench_time_stages(qattn_isa isa, const int8_t *q, const int8_t *k, const int8_t *v,
                      int heads, int len_q, int len_k, int d, const float scales[4],
                      bench_stages *out);

#endif
