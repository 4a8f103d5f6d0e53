/*
 * Batched transcription (qattn_transcribe_params.batch_size), as faster-whisper's
 * BatchedInferencePipeline (faster_whisper/transcribe.py; vad.py collect_chunks): the VAD's
 * speech spans packed in order into chunks of at most 30 s (a span that would pass 30 s
 * starts the next chunk; the silence between spans is left out), each chunk's log-mel
 * computed on its own (the audio and 160 zeros, Whisper's floor at the chunk's loudest frame,
 * the last frame dropped) and zero-padded to a window, batch_size windows encoded and then
 * decoded side by side (search.h's batch: one decoder step for every item's beams), every
 * item with the same prompt. What faster-whisper's pipeline drops and this keeps: each chunk's
 * temperature fallback (the items that need it decoded again, together, at the next
 * temperature) and the no-speech skip. The language, when not given, is detected on the
 * chunks' log-mel joined (and a last column of -1.5), as the pipeline does.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audio/mel.h"
#include "core/error.h"
#include "transcribe/session.h"
#include "transcribe/whisper.h"
#include "transcribe/words.h"

#define CHUNK_SAMPLES (30 * QATTN_SAMPLE_RATE) /* faster-whisper's chunk_length */
#define HOP 160

/* A decoded window of a chunk, kept until its group of chunks is done: its result, place
 * and language, and copies of its tokens, segments and words (s->tokens, s->pending,
 * s->words and s->word_text as they were after it). */
typedef struct decoded_window {
    int32_t chunk, language;
    size_t seek;
    qattn_decoded d;
    int32_t *tokens;
    qattn_window_segment *segments;
    int32_t n_segments, n_words;
    qattn_timed_word *words;        /* before add_word_timestamps's per-segment rules */
    char *word_text;
    size_t word_text_len;
    double word_median, word_max;
} decoded_window;

struct qattn_batch {
    qattn_search *search;
    size_t n_chunks, next;          /* chunks, and the first not decoded */
    size_t *chunk_frame, *chunk_frames; /* per chunk: its first column in mel, its frames */
    double *chunk_offset, *chunk_duration; /* per chunk: seconds of the joined speech */
    float *mel;                     /* [n_mels][stride]: every chunk's, then a column of -1.5 */
    size_t frames, stride;          /* the chunks' frames; stride = frames + 1 */
    float *windows, *features;      /* [batch][n_mels][W], [batch][n_ctx][d] */
    int32_t *prompts, *tokens, *pending; /* [batch][ctx], [batch][ctx], [batch] */
    int32_t *language;              /* [batch]: multilingual, each item's language token */
    qattn_fallback *fallback;       /* [batch] */
    qattn_search_result *results;   /* [batch] */
    int32_t *candidates;            /* [batch][ctx]: the current try's tokens */
    uint64_t *seeds;                /* [batch] */
    size_t *seek;                   /* [batch]: each chunk of the group's next frame in it */
    int32_t *chunk_of;              /* [batch]: the group's chunk each item decodes */
    decoded_window *done;           /* the group's decoded windows, in the order decoded */
    int32_t n_done, done_cap;
    double done_seconds;            /* of speech decoded, for on_progress */
};

