/*
 * lengine.c -- the engine object of require "unhook": unhook.open{ db = }
 * is an engine on a store, with the lifecycle of the C API (enable,
 * disable, retry, show, list, history, resume, disable_all) and Lua
 * functions registered as cards.  Same semantics and errors as the C
 * API: an operational failure returns nil, message, code (unhook.codes);
 * misuse raises, naming the argument.  What the engine calls back (a
 * card, a listing) runs inside a protected call on the thread of the
 * call in progress, so no error escapes through the library's frames.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "unhook.h"

#define ENGINE_MT "unhook.Engine"

typedef struct lengine lengine;

/* A Lua function registered as a card of an engine. */
typedef struct lcard {
    lengine *owner;
    int fn;                     /* registry reference */
    struct lcard *next;
} lcard;

struct lengine {
    unhook_engine *e;           /* NULL once closed */
    lua_State *L;               /* the thread of the call in progress */
    int json;                   /* registry reference of the cjson module */
    lcard *cards;
};

/* Shared by lunhook.c, lengine.c and lresult.c, declared in each (a
 * client of the library includes unhook.h alone, so the module has no
 * header of its own). */
int lunhook_open(lua_State *L);
int lunhook_push_result(lua_State *L, unhook_engine *E, int rc, unhook_flow_result *res);
const char *lunhook_json_field(lua_State *L, int opts, const char *k, int enc);

/* Close: cards' references released; safe twice (close, __gc, __close). */
static int engine_gc(lua_State *L)
{
    lengine *g = luaL_checkudata(L, 1, ENGINE_MT);

    if (g->L)
        return luaL_error(L, "unhook.Engine: close called from its own card");
    unhook_engine_close(g->e);
    g->e = NULL;
    while (g->cards) {
        lcard *c = g->cards;
        g->cards = c->next;
        luaL_unref(L, LUA_REGISTRYINDEX, c->fn);
        free(c);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, g->json);
    g->json = LUA_NOREF;
    return 0;
}

/* The engine argument at idx, open and not busy with a call of its own. */
static lengine *check_engine(lua_State *L, int idx)
{
    lengine *g = luaL_checkudata(L, idx, ENGINE_MT);

    if (!g->e)
        luaL_error(L, "unhook.Engine: the engine is closed");
    if (g->L)
        luaL_error(L, "unhook.Engine: called from its own card or listing");
    return g;
}

static const luaL_Reg engine_methods[];

/* A closed engine userdata (as the style asks: created closed, then the
 * engine is opened into it), its metatable set. */
static lengine *new_engine(lua_State *L)
{
    lengine *g = lua_newuserdatauv(L, sizeof *g, 0);

    memset(g, 0, sizeof *g);
    g->json = LUA_NOREF;
    if (luaL_newmetatable(L, ENGINE_MT)) {
        lua_pushcfunction(L, engine_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, engine_gc);
        lua_setfield(L, -2, "__close");
        lua_newtable(L);
        luaL_setfuncs(L, engine_methods, 0);
        lua_setfield(L, -2, "__index");
    }
    lua_setmetatable(L, -2);
    return g;
}

/* opts.k as a string or nil; raises naming the option otherwise. */
static const char *opt_string(lua_State *L, int t, const char *k)
{
    int type = lua_getfield(L, t, k);   /* left on the stack: keeps it alive */

    if (type != LUA_TNIL && type != LUA_TSTRING)
        luaL_error(L, "%s: expected string, got %s", k, luaL_typename(L, -1));
    return lua_tostring(L, -1);
}

static int opt_int(lua_State *L, int t, const char *k)
{
    int isnum, type = lua_getfield(L, t, k);
    lua_Integer v = lua_tointegerx(L, -1, &isnum);

    if (type != LUA_TNIL && !isnum)
        luaL_error(L, "%s: expected integer, got %s", k, luaL_typename(L, -1));
    lua_pop(L, 1);
    return (int)v;
}

/* A key unhook.open does not know is an error, as for unhook.run: a
 * misspelt "db" would otherwise open ./unhook.db. */
