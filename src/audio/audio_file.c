/*
 * Audio files to Whisper's input: decode with libsndfile (WAV, FLAC, Ogg/Vorbis, Opus, MP3,
 * ...), downmix to mono by averaging the channels, resample to 16 kHz with libsoxr (its
 * high-quality preset).
 */
#include <errno.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "audio/audio_decode.h"
#include "core/error.h"

/* Longest input accepted: 4 hours at the file's rate (the samples are held in memory). */
#define MAX_SECONDS (4.0 * 3600.0)

static qattn_status resample(const char *path, const float *in, size_t n, double rate,
                             float **out, size_t *out_n)
{
    if (rate == QATTN_SAMPLE_RATE) {
        float *copy = malloc((n ? n : 1) * sizeof(float));
        if (!copy)
            return qattn_fail(QATTN_ERR_NOMEM, "%s: out of memory", path);
        memcpy(copy, in, n * sizeof(float));
        *out = copy, *out_n = n;
        return QATTN_OK;
    }
    size_t cap = (size_t)((double)n * QATTN_SAMPLE_RATE / rate) + 16;
    float *buf = malloc(cap * sizeof(float));
    if (!buf)
        return qattn_fail(QATTN_ERR_NOMEM, "%s: out of memory", path);
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    size_t done = 0;
    soxr_error_t err = soxr_oneshot(rate, QATTN_SAMPLE_RATE, 1, in, n, NULL, buf, cap, &done,
                                    &io, &q, NULL);
    if (err) {
        free(buf);
        return qattn_fail(QATTN_ERR_IO, "%s: resampling from %g Hz failed: %s", path, rate, err);
    }
    *out = buf, *out_n = done;
    return QATTN_OK;
}

qattn_status qattn_audio_load(const char *path, float **samples, size_t *count)
{
    qattn_clear_error();
    if (!path || !samples || !count)
        return qattn_fail(QATTN_ERR_NULL, "audio_load: NULL argument");
    *samples = NULL, *count = 0;
    struct stat exists;
    if (stat(path, &exists) != 0) /* libsndfile's message would not tell a missing file apart */
        return qattn_fail_io(path, errno);
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *f = sf_open(path, SFM_READ, &info);
    if (!f)
        return qattn_fail(QATTN_ERR_IO, "%s: cannot decode: %s", path, sf_strerror(NULL));
    return qattn_audio_decode(f, &info, path, samples, count);
}

qattn_status qattn_audio_decode(SNDFILE *f, const SF_INFO *sf_info, const char *path, float **samples,
                          size_t *count)
{
    SF_INFO info = *sf_info;
    qattn_status st = QATTN_OK;
    *samples = NULL, *count = 0;
    if (info.channels < 1 || info.samplerate < 1000 || info.samplerate > 768000 || info.frames < 0)
        st = qattn_fail(QATTN_ERR_IO, "%s: unsupported stream (%d channels at %d Hz)", path,
                        info.channels, info.samplerate);
    else if ((double)info.frames > MAX_SECONDS * info.samplerate)
        st = qattn_fail(QATTN_ERR_SIZE, "%s: longer than %g hours", path, MAX_SECONDS / 3600);
    size_t frames = st == QATTN_OK ? (size_t)info.frames : 0;
    size_t channels = (size_t)info.channels;
    float *interleaved = NULL, *mono = NULL;
    if (st == QATTN_OK) {
        interleaved = malloc((frames ? frames : 1) * channels * sizeof(float));
        mono = malloc((frames ? frames : 1) * sizeof(float));
        if (!interleaved || !mono)
            st = qattn_fail(QATTN_ERR_NOMEM, "%s: out of memory", path);
    }
    if (st == QATTN_OK) {
        sf_count_t got = sf_readf_float(f, interleaved, (sf_count_t)frames);
        /* MPEG streams only estimate their length; anything else must decode whole. */
        int estimated = (info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG;
        if (got < 0 || (got < (sf_count_t)frames && !estimated))
            st = qattn_fail(QATTN_ERR_IO, "%s: truncated or corrupt: %lld of %lld frames decoded",
                            path, (long long)(got < 0 ? 0 : got), (long long)frames);
        else
            frames = (size_t)got;
    }
    sf_close(f);
    if (st == QATTN_OK) {
        for (size_t i = 0; i < frames; i++) {
            float s = 0.0f;
            for (size_t c = 0; c < channels; c++)
                s += interleaved[i * channels + c];
            mono[i] = s / (float)channels;
        }
        st = resample(path, mono, frames, (double)info.samplerate, samples, count);
    }
    free(interleaved);
    free(mono);
    return st;
}

void qattn_audio_free(float *samples)
{
    free(samples);
}
