/* Status strings and the per-thread last-error message. */
#include "core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[256];

qattn_status qattn_fail(qattn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

qattn_status qattn_fail_io(const char *path, int err)
{
    return qattn_fail(err == ENOENT || err == ENOTDIR ? QATTN_ERR_NOT_FOUND : QATTN_ERR_IO, "%s: %s",
                      path, strerror(err));
}

qattn_status qattn_struct_read(void *dst, size_t full, const void *src, const char *what)
{
    size_t size;
    memcpy(&size, src, sizeof size); /* the first member of every params struct */
    if (size < sizeof size || size > full)
        return qattn_fail(QATTN_ERR_ARG, "%s: struct_size is %zu (this library's is %zu; start "
                          "from its _default function, or set it to sizeof the struct)", what,
                          size, full);
    memcpy(dst, src, size);
    memcpy(dst, &full, sizeof full);
    return QATTN_OK;
}

qattn_status qattn_struct_write(void *dst, const void *src, size_t full, const char *what)
{
    size_t size;
    memcpy(&size, dst, sizeof size);
    if (size < sizeof size || size > full)
        return qattn_fail(QATTN_ERR_ARG, "%s: struct_size is %zu (this library's is %zu; set it "
                          "to sizeof the struct before the call)", what, size, full);
    memcpy((char *)dst + sizeof size, (const char *)src + sizeof size, size - sizeof size);
    return QATTN_OK;
}

void qattn_clear_error(void)
{
    last_error[0] = '\0';
}

const char *qattn_last_error(void)
{
    return last_error;
}

const char *qattn_status_string(qattn_status status)
{
    switch (status) {
    case QATTN_OK: return "success";
    case QATTN_ERR_NULL: return "a required pointer is NULL";
    case QATTN_ERR_SIZE: return "invalid size";
    case QATTN_ERR_HEAD_DIM: return "unsupported head dimension";
    case QATTN_ERR_TOO_MANY_KEYS: return "too many keys";
    case QATTN_ERR_SCALE: return "invalid scale";
    case QATTN_ERR_KV_LEN: return "invalid valid-key length";
    case QATTN_ERR_NOMEM: return "out of memory";
    case QATTN_ERR_VALUE: return "non-finite input value";
    case QATTN_ERR_ISA: return "unsupported instruction-set tier";
    case QATTN_ERR_IO: return "file error";
    case QATTN_ERR_MODEL: return "malformed or unsupported model file";
    case QATTN_ERR_ARG: return "invalid argument";
    case QATTN_CANCELLED: return "cancelled";
    case QATTN_ERR_NOT_FOUND: return "no such file or directory";
    case QATTN_DONE: return "done: every segment has been given";
    case QATTN_AGAIN: return "more audio is needed first";
    }
    return "unknown status";
}

const char *qattn_version(void)
{
    return QATTN_VERSION_STRING;
}
