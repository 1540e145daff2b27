/*
 * xfer.h -- private: the contract of the transfers-and-scheduler part.
 * A flow run is a Lua coroutine; when it makes a request (uh_http_start)
 * it yields, the transfer runs on the scheduler's curl multi handle, and
 * the run is resumed with the response.  Many runs share one thread this
 * way.  http.c builds a request, response.c turns what comes back into
 * values for the flow, sched.c (sched.h) drives the runs.
 */
#ifndef UNHOOK_XFER_H
#define UNHOOK_XFER_H

#include <setjmp.h>
#include <stdint.h>
#include <time.h>
#include <curl/curl.h>
#include <lua.h>

#include "conn.h"

#define UH_DEFAULT_HTTP_TIMEOUT_MS 15000
#define UH_CONNECT_TIMEOUT_MS 10000
#define UH_MAX_BODY (8u << 20)
#define UH_SHORT_HOOK_COUNT 200

/* An allocator's budget: a Lua state's memory cap.  It also names the
 * run the state serves now (see uh_state_run): the scheduler sets it
 * before each resume of a run and restores it after.  A pooled state
 * that several runs share (share not NULL) counts each block for the
 * run that owns it instead (runtime.h, uh_share); used is the total. */
typedef struct uh_limit {
    size_t used, cap;
    int hit;                  /* an allocation was refused */
    struct uh_run *run;       /* the state's current run */
    struct uh_share *share;   /* per-run accounts, or NULL */
} uh_limit;

enum { UH_RUN_READY, UH_RUN_WAITING, UH_RUN_DONE };

typedef struct uh_transfer uh_transfer;
typedef struct uh_sched uh_sched;
typedef struct uh_run uh_run;
typedef struct uh_tape uh_tape;  /* cassette.h */

/* One flow run, as the scheduler drives it. */
struct uh_run {
    struct uh_rt *rt;         /* the runtime it belongs to (runtime.h) */
    uh_diag *diag;
    uh_sched *sched;
    uh_limit limit;           /* scratch states: their own budget */
    lua_State *L;             /* the run's own state */
    lua_State *co;            /* the coroutine the flow runs in */
    int state;
    int status;               /* lua_resume's final status */
    int nargs;                /* values to resume with */
    void (*done)(uh_run *r);  /* called once the run has finished */
    void *ud;
    const uh_conn *conn;
    double deadline;          /* monotonic seconds */
    double busy;              /* seconds spent running Lua */
    double resume_t0;         /* when the current resume began, or 0 */
    int preempted;            /* yielded by the hook to let others run */
    double ready_since;       /* ready but not yet resumed, since; or 0 */
    double started;           /* monotonic start of the run */
    long budget_ms;           /* wall-clock budget of the whole run */
    size_t mem_used;          /* bytes its blocks hold in a shared state */
    size_t mem_cap;           /* its memory cap there (0: none) */
    int mem_hit;              /* an allocation of its was refused */
    int mem_refused;          /* one was refused and not granted when asked
                                 again (sandbox.c, shared_alloc) */
    int mem_over;             /* past its cap (not twice it): collect and
                                 look again (uh_run_mem_check) */
    int mem_tight;            /* within an eighth of its cap after a full
                                 collection: past it again, it is over */
    uintptr_t mem_ref_block;  /* that request: its block (the address it
                                 had when asked) and new size */
    size_t mem_ref_size;
    int mem_slot;             /* its owner slot there (0: charge the state) */
    int ctxref;               /* registry reference of its ctx (runner.lua) */
    int last_status;          /* status of the last HTTP response */
    int cpu_tripped;
    int timed_out;
    int setup;                /* failed before the flow itself ran */
    int short_of;             /* a file of the connector could not be read
                                 for want of descriptors or memory (lcore.c):
                                 a set-up or an error raised in the run is
                                 then retried */
    int short_mem;            /* the system refused an allocation under the
                                 cap, and did not grant the same request
                                 when Lua asked again (sandbox.c): a set-up,
                                 or a memory error the run raised, is then
                                 retried */
    int short_pending;        /* the next growth decides (sandbox.c) */
    uintptr_t short_key;      /* that request: its block's address, size */
    size_t short_size;
    int setup_rc;             /* then: the API result code */
    int validate_only;        /* check inputs, do not run the flow */
    uh_transfer *xfer;        /* in flight, or NULL */
    uh_transfer *answered;    /* finished: its response is built when the
                                 flow resumes, inside the resume */
    int answer_rc;            /* its CURLcode */
    int answer_json;          /* the last response's Content-Type lets its
                                 body be read as JSON (response.c) */
    int token_wait;           /* 1: waiting for its connection's OAuth2
                                 token; 2: the wait ended */
    int token_fresh;          /* the token just came: send with it */
    char *token_code;         /* the wait ended in this error, or NULL */
    char *token_msg;
    int auth_retried;         /* this request was sent again after a 401 */
    char *expired;            /* the timeout message to resume with, or NULL */
    int bad_yield;            /* a bare coroutine.yield() at the top level */
    jmp_buf *guard;           /* where the panic handler jumps, or NULL */
    struct uh_pooled *ps;     /* the pooled state it runs in, or NULL */
    int coref;                /* registry reference of co */
    unhook_flow_result *res;
    const char *start_dir;    /* what uh_run_start was asked (run.c) */
    const char *start_kind;
    const unhook_flow_request *start_req;
    char tag[80];             /* "ID " before its trace lines, or "" */
    uh_run *next;             /* scheduler's list */
};

