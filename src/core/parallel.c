/*
 * A persistent pool of worker threads for qattn_parallel_for. Threads are started the first
 * time a call needs them (never more than the largest worker count asked for) and then wait
 * for work for the life of the process: a call creates no thread once the pool is warm.
 *
 * Each call is a loop with a shared item counter. The caller runs items as worker 0; pool
 * threads join it as workers 1..workers-1 while it is open; when the caller's counter runs
 * out it closes the loop to newcomers and waits for the helpers inside to finish their items.
 * Several calls (from several user threads) can be open at once; helpers serve the oldest
 * first. If no helper is free, the caller does all the items itself: results never depend on
 * which worker ran what, and a call always finishes.
 *
 * Idle helpers and a caller waiting for its helpers first spin for up to SPIN_NS (reading an
 * atomic, no lock) before they sleep on a condition variable: a decoder step opens some 60
 * short loops, and waking a sleeping thread through the kernel for each took more time than
 * the loops' work (tiny.en's int8 step at 2 threads was 1.19 ms against 1.30 at one). The
 * same trade as OpenMP runtimes' spin-then-block waits (libgomp's GOMP_SPINCOUNT).
 */
#define _POSIX_C_SOURCE 200809L /* sysconf, clock_gettime */
#include "core/parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

enum { MAX_WORKERS = 1024 };

/* How long a waiter spins before it sleeps: longer than the serial glue between a decoder
 * step's loops, short enough that an idle pool gives its cores back at once to a person. */
#define SPIN_NS 200000

typedef struct loop {
    atomic_llong next; /* the next item to run */
    int64_t n;
    qattn_task_fn fn;
    void *ctx;
    int helpers_wanted; /* workers - 1 */
    int helpers_joined; /* worker ids handed out: 1..helpers_joined */
    atomic_int helpers_inside; /* joined and not finished (changed under pool.mu; read by the
                                  caller's spin without it) */
    struct loop *next_open;
} loop;

static struct {
    pthread_mutex_t mu;
    pthread_cond_t work;   /* a loop opened */
    pthread_cond_t left;   /* a helper finished its part of a loop */
    loop *open;            /* loops still taking helpers, oldest first */
    int threads;           /* pool threads started */
    atomic_uint opened;    /* loops opened so far (mod 2^32): what idle helpers spin on */
} pool = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, 0, 0};

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Spins until *x differs from `from` or SPIN_NS pass; returns whether it changed. */
static int spin_while_uint(atomic_uint *x, unsigned from)
{
    const int64_t end = now_ns() + SPIN_NS;
    for (int i = 1;; i++) {
        if (atomic_load_explicit(x, memory_order_acquire) != from)
            return 1;
        cpu_relax();
        if (i % 64 == 0 && now_ns() > end)
            return 0;
    }
}

static void spin_while_positive(atomic_int *x)
{
    const int64_t end = now_ns() + SPIN_NS;
    for (int i = 1; atomic_load_explicit(x, memory_order_acquire) > 0; i++) {
        cpu_relax();
        if (i % 64 == 0 && now_ns() > end)
            return;
    }
}

static void run_items(loop *l, int worker)
{
    for (;;) {
        int64_t i = atomic_fetch_add(&l->next, 1);
        if (i >= l->n)
            return;
        l->fn(l->ctx, i, worker);
    }
}

/* Removes l from the open list if it is there (pool.mu held). */
static void close_loop(loop *l)
{
    for (loop **p = &pool.open; *p; p = &(*p)->next_open)
        if (*p == l) {
            *p = l->next_open;
            return;
        }
}

