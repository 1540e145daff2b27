/*
 * internal.h -- private declarations shared by the core and the bindings.
 * Never installed.
 */
#ifndef UNHOOK_INTERNAL_H
#define UNHOOK_INTERNAL_H

#include <stddef.h>
#include <stdarg.h>
#include <curl/curl.h>
#include <lua.h>

#include "unhook.h"
#include "util.h"

#define UH_DEFAULT_MEMORY_MB 64
#define UH_DEFAULT_TIMEOUT_MS 30000
#define UH_DEFAULT_HTTP_TIMEOUT_MS 15000
#define UH_CONNECT_TIMEOUT_MS 10000
#define UH_MAX_BODY (8u << 20)

/* Until export writes through json.h (then this goes). */
void uh_buf_json_string(uh_buf *b, const char *s, size_t n);

/* ---- URLs (url.c) ---------------------------------------------------- */

/* Percent-encode everything but RFC 3986 unreserved characters. */
void uh_url_escape(uh_buf *out, const char *s, size_t n);

/*
 * Expand "{name}" placeholders in tmpl with escaped values given by the
 * lookup function.  Returns 0, or -1 with a message in err when a name
 * has no value or a brace is not closed.
 */
typedef const char *(*uh_url_lookup)(void *ud, const char *name, size_t n,
                                     size_t *vlen);
int uh_url_expand(uh_buf *out, const char *tmpl, uh_url_lookup fn, void *ud,
                  uh_buf *err);

/*
 * Resolve a reference against a base URL: an absolute http(s) URL is
 * kept; "/x" and "x" are appended to the base (its path is a prefix, as
 * connector builders do), with exactly one slash between.
 */
void uh_url_resolve(uh_buf *out, const char *base, const char *ref);

/* Host (without port) of an http(s) URL into out; 0, or -1 if none. */
int uh_url_host(const char *url, char *out, size_t outsz);

/* ---- connections (conn.c) ----------------------------------------- */

enum { UH_AUTH_NONE, UH_AUTH_BEARER, UH_AUTH_BASIC, UH_AUTH_HEADER,
       UH_AUTH_QUERY };

typedef struct uh_conn {
    char *base_url;
    int auth;
    char *auth_name;          /* header or query parameter name */
    char *username;           /* basic */
    char *secret;             /* token, password or key value */
    char **headers;           /* "Name: value" lines */
    int nheaders;
    long timeout_ms;          /* per request; 0 = default */
    char *ca_file;
    int insecure;
    char **secrets;           /* every secret string, for redaction */
    int nsecrets;
} uh_conn;

void uh_conn_free(uh_conn *c);

/* Replace every secret of c (if any) and auth headers in s by "***". */
char *uh_redact(const uh_conn *c, const char *s);
void uh_redact_buf(const uh_conn *c, uh_buf *b);

/* ---- sandboxed Lua states (sandbox.c) ------------------------------- */

typedef struct uh_limit {
    size_t used, cap;
    int hit;                  /* an allocation was refused */
} uh_limit;

/* What one flow run needs from the state it runs in. */
typedef struct uh_run uh_run;

/*
 * A Lua state kept for the next run of the same connector: the runtime
 * loaded, the manifest checked and the flows compiled once.  Runs take
 * one exclusively (its allocator budget is theirs) and give it back.
 */
typedef struct uh_pooled {
    lua_State *L;
    uh_limit limit;
    uh_run *host;             /* the main thread's run: engine only */
    char *dir;
    struct uh_pooled *next;
} uh_pooled;

/* Embedded Lua sources of the runtime (generated: build/embed.c). */
typedef struct uh_embedded {
    const char *name;         /* module name, "unhook.runner" */
    const char *src;
    size_t len;
} uh_embedded;
extern const uh_embedded uh_embedded_modules[];

/*
 * A new sandboxed state: safe libraries, the restricted require, and the
 * private "core" table for runtime modules.  lim is the allocator's
 * budget and must outlive the state.  NULL on out of memory.
 */
lua_State *uh_sandbox_new(unhook_engine *E, uh_limit *lim, uh_run *run);

/*
 * Call the function on top of the stack with nargs arguments under
 * lua_pcall with a traceback handler.  Returns the Lua status; on error
 * the message is on the stack.
 */
int uh_pcall(lua_State *L, int nargs, int nresults);

/*
 * Push the runtime module name (any embedded module), or the error
 * message; returns the Lua status.
 */
int uh_require(lua_State *L, const char *name);

/*
 * A short-lived state under the limits of a flow, for connector code run
 * outside a flow (check, a connector's scheduling facts).  run is set up
 * here and must outlive the state.  NULL on out of memory.
 */
lua_State *uh_scratch_state(unhook_engine *E, uh_run *run);

/* Registry key of the runtime's require (all embedded modules). */
#define UH_REQUIRE "unhook.require"

