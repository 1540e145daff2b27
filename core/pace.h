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
    struct uh_pace *next;
} uh_pace;

/* The entry of connector key in *list, added (facts loaded) if new;
 * NULL on out of memory. */
uh_pace *uh_pace_for(uh_pace **list, unhook_engine *E, const char *key);
void uh_pace_free(uh_pace *list);
/* Whether a run of c could start now under its caps (nothing counted). */
int uh_pace_ready(const uh_pace *c, double now);
/* Whether a run of c may start now under its caps; if its rate limit
 * says later, *wake receives when (and the start is not counted). */
int uh_pace_may_start(uh_pace *c, double now, double *wake);
/* Count an outcome of a deregistration in bulk work; stops c (with a
 * warning in the log) when the first UH_GONE_GUARD were all gone. */
void uh_pace_outcome(uh_pace *c, unhook_engine *E, const unhook_flow_result *res);

#endif
