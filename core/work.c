/*
 * work.c -- the work loop: claim due instances in batches, run their
 * attempts concurrently under the engine's and each connector's limits,
 * and commit the outcomes (in batches, before they are counted or
 * reported).  Claims of local processes that died are taken over.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "idset.h"
#include "workinfo.h"

#define LEASE_S 300.0           /* a claim outlives any flow's budget */
#define BATCH 64                /* outcomes per commit at most */
#define DRIVEN_BATCH 8          /* the same in a host's loop: a commit is
                                   work one action does in one piece */
#define FLUSH_S 0.2             /* and at least this often */
#define REAP_S 5.0              /* dead local owners looked for this often */

static double jitter(unhook_engine *E)
{
    E->rng ^= E->rng << 13;
    E->rng ^= E->rng >> 7;
    E->rng ^= E->rng << 17;
    return (double)(E->rng >> 11) / 9007199254740992.0;
}

/* ---- jobs and the work loop -------------------------------------------- */

typedef struct job {
    uh_run run;                 /* first: the run's done callback finds us */
    uh_inst inst;
    unhook_flow_result res;
    char *released;             /* registration data moved to history */
    uh_cinfo *ci;
    int reg;                    /* a registration flow */
    int lost;                   /* its claim was lost: outcome not recorded */
    int attempt;                /* the number of this attempt */
    struct job *next;
} job;

typedef struct uh_worker {
    unhook_engine *E;
    uh_store *s;
    const unhook_filter *f;
    const char *only_id;
    uh_cinfo *infos;
    uh_conncache *conns;
    job *queue;                 /* claimed, not started */
    job *finished;              /* run, outcome not yet committed */
    int nfinished, active;
    double last_flush, last_progress;
    const char *owner;
    unhook_stats *stats;
    unhook_progress_fn progress;
    void *ud;
    unhook_flow_result *capture; /* the single job's result, for one-id work */
    uh_idset pending;           /* ids counted in stats->pending */
    int rc;
    uh_report_fn report;        /* each committed outcome, or NULL */
    void *report_ud;
    double start_until;         /* start or commit nothing after this (0: no bound) */
    int claim_full;             /* the last claim got all it asked for */
} work;

static void job_free(job *j)
{
    uh_run_close(&j->run);
    uh_inst_clear(&j->inst);
    unhook_flow_result_free(&j->res);
    free(j->released);
    free(j);
}

static void job_done(uh_run *r);

/* Fill j->res without running anything (the flow could not start). */
static void job_fail_now(work *w, job *j, unhook_outcome o, const char *code,
                         const char *msg)
{
    memset(&j->res, 0, sizeof j->res);
    j->res.outcome = o;
    j->res.code = uh_strdup(code);
    j->res.message = uh_strdup(msg);
    j->res.retry_after = -1;
    j->next = w->finished;
    w->finished = j;
    w->nfinished++;
}

static void job_start(work *w, job *j)
{
    unhook_flow_request req = {0};
    uh_conncache *cc;
    const char *path = w->E->conn_override ? w->E->conn_override
                                           : j->inst.connection;

    if (!j->ci || !j->ci->dir) {
        job_fail_now(w, j, UNHOOK_OUTCOME_FAILED, "invalid",
                     j->ci && j->ci->error ? j->ci->error : "connector unusable");
        return;
    }
    cc = uh_conncache_get(w->E, &w->conns, path, j->ci);
    if (!cc || cc->rc != UNHOOK_OK) {
        /* an operator's file may come back: retry rather than dead-letter */
        job_fail_now(w, j, UNHOOK_OUTCOME_RETRY, "connection",
                     cc && cc->error ? cc->error : "cannot load the connection");
        return;
    }
    req.event = j->inst.event;
    req.options_json = j->inst.options;
    req.registration = j->reg ? NULL : j->inst.registration;
    req.reason = j->inst.reason;
    req.instance_id = j->inst.id;
    memset(&j->run, 0, sizeof j->run);
    j->run.done = job_done;
    j->run.ud = w;
    if (uh_run_start(&w->E->rt, &j->run, j->ci->dir, j->reg ? "registration"
                     : "deregistration", &req, &cc->conn, &j->res) != UNHOOK_OK) {
        job_fail_now(w, j, UNHOOK_OUTCOME_RETRY, "engine", w->E->diag.errmsg);
        return;
    }
    j->ci->active++;
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
    j->ci->active--;
    w->active--;
    j->next = w->finished;
    w->finished = j;
    w->nfinished++;
}

