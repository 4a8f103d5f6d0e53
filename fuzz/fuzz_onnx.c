/* libFuzzer target: ONNX model files (the VAD's): protobuf-c's parser and qattn's
 * initializer lookups, then the VAD's weights from whatever parsed. */
#include <stddef.h>
#include <stdint.h>

#include "formats/onnx_file.h"
#include "vad/silero.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    qattn_onnx_model *m = NULL;
    if (qattn_onnx_parse(data, size, "fuzz", &m) != QATTN_OK)
        return 0;
    static const int64_t shapes[3][3] = {{2, 3, 0}, {4, 0, 0}, {1, 1, 1}};
    static const int ndims[3] = {2, 1, 3};
    static const char *const names[3] = {"a", "b", "decoder.conv1d.bias"};
    float out[8];
    for (int i = 0; i < 3; i++)
        qattn_onnx_floats(m, names[i], shapes[i], ndims[i], out);
    qattn_vad *vad = NULL;
    if (qattn_vad_from_onnx(m, &vad) == QATTN_OK)
        qattn_vad_free(vad);
    qattn_onnx_free(m);
    return 0;
}
