/*
 * The AVX-512 VNNI tier's attention microkernels by name (attn/ukernels.h has their
 * contracts), for the AMX tier, which keeps their packed layouts and softmax and replaces the
 * two products. Include only from files compiled with the AVX-512 VNNI flags.
 */
#ifndef QATTN_ISA_AVX512VNNI_ATTN_H
#define QATTN_ISA_AVX512VNNI_ATTN_H

#include "attn/ukernels.h"

size_t qattn_avx512_attn_kv_tile_bytes(int32_t head_dim);
void qattn_avx512_attn_pack_kv(const int8_t *k, const int8_t *v, ptrdiff_t stride, int32_t first,
                               int32_t keys, int32_t head_dim, void *packed);
void qattn_avx512_attn_scores(const int8_t *q, ptrdiff_t q_stride, int32_t rows, const void *packed,
                              int32_t head_dim, int32_t *s);
void qattn_avx512_attn_softmax_rows(const int32_t *s, int32_t rows, const int32_t *allowed,
                                    const int32_t *m_old, const qattn_tile_params *p,
                                    const uint16_t *e_table, void *p_rows, int32_t *m_new,
                                    int32_t *sums);
void qattn_avx512_attn_exp_table(const qattn_tile_params *p, uint16_t *table);
void qattn_avx512_attn_pv(const void *p_rows, int32_t rows, const void *packed, int32_t head_dim,
                          int64_t *acc);
void qattn_avx512_attn_rescale(int64_t *acc, int32_t n, uint32_t alpha);
void qattn_avx512_attn_finish(const qattn_tile_state *st, const qattn_tile_params *p, int8_t *out,
                              ptrdiff_t out_stride);

#endif
