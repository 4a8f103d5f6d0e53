/* Running a validated attention call: heads x query tiles in parallel, on one tier. */
#ifndef QATTN_ATTN_ATTENTION_TILED_H
#define QATTN_ATTN_ATTENTION_TILED_H

#include "attn/tile_kernel.h"
#include "attn/ukernels.h"
#include "qattn.h"

typedef struct qattn_attention_job {
    const qattn_attention_desc *desc;
    const qattn_tile_params *params; /* per head */
    const qattn_attn_ukernels *uk;   /* NULL: the reference tile kernel (scalar tier) */
    const int8_t *q, *k, *v;
    int8_t *out;
} qattn_attention_job;

/* Runs the job; fails only on memory allocation (message set). */
qattn_status qattn_attention_run(const qattn_attention_job *job);

#endif
