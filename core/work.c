/*
 * work.c -- the work loop: claim due instances in batches, run their
 * attempts concurrently under the engine's and each connector's limits,
 * and commit the outcomes (in batches, before they are counted or
 * reported).  Claims of local processes that died are taken over; in a
 * shared store (store.h) claims end with their lease only, which the loop
 * renews while it works.  The same pieces serve two callers: uh_work's
 * loop, which waits (unhook_engine_run, serve), and uh_worker's turns,
 * which never wait and do one kind of work each (a host's loop, drive.c).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job.h"

#define LEASE_S 300.0           /* a claim outlives any flow's budget */
#define FLUSH_S 0.2             /* and at least this often */
#define START_SLICE_S 0.01      /* runs started before the scheduler's turn */
#define CLAIM_SHARE_MIN 8       /* a team's claims at the end of a run (uh_team_share) */
#define REAP_S 5.0              /* dead local owners looked for this often */
#define SERVE_POLL_MS 50        /* serving: new intents looked for this often */
#define DRIVEN_BATCH 8          /* outcomes per commit in a host's loop: a
                                   commit is work one action does in one piece */

/* The stats so far to the caller's progress callback: in a team, every
 * member's (team.c). */
static void show_progress(work *w)
{
    if (w->progress && w->stats) {
        if (w->E->team)
            uh_team_progress(w->E->team, w->stats, w->progress, w->ud);
        else
            w->progress(w->ud, w->stats);
    }
    w->last_progress = uh_now();
}

/* The work failed at the store: nothing more is claimed (in a team, by
 * any member). */
static void store_failed(work *w, int rc)
{
    uh_store_err(w->E, rc);
    w->rc = rc;
    if (w->E->team)
        uh_team_fail(w->E->team);
}

/* Count and report the outcomes of list (committed or not), free them. */
static void report_list(work *w, job *list, int committed, double now)
{
    for (job *j = list; j;) {
        job *n = j->next;
        uh_job_report(w, j, committed, now);
        uh_job_free(j);
        j = n;
    }
    if (w->E->team && w->stats)
        uh_team_publish(w->E->team, w->E->team_ix, w->stats);
    show_progress(w);
}

/* Outcomes committed by group commit, reported once they are on disk. */
typedef struct unsynced {
    unsigned long long ticket;
    job *list;
    double now;
    struct unsynced *next;
} unsynced;

/* Report the batches whose commits are on disk, in order; with wait,
 * every one (waiting for the syncs).  A sync that failed leaves its
 * outcomes uncounted, as a failed commit does, and ends the work. */
static void report_synced(work *w, int wait)
{
    unsynced *u;

    while ((u = w->unsynced)) {
        int r = w->s->ops->durable(w->s, u->ticket, wait);
        if (r == 0)
            return;
        if (r < 0)
            store_failed(w, UNHOOK_STORE);
        w->unsynced = u->next;
        if (!w->unsynced)
            w->unsynced_end = &w->unsynced;
        report_list(w, u->list, r == 1, u->now);
        free(u);
    }
}

/* Commit the outcomes of finished jobs (max at most, the oldest first),
 * then count and report them: at once, or by group commit when they are
 * on disk (report_synced). */
static int flush(work *w, int max)
{
    uh_store *s = w->s;
    job *j, *list = w->finished, **pp = &w->finished;
    double now = uh_wall_now();
    unsigned long long ticket = 0;
    unsynced *u = NULL;
    int rc, kept = 0, lazy = w->lazy && s->ops->begin_lazy;

    if (!list)
        return UNHOOK_OK;
    /* the list is newest first: keep the newest nfinished - max */
    for (; *pp && kept < w->nfinished - max; pp = &(*pp)->next)
        kept++;
    list = *pp;
    *pp = NULL;
    if (lazy && !(u = malloc(sizeof *u)))
        lazy = 0;
    if ((rc = lazy ? s->ops->begin_lazy(s) : s->ops->begin(s)) == UNHOOK_OK)
        rc = uh_jobs_commit(w, list, now);
    for (j = list; rc == UNHOOK_OK && j; j = j->next)
        rc = s->ops->history_add(s, &j->h);
    if (rc == UNHOOK_OK)
        rc = lazy ? s->ops->commit_lazy(s, &ticket) : s->ops->commit(s);
    if (rc != UNHOOK_OK) {
        /* the claims stay until their lease ends; the work is redone */
        s->ops->rollback(s);
        store_failed(w, rc);
    }
    w->nfinished = kept;
    w->last_flush = uh_now();
    if (rc == UNHOOK_OK && ticket) {
        u->ticket = ticket;
        u->list = list;
        u->now = now;
        u->next = NULL;
        *w->unsynced_end = u;
        w->unsynced_end = &u->next;
        report_synced(w, 0);
        return rc;
    }
    free(u);
    report_synced(w, 1);        /* the earlier ones first */
    report_list(w, list, rc == UNHOOK_OK, now);
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
    if (w->E->team)
        max = uh_team_share(w->E->team, max, CLAIM_SHARE_MIN);
    rc = w->s->ops->claim(w->s, &f, uh_wall_now(), w->owner,
                          uh_wall_now() + w->lease, max, batch, &n);
    for (int k = n - 1; k >= 0; k--) {
        job *j = calloc(1, sizeof *j);
        if (!j) {
            w->s->ops->unclaim(w->s, batch[k].id);
            uh_inst_clear(&batch[k]);
            continue;
        }
        j->inst = batch[k];
        j->kind = uh_job_kind_of(j->inst.state);
        j->attempt = j->inst.attempts + 1;
        j->ci = uh_job_info(w, j->inst.connector);
        j->next = w->queue;
        w->queue = j;
    }
    free(batch);
    if (w->E->team && n > 0)
        uh_team_claimed(w->E->team, n);
    if (rc != UNHOOK_OK) {
        /* a store that cannot claim ends the work: never spin on it */
        w->rc = uh_store_err(w->E, rc);
        if (w->E->team)
            uh_team_fail(w->E->team);
        return -1;
    }
    return n;
}

