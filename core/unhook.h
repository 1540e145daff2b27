/*
 * unhook.h -- the public C API of unhook, an engine for webhook
 * deregistration flows written in Lua.
 *
 * One engine object owns everything: connectors, Lua states, the HTTP
 * scheduler and the store.  Engines share no global state, so a
 * program may open several.  An engine is not thread-safe: use each one
 * from one thread at a time.
 */
#ifndef UNHOOK_H
#define UNHOOK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UNHOOK_VERSION_MAJOR 0
#define UNHOOK_VERSION_MINOR 1
#define UNHOOK_VERSION_PATCH 0
#define UNHOOK_VERSION "0.1.0"

/* Exported from the shared library; everything else in it is hidden. */
#if defined(__GNUC__)
#define UNHOOK_API __attribute__((visibility("default")))
#else
#define UNHOOK_API
#endif

/*
 * Result codes.  One list, expanded into the enum, unhook_strerror() and
 * the Lua constants, so the three never drift.
 */
#define UNHOOK_CODES(X)                                                  \
    X(OK,        0, "ok")                                               \
    X(ERROR,     1, "flow failed")                                      \
    X(USAGE,     2, "bad argument")                                     \
    X(INVALID,   3, "connector or script invalid")                      \
    X(STORE,     4, "store error")                                      \
    X(NOMEM,     5, "out of memory")                                    \
    X(NOTFOUND,  6, "not found")                                        \
    X(IO,        7, "cannot read file")                                 \
    X(PENDING,  75, "work left pending for retry")

enum {
#define UNHOOK_ENUM_(name, value, text) UNHOOK_##name = value,
    UNHOOK_CODES(UNHOOK_ENUM_)
#undef UNHOOK_ENUM_
    UNHOOK_CODE_END_
};

/* Outcome of one flow run. */
typedef enum unhook_outcome {
    UNHOOK_OUTCOME_DONE = 0,  /* flow returned normally */
    UNHOOK_OUTCOME_GONE,      /* provider said the webhook is already gone */
    UNHOOK_OUTCOME_RETRY,     /* retryable failure (transport, 429, 5xx, ...) */
    UNHOOK_OUTCOME_FAILED     /* permanent failure: dead letter */
} unhook_outcome;

/* Log levels, most severe first. */
typedef enum unhook_log_level {
    UNHOOK_LOG_ERROR = 0,
    UNHOOK_LOG_WARN,
    UNHOOK_LOG_INFO,
    UNHOOK_LOG_DEBUG,
    UNHOOK_LOG_TRACE          /* every HTTP request and response */
} unhook_log_level;

/*
 * A log callback receives one line without a trailing newline.  Secrets
 * of the connection in use are already replaced by "***".
 */
typedef void (*unhook_log_fn)(void *userdata, int level, const char *line);

/*
 * Engine configuration.  Zero-initialise it and set what you need; every
 * pointer may be NULL for the default.  Strings are copied by
 * unhook_engine_open(), so the struct may be freed afterwards.
 */
typedef struct unhook_config {
    const char *connectors;   /* connector search path, ':'-separated */
    unhook_log_fn log;        /* NULL: no logging */
    void *log_userdata;
    int log_level;            /* lines above this level are not produced */
    int memory_mb;            /* per-flow memory cap, 0 = default (64) */
    int timeout_ms;           /* per-flow wall clock budget, 0 = default */
    const char *db;           /* store file; NULL: $UNHOOK_DB or ./unhook.db.
                                 Opened on first use, so that check and run
                                 never create one. */
    int concurrency;          /* flows in flight at once, 0 = default (16) */
    const char *connection;   /* connection file used instead of each
                                 instance's own, or NULL */
    int expect_gone;          /* bulk work: do not stop a connector whose
                                 first 20 deregistrations were all gone */
    int threads;              /* bulk work (unhook_engine_run,
                                 unhook_instance_disable_all) on this many
                                 threads (at most 64, and at most
                                 concurrency), concurrency shared among
                                 them; 1 or less: the calling thread alone */
} unhook_config;

typedef struct unhook_engine unhook_engine;

/*
 * One flow run without the store, like a connector builder's "test"
 * button.  JSON fields are JSON text; NULL means empty or absent.
 */
typedef struct unhook_flow_request {
    const char *connector;      /* a name on the search path, or a folder */
    const char *event;          /* event name in the manifest */
    const char *options_json;   /* JSON object: option values */
    const char *inputs_json;    /* JSON object: overrides of mapped inputs */
    const char *registration;   /* registration data: JSON, or plain text */
    const char *connection;     /* path of a connection file (JSON) */
    const char *reason;         /* ctx.reason, default "disabled" */
    const char *instance_id;    /* ctx.instance.id, default "test" */
} unhook_flow_request;

