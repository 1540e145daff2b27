/*
 * serve_http.c -- the service's HTTP side on libmicrohttpd (one thread a
 * connection): routing, the bearer token, body limits, and the /v1 API
 * over the API engine (reads, enable, and intent-only writes the worker
 * carries out).  Every answer is built from the library's renderings;
 * none holds a secret.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unhook.h"
#include "serve.h"

typedef struct request {
    text body;
    int too_large, answered;
} request;

typedef struct call {
    service *sv;
    struct MHD_Connection *conn;
    const char *method;
    request *r;
    int form;                   /* posted by the status page's form */
} call;

static int is(const call *k, const char *m)
{
    return strcmp(k->method, m) == 0;
}

/* ---- answers ---------------------------------------------------------------- */

static enum MHD_Result answer_h(struct MHD_Connection *conn, unsigned status,
                                const char *ctype, const char *body,
                                const char *hname, const char *hvalue)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result ret;

    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", ctype);
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (hname)
        MHD_add_response_header(resp, hname, hvalue);
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result answer_json(call *k, unsigned status, text *body)
{
    k->r->answered = 1;
    return answer_h(k->conn, status, "application/json", text_str(body), NULL, NULL);
}

/* {"error": msg, "status": N}, with one extra header if hname is set. */
static enum MHD_Result fail_h(call *k, unsigned status, const char *msg,
                              const char *hname, const char *hvalue)
{
    text t = {0};
    enum MHD_Result ret;

    text_puts(&t, "{");
    text_jstr(&t, "error", msg);
    text_printf(&t, ",\"status\":%u}\n", status);
    k->r->answered = 1;
    ret = answer_h(k->conn, status, "application/json", text_str(&t), hname, hvalue);
    text_free(&t);
    return ret;
}

static enum MHD_Result fail(call *k, unsigned status, const char *msg)
{
    return fail_h(k, status, msg, NULL, NULL);
}

static enum MHD_Result wrong_method(call *k, const char *allow)
{
    char msg[128];

    snprintf(msg, sizeof msg, "method %s not allowed here (allowed: %s)",
             k->method, allow);
    return fail_h(k, MHD_HTTP_METHOD_NOT_ALLOWED, msg, "Allow", allow);
}

/* The HTTP status of an engine result code that is not UNHOOK_OK. */
static unsigned status_for(int rc)
{
    switch (rc) {
    case UNHOOK_NOTFOUND: return MHD_HTTP_NOT_FOUND;
    case UNHOOK_STORE: return MHD_HTTP_SERVICE_UNAVAILABLE;
    case UNHOOK_NOMEM: case UNHOOK_ERROR: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    default: return MHD_HTTP_BAD_REQUEST;
    }
}

static enum MHD_Result fail_engine(call *k, int rc)
{
    return fail(k, status_for(rc), unhook_errmsg(k->sv->api));
}

/* ---- the token ---------------------------------------------------------------- */

/* Equal strings, in a time that does not depend on where they differ. */
static int same_secret(const char *given, const char *want)
{
    size_t lg = strlen(given), lw = strlen(want);
    unsigned d = lg != lw;

    for (size_t i = 0; i < lw; i++)
        d |= (unsigned char)(i < lg ? given[i] : 0) ^ (unsigned char)want[i];
    return d == 0;
}

/* The form's field name, decoded, from an urlencoded body; NULL if absent. */
static char *form_field(const char *body, const char *name)
{
    size_t nl = strlen(name);

    for (const char *p = body; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, nl) != 0 || p[nl] != '=')
            continue;
        const char *v = p + nl + 1, *e = strchr(v, '&');
        size_t n = e ? (size_t)(e - v) : strlen(v), o = 0;
        char *out = xcheck(malloc(n + 1));
        for (size_t i = 0; i < n; i++) {
            unsigned x;
            if (v[i] == '+')
                out[o++] = ' ';
            else if (v[i] == '%' && i + 2 < n + 1 && sscanf(v + i + 1, "%2x", &x) == 1) {
                out[o++] = (char)x;
                i += 2;
            } else
                out[o++] = v[i];
        }
        out[o] = '\0';
        return out;
    }
    return NULL;
}

