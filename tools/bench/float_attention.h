/* The float32 baseline of `qattn bench`: attention as a user would write it without qattn. */
#ifndef QATTN_BENCH_FLOAT_ATTENTION_H
#define QATTN_BENCH_FLOAT_ATTENTION_H

/* out[h] = softmax(q[h] k[h]^T / sqrt(d)) v[h] with OpenBLAS sgemm for both products and a
 * compiler-vectorized softmax between; query rows split in chunks of 64 over `threads`
 * threads (OpenBLAS single-threaded inside each). Needs AVX2 and FMA. Returns 0 on OOM. */
int bench_float_attention(const float *q, const float *k, const float *v, float *out, int heads,
                          int len_q, int len_k, int d, int causal, int threads);

#endif