/*
 * Why a lifecycle call ran no flow (its result's code names it too:
 * "already_off", "not_registered", "not_failed", "in_progress",
 * "already_on").
 */
typedef enum unhook_note {
    UNHOOK_NOTE_NONE = 0,       /* a flow ran (or could not start) */
    UNHOOK_NOTE_ALREADY_OFF,    /* disable: the instance was off */
    UNHOOK_NOTE_NOT_REGISTERED, /* disable: never registered; now off */
    UNHOOK_NOTE_NOT_FAILED,     /* retry: not dead-lettered; left alone */
    UNHOOK_NOTE_IN_PROGRESS,    /* another process works on it; it converges */
    UNHOOK_NOTE_ALREADY_ON,     /* enable: the same instance is on already */
    UNHOOK_NOTE_QUEUED          /* driven by a host's loop: the attempt is
                                   queued, its result goes to the done callback */
} unhook_note;

/*
 * What a run produced.  Strings are owned by the result: release them
 * with unhook_flow_result_free().
 */
typedef struct unhook_flow_result {
    unhook_outcome outcome;
    int status;               /* HTTP status behind the outcome, or 0 */
    char *code;               /* error code ("http", "timeout", ...) or NULL */
    char *message;            /* error message (secrets redacted) or NULL */
    char *registration;       /* registration flow: the data as JSON */
    double retry_after;       /* seconds asked by the provider, or -1 */
    unhook_note note;         /* lifecycle calls: why no flow ran */
    double expires_at;        /* an event that renews: when the registration
                                 data says it lapses (Unix time), or 0 */
} unhook_flow_result;

/* The library version as "MAJOR.MINOR.PATCH". */
UNHOOK_API const char *unhook_version(void);

/* A static English sentence for a result code; never NULL. */
UNHOOK_API const char *unhook_strerror(int code);

/*
 * Open an engine.  On success *out owns a new engine and UNHOOK_OK is
 * returned; on failure *out is NULL.  cfg may be NULL for defaults.
 */
UNHOOK_API int unhook_engine_open(unhook_engine **out, const unhook_config *cfg);

/* Close an engine and free everything it owns.  NULL is a no-op.  From
 * a callback of unhook_engine_action, _timeout_action, _drive or
 * _undrive, the engine is closed when that call returns.  No other
 * thread may be in, or call, unhook_engine_wakeup on it any more: stop
 * (join) those threads first. */
UNHOOK_API void unhook_engine_close(unhook_engine *engine);

/*
 * The message of the last failed call on this engine, "" if none.  The
 * string belongs to the engine and lives until its next call.  Several
 * problems are separated by newlines, one "file:line: message" a line.
 */
UNHOOK_API const char *unhook_errmsg(unhook_engine *engine);

/*
 * Resolve a connector name or folder to its folder, using the search
 * path.  Returns a new string to free(), or NULL (see unhook_errmsg).
 */
UNHOOK_API char *unhook_connector_path(unhook_engine *engine, const char *connector);

/*
 * Validate a connector: its manifest, every flow and card.  Returns
 * UNHOOK_OK, UNHOOK_NOTFOUND or UNHOOK_INVALID with every problem in
 * unhook_errmsg().
 */
UNHOOK_API int unhook_connector_check(unhook_engine *engine, const char *connector);

/*
 * Test a connection file: it is read and checked, and an oauth2
 * connection gets a token from its token endpoint now (a rotated refresh
 * token is stored, as a flow would).  On UNHOOK_OK, *subject (when
 * subject is not NULL) is who the token belongs to if the provider said
 * so, a string to free(), else NULL.  Returns UNHOOK_USAGE (a bad file,
 * a missing key), UNHOOK_IO, UNHOOK_STORE (the stored tokens cannot be
 * read: a wrong key) or UNHOOK_ERROR (the provider refused or could not
 * be reached), with the reason in unhook_errmsg(); secrets never appear
 * in either.
 */
UNHOOK_API int unhook_connection_check(unhook_engine *engine, const char *path,
                                       char **subject);

/*
 * Run one event's deregistration flow now, without the store.  Returns
 * UNHOOK_OK when the flow ran (whatever its outcome, which is in *res),
 * or an error code before the flow could run (bad connector, bad JSON,
 * unreadable connection file) with the reason in unhook_errmsg().
 */
