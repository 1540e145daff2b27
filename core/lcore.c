/*
 * lcore.c -- the "core" table: the C half of the Lua runtime.  Only the
 * runtime's own modules receive it (see safe_require); flows and cards
 * reach these functions through the wrappers in scripts/unhook/.
 */
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>

#include <lauxlib.h>
#include <lua-cjson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "json.h"
#include "runtime.h"
#include "state.h"
#include "url.h"

/* Resumed with the transfer finished (or expired): the values it gives;
 * or the request (still at 1) is sent again: after waiting for an OAuth2
 * token, or once after a 401 that made the token refresh. */
static int send_k(lua_State *L, int status, lua_KContext ctx)
{
    uh_run *r = uh_state_run(L);
    int n = uh_http_resume_values(L, r);

    (void)status;
    if (n >= 0)
        return n;
    if (uh_http_start(L, r, 1) < 0)
        return 2;
    return lua_yieldk(L, 0, ctx, send_k);
}

/* send(request) -> response | nil, error   (yields while in flight) */
static int core_send(lua_State *L)
{
    uh_run *r = uh_state_run(L);

    luaL_checktype(L, 1, LUA_TTABLE);
    if (!r || !r->rt || !r->co)
        return luaL_error(L, "HTTP requests are only possible inside a flow run");
    /* Only the run's own coroutine is resumed by the scheduler
     * (http.lua checks can_send first, to blame the flow's line). */
    if (L != r->co)
        return luaL_error(L, "HTTP requests must be made from the flow itself, "
                          "not from a coroutine it created");
    if (!lua_isyieldable(L))
        return luaL_error(L, "HTTP request made where the flow cannot wait "
                          "(inside a metamethod or iterator)");
    r->auth_retried = 0;
    if (uh_http_start(L, r, 1) < 0)
        return 2;                 /* nil, error object pushed */
    return lua_yieldk(L, 0, 0, send_k);
}

/* can_send() -> whether a request may be made from this coroutine */
static int core_can_send(lua_State *L)
{
    uh_run *r = uh_state_run(L);

    lua_pushboolean(L, r && r->co == L && lua_isyieldable(L));
    return 1;
}

/*
 * limits(memory_mb, timeout_ms): the manifest's limits for this run, set
 * by the runner before connector code runs; ignored when the host fixed
 * the limits (the command line's --memory-mb, --timeout-ms).
 */
static int core_limits(lua_State *L)
{
    uh_run *r = uh_state_run(L);
    lua_Integer mb = luaL_optinteger(L, 1, 0), ms = luaL_optinteger(L, 2, 0);

    if (!r || !r->rt || r->rt->limits_fixed || !r->co)
        return 0;
    if (ms > 0) {
        r->budget_ms = (long)ms;
        r->deadline = r->started + (double)ms / 1000.0;
    }
    if (mb > 0 && r->ps)
        r->mem_cap = (size_t)mb << 20;
    return 0;
}

/* sha256(s) -> the raw 32-byte digest (OpenSSL) */
static int core_sha256(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (!EVP_Digest(s, n, md, &len, EVP_sha256(), NULL))
        return luaL_error(L, "sha256 failed");
    lua_pushlstring(L, (const char *)md, len);
    return 1;
}

