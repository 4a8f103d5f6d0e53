/*
 * Whisper's log-mel spectrogram (openai/whisper audio.py log_mel_spectrogram):
 *
 *   STFT: n_fft 400, hop 160, periodic Hann window, reflect padding of 200 on both sides
 *         (torch.stft center=True); the last frame dropped, so n // 160 frames
 *   power |X|^2 of the 201 bins; mel = filters (Slaney, librosa's mel(sr=16000, n_fft=400))
 *   log10(max(mel, 1e-10)); floor at (global max - 8); then (x + 4) / 4
 *
 * The FFT is FFTW's single-precision real transform, planned once per process and executed
 * with the new-array interface (thread-safe).
 */
#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/parallel.h"
#include "audio/mel.h"
#include "ops/float_ops.h"
#include "qattn.h"

#define N_FFT 400
#define HOP 160
#define N_BINS (N_FFT / 2 + 1)

static fftwf_plan plan;
static float window[N_FFT];
static pthread_once_t plan_once = PTHREAD_ONCE_INIT;

static void make_plan(void)
{
    float *in = fftwf_malloc(N_FFT * sizeof(float));
    fftwf_complex *out = fftwf_malloc(N_BINS * sizeof(fftwf_complex));
    if (in && out) /* FFTW_ESTIMATE: no timing runs, no overwritten arrays */
        plan = fftwf_plan_dft_r2c_1d(N_FFT, in, out, FFTW_ESTIMATE);
    fftwf_free(in);
    fftwf_free(out);
    for (int i = 0; i < N_FFT; i++) /* periodic: the denominator is N, not N - 1 */
        window[i] = (float)(0.5 - 0.5 * cos(2.0 * 3.14159265358979323846 * i / N_FFT));
}

/* --- The Slaney mel filter bank, as librosa computes it ---------------------------------- */

static double hz_to_mel(double hz)
{
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, logstep = log(6.4) / 27.0;
    return hz < min_log_hz ? hz / f_sp : min_log_hz / f_sp + log(hz / min_log_hz) / logstep;
}

static double mel_to_hz(double mel)
{
    const double f_sp = 200.0 / 3, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    return mel < min_log_mel ? mel * f_sp : min_log_hz * exp(logstep * (mel - min_log_mel));
}

qattn_status qattn_mel_filters(int32_t n_mels, float *filters)
{
    qattn_clear_error();
    if (!filters)
        return qattn_fail(QATTN_ERR_NULL, "mel_filters: filters is NULL");
    if (n_mels < 1 || n_mels > 512)
        return qattn_fail(QATTN_ERR_ARG, "mel_filters: n_mels = %d, must be in [1, 512]", n_mels);
    double *mel_f = malloc((size_t)(n_mels + 2) * sizeof(double));
    if (!mel_f)
        return qattn_fail(QATTN_ERR_NOMEM, "mel_filters: out of memory");
    const double top = hz_to_mel(QATTN_SAMPLE_RATE / 2.0);
    for (int32_t i = 0; i < n_mels + 2; i++)
        mel_f[i] = mel_to_hz(top * i / (n_mels + 1));
    for (int32_t m = 0; m < n_mels; m++) {
        double lo = mel_f[m + 1] - mel_f[m], hi = mel_f[m + 2] - mel_f[m + 1];
        double enorm = 2.0 / (mel_f[m + 2] - mel_f[m]);
        for (int32_t k = 0; k < N_BINS; k++) {
            double f = (double)QATTN_SAMPLE_RATE / 2.0 * k / (N_BINS - 1);
            double lower = (f - mel_f[m]) / lo, upper = (mel_f[m + 2] - f) / hi;
            double w = fmin(lower, upper);
            filters[(size_t)m * N_BINS + k] = (float)(w > 0.0 ? w * enorm : 0.0);
        }
    }
    free(mel_f);
    return QATTN_OK;
}

/* --- The spectrogram ------------------------------------------------------------------------ */

/* Sample i of the signal reflect-padded by N_FFT / 2 on both sides (torch's "reflect": the
 * edge sample is not repeated), the signal being n samples of which x holds those from
 * `base` on. n > N_FFT / 2 is required. */
static float padded(const float *x, size_t base, size_t n, int64_t i)
{
    i -= N_FFT / 2;
    if (i < 0)
        i = -i;
    if (i >= (int64_t)n)
        i = 2 * ((int64_t)n - 1) - i;
    return x[i - (int64_t)base];
}

typedef struct mel_job {
    const float *audio;
    size_t base, n;       /* audio[0] is sample `base` of a signal of n samples */
    size_t f0, frames;    /* frames [f0, f0 + frames) */
    int32_t n_mels;
    const float *filters; /* [n_mels][N_BINS] */
    const int32_t *first, *last; /* each filter's nonzero bins */
    float *out;           /* [n_mels][ld], log10 of the clamped mel power, from f0 */
    size_t ld;
    float *frame_max;     /* [tasks] */
} mel_job;

enum { FRAMES_PER_TASK = 512 };

