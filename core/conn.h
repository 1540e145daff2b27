/*
 * conn.h -- private: connections (where and as whom to call) and the
 * table of auth types.  A connection is parsed and validated by
 * scripts/unhook/connection.lua; conn.c turns the result into a uh_conn.
 * Adding an auth type: a handler in auth.c and its fields in
 * connection.lua.
 */
#ifndef UNHOOK_CONN_H
#define UNHOOK_CONN_H

#include <lua.h>

#include "diag.h"

typedef struct uh_conn uh_conn;

/* The credentials one request to the connection's own origin carries. */
typedef struct uh_auth_req {
    char *header;             /* a whole "Name: value" line (owned), or NULL */
    const char *query_name;   /* a query parameter, or NULL */
    const char *query_value;
    const char *user;         /* HTTP Basic through libcurl, or NULL */
    const char *password;
} uh_auth_req;

/* One auth type. */
typedef struct uh_auth {
    const char *name;         /* as connection files and ctx.connection say */
    /* read the type's fields from the auth table at idx into c */
    void (*parse)(lua_State *L, int idx, uh_conn *c);
    /* the credentials of one request */
    void (*apply)(const uh_conn *c, uh_auth_req *out);
} uh_auth;

/* The auth type called name, or NULL. */
const uh_auth *uh_auth_find(const char *name);

/*
 * OAuth2 (auth type "oauth2"): what the connection file gives, and the
 * access token requests carry now.  The token cache, refreshes and the
 * store are oauth.c's (live), freed through live_free.
 */
typedef struct uh_oauth {
    char *token_url, *client_id, *client_secret, *scope, *audience;
    char *refresh_token;      /* as the file gives it (the store may hold a
                                 newer one: rotation) */
    int client_credentials;   /* the grant; else refresh_token */
    int client_post;          /* client_auth "post": credentials in the body */
    char *access_token;       /* current, or NULL */
    double expires_at;        /* wall clock; 0: unknown (good until a 401) */
    uh_conn *conn;            /* its connection: new tokens join its secrets */
    struct uh_oauth_live *live;
    void (*live_free)(struct uh_oauth *o);
} uh_oauth;

struct uh_conn {
    char *base_url;
    const uh_auth *auth;      /* NULL: no credentials */
    char *auth_name;          /* header or query parameter name */
    char *username;           /* basic */
    char *secret;             /* token, password or key value */
    char **headers;           /* "Name: value" lines */
    int nheaders;
    long timeout_ms;          /* per request; 0 = default */
    char *ca_file;
    int insecure;
    uh_secrets secrets;       /* every secret string, for masking */
    uh_oauth *oauth;          /* auth type oauth2, else NULL */
    long long id;             /* unique in the process (warm flow instances
                                 are kept per connection: runner.lua) */
};

void uh_conn_free(uh_conn *c);

/* Fill c (zeroed) from the table connection.parse returned, at idx. */
void uh_conn_from_table(lua_State *L, int idx, uh_conn *c);

/* Add s to the strings masked wherever c is in use. */
void uh_conn_add_secret(uh_conn *c, const char *s);

/* The auth type's name ("none" without one). */
const char *uh_conn_auth_name(const uh_conn *c);

/* The secrets of c, or NULL (no connection). */
#define UH_SECRETS(c) ((c) ? &(c)->secrets : NULL)

void uh_auth_req_free(uh_auth_req *a);

#endif
