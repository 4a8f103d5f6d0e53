/* One window's token search: greedy, sampling and beam search (search.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "decode/search.h"

enum { MAX_CANDIDATES = 2 * 64 };

struct qattn_search {
    const struct qattn_decoder *dec;
    qattn_decoder_state *state;
    int32_t max_seqs, max_new, n_vocab;
    int32_t *prompt, n_prompt;  /* the prompt whose pass the state holds (n_prompt 0: none) */
    float no_speech_prob;       /* of that prompt */
    float *prompt_logits;       /* [n_vocab]: raw logits after the prompt */
    float *logits;              /* [max_seqs][n_vocab] */
    int32_t *seqs, *next_seqs;  /* [max_seqs][max_new]: tokens sampled per live sequence */
    double *scores, *next_scores; /* [max_seqs] cumulative log-probabilities */
    int32_t *tokens, *parents;  /* [MAX_CANDIDATES] */
    int32_t *hyp_tokens;        /* finished hypotheses: [max_hyps][max_new] */
    int32_t *hyp_len;
    double *hyp_score;
    int32_t max_hyps, n_hyps;
    int32_t n_forced;           /* this run's forced prefix: each sequence's first tokens */
    uint64_t rng;
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

/* One decoder step of the n live sequences' tokens into s->logits, unless cancelled first. */
static qattn_status decode_step(qattn_search *s, int32_t n_seqs)
{
    if (cancelled(s))
        return QATTN_CANCELLED;
    atomic_fetch_add(&s->steps, 1);
    return qattn_decoder_step_seqs(s->state, s->tokens, n_seqs, s->logits);
}

void qattn_search_free(qattn_search *s)
{
    if (!s)
        return;
    qattn_decoder_state_free(s->state);
    free(s->prompt), free(s->prompt_logits), free(s->logits), free(s->seqs), free(s->next_seqs);
    free(s->scores), free(s->next_scores), free(s->tokens), free(s->parents);
    free(s->hyp_tokens), free(s->hyp_len), free(s->hyp_score);
    free(s);
}

qattn_status qattn_search_create(const qattn_decoder *dec, int32_t max_seqs, int32_t max_new,
                                 qattn_search **out)
{
    *out = NULL;
    if (max_seqs < 1 || max_seqs > 64 || max_new < 1 || max_new > dec->n_text_ctx)
        return qattn_fail(QATTN_ERR_ARG, "search: %d sequences of %d tokens (1-64, 1-%d)",
                          max_seqs, max_new, dec->n_text_ctx);
    qattn_search *s = calloc(1, sizeof *s);
    if (!s)
        return qattn_fail(QATTN_ERR_NOMEM, "search: out of memory");
    atomic_init(&s->steps, 0);
    const size_t v = (size_t)dec->n_vocab, m = (size_t)max_seqs, n = (size_t)max_new;
    s->dec = dec, s->max_seqs = max_seqs, s->max_new = max_new, s->n_vocab = dec->n_vocab;
    /* a beam search registers at most beam_size hypotheses a step and stops once it has
     * round(beam_size x patience): room for every hypothesis of every step is the simple bound */
    s->max_hyps = max_seqs * (max_new + 1);
    s->prompt = malloc((size_t)dec->n_text_ctx * sizeof *s->prompt);
    s->prompt_logits = malloc(v * sizeof(float));
    s->logits = malloc(m * v * sizeof(float));
    s->seqs = malloc(m * n * sizeof(int32_t)), s->next_seqs = malloc(m * n * sizeof(int32_t));
    s->scores = malloc(m * sizeof(double)), s->next_scores = malloc(m * sizeof(double));
    s->tokens = malloc(MAX_CANDIDATES * sizeof(int32_t));
    s->parents = malloc(MAX_CANDIDATES * sizeof(int32_t));
    s->hyp_tokens = malloc((size_t)s->max_hyps * n * sizeof(int32_t));
    s->hyp_len = malloc((size_t)s->max_hyps * sizeof(int32_t));
    s->hyp_score = malloc((size_t)s->max_hyps * sizeof(double));
    if (!s->prompt || !s->prompt_logits || !s->logits || !s->seqs || !s->next_seqs || !s->scores ||
        !s->next_scores || !s->tokens || !s->parents || !s->hyp_tokens || !s->hyp_len ||
        !s->hyp_score) {
        qattn_search_free(s);
        return qattn_fail(QATTN_ERR_NOMEM, "search: out of memory");
    }
    *out = s;
    return QATTN_OK;
}