UNHOOK_API int unhook_flow_deregister(unhook_engine *engine,
                           const unhook_flow_request *req,
                           unhook_flow_result *res);

/*
 * Run one event's registration flow now, without the store.  On
 * UNHOOK_OUTCOME_DONE, res->registration holds the data as JSON.
 */
UNHOOK_API int unhook_flow_register(unhook_engine *engine,
                         const unhook_flow_request *req,
                         unhook_flow_result *res);

/* Release the strings of a result.  Safe on a zeroed result. */
UNHOOK_API void unhook_flow_result_free(unhook_flow_result *res);

/* Name of an outcome: "done", "gone", "retry", "failed". */
UNHOOK_API const char *unhook_outcome_name(unhook_outcome outcome);

/* ---- cards written in C ------------------------------------------------ */

/*
 * A function card written in C.  args_json is a JSON array of the call's
 * arguments (in order; a missing argument is null).  On success return
 * UNHOOK_OK with *result_json set to a JSON array of the card's outputs,
 * allocated with malloc (the engine frees it); on failure return another
 * code, with *result_json NULL or a malloc'ed message (the flow sees
 * "NAME: message" as an error).  Called on the engine's thread, from a
 * flow run; it must not call back into the engine.
 */
typedef int (*unhook_card_fn)(void *userdata, const char *args_json,
                              char **result_json);

/*
 * Register a C card under name ("acme.sign": flows call
 * ctx.cards.acme.sign(...)), called the same way as built-in and Lua
 * cards.  Returns UNHOOK_USAGE for a bad or already registered name.
 */
UNHOOK_API int unhook_card_register(unhook_engine *engine, const char *name,
                         unhook_card_fn fn, void *userdata);

/* ---- instances and their lifecycle (the store) ------------------------ */

/*
 * An instance: one user flow containing a webhook event card.  Desired
 * state is what the user asked ("on" or "off"); state is what the engine
 * has achieved: "registering", "registered", "deregistering", "off",
 * "failed" (the dead letter: registration data kept), "lost" (reconcile
 * found no webhook at the provider for it; see unhook_reconcile) or
 * "expired" (an event that renews its subscriptions did not renew this
 * one before it lapsed).  Strings belong to
 * whoever handed the struct out (see each function).
 */
typedef struct unhook_instance {
    const char *id;
    const char *connector;
    const char *event;
    const char *options;        /* JSON object */
    const char *connection;     /* connection file path, or NULL */
    const char *registration;   /* registration data (JSON), or NULL */
    const char *desired;        /* "on" or "off" */
    const char *state;
    const char *reason;         /* why it is being deregistered, or NULL */
    const char *last_error;     /* or NULL */
    int attempts;               /* attempts toward the desired state */
    double next_attempt_at;     /* Unix time of the next attempt, or 0 */
    double created_at, updated_at;
    double expires_at;          /* an event that renews: when the subscription
                                   lapses at the provider (Unix time), or 0;
                                   its renewal is the next attempt */
} unhook_instance;

/* One line of an instance's history: every attempt and change. */
typedef struct unhook_history {
    const char *instance_id;
    double at;                  /* Unix time */
    const char *action;         /* "enable", "disable", "register",
                                   "deregister", "renew", "retry", "import" */
    const char *outcome;        /* "done", "gone", "retry", "failed", or NULL */
    int status;                 /* HTTP status, or 0 */
    int attempt;
    const char *message;        /* or NULL */
    const char *registration;   /* registration data released, or NULL */
} unhook_history;

/*
 * Called once per instance or history line; the struct and its strings
 * are valid during the call only.  Return non-zero to stop early.
 */
typedef int (*unhook_instance_fn)(void *userdata, const unhook_instance *inst);
typedef int (*unhook_history_fn)(void *userdata, const unhook_history *h);

/*
 * Enable: store the instance (desired "on", state "registering"), run the
 * registration flow, and store the registration data durably before
 * returning.  Returns UNHOOK_OK when the flow ran (outcome in *res; on
 * failure the instance is "failed"), or an error code if it could not run
 * (UNHOOK_USAGE for an id already on with another connector, event,
 * options or connection, bad options; UNHOOK_STORE).  Enabling an
 * instance that is on with the same ones runs nothing and returns
 * UNHOOK_OK with res->note UNHOOK_NOTE_ALREADY_ON.
 */
UNHOOK_API int unhook_instance_enable(unhook_engine *engine, const char *id,
                           const unhook_flow_request *req,
                           unhook_flow_result *res);