/* How far claims run ahead of the runs: the queue's bound.  Four times
 * the concurrency and 8 more (a refill, when fewer than the concurrency
 * wait, claims three times it at least), and at least 64: each claim is a
 * transaction, whose commit also makes every other connection to the file
 * (a bulk run's other threads) read its pages again; at twice the
 * concurrency, claims were three commits in four of a bulk run. */
#define CLAIM_MIN 64
static int claim_cap(const work *w)
{
    int cap = w->E->concurrency * 4 + 8;

    /* in a team the floor would let the first members claim it all and
     * leave the others idle while they work through it at their share */
    return cap < CLAIM_MIN && !w->E->team ? CLAIM_MIN : cap;
}

/* Claim up to max more into the queue; a store that failed, or a one-id
 * run that found nothing, ends claiming. */
static void refill(work *w, int max)
{
    int n = claim_more(w, max);

    if (n < 0 || (n == 0 && w->only_id))
        w->claiming = 0;
}

/* A job of a stopped connector: kept claimed, unstarted, until the end. */
static void hold(work *w, job *j)
{
    j->next = w->held;
    w->held = j;
    if (w->stats)
        w->stats->pending += uh_job_pending(w, j->inst.id, 1);
}

/* Start queued jobs as far as the engine's and connectors' caps allow,
 * none after until (0: no bound); *wake receives when a rate-limited one
 * may start.  Returns how many were started or held. */
static int start_queued(work *w, double *wake, double until)
{
    job **pp = &w->queue, *j;
    double now = uh_now();
    int n = 0;

    while ((j = *pp) && w->active < w->E->concurrency &&
           !(until > 0 && n > 0 && uh_now() >= until)) {
        /* a connector unusable for want of resources is read again
         * before its caps are asked (uh_job_start retries it if still) */
        if (j->ci)
            uh_pace_load(j->ci, w->E);
        if (uh_pace_stopped(j->ci)) {
            *pp = j->next;
            hold(w, j);
            n++;
            continue;
        }
        if (!uh_pace_may_start(j->ci, now, wake)) {
            pp = &j->next;
            continue;
        }
        *pp = j->next;
        j->next = NULL;
        uh_job_start(w, j);
        n++;
    }
    return n;
}

/* Whether a queued job could start now (nothing counted). */
static int startable(work *w, double now)
{
    if (w->active >= w->E->concurrency)
        return 0;
    for (job *j = w->queue; j; j = j->next)
        if (uh_pace_stopped(j->ci) || uh_pace_ready(j->ci, now))
            return 1;
    return 0;
}

static int queued(work *w)
{
    int n = 0;

    for (job *j = w->queue; j; j = j->next)
        n++;
    return n;
}

/* batch outcomes while requests are in flight; with none in flight
 * there is nothing to batch with: commit now */
static int flush_due(work *w, int batch)
{
    return w->nfinished >= batch || (w->nfinished && (w->active == 0 ||
           uh_now() - w->last_flush >= FLUSH_S));
}

/* Release the claims of local processes that died (every REAP_S); a
 * shared store's claims end with their lease alone. */
static void reap(work *w)
{
    double now = uh_wall_now();

    if (w->s->shared || now - w->E->last_reap < REAP_S)
        return;
    w->E->last_reap = now;
    if (uh_release_dead(w->s, now) != UNHOOK_OK)
        uh_store_err(w->E, UNHOOK_STORE);
}

