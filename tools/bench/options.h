/* The options every `qattn bench` command takes: --json, --threads N, --repeats R. */
#ifndef QATTN_BENCH_OPTIONS_H
#define QATTN_BENCH_OPTIONS_H

typedef struct bench_options {
    int json;        /* --json: one JSON document instead of the table */
    int repeats;     /* --repeats R: runs per configuration (median) */
    int threads[2];  /* the thread counts timed: 1 and 2, or --threads N alone */
    int n_threads;   /* how many of threads[] */
    int max_repeats; /* the command's bound on R */
} bench_options;

/* The defaults: not JSON, `repeats` runs (at most max_repeats), 1 and 2 threads. */
bench_options bench_options_default(int repeats, int max_repeats);

/* argv[*i] as one of the shared options: 1 if it was one (*i moved past its value), 0 if it
 * is not one of them, -1 if it is but its value is missing or out of range. */
int bench_options_parse(bench_options *o, int argc, char **argv, int *i);

#endif
