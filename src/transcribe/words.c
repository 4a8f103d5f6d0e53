/* Word timestamps of a window (words.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "decode/alignment.h"
#include "text/utf8.h"
#include "transcribe/whisper.h"
#include "transcribe/words.h"

#define MEDIAN_FILTER_WIDTH 7     /* faster-whisper's find_alignment */
#define TOKENS_PER_SECOND 50.0    /* encoder frames per second */
#define FRAMES_PER_SECOND 100.0   /* log-mel frames: seek's unit */
#define PUNCTUATION "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" /* Python's string.punctuation */
#define SENTENCE_END ".\xe3\x80\x82!\xef\xbc\x81?\xef\xbc\x9f"  /* ".。!！?？" */
#define PREPEND_PUNCTUATIONS "\"'\xe2\x80\x9c\xc2\xbf([{-"     /* "\"'“¿([{-" */
#define APPEND_PUNCTUATIONS "\"'.\xe3\x80\x82,\xef\xbc\x8c!\xef\xbc\x81?\xef\xbc\x9f:\xef\xbc\x9a\xe2\x80\x9d)]}\xe3\x80\x81"

/* Python's `text in set` for a str: a substring ("" is in every string). Valid UTF-8 on
 * both sides, so a byte match is a character match. */
static int is_in(const char *set, const char *text, size_t len)
{
    for (const char *p = set; len <= strlen(p); p++)
        if (!memcmp(p, text, len))
            return 1;
    return 0;
}

/* Appends len bytes to the session's word text; *at their offset. */
static qattn_status add_text(struct qattn_session *s, const char *text, size_t len, size_t *at)
{
    if (s->word_text_len + len + 1 > s->word_text_cap) {
        const size_t cap = 2 * (s->word_text_len + len + 1);
        char *grown = realloc(s->word_text, cap);
        if (!grown)
            return qattn_fail(QATTN_ERR_NOMEM, "word timestamps: out of memory");
        s->word_text = grown, s->word_text_cap = cap;
    }
    memcpy(s->word_text + s->word_text_len, text, len);
    *at = s->word_text_len;
    s->word_text_len += len;
    s->word_text[s->word_text_len] = '\0';
    return QATTN_OK;
}

static qattn_status add_word(struct qattn_session *s, const qattn_timed_word *w)
{
    if (s->n_words == s->words_cap) {
        const int32_t cap = s->words_cap ? 2 * s->words_cap : 64;
        qattn_timed_word *grown = realloc(s->words, (size_t)cap * sizeof *grown);
        if (!grown)
            return qattn_fail(QATTN_ERR_NOMEM, "word timestamps: out of memory");
        s->words = grown, s->words_cap = cap;
    }
    s->words[s->n_words++] = *w;
    return QATTN_OK;
}

/* The text of n tokens (specials dropped, bad UTF-8 as U+FFFD) into the growing *buf. */
static qattn_status tokens_text(const struct qattn_session *s, const int32_t *tokens, int32_t n,
                                char **buf, size_t *cap, size_t *len)
{
    qattn_status st = qattn_vocabulary_decode(s->w->vocabulary, tokens, n, *buf, *cap, len);
    if (st != QATTN_OK || *len < *cap)
        return st;
    char *grown = realloc(*buf, *len + 1);
    if (!grown)
        return qattn_fail(QATTN_ERR_NOMEM, "word timestamps: out of memory");
    *buf = grown, *cap = *len + 1;
    return qattn_vocabulary_decode(s->w->vocabulary, tokens, n, *buf, *cap, len);
}

/* Languages written without spaces: words are the unicode step's groups alone. */
static int without_spaces(const char *language)
{
    static const char *const codes[] = {"zh", "ja", "th", "lo", "my", "yue"};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (!strcmp(language, codes[i]))
            return 1;
    return 0;
}