/* A shared store's leases are short: keep ours alive while we work. */
static void renew(work *w)
{
    double now = uh_wall_now();

    if (!w->s->ops->renew || now - w->last_renew < w->lease / 3)
        return;
    w->last_renew = now;
    if (w->s->ops->renew(w->s, w->owner, now + w->lease) != UNHOOK_OK)
        uh_store_err(w->E, UNHOOK_STORE);
}

/* Serving, with nothing due and nothing in flight: wait for new work.
 * The one place the service waits: a store that can announce new work
 * (its optional wait op: LISTEN/NOTIFY) is asked instead of sleeping;
 * polling stays the fallback.  Returns 1 to go on. */
static int serve_wait(work *w)
{
    if (w->s->ops->wait)
        w->s->ops->wait(w->s, SERVE_POLL_MS / 1e3);
    else
        uh_engine_nap(w->E, SERVE_POLL_MS);     /* unhook_engine_wakeup ends it */
    return !*w->E->stop;
}

/* Nothing in flight: wait for the next due attempt (with wait), or stop.
 * Returns 1 to go on. */
static int idle(work *w, int wait, double end)
{
    double next = 0, sleep_s;

    if (w->rc != UNHOOK_OK || w->only_id || (w->E->team && uh_team_failed(w->E->team)))
        return 0;
    if (claim_more(w, claim_cap(w)) != 0)    /* anything due now? */
        return w->rc == UNHOOK_OK;
    if (w->E->stop)             /* serving: look again soon, until told to stop */
        return serve_wait(w);
    /* a connector stopped (its outcomes all "gone"): its instances stay
     * held, and due, until the end; waiting for them would never end */
    if (w->held)
        return 0;
    if (!wait || w->s->ops->next_due(w->s, w->f, &next) != UNHOOK_OK || next == 0)
        return 0;
    if (end && uh_now() >= end)
        return 0;
    sleep_s = next - uh_wall_now();
    /* a store that announces new work wakes us: poll less often */
    if (sleep_s > (w->s->ops->wait ? 5.0 : 0.5))
        sleep_s = w->s->ops->wait ? 5.0 : 0.5;
    if (end && sleep_s > end - uh_now())
        sleep_s = end - uh_now();
    if (sleep_s > 0 && w->s->ops->wait)
        w->s->ops->wait(w->s, sleep_s);
    else if (sleep_s > 0)
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
    if (w->active > 0) {
        uh_sched *s = w->E->rt.sched;
        uh_sched_send(s, &ms);
        /* outcomes due by number or age are committed now, while the
         * requests just sent are on the wire: the commit's sync overlaps
         * their round trip (with none in flight, the loop commits) */
        if (w->active > 0 && flush_due(w, BATCH))
            flush(w, INT_MAX);
        /* and the next claim made ahead, its commit on their time too */
        if (w->claiming && !w->queue && w->active > 0 && w->rc == UNHOOK_OK &&
            !(w->E->stop && *w->E->stop))
            refill(w, claim_cap(w));
        uh_sched_wait(s, ms);
    } else {
        usleep((useconds_t)ms * 1000);
    }
}

/* Out of time: give back what was claimed but not started. */
static void give_back(work *w)
{
    while (w->held) {
        job *j = w->held;
        w->held = j->next;
        w->s->ops->unclaim(w->s, j->inst.id);
        uh_job_free(j);
    }
    while (w->queue) {
        job *j = w->queue;
        w->queue = j->next;
        w->s->ops->unclaim(w->s, j->inst.id);
        uh_job_free(j);
    }
}

static void work_free(work *w)
{
    uh_job_caches_free(w);
    give_back(w);
    uh_idset_free(&w->pending);
}

/*
 * Run due work matching w->f until nothing is due (or max_ms passed);
 * with wait, also until nothing is pending.
 */
