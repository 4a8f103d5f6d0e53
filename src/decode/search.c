/* The token search of windows, one or a batch side by side (search.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "decode/search.h"

enum { MAX_CANDIDATES = 2 * 64 };

/* One window's search: its live sequences are rows [row, row + n_seqs) of the shared logits. */
typedef struct search_item {
    int32_t *seqs, *next_seqs;  /* [max_seqs][max_new]: tokens sampled per live sequence */
    double *scores, *next_scores; /* [max_seqs] cumulative log-probabilities */
    int32_t *tokens, *parents;  /* [MAX_CANDIDATES]: this step's tokens and their parents */
    int32_t *hyp_tokens;        /* finished hypotheses: [max_hyps][max_new] */
    int32_t *hyp_len;
    double *hyp_score;
    int32_t n_hyps;
    float *prompt_logits;       /* [n_vocab]: raw logits after its prompt */
    float no_speech_prob;       /* of that prompt */
    uint64_t rng;
    int32_t window;             /* its window in the decoder state */
    int32_t row, n_seqs, kept;  /* live rows; sequences kept by this step */
    int done;
} search_item;

struct qattn_search {
    const struct qattn_decoder *dec;
    qattn_decoder_state *state;
    int32_t max_items, max_seqs, max_new, n_vocab, max_hyps;
    int32_t n_windows;          /* windows the state holds */
    int32_t *prompt, n_prompt;  /* one window's: the prompt whose pass the state holds (n_prompt
                                 * 0: none) */
    search_item *items;         /* [max_items] */
    int32_t n_items;            /* in this run */
    float *logits;              /* [max_items x max_seqs][n_vocab] */
    int32_t *tokens, *parents;  /* [max_items x max_seqs]: the decoder's step */
    int32_t *windows, *prompts; /* [max_items], [max_items][n_text_ctx]: a batch's prompts */
    int32_t *pass;              /* [max_items][n_text_ctx]: a prompt pass's tokens */
    int32_t n_forced;           /* this run's forced prefix: each sequence's first tokens */
    const atomic_int *cancel;   /* nonzero: stop before the next decoder step */
    atomic_llong steps;         /* decoder steps run (tests bound what runs after a cancel) */
};

long long qattn_search_steps(const qattn_search *s)
{
    return atomic_load(&s->steps);
}

void qattn_search_set_cancel(qattn_search *s, const atomic_int *cancel)
{
    s->cancel = cancel;
}

static int cancelled(const qattn_search *s)
{
    return s->cancel && atomic_load(s->cancel);
}

static void free_item(search_item *it)
{
    free(it->seqs), free(it->next_seqs), free(it->scores), free(it->next_scores);
    free(it->tokens), free(it->parents), free(it->hyp_tokens), free(it->hyp_len);
    free(it->hyp_score), free(it->prompt_logits);
}

void qattn_search_free(qattn_search *s)
{
    if (!s)
        return;
    qattn_decoder_state_free(s->state);
    for (int32_t i = 0; s->items && i < s->max_items; i++)
        free_item(&s->items[i]);
    free(s->items), free(s->prompt), free(s->logits), free(s->tokens), free(s->parents);
    free(s->windows), free(s->prompts), free(s->pass);
    free(s);
}

static int make_item(search_item *it, size_t m, size_t n, size_t v, size_t max_hyps)
{
    it->seqs = malloc(m * n * sizeof(int32_t)), it->next_seqs = malloc(m * n * sizeof(int32_t));
    it->scores = malloc(m * sizeof(double)), it->next_scores = malloc(m * sizeof(double));
    it->tokens = malloc(MAX_CANDIDATES * sizeof(int32_t));
    it->parents = malloc(MAX_CANDIDATES * sizeof(int32_t));
    it->hyp_tokens = malloc(max_hyps * n * sizeof(int32_t));
    it->hyp_len = malloc(max_hyps * sizeof(int32_t));
    it->hyp_score = malloc(max_hyps * sizeof(double));
    it->prompt_logits = malloc(v * sizeof(float));
    return it->seqs && it->next_seqs && it->scores && it->next_scores && it->tokens &&
           it->parents && it->hyp_tokens && it->hyp_len && it->hyp_score && it->prompt_logits;
}

