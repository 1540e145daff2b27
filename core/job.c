/*
 * job.c -- one attempt of the work loop: started in a pooled Lua state
 * (or ended at once when it cannot start), read back when its flow
 * ends, moved by the state machine and written under its claim, then
 * shown to the engine's observer and counted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "job.h"

cinfo *uh_job_info(work *w, const char *key)
{
    return uh_pace_for(&w->infos, w->E, key);
}

/* What tells an edited connection file from the one read (empty: none). */
static void file_stamp(const char *path, char out[96])
{
    struct stat st;

    out[0] = '\0';
    if (path && stat(path, &st) == 0)
        snprintf(out, 96, "%llu:%llu:%lld:%lld.%09ld", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino, (long long)st.st_size,
                 (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

/*
 * The connection of an attempt, read once per work loop -- and again when
 * its file changed, so that a long loop (serve) picks up a rotated secret
 * or a repaired file at the next attempt.  The newer reading goes first
 * and hides the older, which runs in flight may still use: it is freed
 * with the loop's caches.
 */
static conncache *conn_for(work *w, const char *path, const cinfo *ci)
{
    conncache *c;
    char stamp[96];
    double now = uh_now();

    for (c = w->conns; c; c = c->next)
        if (c->ci == ci &&
            ((!c->path && !path) || (c->path && path && strcmp(c->path, path) == 0))) {
            /* the file is looked at again at most once a second */
            if (now - c->checked < UH_CONN_RECHECK_S)
                return c;
            file_stamp(path, stamp);
            if (strcmp(c->stamp, stamp) == 0) {
                c->checked = now;
                return c;
            }
            break;
        }
    if (!c)
        file_stamp(path, stamp);
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    memcpy(c->stamp, stamp, sizeof c->stamp);
    c->checked = now;
    c->path = path ? uh_strdup(path) : NULL;
    c->ci = ci;
    c->rc = uh_conn_load_for(&w->E->rt, path, &ci->facts, &c->conn);
    if (c->rc != UNHOOK_OK)
        c->error = uh_strdup(w->E->diag.errmsg);
    c->next = w->conns;
    w->conns = c;
    return c;
}

void uh_job_free(job *j)
{
    uh_run_close(&j->run);
    uh_inst_clear(&j->inst);
    unhook_flow_result_free(&j->res);
    free(j->released);
    free(j);
}

static void job_done(uh_run *r);

/* The flow of each kind of attempt, and its word in history. */
static const char *const flow_kind[] = {"registration", "deregistration", "renewal"};
static const char *const action[] = {"register", "deregister", "renew"};

uh_job_kind uh_job_kind_of(uh_state st)
{
    return st == UH_REGISTERING ? UH_JOB_REGISTER
         : st == UH_REGISTERED ? UH_JOB_RENEW : UH_JOB_DEREGISTER;
}

/* j ended (its result in j->res): to be committed with the others. */
static void job_ended(work *w, job *j)
{
    j->next = w->finished;
    w->finished = j;
    w->nfinished++;
}

/* Bulk work counts the outcomes of deregistrations (pace.c's guard). */
static void guard(work *w, job *j)
{
    if (j->kind == UH_JOB_DEREGISTER && !w->only_id)
        uh_pace_outcome(j->ci, w->E, &j->res);
}

/* Fill j->res without running anything (the flow could not start).  The
 * guard is not told: it counts what the provider answered, and no request
 * was made. */
static void job_fail_now(work *w, job *j, unhook_outcome o, const char *code,
                         const char *msg)
{
    memset(&j->res, 0, sizeof j->res);
    j->res.outcome = o;
    j->res.code = uh_strdup(code);
    j->res.message = uh_strdup(msg);
    j->res.retry_after = -1;
    job_ended(w, j);
}

void uh_job_start(work *w, job *j)
{
    unhook_flow_request req = {0};
    uh_policy policy;
    conncache *cc;
    const char *path = w->E->conn_override ? w->E->conn_override
                                           : j->inst.connection;

    j->started = uh_now();
    if (!j->ci || (!j->ci->dir && j->ci->short_of)) {
        /* its files could not be read for want of file descriptors or
         * memory (read again before the start, start_queued), or there
         * was no memory for its entry: nothing wrong with the connector,
         * try again later */
        job_fail_now(w, j, UNHOOK_OUTCOME_RETRY, "resources",
                     j->ci ? j->ci->error : "out of memory");
        return;
    }
    if (!j->ci->dir) {
        job_fail_now(w, j, UNHOOK_OUTCOME_FAILED, "invalid",
                     j->ci->error ? j->ci->error : "connector unusable");
        return;
    }
    uh_facts_policy(&j->ci->facts, j->inst.event, &policy);
    if (uh_settled(&j->inst, &policy, uh_wall_now(), &j->res)) {
        uh_pace_unreserve(j->ci);
        job_ended(w, j);        /* the subscription lapsed: no flow to run */
        return;
    }
    cc = conn_for(w, path, j->ci);
    if (!cc || cc->rc != UNHOOK_OK) {
        /* an operator's file may come back: retry rather than dead-letter */
        uh_pace_unreserve(j->ci);
        job_fail_now(w, j, UNHOOK_OUTCOME_RETRY, "connection",
                     cc && cc->error ? cc->error : "cannot load the connection");
        return;
    }
    req.event = j->inst.event;
    req.options_json = j->inst.options;
    req.registration = j->kind == UH_JOB_REGISTER ? NULL : j->inst.registration;
    req.reason = j->inst.reason;
    req.instance_id = j->inst.id;
    memset(&j->run, 0, sizeof j->run);
    j->run.done = job_done;
    j->run.ud = w;
    if (uh_run_start(&w->E->rt, &j->run, j->ci->dir, flow_kind[j->kind], &req,
                     &cc->conn, &j->res) != UNHOOK_OK) {
        uh_pace_unreserve(j->ci);
        job_fail_now(w, j, UNHOOK_OUTCOME_RETRY, "engine", w->E->diag.errmsg);
        return;
    }
    uh_pace_began(j->ci);
    w->active++;
}

static void job_done(uh_run *r)
{
    job *j = (job *)r;
    work *w = r->ud;
    int setup;

    /* the run's own reading of its result (run.c) */
    uh_run_read_result(r);
    setup = r->setup;
    if (setup && !j->res.code)      /* it could not start: why, as history says */
        j->res.code = uh_strdup(r->setup_rc == UNHOOK_NOTFOUND ? "notfound"
                                : r->setup_rc == UNHOOK_USAGE ? "usage" : "invalid");
    uh_run_close(r);
    if (!setup)                     /* as job_fail_now: nothing was asked */
        guard(w, j);
    uh_pace_ended(j->ci);
    w->active--;
    job_ended(w, j);
}

/* The new state of j's instance from its result (the state machine's
 * word); fills h, whose strings point into j. */
static void apply(work *w, job *j, unhook_history *h, double now)
{
    uh_inst *i = &j->inst;
    uh_trans t = {.ev = UH_EV_OUTCOME, .now = now, .res = &j->res};

    uh_facts_policy(j->ci ? &j->ci->facts : NULL, i->event, &t.policy);
    t.jitter = uh_jitter(w->E);
    uh_transition(i, &t);
    j->released = t.released;
    memset(h, 0, sizeof *h);
    h->instance_id = i->id;
    h->at = now;
    h->action = action[j->kind];
    h->attempt = j->attempt;
    h->status = j->res.status;
    h->message = j->res.message;
    h->outcome = t.outcome;
    /* registered or renewed: the new data; deregistered: the data let go */
    h->registration = j->kind == UH_JOB_DEREGISTER ? j->released
                    : j->kind == UH_JOB_RENEW && j->res.outcome != UNHOOK_OUTCOME_DONE
                    ? NULL : i->registration;
}

/* After j's outcome was compare-and-set with result cas: if the user
 * changed the desired state meanwhile, the state machine decides again
 * with the new one. */
static int settle(work *w, job *j, double now, int cas)
{
    uh_store *s = w->s;
    int rc = UNHOOK_OK;

    if (cas == UH_CAS_CHANGED) {
        uh_inst cur;
        uh_trans t = {.ev = UH_EV_DESIRED, .now = now};
        if ((rc = s->ops->get(s, j->inst.id, &cur)) != UNHOOK_OK)
            return rc;
        j->inst.desired = cur.desired;
        if (!j->inst.reason && cur.reason)
            j->inst.reason = uh_strdup(cur.reason);
        uh_inst_clear(&cur);
        uh_transition(&j->inst, &t);
        rc = s->ops->finish(s, &j->inst, w->owner, now, &cas);
    }
    if (rc == UNHOOK_OK && cas != UH_CAS_OK) {
        j->lost = 1;        /* the lease ran out and another process took it */
        j->h.message = "outcome not recorded: another process holds the instance";
    }
    return rc;
}

int uh_job_pending(work *w, const char *id, int add)
{
    if (w->E->team)
        return uh_team_pending(w->E->team, id, add);
    return add ? uh_idset_add(&w->pending, id) : uh_idset_del(&w->pending, id);
}

/* Count j's committed outcome in the stats and the caller's result. */
static void count(work *w, job *j, int committed)
{
    uh_state st = j->inst.state;

    if (committed && w->stats && !j->lost) {
        /* a renewal to retry stays registered: pending all the same */
        int ended = !UH_STATE_PENDING(st) && (st == UH_FAILED ||
                    j->res.outcome != UNHOOK_OUTCOME_RETRY);
        if (ended && uh_job_pending(w, j->inst.id, 0))
            w->stats->pending--;
        if (!ended)
            w->stats->pending += uh_job_pending(w, j->inst.id, 1);
        else if (st == UH_FAILED)
            w->stats->failed++;
        else if (st == UH_EXPIRED)
            w->stats->expired++;
        else if (st == UH_REGISTERED && j->kind == UH_JOB_RENEW)
            w->stats->renewed++;
        else if (st == UH_REGISTERED)
            w->stats->registered++;
        else if (j->res.outcome == UNHOOK_OUTCOME_GONE)
            w->stats->gone++;
        else
            w->stats->done++;
    }
    if (w->capture) {
        unhook_flow_result_free(w->capture);
        *w->capture = j->res;
        memset(&j->res, 0, sizeof j->res);
        if (committed && st == UH_FAILED &&
            w->capture->outcome == UNHOOK_OUTCOME_RETRY) {
            /* attempts exhausted: report the dead letter */
            w->capture->outcome = UNHOOK_OUTCOME_FAILED;
            free(w->capture->message);
            w->capture->message = uh_strdup(j->inst.last_error);
        }
    }
}

/* Tell the engine's attempt observer about j's committed outcome. */
static void observe(work *w, job *j, double now)
{
    unhook_attempt a = {0};

    if (!w->E->on_attempt)
        return;
    a.at = now;
    a.instance_id = j->inst.id;
    a.connector = j->inst.connector;
    a.event = j->inst.event;
    a.action = action[j->kind];
    a.outcome = j->inst.state == UH_FAILED ? "failed"
                : unhook_outcome_name(j->res.outcome);
    a.state = uh_state_name(j->inst.state);
    a.status = j->res.status;
    a.duration = j->started > 0 ? uh_now() - j->started : 0;
    a.attempt = j->attempt;
    a.code = j->res.code;
    a.error = j->inst.last_error;
    a.next_attempt_at = j->inst.next_attempt_at;
    w->E->on_attempt(w->E->attempt_ud, &a);
}


void uh_job_caches_free(work *w)
{
    while (w->conns) {
        conncache *c = w->conns;
        w->conns = c->next;
        uh_conn_free(&c->conn);
        free(c->path);
        free(c->error);
        free(c);
    }
    uh_pace_free(w->infos);
    w->infos = NULL;
}

int uh_jobs_commit(work *w, job *list, double now)
{
    uh_store *s = w->s;
    const uh_inst *in[BATCH];
    job *js[BATCH];
    int cas[BATCH], rc = UNHOOK_OK;

    while (rc == UNHOOK_OK && list) {
        int n = 0;
        for (; list && n < (s->ops->finish_many ? BATCH : 1); list = list->next) {
            apply(w, list, &list->h, now);
            js[n] = list;
            in[n++] = &list->inst;
        }
        rc = n == 1 || !s->ops->finish_many
            ? s->ops->finish(s, in[0], w->owner, now, cas)
            : s->ops->finish_many(s, in, n, w->owner, now, cas);
        for (int k = 0; rc == UNHOOK_OK && k < n; k++)
            rc = settle(w, js[k], now, cas[k]);
    }
    return rc;
}

void uh_job_report(work *w, job *j, int committed, double now)
{
    if (committed && !j->lost) {
        observe(w, j, now);
        if (w->report)
            w->report(w->report_ud, j->inst.id, j->inst.state, &j->res);
        if (j->inst.next_attempt_at > 0 &&
            (w->next_retry == 0 || j->inst.next_attempt_at < w->next_retry))
            w->next_retry = j->inst.next_attempt_at;
    }
    count(w, j, committed);
}
