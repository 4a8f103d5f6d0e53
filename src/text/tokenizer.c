/*
 * Text -> token ids: the byte-level BPE that Whisper's tokenizer.json describes, as the
 * Hugging Face `tokenizers` library runs it for faster-whisper's Tokenizer.encode
 * (AddedVocabulary, pre_tokenizers::ByteLevel, models::BPE; docs/whisper-facts.md, "Vocabulary, tokenizer, ids to text"):
 *  1. the added tokens ("<|endoftext|>", "<|en|>", "<|0.00|>", ...) are cut out of the text
 *     where they occur verbatim (leftmost, then longest) and become their own ids;
 *  2. the rest is split into pieces by GPT-2's pattern (Radford et al. 2019, encoder.py)
 *        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *     matched by PCRE2 with Unicode properties;
 *  3. each piece's bytes become GPT-2's byte characters (bytes_to_unicode), one symbol each,
 *     and the adjacent pair with the lowest merge rank (leftmost on ties) is merged until no
 *     adjacent pair has one (Sennrich et al. 2016). A heap of candidate pairs keeps that
 *     O(n log n) in the piece's length, so no input can make it quadratic.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "formats/tensors.h"
#include "text/tokenizer.h"

enum {
    MAX_TOKENIZER_FILE = 64 << 20,
    MAX_TOKENS = 1 << 22,        /* vocabulary entries and merges, each */
    MAX_TEXT = 16 << 20,         /* bytes of text one call encodes */
};

static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

typedef struct str_slot { /* vocabulary: token string -> id (open addressing) */
    char *s;
    size_t len;
    int32_t id;
} str_slot;

typedef struct pair_slot { /* merges: (left id, right id) -> rank and merged id */
    uint64_t key;          /* left << 32 | right; 0 never occurs as (0, 0) is no merge */
    int32_t rank, merged;
} pair_slot;

typedef struct added_token {
    char *text;
    size_t len;
    int32_t id;
} added_token;

struct qattn_tokenizer {
    str_slot *vocab;
    size_t vocab_mask;
    pair_slot *merges;
    size_t merges_mask;
    int32_t byte_id[256];  /* the id of each byte's one-character token */
    added_token *added;
    int32_t n_added;
    str_slot *added_table; /* added token text -> its index in `added` */
    size_t added_mask;
    size_t added_lengths[64]; /* the distinct lengths of added tokens, longest first */
    int n_added_lengths;
    uint8_t added_first[256]; /* whether an added token starts with this byte */
    pcre2_code *pattern;
};

static uint64_t mix64(uint64_t z) /* splitmix64's finalizer */
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t hash_bytes(const char *s, size_t n) /* FNV-1a, mixed */
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return mix64(h);
}

static size_t table_size(size_t n) /* a power of two at least twice n */
{
    size_t size = 16;
    while (size < 2 * n)
        size *= 2;
    return size;
}

static str_slot *find_slot(str_slot *table, size_t mask, const char *s, size_t n)
{
    for (size_t i = hash_bytes(s, n) & mask;; i = (i + 1) & mask) {
        str_slot *slot = &table[i];
        if (!slot->s || (slot->len == n && !memcmp(slot->s, s, n)))
            return slot;
    }
}

static int32_t vocab_id(const qattn_tokenizer *t, const char *s, size_t n)
{
    const str_slot *slot = find_slot(t->vocab, t->vocab_mask, s, n);
    return slot->s ? slot->id : -1;
}

static pair_slot *merge_slot(const qattn_tokenizer *t, int32_t left, int32_t right)
{
    const uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (size_t i = mix64(key) & t->merges_mask;; i = (i + 1) & t->merges_mask) {
        pair_slot *slot = &t->merges[i];
        if (slot->rank < 0 || slot->key == key)
            return slot;
    }
}

