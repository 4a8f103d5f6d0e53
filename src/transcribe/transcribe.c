/*
 * Transcription of audio of any length, as faster-whisper does it (transcribe.py
 * generate_segments, generate_with_fallback, _split_segments_by_timestamps, get_prompt;
 * docs/whisper-facts.md, "Decoding"):
 *
 *   log-mel of the audio + 30 s of silence; seek = 0
 *   while seek < the audio's frames:
 *     window = frames [seek, seek + 3000), zero past the audio; encode it
 *     prompt = [<|startofprev|> + the last 223 tokens of the text so far]
 *              + [<|startoftranscript|>, language, task] (English-only: the first alone)
 *              + [<|notimestamps|> without timestamps]
 *     decode at temperatures 0, 0.2, ... until the text's zlib compression ratio is <= 2.4
 *       and its average log-probability >= -1 (or the window is silence)
 *     a window whose <|nospeech|> probability is > 0.6 with a low log-probability is skipped;
 *     otherwise it is cut into segments at each pair of timestamps, and seek moves to the
 *     window's end or, when its last segment is unfinished, to the last timestamp
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "decode/search.h"
#include "text/tokenizer.h"
#include "text/utf8.h"
#include "text/vocabulary.h"
#include "transcribe/session.h"
#include "transcribe/transcript.h"
#include "transcribe/whisper.h"
#include "transcribe/hallucination.h"
#include "transcribe/words.h"
#include "whisper/encoder_stages.h"

#define TIME_PER_FRAME 0.01 /* hop 160 at 16 kHz */
#define TIME_PRECISION 0.02 /* a timestamp token's step */
#define QATTN_MAX_TEMPERATURES 64

qattn_transcribe_params qattn_transcribe_default_params(void)
{
    qattn_transcribe_params p;
    memset(&p, 0, sizeof p);
    p.struct_size = sizeof p;
    p.task = QATTN_TASK_TRANSCRIBE;
    p.beam_size = 5, p.best_of = 5, p.patience = 1, p.length_penalty = 1;
    p.temperature = 0, p.temperature_increment = 0.2f;
    p.compression_ratio_threshold = 2.4f, p.log_prob_threshold = -1, p.no_speech_threshold = 0.6f;
    p.condition_on_previous_text = 1, p.prompt_reset_on_temperature = 0.5f;
    p.suppress_blank = 1, p.max_initial_timestamp = 1;
    p.vad_parameters = qattn_vad_default_options();
    p.hallucination_silence_threshold = NAN;
    p.repetition_penalty = 1;
    p.language_detection_segments = 1, p.language_detection_threshold = 0.5f;
    return p;
}

/* Text of tokens (timestamps and specials dropped) into s->text, grown as needed. */
static qattn_status decode_text(struct qattn_session *s, const int32_t *tokens, int32_t n)
{
    size_t len = 0;
    qattn_status st = qattn_vocabulary_decode(s->w->vocabulary, tokens, n, s->text, s->text_cap, &len);
    if (st != QATTN_OK || len < s->text_cap)
        return st;
    char *grown = realloc(s->text, len + 1);
    if (!grown)
        return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
    s->text = grown, s->text_cap = len + 1;
    return qattn_vocabulary_decode(s->w->vocabulary, tokens, n, s->text, s->text_cap, &len);
}

/* len(utf8) / len(zlib.compress(utf8)) of the stripped text (openai whisper/utils.py, default
 * level, header and checksum counted); 0 for empty text. */
static double compression_ratio(const char *text)
{
    size_t a, b;
    qattn_utf8_strip(text, &a, &b);
    if (a == b)
        return 0; /* zlib.compress(b"") is 8 bytes: the ratio is 0 there too */
    uLongf size = compressBound((uLong)(b - a));
    Bytef *buf = malloc(size);
    if (!buf || compress2(buf, &size, (const Bytef *)text + a, (uLong)(b - a), Z_DEFAULT_COMPRESSION) != Z_OK) {
        free(buf);
        return 0;
    }
    free(buf);
    return (double)(b - a) / (double)size;
}

