/* Host-side construction of the tile kernel's fixed-point parameters from float scales. */
#ifndef QATTN_TILE_PARAMS_H
#define QATTN_TILE_PARAMS_H

#include "qattn.h"
#include "tile_kernel.h"

/* Fills *p for one head. Fails with QATTN_ERR_SCALE (message set) on a non-finite or
 * non-positive scale, or when scale_v / scale_out exceeds QATTN_MAX_OUTPUT_GAIN. */
qattn_status qattn_tile_params_make(qattn_tile_params *p, int32_t head_dim, float scale_q,
                                    float scale_k, float scale_v, float scale_out);

#endif