void qattn_tokenizer_free(qattn_tokenizer *t)
{
    if (!t)
        return;
    for (size_t i = 0; t->vocab && i <= t->vocab_mask; i++)
        free(t->vocab[i].s);
    for (int32_t i = 0; i < t->n_added; i++)
        free(t->added[i].text);
    free(t->vocab), free(t->merges), free(t->added), free(t->added_table);
    pcre2_code_free(t->pattern);
    free(t);
}

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 for
 * U+0100.. in byte order; written as UTF-8 into out (2 bytes at most), returns its length. */
static int byte_char(int b, char *out)
{
    int direct = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    uint32_t cp = (uint32_t)b;
    if (!direct) {
        cp = 0x100;
        for (int c = 0; c < b; c++)
            cp += !((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF));
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
}

static qattn_status add_vocab(qattn_tokenizer *t, const char *s, int32_t id, const char *path)
{
    const size_t n = strlen(s);
    str_slot *slot = find_slot(t->vocab, t->vocab_mask, s, n);
    if (slot->s)
        return slot->id == id ? QATTN_OK
                              : qattn_fail(QATTN_ERR_MODEL, "%s: token \"%.40s\" has two ids (%d, %d)",
                                           path, s, slot->id, id);
    if (!(slot->s = malloc(n + 1)))
        return qattn_fail(QATTN_ERR_NOMEM, "tokenizer: out of memory");
    memcpy(slot->s, s, n + 1);
    slot->len = n, slot->id = id;
    return QATTN_OK;
}

/* Registers added token *a (whose text is new) for matching and in the vocabulary. */
static qattn_status add_added(qattn_tokenizer *t, added_token *a, str_slot *slot, const char *path)
{
    int k = 0;
    while (k < t->n_added_lengths && t->added_lengths[k] > a->len)
        k++;
    if (k == t->n_added_lengths || t->added_lengths[k] != a->len) {
        if (t->n_added_lengths == (int)(sizeof t->added_lengths / sizeof t->added_lengths[0]))
            return qattn_fail(QATTN_ERR_MODEL, "%s: added tokens of more than 64 lengths", path);
        memmove(t->added_lengths + k + 1, t->added_lengths + k,
                (size_t)(t->n_added_lengths - k) * sizeof *t->added_lengths);
        t->added_lengths[k] = a->len;
        t->n_added_lengths++;
    }
    *slot = (str_slot){a->text, a->len, (int32_t)(a - t->added)}; /* a->text: freed with `added` */
    t->added_first[(uint8_t)a->text[0]] = 1;
    return add_vocab(t, a->text, a->id, path);
}

static int valid_id(const cJSON *v)
{
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < (double)MAX_TOKENS &&
           v->valuedouble == (double)(int32_t)v->valuedouble;
}

/* model.vocab {token: id} and the added tokens [{id, content}] into the vocabulary table. */
static qattn_status read_vocab(qattn_tokenizer *t, const cJSON *vocab, const cJSON *added,
                               const char *path)
{
    const int n_vocab = cJSON_GetArraySize(vocab), n_added = cJSON_GetArraySize(added);
    if (n_vocab < 1 || n_vocab > MAX_TOKENS || n_added > MAX_TOKENS)
        return qattn_fail(QATTN_ERR_MODEL, "%s: model.vocab holds %d tokens", path, n_vocab);
    t->vocab_mask = table_size((size_t)n_vocab + (size_t)n_added) - 1;
    t->added_mask = table_size((size_t)n_added) - 1;
    if (!(t->vocab = calloc(t->vocab_mask + 1, sizeof *t->vocab)) ||
        !(t->added = calloc((size_t)n_added + 1, sizeof *t->added)) ||
        !(t->added_table = calloc(t->added_mask + 1, sizeof *t->added_table)))
        return qattn_fail(QATTN_ERR_NOMEM, "tokenizer: out of memory");
    const cJSON *e;
    int count = 0;
    cJSON_ArrayForEach(e, vocab) {
        if (count++ >= n_vocab) /* never past the object's own count */
            break;
        if (!e->string || !valid_id(e))
            return qattn_fail(QATTN_ERR_MODEL, "%s: model.vocab maps a token to something other "
                              "than an id", path);
        qattn_status st = add_vocab(t, e->string, (int32_t)e->valuedouble, path);
        if (st != QATTN_OK)
            return st;
    }
    count = 0;
    cJSON_ArrayForEach(e, added) {
        if (count++ >= n_added)
            break;
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!valid_id(id) || !cJSON_IsString(content) || !content->valuestring[0])
            return qattn_fail(QATTN_ERR_MODEL, "%s: an added token lacks its id or content", path);
        added_token *a = &t->added[t->n_added++];
        a->len = strlen(content->valuestring), a->id = (int32_t)id->valuedouble;
        if (!(a->text = malloc(a->len + 1)))
            return qattn_fail(QATTN_ERR_NOMEM, "tokenizer: out of memory");
        memcpy(a->text, content->valuestring, a->len + 1);
        str_slot *slot = find_slot(t->added_table, t->added_mask, a->text, a->len);
        if (slot->s) /* the same text twice: the first is the one matched */
            continue;
        qattn_status st = add_added(t, a, slot, path);
        if (st != QATTN_OK)
            return st;
    }
    for (int b = 0; b < 256; b++) {
        char c[2];
        if ((t->byte_id[b] = vocab_id(t, c, (size_t)byte_char(b, c))) < 0)
            return qattn_fail(QATTN_ERR_MODEL, "%s: the vocabulary lacks byte 0x%02x's token (not "
                              "a byte-level BPE)", path, b);
    }
    return QATTN_OK;
}

