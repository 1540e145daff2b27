/*
 * serve_http.c -- the service's HTTP side on libmicrohttpd (one thread a
 * connection): the open endpoints (/healthz, /readyz, /metrics, the
 * status page), dispatch under the API engine's lock, body limits, and
 * the daemon.  The /v1 API is serve_api.c; answers serve_answer.c.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "unhook.h"
#include "serve.h"
#include "serve_call.h"

/* /readyz: the store answers, and every connector an instance names is
 * found (each name checked once). */
typedef struct readiness {
    unhook_engine *E;
    char seen[16][128];
    int nseen;
    text why;
} readiness;

static int ready_one(void *ud, const unhook_instance *i)
{
    readiness *r = ud;
    char *dir;

    for (int k = 0; k < r->nseen; k++)
        if (strcmp(r->seen[k], i->connector) == 0)
            return 0;
    if (r->nseen < 16)
        snprintf(r->seen[r->nseen++], sizeof r->seen[0], "%s", i->connector);
    if (!(dir = unhook_connector_path(r->E, i->connector))) {
        text_printf(&r->why, "not ready: %s\n", unhook_errmsg(r->E));
        return 1;
    }
    free(dir);
    return 0;
}

static int ready(service *sv, text *out)
{
    readiness r;
    int rc, ok;

    memset(&r, 0, sizeof r);
    r.E = sv->api;
    if (!sv->ready) {
        text_puts(out, "not ready: the worker has not reached the store\n");
        return 0;
    }
    rc = unhook_instance_list(sv->api, NULL, ready_one, &r);
    if (rc != UNHOOK_OK)
        text_printf(out, "not ready: %s\n", unhook_errmsg(sv->api));
    else if (r.why.n)
        text_puts(out, text_str(&r.why));
    else
        text_puts(out, "ready\n");
    ok = rc == UNHOOK_OK && !r.why.n;
    text_free(&r.why);
    return ok;
}

static enum MHD_Result serve_text(call *k, unsigned status, const char *ctype,
                                  text *t)
{
    k->r->answered = 1;
    return answer_h(k->conn, status, ctype, text_str(t), NULL, NULL);
}

static enum MHD_Result route_open(call *k, const char *path)
{
    service *sv = k->sv;
    text t = {0};
    unsigned status = MHD_HTTP_OK;
    const char *ctype = "text/html; charset=utf-8";
    enum MHD_Result ret;

    if (!is(k, "GET") && !is(k, "HEAD"))
        return wrong_method(k, "GET, HEAD");
    if (strcmp(path, "/healthz") == 0) {
        text_puts(&t, "ok\n");
        ctype = "text/plain";
    } else if (strcmp(path, "/readyz") == 0) {
        status = ready(sv, &t) ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE;
        ctype = "text/plain";
    } else if (strcmp(path, "/metrics") == 0) {
        metrics_render(sv->m, sv->api, &t);
        ctype = "text/plain; version=0.0.4; charset=utf-8";
    } else if (strcmp(path, "/") == 0) {
        page_status(sv, &t);
    } else if (strncmp(path, "/instances/", 11) == 0 && path[11]) {
        status = page_instance(sv, path + 11, &t) == UNHOOK_OK ? MHD_HTTP_OK
                                                               : MHD_HTTP_NOT_FOUND;
    } else {
        return fail(k, MHD_HTTP_NOT_FOUND, "no such endpoint");
    }
    ret = serve_text(k, status, ctype, &t);
    text_free(&t);
    return ret;
}

/* ---- requests from elsewhere ---------------------------------------------------- */

