/*
 * pace.h -- private: a connector as the work loop schedules it (pace.c):
 * its facts (retry policies, caps), how many of its runs are active, its
 * rate limit, and the guard that stops bulk work whose every outcome so
 * far was "already gone".
 */
#ifndef UNHOOK_PACE_H
#define UNHOOK_PACE_H

#include "lifecycle.h"

/* Bulk work: this many "already gone" in a row stop a connector. */
#define UH_GONE_GUARD 20

typedef struct uh_pace {
    char *key;                  /* the connector as an instance names it */
    char *dir;                  /* resolved folder, NULL if unusable */
    char *error;
    uh_facts facts;
    int active;
    double next_start;
    int outcomes, gone;         /* of its first UH_GONE_GUARD deregistrations */
    int stopped;                /* all of them gone: start no more */
    uh_team *team;              /* in a team: its caps and its guard */
    uh_team_slot *slot;         /* hold across the team's threads (team.c) */
    int capped;                 /* it has caps (concurrency, rate) */
    int short_of;               /* unusable for want of file descriptors or
                                   memory when its files were read: loaded
                                   again at the next attempt (uh_pace_load) */
    double reload_at;           /* not before then (UH_RELOAD_GAP_S apart) */
    struct uh_pace *next;
} uh_pace;

/* The entry of connector key in *list, added (facts loaded) if new;
 * NULL on out of memory. */
uh_pace *uh_pace_for(uh_pace **list, unhook_engine *E, const char *key);
/* c's folder and facts read again when it is unusable for want of
 * resources (c->short_of), before its caps are asked for a start, at most
 * once in UH_RELOAD_GAP_S (a queue of its instances reads it once);
 * whether it is usable now. */
#define UH_RELOAD_GAP_S 0.25
int uh_pace_load(uh_pace *c, unhook_engine *E);
void uh_pace_free(uh_pace *list);
/* Whether a run of c could start now under its caps (nothing counted). */
int uh_pace_ready(const uh_pace *c, double now);
/* Whether a run of c may start now under its caps; if its rate limit
 * says later, *wake receives when (and the start is not counted).  A yes
 * holds a place under the caps: the run's start counts it in c->active
 * (uh_pace_began), an attempt that ends without a run gives it back
 * (uh_pace_unreserve). */
int uh_pace_may_start(uh_pace *c, double now, double *wake);
void uh_pace_began(uh_pace *c);
void uh_pace_unreserve(uh_pace *c);
/* A run of c ended. */
void uh_pace_ended(uh_pace *c);
/* Whether the guard stopped c (in a team: any member's outcomes). */
int uh_pace_stopped(uh_pace *c);
/* Count an outcome of a deregistration in bulk work whose flow ran (one
 * that could not start is not counted); stops c (with a warning in the
 * log) when the first UH_GONE_GUARD were all gone. */
void uh_pace_outcome(uh_pace *c, unhook_engine *E, const unhook_flow_result *res);

#endif
