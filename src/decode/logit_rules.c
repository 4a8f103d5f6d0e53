/* Whisper's logit filters (logit_rules.h). */
#include <math.h>

#include "decode/logit_rules.h"
#include "ops/float_ops.h"

static void forbid_range(float *logits, int32_t from, int32_t to) /* [from, to) */
{
    for (int32_t i = from; i < to; i++)
        logits[i] = -INFINITY;
}

static void forbid_list(const qattn_logit_rules *r, float *logits, const int32_t *ids, int32_t n)
{
    for (int32_t i = 0; i < n; i++)
        if (ids[i] >= 0 && ids[i] < r->n_vocab)
            logits[ids[i]] = -INFINITY;
}

/* Timestamps are likelier than any text token: log-sum-exp of the timestamps' logits above the
 * largest text logit (both sides of the comparison share the softmax normalizer). */
static int timestamps_likelier(const qattn_logit_rules *r, const float *logits)
{
    float text_max = -INFINITY, ts_max = -INFINITY;
    for (int32_t i = 0; i < r->ts_begin; i++)
        text_max = logits[i] > text_max ? logits[i] : text_max;
    for (int32_t i = r->ts_begin; i <= r->ts_end; i++)
        ts_max = logits[i] > ts_max ? logits[i] : ts_max;
    if (ts_max == -INFINITY)
        return 0;
    double sum = 0;
    for (int32_t i = r->ts_begin; i <= r->ts_end; i++)
        sum += exp((double)logits[i] - ts_max);
    return (double)ts_max + log(sum) > (double)text_max;
}

static void timestamp_rules(const qattn_logit_rules *r, const int32_t *s, int32_t n, int prefixed,
                            float *logits)
{
    logits[r->no_timestamps] = -INFINITY;
    if (n == 0) { /* the first token is a timestamp, at most max_initial_ts (no prefix) */
        if (!prefixed) {
            forbid_range(logits, 0, r->ts_begin);
            forbid_range(logits, r->max_initial_ts + 1, r->ts_end + 1);
        }
        return;
    }
    const int32_t last = s[n - 1];
    if (last >= r->ts_begin) {
        const int32_t penultimate = n >= 2 ? s[n - 2] : last;
        if (penultimate >= r->ts_begin) { /* a pair closed: text or eot follows */
            forbid_range(logits, r->ts_begin, r->ts_end + 1);
            return;
        }
        /* a segment's end: a timestamp (not earlier) or eot follows */
        forbid_range(logits, 0, r->eot);
        forbid_range(logits, r->ts_begin, last);
    } else {
        for (int32_t t = n - 1; t >= 0; t--) /* timestamps never go back */
            if (s[t] >= r->ts_begin) {
                forbid_range(logits, r->ts_begin, s[t] + 1);
                break;
            }
    }
    if (timestamps_likelier(r, logits))
        forbid_range(logits, 0, r->ts_begin);
}

/* CTranslate2's penalize_previous_tokens: the logits of the tokens in seq read first, then
 * each written once from its read value (a repeated token is not penalized twice). */
static void repetition_penalty(const qattn_logit_rules *r, const int32_t *seq, int32_t n,
                               float *logits)
{
    const float penalty = r->repetition_penalty;
    for (int32_t i = 0; i < n; i++) {
        const int32_t t = seq[i];
        if (t < 0 || t >= r->n_vocab)
            continue;
        int seen = 0;
        for (int32_t j = 0; j < i && !seen; j++)
            seen = seq[j] == t;
        if (!seen)
            logits[t] = logits[t] < 0 ? logits[t] * penalty : logits[t] / penalty;
    }
}

/* CTranslate2's NoRepeatNgram: the tokens that followed each earlier occurrence of the last
 * size - 1 tokens are forbidden (size 1: every token already in seq). */
static void no_repeat_ngram(const qattn_logit_rules *r, const int32_t *seq, int32_t n, float *logits)
{
    const int32_t size = r->no_repeat_ngram_size;
    if (n < size)
        return;
    const int32_t *needle = seq + n - (size - 1);
    for (int32_t i = 0; i + size <= n; i++) {
        int32_t k = 0;
        while (k < size - 1 && seq[i + k] == needle[k])
            k++;
        if (k == size - 1 && seq[i + size - 1] >= 0 && seq[i + size - 1] < r->n_vocab)
            logits[seq[i + size - 1]] = -INFINITY;
    }
}

void qattn_logit_rules_apply(const qattn_logit_rules *r, const int32_t *sequence, int32_t n_sequence,
                             int32_t n_forced, float *logits)
{
    const int32_t *sampled = sequence + n_forced, n_sampled = n_sequence - n_forced;
    const int prefixed = n_forced > 0;
    if (r->repetition_penalty != 1)
        repetition_penalty(r, sequence, n_sequence, logits);
    if (r->no_repeat_ngram_size > 0)
        no_repeat_ngram(r, sequence, n_sequence, logits);
    forbid_list(r, logits, r->suppress, r->n_suppress);
    if (n_sampled == 0)
        forbid_list(r, logits, r->suppress_begin, r->n_suppress_begin);
    if (r->timestamps)
        timestamp_rules(r, sampled, n_sampled, prefixed, logits);
}

double qattn_log_softmax(float *x, int32_t n)
{
    /* LANES running maxima and sums in a fixed order (a sequential reduction does not
     * vectorize): e^(x - max) in float (qattn_exp_nonpositive, 1e-7 relative), summed in
     * double. The search runs it on every beam's whole vocabulary at every step: libm's exp
     * there was a fifth of a beam search's instructions (callgrind, tiny.en). */
    enum { LANES = 8 };
    float lane_max[LANES];
    int32_t i = 0;
    for (int l = 0; l < LANES; l++)
        lane_max[l] = -INFINITY;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            lane_max[l] = x[i + l] > lane_max[l] ? x[i + l] : lane_max[l];
    float mx = -INFINITY;
    for (int l = 0; l < LANES; l++)
        mx = lane_max[l] > mx ? lane_max[l] : mx;
    for (; i < n; i++)
        mx = x[i] > mx ? x[i] : mx;
    double lane_sum[LANES] = {0};
    for (i = 0; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            lane_sum[l] += qattn_exp_nonpositive(x[i + l] - mx);
    double sum = 0;
    for (int l = 0; l < LANES; l++)
        sum += lane_sum[l];
    for (; i < n; i++)
        sum += qattn_exp_nonpositive(x[i] - mx);
    const double norm = (double)mx + log(sum);
    for (i = 0; i < n; i++)
        x[i] = (float)((double)x[i] - norm);
    return norm;
}
