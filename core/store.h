/*
 * store.h -- private: the durable store of instances and their history.
 * An interface (a struct of function pointers): a backend keeps data,
 * claims and compare-and-set writes; what a transition means is decided
 * by the lifecycle (lifecycle.c), never here.  A new backend is one file
 * plus a line in the table of backends.c.  Never installed.
 */
#ifndef UNHOOK_STORE_H
#define UNHOOK_STORE_H

#include "state.h"
#include "util.h"

/* An instance as the store keeps it; every string is owned (malloc). */
typedef struct uh_inst {
    char *id, *connector, *event, *options, *connection, *registration;
    char *reason, *last_error;
    uh_state state;
    uh_desired desired;
    int attempts;
    double next_attempt_at, created_at, updated_at;
    double expires_at;          /* when the subscription lapses, or 0 */
    char *claim_owner;          /* who works on it now, or NULL */
    double claimed_until;
    long long row;              /* the backend's handle of the row a claim
                                   read it from (SQLite: its rowid), or 0 */
} uh_inst;

void uh_inst_clear(uh_inst *i);          /* frees the strings, zeroes */
/* The public view of i; its strings point into i. */
void uh_inst_view(const uh_inst *i, unhook_instance *out);

/*
 * A set-based transition the lifecycle asks for: every instance that
 * matches (and the caller's filter) gets the new values, in one
 * statement.  Bulk work stays set-based this way.
 */
typedef struct uh_bulk {
    unsigned from;              /* states that match (1u << state); 0: any */
    int desired;                /* -1: any, else a uh_desired */
    int registered;             /* -1: any, 1: holds registration data, 0: none */
    int expiring;               /* -1: any, 1: holds an expiry, 0: none */
    int to_desired;             /* -1: keep */
    uh_state to;
    const char *reason;         /* NULL: keep */
    int reset;                  /* attempts 0, due now */
    int clear_error;            /* last error cleared */
    int unclaim;                /* any claim released */
} uh_bulk;

/* Outcome of a compare-and-set write under a claim. */
enum { UH_CAS_OK = 0, UH_CAS_LOST, UH_CAS_CHANGED };

/*
 * The tokens of one OAuth2 connection, sealed (encrypted by the layer
 * above: the store never sees them in clear).  version counts writes;
 * lease_until says another worker is refreshing them until then.
 */
typedef struct uh_token_row {
    char *key;                  /* which connection (a digest, not secret) */
    long long version;          /* 0: no row yet */
    unsigned char *sealed;      /* owned (malloc) */
    size_t len;
    double lease_until;         /* wall-clock seconds, 0: none */
} uh_token_row;

void uh_token_row_clear(uh_token_row *r);  /* frees, zeroes */

typedef struct uh_store uh_store;

typedef int (*uh_inst_fn)(void *ud, const uh_inst *inst);
typedef void (*uh_owner_fn)(void *ud, const char *owner);

