/*
 * pace.c -- a connector as the work loop schedules it: facts loaded once
 * per work, concurrency and rate caps, and the "already gone" guard.
 */
#include <stdlib.h>
#include <string.h>

#include "pace.h"

void uh_pace_free(uh_pace *c)
{
    while (c) {
        uh_pace *n = c->next;
        uh_facts_free(&c->facts);
        free(c->key);
        free(c->dir);
        free(c->error);
        free(c);
        c = n;
    }
}

/* c's folder and facts (c->key set, nothing else yet) */
static void load(uh_pace *c, unhook_engine *E)
{
    c->dir = uh_connector_path(&E->rt, c->key);
    if (!c->dir)
        c->error = uh_strdup(E->diag.errmsg);
    else if ((c->error = uh_connector_facts(&E->rt, c->dir, &c->facts, &c->short_of))) {
        free(c->dir);
        c->dir = NULL;
    }
    c->reload_at = uh_now() + UH_RELOAD_GAP_S;
    /* in a team, the caps and the guard hold across its threads */
    c->capped = c->dir && (c->facts.concurrency > 0 || c->facts.per_second > 0);
    if (c->dir && E->team && (c->slot = uh_team_slot_for(E->team, c->key)))
        c->team = E->team;
}

uh_pace *uh_pace_for(uh_pace **list, unhook_engine *E, const char *key)
{
    uh_pace *c;

    for (c = *list; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (!(c->key = uh_strdup(key))) {
        free(c);
        return NULL;
    }
    load(c, E);
    c->next = *list;
    *list = c;
    return c;
}

int uh_pace_load(uh_pace *c, unhook_engine *E)
{
    if (!c->dir && c->short_of && uh_now() >= c->reload_at) {
        free(c->error);
        c->error = NULL;
        c->short_of = 0;
        load(c, E);
    }
    return c->dir != NULL;
}

/* The caps' counts: the team's, or c's own. */
static int ready(const uh_pace *c, int active, double next_start, double now)
{
    return !(c->facts.concurrency > 0 && active >= c->facts.concurrency) &&
           !(c->facts.per_second > 0 && now < next_start);
}

int uh_pace_ready(const uh_pace *c, double now)
{
    int r;

    if (!c || !c->dir)
        return 1;
    if (!c->slot || !c->capped)
        return ready(c, c->active, c->next_start, now);
    uh_team_lock(c->team);
    r = ready(c, c->slot->active, c->slot->next_start, now);
    uh_team_unlock(c->team);
    return r;
}

/* Take a start under caps whose counts are active and *next: 1, or 0
 * with *wake moved to when the rate allows one. */
static int take(const uh_pace *c, int *active, double *next, double now,
                double *wake)
{
    if (!ready(c, *active, *next, now)) {
        if (c->facts.per_second > 0 && now < *next && (*wake == 0 || *next < *wake))
            *wake = *next;
        return 0;
    }
    if (c->facts.per_second > 0)
        *next = (*next > now ? *next : now) + 1.0 / c->facts.per_second;
    return 1;
}

int uh_pace_may_start(uh_pace *c, double now, double *wake)
{
    int active, r;

    if (!c || !c->dir)
        return 1;
    if (!c->slot || !c->capped) {
        active = c->active;
        return take(c, &active, &c->next_start, now, wake);
    }
    /* the check and the count in one hold of the team's lock: two
     * threads never both take the last place */
    uh_team_lock(c->team);
    if ((r = take(c, &c->slot->active, &c->slot->next_start, now, wake)))
        c->slot->active++;
    uh_team_unlock(c->team);
    return r;
}

void uh_pace_began(uh_pace *c)
{
    if (c)
        c->active++;
}

void uh_pace_unreserve(uh_pace *c)
{
    if (c && c->slot && c->capped) {
        uh_team_lock(c->team);
        c->slot->active--;
        uh_team_unlock(c->team);
    }
}

void uh_pace_ended(uh_pace *c)
{
    if (!c)
        return;
    c->active--;
    uh_pace_unreserve(c);
}

/*
 * When the first deregistrations of a connector all answer "already
 * gone", its base URL is more likely wrong than every webhook deleted
 * already: the rest are left pending instead of being marked off.
 */
void uh_pace_outcome(uh_pace *c, unhook_engine *E, const unhook_flow_result *res)
{
    int *outcomes, *gone, stop;

    if (!c || E->expect_gone || c->outcomes >= UH_GONE_GUARD)
        return;
    if (c->slot)
        uh_team_lock(c->team);
    /* in a team, the first UH_GONE_GUARD of all its members count */
    outcomes = c->slot ? &c->slot->outcomes : &c->outcomes;
    gone = c->slot ? &c->slot->gone : &c->gone;
    stop = 0;
    if (*outcomes < UH_GONE_GUARD) {
        ++*outcomes;
        *gone += res->outcome == UNHOOK_OUTCOME_GONE;
        stop = *outcomes == UH_GONE_GUARD && *gone == UH_GONE_GUARD;
    }
    if (c->slot) {
        c->outcomes = *outcomes;
        c->slot->stopped |= stop;
        c->stopped |= c->slot->stopped;
        uh_team_unlock(c->team);
    }
    if (stop) {
        c->stopped = 1;
        uh_log(&E->diag, NULL, UNHOOK_LOG_WARN, "%s: every deregistration so far "
               "answered %d (already gone): check base_url; its other instances "
               "are left pending ('--expect-gone' goes on)", c->key, res->status);
    }
}

int uh_pace_stopped(uh_pace *c)
{
    if (!c)
        return 0;
    if (!c->stopped && c->slot && c->outcomes < UH_GONE_GUARD) {
        /* another member may have seen the last of the guard's outcomes */
        uh_team_lock(c->team);
        c->stopped = c->slot->stopped;
        if (c->slot->outcomes >= UH_GONE_GUARD)
            c->outcomes = UH_GONE_GUARD;
        uh_team_unlock(c->team);
    }
    return c->stopped;
}
