/*
 * response.c -- what a finished transfer produced: redirects followed
 * within the allowed hosts, and the response table (or an error object)
 * the flow is resumed with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <lauxlib.h>

#include "oauth.h"
#include "url.h"
#include "cassette.h"

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
    if (!uh_url_host_allowed(loc, t->base, t->hosts)) {
        t->forbidden = 1;
        return 0;
    }
    /* the same origin still gets the query credentials */
    next = uh_url_same_origin(loc, t->base) ? uh_http_redirect_url(r, loc)
                                             : uh_strdup(loc);
    if (!next)
        return 0;
    t->redirects++;
    t->dirty = 1;
    uh_log(r->diag, UH_SECRETS(r->conn), UNHOOK_LOG_TRACE, "%s< %ld: redirected to %s", r->tag, status, next);
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
    if (!uh_url_same_origin(t->url, t->base)) {
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

void uh_http_mask_url(uh_transfer *t)
{
    char *shown = uh_redact(UH_SECRETS(t->run->conn), t->url);

    if (shown) {
        free(t->url);
        t->url = shown;
    } else {
        t->url[0] = '\0';      /* never shown unmasked */
    }
}

/*
 * A response table has status, body (json, retry_after) at once; its
 * headers, url, method and duration_ms are set when a flow first reads
 * one of them: most flows never do, and a table of headers a response
 * is most of what reading a response back costs.  Until then what they
 * are made from (the masked header block and URL among it) waits in a
 * weak table of the state's (RAW_KEY: the response -> a string), which
 * only C reaches; the responses share one metatable (MT_KEY) whose
 * __index and __pairs set them.  retry_after is read at once (an HTTP
 * date is seconds from now).
 */
static const char MT_KEY = 'm', RAW_KEY = 'r';

/* The value of the header line p (n bytes) whose name is kn bytes long
 * (the colon at p[kn]): blanks around it left out; its length in *vn. */
static const char *header_value(const char *p, size_t n, size_t kn, size_t *vn)
{
    const char *v = p + kn + 1;

    while (v < p + n && (*v == ' ' || *v == '\t'))
        v++;
    *vn = (size_t)(p + n - v);
    while (*vn && (v[*vn - 1] == '\r' || v[*vn - 1] == ' '))
        (*vn)--;
    return v;
}

/* Whether a response of this Content-Type may be read as JSON (the same
 * rule as http.lua's may_be_json): a JSON type or text/plain. */
static int may_be_json(const char *ct, size_t n)
{
    size_t i = 0, k;

    n = strnlen(ct, n);                 /* as C reads the value: to a NUL */
    while (i < n && strchr(" \t\r\n\f\v", ct[i]))
        i++;
    ct += i;
    n -= i;
    for (k = 0; k < n && !strchr("; \t\r\n\f\v", ct[k]); k++)
        ;
    if (k == 0 || (k == 10 && strncasecmp(ct, "text/plain", 10) == 0))
        return 1;
    for (i = 0; i + 4 <= k; i++)
        if (strncasecmp(ct + i, "json", 4) == 0)
            return 1;
    return 0;
}

/* What a response's header block says at once: its lines traced, the
 * seconds of Retry-After (-1: none), whether its Content-Type lets the
 * body be read as JSON (none does) -- the last of repeated ones, as the
 * headers table keeps them. */
static void scan_head(uh_run *r, const uh_buf *head, double *retry_after, int *json)
{
    const char *p = head->data ? head->data : "", *end = p + head->len;
    int trace = r->diag && r->diag->log_level >= UNHOOK_LOG_TRACE;

    *retry_after = -1;
    *json = 1;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p), vn;
        const char *v;

        if (trace && strncmp(p, "HTTP/", 5))
            uh_http_trace_header(r, '<', p, n);
        if ((*p | 0x20) == 'r' && n > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
            char tmp[128];
            v = header_value(p, n, 11, &vn);
            snprintf(tmp, sizeof tmp, "%.*s", (int)vn, v);
            *retry_after = uh_retry_after(tmp, time(NULL));
        } else if ((*p | 0x20) == 'c' && n > 13 && strncasecmp(p, "content-type:", 13) == 0) {
            v = header_value(p, n, 12, &vn);
            *json = may_be_json(v, vn);
        }
        p = eol ? eol + 1 : end;
    }
}

/* What a response's fields set when first read are made from. */
typedef struct later {
    double ms;
    const char *method, *head, *url;
    size_t mn, hn, un;
} later;

/* Whether the table at idx has no field k (k stays on the stack when
 * it has none: the key to set). */
static int absent(lua_State *L, int idx, const char *k)
{
    lua_pushstring(L, k);
    lua_pushvalue(L, -1);
    if (lua_rawget(L, idx) == LUA_TNIL) {
        lua_pop(L, 1);
        return 1;
    }
    lua_pop(L, 2);
    return 0;
}

