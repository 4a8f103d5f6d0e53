/* Segments' storage: a transcript's (qattn.h) and a session's queue of segments not yet given. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "transcribe/session.h"
#include "transcribe/transcript.h"

/* A copy of n words in one block: the array, then their text. */
static qattn_word *copy_words(const qattn_word *words, int32_t n)
{
    size_t bytes = (size_t)n * sizeof *words;
    for (int32_t i = 0; i < n; i++)
        bytes += strlen(words[i].word) + 1;
    qattn_word *copy = malloc(bytes);
    if (!copy)
        return NULL;
    char *text = (char *)(copy + n);
    for (int32_t i = 0; i < n; i++) {
        const size_t len = strlen(words[i].word) + 1;
        copy[i] = words[i];
        copy[i].word = memcpy(text, words[i].word, len);
        text += len;
    }
    return copy;
}

/* *dst = *seg with copies of its text, tokens and words (nothing kept on failure). */
static qattn_status copy_segment(qattn_segment *dst, const qattn_segment *seg)
{
    const size_t len = strlen(seg->text);
    char *text = malloc(len + 1);
    int32_t *tokens = malloc(((size_t)seg->n_tokens + 1) * sizeof *tokens);
    qattn_word *words = seg->n_words > 0 ? copy_words(seg->words, seg->n_words) : NULL;
    if (!text || !tokens || (seg->n_words > 0 && !words)) {
        free(text), free(tokens), free(words);
        return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
    }
    memcpy(text, seg->text, len + 1);
    memcpy(tokens, seg->tokens, (size_t)seg->n_tokens * sizeof *tokens);
    *dst = *seg;
    dst->text = text, dst->tokens = tokens, dst->words = words;
    dst->n_words = words ? seg->n_words : 0;
    return QATTN_OK;
}

static void free_segment(qattn_segment *seg)
{
    free((char *)seg->text);
    free((int32_t *)seg->tokens);
    free((qattn_word *)seg->words);
}

/* Room for one more in a growing array of segments. */
static qattn_status grow(qattn_segment **items, int32_t n, int32_t *cap)
{
    if (n < *cap)
        return QATTN_OK;
    const int32_t grown_cap = *cap ? 2 * *cap : 16;
    qattn_segment *grown = realloc(*items, (size_t)grown_cap * sizeof *grown);
    if (!grown)
        return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
    *items = grown, *cap = grown_cap;
    return QATTN_OK;
}

qattn_status qattn_transcript_append(struct qattn_transcript *t, const qattn_segment *seg)
{
    qattn_status st = grow(&t->segments, t->info.n_segments, &t->capacity);
    if (st == QATTN_OK)
        st = copy_segment(&t->segments[t->info.n_segments], seg);
    if (st == QATTN_OK)
        t->info.n_segments++;
    return st;
}

qattn_status qattn_segment_queue_push(qattn_segment_queue *q, const qattn_segment *seg)
{
    qattn_status st = grow(&q->items, q->n, &q->cap);
    if (st == QATTN_OK)
        st = copy_segment(&q->items[q->n], seg);
    if (st == QATTN_OK)
        q->n++;
    return st;
}

void qattn_segment_queue_clear(qattn_segment_queue *q)
{
    for (int32_t i = 0; i < q->n; i++)
        free_segment(&q->items[i]);
    q->n = q->head = 0;
}

qattn_status qattn_transcript_get_info(const qattn_transcript *t, qattn_transcript_info *info)
{
    qattn_clear_error();
    if (!t || !info)
        return qattn_fail(QATTN_ERR_NULL, "transcript_get_info: NULL argument");
    return qattn_struct_write(info, &t->info, sizeof t->info, "transcript_get_info");
}

const qattn_segment *qattn_transcript_segment(const qattn_transcript *t, int32_t i)
{
    return t && i >= 0 && i < t->info.n_segments ? &t->segments[i] : NULL;
}

void qattn_transcript_free(qattn_transcript *t)
{
    if (!t)
        return;
    for (int32_t i = 0; i < t->info.n_segments; i++)
        free_segment(&t->segments[i]);
    free(t->segments);
    free(t);
}
