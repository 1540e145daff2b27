/*
 * sandbox.c -- Lua states for untrusted connector code: a capped
 * allocator, a deadline hook pcall cannot swallow, safe libraries only
 * and a require that finds only the runtime's own modules.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "internal.h"

#define HOOK_COUNT 10000
#define SLICE_S 0.01              /* a flow runs at most this long at once */

uh_run *uh_state_run(lua_State *L)
{
    return *(uh_run **)lua_getextraspace(L);
}

/* lua_Alloc with a budget: refuse what would pass the cap. */
static void *limited_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    uh_limit *lim = ud;
    size_t old = ptr ? osize : 0;
    void *p;

    if (nsize == 0) {
        free(ptr);
        lim->used -= old;
        return NULL;
    }
    if (lim->cap && nsize > old && lim->used + (nsize - old) > lim->cap) {
        lim->hit = 1;
        return NULL;
    }
    p = realloc(ptr, nsize);
    if (!p)
        return NULL;
    lim->used = lim->used - old + nsize;
    return p;
}

/*
 * The CPU limit counts the flow's own running time; the wall-clock
 * deadline stops a flow that was kept waiting.  Once either trips, the
 * hook fires on every instruction, so a pcall in the flow cannot catch
 * the error and carry on.  A flow that runs long is also made to yield
 * now and then, so that one busy flow does not starve the others.
 */
static void deadline_hook(lua_State *L, lua_Debug *ar)
{
    uh_run *r = uh_state_run(L);
    double now;

    (void)ar;
    if (!r || r->deadline <= 0)
        return;
    now = uh_now();
    if (!r->cpu_tripped && !r->timed_out) {
        double cpu = r->busy + (r->resume_t0 > 0 ? now - r->resume_t0 : 0);
        /* past the deadline while running (not waiting on the network,
         * which the scheduler handles): it has been burning CPU */
        if ((r->budget_ms > 0 && cpu * 1000.0 > (double)r->budget_ms) ||
            now >= r->deadline)
            r->cpu_tripped = 1;
        else {
            if (r->resume_t0 > 0 && now - r->resume_t0 > SLICE_S && r->co == L &&
                lua_isyieldable(L)) {
                r->preempted = 1;
                lua_yield(L, 0);
            }
            return;
        }
    }
    lua_sethook(L, deadline_hook, LUA_MASKCOUNT, 1);
    luaL_error(L, "cpu_limit: flow ran past its time budget");
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);

    if (msg == NULL && !lua_isnoneornil(L, 1))
        return 1;                 /* error objects pass unchanged */
    luaL_traceback(L, L, msg ? msg : "(error object is nil)", 1);
    return 1;
}

int uh_pcall(lua_State *L, int nargs, int nresults)
{
    int base = lua_gettop(L) - nargs;
    int status;

    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    status = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    return status;
}

/* load(chunk [, chunkname [, mode [, env]]]) for text chunks only. */
static int safe_load(lua_State *L)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_optstring(L, 2, "=(load)");
    const char *mode = luaL_optstring(L, 3, "t");
    int status;

    if (strcmp(mode, "t") != 0)
        return luaL_argerror(L, 3, "only text chunks (\"t\") are allowed");
    if (lua_isnoneornil(L, 4))
        return luaL_argerror(L, 4, "an explicit environment is required");
    status = luaL_loadbufferx(L, s, len, name, "t");
    if (status != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushvalue(L, 4);
    if (!lua_setupvalue(L, -2, 1))
        lua_pop(L, 1);
    return 1;
}

static const uh_embedded *find_embedded(const char *name)
{
    const uh_embedded *m;

    for (m = uh_embedded_modules; m->name; m++)
        if (strcmp(m->name, name) == 0)
            return m;
    return NULL;
}

static int dump_writer(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    uh_buf_add(ud, p, n);
    return 0;
}

/*
 * Load runtime module m: from the engine's compiled copy when there is
 * one (parsing the sources for every flow run would dominate its cost),
 * else from source, keeping the compiled form for the next state.
 */
static int load_embedded(lua_State *L, const uh_embedded *m, const char *chunkname)
{
    uh_run *r = uh_state_run(L);
    unhook_engine *E = r ? r->E : NULL;
    size_t idx = (size_t)(m - uh_embedded_modules);
    uh_buf *bc;

    if (E && !E->bytecode) {
        size_t n = 0;
        while (uh_embedded_modules[n].name)
            n++;
        E->bytecode = calloc(n, sizeof *E->bytecode);
    }
    bc = E && E->bytecode ? &E->bytecode[idx] : NULL;
    if (bc && bc->len)
        return luaL_loadbufferx(L, bc->data, bc->len, chunkname, "b");
    if (luaL_loadbufferx(L, m->src, m->len, chunkname, "t") != LUA_OK)
        return LUA_ERRSYNTAX;
    if (bc) {
        lua_dump(L, dump_writer, bc, 0);
        if (bc->oom)
            uh_buf_free(bc);
    }
    return LUA_OK;
}

