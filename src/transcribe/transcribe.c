/*
 * Transcription of audio of any length, as faster-whisper does it (transcribe.py
 * generate_segments, generate_with_fallback, _split_segments_by_timestamps, get_prompt;
 * ../shared/WHISPER.md C2, C6-C8):
 *
 *   log-mel of the audio + 30 s of silence; seek = 0
 *   while seek < the audio's frames:
 *     window = frames [seek, seek + 3000), zero past the audio; encode it
 *     prompt = [<|startofprev|> + the last 223 tokens of the text so far]
 *              + [<|startoftranscript|>, language, task] (English-only: the first alone)
 *              + [<|notimestamps|> without timestamps]
 *     decode at temperatures 0, 0.2, ... until the text's zlib compression ratio is <= 2.4
 *       and its average log-probability >= -1 (or the window is silence)
 *     a window whose <|nospeech|> probability is > 0.6 with a low log-probability is skipped;
 *     otherwise it is cut into segments at each pair of timestamps, and seek moves to the
 *     window's end or, when its last segment is unfinished, to the last timestamp
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "decode/search.h"
#include "transcribe/transcript.h"
#include "text/vocabulary.h"
#include "transcribe/whisper.h"

#define TIME_PER_FRAME 0.01 /* hop 160 at 16 kHz */
#define TIME_PRECISION 0.02 /* a timestamp token's step */
#define MAX_TEMPERATURES 64

qattn_transcribe_params qattn_transcribe_default_params(void)
{
    qattn_transcribe_params p;
    memset(&p, 0, sizeof p);
    p.task = QATTN_TASK_TRANSCRIBE;
    p.beam_size = 5, p.best_of = 5, p.patience = 1, p.length_penalty = 1;
    p.temperature = 0, p.temperature_increment = 0.2f;
    p.compression_ratio_threshold = 2.4f, p.log_prob_threshold = -1, p.no_speech_threshold = 0.6f;
    p.condition_on_previous_text = 1, p.prompt_reset_on_temperature = 0.5f;
    p.suppress_blank = 1, p.max_initial_timestamp = 1;
    return p;
}

/* What one run over the audio holds. */
typedef struct run {
    const struct qattn_whisper *w;
    qattn_transcribe_params p;
    float temperatures[MAX_TEMPERATURES];
    int32_t n_temperatures;
    float *mel, *window, *features;
    size_t mel_stride, content_frames;
    qattn_search *search;
    int32_t max_seqs;
    int32_t *history, n_history, history_cap, reset_since;
    int32_t *prompt, n_prompt, sot_index, n_forced; /* the last n_forced: the prefix */
    int32_t *prefix, n_prefix;     /* the prefix option's tokens (first window) */
    int32_t *hotwords, n_hotwords; /* the hotwords option's tokens */
    int32_t *tokens;          /* a search's result */
    char *text;               /* decoded text scratch */
    size_t text_cap;
    qattn_logit_rules rules;
    int32_t language, task;
    struct qattn_transcript *out;
} run;

/* Text of tokens (timestamps and specials dropped) into r->text, grown as needed. */
static qattn_status decode_text(run *r, const int32_t *tokens, int32_t n)
{
    size_t len = 0;
    qattn_status st = qattn_vocabulary_decode(r->w->vocabulary, tokens, n, r->text, r->text_cap, &len);
    if (st != QATTN_OK || len < r->text_cap)
        return st;
    char *grown = realloc(r->text, len + 1);
    if (!grown)
        return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
    r->text = grown, r->text_cap = len + 1;
    return qattn_vocabulary_decode(r->w->vocabulary, tokens, n, r->text, r->text_cap, &len);
}

/* Python's str.isspace() for one code point (what faster-whisper's strip() removes). */
static int is_space(uint32_t c)
{
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* The code point of the UTF-8 sequence of len bytes at s (0xFFFD if it is not one). */
static uint32_t code_point(const unsigned char *s, size_t len)
{
    if (len == 1)
        return s[0] < 0x80 ? s[0] : 0xFFFD;
    if ((s[0] & 0xC0) != 0xC0)
        return 0xFFFD;
    uint32_t c = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0xFFFD;
        c = c << 6 | (s[i] & 0x3F);
    }
    return c;
}

