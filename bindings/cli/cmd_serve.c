/*
 * cmd_serve.c -- `unhook serve`: the always-on worker.  Two engines, as
 * engines are not thread-safe: the worker's, on the main thread, runs
 * due work as a service (unhook_engine_serve: new intents from any
 * process within 50 ms, retries on time); the API's, behind a lock,
 * serves the HTTP threads (serve_http.c) and only records intents.
 * SIGTERM/SIGINT stop claiming, let flows in flight finish, give back the
 * rest and exit 0; SIGHUP opens fresh engines (connectors reloaded).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "unhook.h"
#include "serve.h"
#include "output.h"

#define PAUSE_US 200000         /* after a store error, before trying again */

static const char usage_serve[] =
    "usage: unhook serve [--listen ADDR:PORT] [--token-file FILE]\n"
    "                    [--concurrency N] [--connection FILE]\n"
    "                    [--log-format text|json] [--max-body BYTES]\n"
    "\n"
    "The always-on worker: runs due work as it becomes due (new intents from\n"
    "any process within 250 ms, scheduled retries on time) and serves an HTTP\n"
    "API (/v1/...), /metrics, /healthz, /readyz and a status page at / on\n"
    "ADDR:PORT (default 127.0.0.1:7070).  /v1 needs the bearer token read\n"
    "from --token-file or $UNHOOK_API_TOKEN; without one, only a loopback\n"
    "address is served.  SIGTERM or SIGINT: stop claiming, finish the flows\n"
    "in flight, exit 0.  SIGHUP: reload connectors.  Several serve processes\n"
    "may share one database.\n";

static service *the_service;    /* for the signal handlers only */

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        the_service->reload = 1;
    else
        the_service->stop = 1;
    the_service->interrupt = 1;
}

/* Block or unblock the signals serve handles, on this thread. */
static void mask(int how)
{
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(how, &set, NULL);
}