/* The new state of j's instance from its result (the state machine's
 * word); fills h, whose strings point into j. */
static void apply(work *w, job *j, unhook_history *h, double now)
{
    uh_inst *i = &j->inst;
    uh_trans t = {.ev = UH_EV_OUTCOME, .now = now, .res = &j->res};

    uh_facts_policy(j->ci ? &j->ci->facts : NULL, i->event, &t.policy);
    t.jitter = jitter(w->E);
    uh_transition(i, &t);
    j->released = t.released;
    memset(h, 0, sizeof *h);
    h->instance_id = i->id;
    h->at = now;
    h->action = j->reg ? "register" : "deregister";
    h->attempt = j->attempt;
    h->status = j->res.status;
    h->message = j->res.message;
    h->outcome = t.outcome;
    h->registration = j->reg ? i->registration : j->released;
}

/* Write j's outcome under its claim: if the user changed the desired
 * state meanwhile, the state machine decides again with the new one. */
static int finish(work *w, job *j, double now)
{
    uh_store *s = w->s;
    int rc, cas;

    rc = s->ops->finish(s, &j->inst, w->owner, now, &cas);
    if (rc == UNHOOK_OK && cas == UH_CAS_CHANGED) {
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
    if (rc == UNHOOK_OK && cas != UH_CAS_OK)
        j->lost = 1;        /* the lease ran out and another process took it */
    return rc;
}

/* Count j's committed outcome in the stats and the caller's result. */
static void count(work *w, job *j, int committed)
{
    uh_state st = j->inst.state;

    if (committed && w->report && !j->lost)
        w->report(w->report_ud, j->inst.id, st, &j->res);
    if (committed && w->stats && !j->lost) {
        int ended = st == UH_OFF || st == UH_REGISTERED || st == UH_FAILED;
        if (ended && uh_idset_del(&w->pending, j->inst.id))
            w->stats->pending--;
        if (!ended)
            w->stats->pending += uh_idset_add(&w->pending, j->inst.id);
        else if (st == UH_FAILED)
            w->stats->failed++;
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

/* Commit the outcomes of finished jobs, then count and report them. */
static int flush(work *w)
{
    uh_store *s = w->s;
    job *j, *list = w->finished;
    double now = uh_wall_now();
    int rc;

    if (!list)
        return UNHOOK_OK;
    rc = s->ops->begin(s);
    for (j = list; rc == UNHOOK_OK && j; j = j->next) {
        unhook_history h;
        apply(w, j, &h, now);
        rc = finish(w, j, now);
        if (rc == UNHOOK_OK && j->lost)
            h.message = "outcome not recorded: another process holds the instance";
        if (rc == UNHOOK_OK)
            rc = s->ops->history_add(s, &h);
    }
    if (rc == UNHOOK_OK)
        rc = s->ops->commit(s);
    if (rc != UNHOOK_OK) {
        /* the claims stay until their lease ends; the work is redone */
        s->ops->rollback(s);
        uh_store_err(w->E, rc);
        w->rc = rc;
    }
    w->finished = NULL;
    w->nfinished = 0;
    w->last_flush = uh_now();
    for (j = list; j;) {
        job *n = j->next;
        count(w, j, rc == UNHOOK_OK);
        job_free(j);
        j = n;
    }
    if (w->progress && w->stats)
        w->progress(w->ud, w->stats);
    w->last_progress = uh_now();
    return rc;
}

static int claim_more(work *w, int max)
{
    uh_inst *batch = calloc((size_t)max, sizeof *batch);
    unhook_filter f = {0};
    int n = 0, rc;

    if (!batch)
        return UNHOOK_NOMEM;
    if (w->f)
        f = *w->f;
    f.id = w->only_id;
    rc = w->s->ops->claim(w->s, &f, uh_wall_now(), w->owner,
                          uh_wall_now() + LEASE_S, max, batch, &n);
    for (int k = n - 1; k >= 0; k--) {
        job *j = calloc(1, sizeof *j);
        if (!j) {
            w->s->ops->unclaim(w->s, batch[k].id);
            uh_inst_clear(&batch[k]);
            continue;
        }
        j->inst = batch[k];
        j->reg = j->inst.state == UH_REGISTERING;
        j->attempt = j->inst.attempts + 1;
        j->ci = uh_cinfo_get(w->E, &w->infos, j->inst.connector);
        j->next = w->queue;
        w->queue = j;
    }
    free(batch);
    if (rc != UNHOOK_OK) {
        /* a store that cannot claim ends the work: never spin on it */
        w->rc = uh_store_err(w->E, rc);
        return -1;
    }
    return n;
}

/* Start queued jobs as far as the engine's and connectors' caps allow;
 * *wake receives when a rate-limited one may start. */
static void start_queued(work *w, double *wake)
{
    job **pp = &w->queue, *j;
    double now = uh_now();

    while ((j = *pp) && w->active < w->E->concurrency &&
           !(w->start_until > 0 && uh_now() >= w->start_until)) {
        uh_cinfo *c = j->ci;
        if (c && c->dir && c->facts.concurrency > 0 && c->active >= c->facts.concurrency) {
            pp = &j->next;
            continue;
        }
        if (c && c->dir && c->facts.per_second > 0) {
            if (now < c->next_start) {
                if (*wake == 0 || c->next_start < *wake)
                    *wake = c->next_start;
                pp = &j->next;
                continue;
            }
            c->next_start = (c->next_start > now ? c->next_start : now) +
                            1.0 / c->facts.per_second;
        }
        *pp = j->next;
        j->next = NULL;
        job_start(w, j);
    }
}

/*
 * Run due work matching w->f until nothing is due (or max_ms passed);
 * with wait, also until nothing is pending.
 */
typedef struct owners {
    char **v;
    int n;
} owners;

static void add_dead(void *ud, const char *owner)
{
    owners *dead = ud;
    char **p;

    if (uh_owner_alive(owner) || !(p = realloc(dead->v, (size_t)(dead->n + 1) * sizeof *p)))
        return;
    dead->v = p;
    if ((p[dead->n] = uh_strdup(owner)))
        dead->n++;
}

/* Release the claims of local processes that died (every REAP_S). */
static void reap(work *w)
{
    owners dead = {0};
    double now = uh_wall_now();

    if (now - w->E->last_reap < REAP_S)
        return;
    w->E->last_reap = now;
    if (w->s->ops->owners(w->s, now, add_dead, &dead) != UNHOOK_OK)
        uh_store_err(w->E, UNHOOK_STORE);
    for (int i = 0; i < dead.n; i++) {
        w->s->ops->release(w->s, dead.v[i]);
        free(dead.v[i]);
    }
    free(dead.v);
}

/* Nothing in flight: wait for the next due attempt (with wait), or stop.
 * Returns 1 to go on. */
static int idle(work *w, int wait, double end)
{
    double next = 0, sleep_s;

    if (w->rc != UNHOOK_OK || w->only_id)
        return 0;
    if (claim_more(w, w->E->concurrency * 2 + 8) != 0)    /* anything due now? */
        return w->rc == UNHOOK_OK;
    if (!wait || w->s->ops->next_due(w->s, w->f, &next) != UNHOOK_OK || next == 0)
        return 0;
    if (end && uh_now() >= end)
        return 0;
    sleep_s = next - uh_wall_now();
    if (sleep_s > 0.5)
        sleep_s = 0.5;
    if (sleep_s > 0)
        uh_engine_nap(w->E, (long)(sleep_s * 1000) + 1);
    return 1;
}

/* Let transfers move (or a rate limit pass) for up to 50 ms. */
static void pause_for_work(work *w, double wake)
{
    int ms = 50;

    if (wake > 0) {
        double d = (wake - uh_now()) * 1000.0;
        ms = d < 1 ? 1 : d > 50 ? 50 : (int)d;
    }
    if (w->active > 0)
        uh_sched_step(w->E->rt.sched, ms);
    else
        usleep((useconds_t)ms * 1000);
}

/* Out of time: give back what was claimed but not started. */
static void give_back(work *w)
{
    while (w->queue) {
        job *j = w->queue;
        w->queue = j->next;
        w->s->ops->unclaim(w->s, j->inst.id);
        job_free(j);
    }
}

static void work_free(work *w)
{
    uh_conncache_free(w->conns);
    w->conns = NULL;
    uh_cinfo_free(w->infos);
    w->infos = NULL;
    give_back(w);
    uh_idset_free(&w->pending);
}

/* One turn that never waits: reap dead claims and claim while the queue
 * is short (if claiming), start what the caps allow, commit when a batch
 * is due.  Returns how many were claimed, -1 if the store failed, -2 if
 * no claim was tried. */
static int turn(work *w, int claiming, double *wake)
{
    int queued = 0, n = -2, batch = w->start_until > 0 ? DRIVEN_BATCH : BATCH;
    int ask = w->start_until > 0 ? w->E->concurrency + batch : w->E->concurrency * 2 + 8;

    if (claiming)
        reap(w);
    for (job *j = w->queue; j; j = j->next)
        queued++;
    if (claiming && queued < w->E->concurrency && w->rc == UNHOOK_OK) {
        n = claim_more(w, ask - queued);
        if (w->start_until > 0)
            w->start_until = uh_now();  /* driven: a claim is a turn's work */
    }
    w->claim_full = n > 0 && n == ask - queued;
    start_queued(w, wake);
    /* batch outcomes while requests are in flight; with none in
     * flight there is nothing to batch with: commit now (a driven turn
     * out of time leaves it to the next) */
    if (w->nfinished >= batch || (w->nfinished && (w->active == 0 ||
        uh_now() - w->last_flush >= FLUSH_S))) {
        if (w->start_until > 0 && uh_now() >= w->start_until)
            *wake = uh_now();
        else
            flush(w);
    }
    return n;
}

static int work_loop(work *w, long max_ms, int wait)
{
    double end = max_ms >= 0 ? uh_now() + (double)max_ms / 1000.0 : 0;
    int claiming = 1, n;

    w->owner = w->E->owner;
    w->last_flush = w->last_progress = uh_now();
    for (;;) {
        double wake = 0;

        n = turn(w, claiming, &wake);
        if (n == -1 || (n == 0 && w->only_id))
            claiming = 0;
        if (w->active == 0 && !w->queue && !w->finished) {
            if (claiming && idle(w, wait, end))
                continue;
            break;
        }
        if (end && uh_now() >= end)
            claiming = 0;
        if (w->rc != UNHOOK_OK)
            claiming = 0;       /* the store failed: finish what runs, stop */
        if (w->active > 0 || w->queue)
            pause_for_work(w, wake);
        if (!claiming && w->active == 0) {
            give_back(w);
            if (!w->finished)
                break;
        }
        if (w->progress && w->stats && uh_now() - w->last_progress > 0.25) {
            w->progress(w->ud, w->stats);
            w->last_progress = uh_now();
        }
    }
    flush(w);
    work_free(w);
    return w->rc;
}

int uh_work(unhook_engine *E, const unhook_filter *f, const char *only_id,
            long max_ms, int wait, unhook_stats *stats,
            unhook_progress_fn progress, void *ud, unhook_flow_result *capture)
{
    uh_store *s;
    work w;
    int rc;

    if ((rc = uh_refuse_driven(E, "this call")) != UNHOOK_OK ||
        (rc = uh_engine_store(E, &s)) != UNHOOK_OK)
        return rc;
    memset(&w, 0, sizeof w);
    w.E = E;
    w.s = s;
    w.f = f;
    w.only_id = only_id;
    w.stats = stats;
    w.progress = progress;
    w.ud = ud;
    w.capture = capture;
    if (capture)
        capture->retry_after = -1;
    return work_loop(&w, max_ms, wait);
}

/* ---- the same turns, driven from a host's loop (drive.c) ---------------- */

uh_worker *uh_worker_new(unhook_engine *E, unhook_stats *stats,
                         uh_report_fn report, void *ud)
{
    uh_store *s;
    work *w;

    if (uh_engine_store(E, &s) != UNHOOK_OK || !(w = calloc(1, sizeof *w)))
        return NULL;
    w->s = s;
    w->E = E;
    w->owner = E->owner;
    w->stats = stats;
    w->report = report;
    w->report_ud = ud;
    w->last_flush = w->last_progress = uh_now();
    return w;
}

int uh_worker_turn(uh_worker *w, int claim, double until, double *wake, int *claimed)
{
    w->rc = UNHOOK_OK;          /* a store failure is retried at the next turn */
    w->start_until = until;
    *claimed = turn(w, claim, wake);
    if (*claimed > 0 && !w->claim_full)
        *claimed = 0;           /* got what was due: nothing more for now */
    w->start_until = 0;
    if (w->nfinished && (*wake == 0 || w->last_flush + FLUSH_S < *wake))
        *wake = w->last_flush + FLUSH_S;
    if (w->queue && w->active < w->E->concurrency && *wake == 0)
        *wake = uh_now();       /* out of time to start them all */
    return w->active;
}

void uh_worker_free(uh_worker *w)
{
    if (!w)
        return;
    uh_sched_drain(w->E->rt.sched);
    flush(w);
    work_free(w);
    free(w);
}