/*
 * Disable: durably record desired "off" and state "deregistering" before
 * any network call, then run one deregistration attempt.  res->outcome:
 * DONE (off, or nothing to do: res->code "already_off" or
 * "not_registered"), GONE (off), RETRY (still deregistering, next attempt
 * scheduled), FAILED (dead-lettered, registration data kept).
 * reason may be NULL ("disabled").  UNHOOK_NOTFOUND for an unknown id.
 */
UNHOOK_API int unhook_instance_disable(unhook_engine *engine, const char *id,
                            const char *reason, unhook_flow_result *res);

/*
 * Re-queue a failed instance toward its desired state (attempts reset)
 * and run one attempt now, like unhook_instance_disable.  An instance
 * that is not failed is left alone (res->code "not_failed").
 */
UNHOOK_API int unhook_instance_retry(unhook_engine *engine, const char *id,
                          unhook_flow_result *res);

/*
 * Get one instance.  *out is a copy to release with
 * unhook_instance_free(); UNHOOK_NOTFOUND if there is no such id.
 */
UNHOOK_API int unhook_instance_get(unhook_engine *engine, const char *id,
                        unhook_instance **out);
UNHOOK_API void unhook_instance_free(unhook_instance *inst);

/* Filter for listing and bulk work; NULL fields match everything. */
typedef struct unhook_filter {
    const char *state;
    const char *connector;
    const char *event;
    const char *id;             /* only this instance */
} unhook_filter;

/* Call fn for every instance matching filter (may be NULL), by id. */
UNHOOK_API int unhook_instance_list(unhook_engine *engine, const unhook_filter *filter,
                         unhook_instance_fn fn, void *userdata);

/* Call fn for every history line of an instance, oldest first. */
UNHOOK_API int unhook_history_list(unhook_engine *engine, const char *id,
                        unhook_history_fn fn, void *userdata);

/* Counts of a batch of work. */
typedef struct unhook_stats {
    long total;                 /* instances the work covers */
    long done;                  /* deregistered (or registered) */
    long gone;                  /* already gone at the provider */
    long pending;               /* left for a later retry */
    long failed;                /* dead-lettered */
    long skipped;               /* nothing to do (never registered) */
    long registered;            /* registrations completed */
    long renewed;               /* subscriptions renewed */
    long expired;               /* subscriptions found lapsed */
} unhook_stats;

/* Progress callback of long work, at most a few times a second. */
typedef void (*unhook_progress_fn)(void *userdata, const unhook_stats *stats);

/*
 * Disable every instance that is on and matches filter: one transaction
 * records the intent for all of them, then up to the configured
 * concurrency of deregistrations run at once; outcomes are committed in
 * batches, each before it is counted.  Returns UNHOOK_OK with the counts.
 */
UNHOOK_API int unhook_instance_disable_all(unhook_engine *engine,
                                const unhook_filter *filter,
                                const char *reason, unhook_stats *stats,
                                unhook_progress_fn progress, void *userdata);

/*
 * Re-queue every failed instance matching filter (no attempt is run:
 * call unhook_engine_run).  *count receives how many.
 */
UNHOOK_API int unhook_instance_retry_all(unhook_engine *engine,
                              const unhook_filter *filter, long *count);

/*
 * Run due work (instances registering or deregistering whose next
 * attempt has come, including ones a crashed process left behind) that
 * matches filter (NULL: all), starting new work for at most max_ms
 * milliseconds (< 0: until nothing is due); flows already in flight when
 * the time is up are finished first, each within its own time budget.  With wait set, also wait for scheduled retries until
 * nothing is pending.  Counts are added to *stats (may be NULL).  A host
 * with an event loop drives the engine instead (unhook_engine_drive);
 * while driven, this returns UNHOOK_USAGE.
 */
UNHOOK_API int unhook_engine_run(unhook_engine *engine, const unhook_filter *filter,
                      long max_ms, int wait, unhook_stats *stats,
                      unhook_progress_fn progress, void *userdata);

/*
 * Import instances from JSON Lines text (one object a line: id,
 * connector, event, options, connection, registration, state).  All or
 * nothing: a bad line fails the import naming its line.  *count receives
 * how many were imported.
 */
UNHOOK_API int unhook_import(unhook_engine *engine, const char *jsonl, size_t len,
                  long *count);

/* Export every instance as JSON Lines, one line per call of fn. */
typedef int (*unhook_line_fn)(void *userdata, const char *line, size_t len);
UNHOOK_API int unhook_export(unhook_engine *engine, unhook_line_fn fn, void *userdata);

