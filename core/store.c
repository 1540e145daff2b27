/*
 * store.c -- the table of store backends, and instances as every
 * backend hands them out.
 */
#include <stdlib.h>
#include <string.h>

#include "store.h"

typedef struct backend {
    const char *scheme;         /* location prefix; NULL: a file path */
    int (*open)(const char *location, uh_store **out, char *err, size_t errsz);
} backend;

static const backend backends[] = {
    {NULL, uh_store_sqlite_open},
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

void uh_inst_clear(uh_inst *i)
{
    free(i->id);
    free(i->connector);
    free(i->event);
    free(i->options);
    free(i->connection);
    free(i->registration);
    free(i->reason);
    free(i->last_error);
    free(i->claim_owner);
    memset(i, 0, sizeof *i);
}

void uh_inst_view(const uh_inst *i, unhook_instance *o)
{
    o->id = i->id;
    o->connector = i->connector;
    o->event = i->event;
    o->options = i->options;
    o->connection = i->connection;
    o->registration = i->registration;
    o->desired = uh_desired_name(i->desired);
    o->state = uh_state_name(i->state);
    o->reason = i->reason;
    o->last_error = i->last_error;
    o->attempts = i->attempts;
    o->next_attempt_at = i->next_attempt_at;
    o->created_at = i->created_at;
    o->updated_at = i->updated_at;
}
