/*
 * response.c -- what a finished transfer produced: redirects followed
 * within the allowed hosts, and the response table (or an error object)
 * the flow is resumed with.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Fill the table on top of L with t's response headers (names in lower
 * case, the last of repeated ones); *retry_after from Retry-After. */
static void push_headers(lua_State *L, uh_transfer *t, double *retry_after)
{
    uh_run *r = t->run;
    const char *p, *end;

    p = t->head.data ? t->head.data : "";
    end = p + t->head.len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *colon, *v;
        size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
        size_t vn;

        if (r->diag && r->diag->log_level >= UNHOOK_LOG_TRACE && strncmp(p, "HTTP/", 5))
            uh_http_trace_header(r, '<', p, n);
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
            lua_pushstring(L, name);        /* a fresh table: no metamethods */
            lua_pushlstring(L, v, vn);
            lua_rawset(L, -3);
            if (strcmp(name, "retry-after") == 0) {
                char tmp[128];
                snprintf(tmp, sizeof tmp, "%.*s", (int)vn, v);
                *retry_after = uh_retry_after(tmp, time(NULL));
            }
        }
        p = eol ? eol + 1 : end;
    }
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
    double retry_after = -1;

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
    /* a provider that echoes the credentials hands them to no flow */
    uh_mask_buf(UH_SECRETS(r->conn), &t->body);
    uh_mask_buf(UH_SECRETS(r->conn), &t->head);
    uh_log(r->diag, UH_SECRETS(r->conn), UNHOOK_LOG_TRACE, "%s< %ld (%.1f ms)", r->tag, status, ms);
    uh_tape_done(t, status, NULL, NULL);

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

    {
        /* sized for the header lines there are (not the status line nor
         * the blank one): no rehash as they go in */
        int lines = 0;
        const char *h = t->head.data ? t->head.data : "", *end = h + t->head.len;
        while (h && h < end && (h = memchr(h, ':', (size_t)(end - h)))) {
            lines++;
            h = memchr(h, '\n', (size_t)(end - h));
        }
        lua_createtable(L, 0, lines);      /* stack: resp headers */
    }
    push_headers(L, t, &retry_after);
    lua_setfield(L, -2, "headers");
    if (retry_after >= 0) {
        lua_pushnumber(L, retry_after);
        lua_setfield(L, -2, "retry_after");
    }
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
