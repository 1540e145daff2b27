/*
 * http.c -- one HTTP transfer of a flow: built from the request table the
 * Lua wrapper normalised, handed to the scheduler's multi handle, and
 * turned back into a response table (or an error object) when done.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <lauxlib.h>

#include "sched.h"

size_t uh_http_on_body(char *p, size_t size, size_t n, void *ud)
{
    uh_transfer *t = ud;
    size_t len = size * n;

    if (t->body.len + len > t->max_body) {
        t->too_large = 1;
        return 0;
    }
    uh_buf_add(&t->body, p, len);
    return t->body.oom ? 0 : len;
}

size_t uh_http_on_header(char *p, size_t size, size_t n, void *ud)
{
    uh_transfer *t = ud;
    size_t len = size * n;

    /* a new status line starts a new header block (after 1xx, redirects) */
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0)
        t->head.len = 0;
    uh_buf_add(&t->head, p, len);
    return len;
}

static int secret_header(const char *line)
{
    static const char *const names[] = {"authorization:",
        "proxy-authorization:", "cookie:", "set-cookie:", NULL};
    const char *const *n;

    for (n = names; *n; n++)
        if (strncasecmp(line, *n, strlen(*n)) == 0)
            return 1;
    return 0;
}

/* Log one header line, secrets masked by name and by value. */
static void trace_header(uh_run *r, char dir, const char *line, size_t n)
{
    const char *colon;

    while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        n--;
    if (!n)
        return;
    colon = memchr(line, ':', n);
    if (colon && secret_header(line))
        uh_log(r->E, r->conn, UNHOOK_LOG_TRACE, "%c %.*s: ***", dir,
               (int)(colon - line), line);
    else
        uh_log(r->E, r->conn, UNHOOK_LOG_TRACE, "%c %.*s", dir, (int)n, line);
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

static int same_host(const char *a, const char *b)
{
    char ha[256], hb[256];

    return a && b && uh_url_host(a, ha, sizeof ha) == 0 &&
           uh_url_host(b, hb, sizeof hb) == 0 && strcasecmp(ha, hb) == 0;
}

/* Scheme, host and port all equal: where credentials may go. */
static int same_origin(const char *a, const char *b)
{
    char pa[16], pb[16];
    const char *ha, *hb;
    size_t la, lb;

    if (!a || !b || !same_host(a, b))
        return 0;
    ha = strstr(a, "://");
    hb = strstr(b, "://");
    if ((size_t)(ha - a) != (size_t)(hb - b) || strncasecmp(a, b, (size_t)(ha - a)) != 0)
        return 0;
    /* the port: what follows the host, or the scheme's default */
    for (int k = 0; k < 2; k++) {
        const char *h = k ? hb + 3 : ha + 3, *end = h + strcspn(h, "/?#");
        const char *at = memchr(h, '@', (size_t)(end - h)), *colon;
        char *p = k ? pb : pa;
        if (at)
            h = at + 1;
        if (*h == '[')
            h = memchr(h, ']', (size_t)(end - h)) ? (const char *)memchr(h, ']', (size_t)(end - h)) : end;
        colon = memchr(h, ':', (size_t)(end - h));
        if (colon && end - colon > 1)
            snprintf(p, 16, "%.*s", (int)(end - colon - 1), colon + 1);
        else
            snprintf(p, 16, "%s", strncasecmp(k ? b : a, "https", 5) == 0 ? "443" : "80");
    }
    la = strlen(pa);
    lb = strlen(pb);
    return la == lb && memcmp(pa, pb, la) == 0;
}

/* The request's "hosts" list as lines, or NULL. */
static char *hosts_of(lua_State *L, int idx)
{
    uh_buf b = {0};

    lua_getfield(L, idx, "hosts");
    if (lua_istable(L, -1))
        for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
            uh_buf_puts(&b, lua_tostring(L, -1));
            uh_buf_add(&b, "\n", 1);
            lua_pop(L, 1);
        }
    lua_pop(L, 2);
    return b.data ? uh_buf_take(&b) : NULL;
}

/* The base URL's host, or one in the hosts lines. */
static int host_allowed(const char *url, const char *base, const char *hosts)
{
    char host[256];
    const char *p;

    if (!base || same_host(url, base))
        return 1;
    if (uh_url_host(url, host, sizeof host) < 0)
        return 0;
    for (p = hosts; p && *p;) {
        size_t n = strcspn(p, "\n");
        if (n == strlen(host) && strncasecmp(p, host, n) == 0)
            return 1;
        p += n + (p[n] == '\n');
    }
    return 0;
}

