/*
 * manage.c -- instances managed by hand: enable again (same request: a
 * no-op; a lost instance: registered anew), update (make-before-break),
 * edit (registration data fixed, the old value kept in history) and
 * forget (an instance removed, its history kept).  Every change is one
 * transaction with its history line; the rules of the states stay in
 * lifecycle.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manage.h"
#include "same.h"

/* ---- helpers ----------------------------------------------------------- */

int uh_put_noted(unhook_engine *E, uh_store *s, const uh_inst *i, unhook_history h)
{
    int rc = s->ops->begin(s);

    h.instance_id = i->id;
    if (rc == UNHOOK_OK)
        rc = s->ops->put(s, i);
    if (rc == UNHOOK_OK)
        rc = s->ops->history_add(s, &h);
    if (rc == UNHOOK_OK)
        rc = s->ops->commit(s);
    if (rc != UNHOOK_OK)
        s->ops->rollback(s);
    return uh_store_err(E, rc);
}

/* Instance id, not claimed by another live process. */
static int get_free(unhook_engine *E, uh_store **s, const char *id, uh_inst *i)
{
    int rc;

    memset(i, 0, sizeof *i);
    if (!id || !*id) {
        uh_seterr(&E->diag, "missing instance id");
        return UNHOOK_USAGE;
    }
    if ((rc = uh_engine_store(E, s)) != UNHOOK_OK)
        return rc;
    if ((rc = (*s)->ops->get(*s, id, i)) != UNHOOK_OK)
        return uh_store_err(E, rc);
    if (uh_claimed_elsewhere(i, E->owner, uh_wall_now(), (*s)->shared)) {
        uh_seterr(&E->diag, "instance '%s' is being worked on by another unhook "
                  "process; try again when it is done", id);
        uh_inst_clear(i);
        return UNHOOK_USAGE;
    }
    return UNHOOK_OK;
}

/* ---- enable --again ---------------------------------------------------- */

int unhook_instance_enable_again(unhook_engine *E, const char *id,
                                 unhook_flow_result *res)
{
    uh_store *s;
    uh_inst i;
    unhook_flow_request req = {0};
    int rc;

    memset(res, 0, sizeof *res);
    res->retry_after = -1;
    if ((rc = get_free(E, &s, id, &i)) != UNHOOK_OK)
        return rc;
    if (i.state != UH_LOST && i.state != UH_EXPIRED) {
        uh_seterr(&E->diag, "instance '%s' is %s, not lost: 'enable --again' "
                  "registers only an instance whose webhook reconcile found "
                  "missing, or whose subscription expired", id, uh_state_name(i.state));
        uh_inst_clear(&i);
        return UNHOOK_USAGE;
    }
    /* the lost registration data goes to history before enable replaces it */
    rc = s->ops->history_add(s, &(unhook_history){.instance_id = id,
        .at = uh_wall_now(), .action = "enable", .message = i.state == UH_LOST
        ? "again: its webhook was lost at the provider (its registration data is here)"
        : "again: its subscription expired at the provider (its registration data is here)",
        .registration = i.registration});
    req.connector = i.connector;
    req.event = i.event;
    req.options_json = i.options;
    req.connection = i.connection;
    if (rc == UNHOOK_OK)
        rc = unhook_instance_enable(E, id, &req, res);
    else
        rc = uh_store_err(E, rc);
    uh_inst_clear(&i);
    return rc;
}

/* ---- update: make before break ----------------------------------------- */

/*
 * An id no instance has: STEM (when bare), else STEM SEP 1 (or 2 after a
 * bare STEM), STEM SEP 2, ...; NULL on a store error.
 */
char *uh_free_id(uh_store *s, const char *stem, char sep, int bare)
{
    uh_buf b = {0};

    for (int n = bare ? 1 : 0; n < 100000; n++) {
        uh_inst o;
        int rc;
        b.len = 0;
        uh_buf_puts(&b, stem);
        if (n > 1 || !bare)
            uh_buf_printf(&b, "%c%d", sep, bare ? n : n + 1);
        if (b.oom)
            break;
        rc = s->ops->get(s, b.data, &o);
        uh_inst_clear(&o);
        if (rc == UNHOOK_NOTFOUND)
            return uh_buf_take(&b);
        if (rc != UNHOOK_OK)
            break;
    }
    uh_buf_free(&b);
    return NULL;
}

