/* libFuzzer target: an audio file through libsndfile (virtual I/O over the input), our
 * decoding, downmix and resampling, and the log-mel of what comes out. */
#include <sndfile.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audio/audio_decode.h"

typedef struct memfile {
    const uint8_t *data;
    sf_count_t size, pos;
} memfile;

static sf_count_t get_len(void *u)
{
    return ((memfile *)u)->size;
}

static sf_count_t seek(sf_count_t off, int whence, void *u)
{
    memfile *m = u;
    sf_count_t to = whence == SEEK_SET ? off : whence == SEEK_CUR ? m->pos + off : m->size + off;
    if (to < 0 || to > m->size)
        return -1;
    return m->pos = to;
}

static sf_count_t read_fn(void *dst, sf_count_t n, void *u)
{
    memfile *m = u;
    if (n > m->size - m->pos)
        n = m->size - m->pos;
    memcpy(dst, m->data + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t write_fn(const void *src, sf_count_t n, void *u)
{
    (void)src, (void)n, (void)u;
    return 0;
}

static sf_count_t tell(void *u)
{
    return ((memfile *)u)->pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    memfile m = {data, (sf_count_t)size, 0};
    SF_VIRTUAL_IO io = {get_len, seek, read_fn, write_fn, tell};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *f = sf_open_virtual(&io, SFM_READ, &info, &m);
    if (!f)
        return 0;
    if ((double)info.frames > 20.0 * (info.samplerate > 0 ? info.samplerate : 1)) {
        sf_close(f); /* keep each run short: 20 s of declared audio at most */
        return 0;
    }
    float *samples;
    size_t n;
    if (qattn_audio_decode(f, &info, "fuzz", &samples, &n) == QATTN_OK) {
        size_t frames = qattn_log_mel_frames(n);
        float *mel = malloc(8 * (frames ? frames : 1) * sizeof(float));
        if (mel)
            qattn_log_mel(samples, n, 8, 1, mel);
        free(mel);
        qattn_audio_free(samples);
    }
    return 0;
}
