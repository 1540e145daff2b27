/*
 * unhook.h -- the public C API of unhook, an engine for webhook
 * deregistration flows written in Lua.
 *
 * One engine object owns everything: connectors, Lua states, the HTTP
 * scheduler and (later) the store.  Engines share no global state, so a
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
} unhook_flow_result;

/* The library version as "MAJOR.MINOR.PATCH". */
const char *unhook_version(void);

/* A static English sentence for a result code; never NULL. */
const char *unhook_strerror(int code);

/*
 * Open an engine.  On success *out owns a new engine and UNHOOK_OK is
 * returned; on failure *out is NULL.  cfg may be NULL for defaults.
 */
int unhook_engine_open(unhook_engine **out, const unhook_config *cfg);

/* Close an engine and free everything it owns.  NULL is a no-op. */
void unhook_engine_close(unhook_engine *engine);

/*
 * The message of the last failed call on this engine, "" if none.  The
 * string belongs to the engine and lives until its next call.  Several
 * problems are separated by newlines, one "file:line: message" a line.
 */
const char *unhook_errmsg(unhook_engine *engine);

/*
 * Resolve a connector name or folder to its folder, using the search
 * path.  Returns a new string to free(), or NULL (see unhook_errmsg).
 */
char *unhook_connector_path(unhook_engine *engine, const char *connector);

/*
 * Validate a connector: its manifest, every flow and card.  Returns
 * UNHOOK_OK, UNHOOK_NOTFOUND or UNHOOK_INVALID with every problem in
 * unhook_errmsg().
 */
int unhook_connector_check(unhook_engine *engine, const char *connector);

/*
 * Run one event's deregistration flow now, without the store.  Returns
 * UNHOOK_OK when the flow ran (whatever its outcome, which is in *res),
 * or an error code before the flow could run (bad connector, bad JSON,
 * unreadable connection file) with the reason in unhook_errmsg().
 */
int unhook_flow_deregister(unhook_engine *engine,
                           const unhook_flow_request *req,
                           unhook_flow_result *res);

/*
 * Run one event's registration flow now, without the store.  On
 * UNHOOK_OUTCOME_DONE, res->registration holds the data as JSON.
 */
int unhook_flow_register(unhook_engine *engine,
                         const unhook_flow_request *req,
                         unhook_flow_result *res);

/* Release the strings of a result.  Safe on a zeroed result. */
void unhook_flow_result_free(unhook_flow_result *res);

/* Name of an outcome: "done", "gone", "retry", "failed". */
const char *unhook_outcome_name(unhook_outcome outcome);

#ifdef __cplusplus
}
#endif

#endif /* UNHOOK_H */
