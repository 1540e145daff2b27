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
    int expect_gone;          /* no stop after GONE_GUARD gone outcomes */
    unsigned long long rng;   /* backoff jitter */
    char owner[96];           /* "host:pid:nonce": who holds this engine's claims */
    double last_reap;         /* when dead local claim owners were looked for */
    unhook_attempt_fn on_attempt;   /* observer of committed attempts, or NULL */
    void *attempt_ud;
    const volatile int *stop; /* serving (unhook_engine_serve): set to stop */
    int wakefd;               /* unhook_engine_wakeup writes it; -1 if none */
    struct uh_drive *drive;   /* driven by a host's loop (drive.c), or NULL */
    int in_call;              /* in a driving call, whose callbacks may not
                                 drive, undrive or close it (drive.c) */
    int close_asked;          /* closed from a callback: closed on return */
    int threads;              /* bulk work's threads (team.c); 1: this one */
    int memory_mb, timeout_ms;  /* as configured (0: default), for a team */
    struct uh_team *team;     /* the team this engine works in, or NULL */
    int team_ix;              /* its place in it (0: the engine called) */
    /* a sibling opened like this engine with another concurrency (engine.c
     * sets it: the lifecycle's crew opens engines without calling up) */
    struct unhook_engine *(*open_like)(const struct unhook_engine *E, int concurrency);
    void (*close)(struct unhook_engine *E);     /* unhook_engine_close */
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

/* The set-based transitions of bulk work (for the store's bulk op):
 * how many of out[] were filled. */
#define UH_BULK_MAX 3
int uh_bulk_disable(const char *reason, uh_bulk out[UH_BULK_MAX]);
int uh_bulk_requeue(uh_bulk out[UH_BULK_MAX]);
/* i's intent written (the store's intent op) with its history line, in one
 * transaction of s (instance.c).  UNHOOK_OK or the store's error, set on E. */
int uh_record_intent(unhook_engine *E, uh_store *s, const uh_inst *i,
                     const char *action, const char *outcome, const char *msg);

/* The transitions b[0..n) over the instances f matches, in one transaction
 * of s; counts[k] receives how many the k-th changed.  disabling: the
 * "disable" row of history of every instance turned off is written first,
 * with reason (instance.c).  UNHOOK_OK or the store's error, set on E. */
int uh_bulk_run(unhook_engine *E, uh_store *s, const uh_bulk *b, int n,
                const unhook_filter *f, long *counts, int disabling,
                const char *reason);

/*
 * An attempt the rules settle without running a flow, because the
 * subscription lapsed (i->expires_at passed): a renewal finds it gone
 * (the instance becomes expired), and so does a deregistration when the
 * event says expired = "gone" (p).  Fills res (outcome gone, code
 * "expired") and returns 1; else 0: run the flow.
 */
int uh_settled(const uh_inst *i, const uh_policy *p, double now,
               unhook_flow_result *res);

/* ---- bulk work on several threads (crew.c, team.c) ---- */

/* unhook_config.threads above this is this (each thread holds an engine:
 * its store connection, Lua states, sockets, connector files). */
#define UH_THREADS_MAX 64

/* Whether E's bulk work may be shared with sibling engines on other
 * threads: E->threads > 1, and nothing of E's that a sibling could not
 * have or that must be called from this thread alone (a host's loop,
 * serving, an attempt observer, C cards, cassettes and dry runs). */
int uh_crew_fits(const unhook_engine *E);
/* uh_work's bulk loop (no one id) on E->threads threads when it fits: E
 * on this one, siblings opened like it on the others, claiming from the
 * same store; stats and progress are the sum of all, the first error is
 * E's.  Else uh_work on this thread.  expect: how many attempts the
 * caller knows are due (disable_all's intent), so that the members'
 * claims share the end of it evenly (uh_team_share); -1 when unknown. */
int uh_crew_work(unhook_engine *E, const unhook_filter *f, long max_ms, int wait,
                 long expect, unhook_stats *stats, unhook_progress_fn progress,
                 void *ud);

/* What the members share (team.c), under one lock. */
typedef struct uh_team uh_team;
uh_team *uh_team_new(int n, unhook_log_fn log, void *log_ud);
void uh_team_free(uh_team *t);
void uh_team_lock(uh_team *t);
void uh_team_unlock(uh_team *t);
/* A log callback: log (as given to uh_team_new) one line at a time. */
void uh_team_log(void *ud, int level, const char *line);
/* A connector across the team: its runs in flight and the next start
 * its rate allows, and the "already gone" guard (pace.c), read and
 * written under the team's lock. */
typedef struct uh_team_slot {
    char *key;
    int active;
    double next_start;
    int outcomes, gone;
    int stopped;
    struct uh_team_slot *next;
} uh_team_slot;
uh_team_slot *uh_team_slot_for(uh_team *t, const char *key);
/* The ids counted pending, one set for the team (an instance one member
 * held may end in another): uh_idset_add's (add) or _del's answer. */
int uh_team_pending(uh_team *t, const char *id, int add);
/* Member ix's stats so far; member 0's progress shows the sum of all. */
void uh_team_publish(uh_team *t, int ix, const unhook_stats *s);
void uh_team_progress(uh_team *t, const unhook_stats *own,
                      unhook_progress_fn fn, void *ud);
