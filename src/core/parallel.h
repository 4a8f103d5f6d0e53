/* A parallel loop over independent work items. */
#ifndef QATTN_CORE_PARALLEL_H
#define QATTN_CORE_PARALLEL_H

#include <stdint.h>

typedef void (*qattn_task_fn)(void *ctx, int64_t item, int worker);

/* Runs fn(ctx, i, w) once for every i in [0, n), on up to `workers` threads (the caller is
 * worker 0; w < workers) of a persistent pool: no thread is created once the pool has grown
 * to the largest worker count asked for. Items are handed out in order from a shared
 * counter, so which worker runs which item varies; results must not depend on it. If no
 * pool thread is free (or none could be started), the caller does their share. Reentrant:
 * any number of user threads may call it at once, and fn may call it. */
void qattn_parallel_for(int workers, int64_t n, qattn_task_fn fn, void *ctx);

/* A row-parallel loop: fn(ctx, first_row, rows) over [0, m) in blocks of 16 rows. */
typedef void (*qattn_rows_fn)(void *ctx, int32_t row0, int32_t rows);
void qattn_parallel_rows(int32_t threads, int32_t m, qattn_rows_fn fn, void *ctx);

/* Worker count for a request: threads > 0 as given, 0 = online CPUs; never more than n. */
int qattn_workers_for(int32_t threads, int64_t n);

#endif