/* [*a, *b) of text without the whitespace around it (str.strip()). */
static void strip_span(const char *text, size_t *a, size_t *b)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0, j = strlen(text);
    while (i < j) {
        size_t len = s[i] < 0x80 ? 1 : s[i] >= 0xF0 ? 4 : s[i] >= 0xE0 ? 3 : 2;
        if (len > j - i || !is_space(code_point(s + i, len)))
            break;
        i += len;
    }
    while (j > i) {
        size_t k = j - 1;
        while (k > i && (s[k] & 0xC0) == 0x80 && j - k < 4)
            k--;
        if (!is_space(code_point(s + k, j - k)))
            break;
        j = k;
    }
    *a = i, *b = j;
}

/* len(utf8) / len(zlib.compress(utf8)) of the stripped text (openai whisper/utils.py, default
 * level, header and checksum counted); 0 for empty text. */
static double compression_ratio(const char *text)
{
    size_t a, b;
    strip_span(text, &a, &b);
    if (a == b)
        return 0; /* zlib.compress(b"") is 8 bytes: the ratio is 0 there too */
    uLongf size = compressBound((uLong)(b - a));
    Bytef *buf = malloc(size);
    if (!buf || compress2(buf, &size, (const Bytef *)text + a, (uLong)(b - a), Z_DEFAULT_COMPRESSION) != Z_OK) {
        free(buf);
        return 0;
    }
    free(buf);
    return (double)(b - a) / (double)size;
}

static int blank(const char *text)
{
    size_t a, b;
    strip_span(text, &a, &b);
    return a == b;
}

/* Prompt of the window (get_prompt): [<|startofprev|>, hotwords, the previous text since the
 * last reset (at most n_text_ctx / 2 - 1 tokens)], the start sequence, <|notimestamps|> without
 * timestamps, then on the first window the forced prefix (after <|0.00|> with timestamps). */
static void build_prompt(run *r, size_t seek)
{
    const struct qattn_whisper *w = r->w;
    const int prefixed = r->n_prefix > 0 && seek == 0, hot = r->n_hotwords > 0 && !prefixed;
    const int32_t ctx = w->dec.n_text_ctx, prev = r->n_history - r->reset_since;
    /* faster-whisper takes up to ctx / 2 - 1 of each; together they could pass the context
     * (where CTranslate2 fails), so the previous text gives way to keep 8 positions free */
    int32_t take = prev < ctx / 2 - 1 ? prev : ctx / 2 - 1;
    if (take > ctx - 8 - 1 - (hot ? r->n_hotwords : 0))
        take = ctx - 8 - 1 - (hot ? r->n_hotwords : 0);
    int32_t n = 0;
    if (take > 0 || hot) {
        r->prompt[n++] = w->sot_prev;
        if (hot)
            memcpy(r->prompt + n, r->hotwords, (size_t)r->n_hotwords * sizeof(int32_t));
        n += hot ? r->n_hotwords : 0;
        if (take > 0)
            memcpy(r->prompt + n, r->history + r->n_history - take, (size_t)take * sizeof(int32_t));
        n += take > 0 ? take : 0;
    }
    r->sot_index = n;
    r->prompt[n++] = w->sot;
    if (w->multilingual) {
        r->prompt[n++] = r->language;
        r->prompt[n++] = r->task;
    }
    if (r->p.without_timestamps)
        r->prompt[n++] = w->no_timestamps;
    r->n_forced = 0;
    if (prefixed) {
        if (!r->p.without_timestamps)
            r->prompt[n + r->n_forced++] = w->ts_begin;
        memcpy(r->prompt + n + r->n_forced, r->prefix, (size_t)r->n_prefix * sizeof(int32_t));
        r->n_forced += r->n_prefix;
    }
    r->n_prompt = n + r->n_forced;
}

