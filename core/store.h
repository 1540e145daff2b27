/*
 * store.h -- private: the durable store of instances and their history.
 * An interface (a struct of function pointers) so that backends other
 * than the embedded SQLite one can implement it.  Never installed.
 */
#ifndef UNHOOK_STORE_H
#define UNHOOK_STORE_H

#include "unhook.h"

/* An instance as the store keeps it; every string is owned (malloc). */
typedef struct uh_inst {
    char *id, *connector, *event, *options, *connection, *registration;
    char *desired, *state, *reason, *last_error;
    int attempts;
    double next_attempt_at, created_at, updated_at;
    char *claim_owner;          /* who works on it now, or NULL */
    double claimed_until;
} uh_inst;

void uh_inst_clear(uh_inst *i);          /* frees the strings, zeroes */
void uh_inst_view(const uh_inst *i, unhook_instance *out);

typedef struct uh_store uh_store;

typedef int (*uh_inst_fn)(void *ud, const uh_inst *inst);

typedef struct uh_store_ops {
    /* write transactions; nested begin/commit pairs are not supported */
    int (*begin)(uh_store *s);
    int (*commit)(uh_store *s);
    void (*rollback)(uh_store *s);
    /* UNHOOK_NOTFOUND when there is no such instance */
    int (*get)(uh_store *s, const char *id, uh_inst *out);
    /* insert a new instance (or replace one that is not claimed) */
    int (*put)(uh_store *s, const uh_inst *in);
    /*
     * Record the user's intent and the state it implies: desired, reason,
     * state, attempts, next attempt, last error.  Leaves registration data
     * and any claim alone.
     */
    int (*intent)(uh_store *s, const uh_inst *in);
    /*
     * Record the outcome of an attempt made under owner's claim: state,
     * registration data, attempts, next attempt, last error; the claim is
     * released.  Desired state is the user's and is not written: if it
     * became "off" while a registration was in flight, the instance goes
     * on to "deregistering".  *lost is set when owner no longer held the
     * claim (nothing was written).
     */
    int (*finish)(uh_store *s, const uh_inst *in, const char *owner,
                  double now, int *lost);
    /* whether inst is claimed, now, by a live owner other than owner */
    int (*claimed_elsewhere)(uh_store *s, const uh_inst *inst,
                             const char *owner, double now);
    int (*list)(uh_store *s, const unhook_filter *f, uh_inst_fn fn, void *ud);
    int (*history_add)(uh_store *s, const unhook_history *h);
    int (*history_list)(uh_store *s, const char *id, unhook_history_fn fn,
                        void *ud);
    /*
     * Bulk intent: every instance that is on (desired "on") and matches f
     * becomes desired "off"; those with registration data become
     * "deregistering" and due now, those without become "off".
     */
    int (*mark_off)(uh_store *s, const unhook_filter *f, const char *reason,
                    double now, long *deregistering, long *skipped);
    /* failed instances matching f: re-queued toward their desired state */
    int (*requeue_failed)(uh_store *s, const unhook_filter *f, double now,
                          long *count);
    /*
     * Claim up to max due instances (registering or deregistering, next
     * attempt <= now, no live claim) for owner until lease; *n receives
     * how many were put in out[].  Claims of dead local owners are
     * released first.
     */
    int (*claim)(uh_store *s, const unhook_filter *f, double now,
                 const char *owner, double lease, int max, uh_inst *out, int *n);
    int (*unclaim)(uh_store *s, const char *id);
    /* earliest next attempt of pending work matching f, 0 if none */
    int (*next_due)(uh_store *s, const unhook_filter *f, double *when);
    void (*close)(uh_store *s);
} uh_store_ops;

struct uh_store {
    const uh_store_ops *ops;
    char errmsg[512];
};

/* Open (creating and migrating) the SQLite store at path. */
int uh_store_sqlite_open(const char *path, uh_store **out, char *err,
                         size_t errsz);

#endif
