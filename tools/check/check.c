/* `qattn check [--json] [--case NAME]`: runs the accuracy cases and reports each against
 * its target and its quantization floor. */
#include "check/check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/cases.h"
#include "cli/args.h"

static const char *target_name(check_target t)
{
    switch (t) {
    case TARGET_SEED: return "seed";
    case TARGET_ROUNDING: return "rounding";
    case TARGET_STRESS: return "stress";
    }
    return "?";
}

static void print_stats_json(const char *key, const check_stats *s)
{
    printf("\"%s\": {\"corr\": %.6f, \"mae\": %.4f, \"rmse\": %.4f, \"within1\": %.5f, "
           "\"within5\": %.5f, \"max_err\": %d, \"out_range\": [%d, %d], "
           "\"ref_range\": [%d, %d]}",
           key, s->corr, s->mae, s->rmse, s->within1, s->within5, s->max_err, s->out_min,
           s->out_max, s->ref_min, s->ref_max);
}

static void print_json(const check_case *c, const check_result *r, int first)
{
    printf("%s\n  {\"name\": \"%s\", \"target\": \"%s\", \"shape\": [%d, %d, %d, %d], "
           "\"causal\": %s, \"pass\": %s, \"why\": \"%s\", \"wrong_saturations\": %ld, ",
           first ? "" : ",", c->name, target_name(c->target), c->heads, c->len_q, c->len_k,
           c->head_dim, c->causal ? "true" : "false", r->pass ? "true" : "false", r->why,
           r->wrong_saturations);
    print_stats_json("kernel", &r->kernel);
    printf(", ");
    print_stats_json("floor", &r->floor);
    printf("}");
}

static void print_header(void)
{
    printf("%-33s %-19s %8s %7s %7s %7s %7s %4s %-11s %-11s | %8s %7s %7s %4s | %s\n", "case",
           "HxLqxLkxD", "corr", "MAE", "RMSE", "<=1", "<=5", "max", "range", "ref range",
           "floor:corr", "MAE", "<=1", "max", "target");
}

static void print_row(const check_case *c, const check_result *r)
{
    char shape[32], range[16], ref_range[16];
    const check_stats *k = &r->kernel, *f = &r->floor;
    snprintf(shape, sizeof shape, "%dx%dx%dx%d%s", c->heads, c->len_q, c->len_k, c->head_dim,
             c->causal == 2 ? "cb" : c->causal ? "c" : "");
    snprintf(range, sizeof range, "[%d,%d]", k->out_min, k->out_max);
    snprintf(ref_range, sizeof ref_range, "[%d,%d]", k->ref_min, k->ref_max);
    printf("%-33s %-19s %8.5f %7.4f %7.4f %6.2f%% %6.2f%% %4d %-11s %-11s | %8.5f %7.4f "
           "%6.2f%% %4d | %s %s%s\n",
           c->name, shape, k->corr, k->mae, k->rmse, 100 * k->within1, 100 * k->within5,
           k->max_err, range, ref_range, f->corr, f->mae, 100 * f->within1, f->max_err,
           target_name(c->target), r->pass ? "PASS" : "FAIL: ", r->pass ? "" : r->why);
}

int check_main(int argc, char **argv)
{
    int json = 0;
    const char *only = NULL;
    const cli_option options[] = {CLI_JSON(&json), {"case", 0, CLI_STRING, &only, 0, 0, NULL, NULL}};
    int help;
    if (cli_parse_options("check", argc, argv, options, CLI_COUNT(options), &help))
        return 2;
    if (help) {
        printf("usage: qattn check [--json] [--case NAME]\n"
               "Runs the accuracy cases of the integer attention kernel against a float64\n"
               "reference and prints each with its quantization floor (exact softmax on the\n"
               "same int8 inputs). Exit status 0 only when every case meets its target:\n"
               "  seed      corr >= 0.999, MAE <= 1.0, within5 >= 99.5%%, range within 6\n"
               "  rounding  MAE <= 1.05 x floor, corr >= 0.9995, within1 >= 99%%, max <= 3\n"
               "  stress    MAE <= 1.05 x floor + 0.01, max <= floor + 1, no wrong saturation\n");
        return 0;
    }

    int failures = 0, ran = 0;
    if (json)
        printf("{\"cases\": [");
    else
        print_header();
    for (int i = 0; i < check_case_count; i++) {
        const check_case *c = &check_cases[i];
        if (only && strcmp(only, c->name) != 0)
            continue;
        check_result r = {0};
        if (!check_run_case(c, &r))
            r.pass = 0;
        failures += !r.pass;
        if (json)
            print_json(c, &r, ran == 0);
        else
            print_row(c, &r);
        fflush(stdout);
        ran++;
    }
    if (only && ran == 0) {
        char message[256];
        snprintf(message, sizeof message, "--case %s: no case of that name", only);
        return cli_usage_error("check", message);
    }
    if (json)
        printf("\n], \"pass\": %s}\n", failures ? "false" : "true");
    else
        printf("%d of %d cases meet their targets\n", ran - failures, ran);
    return failures ? 1 : 0;
}
