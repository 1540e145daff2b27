/*
 * engine.c -- the engine object and the public entry points that run
 * flows without the store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "lifecycle.h"
#include "cassette.h"
#include "oauth.h"

const char *unhook_version(void)
{
    return UNHOOK_VERSION;
}

/* The store as uh_conn_load asks for it: OAuth2 token rows. */
static int open_store(void *ud, uh_store **out)
{
    return uh_engine_store(ud, out);
}

/* A sibling of E for bulk work on another thread (crew.c): opened with
 * E's configuration and another concurrency.  NULL when it cannot be. */
static unhook_engine *open_like(const unhook_engine *E, int concurrency)
{
    unhook_config cfg = {0};
    unhook_engine *S;

    cfg.connectors = E->rt.connectors;
    cfg.log = E->diag.log;
    cfg.log_userdata = E->diag.log_ud;
    cfg.log_level = E->diag.log_level;
    cfg.memory_mb = E->memory_mb;
    cfg.timeout_ms = E->timeout_ms;
    cfg.db = E->db_path;
    cfg.concurrency = concurrency;
    cfg.connection = E->conn_override;
    cfg.expect_gone = E->expect_gone;
    return unhook_engine_open(&S, &cfg) == UNHOOK_OK ? S : NULL;
}

int unhook_engine_open(unhook_engine **out, const unhook_config *cfg)
{
    static const unhook_config defaults = {0};
    unhook_engine *E;
    uh_rt *rt;
    const char *path;

    *out = NULL;
    if (!cfg)
        cfg = &defaults;
    E = calloc(1, sizeof *E);
    if (!E)
        return UNHOOK_NOMEM;
    E->wakefd = -1;
    rt = &E->rt;
    E->diag.log = cfg->log;
    E->diag.log_ud = cfg->log_userdata;
    E->diag.log_level = cfg->log_level;
    E->diag.errmsg = uh_strdup("");
    path = cfg->connectors ? cfg->connectors : getenv("UNHOOK_CONNECTORS");
    rt->diag = &E->diag;
    rt->connectors = uh_strdup(path ? path : "");
    rt->memory_cap = (size_t)(cfg->memory_mb > 0 ? cfg->memory_mb
                                                 : UH_DEFAULT_MEMORY_MB) << 20;
    rt->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : UH_DEFAULT_TIMEOUT_MS;
    rt->limits_fixed = cfg->memory_mb > 0 || cfg->timeout_ms > 0;
    rt->sched = uh_sched_new();
    rt->hostrun.rt = rt;
    rt->hostrun.diag = rt->diag;
    rt->hostrun.sched = rt->sched;
    rt->host = uh_sandbox_new(rt, &rt->hostlimit, &rt->hostrun);
    rt->store = open_store;
    rt->store_ud = E;
    E->db_path = cfg->db ? uh_strdup(cfg->db) : NULL;
    E->conn_override = cfg->connection ? uh_strdup(cfg->connection) : NULL;
    E->concurrency = cfg->concurrency > 0 ? cfg->concurrency : 16;
    /* a state for every flow in flight stays pooled: building one costs
     * ~1 ms, reusing one ~20 us */
    E->rt.pool_max = E->concurrency;
    E->expect_gone = cfg->expect_gone;
    /* bulk work's threads: 1 below 2, at most UH_THREADS_MAX */
    E->threads = cfg->threads > UH_THREADS_MAX ? UH_THREADS_MAX
               : cfg->threads > 1 ? cfg->threads : 1;
    E->memory_mb = cfg->memory_mb > 0 ? cfg->memory_mb : 0;
    E->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 0;
    E->open_like = open_like;
    E->close = unhook_engine_close;
    E->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (rt->sched && E->wakefd >= 0)
        uh_sched_watch(rt->sched, E->wakefd);
    E->rng = (unsigned long long)uh_now() * 1000003ULL ^ (unsigned long long)getpid() << 17 ^ (unsigned long long)(uintptr_t)E;
    if (!rt->connectors || !E->diag.errmsg || !rt->sched || !rt->host || E->wakefd < 0) {
        unhook_engine_close(E);
        return UNHOOK_NOMEM;
    }
    *out = E;
    return UNHOOK_OK;
}

void unhook_engine_close(unhook_engine *E)
{
    uh_rt *rt;

    if (!E)
        return;
    if (E->in_call) {
        /* from a callback of a driving call (or of this close): the call
         * closes it when it returns (drive.c) */
        E->close_asked = 1;
        return;
    }
    rt = &E->rt;
    E->in_call = 1;             /* a close from a callback now is this one */
    uh_drive_end(E);
    if (E->wakefd >= 0)
        close(E->wakefd);
    if (rt->host)
        lua_close(rt->host);
    if (E->store)
        E->store->ops->close(E->store);
    uh_pool_free(rt);
    for (int i = 0; i < rt->nccards; i++)
        free(rt->ccards[i].name);
    free(rt->ccards);
    if (rt->bytecode) {
        for (int i = 0; uh_embedded_modules[i].name; i++)
            uh_buf_free(&rt->bytecode[i]);
        free(rt->bytecode);
    }
    uh_sched_free(rt->sched);
    free(rt->connectors);
    free(E->db_path);
    free(E->conn_override);
    free(E->diag.errmsg);
    free(E);
}