static void check_open_keys(lua_State *L)
{
    static const char *const known[] = {"db", "connectors", "connection", "concurrency",
                                        "threads", "timeout_ms", "memory_mb", NULL};

    lua_pushnil(L);
    while (lua_next(L, 1)) {
        int ok = 0;
        lua_pop(L, 1);
        for (const char *const *k = known; *k && !ok; k++)
            ok = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), *k) == 0;
        if (!ok)
            luaL_error(L, "unhook.open: unknown key '%s' (keys: concurrency, connection, "
                       "connectors, db, memory_mb, threads, timeout_ms)",
                       lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
    }
}

/* unhook.open{ db =, connectors =, concurrency =, threads =, connection =,
 * timeout_ms =, memory_mb = } -> engine (its store opened on first use) */
int lunhook_open(lua_State *L)
{
    unhook_config cfg = {0};
    lengine *g;

    if (lua_isnoneornil(L, 1))
        lua_newtable(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    check_open_keys(L);
    cfg.db = opt_string(L, 1, "db");
    cfg.connectors = opt_string(L, 1, "connectors");
    cfg.connection = opt_string(L, 1, "connection");
    cfg.concurrency = opt_int(L, 1, "concurrency");
    cfg.threads = opt_int(L, 1, "threads");
    cfg.timeout_ms = opt_int(L, 1, "timeout_ms");
    cfg.memory_mb = opt_int(L, 1, "memory_mb");
    g = new_engine(L);
    lua_pushvalue(L, lua_upvalueindex(2));
    g->json = luaL_ref(L, LUA_REGISTRYINDEX);
    if (unhook_engine_open(&g->e, &cfg) != UNHOOK_OK) {
        lua_pushnil(L);
        lua_pushstring(L, unhook_strerror(UNHOOK_NOMEM));
        lua_pushinteger(L, UNHOOK_NOMEM);
        return 3;
    }
    return 1;
}

static int l_close(lua_State *L)
{
    luaL_checkudata(L, 1, ENGINE_MT);
    return engine_gc(L);
}

/* Push field k of table t decoded from JSON text (a string that is not
 * JSON stays as it is), inside a protected build. */
static void set_json(lua_State *L, lengine *g, const char *k, const char *text)
{
    if (!text)
        return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->json);
    lua_getfield(L, -1, "decode");
    lua_pushstring(L, text);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
        lua_pop(L, 1);
        lua_pushstring(L, text);
    }
    lua_setfield(L, -3, k);
    lua_pop(L, 1);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (v) {
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
}

static void set_num(lua_State *L, const char *k, double v)
{
    lua_pushnumber(L, v);
    lua_setfield(L, -2, k);
}

static void set_int(lua_State *L, const char *k, long v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

/* What a listing builds in: the list, the engine, and the item. */
typedef struct building {
    lengine *g;
    int list;                   /* the caller's stack index of the list, or 0 */
    const void *item;
    int failed;
} building;

/* protected: (b [, list]) push the instance b->item as a table, appended
 * to list if given */
static int build_instance(lua_State *L)
{
    building *b = lua_touserdata(L, 1);
    const unhook_instance *i = b->item;
    int list = lua_istable(L, 2);

    lua_createtable(L, 0, 14);
    set_str(L, "id", i->id);
    set_str(L, "connector", i->connector);
    set_str(L, "event", i->event);
    set_json(L, b->g, "options", i->options);
    set_str(L, "connection", i->connection);
    set_json(L, b->g, "registration", i->registration);
    set_str(L, "desired", i->desired);
    set_str(L, "state", i->state);
    set_str(L, "reason", i->reason);
    set_str(L, "last_error", i->last_error);
    set_int(L, "attempts", i->attempts);
    if (i->next_attempt_at > 0)
        set_num(L, "next_attempt_at", i->next_attempt_at);
    set_num(L, "created_at", i->created_at);
    set_num(L, "updated_at", i->updated_at);
    if (i->expires_at > 0)
        set_num(L, "expires_at", i->expires_at);
    if (list)
        lua_rawseti(L, 2, (lua_Integer)lua_rawlen(L, 2) + 1);
    return list ? 0 : 1;
}

/* protected: (b, list) append the history line b->item to list */
static int build_history(lua_State *L)
{
    building *b = lua_touserdata(L, 1);
    const unhook_history *h = b->item;

    lua_createtable(L, 0, 8);
    set_num(L, "at", h->at);
    set_str(L, "action", h->action);
    set_str(L, "outcome", h->outcome);
    if (h->status)
        set_int(L, "status", h->status);
    if (h->attempt)
        set_int(L, "attempt", h->attempt);
    set_str(L, "message", h->message);
    set_json(L, b->g, "registration", h->registration);
    lua_rawseti(L, 2, (lua_Integer)lua_rawlen(L, 2) + 1);
    return 0;
}

/* Run f(b) protected on the engine's thread; 1 to stop a listing. */
static int build(building *b, lua_CFunction f, const void *item)
{
    lua_State *L = b->g->L;

    b->item = item;
    if (b->failed || !lua_checkstack(L, 4)) {
        b->failed = 1;
        return 1;
    }
    lua_pushcfunction(L, f);
    lua_pushlightuserdata(L, b);
    lua_pushvalue(L, b->list);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        lua_pop(L, 1);
        b->failed = 1;
        return 1;
    }
    return 0;
}