static void add_header(uh_transfer *t, const char *line)
{
    struct curl_slist *l = curl_slist_append(t->hdrs, line);

    if (l)
        t->hdrs = l;
}

int uh_http_start(lua_State *L, uh_run *r, int idx)
{
    uh_sched *s = r->E->sched;
    const uh_conn *c = r->conn;
    const char *method, *tmpl, *query, *body, *base;
    char *hosts;
    uh_buf url = {0}, path = {0}, err = {0};
    uh_transfer *t;
    size_t bodylen = 0;
    long timeout;
    double left;
    int creds;

    method = field_string(L, idx, "method");
    tmpl = field_string(L, idx, "url");
    query = field_string(L, idx, "query");
    base = field_string(L, idx, "base");
    if (!base && c)
        base = c->base_url;
    if (!method || !tmpl) {
        uh_push_error(L, "usage", "request needs a method and a url");
        return -1;
    }
    lua_getfield(L, idx, "path");          /* stack: ... path */
    if (uh_url_expand(&path, tmpl, path_lookup, L, &err) < 0) {
        lua_pop(L, 1);
        uh_push_error(L, "usage", "%s", err.data ? err.data : "bad URL template");
        uh_buf_free(&err);
        uh_buf_free(&path);
        return -1;
    }
    lua_pop(L, 1);
    uh_url_resolve(&url, base, path.data ? path.data : "");
    uh_buf_free(&path);
    if (strncmp(url.data ? url.data : "", "http://", 7) != 0 &&
        strncmp(url.data ? url.data : "", "https://", 8) != 0) {
        uh_push_error(L, "usage", "not an http(s) URL: \"%s\" (is base_url set in "
                      "the manifest or connection?)", url.data ? url.data : "");
        uh_buf_free(&url);
        return -1;
    }
    hosts = hosts_of(L, idx);
    if (!host_allowed(url.data, base, hosts)) {
        char host[256] = "?";
        uh_url_host(url.data, host, sizeof host);
        uh_push_error(L, "forbidden_host", "request to %s refused: the connector "
                      "may call only the base URL's host and the hosts its "
                      "manifest lists", host);
        uh_buf_free(&url);
        free(hosts);
        return -1;
    }
    creds = c && c->auth != UH_AUTH_NONE && same_origin(url.data, base);
    if (query && *query) {
        uh_buf_add(&url, strchr(url.data, '?') ? "&" : "?", 1);
        uh_buf_puts(&url, query);
    }
    if (creds && c->auth == UH_AUTH_QUERY) {
        uh_buf_add(&url, strchr(url.data, '?') ? "&" : "?", 1);
        uh_url_escape(&url, c->auth_name, strlen(c->auth_name));
        uh_buf_add(&url, "=", 1);
        uh_url_escape(&url, c->secret, strlen(c->secret));
    }
    if (url.oom) {
        uh_buf_free(&url);
        free(hosts);
        uh_push_error(L, "memory", "out of memory building the URL");
        return -1;
    }

    t = uh_transfer_new(s, r);
    if (!t) {
        uh_buf_free(&url);
        free(hosts);
        uh_push_error(L, "memory", "out of memory starting a transfer");
        return -1;
    }
    t->url = uh_buf_take(&url);
    t->hosts = hosts;
    t->base = uh_strdup(base);
    snprintf(t->method, sizeof t->method, "%s", method);

    /* headers: connection defaults, then the request's, then auth */
    if (c)
        for (int i = 0; i < c->nheaders; i++)
            add_header(t, c->headers[i]);
    /* request headers: an array of "Name: value" lines, in order */
    lua_getfield(L, idx, "headers");
    if (lua_istable(L, -1)) {
        for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
            add_header(t, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    if (creds && c->auth == UH_AUTH_BEARER) {
        uh_buf h = {0};
        uh_buf_printf(&h, "Authorization: Bearer %s", c->secret);
        add_header(t, h.data ? h.data : "");
        t->auth_line = uh_buf_take(&h);
    } else if (creds && c->auth == UH_AUTH_HEADER) {
        uh_buf h = {0};
        uh_buf_printf(&h, "%s: %s", c->auth_name, c->secret);
        add_header(t, h.data ? h.data : "");
        t->auth_line = uh_buf_take(&h);
    } else if (creds && c->auth == UH_AUTH_BASIC) {
        curl_easy_setopt(t->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(t->easy, CURLOPT_USERNAME, c->username);
        curl_easy_setopt(t->easy, CURLOPT_PASSWORD, c->secret);
    }
    add_header(t, "Expect:");

    lua_getfield(L, idx, "body");
    body = lua_tolstring(L, -1, &bodylen);
    if (body) {
        t->req_body = uh_strndup(body, bodylen);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)bodylen);
        curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->req_body);
    }
    lua_pop(L, 1);

    lua_getfield(L, idx, "timeout");
    timeout = (long)lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (timeout <= 0)
        timeout = c && c->timeout_ms > 0 ? c->timeout_ms
                                         : UH_DEFAULT_HTTP_TIMEOUT_MS;
    left = r->deadline > 0 ? (r->deadline - uh_now()) * 1000.0 : 0;
    if (r->deadline > 0 && left < (double)timeout)
        timeout = left < 1 ? 1 : (long)left;

    curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
    /* libcurl silently resends a request whose reused connection died
     * before any answer; for requests that are not idempotent that could
     * create a webhook twice, so they get a connection of their own. */
    if (strcmp(t->method, "POST") == 0 || strcmp(t->method, "PATCH") == 0)
        curl_easy_setopt(t->easy, CURLOPT_FRESH_CONNECT, 1L);
    if (strcmp(t->method, "HEAD") == 0)
        curl_easy_setopt(t->easy, CURLOPT_NOBODY, 1L);
    else if (strcmp(t->method, "GET") != 0 || body)
        curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, t->method);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->hdrs);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(timeout < UH_CONNECT_TIMEOUT_MS
                                ? timeout : UH_CONNECT_TIMEOUT_MS));
    if (c && c->ca_file)
        curl_easy_setopt(t->easy, CURLOPT_CAINFO, c->ca_file);
    if (c && c->insecure) {
        curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    if (r->E->log_level >= UNHOOK_LOG_TRACE) {
        struct curl_slist *h;
        uh_log(r->E, c, UNHOOK_LOG_TRACE, "> %s %s", t->method, t->url);
        for (h = t->hdrs; h; h = h->next)
            if (strcmp(h->data, "Expect:") != 0)
                trace_header(r, '>', h->data, strlen(h->data));
        if (creds && c->auth == UH_AUTH_BASIC)
            uh_log(r->E, c, UNHOOK_LOG_TRACE, "> Authorization: ***");
        if (body)
            uh_log(r->E, c, UNHOOK_LOG_TRACE, "> (%zu bytes of body)", bodylen);
    }
    t->t0 = uh_now();
    if (uh_transfer_submit(s, t) < 0) {
        uh_transfer_free(s, t);
        uh_push_error(L, "transport", "cannot start the transfer");
        return -1;
    }
    r->xfer = t;
    return 0;
}

