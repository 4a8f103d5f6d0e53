/*
 * `qattn bench decoder --model PATH [--json] [--threads N] [--repeats R] [--tokens T]`: the
 * Whisper decoder's loop as greedy decoding runs it, through the public API: begin (one
 * window's cross-attention keys and values), a 3-token prompt, then T tokens one step at a
 * time (default 200; each step's logits over the whole vocabulary). f32 and int8 on every
 * supported tier, 1 and 2 threads (or N); medians over R runs.
 *
 * A step reads every weight the decoder has but the cross-attention's K/V projections (those
 * run once per window in begin): 11 d^2 per layer (self q, k, v, out; cross q, out; fc1, fc2 at
 * 4 d each) and the vocabulary projection n_vocab d, at 1 byte (int8) or 4 (f32). The table
 * shows those bytes over the step time beside the rate at which the same threads read a buffer
 * of that size, measured now (from the cache level the weights live in: L3 for tiny and base
 * on a server CPU, memory on a laptop): a step at 100% is at the limit of streaming its
 * weights once.
 * A benchmark: nothing is asserted.
 */
#include "bench/bench_decoder.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/decoder_profile.h"
#include "bench/median.h"
#include "bench/options.h"
#include "bench/peak.h"
#include "core/tiers.h"

typedef struct result {
    int ok;
    double begin_ms, token_ms; /* medians: begin; one single-token step (mean over T) */
} result;

/* Encoder output stand-in: a fixed pseudo-random window (the decoder's time does not depend on
 * the values), about unit scale as a trained encoder's LayerNorm output is. */
static float *stand_in_features(const qattn_decoder_info *in, int32_t n_audio)
{
    const size_t n = (size_t)n_audio * (size_t)in->n_state;
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; f && i < n; i++)
        f[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
    return f;
}

/* Text tokens to feed: ids spread over the vocabulary's first 50000 (plain text in every
 * Whisper vocabulary), the same sequence on every run. */
static int32_t token_at(int32_t i)
{
    return 200 + (int32_t)(((uint32_t)i * 7919u) % 49000u);
}

static result measure(const char *model, qattn_precision precision, qattn_isa isa, int threads,
                      int repeats, int tokens)
{
    result r = {0, 0, 0};
    qattn_encoder_params p = qattn_encoder_default_params();
    p.precision = precision, p.threads = threads, p.isa = isa;
    qattn_decoder *dec = NULL;
    if (qattn_decoder_load(model, &p, &dec) != QATTN_OK)
        return r;
    qattn_decoder_info in;
    in.struct_size = sizeof in;
    qattn_decoder_get_info(dec, &in);
    const int32_t n_audio = 1500;
    float *features = stand_in_features(&in, n_audio);
    float *logits = malloc((size_t)in.n_vocab * sizeof *logits);
    double begin_ms[32], token_ms[32];
    const int32_t prompt[3] = {token_at(0), token_at(1), token_at(2)};
    if (tokens > in.n_text_ctx - 3)
        tokens = in.n_text_ctx - 3;
    r.ok = features && logits;
    for (int rep = -1; r.ok && rep < repeats; rep++) { /* run -1: the warm-up */
        qattn_decoder_state *st = NULL;
        double t0 = bench_now();
        r.ok = qattn_decoder_begin(dec, features, n_audio, &st) == QATTN_OK &&
               qattn_decoder_step(st, prompt, 3, logits) == QATTN_OK;
        double t1 = bench_now();
        for (int32_t i = 0; r.ok && i < tokens; i++) {
            const int32_t tok = token_at(3 + i);
            r.ok = qattn_decoder_step(st, &tok, 1, logits) == QATTN_OK;
        }
        double t2 = bench_now();
        qattn_decoder_state_free(st);
        if (rep >= 0)
            begin_ms[rep] = (t1 - t0) * 1e3, token_ms[rep] = (t2 - t1) * 1e3 / tokens;
    }
    if (r.ok)
        r.begin_ms = bench_median(begin_ms, repeats), r.token_ms = bench_median(token_ms, repeats);
    free(features), free(logits);
    qattn_decoder_free(dec);
    return r;
}

typedef struct read_job {
    const uint64_t *buf;
    size_t n;
    uint64_t sum;
} read_job;

static void *read_part(void *arg)
{
    read_job *j = arg;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= j->n; i += 4)
        s0 += j->buf[i], s1 += j->buf[i + 1], s2 += j->buf[i + 2], s3 += j->buf[i + 3];
    j->sum = s0 + s1 + s2 + s3;
    return NULL;
}