static int on_instance(void *ud, const unhook_instance *i)
{
    return build(ud, build_instance, i);
}

static int on_history(void *ud, const unhook_history *h)
{
    return build(ud, build_history, h);
}

/* nil, message, code for an API failure */
static int fail(lua_State *L, lengine *g, int rc)
{
    lua_pushnil(L);
    lua_pushstring(L, g->e ? unhook_errmsg(g->e) : unhook_strerror(rc));
    lua_pushinteger(L, rc);
    return 3;
}

/* The filter table at idx (state, connector, event, id), or none. */
static const unhook_filter *check_filter(lua_State *L, int idx, unhook_filter *f)
{
    memset(f, 0, sizeof *f);
    if (lua_isnoneornil(L, idx))
        return NULL;
    luaL_checktype(L, idx, LUA_TTABLE);
    f->state = opt_string(L, idx, "state");
    f->connector = opt_string(L, idx, "connector");
    f->event = opt_string(L, idx, "event");
    f->id = opt_string(L, idx, "id");
    return f;
}

/* e:list([filter]) -> { instance, ... } by id */
static int l_list(lua_State *L)
{
    lengine *g = check_engine(L, 1);
    unhook_filter f;
    const unhook_filter *pf = check_filter(L, 2, &f);
    building b = {g, 0, NULL, 0};
    int rc;

    lua_newtable(L);
    b.list = lua_gettop(L);
    g->L = L;
    rc = unhook_instance_list(g->e, pf, on_instance, &b);
    g->L = NULL;
    if (rc != UNHOOK_OK)
        return fail(L, g, rc);
    if (b.failed)
        return luaL_error(L, "unhook.Engine: list: out of memory");
    lua_settop(L, b.list);
    return 1;
}

/* e:history(id) -> { line, ... } oldest first */
static int l_history(lua_State *L)
{
    lengine *g = check_engine(L, 1);
    const char *id = luaL_checkstring(L, 2);
    building b = {g, 0, NULL, 0};
    int rc;

    lua_settop(L, 2);
    lua_newtable(L);
    b.list = 3;
    g->L = L;
    rc = unhook_history_list(g->e, id, on_history, &b);
    g->L = NULL;
    if (rc != UNHOOK_OK)
        return fail(L, g, rc);
    if (b.failed)
        return luaL_error(L, "unhook.Engine: history: out of memory");
    return 1;
}

/* e:show(id) -> instance, or nil, message, code */
static int l_show(lua_State *L)
{
    lengine *g = check_engine(L, 1);
    const char *id = luaL_checkstring(L, 2);
    unhook_instance *i = NULL;
    building b = {g, 0, NULL, 0};
    int rc, st;

    lua_settop(L, 2);
    rc = unhook_instance_get(g->e, id, &i);
    if (rc != UNHOOK_OK)
        return fail(L, g, rc);
    b.item = i;
    lua_pushcfunction(L, build_instance);
    lua_pushlightuserdata(L, &b);
    st = lua_pcall(L, 1, 1, 0);
    unhook_instance_free(i);
    if (st != LUA_OK)
        return lua_error(L);
    return 1;
}

