/*
 * workinfo.c -- the connectors and connections of a work loop's jobs,
 * each resolved or loaded once per loop.
 */
#include <stdlib.h>
#include <string.h>

#include "workinfo.h"

uh_cinfo *uh_cinfo_get(unhook_engine *E, uh_cinfo **list, const char *key)
{
    uh_cinfo *c;

    for (c = *list; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->key = uh_strdup(key);
    c->dir = uh_connector_path(&E->rt, key);
    if (!c->dir)
        c->error = uh_strdup(E->diag.errmsg);
    else if ((c->error = uh_connector_facts(&E->rt, c->dir, &c->facts))) {
        free(c->dir);
        c->dir = NULL;
    }
    c->next = *list;
    *list = c;
    return c;
}

void uh_cinfo_free(uh_cinfo *c)
{
    while (c) {
        uh_cinfo *n = c->next;
        uh_facts_free(&c->facts);
        free(c->key);
        free(c->dir);
        free(c->error);
        free(c);
        c = n;
    }
}

uh_conncache *uh_conncache_get(unhook_engine *E, uh_conncache **list,
                               const char *path, const uh_cinfo *ci)
{
    uh_conncache *c;

    for (c = *list; c; c = c->next)
        if (c->ci == ci &&
            ((!c->path && !path) || (c->path && path && strcmp(c->path, path) == 0)))
            return c;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->path = path ? uh_strdup(path) : NULL;
    c->ci = ci;
    c->rc = uh_conn_load_for(&E->rt, path, &ci->facts, &c->conn);
    if (c->rc != UNHOOK_OK)
        c->error = uh_strdup(E->diag.errmsg);
    c->next = *list;
    *list = c;
    return c;
}

void uh_conncache_free(uh_conncache *c)
{
    while (c) {
        uh_conncache *n = c->next;
        uh_conn_free(&c->conn);
        free(c->path);
        free(c->error);
        free(c);
        c = n;
    }
}
