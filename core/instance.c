/*
 * instance.c -- the public lifecycle API: instances enabled, disabled,
 * re-queued, read; bulk work; the engine's store opened on first use.
 * Each call records the user's intent (one transaction, with its history
 * line) before any request is sent, then runs the attempt through the
 * work loop.  What an event means is the state machine's (lifecycle.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "same.h"

/* ---- helpers ----------------------------------------------------------- */

/* A connection file given for every instance must load before anything
 * is written: a typo is a usage error, not a retry. */
static int check_override(unhook_engine *E)
{
    uh_conn c;
    int rc;

    if (!E->conn_override)
        return UNHOOK_OK;
    rc = uh_conn_load(&E->rt, E->conn_override, &c);
    uh_conn_free(&c);
    return rc;
}

/* The store for an operation that writes (override checked first). */
static int writable(unhook_engine *E, uh_store **s)
{
    int rc = check_override(E);

    return rc != UNHOOK_OK ? rc : uh_engine_store(E, s);
}

static void result_init(unhook_flow_result *res)
{
    memset(res, 0, sizeof *res);
    res->retry_after = -1;
}

/* Run the one due attempt of instance id now; result into res. */
static int run_one(unhook_engine *E, const char *id, unhook_flow_result *res)
{
    if (E->drive) {
        uh_drive_queued(E, res);    /* the host's loop runs it */
        return UNHOOK_OK;
    }
    return uh_work(E, NULL, id, -1, 0, NULL, NULL, NULL, res);
}

/* Record intent (and a history line) in one transaction. */
int uh_record_intent(unhook_engine *E, uh_store *s, const uh_inst *i,
                     const char *action, const char *outcome, const char *msg)
{
    int rc = s->ops->begin(s);

    if (rc == UNHOOK_OK)
        rc = s->ops->intent(s, i);
    if (rc == UNHOOK_OK)
        uh_history_note(s, i->id, action, outcome, msg, i->updated_at);
    if (rc == UNHOOK_OK)
        rc = s->ops->commit(s);
    if (rc != UNHOOK_OK) {
        s->ops->rollback(s);
        return uh_store_err(E, rc);
    }
    return UNHOOK_OK;
}

/* ---- enable ------------------------------------------------------------ */

static void set_code(unhook_flow_result *res, unhook_note note, const char *code,
                     const char *msg);
static long settled(const unhook_stats *s);

/*
 * A new instance is due at once, so a worker (serve's, or another
 * process's) may claim it before the enable that stored it does.  Its
 * outcome is then the enable's: read back as the worker records it, for
 * a flow's budget and a margin; after that, in progress (it converges).
 */
static int await_elsewhere(unhook_engine *E, uh_store *s, const char *id,
                           unhook_flow_result *res)
{
    double until = uh_now() + (double)E->rt.timeout_ms / 1000.0 + 5.0;
    struct timespec nap = {0, 10 * 1000 * 1000};
    uh_inst i;
    int rc;

    for (;;) {
        if ((rc = s->ops->get(s, id, &i)) != UNHOOK_OK)
            return uh_store_err(E, rc);
        if (i.state == UH_REGISTERED || i.state == UH_FAILED ||
            (i.state == UH_REGISTERING && i.attempts > 0)) {
            res->outcome = i.state == UH_REGISTERED ? UNHOOK_OUTCOME_DONE
                         : i.state == UH_FAILED ? UNHOOK_OUTCOME_FAILED
                         : UNHOOK_OUTCOME_RETRY;
            if (i.last_error && i.state != UH_REGISTERED)
                res->message = uh_strdup(i.last_error);
            uh_inst_clear(&i);
            return UNHOOK_OK;
        }
        uh_inst_clear(&i);
        if (uh_now() >= until) {
            res->outcome = UNHOOK_OUTCOME_RETRY;
            set_code(res, UNHOOK_NOTE_IN_PROGRESS, "in_progress", "another unhook "
                     "process is working on this instance; it converges");
            return UNHOOK_OK;
        }
        nanosleep(&nap, NULL);
    }
}

/* Whether an instance that exists may be enabled again (UH_ALREADY_ON:
 * the same one is on; nothing to do). */