/* NULL when the caller may use /v1, else why not. */
static const char *unauthorised(call *k)
{
    const char *want = k->sv->token, *h;
    char *given;
    int ok;

    if (!want)
        return NULL;
    if (k->form) {
        given = form_field(text_str(&k->r->body), "token");
        ok = given && same_secret(given, want);
        free(given);
        return ok ? NULL : "invalid or missing token";
    }
    h = MHD_lookup_connection_value(k->conn, MHD_HEADER_KIND, "Authorization");
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return "missing bearer token (Authorization: Bearer TOKEN)";
    return same_secret(h + 7, want) ? NULL : "invalid token";
}

/* ---- request bodies ------------------------------------------------------------ */

/* The body as a JSON object, only with the allowed fields (NULL-ended);
 * an empty body is {} when empty_ok.  0, or -1 after answering 400. */
static int body_object(call *k, const char *const *allowed, int empty_ok, jobj *o,
                       enum MHD_Result *ret)
{
    char err[160];
    text *b = &k->r->body;

    memset(o, 0, sizeof *o);
    if (k->form || (b->n == 0 && empty_ok))
        return 0;
    if (b->n == 0) {
        *ret = fail(k, MHD_HTTP_BAD_REQUEST, "a JSON object is needed as the body");
        return -1;
    }
    if (jobj_parse(b->p, b->n, o, err, sizeof err) != 0) {
        *ret = fail(k, MHD_HTTP_BAD_REQUEST, err);
        return -1;
    }
    for (size_t i = 0; i < o->n; i++) {
        size_t a = 0;
        while (allowed[a] && strcmp(allowed[a], o->v[i].key) != 0)
            a++;
        if (!allowed[a]) {
            snprintf(err, sizeof err, "unknown field '%.60s'", o->v[i].key);
            jobj_free(o);
            *ret = fail(k, MHD_HTTP_BAD_REQUEST, err);
            return -1;
        }
    }
    return 0;
}

/* A string field (NULL when absent); -1 after answering 400 for another type. */
static int str_field(call *k, const jobj *o, const char *key, const char **out,
                     enum MHD_Result *ret)
{
    const jfield *f = jobj_get(o, key);
    char err[96];

    *out = NULL;
    if (!f || f->type == JV_NULL)
        return 0;
    if (f->type != JV_STRING || !f->str[0]) {
        snprintf(err, sizeof err, "field '%s' must be a non-empty string", key);
        *ret = fail(k, MHD_HTTP_BAD_REQUEST, err);
        return -1;
    }
    *out = f->str;
    return 0;
}

/* ---- /v1 ------------------------------------------------------------------------ */

typedef struct listing {
    text t;
    int n;
} listing;

/* One element of a JSON array, one a line; json is released. */
static int element(listing *l, char *json)
{
    text_puts(&l->t, l->n++ ? ",\n" : "\n");
    text_puts(&l->t, xcheck(json));
    unhook_free(json);
    return 0;
}

/* The array the listing call (result rc) filled, or the engine's error. */
static enum MHD_Result answer_array(call *k, int rc, listing *l)
{
    enum MHD_Result ret;

    if (rc == UNHOOK_OK) {
        text_puts(&l->t, l->n ? "\n]\n" : "]\n");
        ret = answer_json(k, MHD_HTTP_OK, &l->t);
    } else {
        ret = fail_engine(k, rc);
    }
    text_free(&l->t);
    return ret;
}

static int list_one(void *ud, const unhook_instance *i)
{
    return element(ud, unhook_instance_json(i));
}

static int history_one(void *ud, const unhook_history *h)
{
    return element(ud, unhook_history_json(h));
}

static int known_state(const char *s)
{
    for (int k = 0; k < NSTATES; k++)
        if (strcmp(s, state_names[k]) == 0)
            return 1;
    return 0;
}

typedef struct query {
    unhook_filter f;
    char bad[160];
} query;

static enum MHD_Result query_arg(void *cls, enum MHD_ValueKind kind,
                                 const char *key, const char *value)
{
    query *q = cls;

    (void)kind;
    if (strcmp(key, "state") == 0 && value && known_state(value))
        q->f.state = value;
    else if (strcmp(key, "state") == 0)
        snprintf(q->bad, sizeof q->bad, "unknown state '%.40s' (registering, "
                 "registered, deregistering, off, failed, lost)", value ? value : "");
    else if (strcmp(key, "connector") == 0 && value && *value)
        q->f.connector = value;
    else if (strcmp(key, "event") == 0 && value && *value)
        q->f.event = value;
    else
        snprintf(q->bad, sizeof q->bad, "unknown query parameter '%.40s'", key);
    return MHD_YES;
}

