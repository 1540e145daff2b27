/*
 * idset.c -- a set of strings (open addressing, tombstones): the ids a
 * bulk run has counted as pending.
 */
#include <stdlib.h>
#include <string.h>

#include "idset.h"
#include "util.h"

static char tombstone;

static size_t idhash(const char *s)
{
    size_t h = 1469598103934665603ULL;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

static char **idset_find(uh_idset *set, const char *id, int for_insert)
{
    size_t i;
    char **grave = NULL;

    if (!set->cap)
        return NULL;
    for (i = idhash(id) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        char **slot = &set->slots[i];
        if (!*slot)
            return for_insert ? (grave ? grave : slot) : NULL;
        if (*slot == &tombstone) {
            if (!grave)
                grave = slot;
        } else if (strcmp(*slot, id) == 0) {
            return slot;
        }
    }
}

/* Returns 1 if id was added, 0 if present (or no memory). */
int uh_idset_add(uh_idset *set, const char *id)
{
    char **slot;

    if ((set->used + 1) * 2 > set->cap) {
        uh_idset bigger = {calloc(set->cap ? set->cap * 2 : 64, sizeof(char *)),
                        set->cap ? set->cap * 2 : 64, 0};
        if (!bigger.slots)
            return 0;
        for (size_t i = 0; i < set->cap; i++)
            if (set->slots[i] && set->slots[i] != &tombstone) {
                *idset_find(&bigger, set->slots[i], 1) = set->slots[i];
                bigger.used++;
            }
        free(set->slots);
        *set = bigger;
    }
    slot = idset_find(set, id, 1);
    if (*slot && *slot != &tombstone)
        return 0;
    if (!*slot)
        set->used++;
    *slot = uh_strdup(id);
    return *slot != NULL;
}

/* Returns 1 if id was there. */
int uh_idset_del(uh_idset *set, const char *id)
{
    char **slot = idset_find(set, id, 0);

    if (!slot)
        return 0;
    free(*slot);
    *slot = &tombstone;
    return 1;
}

void uh_idset_free(uh_idset *set)
{
    for (size_t i = 0; i < set->cap; i++)
        if (set->slots[i] != &tombstone)
            free(set->slots[i]);
    free(set->slots);
    memset(set, 0, sizeof *set);
}