qattn_status qattn_search_window(qattn_search *s, const float *features, int32_t n_audio)
{
    qattn_decoder_state_free(s->state);
    s->state = NULL, s->n_prompt = 0;
    return qattn_decoder_begin_seqs(s->dec, features, n_audio, s->max_seqs, &s->state);
}

/* Runs the prompt unless the state holds it already: no_speech_prob from the raw logits at
 * <|startoftranscript|> (CTranslate2 GetNoSpeechProbs), the logits after the last token. */
static qattn_status run_prompt(qattn_search *s, const int32_t *prompt, int32_t n, int32_t sot,
                               int32_t no_speech)
{
    if (!s->state)
        return qattn_fail(QATTN_ERR_ARG, "search: no window");
    if (s->n_prompt == n && !memcmp(s->prompt, prompt, (size_t)n * sizeof *prompt)) {
        qattn_decoder_truncate(s->state, n);
        return QATTN_OK;
    }
    if (n < 1 || n >= s->dec->n_text_ctx || sot < 0 || sot >= n)
        return qattn_fail(QATTN_ERR_SIZE, "search: a prompt of %d tokens", n);
    s->n_prompt = 0;
    qattn_decoder_truncate(s->state, 0);
    if (cancelled(s))
        return QATTN_CANCELLED;
    qattn_status st = qattn_decoder_step(s->state, prompt, sot + 1, s->prompt_logits);
    if (st == QATTN_OK && no_speech >= 0 && no_speech < s->n_vocab) {
        float *x = s->logits; /* scratch */
        memcpy(x, s->prompt_logits, (size_t)s->n_vocab * sizeof *x);
        qattn_log_softmax(x, s->n_vocab);
        s->no_speech_prob = (float)exp(x[no_speech]);
    }
    if (st == QATTN_OK && sot + 1 < n)
        st = qattn_decoder_step(s->state, prompt + sot + 1, n - sot - 1, s->prompt_logits);
    if (st != QATTN_OK)
        return st;
    memcpy(s->prompt, prompt, (size_t)n * sizeof *prompt);
    s->n_prompt = n;
    return QATTN_OK;
}

