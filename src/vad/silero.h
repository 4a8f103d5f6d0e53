/* Internal: the Silero VAD network (silero.c), one chunk at a time. */
#ifndef QATTN_VAD_SILERO_H
#define QATTN_VAD_SILERO_H

#include "formats/onnx_file.h"
#include "qattn.h"

#define QATTN_VAD_ROW (QATTN_VAD_CONTEXT + QATTN_VAD_CHUNK) /* 576 samples a step */
#define QATTN_VAD_HIDDEN 128

/* The network's weights from a parsed ONNX file (QATTN_ERR_MODEL, naming what is missing or
 * misshapen, if it is not Silero VAD v6's graph). */
qattn_status qattn_vad_from_onnx(const qattn_onnx_model *m, qattn_vad **vad);

/* The speech probability of one row (the previous chunk's last 64 samples, then the chunk's
 * 512), h and c the LSTM's state, updated in place (zeros before the first chunk). */
float qattn_vad_step(const qattn_vad *vad, const float row[QATTN_VAD_ROW],
                     float h[QATTN_VAD_HIDDEN], float c[QATTN_VAD_HIDDEN]);

/* Many chunks at once (silero_blocks.c): the LSTM's input gates of n rows,
 * gates[n][4 x 128] (the STFT, the convolutions and the input projection, none of which
 * depends on the state), with work of qattn_vad_block_floats(n) floats; then one chunk's
 * recurrence from its gates: the probability, h and c updated. */
size_t qattn_vad_block_floats(int n);
void qattn_vad_block_gates(const qattn_vad *vad, const float *rows, int n, float *work,
                           float *gates);
float qattn_vad_recur(const qattn_vad *vad, const float *gates, float h[QATTN_VAD_HIDDEN],
                      float c[QATTN_VAD_HIDDEN]);

#endif
