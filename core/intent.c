/*
 * intent.c -- intent only: what the user asked (turn off, re-queue) is
 * recorded durably with its history line, and nothing is run.  A worker
 * (`unhook serve`, `unhook resume`, unhook_engine_run) does the rest.
 * The transitions are the state machine's (lifecycle.c), the same ones
 * unhook_instance_disable and unhook_instance_retry use.
 */
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"

/* What the caller learns: the note and code of an intent, as the
 * disable call's (UNHOOK_NOTE_NONE and "queued": a worker will run it). */
static void say(unhook_flow_result *res, unhook_note note, const char *code)
{
    free(res->code);
    res->code = uh_strdup(code);
    res->note = note;
}

/* A result that says "queued" until told otherwise. */
static void queued(unhook_flow_result *res)
{
    memset(res, 0, sizeof *res);
    res->retry_after = -1;
    say(res, UNHOOK_NOTE_NONE, "queued");
}

/* The instance id, or an error for a missing id or store. */
static int load(unhook_engine *E, const char *id, uh_store **s, uh_inst *i)
{
    int rc;

    if (!id || !*id) {
        uh_seterr(&E->diag, "an instance id is needed");
        return UNHOOK_USAGE;
    }
    if (uh_store_missing(E)) {
        uh_seterr(&E->diag, "no instance '%s'", id);
        return UNHOOK_NOTFOUND;
    }
    if ((rc = uh_engine_store(E, s)) != UNHOOK_OK)
        return rc;
    return uh_store_err(E, (*s)->ops->get(*s, id, i));
}

int unhook_instance_request_off(unhook_engine *E, const char *id,
                                const char *reason, unhook_flow_result *res)
{
    uh_store *s;
    uh_inst i;
    uh_trans t = {.ev = UH_EV_DISABLE, .reason = reason, .now = uh_wall_now()};
    const char *msg;
    int rc;

    queued(res);
    if ((rc = load(E, id, &s, &i)) != UNHOOK_OK)
        return rc;
    /* any live claim, this process's own worker included, carries it on:
     * its outcome meets the changed desired state (compare-and-set) */
    t.busy = i.claim_owner && i.claimed_until > t.now && uh_owner_alive(i.claim_owner);
    switch (uh_transition(&i, &t)) {
    case UH_V_NOTHING:
        uh_inst_clear(&i);
        say(res, UNHOOK_NOTE_ALREADY_OFF, "already_off");
        return UNHOOK_OK;
    case UH_V_ALREADY_OFF:
        say(res, UNHOOK_NOTE_ALREADY_OFF, "already_off");
        msg = "already off";
        break;
    case UH_V_NOT_REGISTERED:
        say(res, UNHOOK_NOTE_NOT_REGISTERED, "not_registered");
        msg = "never registered: nothing to deregister";
        break;
    default:                    /* RUN or IN_PROGRESS: the worker's now */
        msg = i.reason;
        break;
    }
    rc = uh_record_intent(E, s, &i, "disable", NULL, msg);
    uh_inst_clear(&i);
    if (rc == UNHOOK_OK && E->drive)
        uh_drive_queued(E, NULL);   /* the host's loop runs it */
    return rc;
}

int unhook_instance_request_retry(unhook_engine *E, const char *id,
                                  unhook_flow_result *res)
{
    uh_store *s;
    uh_inst i;
    uh_trans t = {.ev = UH_EV_RETRY, .now = uh_wall_now()};
    int rc;

    queued(res);
    if ((rc = load(E, id, &s, &i)) != UNHOOK_OK)
        return rc;
    if (uh_transition(&i, &t) == UH_V_NOT_FAILED)
        say(res, UNHOOK_NOTE_NOT_FAILED, "not_failed");
    else
        rc = uh_record_intent(E, s, &i, "retry", NULL, "re-queued");
    uh_inst_clear(&i);
    if (rc == UNHOOK_OK && E->drive)
        uh_drive_queued(E, NULL);
    return rc;
}

int unhook_instance_request_off_all(unhook_engine *E, const unhook_filter *f,
                                    const char *reason, unhook_stats *stats)
{
    uh_store *s;
    unhook_filter mine = {0};
    uh_bulk b[UH_BULK_MAX];
    long counts[UH_BULK_MAX] = {0};
    int n = uh_bulk_disable(reason, b), rc;

    memset(stats, 0, sizeof *stats);
    if (f) {
        mine.connector = f->connector;
        mine.event = f->event;
    }
    if ((rc = uh_engine_store(E, &s)) != UNHOOK_OK)
        return rc;
    if ((rc = uh_bulk_run(E, s, b, n, &mine, counts, 1, reason)) != UNHOOK_OK)
        return rc;
    stats->total = counts[0] + counts[1];
    stats->pending = counts[0];
    stats->skipped = counts[1];
    if (E->drive)
        uh_drive_queued(E, NULL);
    return UNHOOK_OK;
}
