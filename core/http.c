/*
 * http.c -- one HTTP transfer of a flow: built from the request table the
 * Lua wrapper normalised (URL template, hosts policy, headers,
 * credentials, body, timeouts) and handed to the scheduler's multi
 * handle.  What comes back is response.c's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "oauth.h"
#include "url.h"
#include "cassette.h"

void uh_http_trace_header(uh_run *r, char dir, const char *line, size_t n)
{
    const char *colon;

    while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        n--;
    if (!n)
        return;
    colon = memchr(line, ':', n);
    if (colon && uh_credential_header(line, (size_t)(colon - line), dir == '>'))
        uh_log(r->diag, UH_SECRETS(r->conn), UNHOOK_LOG_TRACE, "%s%c %.*s: ***",
               r->tag, dir, (int)(colon - line), line);
    else
        uh_log(r->diag, UH_SECRETS(r->conn), UNHOOK_LOG_TRACE, "%s%c %.*s", r->tag, dir,
               (int)n, line);
}

void uh_push_error(lua_State *L, const char *code, const char *fmt, ...)
{
    va_list ap;

    lua_pushnil(L);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, code);
    lua_setfield(L, -2, "code");
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_setfield(L, -2, "message");
}

static const char *path_lookup(void *ud, const char *name, size_t n,
                               size_t *vlen)
{
    lua_State *L = ud;          /* stack: ... path-table */
    const char *v;

    if (!lua_istable(L, -1))
        return NULL;
    lua_pushlstring(L, name, n);
    lua_rawget(L, -2);
    v = lua_isstring(L, -1) ? lua_tolstring(L, -1, vlen) : NULL;
    lua_pop(L, 1);              /* the path table keeps the string alive */
    return v;
}

static const char *field_string(lua_State *L, int idx, const char *k)
{
    const char *s;

    lua_getfield(L, idx, k);
    s = lua_tostring(L, -1);
    lua_pop(L, 1);              /* strings in the request table stay alive */
    return s;
}

