/*
 * engine.c -- the engine object and the public entry points that run
 * flows without the store.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lauxlib.h>

#include "sched.h"

#ifndef UNHOOK_SHARE
#define UNHOOK_SHARE "/usr/local/share/unhook"
#endif

const char *unhook_version(void)
{
    return UNHOOK_VERSION;
}

const char *unhook_strerror(int code)
{
    switch (code) {
#define UH_CASE_(name, value, text) case value: return text;
    UNHOOK_CODES(UH_CASE_)
#undef UH_CASE_
    }
    return "unknown result code";
}

const char *unhook_outcome_name(unhook_outcome o)
{
    static const char *const names[] = {"done", "gone", "retry", "failed"};

    return (unsigned)o < 4 ? names[o] : "unknown";
}

void uh_seterr(unhook_engine *E, const char *fmt, ...)
{
    uh_buf b = {0};
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n >= 0) {
        char *p = malloc((size_t)n + 1);
        if (p) {
            va_start(ap, fmt);
            vsnprintf(p, (size_t)n + 1, fmt, ap);
            va_end(ap);
            uh_buf_puts(&b, p);
            free(p);
        }
    }
    free(E->errmsg);
    E->errmsg = uh_buf_take(&b);
}

void uh_log(unhook_engine *E, const uh_conn *c, int level, const char *fmt, ...)
{
    va_list ap;
    uh_buf b = {0};
    char *line;
    int n;

    if (!E->log || level > E->log_level)
        return;
    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    line = malloc((size_t)n + 1);
    if (!line)
        return;
    va_start(ap, fmt);
    vsnprintf(line, (size_t)n + 1, fmt, ap);
    va_end(ap);
    uh_buf_puts(&b, line);
    free(line);
    uh_redact_buf(c, &b);
    if (b.data)
        E->log(E->log_ud, level, b.data);
    uh_buf_free(&b);
}

int unhook_engine_open(unhook_engine **out, const unhook_config *cfg)
{
    static const unhook_config defaults = {0};
    unhook_engine *E;
    const char *path;

    *out = NULL;
    if (!cfg)
        cfg = &defaults;
    E = calloc(1, sizeof *E);
    if (!E)
        return UNHOOK_NOMEM;
    path = cfg->connectors ? cfg->connectors : getenv("UNHOOK_CONNECTORS");
    E->connectors = uh_strdup(path ? path : "");
    E->log = cfg->log;
    E->log_ud = cfg->log_userdata;
    E->log_level = cfg->log_level;
    E->memory_cap = (size_t)(cfg->memory_mb > 0 ? cfg->memory_mb
                                                : UH_DEFAULT_MEMORY_MB) << 20;
    E->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : UH_DEFAULT_TIMEOUT_MS;
    E->limits_fixed = cfg->memory_mb > 0 || cfg->timeout_ms > 0;
    E->errmsg = uh_strdup("");
    E->db_path = cfg->db ? uh_strdup(cfg->db) : NULL;
    E->conn_override = cfg->connection ? uh_strdup(cfg->connection) : NULL;
    E->concurrency = cfg->concurrency > 0 ? cfg->concurrency : 16;
    E->rng = (unsigned long long)uh_now() * 1000003ULL ^ (unsigned long long)getpid() << 17 ^ (unsigned long long)(uintptr_t)E;
    E->sched = uh_sched_new();
    E->hostrun.E = E;
    E->host = uh_sandbox_new(E, &E->hostlimit, &E->hostrun);
    if (!E->connectors || !E->errmsg || !E->sched || !E->host) {
        unhook_engine_close(E);
        return UNHOOK_NOMEM;
    }
    *out = E;
    return UNHOOK_OK;
}

void unhook_engine_close(unhook_engine *E)
{
    if (!E)
        return;
    if (E->host)
        lua_close(E->host);
    uh_store_close(E);
    uh_pool_free(E);
    for (int i = 0; i < E->nccards; i++)
        free(E->ccards[i].name);
    free(E->ccards);
    if (E->bytecode) {
        for (int i = 0; uh_embedded_modules[i].name; i++)
            uh_buf_free(&E->bytecode[i]);
        free(E->bytecode);
    }
    uh_sched_free(E->sched);
    free(E->db_path);
    free(E->conn_override);
    free(E->connectors);
    free(E->errmsg);
    free(E);
}

int unhook_card_register(unhook_engine *E, const char *name, unhook_card_fn fn,
                         void *ud)
{
    struct uh_ccard *p;
    const char *c;

    if (!E || !name || !*name || !fn) {
        if (E)
            uh_seterr(E, "unhook_card_register: a name and a function are needed");
        return UNHOOK_USAGE;
    }
    for (c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
              (*c >= '0' && *c <= '9') || *c == '_' || *c == '.') ||
            (*c == '.' && (c == name || c[1] == '\0' || c[1] == '.'))) {
            uh_seterr(E, "card name '%s': use letters, digits, '_' and single dots", name);
            return UNHOOK_USAGE;
        }
    for (int i = 0; i < E->nccards; i++)
        if (strcmp(E->ccards[i].name, name) == 0) {
            uh_seterr(E, "card '%s' is already registered", name);
            return UNHOOK_USAGE;
        }
    p = realloc(E->ccards, (size_t)(E->nccards + 1) * sizeof *p);
    if (!p)
        return UNHOOK_NOMEM;
    E->ccards = p;
    p[E->nccards].name = uh_strdup(name);
    if (!p[E->nccards].name)
        return UNHOOK_NOMEM;
    p[E->nccards].fn = fn;
    p[E->nccards].ud = ud;
    E->nccards++;
    return UNHOOK_OK;
}

const char *unhook_errmsg(unhook_engine *E)
{
    return E && E->errmsg ? E->errmsg : "";
}

static int is_dir(const char *p)
{
    struct stat st;

    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The bundled connectors: beside the binary's share folder, or in-tree. */
