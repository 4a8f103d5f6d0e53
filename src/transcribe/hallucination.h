/* hallucination_silence_threshold (hallucination.c): segments of invented words in silence
 * dropped after word timestamps. */
#ifndef QATTN_TRANSCRIBE_HALLUCINATION_H
#define QATTN_TRANSCRIBE_HALLUCINATION_H

#include "transcribe/session.h"

/* Over the window at `seek` (size frames of audio, `window` frames wide; content_frames of
 * audio in all; last_speech: the end of the speech before it), with s->pending's words set:
 * returns 1 when the whole window is skipped (its first worded segment is an anomaly after a
 * gap longer than the threshold: *next after the gap, no segment given), else 0 with
 * s->pending cut before the first anomaly in silence (*next moved past it), if any. */
int qattn_session_skip_hallucinations(struct qattn_session *s, size_t seek, size_t size,
                                      size_t window, size_t content_frames, double last_speech,
                                      size_t *next);

#endif