int uh_http_redirect(uh_sched *s, uh_transfer *t, CURLcode rc)
{
    uh_run *r = t->run;
    long status = 0;
    char *loc = NULL, *next;

    if (rc != CURLE_OK)
        return 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    if (status != 301 && status != 302 && status != 303 && status != 307 &&
        status != 308)
        return 0;
    curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &loc);
    if (!loc || t->redirects >= 5)
        return 0;               /* the 3xx reaches the flow as it is */
    if (!host_allowed(loc, t->base, t->hosts)) {
        t->forbidden = 1;
        return 0;
    }
    if (r->conn && r->conn->auth == UH_AUTH_QUERY && same_origin(loc, t->base)) {
        /* the same origin still gets the query credentials */
        uh_buf b = {0};
        const uh_conn *c = r->conn;
        uh_buf_puts(&b, loc);
        uh_buf_add(&b, strchr(loc, '?') ? "&" : "?", 1);
        uh_url_escape(&b, c->auth_name, strlen(c->auth_name));
        uh_buf_add(&b, "=", 1);
        uh_url_escape(&b, c->secret, strlen(c->secret));
        next = b.oom ? NULL : uh_buf_take(&b);
        uh_buf_free(&b);
    } else {
        next = uh_strdup(loc);
    }
    if (!next)
        return 0;
    t->redirects++;
    uh_log(r->E, r->conn, UNHOOK_LOG_TRACE, "< %ld: redirected to %s", status, next);
    curl_multi_remove_handle(s->multi, t->easy);
    free(t->url);
    t->url = next;
    curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
    if (status == 303 || ((status == 301 || status == 302) &&
                          strcmp(t->method, "POST") == 0)) {
        snprintf(t->method, sizeof t->method, "GET");
        curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(t->easy, CURLOPT_HTTPGET, 1L);
    }
    if (!same_origin(t->url, t->base)) {
        /* credentials never leave the origin they belong to */
        struct curl_slist *h, *kept = NULL;
        for (h = t->hdrs; h; h = h->next)
            if (!t->auth_line || strcmp(h->data, t->auth_line) != 0)
                kept = curl_slist_append(kept, h->data);
        curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, kept);
        curl_slist_free_all(t->hdrs);
        t->hdrs = kept;
        curl_easy_setopt(t->easy, CURLOPT_USERNAME, NULL);
        curl_easy_setopt(t->easy, CURLOPT_PASSWORD, NULL);
        curl_easy_setopt(t->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_NONE);
    }
    t->body.len = 0;
    t->head.len = 0;
    t->too_large = 0;
    if (curl_multi_add_handle(s->multi, t->easy) != CURLM_OK)
        return 0;
    return 1;
}

