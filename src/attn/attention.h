/* Internal: argument checks shared by the int8 and float attention entry points. */
#ifndef QATTN_ATTN_ATTENTION_H
#define QATTN_ATTN_ATTENTION_H

#include "qattn.h"

/* Checks the data pointers, sizes, head_dim, threads and kv_len (not the scales) and gives
 * the element counts of q/out and of k/v. Sets the error message on failure. */
qattn_status qattn_attention_validate(const qattn_attention_desc *desc, const void *q,
                                      const void *k, const void *v, const void *out,
                                      size_t *q_elems, size_t *kv_elems);

#endif