/* model.merges: "left right" strings (older files) or [left, right] pairs, rank = position. */
static qattn_status read_merges(qattn_tokenizer *t, const cJSON *merges, const char *path)
{
    const int n = cJSON_GetArraySize(merges);
    if (n > MAX_TOKENS)
        return qattn_fail(QATTN_ERR_MODEL, "%s: %d merges", path, n);
    t->merges_mask = table_size((size_t)n) - 1;
    if (!(t->merges = malloc((t->merges_mask + 1) * sizeof *t->merges)))
        return qattn_fail(QATTN_ERR_NOMEM, "tokenizer: out of memory");
    for (size_t i = 0; i <= t->merges_mask; i++)
        t->merges[i].rank = -1, t->merges[i].key = 0;
    char joined[1024];
    int32_t rank = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, merges) {
        if (rank >= n)
            break;
        const char *left = NULL, *right = NULL;
        size_t left_len = 0;
        if (cJSON_IsString(e)) {
            const char *space = strchr(e->valuestring, ' ');
            if (space && !strchr(space + 1, ' '))
                left = e->valuestring, left_len = (size_t)(space - left), right = space + 1;
        } else if (cJSON_IsArray(e) && cJSON_GetArraySize(e) == 2 &&
                   cJSON_IsString(e->child) && cJSON_IsString(e->child->next)) {
            left = e->child->valuestring, right = e->child->next->valuestring;
            left_len = strlen(left);
        }
        const size_t right_len = right ? strlen(right) : 0;
        if (!left || !left_len || !right_len || left_len + right_len >= sizeof joined)
            return qattn_fail(QATTN_ERR_MODEL, "%s: merge %d is not a pair of tokens", path, rank);
        memcpy(joined, left, left_len), memcpy(joined + left_len, right, right_len);
        const int32_t a = vocab_id(t, left, left_len), b = vocab_id(t, right, right_len);
        const int32_t merged = vocab_id(t, joined, left_len + right_len);
        if (a < 0 || b < 0 || merged < 0)
            return qattn_fail(QATTN_ERR_MODEL, "%s: merge %d (\"%.*s\" \"%.*s\") names a token "
                              "that is not in the vocabulary", path, rank, (int)left_len, left,
                              (int)right_len, right);
        pair_slot *slot = merge_slot(t, a, b);
        if (slot->rank < 0) /* a repeated pair keeps its first (lowest) rank */
            *slot = (pair_slot){(uint64_t)(uint32_t)a << 32 | (uint32_t)b, rank, merged};
        rank++;
    }
    return QATTN_OK;
}

