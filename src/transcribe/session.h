/*
 * Internal: a transcription session's state (session.c schedules its windows and answers the
 * public calls; transcribe.c decodes one window: prompt, temperature fallback, segments).
 */
#ifndef QATTN_TRANSCRIBE_SESSION_H
#define QATTN_TRANSCRIBE_SESSION_H

#include <stdatomic.h>

#include "audio/mel_stream.h"
#include "decode/search.h"
#include "qattn.h"
#include "whisper/encoder_stages.h"

#define QATTN_MAX_TEMPERATURES 64

/* The segments of decoded windows not yet given (each owns copies of its text and tokens). */
typedef struct qattn_segment_queue {
    qattn_segment *items;
    int32_t n, head, cap;
} qattn_segment_queue;

/* A segment of the window being decoded, before it is given: tokens [from, from + n) of
 * s->tokens, its words s->words[first_word ..] (word_timestamps). */
typedef struct qattn_window_segment {
    int32_t from, n;
    double start, end;
    int32_t first_word, n_words;
} qattn_window_segment;

/* A clip of clip_timestamps in frames (end SIZE_MAX: the audio's end). */
typedef struct qattn_clip {
    size_t start, end;
} qattn_clip;

/* A window's decoding as kept: its tokens, their average log-probability (with <|endoftext|>),
 * compression ratio, temperature and <|nospeech|> probability. */
typedef struct qattn_decoded {
    int32_t n_tokens;
    double avg_logprob, compression_ratio;
    float temperature, no_speech_prob;
} qattn_decoded;

/* The temperature fallback of one window: the best result so far (have_below: one under the
 * compression threshold); after a try, kept: it is the best now; done: no fallback needed. */
typedef struct qattn_fallback {
    qattn_decoded best;
    int have, have_below, kept, done;
} qattn_fallback;

/* A word being timed: its text at s->word_text + text (len bytes), n_tokens of the text. */
typedef struct qattn_timed_word {
    size_t text, len;
    int32_t n_tokens;
    double start, end;
    float probability;
} qattn_timed_word;

struct qattn_session {
    const struct qattn_whisper *w;
    qattn_transcribe_params p;
    float temperatures[QATTN_MAX_TEMPERATURES];
    int32_t n_temperatures;
    qattn_mel_stream mel;
    float *window, *features;       /* one window's mel and encoder output */
    size_t seek;                    /* the next window's first frame */
    qattn_search *search;
    int32_t max_seqs;
    int32_t *history, n_history, history_cap, reset_since;
    int32_t n_initial;              /* the history's first tokens: initial_prompt's */
    int32_t *prompt, n_prompt, sot_index, n_forced; /* the last n_forced: the prefix */
    int32_t *prefix, n_prefix;      /* the prefix option's tokens (first window) */
    int32_t *hotwords, n_hotwords;  /* the hotwords option's tokens */
    int32_t *tokens;                /* a search's result */
    char *text;                     /* decoded text scratch */
    size_t text_cap;
    qattn_logit_rules rules;
    int32_t language, task;         /* language 0: not known yet (detected on window 0) */
    char language_code[16];         /* the language's code, given to the segments */
    qattn_clip *clips;              /* clip_timestamps, else one clip of all the audio */
    int32_t n_clips, clip;          /* the clip being decoded */
    double detect_from;             /* the first clip's start in frames, unrounded */
    qattn_transcript_info info;
    qattn_segment_queue queue;
    int32_t next_id;                /* of the next segment */
    qattn_window_segment *pending;  /* the window's segments, until given */
    int32_t n_pending, pending_cap;
    /* word_timestamps (words.c): the window's words, their text, the end of the last speech */
    qattn_timed_word *words;
    int32_t n_words, words_cap;
    char *word_text;
    size_t word_text_len, word_text_cap;
    double word_median, word_max;   /* the window's median word duration, and the longest kept */
    double last_speech;
    int32_t *align_heads, n_align_heads; /* the params' alignment_heads, else the model's */
    int own_align_heads;
    /* vad_filter (vad_filter.c): the audio kept until finish, then the speech spans' map */
    float *vad_audio;
    size_t vad_len, vad_cap;
    qattn_vad *own_vad;             /* the shipped model when params.vad is NULL */
    int64_t *vad_chunk_end;         /* per span: its end in the joined audio (samples) */
    double *vad_silence_before;     /* per span: the seconds of audio left out before it */
    size_t n_vad_spans;
    struct qattn_batch *batch;      /* batch_size (batched.c), else NULL */
    atomic_int cancel;              /* qattn_session_cancel was called */
    int stopped;                    /* on_segment asked to stop: the queue is given, then no more */
    qattn_status failed;            /* a failure that ends the session (sticky), or QATTN_OK */
};

/* transcribe.c: params checked against the model, the temperature list, the text options
 * tokenized, the language set (or left to detect), the search and the buffers made. */
qattn_status qattn_session_setup(struct qattn_session *s);
void qattn_session_teardown(struct qattn_session *s);

/* transcribe.c: the encoder's observer that stops it between stages once the session is
 * cancelled. */
qattn_stage_observer qattn_session_cancel_observer(struct qattn_session *s);

