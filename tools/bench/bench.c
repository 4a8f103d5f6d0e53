/*
 * `qattn bench [--json] [--threads N] [--repeats R]`: median time of each attention tier on
 * Whisper's self-attention shapes and a decoder-like causal shape, against a float32 baseline
 * (OpenBLAS sgemm + vectorized softmax) on the same inputs, with this machine's int8 peak
 * measured in the same run, and where one call's time goes. A benchmark: nothing is asserted.
 */
#include "bench/bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_decoder.h"
#include "bench/bench_encoder.h"
#include "bench/float_attention.h"
#include "bench/median.h"
#include "bench/options.h"
#include "bench/peak.h"
#include "bench/stages.h"
#include "core/cpu.h"
#include "core/tiers.h"
#include "qattn.h"

typedef struct shape {
    const char *name;
    int heads, len, d, causal;
} shape;

static const shape shapes[] = {
    {"whisper-tiny", 6, 1500, 64, 0},
    {"whisper-base", 8, 1500, 64, 0},
    {"whisper-large", 20, 1500, 64, 0},
    {"decoder-causal", 8, 448, 64, 1},
};
enum { SHAPES = sizeof shapes / sizeof *shapes, BASE_SHAPE = 1 };

typedef struct inputs {
    int8_t *q, *k, *v, *out;
    float *fq, *fk, *fv, *fout;
    float scales[4]; /* q, k, v, out */
} inputs;

/* Standard-normal inputs, quantized per tensor (max-abs); the float copies are the
 * dequantized values, so both paths see the same numbers. */
static int make_inputs(const shape *s, inputs *in)
{
    size_t n = (size_t)s->heads * s->len * s->d;
    in->q = malloc(n), in->k = malloc(n), in->v = malloc(n), in->out = malloc(n);
    in->fq = malloc(n * sizeof(float)), in->fk = malloc(n * sizeof(float));
    in->fv = malloc(n * sizeof(float)), in->fout = malloc(n * sizeof(float));
    if (!in->q || !in->k || !in->v || !in->out || !in->fq || !in->fk || !in->fv || !in->fout)
        return 0;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    float *f[3] = {in->fq, in->fk, in->fv};
    int8_t *q8[3] = {in->q, in->k, in->v};
    for (int t = 0; t < 3; t++) {
        float amax = 0.0f;
        for (size_t i = 0; i < n; i++) {
            double u1, u2;
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            u1 = ((double)(x >> 11) + 1.0) * 0x1.0p-53;
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            u2 = (double)(x >> 11) * 0x1.0p-53;
            f[t][i] = (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
            amax = fmaxf(amax, fabsf(f[t][i]));
        }
        in->scales[t] = amax / 127.0f;
        qattn_quantize_f32(f[t], n, in->scales[t], q8[t]);
        for (size_t i = 0; i < n; i++)
            f[t][i] = q8[t][i] * in->scales[t];
    }
    in->scales[3] = in->scales[2] * 0.5f;
    return 1;
}

static void free_inputs(inputs *in)
{
    free(in->q), free(in->k), free(in->v), free(in->out);
    free(in->fq), free(in->fk), free(in->fv), free(in->fout);
}

static double time_int8(const shape *s, inputs *in, qattn_isa isa, int threads, int repeats)
{
    enum { MAX_HEADS = 64 }; /* per-head scale arrays below; the shapes above use at most 20 */
    float sc[4][MAX_HEADS];
    if (s->heads > MAX_HEADS)
        return -1.0;
    for (int t = 0; t < 4; t++)
        for (int h = 0; h < s->heads; h++)
            sc[t][h] = in->scales[t];
    qattn_attention_desc d = qattn_attention_desc_default();
    d.heads = s->heads, d.len_q = d.len_k = s->len, d.head_dim = s->d, d.causal = s->causal;
    d.scale_q = sc[0], d.scale_k = sc[1], d.scale_v = sc[2], d.scale_out = sc[3];
    d.isa = isa, d.threads = threads;
    double ms[64];
    for (int r = -1; r < repeats; r++) { /* r = -1 warms up */
        double t = bench_now();
        if (qattn_attention_s8(&d, in->q, in->k, in->v, in->out) != QATTN_OK)
            return -1.0;
        if (r >= 0)
            ms[r] = (bench_now() - t) * 1e3;
    }
    return bench_median(ms, repeats);
}

static double time_float(const shape *s, inputs *in, int threads, int repeats)
{
    double ms[64];
    for (int r = -1; r < repeats; r++) {
        double t = bench_now();
        if (!bench_float_attention(in->fq, in->fk, in->fv, in->fout, s->heads, s->len, s->len,
                                   s->d, s->causal, threads))
            return -1.0;
        if (r >= 0)
            ms[r] = (bench_now() - t) * 1e3;
    }
    return bench_median(ms, repeats);
}

/* Multiply-accumulates of one call (both products; a causal call skips the masked half). */
static double macs(const shape *s)
{
    double pairs = s->causal ? (double)s->len * (s->len + 1) / 2 : (double)s->len * s->len;
    return 2.0 * s->heads * pairs * s->d;
}

static void cpu_model(char *buf, size_t size)
{
    snprintf(buf, size, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(buf, size, "%s", colon + 2);
            buf[strcspn(buf, "\n")] = '\0';
            break;
        }
    }
    fclose(f);
}

