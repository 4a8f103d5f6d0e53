/* Internal: the encoder's time by stage, and random-weight encoders, for `qattn bench`. */
#ifndef QATTN_WHISPER_PROFILE_H
#define QATTN_WHISPER_PROFILE_H

#include <stdint.h>

#include "whisper/model.h"

typedef enum whisper_stage {
    WHISPER_STAGE_CONV,      /* im2col and the two convolution GEMMs */
    WHISPER_STAGE_PROJ,      /* the QKV and output projections */
    WHISPER_STAGE_ATTENTION, /* quantize, attention, dequantize (or the float attention) */
    WHISPER_STAGE_MLP,       /* fc1 and fc2 */
    WHISPER_STAGE_NORM,      /* LayerNorms, GELUs, residual adds, positions */
    WHISPER_STAGE_COUNT
} whisper_stage;

extern const char *const qattn_encoder_stage_names[WHISPER_STAGE_COUNT];

/* qattn_encoder_run, adding each stage's milliseconds into stage_ms (if not NULL). */
qattn_status qattn_encoder_run_observed(const struct qattn_encoder *enc, const float *mel,
                                          int32_t batch, float *out, double *stage_ms);

/* An encoder of the given shape with random weights (projections std 0.02, LayerNorm gains
 * near 1), built in memory in the params' precision. */
qattn_status qattn_encoder_random(const whisper_config *cfg, const qattn_encoder_params *params,
                                    uint64_t seed, struct qattn_encoder **out);

#endif
