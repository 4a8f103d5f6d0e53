/* Per-thread error messages behind qattn_last_error(). */
#ifndef QATTN_CORE_ERROR_H
#define QATTN_CORE_ERROR_H

#include <stddef.h>

#include "qattn.h"

/* Records a printf-style message for this thread and returns `status`. */
qattn_status qattn_fail(qattn_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A failed open or stat of path with errno err: QATTN_ERR_NOT_FOUND when it does not exist,
 * QATTN_ERR_IO otherwise, the message naming path and the reason. */
qattn_status qattn_fail_io(const char *path, int err);

/* The growing structs of qattn.h (their first member is size_t struct_size, the caller's
 * sizeof). qattn_struct_read: *dst, of `full` bytes and holding the defaults, takes the
 * first struct_size bytes of the caller's src (the fields an older caller lacks keep their
 * defaults); its struct_size becomes full. qattn_struct_write: the caller's dst receives the
 * first struct_size bytes of src (full bytes), its struct_size kept. Both: QATTN_ERR_ARG for a
 * struct_size of 0 or past full, naming `what`. */
qattn_status qattn_struct_read(void *dst, size_t full, const void *src, const char *what);
qattn_status qattn_struct_write(void *dst, const void *src, size_t full, const char *what);

/* Clears this thread's message (called on entry of every public function). */
void qattn_clear_error(void);

#endif
