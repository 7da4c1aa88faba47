/* plain_check.h - CHECK for the tests that are plain programs (Criterion cannot run under
 * ThreadSanitizer): a failed check prints itself and exits 1. */
#ifndef TT_TESTS_PLAIN_CHECK_H
#define TT_TESTS_PLAIN_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                  \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

#endif