/* The "hosts" list at idx (0: none) as lines, or NULL. */
static char *hosts_of(lua_State *L, int idx)
{
    uh_buf b = {0};
    lua_Integer i;

    if (!idx || !lua_istable(L, idx))
        return NULL;
    for (i = 1; lua_rawgeti(L, idx, i) == LUA_TSTRING; i++) {
        uh_buf_puts(&b, lua_tostring(L, -1));
        uh_buf_add(&b, "\n", 1);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return b.data ? uh_buf_take(&b) : NULL;
}

static void add_header(uh_transfer *t, const char *line)
{
    struct curl_slist *l = curl_slist_append(t->hdrs, line);

    if (l)
        t->hdrs = l;
}

/*
 * The absolute URL of request q into url: the template filled from its
 * path table, resolved against base, checked against the hosts policy.
 * 0, or -1 with an error object pushed.
 */
static int request_url(lua_State *L, const uh_req *q, const char *base, uh_buf *url,
                       char **hosts)
{
    uh_buf path = {0}, err = {0};

    if (!q->path) {
        uh_buf_puts(&path, q->url);
    } else {
        lua_pushvalue(L, q->path);          /* stack: ... path */
        if (uh_url_expand(&path, q->url, path_lookup, L, &err) < 0) {
            lua_pop(L, 1);
            uh_push_error(L, "usage", "%s", err.data ? err.data : "bad URL template");
            uh_buf_free(&err);
            uh_buf_free(&path);
            return -1;
        }
        lua_pop(L, 1);
    }
    uh_url_resolve(url, base, path.data ? path.data : "");
    uh_buf_free(&path);
    if (strncmp(url->data ? url->data : "", "http://", 7) != 0 &&
        strncmp(url->data ? url->data : "", "https://", 8) != 0) {
        uh_push_error(L, "usage", "not an http(s) URL: \"%s\" (is base_url set in "
                      "the manifest or connection?)", url->data ? url->data : "");
        return -1;
    }
    *hosts = hosts_of(L, q->hosts);
    if (!uh_url_host_allowed(url->data, base, *hosts)) {
        char host[256] = "?";
        uh_url_host(url->data, host, sizeof host);
        uh_push_error(L, "forbidden_host", "request to %s refused: the connector "
                      "may call only the base URL's host and the hosts its "
                      "manifest lists", host);
        return -1;
    }
    return 0;
}

static void add_query(uh_buf *url, const char *name, const char *value)
{
    uh_buf_add(url, strchr(url->data ? url->data : "", '?') ? "&" : "?", 1);
    uh_url_escape(url, name, strlen(name));
    uh_buf_add(url, "=", 1);
    uh_url_escape(url, value, strlen(value));
}

/* The credentials of the connection on transfer t (same origin only);
 * t takes the header line. */
static void apply_auth(uh_transfer *t, uh_auth_req *a)
{
    if (a->header) {
        add_header(t, a->header);
        t->auth_line = a->header;
        a->header = NULL;
    }
    if (a->user) {
        t->dirty = 1;
        curl_easy_setopt(t->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(t->easy, CURLOPT_USERNAME, a->user);
        curl_easy_setopt(t->easy, CURLOPT_PASSWORD, a->password);
    }
}

/* Headers: connection defaults, then the request's array of lines. */
static void request_headers(lua_State *L, int idx, uh_transfer *t,
                            const uh_conn *c)
{
    if (c)
        for (int i = 0; i < c->nheaders; i++)
            add_header(t, c->headers[i]);
    if (idx && lua_istable(L, idx)) {
        for (lua_Integer i = 1; lua_rawgeti(L, idx, i) == LUA_TSTRING; i++) {
            add_header(t, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

/* Body, method, timeouts and TLS options of t. */
static void request_options(const uh_req *q, uh_run *r, uh_transfer *t)
{
    const uh_conn *c = r->conn;
    const char *body = q->body;
    long timeout = q->timeout;
    double left;

    if (body) {
        t->dirty = 1;
        t->req_body = uh_strndup(body, q->bodylen);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->bodylen);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->req_body);
    }
    if (timeout <= 0)
        timeout = c && c->timeout_ms > 0 ? c->timeout_ms : UH_DEFAULT_HTTP_TIMEOUT_MS;
    left = r->deadline > 0 ? (r->deadline - uh_now()) * 1000.0 : 0;
    if (r->deadline > 0 && left < (double)timeout)
        timeout = left < 1 ? 1 : (long)left;

    curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
    /* libcurl silently resends a request whose reused connection died
     * before any answer; for requests that are not idempotent that could
     * create a webhook twice, so they get a connection of their own. */
    if (strcmp(t->method, "POST") == 0 || strcmp(t->method, "PATCH") == 0) {
        t->dirty = 1;
        curl_easy_setopt(t->easy, CURLOPT_FRESH_CONNECT, 1L);
    }
    if (strcmp(t->method, "HEAD") == 0) {
        t->dirty = 1;
        curl_easy_setopt(t->easy, CURLOPT_NOBODY, 1L);
    }
    /* set each time, NULL too: a pooled handle keeps the last one's */
    curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST,
                     strcmp(t->method, "HEAD") != 0 && (strcmp(t->method, "GET") != 0 || body)
                     ? t->method : NULL);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->hdrs);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(timeout < UH_CONNECT_TIMEOUT_MS ? timeout : UH_CONNECT_TIMEOUT_MS));
    if (c && (c->ca_file || c->insecure))
        t->dirty = 1;
    if (c && c->ca_file)
        curl_easy_setopt(t->easy, CURLOPT_CAINFO, c->ca_file);
    if (c && c->insecure) {
        curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

static void trace_request(uh_run *r, uh_transfer *t, int basic, size_t bodylen)
{
    struct curl_slist *h;

    if (!r->diag || r->diag->log_level < UNHOOK_LOG_TRACE)
        return;
    uh_log(r->diag, UH_SECRETS(r->conn), UNHOOK_LOG_TRACE, "%s> %s %s", r->tag, t->method, t->url);
    for (h = t->hdrs; h; h = h->next)
        if (strcmp(h->data, "Expect:") != 0)
            uh_http_trace_header(r, '>', h->data, strlen(h->data));
    if (basic)
        uh_log(r->diag, NULL, UNHOOK_LOG_TRACE, "%s> Authorization: ***", r->tag);
    if (t->req_body)
        uh_log(r->diag, NULL, UNHOOK_LOG_TRACE, "%s> (%zu bytes of body)", r->tag, bodylen);
}

/* The request table at idx read into a uh_req: its strings stay alive
 * in it (body kept on the stack beside path, hosts and headers). */
int uh_http_start(lua_State *L, uh_run *r, int idx)
{
    uh_req q;
    int top, rc;

    idx = lua_absindex(L, idx);
    q.method = field_string(L, idx, "method");
    q.url = field_string(L, idx, "url");
    q.base = field_string(L, idx, "base");
    q.query = field_string(L, idx, "query");
    lua_getfield(L, idx, "timeout");
    q.timeout = (long)lua_tointeger(L, -1);
    lua_pop(L, 1);
    top = lua_gettop(L);
    lua_getfield(L, idx, "body");
    q.body = lua_tolstring(L, -1, &q.bodylen);
    lua_getfield(L, idx, "path");   /* not a table: a template fills nothing */
    lua_getfield(L, idx, "hosts");
    lua_getfield(L, idx, "headers");
    q.path = top + 2;
    q.hosts = top + 3;
    q.headers = top + 4;
    rc = uh_http_send(L, r, &q);
    for (int i = 0; i < 4; i++)
        lua_remove(L, top + 1);
    return rc;
}

int uh_http_send(lua_State *L, uh_run *r, const uh_req *q)
{
    uh_sched *s = r->sched;
    const uh_conn *c = r->conn;
    const char *method = q->method, *query = q->query, *base = q->base;
    char *hosts = NULL;
    uh_buf url = {0};
    uh_auth_req auth = {0};
    uh_transfer *t;

    if (!base && c)
        base = c->base_url;
    if (!method || !q->url) {
        uh_push_error(L, "usage", "request needs a method and a url");
        return -1;
    }
    if (request_url(L, q, base, &url, &hosts) < 0) {
        uh_buf_free(&url);
        free(hosts);
        return -1;
    }
    if (c && c->auth && uh_url_same_origin(url.data, base)) {
        int k = c->oauth && !uh_tape_offline(s->tape, method) ? uh_oauth_ready(L, r) : 1;
        if (k <= 0) {           /* waits for a token (0), or failed */
            uh_buf_free(&url);
            free(hosts);
            return k;
        }
        c->auth->apply(c, &auth);
    }
    if (query && *query) {
        uh_buf_add(&url, strchr(url.data, '?') ? "&" : "?", 1);
        uh_buf_puts(&url, query);
    }
    if (auth.query_name)
        add_query(&url, auth.query_name, auth.query_value);
    t = url.oom ? NULL : uh_transfer_new(s, r);
    if (!t) {
        uh_buf_free(&url);
        free(hosts);
        uh_auth_req_free(&auth);
        uh_push_error(L, "memory", "out of memory starting a transfer");
        return -1;
    }
    t->url = uh_buf_take(&url);
    t->hosts = hosts;
    t->base = uh_strdup(base);
    {
        size_t n = strnlen(method, sizeof t->method - 1);
        memcpy(t->method, method, n);
        t->method[n] = '\0';
    }
    request_headers(L, q->headers, t, c);
    apply_auth(t, &auth);
    add_header(t, "Expect:");
    request_options(q, r, t);
    trace_request(r, t, auth.user != NULL, q->bodylen);
    t->t0 = uh_now();
    if (uh_tape_active(s->tape)) {
        char *miss = NULL;
        int k = uh_tape_start(s->tape, t, q->bodylen, auth.user != NULL, &miss);
        uh_auth_req_free(&auth);
        if (k > 0)
            return 0;               /* answered: r->answered */
        if (k < 0) {
            uh_transfer_free(s, t);
            uh_push_error(L, "replay_miss", "%s", miss ? miss : "no answer in the cassette");
            free(miss);
            return -1;
        }
    }
    uh_auth_req_free(&auth);
    if (curl_multi_add_handle(s->multi, t->easy) != CURLM_OK) {
        uh_transfer_free(s, t);
        uh_push_error(L, "transport", "cannot start the transfer");
        return -1;
    }
    r->xfer = t;
    return 0;
}

/* Credentials again for a redirect within the origin: the query form
 * (headers stay on the transfer).  The new URL, or NULL. */
char *uh_http_redirect_url(const uh_run *r, const char *loc)
{
    const uh_conn *c = r->conn;
    uh_auth_req auth = {0};
    uh_buf b = {0};

    uh_buf_puts(&b, loc);
    if (c && c->auth) {
        c->auth->apply(c, &auth);
        if (auth.query_name)
            add_query(&b, auth.query_name, auth.query_value);
        uh_auth_req_free(&auth);
    }
    if (b.oom) {
        uh_buf_free(&b);
        return NULL;
    }
    return uh_buf_take(&b);
}
