/*
 * conn.c -- connections (where and as whom to call) and redaction of
 * their secrets from everything that leaves the engine.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "internal.h"

void uh_conn_free(uh_conn *c)
{
    if (!c)
        return;
    free(c->base_url);
    free(c->auth_name);
    free(c->username);
    free(c->secret);
    for (int i = 0; i < c->nheaders; i++)
        free(c->headers[i]);
    free(c->headers);
    free(c->ca_file);
    for (int i = 0; i < c->nsecrets; i++)
        free(c->secrets[i]);
    free(c->secrets);
    memset(c, 0, sizeof *c);
}

static char *opt_field(lua_State *L, int idx, const char *k)
{
    char *s = NULL;

    if (lua_getfield(L, idx, k) == LUA_TSTRING)
        s = uh_strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return s;
}

static void add_secret(uh_conn *c, const char *s)
{
    char **p;

    if (!s || !*s)
        return;
    p = realloc(c->secrets, (size_t)(c->nsecrets + 1) * sizeof *p);
    if (!p)
        return;
    c->secrets = p;
    c->secrets[c->nsecrets] = uh_strdup(s);
    if (c->secrets[c->nsecrets])
        c->nsecrets++;
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

/* Fill c from the table connection.parse returned (on top of L). */
static int conn_from_table(lua_State *L, uh_conn *c)
{
    int t = lua_gettop(L);
    const char *type;

    c->base_url = opt_field(L, t, "base_url");
    c->ca_file = opt_field(L, t, "ca_file");
    lua_getfield(L, t, "timeout_ms");
    c->timeout_ms = (long)lua_tointeger(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, t, "insecure");
    c->insecure = lua_toboolean(L, -1);
    lua_pop(L, 1);

    lua_getfield(L, t, "auth");                     /* stack: conn auth */
    lua_getfield(L, -1, "type");
    type = lua_tostring(L, -1);
    if (type && strcmp(type, "bearer") == 0) {
        c->auth = UH_AUTH_BEARER;
        c->secret = opt_field(L, -2, "token");
    } else if (type && strcmp(type, "basic") == 0) {
        c->auth = UH_AUTH_BASIC;
        c->username = opt_field(L, -2, "username");
        c->secret = opt_field(L, -2, "password");
    } else if (type && (strcmp(type, "header") == 0 || strcmp(type, "query") == 0)) {
        c->auth = type[0] == 'h' ? UH_AUTH_HEADER : UH_AUTH_QUERY;
        c->auth_name = opt_field(L, -2, "name");
        c->secret = opt_field(L, -2, "value");
    }
    lua_pop(L, 2);

    lua_getfield(L, t, "headers");          /* sorted "Name: value" lines */
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
        char **p = realloc(c->headers, (size_t)(c->nheaders + 1) * sizeof *p);
        if (p) {
            c->headers = p;
            c->headers[c->nheaders] = uh_strdup(lua_tostring(L, -1));
            if (c->headers[c->nheaders])
                c->nheaders++;
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    lua_getfield(L, t, "secrets");
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
        add_secret(c, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    if (c->auth == UH_AUTH_BASIC && c->username && c->secret) {
        uh_buf up = {0}, b64 = {0};
        uh_buf_printf(&up, "%s:%s", c->username, c->secret);
        base64(&b64, up.data ? up.data : "", up.len);
        add_secret(c, b64.data);
        uh_buf_free(&up);
        uh_buf_free(&b64);
    }
    return 0;
}

int uh_conn_load(unhook_engine *E, const char *path, uh_conn *c)
{
    lua_State *L = E->host;
    char *text;
    size_t len;
    int e, top = lua_gettop(L);

    memset(c, 0, sizeof *c);
    if (!path)
        return UNHOOK_OK;
    e = uh_read_file(path, &text, &len);
    if (e) {
        uh_seterr(E, "%s: cannot read connection file: %s", path, strerror(e));
        return UNHOOK_IO;
    }
    if (uh_require(L, "unhook.connection") != LUA_OK) {
        uh_seterr(E, "%s", lua_tostring(L, -1));
        free(text);
        lua_settop(L, top);
        return UNHOOK_ERROR;
    }
    lua_getfield(L, -1, "parse");
    lua_pushlstring(L, text, len);
    lua_pushstring(L, path);
    free(text);
    if (uh_pcall(L, 2, 2) != LUA_OK || lua_isnil(L, -2)) {
        uh_seterr(E, "%s", lua_tostring(L, -1));
        lua_settop(L, top);
        return UNHOOK_USAGE;
    }
    lua_pop(L, 1);
    conn_from_table(L, c);
    lua_settop(L, top);
    return UNHOOK_OK;
}

/* Replace every occurrence of needle in b by "***". */
static void mask(uh_buf *b, const char *needle)
{
    size_t n = strlen(needle);
    uh_buf out = {0};
    const char *p, *hit;

    if (n == 0 || !b->data || !strstr(b->data, needle))
        return;
    p = b->data;
    while ((hit = strstr(p, needle))) {
        uh_buf_add(&out, p, (size_t)(hit - p));
        uh_buf_add(&out, "***", 3);
        p = hit + n;
    }
    uh_buf_puts(&out, p);
    uh_buf_free(b);
    *b = out;
}

static int longer_first(const void *a, const void *b)
{
    size_t la = strlen(*(char *const *)a), lb = strlen(*(char *const *)b);

    return la < lb ? 1 : la > lb ? -1 : 0;
}

/*
 * Longer secrets first: a secret inside another (a password inside its
 * Basic header) masked first would leave the rest of the longer one.
 */
void uh_redact_buf(const uh_conn *c, uh_buf *b)
{
    const char *stack[8], **order = stack;
    int n;

    if (!c || c->nsecrets == 0)
        return;
    n = c->nsecrets;
    if (n > 8 && !(order = malloc((size_t)n * sizeof *order))) {
        order = stack;
        n = 8;
    }
    for (int i = 0; i < n; i++)
        order[i] = c->secrets[i];
    qsort(order, (size_t)n, sizeof *order, longer_first);
    for (int i = 0; i < n; i++) {
        uh_buf esc = {0};
        mask(b, order[i]);
        /* the same secret as it appears percent-encoded in a URL */
        uh_url_escape(&esc, order[i], strlen(order[i]));
        if (esc.data && strcmp(esc.data, order[i]) != 0)
            mask(b, esc.data);
        uh_buf_free(&esc);
    }
    if (order != stack)
        free(order);
}

char *uh_redact(const uh_conn *c, const char *s)
{
    uh_buf b = {0};

    uh_buf_puts(&b, s ? s : "");
    uh_redact_buf(c, &b);
    return uh_buf_take(&b);
}
