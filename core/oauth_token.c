/*
 * oauth_token.c -- the OAuth2 token endpoint: the token request (a form
 * POST; client credentials in HTTP Basic or in the form) and its answer,
 * read into tokens or into an error classified for the lifecycle:
 * auth_unavailable (transport, 408, 429, 5xx: retry later), auth_revoked
 * (the grant or the client refused: re-authorize), auth_failed (any other
 * answer that is not a usable token).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oauth_token.h"
#include "url.h"

static void form_add(uh_buf *b, const char *k, const char *v)
{
    if (!v)
        return;
    if (b->len)
        uh_buf_add(b, "&", 1);
    uh_buf_puts(b, k);
    uh_buf_add(b, "=", 1);
    uh_url_escape(b, v, strlen(v));
}

static void form_build(uh_buf *form, const uh_oauth *o, const char *refresh)
{
    form_add(form, "grant_type", o->client_credentials ? "client_credentials"
                                                       : "refresh_token");
    if (!o->client_credentials)
        form_add(form, "refresh_token", refresh ? refresh : "");
    form_add(form, "scope", o->scope);
    form_add(form, "audience", o->audience);
    if (o->client_post || !o->client_secret) {
        form_add(form, "client_id", o->client_id);
        form_add(form, "client_secret", o->client_secret);
    }
}

uh_transfer *uh_token_request(uh_sched *s, uh_oauth *o, const char *refresh)
{
    const uh_conn *c = o->conn;
    uh_transfer *t;
    struct curl_slist *h;
    uh_buf form = {0};
    long timeout = c->timeout_ms > 0 ? c->timeout_ms : UH_DEFAULT_HTTP_TIMEOUT_MS;

    form_build(&form, o, refresh);
    t = form.oom ? NULL : uh_transfer_new(s, NULL);
    if (!t) {
        uh_buf_free(&form);
        return NULL;
    }
    t->oauth = o;
    t->dirty = 1;               /* a body, maybe credentials: reset after */
    t->max_body = UH_MAX_TOKEN_BODY;
    t->url = uh_strdup(o->token_url);
    t->req_body = uh_buf_take(&form);
    snprintf(t->method, sizeof t->method, "POST");
    t->hdrs = curl_slist_append(NULL, "Accept: application/json");
    h = t->hdrs ? curl_slist_append(t->hdrs, "Expect:") : NULL;
    if (!t->url || !t->req_body || !h) {
        uh_token_request_free(NULL, t);
        return NULL;
    }
    curl_easy_setopt(t->easy, CURLOPT_URL, t->url);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->req_body);
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->hdrs);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, timeout);
    if (!o->client_post && o->client_secret) {
        curl_easy_setopt(t->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(t->easy, CURLOPT_USERNAME, o->client_id);
        curl_easy_setopt(t->easy, CURLOPT_PASSWORD, o->client_secret);
    }
    if (c->ca_file)
        curl_easy_setopt(t->easy, CURLOPT_CAINFO, c->ca_file);
    if (c->insecure) {
        curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(t->easy, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    t->t0 = uh_now();
    return t;
}

void uh_token_request_free(uh_sched *s, uh_transfer *t)
{
    if (!t)
        return;
    if (t->body.data)
        memset(t->body.data, 0, t->body.len);
    if (t->req_body)
        memset(t->req_body, 0, strlen(t->req_body));
    uh_transfer_free(s, t);
}

void uh_token_answer_clear(uh_token_answer *a)
{
    char *tok[] = {a->access, a->refresh};

    for (size_t i = 0; i < sizeof tok / sizeof *tok; i++)
        if (tok[i])
            memset(tok[i], 0, strlen(tok[i]));
    free(a->code);
    free(a->msg);
    free(a->access);
    free(a->refresh);
    free(a->subject);
    memset(a, 0, sizeof *a);
}

/* ---- the answer -------------------------------------------------------- */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    return p;
}

/* The JSON string at p (just past its opening quote), unescaped. */
static char *json_string(const char *p)
{
    uh_buf v = {0};

    for (; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1]) {
            p++;
            if (*p == 'u') {            /* not in tokens: dropped */
                p += p[1] && p[2] && p[3] && p[4] ? 4 : 0;
                continue;
            }
            char e = *p == 'n' ? '\n' : *p == 't' ? '\t' : *p == 'r' ? '\r'
                   : *p == 'b' ? '\b' : *p == 'f' ? '\f' : *p;
            uh_buf_add(&v, &e, 1);
        } else {
            uh_buf_add(&v, p, 1);
        }
    }
    return v.oom ? (uh_buf_free(&v), NULL) : v.data ? uh_buf_take(&v) : uh_strdup("");
}

