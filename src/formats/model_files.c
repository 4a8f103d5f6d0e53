/* Which format a model path holds, told apart by content, and where its side files are. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "formats/ct2_file.h"
#include "formats/model_source.h"

int qattn_is_directory(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISDIR(s.st_mode);
}

static int is_file(const char *path)
{
    struct stat s;
    return stat(path, &s) == 0 && S_ISREG(s.st_mode);
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The first bytes of a file (fewer if it is shorter); 0 if it cannot be read. */
static size_t file_head(const char *path, uint8_t *head, size_t size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    size_t n = fread(head, 1, size, f);
    fclose(f);
    return n;
}

static int is_ct2_file(const char *path)
{
    uint8_t head[32];
    size_t n = file_head(path, head, sizeof head);
    return qattn_ct2_sniff(head, n);
}

/*
 * Which format `path` is, told apart by content: a directory holding a model.bin (and no
 * model.safetensors) is CTranslate2 (faster-whisper's models; their config.json is
 * CTranslate2's), any other directory Hugging Face; a file starting like a CTranslate2
 * model.bin is one, a .safetensors file is Hugging Face (config.json beside it), any other
 * file whisper.cpp ggml (its reader checks the magic).
 */
qattn_model_format qattn_model_format_of(const char *path)
{
    char bin[4200], safetensors[4200];
    if (qattn_is_directory(path)) {
        snprintf(bin, sizeof bin, "%s/model.bin", path);
        snprintf(safetensors, sizeof safetensors, "%s/model.safetensors", path);
        return is_file(bin) && !is_file(safetensors) ? QATTN_FORMAT_CT2 : QATTN_FORMAT_HF;
    }
    return is_ct2_file(path)                   ? QATTN_FORMAT_CT2
           : ends_with(path, ".safetensors") ? QATTN_FORMAT_HF
                                             : QATTN_FORMAT_GGML;
}

void qattn_model_dir(const char *path, char *dir, size_t size)
{
    snprintf(dir, size, "%s", path);
    if (qattn_is_directory(path))
        return;
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, size, ".");
}
