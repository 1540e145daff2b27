/*
 * lsetup.c -- the run's set-up in C for the common case: the options
 * given as JSON checked against their declaration, the flow's inputs
 * mapped from them and checked, the registration data decoded.  The Lua
 * runner (runner.lua) builds a plan once per flow entry and asks here
 * first; anything out of the common case (a value to coerce, a table, an
 * error to word) answers nil, and the runner does the whole set-up in Lua
 * (schema.lua), which words every message.  Both paths give the same
 * tables for the same run.
 */
#include <string.h>

#include <lauxlib.h>

#include "runtime.h"

/* Declared types, as the plan gives them (runner.lua, TYPE_CODES). */
enum { T_STRING = 1, T_NUMBER, T_INTEGER, T_BOOLEAN, T_ANY };

/* Plan fields (runner.lua, plan_of). */
enum { P_OPTS = 1, P_DECLARED, P_MAP, P_INPUTS };

/* Field fields: { name, type code, default, required }. */
enum { F_NAME = 1, F_TYPE, F_DEFAULT, F_REQUIRED };

/* Whether the value on top has the declared scalar type exactly (no
 * coercion): what schema.lua's validate_fast accepts, less tables. */
static int scalar_ok(lua_State *L, int idx, int t)
{
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: return t == T_STRING || t == T_ANY;
    case LUA_TBOOLEAN: return t == T_BOOLEAN || t == T_ANY;
    case LUA_TNUMBER:
        return t == T_NUMBER || t == T_ANY || (t == T_INTEGER && lua_isinteger(L, idx));
    default: return 0;
    }
}

static const char *blanks(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* A value of a flat object at p: a string without escapes (printable
 * ASCII), true, false, or an integer of at most 15 digits (a float, as
 * cjson makes every number; not -0).  Pushed, and the end returned;
 * NULL (nothing pushed) for anything else. */
static const char *flat_value(lua_State *L, const char *p, const char *end)
{
    const char *v = p + 1;
    double d = 0;
    int neg = *p == '-';

    if (*p == '"') {
        while (v < end && *v != '"' && *v != '\\' && *v >= 0x20 && *v < 0x7f)
            v++;
        if (v == end || *v != '"')
            return NULL;
        lua_pushlstring(L, p + 1, (size_t)(v - p - 1));
        return v + 1;
    }
    if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
        lua_pushboolean(L, 1);
        return p + 4;
    }
    if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
        lua_pushboolean(L, 0);
        return p + 5;
    }
    v = p + neg;
    if (v == end || *v < '0' || *v > '9' || (*v == '0' && neg))
        return NULL;
    for (p = v; p < end && *p >= '0' && *p <= '9' && p - v < 16; p++)
        d = d * 10 + (*p - '0');
    if (p - v > 15 || (*v == '0' && p - v > 1) ||
        (p < end && (*p == '.' || *p == 'e' || *p == 'E' || (*p >= '0' && *p <= '9'))))
        return NULL;
    lua_pushnumber(L, neg ? -d : d);
    return p;
}

/*
 * JSON text that is a flat object of flat_value values: the table cjson
 * decodes it to, pushed (1).  0, nothing pushed, for anything else
 * (nested values, escapes, null, other numbers, bytes past ASCII): cjson
 * decodes those, or words their error.
 */
static int flat_object(lua_State *L, const char *s, size_t n)
{
    const char *p = blanks(s, s + n), *end = s + n, *k;
    int t, closed = 0;

    if (p == end || *p != '{')
        return 0;
    lua_createtable(L, 0, 4);
    t = lua_gettop(L);
    p = blanks(p + 1, end);
    if (p < end && *p == '}') {
        p++;
        closed = 1;
    } else {
        for (;;) {
            if (p == end || *p != '"')
                break;
            for (k = ++p; p < end && *p != '"' && *p != '\\' && *p >= 0x20 && *p < 0x7f; p++)
                ;
            if (p == end || *p != '"')
                break;
            lua_pushlstring(L, k, (size_t)(p - k));
            p = blanks(p + 1, end);
            if (p == end || *p != ':')
                break;
            p = blanks(p + 1, end);
            if (p == end || !(p = flat_value(L, p, end)))
                break;
            lua_rawset(L, t);
            p = blanks(p, end);
            if (p < end && *p == ',') {
                p = blanks(p + 1, end);
                continue;
            }
            if (p < end && *p == '}') {
                p++;
                closed = 1;
            }
            break;
        }
    }
    if (closed && blanks(p, end) == end && lua_gettop(L) == t)
        return 1;
    lua_settop(L, t - 1);
    return 0;
}

/*
 * Check table t (absolute index) against the field list at absolute index
 * list: defaults applied in place.  0: out of the common case.
 */
static int check_fields(lua_State *L, int t, int list)
{
    lua_Integer n = (lua_Integer)lua_rawlen(L, list);

    for (lua_Integer i = 1; i <= n; i++) {
        int ok, given = 1;

        lua_rawgeti(L, list, i);                        /* field */
        lua_rawgeti(L, -1, F_NAME);                     /* field, name */
        lua_pushvalue(L, -1);
        if (lua_rawget(L, t) == LUA_TNIL) {             /* field, name, v */
            given = 0;
            lua_pop(L, 1);
            if (lua_rawgeti(L, -2, F_DEFAULT) == LUA_TNIL) {
                lua_rawgeti(L, -3, F_REQUIRED);
                ok = !lua_toboolean(L, -1);
                lua_pop(L, 4);
                if (!ok)
                    return 0;
                continue;
            }
            if (lua_type(L, -1) == LUA_TTABLE) {        /* a shared default */
                lua_pop(L, 3);
                return 0;
            }
        }
        lua_rawgeti(L, -3, F_TYPE);
        ok = scalar_ok(L, -2, (int)lua_tointeger(L, -1));
        lua_pop(L, 1);
        if (!ok) {
            lua_pop(L, 3);
            return 0;
        }
        if (given)
            lua_pop(L, 2);
        else
            lua_rawset(L, t);                           /* t[name] = default */
        lua_pop(L, 1);
    }
    return 1;
}

