/* libFuzzer target: a CTranslate2 model.bin (header, variables, aliases) through the reader,
 * the config from its shapes and the encoder and decoder builders; odd-sized inputs build int8 encoders,
 * so int8 weights also go the way of qattn_gemm_weights_from_s8. */
#include <stddef.h>
#include <stdint.h>

#include "whisper/model_load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qattn_encoder_params p = {sizeof p, size % 2 ? QATTN_PRECISION_INT8 : QATTN_PRECISION_F32, 1,
                              QATTN_ISA_AUTO};
    struct qattn_encoder *enc = NULL;
    if (qattn_encoder_from_memory(QATTN_FORMAT_CT2, data, size, NULL, &p, &enc) == QATTN_OK)
        qattn_encoder_free(enc);
    struct qattn_decoder *dec = NULL; /* the same bytes as a decoder */
    if (qattn_decoder_from_memory(QATTN_FORMAT_CT2, data, size, NULL, &p, &dec) == QATTN_OK)
        qattn_decoder_free(dec);
    return 0;
}