static const char *header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* A Host header naming this machine's loopback: localhost, 127.x.x.x or
 * [::1], with or without a port (no Host at all: not a browser's). */
static int loopback_host(const char *host)
{
    char name[64];
    struct in_addr a4;
    size_t n;

    if (!host)
        return 1;
    if (strncmp(host, "[::1]", 5) == 0)
        return host[5] == '\0' || host[5] == ':';
    n = strcspn(host, ":");
    if (n == 0 || n >= sizeof name)
        return 0;
    memcpy(name, host, n);
    name[n] = '\0';
    if (strcasecmp(name, "localhost") == 0)
        return 1;
    return inet_pton(AF_INET, name, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127;
}

/* Origin (scheme://host[:port]) names the Host this request came to. */
static int same_origin(const char *origin, const char *host)
{
    const char *sep = strstr(origin, "://");

    return sep && host && strcasecmp(sep + 3, host) == 0;
}

/* Why a browser's request on behalf of another site is refused, or NULL.
 * Without a token, only a loopback Host (a name of the attacker's that
 * resolves to 127.0.0.1, DNS rebinding, does not pass); and a write
 * (anything but GET and HEAD) must come from the service's own pages
 * (cross-site request forgery): as Sec-Fetch-Site tells, which browsers
 * send and which holds behind a proxy that rewrites Host; else, from an
 * older browser, as Origin tells; a client that sends neither is no
 * browser. */
static const char *foreign(const call *k)
{
    const char *host = header(k->conn, "Host");
    const char *site = header(k->conn, "Sec-Fetch-Site");
    const char *origin = header(k->conn, "Origin");

    if (!k->sv->token && !loopback_host(host))
        return "without an API token only a loopback Host is served "
               "(localhost, 127.0.0.1, [::1])";
    if (is(k, "GET") || is(k, "HEAD"))
        return NULL;
    if (site)
        return strcmp(site, "same-origin") == 0 || strcmp(site, "none") == 0
               ? NULL : "cross-site request refused (Sec-Fetch-Site)";
    if (origin && !same_origin(origin, host))
        return "cross-origin request refused (Origin is not this service)";
    return NULL;
}

static enum MHD_Result dispatch(service *sv, struct MHD_Connection *conn,
                                const char *url, const char *method, request *r)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 "Content-Type");
    call k = {sv, conn, method, r, 0};
    size_t n = strlen(url);
    const char *why;
    enum MHD_Result ret;

    if ((why = foreign(&k)))
        return fail(&k, MHD_HTTP_FORBIDDEN, why);

    /* the status page's retry button: POST /instances/ID/retry, a form */
    k.form = strncmp(url, "/instances/", 11) == 0 && n > 17 &&
             strcmp(url + n - 6, "/retry") == 0;
    if (k.form && !(ct && strncmp(ct, "application/x-www-form-urlencoded", 33) == 0) &&
        strcmp(method, "POST") == 0)
        return fail(&k, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "a form is expected");
    if (r->too_large) {
        char msg[96];
        snprintf(msg, sizeof msg, "request body larger than %zu bytes", sv->max_body);
        return fail(&k, MHD_HTTP_CONTENT_TOO_LARGE, msg);
    }
    /* liveness needs no engine: answered even while an enable holds it */
    if (strcmp(url, "/healthz") == 0)
        return route_open(&k, url);
    pthread_mutex_lock(&sv->lock);
    if (strncmp(url, "/v1/", 4) == 0 || strcmp(url, "/v1") == 0)
        ret = route_v1(&k, url);
    else if (k.form)
        ret = page_retry(&k, url);
    else
        ret = route_open(&k, url);
    pthread_mutex_unlock(&sv->lock);
    return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    service *sv = cls;
    request *r = *con_cls;

    (void)version;
    if (!r) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     "Content-Length");
        *con_cls = r = xcheck(calloc(1, sizeof *r));
        /* refused before the body is read (no 100 Continue) */
        if (cl && strtoull(cl, NULL, 10) > sv->max_body) {
            r->too_large = 1;
            return dispatch(sv, conn, url, method, r);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!r->too_large && r->body.n + *upload_size <= sv->max_body)
            text_add(&r->body, upload, *upload_size);
        else
            r->too_large = 1;
        *upload_size = 0;
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    return dispatch(sv, conn, url, method, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    request *r = *con_cls;

    (void)cls; (void)conn; (void)toe;
    if (r) {
        text_free(&r->body);
        free(r);
        *con_cls = NULL;
    }
}

/* ---- the daemon ------------------------------------------------------------------- */

typedef struct addr {
    struct sockaddr_storage ss;
    int v6, loopback;
} addr;

/* ADDR:PORT, [ADDR6]:PORT or localhost:PORT; 0, or -1 for a bad one. */
static int parse_listen(const char *s, addr *a)
{
    char host[128];
    const char *colon = strrchr(s, ':');
    char *end;
    long port;
    size_t n;

    memset(a, 0, sizeof *a);
    if (!colon || colon == s)
        return -1;
    port = strtol(colon + 1, &end, 10);
    n = (size_t)(colon - s);
    if (*end || colon[1] == '\0' || port < 0 || port > 65535 || n >= sizeof host)
        return -1;
    memcpy(host, s, n);
    host[n] = '\0';
    if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&a->ss;
        host[n - 1] = '\0';
        if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
            return -1;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((unsigned short)port);
        a->v6 = 1;
        a->loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
        return 0;
    }
    struct sockaddr_in *in4 = (struct sockaddr_in *)&a->ss;
    if (strcmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
        return -1;
    in4->sin_family = AF_INET;
    in4->sin_port = htons((unsigned short)port);
    a->loopback = (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
    return 0;
}

/* libmicrohttpd's own messages (a client that hung up mid-request, a
 * malformed request): one line like the service's other logs, a JSON
 * object with --log-format json, whatever the client sent. */
static void http_log(void *cls, const char *fmt, va_list ap)
{
    service *sv = cls;
    char msg[512];
    text t = {0};

    vsnprintf(msg, sizeof msg, fmt, ap);
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = ' ';
    for (size_t n = strlen(msg); n && msg[n - 1] == ' '; n--)
        msg[n - 1] = '\0';
    if (sv->log_json) {
        text_printf(&t, "{\"time\":%.3f,\"level\":\"warn\",", (double)time(NULL));
        text_jstr(&t, "message", msg);
        text_puts(&t, "}\n");
    } else {
        text_printf(&t, "%s: serve: http: %s\n", prog, msg);
    }
    fputs(text_str(&t), stderr);
    text_free(&t);
}

void *http_start(service *sv, const char *listen)
{
    struct MHD_Daemon *d;
    const union MHD_DaemonInfo *info;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_ERROR_LOG;
    addr a;

    if (parse_listen(listen, &a) != 0) {
        fprintf(stderr, "%s: serve: --listen wants ADDR:PORT, got '%s'\n", prog, listen);
        return NULL;
    }
    if (!a.loopback && !sv->token) {
        fprintf(stderr, "%s: serve: refusing to listen on %s without a token "
                "(--token-file FILE or UNHOOK_API_TOKEN)\n", prog, listen);
        return NULL;
    }
    if (a.v6)
        flags |= MHD_USE_IPv6;
    d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, sv,
                         MHD_OPTION_EXTERNAL_LOGGER, http_log, sv,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a.ss,
                         MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
                         MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                         MHD_OPTION_CONNECTION_LIMIT, 128u,
                         MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "%s: serve: cannot listen on %s\n", prog, listen);
        return NULL;
    }
    info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    fprintf(stderr, "%s: serve: listening on http://%.*s:%u/\n", prog,
            (int)(strrchr(listen, ':') - listen), listen,
            info ? (unsigned)info->port : 0u);
    return d;
}

void http_stop(void *daemon)
{
    if (daemon)
        MHD_stop_daemon(daemon);
}