/*
 * setup(plan, options_json, inputs_json) -> options, input | nil
 *
 * plan: { opts = list of fields checked, declared = set of the event's
 * option names, map = list of { input name, option name | false, static
 * value }, inputs = the flow's input fields }, each field { name, type
 * code, default, required }.  Upvalue 1: the JSON decoder.
 */
static int core_setup(lua_State *L)
{
    size_t olen = 0, ilen = 0;
    const char *ojs = luaL_optlstring(L, 2, NULL, &olen);
    int plan = 1, options, input;
    lua_Integer n;

    luaL_optlstring(L, 3, NULL, &ilen);
    luaL_checktype(L, plan, LUA_TTABLE);
    if (ilen > 0)                       /* overrides: the runner's path */
        return 0;
    lua_settop(L, 3);
    if (olen == 0) {
        lua_newtable(L);
    } else if (!flat_object(L, ojs, olen)) {
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_pushlstring(L, ojs, olen);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK || lua_type(L, -1) != LUA_TTABLE)
            return 0;
    }
    options = lua_gettop(L);
    /* every key declared, every value a scalar */
    lua_rawgeti(L, plan, P_DECLARED);
    lua_pushnil(L);
    while (lua_next(L, options)) {
        int t = lua_type(L, -1);
        if (lua_type(L, -2) != LUA_TSTRING || t == LUA_TTABLE || t == LUA_TUSERDATA ||
            t == LUA_TLIGHTUSERDATA) {
            return 0;
        }
        lua_pop(L, 1);
        lua_pushvalue(L, -1);
        if (lua_rawget(L, -3) == LUA_TNIL)
            return 0;
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_rawgeti(L, plan, P_OPTS);
    if (!check_fields(L, options, lua_gettop(L)))
        return 0;
    lua_pop(L, 1);
    /* the flow's inputs, mapped (sized for them: no rehash) */
    lua_rawgeti(L, plan, P_MAP);
    n = (lua_Integer)lua_rawlen(L, -1);
    lua_createtable(L, 0, (int)n);
    lua_insert(L, -2);
    input = lua_gettop(L) - 1;
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, -1, i);                          /* map, item */
        lua_rawgeti(L, -1, 1);                          /* map, item, iname */
        if (lua_rawgeti(L, -2, 2) == LUA_TSTRING) {     /* an option */
            lua_rawget(L, options);
        } else {
            lua_pop(L, 1);
            lua_rawgeti(L, -2, 3);
            if (lua_type(L, -1) == LUA_TTABLE)          /* copied: the runner's */
                return 0;
        }
        lua_rawset(L, input);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_rawgeti(L, plan, P_INPUTS);
    if (!check_fields(L, input, lua_gettop(L)))
        return 0;
    lua_pop(L, 1);
    return 2;
}

/* registration(text) -> value | nil, message: JSON text decoded (it starts
 * with {, [ or " after blanks), anything else kept as a string.
 * Upvalue 1: the JSON decoder. */
static int core_registration(lua_State *L)
{
    size_t len;
    const char *s = lua_tolstring(L, 1, &len);
    size_t i = 0;

    if (!s) {
        lua_pushnil(L);
        return 1;
    }
    while (i < len && strchr(" \t\r\n\f\v", s[i]) && s[i])
        i++;
    if (i == len || (s[i] != '{' && s[i] != '[' && s[i] != '"')) {
        lua_settop(L, 1);
        return 1;
    }
    if (flat_object(L, s, len))
        return 1;
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 1);
    if (lua_pcall(L, 1, 1, 0) == LUA_OK)
        return 1;
    lua_pushnil(L);
    lua_pushfstring(L, "registration data: invalid JSON: %s",
                    lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "error");
    return 2;
}

/*
 * ctx_new(ctx_mt, input, registration, reason, http_mt) -> ctx: a run's
 * ctx as runner.lua's build_ctx makes it, { input, registration, reason,
 * http = a table of its own over http_mt }, with ctx_mt.  The runner's
 * metatables (no __gc, and the new tables carry no __metatable) are set
 * without the sandbox's setmetatable checks.
 */
static int core_ctx_new(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 5, LUA_TTABLE);
    lua_settop(L, 5);
    lua_createtable(L, 0, 4);
    lua_pushvalue(L, 2);
    lua_setfield(L, -2, "input");
    lua_pushvalue(L, 3);
    lua_setfield(L, -2, "registration");
    lua_pushvalue(L, 4);
    lua_setfield(L, -2, "reason");
    lua_createtable(L, 0, 0);       /* a run's writes to ctx.http stay here */
    lua_pushvalue(L, 5);
    lua_setmetatable(L, -2);
    lua_setfield(L, -2, "http");
    lua_pushvalue(L, 1);
    lua_setmetatable(L, -2);
    return 1;
}

/* core.setup, core.registration; the core table on top, its json set. */
void uh_open_setup(lua_State *L)
{
    lua_getfield(L, -1, "json");
    lua_getfield(L, -1, "decode");
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, core_setup, 1);
    lua_setfield(L, -4, "setup");
    lua_pushcclosure(L, core_registration, 1);
    lua_setfield(L, -3, "registration");
    lua_pop(L, 1);
    lua_pushcfunction(L, core_ctx_new);
    lua_setfield(L, -2, "ctx_new");
}