static int may_enable(unhook_engine *E, uh_store *s, const char *id,
                      const unhook_flow_request *req, double now)
{
    uh_inst i;
    int rc = s->ops->get(s, id, &i);

    if (rc == UNHOOK_NOTFOUND)
        return UNHOOK_OK;
    if (rc != UNHOOK_OK)
        return uh_store_err(E, rc);
    rc = UNHOOK_USAGE;
    if (uh_claimed_elsewhere(&i, E->owner, now, s->shared))
        uh_seterr(&E->diag, "instance '%s' is being worked on by another unhook "
                  "process; try again when it is done", id);
    else if (i.desired == UH_WANT_ON && i.state == UH_REGISTERED)
        rc = uh_enable_same(E, &i, req);
    /* lost, expired: its webhook is gone at the provider; registering anew is right */
    else if (i.registration && i.state != UH_REGISTERED && i.state != UH_LOST &&
             i.state != UH_EXPIRED)
        uh_seterr(&E->diag, "instance '%s' is still %s and holds registration "
                  "data; finish with 'unhook resume' or 'unhook retry %s' first",
                  id, uh_state_name(i.state), id);
    else
        rc = UNHOOK_OK;
    uh_inst_clear(&i);
    return rc;
}

/* A new instance for req (registering); NULL strings on out of memory. */
static int new_instance(unhook_engine *E, const char *id,
                        const unhook_flow_request *req, uh_inst *i, double now)
{
    uh_trans t = {.ev = UH_EV_ENABLE, .now = now};

    memset(i, 0, sizeof *i);
    i->connector = uh_connector_key(E, req->connector);
    if (!i->connector)
        return UNHOOK_NOTFOUND;
    if (req->connection && !(i->connection = realpath(req->connection, NULL))) {
        uh_seterr(&E->diag, "%s: cannot read connection file", req->connection);
        uh_inst_clear(i);
        return UNHOOK_IO;
    }
    i->id = uh_strdup(id);
    i->event = uh_strdup(req->event);
    i->options = uh_strdup(req->options_json ? req->options_json : "{}");
    i->created_at = now;
    uh_transition(i, &t);
    return UNHOOK_OK;
}

int unhook_instance_enable(unhook_engine *E, const char *id,
                           const unhook_flow_request *req,
                           unhook_flow_result *res)
{
    uh_store *s;
    uh_inst i;
    unhook_flow_result check;
    unhook_stats st = {0};
    double now = uh_wall_now();
    int rc;

    result_init(res);
    if (!id || !*id || !req || !req->connector || !req->event) {
        uh_seterr(&E->diag, "enable needs an id, a connector and an event");
        return UNHOOK_USAGE;
    }
    if ((rc = uh_engine_store(E, &s)) != UNHOOK_OK ||
        (rc = may_enable(E, s, id, req, now)) != UNHOOK_OK) {
        if (rc == UH_ALREADY_ON) {
            res->note = UNHOOK_NOTE_ALREADY_ON;
            res->code = uh_strdup("already_on");
            rc = UNHOOK_OK;
        }
        return rc;
    }
    /* options, inputs and the event are checked before anything is stored */
    rc = uh_flow_once(&E->rt, req, &check, "registration", 1);
    unhook_flow_result_free(&check);
    if (rc != UNHOOK_OK || (rc = new_instance(E, id, req, &i, now)) != UNHOOK_OK)
        return rc;
    rc = s->ops->begin(s);
    if (rc == UNHOOK_OK)
        rc = s->ops->put(s, &i);
    if (rc == UNHOOK_OK)
        rc = s->ops->history_add(s, &(unhook_history){.instance_id = id,
                                 .at = now, .action = "enable"});
    if (rc == UNHOOK_OK)
        rc = s->ops->commit(s);
    uh_inst_clear(&i);
    if (rc != UNHOOK_OK) {
        s->ops->rollback(s);
        return uh_store_err(E, rc);
    }
    if (E->drive)
        return run_one(E, id, res);
    rc = uh_work(E, NULL, id, -1, 0, &st, NULL, NULL, res);
    /* nothing ran here (no outcome counted or captured): a worker
     * claimed it first */
    if (rc == UNHOOK_OK && settled(&st) == 0 && !res->code && !res->message &&
        !res->registration)
        rc = await_elsewhere(E, s, id, res);
    return rc;
}

/* ---- disable and retry ------------------------------------------------- */

static void set_code(unhook_flow_result *res, unhook_note note, const char *code,
                     const char *msg)
{
    res->note = note;
    res->code = uh_strdup(code);
    if (msg)
        res->message = uh_strdup(msg);
}