qattn_status qattn_search_create_batch(const qattn_decoder *dec, int32_t max_items,
                                       int32_t max_seqs, int32_t max_new, qattn_search **out)
{
    *out = NULL;
    if (max_items < 1 || max_items > QATTN_DECODER_MAX_ITEMS || max_seqs < 1 || max_seqs > 64 ||
        max_items * max_seqs > QATTN_DECODER_MAX_SEQS || max_new < 1 || max_new > dec->n_text_ctx)
        return qattn_fail(QATTN_ERR_ARG, "search: %d windows of %d sequences of %d tokens (1-%d, "
                          "1-64, 1-%d)", max_items, max_seqs, max_new, QATTN_DECODER_MAX_ITEMS,
                          dec->n_text_ctx);
    qattn_search *s = calloc(1, sizeof *s);
    if (!s)
        return qattn_fail(QATTN_ERR_NOMEM, "search: out of memory");
    atomic_init(&s->steps, 0);
    const size_t v = (size_t)dec->n_vocab, m = (size_t)max_seqs, n = (size_t)max_new;
    const size_t rows = (size_t)max_items * m;
    s->dec = dec, s->max_items = max_items, s->max_seqs = max_seqs, s->max_new = max_new;
    s->n_vocab = dec->n_vocab;
    /* a beam search registers at most beam_size hypotheses a step and stops once it has
     * round(beam_size x patience): room for every hypothesis of every step is the simple bound */
    s->max_hyps = max_seqs * (max_new + 1);
    s->items = calloc((size_t)max_items, sizeof *s->items);
    s->prompt = malloc((size_t)dec->n_text_ctx * sizeof *s->prompt);
    s->logits = malloc(rows * v * sizeof(float));
    s->tokens = malloc(rows * sizeof(int32_t)), s->parents = malloc(rows * sizeof(int32_t));
    s->windows = malloc((size_t)max_items * sizeof(int32_t));
    s->prompts = malloc((size_t)max_items * (size_t)dec->n_text_ctx * sizeof(int32_t));
    s->pass = malloc((size_t)max_items * (size_t)dec->n_text_ctx * sizeof(int32_t));
    int ok = s->items && s->prompt && s->logits && s->tokens && s->parents && s->windows &&
             s->prompts && s->pass;
    for (int32_t i = 0; ok && i < max_items; i++)
        ok = make_item(&s->items[i], m, n, v, (size_t)s->max_hyps);
    if (!ok) {
        qattn_search_free(s);
        return qattn_fail(QATTN_ERR_NOMEM, "search: out of memory");
    }
    *out = s;
    return QATTN_OK;
}

qattn_status qattn_search_create(const qattn_decoder *dec, int32_t max_seqs, int32_t max_new,
                                 qattn_search **out)
{
    return qattn_search_create_batch(dec, 1, max_seqs, max_new, out);
}

qattn_status qattn_search_windows(qattn_search *s, const float *features, int32_t n_audio,
                                  int32_t n_windows)
{
    qattn_decoder_state_free(s->state);
    s->state = NULL, s->n_prompt = 0, s->n_windows = 0;
    if (n_windows < 1 || n_windows > s->max_items)
        return qattn_fail(QATTN_ERR_ARG, "search: %d windows, room for %d", n_windows, s->max_items);
    qattn_status st = qattn_decoder_begin_items(s->dec, features, n_audio, n_windows,
                                                n_windows * s->max_seqs, &s->state);
    if (st == QATTN_OK)
        s->n_windows = n_windows;
    return st;
}

