#define _POSIX_C_SOURCE 200809L /* sysconf */
#include "core/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

typedef struct loop {
    atomic_llong next;
    int64_t n;
    qattn_task_fn fn;
    void *ctx;
} loop;

typedef struct worker_arg {
    loop *l;
    int worker;
} worker_arg;

static void run_items(loop *l, int worker)
{
    for (;;) {
        int64_t i = atomic_fetch_add(&l->next, 1);
        if (i >= l->n)
            return;
        l->fn(l->ctx, i, worker);
    }
}

static void *worker_main(void *arg)
{
    worker_arg *w = arg;
    run_items(w->l, w->worker);
    return NULL;
}

void qattn_parallel_for(int workers, int64_t n, qattn_task_fn fn, void *ctx)
{
    loop l = {0, n, fn, ctx};
    atomic_init(&l.next, 0);
    pthread_t *threads = workers > 1 ? malloc(sizeof(pthread_t) * (size_t)(workers - 1)) : NULL;
    worker_arg *args = workers > 1 ? malloc(sizeof(worker_arg) * (size_t)(workers - 1)) : NULL;
    int started = 0;
    if (threads && args) {
        for (int w = 1; w < workers; w++) {
            args[started] = (worker_arg){&l, w};
            if (pthread_create(&threads[started], NULL, worker_main, &args[started]) != 0)
                break;
            started++;
        }
    }
    run_items(&l, 0);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    free(args);
}

int qattn_workers_for(int32_t threads, int64_t n)
{
    long w = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (w < 1)
        w = 1;
    if (w > n)
        w = (long)n;
    if (w > 1024)
        w = 1024;
    return w < 1 ? 1 : (int)w;
}
