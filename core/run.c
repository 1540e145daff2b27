/*
 * run.c -- runs of flows: a pooled sandboxed state per connector, the
 * runner called in a coroutine of it, and the result read back with the
 * limits' verdict over whatever the flow made of them.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "runtime.h"
#include "state.h"

static char *field_dup(lua_State *L, int idx, const char *k, const uh_conn *c)
{
    char *s = NULL;

    if (lua_getfield(L, idx, k) == LUA_TSTRING)
        s = uh_redact(UH_SECRETS(c), lua_tostring(L, -1));
    lua_pop(L, 1);
    return s;
}

/* The limits' verdict: it overrides whatever the flow made of them. */
static void limits_verdict(uh_run *r)
{
    unhook_flow_result *res = r->res;
    int mem;

    /* A C function can outlast the deadline without the instruction
     * hook firing (the pattern functions check it themselves, see
     * lpattern.c): an overrun is an overrun. */
    if (!r->timed_out && r->busy * 1000.0 > (double)r->budget_ms)
        r->cpu_tripped = 1;
    /* the first limit reached is the cause: memory before the CPU time
     * an allocation loop goes on to burn */
    mem = r->ps ? r->mem_hit || r->mem_refused : r->limit.hit;
    if (!r->timed_out && !r->cpu_tripped && !mem)
        return;
    free(res->code);
    free(res->message);
    res->outcome = r->timed_out ? UNHOOK_OUTCOME_RETRY : UNHOOK_OUTCOME_FAILED;
    res->code = uh_strdup(r->timed_out ? "timeout" : mem ? "memory" : "cpu_limit");
    res->message = uh_strdup(
        r->timed_out ? "flow ran past its wall-clock budget (waiting on the network, or for its turn)"
        : mem ? "flow ran past its memory limit"
        : "flow ran past its time budget (stopped for using the CPU too long)");
    r->setup = 0;
}

/* A set-up that failed, or an error raised in the run, while a file could
 * not be read for want of descriptors or memory (short_of), or a memory
 * error (mem_error) while the system refused memory under the cap
 * (short_mem): nothing wrong with the connector, try again.  A limit's
 * verdict still comes after. */
static void short_retry(uh_run *r, int mem_error)
{
    if (!r->short_of && !(r->short_mem && mem_error))
        return;
    r->res->outcome = UNHOOK_OUTCOME_RETRY;
    free(r->res->code);
    r->res->code = uh_strdup("resources");
}

/* stack: the runner's result table (or an error) on top of r->co */
static void read_values(uh_run *r)
{
    lua_State *co = r->co;
    unhook_flow_result *res = r->res;
    lua_Integer o;

    if (r->status == LUA_OK && lua_isinteger(co, -1)) {
        /* an outcome alone (runner.lua: a deregistration done) */
        o = lua_tointeger(co, -1);
        res->outcome = o >= UNHOOK_OUTCOME_DONE && o <= UNHOOK_OUTCOME_FAILED
                       ? (unhook_outcome)o : UNHOOK_OUTCOME_FAILED;
        res->status = r->last_status;
        res->retry_after = -1;
        res->expires_at = 0;
    } else if (r->status != LUA_OK || !lua_istable(co, -1)) {
        const char *msg = r->bad_yield ? "coroutine.yield() outside a coroutine of the flow"
                        : lua_type(co, -1) == LUA_TSTRING ? lua_tostring(co, -1) : NULL;
        res->outcome = UNHOOK_OUTCOME_FAILED;
        res->code = uh_strdup(r->status == LUA_ERRMEM ? "memory" : "script");
        res->message = uh_redact(UH_SECRETS(r->conn),
                                 msg ? msg : "flow raised a non-string error");
        short_retry(r, r->status == LUA_ERRMEM);
    } else {
        lua_getfield(co, -1, "outcome");
        o = lua_isinteger(co, -1) ? lua_tointeger(co, -1) : UNHOOK_OUTCOME_FAILED;
        lua_pop(co, 1);
        r->setup = o == UH_OUTCOME_SETUP;
        res->outcome = o >= UNHOOK_OUTCOME_DONE && o <= UNHOOK_OUTCOME_FAILED
                       ? (unhook_outcome)o : UNHOOK_OUTCOME_FAILED;
        lua_getfield(co, -1, "rc");
        r->setup_rc = r->setup ? (int)luaL_optinteger(co, -1, UNHOOK_USAGE) : UNHOOK_OK;
        lua_pop(co, 1);
        res->code = field_dup(co, -1, "code", r->conn);
        res->message = field_dup(co, -1, "message", r->conn);
        /* a set-up, or an error the flow raised (runner.lua catches it:
         * code "script"; Lua's memory error is "not enough memory") */
        if (r->setup)
            short_retry(r, 1);
        else if (res->outcome == UNHOOK_OUTCOME_FAILED && res->code &&
                 strcmp(res->code, "script") == 0)
            short_retry(r, res->message && strstr(res->message, "not enough memory"));
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
        lua_getfield(co, -2, "expires_at");
        res->expires_at = lua_isnumber(co, -1) ? lua_tonumber(co, -1) : 0;
        lua_pop(co, 2);
    }
}

