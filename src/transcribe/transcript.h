/* A transcript being built (transcript.c): segments appended, then read through qattn.h. */
#ifndef QATTN_TRANSCRIBE_TRANSCRIPT_H
#define QATTN_TRANSCRIBE_TRANSCRIPT_H

#include "qattn.h"

struct qattn_transcript {
    qattn_transcript_info info;
    qattn_segment *segments;
    int32_t capacity;
};

/* Copies the segment (its text and tokens too) into a new last one. */
qattn_status qattn_transcript_append(struct qattn_transcript *t, const qattn_segment *segment);

#endif
