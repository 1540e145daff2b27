/*
 * serve_call.h -- what the HTTP files of `unhook serve` share: one
 * request as it is read, one call being answered, and the answers, the
 * token check and the request-body readers (serve_answer.c), the /v1
 * routes (serve_api.c).  Clients of unhook.h only.
 */
#ifndef UNHOOK_CLI_SERVE_CALL_H
#define UNHOOK_CLI_SERVE_CALL_H

#include <microhttpd.h>
#include <string.h>

#include "serve.h"

typedef struct request {
    text body;
    int too_large, answered;
} request;

typedef struct call {
    service *sv;
    struct MHD_Connection *conn;
    const char *method;
    request *r;
    int form;                   /* posted by the status page's form */
} call;

static inline int is(const call *k, const char *m)
{
    return strcmp(k->method, m) == 0;
}

/* ---- serve_answer.c ------------------------------------------------------- */

/* An answer with the usual headers, and one extra header if hname is set. */
enum MHD_Result answer_h(struct MHD_Connection *conn, unsigned status,
                         const char *ctype, const char *body,
                         const char *hname, const char *hvalue);
enum MHD_Result answer_json(call *k, unsigned status, text *body);
/* {"error": msg, "status": N}, with one extra header if hname is set. */
enum MHD_Result fail_h(call *k, unsigned status, const char *msg,
                       const char *hname, const char *hvalue);
enum MHD_Result fail(call *k, unsigned status, const char *msg);
/* 405 with the Allow header. */
enum MHD_Result wrong_method(call *k, const char *allow);
/* The API engine's last error, with the status its code calls for. */
enum MHD_Result fail_engine(call *k, int rc);
/* NULL when the caller may use /v1, else why not. */
const char *unauthorised(call *k);
/* The body as a JSON object, only with the allowed fields (NULL-ended);
 * an empty body is {} when empty_ok.  0, or -1 after answering 400. */
int body_object(call *k, const char *const *allowed, int empty_ok, jobj *o,
                enum MHD_Result *ret);
/* A string field (NULL when absent); -1 after answering 400 for another type. */
int str_field(call *k, const jobj *o, const char *key, const char **out,
              enum MHD_Result *ret);

/* ---- serve_api.c ---------------------------------------------------------- */

/* /v1/...: the token, then the endpoint. */
enum MHD_Result route_v1(call *k, const char *path);
/* The status page's retry form: POST /instances/ID/retry. */
enum MHD_Result page_retry(call *k, const char *url);

#endif