static void mel_task(void *ctx, int64_t item, int worker)
{
    (void)worker;
    const mel_job *j = ctx;
    float *in = fftwf_malloc(N_FFT * sizeof(float));
    fftwf_complex *spec = fftwf_malloc(N_BINS * sizeof(fftwf_complex));
    float power[N_BINS], mx = -INFINITY;
    size_t f0 = (size_t)item * FRAMES_PER_TASK;
    size_t f1 = f0 + FRAMES_PER_TASK < j->frames ? f0 + FRAMES_PER_TASK : j->frames;
    for (size_t t = f0; in && spec && t < f1; t++) {
        const int64_t at = (int64_t)((j->f0 + t) * HOP);
        for (int i = 0; i < N_FFT; i++)
            in[i] = padded(j->audio, j->base, j->n, at + i) * window[i];
        fftwf_execute_dft_r2c(plan, in, spec);
        for (int k = 0; k < N_BINS; k++)
            power[k] = spec[k][0] * spec[k][0] + spec[k][1] * spec[k][1];
        for (int32_t m = 0; m < j->n_mels; m++) {
            const float *w = j->filters + (size_t)m * N_BINS;
            float s = 0.0f;
            for (int32_t k = j->first[m]; k <= j->last[m]; k++)
                s += w[k] * power[k];
            float v = log10f(s > 1e-10f ? s : 1e-10f);
            j->out[(size_t)m * j->ld + t] = v;
            mx = v > mx ? v : mx;
        }
    }
    j->frame_max[item] = in && spec ? mx : NAN;
    fftwf_free(in);
    fftwf_free(spec);
}

qattn_status qattn_log_mel_raw(const float *audio, size_t base, size_t n, size_t f0, size_t frames,
                               int32_t n_mels, int32_t threads, float *out, size_t ld,
                               float *max)
{
    pthread_once(&plan_once, make_plan);
    if (!plan)
        return qattn_fail(QATTN_ERR_NOMEM, "log_mel: FFTW could not plan the transform");
    *max = -INFINITY;
    if (frames == 0)
        return QATTN_OK;
    const int64_t tasks = (int64_t)((frames + FRAMES_PER_TASK - 1) / FRAMES_PER_TASK);
    float *filters = malloc((size_t)n_mels * N_BINS * sizeof(float));
    int32_t *first = malloc((size_t)n_mels * sizeof(int32_t) * 2);
    float *maxima = malloc((size_t)tasks * sizeof(float));
    qattn_status st = filters && first && maxima ? qattn_mel_filters(n_mels, filters)
                                                 : qattn_fail(QATTN_ERR_NOMEM, "log_mel: out of memory");
    if (st == QATTN_OK) {
        int32_t *last = first + n_mels;
        for (int32_t m = 0; m < n_mels; m++) {
            first[m] = N_BINS, last[m] = -1;
            for (int32_t k = 0; k < N_BINS; k++)
                if (filters[(size_t)m * N_BINS + k] != 0.0f) {
                    first[m] = first[m] < k ? first[m] : k;
                    last[m] = k;
                }
        }
        mel_job j = {audio, base, n, f0, frames, n_mels, filters, first, last, out, ld, maxima};
        qattn_parallel_for(qattn_workers_for(threads, tasks), tasks, mel_task, &j);
        for (int64_t i = 0; i < tasks; i++) {
            if (isnan(maxima[i]))
                st = qattn_fail(QATTN_ERR_NOMEM, "log_mel: out of memory");
            *max = maxima[i] > *max ? maxima[i] : *max;
        }
    }
    free(filters), free(first), free(maxima);
    return st;
}

void qattn_log_mel_normalize(const float *raw, size_t n, float max, float *out)
{
    const float floor_ = max - 8.0f;
    for (size_t i = 0; i < n; i++)
        out[i] = ((raw[i] > floor_ ? raw[i] : floor_) + 4.0f) / 4.0f;
}

size_t qattn_log_mel_frames(size_t samples)
{
    return samples / HOP;
}

qattn_status qattn_log_mel(const float *audio, size_t samples, int32_t n_mels, int32_t threads,
                           float *out)
{
    qattn_clear_error();
    if (!audio || !out)
        return qattn_fail(QATTN_ERR_NULL, "log_mel: %s is NULL", !audio ? "audio" : "out");
    if (n_mels < 1 || n_mels > 512)
        return qattn_fail(QATTN_ERR_ARG, "log_mel: n_mels = %d, must be in [1, 512]", n_mels);
    if (threads < 0)
        return qattn_fail(QATTN_ERR_ARG, "log_mel: threads = %d, must be >= 0 (0 = one per CPU)",
                          threads);
    if (samples <= N_FFT / 2)
        return qattn_fail(QATTN_ERR_SIZE,
                          "log_mel: %zu samples; at least %d are needed (reflect padding)",
                          samples, N_FFT / 2 + 1);
    if (samples > ((size_t)1 << 34))
        return qattn_fail(QATTN_ERR_SIZE, "log_mel: %zu samples is too long", samples);
    const size_t bad = qattn_first_non_finite(audio, samples);
    if (bad < samples)
        return qattn_fail(QATTN_ERR_VALUE, "log_mel: sample %zu is not finite", bad);
    const size_t frames = samples / HOP;
    float max;
    qattn_status st = qattn_log_mel_raw(audio, 0, samples, 0, frames, n_mels, threads, out, frames,
                                        &max);
    if (st == QATTN_OK)
        qattn_log_mel_normalize(out, (size_t)n_mels * frames, max, out);
    return st;
}
