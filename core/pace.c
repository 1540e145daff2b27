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

uh_pace *uh_pace_for(uh_pace **list, unhook_engine *E, const char *key)
{
    uh_pace *c;

    for (c = *list; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->key = uh_strdup(key);
    c->dir = uh_connector_path(&E->rt, key);
    if (!c->dir)
        c->error = uh_strdup(E->diag.errmsg);
    else if ((c->error = uh_connector_facts(&E->rt, c->dir, &c->facts))) {
        free(c->dir);
        c->dir = NULL;
    }
    c->next = *list;
    *list = c;
    return c;
}

int uh_pace_ready(const uh_pace *c, double now)
{
    return !c || !c->dir ||
           (!(c->facts.concurrency > 0 && c->active >= c->facts.concurrency) &&
            !(c->facts.per_second > 0 && now < c->next_start));
}

int uh_pace_may_start(uh_pace *c, double now, double *wake)
{
    if (!uh_pace_ready(c, now)) {
        if (c->facts.per_second > 0 && now < c->next_start &&
            (*wake == 0 || c->next_start < *wake))
            *wake = c->next_start;
        return 0;
    }
    if (c && c->dir && c->facts.per_second > 0)
        c->next_start = (c->next_start > now ? c->next_start : now) +
                        1.0 / c->facts.per_second;
    return 1;
}

/*
 * When the first deregistrations of a connector all answer "already
 * gone", its base URL is more likely wrong than every webhook deleted
 * already: the rest are left pending instead of being marked off.
 */
void uh_pace_outcome(uh_pace *c, unhook_engine *E, const unhook_flow_result *res)
{
    if (!c || E->expect_gone || c->outcomes >= UH_GONE_GUARD)
        return;
    c->outcomes++;
    c->gone += res->outcome == UNHOOK_OUTCOME_GONE;
    if (c->outcomes == UH_GONE_GUARD && c->gone == UH_GONE_GUARD) {
        c->stopped = 1;
        uh_log(&E->diag, NULL, UNHOOK_LOG_WARN, "%s: every deregistration so far "
               "answered %d (already gone): check base_url; its other instances "
               "are left pending ('--expect-gone' goes on)", c->key, res->status);
    }
}