static enum MHD_Result list_instances(call *k)
{
    query q;
    listing l = {{0}, 0};

    memset(&q, 0, sizeof q);
    MHD_get_connection_values(k->conn, MHD_GET_ARGUMENT_KIND, query_arg, &q);
    if (q.bad[0])
        return fail(k, MHD_HTTP_BAD_REQUEST, q.bad);
    text_puts(&l.t, "[");
    return answer_array(k, unhook_instance_list(k->sv->api, &q.f, list_one, &l), &l);
}

static enum MHD_Result get_instance(call *k, const char *id)
{
    unhook_instance *inst;
    text t = {0};
    char *j;
    enum MHD_Result ret;
    int rc = unhook_instance_get(k->sv->api, id, &inst);

    if (rc != UNHOOK_OK)
        return fail_engine(k, rc);
    j = xcheck(unhook_instance_json(inst));
    text_puts(&t, j);
    text_puts(&t, "\n");
    unhook_free(j);
    unhook_instance_free(inst);
    ret = answer_json(k, MHD_HTTP_OK, &t);
    text_free(&t);
    return ret;
}

static enum MHD_Result get_history(call *k, const char *id)
{
    listing l = {{0}, 0};

    text_puts(&l.t, "[");
    return answer_array(k, unhook_history_list(k->sv->api, id, history_one, &l), &l);
}

/* 202 {"id": id, "result": code} (a form gets 303 to the status page). */
static enum MHD_Result accepted(call *k, const char *id, const char *code)
{
    text t = {0};
    enum MHD_Result ret;

    if (k->form) {
        k->r->answered = 1;
        return answer_h(k->conn, MHD_HTTP_SEE_OTHER, "text/plain", "see /\n",
                        "Location", "/");
    }
    text_puts(&t, "{");
    text_jstr(&t, "id", id);
    text_puts(&t, ",");
    text_jstr(&t, "result", code);
    text_puts(&t, "}\n");
    ret = answer_json(k, MHD_HTTP_ACCEPTED, &t);
    text_free(&t);
    return ret;
}

static enum MHD_Result post_disable(call *k, const char *id)
{
    static const char *const allowed[] = {"reason", NULL};
    unhook_flow_result res;
    enum MHD_Result ret = MHD_NO;
    const char *reason;
    jobj o;
    int rc;

    if (body_object(k, allowed, 1, &o, &ret) != 0)
        return ret;
    if (str_field(k, &o, "reason", &reason, &ret) != 0) {
        jobj_free(&o);
        return ret;
    }
    rc = unhook_instance_request_off(k->sv->api, id, reason, &res);
    ret = rc != UNHOOK_OK ? fail_engine(k, rc) : accepted(k, id, res.code);
    unhook_flow_result_free(&res);
    jobj_free(&o);
    return ret;
}

static enum MHD_Result post_retry(call *k, const char *id)
{
    static const char *const allowed[] = {NULL};
    unhook_flow_result res;
    enum MHD_Result ret = MHD_NO;
    char msg[160];
    jobj o;
    int rc;

    if (body_object(k, allowed, 1, &o, &ret) != 0)
        return ret;
    jobj_free(&o);
    rc = unhook_instance_request_retry(k->sv->api, id, &res);
    if (rc != UNHOOK_OK) {
        ret = fail_engine(k, rc);
    } else if (strcmp(res.code, "not_failed") == 0) {
        snprintf(msg, sizeof msg, "instance '%.100s' is not failed: nothing to retry", id);
        ret = fail(k, MHD_HTTP_CONFLICT, msg);
    } else {
        ret = accepted(k, id, res.code);
    }
    unhook_flow_result_free(&res);
    return ret;
}

static enum MHD_Result post_bulk(call *k)
{
    static const char *const allowed[] = {"connector", "event", "reason", "all", NULL};
    unhook_filter f = {0};
    unhook_stats s;
    const jfield *all;
    const char *reason;
    enum MHD_Result ret = MHD_NO;
    text t = {0};
    jobj o;
    int rc;

