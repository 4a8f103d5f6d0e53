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
#include "whisper/encoder_stages.h"

#define CHUNK_SAMPLES (30 * QATTN_SAMPLE_RATE) /* faster-whisper's chunk_length */
#define HOP 160

/* A decoded window of a chunk, kept until its group of chunks is done: its tokens, result,
 * place and language. */
typedef struct decoded_window {
    int32_t chunk, language;
    size_t seek, size;
    qattn_decoded d;
    int32_t *tokens;
    int skipped; /* no speech */
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
    if (!p->vad_filter)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: batch_size needs vad_filter (the chunks "
                          "are the VAD's speech, as faster-whisper's BatchedInferencePipeline's)");
    if (p->n_clip_timestamps > 0 || p->word_timestamps)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: batch_size with %s is not supported yet",
                          p->word_timestamps ? "word_timestamps" : "clip_timestamps");
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
    for (int32_t i = 0; i < b->n_done; i++)
        free(b->done[i].tokens);
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
                                        size_t count)
{
    struct qattn_batch *b = s->batch;
    const int32_t n_mels = s->w->enc.n_mels;
    /* collect_chunks: a span that would take the chunk past 30 s starts the next one */
    size_t *first_span = malloc((count + 1) * sizeof *first_span), n_chunks = 0, cur = 0;
    if (!first_span)
        return qattn_fail(QATTN_ERR_NOMEM, "session_finish: out of memory");
    for (size_t i = 0; i < count; i++) {
        const size_t len = (size_t)(spans[i].end - spans[i].start);
        if (i == 0 || (cur + len > CHUNK_SAMPLES && cur > 0))
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
        b->chunk_offset[c] = (double)joined / QATTN_SAMPLE_RATE; /* in the joined speech */
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

static int encoder_stage_done(void *ctx, qattn_encoder_stage stage)
{
    (void)stage;
    return atomic_load((atomic_int *)ctx) != 0;
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
            const uint64_t seek = (uint64_t)(b->chunk_offset[first_chunk + c] * 100) + b->seek[c];
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

/* Keeps a decoded window of the group (its tokens copied) for giving once the group is done. */
static qattn_status keep_window(struct qattn_batch *b, const decoded_window *w, const int32_t *tokens)
{
    if (b->n_done == b->done_cap) {
        const int32_t cap = b->done_cap ? 2 * b->done_cap : 16;
        decoded_window *grown = realloc(b->done, (size_t)cap * sizeof *grown);
        if (!grown)
            return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
        b->done = grown, b->done_cap = cap;
    }
    decoded_window *k = &b->done[b->n_done];
    *k = *w;
    k->tokens = malloc(((size_t)w->d.n_tokens + 1) * sizeof(int32_t));
    if (!k->tokens)
        return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
    memcpy(k->tokens, tokens, (size_t)w->d.n_tokens * sizeof(int32_t));
    b->n_done++;
    return QATTN_OK;
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
    const qattn_stage_observer cancel = {encoder_stage_done, &s->cancel};
    qattn_status st = qattn_encoder_run_observed(w->encoder, b->windows, n_open, b->features, &cancel);
    if (st == QATTN_OK)
        st = qattn_search_windows(b->search, b->features, w->enc.n_ctx, n_open);
    if (st != QATTN_OK)
        return st;
    if (s->p.multilingual && w->multilingual) { /* each window's own language, no threshold */
        const float *logits[QATTN_DECODER_MAX_ITEMS];
        if ((st = qattn_search_batch_prompt_logits(b->search, &w->sot, 1, logits)) != QATTN_OK)
            return st;
        for (int32_t i = 0; i < n_open; i++) {
            int32_t best = 0;
            for (int32_t l = 1; l < w->n_langs; l++)
                best = logits[i][w->lang_first + l] > logits[i][w->lang_first + best] ? l : best;
            b->language[i] = w->lang_first + best;
        }
    }
    qattn_session_build_prompt(s, 1); /* the same for every item (the language set per item) */
    if ((st = decode_items(s, n_open, first)) != QATTN_OK)
        return st;
    const size_t ctx = (size_t)w->dec.n_text_ctx;
    for (int32_t i = 0; i < n_open && st == QATTN_OK; i++) {
        const int32_t g = b->chunk_of[i], c = first + g;
        const size_t seek = b->seek[g], size = b->chunk_frames[c] - seek;
        decoded_window dw = {g, b->language[i], seek, size, b->fallback[i].best, NULL, 0};
        const qattn_decoded *d = &dw.d;
        dw.skipped = !isnan(s->p.no_speech_threshold) && d->no_speech_prob > s->p.no_speech_threshold &&
                     !(!isnan(s->p.log_prob_threshold) && d->avg_logprob > s->p.log_prob_threshold);
        size_t next = seek + size; /* silence: skipped, as a sequential window */
        memcpy(s->tokens, b->tokens + (size_t)i * ctx, (size_t)d->n_tokens * sizeof(int32_t));
        if (!dw.skipped)
            st = qattn_session_split_window(s, d, b->chunk_offset[c] + (double)seek * 0.01,
                                            b->chunk_duration[c] - (double)seek * 0.01, seek, size,
                                            &next);
        if (st == QATTN_OK)
            st = keep_window(b, &dw, s->tokens);
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
            if (dw->chunk != g || dw->skipped)
                continue;
            const int32_t c = first + g;
            const double offset = b->chunk_offset[c] + (double)dw->seek * 0.01;
            size_t next;
            if (s->p.multilingual && w->multilingual)
                qattn_session_set_language_token(s, dw->language);
            memcpy(s->tokens, dw->tokens, (size_t)dw->d.n_tokens * sizeof(int32_t));
            st = qattn_session_split_window(s, &dw->d, offset, b->chunk_duration[c] - (double)dw->seek * 0.01,
                                            dw->seek, dw->size, &next);
            if (st == QATTN_OK) /* int(): the window's frame in the joined speech */
                st = qattn_session_give_pending(s, &dw->d, (int32_t)(offset * 100));
        }
    }
    for (int32_t k = 0; k < b->n_done; k++)
        free(b->done[k].tokens);
    b->n_done = 0;
    b->next += (size_t)n;
    if (st == QATTN_OK && s->p.on_progress)
        s->p.on_progress(b->done_seconds, s->info.duration_after_vad, s->p.on_progress_user);
    return st;
}