/* Set the response table at idx's method, duration_ms, url and headers
 * (names in lower case, the last of repeated ones), each unless the
 * table has it already. */
static void fill(lua_State *L, int idx, const later *w)
{
    const char *p = w->head, *end = w->head + w->hn, *h = w->head;
    int lines = 0;

    if (absent(L, idx, "method")) {
        lua_pushlstring(L, w->method, w->mn);
        lua_rawset(L, idx);
    }
    if (absent(L, idx, "duration_ms")) {
        lua_pushnumber(L, w->ms);
        lua_rawset(L, idx);
    }
    if (absent(L, idx, "url")) {
        lua_pushlstring(L, w->url, w->un);
        lua_rawset(L, idx);
    }
    if (!absent(L, idx, "headers"))
        return;
    /* sized for the header lines there are (not the status line nor the
     * blank one): no rehash as they go in */
    while (h < end && (h = memchr(h, ':', (size_t)(end - h)))) {
        lines++;
        h = memchr(h, '\n', (size_t)(end - h));
        if (!h)
            break;
    }
    lua_createtable(L, 0, lines);
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t ln = eol ? (size_t)(eol - p) : (size_t)(end - p);
        const char *colon = memchr(p, ':', ln);

        if (colon && strncmp(p, "HTTP/", 5) != 0) {
            char name[128];
            size_t k, kn = (size_t)(colon - p), vn;
            const char *v = header_value(p, ln, kn, &vn);
            if (kn >= sizeof name)
                kn = sizeof name - 1;
            for (k = 0; k < kn; k++)
                name[k] = (char)(p[k] >= 'A' && p[k] <= 'Z' ? p[k] + 32 : p[k]);
            lua_pushlstring(L, name, kn);   /* a fresh table: no metamethods */
            lua_pushlstring(L, v, vn);
            lua_rawset(L, -3);
        }
        p = eol ? eol + 1 : end;
    }
    lua_rawset(L, idx);
}

/* The block w is kept as: the double ms, then "METHOD\nHEAD\nURL" (the
 * method has no LF, the URL none either). */
static void unpack_later(const char *s, size_t n, later *w)
{
    const char *e = s + n, *q;

    memcpy(&w->ms, s, sizeof w->ms);
    s += sizeof w->ms;
    q = memchr(s, '\n', (size_t)(e - s));
    w->method = s;
    w->mn = (size_t)(q - s);
    w->head = s = q + 1;
    for (q = s; (s = memchr(s, '\n', (size_t)(e - s))); s++)
        q = s;                          /* the last LF: the URL follows */
    w->hn = (size_t)(q - w->head);
    w->url = q + 1;
    w->un = (size_t)(e - w->url);
}

void uh_http_resp_fill(lua_State *L, int idx)
{
    const char *s;
    size_t n;
    later w;

    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE)
        return;
    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &RAW_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        return;
    }
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) != LUA_TSTRING) {
        lua_pop(L, 2);
        return;
    }
    s = lua_tolstring(L, -1, &n);     /* kept on the stack meanwhile */
    unpack_later(s, n, &w);
    fill(L, idx, &w);
    lua_pop(L, 1);
    lua_pushvalue(L, idx);
    lua_pushnil(L);
    lua_rawset(L, -3);                  /* set once */
    lua_pop(L, 1);
}

/* __index of responses: the fields set when first read. */
static int resp_index(lua_State *L)
{
    const char *k;

    if (lua_type(L, 2) != LUA_TSTRING)
        return 0;
    k = lua_tostring(L, 2);
    if (strcmp(k, "headers") != 0 && strcmp(k, "url") != 0 &&
        strcmp(k, "method") != 0 && strcmp(k, "duration_ms") != 0)
        return 0;
    uh_http_resp_fill(L, 1);
    if (!lua_istable(L, 1))
        return 0;
    lua_settop(L, 2);
    lua_rawget(L, 1);
    return 1;
}

static int resp_next(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 2);
    if (lua_next(L, 1))
        return 2;
    lua_pushnil(L);
    return 1;
}

/* __pairs of responses: every field, those set when first read too. */
static int resp_pairs(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    uh_http_resp_fill(L, 1);
    lua_pushcfunction(L, resp_next);
    lua_pushvalue(L, 1);
    lua_pushnil(L);
    return 3;
}

void uh_http_open_resp(lua_State *L)
{
    lua_newtable(L);                    /* the raw blocks, by response */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &RAW_KEY);
    lua_createtable(L, 0, 2);
    lua_pushcfunction(L, resp_index);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, resp_pairs);
    lua_setfield(L, -2, "__pairs");
    lua_pushvalue(L, -1);
    lua_rawsetp(L, LUA_REGISTRYINDEX, &MT_KEY);
}

