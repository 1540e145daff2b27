/*
 * serve_answer.c -- what every HTTP handler of `unhook serve` shares:
 * answers (JSON errors with their status, the Allow header), the bearer
 * token (header or the status page's form), and strict request bodies
 * (a JSON object with known fields only).  No answer holds a secret.
 */
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "unhook.h"
#include "serve.h"
#include "serve_call.h"

/* ---- answers ---------------------------------------------------------------- */

enum MHD_Result answer_h(struct MHD_Connection *conn, unsigned status,
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
    /* the status page: no script, no framing by another site's page (a
     * click on Retry through an invisible frame), forms to itself only */
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; style-src 'unsafe-inline'; "
                            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    if (hname)
        MHD_add_response_header(resp, hname, hvalue);
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

enum MHD_Result answer_json(call *k, unsigned status, text *body)
{
    k->r->answered = 1;
    return answer_h(k->conn, status, "application/json", text_str(body), NULL, NULL);
}

/* {"error": msg, "status": N}, with one extra header if hname is set. */
enum MHD_Result fail_h(call *k, unsigned status, const char *msg,
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

enum MHD_Result fail(call *k, unsigned status, const char *msg)
{
    return fail_h(k, status, msg, NULL, NULL);
}

enum MHD_Result wrong_method(call *k, const char *allow)
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

enum MHD_Result fail_engine(call *k, int rc)
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
const char *unauthorised(call *k)
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
    /* the scheme's name is case-insensitive (RFC 9110, 11.1) */
    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return "missing bearer token (Authorization: Bearer TOKEN)";
    return same_secret(h + 7, want) ? NULL : "invalid token";
}

/* ---- request bodies ------------------------------------------------------------ */

/* The body as a JSON object, only with the allowed fields (NULL-ended);
 * an empty body is {} when empty_ok.  0, or -1 after answering 400. */
int body_object(call *k, const char *const *allowed, int empty_ok, jobj *o,
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
int str_field(call *k, const jobj *o, const char *key, const char **out,
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
