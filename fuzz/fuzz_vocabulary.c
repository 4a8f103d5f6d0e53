/* libFuzzer target: a vocabulary (vocabulary.json when the first byte is '[', tokenizer.json
 * when it is '{', else vocabulary.txt) through the parser, then ids -> text over every token, which exercises the
 * byte-level mapping and the lossy UTF-8 decoding on whatever bytes the tokens hold. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/vocabulary.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    qattn_vocabulary *v = NULL;
    const qattn_vocabulary_kind kind = size > 0 && data[0] == '[' ? QATTN_VOCAB_JSON
                                       : size > 0 && data[0] == '{' ? QATTN_VOCAB_TOKENIZER_JSON
                                                                    : QATTN_VOCAB_TXT;
    if (qattn_vocabulary_parse(text, kind, "fuzz", &v) == QATTN_OK) {
        int32_t n = qattn_vocabulary_size(v);
        int32_t *ids = malloc((size_t)n * sizeof *ids);
        char out[64];
        size_t length;
        for (int32_t i = 0; ids && i < n; i++)
            ids[i] = n - 1 - i;
        if (ids)
            qattn_vocabulary_decode(v, ids, n, out, sizeof out, &length);
        free(ids);
        qattn_vocabulary_free(v);
    }
    free(text);
    return 0;
}