typedef struct decoded {
    int32_t n_tokens;
    double avg_logprob, compression_ratio;
    float temperature, no_speech_prob;
} decoded;

/* The window's tokens with temperature fallback (faster-whisper generate_with_fallback):
 * r->tokens holds the chosen result. */
static qattn_status decode_with_fallback(run *r, uint64_t window_seed, decoded *best)
{
    const qattn_transcribe_params *p = &r->p;
    /* CTranslate2 decodes at most min(L / 2, L - (start - 1)) tokens, prefix included, where
     * start is the prompt without the prefix and L is the context, or with max_new_tokens the
     * whole prompt + max_new_tokens (faster-whisper fails where that passes the context; it is
     * capped at the context here) */
    const int32_t ctx = r->w->dec.n_text_ctx, start = r->n_prompt - r->n_forced;
    int32_t limit = ctx;
    if (p->max_new_tokens > 0 && r->n_prompt + p->max_new_tokens < ctx)
        limit = r->n_prompt + p->max_new_tokens;
    const int32_t max_new = limit / 2 < limit - (start - 1) ? limit / 2 : limit - (start - 1);
    int32_t *candidate = r->tokens + ctx; /* second half: the current try */
    int have = 0, have_below = 0;
    decoded d = {0};
    for (int32_t i = 0; i < r->n_temperatures; i++) {
        const float t = r->temperatures[i];
        qattn_search_params sp = {t > 0 ? 1 : p->beam_size, p->best_of, p->patience,
                                  p->length_penalty, t, max_new, window_seed + (uint64_t)i,
                                  r->n_forced};
        qattn_search_result res = {candidate, 0, 0, 0, 0};
        qattn_status st = qattn_search_run(r->search, r->prompt, r->n_prompt, r->sot_index,
                                           r->w->no_speech, &r->rules, &sp, &res);
        if (st != QATTN_OK)
            return st;
        if ((st = decode_text(r, res.tokens, res.n_tokens)) != QATTN_OK)
            return st;
        d.n_tokens = res.n_tokens, d.temperature = t, d.no_speech_prob = res.no_speech_prob;
        d.avg_logprob = res.sum_logprob / (res.n_tokens + 1);
        d.compression_ratio = compression_ratio(r->text);
        int fallback = 0, below = 1;
        if (p->compression_ratio_threshold > 0 && d.compression_ratio > p->compression_ratio_threshold)
            fallback = 1, below = 0;
        if (!isnan(p->log_prob_threshold) && d.avg_logprob < p->log_prob_threshold)
            fallback = 1;
        if (!isnan(p->no_speech_threshold) && d.no_speech_prob > p->no_speech_threshold &&
            !isnan(p->log_prob_threshold) && d.avg_logprob < p->log_prob_threshold)
            fallback = 0; /* silence */
        /* keep the best so far: faster-whisper picks, when every temperature fails, the
         * highest average log-probability among the results under the compression threshold
         * (or among all if none is) */
        const int better = !have || (below && !have_below) ||
                           (below == have_below && d.avg_logprob > best->avg_logprob);
        if (!fallback || better) {
            *best = d;
            memcpy(r->tokens, candidate, (size_t)d.n_tokens * sizeof(int32_t));
            have = 1, have_below |= below;
        }
        if (!fallback)
            return QATTN_OK;
    }
    best->temperature = r->temperatures[r->n_temperatures - 1]; /* for the prompt reset */
    return QATTN_OK;
}

