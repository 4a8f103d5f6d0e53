/*
 * `qattn bench encoder [--json] [--threads N] [--repeats R] [--size NAME]`: median time of one
 * 30 s window (3000 mel frames) through random-weight encoders of Whisper's tiny, base and
 * large-v3 shapes, f32 and int8 on every supported tier (the scalar tier on tiny only: it is
 * the reference, not a speed path), 1 and 2 threads; the peak resident memory of each
 * configuration (each runs in a child process of its own) and the split by stage.
 * A benchmark: nothing is asserted.
 */
#define _DEFAULT_SOURCE /* wait4 */
#include "bench/bench_encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/options.h"
#include "bench/peak.h"
#include "core/tiers.h"
#include "testing/random_encoder.h"
#include "whisper/encoder_stages.h"

typedef struct size_spec {
    const char *name;
    whisper_config cfg; /* n_mels, n_ctx, n_state, n_heads, n_layers, n_ffn, n_text_heads */
    const char *model;  /* a model to load (--model), or NULL for random weights */
} size_spec;

static const size_spec sizes[] = {
    {"tiny", {80, 1500, 384, 6, 4, 1536, 6}, NULL},
    {"base", {80, 1500, 512, 8, 6, 2048, 8}, NULL},
    {"large-v3", {128, 1500, 1280, 20, 32, 5120, 20}, NULL},
};

typedef struct result {
    int ok;
    double ms;                              /* median */
    double stage_ms[QATTN_STAGE_COUNT];   /* mean over the timed runs */
    double stage_gmac[QATTN_STAGE_COUNT]; /* the products' MACs of one window per stage */
    long max_rss_kb;
} result;

/* The multiply-accumulates of one window by stage (Whisper's n_ffn = 4 n_state in every
 * size): conv1 over 2 n_ctx frames of 3 n_mels, conv2 over n_ctx of 3 d; per layer q, k, v
 * and out (4 d^2 per token), QK^T and P.V (2 n_ctx^2 d), fc1 and fc2 (8 d^2 per token). */
static void stage_macs(const qattn_encoder_info *in, double *gmac)
{
    const double n = in->n_ctx, d = in->n_state, layers = in->n_layers;
    memset(gmac, 0, QATTN_STAGE_COUNT * sizeof *gmac);
    gmac[QATTN_STAGE_CONV] = (2 * n * 3 * in->n_mels * d + n * 3 * d * d) * 1e-9;
    gmac[QATTN_STAGE_PROJ] = layers * n * 4 * d * d * 1e-9;
    gmac[QATTN_STAGE_ATTENTION] = layers * 2 * n * n * d * 1e-9;
    gmac[QATTN_STAGE_MLP] = layers * n * 8 * d * d * 1e-9;
}

static const char *const stage_names[QATTN_STAGE_COUNT] = {"conv", "qkv/out", "attention",
                                                            "mlp", "norm/gelu"};

/* The observer that times the stages: each stage_done adds the time since the last mark. */
typedef struct stage_clock {
    double *stage_ms, mark;
} stage_clock;

