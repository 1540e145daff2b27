/*
 * workinfo.h -- private: what the work loop (work.c) keeps of the
 * connectors and connections its jobs use, each resolved once per loop
 * (workinfo.c).
 */
#ifndef UNHOOK_WORKINFO_H
#define UNHOOK_WORKINFO_H

#include "lifecycle.h"

/* A connector as the work loop schedules it. */
typedef struct uh_cinfo {
    char *key;                  /* the connector as an instance names it */
    char *dir;                  /* resolved folder, NULL if unusable */
    char *error;
    uh_facts facts;
    int active;
    double next_start;
    struct uh_cinfo *next;
} uh_cinfo;

/* A loaded connection, per file and connector. */
typedef struct uh_conncache {
    char *path;
    const uh_cinfo *ci;         /* the connector it serves (its defaults) */
    uh_conn conn;
    int rc;
    char *error;
    struct uh_conncache *next;
} uh_conncache;

/* The connector an instance names, resolved on first use (added to *list);
 * NULL when out of memory.  An unusable one has dir NULL and error set. */
uh_cinfo *uh_cinfo_get(unhook_engine *E, uh_cinfo **list, const char *key);
void uh_cinfo_free(uh_cinfo *c);
/* The connection of file path for connector ci, loaded on first use (an
 * oauth2 connection may take defaults from the manifest); NULL when out
 * of memory.  One that did not load has rc and error set. */
uh_conncache *uh_conncache_get(unhook_engine *E, uh_conncache **list,
                               const char *path, const uh_cinfo *ci);
void uh_conncache_free(uh_conncache *c);

#endif