static int blank(const char *text)
{
    size_t a, b;
    qattn_utf8_strip(text, &a, &b);
    return a == b;
}

/* Prompt of the window (get_prompt): [<|startofprev|>, hotwords, the previous text since the
 * last reset (at most n_text_ctx / 2 - 1 tokens)], the start sequence, <|notimestamps|> without
 * timestamps, then on the first window the forced prefix (after <|0.00|> with timestamps). */
void qattn_session_build_prompt(struct qattn_session *s, size_t seek)
{
    const struct qattn_whisper *w = s->w;
    /* batched: no previous text but initial_prompt's, no prefix (faster-whisper's
     * BatchedInferencePipeline) */
    const int batched = s->p.batch_size > 0;
    const int prefixed = s->n_prefix > 0 && seek == 0 && !batched, hot = s->n_hotwords > 0 && !prefixed;
    const int32_t end = batched ? s->n_initial : s->n_history;
    const int32_t ctx = w->dec.n_text_ctx, prev = end - (batched ? 0 : s->reset_since);
    /* faster-whisper takes up to ctx / 2 - 1 of each; together they could pass the context
     * (where CTranslate2 fails), so the previous text gives way to keep 8 positions free */
    int32_t take = prev < ctx / 2 - 1 ? prev : ctx / 2 - 1;
    if (take > ctx - 8 - 1 - (hot ? s->n_hotwords : 0))
        take = ctx - 8 - 1 - (hot ? s->n_hotwords : 0);
    int32_t n = 0;
    if (take > 0 || hot) {
        s->prompt[n++] = w->sot_prev;
        if (hot)
            memcpy(s->prompt + n, s->hotwords, (size_t)s->n_hotwords * sizeof(int32_t));
        n += hot ? s->n_hotwords : 0;
        if (take > 0)
            memcpy(s->prompt + n, s->history + end - take, (size_t)take * sizeof(int32_t));
        n += take > 0 ? take : 0;
    }
    s->sot_index = n;
    s->prompt[n++] = w->sot;
    if (w->multilingual) {
        s->prompt[n++] = s->language;
        s->prompt[n++] = s->task;
    }
    if (s->p.without_timestamps)
        s->prompt[n++] = w->no_timestamps;
    s->n_forced = 0;
    if (prefixed) {
        if (!s->p.without_timestamps)
            s->prompt[n + s->n_forced++] = w->ts_begin;
        memcpy(s->prompt + n + s->n_forced, s->prefix, (size_t)s->n_prefix * sizeof(int32_t));
        s->n_forced += s->n_prefix;
    }
    s->n_prompt = n + s->n_forced;
}

int32_t qattn_session_max_new(const struct qattn_session *s)
{
    /* CTranslate2 decodes at most min(L / 2, L - (start - 1)) tokens, prefix included, where
     * start is the prompt without the prefix and L is the context, or with max_new_tokens the
     * whole prompt + max_new_tokens (faster-whisper fails where that passes the context; it is
     * capped at the context here) */
    const int32_t ctx = s->w->dec.n_text_ctx, start = s->n_prompt - s->n_forced;
    int32_t limit = ctx;
    if (s->p.max_new_tokens > 0 && s->n_prompt + s->p.max_new_tokens < ctx)
        limit = s->n_prompt + s->p.max_new_tokens;
    return limit / 2 < limit - (start - 1) ? limit / 2 : limit - (start - 1);
}