/* Call the API function of a lifecycle method with the engine's thread
 * set (cards run on it), then push its result. */
typedef int (*life_fn)(lengine *g, lua_State *L, unhook_flow_result *res);

static int lifecycle(lua_State *L, life_fn fn)
{
    lengine *g = check_engine(L, 1);
    unhook_flow_result res = {0};
    int rc;

    luaL_checkstring(L, 2);         /* misuse raises before the call */
    luaL_optstring(L, 3, NULL);
    g->L = L;
    rc = fn(g, L, &res);
    g->L = NULL;
    rc = lunhook_push_result(L, g->e, rc, &res);
    unhook_flow_result_free(&res);
    return rc;
}

static int do_enable(lengine *g, lua_State *L, unhook_flow_request *req,
                     unhook_flow_result *res)
{
    return unhook_instance_enable(g->e, luaL_checkstring(L, 2), req, res);
}

/* e:enable(id, { connector =, event =, options =, inputs =, connection = }) */
static int l_enable(lua_State *L)
{
    lengine *g = check_engine(L, 1);
    unhook_flow_request req = {0};
    unhook_flow_result res = {0};
    int rc, enc;

    luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_settop(L, 3);
    lua_rawgeti(L, LUA_REGISTRYINDEX, g->json);
    lua_getfield(L, -1, "encode");
    enc = lua_gettop(L);
    req.connector = opt_string(L, 3, "connector");
    req.event = opt_string(L, 3, "event");
    req.connection = opt_string(L, 3, "connection");
    luaL_argcheck(L, req.connector, 3, "connector: expected string");
    luaL_argcheck(L, req.event, 3, "event: expected string");
    req.options_json = lunhook_json_field(L, 3, "options", enc);
    req.inputs_json = lunhook_json_field(L, 3, "inputs", enc);
    g->L = L;
    rc = do_enable(g, L, &req, &res);
    g->L = NULL;
    rc = lunhook_push_result(L, g->e, rc, &res);
    unhook_flow_result_free(&res);
    return rc;
}

static int do_disable(lengine *g, lua_State *L, unhook_flow_result *res)
{
    return unhook_instance_disable(g->e, luaL_checkstring(L, 2),
                                   luaL_optstring(L, 3, "disabled"), res);
}

static int do_retry(lengine *g, lua_State *L, unhook_flow_result *res)
{
    return unhook_instance_retry(g->e, luaL_checkstring(L, 2), res);
}

/* e:disable(id [, reason]) */
static int l_disable(lua_State *L) { return lifecycle(L, do_disable); }
/* e:retry(id) */
static int l_retry(lua_State *L) { return lifecycle(L, do_retry); }

static int push_stats(lua_State *L, const unhook_stats *s)
{
    lua_createtable(L, 0, 9);
    set_int(L, "total", s->total);
    set_int(L, "done", s->done);
    set_int(L, "gone", s->gone);
    set_int(L, "pending", s->pending);
    set_int(L, "failed", s->failed);
    set_int(L, "skipped", s->skipped);
    set_int(L, "registered", s->registered);
    set_int(L, "renewed", s->renewed);
    set_int(L, "expired", s->expired);
    return 1;
}

/* e:resume([{ wait =, max_ms =, connector =, event =, id = }]) -> stats:
 * every due attempt (unhook_engine_run) */
static int l_resume(lua_State *L)
{
    lengine *g = check_engine(L, 1);
    unhook_filter f;
    const unhook_filter *pf = check_filter(L, 2, &f);
    unhook_stats s = {0};
    long max_ms = -1;
    int wait = 0, rc;

    if (pf) {
        max_ms = lua_getfield(L, 2, "max_ms") == LUA_TNIL ? -1 : (long)luaL_checkinteger(L, -1);
        wait = (lua_getfield(L, 2, "wait"), lua_toboolean(L, -1));
    }
    g->L = L;
    rc = unhook_engine_run(g->e, pf, max_ms, wait, &s, NULL, NULL);
    g->L = NULL;
    return rc != UNHOOK_OK ? fail(L, g, rc) : push_stats(L, &s);
}