/*
 * The runtime's own require: any embedded module.  Runtime modules are
 * called with (name, core) and run with an environment whose require is
 * this one.  upvalues: 1 loaded table, 2 core table, 3 runtime env.
 */
static int runtime_require(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const uh_embedded *m;
    char chunkname[128];

    lua_settop(L, 1);
    if (lua_getfield(L, lua_upvalueindex(1), name) != LUA_TNIL)
        return 1;
    lua_pop(L, 1);
    m = find_embedded(name);
    if (!m)
        return luaL_error(L, "module '%s' not found: require is limited to "
                          "the unhook modules", name);
    snprintf(chunkname, sizeof chunkname, "=[unhook] %s", name);
    if (load_embedded(L, m, chunkname) != LUA_OK)
        return lua_error(L);
    lua_pushvalue(L, lua_upvalueindex(3));
    lua_setupvalue(L, -2, 1);
    lua_pushstring(L, name);
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_call(L, 2, 1);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_pushboolean(L, 1);
    }
    lua_pushvalue(L, -1);
    lua_setfield(L, lua_upvalueindex(1), name);
    return 1;
}

/*
 * The require connector code sees: only the public modules.  The
 * runtime's internals (manifest loading, connection parsing) hold the
 * core table and must stay out of reach.  upvalue 1: runtime require.
 */
static int public_require(lua_State *L)
{
    static const char *const public_modules[] = {"unhook", NULL};
    const char *name = luaL_checkstring(L, 1);

    for (const char *const *p = public_modules; *p; p++)
        if (strcmp(name, *p) == 0) {
            lua_pushvalue(L, lua_upvalueindex(1));
            lua_pushstring(L, name);
            lua_call(L, 1, 1);
            return 1;
        }
    return luaL_error(L, "module '%s' not found: flows may require only "
                      "\"unhook\"", name);
}

static void drop_fields(lua_State *L, const char *lib, const char *const *names)
{
    if (lua_getglobal(L, lib) == LUA_TTABLE) {
        for (; *names; names++) {
            lua_pushnil(L);
            lua_setfield(L, -2, *names);
        }
    }
    lua_pop(L, 1);
}

int uh_require(lua_State *L, const char *name)
{
    lua_getfield(L, LUA_REGISTRYINDEX, UH_REQUIRE);
    lua_pushstring(L, name);
    return uh_pcall(L, 1, 1);
}

lua_State *uh_scratch_state(unhook_engine *E, uh_run *run)
{
    memset(run, 0, sizeof *run);
    run->E = E;
    run->limit.cap = E->memory_cap;
    run->deadline = uh_now() + (double)E->timeout_ms / 1000.0;
    return uh_sandbox_new(E, &run->limit, run);
}

lua_State *uh_sandbox_new(unhook_engine *E, uh_limit *lim, uh_run *run)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},       {LUA_COLIBNAME, luaopen_coroutine},
        {LUA_TABLIBNAME, luaopen_table}, {LUA_STRLIBNAME, luaopen_string},
        {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8},
        {LUA_OSLIBNAME, luaopen_os},     {NULL, NULL}};
    static const char *const base_drop[] = {"dofile", "loadfile", NULL};
    static const char *const string_drop[] = {"dump", NULL};
    static const char *const os_drop[] = {"execute", "exit", "getenv",
        "remove", "rename", "setlocale", "tmpname", NULL};
    const luaL_Reg *lib;
    lua_State *L;

    (void)E;
    L = lua_newstate(limited_alloc, lim);
    if (!L)
        return NULL;
    *(uh_run **)lua_getextraspace(L) = run;
    lua_gc(L, LUA_GCGEN, 0, 0);
    for (lib = libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    drop_fields(L, LUA_GNAME, base_drop);
    drop_fields(L, LUA_STRLIBNAME, string_drop);
    drop_fields(L, LUA_OSLIBNAME, os_drop);
    lua_pushcfunction(L, safe_load);
    lua_setglobal(L, "load");

    /* stack: loaded core runtime-env */
    lua_newtable(L);
    uh_open_core(L);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushglobaltable(L);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);                   /* env is also upvalue 3 */
    lua_pushvalue(L, -4);
    lua_pushvalue(L, -4);
    lua_pushvalue(L, -3);
    lua_pushcclosure(L, runtime_require, 3); /* stack: loaded core env env rreq */
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, "require");         /* env.require = rreq */
    lua_setfield(L, LUA_REGISTRYINDEX, UH_REQUIRE);
    lua_pop(L, 4);
    lua_getfield(L, LUA_REGISTRYINDEX, UH_REQUIRE);
    lua_pushcclosure(L, public_require, 1);
    lua_setglobal(L, "require");

    lua_sethook(L, deadline_hook, LUA_MASKCOUNT, HOOK_COUNT);
    return L;
}
