/* The transcript's storage and accessors (qattn.h). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "transcribe/transcript.h"

qattn_status qattn_transcript_append(struct qattn_transcript *t, const qattn_segment *seg)
{
    if (t->info.n_segments == t->capacity) {
        const int32_t cap = t->capacity ? 2 * t->capacity : 16;
        qattn_segment *grown = realloc(t->segments, (size_t)cap * sizeof *grown);
        if (!grown)
            return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
        t->segments = grown, t->capacity = cap;
    }
    qattn_segment *s = &t->segments[t->info.n_segments];
    *s = *seg;
    const size_t len = strlen(seg->text);
    char *text = malloc(len + 1);
    int32_t *tokens = malloc(((size_t)seg->n_tokens + 1) * sizeof *tokens);
    if (!text || !tokens) {
        free(text), free(tokens);
        return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
    }
    memcpy(text, seg->text, len + 1);
    memcpy(tokens, seg->tokens, (size_t)seg->n_tokens * sizeof *tokens);
    s->text = text, s->tokens = tokens;
    s->id = ++t->info.n_segments;
    return QATTN_OK;
}

qattn_status qattn_transcript_get_info(const qattn_transcript *t, qattn_transcript_info *info)
{
    qattn_clear_error();
    if (!t || !info)
        return qattn_fail(QATTN_ERR_NULL, "transcript_get_info: NULL argument");
    *info = t->info;
    return QATTN_OK;
}

const qattn_segment *qattn_transcript_segment(const qattn_transcript *t, int32_t i)
{
    return t && i >= 0 && i < t->info.n_segments ? &t->segments[i] : NULL;
}

void qattn_transcript_free(qattn_transcript *t)
{
    if (!t)
        return;
    for (int32_t i = 0; i < t->info.n_segments; i++) {
        free((char *)t->segments[i].text);
        free((int32_t *)t->segments[i].tokens);
    }
    free(t->segments);
    free(t);
}
