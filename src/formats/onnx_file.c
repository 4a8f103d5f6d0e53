/* ONNX model files: the graph's float32 initializers by name (onnx_file.h). */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include "formats/onnx_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "ops/float_ops.h"
#include "qattn_onnx.pb-c.h"

struct qattn_onnx_model {
    QattnOnnx__ModelProto *proto;
    char name[256]; /* for messages */
};

qattn_status qattn_onnx_parse(const uint8_t *data, size_t size, const char *name,
                              qattn_onnx_model **out)
{
    *out = NULL;
    if (!data || !size)
        return qattn_fail(QATTN_ERR_MODEL, "%s: an empty file is no ONNX model", name);
    if (size > QATTN_ONNX_MAX_BYTES)
        return qattn_fail(QATTN_ERR_MODEL, "%s: %zu bytes, larger than an ONNX model qattn "
                          "reads (%zu)", name, size, QATTN_ONNX_MAX_BYTES);
    qattn_onnx_model *m = calloc(1, sizeof *m);
    if (!m)
        return qattn_fail(QATTN_ERR_NOMEM, "%s: out of memory", name);
    snprintf(m->name, sizeof m->name, "%s", name);
    /* protobuf-c checks every length against the bytes it has */
    m->proto = qattn_onnx__model_proto__unpack(NULL, size, data);
    if (!m->proto || !m->proto->graph) {
        qattn_onnx_free(m);
        return qattn_fail(QATTN_ERR_MODEL, "%s: not an ONNX model (no model with a graph could "
                          "be read from it)", name);
    }
    *out = m;
    return QATTN_OK;
}

qattn_status qattn_onnx_load(const char *path, qattn_onnx_model **out)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return qattn_fail_io(path, errno);
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0 ||
        (uint64_t)st.st_size > QATTN_ONNX_MAX_BYTES) {
        fclose(f);
        return qattn_fail(QATTN_ERR_MODEL, "%s: not a regular file of at most %zu bytes", path,
                          QATTN_ONNX_MAX_BYTES);
    }
    const size_t size = (size_t)st.st_size;
    uint8_t *data = malloc(size ? size : 1);
    const size_t got = data ? fread(data, 1, size, f) : 0;
    fclose(f);
    if (!data)
        return qattn_fail(QATTN_ERR_NOMEM, "%s: out of memory for %zu bytes", path, size);
    qattn_status s = got == size ? qattn_onnx_parse(data, size, path, out)
                                 : qattn_fail(QATTN_ERR_IO, "%s: read %zu of %zu bytes", path, got, size);
    free(data); /* protobuf-c copied what it kept */
    return s;
}

void qattn_onnx_free(qattn_onnx_model *m)
{
    if (!m)
        return;
    if (m->proto)
        qattn_onnx__model_proto__free_unpacked(m->proto, NULL);
    free(m);
}

static const QattnOnnx__TensorProto *find(const qattn_onnx_model *m, const char *name)
{
    const QattnOnnx__GraphProto *g = m->proto->graph;
    for (size_t i = 0; i < g->n_initializer; i++)
        if (g->initializer[i]->name && !strcmp(g->initializer[i]->name, name))
            return g->initializer[i];
    return NULL;
}

qattn_status qattn_onnx_floats(const qattn_onnx_model *m, const char *name, const int64_t *shape,
                               int ndim, float *out)
{
    const QattnOnnx__TensorProto *t = find(m, name);
    if (!t)
        return qattn_fail(QATTN_ERR_MODEL, "%s: no initializer '%s'", m->name, name);
    if (!t->has_data_type || t->data_type != QATTN_ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
        return qattn_fail(QATTN_ERR_MODEL, "%s: '%s' is not float32 (data type %d)", m->name,
                          name, t->has_data_type ? (int)t->data_type : -1);
    int same = t->n_dims == (size_t)ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->dims[i] == shape[i];
    if (!same)
        return qattn_fail(QATTN_ERR_MODEL, "%s: '%s' has %zu dims, not the %d of the network's "
                          "shape", m->name, name, t->n_dims, ndim);
    size_t count = 1; /* the caller's shape: small, positive */
    for (int i = 0; i < ndim; i++)
        count *= (size_t)shape[i];
    if (t->has_raw_data && t->raw_data.len == count * sizeof(float)) {
        memcpy(out, t->raw_data.data, count * sizeof(float)); /* little-endian, as ONNX stores it */
    } else if (!t->has_raw_data && t->n_float_data == count) {
        memcpy(out, t->float_data, count * sizeof(float));
    } else {
        return qattn_fail(QATTN_ERR_MODEL, "%s: '%s' holds %zu bytes of raw data and %zu floats, "
                          "not the %zu values of its shape", m->name, name,
                          t->has_raw_data ? t->raw_data.len : 0, t->n_float_data, count);
    }
    const size_t bad = qattn_first_non_finite(out, count);
    if (bad < count)
        return qattn_fail(QATTN_ERR_MODEL, "%s: '%s'[%zu] is not finite", m->name, name, bad);
    return QATTN_OK;
}
