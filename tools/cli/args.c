/* Every `qattn` command's options, parsed one way (args.h). */
#include "cli/args.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const cli_tiers[] = {"auto", "scalar", "avx2", "avx512vnni", "amx", NULL};

/* One line on stderr: what was wrong, and where the options are described. */
static void fail(const char *command, const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "qattn %s: ", command);
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, " (try 'qattn %s --help')\n", command);
}

/* The option named by `name` (len bytes of it), long names and aliases both. */
static const cli_option *find_long(const cli_option *o, int n, const char *name, size_t len)
{
    for (int i = 0; i < n; i++)
        if ((strlen(o[i].name) == len && !strncmp(o[i].name, name, len)) ||
            (o[i].alias && strlen(o[i].alias) == len && !strncmp(o[i].alias, name, len)))
            return &o[i];
    return NULL;
}

static const cli_option *find_short(const cli_option *o, int n, char c)
{
    for (int i = 0; i < n; i++)
        if (o[i].short_name && o[i].short_name == c)
            return &o[i];
    return NULL;
}

/* Stores value in the option's target; 0 with a message if it is not one it takes. */
static int store(const char *command, const cli_option *o, const char *value)
{
    char *end;
    errno = 0;
    switch (o->kind) {
    case CLI_FLAG:
        *(int *)o->target = 1;
        return 1;
    case CLI_STRING:
        *(const char **)o->target = value;
        return 1;
    case CLI_INT: {
        const long v = strtol(value, &end, 10);
        if (errno || end == value || *end || v < o->min || v > o->max)
            break;
        *(int *)o->target = (int)v;
        return 1;
    }
    case CLI_DOUBLE: {
        const double v = strtod(value, &end);
        if (errno || end == value || *end || !isfinite(v) || v < o->min || v > o->max)
            break;
        *(double *)o->target = v;
        return 1;
    }
    case CLI_CHOICE:
        for (int i = 0; o->choices[i]; i++)
            if (!strcmp(o->choices[i], value)) {
                *(int *)o->target = i;
                return 1;
            }
        fprintf(stderr, "qattn %s: --%s %s: expected one of", command, o->name, value);
        for (int i = 0; o->choices[i]; i++)
            fprintf(stderr, "%s %s", i ? "," : "", o->choices[i]);
        fprintf(stderr, " (try 'qattn %s --help')\n", command);
        return 0;
    }
    fprintf(stderr, "qattn %s: --%s %s: expected %s in [%d, %d] (try 'qattn %s --help')\n",
            command, o->name, value, o->kind == CLI_INT ? "an integer" : "a number", o->min,
            o->max, command);
    return 0;
}

int cli_parse(const char *command, int argc, char **argv, const cli_option *options, int n,
              const char **positional, cli_parsed *out)
{
    memset(out, 0, sizeof *out);
    out->positional = positional;
    int only_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (only_positional || a[0] != '-' || !a[1]) { /* "-" alone is a name (stdin) */
            positional[out->n_positional++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_positional = 1;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            out->help = 1;
            continue;
        }
        const cli_option *o;
        const char *value = NULL;
        if (a[1] == '-') { /* --name or --name=value */
            const char *eq = strchr(a + 2, '=');
            o = find_long(options, n, a + 2, eq ? (size_t)(eq - a - 2) : strlen(a + 2));
            if (eq)
                value = eq + 1;
        } else { /* -x or -xVALUE */
            o = find_short(options, n, a[1]);
            if (a[2])
                value = a + 2;
        }
        if (!o) {
            fail(command, "unknown option %s%s", a, "");
            return 2;
        }
        if (o->kind == CLI_FLAG) {
            if (value) {
                fail(command, "--%s takes no value%s", o->name, "");
                return 2;
            }
        } else if (!value) {
            if (i + 1 >= argc) {
                fail(command, "--%s needs a value%s", o->name, "");
                return 2;
            }
            value = argv[++i];
        }
        if (!store(command, o, value))
            return 2;
    }
    return 0;
}

int cli_usage_error(const char *command, const char *message)
{
    fprintf(stderr, "qattn %s: %s (try 'qattn %s --help')\n", command, message, command);
    return 2;
}

int cli_parse_options(const char *command, int argc, char **argv, const cli_option *options,
                      int n, int *help)
{
    const char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) {
        fprintf(stderr, "qattn %s: out of memory\n", command);
        return 2;
    }
    cli_parsed args;
    int status = cli_parse(command, argc, argv, options, n, rest, &args);
    if (status == 0 && args.n_positional) {
        char message[256];
        snprintf(message, sizeof message, "takes no positional argument (got %s)", rest[0]);
        status = cli_usage_error(command, message);
    }
    *help = status == 0 && args.help;
    free(rest);
    return status;
}
