/*
 * cassette.c -- HTTP exchanges recorded and replayed, and dry runs.
 * A recorded exchange is one JSON line: method, url, request_headers,
 * request_body, status, headers, body (or error: code and message),
 * every string masked with the connection's secrets.  Replay answers a
 * request with the first unused entry of the same method and URL (and
 * body, where one was recorded), so repeats are answered in order.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cassette.h"
#include "json.h"

typedef struct tape_entry {
    char *method, *url, *req_body, *head, *body, *err_code, *err_msg;
    size_t req_body_len, body_len;
    long status;
    int used;
} tape_entry;

struct uh_tape {
    tape_entry *v;
    int n, cap;
    int replay, dry;
    char *name;
    unhook_line_fn record;
    void *record_ud;
};

uh_tape *uh_tape_new(void)
{
    return calloc(1, sizeof(uh_tape));
}

static void entries_free(uh_tape *tp)
{
    for (int i = 0; i < tp->n; i++) {
        tape_entry *e = &tp->v[i];
        free(e->method);
        free(e->url);
        free(e->req_body);
        free(e->head);
        free(e->body);
        free(e->err_code);
        free(e->err_msg);
    }
    tp->n = 0;
}

void uh_tape_free(uh_tape *tp)
{
    if (!tp)
        return;
    entries_free(tp);
    free(tp->v);
    free(tp->name);
    free(tp);
}

void uh_tape_reset(uh_tape *tp, int replay, const char *name)
{
    entries_free(tp);
    free(tp->name);
    tp->name = name ? uh_strdup(name) : NULL;
    tp->replay = replay;
}

void uh_tape_record(uh_tape *tp, unhook_line_fn fn, void *ud)
{
    tp->record = fn;
    tp->record_ud = ud;
}

void uh_tape_dry(uh_tape *tp, int on)
{
    tp->dry = on;
}

int uh_tape_active(const uh_tape *tp)
{
    return tp && (tp->replay || tp->dry || tp->record);
}

/* A dry run sends GET and HEAD only. */
static int dry_kept(const uh_tape *tp, const char *method)
{
    return tp->dry && strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

int uh_tape_offline(const uh_tape *tp, const char *method)
{
    return tp && (tp->replay || dry_kept(tp, method));
}

static char *dup_n(const char *s, size_t n)
{
    return s ? uh_strndup(s, n) : NULL;
}

int uh_tape_add(uh_tape *tp, const uh_tape_entry *in)
{
    tape_entry *e;

    if (tp->n == tp->cap) {
        int cap = tp->cap ? tp->cap * 2 : 16;
        tape_entry *v = realloc(tp->v, (size_t)cap * sizeof *v);
        if (!v)
            return -1;
        tp->v = v;
        tp->cap = cap;
    }
    e = &tp->v[tp->n];
    memset(e, 0, sizeof *e);
    e->method = uh_strdup(in->method ? in->method : "GET");
    e->url = uh_strdup(in->url ? in->url : "");
    e->req_body = dup_n(in->req_body, in->req_body_len);
    e->req_body_len = in->req_body_len;
    e->status = in->status;
    e->head = uh_strdup(in->head ? in->head : "");
    e->body = dup_n(in->body ? in->body : "", in->body ? in->body_len : 0);
    e->body_len = in->body ? in->body_len : 0;
    e->err_code = in->err_code ? uh_strdup(in->err_code) : NULL;
    e->err_msg = in->err_msg ? uh_strdup(in->err_msg) : NULL;
    tp->n++;
    if (!e->method || !e->url || !e->head || !e->body ||
        (in->req_body && !e->req_body))
        return -1;
    return 0;
}

/*
 * Whether a header's value is a credential, whatever the connection:
 * Authorization, Proxy-Authorization, Cookie, Set-Cookie; and, for a
 * request, any name holding "auth", "key", "token", "secret" or
 * "password" (X-Api-Key, X-Auth-Token, Private-Token, ...), as a
 * connection's `headers` may carry an API key.  Only request headers
 * take the wide rule: a flow may read a response header such as a page
 * token, and replay must give it back as it was.
 */
int uh_credential_header(const char *name, size_t n, int request)
{
    static const char *const names[] = {"authorization",
        "proxy-authorization", "cookie", "set-cookie", NULL};
    static const char *const parts[] = {"auth", "key", "token", "secret",
        "password", NULL};

    for (const char *const *p = names; *p; p++)
        if (strlen(*p) == n && strncasecmp(name, *p, n) == 0)
            return 1;
    for (const char *const *p = parts; request && *p; p++)
        for (size_t k = 0, m = strlen(*p); k + m <= n; k++)
            if (strncasecmp(name + k, *p, m) == 0)
                return 1;
    return 0;
}

/* A masked string member of the line being written. */
static void masked_member(uh_buf *b, int *count, const uh_secrets *sec,
                          const char *key, const char *s, size_t n)
{
    uh_buf v = {0};

    uh_buf_add(&v, s ? s : "", s ? n : 0);
    uh_mask_buf(sec, &v);
    uh_json_key(b, count, key, strlen(key), UH_JSON_ESC_NONE);
    uh_json_str(b, v.data ? v.data : "", v.len, UH_JSON_ESC_LUA);
    uh_buf_free(&v);
}

/* The request's headers, one member each, credentials as "***". */
static void request_headers(uh_buf *b, const uh_secrets *sec,
                            const uh_transfer *t, int basic)
{
    int count = 0;

    for (const struct curl_slist *h = t->hdrs; h; h = h->next) {
        const char *colon = strchr(h->data, ':'), *v;
        if (!colon || !colon[1])
            continue;           /* "Expect:" and the like: none sent */
        v = colon + 1;
        while (*v == ' ')
            v++;
        if (uh_credential_header(h->data, (size_t)(colon - h->data), 1)) {
            uh_json_key(b, &count, h->data, (size_t)(colon - h->data), UH_JSON_ESC_LUA);
            uh_buf_puts(b, "\"***\"");
            continue;
        }
        uh_buf v2 = {0};
        uh_buf_add(&v2, h->data, (size_t)(colon - h->data));
        masked_member(b, &count, sec, v2.data ? v2.data : "", v, strlen(v));
        uh_buf_free(&v2);
    }
    if (basic) {
        uh_json_key(b, &count, "Authorization", 13, UH_JSON_ESC_NONE);
        uh_buf_puts(b, "\"***\"");
    }
    uh_json_end(b, count, '{', '}');
}

/* The request half of t's line, for uh_tape_done: its members method,
 * request_body and request_headers, a newline, then the URL as a JSON
 * string (JSON text holds no raw newline). */
static char *request_text(const uh_transfer *t, size_t bodylen, int basic)
{
    const uh_secrets *sec = UH_SECRETS(t->run->conn);
    uh_buf b = {0};
    int count = 0;

    masked_member(&b, &count, sec, "method", t->method, strlen(t->method));
    if (t->req_body)
        masked_member(&b, &count, sec, "request_body", t->req_body, bodylen);
    uh_json_key(&b, &count, "request_headers", 15, UH_JSON_ESC_NONE);
    request_headers(&b, sec, t, basic);
    uh_buf_add(&b, "\n", 1);
    count = 0;
    masked_member(&b, &count, sec, "u", t->url, strlen(t->url));
    if (b.oom) {
        uh_buf_free(&b);
        return NULL;
    }
    return uh_buf_take(&b);
}

/* Whether an entry's text, masked as the request was (a cassette written
 * by hand may hold a secret as it is), equals the request's. */
static int same_masked(const uh_secrets *sec, const char *s, size_t n,
                       const uh_buf *want)
{
    uh_buf b = {0};
    int same;

    uh_buf_add(&b, s, n);
    uh_mask_buf(sec, &b);
    same = !b.oom && b.len == want->len &&
           memcmp(b.data ? b.data : "", want->data ? want->data : "", b.len) == 0;
    uh_buf_free(&b);
    return same;
}

/* The first unused entry that answers t, or NULL (*seen: entries of the
 * same method and URL, used up). */
static tape_entry *find(uh_tape *tp, const uh_secrets *sec, const char *method,
                        const uh_buf *url, const uh_buf *body, int *seen)
{
    *seen = 0;
    for (int i = 0; i < tp->n; i++) {
        tape_entry *e = &tp->v[i];
        if (strcmp(e->method, method) != 0 ||
            !same_masked(sec, e->url, strlen(e->url), url))
            continue;
        if (e->req_body && !same_masked(sec, e->req_body, e->req_body_len, body))
            continue;
        if (e->used) {
            (*seen)++;
            continue;
        }
        return e;
    }
    return NULL;
}

/* Answer t from e: the body, the header lines, the status or failure. */
static void answer(uh_transfer *t, const tape_entry *e)
{
    uh_run *r = t->run;

    t->replayed = 1;
    t->replay_status = e->status;
    uh_buf_printf(&t->head, "HTTP/1.1 %ld\r\n%s", e->status, e->head);
    r->answer_rc = CURLE_OK;
    if (e->body_len > t->max_body) {    /* as a live answer would fail */
        t->too_large = 1;
        r->answer_rc = CURLE_WRITE_ERROR;
    } else {
        uh_buf_add(&t->body, e->body, e->body_len);
    }
    if (e->err_code) {
        r->answer_rc = strcmp(e->err_code, "timeout") == 0
                       ? CURLE_OPERATION_TIMEDOUT : CURLE_COULDNT_CONNECT;
        snprintf(t->errbuf, sizeof t->errbuf, "%s", e->err_msg ? e->err_msg : e->err_code);
    }
    r->answered = t;
    r->xfer = NULL;
}

static int replay(uh_tape *tp, uh_transfer *t, size_t bodylen, char **miss)
{
    const uh_secrets *sec = UH_SECRETS(t->run->conn);
    uh_buf body = {0}, m = {0}, ub = {0};
    char *url = uh_redact(sec, t->url);
    tape_entry *e;
    int seen = 0;

    uh_buf_add(&body, t->req_body ? t->req_body : "", t->req_body ? bodylen : 0);
    uh_mask_buf(sec, &body);
    if (url)
        uh_buf_puts(&ub, url);
    e = url && !ub.oom ? find(tp, sec, t->method, &ub, &body, &seen) : NULL;
    uh_buf_free(&ub);
    if (e) {
        e->used = 1;
        answer(t, e);
    } else {
        uh_buf_printf(&m, "%s %s%s%s: no answer in the cassette %s", t->method,
                      url ? url : "?", body.len ? " with body " : "",
                      body.len ? body.data : "", tp->name ? tp->name : "");
        if (url && seen)
            uh_buf_printf(&m, " (its %d recorded answer%s used up)", seen,
                          seen == 1 ? " is" : "s are");
        *miss = m.oom ? (uh_buf_free(&m), NULL) : uh_buf_take(&m);
    }
    free(url);
    uh_buf_free(&body);
    return e ? 1 : -1;
}

int uh_tape_start(uh_tape *tp, uh_transfer *t, size_t bodylen, int basic,
                  char **miss)
{
    uh_run *r = t->run;

    *miss = NULL;
    if (tp->record)
        t->taped = request_text(t, bodylen, basic);
    if (tp->replay)
        return replay(tp, t, bodylen, miss);
    if (dry_kept(tp, t->method)) {
        tape_entry e = {.status = 204, .head = (char *)"x-unhook-dry-run: 1\r\n",
                        .body = (char *)""};
        char *url = uh_redact(UH_SECRETS(r->conn), t->url);
        uh_log(r->diag, NULL, UNHOOK_LOG_INFO, "%sdry run: %s %s not sent",
               r->tag, t->method, url ? url : "?");
        free(url);
        answer(t, &e);
        return 1;
    }
    return 0;
}

/* The response's header lines as one object, names as the provider
 * sent them (replay matches them in any case, as flows read them). */
static void response_headers(uh_buf *b, const uh_secrets *sec, const uh_transfer *t)
{
    const char *p = t->head.data ? t->head.data : "", *end = p + t->head.len;
    int count = 0;

    for (const char *eol; p < end; p = eol ? eol + 1 : end) {
        size_t n, kn;
        const char *colon, *v;

        eol = memchr(p, '\n', (size_t)(end - p));
        for (n = eol ? (size_t)(eol - p) : (size_t)(end - p);
             n && (p[n - 1] == '\r' || p[n - 1] == ' '); n--)
            ;
        colon = memchr(p, ':', n);
        if (!colon || strncmp(p, "HTTP/", 5) == 0)
            continue;
        kn = (size_t)(colon - p);
        for (v = colon + 1; v < p + n && (*v == ' ' || *v == '\t'); v++)
            ;
        if (uh_credential_header(p, kn, 0)) {
            uh_json_key(b, &count, p, kn, UH_JSON_ESC_LUA);
            uh_buf_puts(b, "\"***\"");
            continue;
        }
        uh_buf k = {0};
        uh_buf_add(&k, p, kn);
        masked_member(b, &count, sec, k.data ? k.data : "", v, (size_t)(p + n - v));
        uh_buf_free(&k);
    }
    uh_json_end(b, count, '{', '}');
}

void uh_tape_done(uh_transfer *t, long status, const char *err_code,
                  const char *err_detail)
{
    uh_tape *tp = t->run->sched->tape;
    const uh_secrets *sec = UH_SECRETS(t->run->conn);
    const char *nl = t->taped ? strchr(t->taped, '\n') : NULL;
    uh_buf b = {0};
    int count = 0, ec = 0;

    if (!tp || !tp->record || !nl)
        return;
    /* keys sorted: body, dry_run, error, headers, method, request_body,
     * request_headers, status, url */
    if (!err_code)
        masked_member(&b, &count, sec, "body", t->body.data, t->body.len);
    if (t->replayed && tp->dry && !tp->replay) {
        uh_json_key(&b, &count, "dry_run", 7, UH_JSON_ESC_NONE);
        uh_buf_puts(&b, "true");
    }
    if (err_code) {
        uh_json_key(&b, &count, "error", 5, UH_JSON_ESC_NONE);
        masked_member(&b, &ec, sec, "code", err_code, strlen(err_code));
        masked_member(&b, &ec, sec, "message", err_detail ? err_detail : "",
                      err_detail ? strlen(err_detail) : 0);
        uh_json_end(&b, ec, '{', '}');
    } else {
        uh_json_key(&b, &count, "headers", 7, UH_JSON_ESC_NONE);
        response_headers(&b, sec, t);
    }
    uh_json_member(&b, &count, '{');
    uh_buf_add(&b, t->taped + 1, (size_t)(nl - t->taped - 1));
    if (!err_code) {
        uh_json_key(&b, &count, "status", 6, UH_JSON_ESC_NONE);
        uh_json_int(&b, status);
    }
    /* nl + 1 is {"u":"...": its value */
    uh_json_key(&b, &count, "url", 3, UH_JSON_ESC_NONE);
    uh_buf_add(&b, nl + 6, strlen(nl + 6));
    uh_json_end(&b, count, '{', '}');
    if (!b.oom)
        tp->record(tp->record_ud, b.data, b.len);
    uh_buf_free(&b);
}