static int usage(FILE *to, int status)
{
    fprintf(to, "usage: qattn bench [--json] [--threads N] [--repeats R] [--shape NAME]\n"
                "       qattn bench encoder [--help]   (the Whisper encoder)\n"
                "       qattn bench decoder --model PATH [--help]   (the decoder's token loop)\n"
                "       qattn bench mel                (log-mel of 10 minutes of audio)\n"
                "Times every supported tier on Whisper self-attention shapes (tiny 6x1500x64,\n"
                "base 8x1500x64, large 20x1500x64) and a causal 8x448x64 decoder shape, with 1\n"
                "and 2 threads (or N), against a float32 OpenBLAS baseline on the same inputs;\n"
                "medians of R runs (default 5). Prints ms, GOP/s (2 ops per MAC), the share of\n"
                "this machine's int8 peak measured in the same run, float-time / int8-time,\n"
                "and the split of one base-shape call by stage. Shapes: whisper-tiny,\n"
                "whisper-base, whisper-large, decoder-causal.\n");
    return status;
}

/* `qattn bench mel`: Whisper's log-mel of 10 minutes of audio on one core. */
static int bench_mel(void)
{
    const size_t n = (size_t)QATTN_SAMPLE_RATE * 600;
    const int32_t n_mels[] = {80, 128};
    float *audio = malloc(n * sizeof(float));
    float *mel = malloc(128 * qattn_log_mel_frames(n) * sizeof(float));
    if (!audio || !mel) {
        free(audio), free(mel);
        fprintf(stderr, "qattn bench mel: out of memory\n");
        return 1;
    }
    uint64_t x = 88172645463325252ull;
    for (size_t i = 0; i < n; i++) { /* a tone in noise: the content does not change the work */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        audio[i] = 0.3f * sinf(0.05f * (float)(i % 100000)) + 0.05f * ((float)(x >> 40) / 16777216.0f - 0.5f);
    }
    for (int k = 0; k < 2; k++) {
        double ms[5];
        for (int r = -1; r < 5; r++) {
            double t = bench_now();
            if (qattn_log_mel(audio, n, n_mels[k], 1, mel) != QATTN_OK) {
                fprintf(stderr, "qattn bench mel: %s\n", qattn_last_error());
                free(audio), free(mel);
                return 1;
            }
            if (r >= 0)
                ms[r] = (bench_now() - t) * 1e3;
        }
        printf("log-mel, 10 min of 16 kHz audio, %d mels, 1 thread: %.1f ms (median of 5)\n",
               n_mels[k], bench_median(ms, 5));
    }
    free(audio), free(mel);
    return 0;
}