    if (body_object(k, allowed, 0, &o, &ret) != 0)
        return ret;
    all = jobj_get(&o, "all");
    if (str_field(k, &o, "connector", &f.connector, &ret) != 0 ||
        str_field(k, &o, "event", &f.event, &ret) != 0 ||
        str_field(k, &o, "reason", &reason, &ret) != 0) {
        jobj_free(&o);
        return ret;
    }
    if (all && (all->type != JV_BOOL || (strcmp(all->str, "true") != 0 &&
                                         strcmp(all->str, "false") != 0))) {
        jobj_free(&o);
        return fail(k, MHD_HTTP_BAD_REQUEST, "field 'all' must be true or false");
    }
    if (!f.connector && !f.event && !(all && strcmp(all->str, "true") == 0)) {
        jobj_free(&o);
        return fail(k, MHD_HTTP_BAD_REQUEST, "give a filter (connector, event) or "
                    "\"all\": true to disable every instance");
    }
    rc = unhook_instance_request_off_all(k->sv->api, &f, reason, &s);
    if (rc != UNHOOK_OK) {
        ret = fail_engine(k, rc);
    } else {
        text_printf(&t, "{\"total\":%ld,\"queued\":%ld,\"never_registered\":%ld}\n",
                    s.total, s.pending, s.skipped);
        ret = answer_json(k, MHD_HTTP_ACCEPTED, &t);
    }
    text_free(&t);
    jobj_free(&o);
    return ret;
}

/* ---- enable -------------------------------------------------------------------- */

typedef struct enable_req {
    const char *id;
    unhook_flow_request req;
    char *conn_path;            /* realpath of connection, for comparing */
} enable_req;

/* 200 when the instance is on with these settings already, 409 when it is
 * on with others; 0 (not answered) otherwise. */
static int enable_again(call *k, const enable_req *e, enum MHD_Result *ret)
{
    unhook_instance *i;
    const char *opts = e->req.options_json ? e->req.options_json : "{}";
    int same;

    if (unhook_instance_get(k->sv->api, e->id, &i) != UNHOOK_OK)
        return 0;
    if (strcmp(i->desired, "on") != 0 || strcmp(i->state, "failed") == 0 ||
        strcmp(i->state, "off") == 0) {
        unhook_instance_free(i);
        return 0;
    }
    same = strcmp(i->connector, e->req.connector) == 0 &&
           strcmp(i->event, e->req.event) == 0 && strcmp(i->options, opts) == 0 &&
           ((!i->connection && !e->conn_path) ||
            (i->connection && e->conn_path && strcmp(i->connection, e->conn_path) == 0));
    if (same) {
        text t = {0};
        char *j = xcheck(unhook_instance_json(i));
        text_puts(&t, j);
        text_puts(&t, "\n");
        unhook_free(j);
        *ret = answer_json(k, MHD_HTTP_OK, &t);
        text_free(&t);
    } else {
        *ret = fail(k, MHD_HTTP_CONFLICT, "instance is already on with other "
                    "settings; disable it first");
    }
    unhook_instance_free(i);
    return 1;
}

/* The answer to an enable that ran: the instance, and the error if any. */
static enum MHD_Result enabled(call *k, const char *id, const unhook_flow_result *res)
{
    unhook_instance *i = NULL;
    unsigned status = res->outcome == UNHOOK_OUTCOME_DONE ? MHD_HTTP_CREATED
                      : res->outcome == UNHOOK_OUTCOME_RETRY ? MHD_HTTP_ACCEPTED
                      : MHD_HTTP_UNPROCESSABLE_CONTENT;
    enum MHD_Result ret;
    text t = {0};
    char *j;

    if (unhook_instance_get(k->sv->api, id, &i) != UNHOOK_OK)
        return fail_engine(k, UNHOOK_STORE);
    j = xcheck(unhook_instance_json(i));
    text_puts(&t, "{");
    text_jstr(&t, "result", res->outcome == UNHOOK_OUTCOME_DONE ? "registered"
              : res->outcome == UNHOOK_OUTCOME_RETRY ? "pending_retry" : "failed");
    text_puts(&t, ",");
    text_jstr(&t, "error", res->outcome == UNHOOK_OUTCOME_DONE ? NULL : res->message);
    text_puts(&t, ",\"instance\":");
    text_puts(&t, j);
    text_puts(&t, "}\n");
    unhook_free(j);
    unhook_instance_free(i);
    ret = answer_json(k, status, &t);
    text_free(&t);
    return ret;
}

static enum MHD_Result post_enable(call *k)
{
    static const char *const allowed[] = {"id", "connector", "event", "options",
                                          "connection", NULL};
    enable_req e;
    unhook_flow_result res = {0};
    const jfield *opts;
    enum MHD_Result ret = MHD_NO;
    jobj o;
    int rc;

