/*
 * connector.c -- connectors found on the search path, checked, and read
 * for the facts the lifecycle schedules by; connection files loaded.
 * Connector code runs in a scratch state under the limits of a flow:
 * never in the trusted state that parses connection files.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <lauxlib.h>

#include "oauth.h"
#include "runtime.h"
#include "url.h"

#ifndef UNHOOK_SHARE
#define UNHOOK_SHARE "/usr/local/share/unhook"
#endif

static int is_dir(const char *p)
{
    struct stat st;

    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The bundled connectors: beside the binary's share folder, or in-tree. */
static const char *const bundled[] = {UNHOOK_SHARE "/connectors",
                                      "scripts/connectors", NULL};

char *uh_connector_path(uh_rt *rt, const char *name)
{
    uh_buf b = {0};
    const char *p;

    if (!name || !*name) {
        uh_seterr(rt->diag, "no connector given");
        return NULL;
    }
    if (strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        if (is_dir(name)) {
            size_t n = strlen(name);
            while (n > 1 && name[n - 1] == '/')
                n--;
            return uh_strndup(name, n);
        }
        uh_seterr(rt->diag, "%s: no such connector folder", name);
        return NULL;
    }
    for (p = rt->connectors; p && *p;) {
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
    uh_seterr(rt->diag, "connector '%s' not found (searched --connectors, "
              "UNHOOK_CONNECTORS and the bundled connectors)", name);
    return NULL;
}

/*
 * Call unhook.manifest.load(dir) in a state of its own, under the limits
 * of a flow: connector code must not touch the state that parses
 * connection files.
 */
int uh_connector_check(uh_rt *rt, const char *connector)
{
    uh_run run;
    lua_State *L;
    int rc = UNHOOK_OK;
    char *dir = uh_connector_path(rt, connector);

    if (!dir)
        return UNHOOK_NOTFOUND;
    L = uh_scratch_state(rt, &run);
    if (!L) {
        free(dir);
        uh_seterr(rt->diag, "out of memory");
        return UNHOOK_NOMEM;
    }
    if (uh_require(L, "unhook.manifest") != LUA_OK) {
        uh_seterr(rt->diag, "%s", lua_tostring(L, -1));
        rc = UNHOOK_ERROR;
        goto out;
    }
    lua_getfield(L, -1, "load");
    lua_pushstring(L, dir);
    if (uh_pcall(L, 1, 2) != LUA_OK) {
        uh_seterr(rt->diag, "%s", run.limit.hit
                  ? "connector code ran past its memory limit while loading"
                  : run.cpu_tripped ? "connector code ran past its time budget while loading"
                  : lua_tostring(L, -1));
        rc = UNHOOK_INVALID;
        goto out;
    }
    if (lua_isnil(L, -2) && (run.limit.hit || run.cpu_tripped || run.timed_out)) {
        uh_seterr(rt->diag, "%s", run.limit.hit
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
        uh_seterr(rt->diag, "%s", b.data ? b.data : "");
        uh_buf_free(&b);
        rc = UNHOOK_INVALID;
        goto out;
    }
    uh_seterr(rt->diag, "%s", "");
out:
    lua_close(L);
    free(dir);
    return rc;
}


/* Read the events' retry policies from the summary table on top of L. */
static void read_policies(lua_State *L, uh_facts *f)
{
    lua_getfield(L, -1, "events");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        uh_policy *p = realloc(f->policies, (size_t)(f->npolicies + 1) * sizeof *p);
        if (!p) {
            lua_pop(L, 2);
            break;
        }
        f->policies = p;
        p += f->npolicies;
        p->event = uh_strdup(lua_tostring(L, -2));
        lua_getfield(L, -1, "max_attempts");
        p->max_attempts = (int)lua_tointeger(L, -1);
        lua_getfield(L, -2, "base_ms");
        p->base_ms = lua_tonumber(L, -1);
        lua_getfield(L, -3, "max_ms");
        p->max_ms = lua_tonumber(L, -1);
        lua_getfield(L, -4, "renew_before");
        p->renew_before = lua_isnumber(L, -1) ? lua_tonumber(L, -1) : -1;
        lua_getfield(L, -5, "expired_gone");
        p->expired_gone = lua_toboolean(L, -1);
        lua_pop(L, 6);
        f->npolicies++;
    }
    lua_pop(L, 1);
}

char *uh_connector_facts(uh_rt *rt, const char *dir, uh_facts *f, int *short_of)
{
    uh_run run;
    lua_State *L;
    char *err = NULL;

    memset(f, 0, sizeof *f);
    L = uh_scratch_state(rt, &run);
    if (!L) {
        if (short_of)
            *short_of = 1;
        return uh_strdup("out of memory");
    }
    if (uh_require(L, "unhook.manifest") != LUA_OK)
        goto fail;
    lua_getfield(L, -1, "summary");
    lua_pushstring(L, dir);
    if (uh_pcall(L, 1, 2) != LUA_OK || lua_isnil(L, -2))
        goto fail;
    lua_pop(L, 1);
    lua_getfield(L, -1, "concurrency");
    f->concurrency = (int)lua_tointeger(L, -1);
    lua_getfield(L, -2, "per_second");
    f->per_second = lua_tonumber(L, -1);
    lua_pop(L, 2);
    read_policies(L, f);
    lua_getfield(L, -1, "oauth2");
    if (lua_istable(L, -1)) {
        lua_getfield(L, -1, "token_url");
        lua_getfield(L, -2, "scope");
        lua_getfield(L, -3, "audience");
        f->oauth2_token_url = lua_isstring(L, -3) ? uh_strdup(lua_tostring(L, -3)) : NULL;
        f->oauth2_scope = lua_isstring(L, -2) ? uh_strdup(lua_tostring(L, -2)) : NULL;
        f->oauth2_audience = lua_isstring(L, -1) ? uh_strdup(lua_tostring(L, -1)) : NULL;
    }
    lua_close(L);
    return NULL;
fail:
    err = uh_strdup(lua_tostring(L, -1) ? lua_tostring(L, -1)
                                        : "cannot load the connector");
    if (short_of)               /* a refusal past its cap is the connector's */
        *short_of = run.short_of || (run.short_mem && !run.limit.hit);
    lua_close(L);
    return err;
}

void uh_facts_free(uh_facts *f)
{
    for (int i = 0; i < f->npolicies; i++)
        free(f->policies[i].event);
    free(f->policies);
    free(f->oauth2_token_url);
    free(f->oauth2_scope);
    free(f->oauth2_audience);
    memset(f, 0, sizeof *f);
}

void uh_facts_policy(const uh_facts *f, const char *event, uh_policy *out)
{
    out->event = NULL;
    out->max_attempts = UH_RETRY_MAX_ATTEMPTS;
    out->base_ms = UH_RETRY_BASE_MS;
    out->max_ms = UH_RETRY_MAX_MS;
    out->renew_before = -1;
    out->expired_gone = 0;
    for (int i = 0; f && i < f->npolicies; i++)
        if (strcmp(f->policies[i].event, event) == 0) {
            const uh_policy *p = &f->policies[i];
            out->renew_before = p->renew_before;
            out->expired_gone = p->expired_gone;
            if (p->max_attempts > 0)
                out->max_attempts = p->max_attempts;
            if (p->base_ms > 0)
                out->base_ms = p->base_ms;
            if (p->max_ms > 0)
                out->max_ms = p->max_ms;
        }
}

/*
 * Connection files are checked as ssh checks keys.  One that others may
 * write could send its credentials anywhere (its base_url), whether they
 * are written in it or taken from the environment: refused.  One that
 * others may read gives away the secrets written in it: a warning.
 */
static int check_mode(uh_rt *rt, const char *path, const uh_conn *c, int literal)
{
    struct stat st;

    if (c->secrets.n == 0 || stat(path, &st) != 0)
        return UNHOOK_OK;
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        uh_seterr(rt->diag, "%s: the connection file holds a secret and is "
                  "writable by group or others; chmod go-w it", path);
        return UNHOOK_USAGE;
    }
    if (literal && (st.st_mode & S_IROTH))
        uh_log(rt->diag, NULL, UNHOOK_LOG_WARN, "%s: the connection file holds "
               "a secret and is readable by others; chmod o-r it", path);
    return UNHOOK_OK;
}