/*
 * Read with the memory cap lifted (what the flow holds is read, not
 * grown), and under the panic guard: nothing here may abort the process.
 */
void uh_run_read_result(uh_run *r)
{
    jmp_buf guard;
    uh_limit *lim = r->ps ? &r->ps->limit : &r->limit;
    size_t cap = lim->cap, mem_cap = r->mem_cap;
    uh_run *prev = lim->run;

    lim->cap = 0;
    r->mem_cap = 0;
    lim->run = r;               /* the panic handler's run */
    r->guard = &guard;
    if (setjmp(guard) == 0) {
        read_values(r);
    } else {
        unhook_flow_result *res = r->res;
        unhook_flow_result_free(res);
        res->outcome = UNHOOK_OUTCOME_FAILED;
        res->code = uh_strdup("memory");
        res->message = uh_strdup("the flow's Lua state failed while its result was read");
        res->retry_after = -1;
        r->cpu_tripped = 1;     /* the state is not pooled again */
    }
    r->guard = NULL;
    lim->run = prev;
    lim->cap = cap;
    r->mem_cap = mem_cap;
    limits_verdict(r);
}

static void run_done(uh_run *r)
{
    uh_run_read_result(r);
}

static void set_str(lua_State *L, const char *k, const char *v)
{
    if (v) {
        lua_pushstring(L, v);
        lua_setfield(L, -2, k);
    }
}

/* The connection without secrets, as fields of the table on top (the
 * runner makes ctx.connection of them when a flow asks). */
static void set_conn_public(lua_State *L, const uh_conn *c)
{
    set_str(L, "conn_base", c->base_url);
    set_str(L, "conn_auth", uh_conn_auth_name(c));
    if (c->username && c->secret && *c->secret)    /* else it is the key */
        set_str(L, "conn_user", c->username);
    if (c->timeout_ms) {
        lua_pushinteger(L, c->timeout_ms);
        lua_setfield(L, -2, "conn_timeout");
    }
}

/* One field of a shared spec's key: present or not, then its text. */
static size_t key_add(char *key, size_t n, size_t cap, const char *v)
{
    size_t len = v ? strlen(v) + 1 : 0;

    if (n + 1 + len > cap)
        return cap + 1;
    key[n++] = v ? '+' : '-';
    if (v)
        memcpy(key + n, v, len);
    return n + len;
}

/* A number of a shared spec's key, in decimal (no printf: once a run). */
static size_t key_num(char *key, size_t n, size_t cap, long long v)
{
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    char tmp[24];
    size_t k = 0;

    if (n + 2 + sizeof tmp > cap)
        return cap + 1;
    key[n++] = v < 0 ? '-' : '#';
    do
        tmp[k++] = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    while (k > 0)
        key[n++] = tmp[--k];
    key[n++] = '\0';
    return n;
}