/*
 * Call the built-in card name ("text.concatenate", as ctx.cards names it) with
 * the arguments of the JSON array args_json, outside any run: for specs of
 * code that uses cards.  *result_json receives its outputs as a JSON array
 * (release it with unhook_free()).  UNHOOK_ERROR, with the card's message
 * in unhook_errmsg(), when the card fails or does not exist; cards that
 * need a run (http.*, flow.*) fail so.
 */
UNHOOK_API int unhook_card_call(unhook_engine *engine, const char *name,
                                const char *args_json, char **result_json);

/* ---- cassettes and dry runs --------------------------------------------- */

/*
 * Record: every HTTP exchange of the engine's runs, once it is over, is
 * handed to fn as one JSON line (keys body, dry_run, error, headers,
 * method, request_body, request_headers, status, url), every secret of
 * the connection in use replaced by "***".  fn NULL stops recording.
 */
UNHOOK_API int unhook_engine_record(unhook_engine *engine, unhook_line_fn fn,
                                    void *userdata);

/*
 * Replay: from now on no request of the engine's runs goes to the
 * network; each is answered from the cassette jsonl (lines as recorded;
 * status, headers and body or json, or error), matched by method, URL
 * and, where the line has one, request_body; repeats are answered in
 * order.  A request with no answer fails its flow with code
 * "replay_miss" naming it.  name (may be NULL) is the cassette's name in
 * messages.  jsonl NULL stops replaying.  UNHOOK_USAGE, with the line's
 * problem in unhook_errmsg(), when the text is not a cassette.
 */
UNHOOK_API int unhook_engine_replay(unhook_engine *engine, const char *jsonl,
                                    size_t len, const char *name);

/*
 * Dry run (on non-zero): GET and HEAD requests are sent; every other
 * request is logged at UNHOOK_LOG_INFO ("dry run: DELETE URL not sent")
 * and answered with a synthetic 204, recorded with "dry_run": true.
 */
UNHOOK_API int unhook_engine_dry_run(unhook_engine *engine, int on);

/* ---- instance management ----------------------------------------------- */

/*
 * Enable again an instance that reconcile marked "lost" (its webhook is
 * gone at the provider): its lost registration data goes to history, then
 * it is enabled with its stored connector, event, options and connection,
 * as unhook_instance_enable does.  UNHOOK_USAGE when it is not lost,
 * UNHOOK_NOTFOUND for an unknown id.
 */
UNHOOK_API int unhook_instance_enable_again(unhook_engine *engine, const char *id,
                                            unhook_flow_result *res);

/*
 * Update an instance that is on, make-before-break: changes->options_json
 * (options given replace the stored ones of the same name) and
 * changes->connection (NULL keeps the stored one); its other fields are
 * ignored.  The registration flow runs first with the new values; its
 * outcome is *reg, and unless it is UNHOOK_OUTCOME_DONE nothing changes
 * (the old webhook stays on; history says why).  Then, in one
 * transaction, the instance takes the new registration and the old one
 * becomes an instance of its own, "ID~N" (*retired, malloc'd: release
 * with unhook_free), being deregistered with reason "update"; its first
 * attempt runs now, outcome in *old, and it is retried like any
 * deregistration.  UNHOOK_USAGE when the instance is not on.
 */
UNHOOK_API int unhook_instance_update(unhook_engine *engine, const char *id,
                                      const unhook_flow_request *changes,
                                      unhook_flow_result *reg,
                                      unhook_flow_result *old, char **retired);

/*
 * Replace an instance's stored registration data with registration (JSON
 * text); history keeps the old value.  No flow runs.  UNHOOK_USAGE for
 * text that is not JSON, an instance that is off or one another process
 * works on.
 */
UNHOOK_API int unhook_instance_edit(unhook_engine *engine, const char *id,
                                    const char *registration);

/*
 * Remove an instance that is off; its history stays (unhook_history_list
 * still lists it, ending with a "forget" line).  An instance that is not
 * off is refused with UNHOOK_USAGE unless force is set; then *left
 * receives the registration data it held, whose webhook is left at the
 * provider (malloc'd, release with unhook_free; NULL if none).
 */
UNHOOK_API int unhook_instance_forget(unhook_engine *engine, const char *id,
                                      int force, char **left);

/* Flags of unhook_import_with. */
#define UNHOOK_IMPORT_REPLACE 1u  /* an id that exists is replaced, its
                                     registration data kept in history */

