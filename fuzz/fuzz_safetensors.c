/* libFuzzer target: a safetensors file (header, tensor table, data) through the loader and
 * the encoder and decoder builders, with a fixed small config. */
#include <stddef.h>
#include <stdint.h>

#include "whisper/model_load.h"

static const char CONFIG[] = "{\"d_model\": 64, \"encoder_attention_heads\": 4, "
                             "\"encoder_layers\": 1, \"num_mel_bins\": 8, "
                             "\"max_source_positions\": 4, \"encoder_ffn_dim\": 128, "
                             "\"decoder_attention_heads\": 1}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qattn_encoder_params p = {sizeof p, QATTN_PRECISION_F32, 1, QATTN_ISA_AUTO};
    struct qattn_encoder *enc = NULL;
    if (qattn_encoder_from_memory(QATTN_FORMAT_HF, data, size, CONFIG, &p, &enc) == QATTN_OK)
        qattn_encoder_free(enc);
    struct qattn_decoder *dec = NULL; /* the same bytes as a decoder */
    if (qattn_decoder_from_memory(QATTN_FORMAT_HF, data, size, CONFIG, &p, &dec) == QATTN_OK)
        qattn_decoder_free(dec);
    return 0;
}