/* The run a Lua state (or thread) belongs to, or NULL.  Asked of the
 * state as a whole, not of the thread: a coroutine a flow keeps (in a
 * warm instance) outlives the run that created it, and when a later run
 * resumes it, it belongs to that run -- its limits, not a freed run's. */
static inline uh_run *uh_state_run(lua_State *L)
{
    void *ud;

    lua_getallocf(L, &ud);
    return ud ? ((uh_limit *)ud)->run : NULL;
}

struct uh_transfer {
    CURL *easy;
    uh_run *run;
    struct curl_slist *hdrs;
    char *url;
    char *req_body;
    char method[16];
    uh_buf body, head;
    size_t max_body;
    int too_large;
    double t0;
    char *base;               /* the connection's base URL */
    char *hosts;              /* further allowed hosts, one per line */
    char *auth_line;          /* the credentials header, if any */
    int redirects;
    int forbidden;            /* a redirect to a host not allowed */
    char errbuf[CURL_ERROR_SIZE];
    int replayed;             /* answered by the cassette, never sent */
    long replay_status;
    char *taped;              /* the request as the cassette records it */
    struct uh_oauth *oauth;   /* a token request of this connection (no
                                 run), or NULL */
    int dirty;                /* options set beyond URL, HTTPHEADER,
                                 CUSTOMREQUEST and the timeouts: the handle
                                 is reset when it goes back (transfer.c) */
};

struct uh_sched {
    CURLM *multi;
    CURLSH *share;
    uh_run *runs;             /* not yet finished */
    CURL **pool;              /* idle easy handles, reused */
    int npool, cappool;
    uh_tape *tape;            /* record, replay, dry run; or NULL */
    double slice;             /* seconds a flow runs at once; 0: SLICE_S
                                 (with a slice, the hook looks at the clock
                                 every UH_SHORT_HOOK_COUNT instructions) */
    /* Let the transfers move: wait up to wait_ms (0: not at all) for a
     * socket or the engine's wakeup, then act on what is ready.  Set by
     * the scheduler, for the parts below it that move transfers by
     * themselves (a token request awaited, oauth.c). */
    void (*move)(uh_sched *s, int wait_ms);
    int epfd;                 /* the sockets curl watches, with the engine's
                                 wakeup (sched.c); -1: curl's own poll */
    int wakefd;               /* the engine's wakeup in it, or -1 */
    unsigned char *fdst;      /* by descriptor: what the set watches of it */
    int nfdst;
    int sock;                 /* 1: transfers move by socket_action */
    /* how every handle opens and closes its sockets, so that the set
     * knows a connection's socket from a new one under the same number
     * (sched.c sets them, transfer.c puts them on each handle) */
    curl_opensocket_callback opensock;
    curl_closesocket_callback closesock;
    int direct;               /* no proxy in the environment (sched.c): every
                                 handle is told so, and libcurl does not look
                                 for one at each request */
    int timer_set;            /* curl asked to be called at curl_due */
    double curl_due;
};

