/*
 * serve.h -- what the parts of `unhook serve` share: the service (two
 * engines: the HTTP API's and the worker's), its metrics, the request
 * JSON reader, a growing text buffer.  Clients of unhook.h only.
 */
#ifndef UNHOOK_CLI_SERVE_H
#define UNHOOK_CLI_SERVE_H

#include <pthread.h>
#include <signal.h>
#include <stddef.h>

#include "unhook.h"
#include "cli.h"

/* ---- serve_text.c: a growing text, and JSON and HTML pieces -------------- */

typedef struct text {
    char *p;
    size_t n, cap;
} text;

void text_add(text *t, const char *s, size_t n);
void text_puts(text *t, const char *s);
void text_printf(text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "key":"value" (value NULL: null), JSON-escaped by the library's writer. */
void text_jstr(text *t, const char *key, const char *value);
/* s with & < > " ' escaped for HTML. */
void text_html(text *t, const char *s);
/* s percent-encoded as one path segment (all but A-Z a-z 0-9 - _ . ~):
 * safe inside an HTML attribute as it is. */
void text_url(text *t, const char *s);
/* Markup and text in turn: parts[0] as it is, parts[1] escaped (NULL
 * as "-"), parts[2] as it is, ... */
void text_html_mix(text *t, const char *const *parts, size_t n);
#define TEXT_HTML_MIX(t, parts) text_html_mix((t), (parts), sizeof (parts) / sizeof *(parts))
/* The text's string (never NULL); the text owns it. */
const char *text_str(text *t);
void text_free(text *t);

/* ---- serve_json.c: a strict reader of flat JSON request bodies ----------- */

enum { JV_STRING, JV_NUMBER, JV_BOOL, JV_NULL, JV_OBJECT, JV_ARRAY };

typedef struct jfield {
    char *key;
    int type;
    char *str;                  /* JV_STRING: decoded; else the raw JSON text */
} jfield;

typedef struct jobj {
    jfield *v;
    size_t n;
} jobj;

/* Parse one JSON object; 0, or -1 with a message in err. */
int jobj_parse(const char *s, size_t len, jobj *out, char *err, size_t errsz);
const jfield *jobj_get(const jobj *o, const char *key);
void jobj_free(jobj *o);

/* ---- serve_metrics.c ------------------------------------------------------ */

typedef struct metrics metrics;

metrics *metrics_new(void);
void metrics_free(metrics *m);
/* Count a committed attempt (any thread). */
void metrics_attempt(metrics *m, const unhook_attempt *a);
/* The Prometheus text exposition: the counters, plus gauges read from
 * the store through E (the caller holds E). */
void metrics_render(metrics *m, unhook_engine *E, text *out);

/* The states an instance may be in, as unhook_instance.state names them. */
#define NSTATES 7

/* Counts of the store, for the gauges and the status page. */
typedef struct census {
    long by_state[NSTATES];     /* in state_names order */
    long due;                   /* pending and due now */
    long scheduled;             /* pending with a later next attempt */
    double oldest_due;          /* next_attempt_at of the oldest due, 0 if none */
    long renewals;              /* registered, a renewal scheduled */
    long lapsed;                /* on, and the subscription's expiry passed */
    long total;
} census;

extern const char *const state_names[NSTATES];
int census_take(unhook_engine *E, census *c);
/* Outcomes per minute over the last hour, oldest first: out[60][4]
 * (done, gone, retry, failed). */
void metrics_hour(metrics *m, long out[60][4]);

/* ---- cmd_serve.c, serve_http.c, serve_page.c ------------------------------ */

typedef struct service {
    cli *c;
    unhook_engine *api;         /* the HTTP API's engine, under lock */
    pthread_mutex_t lock;
    metrics *m;
    const char *token;          /* NULL: /v1 open (loopback only) */
    int log_json;
    int ready;                  /* the worker's last run reached the store */
    size_t max_body;
    volatile int interrupt;     /* a signal came: the worker's serve call returns */
    volatile int stop, reload;  /* which (SIGTERM/SIGINT, SIGHUP) */
} service;

/* Open an engine with the command's configuration: UNHOOK_OK or a code. */
int serve_engine(service *sv, unhook_engine **out);

/* Start the HTTP server on addr:port; NULL after printing why. */
void *http_start(service *sv, const char *listen);
void http_stop(void *daemon);

/* The status page (/), and one instance's page (/instances/ID). */
int page_status(service *sv, text *out);
int page_instance(service *sv, const char *id, text *out);

#endif