qattn_status qattn_search_prompt_logits(qattn_search *s, const int32_t *prompt, int32_t n_prompt,
                                        const float **logits)
{
    qattn_status st = run_prompt(s, prompt, n_prompt, n_prompt - 1, -1);
    *logits = s->prompt_logits;
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

static void add_hypothesis(qattn_search *s, const int32_t *tokens, int32_t len, double score)
{
    if (s->n_hyps >= s->max_hyps)
        return;
    memcpy(s->hyp_tokens + (size_t)s->n_hyps * s->max_new, tokens, (size_t)len * sizeof *tokens);
    s->hyp_len[s->n_hyps] = len, s->hyp_score[s->n_hyps] = score;
    s->n_hyps++;
}

typedef struct filter_job {
    qattn_search *s;
    const qattn_logit_rules *rules;
    int32_t step;
} filter_job;

static void filter_task(void *ctx, int64_t j, int worker)
{
    (void)worker;
    const filter_job *f = ctx;
    qattn_search *s = f->s;
    float *x = s->logits + (size_t)j * s->n_vocab;
    qattn_logit_rules_apply(f->rules, s->seqs + (size_t)j * s->max_new, f->step, s->n_forced, x);
    qattn_log_softmax(x, s->n_vocab);
}

/* The logits of the live sequences, filtered and turned into log-probabilities: one item per
 * sequence on the decoder's threads (each row's result is the same on any worker; with 5
 * beams this was a tenth of tiny.en's transcription on one core while the other waited). */
static void filter(qattn_search *s, const qattn_logit_rules *rules, int32_t n_seqs, int32_t step)
{
    filter_job f = {s, rules, step};
    qattn_parallel_for(qattn_workers_for(s->dec->run.threads, n_seqs), n_seqs, filter_task, &f);
}

/* Greedy (T = 0) or sampling: every sequence on its own until it ends. */
static qattn_status independent(qattn_search *s, const qattn_logit_rules *rules,
                                const qattn_search_params *p, int32_t n0)
{
    int32_t n_seqs = n0;
    int32_t *alive = s->parents; /* which of the n0 draws each live sequence is */
    for (int32_t j = 0; j < n_seqs; j++)
        alive[j] = j, s->scores[j] = 0;
    for (int32_t step = s->n_forced; step < p->max_new && n_seqs > 0; step++) {
        filter(s, rules, n_seqs, step);
        int32_t kept = 0;
        for (int32_t j = 0; j < n_seqs; j++) {
            const float *lp = s->logits + (size_t)j * s->n_vocab;
            const int32_t t = p->temperature > 0 ? sample(lp, s->n_vocab, p->temperature, &s->rng)
                                                 : argmax(lp, s->n_vocab);
            int32_t *seq = s->seqs + (size_t)j * s->max_new;
            s->scores[j] += lp[t];
            if (t == rules->eot || step + 1 == p->max_new) {
                const int32_t len = t == rules->eot ? step : step + 1;
                seq[step] = t;
                add_hypothesis(s, seq, len, s->scores[j]);
                continue;
            }
            seq[step] = t;
            s->tokens[kept] = t;
            if (kept != j) { /* compact the live sequences */
                memcpy(s->seqs + (size_t)kept * s->max_new, seq, (size_t)(step + 1) * sizeof *seq);
                s->scores[kept] = s->scores[j];
            }
            alive[kept] = j;
            kept++;
        }
        if (kept == 0 || step + 1 == p->max_new)
            break;
        qattn_decoder_reorder(s->state, alive, kept);
        n_seqs = kept;
        qattn_status st = decode_step(s, n_seqs);
        if (st != QATTN_OK)
            return st;
    }
    return QATTN_OK;
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

static qattn_status beam(qattn_search *s, const qattn_logit_rules *rules,
                         const qattn_search_params *p)
{
    const int32_t B = p->beam_size, C = 2 * B, V = s->n_vocab;
    const int32_t max_hyps = (int32_t)lround((double)B * p->patience);
    double cand_score[MAX_CANDIDATES];
    int32_t cand_id[MAX_CANDIDATES]; /* beam * V + token */
    int32_t n_seqs = 1;
    s->scores[0] = 0;
    for (int32_t step = s->n_forced; step < p->max_new; step++) {
        filter(s, rules, n_seqs, step);
        int32_t n_cand = 0;
        for (int32_t j = 0; j < n_seqs; j++) {
            const float *lp = s->logits + (size_t)j * V;
            for (int32_t t = 0; t < V; t++)
                if (lp[t] != -INFINITY)
                    top_insert(cand_score, cand_id, &n_cand, C, s->scores[j] + lp[t], j * V + t);
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
                int32_t *seq = s->next_seqs; /* scratch for the hypothesis */
                memcpy(seq, s->seqs + (size_t)parent * s->max_new, (size_t)step * sizeof *seq);
                seq[step] = t;
                add_hypothesis(s, seq, t == rules->eot ? step : step + 1, cand_score[k]);
                top_finished |= k == 0;
                for (int32_t c = secondary; c < n_cand; c++)
                    if (cand_id[c] % V != rules->eot) {
                        next = c, secondary = c + 1;
                        break;
                    }
            }
            s->parents[kept] = cand_id[next] / V, s->tokens[kept] = cand_id[next] % V;
            s->next_scores[kept] = cand_score[next];
            kept++;
        }
        if (last_step || (p->length_penalty == 0 ? top_finished && s->n_hyps >= 1
                                                 : s->n_hyps >= max_hyps))
            break;
        for (int32_t k = 0; k < kept; k++) {
            int32_t *seq = s->next_seqs + (size_t)k * s->max_new;
            memcpy(seq, s->seqs + (size_t)s->parents[k] * s->max_new, (size_t)step * sizeof *seq);
            seq[step] = s->tokens[k];
            s->scores[k] = s->next_scores[k];
        }
        int32_t *t = s->seqs;
        s->seqs = s->next_seqs, s->next_seqs = t;
        qattn_decoder_reorder(s->state, s->parents, kept);
        n_seqs = kept;
        qattn_status st = decode_step(s, n_seqs);
        if (st != QATTN_OK)
            return st;
    }
    return QATTN_OK;
}

qattn_status qattn_search_run(qattn_search *s, const int32_t *prompt, int32_t n_prompt,
                              int32_t sot_index, int32_t no_speech, const qattn_logit_rules *rules,
                              const qattn_search_params *p, qattn_search_result *r)
{
    const int32_t n0 = p->temperature > 0 ? p->best_of : 1;
    if (p->beam_size < 1 || p->best_of < 1 || p->max_new < 1 || p->max_new > s->max_new ||
        (p->temperature == 0 && p->beam_size > s->max_seqs) || n0 > s->max_seqs ||
        !(p->patience > 0) || !(p->temperature >= 0) || !isfinite(p->length_penalty))
        return qattn_fail(QATTN_ERR_ARG, "search: beam %d, best_of %d, patience %g, temperature "
                          "%g, %d tokens", p->beam_size, p->best_of, p->patience, p->temperature,
                          p->max_new);
    if (p->n_forced < 0 || p->n_forced >= n_prompt - sot_index)
        return qattn_fail(QATTN_ERR_ARG, "search: %d forced tokens after a prompt of %d",
                          p->n_forced, n_prompt);
    qattn_status st = run_prompt(s, prompt, n_prompt, sot_index, no_speech);
    if (st != QATTN_OK)
        return st;
    s->n_hyps = 0, s->rng = p->seed;
    s->n_forced = p->n_forced < p->max_new ? p->n_forced : p->max_new;
    for (int32_t j = 0; j < n0; j++)
        memcpy(s->seqs + (size_t)j * s->max_new, prompt + n_prompt - p->n_forced,
               (size_t)s->n_forced * sizeof *prompt);
    if (s->n_forced == p->max_new) /* CTranslate2 ends on its last step, inside the prefix */
        add_hypothesis(s, s->seqs, s->n_forced, 0);
    for (int32_t j = 0; j < n0; j++) /* every sequence starts from the prompt's logits */
        memcpy(s->logits + (size_t)j * s->n_vocab, s->prompt_logits, (size_t)s->n_vocab * sizeof(float));
    if (n0 > 1) {
        for (int32_t j = 0; j < n0; j++)
            s->parents[j] = 0;
        qattn_decoder_reorder(s->state, s->parents, n0);
    }
    if (s->n_hyps == 0)
        st = p->temperature == 0 && p->beam_size > 1 ? beam(s, rules, p) : independent(s, rules, p, n0);
    if (st != QATTN_OK)
        return st;
    if (s->n_hyps == 0)
        return qattn_fail(QATTN_ERR_VALUE, "search: no hypothesis");
    int32_t best = -1;
    double best_score = -INFINITY;
    for (int32_t h = 0; h < s->n_hyps; h++) {
        const double len = s->hyp_len[h];
        const double score = s->hyp_score[h] / pow(len, p->length_penalty);
        if (best < 0 || score > best_score)
            best = h, best_score = score;
    }
    r->n_tokens = s->hyp_len[best];
    memcpy(r->tokens, s->hyp_tokens + (size_t)best * s->max_new, (size_t)r->n_tokens * sizeof(int32_t));
    r->sum_logprob = s->hyp_score[best];
    r->score = best_score;
    r->no_speech_prob = s->no_speech_prob;
    return QATTN_OK;
}

qattn_status qattn_search_align(qattn_search *s, const int32_t *tokens, int32_t n,
                                const int32_t *heads, int32_t n_heads, int32_t n_frames,
                                float *scores, int32_t first, float *logits)
{
    if (!s->state)
        return qattn_fail(QATTN_ERR_ARG, "search_align: no window set");
    s->n_prompt = 0;
    return qattn_decoder_align(s->state, tokens, n, heads, n_heads, n_frames, scores, first, logits);
}
