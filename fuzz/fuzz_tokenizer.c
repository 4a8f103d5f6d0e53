/* libFuzzer target: a tokenizer.json, then text, separated by a NUL byte. The JSON goes through
 * the parser and its checks; if it loads, the text (any bytes: invalid UTF-8, added tokens,
 * long words) goes through the encoder, sized first and then written, as callers do. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    const size_t json_size = nul ? (size_t)(nul - data) : size;
    char *json = malloc(json_size + 1), *text = malloc(size - json_size + 1);
    if (!json || !text) {
        free(json), free(text);
        return 0;
    }
    memcpy(json, data, json_size);
    json[json_size] = '\0';
    const size_t text_size = nul ? size - json_size - 1 : 0;
    memcpy(text, data + json_size + (nul ? 1 : 0), text_size);
    text[text_size] = '\0'; /* a NUL inside the text ends it there, as in C */
    qattn_tokenizer *t = NULL;
    if (qattn_tokenizer_parse(json, "fuzz", &t) == QATTN_OK) {
        int32_t n = 0;
        if (qattn_tokenizer_encode(t, text, NULL, 0, &n) == QATTN_OK) {
            int32_t *ids = malloc(((size_t)n + 1) * sizeof *ids);
            int32_t again = 0;
            if (ids && qattn_tokenizer_encode(t, text, ids, n, &again) == QATTN_OK && again != n)
                abort(); /* the sizing call and the writing call disagree */
            free(ids);
        }
        qattn_tokenizer_free(t);
    }
    free(json), free(text);
    return 0;
}