/*
 * Break, in one transaction: the old registration becomes instance
 * retired, being deregistered (retried like any); cur takes the new
 * registration data, options and connection (conn NULL: its own).
 */
static int swap_in(unhook_engine *E, uh_store *s, uh_inst *cur, char *data,
                   char *options, char *conn, char *retired)
{
    uh_inst prev = *cur, next = *cur;
    double now = cur->updated_at;
    char msg[300];
    int rc;

    prev.id = retired;
    prev.desired = UH_WANT_OFF;
    prev.state = UH_DEREGISTERING;
    prev.reason = (char *)"update";
    prev.attempts = 0;
    prev.next_attempt_at = now;
    prev.created_at = now;
    next.registration = data;
    next.options = options;
    if (conn)
        next.connection = conn;
    rc = s->ops->begin(s);
    if (rc == UNHOOK_OK)
        rc = s->ops->put(s, &prev);
    if (rc == UNHOOK_OK)
        rc = s->ops->put(s, &next);
    if (rc == UNHOOK_OK) {
        snprintf(msg, sizeof msg, "registered anew with options %s; the registration "
                 "data here is the old one, deregistered as '%s'", options, retired);
        rc = s->ops->history_add(s, &(unhook_history){.instance_id = cur->id, .at = now,
            .action = "update", .outcome = "done", .message = msg,
            .registration = cur->registration});
    }
    if (rc == UNHOOK_OK) {
        snprintf(msg, sizeof msg, "the registration '%s' held before it was updated",
                 cur->id);
        rc = s->ops->history_add(s, &(unhook_history){.instance_id = retired,
            .at = now, .action = "update", .message = msg});
    }
    if (rc == UNHOOK_OK)
        rc = s->ops->commit(s);
    if (rc != UNHOOK_OK)
        s->ops->rollback(s);
    return uh_store_err(E, rc);
}

int unhook_instance_update(unhook_engine *E, const char *id,
                           const unhook_flow_request *changes,
                           unhook_flow_result *reg, unhook_flow_result *old,
                           char **retired)
{
    uh_store *s;
    uh_inst cur;
    unhook_flow_request req = {0};
    char *options = NULL, *conn = NULL;
    double now;
    int rc;

    memset(reg, 0, sizeof *reg);
    memset(old, 0, sizeof *old);
    reg->retry_after = old->retry_after = -1;
    *retired = NULL;
    if ((rc = uh_refuse_driven(E, "update")) != UNHOOK_OK ||
        (rc = get_free(E, &s, id, &cur)) != UNHOOK_OK)
        return rc;
    if (cur.desired != UH_WANT_ON || cur.state != UH_REGISTERED) {
        uh_seterr(&E->diag, "instance '%s' is %s (desired %s): only an instance "
                  "that is on can be updated; use 'unhook enable'", id,
                  uh_state_name(cur.state), uh_desired_name(cur.desired));
        uh_inst_clear(&cur);
        return UNHOOK_USAGE;
    }
    /* the options given replace the stored ones of the same name */
    options = uh_host_compare(E, "merge", cur.options,
                        changes && changes->options_json ? changes->options_json : "{}");
    if (changes && changes->connection &&
        !(conn = realpath(changes->connection, NULL))) {
        uh_seterr(&E->diag, "%s: cannot read connection file", changes->connection);
        rc = UNHOOK_IO;
    } else if (!options) {
        rc = UNHOOK_USAGE;
    }
    if (rc != UNHOOK_OK) {
        free(options);
        uh_inst_clear(&cur);
        return rc;
    }
    req.connector = cur.connector;
    req.event = cur.event;
    req.options_json = options;
    req.connection = conn ? conn : cur.connection;
    req.instance_id = id;
    /* make: the new registration first; the old one stays on if it fails */
    rc = uh_flow_once(&E->rt, &req, reg, "registration", 0);
    now = uh_wall_now();
    if (rc != UNHOOK_OK || reg->outcome != UNHOOK_OUTCOME_DONE) {
        uh_buf m = {0};
        uh_buf_printf(&m, "new registration %s: %s; the old one is kept",
                      rc != UNHOOK_OK ? "could not run" : unhook_outcome_name(reg->outcome),
                      rc != UNHOOK_OK ? E->diag.errmsg : reg->message ? reg->message : "");
        if (!m.oom)
            uh_history_note(s, id, "update", "failed", m.data, now);
        uh_buf_free(&m);
        goto out;
    }
    /* break */
    if (!(*retired = uh_free_id(s, id, '~', 0))) {
        rc = uh_store_err(E, UNHOOK_STORE);
        goto out;
    }
    cur.updated_at = now;
    if ((rc = swap_in(E, s, &cur, reg->registration, options, conn, *retired)) != UNHOOK_OK)
        goto out;
    rc = uh_work(E, NULL, *retired, -1, 0, NULL, NULL, NULL, old);
out:
    free(options);
    free(conn);
    uh_inst_clear(&cur);
    return rc;
}

