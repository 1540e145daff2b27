/*
 * conn.c -- connections: built from what connection.lua parsed, freed,
 * and the list of their secrets that everything leaving the engine is
 * masked with.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "conn.h"

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
    for (int i = 0; i < c->secrets.n; i++)
        free(c->secrets.v[i]);
    free(c->secrets.v);
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

void uh_conn_add_secret(uh_conn *c, const char *s)
{
    char **p;

    if (!s || !*s)
        return;
    p = realloc(c->secrets.v, (size_t)(c->secrets.n + 1) * sizeof *p);
    if (!p)
        return;
    c->secrets.v = p;
    p[c->secrets.n] = uh_strdup(s);
    if (p[c->secrets.n])
        c->secrets.n++;
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

    memset(c, 0, sizeof *c);
    c->base_url = opt_field(L, t, "base_url");
    c->ca_file = opt_field(L, t, "ca_file");
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

const char *uh_conn_auth_name(const uh_conn *c)
{
    return c && c->auth ? c->auth->name : "none";
}

void uh_auth_req_free(uh_auth_req *a)
{
    free(a->header);
    memset(a, 0, sizeof *a);
}
