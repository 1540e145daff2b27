/*
 * lunhook.c -- require "unhook" from a stock Lua 5.4: the engine as a
 * Lua module, so that connector authors can unit-test flows with busted.
 *
 *   local unhook = require "unhook"
 *   local ok, err = unhook.check("scripts/connectors/github")
 *   local res = unhook.run{ connector = ..., event = "push",
 *       options = { owner = "octo" }, registration = { id = 1 },
 *       connection = "conn.json",            -- or a table
 *       http = { { method = "DELETE", url = "...", status = 204 } } }
 *   -- res.outcome is "done", "gone", "retry" or "failed"; res.requests
 *   -- the exchanges (as a cassette records them), res.log the log lines
 *
 * and a Lua host embeds it as a C host does: unhook.open{ db = ... } is
 * an engine on a store (lengine.c), with the C API's semantics: an
 * operational failure returns nil, message, code (unhook.codes); misuse
 * raises.
 */
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>
#include <lua-cjson.h>

#include "unhook.h"

/* The module's own engine (unhook.open's are "unhook.Engine", lengine.c). */
#define ENGINE_MT "unhook.ModuleEngine"

/* Shared by lunhook.c, lengine.c and lresult.c, declared in each (a
 * client of the library includes unhook.h alone, so the module has no
 * header of its own). */
int lunhook_open(lua_State *L);
int lunhook_push_result(lua_State *L, unhook_engine *E, int rc, unhook_flow_result *res);
const char *lunhook_json_field(lua_State *L, int opts, const char *k, int enc);

/* Lines the engine hands out during a call (log lines, exchanges), kept
 * in C until the call returns: no Lua error may cross the engine. */
typedef struct lines {
    char **v;
    size_t n, cap;
    int oom;
} lines;

/* The module's engine and what its callbacks collect. */
typedef struct module {
    unhook_engine *E;
    lines log, requests;
} module;

