/*
 * Silero VAD v6 (snakers4/silero-vad, MIT; the graph of faster-whisper 1.2.1's
 * silero_vad_v6.onnx), computed here in float32 with its weights read from the ONNX file.
 * One 32 ms chunk of 16 kHz audio at a time, 512 samples with the previous chunk's last 64
 * before them (576), through:
 *
 *   STFT      reflect-pad 128 on both sides (832), a conv with the stored basis (258 x 256,
 *             stride 128: 5 frames, the first dropped), magnitudes of the 129 bins
 *   encoder   4 convolutions (kernel 3, padding 1) with ReLU: 129->128, 128->64 (stride 2),
 *             64->64 (stride 2), 64->128: one 128-vector
 *   LSTM      one step, hidden 128, ONNX's gate order i, o, f, c; h and c carried to the
 *             next chunk
 *   decoder   ReLU of h, a 1x1 conv to one value, sigmoid: the speech probability
 *
 * ONNX's Conv is a cross-correlation: y[o][t] = b[o] + sum_i sum_k W[o][i][k] x[i][s t + k - p].
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/onnx_file.h"
#include "vad/silero.h"
#include "vad/silero_net.h"

enum {
    CONTEXT = QATTN_VAD_CONTEXT, CHUNK = QATTN_VAD_CHUNK, ROW = VAD_ROW, PAD = 128, FFT = VAD_FFT,
    HOP = VAD_HOP, BINS = VAD_BINS, FRAMES = VAD_FRAMES, HIDDEN = VAD_HIDDEN, GATES = VAD_GATES
};

/* The four encoder convolutions: channels in and out, stride. */
static const struct { int in, out, stride; } CONV[4] = {
    {BINS, 128, 1}, {128, 64, 2}, {64, 64, 2}, {64, 128, 1}};

void qattn_vad_free(qattn_vad *vad)
{
    if (!vad)
        return;
    for (int l = 0; l < 4; l++)
        free(vad->conv_w[l]), free(vad->conv_b[l]);
    free(vad);
}

static qattn_status load_weights(const qattn_onnx_model *m, qattn_vad *v)
{
    const int64_t basis[3] = {2 * BINS, 1, FFT};
    qattn_status st = qattn_onnx_floats(m, "encoder.feature_extractor.forward_basis_buffer", basis,
                                        3, &v->basis[0][0]);
    for (int l = 0; st == QATTN_OK && l < 4; l++) {
        char name[64];
        const int64_t w[3] = {CONV[l].out, CONV[l].in, 3}, b[1] = {CONV[l].out};
        v->conv_w[l] = malloc((size_t)CONV[l].out * CONV[l].in * 3 * sizeof(float));
        v->conv_b[l] = malloc((size_t)CONV[l].out * sizeof(float));
        if (!v->conv_w[l] || !v->conv_b[l])
            return qattn_fail(QATTN_ERR_NOMEM, "vad_load: out of memory");
        snprintf(name, sizeof name, "encoder.conv_layers.%d.weight", l);
        st = qattn_onnx_floats(m, name, w, 3, v->conv_w[l]);
        snprintf(name, sizeof name, "encoder.conv_layers.%d.bias", l);
        if (st == QATTN_OK)
            st = qattn_onnx_floats(m, name, b, 1, v->conv_b[l]);
    }
    /* the LSTM's initializers are named by the exporter (onnx::LSTM_<n>): found by their
     * place in the LSTM node would need the graph; these are faster-whisper 1.2.1's file's */
    const int64_t wr[3] = {1, GATES, HIDDEN}, bb[2] = {1, 2 * GATES};
    float b2[2 * GATES];
    if (st == QATTN_OK)
        st = qattn_onnx_floats(m, "onnx::LSTM_209", wr, 3, &v->w[0][0]);
    if (st == QATTN_OK)
        st = qattn_onnx_floats(m, "onnx::LSTM_210", wr, 3, &v->r[0][0]);
    if (st == QATTN_OK)
        st = qattn_onnx_floats(m, "onnx::LSTM_211", bb, 2, b2);
    for (int g = 0; st == QATTN_OK && g < GATES; g++)
        v->bias[g] = b2[g] + b2[GATES + g]; /* Wb + Rb, as ONNX adds them */
    const int64_t dw[3] = {1, HIDDEN, 1}, db[1] = {1};
    if (st == QATTN_OK)
        st = qattn_onnx_floats(m, "decoder.conv1d.weight", dw, 3, v->dec_w);
    if (st == QATTN_OK)
        st = qattn_onnx_floats(m, "decoder.conv1d.bias", db, 1, &v->dec_b);
    return st;
}