/* One segment of the window: tokens[from, to) from `start` to `end` seconds. */
static qattn_status emit(run *r, const int32_t *tokens, int32_t n, double start, double end,
                         int32_t seek, const decoded *d, int *stop)
{
    qattn_status st = decode_text(r, tokens, n);
    if (st != QATTN_OK)
        return st;
    if (start == end || blank(r->text)) /* faster-whisper drops them */
        return QATTN_OK;
    qattn_segment seg = {0, seek, start, end, r->text, tokens, n, d->temperature,
                         (float)d->avg_logprob, (float)d->compression_ratio, d->no_speech_prob};
    if ((st = qattn_transcript_append(r->out, &seg)) != QATTN_OK)
        return st;
    if (r->n_history + n > r->history_cap) { /* the prompt history */
        const int32_t cap = 2 * (r->n_history + n);
        int32_t *grown = realloc(r->history, (size_t)cap * sizeof *grown);
        if (!grown)
            return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
        r->history = grown, r->history_cap = cap;
    }
    memcpy(r->history + r->n_history, tokens, (size_t)n * sizeof *tokens);
    r->n_history += n;
    if (r->p.on_segment)
        *stop = r->p.on_segment(&r->out->segments[r->out->info.n_segments - 1], r->p.on_segment_user);
    return QATTN_OK;
}

/* Cuts the window's tokens into segments at consecutive timestamps
 * (_split_segments_by_timestamps) and returns where the next window starts. */
static qattn_status split(run *r, const decoded *d, size_t seek, size_t size, size_t *next,
                          int *stop)
{
    const int32_t *tok = r->tokens, n = d->n_tokens, tb = r->w->ts_begin;
    const double offset = (double)seek * TIME_PER_FRAME;
    const int single_ending = n >= 2 && tok[n - 2] < tb && tok[n - 1] >= tb;
    int32_t last = 0, n_cuts = 0;
    qattn_status st = QATTN_OK;
    for (int32_t i = 1; i <= n && st == QATTN_OK && !*stop; i++) {
        const int cut = i < n ? tok[i] >= tb && tok[i - 1] >= tb : single_ending && n_cuts > 0;
        if (!cut)
            continue;
        st = emit(r, tok + last, i - last, offset + (tok[last] - tb) * TIME_PRECISION,
                  offset + (tok[i - 1] - tb) * TIME_PRECISION, (int32_t)seek, d, stop);
        last = i, n_cuts++;
    }
    if (st != QATTN_OK)
        return st;
    if (n_cuts > 0) {
        /* an unfinished last segment is decoded again from its start; the timestamp rules
         * make that start later than the window's, the guard keeps the loop finite anyway */
        *next = single_ending ? seek + size : seek + (size_t)(tok[last - 1] - tb) * 2;
        *next = *next > seek ? *next : seek + size;
        return QATTN_OK;
    }
    double duration = (double)size * TIME_PER_FRAME;
    for (int32_t i = n - 1; i >= 0; i--) /* the last timestamp, if not <|0.00|> */
        if (tok[i] >= tb) {
            if (tok[i] != tb)
                duration = (tok[i] - tb) * TIME_PRECISION;
            break;
        }
    *next = seek + size;
    return *stop ? QATTN_OK : emit(r, tok, n, offset, offset + duration, (int32_t)seek, d, stop);
}

static qattn_status check_params(const struct qattn_whisper *w, const qattn_transcribe_params *p)
{
    if (p->task != QATTN_TASK_TRANSCRIBE && p->task != QATTN_TASK_TRANSLATE)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: unknown task %d", (int)p->task);
    if (p->task == QATTN_TASK_TRANSLATE && !w->multilingual)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: translation needs a multilingual model; "
                          "this one is English-only");
    if (p->beam_size < 1 || p->beam_size > 32 || p->best_of < 1 || p->best_of > 32)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: beam_size %d and best_of %d must be in "
                          "[1, 32]", p->beam_size, p->best_of);
    if (!(p->patience > 0 && p->patience <= 32) || !isfinite(p->length_penalty))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: patience %g must be in (0, 32], "
                          "length_penalty %g finite", p->patience, p->length_penalty);
    if (!(p->temperature >= 0 && p->temperature <= 1) ||
        !(p->temperature_increment >= 0 && p->temperature_increment <= 1))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: temperature %g and its increment %g must "
                          "be in [0, 1]", p->temperature, p->temperature_increment);
    if (p->temperature_increment > 0 && p->temperature_increment < 1.0f / (MAX_TEMPERATURES - 1))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: temperature increment %g is too fine "
                          "(at most %d temperatures)", p->temperature_increment, MAX_TEMPERATURES);
    if (isinf(p->log_prob_threshold) || isinf(p->no_speech_threshold) ||
        isnan(p->compression_ratio_threshold) || isnan(p->prompt_reset_on_temperature))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: a threshold is infinite or NaN");
    if (!(p->max_initial_timestamp >= 0 && p->max_initial_timestamp <= 30))
        return qattn_fail(QATTN_ERR_ARG, "transcribe: max_initial_timestamp %g must be in [0, 30]",
                          p->max_initial_timestamp);
    if (p->max_new_tokens < 0 || p->max_new_tokens > w->dec.n_text_ctx / 2)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: max_new_tokens %d must be in [0, %d]",
                          p->max_new_tokens, w->dec.n_text_ctx / 2);
    return QATTN_OK;
}

