/*
 * The Silero VAD's block path (src/vad/silero_blocks.c: the state-free layers of many chunks as
 * matrix products, then the recurrence) against its one-chunk reference (silero.c
 * qattn_vad_step, written to be read), chunk by chunk over speech with its LSTM state carried:
 * the same probabilities up to the order of the sums, in blocks of any size (1 included, a
 * stream's). tests/python/test_vad.py holds both paths' results to onnxruntime.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qattn.h"
#include "testing.h"
#include "vad/silero.h"

enum { ROW = QATTN_VAD_ROW, HIDDEN = QATTN_VAD_HIDDEN, GATES = 4 * QATTN_VAD_HIDDEN };

/* Probabilities of n chunks of rows through the block path, `block` rows at a time. */
static void through_blocks(const qattn_vad *vad, const float *rows, int n, int block, float *probs)
{
    float *work = malloc(qattn_vad_block_floats(block) * sizeof(float));
    float *gates = malloc((size_t)block * GATES * sizeof(float));
    float h[HIDDEN] = {0}, c[HIDDEN] = {0};
    for (int k0 = 0; work && gates && k0 < n; k0 += block) {
        const int m = n - k0 < block ? n - k0 : block;
        qattn_vad_block_gates(vad, rows + (size_t)k0 * ROW, m, work, gates);
        for (int r = 0; r < m; r++)
            probs[k0 + r] = qattn_vad_recur(vad, gates + (size_t)r * GATES, h, c);
    }
    free(work), free(gates);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_vad_blocks VAD_MODEL SPEECH_FILE\n");
        return 2;
    }
    qattn_vad *vad = NULL;
    float *audio = NULL;
    size_t n = 0;
    CHECK(qattn_vad_load(argv[1], &vad) == QATTN_OK, "%s", qattn_last_error());
    CHECK(qattn_audio_load(argv[2], &audio, &n) == QATTN_OK, "%s", qattn_last_error());
    if (!vad || !audio)
        return testing_report("test_vad_blocks");
    /* the rows as qattn_vad_probabilities makes them: 64 samples of context, then 512 */
    const int chunks = (int)(n / QATTN_VAD_CHUNK) < 600 ? (int)(n / QATTN_VAD_CHUNK) : 600;
    float *rows = calloc((size_t)chunks * ROW, sizeof(float));
    float *want = malloc((size_t)chunks * sizeof(float)), *got = malloc((size_t)chunks * sizeof(float));
    for (int k = 0; rows && k < chunks; k++)
        for (int j = 0; j < ROW; j++) {
            const long at = (long)k * QATTN_VAD_CHUNK - QATTN_VAD_CONTEXT + j;
            rows[(size_t)k * ROW + j] = at >= 0 ? audio[at] : 0.0f;
        }
    float h[HIDDEN] = {0}, c[HIDDEN] = {0};
    for (int k = 0; want && k < chunks; k++)
        want[k] = qattn_vad_step(vad, rows + (size_t)k * ROW, h, c);
    const int blocks[] = {1, 7, 256};
    for (size_t b = 0; got && b < sizeof blocks / sizeof *blocks; b++) {
        through_blocks(vad, rows, chunks, blocks[b], got);
        double worst = 0, speech = 0;
        for (int k = 0; k < chunks; k++) {
            worst = fmax(worst, fabs((double)got[k] - want[k]));
            speech = fmax(speech, want[k]);
        }
        printf("blocks of %d: max |block - reference| %.3g over %d chunks\n", blocks[b], worst, chunks);
        CHECK(worst < 1e-5, "blocks of %d: %.3g from the reference", blocks[b], worst);
        CHECK(speech > 0.9, "the recording holds speech (largest probability %.3f)", speech);
    }
    free(rows), free(want), free(got);
    qattn_audio_free(audio);
    qattn_vad_free(vad);
    return testing_report("test_vad_blocks");
}