/* ---- transfers (transfer.c) ------------------------------------------ */

/* A transfer for run r (NULL: a token request), its easy handle from s's
 * pool, body capped at UH_MAX_BODY (t->max_body); NULL when out of memory. */
uh_transfer *uh_transfer_new(uh_sched *s, uh_run *r);
/* Free a transfer, removing it from s's multi handle and giving its easy
 * handle back to the pool (s NULL: a transfer never added; no pool). */
void uh_transfer_free(uh_sched *s, uh_transfer *t);

/* ---- requests (http.c) ----------------------------------------------- */

/*
 * Start an HTTP transfer for run r from the request table at idx (as
 * the Lua wrapper normalised it).  On success (0) the caller yields,
 * also when r waits for an OAuth2 token first (r->token_wait): resumed,
 * uh_http_resume_values says to start the request again.  On failure an
 * error object is pushed and -1 returned.
 */
/* A run an allocation took past its memory cap (not twice it) in a
 * shared state (mem_over): collected in full, and stopped (mem_hit) if
 * still over.  After each turn (sched.c) and from the hook at once. */
void uh_run_mem_check(uh_run *r, lua_State *L);

int uh_http_start(lua_State *L, uh_run *r, int idx);
/* A request as uh_http_start reads it from its table: strings that stay
 * alive on L's stack while the call runs, and stack indices (0: none)
 * of the path table (none: url is expanded already), the hosts list
 * and the header lines. */
typedef struct uh_req {
    const char *method, *url, *base, *query, *body;
    size_t bodylen;
    long timeout;               /* ms; 0: the connection's */
    int path, hosts, headers;
} uh_req;
/* uh_http_start of a request given as a uh_req (lquick.c). */
int uh_http_send(lua_State *L, uh_run *r, const uh_req *q);
/* loc with the query credentials a redirect within the origin keeps. */
char *uh_http_redirect_url(const uh_run *r, const char *loc);
/* Push nil and an error object { code, message } (lua_pushfstring format). */
void uh_push_error(lua_State *L, const char *code, const char *fmt, ...);
/* Log one header line of a request or response, secrets masked. */
void uh_http_trace_header(uh_run *r, char dir, const char *line, size_t n);

/* ---- responses (response.c) ------------------------------------------ */

/* Follow a redirect of a finished transfer within the allowed hosts,
 * without credentials to another origin: 1 if it was sent again. */
int uh_http_redirect(uh_sched *s, uh_transfer *t, CURLcode rc);
/* Push the response table, or nil and an error object; returns the
 * number of values pushed. */
int uh_http_push_result(lua_State *L, uh_transfer *t, CURLcode rc);
/* Push what the scheduler left for r's coroutine L on resuming it (a
 * response, or nil and an error object); the count of values, or -1
 * when the request is to be started again (a token came; a 401 from
 * the origin made an OAuth2 connection refresh its token).  Runs
 * inside the resume, so an allocation failure fails the flow only. */
int uh_http_resume_values(lua_State *L, uh_run *r);
/* Push the metatable responses share (their headers and url set when
 * first read, or when pairs visits them) and keep it, with the weak
 * table that holds what they are made from, in the registry; at a
 * state's set-up. */
void uh_http_open_resp(lua_State *L);
/* Set the headers and url of the response table at idx now, if they are
 * still to be set (anything else: nothing).  Before a flow replaces its
 * metatable (sandbox.c). */
void uh_http_resp_fill(lua_State *L, int idx);
/* The transfer's URL as flows and messages may show it: the query
 * credentials masked (the transfer is over). */
void uh_http_mask_url(uh_transfer *t);
/* Seconds to wait from a Retry-After value (delta or HTTP date), or -1. */
double uh_retry_after(const char *value, time_t now);

#endif