static void *pool_thread(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&pool.mu);
    for (;;) {
        loop *l = pool.open;
        if (!l) {
            const unsigned seen = atomic_load(&pool.opened);
            pthread_mutex_unlock(&pool.mu);
            const int changed = spin_while_uint(&pool.opened, seen);
            pthread_mutex_lock(&pool.mu);
            /* no loop open and none opened while spinning: sleep (the check and the wait
             * are under pool.mu, so a loop opened from now on wakes this thread) */
            if (!changed && !pool.open && atomic_load(&pool.opened) == seen)
                pthread_cond_wait(&pool.work, &pool.mu);
            continue;
        }
        int worker = ++l->helpers_joined;
        atomic_fetch_add(&l->helpers_inside, 1);
        if (l->helpers_joined == l->helpers_wanted)
            close_loop(l); /* full: later helpers go to the next loop */
        pthread_mutex_unlock(&pool.mu);
        run_items(l, worker);
        pthread_mutex_lock(&pool.mu);
        if (atomic_fetch_sub(&l->helpers_inside, 1) == 1)
            pthread_cond_broadcast(&pool.left);
    }
    return NULL;
}

/* Starts pool threads until there are `want` (pool.mu held). A thread that cannot be started
 * is not an error: the callers do its share. */
static void grow_pool(int want)
{
    while (pool.threads < want) {
        pthread_t t;
        pthread_attr_t attr;
        if (pthread_attr_init(&attr) != 0)
            return;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        int ok = pthread_create(&t, &attr, pool_thread, NULL) == 0;
        pthread_attr_destroy(&attr);
        if (!ok)
            return;
        pool.threads++;
    }
}

void qattn_parallel_for(int workers, int64_t n, qattn_task_fn fn, void *ctx)
{
    loop l;
    atomic_init(&l.next, 0);
    l.n = n, l.fn = fn, l.ctx = ctx;
    l.helpers_wanted = workers - 1 < MAX_WORKERS ? workers - 1 : MAX_WORKERS - 1;
    if (l.helpers_wanted > n - 1)
        l.helpers_wanted = n > 1 ? (int)(n - 1) : 0;
    l.helpers_joined = 0;
    atomic_init(&l.helpers_inside, 0);
    l.next_open = NULL;
    if (l.helpers_wanted < 1) {
        run_items(&l, 0);
        return;
    }
    pthread_mutex_lock(&pool.mu);
    grow_pool(l.helpers_wanted);
    loop **tail = &pool.open;
    while (*tail)
        tail = &(*tail)->next_open;
    *tail = &l;
    atomic_fetch_add(&pool.opened, 1);
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.mu);

    run_items(&l, 0);

    pthread_mutex_lock(&pool.mu);
    close_loop(&l);
    if (atomic_load(&l.helpers_inside) > 0) { /* they are finishing their last items */
        pthread_mutex_unlock(&pool.mu);
        spin_while_positive(&l.helpers_inside);
        pthread_mutex_lock(&pool.mu);
    }
    while (atomic_load(&l.helpers_inside) > 0)
        pthread_cond_wait(&pool.left, &pool.mu);
    pthread_mutex_unlock(&pool.mu);
}

enum { ROWS_PER_TASK = 16 };

typedef struct rows_job {
    qattn_rows_fn fn;
    void *ctx;
    int32_t m;
} rows_job;

static void rows_task(void *ctx, int64_t item, int worker)
{
    (void)worker;
    const rows_job *j = ctx;
    int32_t r0 = (int32_t)item * ROWS_PER_TASK;
    j->fn(j->ctx, r0, j->m - r0 < ROWS_PER_TASK ? j->m - r0 : ROWS_PER_TASK);
}

void qattn_parallel_rows(int32_t threads, int32_t m, qattn_rows_fn fn, void *ctx)
{
    rows_job j = {fn, ctx, m};
    int64_t items = (m + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    qattn_parallel_for(qattn_workers_for(threads, items), items, rows_task, &j);
}

int qattn_workers_for(int32_t threads, int64_t n)
{
    long w = threads > 0 ? threads : sysconf(_SC_NPROCESSORS_ONLN);
    if (w < 1)
        w = 1;
    if (w > n)
        w = (long)n;
    if (w > MAX_WORKERS)
        w = MAX_WORKERS;
    return w < 1 ? 1 : (int)w;
}