qattn_status qattn_session_batch_setup(struct qattn_session *s)
{
    const qattn_transcribe_params *p = &s->p;
    const struct qattn_whisper *w = s->w;
    if (p->batch_size < 0 || p->batch_size > QATTN_DECODER_MAX_ITEMS)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: batch_size %d must be in [0, %d]",
                          p->batch_size, QATTN_DECODER_MAX_ITEMS);
    if (p->batch_size == 0)
        return QATTN_OK;
    if (!isnan(p->hallucination_silence_threshold))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: batch_size with "
                          "hallucination_silence_threshold is not supported (faster-whisper's "
                          "pipeline ignores it)");
    s->detect_from = 0; /* the chunks' log-mel, joined, from its start */
    /* the pipeline's chunks are at most 30 s: it sets the VAD's max_speech_duration_s so */
    if (s->p.vad_parameters.max_speech_duration_s > 30)
        s->p.vad_parameters.max_speech_duration_s = 30;
    struct qattn_batch *b = s->batch = calloc(1, sizeof *b);
    if (!b)
        return qattn_fail(QATTN_ERR_NOMEM, "session_create: out of memory");
    const size_t n = (size_t)p->batch_size, ctx = (size_t)w->dec.n_text_ctx;
    const size_t window = (size_t)w->enc.n_mels * 2 * (size_t)w->enc.n_ctx;
    b->windows = malloc(n * window * sizeof(float));
    b->features = malloc(n * (size_t)w->enc.n_ctx * (size_t)w->enc.n_state * sizeof(float));
    b->prompts = malloc(n * ctx * sizeof(int32_t)), b->tokens = malloc(n * ctx * sizeof(int32_t));
    b->candidates = malloc(n * ctx * sizeof(int32_t));
    b->pending = malloc(n * sizeof(int32_t));
    b->language = malloc(n * sizeof(int32_t)), b->seeds = malloc(n * sizeof(uint64_t));
    b->fallback = malloc(n * sizeof *b->fallback), b->results = malloc(n * sizeof *b->results);
    b->seek = malloc(n * sizeof *b->seek), b->chunk_of = malloc(n * sizeof *b->chunk_of);
    if (!b->windows || !b->features || !b->prompts || !b->tokens || !b->candidates ||
        !b->pending || !b->language || !b->seeds || !b->fallback || !b->results ||
        !b->seek || !b->chunk_of)
        return qattn_fail(QATTN_ERR_NOMEM, "session_create: out of memory for a batch of %d",
                          p->batch_size);
    qattn_status st = qattn_search_create_batch(w->decoder, p->batch_size, s->max_seqs,
                                                (int32_t)ctx / 2, &b->search);
    if (st == QATTN_OK)
        qattn_search_set_cancel(b->search, &s->cancel);
    return st;
}

static void forget_windows(struct qattn_batch *b)
{
    for (int32_t i = 0; i < b->n_done; i++) {
        decoded_window *k = &b->done[i];
        free(k->tokens), free(k->segments), free(k->words), free(k->word_text);
    }
    b->n_done = 0;
}

void qattn_session_batch_free(struct qattn_session *s)
{
    struct qattn_batch *b = s->batch;
    if (!b)
        return;
    qattn_search_free(b->search);
    free(b->chunk_frame), free(b->chunk_frames), free(b->chunk_offset), free(b->chunk_duration);
    free(b->mel), free(b->windows), free(b->features), free(b->prompts), free(b->tokens);
    free(b->candidates), free(b->pending), free(b->language), free(b->seeds);
    free(b->fallback), free(b->results), free(b->seek), free(b->chunk_of);
    forget_windows(b);
    free(b->done);
    free(b);
    s->batch = NULL;
}

/* A chunk's log-mel as faster-whisper's FeatureExtractor()(chunk)[..., :-1]: the samples and
 * 160 zeros (at most 30 s + 160: buf holds that), reflect-padded frames, Whisper's floor at
 * the loudest of its n / 160 + 1 frames, the last dropped; into mel columns [at, at + n / 160). */
static qattn_status chunk_mel(struct qattn_session *s, float *buf, size_t n, size_t at, float *raw)
{
    struct qattn_batch *b = s->batch;
    const int32_t n_mels = s->w->enc.n_mels;
    const size_t frames = n / HOP;
    if (n + HOP <= QATTN_MEL_N_FFT / 2) /* too short to reflect: no frame (padded with zeros) */
        return QATTN_OK;
    memset(buf + n, 0, HOP * sizeof *buf);
    float max;
    qattn_status st = qattn_log_mel_raw(buf, 0, n + HOP, 0, frames + 1, n_mels, s->w->threads, raw,
                                        frames + 1, &max);
    if (st != QATTN_OK)
        return st;
    for (int32_t m = 0; m < n_mels; m++)
        qattn_log_mel_normalize(raw + (size_t)m * (frames + 1), frames, max,
                                b->mel + (size_t)m * b->stride + at);
    return QATTN_OK;
}

