/*
 * runtime.h -- private: the sandbox and the Lua runtime.  Sandboxed
 * states (sandbox.c), the C half of the runtime that flows reach through
 * scripts/unhook/ (lcore.c), runs of flows in pooled states (run.c) and
 * connectors and connection files (connector.c).
 */
#ifndef UNHOOK_RUNTIME_H
#define UNHOOK_RUNTIME_H

#include "sched.h"
#include "store.h"

#define UH_DEFAULT_MEMORY_MB 64
#define UH_DEFAULT_TIMEOUT_MS 30000

/* Retry policy defaults: the one definition (core.RETRY for Lua). */
#define UH_RETRY_MAX_ATTEMPTS 8
#define UH_RETRY_BASE_MS 1000.0
#define UH_RETRY_MAX_MS 3600000.0

/* Runs of one connector that share a pooled state at most. */
#define UH_SHARE_MAX 64

/*
 * Who owns the blocks of a shared state: each block carries the slot of
 * the run it is charged to and that slot's generation; slot 0, or a
 * generation that has moved on (the run ended), is the state's own.
 */
/* Size classes of the small blocks a shared state keeps when they are
 * freed, for its next allocations (sandbox.c): 16-byte steps. */
#define UH_BLK_CLASSES 32

typedef struct uh_share {
    size_t own;               /* the state's: set-up, values of ended runs */
    struct uh_run *run[UH_SHARE_MAX + 1];  /* by slot; [0] unused */
    unsigned gen[UH_SHARE_MAX + 1];
    void *cache[UH_BLK_CLASSES + 1];  /* freed blocks by class; [0] unused */
    size_t cached;            /* bytes they hold (headers included) */
} uh_share;

/*
 * A Lua state kept for runs of one connector: the runtime loaded, the
 * manifest checked and the flows compiled once.  Up to UH_SHARE_MAX runs
 * use it at once, each in its own coroutine and under its own memory
 * cap (uh_share); a run that trips a limit or lets an error escape
 * retires it: no new runs, closed when its last run ends.  Idle (no
 * runs), it waits in rt->idle.
 */
typedef struct uh_pooled {
    lua_State *L;
    uh_limit limit;
    uh_share share;
    uh_run *host;             /* the main thread's run */
    char *dir;
    size_t warm_base;         /* memory held before its first flow (0: none yet) */
    int nruns;                /* runs in it now */
    int retired;              /* no new runs: closed when the last ends */
    int coidle[UH_SHARE_MAX]; /* registry refs of finished runs' coroutines */
    int ncoidle;              /* ... ready for another run (run.c) */
    int spec_mt;              /* registry ref: the metatable runs' specs share (run.c) */
    char *spec_key;           /* ... and what its fields were made of (NULL: none) */
    size_t spec_keylen;
    struct uh_pooled *next;   /* rt->live or rt->idle */
} uh_pooled;

/* A pooled state whose own memory (warm flow instances, runner.lua, and
 * what ended runs left) has grown by more than this since before its
 * first run is closed instead of kept (retired while runs use it). */
#define UH_WARM_GROWTH ((size_t)16 << 20)

/* A card registered by the host program. */
typedef struct uh_ccard {
    char *name;
    unhook_card_fn fn;
    void *ud;
} uh_ccard;

/* What runs of flows share: the engine's runtime half. */
typedef struct uh_rt {
    uh_diag *diag;
    uh_sched *sched;
    char *connectors;         /* search path */
    size_t memory_cap;
    long timeout_ms;
    int limits_fixed;         /* set by the host: manifests may not change them */
    lua_State *host;          /* trusted state: JSON, connection files */
    uh_run hostrun;           /* the host state's (empty) run */
    uh_limit hostlimit;       /* no cap */
    uh_buf *bytecode;         /* compiled runtime modules, by index */
    uh_pooled *idle;          /* states ready for another run */
    int nidle;
    uh_pooled *live;          /* states runs use now */
    int pool_max;             /* idle states kept at most (0: POOL_MAX) */
    uh_ccard *ccards;
    int nccards;
    /* the engine's store, opened on first use: where OAuth2 connections
     * keep rotating tokens (uh_conn_load) */
    int (*store)(void *ud, uh_store **out);
    void *store_ud;
} uh_rt;

/* Embedded Lua sources of the runtime (generated: build/embed.c). */
typedef struct uh_embedded {
    const char *name;         /* module name, "unhook.runner" */
    const char *src;
    size_t len;
} uh_embedded;
extern const uh_embedded uh_embedded_modules[];

/* ---- sandboxed states (sandbox.c) ----------------------------------- */

/*
 * A new sandboxed state: safe libraries, the restricted require, and the
 * private "core" table for runtime modules.  lim is the allocator's
 * budget and must outlive the state; with lim->share set, blocks are
 * counted per run (uh_share).  NULL on out of memory.
 */
