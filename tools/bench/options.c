/* The shared options of the `qattn bench` commands. */
#define _POSIX_C_SOURCE 200809L /* sysconf */
#include "bench/options.h"

#include <stdio.h>
#include <unistd.h>

bench_options bench_options_default(int repeats)
{
    bench_options o = {0, repeats, {1, 2}, 2, -1, 0};
    return o;
}

void bench_options_table(bench_options *o, int max_repeats, cli_option table[BENCH_OPTIONS])
{
    const cli_option entries[BENCH_OPTIONS] = {
        CLI_JSON(&o->json), CLI_THREADS(&o->threads_arg), CLI_TIER(&o->tier),
        {"repeats", 0, CLI_INT, &o->repeats, 1, max_repeats, NULL, NULL},
    };
    for (int i = 0; i < BENCH_OPTIONS; i++)
        table[i] = entries[i];
}

int bench_options_finish(bench_options *o, const char *command)
{
    if (o->threads_arg >= 0) {
        const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads[0] = o->threads_arg ? o->threads_arg : (int)(cpus > 0 ? cpus : 1);
        o->n_threads = 1;
    }
    if (o->tier != QATTN_ISA_AUTO && !qattn_isa_supported((qattn_isa)o->tier)) {
        char message[128];
        snprintf(message, sizeof message, "--tier %s: this CPU, OS or build has no such tier",
                 qattn_isa_name((qattn_isa)o->tier));
        cli_usage_error(command, message);
        return 0;
    }
    return 1;
}

int bench_tier_wanted(const bench_options *o, qattn_isa tier)
{
    return qattn_isa_supported(tier) && (o->tier == QATTN_ISA_AUTO || (int)tier == o->tier);
}
