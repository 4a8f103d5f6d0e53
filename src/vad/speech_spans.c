/*
 * Speech spans from the VAD's probabilities, as faster-whisper's get_speech_timestamps finds
 * them (faster_whisper/vad.py, 1.2.1), with its quirks kept so that the spans are its own:
 * the silence that allows a split at max_speech_duration_s is 98 ms (1568 samples), not the
 * 100 ms its comment says; a split at an earlier end goes on to the silence test in the same
 * step; probabilities between the two thresholds neither end nor extend a silence; the
 * comparisons are float64's (numpy compares float32 scalars with Python floats in double).
 * Then each span is padded by speech_pad_ms, and spans closer than twice that share the gap.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/error.h"
#include "qattn.h"

enum { SAMPLES_PER_MS = QATTN_SAMPLE_RATE / 1000, MIN_SILENCE_AT_MAX_SPEECH = 98 * SAMPLES_PER_MS };

qattn_vad_options qattn_vad_default_options(void)
{
    qattn_vad_options o = {sizeof o, 0.5, NAN, 0, INFINITY, 2000, 400};
    return o;
}

typedef struct spans {
    qattn_speech_span *out;
    size_t capacity, n;
} spans;

static void add(spans *s, int64_t start, int64_t end)
{
    if (s->n < s->capacity)
        s->out[s->n] = (qattn_speech_span){start, end};
    s->n++;
}

static qattn_status check(const qattn_vad_options *o)
{
    if (!(o->threshold >= 0 && o->threshold <= 1) ||
        (!isnan(o->neg_threshold) && !(o->neg_threshold >= 0 && o->neg_threshold <= 1)))
        return qattn_fail(QATTN_ERR_ARG, "vad: threshold %g and neg_threshold %g must be in [0, 1]",
                          (double)o->threshold, (double)o->neg_threshold);
    if (o->min_speech_duration_ms < 0 || o->min_silence_duration_ms < 0 || o->speech_pad_ms < 0 ||
        o->speech_pad_ms > 60000 || !(o->max_speech_duration_s > 0))
        return qattn_fail(QATTN_ERR_ARG, "vad: durations must be >= 0 (max_speech_duration_s > 0, "
                          "speech_pad_ms at most 60000)");
    return QATTN_OK;
}

/* The spans before padding, into s (counted past its capacity). */
static void find(const float *probs, size_t n_probs, size_t n_samples, const qattn_vad_options *op,
                 spans *s)
{
    const qattn_vad_options o = *op;
    const double thr = o.threshold;
    const double neg = isnan(o.neg_threshold) ? fmax(thr - 0.15, 0.01) : o.neg_threshold;
    const double sr = QATTN_SAMPLE_RATE, w = QATTN_VAD_CHUNK;
    const double min_speech = sr * o.min_speech_duration_ms / 1000.0;
    const double pad = sr * o.speech_pad_ms / 1000.0;
    const double max_speech = sr * o.max_speech_duration_s - w - 2.0 * pad;
    const double min_silence = sr * o.min_silence_duration_ms / 1000.0;
    int triggered = 0;
    int64_t start = 0, temp_end = 0, prev_end = 0, next_start = 0;
    for (size_t i = 0; i < n_probs; i++) {
        const double p = probs[i];
        const int64_t pos = (int64_t)(QATTN_VAD_CHUNK * i);
        if (p >= thr && temp_end) {
            temp_end = 0;
            if (next_start < prev_end)
                next_start = pos;
        }
        if (p >= thr && !triggered) {
            triggered = 1, start = pos;
            continue;
        }
        if (triggered && (double)(pos - start) > max_speech) {
            if (prev_end) {
                add(s, start, prev_end);
                if (next_start < prev_end) /* a silence then: the span ends */
                    triggered = 0;
                else /* speech went on: the next span starts where it came back */
                    start = next_start;
                prev_end = next_start = temp_end = 0; /* and on to the silence test */
            } else {
                add(s, start, pos);
                prev_end = next_start = temp_end = 0, triggered = 0;
                continue;
            }
        }
        if (p < neg && triggered) {
            if (!temp_end)
                temp_end = pos;
            if (pos - temp_end > MIN_SILENCE_AT_MAX_SPEECH)
                prev_end = temp_end;
            if ((double)(pos - temp_end) < min_silence)
                continue;
            if ((double)(temp_end - start) > min_speech)
                add(s, start, temp_end);
            prev_end = next_start = temp_end = 0, triggered = 0;
        }
    }
    const int64_t len = (int64_t)n_samples;
    if (triggered && (double)(len - start) > min_speech)
        add(s, start, len);
}

qattn_status qattn_vad_speech_spans(const float *probs, size_t n_probs, size_t n_samples,
                                    const qattn_vad_options *options, qattn_speech_span *out,
                                    size_t capacity, size_t *n_spans)
{
    qattn_clear_error();
    if ((!probs && n_probs) || (!out && capacity) || !n_spans)
        return qattn_fail(QATTN_ERR_NULL, "vad_speech_spans: NULL argument");
    qattn_vad_options o = qattn_vad_default_options();
    if (options && qattn_struct_read(&o, sizeof o, options, "vad_speech_spans") != QATTN_OK)
        return QATTN_ERR_ARG;
    qattn_status st = check(&o);
    if (st != QATTN_OK)
        return st;
    if (n_samples > ((size_t)1 << 40) || n_probs > n_samples / QATTN_VAD_CHUNK + 1)
        return qattn_fail(QATTN_ERR_SIZE, "vad_speech_spans: %zu probabilities for %zu samples",
                          n_probs, n_samples);
    spans s = {NULL, 0, 0};
    find(probs, n_probs, n_samples, &o, &s); /* count them first: the padding needs them all */
    *n_spans = s.n;
    if (capacity < s.n)
        return QATTN_OK;
    s = (spans){out, capacity, 0};
    find(probs, n_probs, n_samples, &o, &s);
    const int64_t len = (int64_t)n_samples;
    const double pad = (double)QATTN_SAMPLE_RATE * o.speech_pad_ms / 1000.0;
    /* padding: the first start, every end and the next start, halving gaps under 2 pads */
    for (size_t k = 0; k < s.n; k++) {
        qattn_speech_span *sp = &out[k];
        if (k == 0)
            sp->start = (int64_t)fmax(0.0, (double)sp->start - pad);
        if (k + 1 < s.n) {
            qattn_speech_span *next = &out[k + 1];
            const int64_t gap = next->start - sp->end;
            if ((double)gap < 2 * pad) {
                sp->end += gap / 2;
                next->start = (int64_t)fmax(0.0, (double)(next->start - gap / 2));
            } else {
                sp->end = (int64_t)fmin((double)len, (double)sp->end + pad);
                next->start = (int64_t)fmax(0.0, (double)next->start - pad);
            }
        } else {
            sp->end = (int64_t)fmin((double)len, (double)sp->end + pad);
        }
    }
    return QATTN_OK;
}