/*
 * unhook_import with flags: UNHOOK_IMPORT_REPLACE updates instances whose
 * id exists (unless another process works on one) instead of failing.
 * Still all or nothing.
 */
UNHOOK_API int unhook_import_with(unhook_engine *engine, const char *jsonl,
                                  size_t len, unsigned flags, long *count);

/* ---- reconcile: the provider's truth ------------------------------------ */

/*
 * One webhook or instance of a reconcile.  status: "ok" (an instance
 * that is on holds it), "orphan" (ours by the event's owned rule, and no
 * instance that is on holds it), "missing" (an instance is on, the
 * provider has no such webhook), "foreign" (not ours: never touched).
 * key: the match key; instance_id: the instance concerned (for an orphan
 * acted on, the one created for it), or NULL; state: that instance's
 * state before; data: the webhook as listed (JSON), or for a missing one
 * the stored registration data; action: what was done ("deregistered",
 * "already gone", "pending retry", "failed", "adopted", "marked lost",
 * ...) or NULL for nothing.  Valid during the callback only.
 */
typedef struct unhook_reconcile_item {
    const char *status;
    const char *key;
    const char *instance_id;
    const char *state;
    const char *data;
    const char *action;
} unhook_reconcile_item;

typedef int (*unhook_reconcile_fn)(void *userdata, const unhook_reconcile_item *item);

#define UNHOOK_RECONCILE_APPLY 1u /* deregister orphans, mark missing lost */
#define UNHOOK_RECONCILE_ADOPT 2u /* store orphans as on, mark missing lost */

/*
 * Compare the provider's webhooks for req (connector, event, options_json,
 * inputs_json, connection: the event's list flow runs with them) with the
 * event's stored instances whose options the list flow's inputs use are
 * the same, and call fn for each item, orphans first.  Without flags it
 * is a dry run: nothing is written or deleted.  UNHOOK_RECONCILE_APPLY
 * deregisters every orphan through the event's deregistration flow, each
 * as a new instance "orphan-KEY" (reason "orphan", full history), and
 * marks missing instances "lost"; it is refused (UNHOOK_USAGE) for an
 * event without an owned rule.  UNHOOK_RECONCILE_ADOPT stores orphans as
 * instances "adopted-KEY" that are on instead.  A list flow that fails
 * (even on its last page) returns UNHOOK_ERROR with nothing changed.
 */
UNHOOK_API int unhook_reconcile(unhook_engine *engine, const unhook_flow_request *req,
                                unsigned flags, unhook_reconcile_fn fn, void *userdata);

/*
 * One reconcile item as a JSON object, keys sorted (action, data,
 * instance, key, state, status; data as the JSON it is, absent strings as
 * null), as `unhook reconcile --json` prints each.  Returns malloc'ed
 * text to release with unhook_free(), or NULL when memory ran out.
 */
UNHOOK_API char *unhook_reconcile_item_json(const unhook_reconcile_item *item);

/*
 * Copy the engine's store (every instance and its whole history) into
 * the store at location: a path (SQLite) or a postgresql:// URL, created
 * and brought to the current schema if need be, which must hold no
 * instance yet (UNHOOK_USAGE otherwise).  Claims are not copied.
 * Committed every 1000 instances; a copy that fails leaves the target
 * partly filled: empty it and run again.  *count (may be NULL) receives
 * how many instances were copied.  Passwords in a URL never appear in
 * unhook_errmsg().
 */
UNHOOK_API int unhook_store_migrate(unhook_engine *engine, const char *location,
                                    long *count);
/* ---- intent only: for a worker to carry out ---------------------------- */

/*
 * Record that instance id is to be turned off, and run nothing: desired
 * "off" and state "deregistering" (due now) are committed with a history
 * line, exactly as unhook_instance_disable records them, and the
 * attempt is left to a worker (`unhook serve`, `unhook resume`,
 * unhook_engine_run), in this process or another.  res->code says what
 * was recorded: "queued", "already_off" or "not_registered" (turned off;
 * there was nothing to deregister), with res->note NONE, ALREADY_OFF or
 * NOT_REGISTERED; res->outcome is DONE.  An instance
 * another worker holds keeps its claim: that worker's outcome meets the
 * new desired state.  reason may be NULL ("disabled").  UNHOOK_NOTFOUND
 * for an unknown id.  Release res with unhook_flow_result_free().
 */
UNHOOK_API int unhook_instance_request_off(unhook_engine *engine, const char *id,
                                           const char *reason,
                                           unhook_flow_result *res);