static void signals(service *sv)
{
    struct sigaction sa;

    the_service = sv;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

/* ---- logs ------------------------------------------------------------------ */

static void log_json(void *ud, int level, const char *line)
{
    static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
    text t = {0};

    (void)ud;
    text_printf(&t, "{\"time\":%.3f,", (double)time(NULL));
    text_jstr(&t, "level", names[level >= 0 && level <= 4 ? level : 4]);
    text_puts(&t, ",");
    text_jstr(&t, "message", line);
    text_puts(&t, "}\n");
    fputs(text_str(&t), stderr);
    text_free(&t);
}

/* t as one log line: a control character in it (an id is the API
 * client's text) written as \n, \r, \t or \xHH, so that it cannot begin
 * a forged line; then the newline. */
static void one_line(text *t)
{
    text out = {0};

    for (size_t k = 0; k < t->n; k++) {
        unsigned char c = (unsigned char)t->p[k];
        if (c >= 0x20 && c != 0x7f)
            text_add(&out, &t->p[k], 1);
        else
            text_printf(&out, c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t"
                        : "\\x%02x", c);
    }
    text_puts(&out, "\n");
    text_free(t);
    *t = out;
}

/* An attempt: counted in the metrics, and one log line (a JSON object
 * with --log-format json). */
static void on_attempt(void *ud, const unhook_attempt *a)
{
    service *sv = ud;
    char iso[40];
    text t = {0};

    metrics_attempt(sv->m, a);
    if (sv->log_json) {
        text_printf(&t, "{\"time\":%.3f,", a->at);
        text_jstr(&t, "instance", a->instance_id);
        text_puts(&t, ",");
        text_jstr(&t, "connector", a->connector);
        text_puts(&t, ",");
        text_jstr(&t, "event", a->event);
        text_puts(&t, ",");
        text_jstr(&t, "action", a->action);
        text_puts(&t, ",");
        text_jstr(&t, "outcome", a->outcome);
        text_puts(&t, ",");
        text_jstr(&t, "state", a->state);
        text_printf(&t, ",\"status\":%d,\"duration\":%.4f,\"attempt\":%d,", a->status,
                    a->duration, a->attempt);
        text_jstr(&t, "error", a->error);
        text_printf(&t, ",\"next_attempt_at\":%.3f}\n", a->next_attempt_at);
    } else {
        text_printf(&t, "[info] %s %s: %s %s -> %s", iso_time(a->at, iso, sizeof iso),
                    a->instance_id, a->action, a->outcome, a->state);
        if (a->status)
            text_printf(&t, " (HTTP %d)", a->status);
        text_printf(&t, " in %.0f ms, attempt %d", a->duration * 1000.0, a->attempt);
        if (a->error)
            text_printf(&t, ": %s", a->error);
        one_line(&t);
    }
    fputs(text_str(&t), stderr);
    text_free(&t);
}

/* ---- engines ------------------------------------------------------------------ */

int serve_engine(service *sv, unhook_engine **out)
{
    *out = NULL;
    if (open_engine(sv->c) != GO_ON)
        return UNHOOK_ERROR;
    *out = sv->c->E;
    sv->c->E = NULL;
    /* both engines' attempts: the worker's, and the API's enables */
    unhook_engine_on_attempt(*out, on_attempt, sv);
    return UNHOOK_OK;
}

/* SIGHUP: fresh engines read the connectors again. */
static void reload(service *sv, unhook_engine **W)
{
    unhook_engine *fresh;

    sv->reload = 0;
    if (serve_engine(sv, &fresh) != UNHOOK_OK)
        return;
    unhook_engine_close(*W);
    *W = fresh;
    if (serve_engine(sv, &fresh) == UNHOOK_OK) {
        pthread_mutex_lock(&sv->lock);
        unhook_engine_close(sv->api);
        sv->api = fresh;
        pthread_mutex_unlock(&sv->lock);
    }
    fprintf(stderr, "%s: serve: connectors reloaded\n", prog);
}

/* The worker: due work until a stop signal; SIGHUP ends one serve call
 * to swap the engines, a store error another after a pause. */
static int work(service *sv, unhook_engine *W)
{
    sv->ready = 1;
    while (!sv->stop) {
        int rc;

        /* signals come to this thread only: blocked, none is lost here */
        mask(SIG_BLOCK);
        if (!sv->stop)
            sv->interrupt = 0;      /* a reload pending is in sv->reload */
        mask(SIG_UNBLOCK);
        if (sv->reload)
            reload(sv, &W);
        rc = unhook_engine_serve(W, NULL, &sv->interrupt, NULL);
        sv->ready = rc != UNHOOK_STORE;
        if (rc != UNHOOK_OK) {
            fprintf(stderr, "%s: serve: %s\n", prog, unhook_errmsg(W));
            if (!sv->stop)
                usleep(PAUSE_US);
        }
    }
    fprintf(stderr, "%s: serve: stopping; flows in flight finished\n", prog);
    unhook_engine_close(W);
    return EXIT_DONE;
}

/* ---- the command ---------------------------------------------------------------- */

/* The token from file (its first line), or $UNHOOK_API_TOKEN; GO_ON. */
static int read_token(const char *file, char **out)
{
    const char *env = getenv("UNHOOK_API_TOKEN");
    char *t;

    *out = NULL;
    if (file) {
        struct stat st;
        /* as the key file: one that others may read is no secret, one
         * that others may write could be swapped */
        if (stat(file, &st) == 0 && (st.st_mode & (S_IROTH | S_IWGRP | S_IWOTH))) {
            fprintf(stderr, "%s: serve: %s: the token file is readable by others or "
                    "writable by group or others; chmod 600 it\n", prog, file);
            return EXIT_USAGE;
        }
        if (!(t = read_all(file, NULL))) {
            fprintf(stderr, "%s: serve: %s: %s\n", prog, file, strerror(errno));
            return EXIT_USAGE;
        }
        t[strcspn(t, "\r\n")] = '\0';
    } else if (env && *env) {
        t = xcheck(strdup(env));
    } else {
        return GO_ON;
    }
    if (strlen(t) < 16) {
        fprintf(stderr, "%s: serve: the API token must have at least 16 characters\n", prog);
        free(t);
        return EXIT_USAGE;
    }
    *out = t;
    return GO_ON;
}

static int serve_options(cli *c, int argc, char **argv, const char **listen,
                         char **token, service *sv)
{
    static const char *const names[] = {NULL};
    const char *token_file = NULL, *format = NULL, *body = NULL;
    const opt table[] = {
        {"--listen", OPT_STR, listen, "ADDR:PORT"},
        {"--token-file", OPT_STR, &token_file, "FILE"},
        {"--concurrency", OPT_COUNT, &c->cfg.concurrency, "N"},
        {"--connection", OPT_STR, &c->cfg.connection, "FILE"},
        {"--log-format", OPT_STR, &format, "text or json"},
        {"--max-body", OPT_STR, &body, "BYTES"},
        OPT_END
    };
    int st = parse_args(argc, argv, usage_serve, table, NULL, names, 0);
    char *end = NULL;

    if (st != GO_ON)
        return st;
    if (format && strcmp(format, "json") != 0 && strcmp(format, "text") != 0)
        return bad_usage("serve: --log-format is text or json", NULL, usage_serve);
    sv->log_json = format && strcmp(format, "json") == 0;
    sv->max_body = 65536;
    if (body) {
        long v = strtol(body, &end, 10);
        if (*end || v < 64 || v > 16 * 1024 * 1024)
            return bad_usage("serve: --max-body wants 64 to 16777216", NULL, usage_serve);
        sv->max_body = (size_t)v;
    }
    return read_token(token_file, token);
}

int cmd_serve(cli *c, int argc, char **argv)
{
    service sv;
    const char *listen = "127.0.0.1:7070";
    char *token = NULL;
    unhook_engine *W = NULL;
    void *http = NULL;
    int st;

    memset(&sv, 0, sizeof sv);
    sv.c = c;
    if ((st = serve_options(c, argc, argv, &listen, &token, &sv)) != GO_ON)
        return st;
    sv.token = token;
    if (sv.log_json)
        c->cfg.log = log_json;
    pthread_mutex_init(&sv.lock, NULL);
    sv.m = metrics_new();
    signals(&sv);
    st = EXIT_FAILED;
    if (serve_engine(&sv, &W) == UNHOOK_OK && serve_engine(&sv, &sv.api) == UNHOOK_OK) {
        /* the HTTP threads inherit a mask without our signals */
        mask(SIG_BLOCK);
        http = http_start(&sv, listen);
        mask(SIG_UNBLOCK);
        if (http && !token)     /* not before a refusal to listen without one */
            fprintf(stderr, "%s: serve: no API token: /v1 is open to local clients\n", prog);
        if (http)
            st = work(&sv, W);
        else
            unhook_engine_close(W);
    } else {
        unhook_engine_close(W);
    }
    http_stop(http);
    unhook_engine_close(sv.api);
    metrics_free(sv.m);
    pthread_mutex_destroy(&sv.lock);
    free(token);
    return http || st == EXIT_DONE ? st : EXIT_USAGE;
}
