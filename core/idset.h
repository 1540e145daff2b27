/*
 * idset.h -- private: a set of strings.  Bottom layer.
 */
#ifndef UNHOOK_IDSET_H
#define UNHOOK_IDSET_H

#include <stddef.h>

typedef struct uh_idset {
    char **slots;
    size_t cap, used;           /* used counts tombstones too */
} uh_idset;

/* 1 if id was added, 0 if present (or no memory). */
int uh_idset_add(uh_idset *set, const char *id);
/* 1 if id was there. */
int uh_idset_del(uh_idset *set, const char *id);
void uh_idset_free(uh_idset *set);

#endif
