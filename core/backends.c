/*
 * backends.c -- the table of store backends: the location names which.
 * A new backend is one file and a line here.
 */
#include <string.h>

#include "store.h"

typedef struct backend {
    const char *scheme;         /* location prefix; NULL: a file path */
    int (*open)(const char *location, uh_store **out, char *err, size_t errsz);
} backend;

static const backend backends[] = {
    {NULL, uh_store_sqlite_open},
    {"postgresql://", uh_store_pg_open}, {"postgres://", uh_store_pg_open},
};

int uh_store_open(const char *location, uh_store **out, char *err,
                  size_t errsz)
{
    const backend *fallback = NULL;

    for (size_t i = 0; i < sizeof backends / sizeof *backends; i++) {
        const backend *b = &backends[i];
        if (!b->scheme)
            fallback = b;
        else if (strncmp(location, b->scheme, strlen(b->scheme)) == 0)
            return b->open(location, out, err, errsz);
    }
    return fallback->open(location, out, err, errsz);
}