qattn_status qattn_session_judge(struct qattn_session *s, const qattn_search_result *res,
                                 float temperature, qattn_fallback *f)
{
    const qattn_transcribe_params *p = &s->p;
    qattn_status st = decode_text(s, res->tokens, res->n_tokens);
    if (st != QATTN_OK)
        return st;
    qattn_decoded d = {res->n_tokens, res->sum_logprob / (res->n_tokens + 1),
                       compression_ratio(s->text), temperature, res->no_speech_prob};
    int fallback = 0, below = 1;
    if (p->compression_ratio_threshold > 0 && d.compression_ratio > p->compression_ratio_threshold)
        fallback = 1, below = 0;
    if (!isnan(p->log_prob_threshold) && d.avg_logprob < p->log_prob_threshold)
        fallback = 1;
    if (!isnan(p->no_speech_threshold) && d.no_speech_prob > p->no_speech_threshold &&
        !isnan(p->log_prob_threshold) && d.avg_logprob < p->log_prob_threshold)
        fallback = 0; /* silence */
    /* keep the best so far: faster-whisper picks, when every temperature fails, the highest
     * average log-probability among the results under the compression threshold (or among
     * all if none is) */
    const int better = !f->have || (below && !f->have_below) ||
                       (below == f->have_below && d.avg_logprob > f->best.avg_logprob);
    f->kept = !fallback || better;
    if (f->kept) {
        f->best = d;
        f->have = 1, f->have_below |= below;
    }
    f->done = !fallback;
    if (f->done || temperature >= s->temperatures[s->n_temperatures - 1])
        f->best.temperature = fallback ? s->temperatures[s->n_temperatures - 1] : temperature;
    return QATTN_OK;
}

/* The window's tokens with temperature fallback (faster-whisper generate_with_fallback):
 * s->tokens holds the chosen result. */
static qattn_status decode_with_fallback(struct qattn_session *s, uint64_t window_seed,
                                         qattn_decoded *best)
{
    const qattn_transcribe_params *p = &s->p;
    const int32_t max_new = qattn_session_max_new(s);
    int32_t *candidate = s->tokens + s->w->dec.n_text_ctx; /* second half: the current try */
    qattn_fallback f = {0};
    for (int32_t i = 0; i < s->n_temperatures && !f.done; i++) {
        const float t = s->temperatures[i];
        qattn_search_params sp = {t > 0 ? 1 : p->beam_size, p->best_of, p->patience,
                                  p->length_penalty, t, max_new, window_seed + (uint64_t)i,
                                  s->n_forced};
        qattn_search_result res = {candidate, 0, 0, 0, 0};
        qattn_status st = qattn_search_run(s->search, s->prompt, s->n_prompt, s->sot_index,
                                           s->w->no_speech, &s->rules, &sp, &res);
        if (st == QATTN_OK)
            st = qattn_session_judge(s, &res, t, &f);
        if (st != QATTN_OK)
            return st;
        if (f.kept)
            memcpy(s->tokens, candidate, (size_t)res.n_tokens * sizeof(int32_t));
    }
    *best = f.best;
    return QATTN_OK;
}

/* A segment of the window, tokens [from, from + n) of s->tokens, kept until the window's
 * segments are given (word timestamps move their times first). */
static qattn_status add_pending(struct qattn_session *s, int32_t from, int32_t n, double start,
                                double end)
{
    if (s->n_pending == s->pending_cap) {
        const int32_t cap = s->pending_cap ? 2 * s->pending_cap : 16;
        qattn_window_segment *grown = realloc(s->pending, (size_t)cap * sizeof *grown);
        if (!grown)
            return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
        s->pending = grown, s->pending_cap = cap;
    }
    s->pending[s->n_pending++] = (qattn_window_segment){from, n, start, end, 0, 0};
    return QATTN_OK;
}

/* The words of a segment as qattn_word into *out (grown; their text points into the
 * session's word text), times mapped back to the audio's under vad_filter: each word's start
 * and end by the span its middle falls in (faster-whisper restore_speech_timestamps). */