qattn_status qattn_session_batch_chunks(struct qattn_session *s, const qattn_speech_span *spans,
                                        size_t count, int clips)
{
    struct qattn_batch *b = s->batch;
    const int32_t n_mels = s->w->enc.n_mels;
    /* collect_chunks: a span that would take the chunk past 30 s starts the next one; each
     * clip is a chunk */
    size_t *first_span = malloc((count + 1) * sizeof *first_span), n_chunks = 0, cur = 0;
    if (!first_span)
        return qattn_fail(QATTN_ERR_NOMEM, "session_finish: out of memory");
    for (size_t i = 0; i < count; i++) {
        const size_t len = (size_t)(spans[i].end - spans[i].start);
        if (i == 0 || clips || (cur + len > CHUNK_SAMPLES && cur > 0))
            first_span[n_chunks++] = i, cur = 0;
        cur += len;
    }
    first_span[n_chunks] = count;
    const size_t room = n_chunks ? n_chunks : 1;
    b->n_chunks = n_chunks, b->next = 0;
    b->chunk_frame = malloc(room * sizeof(size_t)), b->chunk_frames = malloc(room * sizeof(size_t));
    b->chunk_offset = malloc(room * sizeof(double)), b->chunk_duration = malloc(room * sizeof(double));
    qattn_status st = b->chunk_frame && b->chunk_frames && b->chunk_offset && b->chunk_duration
                          ? QATTN_OK
                          : qattn_fail(QATTN_ERR_NOMEM, "session_finish: out of memory");
    size_t joined = 0, longest = 0;
    b->frames = 0;
    for (size_t c = 0; st == QATTN_OK && c < n_chunks; c++) {
        size_t len = 0;
        for (size_t i = first_span[c]; i < first_span[c + 1]; i++)
            len += (size_t)(spans[i].end - spans[i].start);
        /* in the joined speech; a clip's in the audio */
        b->chunk_offset[c] = (double)(clips ? spans[first_span[c]].start : (int64_t)joined) / QATTN_SAMPLE_RATE;
        b->chunk_duration[c] = (double)len / QATTN_SAMPLE_RATE;
        b->chunk_frame[c] = b->frames, b->chunk_frames[c] = len / HOP;
        b->frames += len / HOP, joined += len;
        longest = len > longest ? len : longest;
    }
    b->stride = b->frames + 1;
    float *buf = NULL, *raw = NULL;
    if (st == QATTN_OK && b->stride > SIZE_MAX / sizeof(float) / (size_t)n_mels)
        st = qattn_fail(QATTN_ERR_SIZE, "session_finish: %zu frames of speech", b->frames);
    if (st == QATTN_OK) {
        b->mel = malloc((size_t)n_mels * b->stride * sizeof(float));
        buf = malloc((longest + HOP) * sizeof(float));
        raw = malloc((size_t)n_mels * (longest / HOP + 1) * sizeof(float));
        if (!b->mel || !buf || !raw)
            st = qattn_fail(QATTN_ERR_NOMEM, "session_finish: out of memory");
    }
    for (int32_t m = 0; st == QATTN_OK && m < n_mels; m++) /* the detection's last column */
        b->mel[(size_t)m * b->stride + b->frames] = -1.5f;
    for (size_t c = 0; st == QATTN_OK && c < n_chunks; c++) {
        size_t n = 0; /* the chunk's spans joined */
        for (size_t i = first_span[c]; i < first_span[c + 1]; i++) {
            const size_t len = (size_t)(spans[i].end - spans[i].start);
            memcpy(buf + n, s->vad_audio + spans[i].start, len * sizeof *buf);
            n += len;
        }
        st = chunk_mel(s, buf, n, b->chunk_frame[c], raw);
    }
    free(first_span), free(buf), free(raw);
    return st;
}

