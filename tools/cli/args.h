/*
 * The one argument layer of every `qattn` command: each command lists its options in a table
 * and this parses them the same way everywhere, getopt-style:
 *
 *   --name VALUE, --name=VALUE, -x VALUE, -xVALUE, -x for a flag, `--` ends the options;
 *   options and positional arguments in any order; an unknown option or a missing or bad value
 *   is one line on stderr naming it and pointing at the command's --help, and exit status 2
 *   (the CLI's convention: 0 on success, else one line saying what was wrong).
 *
 * The same thing has the same name in every command (the CLI_* entries below): -m/--model,
 * -l/--language, -t/--threads (0 = one per CPU), -o/--output-dir, -f/--output-format,
 * --tier (QATTN_ISA's names), --json, -q/--quiet, -h/--help. A name a command used before is
 * kept as an alias.
 */
#ifndef QATTN_TOOLS_CLI_ARGS_H
#define QATTN_TOOLS_CLI_ARGS_H

typedef enum cli_kind {
    CLI_FLAG,   /* no value: *(int *)target = 1 */
    CLI_INT,    /* *(int *)target, in [min, max] */
    CLI_DOUBLE, /* *(double *)target, in [min, max] */
    CLI_STRING, /* *(const char **)target = the value */
    CLI_CHOICE  /* *(int *)target = the index of the value in choices (NULL-terminated) */
} cli_kind;

typedef struct cli_option {
    const char *name;   /* the long name, without "--" */
    char short_name;    /* 0: none */
    cli_kind kind;
    void *target;
    int min, max;       /* CLI_INT, CLI_DOUBLE */
    const char *const *choices;
    const char *alias;  /* another long name for it (an older one), or NULL */
} cli_option;

typedef struct cli_parsed {
    int help;               /* -h or --help was given */
    const char **positional; /* the arguments that are no option, in order (argv's storage) */
    int n_positional;
} cli_parsed;

/* Parses argv[1 .. argc) (argv[0] is the command's name) against the n options. positional
 * has room for argc entries. 0: parsed (help set if asked for); 2: an error, its one line
 * printed ("qattn COMMAND: ... (try 'qattn COMMAND --help')"). */
int cli_parse(const char *command, int argc, char **argv, const cli_option *options, int n,
              const char **positional, cli_parsed *out);

/* cli_parse for a command that takes no positional argument (one is an error, its one line
 * printed): 0 or 2 as cli_parse; *help set when -h or --help was given. */
int cli_parse_options(const char *command, int argc, char **argv, const cli_option *options,
                      int n, int *help);

/* The tiers --tier takes, in QATTN_ISA's names, index = qattn_isa (auto = 0). */
extern const char *const cli_tiers[];

/* The options several commands take, named alike everywhere. */
#define CLI_MODEL(target) {"model", 'm', CLI_STRING, (target), 0, 0, NULL, NULL}
#define CLI_LANGUAGE(target) {"language", 'l', CLI_STRING, (target), 0, 0, NULL, NULL}
#define CLI_THREADS(target) {"threads", 't', CLI_INT, (target), 0, 4096, NULL, NULL}
#define CLI_OUTPUT_DIR(target) {"output-dir", 'o', CLI_STRING, (target), 0, 0, NULL, NULL}
#define CLI_OUTPUT_FORMAT(target) {"output-format", 'f', CLI_STRING, (target), 0, 0, NULL, NULL}
#define CLI_TIER(target) {"tier", 0, CLI_CHOICE, (target), 0, 0, cli_tiers, NULL}
#define CLI_JSON(target) {"json", 0, CLI_FLAG, (target), 0, 0, NULL, NULL}
#define CLI_QUIET(target) {"quiet", 'q', CLI_FLAG, (target), 0, 0, NULL, NULL}
/* The one line of a command's own usage error (a required option missing, a value the table
 * cannot check), and the status to exit with: 2. */
int cli_usage_error(const char *command, const char *message);

#define CLI_COUNT(table) ((int)(sizeof(table) / sizeof *(table)))

#endif