static int work_loop(work *w, long max_ms, int wait)
{
    double end = max_ms >= 0 ? uh_now() + (double)max_ms / 1000.0 : 0;

    w->claiming = 1;
    w->owner = w->E->owner;
    w->lease = w->s->lease > 0 ? w->s->lease : LEASE_S;
    w->last_flush = w->last_progress = uh_now();
    w->last_renew = uh_wall_now();
    for (;;) {
        double wake = 0;
        int q;

        if (w->E->stop && *w->E->stop)
            w->claiming = 0;       /* serving, and told to stop: finish what runs */
        if (w->E->team && uh_team_failed(w->E->team))
            w->claiming = 0;       /* another thread's store failed: the same */
        if (w->claiming)
            reap(w);
        renew(w);
        q = queued(w);
        if (w->claiming && q < w->E->concurrency && w->rc == UNHOOK_OK)
            refill(w, claim_cap(w) - q);
        /* starting runs in new Lua states takes ~1 ms each: after a
         * slice of it, let the started ones send their requests first */
        if (start_queued(w, &wake, uh_now() + START_SLICE_S) > 0 && w->queue &&
            startable(w, uh_now()))
            wake = uh_now();
        if (flush_due(w, BATCH))
            flush(w, INT_MAX);
        /* outcomes on disk are reported; with nothing else to do, wait
         * for the rest before claiming, waiting or ending */
        report_synced(w, w->active == 0 && !w->queue && !w->finished);
        if (w->active == 0 && !w->queue && !w->finished) {
            if (w->claiming && idle(w, wait, end))
                continue;
            break;
        }
        if (end && uh_now() >= end)
            w->claiming = 0;
        if (w->rc != UNHOOK_OK)
            w->claiming = 0;       /* the store failed: finish what runs, stop */
        if (w->active > 0 || w->queue)
            pause_for_work(w, wake);
        if (!w->claiming && w->active == 0) {
            give_back(w);
            if (!w->finished)
                break;
        }
        if (w->progress && w->stats && uh_now() - w->last_progress > 0.25)
            show_progress(w);
    }
    flush(w, INT_MAX);
    report_synced(w, 1);
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
    w.lazy = 1;
    w.unsynced_end = &w.unsynced;
    return work_loop(&w, max_ms, wait);
}

/* ---- the same pieces, in turns driven from a host's loop (drive.c) ---- */

struct uh_worker {
    work w;
};

uh_worker *uh_worker_new(unhook_engine *E, unhook_stats *stats,
                         uh_report_fn report, void *ud)
{
    uh_store *s;
    uh_worker *k;

    if (uh_engine_store(E, &s) != UNHOOK_OK || !(k = calloc(1, sizeof *k)))
        return NULL;
    k->w.E = E;
    k->w.s = s;
    k->w.owner = E->owner;
    k->w.lease = s->lease > 0 ? s->lease : LEASE_S;
    k->w.stats = stats;
    k->w.report = report;
    k->w.report_ud = ud;
    k->w.last_flush = k->w.last_progress = uh_now();
    k->w.last_renew = uh_wall_now();
    k->w.unsynced_end = &k->w.unsynced;   /* a turn commits at once (lazy 0) */
    return k;
}

/* Whether any work is due now, claims aside. */
static int due_now(work *w)
{
    return flush_due(w, DRIVEN_BATCH) || startable(w, uh_now()) ||
           (w->s->ops->renew && uh_wall_now() - w->last_renew >= w->lease / 3);
}

uh_turn_kind uh_worker_turn(uh_worker *k, int claim, double until, double *wake,
                            int *claimed)
{
    work *w = &k->w;
    uh_turn_kind did = UH_TURN_NONE;
    int room = w->E->concurrency - queued(w);

    w->rc = UNHOOK_OK;          /* a store failure is retried at a later turn */
    *claimed = 0;
    if (flush_due(w, DRIVEN_BATCH)) {
        flush(w, DRIVEN_BATCH);
        did = UH_TURN_COMMIT;
    } else if (start_queued(w, wake, until) > 0) {
        did = UH_TURN_START;
    } else if (w->s->ops->renew && uh_wall_now() - w->last_renew >= w->lease / 3) {
        renew(w);
        did = UH_TURN_COMMIT;
    } else if (claim && room > 0) {
        /* a claim is a few rows at a time: its transaction is one piece */
        int ask = room < DRIVEN_BATCH ? room : DRIVEN_BATCH, n;
        reap(w);
        n = claim_more(w, ask);
        /* 1: it got all it asked for, and more may be due */
        *claimed = n < 0 ? -1 : n == ask;
        did = UH_TURN_CLAIM;
    }
    if (due_now(w) || (claim && did != UH_TURN_CLAIM &&
                       w->E->concurrency > queued(w)))
        *wake = uh_now();
    else if (w->nfinished && (*wake == 0 || w->last_flush + FLUSH_S < *wake))
        *wake = w->last_flush + FLUSH_S;
    return did;
}

double uh_worker_next_retry(uh_worker *k)
{
    double t = k->w.next_retry;

    k->w.next_retry = 0;
    return t;
}

void uh_worker_free(uh_worker *k)
{
    if (!k)
        return;
    uh_sched_drain(k->w.E->rt.sched);   /* the flows in flight end */
    flush(&k->w, INT_MAX);
    work_free(&k->w);
    free(k);
}