qattn_status qattn_session_batch_clips(struct qattn_session *s)
{
    const int32_t n = s->p.n_clip_timestamps;
    const double *t = s->p.clip_timestamps;
    const int64_t len = (int64_t)s->vad_len;
    const size_t count = n > 0 ? (size_t)(n + 1) / 2 : 1;
    qattn_speech_span *spans = malloc(count * sizeof *spans);
    if (!spans)
        return qattn_fail(QATTN_ERR_NOMEM, "session_finish: out of memory");
    int64_t joined = 0;
    for (size_t c = 0; c < count; c++) { /* int(t * sampling_rate), within the audio */
        int64_t start = n > 0 ? (int64_t)(t[2 * c] * QATTN_SAMPLE_RATE) : 0;
        int64_t end = (int32_t)(2 * c + 1) < n ? (int64_t)(t[2 * c + 1] * QATTN_SAMPLE_RATE) : len;
        start = start < len ? start : len;
        end = end < start ? start : end < len ? end : len;
        spans[c] = (qattn_speech_span){start, end};
        joined += end - start;
    }
    qattn_status st = qattn_session_batch_chunks(s, spans, count, 1);
    s->info.duration_after_vad = (double)joined / QATTN_SAMPLE_RATE;
    free(spans);
    free(s->vad_audio); /* the clips are in the log-mel now */
    s->vad_audio = NULL, s->vad_len = s->vad_cap = 0;
    return st;
}

size_t qattn_session_batch_frames(const struct qattn_session *s)
{
    return s->batch ? s->batch->frames : 0;
}

/* Window of `size` columns of the chunks' log-mel from `seek`, zero past them. */
void qattn_session_batch_window(const struct qattn_session *s, size_t seek, size_t size, float *out)
{
    const struct qattn_batch *b = s->batch;
    const size_t width = 2 * (size_t)s->w->enc.n_ctx;
    size = seek < b->stride ? (size < b->stride - seek ? size : b->stride - seek) : 0;
    size = size < width ? size : width;
    for (int32_t m = 0; m < s->w->enc.n_mels; m++) {
        float *row = out + (size_t)m * width;
        memcpy(row, b->mel + (size_t)m * b->stride + seek, size * sizeof *row);
        memset(row + size, 0, (width - size) * sizeof *row);
    }
}

/* The frame of the audio chunk c starts at, as faster-whisper's pipeline rounds it:
 * int(offset * 100) of the chunk's start in seconds (the seeds', the words' and the
 * re-decoding's frame). */
static size_t chunk_first_frame(const struct qattn_batch *b, size_t c)
{
    return (size_t)(b->chunk_offset[c] * 100);
}

/* The batch's items in the decoder at each temperature until none needs a fallback. */
static qattn_status decode_items(struct qattn_session *s, int32_t n, int32_t first_chunk)
{
    struct qattn_batch *b = s->batch;
    const qattn_transcribe_params *p = &s->p;
    const size_t ctx = (size_t)s->w->dec.n_text_ctx;
    const int32_t max_new = qattn_session_max_new(s);
    int32_t n_pending = n;
    for (int32_t i = 0; i < n; i++) {
        b->pending[i] = i;
        memset(&b->fallback[i], 0, sizeof b->fallback[i]);
    }
    for (int32_t k = 0; k < s->n_temperatures && n_pending > 0; k++) {
        const float t = s->temperatures[k];
        const qattn_search_params sp = {t > 0 ? 1 : p->beam_size, p->best_of, p->patience,
                                        p->length_penalty, t, max_new, 0, 0};
        for (int32_t j = 0; j < n_pending; j++) {
            const int32_t i = b->pending[j];
            const int32_t c = b->chunk_of[i];
            const uint64_t seek = (uint64_t)chunk_first_frame(b, (size_t)(first_chunk + c)) + b->seek[c];
            memcpy(b->prompts + (size_t)j * s->n_prompt, s->prompt, (size_t)s->n_prompt * sizeof(int32_t));
            if (p->multilingual && s->w->multilingual)
                b->prompts[(size_t)j * s->n_prompt + s->sot_index + 1] = b->language[i];
            b->seeds[j] = (p->seed ^ (seek << 20)) + (uint64_t)k; /* as the sequential window's */
            b->results[j] = (qattn_search_result){b->candidates + (size_t)j * ctx, 0, 0, 0, 0};
        }
        qattn_status st = qattn_search_run_batch(b->search, b->pending, n_pending, b->prompts,
                                                 s->n_prompt, s->sot_index, s->w->no_speech,
                                                 &s->rules, &sp, b->seeds, b->results);
        int32_t still = 0;
        for (int32_t j = 0; j < n_pending && st == QATTN_OK; j++) {
            const int32_t i = b->pending[j];
            st = qattn_session_judge(s, &b->results[j], t, &b->fallback[i]);
            if (b->fallback[i].kept)
                memcpy(b->tokens + (size_t)i * ctx, b->results[j].tokens,
                       (size_t)b->results[j].n_tokens * sizeof(int32_t));
            if (!b->fallback[i].done)
                b->pending[still++] = i;
        }
        if (st != QATTN_OK)
            return st;
        n_pending = still;
    }
    return QATTN_OK;
}

