/*
 * mem.c -- the command's name and memory that does not fail.
 */
#include <stdio.h>
#include <stdlib.h>

#include "status.h"
#include "mem.h"

const char *const prog = "unhook";

void *xrealloc(void *p, size_t n)
{
    return xcheck(realloc(p, n));
}

void *xcheck(void *p)
{
    if (!p) {
        fprintf(stderr, "%s: out of memory\n", prog);
        exit(EXIT_FAILED);
    }
    return p;
}
