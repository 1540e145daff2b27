/*
 * lquick.c -- ctx.http's common request in C: a method wrapper's call
 * (ctx.http.delete(url, { path = {...} })) checked, sent and its answer
 * decoded without the Lua half of http.lua.  Anything out of the common
 * case answers nil before anything is sent, and http.lua's request()
 * does it all in Lua, wording every misuse.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <lauxlib.h>

#include "runtime.h"
#include "xfer.h"

/* Whether a response of this Content-Type may be read as JSON (the same
 * rule as http.lua's may_be_json): none, a JSON type or text/plain. */
static int may_be_json(const char *ct)
{
    size_t n;

    if (!ct)
        return 1;
    while (*ct && strchr(" \t\r\n\f\v", *ct))
        ct++;
    n = strcspn(ct, "; \t\r\n\f\v");
    if (n == 0 || (n == 10 && strncasecmp(ct, "text/plain", 10) == 0))
        return 1;
    for (size_t i = 0; i + 4 <= n; i++)
        if (strncasecmp(ct + i, "json", 4) == 0)
            return 1;
    return 0;
}

/*
 * The answer on top: resp.json decoded when it may be JSON; returns
 * resp, or resp and true when its status is not 2xx (http.lua raises
 * the error), or false and the error object of a failed transfer.
 * Upvalue 1 of the function: the JSON decoder.
 */
static int answer(lua_State *L, int n)
{
    lua_Integer status;

    if (n == 2) {                         /* nil, error object */
        lua_pushboolean(L, 0);
        lua_replace(L, -3);
        return 2;
    }
    lua_getfield(L, -1, "headers");
    lua_getfield(L, -1, "content-type");
    lua_getfield(L, -3, "body");
    if (may_be_json(lua_tostring(L, -2)) && lua_rawlen(L, -1) > 0) {
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, -2);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK)
            lua_setfield(L, -4, "json");
        else
            lua_pop(L, 1);
    } else {
        lua_pop(L, 1);
    }
    lua_pop(L, 2);
    lua_getfield(L, -1, "status");
    status = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (status >= 200 && status <= 299)
        return 1;
    lua_pushboolean(L, 1);
    return 2;
}

static int quick_k(lua_State *L, int status, lua_KContext ctx)
{
    uh_run *r = uh_state_run(L);
    int n = uh_http_resume_values(L, r);

    (void)status;
    if (n >= 0)
        return answer(L, n);
    if (uh_http_start(L, r, 1) < 0)
        return answer(L, 2);
    return lua_yieldk(L, 0, ctx, quick_k);
}

/* Push the path value at idx as http.lua's text() writes it: a string
 * as it is, an integer or an integral float within 2^53 in decimal.
 * 0 (nothing pushed) for anything else. */
static int push_text(lua_State *L, int idx)
{
    char num[32];
    double d;

    if (lua_type(L, idx) == LUA_TSTRING) {
        lua_pushvalue(L, idx);
        return 1;
    }
    if (lua_isinteger(L, idx)) {
        snprintf(num, sizeof num, "%lld", (long long)lua_tointeger(L, idx));
    } else if (lua_type(L, idx) == LUA_TNUMBER) {
        d = lua_tonumber(L, idx);
        if (d != floor(d) || !(d > -9007199254740992.0 && d < 9007199254740992.0))
            return 0;
        snprintf(num, sizeof num, "%lld", (long long)d);
    } else {
        return 0;
    }
    lua_pushstring(L, num);
    return 1;
}

/*
 * quick(client, method, url, opts) -> resp [, true] | false, error | nil
 *
 * client: { base = URL or nil, hosts = list, lines = the manifest's
 * header lines }.  The common case: url a string, opts nil or a plain
 * table (no metatable) of only path (a plain table of strings and
 * integral numbers by string keys) and body (a string), a request the
 * flow may make from here.  nil: not the common case, nothing sent.
 */
static int core_quick(lua_State *L)
{
    uh_run *r = uh_state_run(L);

    lua_settop(L, 4);
    if (!lua_istable(L, 1) || lua_type(L, 2) != LUA_TSTRING || lua_type(L, 3) != LUA_TSTRING)
        return 0;
    if (!r || !r->rt || r->co != L || !lua_isyieldable(L))
        return 0;
    lua_createtable(L, 0, 8);               /* 5: the request for uh_http_start */
    if (!lua_isnil(L, 4)) {
        /* a table with a metatable (__pairs, __index) is read as pairs()
         * reads it: the Lua path's */
        if (!lua_istable(L, 4) || lua_getmetatable(L, 4))
            return 0;
        lua_pushnil(L);
        while (lua_next(L, 4)) {
            size_t kn = 0;
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &kn) : "";
            /* the whole name: "body\0x" is no body (the Lua path refuses it) */
            if (kn != strlen(k))
                return 0;
            if (strcmp(k, "path") == 0) {
                int from = lua_gettop(L);
                if (!lua_istable(L, from) || lua_getmetatable(L, from))
                    return 0;
                /* a table of strings, as http.lua's path_values makes */
                lua_newtable(L);
                lua_pushnil(L);
                while (lua_next(L, from)) {
                    if (lua_type(L, -2) != LUA_TSTRING)
                        return 0;
                    lua_pushvalue(L, -2);
                    if (!push_text(L, -2))
                        return 0;
                    lua_rawset(L, from + 1);
                    lua_pop(L, 1);
                }
                lua_replace(L, from);
            } else if (strcmp(k, "body") != 0 || lua_type(L, -1) != LUA_TSTRING) {
                return 0;
            }
            lua_pushvalue(L, -2);
            lua_insert(L, -2);
            lua_rawset(L, 5);
        }
    }
    lua_pushvalue(L, 2);
    lua_setfield(L, 5, "method");
    lua_pushvalue(L, 3);
    lua_setfield(L, 5, "url");
    lua_getfield(L, 1, "base");
    lua_setfield(L, 5, "base");
    lua_getfield(L, 1, "hosts");
    lua_setfield(L, 5, "hosts");
    lua_getfield(L, 1, "lines");
    lua_setfield(L, 5, "headers");
    lua_replace(L, 1);                      /* the request at 1 for quick_k */
    lua_settop(L, 1);
    r->auth_retried = 0;
    if (uh_http_start(L, r, 1) < 0)
        return answer(L, 2);
    return lua_yieldk(L, 0, 0, quick_k);
}

/* core.quick; the core table on top, its json set. */
void uh_open_quick(lua_State *L)
{
    lua_getfield(L, -1, "json");
    lua_getfield(L, -1, "decode");
    lua_pushcclosure(L, core_quick, 1);
    lua_setfield(L, -3, "quick");
    lua_pop(L, 1);
}