/* A copy of n elements of `size` bytes (NULL with n = 0), or 0 when memory is short. */
static int copy_of(void **to, const void *from, size_t n, size_t size)
{
    *to = NULL;
    if (n == 0)
        return 1;
    if (!(*to = malloc(n * size)))
        return 0;
    memcpy(*to, from, n * size);
    return 1;
}

/* Keeps the decoded window w of the group: its tokens (s->tokens), segments and words copied
 * for giving once the group is done. */
static qattn_status keep_window(struct qattn_session *s, const decoded_window *w)
{
    struct qattn_batch *b = s->batch;
    if (b->n_done == b->done_cap) {
        const int32_t cap = b->done_cap ? 2 * b->done_cap : 16;
        decoded_window *grown = realloc(b->done, (size_t)cap * sizeof *grown);
        if (!grown)
            return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
        b->done = grown, b->done_cap = cap;
    }
    decoded_window *k = &b->done[b->n_done++];
    *k = *w;
    k->n_segments = s->n_pending, k->n_words = s->p.word_timestamps ? s->n_words : 0;
    k->word_median = s->word_median, k->word_max = s->word_max;
    k->word_text_len = k->n_words > 0 ? s->word_text_len + 1 : 0;
    const int ok = copy_of((void **)&k->tokens, s->tokens, (size_t)w->d.n_tokens, sizeof *s->tokens) &
                   copy_of((void **)&k->segments, s->pending, (size_t)k->n_segments, sizeof *s->pending) &
                   copy_of((void **)&k->words, s->words, (size_t)k->n_words, sizeof *s->words) &
                   copy_of((void **)&k->word_text, s->word_text, k->word_text_len, 1);
    return ok ? QATTN_OK : qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
}

/* A kept window back into s->tokens, s->pending, s->words and s->word_text (grown to it). */
static qattn_status restore_window(struct qattn_session *s, const decoded_window *k)
{
    if (k->n_segments > s->pending_cap) {
        qattn_window_segment *grown = realloc(s->pending, (size_t)k->n_segments * sizeof *grown);
        if (!grown)
            return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
        s->pending = grown, s->pending_cap = k->n_segments;
    }
    if (k->n_words > s->words_cap) {
        qattn_timed_word *grown = realloc(s->words, (size_t)k->n_words * sizeof *grown);
        if (!grown)
            return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
        s->words = grown, s->words_cap = k->n_words;
    }
    if (k->word_text_len > s->word_text_cap) {
        char *grown = realloc(s->word_text, k->word_text_len);
        if (!grown)
            return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
        s->word_text = grown, s->word_text_cap = k->word_text_len;
    }
    memcpy(s->tokens, k->tokens, (size_t)k->d.n_tokens * sizeof *s->tokens);
    s->n_pending = k->n_segments, s->n_words = k->n_words;
    if (k->n_segments > 0)
        memcpy(s->pending, k->segments, (size_t)k->n_segments * sizeof *s->pending);
    if (k->n_words > 0)
        memcpy(s->words, k->words, (size_t)k->n_words * sizeof *s->words);
    if (k->word_text_len > 0)
        memcpy(s->word_text, k->word_text, k->word_text_len);
    s->word_text_len = k->word_text_len ? k->word_text_len - 1 : 0;
    s->word_median = k->word_median, s->word_max = k->word_max;
    return QATTN_OK;
}

