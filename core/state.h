/*
 * state.h -- private: the lifecycle's states, typed.  Strings appear
 * only at the edges (store columns, output), through the name tables
 * here.  Bottom layer: the store and the lifecycle both use it.
 */
#ifndef UNHOOK_STATE_H
#define UNHOOK_STATE_H

#include "unhook.h"

/*
 * Actual state of an instance (README.md, The lifecycle): one list, its
 * number and its name, expanded into the enum, the names and the store's
 * SQL that reads a name back as its number.
 */
#define UH_STATES(X)                                                     \
    X(REGISTERING,   0, "registering")                                  \
    X(REGISTERED,    1, "registered")                                   \
    X(DEREGISTERING, 2, "deregistering")                                \
    X(OFF,           3, "off")                                          \
    X(FAILED,        4, "failed")                                       \
    X(LOST,          5, "lost")                                         \
    X(EXPIRED,       6, "expired")

/* EXPIRED: an event that renews its subscriptions (renewal in the
 * manifest) did not renew this one before it lapsed at the provider.
 * Desired stays on and the registration data is kept; 'enable --again'
 * subscribes anew, 'disable' follows the event's expired choice. */

/* LOST: reconcile found no webhook at the provider for an instance that is
 * on.  Desired stays on and the registration data is kept for the record;
 * 'enable --again' registers it anew, 'disable' deregisters it as usual
 * (the provider's 404 counts as done). */

typedef enum uh_state {
#define UH_STATE_ENUM_(name, value, text) UH_##name = value,
    UH_STATES(UH_STATE_ENUM_)
#undef UH_STATE_ENUM_
    UH_NSTATES
} uh_state;

/* SQL: the number of the state named in column state. */
#define UH_STATE_WHEN_(name, value, text) " WHEN '" text "' THEN " #value
#define UH_STATE_SQL "CASE state" UH_STATES(UH_STATE_WHEN_) " END"

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

/* SQL: what a worker claims once its next attempt is due -- pending work,
 * and a registered instance whose renewal is scheduled (a registered
 * instance has a next attempt only then). */
#define UH_CLAIMABLE_SQL "(state IN ('deregistering', 'registering') OR" \
    " (state = 'registered' AND next_attempt_at > 0))"

#endif