/* ---- edit and forget --------------------------------------------------- */

int unhook_instance_edit(unhook_engine *E, const char *id, const char *registration)
{
    uh_store *s;
    uh_inst i;
    char *data, *old;
    int rc;

    if (!registration) {
        uh_seterr(&E->diag, "edit needs registration data");
        return UNHOOK_USAGE;
    }
    /* what a flow will be handed to decode: bounded like a response */
    if (strlen(registration) > UH_MAX_REGISTRATION) {
        uh_seterr(&E->diag, "registration data larger than %u bytes", UH_MAX_REGISTRATION);
        return UNHOOK_USAGE;
    }
    if ((rc = get_free(E, &s, id, &i)) != UNHOOK_OK)
        return rc;
    if (i.state == UH_OFF) {
        uh_seterr(&E->diag, "instance '%s' is off: it holds no registration data "
                  "to fix", id);
        uh_inst_clear(&i);
        return UNHOOK_USAGE;
    }
    if (!(data = uh_host_compare(E, "registration", registration, NULL))) {
        uh_inst_clear(&i);
        return UNHOOK_USAGE;
    }
    old = i.registration;
    i.registration = data;
    i.updated_at = uh_wall_now();
    /* history keeps the value replaced */
    rc = uh_put_noted(E, s, &i, (unhook_history){.at = i.updated_at,
        .action = "edit", .outcome = "done",
        .message = "registration data replaced by hand (the old value is here)",
        .registration = old});
    i.registration = old;
    free(data);
    uh_inst_clear(&i);
    return rc;
}

int unhook_instance_forget(unhook_engine *E, const char *id, int force,
                           char **left)
{
    uh_store *s;
    uh_inst i;
    double now = uh_wall_now();
    int rc;

    *left = NULL;
    if ((rc = get_free(E, &s, id, &i)) != UNHOOK_OK)
        return rc;
    if ((i.state != UH_OFF || i.desired != UH_WANT_OFF) && !force) {
        uh_seterr(&E->diag, "instance '%s' is %s (desired %s): turn it off with "
                  "'unhook disable %s' first, or 'unhook forget --force %s' to "
                  "remove it and leave its webhook at the provider", id,
                  uh_state_name(i.state), uh_desired_name(i.desired), id, id);
        uh_inst_clear(&i);
        return UNHOOK_USAGE;
    }
    rc = s->ops->begin(s);
    if (rc == UNHOOK_OK)
        rc = s->ops->history_add(s, &(unhook_history){.instance_id = id, .at = now,
            .action = "forget", .outcome = "done",
            .message = i.registration ? "forgotten; its webhook is left at the provider"
                                      : "forgotten",
            .registration = i.registration});
    if (rc == UNHOOK_OK)
        rc = s->ops->remove(s, id);
    if (rc == UNHOOK_OK)
        rc = s->ops->commit(s);
    if (rc != UNHOOK_OK) {
        s->ops->rollback(s);
        rc = uh_store_err(E, rc);
    } else if (i.registration) {
        *left = i.registration;
        i.registration = NULL;
    }
    uh_inst_clear(&i);
    return rc;
}
