/*
 * The persistent pool behind qattn_parallel_for: every item runs exactly once with a worker
 * id below the count asked for; calls from several user threads at once, and calls nested in
 * a task, all finish; and once the pool is warm, a call starts no thread (the process's
 * thread count, from /proc/self/task, stays put over many calls).
 */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/parallel.h"
#include "testing.h"

enum { ITEMS = 5000, USERS = 4 };

typedef struct counts {
    atomic_int hits[ITEMS];
    atomic_int bad_worker;
    int workers;
} counts;

static void count_task(void *ctx, int64_t item, int worker)
{
    counts *c = ctx;
    atomic_fetch_add(&c->hits[item], 1);
    if (worker < 0 || worker >= c->workers)
        atomic_fetch_add(&c->bad_worker, 1);
}

static int run_and_check(int workers)
{
    counts *c = calloc(1, sizeof *c);
    if (!c)
        return 0;
    c->workers = workers;
    qattn_parallel_for(workers, ITEMS, count_task, c);
    int ok = atomic_load(&c->bad_worker) == 0;
    for (int i = 0; i < ITEMS; i++)
        ok &= atomic_load(&c->hits[i]) == 1;
    free(c);
    return ok;
}

static void *user_thread(void *arg)
{
    int *ok = arg;
    for (int r = 0; r < 50; r++)
        *ok &= run_and_check(1 + r % 4);
    return NULL;
}

static void nested_task(void *ctx, int64_t item, int worker)
{
    (void)item, (void)worker;
    atomic_int *ok = ctx;
    if (!run_and_check(3))
        atomic_store(ok, 0);
}

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

int main(void)
{
    for (int w = 1; w <= 5; w++)
        CHECK(run_and_check(w), "%d workers: an item ran other than once, or a bad worker id", w);

    pthread_t users[USERS];
    int ok[USERS];
    for (int t = 0; t < USERS; t++) {
        ok[t] = 1;
        CHECK(pthread_create(&users[t], NULL, user_thread, &ok[t]) == 0, "pthread_create");
    }
    for (int t = 0; t < USERS; t++) {
        pthread_join(users[t], NULL);
        CHECK(ok[t], "user thread %d: concurrent calls lost or repeated items", t);
    }

    atomic_int nested_ok = 1;
    qattn_parallel_for(3, 40, nested_task, &nested_ok);
    CHECK(atomic_load(&nested_ok), "calls nested in tasks");

    run_and_check(4); /* warm: the pool has its 3 threads */
    int before = thread_count();
    for (int r = 0; r < 200; r++)
        run_and_check(4);
    int after = thread_count();
    CHECK(before > 0 && before == after, "threads before %d, after 200 calls %d", before, after);
    printf("pool: %d threads in the process after 200 calls of 4 workers\n", after);
    return testing_report("test_parallel");
}
