/*
 * Float attention through the integer kernel over packed keys and values (attn/kv_cache.h)
 * that follow float ones: a decoder's cross-attention over an encoder output (quantized and
 * packed once per window, shared by every sequence) and its causal self-attention over each
 * sequence's growing cache (the new tokens are the last keys: the bottom-right mask).
 * Quantization as the encoder's attention (whisper/self_attention.c): one max-abs scale per
 * head for the queries of a call, for the keys and for the values. The output is a convex
 * combination of value rows, often far smaller than the largest value (a cross-attention
 * head spread over 1500 frames averages them): at the values' scale, in int8, it would keep
 * a few levels. So the kernel finishes its rows at 16 bits, at the values' scale / 256
 * (qattn_tile_finish_s16: 8 more bits of the same quotient, which never saturate, since a
 * convex combination stays within the values' range), in one pass. On tiny.en's decoder the
 * int8 output's rounding had moved 0.5% of the words of transcripts of recorded speech away
 * from the float decoder's (docs/accuracy.md).
 *
 * A cache always holds exactly what quantizing all its float keys at once would give: a
 * head's max-abs over a growing set only grows, so new keys quantize at the scale already in
 * use unless they raise it, and then that head's keys (only that head's: a new maximum is
 * rare, and in one head at a time) are quantized again from the floats.
 */
#ifndef QATTN_ATTN_QUANTIZED_CACHE_H
#define QATTN_ATTN_QUANTIZED_CACHE_H

#include "attn/kv_cache.h"

/* Keys and values of one layer of one sequence (or of the encoder output), quantized. */
typedef struct qattn_quantized_cache {
    qattn_kv_cache kv;
    float *amax_k, *amax_v;   /* [heads]: max |key|, max |value| of each head so far */
    float *scale_k, *scale_v; /* [heads]: their scales (qattn_scale_for_max_abs) */
} qattn_quantized_cache;

qattn_status qattn_quantized_cache_init(qattn_quantized_cache *c, int32_t heads, int32_t head_dim,
                                        int32_t capacity, int32_t isa);
void qattn_quantized_cache_free(qattn_quantized_cache *c);

/* Forgets every key (the next sync quantizes from the first). */
void qattn_quantized_cache_reset(qattn_quantized_cache *c);

/*
 * Brings c to the first len rows of the float keys k and values v (row r of head h at
 * k[r * ld + h * head_dim ..]), quantized per head at the max-abs of all len rows: the bytes
 * and scales qattn_quantize_block gives for each head's len rows at once. The rows c holds
 * must be those rows' first c->kv.len (a cache holding more than len is reset). scratch:
 * 2 * heads * len * head_dim bytes.
 */
qattn_status qattn_quantized_cache_sync(qattn_quantized_cache *c, const float *k, const float *v,
                                        ptrdiff_t ld, int32_t len, int8_t *scratch,
                                        int32_t threads);

/* dst (same shape and tier) becomes a copy of src. */
qattn_status qattn_quantized_cache_copy(qattn_quantized_cache *dst, const qattn_quantized_cache *src);

/* Scratch for attending with many caches in turn, sized once. */
typedef struct qattn_quantized_attention {
    int32_t heads, head_dim, rows, threads;
    int8_t *q8;      /* [heads][rows][head_dim] */
    int16_t *o16;    /* [heads][rows][head_dim] */
    float *scale_q;  /* [heads] */
    float *scale_o;  /* [heads]: the output's, the values' / 256 (in scale_q's allocation) */
    qattn_attn_workspace ws;
} qattn_quantized_attention;

qattn_status qattn_quantized_attention_init(qattn_quantized_attention *a, int32_t heads,
                                            int32_t head_dim, int32_t rows, int32_t threads);
void qattn_quantized_attention_free(qattn_quantized_attention *a);

/* The 16-bit output's scale: the values' over this. */
#define QATTN_QUANTIZED_OUTPUT_GAIN 256.0f

/* out[i][h * head_dim ..] (ld_out apart) = head h's attention of the n float queries q
 * ([n][ld_q], heads side by side) over c's keys, causal = QATTN_CAUSAL_NONE or
 * QATTN_CAUSAL_BOTTOM_RIGHT; n <= a->rows. The 16-bit outputs and their scales are left in
 * a->o16 and a->scale_o. */
qattn_status qattn_quantized_attend(qattn_quantized_attention *a, qattn_quantized_cache *c,
                                    const float *q, ptrdiff_t ld_q, int32_t n, int32_t causal,
                                    float *out, ptrdiff_t ld_out);

#endif
