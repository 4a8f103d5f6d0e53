/* libFuzzer target: config.json text through cJSON and the config checks, and the
 * CTranslate2 config's suppress lists. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "formats/model_source.h"
#include "transcribe/whisper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    whisper_config c;
    memset(&c, 0, sizeof c);
    if (qattn_whisper_parse_hf_config(text, "fuzz", &c) == QATTN_OK)
        qattn_whisper_check_config("fuzz", &c);
    static const char *const keys[2] = {"suppress_ids", "suppress_ids_begin"};
    int32_t *suppress, *begin, n_suppress, n_begin;
    qattn_suppress_ids_parse(text, "fuzz", 51865, keys, &suppress, &n_suppress, &begin, &n_begin);
    free(suppress), free(begin);
    free(text);
    return 0;
}