int unhook_instance_disable(unhook_engine *E, const char *id,
                            const char *reason, unhook_flow_result *res)
{
    uh_store *s;
    uh_inst i;
    uh_trans t = {.ev = UH_EV_DISABLE, .reason = reason};
    int rc = UNHOOK_OK;

    result_init(res);
    if (!id) {
        uh_seterr(&E->diag, "disable needs an id");
        return UNHOOK_USAGE;
    }
    if ((rc = writable(E, &s)) != UNHOOK_OK)
        return rc;
    if ((rc = s->ops->get(s, id, &i)) != UNHOOK_OK)
        return uh_store_err(E, rc);
    t.now = uh_wall_now();
    t.busy = uh_claimed_elsewhere(&i, E->owner, t.now, s->shared);
    switch (uh_transition(&i, &t)) {
    case UH_V_NOTHING:
        set_code(res, UNHOOK_NOTE_ALREADY_OFF, "already_off", NULL);
        break;
    case UH_V_ALREADY_OFF:
        set_code(res, UNHOOK_NOTE_ALREADY_OFF, "already_off", NULL);
        rc = uh_record_intent(E, s, &i, "disable", "done", "already off");
        break;
    case UH_V_IN_PROGRESS:
        rc = uh_record_intent(E, s, &i, "disable", NULL, i.reason);
        if (rc == UNHOOK_OK) {
            res->outcome = UNHOOK_OUTCOME_RETRY;
            set_code(res, UNHOOK_NOTE_IN_PROGRESS, "in_progress", "another unhook process is working on "
                     "this instance right now; it will converge to the desired state");
        }
        break;
    case UH_V_NOT_REGISTERED:
        set_code(res, UNHOOK_NOTE_NOT_REGISTERED, "not_registered", NULL);
        rc = uh_record_intent(E, s, &i, "disable", "done",
                           "never registered: nothing to deregister");
        break;
    default:
        rc = uh_record_intent(E, s, &i, "disable", NULL, i.reason);
        if (rc == UNHOOK_OK)
            rc = run_one(E, id, res);
        break;
    }
    uh_inst_clear(&i);
    return rc;
}

int unhook_instance_retry(unhook_engine *E, const char *id,
                          unhook_flow_result *res)
{
    uh_store *s;
    uh_inst i;
    uh_trans t = {.ev = UH_EV_RETRY, .now = uh_wall_now()};
    int rc;

    result_init(res);
    if ((rc = writable(E, &s)) != UNHOOK_OK)
        return rc;
    if ((rc = s->ops->get(s, id, &i)) != UNHOOK_OK)
        return uh_store_err(E, rc);
    if (uh_transition(&i, &t) == UH_V_NOT_FAILED) {
        set_code(res, UNHOOK_NOTE_NOT_FAILED, "not_failed", NULL);
        uh_inst_clear(&i);
        return UNHOOK_OK;
    }
    rc = uh_record_intent(E, s, &i, "retry", NULL, "re-queued");
    uh_inst_clear(&i);
    return rc != UNHOOK_OK ? rc : run_one(E, id, res);
}

/* ---- reading ----------------------------------------------------------- */

int unhook_instance_get(unhook_engine *E, const char *id, unhook_instance **out)
{
    uh_store *s;
    uh_inst *i;
    unhook_instance *o;
    int rc;

    *out = NULL;
    if (uh_store_missing(E)) {
        uh_seterr(&E->diag, "no instance '%s'", id);
        return UNHOOK_NOTFOUND;
    }
    if ((rc = uh_engine_store(E, &s)) != UNHOOK_OK)
        return rc;
    /* one allocation: the public view followed by the owned copy */
    o = calloc(1, sizeof *o + sizeof *i);
    if (!o)
        return UNHOOK_NOMEM;
    i = (uh_inst *)(o + 1);
    rc = s->ops->get(s, id, i);
    if (rc != UNHOOK_OK) {
        free(o);
        return uh_store_err(E, rc);
    }
    uh_inst_view(i, o);
    *out = o;
    return UNHOOK_OK;
}

void unhook_instance_free(unhook_instance *o)
{
    if (!o)
        return;
    uh_inst_clear((uh_inst *)(o + 1));
    free(o);
}

typedef struct list_ctx {
    unhook_instance_fn fn;
    void *ud;
} list_ctx;

static int list_one(void *ud, const uh_inst *i)
{
    list_ctx *c = ud;
    unhook_instance v;

    uh_inst_view(i, &v);
    return c->fn(c->ud, &v);
}

int unhook_instance_list(unhook_engine *E, const unhook_filter *f,
                         unhook_instance_fn fn, void *ud)
{
    uh_store *s;
    list_ctx c = {fn, ud};
    int rc;

    if (uh_store_missing(E))
        return UNHOOK_OK;
    if ((rc = uh_engine_store(E, &s)) != UNHOOK_OK)
        return rc;
    return uh_store_err(E, s->ops->list(s, f, list_one, &c));
}