/* GB/s at which `threads` threads read a buffer of `bytes` (the step's weights: the same place
 * in the cache hierarchy as the decoder's), each its own part; the best of 5 passes after one
 * that warms it. */
static double read_bandwidth_gbs(size_t bytes, int threads)
{
    const size_t n = bytes / sizeof(uint64_t) / 4 * 4;
    uint64_t *buf = malloc(n * sizeof *buf);
    if (!buf || threads < 1 || threads > 64) {
        free(buf);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        buf[i] = i;
    double best = 0;
    uint64_t sink = 0;
    for (int rep = -1; rep < 5; rep++) {
        read_job jobs[64];
        pthread_t tid[64];
        char started[64] = {0};
        const size_t part = n / (size_t)threads / 4 * 4;
        double t = bench_now();
        for (int k = 0; k < threads; k++) {
            jobs[k] = (read_job){buf + (size_t)k * part, k + 1 == threads ? n - (size_t)k * part : part, 0};
            if (k > 0 && pthread_create(&tid[k], NULL, read_part, &jobs[k]) == 0)
                started[k] = 1;
            else if (k > 0)
                read_part(&jobs[k]);
        }
        read_part(&jobs[0]);
        for (int k = 1; k < threads; k++)
            if (started[k])
                pthread_join(tid[k], NULL);
        t = bench_now() - t;
        for (int k = 0; k < threads; k++)
            sink += jobs[k].sum;
        if (rep >= 0 && t > 0 && n * sizeof *buf / t * 1e-9 > best)
            best = n * sizeof *buf / t * 1e-9;
    }
    free(buf);
    return sink == 1 ? 0 : best; /* (the sums read, so the loads stay) */
}

static void print_result(int json, int *first, const char *precision, const char *tier,
                         int threads, const result *r, double step_mb, double bandwidth)
{
    const double gbs = r->ok && r->token_ms > 0 ? step_mb * 1e-3 / (r->token_ms * 1e-3) : 0;
    if (json)
        printf("%s\n  {\"precision\": \"%s\", \"tier\": \"%s\", \"threads\": %d, \"ok\": %s, "
               "\"begin_ms\": %.3f, \"token_ms\": %.3f, \"tokens_per_s\": %.1f, "
               "\"weight_mb_per_token\": %.2f, \"weight_gb_per_s\": %.2f}",
               *first ? "" : ",", precision, tier, threads, r->ok ? "true" : "false",
               r->begin_ms, r->token_ms, r->token_ms > 0 ? 1e3 / r->token_ms : 0, step_mb, gbs);
    else if (!r->ok)
        printf("%-5s %-11s %3d   failed\n", precision, tier, threads);
    else
        printf("%-5s %-11s %3d %9.2f %9.3f %9.1f %9.1f %8.1f %6.0f%%\n", precision, tier, threads,
               r->begin_ms, r->token_ms, 1e3 / r->token_ms, step_mb, gbs,
               bandwidth > 0 ? 100 * gbs / bandwidth : 0);
    fflush(stdout);
    *first = 0;
}

int bench_decoder_main(int argc, char **argv)
{
    bench_options o = bench_options_default(3);
    int tokens = 200, profile = 0, beams = 5;
    const char *model = NULL;
    cli_option options[BENCH_OPTIONS + 4] = {{"tokens", 0, CLI_INT, &tokens, 1, 448, NULL, NULL},
                                             CLI_MODEL(&model),
                                             {"profile", 0, CLI_FLAG, &profile, 0, 0, NULL, NULL},
                                             {"beams", 0, CLI_INT, &beams, 1, 64, NULL, NULL}};
    bench_options_table(&o, 32, options + 4);
    int help;
    if (cli_parse_options("bench decoder", argc, argv, options, CLI_COUNT(options), &help))
        return 2;
    if (help) {
        printf("usage: qattn bench decoder -m PATH [--json] [-t N] [--repeats R] [--tokens T]\n"
               "                          [--tier NAME] [--profile [--beams B]]\n"
               "The decoder's loop as greedy decoding runs it (public API): begin on one\n"
               "window (cross-attention K/V), a 3-token prompt, then T single-token steps\n"
               "(default 200), f32 and int8 per supported tier (or --tier's alone), 1 and 2\n"
               "threads (or N; 0 = one per CPU); medians of R runs (default 3). Columns: begin\n"
               "ms, ms per token, tokens/s, the weights one step reads (MB), those bytes over\n"
               "the step time (GB/s) and that as a share of the rate the same threads read a\n"
               "buffer of that size.\n"
               "--profile: instead, int8 on the best tier (or --tier's), where a step's time\n"
               "goes by stage (embeddings, self-attention's QKV GEMM, attention and output\n"
               "GEMM, cross-attention's, the MLP, the logits, and the search's log-softmax of\n"
               "each row), for 1 sequence and for B side by side as beam search steps them\n"
               "(default 5).\n");
        return 0;
    }
    if (!bench_options_finish(&o, "bench decoder"))
        return 2;
    if (!model)
        return cli_usage_error("bench decoder", "--model PATH is needed (a decoder has no random "
                                                "stand-in)");
    qattn_decoder *probe = NULL;
    if (qattn_decoder_load(model, NULL, &probe) != QATTN_OK) { /* fail fast on a bad path */
        fprintf(stderr, "qattn bench decoder: %s\n", qattn_last_error());
        return 1;
    }
    qattn_decoder_info in;
    in.struct_size = sizeof in;
    qattn_decoder_get_info(probe, &in);
    qattn_decoder_free(probe);
    if (profile) {
        qattn_isa best = QATTN_ISA_SCALAR;
        for (int t = 0; t < qattn_tier_count(); t++) /* the best tier wanted */
            if (bench_tier_wanted(&o, qattn_tier_at(t))) {
                best = qattn_tier_at(t);
                break;
            }
        printf("model %s: %d layers, d %d, vocabulary %d; %d tokens a run, medians of %d runs\n",
               model, in.n_layers, in.n_state, in.n_vocab, tokens, o.repeats);
        for (int ti = 0; ti < o.n_threads; ti++)
            if (!bench_decoder_profile(model, best, o.threads[ti], o.repeats, tokens, beams,
                                       token_at, stand_in_features)) {
                fprintf(stderr, "qattn bench decoder: %s\n", qattn_last_error());
                return 1;
            }
        return 0;
    }
    const double d = in.n_state, weights = 11.0 * d * d * in.n_layers + (double)in.n_vocab * d;
    double bw[2][2]; /* [int8, f32][thread choice]: reading the step's weights, GB/s */
    for (int ti = 0; ti < o.n_threads; ti++)
        for (int f = 0; f < 2; f++)
            bw[f][ti] = read_bandwidth_gbs((size_t)(weights * (f ? 4 : 1)), o.threads[ti]);
    int first = 1;
    if (o.json) {
        printf("{\"weights_read_gbs\": [");
        for (int ti = 0; ti < o.n_threads; ti++)
            printf("%s{\"threads\": %d, \"int8\": %.2f, \"f32\": %.2f}", ti ? ", " : "",
                   o.threads[ti], bw[0][ti], bw[1][ti]);
        printf("], \"decoder_runs\": [");
    } else {
        printf("model %s: %d layers, d %d, vocabulary %d; %d tokens a run\n"
               "reading a buffer the size of a step's weights (GB/s):", model, in.n_layers,
               in.n_state, in.n_vocab, tokens);
        for (int ti = 0; ti < o.n_threads; ti++)
            printf(" %d thread%s: int8 %.1f, f32 %.1f;", o.threads[ti], o.threads[ti] > 1 ? "s" : "",
                   bw[0][ti], bw[1][ti]);
        printf("\n%-5s %-11s %3s %9s %9s %9s %9s %8s %7s\n", "prec", "tier", "thr", "begin ms",
               "ms/token", "tokens/s", "MB/token", "GB/s", "of read");
    }
    for (int ti = 0; ti < o.n_threads; ti++) {
        result r = measure(model, QATTN_PRECISION_F32, QATTN_ISA_AUTO, o.threads[ti], o.repeats, tokens);
        print_result(o.json, &first, "f32", "openblas", o.threads[ti], &r, weights * 4 * 1e-6, bw[1][ti]);
    }
    for (int t = qattn_tier_count() - 1; t >= 0; t--) { /* lowest tier first */
        const qattn_isa isa = qattn_tier_at(t);
        if (!bench_tier_wanted(&o, isa) || isa == QATTN_ISA_SCALAR)
            continue;
        for (int ti = 0; ti < o.n_threads; ti++) {
            result r = measure(model, QATTN_PRECISION_INT8, isa, o.threads[ti], o.repeats, tokens);
            print_result(o.json, &first, "int8", qattn_isa_name(isa), o.threads[ti], &r,
                         weights * 1e-6, bw[0][ti]);
        }
    }
    if (o.json)
        printf("\n]}\n");
    return 0;
}
