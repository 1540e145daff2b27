/*
 * mem.h -- the command's name and memory that does not fail: on
 * exhaustion the command says so and exits.  Below every other module of
 * the command but status.h.
 */
#ifndef UNHOOK_CLI_MEM_H
#define UNHOOK_CLI_MEM_H

#include <stddef.h>

/* "unhook", the prefix of every message. */
extern const char *const prog;

/* realloc, or exit after saying memory ran out; p NULL: malloc. */
void *xrealloc(void *p, size_t n);
/* p, or exit as xrealloc does when it is NULL. */
void *xcheck(void *p);

#endif