/* Encoder output of the window starting at frame `seek` into r->features. */
static qattn_status encode_window(run *r, size_t seek, size_t size)
{
    const struct qattn_whisper *w = r->w;
    qattn_status st = qattn_encoder_windows(w->encoder, r->mel, w->enc.n_mels, seek + size,
                                            r->mel_stride, seek, 1, r->window);
    if (st == QATTN_OK)
        st = qattn_encoder_run(w->encoder, r->window, 1, r->features);
    if (st == QATTN_OK)
        st = qattn_search_window(r->search, r->features, w->enc.n_ctx);
    return st;
}

/* The language of the first window: the likeliest language token after <|startoftranscript|>,
 * softmax over the language tokens alone (CTranslate2 detect_language). */
static qattn_status detect_language(run *r)
{
    const struct qattn_whisper *w = r->w;
    const float *logits;
    qattn_status st = qattn_search_prompt_logits(r->search, &w->sot, 1, &logits);
    if (st != QATTN_OK)
        return st;
    const float *x = logits + w->lang_first;
    int32_t best = 0;
    for (int32_t i = 1; i < w->n_langs; i++)
        best = x[i] > x[best] ? i : best;
    double sum = 0;
    for (int32_t i = 0; i < w->n_langs; i++)
        sum += exp((double)x[i] - x[best]);
    r->language = w->lang_first + best;
    r->out->info.language_probability = (float)(1 / sum);
    const char *name = qattn_vocabulary_name(w->vocabulary, r->language);
    const size_t len = strlen(name);
    if (len > 4 && len - 4 < sizeof r->out->info.language) /* "<|de|>" */
        memcpy(r->out->info.language, name + 2, len - 4);
    return QATTN_OK;
}

static qattn_status set_language(run *r)
{
    const struct qattn_whisper *w = r->w;
    const char *code = r->p.language;
    r->out->info.language_probability = 1;
    if (!w->multilingual) {
        if (code && strcmp(code, "auto") && strcmp(code, "en"))
            return qattn_fail(QATTN_ERR_ARG, "transcribe: language \"%s\" asked of an "
                              "English-only model", code);
        strcpy(r->out->info.language, "en");
        return QATTN_OK;
    }
    if (!code || !strcmp(code, "auto"))
        return QATTN_OK; /* detected on the first window */
    r->language = qattn_whisper_language_token(w, code);
    if (r->language < 0)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: unknown language \"%s\" (a code such as "
                          "en, de, fr, zh, or auto)", code);
    snprintf(r->out->info.language, sizeof r->out->info.language, "%s", code);
    return QATTN_OK;
}

static void run_free(run *r)
{
    free(r->mel), free(r->window), free(r->features), free(r->history), free(r->prompt);
    free(r->tokens), free(r->text), free(r->prefix), free(r->hotwords);
    qattn_search_free(r->search);
}

/* A text option as faster-whisper encodes it: " " + text.strip() through tokenizer.json, into
 * a new array of at most `cap` tokens (the first ones; cap 0: all). */