/* e:disable_all([filter [, reason]]) -> stats */
static int l_disable_all(lua_State *L)
{
    lengine *g = check_engine(L, 1);
    unhook_filter f;
    const unhook_filter *pf = check_filter(L, 2, &f);
    const char *reason = luaL_optstring(L, 3, "disabled");  /* raises before g->L */
    unhook_stats s = {0};
    int rc;

    g->L = L;
    rc = unhook_instance_disable_all(g->e, pf, reason, &s, NULL, NULL);
    g->L = NULL;
    return rc != UNHOOK_OK ? fail(L, g, rc) : push_stats(L, &s);
}

/* protected: (card, args JSON) -> the results as a JSON array */
static int card_call(lua_State *L)
{
    lcard *c = lua_touserdata(L, 1);
    const char *args = lua_touserdata(L, 2);
    int argt, base, n;

    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->owner->json);   /* 1: cjson */
    lua_getfield(L, 1, "decode");
    lua_pushstring(L, args);
    lua_call(L, 1, 1);                                   /* 2: args */
    argt = 2;
    luaL_checktype(L, argt, LUA_TTABLE);
    base = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->fn);
    n = (int)lua_rawlen(L, argt);
    luaL_checkstack(L, n, "too many arguments");
    for (int k = 1; k <= n; k++)
        lua_rawgeti(L, argt, k);
    lua_call(L, n, LUA_MULTRET);
    n = lua_gettop(L) - base;
    lua_createtable(L, n, 0);
    for (int k = 1; k <= n; k++) {
        lua_pushvalue(L, base + k);
        lua_rawseti(L, -2, k);
    }
    lua_getfield(L, 1, "encode");
    lua_insert(L, -2);
    lua_call(L, 1, 1);
    return 1;
}

/* The C card behind a Lua function: called inside an engine call made
 * from Lua, on that call's thread, protected. */
static int on_card(void *ud, const char *args_json, char **out)
{
    lcard *c = ud;
    lua_State *L = c->owner->L;
    const char *s;
    int top, st;

    if (!L || !lua_checkstack(L, 3)) {
        *out = strdup("the card's engine is not in a call from Lua");
        return UNHOOK_ERROR;
    }
    top = lua_gettop(L);
    lua_pushcfunction(L, card_call);
    lua_pushlightuserdata(L, c);
    lua_pushlightuserdata(L, (void *)args_json);
    st = lua_pcall(L, 2, 1, 0);
    s = lua_tostring(L, -1);
    *out = strdup(s ? s : st == LUA_OK ? "[]" : "error object is not a string");
    lua_settop(L, top);
    return st == LUA_OK ? UNHOOK_OK : UNHOOK_ERROR;
}

/* e:card(name, fn): fn(...) is called from flows as ctx.cards.NAME(...),
 * its arguments and results passing through JSON */
static int l_card(lua_State *L)
{
    lengine *g = check_engine(L, 1);
    const char *name = luaL_checkstring(L, 2);
    lcard *c;
    int rc;

    luaL_checktype(L, 3, LUA_TFUNCTION);
    if (!(c = calloc(1, sizeof *c)))
        return luaL_error(L, "out of memory");
    c->owner = g;
    c->fn = LUA_NOREF;
    c->next = g->cards;
    g->cards = c;
    lua_pushvalue(L, 3);
    c->fn = luaL_ref(L, LUA_REGISTRYINDEX);
    rc = unhook_card_register(g->e, name, on_card, c);
    if (rc != UNHOOK_OK)
        return fail(L, g, rc);
    lua_pushboolean(L, 1);
    return 1;
}

static const luaL_Reg engine_methods[] = {
    {"enable", l_enable}, {"disable", l_disable}, {"retry", l_retry},
    {"show", l_show}, {"list", l_list}, {"history", l_history},
    {"resume", l_resume}, {"disable_all", l_disable_all}, {"card", l_card},
    {"close", l_close}, {NULL, NULL}};