/* What the fields runs share are made of, as one key (NUL-separated);
 * its length, or more than cap when it does not fit. */
static size_t shared_key(uh_run *r, const char *kind, const unhook_flow_request *req,
                         const uh_conn *c, char *key, size_t cap)
{
    size_t n = 0;

    n = key_add(key, n, cap, r->start_dir);
    n = key_add(key, n, cap, req->event);
    n = key_add(key, n, cap, kind);
    n = key_add(key, n, cap, req->reason);
    n = key_num(key, n, cap, c ? c->timeout_ms : 0);
    n = key_num(key, n, cap, c ? c->id : 0);
    n = key_num(key, n, cap, r->rt->nccards);
    if (c) {
        n = key_add(key, n, cap, c->base_url);
        n = key_add(key, n, cap, uh_conn_auth_name(c));
        n = key_add(key, n, cap, c->username && c->secret && *c->secret ? c->username : NULL);
    }
    for (int i = 0; i < r->rt->nccards; i++)
        n = key_add(key, n, cap, r->rt->ccards[i].name);
    return n;
}

/* The fields most runs of a state share (what to run, for whom), as a
 * table, pushed: the dir, event, kind, reason, the connection's public
 * fields and the host's cards' names. */
static void push_shared(uh_run *r, const char *kind, const unhook_flow_request *req,
                        const uh_conn *conn)
{
    lua_State *co = r->co;
    uh_rt *rt = r->rt;

    lua_createtable(co, 0, 12);
    set_str(co, "dir", r->start_dir);
    set_str(co, "event", req->event);
    set_str(co, "kind", kind);
    set_str(co, "reason", req->reason);
    if (conn)
        set_conn_public(co, conn);
    lua_pushinteger(co, conn ? conn->id : 0);
    lua_setfield(co, -2, "conn_id");
    if (rt->nccards > 0) {       /* the host's cards' names */
        lua_createtable(co, rt->nccards, 0);
        for (int i = 0; i < rt->nccards; i++) {
            lua_pushstring(co, rt->ccards[i].name);
            lua_rawseti(co, -2, i + 1);
        }
        lua_setfield(co, -2, "ccards");
    }
}

/* The metatable of the run's spec, { __index = the shared fields },
 * pushed: the state's, made again when a field differs from the last
 * run's (it is never changed, only replaced). */
static void push_shared_mt(uh_run *r, const char *kind, const unhook_flow_request *req,
                           const uh_conn *conn)
{
    uh_pooled *ps = r->ps;
    lua_State *co = r->co;
    char key[1024];
    size_t n = shared_key(r, kind, req, conn, key, sizeof key);

    if (ps->spec_key && n == ps->spec_keylen && memcmp(ps->spec_key, key, n) == 0) {
        lua_rawgeti(co, LUA_REGISTRYINDEX, ps->spec_mt);
        return;
    }
    free(ps->spec_key);
    ps->spec_key = NULL;
    luaL_unref(co, LUA_REGISTRYINDEX, ps->spec_mt);
    ps->spec_mt = LUA_NOREF;
    lua_createtable(co, 0, 1);
    push_shared(r, kind, req, conn);
    lua_setfield(co, -2, "__index");
    if (n > sizeof key)
        return;                 /* not kept */
    lua_pushvalue(co, -1);
    ps->spec_mt = luaL_ref(co, LUA_REGISTRYINDEX);
    ps->spec_key = malloc(n);
    if (ps->spec_key) {
        memcpy(ps->spec_key, key, n);
        ps->spec_keylen = n;
    }
}

/*
 * The runner's argument: what to run, for whom, with what.  A table of
 * the run's own (its options, inputs, registration data and instance,
 * sized for the fields the runner adds: runner.lua keeps the run's state
 * in it) over the fields runs share (push_shared_mt).
 */
