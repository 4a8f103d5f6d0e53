/*
 * Silero VAD over many chunks at once (silero.h): the part of the network that does not
 * depend on the LSTM's state (the STFT, the four convolutions and the LSTM's input
 * projection) computed for a block of chunks as matrix products (OpenBLAS sgemm over every
 * chunk's frames; the convolutions through im2col), then the recurrence chunk by chunk.
 * The same arithmetic as silero.c's one-chunk qattn_vad_step (the reference, written to be
 * read), summed in another order: tests/python/test_vad.py holds both to onnxruntime.
 */
#include <cblas.h>
#include <math.h>
#include <string.h>

#include "vad/silero.h"
#include "vad/silero_net.h"

/* Frames of 256 samples of each row (frames 1..4 of the row reflect-padded by 128, as the
 * reference reads them): x[n * 4][256]. */
static void frames_of(const float *rows, int n, float *x)
{
    for (int r = 0; r < n; r++)
        for (int f = 0; f < VAD_FRAMES; f++) {
            float *out = x + ((size_t)r * VAD_FRAMES + f) * VAD_FFT;
            const float *row = rows + (size_t)r * VAD_ROW;
            for (int i = 0; i < VAD_FFT; i++) {
                const int at = VAD_HOP * f + i;
                out[i] = row[at < VAD_ROW ? at : 2 * (VAD_ROW - 1) - at];
            }
        }
}

/* im2col of a kernel-3, padding-1 convolution: x[n][t_in][in] -> cols[n * t_out][in * 3], the
 * column i * 3 + k holding x[s t + k - 1][i] (zero outside), as the weights [out][in][3]. */
static void im2col(const float *x, int n, int t_in, int in, int stride, int t_out, float *cols)
{
    for (int r = 0; r < n; r++)
        for (int t = 0; t < t_out; t++) {
            float *c = cols + ((size_t)r * t_out + t) * (size_t)in * 3;
            for (int i = 0; i < in; i++)
                for (int k = 0; k < 3; k++) {
                    const int at = stride * t + k - 1;
                    c[i * 3 + k] = at >= 0 && at < t_in ? x[((size_t)r * t_in + at) * in + i] : 0.0f;
                }
        }
}

/* y[m][out] = relu(cols[m][k] W^T + b), W [out][k]. */
static void gemm_bias_relu(const float *cols, int m, int k, const float *w, const float *b, int out,
                           float *y)
{
    for (int i = 0; i < m; i++)
        memcpy(y + (size_t)i * out, b, (size_t)out * sizeof *b);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, out, k, 1.0f, cols, k, w, k, 1.0f, y, out);
    for (size_t i = 0; i < (size_t)m * out; i++)
        y[i] = y[i] > 0.0f ? y[i] : 0.0f;
}

size_t qattn_vad_block_floats(int n)
{
    /* the largest stages side by side: frames and STFT, conv 0's columns and output, ... */
    const size_t r = (size_t)n;
    return r * VAD_FRAMES * (VAD_FFT + 2 * VAD_BINS) + r * VAD_FRAMES * (VAD_BINS * 3 + 128) +
           r * 2 * (128 * 3 + 64) + r * (64 * 3 + 64) + r * (64 * 3 + 128);
}

void qattn_vad_block_gates(const qattn_vad *v, const float *rows, int n, float *work, float *gates)
{
    const int m4 = n * VAD_FRAMES;
    float *x = work, *spec = x + (size_t)m4 * VAD_FFT;
    float *cols0 = spec + (size_t)m4 * 2 * VAD_BINS, *a = cols0 + (size_t)m4 * VAD_BINS * 3;
    float *cols1 = a + (size_t)m4 * 128, *b = cols1 + (size_t)n * 2 * 128 * 3;
    float *cols2 = b + (size_t)n * 2 * 64, *c2 = cols2 + (size_t)n * 64 * 3;
    float *cols3 = c2 + (size_t)n * 64, *e = cols3 + (size_t)n * 64 * 3;
    frames_of(rows, n, x);
    /* the STFT: spec[m][258] = x[m][256] basis^T, then magnitudes [m][129] (in place) */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m4, 2 * VAD_BINS, VAD_FFT, 1.0f, x, VAD_FFT,
                &v->basis[0][0], VAD_FFT, 0.0f, spec, 2 * VAD_BINS);
    for (size_t i = 0; i < (size_t)m4; i++) {
        const float *s = spec + i * 2 * VAD_BINS;
        float *mag = spec + i * VAD_BINS; /* behind what it reads */
        for (int k = 0; k < VAD_BINS; k++)
            mag[k] = sqrtf(s[k] * s[k] + s[VAD_BINS + k] * s[VAD_BINS + k]);
    }
    im2col(spec, n, VAD_FRAMES, VAD_BINS, 1, VAD_FRAMES, cols0);
    gemm_bias_relu(cols0, m4, VAD_BINS * 3, v->conv_w[0], v->conv_b[0], 128, a);
    im2col(a, n, VAD_FRAMES, 128, 2, 2, cols1);
    gemm_bias_relu(cols1, n * 2, 128 * 3, v->conv_w[1], v->conv_b[1], 64, b);
    im2col(b, n, 2, 64, 2, 1, cols2);
    gemm_bias_relu(cols2, n, 64 * 3, v->conv_w[2], v->conv_b[2], 64, c2);
    im2col(c2, n, 1, 64, 1, 1, cols3);
    gemm_bias_relu(cols3, n, 64 * 3, v->conv_w[3], v->conv_b[3], 128, e);
    /* the LSTM's input projection and both biases: gates[n][512] = e W^T + bias */
    for (int r = 0; r < n; r++)
        memcpy(gates + (size_t)r * VAD_GATES, v->bias, VAD_GATES * sizeof(float));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, VAD_GATES, VAD_HIDDEN, 1.0f, e,
                VAD_HIDDEN, &v->w[0][0], VAD_HIDDEN, 1.0f, gates, VAD_GATES);
}

float qattn_vad_recur(const qattn_vad *v, const float *gates_in, float h[QATTN_VAD_HIDDEN],
                      float c[QATTN_VAD_HIDDEN])
{
    float g[VAD_GATES];
    memcpy(g, gates_in, sizeof g);
    cblas_sgemv(CblasRowMajor, CblasNoTrans, VAD_GATES, VAD_HIDDEN, 1.0f, &v->r[0][0], VAD_HIDDEN, h, 1,
                1.0f, g, 1);
    return qattn_vad_cell(v, g, h, c);
}