/* What we implement of the pipeline, and nothing else silently: no normalizer, a ByteLevel
 * pre-tokenizer with GPT-2's pattern and no prefix space (Whisper's), a plain BPE model. */
static qattn_status check_pipeline(const cJSON *root, const char *path)
{
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *pre_type = cJSON_GetObjectItemCaseSensitive(pre, "type");
    const cJSON *model_type = cJSON_GetObjectItemCaseSensitive(model, "type");
    const cJSON *use_regex = cJSON_GetObjectItemCaseSensitive(pre, "use_regex");
    const cJSON *prefix = cJSON_GetObjectItemCaseSensitive(pre, "add_prefix_space");
    const cJSON *suffix = cJSON_GetObjectItemCaseSensitive(model, "end_of_word_suffix");
    const cJSON *cont = cJSON_GetObjectItemCaseSensitive(model, "continuing_subword_prefix");
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (norm && !cJSON_IsNull(norm))
        return qattn_fail(QATTN_ERR_MODEL, "%s: a normalizer is not supported", path);
    if (!cJSON_IsString(pre_type) || strcmp(pre_type->valuestring, "ByteLevel") ||
        cJSON_IsFalse(use_regex) || cJSON_IsTrue(prefix))
        return qattn_fail(QATTN_ERR_MODEL, "%s: the pre-tokenizer is not ByteLevel with GPT-2's "
                          "pattern and without add_prefix_space", path);
    if (!cJSON_IsString(model_type) || strcmp(model_type->valuestring, "BPE") ||
        (cJSON_IsString(suffix) && suffix->valuestring[0]) ||
        (cJSON_IsString(cont) && cont->valuestring[0]) || (dropout && !cJSON_IsNull(dropout)))
        return qattn_fail(QATTN_ERR_MODEL, "%s: the model is not a plain BPE (no dropout, "
                          "suffix or subword prefix)", path);
    return QATTN_OK;
}

qattn_status qattn_tokenizer_parse(const char *text, const char *path, qattn_tokenizer **out)
{
    *out = NULL;
    qattn_tokenizer *t = calloc(1, sizeof *t);
    cJSON *root = cJSON_Parse(text);
    qattn_status st = QATTN_OK;
    if (!t)
        st = qattn_fail(QATTN_ERR_NOMEM, "tokenizer: out of memory");
    else if (!cJSON_IsObject(root))
        st = qattn_fail(QATTN_ERR_MODEL, "%s: not a JSON object", path);
    else
        st = check_pipeline(root, path);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    if (st == QATTN_OK && (!cJSON_IsObject(vocab) || !cJSON_IsArray(merges) ||
                           (added && !cJSON_IsArray(added))))
        st = qattn_fail(QATTN_ERR_MODEL, "%s: model.vocab, model.merges or added_tokens is "
                        "missing or of the wrong type", path);
    if (st == QATTN_OK)
        st = read_vocab(t, vocab, added, path);
    if (st == QATTN_OK)
        st = read_merges(t, merges, path);
    cJSON_Delete(root);
    if (st == QATTN_OK) {
        int code;
        PCRE2_SIZE where;
        t->pattern = pcre2_compile((PCRE2_SPTR)GPT2_PATTERN, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_UCP, &code, &where, NULL);
        if (!t->pattern)
            st = qattn_fail(QATTN_ERR_NOMEM, "tokenizer: PCRE2 could not compile the pattern "
                            "(error %d)", code);
    }
    if (st != QATTN_OK) {
        qattn_tokenizer_free(t);
        return st;
    }
    *out = t;
    return QATTN_OK;
}

qattn_status qattn_tokenizer_load(const char *model_dir, qattn_tokenizer **out)
{
    qattn_clear_error();
    if (!model_dir || !out)
        return qattn_fail(QATTN_ERR_NULL, "tokenizer_load: %s is NULL",
                          !model_dir ? "model_dir" : "tokenizer");
    *out = NULL;
    char path[4200];
    if (snprintf(path, sizeof path, "%s/tokenizer.json", model_dir) >= (int)sizeof path)
        return qattn_fail(QATTN_ERR_ARG, "tokenizer_load: the path is too long");
    qattn_status st;
    char *text = qattn_read_text_file(path, MAX_TOKENIZER_FILE, &st);
    if (!text)
        return st;
    st = qattn_tokenizer_parse(text, path, out);
    free(text);
    return st;
}