qattn_status qattn_vad_from_onnx(const qattn_onnx_model *m, qattn_vad **out)
{
    *out = NULL;
    qattn_vad *v = calloc(1, sizeof *v);
    if (!v)
        return qattn_fail(QATTN_ERR_NOMEM, "vad_load: out of memory");
    qattn_status st = load_weights(m, v);
    if (st != QATTN_OK) {
        qattn_vad_free(v);
        return st;
    }
    *out = v;
    return QATTN_OK;
}

static float sigmoid(float x)
{
    return 1.0f / (1.0f + expf(-x));
}

/* One convolution layer (kernel 3, padding 1) and ReLU: x [in][t_in] -> y [out][t_out]. */
static void conv_relu(const qattn_vad *v, int l, const float *x, int t_in, float *y, int t_out)
{
    const int in = CONV[l].in, out = CONV[l].out, s = CONV[l].stride;
    for (int o = 0; o < out; o++)
        for (int t = 0; t < t_out; t++) {
            float acc = v->conv_b[l][o];
            for (int i = 0; i < in; i++) {
                const float *w = v->conv_w[l] + ((size_t)o * in + i) * 3;
                for (int k = 0; k < 3; k++) {
                    const int at = s * t + k - 1;
                    if (at >= 0 && at < t_in)
                        acc += w[k] * x[i * t_in + at];
                }
            }
            y[o * t_out + t] = acc > 0.0f ? acc : 0.0f;
        }
}

float qattn_vad_step(const qattn_vad *v, const float row[QATTN_VAD_ROW], float h[HIDDEN],
                     float c[HIDDEN])
{
    /* the row reflect-padded by 128 (the edge sample not repeated); frame 0 is dropped, so
     * the left padding is never read: frame f (1..4) reads padded [128 f, 128 f + 256) */
    float mag[BINS * FRAMES];
    for (int f = 0; f < FRAMES; f++) {
        float x[FFT];
        for (int n = 0; n < FFT; n++) {
            const int r = HOP * f + n; /* the row's index: padded index 128 (f + 1) + n - 128 */
            x[n] = row[r < ROW ? r : 2 * (ROW - 1) - r];
        }
        for (int k = 0; k < BINS; k++) {
            float re = 0.0f, im = 0.0f;
            for (int n = 0; n < FFT; n++) {
                re += v->basis[k][n] * x[n];
                im += v->basis[BINS + k][n] * x[n];
            }
            mag[k * FRAMES + f] = sqrtf(re * re + im * im);
        }
    }
    float a[128 * FRAMES], b[64 * 2], c2[64], e[HIDDEN];
    conv_relu(v, 0, mag, FRAMES, a, FRAMES);
    conv_relu(v, 1, a, FRAMES, b, 2);
    conv_relu(v, 2, b, 2, c2, 1);
    conv_relu(v, 3, c2, 1, e, 1);
    float g[GATES];
    for (int j = 0; j < GATES; j++) {
        float acc = v->bias[j];
        for (int i = 0; i < HIDDEN; i++)
            acc += v->w[j][i] * e[i] + v->r[j][i] * h[i];
        g[j] = acc;
    }
    return qattn_vad_cell(v, g, h, c);
}

float qattn_vad_cell(const qattn_vad *v, const float g[VAD_GATES], float h[VAD_HIDDEN],
                     float c[VAD_HIDDEN])
{
    float out = v->dec_b;
    for (int i = 0; i < HIDDEN; i++) {
        const float in = sigmoid(g[i]), o = sigmoid(g[HIDDEN + i]);
        const float f = sigmoid(g[2 * HIDDEN + i]), cand = tanhf(g[3 * HIDDEN + i]);
        c[i] = f * c[i] + in * cand;
        h[i] = o * tanhf(c[i]);
        out += v->dec_w[i] * (h[i] > 0.0f ? h[i] : 0.0f); /* ReLU of the output, not the state */
    }
    return sigmoid(out);
}
