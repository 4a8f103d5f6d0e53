/*
 * The spoken language of a session (session.h): given, or detected as faster-whisper's
 * WhisperModel.detect_language does it (faster_whisper/transcribe.py): the 30 s windows from
 * the first clip's start, at most language_detection_segments of them, each zero-padded; the
 * first whose likeliest language passes language_detection_threshold decides, else the
 * language most windows chose. With multilingual, each window's own language (its encoder
 * output, no threshold). A window's languages: softmax over the language tokens' logits after
 * <|startoftranscript|> alone, as CTranslate2's Whisper detect_language.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "text/vocabulary.h"
#include "transcribe/session.h"
#include "transcribe/whisper.h"

/* "<|de|>" -> "de" (out holds 16 bytes; a name that does not fit is left out). */
static void language_code(const struct qattn_whisper *w, int32_t token, char out[16])
{
    const char *name = qattn_vocabulary_name(w->vocabulary, token);
    const size_t len = name ? strlen(name) : 0;
    memset(out, 0, 16);
    if (len > 4 && len - 4 < 16)
        memcpy(out, name + 2, len - 4);
}

int32_t qattn_session_likeliest_language(const struct qattn_whisper *w, const float *logits)
{
    const float *x = logits + w->lang_first;
    int32_t b = 0;
    for (int32_t i = 1; i < w->n_langs; i++)
        b = x[i] > x[b] ? i : b;
    return w->lang_first + b;
}

/* The language probabilities of the window the search holds into probs[n_langs]; the
 * likeliest's index (the first of equals). */
static qattn_status window_probs(struct qattn_session *s, double *probs, int32_t *best)
{
    const struct qattn_whisper *w = s->w;
    const float *logits;
    qattn_status st = qattn_search_prompt_logits(s->search, &w->sot, 1, &logits);
    if (st != QATTN_OK)
        return st;
    const float *x = logits + w->lang_first;
    const int32_t b = qattn_session_likeliest_language(w, logits) - w->lang_first;
    double sum = 0;
    for (int32_t i = 0; i < w->n_langs; i++)
        sum += probs[i] = exp((double)x[i] - x[b]);
    for (int32_t i = 0; i < w->n_langs; i++)
        probs[i] /= sum;
    *best = b;
    return QATTN_OK;
}

void qattn_session_set_language_token(struct qattn_session *s, int32_t token)
{
    s->language = token;
    language_code(s->w, token, s->language_code);
}

qattn_status qattn_session_set_language(struct qattn_session *s)
{
    const struct qattn_whisper *w = s->w;
    const char *code = s->p.language;
    s->info.language_probability = 1;
    if (!w->multilingual) {
        if (code && strcmp(code, "auto") && strcmp(code, "en"))
            return qattn_fail(QATTN_ERR_ARG, "transcribe: language \"%s\" asked of an "
                              "English-only model", code);
        strcpy(s->info.language, "en");
        strcpy(s->language_code, "en");
        return QATTN_OK;
    }
    if (w->n_langs < 1 || w->n_langs > QATTN_MAX_LANGUAGES)
        return qattn_fail(QATTN_ERR_MODEL, "transcribe: the model has %d language tokens "
                          "(qattn takes 1 to %d)", w->n_langs, QATTN_MAX_LANGUAGES);
    if (!code || !strcmp(code, "auto"))
        return QATTN_OK; /* detected before the first window */
    const int32_t token = qattn_whisper_language_token(w, code);
    if (token < 0)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: unknown language \"%s\" (a code such as "
                          "en, de, fr, zh, or auto)", code);
    qattn_session_set_language_token(s, token);
    snprintf(s->info.language, sizeof s->info.language, "%s", code);
    return QATTN_OK;
}

/* info.all_language_probs: every language, likeliest first (the first token of equals). */
static void all_language_probs(struct qattn_session *s, const double *probs)
{
    const struct qattn_whisper *w = s->w;
    int32_t order[QATTN_MAX_LANGUAGES];
    for (int32_t i = 0; i < w->n_langs; i++) { /* insertion sort: stable, 100 items */
        int32_t j = i;
        while (j > 0 && probs[order[j - 1]] < probs[i]) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    s->info.n_language_probs = w->n_langs;
    for (int32_t i = 0; i < w->n_langs; i++) {
        qattn_language_probability *l = &s->info.all_language_probs[i];
        language_code(w, w->lang_first + order[i], l->language);
        l->probability = (float)probs[order[i]];
    }
}

qattn_status qattn_session_detect_language(struct qattn_session *s)
{
    const size_t width = 2 * (size_t)s->w->enc.n_ctx;
    /* batched: the chunks' log-mel, joined (all there at finish) */
    const size_t frames = s->batch ? qattn_session_batch_frames(s)
                                   : qattn_mel_stream_content_frames(&s->mel);
    const size_t segments = (size_t)s->p.language_detection_segments;
    size_t from, available;
    if (s->mel.finished) {
        /* faster-whisper's features hold one frame more than it decodes (the last hop's) */
        from = s->detect_from < (double)frames ? (size_t)s->detect_from : 0;
        available = frames + 1 - from;
        available = available < segments * width ? available : segments * width;
    } else {
        from = (size_t)s->detect_from; /* below the audio's frames once these are final */
        available = segments * width;
        if (qattn_mel_stream_ready_frames(&s->mel) < from ||
            qattn_mel_stream_ready_frames(&s->mel) - from < available)
            return QATTN_AGAIN;
    }
    double probs[QATTN_MAX_LANGUAGES], top[QATTN_MAX_LANGUAGES];
    int32_t votes[QATTN_MAX_LANGUAGES] = {0}, first_vote[QATTN_MAX_LANGUAGES];
    int32_t best = 0, decided = 0;
    for (size_t k = 0; k * width < available && !decided; k++) {
        const size_t size = available - k * width < width ? available - k * width : width;
        qattn_status st = qattn_session_encode_window(s, from + k * width, size);
        if (st == QATTN_OK)
            st = window_probs(s, probs, &best);
        if (st != QATTN_OK)
            return st;
        all_language_probs(s, probs);
        if (probs[best] > s->p.language_detection_threshold) {
            decided = 1;
            s->info.language_probability = (float)probs[best];
        } else {
            if (votes[best]++ == 0)
                first_vote[best] = (int32_t)k, top[best] = probs[best];
            top[best] = probs[best] > top[best] ? probs[best] : top[best];
        }
    }
    if (!decided) { /* the most votes; of equals, the first voted for (Python's max of a dict) */
        for (int32_t i = 0; i < s->w->n_langs; i++)
            if (votes[i] > votes[best] || (votes[i] == votes[best] && votes[i] > 0 &&
                                           first_vote[i] < first_vote[best]))
                best = i;
        s->info.language_probability = (float)top[best];
    }
    qattn_session_set_language_token(s, s->w->lang_first + best);
    memcpy(s->info.language, s->language_code, sizeof s->info.language);
    return QATTN_OK;
}

qattn_status qattn_session_window_language(struct qattn_session *s)
{
    double probs[QATTN_MAX_LANGUAGES];
    int32_t best;
    qattn_status st = window_probs(s, probs, &best);
    if (st == QATTN_OK)
        qattn_session_set_language_token(s, s->w->lang_first + best);
    return st;
}
