/* A minimal test harness: CHECK records a failure with its location and goes on. */
#ifndef QATTN_TESTING_H
#define QATTN_TESTING_H

#include <stdio.h>

static int testing_failures;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            testing_failures++;                                            \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fprintf(stderr, "\n");                                         \
        }                                                                  \
    } while (0)

static int testing_report(const char *name)
{
    if (testing_failures)
        fprintf(stderr, "%s: %d check(s) failed\n", name, testing_failures);
    else
        printf("%s: all checks passed\n", name);
    return testing_failures ? 1 : 0;
}

#endif
