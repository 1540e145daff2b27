/*
 * reconcile.c -- the provider's truth: an event's list flow lists the
 * webhooks at the provider, reconcile.lua compares them with the stored
 * instances (under the connector's match and owned rules), and here the
 * report is acted on.  The whole listing ends before anything is
 * written, so a provider that fails in the middle changes nothing.
 * Orphans are deregistered as instances of their own (reason "orphan"),
 * through the work loop like any deregistration; adopted orphans are
 * stored as on; missing instances go to "lost" (lifecycle.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "json.h"
#include "manage.h"
#include "same.h"

typedef struct item {
    char *status, *key, *id, *state, *data;
} item;

typedef struct items {
    item *v;
    size_t n;
    int owned_rule;
} items;

static void items_free(items *it)
{
    for (size_t k = 0; k < it->n; k++) {
        free(it->v[k].status);
        free(it->v[k].key);
        free(it->v[k].id);
        free(it->v[k].state);
        free(it->v[k].data);
    }
    free(it->v);
    memset(it, 0, sizeof *it);
}

/* ---- the stored side --------------------------------------------------- */

static int stored_one(void *ud, const uh_inst *i)
{
    uh_buf *b = ud;
    int n = 0;

    uh_buf_add(b, b->len > 1 ? "," : "", b->len > 1);
    uh_json_key(b, &n, "desired", 7, UH_JSON_ESC_LUA);
    uh_json_str(b, uh_desired_name(i->desired), strlen(uh_desired_name(i->desired)), 0);
    uh_json_key(b, &n, "id", 2, UH_JSON_ESC_LUA);
    uh_json_str(b, i->id, strlen(i->id), UH_JSON_ESC_LUA);
    uh_json_key(b, &n, "options", 7, UH_JSON_ESC_LUA);
    uh_json_str(b, i->options ? i->options : "{}", strlen(i->options ? i->options : "{}"),
                UH_JSON_ESC_LUA);
    if (i->registration) {
        uh_json_key(b, &n, "registration", 12, UH_JSON_ESC_LUA);
        uh_json_str(b, i->registration, strlen(i->registration), UH_JSON_ESC_LUA);
    }
    uh_json_key(b, &n, "state", 5, UH_JSON_ESC_LUA);
    uh_json_str(b, uh_state_name(i->state), strlen(uh_state_name(i->state)), 0);
    uh_json_end(b, n, '{', '}');
    return b->oom;
}

/* The event's instances as the list run receives them: a JSON array. */
static int stored_json(unhook_engine *E, uh_store *s, const char *key,
                       const char *event, uh_buf *out)
{
    unhook_filter f = {.connector = key, .event = event};
    int rc;

    uh_buf_puts(out, "[");
    rc = s->ops->list(s, &f, stored_one, out);
    uh_buf_puts(out, "]");
    if (out->oom)
        return UNHOOK_NOMEM;
    return uh_store_err(E, rc);
}

/* ---- the report, read in the host state -------------------------------- */

static char *field(lua_State *L, const char *k)
{
    char *v = NULL;

    if (lua_getfield(L, -1, k) == LUA_TSTRING)
        v = uh_strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return v;
}

/* stack: reconcile.items, the report text -> items, owned_rule */
static int read_items(lua_State *L)
{
    items *it = lua_touserdata(L, 1);
    lua_Integer n;

    lua_settop(L, 2);
    if (uh_require(L, "unhook.reconcile") != LUA_OK)
        return lua_error(L);
    lua_getfield(L, -1, "items");
    lua_pushvalue(L, 2);
    lua_call(L, 1, 2);
    it->owned_rule = lua_toboolean(L, -1);
    lua_pop(L, 1);
    n = (lua_Integer)lua_rawlen(L, -1);
    it->v = calloc(n ? (size_t)n : 1, sizeof *it->v);
    if (!it->v)
        return luaL_error(L, "out of memory");
    for (lua_Integer k = 1; k <= n; k++) {
        item *x = &it->v[it->n++];
        lua_rawgeti(L, -1, k);
        x->status = field(L, "status");
        x->key = field(L, "key");
        x->id = field(L, "id");
        x->state = field(L, "state");
        x->data = field(L, "data");
        lua_pop(L, 1);
    }
    return 0;
}

static int report_items(unhook_engine *E, const char *text, items *it)
{
    lua_State *L = E->rt.host;
    int top = lua_gettop(L);

    memset(it, 0, sizeof *it);
    lua_pushcfunction(L, read_items);
    lua_pushlightuserdata(L, it);
    lua_pushstring(L, text ? text : "{}");
    if (uh_pcall(L, 2, 0) != LUA_OK) {
        uh_seterr(&E->diag, "reconcile: cannot read the report: %s", lua_tostring(L, -1));
        lua_settop(L, top);
        items_free(it);
        return UNHOOK_ERROR;
    }
    lua_settop(L, top);
    return UNHOOK_OK;
}

