/* Status strings and the per-thread last-error message. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_error[256];

qattn_status qattn_fail(qattn_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
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
    }
    return "unknown status";
}

const char *qattn_version(void)
{
    return QATTN_VERSION_STRING;
}