/*
 * faster-whisper's split_to_word_tokens of the n tokens (text + <|endoftext|>) into s->words:
 * tokens gathered until their text decodes whole (no U+FFFD, or one that the whole text has
 * at that character too: split_tokens_on_unicode), then such a group starts a word if it is
 * special, starts with a space, is punctuation, or is the first; else it joins the last word
 * (split_tokens_on_spaces). Tokens after the last whole group are dropped, as there.
 */
static qattn_status split_words(struct qattn_session *s, const int32_t *tokens, int32_t n)
{
    char *buf = NULL;
    size_t cap = 0, len = 0;
    uint32_t *full = NULL, *cps = NULL;
    qattn_status st = tokens_text(s, tokens, n, &buf, &cap, &len);
    size_t n_full = 0, offset = 0;
    if (st == QATTN_OK && (!(full = malloc((len + 1) * sizeof *full)) ||
                           !(cps = malloc((len + 1) * sizeof *cps))))
        st = qattn_fail(QATTN_ERR_NOMEM, "word timestamps: out of memory");
    if (st == QATTN_OK)
        n_full = qattn_utf8_decode(buf, len, full);
    const int spaces = !without_spaces(s->info.language);
    for (int32_t first = 0, i = 0; st == QATTN_OK && i < n; i++) {
        if ((st = tokens_text(s, tokens + first, i + 1 - first, &buf, &cap, &len)) != QATTN_OK)
            break;
        uint32_t *grown = realloc(cps, (len + 1) * sizeof *cps);
        if (!grown) {
            st = qattn_fail(QATTN_ERR_NOMEM, "word timestamps: out of memory");
            break;
        }
        cps = grown;
        const size_t count = qattn_utf8_decode(buf, len, cps);
        size_t bad = 0;
        while (bad < count && cps[bad] != QATTN_REPLACEMENT_CHARACTER)
            bad++;
        if (bad < count && !(bad + offset < n_full && full[bad + offset] == QATTN_REPLACEMENT_CHARACTER))
            continue; /* a character still split: take the next token too */
        size_t a, b;
        qattn_utf8_strip(buf, &a, &b);
        const int starts = !spaces || tokens[first] >= s->w->eot || buf[0] == ' ' ||
                           is_in(PUNCTUATION, buf + a, b - a) || s->n_words == 0;
        size_t at = 0;
        if ((st = add_text(s, buf, len, &at)) != QATTN_OK)
            break;
        if (starts) {
            const qattn_timed_word w = {at, len, i + 1 - first, 0, 0, 0};
            st = add_word(s, &w);
        } else { /* the last word's text ends where this one starts */
            s->words[s->n_words - 1].len += len;
            s->words[s->n_words - 1].n_tokens += i + 1 - first;
        }
        offset += count, first = i + 1;
    }
    free(buf), free(full), free(cps);
    return st;
}

/* word i's text becomes its own followed by word j's (or j's after i's: prepend). */
static qattn_status join(struct qattn_session *s, qattn_timed_word *to, const qattn_timed_word *a,
                         const qattn_timed_word *b)
{
    const size_t len = a->len + b->len;
    char *tmp = malloc(len + 1);
    if (!tmp)
        return qattn_fail(QATTN_ERR_NOMEM, "word timestamps: out of memory");
    memcpy(tmp, s->word_text + a->text, a->len);
    memcpy(tmp + a->len, s->word_text + b->text, b->len);
    size_t at = 0;
    qattn_status st = add_text(s, tmp, len, &at);
    free(tmp);
    if (st == QATTN_OK)
        to->text = at, to->len = len, to->n_tokens = a->n_tokens + b->n_tokens;
    return st;
}

/* openai whisper timing.py merge_punctuations over words[0, n): prepended punctuation joins
 * the word after it, appended punctuation the word before; the emptied word keeps no text and
 * no tokens, each merged word its own times. */