static const char *const bundled[] = {UNHOOK_SHARE "/connectors",
                                      "scripts/connectors", NULL};

char *unhook_connector_path(unhook_engine *E, const char *name)
{
    uh_buf b = {0};
    const char *p;

    if (!name || !*name) {
        uh_seterr(E, "no connector given");
        return NULL;
    }
    if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        if (is_dir(name)) {
            size_t n = strlen(name);
            while (n > 1 && name[n - 1] == '/')
                n--;
            return uh_strndup(name, n);
        }
        uh_seterr(E, "%s: no such connector folder", name);
        return NULL;
    }
    for (p = E->connectors; p && *p;) {
        size_t n = strcspn(p, ":");
        if (n) {
            b.len = 0;
            uh_buf_printf(&b, "%.*s/%s", (int)n, p, name);
            if (b.data && is_dir(b.data))
                return uh_buf_take(&b);
        }
        p += n + (p[n] == ':');
    }
    for (const char *const *d = bundled; *d; d++) {
        b.len = 0;
        uh_buf_printf(&b, "%s/%s", *d, name);
        if (b.data && is_dir(b.data))
            return uh_buf_take(&b);
    }
    uh_buf_free(&b);
    if (is_dir(name))
        return uh_strdup(name);
    uh_seterr(E, "connector '%s' not found (searched --connectors, "
              "UNHOOK_CONNECTORS and the bundled connectors)", name);
    return NULL;
}

/*
 * Call unhook.manifest.load(dir) in a state of its own, under the limits
 * of a flow: connector code must not touch the state that parses
 * connection files.
 */
