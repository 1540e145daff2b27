/*
 * oauth_token.h -- private: the OAuth2 token endpoint (oauth_token.c),
 * part of the transfers-and-scheduler layer: a token request built as a
 * transfer, and its answer read into tokens or a classified error.
 * What the tokens then mean (cache, rows, waiting runs) is oauth.c's.
 */
#ifndef UNHOOK_OAUTH_TOKEN_H
#define UNHOOK_OAUTH_TOKEN_H

#include "xfer.h"

/* The largest token answer read: a token answer is a few hundred bytes. */
#define UH_MAX_TOKEN_BODY (256u << 10)

/* What a token request brought.  Strings are malloc'd; clear it with
 * uh_token_answer_clear(), which wipes the tokens. */
typedef struct uh_token_answer {
    char *code;               /* NULL: tokens came; else auth_failed,
                                 auth_unavailable (retry later) or
                                 auth_revoked */
    char *msg;                /* with code: the message, secrets masked by
                                 the caller's diag on the way out */
    char *access, *refresh;   /* refresh NULL: none came (keep the old one) */
    double life;              /* seconds the access token lives; < 0: not said */
    char *subject;            /* who the token is for, if said */
    int grant_dead;           /* auth_revoked by invalid_grant: the refresh
                                 token itself is dead (not the client) */
} uh_token_answer;

/*
 * A token request for o (grant from o; refresh: the refresh token to
 * spend, for grant refresh_token), not yet added to s's multi handle;
 * t->oauth is o.  NULL when out of memory.
 */
uh_transfer *uh_token_request(uh_sched *s, uh_oauth *o, const char *refresh);

/* Free a token request (s NULL: never added), its answer wiped. */
void uh_token_request_free(uh_sched *s, uh_transfer *t);

/* Read the answer of t (finished with rc) into *a; file names the
 * connection in messages. */
void uh_token_read(const uh_oauth *o, const char *file, uh_transfer *t,
                   CURLcode rc, uh_token_answer *a);

void uh_token_answer_clear(uh_token_answer *a);

#endif