typedef struct hist_ctx {
    unhook_history_fn fn;
    void *ud;
    long n;
} hist_ctx;

static int hist_one(void *ud, const unhook_history *h)
{
    hist_ctx *c = ud;

    c->n++;
    return c->fn(c->ud, h);
}

/* A forgotten instance's history stays queryable: not found only when
 * there is none. */
static int forgotten_history(unhook_engine *E, uh_store *s, const char *id,
                             unhook_history_fn fn, void *ud)
{
    hist_ctx c = {fn, ud, 0};
    int rc = s->ops->history_list(s, id, hist_one, &c);

    if (rc == UNHOOK_OK && c.n == 0) {
        uh_seterr(&E->diag, "no instance '%s'", id);
        return UNHOOK_NOTFOUND;
    }
    return uh_store_err(E, rc);
}

int unhook_history_list(unhook_engine *E, const char *id, unhook_history_fn fn,
                        void *ud)
{
    uh_store *s;
    uh_inst i;
    int rc;

    if (uh_store_missing(E)) {
        uh_seterr(&E->diag, "no instance '%s'", id);
        return UNHOOK_NOTFOUND;
    }
    if ((rc = uh_engine_store(E, &s)) != UNHOOK_OK)
        return rc;
    rc = s->ops->get(s, id, &i);
    uh_inst_clear(&i);
    if (rc == UNHOOK_NOTFOUND)
        return forgotten_history(E, s, id, fn, ud);
    if (rc != UNHOOK_OK)
        return uh_store_err(E, rc);
    return uh_store_err(E, s->ops->history_list(s, id, fn, ud));
}

/* ---- bulk work --------------------------------------------------------- */

/* The parts of a caller's filter that bulk work may narrow by. */
static unhook_filter narrow(const unhook_filter *f, int with_id)
{
    unhook_filter mine = {0};

    if (f) {
        mine.connector = f->connector;
        mine.event = f->event;
        if (with_id)
            mine.id = f->id;
    }
    return mine;
}

/* The instances that are on, as disable --all finds them. */
typedef struct ons {
    char **ids;
    int *registered;
    size_t n, cap;
    int oom;
} ons;

static int collect_on(void *ud, const uh_inst *i)
{
    ons *o = ud;

    if (i->desired != UH_WANT_ON)
        return 0;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        char **ids = realloc(o->ids, cap * sizeof *ids);
        int *reg = ids ? realloc(o->registered, cap * sizeof *reg) : NULL;
        if (ids)
            o->ids = ids;
        if (!reg) {
            o->oom = 1;
            return 1;
        }
        o->registered = reg;
        o->cap = cap;
    }
    o->registered[o->n] = i->registration != NULL;
    if (!(o->ids[o->n++] = uh_strdup(i->id)))
        o->oom = 1;
    return o->oom;
}

/* The "disable" row of history that disable ID writes, for every
 * instance disable --all is about to turn off (inside its transaction). */
static int note_disables(uh_store *s, const unhook_filter *f, const char *reason,
                         double now)
{
    ons o = {0};
    int rc = s->ops->list(s, f, collect_on, &o);

    if (rc == UNHOOK_OK && o.oom)
        rc = UNHOOK_NOMEM;
    for (size_t k = 0; k < o.n; k++) {
        if (rc == UNHOOK_OK && o.ids[k])
            uh_history_note(s, o.ids[k], "disable", o.registered[k] ? NULL : "done",
                            o.registered[k] ? (reason ? reason : "disabled")
                            : "never registered: nothing to deregister", now);
        free(o.ids[k]);
    }
    free(o.ids);
    free(o.registered);
    return rc;
}

/* The same rows, set-based, where the store offers it: b[k] with
 * registration data is to be deregistered, without it there is nothing to
 * do.  *rows as history_bulk's (store.h). */
static int note_disables_bulk(uh_store *s, const uh_bulk *b, int n,
                              const unhook_filter *f, const char *reason,
                              double now, long *rows)
{
    unhook_history h[UH_BULK_MAX];

    for (int k = 0; k < n; k++) {
        h[k] = (unhook_history){.at = now, .action = "disable"};
        h[k].outcome = b[k].registered ? NULL : "done";
        h[k].message = b[k].registered ? (reason ? reason : "disabled")
                                       : "never registered: nothing to deregister";
    }
    return s->ops->history_bulk(s, b, n, f, h, rows);
}

/* Whether b[0..n) are disable's transitions, each on or off registration
 * data, so that their rows of history can be written set-based.  Each
 * turns off what it changes: no transition makes a row another one
 * matches (what uh_bulk_run's count of rows left relies on). */
