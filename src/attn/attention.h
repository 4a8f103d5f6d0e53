/* Internal: argument checks shared by the int8 and float attention entry points, and the int8
 * entry point with memory kept between calls. */
#ifndef QATTN_ATTN_ATTENTION_H
#define QATTN_ATTN_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "attn/attention_tiled.h"
#include "attn/tile_kernel.h"
#include "qattn.h"

/* Checks the data pointers, sizes, head_dim, threads and kv_len (not the scales) and gives
 * the element counts of q/out and of k/v. Sets the error message on failure. */
/* The caller's desc read over the defaults (qattn_struct_read: its struct_size checked). */
qattn_status qattn_attention_read_desc(const qattn_attention_desc *desc, qattn_attention_desc *d);

qattn_status qattn_attention_validate(const qattn_attention_desc *desc, const void *q,
                                      const void *k, const void *v, const void *out,
                                      size_t *q_elems, size_t *kv_elems);

/* What qattn_attention_s8 allocates for a call (the per-head parameters, K and V packed, the
 * workers' memory and the weight tables), grown when a call needs more and kept: a caller
 * that runs attention over and over (the encoder, per layer) allocates nothing after its
 * first call and touches no fresh pages. One call at a time uses a scratch; all zero is an
 * empty one. */
typedef struct qattn_attention_scratch {
    qattn_tile_params *params;
    size_t params_bytes;
    uint8_t *packed;
    size_t packed_bytes;
    qattn_attn_workspace ws;
} qattn_attention_scratch;

/* qattn_attention_s8 with its memory from `scratch`: the same results. */
qattn_status qattn_attention_s8_in(const qattn_attention_desc *desc, const int8_t *q,
                                   const int8_t *k, const int8_t *v, int8_t *out,
                                   qattn_attention_scratch *scratch);
void qattn_attention_scratch_free(qattn_attention_scratch *scratch);

#endif
