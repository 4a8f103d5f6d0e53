/* A minimal test harness: CHECK records a failure with its location and goes on. */
#ifndef QATTN_TESTING_H
#define QATTN_TESTING_H

#include <stdio.h>
#include <stdlib.h>

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

/* The trained model `name` where tests/models/fetch.py puts it (QATTN_TEST_CACHE, or
 * ~/.cache/qattn-test): 1 with its directory in dir; 0 with a message naming the test (fail,
 * never skip: ./dev test fetches the models first). */
static inline int testing_model_dir(const char *test, const char *name, char *dir, size_t size)
{
    const char *cache = getenv("QATTN_TEST_CACHE"), *home = getenv("HOME");
    if (cache)
        snprintf(dir, size, "%s/models/%s", cache, name);
    else
        snprintf(dir, size, "%s/.cache/qattn-test/models/%s", home ? home : "", name);
    char marker[4300];
    snprintf(marker, sizeof marker, "%s/.complete", dir);
    FILE *f = fopen(marker, "rb");
    if (!f) {
        fprintf(stderr, "%s: the trained %s is not in %s; run /usr/bin/python3 "
                        "tests/models/fetch.py (./dev test does)\n", test, name, dir);
        return 0;
    }
    fclose(f);
    return 1;
}

#endif