/* The run a state belongs to (NULL for utility states). */
uh_run *uh_state_run(lua_State *L);

/* Register the C half of the runtime ("core" table) on top of stack. */
void uh_open_core(lua_State *L);

/* ---- flow runs and the scheduler (sched.c) ------------------------- */

enum { UH_RUN_READY, UH_RUN_WAITING, UH_RUN_DONE };

typedef struct uh_transfer uh_transfer;
typedef struct uh_sched uh_sched;

struct uh_run {
    unhook_engine *E;
    uh_limit limit;
    lua_State *L;             /* the run's own state */
    lua_State *co;            /* the coroutine the flow runs in */
    int state;
    int status;               /* lua_resume's final status */
    int nargs;                /* values to resume with */
    void (*done)(uh_run *r);  /* called once the run has finished */
    void *ud;
    const uh_conn *conn;
    char *conn_host;          /* host requests may go to */
    double deadline;          /* monotonic seconds */
    double busy;              /* seconds spent running Lua */
    double resume_t0;         /* when the current resume began, or 0 */
    int preempted;            /* yielded by the hook to let others run */
    double ready_since;       /* ready but not yet resumed, since; or 0 */
    double started;           /* monotonic start of the run */
    long budget_ms;           /* wall-clock budget of the whole run */
    size_t mem_base;          /* bytes the state held when the run began */
    int last_status;          /* status of the last HTTP response */
    int cpu_tripped;
    int timed_out;
    int setup;                /* failed before the flow itself ran */
    int validate_only;        /* check inputs, do not run the flow */
    uh_transfer *xfer;        /* in flight, or NULL */
    uh_pooled *ps;            /* the pooled state it runs in, or NULL */
    int coref;                /* registry reference of co */
    unhook_flow_result *res;
    uh_run *next;             /* scheduler's list */
};

/* ---- engine ----------------------------------------------------------- */


struct unhook_engine {
    char *connectors;         /* search path */
    unhook_log_fn log;
    void *log_ud;
    int log_level;
    size_t memory_cap;
    long timeout_ms;
    int limits_fixed;         /* set by the host: manifests may not change them */
    char *errmsg;
    uh_sched *sched;
    lua_State *host;          /* trusted state: JSON, connection files */
    uh_run hostrun;           /* the host state's (empty) run */
    uh_limit hostlimit;       /* no cap */
    char *db_path;            /* NULL: $UNHOOK_DB or ./unhook.db */
    struct uh_store *store;   /* opened on first use */
    int concurrency;
    char *conn_override;      /* connection file for every instance */
    unsigned long long rng;   /* backoff jitter */
    uh_buf *bytecode;         /* compiled runtime modules, by index */
    char owner[96];           /* "host:pid": who holds this engine's claims */
    uh_pooled *idle;          /* states ready for another run */
    int nidle;
    struct uh_ccard {
        char *name;
        unhook_card_fn fn;
        void *ud;
    } *ccards;                /* cards registered by the host program */
    int nccards;
};

/* Free every pooled state (engine close). */
void uh_pool_free(unhook_engine *E);

void uh_seterr(unhook_engine *E, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void uh_log(unhook_engine *E, const uh_conn *c, int level, const char *fmt,
            ...) __attribute__((format(printf, 4, 5)));

/* Close the engine's store, if open (lifecycle.c). */
void uh_store_close(unhook_engine *E);

/* Load a connection file into c (zeroed).  path NULL: no connection. */
int uh_conn_load(unhook_engine *E, const char *path, uh_conn *c);


uh_sched *uh_sched_new(void);
void uh_sched_free(uh_sched *s);

/*
 * Start an HTTP transfer for run r (called from the ctx.http primitive
 * with the request table at index idx).  On success the caller yields;
 * on failure an error object is pushed and -1 returned.
 */
int uh_http_start(lua_State *L, uh_run *r, int idx);

/* Add a prepared run and drive every run until all are done. */
void uh_sched_add(uh_sched *s, uh_run *r);
void uh_sched_drain(unhook_engine *E);

/* Runs of flows (engine.c): start one, map a setup failure, close it. */
int uh_run_start(unhook_engine *E, uh_run *r, const char *dir, const char *kind,
                 const unhook_flow_request *req, const uh_conn *conn,
                 unhook_flow_result *res);
int uh_run_setup_rc(unhook_engine *E, uh_run *r);
void uh_run_close(uh_run *r);
void uh_run_read_result(uh_run *r);

/* Check that req could run (connector, event, options, inputs). */
int uh_flow_validate(unhook_engine *E, const unhook_flow_request *req,
                     const char *kind);

/* One scheduler iteration: resume ready runs, move transfers, wait up to
 * wait_ms for activity.  Returns the number of runs still unfinished. */
int uh_sched_step(unhook_engine *E, int wait_ms);

/* Free a transfer (removing it from the multi handle). */
void uh_transfer_free(uh_sched *s, uh_transfer *t);

#endif
