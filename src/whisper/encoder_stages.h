/* Internal: the stages of the encoder's forward pass, and a run that reports where each one
 * ends, so a caller can time them (`qattn bench encoder`: the library itself keeps no clock)
 * or stop the run there (a cancelled transcription session). */
#ifndef QATTN_WHISPER_ENCODER_STAGES_H
#define QATTN_WHISPER_ENCODER_STAGES_H

#include <stdint.h>

#include "whisper/model.h"

/* In int8 a GEMM's stage includes what is fused into it (gemm.h: GELU, the residual add,
 * LayerNorm, the next GEMM's input quantization): NORM is the f32 path's passes. */
typedef enum qattn_encoder_stage {
    QATTN_STAGE_CONV,      /* the mel's transpose and the two convolution GEMMs */
    QATTN_STAGE_PROJ,      /* the QKV and output projections */
    QATTN_STAGE_ATTENTION, /* quantize, attention, dequantize (or the float attention) */
    QATTN_STAGE_MLP,       /* fc1 and fc2 */
    QATTN_STAGE_NORM,      /* LayerNorms, GELUs, residual adds, positions not fused */
    QATTN_STAGE_COUNT
} qattn_encoder_stage;

/* Called as each stage's work ends (several times a layer), on the thread that runs the
 * window; nonzero stops the run. */
typedef struct qattn_stage_observer {
    int (*stage_done)(void *ctx, qattn_encoder_stage stage);
    void *ctx;
} qattn_stage_observer;

/* qattn_encoder_run, telling `observer` (if not NULL) where each stage ends; QATTN_CANCELLED
 * (out unfinished) when it asks to stop. */
qattn_status qattn_encoder_run_observed(const struct qattn_encoder *enc, const float *mel,
                                        int32_t batch, float *out,
                                        const qattn_stage_observer *observer);

#endif
