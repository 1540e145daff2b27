/*
 * sched.h -- private: the scheduler's transfer and the calls between
 * http.c and sched.c.
 */
#ifndef UNHOOK_SCHED_H
#define UNHOOK_SCHED_H

#include <time.h>

#include "internal.h"

struct uh_transfer {
    CURL *easy;
    uh_run *run;
    struct curl_slist *hdrs;
    char *url;
    char *req_body;
    char method[16];
    uh_buf body, head;
    size_t max_body;
    int too_large;
    double t0;
    char *base;               /* the connection's base URL */
    char *hosts;              /* further allowed hosts, one per line */
    char *auth_line;          /* the credentials header, if any */
    int redirects;
    int forbidden;            /* a redirect to a host not allowed */
    char errbuf[CURL_ERROR_SIZE];
};

struct uh_sched {
    CURLM *multi;
    CURLSH *share;
    uh_run *runs;             /* not yet finished */
    CURL **pool;              /* idle easy handles, reused */
    int npool, cappool;
};

uh_transfer *uh_transfer_new(uh_sched *s, uh_run *r);
int uh_transfer_submit(uh_sched *s, uh_transfer *t);
size_t uh_http_on_body(char *p, size_t size, size_t n, void *ud);
size_t uh_http_on_header(char *p, size_t size, size_t n, void *ud);
int uh_http_push_result(lua_State *L, uh_transfer *t, CURLcode rc);

/* Push nil and an error object { code, message } (lua_pushfstring format). */
void uh_push_error(lua_State *L, const char *code, const char *fmt, ...);

/* Follow a redirect of a finished transfer within the allowed hosts,
 * without credentials to another origin: 1 if it was sent again. */
int uh_http_redirect(uh_sched *s, uh_transfer *t, CURLcode rc);

/* Seconds to wait from a Retry-After value (delta or HTTP date), or -1. */
double uh_retry_after(const char *value, time_t now);

#endif
