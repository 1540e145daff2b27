/*
 * fuzz_retry_after.c -- uh_retry_after (core/http.c): the seconds a
 * Retry-After header value asks for, as delta seconds or an HTTP date.
 *
 * Input: the header value, as the engine passes it (NUL-terminated, so
 * anything after a NUL byte is ignored).
 *
 * Checks: the result is -1 (meaningless value) or a finite number of
 * seconds >= 0, never NaN or infinite; delta seconds are whole numbers;
 * the same value gives the same answer (no hidden state).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sun, 06 Nov 1994 08:49:37 GMT, the example date of RFC 9110 */
#define NOW ((time_t)784111777)

#define CHECK(cond, ...)                                                 \
    do {                                                                 \
        if (!(cond)) {                                                   \
            fprintf(stderr, "fuzz_retry_after: check failed: %s\n  ",    \
                    #cond);                                              \
            fprintf(stderr, __VA_ARGS__);                                \
            fputc('\n', stderr);                                         \
            abort();                                                     \
        }                                                                \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *v = malloc(size + 1);
    const char *p;
    double r;

    if (!v)
        return 0;
    memcpy(v, data, size);
    v[size] = '\0';

    r = uh_retry_after(v, NOW);
    CHECK(!isnan(r), "NaN for \"%s\"", v);
    CHECK(r == -1 || (r >= 0 && isfinite(r)), "%g for \"%s\"", r, v);
    CHECK(uh_retry_after(v, NOW) == r, "two answers for \"%s\"", v);

    for (p = v; *p == ' ' || *p == '\t'; p++)
        ;
    if (*p >= '0' && *p <= '9' && r >= 0)
        CHECK(r == floor(r), "delta seconds \"%s\" gave %g", v, r);

    /* the same holds at any other now */
    r = uh_retry_after(v, (time_t)0);
    CHECK(r == -1 || (r >= 0 && isfinite(r)), "%g for \"%s\" at the epoch", r, v);

    free(v);
    return 0;
}
