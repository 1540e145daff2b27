/*
 * state.h -- private: the lifecycle's states, typed.  Strings appear
 * only at the edges (store columns, output), through the name tables
 * here.  Bottom layer: the store and the lifecycle both use it.
 */
#ifndef UNHOOK_STATE_H
#define UNHOOK_STATE_H

#include "unhook.h"

/* Actual state of an instance (DESIGN.md, Lifecycle). */
typedef enum uh_state {
    UH_REGISTERING = 0,
    UH_REGISTERED,
    UH_DEREGISTERING,
    UH_OFF,
    UH_FAILED,
    /* reconcile found no webhook at the provider for an instance that is
     * on: desired stays on, the registration data is kept for the record;
     * 'enable --again' registers it anew, 'disable' turns it off at once */
    UH_LOST,
    UH_NSTATES
} uh_state;

/* What the user asked. */
typedef enum uh_desired {
    UH_WANT_OFF = 0,
    UH_WANT_ON
} uh_desired;

/*
 * What a flow run reports: the public outcomes, and SETUP for a run
 * that failed before the flow itself ran (unknown event, bad inputs);
 * the Lua runner returns these numbers (core.OUTCOME).
 */
enum { UH_OUTCOME_SETUP = UNHOOK_OUTCOME_FAILED + 1 };

const char *uh_state_name(uh_state s);
const char *uh_desired_name(uh_desired d);
/* -1 for a name that is not a state */
int uh_state_parse(const char *name);
int uh_desired_parse(const char *name);

/* Work left to do: the states a worker claims. */
#define UH_STATE_PENDING(s) ((s) == UH_REGISTERING || (s) == UH_DEREGISTERING)

#endif
