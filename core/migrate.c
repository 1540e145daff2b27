/*
 * migrate.c -- unhook_store_migrate: one store copied into another
 * through the store interface alone, so any backend to any backend.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"

#define PER_COMMIT 1000

typedef struct copy {
    uh_store *from, *to;
    long count;
    int rc;                     /* the target's failure, if any */
} copy;

static int copy_history(void *ud, const unhook_history *h)
{
    copy *c = ud;

    c->rc = c->to->ops->history_add(c->to, h);
    return c->rc != UNHOOK_OK;
}

static int copy_one(void *ud, const uh_inst *i)
{
    copy *c = ud;

    if ((c->rc = c->to->ops->put(c->to, i)) != UNHOOK_OK)
        return 1;
    if (c->from->ops->history_list(c->from, i->id, copy_history, c) != UNHOOK_OK &&
        c->rc == UNHOOK_OK)
        c->rc = UNHOOK_STORE;
    if (c->rc == UNHOOK_OK && ++c->count % PER_COMMIT == 0 &&
        ((c->rc = c->to->ops->commit(c->to)) != UNHOOK_OK ||
         (c->rc = c->to->ops->begin(c->to)) != UNHOOK_OK))
        return 1;
    return c->rc != UNHOOK_OK;
}

static int any(void *ud, const uh_inst *i)
{
    (void)i;
    *(int *)ud = 1;
    return 1;
}

int unhook_store_migrate(unhook_engine *E, const char *location, long *count)
{
    copy c = {0};
    char err[600];
    int rc, nonempty = 0;

    if (count)
        *count = 0;
    if (!location || !*location) {
        uh_seterr(&E->diag, "migrate needs a target store");
        return UNHOOK_USAGE;
    }
    if ((rc = uh_engine_store(E, &c.from)) != UNHOOK_OK)
        return rc;
    if ((rc = uh_store_open(location, &c.to, err, sizeof err)) != UNHOOK_OK) {
        uh_seterr(&E->diag, "%s", err);
        return rc;
    }
    if ((rc = c.to->ops->list(c.to, NULL, any, &nonempty)) == UNHOOK_OK && nonempty) {
        snprintf(c.to->errmsg, sizeof c.to->errmsg, "the target store already "
                 "holds instances: migrate copies into an empty store only");
        rc = UNHOOK_USAGE;
    }
    if (rc == UNHOOK_OK && (rc = c.to->ops->begin(c.to)) == UNHOOK_OK) {
        rc = c.from->ops->list(c.from, NULL, copy_one, &c);
        if (rc == UNHOOK_OK)
            rc = c.rc;
        if (rc == UNHOOK_OK)
            rc = c.to->ops->commit(c.to);
        else
            c.to->ops->rollback(c.to);
    }
    if (rc != UNHOOK_OK)
        uh_seterr(&E->diag, "%s", c.rc != UNHOOK_OK || rc == UNHOOK_USAGE ||
                  !c.from->errmsg[0] ? c.to->errmsg : c.from->errmsg);
    else if (count)
        *count = c.count;
    c.to->ops->close(c.to);
    return rc;
}