void uh_team_sum(uh_team *t, const unhook_stats *own, unhook_stats *out);
/* A member's store failed (its work ended with the error): every member
 * stops claiming and finishes what runs, as a serving loop told to stop;
 * whether one did. */
void uh_team_fail(uh_team *t);
int uh_team_failed(uh_team *t);
/* The end of a bulk run, shared out: claims run ahead of the runs (work.c's
 * claim_cap), and the member that claimed last would otherwise work
 * through its queue alone while the others have nothing left to claim.
 * uh_team_expect: n attempts are due and none claimed yet (n <= 0: not
 * known).  uh_team_share: max, or less once the work expected and not yet
 * claimed, divided among the members still running, is less (never below
 * min); max when nothing is expected or one member is left.
 * uh_team_claimed: n more were claimed; more than expected, and the
 * expectation is dropped (other work was due too), claims back to max. */
void uh_team_expect(uh_team *t, long n);
int uh_team_share(uh_team *t, int max, int min);
void uh_team_claimed(uh_team *t, int n);
/* A member's loop started, ended (with its last stats); wait until every
 * member ended, showing progress every every_s meanwhile. */
void uh_team_started(uh_team *t);
void uh_team_ended(uh_team *t, int ix, const unhook_stats *s);
void uh_team_wait(uh_team *t, const unhook_stats *own, double every_s,
                  unhook_progress_fn progress, void *ud);

/* Whether owner ("host:pid:nonce") is a live process, as far as this host
 * can tell (another host's owners are trusted to their lease).  Meaningful
 * for a store on one machine only: a shared store's (store.h) owners are
 * judged by their lease alone, a host name and pid being no proof there. */
int uh_owner_alive(const char *owner);
/* Whether i is claimed now by an owner other than me: a live one, or with
 * lease_only (a shared store), any whose lease has not ended. */
int uh_claimed_elsewhere(const uh_inst *i, const char *me, double now,
                         int lease_only);
/* Release every claim whose owner is a dead process of this host (for a
 * store on one machine; never called for a shared one). */
int uh_release_dead(uh_store *s, double now);
/* A number in [0, 1) from the engine's generator (xorshift): the jitter
 * of a retry's backoff. */
double uh_jitter(unhook_engine *E);

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

/* What one driven turn of the work loop did. */
typedef enum uh_turn_kind {
    UH_TURN_NONE = 0,         /* nothing was due */
    UH_TURN_COMMIT,           /* finished outcomes committed, or leases renewed */
    UH_TURN_START,            /* queued jobs started */
    UH_TURN_CLAIM             /* due work claimed into the queue */
} uh_turn_kind;

/* A work loop that lives across turns, counting into stats and telling
 * report each committed outcome; NULL if the store cannot be opened (the
 * engine's message says why) or no memory. */
uh_worker *uh_worker_new(unhook_engine *E, unhook_stats *stats,
                         uh_report_fn report, void *ud);
/* One turn that never waits and does one kind of work, the first that
 * is due of: commit finished outcomes (a batch, or what waited long
 * enough), start queued jobs (none after until, monotonic, but one at
 * least), renew leases, and (with claim, if the queue has room) claim due
 * work; *claimed is then 1 when the claim got all it asked for (more may
 * be due), 0 when it got all that was due, -1 when the store failed.
 * *wake is lowered to when a turn is next needed without activity (now,
 * when more work is due at once; 0: none).  Returns what it did. */
uh_turn_kind uh_worker_turn(uh_worker *w, int claim, double until, double *wake,
                            int *claimed);
/* The earliest next attempt (wall clock) of the outcomes committed since
 * the last call, or 0. */
double uh_worker_next_retry(uh_worker *w);
/* Finish what runs (blocking), commit, give back the rest, free. */
void uh_worker_free(uh_worker *w);

/* ---- the host's loop (drive.c) ----------------------------------------- */

/* An intent was recorded while driven: note it in res (if given), look
 * for work at the next turn and ask the host for one now. */
void uh_drive_queued(unhook_engine *E, unhook_flow_result *res);
/* The driving calls behind the public ones (engine.c, which refuses them
 * from the host's callbacks and closes an engine closed from one): */
int uh_drive_start(unhook_engine *E, const unhook_driver *drv);
/* E driven: */
int uh_drive_action(unhook_engine *E, int fd, int events);
int uh_drive_timeout(unhook_engine *E);
/* Stop driving; a no-op if E is not driven. */
void uh_drive_end(unhook_engine *E);

/* ---- the wakeup (wake.c) -------------------------------------------- */

/* Read what unhook_engine_wakeup wrote. */
void uh_wake_drain(unhook_engine *E);
/* Sleep up to ms, or until unhook_engine_wakeup is called. */
void uh_engine_nap(unhook_engine *E, long ms);
/* UNHOOK_OK, or UNHOOK_USAGE with a message naming `what` when the
 * engine is driven by a host's loop (calls that wait for flows). */
int uh_refuse_driven(unhook_engine *E, const char *what);

#endif
