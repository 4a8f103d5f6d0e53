/* The options every `qattn bench` command takes: --json, -t/--threads N, --repeats R, --tier T
 * (through the CLI's one argument layer, cli/args.h). */
#ifndef QATTN_BENCH_OPTIONS_H
#define QATTN_BENCH_OPTIONS_H

#include "cli/args.h"
#include "qattn.h"

typedef struct bench_options {
    int json;        /* --json: one JSON document instead of the table */
    int repeats;     /* --repeats R: runs per configuration (median) */
    int threads[2];  /* the thread counts timed: 1 and 2, or --threads N alone */
    int n_threads;   /* how many of threads[] */
    int threads_arg; /* --threads as given (-1: not given; 0: one per CPU) */
    int tier;        /* --tier: a qattn_isa to time alone, 0 (auto): every supported tier */
} bench_options;

enum { BENCH_OPTIONS = 4 };

/* The defaults (not JSON, `repeats` runs, 1 and 2 threads, every tier) and the options'
 * table entries, written to table[0 .. BENCH_OPTIONS) (R at most max_repeats). */
bench_options bench_options_default(int repeats);
void bench_options_table(bench_options *o, int max_repeats, cli_option table[BENCH_OPTIONS]);

/* After parsing: --threads resolved (0: the online CPUs), --tier checked supported. 0 and a
 * message (the command's one line) if it is not; 1 otherwise. */
int bench_options_finish(bench_options *o, const char *command);

/* Whether a tier is to be timed: supported, and --tier's if one was given. */
int bench_tier_wanted(const bench_options *o, qattn_isa tier);

#endif