/* ---- acting on it ------------------------------------------------------ */

/* "PREFIX-KEY", or with "-2", "-3", ... when that id is taken. */
static char *new_id(uh_store *s, const char *prefix, const char *key)
{
    uh_buf stem = {0};
    char *id;

    uh_buf_printf(&stem, "%s-%s", prefix, key ? key : "webhook");
    id = stem.oom ? NULL : uh_free_id(s, stem.data, '-', 1);
    uh_buf_free(&stem);
    return id;
}

static const char *outcome_text(int rc, const unhook_flow_result *r)
{
    if (rc != UNHOOK_OK)
        return "could not run";
    switch (r->outcome) {
    case UNHOOK_OUTCOME_DONE: return "deregistered";
    case UNHOOK_OUTCOME_GONE: return "already gone";
    case UNHOOK_OUTCOME_RETRY: return "pending retry";
    default: return "failed";
    }
}

typedef struct job {
    unhook_engine *E;
    uh_store *s;
    const unhook_flow_request *req;
    char *key, *conn;           /* the connector as stored; connection path */
    double now;
} job;

/* An orphan no instance holds: stored (reason "orphan"), then either
 * deregistered now or adopted as on.  *id receives the new id. */
static int store_orphan(job *j, const item *x, int adopt, char **id, const char **action)
{
    uh_inst i;
    unhook_flow_result r = {.retry_after = -1};
    int rc;

    memset(&i, 0, sizeof i);
    if (!(*id = new_id(j->s, adopt ? "adopted" : "orphan", x->key)))
        return uh_store_err(j->E, UNHOOK_STORE);
    i.id = *id;
    i.connector = j->key;
    i.event = (char *)j->req->event;
    i.options = (char *)(j->req->options_json ? j->req->options_json : "{}");
    i.connection = j->conn;
    i.registration = x->data;
    i.desired = adopt ? UH_WANT_ON : UH_WANT_OFF;
    i.state = adopt ? UH_REGISTERED : UH_DEREGISTERING;
    i.reason = adopt ? NULL : (char *)"orphan";
    i.next_attempt_at = adopt ? 0 : j->now;
    i.created_at = i.updated_at = j->now;
    rc = uh_put_noted(j->E, j->s, &i, (unhook_history){.at = j->now,
        .action = "reconcile", .outcome = adopt ? "done" : NULL,
        .message = adopt ? "adopted: found at the provider, no instance held it; stored as on"
                         : "orphan: found at the provider, no instance held it; deregistering"});
    if (rc != UNHOOK_OK || adopt) {
        *action = adopt ? "adopted" : NULL;
        return rc;
    }
    rc = uh_work(j->E, NULL, *id, -1, 0, NULL, NULL, NULL, &r);
    *action = outcome_text(rc, &r);
    unhook_flow_result_free(&r);
    return rc;
}

/* An orphan whose instance is off but still holds it: a dead letter is
 * re-queued, a pending deregistration is left to its retries. */
static int requeue_orphan(job *j, const item *x, const char **action)
{
    unhook_flow_result r;
    int rc;

    if (!x->state || strcmp(x->state, "failed") != 0) {
        *action = "deregistration pending";
        return UNHOOK_OK;
    }
    rc = unhook_instance_retry(j->E, x->id, &r);
    *action = outcome_text(rc, &r);
    unhook_flow_result_free(&r);
    return rc;
}

static int mark_lost(job *j, const item *x, const char **action)
{
    uh_inst i;
    uh_trans t = {.ev = UH_EV_LOST, .now = j->now};
    int rc = j->s->ops->get(j->s, x->id, &i);

    if (rc != UNHOOK_OK)
        return uh_store_err(j->E, rc);
    *action = "already lost";
    if (uh_transition(&i, &t) == UH_V_RECORD) {
        rc = j->s->ops->begin(j->s);
        if (rc == UNHOOK_OK)
            rc = j->s->ops->intent(j->s, &i);
        if (rc == UNHOOK_OK)
            uh_history_note(j->s, i.id, "reconcile", "lost",
                            "no webhook at the provider matches its registration data", j->now);
        if (rc == UNHOOK_OK)
            rc = j->s->ops->commit(j->s);
        if (rc != UNHOOK_OK)
            j->s->ops->rollback(j->s);
        rc = uh_store_err(j->E, rc);
        *action = "marked lost";
    }
    uh_inst_clear(&i);
    return rc;
}