static void push_spec(uh_run *r, const char *kind, const unhook_flow_request *req,
                      const uh_conn *conn)
{
    lua_State *co = r->co;

    lua_createtable(co, 0, 16);
    set_str(co, "options_json", req->options_json);
    set_str(co, "inputs_json", req->inputs_json);
    set_str(co, "registration", req->registration);
    set_str(co, "instance_id", req->instance_id);
    if (r->validate_only) {
        lua_pushboolean(co, 1);
        lua_setfield(co, -2, "validate_only");
    }
    push_shared_mt(r, kind, req, conn);
    lua_setmetatable(co, -2);
}

#define POOL_MAX 128

static void pooled_free(uh_pooled *ps)
{
    if (!ps)
        return;
    if (ps->L)
        uh_sandbox_close(ps->L, &ps->limit);
    free(ps->host);
    free(ps->dir);
    free(ps->spec_key);
    free(ps);
}

void uh_pool_free(uh_rt *rt)
{
    while (rt->idle) {
        uh_pooled *ps = rt->idle;
        rt->idle = ps->next;
        pooled_free(ps);
    }
    rt->nidle = 0;
}

/*
 * A state for a run of the connector in dir: one that runs of it use now
 * and that has room (not retired), else an idle one that has served it,
 * else a new one.  It is on rt->live when this returns.
 */
static uh_pooled *pool_take(uh_rt *rt, const char *dir)
{
    uh_pooled **pp, *ps;

    for (ps = rt->live; ps; ps = ps->next)
        if (!ps->retired && ps->nruns < UH_SHARE_MAX && strcmp(ps->dir, dir) == 0)
            return ps;
    for (pp = &rt->idle; (ps = *pp); pp = &ps->next)
        if (strcmp(ps->dir, dir) == 0) {
            *pp = ps->next;
            rt->nidle--;
            break;
        }
    if (!ps) {
        ps = calloc(1, sizeof *ps);
        if (!ps)
            return NULL;
        ps->limit.share = &ps->share;
        ps->spec_mt = LUA_NOREF;
        ps->host = calloc(1, sizeof *ps->host);
        ps->dir = uh_strdup(dir);
        if (ps->host) {
            ps->host->rt = rt;
            ps->host->diag = rt->diag;
            ps->host->sched = rt->sched;
            ps->L = uh_sandbox_new(rt, &ps->limit, ps->host);
        }
        if (!ps->host || !ps->dir || !ps->L) {
            pooled_free(ps);
            return NULL;
        }
    }
    ps->next = rt->live;
    rt->live = ps;
    return ps;
}

/* A state with no run left: kept idle, or closed. */
static void pool_release(uh_rt *rt, uh_pooled *ps)
{
    uh_pooled **pp;

    for (pp = &rt->live; *pp; pp = &(*pp)->next)
        if (*pp == ps) {
            *pp = ps->next;
            break;
        }
    ps->next = NULL;
    if (ps->retired || rt->nidle >= (rt->pool_max > POOL_MAX ? rt->pool_max : POOL_MAX)) {
        pooled_free(ps);
        return;
    }
    ps->next = rt->idle;
    rt->idle = ps;
    rt->nidle++;
}

/*
 * Prepare run r (zeroed by the caller, who may set done/ud) of the flow
 * of kind for req in a pooled state it shares with other runs of the
 * connector (up to UH_SHARE_MAX), and add it to the scheduler.
 * conn and res must outlive the run.  On failure nothing is left behind.
 */