/* The response on top gets the rest of its fields when first read: w
 * kept for it, and the responses' metatable (no weak table: set now). */
static void keep_later(lua_State *L, const later *w)
{
    size_t n = sizeof w->ms + w->mn + 1 + w->hn + 1 + w->un;
    luaL_Buffer b;
    char *p;

    if (lua_rawgetp(L, LUA_REGISTRYINDEX, &RAW_KEY) != LUA_TTABLE) {
        lua_pop(L, 1);
        fill(L, lua_gettop(L), w);
        return;
    }
    lua_pushvalue(L, -2);               /* stack: resp raw resp */
    p = luaL_buffinitsize(L, &b, n);
    memcpy(p, &w->ms, sizeof w->ms);
    p += sizeof w->ms;
    memcpy(p, w->method, w->mn);
    p += w->mn;
    *p++ = '\n';
    if (w->hn)
        memcpy(p, w->head, w->hn);
    p += w->hn;
    *p++ = '\n';
    memcpy(p, w->url, w->un);
    luaL_pushresultsize(&b, n);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    lua_rawgetp(L, LUA_REGISTRYINDEX, &MT_KEY);
    lua_setmetatable(L, -2);
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
    double retry_after;
    later w;

    uh_http_mask_url(t);
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
        uh_log(r->diag, UH_SECRETS(r->conn), UNHOOK_LOG_TRACE, "%s< %s (%.1f ms)",
               r->tag, m.data ? m.data : code, ms);
        uh_tape_done(t, 0, code, t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
        uh_push_error(L, code, "%s", m.data ? m.data : code);
        uh_buf_free(&m);
        return 2;
    }
    if (t->replayed)
        status = t->replay_status;
    else
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    r->last_status = (int)status;
    /* a provider that echoes the credentials hands them to no flow: the
     * header block is masked before anything reads it, now or later */
    uh_mask_buf(UH_SECRETS(r->conn), &t->body);
    uh_mask_buf(UH_SECRETS(r->conn), &t->head);
    uh_log(r->diag, UH_SECRETS(r->conn), UNHOOK_LOG_TRACE, "%s< %ld (%.1f ms)", r->tag, status, ms);
    uh_tape_done(t, status, NULL, NULL);
    scan_head(r, &t->head, &retry_after, &r->answer_json);

    lua_createtable(L, 0, 8);
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    lua_pushlstring(L, t->body.data ? t->body.data : "", t->body.len);
    lua_setfield(L, -2, "body");
    if (retry_after >= 0) {
        lua_pushnumber(L, retry_after);
        lua_setfield(L, -2, "retry_after");
    }
    w.ms = ms;
    w.method = t->method;
    w.mn = strlen(t->method);
    w.head = t->head.data ? t->head.data : "";
    w.hn = t->head.len;
    w.url = t->url;
    w.un = strlen(t->url);
    keep_later(L, &w);
    return 1;
}

/* A 401 from the origin of an OAuth2 connection, to be retried once. */
static int rejected(uh_run *r, uh_transfer *t)
{
    long status = 0;

    if (!r->conn || !r->conn->oauth || r->answer_rc != CURLE_OK || !t->auth_line ||
        !uh_url_same_origin(t->url, t->base))
        return 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    return status == 401 && uh_oauth_rejected(r, t->auth_line);
}

int uh_http_resume_values(lua_State *L, uh_run *r)
{
    uh_transfer *t = r->answered;
    int n;

    if (r->expired) {
        /* freed when the run ends (or expires again) */
        lua_pushnil(L);
        lua_createtable(L, 0, 2);
        lua_pushliteral(L, "timeout");
        lua_setfield(L, -2, "code");
        lua_pushstring(L, r->expired);
        lua_setfield(L, -2, "message");
        return 2;
    }
    if (r->token_wait == 2) {
        r->token_wait = 0;
        if (!r->token_code)
            return -1;          /* the token came: send the request */
        uh_push_error(L, r->token_code, "%s", r->token_msg ? r->token_msg : "");
        free(r->token_code);
        free(r->token_msg);
        r->token_code = r->token_msg = NULL;
        return 2;
    }
    if (!t) {
        uh_push_error(L, "timeout", "flow ran past its time budget while waiting "
                      "for the response");
        return 2;
    }
    if (rejected(r, t)) {
        r->answered = NULL;
        uh_transfer_free(r->sched, t);
        return -1;              /* once more, with a new token */
    }
    n = uh_http_push_result(L, t, (CURLcode)r->answer_rc);
    r->answered = NULL;
    uh_transfer_free(r->sched, t);
    return n;
}
