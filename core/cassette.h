/*
 * cassette.h -- private: HTTP exchanges recorded to and replayed from a
 * cassette (cassette.c), and dry runs.  Part of the transfers layer: the
 * scheduler owns one (uh_sched.tape); http.c asks it before a transfer
 * goes out, response.c tells it what came back.  It parses no JSON: the
 * engine hands it the entries (unhook.cassette parses the file).
 */
#ifndef UNHOOK_CASSETTE_H
#define UNHOOK_CASSETTE_H

#include "xfer.h"

/* One recorded exchange, as the loader hands it over (copied). */
typedef struct uh_tape_entry {
    const char *method, *url;
    const char *req_body;     /* NULL: not recorded, any body matches */
    size_t req_body_len;
    long status;
    const char *head;         /* response header lines, "name: value\r\n" */
    const char *body;         /* response body */
    size_t body_len;
    const char *err_code;     /* a recorded failure ("timeout", "transport") */
    const char *err_msg;
} uh_tape_entry;

uh_tape *uh_tape_new(void);
void uh_tape_free(uh_tape *tp);
/* Add a recorded exchange to replay: 0, or -1 out of memory. */
int uh_tape_add(uh_tape *tp, const uh_tape_entry *e);
/* Forget every entry; name (copied) is what messages call the cassette. */
void uh_tape_reset(uh_tape *tp, int replay, const char *name);
/* Each exchange, once over, as one JSON line to fn (NULL: none). */
void uh_tape_record(uh_tape *tp, unhook_line_fn fn, void *ud);
/* Dry run: requests other than GET and HEAD are not sent. */
void uh_tape_dry(uh_tape *tp, int on);
/* Whether header name (n bytes) holds a credential, shown as "***"; the
 * wider rule of a request header (request 1) is in cassette.c. */
int uh_credential_header(const char *name, size_t n, int request);
/* Whether a request of method will not go out (replay, or a dry run of
 * one that changes something): http.c fetches no OAuth2 token for it, as
 * that would send a POST and rotate the stored refresh token. */
int uh_tape_offline(const uh_tape *tp, const char *method);
/* Whether tp does anything. */
int uh_tape_active(const uh_tape *tp);

/*
 * Transfer t is about to go out (bodylen bytes of body; basic: curl adds
 * the credentials).  Notes the request for the record; in replay, or a
 * dry run of a request that changes something, answers it instead: t's
 * run then holds it as answered.  0: send it; 1: answered; -1: replay
 * found no answer (*miss: the message, malloc'd).
 */
int uh_tape_start(uh_tape *tp, uh_transfer *t, size_t bodylen, int basic,
                  char **miss);
/* t is over (status, or a failure's code and detail): record it. */
void uh_tape_done(uh_transfer *t, long status, const char *err_code,
                  const char *err_detail);

#endif