static int bulk_notes(const uh_store *s, const uh_bulk *b, int n)
{
    if (!s->ops->history_bulk || n > UH_BULK_MAX)
        return 0;
    for (int k = 0; k < n; k++)
        if (b[k].desired != UH_WANT_ON || b[k].registered < 0 ||
            b[k].to_desired != UH_WANT_OFF)
            return 0;
    return 1;
}

/* The state machine's set-based transitions, in one transaction;
 * counts[k] receives how many the k-th changed.  disabling: write the
 * "disable" rows of history first, with reason; when the store counts
 * them (left >= 0), the transitions after the one that changed the last
 * of those rows have none to match and are not run (each is a scan of
 * every instance in SQLite). */
int uh_bulk_run(unhook_engine *E, uh_store *s, const uh_bulk *b, int n,
                const unhook_filter *f, long *counts, int disabling,
                const char *reason)
{
    double now = uh_wall_now();
    long left = -1;
    int rc = s->ops->begin(s);

    if (rc == UNHOOK_OK && disabling)
        rc = bulk_notes(s, b, n) ? note_disables_bulk(s, b, n, f, reason, now, &left)
                                 : note_disables(s, f, reason, now);
    for (int k = 0; k < n && rc == UNHOOK_OK; k++) {
        if (left == 0) {
            counts[k] = 0;
            continue;
        }
        rc = s->ops->bulk(s, &b[k], f, now, &counts[k]);
        if (left > 0)
            left = counts[k] <= left ? left - counts[k] : -1;
    }
    if (rc == UNHOOK_OK)
        rc = s->ops->commit(s);
    if (rc != UNHOOK_OK)
        s->ops->rollback(s);
    return uh_store_err(E, rc);
}

int unhook_instance_disable_all(unhook_engine *E, const unhook_filter *f,
                                const char *reason, unhook_stats *stats,
                                unhook_progress_fn progress, void *ud)
{
    uh_store *s;
    unhook_filter mine = narrow(f, 0);
    uh_bulk b[UH_BULK_MAX];
    long counts[UH_BULK_MAX] = {0};
    int rc;

    memset(stats, 0, sizeof *stats);
    if ((rc = writable(E, &s)) != UNHOOK_OK)
        return rc;
    /* one transaction records the intent for every instance */
    if ((rc = uh_bulk_run(E, s, b, uh_bulk_disable(reason, b), &mine, counts, 1,
                   reason)) != UNHOOK_OK)
        return rc;
    stats->total = counts[0] + counts[1];
    stats->skipped = counts[1];
    if (E->drive) {
        uh_drive_queued(E, NULL);   /* the host's loop runs them */
        return UNHOOK_OK;
    }
    return uh_crew_work(E, &mine, -1, 0, counts[0], stats, progress, ud);
}

int unhook_instance_retry_all(unhook_engine *E, const unhook_filter *f,
                              long *count)
{
    uh_store *s;
    unhook_filter mine = narrow(f, 0);
    uh_bulk b[UH_BULK_MAX];
    long counts[UH_BULK_MAX] = {0};
    int rc;

    *count = 0;
    if ((rc = uh_engine_store(E, &s)) != UNHOOK_OK)
        return rc;
    rc = uh_bulk_run(E, s, b, uh_bulk_requeue(b), &mine, counts, 0, NULL);
    if (rc == UNHOOK_OK)
        *count = counts[0] + counts[1] + counts[2];
    return rc;
}

/* Attempts counted in stats, whatever their outcome. */
static long settled(const unhook_stats *s)
{
    return s->done + s->gone + s->failed + s->pending + s->registered +
           s->renewed + s->expired;
}

int unhook_engine_run(unhook_engine *E, const unhook_filter *f, long max_ms,
                      int wait, unhook_stats *stats, unhook_progress_fn progress,
                      void *ud)
{
    unhook_filter mine = narrow(f, 1);
    unhook_stats local;
    long before;
    int rc;

    if ((rc = uh_refuse_driven(E, E->stop ? "unhook_engine_serve" : "unhook_engine_run")) != UNHOOK_OK ||
        (rc = check_override(E)) != UNHOOK_OK)
        return rc;
    if (!stats) {
        memset(&local, 0, sizeof local);
        stats = &local;
    }
    before = settled(stats);
    rc = uh_crew_work(E, f ? &mine : NULL, max_ms, wait, -1, stats, progress, ud);
    stats->total += settled(stats) - before;
    return rc;
}