int bench_main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "encoder") == 0)
        return bench_encoder_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "decoder") == 0)
        return bench_decoder_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "mel") == 0)
        return bench_mel();
    bench_options o = bench_options_default(5);
    const char *only = NULL;
    cli_option options[BENCH_OPTIONS + 1] = {{"shape", 0, CLI_STRING, &only, 0, 0, NULL, NULL}};
    bench_options_table(&o, 64, options + 1);
    int help;
    if (cli_parse_options("bench", argc, argv, options, CLI_COUNT(options), &help))
        return 2;
    if (help)
        return usage(stdout, 0);
    if (!bench_options_finish(&o, "bench"))
        return 2;
    qattn_isa active;
    if (qattn_isa_active(&active) != QATTN_OK) {
        fprintf(stderr, "qattn bench: %s\n", qattn_last_error());
        return 1;
    }
    /* the float baseline and the FMA peak loop are built for AVX2 + FMA: both must be there */
    int have_float = qattn_isa_supported(QATTN_ISA_AVX2) && qattn_cpu_get()->fma;
    char model[128];
    cpu_model(model, sizeof model);
    double peak[8] = {0}; /* by tier value */
    for (int ti = 0; ti < qattn_tier_count(); ti++)
        if (qattn_isa_supported(qattn_tier_at(ti)))
            peak[qattn_tier_at(ti)] = bench_peak_of(qattn_tier_at(ti));
    double fma_peak = have_float ? bench_peak_fma_f32(20000000) : 0.0;

    if (o.json)
        printf("{\"machine\": \"%s\", \"peak_mac_per_s_per_core\": {\"scalar_sse2\": %.4g, "
               "\"avx2\": %.4g, \"avx512vnni\": %.4g, \"amx\": %.4g, \"fp32_fma\": %.4g}, \"runs\": [",
               model, peak[1], peak[2], peak[3], peak[4], fma_peak);
    else {
        printf("machine: %s\n", model);
        printf("peak per core (measured now): int8 sse2 %.1f, avx2 %.1f, avx512vnni %.1f, amx %.1f"
               " GMAC/s; fp32 FMA %.1f GFMA/s\n",
               peak[1] * 1e-9, peak[2] * 1e-9, peak[3] * 1e-9, peak[4] * 1e-9, fma_peak * 1e-9);
        printf("%-15s %-16s %-11s %3s %9s %8s %7s %9s %7s\n", "shape", "HxLxD", "tier", "thr",
               "ms", "GOP/s", "%peak", "float ms", "float/x");
    }
    int first = 1;
    int matched = 0;
    for (int si = 0; si < SHAPES; si++) {
        const shape *s = &shapes[si];
        if (only && strcmp(only, s->name) != 0)
            continue;
        matched = 1;
        inputs in = {0};
        if (!make_inputs(s, &in)) {
            free_inputs(&in);
            fprintf(stderr, "qattn bench: out of memory\n");
            return 1;
        }
        double float_ms[2] = {-1, -1};
        for (int ti = 0; ti < o.n_threads && have_float; ti++)
            float_ms[ti] = time_float(s, &in, o.threads[ti], o.repeats);
        for (int ti = qattn_tier_count() - 1; ti >= 0; ti--) { /* lowest tier first */
            const qattn_isa t = qattn_tier_at(ti);
            if (!bench_tier_wanted(&o, t))
                continue;
            for (int ti = 0; ti < o.n_threads; ti++) {
                int th = o.threads[ti];
                double ms = time_int8(s, &in, t, th, t == QATTN_ISA_SCALAR ? 3 : o.repeats);
                double gops = 2.0 * macs(s) / (ms * 1e-3) * 1e-9;
                double pct = peak[t] > 0 ? 100.0 * macs(s) / (ms * 1e-3) / (peak[t] * th) : 0.0;
                double ratio = float_ms[ti] > 0 ? float_ms[ti] / ms : 0.0;
                char dims[32];
                snprintf(dims, sizeof dims, "%dx%dx%d%s", s->heads, s->len, s->d, s->causal ? " causal" : "");
                if (o.json)
                    printf("%s\n  {\"shape\": \"%s\", \"dims\": \"%s\", \"tier\": \"%s\", \"threads\": %d, "
                           "\"ms\": %.3f, \"gops\": %.2f, \"peak_fraction\": %.4f, \"float_ms\": %.3f, "
                           "\"float_over_int8\": %.3f}",
                           first ? "" : ",", s->name, dims, qattn_isa_name(t), th, ms, gops,
                           pct / 100, float_ms[ti], ratio);
                else
                    printf("%-15s %-16s %-11s %3d %9.2f %8.1f %6.1f%% %9.2f %6.2fx\n", s->name,
                           dims, qattn_isa_name(t), th, ms, gops, pct, float_ms[ti], ratio);
                fflush(stdout);
                first = 0;
            }
        }
        if (si == BASE_SHAPE) { /* where one call's time goes, per fast tier */
            for (int ti = qattn_tier_count() - 1; ti >= 0; ti--) {
                const qattn_isa t = qattn_tier_at(ti);
                bench_stages st;
                if (t == QATTN_ISA_SCALAR || !qattn_isa_supported(t) ||
                    !bench_time_stages(t, in.q, in.k, in.v, s->heads, s->len, s->len, s->d, in.scales, &st))
                    continue;
                double total = time_int8(s, &in, t, 1, o.repeats);
                double rest = total - st.pack_ms - st.scores_ms - st.softmax_ms - st.pv_ms;
                if (o.json)
                    printf(",\n  {\"stages\": \"%s\", \"tier\": \"%s\", \"total_ms\": %.3f, \"pack_ms\": %.3f, "
                           "\"scores_ms\": %.3f, \"softmax_ms\": %.3f, \"pv_ms\": %.3f, \"rest_ms\": %.3f, "
                           "\"softmax_gscores_per_s\": %.3f, \"softmax_table\": %s}",
                           s->name, qattn_isa_name(t), total, st.pack_ms, st.scores_ms, st.softmax_ms,
                           st.pv_ms, rest, st.softmax_gscores, st.softmax_table ? "true" : "false");
                else
                    printf("  stages, %s, 1 thread, %.2f ms: pack %.2f, QK^T %.2f, softmax %.2f "
                           "(%.2f G scores/s%s), P.V %.2f, rest (rescale, accumulate, finish) %.2f\n",
                           qattn_isa_name(t), total, st.pack_ms, st.scores_ms, st.softmax_ms,
                           st.softmax_gscores, st.softmax_table ? ", table" : "", st.pv_ms, rest);
            }
        }
        free_inputs(&in);
    }
    if (o.json)
        printf("\n]}\n");
    if (!matched) {
        fprintf(stderr, "qattn bench: no shape named '%s'\n", only);
        return 2;
    }
    return 0;
}