static qattn_status encode_option(run *r, const char *name, const char *text, int32_t cap,
                                  int32_t **ids, int32_t *n)
{
    if (!r->w->tokenizer)
        return qattn_fail(QATTN_ERR_ARG, "transcribe: %s text needs the model's tokenizer.json, "
                          "which its directory lacks", name);
    size_t a, b;
    strip_span(text, &a, &b);
    char *spaced = malloc(b - a + 2);
    if (!spaced)
        return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
    spaced[0] = ' ';
    memcpy(spaced + 1, text + a, b - a);
    spaced[b - a + 1] = '\0';
    /* at most one id per byte: every byte is one symbol before merging, an added token one id */
    const size_t bytes = b - a + 1;
    qattn_status st = QATTN_OK;
    if (bytes > INT32_MAX || !(*ids = malloc(bytes * sizeof **ids)))
        st = qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory for %zu bytes of %s", bytes, name);
    if (st == QATTN_OK)
        st = qattn_tokenizer_encode(r->w->tokenizer, spaced, *ids, (int32_t)bytes, n);
    free(spaced);
    if (st != QATTN_OK) {
        char why[256]; /* qattn_fail writes the buffer qattn_last_error reads */
        snprintf(why, sizeof why, "%s", qattn_last_error());
        return qattn_fail(st, "transcribe: %s: %s", name, why);
    }
    if (cap > 0 && *n > cap)
        *n = cap;
    return QATTN_OK;
}

/* initial_prompt (the history's start), prefix and hotwords (get_prompt keeps at most
 * n_text_ctx / 2 - 1 tokens of each); "" is none for the last two, as Python's truth test. */
static qattn_status text_options(run *r)
{
    const qattn_transcribe_params *p = &r->p;
    const int32_t half = r->w->dec.n_text_ctx / 2 - 1;
    qattn_status st = QATTN_OK;
    if (p->initial_prompt) {
        st = encode_option(r, "initial_prompt", p->initial_prompt, 0, &r->history, &r->n_history);
        r->history_cap = r->n_history;
    }
    if (st == QATTN_OK && p->prefix && p->prefix[0])
        st = encode_option(r, "prefix", p->prefix, half, &r->prefix, &r->n_prefix);
    if (st == QATTN_OK && p->hotwords && p->hotwords[0])
        st = encode_option(r, "hotwords", p->hotwords, half, &r->hotwords, &r->n_hotwords);
    return st;
}

static qattn_status setup(run *r, const float *samples, size_t n_samples)
{
    const struct qattn_whisper *w = r->w;
    const qattn_transcribe_params *p = &r->p;
    r->n_temperatures = 0;
    for (double t = p->temperature; r->n_temperatures < MAX_TEMPERATURES;
         t = p->temperature + r->n_temperatures * (double)p->temperature_increment) {
        if (t > 1.0 + 1e-6 || (r->n_temperatures > 0 && p->temperature_increment == 0))
            break;
        r->temperatures[r->n_temperatures++] = (float)t;
    }
    r->max_seqs = p->beam_size > p->best_of ? p->beam_size : p->best_of;
    const int32_t ctx = w->dec.n_text_ctx, n_mels = w->enc.n_mels;
    const size_t window = 2 * (size_t)w->enc.n_ctx;
    r->content_frames = qattn_log_mel_frames(n_samples);
    r->mel_stride = qattn_log_mel_padded_frames(n_samples);
    r->mel = malloc((size_t)n_mels * r->mel_stride * sizeof(float));
    r->window = malloc((size_t)n_mels * window * sizeof(float));
    r->features = malloc((size_t)w->enc.n_ctx * w->enc.n_state * sizeof(float));
    r->prompt = malloc(2 * (size_t)ctx * sizeof(int32_t)); /* the prefix after ctx - 1 at most */
    r->tokens = malloc(2 * (size_t)ctx * sizeof(int32_t));
    r->text_cap = 1024, r->text = malloc(r->text_cap);
    if (!r->mel || !r->window || !r->features || !r->prompt || !r->tokens || !r->text)
        return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory for %zu samples", n_samples);
    qattn_status st = text_options(r);
    if (st == QATTN_OK)
        st = qattn_log_mel_padded(samples, n_samples, n_mels, w->threads, r->mel);
    if (st == QATTN_OK)
        st = qattn_search_create(w->decoder, r->max_seqs, ctx / 2, &r->search);
    r->task = p->task == QATTN_TASK_TRANSLATE ? w->translate : w->transcribe;
    r->rules = (qattn_logit_rules){w->dec.n_vocab, w->suppress, w->n_suppress,
                                   p->suppress_blank ? w->suppress_begin : NULL,
                                   p->suppress_blank ? w->n_suppress_begin : 0,
                                   !p->without_timestamps, w->eot, w->no_timestamps, w->ts_begin,
                                   w->ts_end, 0};
    r->rules.max_initial_ts = w->ts_begin + (int32_t)lround(p->max_initial_timestamp / TIME_PRECISION);
    if (r->rules.max_initial_ts > w->ts_end)
        r->rules.max_initial_ts = w->ts_end;
    return st;
}

