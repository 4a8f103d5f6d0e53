/* The tier table: which microkernels each tier runs, filled once. */
#ifndef QATTN_CORE_DISPATCH_H
#define QATTN_CORE_DISPATCH_H

#include "attn/ukernels.h"
#include "qattn.h"

/* Resolves a requested tier (QATTN_ISA_AUTO -> the active one) and checks it is supported.
 * *uk is NULL for the scalar tier (the reference tile kernel). Sets the message on error. */
qattn_status qattn_dispatch_attention(int32_t requested, qattn_isa *isa,
                                      const qattn_attn_ukernels **uk);

#endif