/* faster-whisper's pipeline (BatchedInferencePipeline.forward, add_word_timestamps): the words
 * of item i's window at `seek` in chunk c, aligned with the window's time offset from the
 * chunk's frame int(offset * 100) and over int(ceil(duration)) seconds of frames, the
 * duration the window's part of the chunk. The per-segment rules wait for the giving, where
 * the last speech runs on from window to window in the audio's order, as faster-whisper's. */
static qattn_status align_words(struct qattn_session *s, int32_t i, int32_t c, size_t seek)
{
    struct qattn_batch *b = s->batch;
    const size_t base = chunk_first_frame(b, (size_t)c), width = 2 * (size_t)s->w->enc.n_ctx;
    const double offset = (double)(base + seek) / 100.0, left = ceil(b->chunk_duration[c] - (double)seek * 0.01);
    const size_t frames = left * 100 < (double)width ? (size_t)(left * 100) : width;
    if (s->p.multilingual && s->w->multilingual) /* the item's language in the alignment */
        qattn_session_set_language_token(s, b->language[i]);
    return qattn_session_word_timestamps(s, b->search, i, offset, frames);
}

/* Where an unfinished last segment of the window at `seek` in chunk c is decoded again (*next
 * before the window's end): from the last word's end, as on the sequential path (the words
 * fitted with any last speech: their end does not depend on it). */
static void words_next(struct qattn_session *s, int32_t c, size_t seek, size_t size,
                       int single_ending, size_t *next)
{
    const size_t base = chunk_first_frame(s->batch, (size_t)c);
    size_t frame;
    qattn_session_fit_words(s);
    if (*next < seek + size && !single_ending &&
        qattn_session_words_next(s, (double)(base + seek) / 100.0, base + seek, &frame))
        *next = frame - base;
}

/* One pass of the group's open chunks through the encoder and the decoder, side by side: each
 * chunk's window from its seek; after it, where each goes on (as a sequential window: an
 * unfinished last segment is decoded again, in the next pass). */