/* ---- encoding ------------------------------------------------------------------------- */

typedef struct out_ids {
    int32_t *ids;
    int32_t capacity, n;
} out_ids;

static qattn_status put(out_ids *o, int32_t id)
{
    if (o->n == INT32_MAX)
        return qattn_fail(QATTN_ERR_SIZE, "tokenizer: more than 2^31 tokens");
    if (o->n < o->capacity)
        o->ids[o->n] = id;
    o->n++;
    return QATTN_OK;
}

typedef struct candidate { /* a pair that may merge: symbols `left` and the one after it */
    int32_t rank, left, left_id, right_id, merged;
} candidate;

typedef struct bpe_work { /* one piece's symbols as a linked list, and the candidate heap */
    int32_t *id, *prev, *next;
    candidate *heap;
    int32_t n_heap;
} bpe_work;

static int before(const candidate *a, const candidate *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->left < b->left);
}

static void heap_push(bpe_work *w, candidate c)
{
    int32_t i = w->n_heap++;
    while (i > 0 && before(&c, &w->heap[(i - 1) / 2])) {
        w->heap[i] = w->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    w->heap[i] = c;
}

static candidate heap_pop(bpe_work *w)
{
    candidate top = w->heap[0], last = w->heap[--w->n_heap];
    int32_t i = 0;
    for (;;) {
        int32_t child = 2 * i + 1;
        if (child >= w->n_heap)
            break;
        if (child + 1 < w->n_heap && before(&w->heap[child + 1], &w->heap[child]))
            child++;
        if (!before(&w->heap[child], &last))
            break;
        w->heap[i] = w->heap[child];
        i = child;
    }
    w->heap[i] = last;
    return top;
}

static void consider(const qattn_tokenizer *t, bpe_work *w, int32_t left)
{
    const int32_t right = w->next[left];
    if (right < 0)
        return;
    const pair_slot *m = merge_slot(t, w->id[left], w->id[right]);
    if (m->rank >= 0)
        heap_push(w, (candidate){m->rank, left, w->id[left], w->id[right], m->merged});
}

/* One piece of text (already split by the pattern) -> BPE ids. */
static qattn_status encode_piece(const qattn_tokenizer *t, bpe_work *w, const uint8_t *s,
                                 int32_t n, out_ids *o)
{
    for (int32_t i = 0; i < n; i++)
        w->id[i] = t->byte_id[s[i]], w->prev[i] = i - 1, w->next[i] = i + 1 < n ? i + 1 : -1;
    w->n_heap = 0;
    for (int32_t i = 0; i + 1 < n; i++)
        consider(t, w, i);
    while (w->n_heap > 0) {
        const candidate c = heap_pop(w);
        const int32_t right = w->next[c.left];
        /* stale: the left symbol was merged away (id -1) or either side has changed */
        if (w->id[c.left] != c.left_id || right < 0 || w->id[right] != c.right_id)
            continue;
        w->id[c.left] = c.merged;
        w->id[right] = -1;
        w->next[c.left] = w->next[right];
        if (w->next[right] >= 0)
            w->prev[w->next[right]] = c.left;
        if (w->prev[c.left] >= 0)
            consider(t, w, w->prev[c.left]);
        consider(t, w, c.left);
    }
    for (int32_t i = 0; i >= 0 && n > 0; i = w->next[i]) {
        qattn_status st = put(o, w->id[i]);
        if (st != QATTN_OK)
            return st;
    }
    return QATTN_OK;
}

/* A stretch of text without added tokens: pieces by the pattern, each through the BPE. */
static qattn_status encode_plain(const qattn_tokenizer *t, pcre2_match_data *md, bpe_work *w,
                                 const char *s, size_t n, out_ids *o)
{
    size_t at = 0;
    while (at < n) {
        int rc = pcre2_match(t->pattern, (PCRE2_SPTR)s, n, at, 0, md, NULL);
        if (rc == PCRE2_ERROR_NOMATCH) {
            return encode_piece(t, w, (const uint8_t *)s + at, (int32_t)(n - at), o);
        }
        if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
            return qattn_fail(QATTN_ERR_ARG, "tokenizer: the text is not valid UTF-8 (byte %zu "
                              "of a stretch)", (size_t)pcre2_get_ovector_pointer(md)[0]);
        if (rc < 0)
            return qattn_fail(QATTN_ERR_VALUE, "tokenizer: PCRE2 match error %d", rc);
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] <= ov[0] || ov[0] < at) /* every alternative takes a character */
            return qattn_fail(QATTN_ERR_VALUE, "tokenizer: an empty match at byte %zu", at);
        qattn_status st = QATTN_OK;
        if (ov[0] > at) /* text the pattern skipped (none with GPT-2's): a piece too */
            st = encode_piece(t, w, (const uint8_t *)s + at, (int32_t)(ov[0] - at), o);
        if (st == QATTN_OK)
            st = encode_piece(t, w, (const uint8_t *)s + ov[0], (int32_t)(ov[1] - ov[0]), o);
        if (st != QATTN_OK)
            return st;
        at = ov[1];
    }
    return QATTN_OK;
}

