/*
 * lunhook.c -- require "unhook" from a stock Lua 5.4: the engine as a
 * Lua module, so that connector authors can unit-test flows with busted.
 *
 *   local unhook = require "unhook"
 *   local ok, err = unhook.check("scripts/connectors/github")
 *   local res = unhook.run{ connector = ..., event = "push",
 *       options = { owner = "octo" }, registration = { id = 1 },
 *       connection = "conn.json" }
 *   -- res.outcome is "done", "gone", "retry" or "failed"
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua-cjson.h>

#include "unhook.h"

#define ENGINE_MT "unhook.Engine"

/* The module keeps one engine per Lua state, as an upvalue. */
static unhook_engine *engine_of(lua_State *L)
{
    unhook_engine **pe = luaL_checkudata(L, lua_upvalueindex(1), ENGINE_MT);

    if (!*pe)
        luaL_error(L, "unhook engine is closed");
    return *pe;
}

static int engine_gc(lua_State *L)
{
    unhook_engine **pe = luaL_checkudata(L, 1, ENGINE_MT);

    unhook_engine_close(*pe);
    *pe = NULL;
    return 0;
}

static int l_check(lua_State *L)
{
    unhook_engine *E = engine_of(L);
    int rc = unhook_connector_check(E, luaL_checkstring(L, 1));

    if (rc == UNHOOK_OK) {
        lua_pushboolean(L, 1);
        return 1;
    }
    lua_pushnil(L);
    lua_pushstring(L, unhook_errmsg(E));
    return 2;
}

/* JSON text of field k of the options table (a Lua value), or NULL. */
static const char *json_field(lua_State *L, int opts, const char *k, int enc)
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

static int push_result(lua_State *L, unhook_engine *E, int rc,
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

static int flow(lua_State *L, int reg)
{
    unhook_engine *E = engine_of(L);
    unhook_flow_request req = {0};
    unhook_flow_result res = {0};
    int rc, enc;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    lua_getfield(L, lua_upvalueindex(2), "encode");
    enc = lua_gettop(L);
    req.connector = (lua_getfield(L, 1, "connector"), lua_tostring(L, -1));
    req.event = (lua_getfield(L, 1, "event"), lua_tostring(L, -1));
    req.connection = (lua_getfield(L, 1, "connection"), lua_tostring(L, -1));
    req.reason = (lua_getfield(L, 1, "reason"), lua_tostring(L, -1));
    req.instance_id = (lua_getfield(L, 1, "instance"), lua_tostring(L, -1));
    luaL_argcheck(L, req.connector, 1, "connector: expected string");
    luaL_argcheck(L, req.event, 1, "event: expected string");
    req.options_json = json_field(L, 1, "options", enc);
    req.inputs_json = json_field(L, 1, "inputs", enc);
    /* registration: a string is passed as is (JSON text or plain text),
     * a table is encoded as JSON */
    if (lua_getfield(L, 1, "registration") == LUA_TSTRING) {
        req.registration = lua_tostring(L, -1);
    } else if (!lua_isnil(L, -1)) {
        lua_pushvalue(L, enc);
        lua_insert(L, -2);
        lua_call(L, 1, 1);
        req.registration = lua_tostring(L, -1);
    }
    rc = reg ? unhook_flow_register(E, &req, &res)
             : unhook_flow_deregister(E, &req, &res);
    rc = push_result(L, E, rc, &res);
    unhook_flow_result_free(&res);
    return rc;
}

static int l_run(lua_State *L) { return flow(L, 0); }
static int l_register(lua_State *L) { return flow(L, 1); }

__attribute__((visibility("default"))) int luaopen_unhook(lua_State *L);

int luaopen_unhook(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"check", l_check}, {"run", l_run}, {"register", l_register},
        {NULL, NULL}};
    unhook_engine **pe;
    unhook_config cfg = {0};

    lua_newtable(L);                            /* module */
    pe = lua_newuserdatauv(L, sizeof *pe, 0);   /* module engine */
    *pe = NULL;
    if (luaL_newmetatable(L, ENGINE_MT)) {
        lua_pushcfunction(L, engine_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, engine_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);
    if (unhook_engine_open(pe, &cfg) != UNHOOK_OK)
        return luaL_error(L, "unhook: cannot open an engine");
    luaopen_cjson(L);                           /* module engine cjson */
    lua_pushvalue(L, -1);
    lua_setfield(L, -4, "json");
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_pushcclosure(L, f->func, 2);
        lua_setfield(L, -4, f->name);
    }
    lua_pop(L, 1);
    lua_setfield(L, -2, "_engine");
    lua_pushstring(L, unhook_version());
    lua_setfield(L, -2, "version");
    return 1;
}
