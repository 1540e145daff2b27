/*
 * auth.c -- a connection built from the table connection.lua parsed, and
 * the auth types: how each reads its fields and what a request to the
 * connection's origin carries.  Credentials never go to another origin
 * (http.c); redirects within the origin carry them again.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "conn.h"

static char *field(lua_State *L, int idx, const char *k)
{
    char *s = NULL;

    if (lua_getfield(L, idx, k) == LUA_TSTRING)
        s = uh_strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return s;
}

static char *header_line(const char *name, const char *value)
{
    uh_buf h = {0};

    uh_buf_printf(&h, "%s: %s", name, value);
    return h.oom ? (uh_buf_free(&h), NULL) : uh_buf_take(&h);
}

static void bearer_parse(lua_State *L, int idx, uh_conn *c)
{
    c->secret = field(L, idx, "token");
}

static char *bearer_line(const char *token)
{
    uh_buf h = {0};

    uh_buf_puts(&h, "Authorization: Bearer ");
    uh_buf_puts(&h, token);
    return h.oom ? (uh_buf_free(&h), NULL) : uh_buf_take(&h);
}

static void bearer_apply(const uh_conn *c, uh_auth_req *out)
{
    out->header = bearer_line(c->secret ? c->secret : "");
}

static void base64(uh_buf *out, const char *s, size_t n)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = (const unsigned char *)s;
    size_t i;

    for (i = 0; i + 2 < n; i += 3) {
        char q[4] = {tab[p[i] >> 2], tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)],
                     tab[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)],
                     tab[p[i + 2] & 63]};
        uh_buf_add(out, q, 4);
    }
    if (n - i == 1) {
        char q[4] = {tab[p[i] >> 2], tab[(p[i] & 3) << 4], '=', '='};
        uh_buf_add(out, q, 4);
    } else if (n - i == 2) {
        char q[4] = {tab[p[i] >> 2], tab[((p[i] & 3) << 4) | (p[i + 1] >> 4)],
                     tab[(p[i + 1] & 15) << 2], '='};
        uh_buf_add(out, q, 4);
    }
}

/* HTTP Basic's form of user and password, base64 "user:password", is a
 * secret too: a provider may echo the header it was sent. */
static void add_basic_form(uh_conn *c, const char *user, const char *password)
{
    uh_buf up = {0}, b64 = {0};

    if (!user || !password)
        return;
    uh_buf_printf(&up, "%s:%s", user, password);
    base64(&b64, up.data ? up.data : "", up.len);
    uh_conn_add_secret(c, b64.data);
    if (up.data)
        memset(up.data, 0, up.len);
    uh_buf_free(&up);
    uh_buf_free(&b64);
}

static void basic_parse(lua_State *L, int idx, uh_conn *c)
{
    c->username = field(L, idx, "username");
    c->secret = field(L, idx, "password");
    add_basic_form(c, c->username, c->secret);
    /* no password: the user is the key (Stripe's sk_..., and the like) */
    if (!c->secret || !*c->secret)
        uh_conn_add_secret(c, c->username);
}

static void basic_apply(const uh_conn *c, uh_auth_req *out)
{
    out->user = c->username ? c->username : "";
    out->password = c->secret ? c->secret : "";
}

static void named_parse(lua_State *L, int idx, uh_conn *c)
{
    c->auth_name = field(L, idx, "name");
    c->secret = field(L, idx, "value");
}

static void header_apply(const uh_conn *c, uh_auth_req *out)
{
    out->header = header_line(c->auth_name ? c->auth_name : "", c->secret ? c->secret : "");
}

static void query_apply(const uh_conn *c, uh_auth_req *out)
{
    out->query_name = c->auth_name ? c->auth_name : "";
    out->query_value = c->secret ? c->secret : "";
}

/* connection.lua checked the fields: grant, client_auth, which are set */
static void oauth2_parse(lua_State *L, int idx, uh_conn *c)
{
    uh_oauth *o = calloc(1, sizeof *o);
    char *grant, *client_auth;

    if (!o)
        return;
    o->conn = c;
    o->token_url = field(L, idx, "token_url");
    o->client_id = field(L, idx, "client_id");
    o->client_secret = field(L, idx, "client_secret");
    o->refresh_token = field(L, idx, "refresh_token");
    o->scope = field(L, idx, "scope");
    o->audience = field(L, idx, "audience");
    o->access_token = field(L, idx, "access_token");
    lua_getfield(L, idx, "expires_at");
    o->expires_at = lua_tonumber(L, -1);
    lua_pop(L, 1);
    grant = field(L, idx, "grant");
    client_auth = field(L, idx, "client_auth");
    o->client_credentials = grant && strcmp(grant, "client_credentials") == 0;
    o->client_post = client_auth && strcmp(client_auth, "post") == 0;
    free(grant);
    free(client_auth);
    /* client_auth basic sends the client's credentials in that form */
    add_basic_form(c, o->client_id, o->client_secret);
    c->oauth = o;
}

/* The token oauth.c made current (it sees that there is one first). */
static void oauth2_apply(const uh_conn *c, uh_auth_req *out)
{
    if (c->oauth && c->oauth->access_token)
        out->header = bearer_line(c->oauth->access_token);
}

static const uh_auth types[] = {
    {"oauth2", oauth2_parse, oauth2_apply},
    {"bearer", bearer_parse, bearer_apply},
    {"basic", basic_parse, basic_apply},
    {"header", named_parse, header_apply},
    {"query", named_parse, query_apply},
};

const uh_auth *uh_auth_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof types / sizeof *types; i++)
        if (strcmp(types[i].name, name) == 0)
            return &types[i];
    return NULL;
}

/* Append the strings of the array field k of the table at idx. */
static void string_list(lua_State *L, int idx, const char *k,
                        void (*add)(uh_conn *, const char *), uh_conn *c)
{
    lua_getfield(L, idx, k);
    if (lua_istable(L, -1))
        for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
            add(c, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
    lua_pop(L, 2);
}

static void add_header(uh_conn *c, const char *line)
{
    char **p = realloc(c->headers, (size_t)(c->nheaders + 1) * sizeof *p);

    if (!p)
        return;
    c->headers = p;
    p[c->nheaders] = uh_strdup(line);
    if (p[c->nheaders])
        c->nheaders++;
}

void uh_conn_from_table(lua_State *L, int idx, uh_conn *c)
{
    int t = lua_absindex(L, idx);

    static long long last_id;

    memset(c, 0, sizeof *c);
    c->id = __atomic_add_fetch(&last_id, 1, __ATOMIC_RELAXED);
    c->base_url = field(L, t, "base_url");
    c->ca_file = field(L, t, "ca_file");
    lua_getfield(L, t, "timeout_ms");
    c->timeout_ms = (long)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, t, "insecure");
    c->insecure = lua_toboolean(L, -1);
    lua_pop(L, 1);
    string_list(L, t, "headers", add_header, c);    /* sorted "Name: value" */
    string_list(L, t, "secrets", uh_conn_add_secret, c);
    lua_getfield(L, t, "auth");                     /* stack: auth */
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "type");
        c->auth = uh_auth_find(lua_tostring(L, -1));
        lua_pop(L, 1);
        if (c->auth && c->auth->parse)
            c->auth->parse(L, lua_gettop(L), c);
    }
    lua_pop(L, 1);
}