static int stage_done(void *ctx, qattn_encoder_stage stage)
{
    stage_clock *c = ctx;
    double t = bench_now();
    c->stage_ms[stage] += (t - c->mark) * 1e3;
    c->mark = t;
    return 0; /* never stops the run */
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* In the child: build, warm up, time. */
static result measure(const size_spec *sz, qattn_precision precision, qattn_isa isa,
                      int threads, int repeats)
{
    result r;
    memset(&r, 0, sizeof r);
    qattn_encoder_params p = qattn_encoder_default_params();
    p.precision = precision, p.threads = threads, p.isa = isa;
    struct qattn_encoder *enc;
    if (sz->model ? qattn_encoder_load(sz->model, &p, &enc) != QATTN_OK
                  : qattn_encoder_random(&sz->cfg, &p, 1, &enc) != QATTN_OK)
        return r;
    qattn_encoder_info info;
    info.struct_size = sizeof info;
    qattn_encoder_get_info(enc, &info); /* the shape of a loaded model is its own */
    stage_macs(&info, r.stage_gmac);
    size_t n_mel = (size_t)info.n_mels * 2 * info.n_ctx;
    float *mel = malloc(n_mel * sizeof(float));
    float *out = malloc((size_t)info.n_ctx * info.n_state * sizeof(float));
    double ms[32];
    if (mel && out) {
        for (size_t i = 0; i < n_mel; i++)
            mel[i] = (float)((i * 2654435761u) % 1000) / 1000.0f - 0.5f;
        r.ok = qattn_encoder_run(enc, mel, 1, out) == QATTN_OK;
        for (int i = 0; r.ok && i < repeats; i++) {
            double t = bench_now();
            stage_clock clock = {r.stage_ms, t};
            qattn_stage_observer obs = {stage_done, &clock};
            r.ok = qattn_encoder_run_observed(enc, mel, 1, out, &obs) == QATTN_OK;
            ms[i] = (bench_now() - t) * 1e3;
        }
    }
    if (r.ok) {
        qsort(ms, (size_t)repeats, sizeof *ms, cmp_double);
        r.ms = repeats % 2 ? ms[repeats / 2] : 0.5 * (ms[repeats / 2 - 1] + ms[repeats / 2]);
        for (int s = 0; s < QATTN_STAGE_COUNT; s++)
            r.stage_ms[s] /= repeats;
    }
    free(mel), free(out);
    qattn_encoder_free(enc);
    return r;
}

/* One configuration in a child process, so its peak resident memory is its own. */
static result run_child(const size_spec *sz, qattn_precision precision, qattn_isa isa,
                        int threads, int repeats)
{
    result r;
    memset(&r, 0, sizeof r);
    int fd[2];
    if (pipe(fd) != 0)
        return r;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        result mine = measure(sz, precision, isa, threads, repeats);
        ssize_t w = write(fd[1], &mine, sizeof mine);
        _exit(w == (ssize_t)sizeof mine ? 0 : 1);
    }
    close(fd[1]);
    if (pid < 0) {
        close(fd[0]);
        return r;
    }
    ssize_t got = read(fd[0], &r, sizeof r);
    close(fd[0]);
    int status;
    struct rusage usage;
    if (wait4(pid, &status, 0, &usage) == pid && got == (ssize_t)sizeof r && WIFEXITED(status) &&
        WEXITSTATUS(status) == 0)
        r.max_rss_kb = usage.ru_maxrss;
    else
        r.ok = 0;
    return r;
}

/* A stage's share of `threads` cores' peak (GMAC/s per core), or -1 where it has no products. */
static double share(const result *r, int s, int threads, double peak_gmacs)
{
    if (r->stage_gmac[s] <= 0 || r->stage_ms[s] <= 0 || peak_gmacs <= 0)
        return -1;
    return r->stage_gmac[s] / (r->stage_ms[s] * 1e-3) / (threads * peak_gmacs);
}

static void print_result(int json, int *first, const size_spec *sz, const char *precision,
                         const char *tier, int threads, const result *r, double f32_ms,
                         double peak_gmacs)
{
    /* f32 over this, where f32 ran in the same run (not with --tier): else "-" / null */
    const double ratio = f32_ms > 0 && r->ms > 0 ? f32_ms / r->ms : 0.0;
    char ratio_text[32] = "null";
    if (ratio > 0)
        snprintf(ratio_text, sizeof ratio_text, "%.3f", ratio);
    if (json) {
        printf("%s\n  {\"size\": \"%s\", \"precision\": \"%s\", \"tier\": \"%s\", \"threads\": %d, "
               "\"ok\": %s, \"ms\": %.2f, \"peak_rss_mb\": %.1f, \"f32_over_this\": %s, \"stages_ms\": {",
               *first ? "" : ",", sz->name, precision, tier, threads, r->ok ? "true" : "false",
               r->ms, r->max_rss_kb / 1024.0, ratio_text);
        for (int s = 0; s < QATTN_STAGE_COUNT; s++)
            printf("%s\"%s\": %.2f", s ? ", " : "", stage_names[s], r->stage_ms[s]);
        printf("}, \"stages_share_of_peak\": {");
        for (int s = 0, shown = 0; s < QATTN_STAGE_COUNT; s++)
            if (share(r, s, threads, peak_gmacs) >= 0)
                printf("%s\"%s\": %.3f", shown++ ? ", " : "", stage_names[s],
                       share(r, s, threads, peak_gmacs));
        printf("}}");
    } else if (!r->ok) {
        printf("%-9s %-5s %-11s %3d   failed (out of memory?)\n", sz->name, precision, tier, threads);
    } else {
        printf("%-9s %-5s %-11s %3d %9.1f %8.1f ", sz->name, precision, tier, threads, r->ms,
               r->max_rss_kb / 1024.0);
        if (ratio > 0)
            printf("%7.2fx |", ratio);
        else
            printf("%8s |", "-");
        for (int s = 0; s < QATTN_STAGE_COUNT; s++)
            printf(" %8.1f", r->stage_ms[s]);
        printf("\n");
        if (peak_gmacs > 0) {
            printf("%47s|", "share of the int8 peak");
            for (int s = 0; s < QATTN_STAGE_COUNT; s++) {
                double x = share(r, s, threads, peak_gmacs);
                if (x >= 0)
                    printf(" %7.1f%%", 100 * x);
                else
                    printf(" %8s", "-");
            }
            printf("\n");
        }
    }
    fflush(stdout);
    *first = 0;
}

