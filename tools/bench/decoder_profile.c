/*
 * `qattn bench decoder --profile`: where a decoding step's time goes, stage by stage (the
 * decoder's stage observer, whisper/decoder.h), for one sequence (greedy) and for `beams`
 * sequences stepped side by side as a beam search runs them (their rows batched through
 * every GEMM), plus the search's log-softmax over each sequence's vocabulary row (what the
 * search runs on every row at every step; here on one thread). int8, one tier, `threads`
 * threads; T steps after a 3-token prompt, the median over R runs of each stage's total.
 * A benchmark: nothing is asserted.
 */
#include "bench/decoder_profile.h"

#include <stdio.h>
#include <stdlib.h>

#include "bench/median.h"
#include "bench/peak.h"
#include "decode/logit_rules.h"
#include "whisper/decoder.h"

enum { SEARCH = QATTN_DECODER_STAGE_COUNT, COLUMNS };

static const char *const NAMES[COLUMNS] = {"embed", "self qkv", "self attn", "self out",
                                           "cross q", "cross attn", "cross out", "mlp",
                                           "logits", "log-softmax"};

typedef struct clock_ctx {
    double last, total[COLUMNS];
} clock_ctx;

static void stage_done(void *ctx, qattn_decoder_stage stage)
{
    clock_ctx *c = ctx;
    const double now = bench_now();
    c->total[stage] += now - c->last;
    c->last = now;
}

/* One run: the per-stage totals (seconds) of `tokens` steps of `seqs` sequences. */
static int run_once(const qattn_decoder *dec, int32_t n_vocab, const float *features,
                    int32_t n_audio, int32_t seqs, int tokens, int32_t (*token_at)(int32_t),
                    float *logits, clock_ctx *c)
{
    qattn_decoder_state *st = NULL;
    const int32_t prompt[3] = {token_at(0), token_at(1), token_at(2)};
    int ok = qattn_decoder_begin_seqs(dec, features, n_audio, seqs, &st) == QATTN_OK &&
             qattn_decoder_step(st, prompt, 3, logits) == QATTN_OK;
    if (ok && seqs > 1) {
        int32_t parents[64] = {0};
        qattn_decoder_reorder(st, parents, seqs);
    }
    qattn_decoder_observer observer = {stage_done, c};
    if (ok)
        qattn_decoder_observe(st, &observer);
    for (int i = 0; ok && i < tokens; i++) {
        int32_t next[64];
        for (int32_t j = 0; j < seqs; j++)
            next[j] = token_at(3 + i + 7 * j);
        c->last = bench_now();
        ok = qattn_decoder_step_seqs(st, next, seqs, logits) == QATTN_OK;
        const double t = bench_now();
        for (int32_t j = 0; j < seqs; j++)
            qattn_log_softmax(logits + (size_t)j * n_vocab, n_vocab);
        c->total[SEARCH] += bench_now() - t;
    }
    qattn_decoder_state_free(st);
    return ok;
}

int bench_decoder_profile(const char *model, qattn_isa isa, int threads, int repeats,
                          int tokens, int32_t beams, int32_t (*token_at)(int32_t),
                          float *(*features_for)(const qattn_decoder_info *, int32_t))
{
    qattn_encoder_params p = qattn_encoder_default_params();
    p.precision = QATTN_PRECISION_INT8, p.threads = threads, p.isa = isa;
    qattn_decoder *dec = NULL;
    if (qattn_decoder_load(model, &p, &dec) != QATTN_OK)
        return 0;
    qattn_decoder_info in;
    in.struct_size = sizeof in;
    qattn_decoder_get_info(dec, &in);
    const int32_t n_audio = 1500;
    if (tokens > in.n_text_ctx - 3)
        tokens = in.n_text_ctx - 3;
    float *features = features_for(&in, n_audio);
    float *logits = malloc((size_t)beams * (size_t)in.n_vocab * sizeof *logits);
    int ok = features && logits && repeats >= 1 && repeats <= 32 && beams >= 1 && beams <= 64;
    const int32_t shapes[2] = {1, beams};
    for (int sh = 0; ok && sh < (beams > 1 ? 2 : 1); sh++) {
        double runs[COLUMNS][32];
        for (int rep = -1; ok && rep < repeats; rep++) { /* run -1: the warm-up */
            clock_ctx c = {0, {0}};
            ok = run_once(dec, in.n_vocab, features, n_audio, shapes[sh], tokens, token_at,
                          logits, &c);
            for (int k = 0; ok && rep >= 0 && k < COLUMNS; k++)
                runs[k][rep] = c.total[k] * 1e3 / tokens;
        }
        if (!ok)
            break;
        printf("int8 %s, %d thread%s, %d sequence%s a step: ms per step\n", qattn_isa_name(isa),
               threads, threads > 1 ? "s" : "", shapes[sh], shapes[sh] > 1 ? "s" : "");
        double total = 0, median_ms[COLUMNS];
        for (int k = 0; k < COLUMNS; k++) {
            median_ms[k] = bench_median(runs[k], repeats);
            total += median_ms[k];
        }
        for (int k = 0; k < COLUMNS; k++)
            printf("  %-12s %8.3f  %5.1f%%\n", NAMES[k], median_ms[k], 100 * median_ms[k] / total);
        printf("  %-12s %8.3f\n", "total", total);
    }
    free(features), free(logits);
    qattn_decoder_free(dec);
    return ok;
}