typedef struct uh_store_ops {
    /* write transactions; nested begin/commit pairs are not supported */
    int (*begin)(uh_store *s);
    int (*commit)(uh_store *s);
    void (*rollback)(uh_store *s);
    /* UNHOOK_NOTFOUND when there is no such instance */
    int (*get)(uh_store *s, const char *id, uh_inst *out);
    /* insert a new instance, or replace one (its claim is dropped) */
    int (*put)(uh_store *s, const uh_inst *in);
    /*
     * Write what the user asked and the state it implies: desired,
     * reason, state, attempts, next attempt, last error.  Leaves
     * registration data and any claim alone.
     */
    int (*intent)(uh_store *s, const uh_inst *in);
    /*
     * Compare-and-set the outcome of an attempt made under owner's claim:
     * state, registration data and its expiry, attempts, next attempt,
     * last error; the
     * claim is released.  Written only while owner holds the claim and
     * desired is still in->desired: *cas is UH_CAS_LOST when the claim
     * went to another owner, UH_CAS_CHANGED when the user changed the
     * desired state meanwhile (nothing written in either case).
     */
    int (*finish)(uh_store *s, const uh_inst *in, const char *owner,
                  double now, int *cas);
    int (*list)(uh_store *s, const unhook_filter *f, uh_inst_fn fn, void *ud);
    int (*history_add)(uh_store *s, const unhook_history *h);
    int (*history_list)(uh_store *s, const char *id, unhook_history_fn fn,
                        void *ud);
    /* a set-based transition (see uh_bulk); *count: instances changed */
    int (*bulk)(uh_store *s, const uh_bulk *b, const unhook_filter *f,
                double now, long *count);
    /*
     * Claim up to max due instances (UH_CLAIMABLE_SQL: registering,
     * deregistering, or a renewal; next attempt <= now, no live claim) for owner until lease; *n receives
     * how many were put in out[].
     */
    int (*claim)(uh_store *s, const unhook_filter *f, double now,
                 const char *owner, double lease, int max, uh_inst *out, int *n);
    int (*unclaim)(uh_store *s, const char *id);
    /* every owner holding a live claim */
    int (*owners)(uh_store *s, double now, uh_owner_fn fn, void *ud);
    /* release every claim of owner */
    int (*release)(uh_store *s, const char *owner);
    /*
     * Delete instance id (its history stays); UNHOOK_NOTFOUND when there
     * is no such instance.  Whether it may go is the caller's rule.
     */
    int (*remove)(uh_store *s, const char *id);
    /* earliest next attempt of pending work matching f, 0 if none */
    int (*next_due)(uh_store *s, const unhook_filter *f, double *when);
    void (*close)(uh_store *s);
    /* OAuth2 token rows.  token_get: UNHOOK_NOTFOUND when there is none. */
    int (*token_get)(uh_store *s, const char *key, uh_token_row *out);
    /*
     * Compare-and-set in->key's row to in->sealed and in->lease_until
     * when its version is still expect (0: the row must not exist yet);
     * the row's version becomes expect + 1.  *cas is UH_CAS_OK, or
     * UH_CAS_LOST when the version differed (nothing written).
     */
    int (*token_cas)(uh_store *s, const uh_token_row *in, long long expect,
                     int *cas);
    /* Optional (NULL: not offered).  Extend every claim of owner to
     * until: a shared store's worker keeps its leases alive this way. */
    int (*renew)(uh_store *s, const char *owner, double until);
    /* Block until new due work is announced or timeout_s passed (a
     * notification may be missed: callers poll next_due as well). */
    int (*wait)(uh_store *s, double timeout_s);
    /* Optional: what finish does, for n instances in one go (cas[k] is
     * in[k]'s result), inside the caller's transaction; a store that
     * pays a round trip per statement batches the outcomes this way,
     * SQLite checks their claims together. */
    int (*finish_many)(uh_store *s, const uh_inst *const *in, int n,
                       const char *owner, double now, int *cas);
    /* Optional (NULL: the caller lists the instances and adds their rows
     * one by one).  History row h[k], with each instance's id for
     * h[k].instance_id, for every instance that b[k] and f match (before
     * b is applied), for k in 0 .. n-1: set-based, inside the caller's
     * transaction.  *rows: how many rows were written, when nothing else
     * can change which instances b matches before the transaction ends
     * (SQLite: the writer's lock is held), so that transitions left with
     * no row to match can be skipped; -1 when it can (PostgreSQL). */
    int (*history_bulk)(uh_store *s, const uh_bulk *b, int n,
                        const unhook_filter *f, const unhook_history *h,
                        long *rows);
    /*
     * Optional (NULL: every commit is on disk when it returns): group
     * commit.  A transaction begun with begin_lazy is committed by
     * commit_lazy without waiting for the disk; *ticket names the commit
     * (0: on disk already).  durable: 1 when that commit, and every one
     * before it, is on disk, 0 not yet, UNHOOK_STORE when it cannot be
     * (the message in errmsg); with wait, it waits.  rollback ends a lazy
     * transaction as any other.
     */
    int (*begin_lazy)(uh_store *s);
    int (*commit_lazy)(uh_store *s, unsigned long long *ticket);
    int (*durable)(uh_store *s, unsigned long long ticket, int wait);
} uh_store_ops;

struct uh_store {
    const uh_store_ops *ops;
    /*
     * Shared by workers on several machines: a claim is live until its
     * lease ends, whatever this host can see of the owner's process (no
     * uh_owner_alive).  lease: the claims' lease in seconds the backend
     * wants (renewed every third of it), 0 for the work loop's default.
     */
    int shared;
    double lease;
    char errmsg[512];
};

/*
 * SQL text shared by the backends that speak SQL.  Parameters are written
 * as mark and their number ("?3" for SQLite, "$3" for PostgreSQL); vals
 * receives the text value of each, in order, and *n their count.
 * uh_sql_filter: " AND state = ?N ..." for f, numbered from *n + 1 (vals
 * room: 4 more).  uh_sql_bulk: the UPDATE of a set-based transition;
 * parameter 2 is the time now (vals[1] NULL: the backend binds a time),
 * the others text (vals room: 8).  uh_sql_bulk_where: its " WHERE ..."
 * alone, the filter's values numbered from *n + 1 (vals room: 4 more).
 */
void uh_sql_filter(uh_buf *b, char mark, const unhook_filter *f,
                   const char **vals, int *n);
void uh_sql_bulk_where(uh_buf *b, char mark, const uh_bulk *bk,
                       const unhook_filter *f, const char **vals, int *n);
void uh_sql_bulk(uh_buf *b, char mark, const uh_bulk *bk,
                 const unhook_filter *f, const char **vals, int *n);

/*
 * Open (creating and migrating) the store at location, with the backend
 * that the location names (backends.c; SQLite for a path).
 */
int uh_store_open(const char *location, uh_store **out, char *err,
                  size_t errsz);

/* The backends. */
int uh_store_sqlite_open(const char *path, uh_store **out, char *err,
                         size_t errsz);
int uh_store_pg_open(const char *url, uh_store **out, char *err, size_t errsz);

#endif