static int act(job *j, unsigned flags, const item *x, char **newid, const char **action)
{
    int apply = flags & UNHOOK_RECONCILE_APPLY, adopt = flags & UNHOOK_RECONCILE_ADOPT;

    *action = NULL;
    if (!x->status)
        return UNHOOK_OK;
    if (strcmp(x->status, "missing") == 0 && (apply || adopt))
        return mark_lost(j, x, action);
    if (strcmp(x->status, "orphan") != 0 || !(apply || adopt))
        return UNHOOK_OK;
    if (!x->id)
        return store_orphan(j, x, adopt, newid, action);
    if (apply)
        return requeue_orphan(j, x, action);
    *action = "left alone: its instance is off";
    return UNHOOK_OK;
}

/* ---- the call ---------------------------------------------------------- */

static int list_provider(unhook_engine *E, const unhook_flow_request *req,
                         const char *stored, items *it)
{
    unhook_flow_request lreq = *req;
    unhook_flow_result res;
    int rc;

    lreq.registration = stored;
    if (!lreq.instance_id)
        lreq.instance_id = "reconcile";
    rc = uh_flow_once(&E->rt, &lreq, &res, "list", 0);
    if (rc == UNHOOK_OK && res.outcome != UNHOOK_OUTCOME_DONE) {
        uh_seterr(&E->diag, "listing the provider's webhooks failed (%s): %s; "
                  "nothing was changed", res.code ? res.code : "error",
                  res.message ? res.message : "");
        rc = UNHOOK_ERROR;
    }
    if (rc == UNHOOK_OK)
        rc = report_items(E, res.registration, it);
    unhook_flow_result_free(&res);
    return rc;
}

int unhook_reconcile(unhook_engine *E, const unhook_flow_request *req,
                     unsigned flags, unhook_reconcile_fn fn, void *ud)
{
    uh_store *s;
    uh_buf stored = {0};
    items it = {0};
    job j = {E, NULL, req, NULL, NULL, uh_wall_now()};
    int rc;

    if ((rc = uh_refuse_driven(E, "reconcile")) != UNHOOK_OK)
        return rc;
    if (!req || !req->connector || !req->event) {
        uh_seterr(&E->diag, "reconcile needs a connector and an event");
        return UNHOOK_USAGE;
    }
    if ((flags & UNHOOK_RECONCILE_APPLY) && (flags & UNHOOK_RECONCILE_ADOPT)) {
        uh_seterr(&E->diag, "reconcile: --apply and --adopt do not go together: "
                  "an orphan is either deregistered or adopted");
        return UNHOOK_USAGE;
    }
    if (req->connection && !(j.conn = realpath(req->connection, NULL))) {
        uh_seterr(&E->diag, "%s: cannot read connection file", req->connection);
        return UNHOOK_IO;
    }
    if ((rc = uh_engine_store(E, &s)) != UNHOOK_OK)
        goto out;
    j.s = s;
    if (!(j.key = uh_connector_key(E, req->connector))) {
        rc = UNHOOK_NOTFOUND;
        goto out;
    }
    if ((rc = stored_json(E, s, j.key, req->event, &stored)) != UNHOOK_OK ||
        (rc = list_provider(E, req, stored.data, &it)) != UNHOOK_OK)
        goto out;
    if ((flags & UNHOOK_RECONCILE_APPLY) && !it.owned_rule) {
        uh_seterr(&E->diag, "reconcile --apply refused: event '%s' has no owned "
                  "rule, so its webhooks cannot be told from others' (nothing was "
                  "changed; see 'owned' in the connector guide)", req->event);
        rc = UNHOOK_USAGE;
        goto out;
    }
    for (size_t k = 0; k < it.n && rc == UNHOOK_OK; k++) {
        item *x = &it.v[k];
        char *newid = NULL;
        const char *action = NULL;
        unhook_reconcile_item view;
        rc = act(&j, flags, x, &newid, &action);
        view = (unhook_reconcile_item){.status = x->status, .key = x->key,
            .instance_id = newid ? newid : x->id, .state = x->state,
            .data = x->data, .action = action};
        if (fn && fn(ud, &view))
            k = it.n;
        free(newid);
    }
out:
    items_free(&it);
    uh_buf_free(&stored);
    free(j.key);
    free(j.conn);
    return rc;
}

char *unhook_reconcile_item_json(const unhook_reconcile_item *x)
{
    uh_buf b = {0};
    int n = 0;
    const char *const keys[] = {"action", "data", "instance", "key", "state", "status"};
    const char *const vals[] = {x->action, x->data, x->instance_id, x->key, x->state,
                                x->status};

    for (int k = 0; k < 6; k++) {
        uh_json_key(&b, &n, keys[k], strlen(keys[k]), UH_JSON_ESC_NONE);
        if (k == 1)
            uh_json_raw(&b, vals[k]);
        else if (vals[k])
            uh_json_str(&b, vals[k], strlen(vals[k]), UH_JSON_ESC_NONE);
        else
            uh_buf_puts(&b, "null");
    }
    uh_json_end(&b, n, '{', '}');
    if (b.oom) {
        uh_buf_free(&b);
        return NULL;
    }
    return uh_buf_take(&b);
}