qattn_status qattn_search_window(qattn_search *s, const float *features, int32_t n_audio)
{
    return qattn_search_windows(s, features, n_audio, 1);
}

/* The prompts' pass: item i's prompt prompts[i][0 .. n) over its window, one decoder step for
 * every item; no_speech_prob from the raw logits at <|startoftranscript|> (CTranslate2
 * GetNoSpeechProbs), the logits after the last token into each item's prompt_logits. One
 * window's pass is kept between calls with the same prompt (temperature fallback). */
static qattn_status run_prompts(qattn_search *s, const int32_t *prompts, int32_t n, int32_t sot,
                                int32_t no_speech)
{
    if (!s->state)
        return qattn_fail(QATTN_ERR_ARG, "search: no window");
    const int single = s->n_items == 1 && s->n_windows == 1;
    if (single && s->n_prompt == n && !memcmp(s->prompt, prompts, (size_t)n * sizeof *prompts)) {
        qattn_decoder_truncate(s->state, n);
        return QATTN_OK;
    }
    if (n < 1 || n >= s->dec->n_text_ctx || sot < 0 || sot >= n)
        return qattn_fail(QATTN_ERR_SIZE, "search: a prompt of %d tokens", n);
    s->n_prompt = 0;
    for (int32_t i = 0; i < s->n_items; i++)
        s->windows[i] = s->items[i].window;
    qattn_status st = qattn_decoder_restart(s->state, s->windows, s->n_items);
    if (st != QATTN_OK)
        return st;
    if (cancelled(s))
        return QATTN_CANCELLED;
    const size_t v = (size_t)s->n_vocab;
    /* the tokens up to <|startoftranscript|>, then the rest, each item's in a row */
    for (int32_t part = 0; part < 2 && st == QATTN_OK; part++) {
        const int32_t from = part ? sot + 1 : 0, len = part ? n - sot - 1 : sot + 1;
        if (len == 0)
            break;
        for (int32_t i = 0; i < s->n_items; i++)
            memcpy(s->pass + (size_t)i * len, prompts + (size_t)i * n + from, (size_t)len * sizeof *prompts);
        st = qattn_decoder_step_many(s->state, s->pass, s->n_items, len, s->logits);
        for (int32_t i = 0; st == QATTN_OK && i < s->n_items; i++) {
            search_item *it = &s->items[i];
            float *x = s->logits + (size_t)i * v;
            if (part == 0 && no_speech >= 0 && no_speech < s->n_vocab) {
                memcpy(it->prompt_logits, x, v * sizeof *x);
                qattn_log_softmax(it->prompt_logits, s->n_vocab);
                it->no_speech_prob = (float)exp(it->prompt_logits[no_speech]);
            }
            memcpy(it->prompt_logits, x, v * sizeof *x); /* the last part's stay */
        }
    }
    if (st != QATTN_OK)
        return st;
    if (single) {
        memcpy(s->prompt, prompts, (size_t)n * sizeof *prompts);
        s->n_prompt = n;
    }
    return QATTN_OK;
}

qattn_status qattn_search_prompt_logits(qattn_search *s, const int32_t *prompt, int32_t n_prompt,
                                        const float **logits)
{
    s->n_items = 1, s->items[0].window = 0;
    qattn_status st = run_prompts(s, prompt, n_prompt, n_prompt - 1, -1);
    *logits = s->items[0].prompt_logits;
    return st;
}

qattn_status qattn_search_batch_prompt_logits(qattn_search *s, const int32_t *prompt,
                                              int32_t n_prompt, const float **logits)
{
    if (!s->state)
        return qattn_fail(QATTN_ERR_ARG, "search: no window");
    s->n_items = s->n_windows;
    for (int32_t i = 0; i < s->n_items; i++) {
        s->items[i].window = i;
        memcpy(s->prompts + (size_t)i * n_prompt, prompt, (size_t)n_prompt * sizeof *prompt);
    }
    qattn_status st = run_prompts(s, s->prompts, n_prompt, n_prompt - 1, -1);
    for (int32_t i = 0; i < s->n_items; i++)
        logits[i] = s->items[i].prompt_logits;
    return st;
}