lua_State *uh_sandbox_new(uh_rt *rt, uh_limit *lim, uh_run *run);

/* Close a state uh_sandbox_new made with lim (and the blocks a shared
 * state kept for reuse). */
void uh_sandbox_close(lua_State *L, uh_limit *lim);

/* Mark co as a flow run's own coroutine: flows may not resume or close
 * it (another run of the state might reach it). */
void uh_sandbox_mark_run(lua_State *co);

/* A finished run's coroutine made ready for the next run: its stack
 * emptied and the state's usual hook set again. */
void uh_sandbox_reuse_run(lua_State *co);

/*
 * Call the function on top of the stack with nargs arguments under
 * lua_pcall with a traceback handler.  Returns the Lua status; on error
 * the message is on the stack.
 */
int uh_pcall(lua_State *L, int nargs, int nresults);

/* Push the runtime module name (any embedded module), or the error
 * message; returns the Lua status. */
int uh_require(lua_State *L, const char *name);

/*
 * A short-lived state under the limits of a flow, for connector code run
 * outside a flow (check, a connector's scheduling facts).  run is set up
 * here and must outlive the state.  NULL on out of memory.
 */
lua_State *uh_scratch_state(uh_rt *rt, uh_run *run);

/* Registry key of the runtime's require (all embedded modules). */
#define UH_REQUIRE "unhook.require"

/* Register the C half of the runtime ("core" table) on top of stack. */
void uh_open_core(lua_State *L);
/* core.setup and core.registration (lsetup.c): the core table on top */
void uh_open_setup(lua_State *L);
/* core.quick (lquick.c): the core table on top */
void uh_open_quick(lua_State *L);

/* Replace string.find, match, gmatch and gsub of L with a matcher that
 * stops the flow past its time budget (lpattern.c). */
void uh_open_patterns(lua_State *L);

/* ---- runs of flows (run.c) -------------------------------------------- */

/*
 * Prepare run r (zeroed by the caller, who may set done/ud) of the flow
 * of kind ("registration", "deregistration") for req in a pooled state,
 * and add it to the scheduler.  conn and res must outlive the run.
 */
int uh_run_start(uh_rt *rt, uh_run *r, const char *dir, const char *kind,
                 const unhook_flow_request *req, const uh_conn *conn,
                 unhook_flow_result *res);
/* Read a finished run's result into r->res (limits override the flow). */
void uh_run_read_result(uh_run *r);
/* Leave the run's state: what the run holds becomes the state's; the
 * state goes back to the pool when no run is left in it (or is closed:
 * retired, or the pool is full). */
void uh_run_close(uh_run *r);
/* Free every pooled state. */
void uh_pool_free(uh_rt *rt);

/* One flow of kind run now, without the store (validate: inputs only). */
int uh_flow_once(uh_rt *rt, const unhook_flow_request *req,
                 unhook_flow_result *res, const char *kind, int validate);

/* ---- connectors and connection files (connector.c) ------------------ */

/* The folder of a connector (name or path), malloc'd; NULL + message. */
char *uh_connector_path(uh_rt *rt, const char *name);
/* Check a connector; UNHOOK_INVALID with every problem in the message. */
int uh_connector_check(uh_rt *rt, const char *connector);

/* What the lifecycle needs of a connector to schedule its work. */
typedef struct uh_policy {
    char *event;
    int max_attempts;
    double base_ms, max_ms;
    double renew_before;      /* seconds before the expiry; -1: no renewal */
    int expired_gone;         /* an expired subscription is gone: no call */
} uh_policy;

typedef struct uh_facts {
    int concurrency;          /* 0: no limit */
    double per_second;        /* 0: no limit */
    int npolicies;
    uh_policy *policies;      /* one per event */
    /* auth "oauth2": the manifest's defaults for its connections, or NULL */
    char *oauth2_token_url, *oauth2_scope, *oauth2_audience;
} uh_facts;

/* Load dir's facts; NULL error on success, else a malloc'd message, and
 * *short_of (when not NULL) 1 if a file could not be read for want of
 * file descriptors or memory (nothing wrong with the connector). */
char *uh_connector_facts(uh_rt *rt, const char *dir, uh_facts *out, int *short_of);
void uh_facts_free(uh_facts *f);
/* The retry policy and renewal of event (the defaults for an unknown one). */
void uh_facts_policy(const uh_facts *f, const char *event, uh_policy *out);

/* Load a connection file into c (zeroed).  path NULL: no connection.
 * An oauth2 connection is made ready for requests (oauth.h); with grant
 * refresh_token that opens the store. */
int uh_conn_load(uh_rt *rt, const char *path, uh_conn *c);
/* The same for a connection used with a connector whose facts are f
 * (NULL: none): an oauth2 connection takes the manifest's defaults. */
int uh_conn_load_for(uh_rt *rt, const char *path, const uh_facts *f, uh_conn *c);

#endif
