/* Per-thread error messages behind qattn_last_error(). */
#ifndef QATTN_CORE_ERROR_H
#define QATTN_CORE_ERROR_H

#include "qattn.h"

/* Records a printf-style message for this thread and returns `status`. */
qattn_status qattn_fail(qattn_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears this thread's message (called on entry of every public function). */
void qattn_clear_error(void);

#endif