static qattn_status segment_words(struct qattn_session *s, const qattn_window_segment *seg,
                                  qattn_word **out, char **text)
{
    const size_t n = (size_t)seg->n_words;
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += s->words[seg->first_word + i].len + 1;
    *out = malloc(n * sizeof **out), *text = malloc(bytes);
    if (!*out || !*text)
        return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
    char *t = *text;
    for (size_t i = 0; i < n; i++) {
        const qattn_timed_word *w = &s->words[seg->first_word + i];
        memcpy(t, s->word_text + w->text, w->len);
        t[w->len] = '\0';
        double start = w->start, end = w->end;
        if (s->p.vad_filter) {
            const size_t chunk = qattn_session_vad_chunk(s, (start + end) / 2);
            start = qattn_session_vad_restore_in(s, start, chunk);
            end = qattn_session_vad_restore_in(s, end, chunk);
        }
        (*out)[i] = (qattn_word){start, end, t, w->probability};
        t += w->len + 1;
    }
    return QATTN_OK;
}

/* Gives one segment of the window (faster-whisper drops those of no duration or blank text):
 * queued, added to the prompt history, passed to on_segment. */
static qattn_status give(struct qattn_session *s, const qattn_window_segment *ws, int32_t seek,
                         const qattn_decoded *d, int *stop)
{
    const int32_t *tokens = s->tokens + ws->from, n = ws->n;
    qattn_status st = decode_text(s, tokens, n);
    if (st != QATTN_OK)
        return st;
    if (ws->start == ws->end || blank(s->text))
        return QATTN_OK;
    double start = ws->start, end = ws->end;
    qattn_word *words = NULL;
    char *word_text = NULL;
    if (ws->n_words > 0 && (st = segment_words(s, ws, &words, &word_text)) != QATTN_OK) {
        free(words), free(word_text);
        return st;
    }
    if (s->p.vad_filter && ws->n_words > 0) { /* the joined speech's times -> the audio's */
        start = words[0].start, end = words[ws->n_words - 1].end;
    } else if (s->p.vad_filter) {
        start = qattn_session_vad_restore(s, start, 0);
        end = qattn_session_vad_restore(s, end, 1);
    }
    qattn_segment seg = {sizeof seg, s->next_id, seek, start, end, s->text, tokens, n,
                         d->temperature, (float)d->avg_logprob, (float)d->compression_ratio,
                         d->no_speech_prob, words, ws->n_words, {0}};
    memcpy(seg.language, s->language_code, sizeof seg.language);
    st = qattn_segment_queue_push(&s->queue, &seg);
    free(words), free(word_text);
    if (st != QATTN_OK)
        return st;
    s->next_id++;
    if (s->n_history + n > s->history_cap) { /* the prompt history */
        const int32_t cap = 2 * (s->n_history + n);
        int32_t *grown = realloc(s->history, (size_t)cap * sizeof *grown);
        if (!grown)
            return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
        s->history = grown, s->history_cap = cap;
    }
    memcpy(s->history + s->n_history, tokens, (size_t)n * sizeof *tokens);
    s->n_history += n;
    if (s->p.on_segment && s->p.on_segment(&s->queue.items[s->queue.n - 1], s->p.on_segment_user)) {
        *stop = 1; /* this window's segments so far are given, then the session ends */
        s->stopped = 1;
    }
    return QATTN_OK;
}

/* Cuts the window's tokens into segments at consecutive timestamps
 * (_split_segments_by_timestamps) into s->pending and returns where the next window starts;
 * *single_ending: the tokens end on a lone timestamp (no speech after it). The window starts
 * at `offset` seconds and holds `duration` of audio (size frames: for `next`). */