/* ---- the driving calls (drive.c), guarded against the host's callbacks */

/*
 * The host's callbacks run inside the driving calls, and must not call
 * back into the engine (core/README.md).  Those that would free what the
 * call is using are refused: an action, a timeout action, drive and
 * undrive from a callback return UNHOOK_USAGE, and unhook_engine_close
 * from one is done when the outer call returns.
 */
static int enter(unhook_engine *E, const char *fn)
{
    if (!E->in_call) {
        E->in_call = 1;
        return 1;
    }
    uh_seterr(&E->diag, "%s: called from one of the engine's callbacks", fn);
    return 0;
}

static int leave(unhook_engine *E, int rc)
{
    E->in_call = 0;
    if (E->close_asked)
        unhook_engine_close(E);
    return rc;
}

static int not_driven(unhook_engine *E, const char *fn)
{
    if (E)
        uh_seterr(&E->diag, "%s: the engine is not driven (unhook_engine_drive)", fn);
    return UNHOOK_USAGE;
}

int unhook_engine_drive(unhook_engine *E, const unhook_driver *driver)
{
    if (!E || !enter(E, "unhook_engine_drive"))
        return UNHOOK_USAGE;
    return leave(E, uh_drive_start(E, driver));
}

int unhook_engine_action(unhook_engine *E, int fd, int events)
{
    if (!E || !E->drive)
        return not_driven(E, "unhook_engine_action");
    if (!enter(E, "unhook_engine_action"))
        return UNHOOK_USAGE;
    return leave(E, uh_drive_action(E, fd, events));
}

int unhook_engine_timeout_action(unhook_engine *E)
{
    if (!E || !E->drive)
        return not_driven(E, "unhook_engine_timeout_action");
    if (!enter(E, "unhook_engine_timeout_action"))
        return UNHOOK_USAGE;
    return leave(E, uh_drive_timeout(E));
}

int unhook_engine_undrive(unhook_engine *E)
{
    if (!E || !E->drive)
        return UNHOOK_OK;
    if (!enter(E, "unhook_engine_undrive"))
        return UNHOOK_USAGE;
    uh_drive_end(E);
    return leave(E, UNHOOK_OK);
}

int unhook_card_register(unhook_engine *E, const char *name, unhook_card_fn fn,
                         void *ud)
{
    uh_rt *rt = E ? &E->rt : NULL;
    uh_ccard *p;
    const char *c;

    if (!E || !name || !*name || !fn) {
        if (E)
            uh_seterr(&E->diag, "unhook_card_register: a name and a function are needed");
        return UNHOOK_USAGE;
    }
    for (c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '_' || *c == '.') ||
            (*c == '.' && (c == name || c[1] == '\0' || c[1] == '.'))) {
            uh_seterr(&E->diag, "card name '%s': use letters, digits, '_' and single dots", name);
            return UNHOOK_USAGE;
        }
    for (int i = 0; i < rt->nccards; i++)
        if (strcmp(rt->ccards[i].name, name) == 0) {
            uh_seterr(&E->diag, "card '%s' is already registered", name);
            return UNHOOK_USAGE;
        }
    p = realloc(rt->ccards, (size_t)(rt->nccards + 1) * sizeof *p);
    if (!p)
        return UNHOOK_NOMEM;
    rt->ccards = p;
    p[rt->nccards].name = uh_strdup(name);
    if (!p[rt->nccards].name)
        return UNHOOK_NOMEM;
    p[rt->nccards].fn = fn;
    p[rt->nccards].ud = ud;
    rt->nccards++;
    return UNHOOK_OK;
}

const char *unhook_errmsg(unhook_engine *E)
{
    return E && E->diag.errmsg ? E->diag.errmsg : "";
}

char *unhook_connector_path(unhook_engine *E, const char *name)
{
    return uh_connector_path(&E->rt, name);
}

int unhook_connector_check(unhook_engine *E, const char *connector)
{
    return uh_connector_check(&E->rt, connector);
}

int unhook_connection_check(unhook_engine *E, const char *path, char **subject)
{
    uh_conn c;
    char *who = NULL;
    int rc;

    if (subject)
        *subject = NULL;
    if (!E)
        return UNHOOK_USAGE;
    if ((rc = uh_refuse_driven(E, "a connection check")) != UNHOOK_OK)
        return rc;
    if (!path) {
        uh_seterr(&E->diag, "no connection file given");
        return UNHOOK_USAGE;
    }
    rc = uh_conn_load(&E->rt, path, &c);
    if (rc != UNHOOK_OK)
        return rc;
    if (c.oauth)
        rc = uh_oauth_check(E->rt.sched, &c, &E->diag, &who);
    if (rc != UNHOOK_OK) {
        char *m = uh_redact(&c.secrets, E->diag.errmsg);
        if (m) {
            uh_seterr(&E->diag, "%s", m);
            free(m);
        }
    } else if (who && subject) {
        *subject = uh_redact(&c.secrets, who);
    }
    free(who);
    uh_conn_free(&c);
    return rc;
}