/* splitmix64 (Steele, Lea and Flood 2014): a reproducible uniform [0, 1) per seed. */
static double uniform(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

/* A token drawn from softmax(logprobs / T) (logprobs already normalized; -inf never drawn). */
static int32_t sample(const float *logprobs, int32_t n, float temperature, uint64_t *rng)
{
    float mx = -INFINITY;
    for (int32_t i = 0; i < n; i++)
        mx = logprobs[i] > mx ? logprobs[i] : mx;
    double sum = 0;
    for (int32_t i = 0; i < n; i++)
        sum += exp(((double)logprobs[i] - mx) / temperature);
    double u = uniform(rng) * sum;
    int32_t last = 0;
    for (int32_t i = 0; i < n; i++) {
        if (logprobs[i] == -INFINITY)
            continue;
        last = i;
        u -= exp(((double)logprobs[i] - mx) / temperature);
        if (u < 0)
            return i;
    }
    return last;
}

static int32_t argmax(const float *x, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static void add_hypothesis(const qattn_search *s, search_item *it, const int32_t *tokens,
                           int32_t len, double score)
{
    if (it->n_hyps >= s->max_hyps)
        return;
    memcpy(it->hyp_tokens + (size_t)it->n_hyps * s->max_new, tokens, (size_t)len * sizeof *tokens);
    it->hyp_len[it->n_hyps] = len, it->hyp_score[it->n_hyps] = score;
    it->n_hyps++;
}

typedef struct filter_job {
    qattn_search *s;
    const qattn_logit_rules *rules;
    int32_t step;
} filter_job;

static void filter_task(void *ctx, int64_t r, int worker)
{
    (void)worker;
    const filter_job *f = ctx;
    qattn_search *s = f->s;
    const search_item *it = s->items;
    while (it->done || r >= it->row + it->n_seqs) /* the item whose rows hold r */
        it++;
    const int32_t j = (int32_t)r - it->row;
    float *x = s->logits + (size_t)r * s->n_vocab;
    qattn_logit_rules_apply(f->rules, it->seqs + (size_t)j * s->max_new, f->step, s->n_forced, x);
    qattn_log_softmax(x, s->n_vocab);
}

/* The logits of every live sequence, filtered and turned into log-probabilities: one task per
 * sequence on the decoder's threads (each row's result is the same on any worker; with 5
 * beams this was a tenth of tiny.en's transcription on one core while the other waited). */
static void filter(qattn_search *s, const qattn_logit_rules *rules, int32_t n_rows, int32_t step)
{
    filter_job f = {s, rules, step};
    qattn_parallel_for(qattn_workers_for(s->dec->run.threads, n_rows), n_rows, filter_task, &f);
}

/* Greedy (T = 0) or sampling, one step of an item: every sequence on its own until it ends;
 * the live ones are kept (parents: which row each continues). */
static void independent_step(qattn_search *s, search_item *it, const qattn_logit_rules *rules,
                             const qattn_search_params *p, int32_t step)
{
    int32_t kept = 0;
    for (int32_t j = 0; j < it->n_seqs; j++) {
        const float *lp = s->logits + (size_t)(it->row + j) * s->n_vocab;
        const int32_t t = p->temperature > 0 ? sample(lp, s->n_vocab, p->temperature, &it->rng)
                                             : argmax(lp, s->n_vocab);
        int32_t *seq = it->seqs + (size_t)j * s->max_new;
        it->scores[j] += lp[t];
        seq[step] = t;
        if (t == rules->eot || step + 1 == p->max_new) {
            add_hypothesis(s, it, seq, t == rules->eot ? step : step + 1, it->scores[j]);
            continue;
        }
        it->tokens[kept] = t;
        if (kept != j) { /* compact the live sequences */
            memcpy(it->seqs + (size_t)kept * s->max_new, seq, (size_t)(step + 1) * sizeof *seq);
            it->scores[kept] = it->scores[j];
        }
        it->parents[kept] = j;
        kept++;
    }
    it->kept = kept;
    it->done = kept == 0 || step + 1 == p->max_new;
}

/* Inserts (score, id) into the descending top list of capacity k. */
static void top_insert(double *score, int32_t *id, int32_t *n, int32_t k, double v, int32_t i)
{
    if (*n == k && v <= score[k - 1])
        return;
    int32_t at = *n < k ? (*n)++ : k - 1;
    while (at > 0 && score[at - 1] < v) {
        score[at] = score[at - 1], id[at] = id[at - 1];
        at--;
    }
    score[at] = v, id[at] = i;
}

/* Beam search, one step of an item. */
static qattn_status beam_step(qattn_search *s, search_item *it, const qattn_logit_rules *rules,
                              const qattn_search_params *p, int32_t step)
{
    const int32_t B = p->beam_size, C = 2 * B, V = s->n_vocab;
    const int32_t max_hyps = (int32_t)lround((double)B * p->patience);
    double cand_score[MAX_CANDIDATES];
    int32_t cand_id[MAX_CANDIDATES]; /* beam * V + token */
    int32_t n_cand = 0;
    for (int32_t j = 0; j < it->n_seqs; j++) {
        const float *lp = s->logits + (size_t)(it->row + j) * V;
        for (int32_t t = 0; t < V; t++)
            if (lp[t] != -INFINITY)
                top_insert(cand_score, cand_id, &n_cand, C, it->scores[j] + lp[t], j * V + t);
    }
    if (n_cand == 0)
        return qattn_fail(QATTN_ERR_VALUE, "search: every token is forbidden");
    if (step == s->n_forced && step > 0) /* after a prefix: no short secondary endings */
        for (int32_t k = 1; k < n_cand; k++)
            if (cand_id[k] % V == rules->eot)
                cand_id[k] = 0, cand_score[k] = -1e10;
    const int last_step = step + 1 == p->max_new;
    int32_t secondary = B < n_cand ? B : n_cand, kept = 0;
    int top_finished = 0;
    for (int32_t k = 0; k < B && k < n_cand; k++) {
        int32_t next = k;
        const int32_t parent = cand_id[k] / V, t = cand_id[k] % V;
        if (t == rules->eot || last_step) {
            int32_t *seq = it->next_seqs; /* scratch for the hypothesis */
            memcpy(seq, it->seqs + (size_t)parent * s->max_new, (size_t)step * sizeof *seq);
            seq[step] = t;
            add_hypothesis(s, it, seq, t == rules->eot ? step : step + 1, cand_score[k]);
            top_finished |= k == 0;
            for (int32_t c = secondary; c < n_cand; c++)
                if (cand_id[c] % V != rules->eot) {
                    next = c, secondary = c + 1;
                    break;
                }
        }
        it->parents[kept] = cand_id[next] / V, it->tokens[kept] = cand_id[next] % V;
        it->next_scores[kept] = cand_score[next];
        kept++;
    }
    it->kept = kept;
    it->done = last_step || (p->length_penalty == 0 ? top_finished && it->n_hyps >= 1
                                                    : it->n_hyps >= max_hyps);
    if (it->done)
        return QATTN_OK;
    for (int32_t k = 0; k < kept; k++) {
        int32_t *seq = it->next_seqs + (size_t)k * s->max_new;
        memcpy(seq, it->seqs + (size_t)it->parents[k] * s->max_new, (size_t)step * sizeof *seq);
        seq[step] = it->tokens[k];
        it->scores[k] = it->next_scores[k];
    }
    int32_t *t = it->seqs;
    it->seqs = it->next_seqs, it->next_seqs = t;
    return QATTN_OK;
}

/* Every item's steps until each is done: the live items' kept sequences, in item order, are
 * reordered and stepped through the decoder at once. */
static qattn_status search_items(qattn_search *s, const qattn_logit_rules *rules,
                                 const qattn_search_params *p)
{
    const int beam = p->temperature == 0 && p->beam_size > 1;
    int32_t n_rows = 0;
    for (int32_t i = 0; i < s->n_items; i++)
        n_rows += s->items[i].done ? 0 : s->items[i].n_seqs;
    for (int32_t step = s->n_forced; step < p->max_new && n_rows > 0; step++) {
        filter(s, rules, n_rows, step);
        int32_t rows = 0;
        for (int32_t i = 0; i < s->n_items; i++) {
            search_item *it = &s->items[i];
            if (it->done)
                continue;
            if (beam) {
                qattn_status st = beam_step(s, it, rules, p, step);
                if (st != QATTN_OK)
                    return st;
            } else {
                independent_step(s, it, rules, p, step);
            }
            if (it->done)
                continue;
            for (int32_t k = 0; k < it->kept; k++) {
                s->parents[rows + k] = it->row + it->parents[k];
                s->tokens[rows + k] = it->tokens[k];
            }
            it->row = rows, it->n_seqs = it->kept;
            rows += it->kept;
        }
        n_rows = rows;
        if (n_rows == 0)
            break;
        qattn_decoder_reorder(s->state, s->parents, n_rows);
        if (cancelled(s))
            return QATTN_CANCELLED;
        atomic_fetch_add(&s->steps, 1);
        qattn_status st = qattn_decoder_step_seqs(s->state, s->tokens, n_rows, s->logits);
        if (st != QATTN_OK)
            return st;
    }
    return QATTN_OK;
}

static qattn_status check_params(const qattn_search *s, const qattn_search_params *p)
{
    const int32_t n0 = p->temperature > 0 ? p->best_of : 1;
    if (p->beam_size < 1 || p->best_of < 1 || p->max_new < 1 || p->max_new > s->max_new ||
        (p->temperature == 0 && p->beam_size > s->max_seqs) || n0 > s->max_seqs ||
        !(p->patience > 0) || !(p->temperature >= 0) || !isfinite(p->length_penalty))
        return qattn_fail(QATTN_ERR_ARG, "search: beam %d, best_of %d, patience %g, temperature "
                          "%g, %d tokens", p->beam_size, p->best_of, p->patience, p->temperature,
                          p->max_new);
    return QATTN_OK;
}

/* The best hypothesis of an item: the largest score / length^length_penalty. */
static qattn_status best_result(const qattn_search *s, const search_item *it,
                                const qattn_search_params *p, qattn_search_result *r)
{
    if (it->n_hyps == 0)
        return qattn_fail(QATTN_ERR_VALUE, "search: no hypothesis");
    int32_t best = -1;
    double best_score = -INFINITY;
    for (int32_t h = 0; h < it->n_hyps; h++) {
        const double len = it->hyp_len[h];
        const double score = it->hyp_score[h] / pow(len, p->length_penalty);
        if (best < 0 || score > best_score)
            best = h, best_score = score;
    }
    r->n_tokens = it->hyp_len[best];
    memcpy(r->tokens, it->hyp_tokens + (size_t)best * s->max_new, (size_t)r->n_tokens * sizeof(int32_t));
    r->sum_logprob = it->hyp_score[best];
    r->score = best_score;
    r->no_speech_prob = it->no_speech_prob;
    return QATTN_OK;
}

qattn_status qattn_search_run_batch(qattn_search *s, const int32_t *windows, int32_t n_items,
                                    const int32_t *prompts, int32_t n_prompt, int32_t sot_index,
                                    int32_t no_speech, const qattn_logit_rules *rules,
                                    const qattn_search_params *p, const uint64_t *seeds,
                                    qattn_search_result *results)
{
    qattn_status st = check_params(s, p);
    if (st != QATTN_OK)
        return st;
    if (n_items < 1 || n_items > s->n_windows)
        return qattn_fail(QATTN_ERR_ARG, "search: %d items over %d windows", n_items, s->n_windows);
    for (int32_t i = 0; i < n_items; i++)
        if (windows[i] < 0 || windows[i] >= s->n_windows)
            return qattn_fail(QATTN_ERR_ARG, "search: window %d of %d", windows[i], s->n_windows);
    if (p->n_forced < 0 || p->n_forced >= n_prompt - sot_index)
        return qattn_fail(QATTN_ERR_ARG, "search: %d forced tokens after a prompt of %d",
                          p->n_forced, n_prompt);
    s->n_items = n_items;
    for (int32_t i = 0; i < n_items; i++)
        s->items[i].window = windows[i];
    if ((st = run_prompts(s, prompts, n_prompt, sot_index, no_speech)) != QATTN_OK)
        return st;
    const int32_t n0 = p->temperature > 0 ? p->best_of : 1;
    s->n_forced = p->n_forced < p->max_new ? p->n_forced : p->max_new;
    const size_t v = (size_t)s->n_vocab;
    int32_t rows = 0;
    for (int32_t i = 0; i < n_items; i++) {
        search_item *it = &s->items[i];
        const int32_t *forced = prompts + (size_t)i * n_prompt + n_prompt - p->n_forced;
        it->n_hyps = 0, it->rng = seeds[i], it->done = 0;
        for (int32_t j = 0; j < n0; j++) {
            memcpy(it->seqs + (size_t)j * s->max_new, forced, (size_t)s->n_forced * sizeof *forced);
            it->scores[j] = 0;
        }
        if (s->n_forced == p->max_new) { /* CTranslate2 ends on its last step, inside the prefix */
            add_hypothesis(s, it, it->seqs, s->n_forced, 0);
            it->done = 1;
            continue;
        }
        it->row = rows, it->n_seqs = n0;
        for (int32_t j = 0; j < n0; j++) { /* every sequence starts from the prompt's logits */
            memcpy(s->logits + (size_t)(rows + j) * v, it->prompt_logits, v * sizeof(float));
            s->parents[rows + j] = i; /* the prompt pass: one sequence per item, in order */
        }
        rows += n0;
    }
    if (rows > 0 && (n0 > 1 || rows != n_items))
        qattn_decoder_reorder(s->state, s->parents, rows);
    if (rows > 0 && (st = search_items(s, rules, p)) != QATTN_OK)
        return st;
    for (int32_t i = 0; i < n_items && st == QATTN_OK; i++)
        st = best_result(s, &s->items[i], p, &results[i]);
    return st;
}

qattn_status qattn_search_run(qattn_search *s, const int32_t *prompt, int32_t n_prompt,
                              int32_t sot_index, int32_t no_speech, const qattn_logit_rules *rules,
                              const qattn_search_params *p, qattn_search_result *r)
{
    const int32_t window = 0;
    return qattn_search_run_batch(s, &window, 1, prompt, n_prompt, sot_index, no_speech, rules, p,
                                  &p->seed, r);
}

qattn_status qattn_search_align(qattn_search *s, int32_t window, const int32_t *tokens, int32_t n,
                                const int32_t *heads, int32_t n_heads, int32_t n_frames,
                                float *scores, int32_t first, float *logits)
{
    if (!s->state)
        return qattn_fail(QATTN_ERR_ARG, "search_align: no window set");
    s->n_prompt = 0;
    qattn_status st = qattn_decoder_restart(s->state, &window, 1);
    return st == QATTN_OK ? qattn_decoder_align(s->state, tokens, n, heads, n_heads, n_frames,
                                                scores, first, logits)
                          : st;
}
