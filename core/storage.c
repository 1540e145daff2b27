/*
 * storage.c -- the engine's store (opened on first use by engine.c): its
 * messages made the engine's, history notes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lifecycle.h"

int uh_store_err(unhook_engine *E, int rc)
{
    if (rc != UNHOOK_OK && E->store)
        uh_seterr(&E->diag, "%s", E->store->errmsg);
    return rc;
}

void uh_history_note(uh_store *s, const char *id, const char *action,
                         const char *outcome, const char *msg, double now)
{
    unhook_history h = {0};

    h.instance_id = id;
    h.at = now;
    h.action = action;
    h.outcome = outcome;
    h.message = msg;
    s->ops->history_add(s, &h);
}
