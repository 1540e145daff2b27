/*
 * transfer.c -- a transfer's easy handle and buffers: taken from the
 * scheduler's pool with the options every request shares (body capped
 * at t->max_body, headers of the last response), and handed back.
 * Flows' requests (http.c) and OAuth2 token requests (oauth_token.c)
 * both start here.
 */
#include <stdlib.h>
#include <string.h>

#include "xfer.h"

static size_t on_body(char *p, size_t size, size_t n, void *ud)
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

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    uh_transfer *t = ud;
    size_t len = size * n;

    /* a new status line starts a new header block (after 1xx, redirects) */
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0)
        t->head.len = 0;
    uh_buf_add(&t->head, p, len);
    return t->head.oom ? 0 : len;
}

/* The options every transfer shares, on a new or a reset handle. */
static void base_options(uh_sched *s, CURL *e)
{
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "unhook/" UNHOOK_VERSION);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    if (s->share)
        curl_easy_setopt(e, CURLOPT_SHARE, s->share);
    if (s->direct)
        curl_easy_setopt(e, CURLOPT_PROXY, "");
    if (s->opensock) {
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, s->opensock);
        curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, s);
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, s->closesock);
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, s);
    }
}

uh_transfer *uh_transfer_new(uh_sched *s, uh_run *r)
{
    uh_transfer *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    if (s->npool) {
        t->easy = s->pool[--s->npool];      /* base options set already */
    } else if ((t->easy = curl_easy_init())) {
        base_options(s, t->easy);
    }
    if (!t->easy) {
        free(t);
        return NULL;
    }
    t->run = r;
    t->max_body = UH_MAX_BODY;
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
    return t;
}

/*
 * A handle goes back to the pool with the base options only.  A transfer
 * that set nothing beyond what every transfer sets again (URL, headers,
 * method, timeouts: see uh_transfer.dirty) leaves them as they were; any
 * other (credentials, a body, TLS settings, a redirect) resets the handle,
 * so that nothing of one request reaches the next.
 */
void uh_transfer_free(uh_sched *s, uh_transfer *t)
{
    if (!t)
        return;
    if (!s) {
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    } else {
        curl_multi_remove_handle(s->multi, t->easy);
        if (t->dirty) {
            curl_easy_reset(t->easy);
            base_options(s, t->easy);
        } else {
            /* back to the base options: no method left for the next
             * user (a token request sets none), no header list or error
             * buffer of t's (the next transfer sets its own pointers) */
            curl_easy_setopt(t->easy, CURLOPT_CUSTOMREQUEST, NULL);
            curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, NULL);
            curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, NULL);
        }
    }
    if (s && s->npool == s->cappool) {
        int cap = s->cappool ? s->cappool * 2 : 16;
        CURL **p = realloc(s->pool, (size_t)cap * sizeof *p);
        if (p) {
            s->pool = p;
            s->cappool = cap;
        }
    }
    if (s && s->npool < s->cappool)
        s->pool[s->npool++] = t->easy;
    else if (t->easy)
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->hdrs);
    free(t->base);
    free(t->hosts);
    free(t->auth_line);
    free(t->url);
    free(t->req_body);
    free(t->taped);
    uh_buf_free(&t->body);
    uh_buf_free(&t->head);
    free(t);
}
