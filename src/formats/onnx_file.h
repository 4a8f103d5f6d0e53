/*
 * ONNX model files (the VAD's model): a protobuf ModelProto (onnx.proto, read by protobuf-c's
 * generated code), of which qattn uses the graph's float32 initializers, looked up by name
 * and shape. The graph's nodes are not interpreted: the network is written in C
 * (src/vad/silero.c) and takes its weights from here.
 */
#ifndef QATTN_FORMATS_ONNX_FILE_H
#define QATTN_FORMATS_ONNX_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "qattn.h"

typedef struct qattn_onnx_model qattn_onnx_model;

/* Parses an ONNX file's bytes (`name` for messages); at most QATTN_ONNX_MAX_BYTES. Malformed
 * input is QATTN_ERR_MODEL. */
#define QATTN_ONNX_MAX_BYTES ((size_t)1 << 30)
qattn_status qattn_onnx_parse(const uint8_t *data, size_t size, const char *name,
                              qattn_onnx_model **out);
/* Reads and parses the file at path (QATTN_ERR_NOT_FOUND if it does not exist). */
qattn_status qattn_onnx_load(const char *path, qattn_onnx_model **out);
void qattn_onnx_free(qattn_onnx_model *m);

/* The float32 initializer `name` of exactly `ndim` dims `shape`, copied into out (the
 * product of shape floats). QATTN_ERR_MODEL, naming it, if it is missing, of another type or
 * shape, holds other than that many values, or holds a value that is not finite. */
qattn_status qattn_onnx_floats(const qattn_onnx_model *m, const char *name, const int64_t *shape,
                               int ndim, float *out);

#endif
