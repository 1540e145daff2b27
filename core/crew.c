/*
 * crew.c -- bulk work on several threads.  One work loop is one thread:
 * its flows, its transfers, its store connection.  A crew is the engine
 * called plus sibling engines opened like it (the engine's open_like),
 * one per extra thread, each running the same work loop over the same
 * filter with a share of the concurrency.  They claim from the same
 * store, so no instance runs twice, and whoever has room claims the next
 * batch; what they share is their team (team.c).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"
#include "sched.h"

#define PROGRESS_S 0.25         /* progress while the last members finish */

typedef struct member {
    uh_team *team;
    unhook_engine *E;
    const unhook_filter *f;
    long max_ms;
    int wait, rc, n;
    unhook_stats stats;
    char *err;                  /* its engine's message when rc says so */
    pthread_t th;
} member;

int uh_crew_fits(const unhook_engine *E)
{
    return E->threads > 1 && E->concurrency > 1 && E->open_like && !E->team &&
           !E->drive && !E->stop && !E->on_attempt && E->rt.nccards == 0 &&
           !uh_sched_taped(E->rt.sched);
}

/* A member whose store cannot be opened (a server's connection limit,
 * out of file descriptors) did nothing: its share is left to the others,
 * as for a member that could not be opened, and the call does not fail
 * for it (the engine called has its store open, or reports it itself).
 * A member closes its own engine once its work is counted, while the
 * others may still be busy: its message kept, for the join. */
static void *member_main(void *arg)
{
    member *m = arg;
    uh_store *s;

    if (uh_engine_store(m->E, &s) != UNHOOK_OK) {
        uh_log(&m->E->diag, NULL, UNHOOK_LOG_WARN, "bulk work: thread %d of %d cannot "
               "open the store, the others do its share: %s", m->E->team_ix + 1,
               m->n, m->E->diag.errmsg);
        m->rc = UNHOOK_OK;
    } else {
        m->rc = uh_work(m->E, m->f, NULL, m->max_ms, m->wait, &m->stats, NULL, NULL, NULL);
        if (m->rc != UNHOOK_OK)
            uh_team_fail(m->team);
    }
    uh_team_ended(m->team, m->E->team_ix, &m->stats);
    if (m->rc != UNHOOK_OK)
        m->err = uh_strdup(m->E->diag.errmsg);
    m->E->close(m->E);
    return NULL;
}

/* Member k's share of conc among n: conc / n, one more for the first
 * conc % n. */
static int share(int conc, int n, int k)
{
    return conc / n + (k < conc % n);
}

/* Members 1..n-1 on threads of their own, each with its share of conc
 * (one that cannot be opened or started leaves its share unused: the
 * others claim its work). */
static void start_members(unhook_engine *E, uh_team *t, member *m, int n, int conc,
                          const unhook_filter *f, long max_ms, int wait)
{
    for (int k = 1; k < n; k++) {
        m[k].team = t;
        m[k].f = f;
        m[k].max_ms = max_ms;
        m[k].wait = wait;
        m[k].n = n;
        if (!(m[k].E = E->open_like(E, share(conc, n, k))))
            continue;
        m[k].E->team = t;
        m[k].E->team_ix = k;
        uh_team_started(t);
        if (pthread_create(&m[k].th, NULL, member_main, &m[k]) != 0) {
            uh_team_ended(t, k, &m[k].stats);
            m[k].E->close(m[k].E);
            m[k].E = NULL;
        }
    }
}

/* Join members 1..n-1 (each has closed its engine): the first error is
 * rc's, with its message on E. */
static int join_members(unhook_engine *E, member *m, int n, int rc)
{
    for (int k = 1; k < n; k++) {
        if (!m[k].E)
            continue;
        pthread_join(m[k].th, NULL);
        if (rc == UNHOOK_OK && m[k].rc != UNHOOK_OK) {
            rc = m[k].rc;
            uh_seterr(&E->diag, "%s", m[k].err ? m[k].err : "out of memory");
        }
        free(m[k].err);
    }
    return rc;
}

int uh_crew_work(unhook_engine *E, const unhook_filter *f, long max_ms, int wait,
                 long expect, unhook_stats *stats, unhook_progress_fn progress,
                 void *ud)
{
    int conc = E->concurrency, n, rc;
    unhook_log_fn log = E->diag.log;
    void *log_ud = E->diag.log_ud;
    unhook_stats own, all, local = {0};
    member *m = NULL;
    uh_team *t = NULL;

    if (!stats)
        stats = &local;
    /* member 0 counts on from the caller's stats (disable_all's total and
     * skipped), as one thread does: the progress shown has them too */
    own = *stats;
    n = E->threads < conc ? E->threads : conc;
    if (!uh_crew_fits(E) || !(m = calloc((size_t)n, sizeof *m)) ||
        !(t = uh_team_new(n, log, log_ud))) {
        free(m);
        return uh_work(E, f, NULL, max_ms, wait, stats, progress, ud, NULL);
    }
    /* every member's log lines through the team, one at a time */
    if (log) {
        E->diag.log = uh_team_log;
        E->diag.log_ud = t;
    }
    if (expect >= 0)
        uh_team_expect(t, expect);
    start_members(E, t, m, n, conc, f, max_ms, wait);
    /* the engine called is member 0 */
    E->team = t;
    E->team_ix = 0;
    E->concurrency = share(conc, n, 0);
    if (conc % n == 0)
        uh_log(&E->diag, NULL, UNHOOK_LOG_DEBUG, "bulk work on %d threads, %d flow%s "
               "at a time each", n, E->concurrency, E->concurrency == 1 ? "" : "s");
    else
        uh_log(&E->diag, NULL, UNHOOK_LOG_DEBUG, "bulk work on %d threads, %d to %d "
               "flows at a time each", n, conc / n, E->concurrency);
    rc = uh_work(E, f, NULL, max_ms, wait, &own, progress, ud, NULL);
    if (rc != UNHOOK_OK)
        uh_team_fail(t);        /* the others stop claiming (with wait, too) */
    uh_team_wait(t, &own, PROGRESS_S, progress, ud);
    rc = join_members(E, m, n, rc);
    uh_team_sum(t, &own, &all);
    *stats = all;
    if (progress)
        progress(ud, &all);
    E->concurrency = conc;
    E->team = NULL;
    E->diag.log = log;
    E->diag.log_ud = log_ud;
    free(m);
    uh_team_free(t);
    return rc;
}