int unhook_flow_deregister(unhook_engine *E, const unhook_flow_request *req,
                           unhook_flow_result *res)
{
    int rc = uh_refuse_driven(E, "a one-off run");

    return rc != UNHOOK_OK ? rc : uh_flow_once(&E->rt, req, res, "deregistration", 0);
}

int unhook_flow_register(unhook_engine *E, const unhook_flow_request *req,
                         unhook_flow_result *res)
{
    int rc = uh_refuse_driven(E, "a one-off run");

    return rc != UNHOOK_OK ? rc : uh_flow_once(&E->rt, req, res, "registration", 0);
}

static uh_tape *engine_tape(unhook_engine *E)
{
    uh_sched *s = E->rt.sched;

    if (!s->tape)
        s->tape = uh_tape_new();
    if (!s->tape)
        uh_seterr(&E->diag, "out of memory");
    return s->tape;
}

int unhook_engine_record(unhook_engine *E, unhook_line_fn fn, void *ud)
{
    uh_tape *tp = engine_tape(E);

    if (!tp)
        return UNHOOK_NOMEM;
    uh_tape_record(tp, fn, ud);
    return UNHOOK_OK;
}

int unhook_engine_dry_run(unhook_engine *E, int on)
{
    uh_tape *tp = engine_tape(E);

    if (!tp)
        return UNHOOK_NOMEM;
    uh_tape_dry(tp, on);
    return UNHOOK_OK;
}

static const char *entry_str(lua_State *L, const char *k, size_t *len)
{
    const char *v;

    lua_getfield(L, -1, k);
    v = lua_tolstring(L, -1, len);
    lua_pop(L, 1);              /* the entry table keeps it alive */
    return v;
}

/* The entries unhook.cassette parsed (the list on top of L) into tp. */
static int tape_fill(lua_State *L, uh_tape *tp)
{
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TTABLE; i++) {
        uh_tape_entry e = {0};
        e.method = entry_str(L, "method", NULL);
        e.url = entry_str(L, "url", NULL);
        e.req_body = entry_str(L, "request_body", &e.req_body_len);
        e.head = entry_str(L, "head", NULL);
        e.body = entry_str(L, "body", &e.body_len);
        e.err_code = entry_str(L, "err_code", NULL);
        e.err_msg = entry_str(L, "err_msg", NULL);
        lua_getfield(L, -1, "status");
        e.status = (long)lua_tointeger(L, -1);
        lua_pop(L, 2);
        if (uh_tape_add(tp, &e) < 0)
            return -1;
    }
    lua_pop(L, 1);
    return 0;
}

int unhook_engine_replay(unhook_engine *E, const char *jsonl, size_t len,
                         const char *name)
{
    lua_State *L = E->rt.host;
    uh_tape *tp = engine_tape(E);
    int top = lua_gettop(L), rc = UNHOOK_OK;

    if (!tp)
        return UNHOOK_NOMEM;
    uh_tape_reset(tp, jsonl != NULL, name);
    if (!jsonl)
        return UNHOOK_OK;
    if (uh_require(L, "unhook.cassette") != LUA_OK) {
        uh_seterr(&E->diag, "%s", lua_tostring(L, -1));
        rc = UNHOOK_ERROR;
    } else {
        lua_getfield(L, -1, "parse");
        lua_pushlstring(L, jsonl, len);
        if (name)
            lua_pushstring(L, name);
        else
            lua_pushnil(L);
        if (uh_pcall(L, 2, 2) != LUA_OK || lua_isnil(L, -2)) {
            uh_seterr(&E->diag, "%s", lua_tostring(L, -1));
            rc = UNHOOK_USAGE;
        } else {
            lua_pop(L, 1);
            rc = tape_fill(L, tp) < 0 ? UNHOOK_NOMEM : UNHOOK_OK;
        }
    }
    lua_settop(L, top);
    if (rc != UNHOOK_OK)
        uh_tape_reset(tp, 1, name);     /* still no network: every request misses */
    return rc;
}

int unhook_card_call(unhook_engine *E, const char *name, const char *args,
                     char **result)
{
    lua_State *L = E->rt.host;
    int top = lua_gettop(L), rc = UNHOOK_ERROR;

    *result = NULL;
    if (uh_require(L, "unhook.cards") != LUA_OK) {
        uh_seterr(&E->diag, "%s", lua_tostring(L, -1));
    } else {
        lua_getfield(L, -1, "call_json");
        lua_pushstring(L, name ? name : "");
        lua_pushstring(L, args ? args : "[]");
        if (uh_pcall(L, 2, 2) != LUA_OK || lua_isnil(L, -2)) {
            uh_seterr(&E->diag, "%s", lua_tostring(L, -1));
        } else {
            *result = uh_strdup(lua_tostring(L, -2));
            rc = *result ? UNHOOK_OK : UNHOOK_NOMEM;
        }
    }
    lua_settop(L, top);
    return rc;
}
