/*
 * Audio files held in memory (an upload, a fuzz input): libsndfile's virtual I/O over the
 * bytes, then the same decoding, downmix and resampling as a file's (audio_file.c).
 */
#include <sndfile.h>
#include <stdint.h>
#include <string.h>

#include "audio/audio_decode.h"
#include "core/error.h"

typedef struct memory_file {
    const uint8_t *data;
    sf_count_t size, pos;
} memory_file;

static sf_count_t length_of(void *user)
{
    return ((memory_file *)user)->size;
}

static sf_count_t seek_to(sf_count_t offset, int whence, void *user)
{
    memory_file *m = user;
    const sf_count_t from = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->size;
    if ((offset > 0 && from > INT64_MAX - offset) || from + offset < 0 || from + offset > m->size)
        return -1;
    return m->pos = from + offset;
}

static sf_count_t read_bytes(void *dst, sf_count_t n, void *user)
{
    memory_file *m = user;
    n = n < 0 ? 0 : n < m->size - m->pos ? n : m->size - m->pos;
    memcpy(dst, m->data + m->pos, (size_t)n);
    m->pos += n;
    return n;
}

static sf_count_t write_nothing(const void *src, sf_count_t n, void *user)
{
    (void)src, (void)n, (void)user;
    return 0; /* read-only */
}

static sf_count_t tell_position(void *user)
{
    return ((memory_file *)user)->pos;
}

qattn_status qattn_audio_load_memory(const void *data, size_t size, double max_seconds,
                                     float **samples, size_t *count)
{
    qattn_clear_error();
    if ((!data && size > 0) || !samples || !count)
        return qattn_fail(QATTN_ERR_NULL, "audio_load_memory: NULL argument");
    *samples = NULL, *count = 0;
    if (!(max_seconds >= 0))
        return qattn_fail(QATTN_ERR_ARG, "audio_load_memory: max_seconds %g must be >= 0", max_seconds);
    if (size == 0)
        return qattn_fail(QATTN_ERR_IO, "audio: the file is empty");
    if (size > (size_t)INT64_MAX)
        return qattn_fail(QATTN_ERR_SIZE, "audio: %zu bytes is too large", size);
    memory_file m = {data, (sf_count_t)size, 0};
    SF_VIRTUAL_IO io = {length_of, seek_to, read_bytes, write_nothing, tell_position};
    SF_INFO info;
    memset(&info, 0, sizeof info);
    SNDFILE *f = sf_open_virtual(&io, SFM_READ, &info, &m);
    if (!f)
        return qattn_fail(QATTN_ERR_IO, "audio: cannot decode: %s", sf_strerror(NULL));
    if (max_seconds > 0 && info.samplerate > 0 && (double)info.frames > max_seconds * info.samplerate) {
        sf_close(f);
        return qattn_fail(QATTN_ERR_SIZE, "audio: %.1f s is longer than the %g s allowed",
                          (double)info.frames / info.samplerate, max_seconds);
    }
    return qattn_audio_decode(f, &info, "audio", samples, count);
}
