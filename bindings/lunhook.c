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
 *
 * and a Lua host embeds it as a C host does: unhook.open{ db = ... } is
 * an engine on a store (enable, disable, retry, show, list, history,
 * resume, disable_all, card, close), with the C API's semantics: an
 * operational failure returns nil, message, code (unhook.codes); misuse
 * raises.  Whatever the engine calls back (a card, a listing) builds its
 * Lua values inside a protected call: no error escapes through the
 * library's frames.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua-cjson.h>

#include "unhook.h"

/* Shared by lunhook.c and lengine.c, declared in both (a client of the
 * library includes unhook.h alone, so the module has no header). */
unhook_engine **lunhook_new_engine(lua_State *L);
unhook_engine *lunhook_engine(lua_State *L, int idx);
int lunhook_open(lua_State *L);
int lunhook_push_result(lua_State *L, unhook_engine *E, int rc, unhook_flow_result *res);
const char *lunhook_json_field(lua_State *L, int opts, const char *k, int enc);

/* The module keeps one engine per Lua state, as an upvalue. */
static unhook_engine *engine_of(lua_State *L)
{
    return lunhook_engine(L, lua_upvalueindex(1));
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
    req.options_json = lunhook_json_field(L, 1, "options", enc);
    req.inputs_json = lunhook_json_field(L, 1, "inputs", enc);
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
    rc = lunhook_push_result(L, E, rc, &res);
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
        {"open", lunhook_open}, {NULL, NULL}};
    unhook_engine **pe;
    unhook_config cfg = {0};

    lua_newtable(L);                            /* module */
    pe = lunhook_new_engine(L);                 /* module engine */
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
    lua_newtable(L);
#define UNHOOK_LUA_CODE_(name, value, text) \
    lua_pushinteger(L, value);              \
    lua_setfield(L, -2, #name);
    UNHOOK_CODES(UNHOOK_LUA_CODE_)
#undef UNHOOK_LUA_CODE_
    lua_setfield(L, -2, "codes");
    return 1;
}
