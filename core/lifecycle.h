/*
 * lifecycle.h -- private: the state machine (lifecycle.c), the work loop
 * that runs due attempts (work.c) and the engine's store (instance.c).
 * The rules of README.md's "The lifecycle" live in lifecycle.c alone: the
 * store is asked for data, claims and the transitions decided here.
 */
#ifndef UNHOOK_LIFECYCLE_H
#define UNHOOK_LIFECYCLE_H

#include "runtime.h"
#include "store.h"

/* The engine object: its runtime half runs flows, the rest is the store
 * and the work it holds.  Only the lifecycle's files and engine.c see it. */
struct unhook_engine {
    uh_diag diag;             /* last error, the log */
    uh_rt rt;                 /* Lua states, scheduler, cards */
    char *db_path;            /* NULL: $UNHOOK_DB or ./unhook.db */
    uh_store *store;          /* opened on first use */
    int concurrency;
    char *conn_override;      /* connection file for every instance */
    unsigned long long rng;   /* backoff jitter */
    char owner[96];           /* "host:pid:nonce": who holds this engine's claims */
    double last_reap;         /* when dead local claim owners were looked for */
    int wakefd;               /* unhook_engine_wakeup writes it; -1 if none */
    struct uh_drive *drive;   /* driven by a host's loop (drive.c), or NULL */
};

/* Registration data set by hand (edit) is at most this long. */
#define UH_MAX_REGISTRATION (1u << 20)

/* What happens to an instance. */
typedef enum uh_event {
    UH_EV_ENABLE = 0,         /* the user turns it on */
    UH_EV_DISABLE,            /* the user turns it off */
    UH_EV_RETRY,              /* the operator re-queues a dead letter */
    UH_EV_OUTCOME,            /* an attempt ended (res says how) */
    UH_EV_DESIRED,            /* the user changed desired while an attempt ran */
    UH_EV_LOST,               /* reconcile: no webhook at the provider */
    UH_NEVENTS
} uh_event;

/* What the caller does next. */
typedef enum uh_verdict {
    UH_V_RUN = 0,             /* intent recorded: run the attempt now */
    UH_V_RECORD,              /* record it; nothing to run */
    UH_V_NOTHING,             /* already as asked: nothing to write */
    UH_V_ALREADY_OFF,         /* was off; the user's off is recorded */
    UH_V_NOT_REGISTERED,      /* turned off; there was nothing to deregister */
    UH_V_IN_PROGRESS,         /* another process holds it; it will converge */
    UH_V_NOT_FAILED           /* retry of an instance that is not dead-lettered */
} uh_verdict;

/* One transition's inputs and what it leaves for the history. */
typedef struct uh_trans {
    uh_event ev;
    double now;
    const char *reason;       /* DISABLE */
    int busy;                 /* DISABLE: claimed by another live process */
    const unhook_flow_result *res;  /* OUTCOME */
    uh_policy policy;         /* OUTCOME: the event's retry policy */
    double jitter;            /* OUTCOME: uniform in [0, 1) */
    char *released;           /* OUTCOME: registration data moved out (owned) */
    const char *outcome;      /* OUTCOME: the history's word for it */
} uh_trans;

/* The state machine: apply t to i. */
uh_verdict uh_transition(uh_inst *i, uh_trans *t);

/* The set-based transitions of bulk work (for the store's bulk op). */
int uh_bulk_disable(const char *reason, uh_bulk out[2]);
int uh_bulk_requeue(uh_bulk out[2]);

/* Whether owner ("host:pid:...") is a live process, as far as this host
 * can tell (another host's owners are trusted to their lease). */
int uh_owner_alive(const char *owner);
/* Whether i is claimed now by a live owner other than me. */
int uh_claimed_elsewhere(const uh_inst *i, const char *me, double now);

/* ---- the engine's store (storage.c) -------------------------------- */

/* The store, opened (and this engine's owner id set) on first use. */
int uh_engine_store(unhook_engine *E, uh_store **out);
/* rc, with the store's message as the engine's when it is an error. */
int uh_store_err(unhook_engine *E, int rc);
/* Add a history line (in the caller's transaction). */
void uh_history_note(uh_store *s, const char *id, const char *action,
                     const char *outcome, const char *msg, double now);
/* For reading only: a store that does not exist yet is not created. */
int uh_store_missing(unhook_engine *E);

/* ---- the work loop (work.c) -------------------------------------------- */

/*
 * Run due work matching f (and only_id, if set) until nothing is due or
 * max_ms passed (-1: no limit); with wait, until nothing is pending.
 * capture, if set, receives the result of the (single) attempt.
 */
int uh_work(unhook_engine *E, const unhook_filter *f, const char *only_id,
            long max_ms, int wait, unhook_stats *stats,
            unhook_progress_fn progress, void *ud, unhook_flow_result *capture);

/* ---- work turns driven from a host's loop (work.c, drive.c) --------- */

typedef struct uh_worker uh_worker;
/* An outcome committed: instance id, its state now, the attempt's result. */
typedef void (*uh_report_fn)(void *ud, const char *id, uh_state st,
                             const unhook_flow_result *res);

/* A work loop that lives across turns, counting into stats; NULL if the
 * store cannot be opened (the engine's message says why) or no memory. */
uh_worker *uh_worker_new(unhook_engine *E, unhook_stats *stats,
                         uh_report_fn report, void *ud);
/* One turn that never waits: claim due work (if claim), then start jobs
 * and commit due outcomes until `until` (monotonic).  *wake is lowered to when a turn is next needed without
 * activity (0: none); *claimed receives how many were claimed when more
 * may be due, 0 when nothing more is (-1: the store failed; -2: none
 * tried).  Returns the attempts in flight. */
int uh_worker_turn(uh_worker *w, int claim, double until, double *wake, int *claimed);
/* Finish what runs (blocking), commit, give back the rest, free. */
void uh_worker_free(uh_worker *w);

/* ---- the host's loop (drive.c) ----------------------------------------- */

/* An intent was recorded while driven: note it in res, look for work at
 * the next turn (and ask the host for one now). */
void uh_drive_queued(unhook_engine *E, unhook_flow_result *res);

/* ---- the wakeup (wake.c) -------------------------------------------- */

/* Read what unhook_engine_wakeup wrote. */
void uh_wake_drain(unhook_engine *E);
/* Sleep up to ms, or until unhook_engine_wakeup is called. */
void uh_engine_nap(unhook_engine *E, long ms);
/* UNHOOK_OK, or UNHOOK_USAGE with a message naming `what` when the
 * engine is driven by a host's loop (calls that wait for flows). */
int uh_refuse_driven(unhook_engine *E, const char *what);

#endif
