/* The tier table: which microkernels each tier runs, filled once. */
#ifndef QATTN_CORE_DISPATCH_H
#define QATTN_CORE_DISPATCH_H

#include "attn/ukernels.h"
#include "gemm/gemm_ukernels.h"
#include "qattn.h"

/* Resolves a requested tier (QATTN_ISA_AUTO -> the active one) and checks it is supported.
 * Sets the message on error. */
qattn_status qattn_dispatch_resolve(int32_t requested, qattn_isa *isa);

/* A supported tier's microkernels; NULL for the scalar tier (the references run). */
const qattn_attn_ukernels *qattn_attn_ukernels_of(qattn_isa isa);
const struct qattn_gemm_ukernels *qattn_gemm_ukernels_of(qattn_isa isa);

/* Both steps for attention. */
qattn_status qattn_dispatch_attention(int32_t requested, qattn_isa *isa,
                                      const qattn_attn_ukernels **uk);

#endif