int bench_encoder_main(int argc, char **argv)
{
    bench_options o = bench_options_default(3);
    const char *only = NULL, *model = NULL;
    cli_option options[BENCH_OPTIONS + 2] = {{"size", 0, CLI_STRING, &only, 0, 0, NULL, NULL},
                                             CLI_MODEL(&model)};
    bench_options_table(&o, 32, options + 2);
    int help;
    if (cli_parse_options("bench encoder", argc, argv, options, CLI_COUNT(options), &help))
        return 2;
    if (help) {
        printf("usage: qattn bench encoder [--json] [-t N] [--repeats R] [--size NAME]\n"
               "                          [-m PATH] [--tier NAME]\n"
               "One 30 s window through random-weight encoders (tiny, base, large-v3), or\n"
               "through the model at PATH (any format qattn loads), f32 and int8 per\n"
               "supported tier (scalar on tiny only), 1 and 2 threads (or N; 0 = one per CPU);\n"
               "median ms of R runs (default 3), peak resident memory per configuration\n"
               "(loading included), f32 time over this time, the mean split by stage, and for\n"
               "int8 each stage's products (MACs) per second as a share of the tier's int8\n"
               "peak measured now (one core's peak times the threads). --tier: int8 on that\n"
               "tier only (scalar, avx2, avx512vnni, amx), no f32 baseline.\n");
        return 0;
    }
    if (!bench_options_finish(&o, "bench encoder"))
        return 2;
    const int tier_only = o.tier != QATTN_ISA_AUTO ? o.tier : -1;
    int first = 1, matched = 0;
    if (o.json)
        printf("{\"encoder_runs\": [");
    else {
        printf("%-9s %-5s %-11s %3s %9s %8s %8s |", "size", "prec", "tier", "thr", "ms", "RSS MB",
               "f32/x");
        for (int s = 0; s < QATTN_STAGE_COUNT; s++)
            printf(" %8s", stage_names[s]);
        printf("   (stage ms)\n");
    }
    size_spec loaded = {NULL, {0, 0, 0, 0, 0, 0, 0}, model};
    if (model) { /* the model's own shape: read once here, so a bad path fails fast */
        qattn_encoder *probe = NULL;
        qattn_encoder_params p = qattn_encoder_default_params();
        p.precision = QATTN_PRECISION_F32;
        if (qattn_encoder_load(model, &p, &probe) != QATTN_OK) {
            fprintf(stderr, "qattn bench encoder: %s\n", qattn_last_error());
            return 1;
        }
        qattn_encoder_free(probe);
        loaded.name = "model";
    }
    const size_t n_sizes = model ? 1 : sizeof sizes / sizeof *sizes;
    for (size_t si = 0; si < n_sizes; si++) {
        const size_spec *sz = model ? &loaded : &sizes[si];
        if (!model && only && strcmp(only, sz->name) != 0)
            continue;
        matched = 1;
        double f32_ms[2] = {0, 0};
        for (int ti = 0; tier_only < 0 && ti < o.n_threads; ti++) {
            result r = run_child(sz, QATTN_PRECISION_F32, QATTN_ISA_AUTO, o.threads[ti], o.repeats);
            f32_ms[ti] = r.ok ? r.ms : 0;
            print_result(o.json, &first, sz, "f32", "openblas", o.threads[ti], &r, 0, 0);
        }
        for (int ti = qattn_tier_count() - 1; ti >= 0; ti--) { /* lowest tier first */
            const qattn_isa t = qattn_tier_at(ti);
            if (!qattn_isa_supported(t) || (tier_only >= 0 && (int)t != tier_only) ||
                (tier_only < 0 && t == QATTN_ISA_SCALAR && (si > 0 || model)))
                continue;
            const double peak = bench_peak_of(t) * 1e-9; /* GMAC/s, one core, now */
            for (int ti = 0; ti < o.n_threads; ti++) {
                result r = run_child(sz, QATTN_PRECISION_INT8, t, o.threads[ti], o.repeats);
                print_result(o.json, &first, sz, "int8", qattn_isa_name(t), o.threads[ti], &r,
                             f32_ms[ti], peak);
            }
        }
    }
    if (o.json)
        printf("\n]}\n");
    if (!matched) {
        fprintf(stderr, "qattn bench encoder: no size named '%s'\n", only);
        return 2;
    }
    return 0;
}