int unhook_connector_check(unhook_engine *E, const char *connector)
{
    uh_run run;
    lua_State *L;
    int rc = UNHOOK_OK;
    char *dir = unhook_connector_path(E, connector);

    if (!dir)
        return UNHOOK_NOTFOUND;
    L = uh_scratch_state(E, &run);
    if (!L) {
        free(dir);
        uh_seterr(E, "out of memory");
        return UNHOOK_NOMEM;
    }
    if (uh_require(L, "unhook.manifest") != LUA_OK) {
        uh_seterr(E, "%s", lua_tostring(L, -1));
        rc = UNHOOK_ERROR;
        goto out;
    }
    lua_getfield(L, -1, "load");
    lua_pushstring(L, dir);
    if (uh_pcall(L, 1, 2) != LUA_OK) {
        uh_seterr(E, "%s", run.limit.hit
                  ? "connector code ran past its memory limit while loading"
                  : run.cpu_tripped ? "connector code ran past its time budget while loading"
                  : lua_tostring(L, -1));
        rc = UNHOOK_INVALID;
        goto out;
    }
    if (lua_isnil(L, -2) && (run.limit.hit || run.cpu_tripped || run.timed_out)) {
        uh_seterr(E, "%s", run.limit.hit
                  ? "connector code ran past its memory limit while loading"
                  : "connector code ran past its time budget while loading");
        rc = UNHOOK_INVALID;
        goto out;
    }
    if (lua_isnil(L, -2)) {
        uh_buf b = {0};
        for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
            if (i > 1)
                uh_buf_add(&b, "\n", 1);
            uh_buf_puts(&b, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
        free(E->errmsg);
        E->errmsg = uh_buf_take(&b);
        rc = UNHOOK_INVALID;
        goto out;
    }
    uh_seterr(E, "%s", "");
out:
    lua_close(L);
    free(dir);
    return rc;
}

void unhook_flow_result_free(unhook_flow_result *res)
{
    if (!res)
        return;
    free(res->code);
    free(res->message);
    free(res->registration);
    memset(res, 0, sizeof *res);
}

static char *field_dup(lua_State *L, int idx, const char *k, const uh_conn *c)
{
    char *s = NULL;

    if (lua_getfield(L, idx, k) == LUA_TSTRING)
        s = uh_redact(c, lua_tostring(L, -1));
    lua_pop(L, 1);
    return s;
}

/* stack: result table on top of r->co */
void uh_run_read_result(uh_run *r)
{
    lua_State *co = r->co;
    unhook_flow_result *res = r->res;
    const char *o;

    if (r->status != LUA_OK || !lua_istable(co, -1)) {
        const char *msg = lua_tostring(co, -1);
        res->outcome = UNHOOK_OUTCOME_FAILED;
        res->code = uh_strdup(r->status == LUA_ERRMEM ? "memory" : "script");
        res->message = uh_redact(r->conn, msg ? msg : "flow raised a non-string error");
    } else {
        o = (lua_getfield(co, -1, "outcome"), lua_tostring(co, -1));
        res->outcome = !o ? UNHOOK_OUTCOME_FAILED
                     : strcmp(o, "done") == 0 ? UNHOOK_OUTCOME_DONE
                     : strcmp(o, "gone") == 0 ? UNHOOK_OUTCOME_GONE
                     : strcmp(o, "retry") == 0 ? UNHOOK_OUTCOME_RETRY
                     : UNHOOK_OUTCOME_FAILED;
        r->setup = o && strcmp(o, "setup") == 0;
        lua_pop(co, 1);
        res->code = field_dup(co, -1, "code", r->conn);
        res->message = field_dup(co, -1, "message", r->conn);
        /* registration data is stored verbatim, never masked */
        if (lua_getfield(co, -1, "registration") == LUA_TSTRING)
            res->registration = uh_strdup(lua_tostring(co, -1));
        lua_pop(co, 1);
        lua_getfield(co, -1, "status");
        res->status = (int)lua_tointeger(co, -1);
        lua_pop(co, 1);
        if (res->status == 0 && !r->setup)
            res->status = r->last_status;
        lua_getfield(co, -1, "retry_after");
        res->retry_after = lua_isnumber(co, -1) ? lua_tonumber(co, -1) : -1;
        lua_pop(co, 1);
    }
    /* A C function (a string pattern, say) can outlast the deadline
     * without the instruction hook firing: an overrun is an overrun. */
    if (!r->timed_out && r->busy * 1000.0 > (double)r->budget_ms)
        r->cpu_tripped = 1;
    /* Limits override whatever the flow made of them. */
    /* the first limit reached is the cause: memory before the CPU time
     * an allocation loop goes on to burn */
    int mem = r->ps ? r->ps->limit.hit : r->limit.hit;
    if (r->timed_out || r->cpu_tripped || mem) {
        const char *code = r->timed_out ? "timeout" : mem ? "memory" : "cpu_limit";
        free(res->code);
        free(res->message);
        res->outcome = r->timed_out ? UNHOOK_OUTCOME_RETRY : UNHOOK_OUTCOME_FAILED;
        res->code = uh_strdup(code);
        res->message = uh_strdup(
            r->timed_out ? "flow ran past its wall-clock budget (waiting on the network, or for its turn)"
            : mem ? "flow ran past its memory limit"
            : "flow ran past its time budget (stopped for using the CPU too long)");
        r->setup = 0;
    }
}

static void run_done(uh_run *r)
{
    uh_run_read_result(r);
}

static void push_conn_public(lua_State *L, const uh_conn *c)
{
    static const char *const types[] = {"none", "bearer", "basic", "header", "query"};

    lua_createtable(L, 0, 4);
    if (c->base_url) {
        lua_pushstring(L, c->base_url);
        lua_setfield(L, -2, "base_url");
    }
    lua_pushstring(L, types[c->auth]);
    lua_setfield(L, -2, "auth");
    if (c->username) {
        lua_pushstring(L, c->username);
        lua_setfield(L, -2, "username");
    }
    if (c->timeout_ms) {
        lua_pushinteger(L, c->timeout_ms);
        lua_setfield(L, -2, "timeout_ms");
    }
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (v) {
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
}

#define POOL_MAX 128

static void pooled_free(uh_pooled *ps)
{
    if (!ps)
        return;
    if (ps->L)
        lua_close(ps->L);
    free(ps->host);
    free(ps->dir);
    free(ps);
}

void uh_pool_free(unhook_engine *E)
{
    while (E->idle) {
        uh_pooled *ps = E->idle;
        E->idle = ps->next;
        pooled_free(ps);
    }
    E->nidle = 0;
}

/* An idle state that has served this connector, or a new one. */
static uh_pooled *pool_take(unhook_engine *E, const char *dir)
{
    uh_pooled **pp, *ps;

    for (pp = &E->idle; (ps = *pp); pp = &ps->next)
        if (strcmp(ps->dir, dir) == 0) {
            *pp = ps->next;
            ps->next = NULL;
            E->nidle--;
            return ps;
        }
    ps = calloc(1, sizeof *ps);
    if (!ps)
        return NULL;
    ps->host = calloc(1, sizeof *ps->host);
    ps->dir = uh_strdup(dir);
    if (ps->host) {
        ps->host->E = E;
        ps->L = uh_sandbox_new(E, &ps->limit, ps->host);
    }
    if (!ps->host || !ps->dir || !ps->L) {
        pooled_free(ps);
        return NULL;
    }
    return ps;
}

/*
 * Prepare run r (zeroed by the caller, who may set done/ud) of the flow
 * of kind for req in a new sandboxed state, and add it to the scheduler.
 * conn and res must outlive the run.  On failure nothing is left behind.
 */
int uh_run_start(unhook_engine *E, uh_run *r, const char *dir, const char *kind,
                 const unhook_flow_request *req, const uh_conn *conn,
                 unhook_flow_result *res)
{
    memset(res, 0, sizeof *res);
    res->retry_after = -1;
    r->E = E;
    r->conn = conn;
    r->res = res;
    if (!r->done)
        r->done = run_done;
    r->ps = pool_take(E, dir);
    if (!r->ps) {
        uh_seterr(E, "out of memory");
        return UNHOOK_NOMEM;
    }
    r->L = r->ps->L;
    /* the run's memory budget on top of what the state holds already */
    r->ps->limit.hit = 0;
    r->mem_base = r->ps->limit.used;
    r->ps->limit.cap = r->mem_base + E->memory_cap;
    r->co = lua_newthread(r->L);
    *(uh_run **)lua_getextraspace(r->co) = r;
    r->coref = luaL_ref(r->L, LUA_REGISTRYINDEX);

    /* stack of co: runner.run, spec */
    if (uh_require(r->co, "unhook.runner") != LUA_OK) {
        uh_seterr(E, "%s", lua_tostring(r->co, -1));
        r->cpu_tripped = 1;             /* do not keep this state */
        uh_run_close(r);
        return UNHOOK_ERROR;
    }
    lua_getfield(r->co, -1, "run");
    lua_remove(r->co, -2);
    lua_createtable(r->co, 0, 10);
    set_str(r->co, "dir", dir);
    set_str(r->co, "event", req->event);
    set_str(r->co, "kind", kind);
    set_str(r->co, "options_json", req->options_json);
    set_str(r->co, "inputs_json", req->inputs_json);
    set_str(r->co, "registration", req->registration);
    set_str(r->co, "reason", req->reason);
    set_str(r->co, "instance_id", req->instance_id);
    if (r->validate_only) {
        lua_pushboolean(r->co, 1);
        lua_setfield(r->co, -2, "validate_only");
    }
    push_conn_public(r->co, conn);
    lua_setfield(r->co, -2, "connection");
    lua_createtable(r->co, E->nccards, 0);
    for (int i = 0; i < E->nccards; i++) {
        lua_pushstring(r->co, E->ccards[i].name);
        lua_rawseti(r->co, -2, i + 1);
    }
    lua_setfield(r->co, -2, "ccards");
    r->nargs = 1;
    r->started = uh_now();
    r->budget_ms = E->timeout_ms;
    r->deadline = r->started + (double)E->timeout_ms / 1000.0;
    if (conn && conn->insecure)
        uh_log(E, conn, UNHOOK_LOG_WARN, "TLS peer verification is off for "
               "this connection (\"insecure\": true)");
    uh_sched_add(E->sched, r);
    return UNHOOK_OK;
}

/* A run that failed before its flow ran: the result code for the API. */
int uh_run_setup_rc(unhook_engine *E, uh_run *r)
{
    unhook_flow_result *res = r->res;
    int rc;

    if (!r->setup)
        return UNHOOK_OK;
    uh_seterr(E, "%s", res->message ? res->message : "cannot run the flow");
    rc = res->code && strcmp(res->code, "invalid") == 0 ? UNHOOK_INVALID
       : res->code && strcmp(res->code, "notfound") == 0 ? UNHOOK_NOTFOUND
       : UNHOOK_USAGE;
    return rc;
}

void uh_run_close(uh_run *r)
{
    uh_pooled *ps = r->ps;

    if (ps) {
        unhook_engine *E = r->E;
        luaL_unref(ps->L, LUA_REGISTRYINDEX, r->coref);
        ps->limit.cap = 0;
        /* a state a limit tripped in, or an error escaped from, is dropped */
        if (r->cpu_tripped || ps->limit.hit || r->status != LUA_OK ||
            E->nidle >= POOL_MAX) {
            pooled_free(ps);
        } else {
            ps->next = E->idle;
            E->idle = ps;
            E->nidle++;
        }
    } else if (r->L) {
        lua_close(r->L);
    }
    r->ps = NULL;
    r->L = NULL;
    r->co = NULL;
}

static int flow_run(unhook_engine *E, const unhook_flow_request *req,
                    unhook_flow_result *res, const char *kind, int validate)
{
    uh_run r;
    uh_conn conn;
    char *dir;
    int rc;

    memset(res, 0, sizeof *res);
    res->retry_after = -1;
    if (!req || !req->event) {
        uh_seterr(E, "no event given");
        return UNHOOK_USAGE;
    }
    dir = unhook_connector_path(E, req->connector);
    if (!dir)
        return UNHOOK_NOTFOUND;
    rc = uh_conn_load(E, req->connection, &conn);
    if (rc != UNHOOK_OK) {
        free(dir);
        return rc;
    }
    memset(&r, 0, sizeof r);
    r.validate_only = validate;
    rc = uh_run_start(E, &r, dir, kind, req, &conn, res);
    if (rc == UNHOOK_OK) {
        uh_sched_drain(E);
        rc = uh_run_setup_rc(E, &r);
        if (rc != UNHOOK_OK) {
            unhook_flow_result_free(res);
            res->retry_after = -1;
        }
    }
    uh_run_close(&r);
    free(dir);
    uh_conn_free(&conn);
    return rc;
}

int unhook_flow_deregister(unhook_engine *E, const unhook_flow_request *req,
                           unhook_flow_result *res)
{
    return flow_run(E, req, res, "deregistration", 0);
}

int unhook_flow_register(unhook_engine *E, const unhook_flow_request *req,
                         unhook_flow_result *res)
{
    return flow_run(E, req, res, "registration", 0);
}

int uh_flow_validate(unhook_engine *E, const unhook_flow_request *req,
                     const char *kind)
{
    unhook_flow_result res;
    int rc = flow_run(E, req, &res, kind, 1);

    unhook_flow_result_free(&res);
    return rc;
}