/* transcribe.c: the encoder output of `size` frames of audio from frame `seek` (the window
 * zero-padded as faster-whisper's pad_or_trim), set as the search's window. */
qattn_status qattn_session_encode_window(struct qattn_session *s, size_t seek, size_t size);

/* transcribe.c: the window at s->seek (its first `size` frames hold audio, all computed),
 * the language known: encoded, decoded with fallback and cut into segments (queued); s->seek
 * moves on. */
qattn_status qattn_session_decode_window(struct qattn_session *s, size_t size);

/* transcribe.c, shared with batched.c: the prompt of the window at seek into s->prompt; the
 * most tokens a window may decode after it; a try of the temperature fallback judged
 * (faster-whisper generate_with_fallback; its text decoded into s->text); a decoded window's
 * tokens (in s->tokens) cut into s->pending, the window starting `offset` seconds into the
 * audio it comes from with `duration` seconds of it, frames [seek, seek + size): where the
 * next window starts (an unfinished last segment is decoded again) and whether the tokens end
 * on a lone timestamp; the pending segments given (queued, on_segment), `seek` their window's
 * frame. */
void qattn_session_build_prompt(struct qattn_session *s, size_t seek);
int32_t qattn_session_max_new(const struct qattn_session *s);
qattn_status qattn_session_judge(struct qattn_session *s, const qattn_search_result *res,
                                 float temperature, qattn_fallback *f);
qattn_status qattn_session_split_window(struct qattn_session *s, const qattn_decoded *d,
                                        double offset, double duration, size_t seek, size_t size,
                                        size_t *next, int *single_ending);
qattn_status qattn_session_give_pending(struct qattn_session *s, const qattn_decoded *d,
                                        int32_t seek);

/* language.c: the language option checked and set (left to detect when NULL or "auto" on a
 * multilingual model); the detection when it can run (QATTN_AGAIN: its audio is not all
 * there yet); multilingual: the language of the window the search holds. */
qattn_status qattn_session_set_language(struct qattn_session *s);
qattn_status qattn_session_detect_language(struct qattn_session *s);
qattn_status qattn_session_window_language(struct qattn_session *s);

/* batched.c: the batch's search and buffers (batch_size > 0; its options checked); freed;
 * at finish, the VAD's spans packed into chunks (clips: each span a chunk, its times the
 * audio's) and their log-mel computed (the spans' samples in s->vad_audio); without
 * vad_filter, the chunks of clip_timestamps' clips (without clips: all the audio), the audio
 * freed; the chunks' frames and a window of them (language detection);
 * the next batch_size chunks decoded and their segments queued (QATTN_DONE after the last). */
qattn_status qattn_session_batch_setup(struct qattn_session *s);
void qattn_session_batch_free(struct qattn_session *s);
qattn_status qattn_session_batch_chunks(struct qattn_session *s, const qattn_speech_span *spans,
                                        size_t count, int clips);
qattn_status qattn_session_batch_clips(struct qattn_session *s);
size_t qattn_session_batch_frames(const struct qattn_session *s);
void qattn_session_batch_window(const struct qattn_session *s, size_t seek, size_t size, float *out);
qattn_status qattn_session_decode_batch(struct qattn_session *s);

/* language.c: a language token made the session's (its code given to the segments); the
 * likeliest language token of a row of logits after <|startoftranscript|> (the first of
 * equals). */
void qattn_session_set_language_token(struct qattn_session *s, int32_t token);
int32_t qattn_session_likeliest_language(const struct qattn_whisper *w, const float *logits);

/* clips.c: clip_timestamps in frames (faster-whisper's seek_clips), the session's first seek;
 * the window at s->seek moved into the clip being decoded (QATTN_DONE after the last, AGAIN
 * while its frames are not all final) and its size; the first frame any later window can
 * need (the log-mel before it may go). */
qattn_status qattn_session_clips_setup(struct qattn_session *s);
qattn_status qattn_session_clip_window(struct qattn_session *s, size_t *size);
size_t qattn_session_clips_keep_from(const struct qattn_session *s);

/* vad_filter.c: the audio kept as it is fed (for the VAD, and for a batch's chunks, which
 * need all of it); at finish the VAD's spans of it, their map and the joined speech fed to
 * the log-mel; a time of the joined speech mapped back to the
 * audio's (faster-whisper's SpeechTimestampsMap, rounded to 10 ms); the memory freed. */
qattn_status qattn_session_keep_audio(struct qattn_session *s, const float *samples, size_t n);
qattn_status qattn_session_vad_finish(struct qattn_session *s);
double qattn_session_vad_restore(const struct qattn_session *s, double t, int is_end);
/* vad_filter.c: the span a time of the joined speech falls in (get_chunk_index), and a time
 * mapped back by that span's offset (get_original_time with a chunk index). */
size_t qattn_session_vad_chunk(const struct qattn_session *s, double t);
double qattn_session_vad_restore_in(const struct qattn_session *s, double t, size_t chunk);
void qattn_session_vad_free(struct qattn_session *s);

/* transcript.c's segment queue: a copy of seg appended (id from s->next_id). */
qattn_status qattn_segment_queue_push(qattn_segment_queue *q, const qattn_segment *seg);
void qattn_segment_queue_clear(qattn_segment_queue *q);

#endif