/* The value after "key": at p (past the key's closing quote): a string
 * (unescaped) or the text of a number, malloc'd; NULL with *odd set for
 * any other value; NULL alone when no ':' follows (not a key). */
static char *json_value(const char *p, int *odd)
{
    const char *e;

    p = skip_ws(p);
    if (*p != ':')
        return NULL;
    p = skip_ws(p + 1);
    if (*p == '"')
        return json_string(p + 1);
    for (e = p; *e == '-' || *e == '+' || *e == '.' || *e == 'e' || *e == 'E' ||
                (*e >= '0' && *e <= '9'); e++)
        ;
    if (e > p)
        return uh_strndup(p, (size_t)(e - p));
    *odd = 1;
    return NULL;
}

/* The string or number value of key in the flat JSON object text, as a
 * malloc'd string (strings unescaped), or NULL.  Nested values are
 * skipped; *bad is set when text is not a JSON object; *odd (may be
 * NULL) when key holds something else (true, null, an object...). */
static char *json_field(const char *text, const char *key, int *bad, int *odd)
{
    const char *p = skip_ws(text);
    size_t klen = strlen(key);
    int depth = 0, ignored = 0;

    if (*p != '{') {
        *bad = 1;
        return NULL;
    }
    for (; *p; p++) {
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            depth--;
        } else if (*p == '"') {
            const char *s = ++p;
            while (*p && *p != '"') {
                if (*p == '\\' && p[1])
                    p++;
                p++;
            }
            if (!*p)
                break;
            if (depth != 1 || (size_t)(p - s) != klen || strncmp(s, key, klen) != 0)
                continue;
            if (*skip_ws(p + 1) != ':')
                continue;               /* a value that reads like the key */
            return json_value(p + 1, odd ? odd : &ignored);
        }
    }
    return NULL;
}