/* The longest added token at s (n bytes left), or NULL. */
static const added_token *added_at(const qattn_tokenizer *t, const char *s, size_t n)
{
    if (!t->added_first[(uint8_t)s[0]])
        return NULL;
    for (int k = 0; k < t->n_added_lengths; k++) {
        const size_t len = t->added_lengths[k];
        if (len > n)
            continue;
        const str_slot *slot = find_slot(t->added_table, t->added_mask, s, len);
        if (slot->s)
            return &t->added[slot->id];
    }
    return NULL;
}

qattn_status qattn_tokenizer_encode(const qattn_tokenizer *t, const char *text, int32_t *ids,
                                    int32_t capacity, int32_t *n_ids)
{
    qattn_clear_error();
    if (!t || !text || !n_ids || (capacity > 0 && !ids))
        return qattn_fail(QATTN_ERR_NULL, "tokenizer_encode: %s is NULL",
                          !t ? "tokenizer" : !text ? "text" : !n_ids ? "n_ids" : "ids");
    *n_ids = 0;
    if (capacity < 0)
        return qattn_fail(QATTN_ERR_SIZE, "tokenizer_encode: capacity %d", capacity);
    const size_t n = strlen(text);
    if (n > MAX_TEXT)
        return qattn_fail(QATTN_ERR_SIZE, "tokenizer_encode: %zu bytes of text (at most %d)", n,
                          MAX_TEXT);
    bpe_work w = {malloc((n + 1) * sizeof(int32_t)), malloc((n + 1) * sizeof(int32_t)),
                  malloc((n + 1) * sizeof(int32_t)), malloc(3 * (n + 1) * sizeof(candidate)), 0};
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(t->pattern, NULL);
    qattn_status st = QATTN_OK;
    if (!w.id || !w.prev || !w.next || !w.heap || !md) {
        st = qattn_fail(QATTN_ERR_NOMEM, "tokenizer_encode: out of memory");
    } else {
        out_ids o = {ids, capacity, 0};
        size_t start = 0;
        for (size_t i = 0; i < n && st == QATTN_OK;) {
            const added_token *a = added_at(t, text + i, n - i);
            if (!a) {
                i++;
                continue;
            }
            st = encode_plain(t, md, &w, text + start, i - start, &o);
            if (st == QATTN_OK)
                st = put(&o, a->id);
            i += a->len, start = i;
        }
        if (st == QATTN_OK)
            st = encode_plain(t, md, &w, text + start, n - start, &o);
        *n_ids = st == QATTN_OK ? o.n : 0;
    }
    pcre2_match_data_free(md);
    free(w.id), free(w.prev), free(w.next), free(w.heap);
    return st;
}
