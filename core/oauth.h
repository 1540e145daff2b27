/*
 * oauth.h -- private: OAuth2 access tokens for the connections that use
 * auth type "oauth2" (oauth.c), part of the transfers-and-scheduler
 * layer.  A token is cached until it expires; a refresh is a transfer on
 * the scheduler's multi handle, one in flight per connection, and runs
 * that need the token wait for it as they wait for a response.  With
 * grant refresh_token the tokens live in the store, sealed under the
 * operator's key, and a lease in their row (compare-and-set on its
 * version) keeps processes sharing the store from refreshing with the
 * same refresh token.
 */
#ifndef UNHOOK_OAUTH_H
#define UNHOOK_OAUTH_H

#include "store.h"
#include "xfer.h"

/*
 * Make c (auth oauth2) ready for requests.  Grant refresh_token needs the
 * operator's key and store s, where its tokens are kept; client_credentials
 * needs neither (s may be NULL).  file names the connection in messages.
 * UNHOOK_OK, or a code with the message in d.
 */
int uh_oauth_open(uh_conn *c, uh_store *s, uh_diag *d, const char *file);

/*
 * Before run r sends a request to its connection's origin: 1 when a
 * token is current (the auth type applies it); 0 when r must wait for
 * one (r->token_wait is set: the caller yields, and the run is resumed
 * once the refresh ends); -1 with nil and an error object pushed on L.
 */
int uh_oauth_ready(lua_State *L, uh_run *r);

/*
 * The origin answered 401 to r's request that carried auth_line: the
 * token is forgotten (unless a newer one is already current).  1 when
 * the request should be sent once more, 0 when it was already retried.
 */
int uh_oauth_rejected(uh_run *r, const char *auth_line);

/* A token request (t->oauth set) finished: sched.c hands it over. */
void uh_oauth_done(uh_sched *s, uh_transfer *t, CURLcode rc);

/* Move a connection along that waits for another process's refresh. */
void uh_oauth_tick(uh_oauth *o);

/*
 * Refresh c's token now and wait for the answer (connection check).
 * *subject: who the token belongs to when the provider said (malloc'd),
 * else NULL.  UNHOOK_OK, or UNHOOK_ERROR with the message in d.
 */
int uh_oauth_check(uh_sched *s, uh_conn *c, uh_diag *d, char **subject);

#endif
