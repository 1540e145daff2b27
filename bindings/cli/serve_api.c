/*
 * serve_api.c -- the /v1 API of `unhook serve` over the API engine:
 * reads (instances, one instance, its history), enable, and the
 * intent-only writes (disable, retry, bulk disable) the worker carries
 * out; its routing, and the status page's retry form.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unhook.h"
#include "serve.h"
#include "serve_call.h"

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
                 "registered, deregistering, off, failed, lost, expired)", value ? value : "");
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

/* 200 with the instance as the library renders it. */
static enum MHD_Result answer_instance(call *k, const unhook_instance *i)
{
    text t = {0};
    char *j = xcheck(unhook_instance_json(i));
    enum MHD_Result ret;

    text_puts(&t, j);
    text_puts(&t, "\n");
    unhook_free(j);
    ret = answer_json(k, MHD_HTTP_OK, &t);
    text_free(&t);
    return ret;
}

static enum MHD_Result get_instance(call *k, const char *id)
{
    unhook_instance *inst;
    enum MHD_Result ret;
    int rc = unhook_instance_get(k->sv->api, id, &inst);

    if (rc != UNHOOK_OK)
        return fail_engine(k, rc);
    ret = answer_instance(k, inst);
    unhook_instance_free(inst);
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
    /* lost, expired: gone at the provider, registered anew as enable does */
    if (strcmp(i->desired, "on") != 0 || strcmp(i->state, "failed") == 0 ||
        strcmp(i->state, "off") == 0 || strcmp(i->state, "lost") == 0 ||
        strcmp(i->state, "expired") == 0) {
        unhook_instance_free(i);
        return 0;
    }
    same = strcmp(i->connector, e->req.connector) == 0 &&
           strcmp(i->event, e->req.event) == 0 && strcmp(i->options, opts) == 0 &&
           ((!i->connection && !e->conn_path) ||
            (i->connection && e->conn_path && strcmp(i->connection, e->conn_path) == 0));
    if (same) {
        *ret = answer_instance(k, i);
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
enum MHD_Result page_retry(call *k, const char *url)
{
    char *id;
    const char *why;
    enum MHD_Result ret;

    if (!is(k, "POST"))
        return wrong_method(k, "POST");
    if ((why = unauthorised(k)))
        return fail(k, MHD_HTTP_UNAUTHORIZED, why);
    id = xcheck(strndup(url + 11, strlen(url) - 11 - 6));
    ret = post_retry(k, id);
    free(id);
    return ret;
}

/* ---- routing ----------------------------------------------------------------------- */

/* /v1/instances/ID[/history|/disable|/retry]: the id is all before the
 * last of these (an id may hold '/', sent as %2F), of any length enable
 * takes. */
static enum MHD_Result route_instance(call *k, const char *rest)
{
    static const char *const tails[] = {"/history", "/disable", "/retry"};
    size_t n = strlen(rest);
    const char *tail = "";
    enum MHD_Result ret;
    char *id;

    for (int t = 0; t < 3; t++) {
        size_t tl = strlen(tails[t]);
        if (n > tl && strcmp(rest + n - tl, tails[t]) == 0) {
            tail = tails[t];
            n -= tl;
            break;
        }
    }
    if (n == 0)
        return fail(k, MHD_HTTP_NOT_FOUND, "no such endpoint");
    id = xcheck(strndup(rest, n));
    if (!*tail)
        ret = is(k, "GET") ? get_instance(k, id) : wrong_method(k, "GET");
    else if (strcmp(tail, "/history") == 0)
        ret = is(k, "GET") ? get_history(k, id) : wrong_method(k, "GET");
    else if (strcmp(tail, "/disable") == 0)
        ret = is(k, "POST") ? post_disable(k, id) : wrong_method(k, "POST");
    else
        ret = is(k, "POST") ? post_retry(k, id) : wrong_method(k, "POST");
    free(id);
    return ret;
}

enum MHD_Result route_v1(call *k, const char *path)
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