/* The run's coroutine, with runner.run and its spec on it (protected). */
static int start_protected(lua_State *L)
{
    uh_run *r = lua_touserdata(L, 1);

    static const char runner_key = 0;   /* runner.run, kept in the registry */

    if (r->ps->ncoidle > 0) {
        /* a finished run's coroutine (uh_run_close): no new thread, and
         * its stack has grown already */
        r->coref = r->ps->coidle[--r->ps->ncoidle];
        lua_rawgeti(L, LUA_REGISTRYINDEX, r->coref);
        r->co = lua_tothread(L, -1);
        lua_pop(L, 1);
    } else {
        r->co = lua_newthread(L);
        r->coref = luaL_ref(L, LUA_REGISTRYINDEX);
        uh_sandbox_mark_run(r->co);
    }
    /* stack of co: runner.run, spec */
    if (lua_rawgetp(r->co, LUA_REGISTRYINDEX, &runner_key) != LUA_TFUNCTION) {
        lua_pop(r->co, 1);
        if (uh_require(r->co, "unhook.runner") != LUA_OK) {
            lua_xmove(r->co, L, 1);
            return lua_error(L);
        }
        lua_getfield(r->co, -1, "run");
        lua_remove(r->co, -2);
        lua_pushvalue(r->co, -1);
        lua_rawsetp(r->co, LUA_REGISTRYINDEX, &runner_key);
    }
    push_spec(r, r->start_kind, r->start_req, r->conn);
    return 0;
}

int uh_run_start(uh_rt *rt, uh_run *r, const char *dir, const char *kind,
                 const unhook_flow_request *req, const uh_conn *conn,
                 unhook_flow_result *res)
{
    uh_run *prev;
    int slot, st;

    memset(res, 0, sizeof *res);
    res->retry_after = -1;
    r->rt = rt;
    r->diag = rt->diag;
    r->sched = rt->sched;
    r->conn = conn;
    r->res = res;
    if (!r->done)
        r->done = run_done;
    r->ctxref = LUA_NOREF;
    r->ps = pool_take(rt, dir);
    if (!r->ps) {
        uh_seterr(rt->diag, "out of memory");
        return UNHOOK_NOMEM;
    }
    r->L = r->ps->L;
    for (slot = 1; r->ps->share.run[slot]; slot++)
        ;
    r->ps->share.run[slot] = r;
    r->ps->nruns++;
    /* set-up is the engine's, not the flow's: charged to the state (the
     * run's slot is not charged yet); the scheduler names the run
     * current when it resumes it (sched.c) */
    prev = r->ps->limit.run;
    r->ps->limit.run = r;
    r->start_dir = dir;
    r->start_kind = kind;
    r->start_req = req;
    if (req->instance_id) {     /* concurrent traces tell their runs apart */
        size_t n = strnlen(req->instance_id, sizeof r->tag - 2);
        memcpy(r->tag, req->instance_id, n);
        memcpy(r->tag + n, " ", 2);
    }
    lua_pushcfunction(r->L, start_protected);
    lua_pushlightuserdata(r->L, r);
    st = lua_pcall(r->L, 1, 0, 0);
    r->ps->limit.run = prev;
    r->mem_slot = slot;
    if (st != LUA_OK) {
        uh_seterr(rt->diag, "%s", lua_type(r->L, -1) == LUA_TSTRING
                  ? lua_tostring(r->L, -1) : "cannot start the flow");
        lua_pop(r->L, 1);
        r->cpu_tripped = 1;             /* do not keep this state */
        r->co = NULL;
        uh_run_close(r);
        return UNHOOK_ERROR;
    }
    /* what a warm state may grow by counts from before the first flow:
     * a first run's module-level values are growth too */
    if (!r->ps->warm_base)
        r->ps->warm_base = r->ps->share.own;
    /* the run's memory budget: what its own blocks hold */
    r->mem_cap = rt->memory_cap;
    r->nargs = 1;
    r->started = uh_now();
    r->budget_ms = rt->timeout_ms;
    r->deadline = r->started + (double)rt->timeout_ms / 1000.0;
    if (conn && conn->insecure)
        uh_log(rt->diag, &conn->secrets, UNHOOK_LOG_WARN, "TLS peer verification "
               "is off for this connection (\"insecure\": true)");
    uh_sched_add(rt->sched, r);
    return UNHOOK_OK;
}