double uh_retry_after(const char *v, time_t now)
{
    char *end;
    long secs;
    time_t when;

    while (*v == ' ' || *v == '\t')
        v++;
    if (!*v)
        return -1;
    if (*v >= '0' && *v <= '9') {
        secs = strtol(v, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        return *end || secs < 0 ? -1 : (double)secs;
    }
    when = curl_getdate(v, NULL);
    if (when == (time_t)-1)
        return -1;
    return when > now ? (double)(when - now) : 0;
}

/*
 * Push what a finished transfer produced, as the values the coroutine
 * resumes with: a response table, or nil and an error object.
 */
int uh_http_push_result(lua_State *L, uh_transfer *t, CURLcode rc)
{
    uh_run *r = t->run;
    double ms = (uh_now() - t->t0) * 1000.0;
    long status = 0;
    const char *p, *end;
    double retry_after = -1;

    if (t->forbidden) {
        char *loc = NULL;
        char host[256] = "?";
        curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &loc);
        if (loc)
            uh_url_host(loc, host, sizeof host);
        uh_push_error(L, "forbidden_host", "%s %s: redirect to %s refused: the "
                      "connector may call only the base URL's host and the hosts "
                      "its manifest lists", t->method, t->url, host);
        return 2;
    }
    if (rc != CURLE_OK) {
        const char *code = rc == CURLE_OPERATION_TIMEDOUT ? "timeout"
                           : t->too_large ? "response_too_large"
                                          : "transport";
        uh_buf m = {0};
        uh_buf_printf(&m, "%s %s: %s", t->method, t->url,
                      t->too_large ? "response body larger than the limit"
                      : t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
        uh_log(r->E, r->conn, UNHOOK_LOG_TRACE, "< %s (%.1f ms)",
               m.data ? m.data : code, ms);
        uh_push_error(L, code, "%s", m.data ? m.data : code);
        uh_buf_free(&m);
        return 2;
    }
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    r->last_status = (int)status;
    uh_log(r->E, r->conn, UNHOOK_LOG_TRACE, "< %ld (%.1f ms)", status, ms);

    lua_createtable(L, 0, 8);
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, t->body.data ? t->body.data : "", t->body.len);
    lua_setfield(L, -2, "body");
    lua_pushstring(L, t->method);
    lua_setfield(L, -2, "method");
    lua_pushstring(L, t->url);
    lua_setfield(L, -2, "url");
    lua_pushnumber(L, ms);
    lua_setfield(L, -2, "duration_ms");

    lua_newtable(L);                       /* stack: resp headers */
    p = t->head.data ? t->head.data : "";
    end = p + t->head.len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *colon, *v;
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
        size_t vn;

        if (r->E->log_level >= UNHOOK_LOG_TRACE && strncmp(p, "HTTP/", 5))
            trace_header(r, '<', p, n);
        colon = memchr(p, ':', n);
        if (colon && strncmp(p, "HTTP/", 5) != 0) {
            char name[128];
            size_t k, kn = (size_t)(colon - p);
            if (kn >= sizeof name)
                kn = sizeof name - 1;
            for (k = 0; k < kn; k++)
                name[k] = (char)(p[k] >= 'A' && p[k] <= 'Z' ? p[k] + 32 : p[k]);
            name[kn] = '\0';
            v = colon + 1;
            while (v < p + n && (*v == ' ' || *v == '\t'))
                v++;
            vn = (size_t)(p + n - v);
            while (vn && (v[vn - 1] == '\r' || v[vn - 1] == ' '))
                vn--;
            lua_pushlstring(L, v, vn);
            lua_setfield(L, -2, name);
            if (strcmp(name, "retry-after") == 0) {
                char tmp[128];
                snprintf(tmp, sizeof tmp, "%.*s", (int)vn, v);
                retry_after = uh_retry_after(tmp, time(NULL));
            }
        }
        p = eol ? eol + 1 : end;
    }
    lua_setfield(L, -2, "headers");
    if (retry_after >= 0) {
        lua_pushnumber(L, retry_after);
        lua_setfield(L, -2, "retry_after");
    }
    return 1;
}