static qattn_status split_at(struct qattn_session *s, const qattn_decoded *d, double offset,
                             double window_duration, size_t seek, size_t size, size_t *next,
                             int *single_ending)
{
    const int32_t *tok = s->tokens, n = d->n_tokens, tb = s->w->ts_begin;
    const int single = n >= 2 && tok[n - 2] < tb && tok[n - 1] >= tb;
    int32_t last = 0, n_cuts = 0;
    qattn_status st = QATTN_OK;
    *single_ending = single;
    s->n_pending = 0;
    for (int32_t i = 1; i <= n && st == QATTN_OK; i++) {
        const int cut = i < n ? tok[i] >= tb && tok[i - 1] >= tb : single && n_cuts > 0;
        if (!cut)
            continue;
        st = add_pending(s, last, i - last, offset + (tok[last] - tb) * TIME_PRECISION,
                         offset + (tok[i - 1] - tb) * TIME_PRECISION);
        last = i, n_cuts++;
    }
    if (st != QATTN_OK)
        return st;
    if (n_cuts > 0) {
        /* an unfinished last segment is decoded again from its start; the timestamp rules
         * make that start later than the window's, the guard keeps the loop finite anyway */
        *next = single ? seek + size : seek + (size_t)(tok[last - 1] - tb) * 2;
        *next = *next > seek ? *next : seek + size;
        return QATTN_OK;
    }
    double duration = window_duration;
    for (int32_t i = n - 1; i >= 0; i--) /* the last timestamp, if not <|0.00|> */
        if (tok[i] >= tb) {
            if (tok[i] != tb)
                duration = (tok[i] - tb) * TIME_PRECISION;
            break;
        }
    *next = seek + size;
    return add_pending(s, 0, n, offset, offset + duration);
}

static qattn_status split(struct qattn_session *s, const qattn_decoded *d, size_t seek, size_t size,
                          size_t *next, int *single_ending)
{
    return split_at(s, d, (double)seek * TIME_PER_FRAME, (double)size * TIME_PER_FRAME, seek,
                    size, next, single_ending);
}

qattn_status qattn_session_split_window(struct qattn_session *s, const qattn_decoded *d, double offset,
                                        double duration, size_t seek, size_t size, size_t *next,
                                        int *single_ending)
{
    return split_at(s, d, offset, duration, seek, size, next, single_ending);
}

qattn_status qattn_session_give_pending(struct qattn_session *s, const qattn_decoded *d, int32_t seek)
{
    int stop = 0;
    qattn_status st = QATTN_OK;
    for (int32_t i = 0; i < s->n_pending && !stop && st == QATTN_OK; i++)
        st = give(s, &s->pending[i], seek, d, &stop);
    return st;
}

static qattn_status check_params(const struct qattn_whisper *w, const qattn_transcribe_params *p)
{
    if (p->task != QATTN_TASK_TRANSCRIBE && p->task != QATTN_TASK_TRANSLATE)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: unknown task %d", (int)p->task);
    if (p->task == QATTN_TASK_TRANSLATE && !w->multilingual)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: translation needs a multilingual model; "
                          "this one is English-only");
    if (p->beam_size < 1 || p->beam_size > 32 || p->best_of < 1 || p->best_of > 32)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: beam_size %d and best_of %d must be in "
                          "[1, 32]", p->beam_size, p->best_of);
    if (!(p->patience > 0 && p->patience <= 32) || !isfinite(p->length_penalty))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: patience %g must be in (0, 32], "
                          "length_penalty %g finite", p->patience, p->length_penalty);
    if (!(p->temperature >= 0 && p->temperature <= 1) ||
        !(p->temperature_increment >= 0 && p->temperature_increment <= 1))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: temperature %g and its increment %g must "
                          "be in [0, 1]", p->temperature, p->temperature_increment);
    if (p->temperature_increment > 0 && p->temperature_increment < 1.0f / (QATTN_MAX_TEMPERATURES - 1))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: temperature increment %g is too fine "
                          "(at most %d temperatures)", p->temperature_increment, QATTN_MAX_TEMPERATURES);
    if (!isnan(p->hallucination_silence_threshold) && !(p->hallucination_silence_threshold >= 0 &&
                                                        p->hallucination_silence_threshold <= 3600))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: hallucination_silence_threshold %g must be "
                          "in [0, 3600] seconds (NAN: off)", p->hallucination_silence_threshold);
    if (isinf(p->log_prob_threshold) || isinf(p->no_speech_threshold) ||
        isnan(p->compression_ratio_threshold) || isnan(p->prompt_reset_on_temperature))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: a threshold is infinite or NaN");
    if (!(p->max_initial_timestamp >= 0 && p->max_initial_timestamp <= 30))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: max_initial_timestamp %g must be in [0, 30]",
                          p->max_initial_timestamp);
    if (!(p->repetition_penalty > 0 && p->repetition_penalty <= 100) ||
        p->no_repeat_ngram_size < 0 || p->no_repeat_ngram_size > w->dec.n_text_ctx)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: repetition_penalty %g must be in (0, 100], "
                          "no_repeat_ngram_size %d in [0, %d]", p->repetition_penalty,
                          p->no_repeat_ngram_size, w->dec.n_text_ctx);
    if (p->language_detection_segments < 1 || p->language_detection_segments > 10000 ||
        !(p->language_detection_threshold >= 0 && p->language_detection_threshold <= 1))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: language_detection_segments %d must be in "
                          "[1, 10000], language_detection_threshold %g in [0, 1]",
                          p->language_detection_segments, p->language_detection_threshold);
    if (p->max_new_tokens < 0 || p->max_new_tokens > w->dec.n_text_ctx / 2)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: max_new_tokens %d must be in [0, %d]",
                          p->max_new_tokens, w->dec.n_text_ctx / 2);
    return QATTN_OK;
}

