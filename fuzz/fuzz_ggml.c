/* libFuzzer target: a whisper.cpp ggml file through the loader and the
 * encoder and decoder builders. */
#include <stddef.h>
#include <stdint.h>

#include "whisper/model_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qattn_encoder_params p = {sizeof p, QATTN_PRECISION_F32, 1, QATTN_ISA_AUTO};
    struct qattn_encoder *enc = NULL;
    if (qattn_encoder_from_memory(QATTN_FORMAT_GGML, data, size, NULL, &p, &enc) == QATTN_OK)
        qattn_encoder_free(enc);
    struct qattn_decoder *dec = NULL; /* the same bytes as a decoder */
    if (qattn_decoder_from_memory(QATTN_FORMAT_GGML, data, size, NULL, &p, &dec) == QATTN_OK)
        qattn_decoder_free(dec);
    return 0;
}