/*
 * Re-queue a failed instance (attempts reset, due now) and run nothing.
 * res->code is "queued", or "not_failed" (res->note NOT_FAILED) for an
 * instance that is not dead-lettered (left alone).  UNHOOK_NOTFOUND for an unknown id.
 */
UNHOOK_API int unhook_instance_request_retry(unhook_engine *engine, const char *id,
                                             unhook_flow_result *res);

/*
 * Record desired "off" for every instance that is on and matches filter
 * (connector, event; may be NULL), in one transaction, and run nothing.
 * stats->total counts the instances turned off, stats->pending those
 * queued for deregistration and stats->skipped those that were never
 * registered (now off).
 */
UNHOOK_API int unhook_instance_request_off_all(unhook_engine *engine,
                                               const unhook_filter *filter,
                                               const char *reason,
                                               unhook_stats *stats);

/*
 * Run due work matching filter (NULL: all) as a service, until *stop
 * becomes non-zero: new work is claimed as it becomes due (intents
 * recorded by any process are seen within 50 ms, scheduled retries on
 * time) while flows run, so a slow flow does not hold up the rest.  Once
 * *stop is set (from a signal handler, or another thread), nothing new is
 * claimed, flows in flight finish within their budget, what was claimed
 * but not started is given back, and the call returns UNHOOK_OK with the
 * counts added to *stats (may be NULL).  A store error ends it early with
 * that code: call it again after a pause.  UNHOOK_USAGE if stop is NULL.
 */
UNHOOK_API int unhook_engine_serve(unhook_engine *engine, const unhook_filter *filter,
                                   const volatile int *stop, unhook_stats *stats);

/* ---- observing attempts ------------------------------------------------- */

/*
 * One attempt whose outcome was just committed.  Strings are valid
 * during the callback only; messages are masked like log lines.
 */
typedef struct unhook_attempt {
    double at;                  /* Unix time of the commit */
    const char *instance_id;
    const char *connector;
    const char *event;
    const char *action;         /* "register", "deregister" or "renew" */
    const char *outcome;        /* "done", "gone", "retry" or "failed"
                                   (attempts exhausted counts as failed) */
    const char *state;          /* the instance's state afterwards */
    int status;                 /* HTTP status behind the outcome, or 0 */
    double duration;            /* seconds the attempt took */
    int attempt;                /* 1 for the first attempt */
    const char *code;           /* error code ("http", "timeout", ...) or NULL */
    const char *error;          /* the instance's last error, or NULL */
    double next_attempt_at;     /* Unix time of the next attempt, or 0 */
} unhook_attempt;

typedef void (*unhook_attempt_fn)(void *userdata, const unhook_attempt *a);

/*
 * Call fn after every attempt this engine runs, once its outcome is
 * committed (on the engine's thread, inside the running call; fn must
 * not call back into the engine).  fn NULL stops it.  For metrics and
 * structured logs.  A NULL engine is a no-op.
 */
UNHOOK_API void unhook_engine_on_attempt(unhook_engine *engine,
                                         unhook_attempt_fn fn, void *userdata);

/* ---- driving the engine from a host's event loop ------------------------ */

/* What a socket is to be watched for (the `what` of unhook_socket_fn, the
 * `events` of unhook_engine_action). */
#define UNHOOK_POLL_IN 1      /* readable */
#define UNHOOK_POLL_OUT 2     /* writable */
#define UNHOOK_POLL_REMOVE 4  /* stop watching this fd */

/* Watch fd for `what` (UNHOOK_POLL_IN and/or UNHOOK_POLL_OUT), replacing
 * what was asked for it before, or stop watching it (UNHOOK_POLL_REMOVE). */
typedef void (*unhook_socket_fn)(void *userdata, int fd, int what);
/* Call unhook_engine_timeout_action in timeout_ms (0: as soon as the
 * loop comes round; -1: no timer), replacing the timer asked before. */
typedef void (*unhook_timer_fn)(void *userdata, long timeout_ms);
/* An attempt run by the loop ended and its outcome is committed: the
 * instance id, its state now ("off", "registered", "deregistering" for a
 * retry scheduled, "failed", ...), and the flow's result.  Valid during
 * the callback only. */
typedef void (*unhook_done_fn)(void *userdata, const char *id, const char *state,
                               const unhook_flow_result *res);

/* The host's side of a driven engine.  socket and timer are required. */
typedef struct unhook_driver {
    unhook_socket_fn socket;
    unhook_timer_fn timer;
    unhook_done_fn done;      /* NULL: results are only in the store */
    void *userdata;           /* passed to the three */
} unhook_driver;