/* A token request carries the client secret and the refresh token: over
 * plain http to another machine, anyone on the way reads them (and a
 * provider's redirect to https comes only after they were sent). */
static void warn_cleartext(uh_rt *rt, const char *path, const uh_oauth *o)
{
    char host[256];

    if (!o->token_url || strncmp(o->token_url, "http://", 7) != 0 ||
        uh_url_host(o->token_url, host, sizeof host) != 0 ||
        strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
        strcmp(host, "[::1]") == 0)
        return;
    uh_log(rt->diag, NULL, UNHOOK_LOG_WARN, "%s: token_url is plain http to %s: "
           "the client secret and the tokens go over the network unencrypted; "
           "use https", path, host);
}

/* Grant refresh_token keeps its tokens in the engine's store. */
static int oauth_open(uh_rt *rt, const char *path, uh_conn *c)
{
    uh_store *s = NULL;
    int rc;

    warn_cleartext(rt, path, c->oauth);
    if (!c->oauth->client_credentials && rt->store) {
        rc = rt->store(rt->store_ud, &s);
        if (rc != UNHOOK_OK)
            return rc;
    }
    return uh_oauth_open(c, s, rt->diag, path);
}

/* The manifest's oauth2 defaults as a table (or nil) on L. */
static void push_oauth2_defaults(lua_State *L, const uh_facts *f)
{
    if (!f || (!f->oauth2_token_url && !f->oauth2_scope && !f->oauth2_audience)) {
        lua_pushnil(L);
        return;
    }
    lua_createtable(L, 0, 3);
    lua_pushstring(L, f->oauth2_token_url);
    lua_setfield(L, -2, "token_url");
    lua_pushstring(L, f->oauth2_scope);
    lua_setfield(L, -2, "scope");
    lua_pushstring(L, f->oauth2_audience);
    lua_setfield(L, -2, "audience");
}

