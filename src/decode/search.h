/*
 * The search for one window's tokens (docs/whisper-facts.md, "Search"), as CTranslate2 runs it for
 * faster-whisper (src/decoding.cc GreedySearch, BeamSearch; src/sampling.cc):
 *  - greedy (beam_size 1, temperature 0): the likeliest token each step;
 *  - sampling (temperature > 0): best_of sequences drawn from softmax(logits / T) side by side;
 *  - beam search (beam_size > 1, temperature 0): 2 x beam candidates per step over every beam;
 *    a candidate ending in <|endoftext|> among the first beam_size is a finished hypothesis and
 *    its place goes to the next unfinished candidate; stop at round(beam_size x patience)
 *    hypotheses (or, with length_penalty 0, when the best beam ends).
 * Scores are sums of log-softmax of the filtered logits (the unscaled ones when sampling),
 * <|endoftext|> included; the winner has the largest score / length^length_penalty, length
 * without <|endoftext|>. The prompt is run once; the caches are shared until beams part.
 * A forced prefix (faster-whisper's `prefix`: CTranslate2 decodes prompt tokens after the
 * start sequence as a hard prefix, return_prefix on) starts every sequence with score 0: its
 * tokens count in the result and its length, not in the score; the logit rules see the tokens
 * after it; at the first free step of a beam search, <|endoftext|> among the candidates after
 * the first becomes a dead candidate (token 0, score -1e10: decoding.cc update_sample_with_prefix).
 */
#ifndef QATTN_DECODE_SEARCH_H
#define QATTN_DECODE_SEARCH_H

#include <stdatomic.h>

#include "decode/logit_rules.h"
#include "whisper/decoder.h"

typedef struct qattn_search_params {
    int32_t beam_size;    /* >= 1 */
    int32_t best_of;      /* sequences drawn when sampling, >= 1 */
    float patience;       /* > 0 */
    float length_penalty;
    float temperature;    /* 0: greedy or beam search */
    int32_t max_new;      /* tokens in the result at most, forced ones included */
    uint64_t seed;        /* sampling */
    int32_t n_forced;     /* the prompt's last n_forced tokens are a forced prefix */
} qattn_search_params;

typedef struct qattn_search_result {
    int32_t *tokens;      /* [max_new], the forced prefix first, without <|endoftext|> */
    int32_t n_tokens;
    double sum_logprob;   /* including <|endoftext|>'s */
    double score;         /* sum_logprob / n_tokens^length_penalty */
    float no_speech_prob; /* softmax of the raw logits at <|startoftranscript|>, <|nospeech|> */
} qattn_search_result;

typedef struct qattn_search qattn_search;

/* Workspace for windows decoded with up to max_seqs sequences (max(beam_size, best_of)) and
 * max_new tokens each, max_items windows side by side (a batch): allocated once, then no
 * allocation per window or token. */
qattn_status qattn_search_create(const qattn_decoder *dec, int32_t max_seqs, int32_t max_new,
                                 qattn_search **out);
qattn_status qattn_search_create_batch(const qattn_decoder *dec, int32_t max_items,
                                       int32_t max_seqs, int32_t max_new, qattn_search **out);
void qattn_search_free(qattn_search *search);

/* Every later decoder step first reads *cancel (set from any thread): nonzero, and the
 * search returns QATTN_CANCELLED (NULL: never). */
void qattn_search_set_cancel(qattn_search *search, const atomic_int *cancel);

/* The decoder steps this search has run in all (any thread may read it). */
long long qattn_search_steps(const qattn_search *search);

/* Sets the window (its encoder output: the cross-attention keys and values are computed here,
 * once for every search of the window), or n_windows of them, features[n_windows][n_audio][d]. */
qattn_status qattn_search_window(qattn_search *search, const float *features, int32_t n_audio);
qattn_status qattn_search_windows(qattn_search *search, const float *features, int32_t n_audio,
                                  int32_t n_windows);

/* Decodes after the prompt (sot_index: position of <|startoftranscript|> in it). The prompt's
 * pass is kept between calls on the same window with the same prompt (temperature fallback).
 * result->tokens must hold params->max_new ids. */
qattn_status qattn_search_run(qattn_search *search, const int32_t *prompt, int32_t n_prompt,
                              int32_t sot_index, int32_t no_speech, const qattn_logit_rules *rules,
                              const qattn_search_params *params, qattn_search_result *result);

/* A batch: items i < n_items each over window windows[i] after its own prompt
 * prompts[i][0 .. n_prompt) (the same length and sot_index for all), sampled from seeds[i]
 * (params->seed is not read), into results[i]. The items step through the decoder together
 * until the last is done; each one's result is what qattn_search_run gives it alone. */
qattn_status qattn_search_run_batch(qattn_search *search, const int32_t *windows, int32_t n_items,
                                    const int32_t *prompts, int32_t n_prompt, int32_t sot_index,
                                    int32_t no_speech, const qattn_logit_rules *rules,
                                    const qattn_search_params *params, const uint64_t *seeds,
                                    qattn_search_result *results);

/* The raw logits after the prompt's last token (language detection), [n_vocab]: over the one
 * window, or over each window of a batch (logits[n_windows] point into the search). */
qattn_status qattn_search_prompt_logits(qattn_search *search, const int32_t *prompt,
                                        int32_t n_prompt, const float **logits);
qattn_status qattn_search_batch_prompt_logits(qattn_search *search, const int32_t *prompt,
                                              int32_t n_prompt, const float **logits);

/* Word alignment over a window (whisper/decoder.h qattn_decoder_align), after its searches:
 * the kept prompt pass is forgotten (the next run passes its prompt again). */
qattn_status qattn_search_align(qattn_search *search, int32_t window, const int32_t *tokens,
                                int32_t n, const int32_t *heads, int32_t n_heads,
                                int32_t n_frames, float *scores, int32_t first, float *logits);

#endif