static qattn_status merge_punctuations(struct qattn_session *s, qattn_timed_word *words, int32_t n,
                                       const char *prepend, const char *append)
{
    qattn_status st = QATTN_OK;
    for (int32_t i = n - 2, j = n - 1; st == QATTN_OK && i >= 0; i--) {
        qattn_timed_word *prev = &words[i], *next = &words[j];
        const char *t = s->word_text + prev->text;
        size_t a = 0, b = prev->len;
        if (prev->len > 0 && t[0] == ' ') {
            char *copy = malloc(prev->len + 1);
            if (!copy)
                return qattn_fail(QATTN_ERR_NOMEM, "word timestamps: out of memory");
            memcpy(copy, t, prev->len);
            copy[prev->len] = '\0';
            qattn_utf8_strip(copy, &a, &b);
            const int merge = is_in(prepend, copy + a, b - a);
            free(copy);
            if (merge) {
                const qattn_timed_word p = *prev, f = *next;
                st = join(s, next, &p, &f);
                prev->len = 0, prev->n_tokens = 0;
                continue;
            }
        }
        j = i;
    }
    for (int32_t i = 0, j = 1; st == QATTN_OK && j < n; j++) {
        qattn_timed_word *prev = &words[i], *next = &words[j];
        const int spaced = prev->len > 0 && s->word_text[prev->text + prev->len - 1] == ' ';
        if (!spaced && is_in(append, s->word_text + next->text, next->len)) {
            const qattn_timed_word p = *prev, f = *next;
            st = join(s, prev, &p, &f);
            next->len = 0, next->n_tokens = 0;
        } else {
            i = j;
        }
    }
    return st;
}