static int cancelled(void *ctx, qattn_encoder_stage stage)
{
    (void)stage;
    return atomic_load((atomic_int *)ctx) != 0;
}

qattn_stage_observer qattn_session_cancel_observer(struct qattn_session *s)
{
    return (qattn_stage_observer){cancelled, &s->cancel};
}

/* Encoder output of the window starting at frame `seek` (size frames of audio) into
 * s->features, and the search's cross-attention over it. */
qattn_status qattn_session_encode_window(struct qattn_session *s, size_t seek, size_t size)
{
    const struct qattn_whisper *w = s->w;
    if (s->batch)
        qattn_session_batch_window(s, seek, size, s->window);
    else
        qattn_mel_stream_window(&s->mel, seek, size, 2 * (size_t)w->enc.n_ctx, s->window);
    const qattn_stage_observer cancel = qattn_session_cancel_observer(s);
    qattn_status st = qattn_encoder_run_observed(w->encoder, s->window, 1, s->features, &cancel);
    if (st == QATTN_OK)
        st = qattn_search_window(s->search, s->features, w->enc.n_ctx);
    return st;
}

void qattn_session_teardown(struct qattn_session *s)
{
    free(s->window), free(s->features), free(s->history), free(s->prompt);
    free(s->tokens), free(s->text), free(s->prefix), free(s->hotwords);
    free(s->pending), free(s->words), free(s->word_text), free(s->clips);
    if (s->own_align_heads)
        free(s->align_heads);
    qattn_search_free(s->search);
    qattn_session_batch_free(s);
    qattn_mel_stream_free(&s->mel);
    qattn_session_vad_free(s);
    qattn_segment_queue_clear(&s->queue);
    free(s->queue.items);
}

/* A text option as faster-whisper encodes it: " " + text.strip() through tokenizer.json, into
 * a new array of at most `cap` tokens (the first ones; cap 0: all). */
