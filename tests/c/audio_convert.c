/* Test helper: re-encodes an audio file with libsndfile into Opus or MP3, so the tests can
 * decode formats sox here cannot write. Exit status 77 when this libsndfile cannot write it. */
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[3], "opus") != 0 && strcmp(argv[3], "mp3") != 0)) {
        fprintf(stderr, "usage: audio_convert IN OUT opus|mp3\n");
        return 2;
    }
    SF_INFO in_info = {0};
    SNDFILE *in = sf_open(argv[1], SFM_READ, &in_info);
    if (!in) {
        fprintf(stderr, "%s: %s\n", argv[1], sf_strerror(NULL));
        return 1;
    }
    SF_INFO out_info = {0};
    out_info.samplerate = in_info.samplerate;
    out_info.channels = in_info.channels;
    out_info.format = strcmp(argv[3], "opus") == 0 ? SF_FORMAT_OGG | SF_FORMAT_OPUS
                                                   : SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
    if (!sf_format_check(&out_info)) {
        sf_close(in);
        return 77;
    }
    SNDFILE *out = sf_open(argv[2], SFM_WRITE, &out_info);
    if (!out) {
        sf_close(in);
        fprintf(stderr, "%s: %s\n", argv[2], sf_strerror(NULL));
        return 77;
    }
    float buf[4096];
    sf_count_t n;
    while ((n = sf_readf_float(in, buf, 4096 / in_info.channels)) > 0)
        sf_writef_float(out, buf, n);
    sf_close(in);
    sf_close(out);
    return 0;
}