static void lines_clear(lines *l)
{
    for (size_t k = 0; k < l->n; k++)
        free(l->v[k]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

static void lines_add(lines *l, const char *s, size_t n)
{
    char *c;

    if (l->oom)
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    if (!(c = malloc(n + 1))) {
        l->oom = 1;
        return;
    }
    memcpy(c, s, n);
    c[n] = '\0';
    l->v[l->n++] = c;
}

static void on_log(void *ud, int level, const char *line)
{
    static const char *const names[] = {"error", "warn", "info", "debug", "trace"};
    char buf[2048];
    int n = snprintf(buf, sizeof buf, "[%s] %s",
                     names[level < 0 ? 0 : level > 4 ? 4 : level], line);

    lines_add(&((module *)ud)->log, buf, n < 0 ? 0 : (size_t)n < sizeof buf
              ? (size_t)n : sizeof buf - 1);
}

static int on_exchange(void *ud, const char *line, size_t len)
{
    lines_add(&((module *)ud)->requests, line, len);
    return 0;
}

/* The module keeps one engine per Lua state, as an upvalue. */
static module *module_of(lua_State *L)
{
    module *m = luaL_checkudata(L, lua_upvalueindex(1), ENGINE_MT);

    if (!m->E)
        luaL_error(L, "unhook engine is closed");
    return m;
}

static unhook_engine *engine_of(lua_State *L)
{
    return module_of(L)->E;
}

static int engine_gc(lua_State *L)
{
    module *m = luaL_checkudata(L, 1, ENGINE_MT);

    unhook_engine_close(m->E);
    m->E = NULL;
    lines_clear(&m->log);
    lines_clear(&m->requests);
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

/* Misuse raises: a key unhook.run does not know (a typo would otherwise
 * be ignored silently). */
static void check_keys(lua_State *L, const char *fn)
{
    static const char *const keys[] = {"connection", "connector", "event", "http",
        "inputs", "instance", "options", "reason", "registration", "replay", NULL};

    lua_pushnil(L);
    while (lua_next(L, 1)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
        int known = 0;
        for (const char *const *p = keys; k && *p; p++)
            known |= strcmp(k, *p) == 0;
        if (!known)
            luaL_error(L, "unhook.%s: unknown key '%s' (keys: connection, connector, "
                       "event, http, inputs, instance, options, reason, registration, "
                       "replay)", fn, k ? k : luaL_typename(L, -2));
        lua_pop(L, 1);
    }
}

/* The cassette text of the run's http list (each exchange encoded as
 * one line), pushed; or nothing pushed and 0. */
static int push_http(lua_State *L, int enc)
{
    luaL_Buffer b;

    if (lua_getfield(L, 1, "http") == LUA_TNIL) {
        lua_pop(L, 1);
        return 0;
    }
    luaL_argcheck(L, lua_istable(L, -1), 1, "http: expected a list of exchanges");
    luaL_buffinit(L, &b);
    for (lua_Integer i = 1; lua_rawgeti(L, -2, i) != LUA_TNIL; i++) {
        luaL_argcheck(L, lua_istable(L, -1), 1, "http: each exchange is a table");
        lua_pushvalue(L, enc);
        lua_insert(L, -2);
        lua_call(L, 1, 1);
        luaL_addvalue(&b);
        luaL_addchar(&b, '\n');
    }
    lua_pop(L, 1);
    luaL_pushresult(&b);
    lua_remove(L, -2);
    return 1;
}

/* The largest cassette read (a recorded body is at most 8 MiB). */
#define CASSETTE_MAX ((size_t)256 << 20)

/* The text of the replay file, pushed; or nil and a message. */
static int push_file(lua_State *L, const char *path)
{
    FILE *f = fopen(path, "rb");
    luaL_Buffer b;
    size_t n, total = 0;
    int err;

    if (!f) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: cannot read the cassette", path);
        return 0;
    }
    luaL_buffinit(L, &b);
    do {
        char *p = luaL_prepbuffer(&b);
        n = fread(p, 1, LUAL_BUFFERSIZE, f);
        luaL_addsize(&b, n);
        total += n;
    } while (n > 0 && total <= CASSETTE_MAX);
    err = ferror(f) ? errno : 0;    /* a folder opens, then fails to read */
    fclose(f);
    if (err || total > CASSETTE_MAX) {  /* or /dev/zero, a runaway file */
        luaL_pushresult(&b);
        lua_pop(L, 1);
        lua_pushnil(L);
        if (err)
            lua_pushfstring(L, "%s: cannot read the cassette: %s", path, strerror(err));
        else
            lua_pushfstring(L, "%s: cannot read the cassette: over %d MiB", path,
                            (int)(CASSETTE_MAX >> 20));
        return 0;
    }
    luaL_pushresult(&b);
    return 1;
}

/* A connection given as a table: written (0600) to a file the run reads,
 * its path into buf; 0, or -1. */
static int connection_file(lua_State *L, int enc, char *buf, size_t size)
{
    const char *dir = getenv("TMPDIR");
    const char *text;
    size_t len;
    int fd, ok;

    lua_getfield(L, 1, "connection");
    lua_pushvalue(L, enc);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    text = lua_tolstring(L, -1, &len);
    snprintf(buf, size, "%s/unhook-conn-XXXXXX", dir && *dir ? dir : "/tmp");
    if ((fd = mkstemp(buf)) < 0)
        return -1;
    ok = write(fd, text, len) == (ssize_t)len;
    close(fd);
    lua_pop(L, 1);
    if (!ok)
        unlink(buf);
    return ok ? 0 : -1;
}

/* res.requests (each exchange decoded) and res.log, from what the
 * engine's callbacks collected; the result table is on top. */
static void push_collected(lua_State *L, module *m)
{
    lua_createtable(L, (int)m->requests.n, 0);
    for (size_t k = 0; k < m->requests.n; k++) {
        lua_getfield(L, lua_upvalueindex(2), "decode");
        lua_pushstring(L, m->requests.v[k]);
        lua_call(L, 1, 1);
        lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    lua_setfield(L, -2, "requests");
    lua_createtable(L, (int)m->log.n, 0);
    for (size_t k = 0; k < m->log.n; k++) {
        lua_pushstring(L, m->log.v[k]);
        lua_rawseti(L, -2, (lua_Integer)k + 1);
    }
    lua_setfield(L, -2, "log");
}

/* The cassette to answer from (http list or replay file): replaying
 * set on the engine; 0, or the count of values pushed for a failure. */
static int set_replay(lua_State *L, module *m, int enc)
{
    const char *name = "http";
    size_t len;
    int rc;

    if (!push_http(L, enc)) {
        if (lua_getfield(L, 1, "replay") == LUA_TNIL)
            return 0;
        name = luaL_checkstring(L, -1);
        if (!push_file(L, name)) {
            lua_pushinteger(L, UNHOOK_IO);
            return 3;
        }
    }
    const char *text = lua_tolstring(L, -1, &len);
    rc = unhook_engine_replay(m->E, text, len, name);
    if (rc != UNHOOK_OK) {
        lua_pushnil(L);
        lua_pushstring(L, unhook_errmsg(m->E));
        lua_pushinteger(L, rc);
        unhook_engine_replay(m->E, NULL, 0, NULL);  /* the next run may go out */
        return 3;
    }
    return 0;
}

static int flow(lua_State *L, int reg)
{
    module *m = module_of(L);
    unhook_flow_request req = {0};
    unhook_flow_result res = {0};
    char conn[512] = "";
    int rc, enc, n;

    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    check_keys(L, reg ? "register" : "run");
    lua_getfield(L, lua_upvalueindex(2), "encode");
    enc = lua_gettop(L);
    req.connector = (lua_getfield(L, 1, "connector"), lua_tostring(L, -1));
    req.event = (lua_getfield(L, 1, "event"), lua_tostring(L, -1));
    req.reason = (lua_getfield(L, 1, "reason"), lua_tostring(L, -1));
    req.instance_id = (lua_getfield(L, 1, "instance"), lua_tostring(L, -1));
    luaL_argcheck(L, req.connector, 1, "connector: expected string");
    luaL_argcheck(L, req.event, 1, "event: expected string");
    lua_getfield(L, 1, "connection");
    luaL_argcheck(L, lua_isnil(L, -1) || lua_type(L, -1) == LUA_TSTRING ||
                  lua_istable(L, -1), 1, "connection: expected a file name or a table");
    req.connection = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
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
    if ((n = set_replay(L, m, enc)) != 0)
        return n;
    if (lua_getfield(L, 1, "connection") == LUA_TTABLE) {
        if (connection_file(L, enc, conn, sizeof conn) < 0) {
            unhook_engine_replay(m->E, NULL, 0, NULL);
            return luaL_error(L, "unhook.%s: cannot write the connection to a "
                              "temporary file", reg ? "register" : "run");
        }
        req.connection = conn;
    }
    lines_clear(&m->log);
    lines_clear(&m->requests);
    unhook_engine_record(m->E, on_exchange, m);
    rc = reg ? unhook_flow_register(m->E, &req, &res)
             : unhook_flow_deregister(m->E, &req, &res);
    unhook_engine_record(m->E, NULL, NULL);
    unhook_engine_replay(m->E, NULL, 0, NULL);
    if (conn[0])
        unlink(conn);
    n = lunhook_push_result(L, m->E, rc, &res);
    unhook_flow_result_free(&res);
    if (conn[0] && n > 1 && lua_type(L, -(n - 1)) == LUA_TSTRING) {
        /* name the table, not the temporary file it was written to */
        luaL_gsub(L, lua_tostring(L, -(n - 1)), conn, "connection");
        lua_replace(L, -n);
    }
    if (n == 1)
        push_collected(L, m);
    return n;
}

/* _card(name, ...): a built-in card outside a run (unhook.cards.X.Y). */
static int l_card(lua_State *L)
{
    module *m = module_of(L);
    const char *name = luaL_checkstring(L, 1);
    int n = lua_gettop(L) - 1, rc;
    char *out = NULL;

    lua_getfield(L, lua_upvalueindex(2), "encode");   /* stack: name args... encode */
    lua_createtable(L, n, 0);
    for (int i = 1; i <= n; i++) {
        if (lua_isnil(L, i + 1))
            lua_getfield(L, lua_upvalueindex(2), "null");
        else
            lua_pushvalue(L, i + 1);
        lua_rawseti(L, -2, i);
    }
    lua_call(L, 1, 1);
    rc = unhook_card_call(m->E, name, lua_tostring(L, -1), &out);
    if (rc != UNHOOK_OK) {
        lua_pushstring(L, unhook_errmsg(m->E));
        return lua_error(L);
    }
    lua_settop(L, 0);
    lua_getfield(L, lua_upvalueindex(2), "decode");
    lua_pushstring(L, out);
    unhook_free(out);
    lua_call(L, 1, 1);
    lua_getfield(L, lua_upvalueindex(2), "null");
    n = (int)lua_rawlen(L, 1);
    for (int i = 1; i <= n; i++) {
        lua_rawgeti(L, 1, i);
        if (lua_rawequal(L, -1, 2)) {
            lua_pop(L, 1);
            lua_pushnil(L);
        }
    }
    return n;
}

static int l_run(lua_State *L) { return flow(L, 0); }
static int l_register(lua_State *L) { return flow(L, 1); }

/* The error objects a flow raises on purpose, for specs of flows and
 * cards: unhook.error, is_error, fail and retry, as the runtime has them
 * (scripts/unhook/init.lua), without a flow's file and line. */
static const char errors_lua[] =
    "local M = ...\n"
    "local Error = { __name = 'unhook.Error' }\n"
    "Error.__index = Error\n"
    "Error.__tostring = function(e) return tostring(e.message or e.code) end\n"
    "function M.error(code, message, fields)\n"
    "  local e = fields or {}\n"
    "  e.code, e.message = code, message\n"
    "  return setmetatable(e, Error)\n"
    "end\n"
    "function M.is_error(v) return getmetatable(v) == Error end\n"
    "function M.fail(message)\n"
    "  if type(message) ~= 'string' then\n"
    "    error('unhook.fail: message: expected string, got ' .. type(message), 2)\n"
    "  end\n"
    "  error(M.error('fail', message), 0)\n"
    "end\n"
    "function M.retry(message, after)\n"
    "  if type(message) ~= 'string' then\n"
    "    error('unhook.retry: message: expected string, got ' .. type(message), 2)\n"
    "  end\n"
    "  if after ~= nil and type(after) ~= 'number' then\n"
    "    error('unhook.retry: after_seconds: expected number, got ' .. type(after), 2)\n"
    "  end\n"
    "  error(M.error('retry', message, { retry_after = after }), 0)\n"
    "end\n"
    "local card = M._card\n"
    "local function node(path)\n"
    "  return setmetatable({}, {\n"
    "    __index = function(t, k)\n"
    "      local v = node(path and (path .. '.' .. k) or k)\n"
    "      rawset(t, k, v)\n"
    "      return v\n"
    "    end,\n"
    "    __call = function(_, ...) return card(path, ...) end,\n"
    "  })\n"
    "end\n"
    "M.cards = node(nil)\n"
    "M._card = nil\n";

__attribute__((visibility("default"))) int luaopen_unhook(lua_State *L);

int luaopen_unhook(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"check", l_check}, {"run", l_run}, {"register", l_register},
        {"_card", l_card}, {"open", lunhook_open}, {NULL, NULL}};
    module *m;
    unhook_config cfg = {0};

    lua_newtable(L);                            /* module */
    m = lua_newuserdatauv(L, sizeof *m, 0);     /* module engine */
    memset(m, 0, sizeof *m);
    if (luaL_newmetatable(L, ENGINE_MT)) {
        lua_pushcfunction(L, engine_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, engine_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);
    cfg.log = on_log;
    cfg.log_userdata = m;
    cfg.log_level = UNHOOK_LOG_DEBUG;
    if (unhook_engine_open(&m->E, &cfg) != UNHOOK_OK)
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
    lua_newtable(L);                            /* the C API's result codes */
#define UNHOOK_LUA_CODE_(name, value, text) \
    lua_pushinteger(L, value);              \
    lua_setfield(L, -2, #name);
    UNHOOK_CODES(UNHOOK_LUA_CODE_)
#undef UNHOOK_LUA_CODE_
    lua_setfield(L, -2, "codes");
    if (luaL_loadbufferx(L, errors_lua, sizeof errors_lua - 1, "=unhook", "t") != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, -2);
    lua_call(L, 1, 0);
    return 1;
}
