/*
 * same.c -- what makes two instances the same one: the connector as an
 * instance names it, options compared as values (the host state decodes
 * them, through scripts/unhook/reconcile.lua), the request an instance that
 * is on was enabled with.  Lifecycle layer: instance.c, manage.c and
 * reconcile.c use it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "same.h"

/* The connector as an instance names it: a name as given, a folder as an
 * absolute path, wherever the next command runs. */
char *uh_connector_key(unhook_engine *E, const char *connector)
{
    char *dir, *abs;

    if (!strchr(connector, '/'))
        return uh_strdup(connector);
    dir = uh_connector_path(&E->rt, connector);
    if (!dir)
        return NULL;
    abs = realpath(dir, NULL);
    free(dir);
    return abs;
}

/* Call reconcile.FN(a, b) in the host state: the string it returns
 * (malloc'd) or, for a boolean, "1"/NULL; errors in the engine's message. */
char *uh_host_compare(unhook_engine *E, const char *fn, const char *a, const char *b)
{
    lua_State *L = E->rt.host;
    int top = lua_gettop(L);
    char *out = NULL;

    if (uh_require(L, "unhook.reconcile") != LUA_OK) {
        uh_seterr(&E->diag, "%s", lua_tostring(L, -1));
        lua_settop(L, top);
        return NULL;
    }
    lua_getfield(L, -1, fn);
    lua_pushstring(L, a);
    lua_pushstring(L, b);
    if (uh_pcall(L, 2, 2) != LUA_OK)
        uh_seterr(&E->diag, "%s", lua_tostring(L, -1));
    else if (lua_type(L, -2) == LUA_TSTRING)
        out = uh_strdup(lua_tostring(L, -2));
    else if (lua_toboolean(L, -2))
        out = uh_strdup("1");
    else if (lua_type(L, -1) == LUA_TSTRING)
        uh_seterr(&E->diag, "%s", lua_tostring(L, -1));
    lua_settop(L, top);
    return out;
}

int uh_json_same(unhook_engine *E, const char *a, const char *b)
{
    char *r = uh_host_compare(E, "same", a, b);

    free(r);
    return r != NULL;
}

static int same_str(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

int uh_enable_same(unhook_engine *E, const uh_inst *i, const unhook_flow_request *req)
{
    char *key = uh_connector_key(E, req->connector);
    char *conn = req->connection ? realpath(req->connection, NULL) : NULL;
    int same = key && same_str(key, i->connector) && same_str(req->event, i->event)
               && same_str(conn, i->connection)
               && uh_json_same(E, req->options_json ? req->options_json : "{}",
                               i->options);

    free(key);
    free(conn);
    if (same)
        return UH_ALREADY_ON;
    uh_seterr(&E->diag, "instance '%s' is already on with another connector, "
              "event, options or connection; change them with 'unhook update %s'",
              i->id, i->id);
    return UNHOOK_USAGE;
}