static int by_value(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* np.median of the non-zero durations of words[0, n) (0 when none); *any whether any. */
static double median_duration(const qattn_timed_word *words, int32_t n, int *any)
{
    double *d = malloc(((size_t)n + 1) * sizeof *d);
    int32_t m = 0;
    for (int32_t i = 0; d && i < n; i++)
        if (words[i].end - words[i].start != 0)
            d[m++] = words[i].end - words[i].start;
    *any = m > 0;
    double median = 0;
    if (m > 0) {
        qsort(d, (size_t)m, sizeof *d, by_value);
        median = m % 2 ? d[m / 2] : (d[m / 2 - 1] + d[m / 2]) / 2;
    }
    free(d);
    return median;
}

static double round2(double x) /* np.round(x, 2) */
{
    return rint(x * 100) / 100;
}

/* The alignment pass: jump frames of the n_text tokens and <|endoftext|>, and each text
 * token's probability (softmax over the text tokens, below <|endoftext|>). */
static qattn_status align_window(struct qattn_session *s, qattn_search *search, int32_t window,
                                 const int32_t *text, int32_t n_text, int32_t frames,
                                 int32_t *jumps, int32_t *n_jumps, float *probs)
{
    const struct qattn_whisper *w = s->w;
    const int32_t start = w->multilingual ? 3 : 1, n = start + n_text + 2, V = w->dec.n_vocab;
    int32_t *seq = malloc((size_t)n * sizeof *seq);
    float *scores = malloc((size_t)s->n_align_heads * n * frames * sizeof *scores);
    float *logits = malloc((size_t)(n - start) * V * sizeof *logits);
    qattn_status st = seq && scores && logits ? QATTN_OK
                                              : qattn_fail(QATTN_ERR_NOMEM, "word timestamps: out of memory");
    if (st == QATTN_OK) {
        seq[0] = w->sot;
        if (w->multilingual)
            seq[1] = s->language, seq[2] = s->task;
        seq[start] = w->no_timestamps;
        memcpy(seq + start + 1, text, (size_t)n_text * sizeof *text);
        seq[n - 1] = w->eot;
        st = qattn_search_align(search, window, seq, n, s->align_heads, s->n_align_heads, frames, scores,
                                start, logits);
    }
    for (int32_t t = 0; st == QATTN_OK && t < n_text; t++) { /* row start + t predicts text[t] */
        const float *x = logits + (size_t)t * V;
        float top = x[0];
        for (int32_t v = 1; v < w->eot; v++)
            top = x[v] > top ? x[v] : top;
        double sum = 0;
        for (int32_t v = 0; v < w->eot; v++)
            sum += exp((double)x[v] - top);
        probs[t] = (float)(exp((double)x[text[t]] - top) / sum);
    }
    if (st == QATTN_OK)
        st = qattn_align_tokens(scores, s->n_align_heads, n, frames, start, n_text,
                                MEDIAN_FILTER_WIDTH, jumps, n_jumps);
    free(seq), free(scores), free(logits);
    return st;
}

/* faster-whisper's per-segment rules: a long first word after a pause shortened, the segment's
 * times preferred over a first or last word that runs far past them, else taken from them. */
static void fit_segment(qattn_window_segment *seg, qattn_timed_word *words, double median,
                        double max, double *last_speech)
{
    if (seg->n_words == 0)
        return;
    qattn_timed_word *w0 = &words[0], *w1 = seg->n_words > 1 ? &words[1] : NULL;
    qattn_timed_word *wl = &words[seg->n_words - 1];
    if (w0->end - *last_speech > median * 4 &&
        (w0->end - w0->start > max || (w1 && w1->end - w0->start > max * 2))) {
        if (w1 && w1->end - w1->start > max) {
            const double half = w1->end / 2, boundary = w1->end - max > half ? w1->end - max : half;
            w0->end = w1->start = boundary;
        }
        w0->start = w0->end - max > 0 ? w0->end - max : 0;
    }
    if (seg->start < w0->end && seg->start - 0.5 > w0->start) {
        const double t = w0->end - median < seg->start ? w0->end - median : seg->start;
        w0->start = t > 0 ? t : 0;
    } else {
        seg->start = w0->start;
    }
    if (seg->end > wl->start && seg->end + 0.5 < wl->end) {
        const double t = wl->start + median;
        wl->end = seg->end > t ? seg->end : t;
    } else {
        seg->end = wl->end;
    }
    *last_speech = seg->end;
}

qattn_status qattn_session_word_timestamps(struct qattn_session *s, qattn_search *search,
                                           int32_t window, double offset, size_t size)
{
    const struct qattn_whisper *w = s->w;
    s->n_words = 0, s->word_text_len = 0;
    for (int32_t i = 0; i < s->n_pending; i++)
        s->pending[i].first_word = 0, s->pending[i].n_words = 0;
    int32_t n_text = 0;
    int32_t *text = malloc(((size_t)s->pending[s->n_pending - 1].from + s->pending[s->n_pending - 1].n + 1) *
                           sizeof *text);
    int32_t *seg_text = malloc((size_t)s->n_pending * sizeof *seg_text);
    if (!text || !seg_text) {
        free(text), free(seg_text);
        return qattn_fail(QATTN_ERR_NOMEM, "word timestamps: out of memory");
    }
    for (int32_t i = 0; i < s->n_pending; i++) { /* each segment's text tokens, in order */
        seg_text[i] = 0;
        for (int32_t k = 0; k < s->pending[i].n; k++)
            if (s->tokens[s->pending[i].from + k] < w->eot)
                text[n_text++] = s->tokens[s->pending[i].from + k], seg_text[i]++;
    }
    text[n_text] = w->eot;
    qattn_status st = split_words(s, text, n_text + 1);
    const int32_t n_aligned = s->n_words - 1, frames = (int32_t)(size / 2); /* <|endoftext|> last */
    int32_t *jumps = malloc(((size_t)n_text + 1) * sizeof *jumps), n_jumps = 0;
    float *probs = malloc(((size_t)n_text + 1) * sizeof *probs);
    if (st == QATTN_OK && (!jumps || !probs))
        st = qattn_fail(QATTN_ERR_NOMEM, "word timestamps: out of memory");
    const int aligned = st == QATTN_OK && n_aligned >= 1 && frames > 0;
    if (aligned)
        st = align_window(s, search, window, text, n_text, frames, jumps, &n_jumps, probs);
    double median = 0, max = 0;
    if (aligned && st == QATTN_OK) { /* each word: its first token's frame to the next word's */
        for (int32_t i = 0, b = 0; i < n_aligned; i++) {
            qattn_timed_word *x = &s->words[i];
            const int32_t e = b + x->n_tokens;
            const int32_t jb = b < n_jumps ? b : n_jumps - 1, je = e < n_jumps ? e : n_jumps - 1;
            x->start = jumps[jb] / TOKENS_PER_SECOND, x->end = jumps[je] / TOKENS_PER_SECOND;
            double p = 0;
            for (int32_t t = b; t < e; t++)
                p += probs[t];
            x->probability = (float)(p / x->n_tokens);
            b = e;
        }
        int any = 0;
        median = median_duration(s->words, n_aligned, &any);
        median = median < 0.7 ? median : 0.7, max = median * 2;
        for (int32_t i = 1; any && i < n_aligned; i++) { /* long words at sentence ends */
            qattn_timed_word *x = &s->words[i], *prev = &s->words[i - 1];
            if (x->end - x->start <= max)
                continue;
            if (is_in(SENTENCE_END, s->word_text + x->text, x->len))
                x->end = x->start + max;
            else if (is_in(SENTENCE_END, s->word_text + prev->text, prev->len))
                x->start = x->end - max;
        }
        st = merge_punctuations(s, s->words, n_aligned,
                                s->p.prepend_punctuations ? s->p.prepend_punctuations : PREPEND_PUNCTUATIONS,
                                s->p.append_punctuations ? s->p.append_punctuations : APPEND_PUNCTUATIONS);
    }
    s->word_median = median, s->word_max = max;
    for (int32_t i = 0, k = 0; aligned && st == QATTN_OK && i < s->n_pending; i++) {
        qattn_window_segment *seg = &s->pending[i];
        seg->first_word = s->n_words;
        for (int32_t saved = 0; st == QATTN_OK && k < n_aligned && saved < seg_text[i]; k++) {
            const qattn_timed_word x = s->words[k];
            saved += x.n_tokens;
            if (x.len == 0)
                continue; /* emptied by the punctuation merge */
            const qattn_timed_word out = {x.text, x.len, x.n_tokens, round2(offset + x.start),
                                          round2(offset + x.end), x.probability};
            if ((st = add_word(s, &out)) == QATTN_OK)
                seg->n_words++;
        }
    }
    free(text), free(seg_text), free(jumps), free(probs);
    return st;
}

void qattn_session_fit_words(struct qattn_session *s)
{
    double last_speech = s->last_speech; /* add_word_timestamps's own copy */
    for (int32_t i = 0; i < s->n_pending; i++)
        fit_segment(&s->pending[i], s->words + s->pending[i].first_word, s->word_median,
                    s->word_max, &last_speech);
}

int qattn_session_words_next(const struct qattn_session *s, double offset, size_t seek,
                             size_t *frame)
{
    double end;
    if (!qattn_session_words_end(s, &end) || !(end > offset) ||
        !(rint(end * FRAMES_PER_SECOND) > (double)seek))
        return 0;
    *frame = (size_t)rint(end * FRAMES_PER_SECOND); /* Python's round(): half to even */
    return 1;
}

int qattn_session_words_end(const struct qattn_session *s, double *end)
{
    if (s->n_pending == 0)
        return 0;
    *end = s->pending[s->n_pending - 1].end;
    for (int32_t i = s->n_pending - 1; i >= 0; i--)
        if (s->pending[i].n_words > 0) {
            *end = s->words[s->pending[i].first_word + s->pending[i].n_words - 1].end;
            break;
        }
    return 1;
}