qattn_status qattn_whisper_transcribe(const qattn_whisper *w, const float *samples,
                                      size_t n_samples, const qattn_transcribe_params *params,
                                      qattn_transcript **out)
{
    qattn_clear_error();
    if (!w || !out || (n_samples > 0 && !samples))
        return qattn_fail(QATTN_ERR_NULL, "transcribe: %s is NULL",
                          !w ? "whisper" : !out ? "transcript" : "samples");
    *out = NULL;
    run r;
    memset(&r, 0, sizeof r);
    r.w = w;
    r.p = params ? *params : qattn_transcribe_default_params();
    qattn_status st = check_params(w, &r.p);
    if (st != QATTN_OK)
        return st;
    if (!(r.out = calloc(1, sizeof *r.out)))
        return qattn_fail(QATTN_ERR_NOMEM, "transcribe: out of memory");
    r.out->info.duration = (double)n_samples / QATTN_SAMPLE_RATE;
    st = set_language(&r);
    if (st == QATTN_OK)
        st = setup(&r, samples, n_samples);
    const size_t window = 2 * (size_t)w->enc.n_ctx, frames = r.content_frames;
    size_t seek = 0;
    if (st == QATTN_OK && w->multilingual && r.language == 0) { /* 0: not given */
        /* faster-whisper detects on one frame more than it decodes (its features end with
         * the frame of the last hop), so the first window is encoded twice: the detected
         * language is then faster-whisper's also when the choice is close (silence) */
        const size_t size = frames + 1 < window ? frames + 1 : window;
        if ((st = encode_window(&r, 0, size)) == QATTN_OK)
            st = detect_language(&r);
    }
    int stop = 0;
    while (st == QATTN_OK && seek < frames && !stop) {
        const size_t size = frames - seek < window ? frames - seek : window;
        if ((st = encode_window(&r, seek, size)) != QATTN_OK)
            break;
        build_prompt(&r, seek);
        decoded d = {0};
        if ((st = decode_with_fallback(&r, r.p.seed ^ ((uint64_t)seek << 20), &d)) != QATTN_OK)
            break;
        if (!isnan(r.p.no_speech_threshold) && d.no_speech_prob > r.p.no_speech_threshold &&
            !(!isnan(r.p.log_prob_threshold) && d.avg_logprob > r.p.log_prob_threshold)) {
            seek += size; /* silence */
        } else if ((st = split(&r, &d, seek, size, &seek, &stop)) != QATTN_OK) {
            break;
        }
        if (!r.p.condition_on_previous_text || d.temperature > r.p.prompt_reset_on_temperature)
            r.reset_since = r.n_history;
        if (r.p.on_progress)
            r.p.on_progress((double)(seek < frames ? seek : frames) * TIME_PER_FRAME,
                            (double)frames * TIME_PER_FRAME, r.p.on_progress_user);
    }
    run_free(&r);
    if (st != QATTN_OK) {
        qattn_transcript_free(r.out);
        return st;
    }
    *out = r.out;
    return QATTN_OK;
}
