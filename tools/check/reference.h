/* Float64 attention, plain softmax: the harness's independent reference. */
#ifndef QATTN_CHECK_REFERENCE_H
#define QATTN_CHECK_REFERENCE_H

#include <stdint.h>

/* out[h] = softmax(Q[h] K[h]^T / sqrt(d)) V[h], shapes [heads, len, d], row-major.
 * causal: 1 top-left (key j <= query i), 2 bottom-right (j <= i + kv_len - len_q); kv_len: keys j < kv_len only. Returns 0 on OOM. */
int check_attention_f64(const double *q, const double *k, const double *v, double *out,
                        int heads, int len_q, int len_k, int d, int causal, int kv_len);

#endif
