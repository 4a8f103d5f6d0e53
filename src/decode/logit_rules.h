/*
 * The logit filters of Whisper decoding, applied to one sequence's logits before each token is
 * chosen (docs/whisper-facts.md, "Logit filters"; the order and the branches of CTranslate2's
 * src/models/whisper.cc ApplyTimestampRules and src/decoding_utils.cc SuppressTokens*, which
 * faster-whisper runs; openai/whisper decoding.py ApplyTimestampRules is the same up to where
 * the "timestamps are likelier" test is made). A forbidden token's logit becomes -inf.
 */
#ifndef QATTN_DECODE_LOGIT_RULES_H
#define QATTN_DECODE_LOGIT_RULES_H

#include <stdint.h>

typedef struct qattn_logit_rules {
    int32_t n_vocab;
    const int32_t *suppress;       /* always forbidden (the model's suppress_ids and specials) */
    int32_t n_suppress;
    const int32_t *suppress_begin; /* forbidden at the first sampled token (blank, eot) */
    int32_t n_suppress_begin;
    int timestamps;                /* the timestamp rules (no <|notimestamps|> in the prompt) */
    int32_t eot, no_timestamps;
    int32_t ts_begin, ts_end;      /* <|0.00|> and the vocabulary's last id */
    int32_t max_initial_ts;        /* the latest timestamp allowed first (ts_begin + 50: 1 s) */
    /* CTranslate2's RepetitionPenalty and NoRepeatNgram (src/decoding_utils.cc), over the
     * sequence after the prompt (a forced prefix included): each token in it once, its logit
     * x made x / penalty (x >= 0) or x * penalty (x < 0); a token that would end an n-gram
     * the sequence holds already, forbidden. They come first, so the timestamp rules weigh
     * the penalized logits. 1 and 0: off. */
    float repetition_penalty;
    int32_t no_repeat_ngram_size;
} qattn_logit_rules;

/* Filters logits [n_vocab] given the sequence so far after the prompt: its first n_forced
 * tokens a forced prefix (CTranslate2's sample_begin: then the first sampled token is not held
 * to the initial-timestamp rule), the rest sampled. */
void qattn_logit_rules_apply(const qattn_logit_rules *rules, const int32_t *sequence,
                             int32_t n_sequence, int32_t n_forced, float *logits);

/* log_softmax in place: e^(x - max) in float within 1e-7 (qattn_exp_nonpositive), summed in
 * double, x - norm in double rounded to float (-inf stays -inf); returns the log normalizer. */
double qattn_log_softmax(float *x, int32_t n);

#endif
