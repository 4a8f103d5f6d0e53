/*
 * hallucination_silence_threshold (faster-whisper transcribe.py generate_segments, after
 * add_word_timestamps; openai whisper transcribe.py): with word timestamps, a segment whose
 * words look invented (improbable, very short or very long) and that sits in silence longer
 * than the threshold is dropped with the rest of the window, and decoding goes on after it.
 */
#include <math.h>
#include <string.h>

#include "transcribe/hallucination.h"

/* faster-whisper's `punctuation`: its default prepend and append marks together */
#define MARKS "\"'\xe2\x80\x9c\xc2\xbf([{-\"'.\xe3\x80\x82,\xef\xbc\x8c!\xef\xbc\x81?\xef\xbc\x9f:\xef\xbc\x9a\xe2\x80\x9d)]}\xe3\x80\x81"

static double word_anomaly_score(const qattn_timed_word *w)
{
    const double duration = w->end - w->start;
    double score = 0;
    if (w->probability < 0.15)
        score += 1.0;
    if (duration < 0.133)
        score += (0.133 - duration) * 15;
    if (duration > 2.0)
        score += duration - 2.0;
    return score;
}

/* Python's `text in MARKS` (a substring test). */
static int is_mark(const char *text, size_t len)
{
    static const char marks[] = MARKS;
    const size_t n = sizeof marks - 1;
    for (size_t i = 0; i + len <= n; i++)
        if (!memcmp(marks + i, text, len))
            return 1;
    return 0;
}

/* is_segment_anomaly: the first 8 words that are not punctuation score >= 3, or nearly one
 * each. NULL (no segment) or no words: not one. */
static int is_anomaly(const struct qattn_session *s, const qattn_window_segment *seg)
{
    if (!seg || seg->n_words == 0)
        return 0;
    double score = 0;
    int counted = 0;
    for (int32_t i = 0; i < seg->n_words && counted < 8; i++) {
        const qattn_timed_word *w = &s->words[seg->first_word + i];
        if (is_mark(s->word_text + w->text, w->len))
            continue;
        score += word_anomaly_score(w), counted++;
    }
    return score >= 3 || score + 0.01 >= counted;
}

/* next_words_segment: the first of pending[from ..] with words, NULL if none. */
static const qattn_window_segment *next_with_words(const struct qattn_session *s, int32_t from)
{
    for (int32_t i = from; i < s->n_pending; i++)
        if (s->pending[i].n_words > 0)
            return &s->pending[i];
    return NULL;
}

int qattn_session_skip_hallucinations(struct qattn_session *s, size_t seek, size_t size,
                                      size_t window, size_t content_frames, double last_speech,
                                      size_t *next)
{
    const double threshold = s->p.hallucination_silence_threshold;
    const double offset = (double)seek * 0.01, duration = (double)size * 0.01;
    const double window_end = (double)(seek + window) * 0.01;
    const double content_duration = (double)content_frames * 0.01;
    const qattn_window_segment *first = next_with_words(s, 0);
    if (first && is_anomaly(s, first)) { /* leading silence before a possible hallucination */
        const double gap = first->start - offset;
        if (gap > threshold) {
            *next = seek + (size_t)rint(gap * 100);
            s->n_pending = 0;
            return 1;
        }
    }
    double last_end = last_speech;
    for (int32_t i = 0; i < s->n_pending; i++) {
        const qattn_window_segment *seg = &s->pending[i];
        if (seg->n_words == 0)
            continue;
        if (is_anomaly(s, seg)) {
            const qattn_window_segment *after = next_with_words(s, i + 1);
            const double next_start = after ? s->words[after->first_word].start : offset + duration;
            const int silence_before = seg->start - last_end > threshold || seg->start < threshold ||
                                       seg->start - offset < 2.0;
            const int silence_after = next_start - seg->end > threshold || is_anomaly(s, after) ||
                                      window_end - seg->end < 2.0;
            if (silence_before && silence_after) {
                const double from = offset + 1 > seg->start ? offset + 1 : seg->start;
                *next = (size_t)rint(from * 100);
                if (content_duration - seg->end < threshold)
                    *next = content_frames;
                s->n_pending = i; /* this segment and the ones after it are dropped */
                return 0;
            }
        }
        last_end = seg->end;
    }
    return 0;
}