/*
 * Hand the engine to the host's loop, in the style of libcurl's
 * multi_socket: from now on the engine runs due work (its store's, any
 * connector) as it becomes due, through unhook_engine_action and
 * unhook_engine_timeout_action, and never blocks on the network or on a
 * flow.  The socket callback is called at once for the engine's wakeup
 * fd (watch it for reading) and the timer callback with 0.  While
 * driven, unhook_instance_enable, _disable, _retry and _disable_all
 * record the intent and return at once (res->note UNHOOK_NOTE_QUEUED,
 * res->code "queued"); the attempts run in the loop and end in the done
 * callback.  Calls that would wait for a flow (unhook_engine_run and
 * _serve, the one-off runs, unhook_connection_check, reconcile, update)
 * return UNHOOK_USAGE.  A second call replaces the callbacks.
 * UNHOOK_STORE if the store cannot be opened.  The callbacks run inside
 * the driving calls and must not call back into the engine:
 * unhook_engine_drive, _action, _timeout_action and _undrive called from
 * one of them return UNHOOK_USAGE (nothing nested runs), and
 * unhook_engine_close from one closes the engine when the outer call
 * returns.
 */
UNHOOK_API int unhook_engine_drive(unhook_engine *engine, const unhook_driver *driver);

/*
 * fd is ready for `events` (UNHOOK_POLL_IN/OUT; 0 if the loop cannot
 * tell): its transfers move and the flows waiting for them become ready;
 * then the sockets and the timer (0 when flows are ready) are reported.
 * The wakeup fd's action is a turn like the timer's.  Returns promptly:
 * the work of one call is bounded.  UNHOOK_USAGE if the engine is not
 * driven.
 */
UNHOOK_API int unhook_engine_action(unhook_engine *engine, int fd, int events);

/*
 * The timer asked by the timer callback expired: one bounded turn --
 * curl's timeouts, then either the ready flows resumed (a fraction of a
 * millisecond of Lua in all) or one piece of store work (a commit of a
 * few outcomes, a claim of due work, or job starts) -- then the sockets
 * and the next timer are reported.  UNHOOK_USAGE if the engine is not
 * driven.
 */
UNHOOK_API int unhook_engine_timeout_action(unhook_engine *engine);

/*
 * Wake the engine: it looks for due work at once (its next action in a
 * driven engine, which the wakeup fd becoming readable brings; the wait
 * of a running unhook_engine_run or _serve).  For another thread, or a
 * signal handler: the one function of an engine that may be called from
 * any thread while the engine is in use, never during or after
 * unhook_engine_close (the engine, its fd and its curl handle are freed
 * then; the fd number may already be another file's).  UNHOOK_USAGE for
 * NULL.
 */
UNHOOK_API int unhook_engine_wakeup(unhook_engine *engine);

/*
 * Stop driving: attempts in flight are finished first (blocking, each
 * within its time budget), their outcomes committed and reported; claims
 * not started are given back.  Every fd is reported removed and the
 * timer deleted (-1).  A no-op if the engine is not driven; also done by
 * unhook_engine_close.
 */
UNHOOK_API int unhook_engine_undrive(unhook_engine *engine);

/* ---- JSON renderings ---------------------------------------------------- */

/*
 * Every field of an instance as one JSON object, keys sorted (as
 * `unhook show --json` prints it): options and registration as the JSON
 * they are, times as Unix seconds to the millisecond, absent strings as
 * null.  Returns malloc'ed text to release with unhook_free(), or NULL
 * when memory ran out.
 */
UNHOOK_API char *unhook_instance_json(const unhook_instance *inst);

/*
 * One history line as a JSON object, keys sorted (as `unhook history
 * --json` prints each).  Returns malloc'ed text to release with
 * unhook_free(), or NULL when memory ran out.
 */
UNHOOK_API char *unhook_history_json(const unhook_history *h);

/*
 * n "name=value" strings as a JSON object of strings, in the order given
 * (a name given twice appears twice): the options_json or inputs_json of
 * a request from command-line style arguments.  Returns malloc'ed text
 * to release with unhook_free() ("{}" when n is 0), or NULL when a pair
 * has no "name=" or memory ran out.
 */
UNHOOK_API char *unhook_pairs_json(const char *const *pairs, size_t n);

/* Release what the functions above return.  NULL is a no-op. */
UNHOOK_API void unhook_free(void *p);

#ifdef __cplusplus
}
#endif

#endif /* UNHOOK_H */
