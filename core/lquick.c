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

#include <lauxlib.h>

#include "runtime.h"
#include "url.h"
#include "xfer.h"

/*
 * The answer on top: resp.json decoded when it may be JSON; returns
 * resp, or resp and true when its status is not 2xx (http.lua raises
 * the error), or false and the error object of a failed transfer.
 * Upvalue 1 of the function: the JSON decoder.
 */
static int answer(lua_State *L, uh_run *r, int n)
{
    if (n == 2) {                         /* nil, error object */
        lua_pushboolean(L, 0);
        lua_replace(L, -3);
        return 2;
    }
    /* an empty body (a 204) is never JSON: nothing more to look at; the
     * Content-Type was read with the response (r->answer_json) */
    lua_pushliteral(L, "body");
    lua_rawget(L, -2);
    if (lua_rawlen(L, -1) > 0 && r->answer_json) {
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_insert(L, -2);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
            lua_pushliteral(L, "json");
            lua_insert(L, -2);
            lua_rawset(L, -3);
        } else {
            lua_pop(L, 1);
        }
    } else {
        lua_pop(L, 1);
    }
    if (r->last_status >= 200 && r->last_status <= 299)
        return 1;
    lua_pushboolean(L, 1);
    return 2;
}

/* The request quick() left on the stack (see core_quick), as uh_http_send
 * reads it: its strings stay alive there while the run waits. */
enum { Q_METHOD = 2, Q_URL = 5, Q_BODY, Q_BASE, Q_HOSTS, Q_LINES };

static void quick_req(lua_State *L, uh_req *q)
{
    memset(q, 0, sizeof *q);
    q->method = lua_tostring(L, Q_METHOD);
    q->url = lua_tostring(L, Q_URL);
    q->body = lua_tolstring(L, Q_BODY, &q->bodylen);
    q->base = lua_tostring(L, Q_BASE);
    q->hosts = Q_HOSTS;
    q->headers = Q_LINES;
}

static int quick_k(lua_State *L, int status, lua_KContext ctx)
{
    uh_run *r = uh_state_run(L);
    int n = uh_http_resume_values(L, r);
    uh_req q;

    (void)status;
    if (n >= 0)
        return answer(L, r, n);
    quick_req(L, &q);
    if (uh_http_send(L, r, &q) < 0)
        return answer(L, r, 2);
    return lua_yieldk(L, 0, ctx, quick_k);
}

/* The number at idx as http.lua's text() writes it: an integer, or an
 * integral float within 2^53, in decimal, into num (32 bytes; NULL:
 * only whether it is one).  0 for anything else. */
static int number_text(lua_State *L, int idx, char *num)
{
    long long v;
    unsigned long long u;
    char tmp[24];
    size_t n = 0;
    double d;

    if (lua_isinteger(L, idx)) {
        v = (long long)lua_tointeger(L, idx);
    } else if (lua_type(L, idx) == LUA_TNUMBER) {
        d = lua_tonumber(L, idx);
        if (d != floor(d) || !(d > -9007199254740992.0 && d < 9007199254740992.0))
            return 0;
        v = (long long)d;
    } else {
        return 0;
    }
    if (!num)
        return 1;
    u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do
        tmp[n++] = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    if (v < 0)
        *num++ = '-';
    while (n > 0)
        *num++ = tmp[--n];
    *num = '\0';
    return 1;
}

/* Whether the path table at idx is the common case: a plain table of
 * strings and numbers number_text writes, by string keys. */
static int path_ok(lua_State *L, int idx)
{
    if (!lua_istable(L, idx) || lua_getmetatable(L, idx))
        return 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING ||
            (lua_type(L, -1) != LUA_TSTRING && !number_text(L, -1, NULL)))
            return 0;
        lua_pop(L, 1);
    }
    return 1;
}

/* A {name} of the URL template from the path table (http.lua's
 * path_values: its values as text). */
typedef struct quick_path {
    lua_State *L;
    int idx;                    /* 0: no path table */
    char num[32];
} quick_path;

static const char *quick_lookup(void *ud, const char *name, size_t n, size_t *vlen)
{
    quick_path *qp = ud;
    lua_State *L = qp->L;
    const char *v = NULL;

    if (!qp->idx)
        return NULL;
    lua_pushlstring(L, name, n);
    lua_rawget(L, qp->idx);
    if (lua_type(L, -1) == LUA_TSTRING)
        v = lua_tolstring(L, -1, vlen);     /* the path table keeps it */
    else if (number_text(L, -1, qp->num))
        *vlen = strlen(v = qp->num);
    lua_pop(L, 1);
    return v;
}

/*
 * quick(client, method, url, opts) -> resp [, true] | false, error | nil
 *
 * client: { base = URL or nil, hosts = list, lines = the manifest's
 * header lines }.  The common case: url a string, opts nil or a plain
 * table (no metatable) of only path (a plain table of strings and
 * integral numbers by string keys) and body (a string), a request the
 * flow may make from here.  nil: not the common case, nothing sent.
 * The URL template is filled here, once: a request sent again (an
 * OAuth2 token came, a 401 refreshed it) is the same request.
 */
static int core_quick(lua_State *L)
{
    uh_run *r = uh_state_run(L);
    quick_path qp = { L, 0, "" };
    uh_buf url = {0}, err = {0};
    uh_req q;
    int body = 0;

    lua_settop(L, 4);
    if (!lua_istable(L, 1) || lua_type(L, 2) != LUA_TSTRING || lua_type(L, 3) != LUA_TSTRING)
        return 0;
    if (!r || !r->rt || r->co != L || !lua_isyieldable(L))
        return 0;
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
                if (!path_ok(L, lua_gettop(L)))
                    return 0;
                qp.idx = lua_gettop(L);
            } else if (strcmp(k, "body") == 0 && lua_type(L, -1) == LUA_TSTRING) {
                body = lua_gettop(L);
            } else {
                return 0;
            }
            lua_pushvalue(L, -2);           /* the key; the value stays */
        }
    }
    r->auth_retried = 0;
    if (uh_url_expand(&url, lua_tostring(L, 3), quick_lookup, &qp, &err) < 0) {
        uh_buf_free(&url);
        uh_push_error(L, "usage", "%s", err.data ? err.data : "bad URL template");
        uh_buf_free(&err);
        return answer(L, r, 2);
    }
    /* the request from Q_URL on: url, body, base, hosts, lines (above
     * what the loop left: the path table and body, read from here) */
    lua_pushlstring(L, url.data ? url.data : "", url.len);
    uh_buf_free(&url);
    if (body)
        lua_pushvalue(L, body);
    else
        lua_pushnil(L);
    lua_getfield(L, 1, "base");
    lua_getfield(L, 1, "hosts");
    lua_getfield(L, 1, "lines");
    lua_rotate(L, Q_URL, 5);
    lua_settop(L, Q_LINES);
    quick_req(L, &q);
    if (uh_http_send(L, r, &q) < 0)
        return answer(L, r, 2);
    return lua_yieldk(L, 0, 0, quick_k);
}
/* core.quick and core.response_mt (response.c's, for the runner to
 * share as the runtime's other metatables); the core table on top, its
 * json set. */
void uh_open_quick(lua_State *L)
{
    uh_http_open_resp(L);
    lua_setfield(L, -2, "response_mt");
    lua_getfield(L, -1, "json");
    lua_getfield(L, -1, "decode");
    lua_pushcclosure(L, core_quick, 1);
    lua_setfield(L, -3, "quick");
    lua_pop(L, 1);
}
