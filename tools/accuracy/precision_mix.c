/*
 * Where int8's drift comes from, half by half: transcribes files with the encoder in one
 * precision and the decoder in another (the public API loads both in one precision), with
 * faster-whisper's decoding defaults and language "en", and prints one JSON line per file:
 * {"file": ..., "text": ...}. python -m qattn.wer's scoring reads them (tools/accuracy/
 * drift_sources.py). A diagnostic, not a product: it swaps the halves of a loaded model
 * through the private struct of transcribe/whisper.h.
 *
 * usage: qattn_precision_mix MODEL ENCODER DECODER FILE...   (ENCODER, DECODER: int8 | f32)
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "qattn.h"
#include "transcribe/whisper.h"

static int precision_of(const char *name, qattn_precision *p)
{
    if (strcmp(name, "int8") == 0)
        *p = QATTN_PRECISION_INT8;
    else if (strcmp(name, "f32") == 0)
        *p = QATTN_PRECISION_F32;
    else
        return 0;
    return 1;
}

static int fail(const char *what)
{
    fprintf(stderr, "qattn_precision_mix: %s: %s\n", what, qattn_last_error());
    return 1;
}

/* The file's transcript, the segments' texts joined as they are (each has its leading
 * space), printed as a JSON line. */
static int transcribe_file(const qattn_whisper *w, const char *path)
{
    float *samples = NULL;
    size_t n = 0;
    if (qattn_audio_load(path, &samples, &n) != QATTN_OK)
        return fail(path);
    qattn_transcribe_params p = qattn_transcribe_default_params();
    p.language = "en";
    qattn_transcript *t = NULL;
    qattn_status st = qattn_whisper_transcribe(w, samples, n, &p, &t);
    free(samples);
    if (st != QATTN_OK)
        return fail(path);
    qattn_transcript_info info;
    info.struct_size = sizeof info;
    qattn_transcript_get_info(t, &info);
    size_t len = 1;
    for (int32_t i = 0; i < info.n_segments; i++)
        len += strlen(qattn_transcript_segment(t, i)->text);
    char *text = malloc(len);
    if (!text) {
        qattn_transcript_free(t);
        fprintf(stderr, "qattn_precision_mix: out of memory\n");
        return 1;
    }
    text[0] = '\0';
    for (int32_t i = 0; i < info.n_segments; i++)
        strcat(text, qattn_transcript_segment(t, i)->text);
    qattn_transcript_free(t);
    cJSON *line = cJSON_CreateObject();
    cJSON_AddStringToObject(line, "file", path);
    cJSON_AddStringToObject(line, "text", text);
    free(text);
    char *out = cJSON_PrintUnformatted(line);
    cJSON_Delete(line);
    if (!out)
        return fail("JSON");
    printf("%s\n", out);
    fflush(stdout);
    cJSON_free(out);
    return 0;
}

int main(int argc, char **argv)
{
    qattn_precision enc_p, dec_p;
    if (argc < 5 || !precision_of(argv[2], &enc_p) || !precision_of(argv[3], &dec_p)) {
        fprintf(stderr, "usage: qattn_precision_mix MODEL ENCODER DECODER FILE...  "
                        "(ENCODER, DECODER: int8 | f32)\n");
        return 2;
    }
    qattn_encoder_params params = qattn_encoder_default_params();
    params.precision = enc_p;
    struct qattn_whisper *w = NULL;
    if (qattn_whisper_load(argv[1], &params, &w) != QATTN_OK)
        return fail(argv[1]);
    if (dec_p != enc_p) { /* the same file, the decoder in the other precision */
        qattn_encoder_params dp = params;
        dp.precision = dec_p;
        qattn_decoder *dec = NULL;
        if (qattn_decoder_load(argv[1], &dp, &dec) != QATTN_OK) {
            qattn_whisper_free(w);
            return fail(argv[1]);
        }
        qattn_decoder_free(w->decoder);
        w->decoder = dec;
    }
    int rc = 0;
    for (int i = 4; i < argc && rc == 0; i++)
        rc = transcribe_file(w, argv[i]);
    qattn_whisper_free(w);
    return rc;
}