static qattn_status decode_pass(struct qattn_session *s, int32_t first, int32_t n_open)
{
    struct qattn_batch *b = s->batch;
    const struct qattn_whisper *w = s->w;
    const size_t window = (size_t)w->enc.n_mels * 2 * (size_t)w->enc.n_ctx;
    for (int32_t i = 0; i < n_open; i++) {
        const int32_t c = first + b->chunk_of[i];
        qattn_session_batch_window(s, b->chunk_frame[c] + b->seek[b->chunk_of[i]],
                                   b->chunk_frames[c] - b->seek[b->chunk_of[i]],
                                   b->windows + (size_t)i * window);
    }
    const qattn_stage_observer cancel = qattn_session_cancel_observer(s);
    qattn_status st = qattn_encoder_run_observed(w->encoder, b->windows, n_open, b->features, &cancel);
    if (st == QATTN_OK)
        st = qattn_search_windows(b->search, b->features, w->enc.n_ctx, n_open);
    if (st != QATTN_OK)
        return st;
    if (s->p.multilingual && w->multilingual) { /* each window's own language, no threshold */
        const float *logits[QATTN_DECODER_MAX_ITEMS];
        if ((st = qattn_search_batch_prompt_logits(b->search, &w->sot, 1, logits)) != QATTN_OK)
            return st;
        for (int32_t i = 0; i < n_open; i++)
            b->language[i] = qattn_session_likeliest_language(w, logits[i]);
    }
    qattn_session_build_prompt(s, 1); /* the same for every item (the language set per item) */
    if ((st = decode_items(s, n_open, first)) != QATTN_OK)
        return st;
    const size_t ctx = (size_t)w->dec.n_text_ctx;
    for (int32_t i = 0; i < n_open && st == QATTN_OK; i++) {
        const int32_t g = b->chunk_of[i], c = first + g;
        /* a chunk longer than a window (none of the VAD's is) goes on window by window */
        const size_t seek = b->seek[g], left = b->chunk_frames[c] - seek;
        const size_t size = left < 2 * (size_t)w->enc.n_ctx ? left : 2 * (size_t)w->enc.n_ctx;
        const decoded_window dw = {.chunk = g, .language = b->language[i], .seek = seek,
                                   .d = b->fallback[i].best};
        const qattn_decoded *d = &dw.d;
        const int skipped = !isnan(s->p.no_speech_threshold) && d->no_speech_prob > s->p.no_speech_threshold &&
                            !(!isnan(s->p.log_prob_threshold) && d->avg_logprob > s->p.log_prob_threshold);
        size_t next = seek + size; /* silence: skipped, as a sequential window */
        int single_ending = 0;
        memcpy(s->tokens, b->tokens + (size_t)i * ctx, (size_t)d->n_tokens * sizeof(int32_t));
        s->n_pending = 0;
        /* the pipeline's segment_duration: the chunk's rest, at most the window's */
        const double duration = left == size ? b->chunk_duration[c] - (double)seek * 0.01
                                             : (double)size * 0.01;
        if (!skipped)
            st = qattn_session_split_window(s, d, b->chunk_offset[c] + (double)seek * 0.01,
                                            duration, seek, size, &next, &single_ending);
        const int worded = s->p.word_timestamps && s->n_pending > 0;
        if (st == QATTN_OK && worded)
            st = align_words(s, i, c, seek);
        if (st == QATTN_OK && s->n_pending > 0)
            st = keep_window(s, &dw);
        if (st == QATTN_OK && worded)
            words_next(s, c, seek, size, single_ending, &next);
        b->seek[g] = next;
    }
    return st;
}

qattn_status qattn_session_decode_batch(struct qattn_session *s)
{
    struct qattn_batch *b = s->batch;
    const struct qattn_whisper *w = s->w;
    if (b->next >= b->n_chunks)
        return QATTN_DONE;
    /* a group of batch_size chunks, decoded until each is done, then given in order */
    const int32_t first = (int32_t)b->next;
    const int32_t n = (int32_t)(b->n_chunks - b->next < (size_t)s->p.batch_size
                                    ? b->n_chunks - b->next : (size_t)s->p.batch_size);
    for (int32_t g = 0; g < n; g++)
        b->seek[g] = 0;
    qattn_status st = QATTN_OK;
    for (;;) {
        int32_t n_open = 0;
        for (int32_t g = 0; g < n; g++)
            if (b->seek[g] < b->chunk_frames[first + g])
                b->chunk_of[n_open++] = g;
        if (n_open == 0 || (st = decode_pass(s, first, n_open)) != QATTN_OK)
            break;
    }
    for (int32_t g = 0; g < n && st == QATTN_OK && !s->stopped; g++) {
        b->done_seconds += b->chunk_duration[first + g];
        for (int32_t k = 0; k < b->n_done && st == QATTN_OK && !s->stopped; k++) {
            const decoded_window *dw = &b->done[k];
            if (dw->chunk != g)
                continue;
            const double offset = b->chunk_offset[first + g] + (double)dw->seek * 0.01;
            if (s->p.multilingual && w->multilingual)
                qattn_session_set_language_token(s, dw->language);
            st = restore_window(s, dw);
            double end;
            if (st == QATTN_OK && s->p.word_timestamps) {
                qattn_session_fit_words(s);
                if (qattn_session_words_end(s, &end))
                    s->last_speech = end;
            }
            if (st == QATTN_OK) /* int(): the window's frame in the joined speech */
                st = qattn_session_give_pending(s, &dw->d, (int32_t)(offset * 100));
        }
    }
    forget_windows(b);
    b->next += (size_t)n;
    if (st == QATTN_OK && s->p.on_progress)
        s->p.on_progress(b->done_seconds, s->info.duration_after_vad, s->p.on_progress_user);
    return st;
}