/* A token as the row and a header line can carry it. */
static int token_ok(const char *s)
{
    if (!s || !*s)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static void fail_as(uh_token_answer *a, const char *code, uh_buf *m)
{
    free(a->code);
    free(a->msg);
    a->code = uh_strdup(code);
    a->msg = m->data ? uh_buf_take(m) : uh_strdup(code);
    uh_buf_free(m);
}

/* The provider's error text as a message carries it: secrets masked
 * first (a cut must not leave part of one), control characters
 * (a line break would forge a line of output or history) as spaces, and
 * cut to MAX_ERROR_TEXT bytes (at a character), as a flow's HTTP error
 * cuts the body it shows. */
#define MAX_ERROR_TEXT 300

static char *tame(const uh_conn *c, char *raw)
{
    char *s = raw ? uh_redact(&c->secrets, raw) : NULL, *p = s;
    size_t n;

    if (raw)
        memset(raw, 0, strlen(raw));
    free(raw);
    if (!s)
        return NULL;
    n = strlen(s);
    if (n > MAX_ERROR_TEXT) {
        n = MAX_ERROR_TEXT - 3;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
        memcpy(s + n, "...", 4);
    }
    for (; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    return s;
}

/* A 4xx from the token endpoint: revoked, or another refusal. */
static void refused(const uh_oauth *o, const char *file, long status,
                    const char *body, uh_token_answer *a)
{
    int bad = 0;
    char *err = tame(o->conn, json_field(body, "error", &bad, NULL));
    char *desc = tame(o->conn, json_field(body, "error_description", &bad, NULL));
    uh_buf m = {0};

    if (err && (strcmp(err, "invalid_grant") == 0 || strcmp(err, "invalid_client") == 0 ||
                strcmp(err, "unauthorized_client") == 0)) {
        int grant = strcmp(err, "invalid_grant") == 0 && !o->client_credentials;
        uh_buf_printf(&m, "%s: the OAuth2 provider refused the %s (%s%s%s): "
                      "re-authorize the connection, update the connection file "
                      "(a new %s), then `unhook retry`", file,
                      grant ? "refresh token" : "client credentials",
                      err, desc ? ": " : "", desc ? desc : "",
                      grant ? "refresh_token" : "client_id/client_secret");
        fail_as(a, "auth_revoked", &m);
        a->grant_dead = grant;
    } else {
        uh_buf_printf(&m, "%s: token endpoint answered %ld%s%s%s%s", file, status,
                      err ? " " : "", err ? err : "", desc ? ": " : "", desc ? desc : "");
        fail_as(a, "auth_failed", &m);
    }
    free(err);
    free(desc);
}

/* expires_in as seconds, or NAN when it is not a number (a number, or a
 * string of one, as some providers send it). */
static double lifetime(const char *v)
{
    char *end;
    double life;

    if (!*v || strspn(v, "0123456789.eE+-") != strlen(v))
        return NAN;
    life = strtod(v, &end);
    return !*end && isfinite(life) ? life : NAN;
}

/* Why a 2xx answer is no usable token, or NULL. */
static const char *unusable(int bad, const char *access, const char *refresh,
                            double life)
{
    if (bad)
        return "something that is not a JSON object";
    if (!access)
        return "without an access_token";
    if (!token_ok(access) || (refresh && !token_ok(refresh)))
        return "a token that is not printable text";
    if (isnan(life))
        return "an expires_in that is not a number of seconds";
    if (life < 0)
        return "a negative expires_in";
    return NULL;
}

/* A 2xx: the tokens into a, or why they are no use. */
static void accepted(const uh_oauth *o, const char *file, const char *body,
                     uh_token_answer *a)
{
    static const char *const who[] = {"email", "username", "user", "name",
                                      "sub", "user_id", "account_id", NULL};
    int bad = 0, odd = 0;
    char *expires = json_field(body, "expires_in", &bad, &odd);
    const char *why;

    a->access = json_field(body, "access_token", &bad, NULL);
    a->refresh = json_field(body, "refresh_token", &bad, NULL);
    a->life = odd ? NAN : expires ? lifetime(expires) : 0;
    why = unusable(bad, a->access, a->refresh, a->life);
    if (!expires && !odd)
        a->life = -1;               /* not said */
    free(expires);
    if (why) {
        uh_buf m = {0};
        uh_buf_printf(&m, "%s: token endpoint %s answered %s", file, o->token_url, why);
        fail_as(a, "auth_failed", &m);
        return;
    }
    for (int i = 0; who[i] && !a->subject; i++) {
        char *v = json_field(body, who[i], &bad, NULL);
        if (v && *v && token_ok(v))
            a->subject = v;
        else
            free(v);
    }
}

void uh_token_read(const uh_oauth *o, const char *file, uh_transfer *t,
                   CURLcode rc, uh_token_answer *a)
{
    long status = 0;
    uh_buf m = {0};

    memset(a, 0, sizeof *a);
    if (t->too_large) {
        uh_buf_printf(&m, "%s: token endpoint %s answered more than %u KiB, which "
                      "is no token answer (is token_url right?)", file, o->token_url,
                      UH_MAX_TOKEN_BODY >> 10);
        fail_as(a, "auth_failed", &m);
        return;
    }
    if (rc != CURLE_OK) {
        uh_buf_printf(&m, "%s: token endpoint %s: %s", file, o->token_url,
                      t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
        fail_as(a, "auth_unavailable", &m);
        return;
    }
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
    uh_buf_add(&t->body, "", 1);        /* NUL-terminated */
    if (status == 429 || status == 408 || status >= 500) {
        uh_buf_printf(&m, "%s: token endpoint %s answered %ld: try again later",
                      file, o->token_url, status);
        fail_as(a, "auth_unavailable", &m);
    } else if (status >= 400) {
        refused(o, file, status, t->body.data ? t->body.data : "", a);
    } else if (status < 200 || status > 299) {
        uh_buf_printf(&m, "%s: token endpoint %s answered %ld", file,
                      o->token_url, status);
        fail_as(a, "auth_failed", &m);
    } else {
        accepted(o, file, t->body.data ? t->body.data : "", a);
    }
}
