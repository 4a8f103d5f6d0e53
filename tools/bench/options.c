/* The shared options of the `qattn bench` commands. */
#include "bench/options.h"

#include <stdlib.h>
#include <string.h>

bench_options bench_options_default(int repeats, int max_repeats)
{
    bench_options o = {0, repeats, {1, 2}, 2, max_repeats};
    return o;
}

/* A positive int of at most `max` from text, or 0. */
static int positive(const char *text, int max)
{
    char *end;
    long v = strtol(text, &end, 10);
    return *text && !*end && v > 0 && v <= max ? (int)v : 0;
}

int bench_options_parse(bench_options *o, int argc, char **argv, int *i)
{
    const char *arg = argv[*i];
    if (strcmp(arg, "--json") == 0) {
        o->json = 1;
        return 1;
    }
    const int threads = strcmp(arg, "--threads") == 0, repeats = strcmp(arg, "--repeats") == 0;
    if (!threads && !repeats)
        return 0;
    const int v = *i + 1 < argc ? positive(argv[*i + 1], threads ? 4096 : o->max_repeats) : 0;
    if (!v)
        return -1;
    ++*i;
    if (threads)
        o->threads[0] = v, o->n_threads = 1;
    else
        o->repeats = v;
    return 1;
}