    memset(&e, 0, sizeof e);
    if (body_object(k, allowed, 0, &o, &ret) != 0)
        return ret;
    if (str_field(k, &o, "id", &e.id, &ret) != 0 ||
        str_field(k, &o, "connector", &e.req.connector, &ret) != 0 ||
        str_field(k, &o, "event", &e.req.event, &ret) != 0 ||
        str_field(k, &o, "connection", &e.req.connection, &ret) != 0)
        goto out;
    opts = jobj_get(&o, "options");
    if (opts && opts->type != JV_OBJECT) {
        ret = fail(k, MHD_HTTP_BAD_REQUEST, "field 'options' must be an object");
        goto out;
    }
    e.req.options_json = opts ? opts->str : NULL;
    if (!e.id || !e.req.connector || !e.req.event) {
        ret = fail(k, MHD_HTTP_BAD_REQUEST, "fields 'id', 'connector' and 'event' "
                   "are required");
        goto out;
    }
    e.conn_path = e.req.connection ? realpath(e.req.connection, NULL) : NULL;
    if (enable_again(k, &e, &ret))
        goto out;
    rc = unhook_instance_enable(k->sv->api, e.id, &e.req, &res);
    if (rc == UNHOOK_NOTFOUND)      /* the body names what is not there */
        ret = fail(k, MHD_HTTP_BAD_REQUEST, unhook_errmsg(k->sv->api));
    else
        ret = rc != UNHOOK_OK ? fail_engine(k, rc) : enabled(k, e.id, &res);
out:
    unhook_flow_result_free(&res);
    free(e.conn_path);
    jobj_free(&o);
    return ret;
}

/* The status page's retry form: the token typed in, then back to /. */
static enum MHD_Result page_retry(call *k, const char *url)
{
    char id[256];
    size_t n = strlen(url) - 11 - 6;
    const char *why;

    if (!is(k, "POST"))
        return wrong_method(k, "POST");
    if ((why = unauthorised(k)))
        return fail(k, MHD_HTTP_UNAUTHORIZED, why);
    if (n >= sizeof id)
        return fail(k, MHD_HTTP_NOT_FOUND, "no such instance");
    memcpy(id, url + 11, n);
    id[n] = '\0';
    return post_retry(k, id);
}

/* ---- routing ----------------------------------------------------------------------- */

static enum MHD_Result route_instance(call *k, const char *rest)
{
    const char *slash = strchr(rest, '/');
    char id[256];
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);

    if (n == 0 || n >= sizeof id)
        return fail(k, MHD_HTTP_NOT_FOUND, "no such endpoint");
    memcpy(id, rest, n);
    id[n] = '\0';
    if (!slash)
        return is(k, "GET") ? get_instance(k, id) : wrong_method(k, "GET");
    if (strcmp(slash, "/history") == 0)
        return is(k, "GET") ? get_history(k, id) : wrong_method(k, "GET");
    if (strcmp(slash, "/disable") == 0)
        return is(k, "POST") ? post_disable(k, id) : wrong_method(k, "POST");
    if (strcmp(slash, "/retry") == 0)
        return is(k, "POST") ? post_retry(k, id) : wrong_method(k, "POST");
    return fail(k, MHD_HTTP_NOT_FOUND, "no such endpoint");
}

static enum MHD_Result route_v1(call *k, const char *path)
{
    const char *why = unauthorised(k);

    if (why)
        return fail_h(k, MHD_HTTP_UNAUTHORIZED, why, "WWW-Authenticate",
                      "Bearer realm=\"unhook\"");
    if (strcmp(path, "/v1/instances") == 0) {
        if (is(k, "GET"))
            return list_instances(k);
        return is(k, "POST") ? post_enable(k) : wrong_method(k, "GET, POST");
    }
    if (strncmp(path, "/v1/instances/", 14) == 0)
        return route_instance(k, path + 14);
    if (strcmp(path, "/v1/disable") == 0)
        return is(k, "POST") ? post_bulk(k) : wrong_method(k, "POST");
    return fail(k, MHD_HTTP_NOT_FOUND, "no such endpoint");
}

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

static enum MHD_Result dispatch(service *sv, struct MHD_Connection *conn,
                                const char *url, const char *method, request *r)
{
    const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                 "Content-Type");
    call k = {sv, conn, method, r, 0};
    size_t n = strlen(url);
    enum MHD_Result ret;

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
