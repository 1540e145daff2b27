/*
 * lresult.c -- what the module (lunhook.c) and the engine object
 * (lengine.c) of require "unhook" both use: a flow result as Lua values,
 * and the JSON text of a request's field.
 */
#include <lauxlib.h>

#include "unhook.h"

/* Shared by lunhook.c, lengine.c and lresult.c, declared in each (a
 * client of the library includes unhook.h alone, so the module has no
 * header of its own). */
int lunhook_push_result(lua_State *L, unhook_engine *E, int rc, unhook_flow_result *res);
const char *lunhook_json_field(lua_State *L, int opts, const char *k, int enc);

/* JSON text of field k of the options table (a Lua value), or NULL. */
const char *lunhook_json_field(lua_State *L, int opts, const char *k, int enc)
{
    int t = lua_getfield(L, opts, k);   /* left on the stack: keeps it alive */

    if (t == LUA_TNIL)
        return NULL;
    if (t == LUA_TSTRING && !enc)
        return lua_tostring(L, -1);
    lua_pushvalue(L, enc);
    lua_pushvalue(L, -2);
    lua_call(L, 1, 1);
    lua_replace(L, -2);
    return lua_tostring(L, -1);
}

int lunhook_push_result(lua_State *L, unhook_engine *E, int rc,
                        unhook_flow_result *res)
{
    if (rc != UNHOOK_OK) {
        lua_pushnil(L);
        lua_pushstring(L, unhook_errmsg(E));
        lua_pushinteger(L, rc);
        return 3;
    }
    lua_createtable(L, 0, 6);
    lua_pushstring(L, unhook_outcome_name(res->outcome));
    lua_setfield(L, -2, "outcome");
    if (res->status) {
        lua_pushinteger(L, res->status);
        lua_setfield(L, -2, "status");
    }
    if (res->code) {
        lua_pushstring(L, res->code);
        lua_setfield(L, -2, "code");
    }
    if (res->message) {
        lua_pushstring(L, res->message);
        lua_setfield(L, -2, "message");
    }
    if (res->registration) {
        lua_pushstring(L, res->registration);
        lua_setfield(L, -2, "registration");
    }
    if (res->retry_after >= 0) {
        lua_pushnumber(L, res->retry_after);
        lua_setfield(L, -2, "retry_after");
    }
    return 1;
}