static qattn_status encode_option(struct qattn_session *s, const char *name, const char *text, int32_t cap,
                                  int32_t **ids, int32_t *n)
{
    if (!s->w->tokenizer)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: %s text needs the model's tokenizer.json, "
                          "which its directory lacks", name);
    size_t a, b;
    qattn_utf8_strip(text, &a, &b);
    char *spaced = malloc(b - a + 2);
    if (!spaced)
        return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
    spaced[0] = ' ';
    memcpy(spaced + 1, text + a, b - a);
    spaced[b - a + 1] = '\0';
    /* at most one id per byte: every byte is one symbol before merging, an added token one id */
    const size_t bytes = b - a + 1;
    qattn_status st = QATTN_OK;
    if (bytes > INT32_MAX || !(*ids = malloc(bytes * sizeof **ids)))
        st = qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory for %zu bytes of %s", bytes, name);
    if (st == QATTN_OK)
        st = qattn_tokenizer_encode(s->w->tokenizer, spaced, *ids, (int32_t)bytes, n);
    free(spaced);
    if (st != QATTN_OK) {
        char why[256]; /* qattn_fail writes the buffer qattn_last_error reads */
        snprintf(why, sizeof why, "%s", qattn_last_error());
        return qattn_fail(st, "transcribe: %s: %s", name, why);
    }
    if (cap > 0 && *n > cap)
        *n = cap;
    return QATTN_OK;
}

/* initial_prompt (the history's start), prefix and hotwords (get_prompt keeps at most
 * n_text_ctx / 2 - 1 tokens of each); "" is none for the last two, as Python's truth test. */
static qattn_status text_options(struct qattn_session *s)
{
    const qattn_transcribe_params *p = &s->p;
    const int32_t half = s->w->dec.n_text_ctx / 2 - 1;
    qattn_status st = QATTN_OK;
    if (p->initial_prompt) {
        st = encode_option(s, "initial_prompt", p->initial_prompt, 0, &s->history, &s->n_history);
        s->history_cap = s->n_initial = s->n_history;
    }
    if (st == QATTN_OK && p->prefix && p->prefix[0])
        st = encode_option(s, "prefix", p->prefix, half, &s->prefix, &s->n_prefix);
    if (st == QATTN_OK && p->hotwords && p->hotwords[0])
        st = encode_option(s, "hotwords", p->hotwords, half, &s->hotwords, &s->n_hotwords);
    return st;
}

qattn_status qattn_session_setup(struct qattn_session *s)
{
    const struct qattn_whisper *w = s->w;
    const qattn_transcribe_params *p = &s->p;
    qattn_status st = check_params(w, p);
    if (st == QATTN_OK)
        st = qattn_session_set_language(s);
    if (st == QATTN_OK)
        st = qattn_session_clips_setup(s);
    if (st != QATTN_OK)
        return st;
    s->n_temperatures = 0;
    for (double t = p->temperature; s->n_temperatures < QATTN_MAX_TEMPERATURES;
         t = p->temperature + s->n_temperatures * (double)p->temperature_increment) {
        if (t > 1.0 + 1e-6 || (s->n_temperatures > 0 && p->temperature_increment == 0))
            break;
        s->temperatures[s->n_temperatures++] = (float)t;
    }
    s->max_seqs = p->beam_size > p->best_of ? p->beam_size : p->best_of;
    const int32_t ctx = w->dec.n_text_ctx, n_mels = w->enc.n_mels;
    const size_t window = 2 * (size_t)w->enc.n_ctx;
    s->window = malloc((size_t)n_mels * window * sizeof(float));
    s->features = malloc((size_t)w->enc.n_ctx * w->enc.n_state * sizeof(float));
    s->prompt = malloc(2 * (size_t)ctx * sizeof(int32_t)); /* the prefix after ctx - 1 at most */
    s->tokens = malloc(2 * (size_t)ctx * sizeof(int32_t));
    s->text_cap = 1024, s->text = malloc(s->text_cap);
    if (!s->window || !s->features || !s->prompt || !s->tokens || !s->text)
        return qattn_fail(QATTN_ERR_NOMEM, "session_create: out of memory");
    st = qattn_mel_stream_init(&s->mel, n_mels, w->threads);
    if (st == QATTN_OK)
        st = text_options(s);
    s->align_heads = w->align_heads, s->n_align_heads = w->n_align_heads;
    if (st == QATTN_OK && p->alignment_heads) {
        int32_t *heads = NULL, n = 0; /* the model's stay in place unless this succeeds */
        st = qattn_alignment_heads_parse(w, p->alignment_heads, &heads, &n);
        if (st == QATTN_OK)
            s->align_heads = heads, s->n_align_heads = n, s->own_align_heads = 1;
        else
            free(heads);
    }
    if (st == QATTN_OK)
        st = qattn_search_create(w->decoder, s->max_seqs, ctx / 2, &s->search);
    if (st == QATTN_OK)
        qattn_search_set_cancel(s->search, &s->cancel);
    if (st == QATTN_OK)
        st = qattn_session_batch_setup(s);
    s->task = p->task == QATTN_TASK_TRANSLATE ? w->translate : w->transcribe;
    s->rules = (qattn_logit_rules){w->dec.n_vocab, w->suppress, w->n_suppress,
                                   p->suppress_blank ? w->suppress_begin : NULL,
                                   p->suppress_blank ? w->n_suppress_begin : 0,
                                   !p->without_timestamps, w->eot, w->no_timestamps, w->ts_begin,
                                   w->ts_end, 0, p->repetition_penalty, p->no_repeat_ngram_size};
    s->rules.max_initial_ts = w->ts_begin + (int32_t)lround(p->max_initial_timestamp / TIME_PRECISION);
    if (s->rules.max_initial_ts > w->ts_end)
        s->rules.max_initial_ts = w->ts_end;
    s->next_id = 1;
    return st;
}