int uh_conn_load(uh_rt *rt, const char *path, uh_conn *c)
{
    return uh_conn_load_for(rt, path, NULL, c);
}

int uh_conn_load_for(uh_rt *rt, const char *path, const uh_facts *f, uh_conn *c)
{
    lua_State *L = rt->host;
    char *text;
    size_t len;
    int e, rc, literal, top = lua_gettop(L);

    memset(c, 0, sizeof *c);
    if (!path)
        return UNHOOK_OK;
    e = uh_read_file(path, 0, &text, &len);
    if (e) {
        uh_seterr(rt->diag, "%s: cannot read connection file: %s", path, strerror(e));
        return UNHOOK_IO;
    }
    if (uh_require(L, "unhook.connection") != LUA_OK) {
        uh_seterr(rt->diag, "%s", lua_tostring(L, -1));
        free(text);
        lua_settop(L, top);
        return UNHOOK_ERROR;
    }
    lua_getfield(L, -1, "parse");
    lua_pushlstring(L, text, len);
    lua_pushstring(L, path);
    push_oauth2_defaults(L, f);
    free(text);
    if (uh_pcall(L, 3, 2) != LUA_OK || lua_isnil(L, -2)) {
        uh_seterr(rt->diag, "%s", lua_tostring(L, -1));
        lua_settop(L, top);
        return UNHOOK_USAGE;
    }
    lua_pop(L, 1);
    uh_conn_from_table(L, -1, c);
    lua_getfield(L, -1, "literal_secret");
    literal = lua_toboolean(L, -1);
    lua_settop(L, top);
    rc = check_mode(rt, path, c, literal);
    if (rc == UNHOOK_OK && c->oauth)
        rc = oauth_open(rt, path, c);
    if (rc != UNHOOK_OK)
        uh_conn_free(c);
    return rc;
}
