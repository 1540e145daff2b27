/*
 * records.c -- instances as JSON Lines: import (all or nothing, one
 * transaction; records.lua parses and checks every line) and export.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "json.h"
#include <unistd.h>

#include "same.h"


static char *rec_field(lua_State *L, const char *k)
{
    char *v = NULL;

    if (lua_getfield(L, -1, k) == LUA_TSTRING)
        v = uh_strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return v;
}

/* records.lua checked the names: a state or desired state it let through */
static int field_enum(lua_State *L, const char *k, int (*parse)(const char *))
{
    int v;

    lua_getfield(L, -1, k);
    v = parse(lua_tostring(L, -1));
    lua_pop(L, 1);
    return v < 0 ? 0 : v;
}

/*
 * Relative paths of a line made absolute, as enable stores them, so that
 * a later command run from another folder finds them: the connector
 * folder must exist (UNHOOK_USAGE naming the instance), a connection file
 * is taken against the working folder.
 */
static int absolute_paths(unhook_engine *E, uh_store *s, uh_inst *i)
{
    char *abs, cwd[4096];

    if (i->connector && strchr(i->connector, '/') && i->connector[0] != '/') {
        if (!(abs = uh_connector_key(E, i->connector))) {
            snprintf(s->errmsg, sizeof s->errmsg, "instance '%s': %s; nothing "
                     "was imported", i->id, E->diag.errmsg);
            return UNHOOK_USAGE;
        }
        free(i->connector);
        i->connector = abs;
    }
    if (i->connection && i->connection[0] != '/' && getcwd(cwd, sizeof cwd)) {
        uh_buf b = {0};
        const char *rel = i->connection;
        while (rel[0] == '.' && rel[1] == '/')
            rel += 2;
        uh_buf_printf(&b, "%s/%s", cwd, rel);
        if (b.oom)
            return UNHOOK_NOMEM;
        free(i->connection);
        i->connection = uh_buf_take(&b);
    }
    return UNHOOK_OK;
}

int unhook_import(unhook_engine *E, const char *jsonl, size_t len, long *count)
{
    return unhook_import_with(E, jsonl, len, 0, count);
}

/* An existing instance replaced by an import line: refused while another
 * process works on it; its registration data goes to history. */
static int replace_one(unhook_engine *E, uh_store *s, const uh_inst *old,
                       const char *id, double now)
{
    if (uh_claimed_elsewhere(old, E->owner, now, s->shared)) {
        snprintf(s->errmsg, sizeof s->errmsg, "instance '%s' is being worked on "
                 "by another unhook process; nothing was imported", id);
        return UNHOOK_USAGE;
    }
    return s->ops->history_add(s, &(unhook_history){.instance_id = id, .at = now,
        .action = "import", .outcome = "done",
        .message = "replaced by an import (the registration data it held is here)",
        .registration = old->registration});
}

int unhook_import_with(unhook_engine *E, const char *jsonl, size_t len,
                       unsigned flags, long *count)
{
    lua_State *L = E->rt.host;
    int top = lua_gettop(L), rc;
    double now = uh_wall_now();
    uh_store *s;
    lua_Integer n;

    *count = 0;
    if ((rc = uh_engine_store(E, &s)) != UNHOOK_OK)
        return rc;
    if (uh_require(L, "unhook.records") != LUA_OK) {
        uh_seterr(&E->diag, "%s", lua_tostring(L, -1));
        lua_settop(L, top);
        return UNHOOK_ERROR;
    }
    lua_getfield(L, -1, "parse");
    lua_pushlstring(L, jsonl, len);
    if (uh_pcall(L, 1, 2) != LUA_OK || lua_isnil(L, -2)) {
        uh_seterr(&E->diag, "%s", lua_tostring(L, -1));
        lua_settop(L, top);
        return UNHOOK_USAGE;
    }
    lua_pop(L, 1);
    /* all or nothing: one transaction */
    rc = s->ops->begin(s);
    for (n = 1; rc == UNHOOK_OK && lua_rawgeti(L, -1, n) == LUA_TTABLE; n++) {
        uh_inst i;
        memset(&i, 0, sizeof i);
        i.id = rec_field(L, "id");
        i.connector = rec_field(L, "connector");
        i.event = rec_field(L, "event");
        i.options = rec_field(L, "options");
        i.connection = rec_field(L, "connection");
        i.registration = rec_field(L, "registration");
        i.state = (uh_state)field_enum(L, "state", uh_state_parse);
        i.desired = (uh_desired)field_enum(L, "desired", uh_desired_parse);
        i.created_at = i.updated_at = now;
        if (i.state == UH_DEREGISTERING)
            i.next_attempt_at = now;
        rc = absolute_paths(E, s, &i);
        if (rc == UNHOOK_OK) {
            uh_inst old;
            rc = s->ops->get(s, i.id, &old);
            if (rc == UNHOOK_OK && (flags & UNHOOK_IMPORT_REPLACE)) {
                rc = replace_one(E, s, &old, i.id, now);
                i.created_at = old.created_at;
                uh_inst_clear(&old);
                if (rc == UNHOOK_OK)
                    rc = s->ops->put(s, &i);
            } else if (rc == UNHOOK_OK) {
                /* never overwrite what an instance holds, unless asked */
                uh_inst_clear(&old);
                snprintf(s->errmsg, sizeof s->errmsg, "instance '%s' already "
                         "exists; nothing was imported ('import --replace' "
                         "updates it)", i.id);
                rc = UNHOOK_USAGE;
            } else if (rc == UNHOOK_NOTFOUND) {
                rc = s->ops->put(s, &i);
            }
        }
        if (rc == UNHOOK_OK)
            uh_history_note(s, i.id, "import", NULL, uh_state_name(i.state), now);
        uh_inst_clear(&i);
        lua_pop(L, 1);
    }
    if (rc == UNHOOK_OK)
        rc = s->ops->commit(s);
    if (rc != UNHOOK_OK)
        s->ops->rollback(s);
    else
        *count = (long)(n - 1);
    lua_settop(L, top);
    lua_gc(L, LUA_GCCOLLECT);
    return uh_store_err(E, rc);
}

typedef struct export_ctx {
    unhook_line_fn fn;
    void *ud;
    uh_buf line;
} export_ctx;

static int export_one(void *ud, const uh_inst *i)
{
    export_ctx *c = ud;
    unhook_instance v;

    uh_inst_view(i, &v);
    c->line.len = 0;
    uh_json_export_line(&c->line, &v);
    if (c->line.oom)
        return -1;
    return c->fn(c->ud, c->line.data, c->line.len);
}

int unhook_export(unhook_engine *E, unhook_line_fn fn, void *ud)
{
    uh_store *s;
    export_ctx c = {fn, ud, {0}};
    int rc;

    if (uh_store_missing(E))
        return UNHOOK_OK;
    if ((rc = uh_engine_store(E, &s)) != UNHOOK_OK)
        return rc;
    rc = s->ops->list(s, NULL, export_one, &c);
    uh_buf_free(&c.line);
    return uh_store_err(E, rc);
}