qattn_status qattn_session_decode_window(struct qattn_session *s, size_t size)
{
    const size_t seek = s->seek;
    qattn_status st;
    if ((st = qattn_session_encode_window(s, seek, size)) != QATTN_OK)
        return st;
    if (s->p.multilingual && s->w->multilingual && (st = qattn_session_window_language(s)) != QATTN_OK)
        return st;
    qattn_session_build_prompt(s, seek);
    qattn_decoded d = {0};
    if ((st = decode_with_fallback(s, s->p.seed ^ ((uint64_t)seek << 20), &d)) != QATTN_OK)
        return st;
    int stop = 0, single_ending = 0;
    size_t next = seek + size;
    s->n_pending = 0;
    if (!isnan(s->p.no_speech_threshold) && d.no_speech_prob > s->p.no_speech_threshold &&
        !(!isnan(s->p.log_prob_threshold) && d.avg_logprob > s->p.log_prob_threshold)) {
        /* silence: skipped */
    } else if ((st = split(s, &d, seek, size, &next, &single_ending)) != QATTN_OK) {
        return st;
    }
    if (s->p.word_timestamps && s->n_pending > 0) {
        const double offset = (double)seek / 100.0; /* seek / frames_per_second, as faster-whisper */
        if ((st = qattn_session_word_timestamps(s, s->search, 0, offset, size)) != QATTN_OK)
            return st;
        qattn_session_fit_words(s);
        if (!single_ending)
            qattn_session_words_next(s, offset, seek, &next);
        if (!isnan(s->p.hallucination_silence_threshold) &&
            qattn_session_skip_hallucinations(s, seek, size, 2 * (size_t)s->w->enc.n_ctx,
                                              qattn_mel_stream_content_frames(&s->mel),
                                              s->last_speech, &next)) {
            s->seek = next; /* the window is dropped whole (faster-whisper's `continue`) */
            return QATTN_OK;
        }
        double end;
        if (qattn_session_words_end(s, &end))
            s->last_speech = end;
    }
    for (int32_t i = 0; i < s->n_pending && !stop && st == QATTN_OK; i++)
        st = give(s, &s->pending[i], (int32_t)seek, &d, &stop);
    if (st != QATTN_OK)
        return st;
    s->seek = next;
    if (!s->p.condition_on_previous_text || d.temperature > s->p.prompt_reset_on_temperature)
        s->reset_since = s->n_history;
    return QATTN_OK;
}
