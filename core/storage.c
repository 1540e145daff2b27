/*
 * storage.c -- the engine's store: opened on first use (this engine's
 * owner id set with it), its messages made the engine's, history notes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lifecycle.h"

static const char *db_path(unhook_engine *E)
{
    const char *path = E->db_path ? E->db_path : getenv("UNHOOK_DB");

    return path && *path ? path : "unhook.db";
}

int uh_store_missing(unhook_engine *E)
{
    /* a server's database (a URL) is never created by reading it */
    return !E->store && !strstr(db_path(E), "://") && access(db_path(E), F_OK) != 0;
}

/* A nonce for the owner id: two engines of one process, or a pid reused
 * on another machine sharing the store, never hold the same owner. */
static unsigned nonce(unhook_engine *E)
{
    unsigned v = 0;
    FILE *f = fopen("/dev/urandom", "rb");

    if (!f || fread(&v, sizeof v, 1, f) != 1)
        v = (unsigned)(E->rng >> 16);
    if (f)
        fclose(f);
    return v;
}

int uh_engine_store(unhook_engine *E, uh_store **out)
{
    char err[600];
    int rc;

    if (!E->store) {
        char host[64] = "";
        rc = uh_store_open(db_path(E), &E->store, err, sizeof err);
        if (rc != UNHOOK_OK) {
            uh_seterr(&E->diag, "%s", err);
            return rc;
        }
        gethostname(host, sizeof host - 1);
        snprintf(E->owner, sizeof E->owner, "%s:%ld:%08x", host, (long)getpid(),
                 nonce(E));
    }
    *out = E->store;
    return UNHOOK_OK;
}

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