/* hmac_sha256(key, s) -> the raw 32-byte MAC (OpenSSL) */
static int core_hmac_sha256(lua_State *L)
{
    size_t kn, n;
    const char *k = luaL_checklstring(L, 1, &kn);
    const char *s = luaL_checklstring(L, 2, &n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (!HMAC(EVP_sha256(), k, (int)kn, (const unsigned char *)s, n, md, &len))
        return luaL_error(L, "hmac_sha256 failed");
    lua_pushlstring(L, (const char *)md, len);
    return 1;
}

/* call_card(name, args_json) -> result_json | nil, message */
static int core_call_card(lua_State *L)
{
    uh_run *r = uh_state_run(L);
    const char *name = luaL_checkstring(L, 1);
    const char *args = luaL_checkstring(L, 2);
    char *out = NULL;
    int rc;

    if (!r || !r->rt)
        return luaL_error(L, "C cards run only inside a flow");
    for (int i = 0; i < r->rt->nccards; i++) {
        uh_ccard *c = &r->rt->ccards[i];
        if (strcmp(c->name, name) != 0)
            continue;
        rc = c->fn(c->ud, args, &out);
        if (rc == UNHOOK_OK && out) {
            lua_pushstring(L, out);
            free(out);
            return 1;
        }
        lua_pushnil(L);
        lua_pushstring(L, out ? out : rc == UNHOOK_OK ? "the card returned no result"
                                                       : unhook_strerror(rc));
        free(out);
        return 2;
    }
    lua_pushnil(L);
    lua_pushfstring(L, "no C card '%s' in this engine", name);
    return 2;
}

/* log(level, message) */
static int core_log(lua_State *L)
{
    uh_run *r = uh_state_run(L);
    int level = (int)luaL_checkinteger(L, 1);
    const char *msg = luaL_checkstring(L, 2);

    if (r)
        uh_log(r->diag, UH_SECRETS(r->conn), level, "%s", msg);
    return 0;
}

/* A file the runtime reads (a connector's, a flow's) could not be opened
 * for want of something this process or machine runs short of, not for
 * anything in the file: the run says so (uh_run.short_of). */
static void note_short(lua_State *L, int e)
{
    uh_run *r;

    if ((e == EMFILE || e == ENFILE || e == ENOMEM) && (r = uh_state_run(L)))
        r->short_of = 1;
}

/* A resource a C function holds while it may raise (out of memory): the
 * collector releases it if the function is left by an error. */
typedef struct held {
    void *p;
    void (*release)(void *);
} held;

static int held_gc(lua_State *L)
{
    held *h = lua_touserdata(L, 1);

    if (h->p)
        h->release(h->p);
    h->p = NULL;
    return 0;
}

/* A new holder on the stack, holding nothing yet. */
static held *hold(lua_State *L)
{
    held *h = lua_newuserdatauv(L, sizeof *h, 0);

    h->p = NULL;
    h->release = free;
    if (luaL_newmetatable(L, "unhook.held")) {
        lua_pushcfunction(L, held_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return h;
}

static void let_go(held *h)
{
    if (h->p)
        h->release(h->p);
    h->p = NULL;
}

/* readfile(path) -> text | nil, message.  A file longer than the memory
 * cap of a run could never be loaded: it is refused before it is read
 * whole (EFBIG), an error of the connector's and not a shortage. */
static int core_readfile(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    uh_run *r = uh_state_run(L);
    held *h = hold(L);
    char *data;
    size_t len;
    int e = uh_read_file(path, !r ? 0 : r->ps ? r->mem_cap : r->limit.cap, &data, &len);

    if (e) {
        note_short(L, e);
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, strerror(e));
        return 2;
    }
    h->p = data;
    lua_pushlstring(L, data, len);
    let_go(h);
    return 1;
}

/* stamp(path) -> "mtime:size" of a file, or "" (to notice edits) */
static int core_stamp(lua_State *L)
{
    struct stat st;

    if (stat(luaL_checkstring(L, 1), &st) != 0)
        lua_pushliteral(L, "");
    else
        lua_pushfstring(L, "%d.%d:%d", (int)st.st_mtim.tv_sec,
                        (int)st.st_mtim.tv_nsec, (int)st.st_size);
    return 1;
}

/* isfile(path) -> boolean */
static int core_isfile(lua_State *L)
{
    struct stat st;

    lua_pushboolean(L, stat(luaL_checkstring(L, 1), &st) == 0 &&
                       S_ISREG(st.st_mode));
    return 1;
}

/* (chunk, chunkname, env) -> function | nil, message; mode "t" or "b" */
static int load_in_env(lua_State *L, const char *mode)
{
    size_t len;
    const char *s = luaL_checklstring(L, 1, &len);
    const char *name = luaL_checkstring(L, 2);

    luaL_checktype(L, 3, LUA_TTABLE);
    if (luaL_loadbufferx(L, s, len, name, mode) != LUA_OK) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    lua_pushvalue(L, 3);
    lua_setupvalue(L, -2, 1);
    return 1;
}

/* loadtext(source, chunkname, env): connector sources */
static int core_loadtext(lua_State *L)
{
    return load_in_env(L, "t");
}

static int dump_writer(lua_State *L, const void *p, size_t n, void *ud)
{
    (void)L;
    uh_buf_add(ud, p, n);
    return ((uh_buf *)ud)->oom;
}

/* dump(fn) -> bytecode of a Lua function (the runtime's cache only) */
static int core_dump(lua_State *L)
{
    uh_buf b = {0};
    int bad;

    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    bad = lua_dump(L, dump_writer, &b, 0) != 0 || b.oom;
    if (!bad)
        lua_pushlstring(L, b.data ? b.data : "", b.len);
    uh_buf_free(&b);
    if (bad)
        return luaL_error(L, "cannot dump this function");
    return 1;
}

/* loadbin(bytecode, chunkname, env): the runtime's own compiled cache */
static int core_loadbin(lua_State *L)
{
    return load_in_env(L, "b");
}

static void close_dir(void *d)
{
    closedir(d);
}

/* listdir(path) -> sorted list of entry names ({} when there is no such
 * folder) | nil, message (it is there but cannot be read) */
static int core_listdir(lua_State *L)
{
    const char *path = luaL_checkstring(L, 1);
    held *h;
    DIR *d;
    struct dirent *ent;
    lua_Integer n = 0;
    int e;

    lua_settop(L, 1);
    h = hold(L);
    h->release = close_dir;
    lua_newtable(L);
    if (!(d = h->p = opendir(path))) {
        e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return 1;
        note_short(L, e);
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, strerror(e));
        return 2;
    }
    while ((ent = readdir(d)))
        if (ent->d_name[0] != '.') {
            lua_pushstring(L, ent->d_name);
            lua_rawseti(L, -2, ++n);
        }
    let_go(h);
    lua_getglobal(L, "table");
    lua_getfield(L, -1, "sort");
    lua_pushvalue(L, -3);
    lua_call(L, 1, 0);
    lua_pop(L, 1);
    return 1;
}

/* getenv(name) -> string | nil (connection files only) */
static int core_getenv(lua_State *L)
{
    lua_pushstring(L, getenv(luaL_checkstring(L, 1)));
    return 1;
}

/* now() -> monotonic seconds; time() -> wall clock seconds (float) */
static int core_now(lua_State *L)
{
    lua_pushnumber(L, uh_now());
    return 1;
}

static int core_time(lua_State *L)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    lua_pushnumber(L, (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    return 1;
}

/* where(level) -> "file:line:" of the caller at that level, or "" */
static int core_where(lua_State *L)
{
    size_t n;
    const char *s;

    luaL_where(L, (int)luaL_optinteger(L, 1, 1));
    s = lua_tolstring(L, -1, &n);
    while (n && s[n - 1] == ' ')
        n--;
    lua_pushlstring(L, s, n);
    return 1;
}

/* redact(s) -> s with the connection's secrets masked */
static int core_redact(lua_State *L)
{
    uh_run *r = uh_state_run(L);
    const char *s = luaL_checkstring(L, 1);
    char *m;

    if (!r || !r->conn) {
        lua_settop(L, 1);
        return 1;
    }
    m = uh_redact(&r->conn->secrets, s);
    if (!m)
        return luaL_error(L, "out of memory");
    lua_pushstring(L, m);
    free(m);
    return 1;
}

/* json_encode(v) -> JSON text | nil, message (json.c: keys sorted) */
static int core_json_encode(lua_State *L)
{
    uh_buf b = {0};
    char err[256];

    luaL_checkany(L, 1);
    if (uh_json_encode_lua(L, 1, &b, err, sizeof err) != 0 || b.oom) {
        uh_buf_free(&b);
        lua_pushnil(L);
        lua_pushstring(L, b.oom ? "out of memory" : err);
        return 2;
    }
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    uh_buf_free(&b);
    return 1;
}

/* urlescape(s) -> percent-encoded s */
static int core_urlescape(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    uh_buf b = {0};

    uh_url_escape(&b, s, n);
    lua_pushlstring(L, b.data ? b.data : "", b.len);
    uh_buf_free(&b);
    return 1;
}

static void set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static const char *lower(const char *name, char *buf)
{
    size_t i;

    for (i = 0; name[i] && i < 31; i++)
        buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    buf[i] = '\0';
    return buf;
}

void uh_open_core(lua_State *L)
{
    char buf[32];
    static const luaL_Reg fns[] = {
        {"send", core_send},         {"log", core_log},
        {"readfile", core_readfile}, {"isfile", core_isfile},
        {"loadtext", core_loadtext}, {"getenv", core_getenv},
        {"now", core_now},           {"time", core_time},
        {"where", core_where},       {"urlescape", core_urlescape},
        {"redact", core_redact},     {"can_send", core_can_send},
        {"dump", core_dump},         {"loadbin", core_loadbin},
        {"stamp", core_stamp},       {"limits", core_limits},
        {"sha256", core_sha256},     {"hmac_sha256", core_hmac_sha256},
        {"call_card", core_call_card}, {"listdir", core_listdir},
        {"json_encode", core_json_encode},
        {NULL, NULL}};

    luaL_newlib(L, fns);
    luaopen_cjson(L);
    lua_setfield(L, -2, "json");
    /* the numbers C and the runner share: result codes, outcomes */
    lua_createtable(L, 0, 10);
#define UH_RC_(name, value, text) set_int(L, lower(#name, buf), value);
    UNHOOK_CODES(UH_RC_)
#undef UH_RC_
    lua_setfield(L, -2, "RC");
    lua_createtable(L, 0, 5);
    set_int(L, "done", UNHOOK_OUTCOME_DONE);
    set_int(L, "gone", UNHOOK_OUTCOME_GONE);
    set_int(L, "retry", UNHOOK_OUTCOME_RETRY);
    set_int(L, "failed", UNHOOK_OUTCOME_FAILED);
    set_int(L, "setup", UH_OUTCOME_SETUP);
    lua_setfield(L, -2, "OUTCOME");
    lua_createtable(L, 0, 3);
    set_int(L, "max_attempts", UH_RETRY_MAX_ATTEMPTS);
    set_int(L, "base_ms", (lua_Integer)UH_RETRY_BASE_MS);
    set_int(L, "max_ms", (lua_Integer)UH_RETRY_MAX_MS);
    lua_setfield(L, -2, "RETRY");
    lua_pushinteger(L, UNHOOK_LOG_ERROR); lua_setfield(L, -2, "LOG_ERROR");
    lua_pushinteger(L, UNHOOK_LOG_WARN);  lua_setfield(L, -2, "LOG_WARN");
    lua_pushinteger(L, UNHOOK_LOG_INFO);  lua_setfield(L, -2, "LOG_INFO");
    lua_pushinteger(L, UNHOOK_LOG_DEBUG); lua_setfield(L, -2, "LOG_DEBUG");
    uh_open_setup(L);
    uh_open_quick(L);
}
