/* Internal: the Silero VAD network's shape and weights, shared by silero.c (loading, the
 * one-chunk reference) and silero_blocks.c (many chunks at once). */
#ifndef QATTN_VAD_SILERO_NET_H
#define QATTN_VAD_SILERO_NET_H

#include "vad/silero.h"

enum {
    VAD_ROW = QATTN_VAD_ROW, VAD_FFT = 256, VAD_HOP = 128, VAD_BINS = 129, VAD_FRAMES = 4,
    VAD_HIDDEN = QATTN_VAD_HIDDEN, VAD_GATES = 4 * QATTN_VAD_HIDDEN
};

struct qattn_vad {
    float basis[2 * VAD_BINS][VAD_FFT];
    float *conv_w[4], *conv_b[4]; /* [out][in][3], [out] */
    float w[VAD_GATES][VAD_HIDDEN], r[VAD_GATES][VAD_HIDDEN], bias[VAD_GATES]; /* input and
                                   * recurrent, biases summed */
    float dec_w[VAD_HIDDEN], dec_b;
};

/* The LSTM cell from its gates g (input and recurrent projections and biases summed; ONNX's
 * order i, o, f, c) and the decoder: the speech probability; h and c updated. */
float qattn_vad_cell(const qattn_vad *v, const float g[VAD_GATES], float h[VAD_HIDDEN],
                     float c[VAD_HIDDEN]);

#endif
