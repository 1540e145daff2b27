/*
 * team.c -- what the members of a team share (crew.c runs bulk work on
 * several threads, each an engine with its own work loop): a connector's
 * caps and its "already gone" guard, the ids counted pending, each
 * member's stats for the progress shown, how many members still run, and
 * the even share of the end of a run's claims (uh_team_share), all under
 * one lock; the log, one line at a time, under a second; whether a
 * member's store failed, read and written atomically.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "idset.h"
#include "lifecycle.h"

struct uh_team {
    pthread_mutex_t mu;         /* all below but the log */
    pthread_mutex_t log_mu;     /* one log line at a time */
    pthread_cond_t ended;       /* a member's loop ended */
    uh_team_slot *slots;
    uh_idset pending;           /* ids counted pending, by any member */
    unhook_stats *pub;          /* each member's stats at its last commit */
    int n, running;
    int failed;                 /* a member's store failed: all stop claiming */
    long left;                  /* work expected and not claimed yet, or -1 */
    unhook_log_fn log;          /* the engine's own log, called under log_mu */
    void *log_ud;
};

uh_team *uh_team_new(int n, unhook_log_fn log, void *log_ud)
{
    uh_team *t = calloc(1, sizeof *t);

    if (!t || !(t->pub = calloc((size_t)n, sizeof *t->pub))) {
        free(t);
        return NULL;
    }
    pthread_mutex_init(&t->mu, NULL);
    pthread_mutex_init(&t->log_mu, NULL);
    pthread_cond_init(&t->ended, NULL);
    t->n = n;
    t->left = -1;
    t->log = log;
    t->log_ud = log_ud;
    return t;
}

void uh_team_free(uh_team *t)
{
    if (!t)
        return;
    while (t->slots) {
        uh_team_slot *s = t->slots;
        t->slots = s->next;
        free(s->key);
        free(s);
    }
    uh_idset_free(&t->pending);
    free(t->pub);
    pthread_mutex_destroy(&t->mu);
    pthread_mutex_destroy(&t->log_mu);
    pthread_cond_destroy(&t->ended);
    free(t);
}

void uh_team_lock(uh_team *t)
{
    pthread_mutex_lock(&t->mu);
}

void uh_team_unlock(uh_team *t)
{
    pthread_mutex_unlock(&t->mu);
}

void uh_team_log(void *ud, int level, const char *line)
{
    uh_team *t = ud;

    pthread_mutex_lock(&t->log_mu);
    t->log(t->log_ud, level, line);
    pthread_mutex_unlock(&t->log_mu);
}

uh_team_slot *uh_team_slot_for(uh_team *t, const char *key)
{
    uh_team_slot *s;

    uh_team_lock(t);
    for (s = t->slots; s; s = s->next)
        if (strcmp(s->key, key) == 0)
            break;
    if (!s && (s = calloc(1, sizeof *s))) {
        if ((s->key = uh_strdup(key))) {
            s->next = t->slots;
            t->slots = s;
        } else {
            free(s);
            s = NULL;
        }
    }
    uh_team_unlock(t);
    return s;
}

int uh_team_pending(uh_team *t, const char *id, int add)
{
    int r;

    uh_team_lock(t);
    r = add ? uh_idset_add(&t->pending, id) : uh_idset_del(&t->pending, id);
    uh_team_unlock(t);
    return r;
}

void uh_team_publish(uh_team *t, int ix, const unhook_stats *s)
{
    uh_team_lock(t);
    t->pub[ix] = *s;
    uh_team_unlock(t);
}

/* own (member 0's) plus what every other member published (locked). */
static void sum(uh_team *t, const unhook_stats *own, unhook_stats *out)
{
    *out = *own;
    for (int k = 1; k < t->n; k++) {
        const unhook_stats *p = &t->pub[k];
        out->total += p->total;
        out->done += p->done;
        out->gone += p->gone;
        out->failed += p->failed;
        out->pending += p->pending;
        out->skipped += p->skipped;
        out->registered += p->registered;
        out->renewed += p->renewed;
        out->expired += p->expired;
    }
}

void uh_team_sum(uh_team *t, const unhook_stats *own, unhook_stats *out)
{
    uh_team_lock(t);
    sum(t, own, out);
    uh_team_unlock(t);
}

void uh_team_progress(uh_team *t, const unhook_stats *own,
                      unhook_progress_fn fn, void *ud)
{
    unhook_stats all;

    uh_team_sum(t, own, &all);
    fn(ud, &all);
}

void uh_team_fail(uh_team *t)
{
    __atomic_store_n(&t->failed, 1, __ATOMIC_RELAXED);
}

int uh_team_failed(uh_team *t)
{
    return __atomic_load_n(&t->failed, __ATOMIC_RELAXED);
}

void uh_team_expect(uh_team *t, long n)
{
    uh_team_lock(t);
    t->left = n > 0 ? n : -1;
    uh_team_unlock(t);
}

int uh_team_share(uh_team *t, int max, int min)
{
    uh_team_lock(t);
    /* running counts members 1..n-1; member 0 claims until its end too
     * (alone, it has nobody to leave idle) */
    if (t->left >= 0 && t->running > 0) {
        long share = (t->left + t->running) / (t->running + 1);
        if (share < min)
            share = min;
        if (share < max)
            max = (int)share;
    }
    uh_team_unlock(t);
    return max;
}

void uh_team_claimed(uh_team *t, int n)
{
    uh_team_lock(t);
    /* more claimed than expected: work was due before the run (an intent
     * recorded earlier, another run's leftovers, retries), and the count
     * no longer says what is left: claims go back to their full size */
    if (t->left >= 0)
        t->left = t->left >= n ? t->left - n : -1;
    uh_team_unlock(t);
}

void uh_team_started(uh_team *t)
{
    uh_team_lock(t);
    t->running++;
    uh_team_unlock(t);
}

void uh_team_ended(uh_team *t, int ix, const unhook_stats *s)
{
    uh_team_lock(t);
    t->pub[ix] = *s;
    t->running--;
    pthread_cond_signal(&t->ended);
    uh_team_unlock(t);
}

void uh_team_wait(uh_team *t, const unhook_stats *own, double every_s,
                  unhook_progress_fn progress, void *ud)
{
    uh_team_lock(t);
    while (t->running > 0) {
        struct timespec at;
        clock_gettime(CLOCK_REALTIME, &at);
        at.tv_nsec += (long)(every_s * 1e9);
        while (at.tv_nsec >= 1000000000L) {
            at.tv_sec++;
            at.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->ended, &t->mu, &at);
        if (progress && t->running > 0) {
            unhook_stats all;
            sum(t, own, &all);
            uh_team_unlock(t);
            progress(ud, &all);
            uh_team_lock(t);
        }
    }
    uh_team_unlock(t);
}