void uh_run_close(uh_run *r)
{
    uh_pooled *ps = r->ps;

    if (ps) {
        uh_share *sh = &ps->share;

        if (ps->limit.run == r)
            ps->limit.run = ps->host;
        luaL_unref(ps->L, LUA_REGISTRYINDEX, r->ctxref);
        r->ctxref = LUA_NOREF;
        /* what the run still holds is the state's from now on */
        if (r->mem_slot > 0) {
            sh->own += r->mem_used;
            sh->gen[r->mem_slot]++;
            sh->run[r->mem_slot] = NULL;
        }
        r->mem_used = 0;
        r->mem_slot = 0;
        ps->nruns--;
        /* a state a limit tripped in, or an error escaped from, takes no
         * new run; nor does one whose own values grew too much (garbage
         * is not held: collected before it counts) */
        if (r->cpu_tripped || r->mem_hit || r->mem_refused || r->timed_out ||
            r->status != LUA_OK)
            ps->retired = 1;
        /* a coroutine that returned serves the state's next run; any
         * other (an error, a yield left hanging) is dropped */
        if (r->co && !ps->retired && r->status == LUA_OK &&
            lua_status(r->co) == LUA_OK && ps->ncoidle < UH_SHARE_MAX) {
            uh_sandbox_reuse_run(r->co);
            ps->coidle[ps->ncoidle++] = r->coref;
        } else if (r->co) {
            luaL_unref(ps->L, LUA_REGISTRYINDEX, r->coref);
        }
        if (!ps->retired && sh->own > ps->warm_base + UH_WARM_GROWTH) {
            lua_gc(ps->L, LUA_GCCOLLECT);
            if (sh->own > ps->warm_base + UH_WARM_GROWTH)
                ps->retired = 1;
        }
        if (ps->nruns == 0)
            pool_release(r->rt, ps);
    } else if (r->L) {
        lua_close(r->L);
    }
    r->ps = NULL;
    r->L = NULL;
    r->co = NULL;
}

/* The connection file path for a run of the connector in dir: its
 * manifest's oauth2 defaults apply (an invalid manifest has none here:
 * the run reports it). */
static int conn_for(uh_rt *rt, const char *dir, const char *path, uh_conn *c)
{
    uh_facts f;
    char *err;
    int rc;

    if (!path)
        return uh_conn_load(rt, NULL, c);
    err = uh_connector_facts(rt, dir, &f, NULL);
    rc = uh_conn_load_for(rt, path, err ? NULL : &f, c);
    free(err);
    uh_facts_free(&f);
    return rc;
}

int uh_flow_once(uh_rt *rt, const unhook_flow_request *req,
                 unhook_flow_result *res, const char *kind, int validate)
{
    uh_run r;
    uh_conn conn;
    char *dir;
    int rc;

    memset(res, 0, sizeof *res);
    res->retry_after = -1;
    if (!req || !req->event) {
        uh_seterr(rt->diag, "no event given");
        return UNHOOK_USAGE;
    }
    dir = uh_connector_path(rt, req->connector);
    if (!dir)
        return UNHOOK_NOTFOUND;
    rc = conn_for(rt, dir, req->connection, &conn);
    if (rc != UNHOOK_OK) {
        free(dir);
        return rc;
    }
    memset(&r, 0, sizeof r);
    r.validate_only = validate;
    rc = uh_run_start(rt, &r, dir, kind, req, &conn, res);
    if (rc == UNHOOK_OK) {
        /* a check of inputs ends at once: other runs (a host's loop may
         * drive some) are not stepped for it */
        if (!validate || !uh_sched_run_alone(rt->sched, &r))
            uh_sched_drain(rt->sched);
        if (r.setup) {
            /* it could not start: the API's result code and message */
            uh_seterr(rt->diag, "%s", res->message ? res->message : "cannot run the flow");
            rc = r.setup_rc != UNHOOK_OK ? r.setup_rc : UNHOOK_USAGE;
            unhook_flow_result_free(res);
            res->retry_after = -1;
        }
    }
    uh_run_close(&r);
    free(dir);
    uh_conn_free(&conn);
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
