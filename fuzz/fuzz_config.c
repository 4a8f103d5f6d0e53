/* libFuzzer target: config.json text through cJSON and the config checks. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "whisper/model_load.h"

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
    free(text);
    return 0;
}
