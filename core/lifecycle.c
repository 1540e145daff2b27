/*
 * lifecycle.c -- instances converge from their state to their desired
 * state.  Intent is committed before any request is sent; each outcome is
 * committed (in batches) before it is counted or reported.  Work is
 * claimed in the store, so several processes can share one database, and
 * claims of a process that died are taken over.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lauxlib.h>

#include "sched.h"
#include "store.h"

#define LEASE_S 300.0           /* a claim outlives any flow's budget */
#define BATCH 64                /* outcomes per commit at most */
#define FLUSH_S 0.2             /* and at least this often */

/* ---- the store -------------------------------------------------------- */

static const char *db_path(unhook_engine *E)
{
    const char *path = E->db_path ? E->db_path : getenv("UNHOOK_DB");

    return path && *path ? path : "unhook.db";
}

/* For reading only: a store that does not exist yet is not created. */
static int missing_store(unhook_engine *E)
{
    return !E->store && access(db_path(E), F_OK) != 0;
}

static int store(unhook_engine *E, uh_store **out)
{
    char err[600];
    const char *path;
    int rc;

    if (!E->store) {
        path = db_path(E);
        rc = uh_store_sqlite_open(path, &E->store, err, sizeof err);
        if (rc != UNHOOK_OK) {
            uh_seterr(E, "%s", err);
            return rc;
        }
        {
            char host[64] = "";
            gethostname(host, sizeof host - 1);
            snprintf(E->owner, sizeof E->owner, "%s:%ld", host, (long)getpid());
        }
    }
    *out = E->store;
    return UNHOOK_OK;
}

void uh_store_close(unhook_engine *E)
{
    if (E->store)
        E->store->ops->close(E->store);
    E->store = NULL;
}

static int store_err(unhook_engine *E, int rc)
{
    if (rc != UNHOOK_OK && E->store)
        uh_seterr(E, "%s", E->store->errmsg);
    return rc;
}

static double wall_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double jitter(unhook_engine *E)
{
    E->rng ^= E->rng << 13;
    E->rng ^= E->rng >> 7;
    E->rng ^= E->rng << 17;
    return (double)(E->rng >> 11) / 9007199254740992.0;
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? uh_strdup(v) : NULL;
}

/* ---- connectors: limits and retry policy -------------------------------- */

typedef struct cinfo {
    char *key;                  /* the connector as an instance names it */
    char *dir;                  /* resolved folder, NULL if unusable */
    char *error;
    int concurrency, active;
    double per_second, next_start;
    int nevents;
    char **events;
    int *max_attempts;
    double *base_ms, *max_ms;
    struct cinfo *next;
} cinfo;

static void cinfo_free(cinfo *c)
{
    while (c) {
        cinfo *n = c->next;
        for (int i = 0; i < c->nevents; i++)
            free(c->events[i]);
        free(c->events);
        free(c->max_attempts);
        free(c->base_ms);
        free(c->max_ms);
        free(c->key);
        free(c->dir);
        free(c->error);
        free(c);
        c = n;
    }
}

/* Read manifest.summary(dir) in a state of its own. */
static void cinfo_load(unhook_engine *E, cinfo *c)
{
    uh_run run;
    lua_State *L;

    c->dir = unhook_connector_path(E, c->key);
    if (!c->dir) {
        c->error = uh_strdup(unhook_errmsg(E));
        return;
    }
    L = uh_scratch_state(E, &run);
    if (!L) {
        c->error = uh_strdup("out of memory");
        return;
    }
    if (uh_require(L, "unhook.manifest") != LUA_OK)
        goto fail;
    lua_getfield(L, -1, "summary");
    lua_pushstring(L, c->dir);
    if (uh_pcall(L, 1, 2) != LUA_OK)
        goto fail;
    if (lua_isnil(L, -2))
        goto fail;
    lua_pop(L, 1);
    lua_getfield(L, -1, "concurrency");
    c->concurrency = (int)lua_tointeger(L, -1);
    lua_getfield(L, -2, "per_second");
    c->per_second = lua_tonumber(L, -1);
    lua_pop(L, 2);
    lua_getfield(L, -1, "events");
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        int i = c->nevents;
        char **ev = realloc(c->events, (size_t)(i + 1) * sizeof *ev);
        int *ma = realloc(c->max_attempts, (size_t)(i + 1) * sizeof *ma);
        double *b = realloc(c->base_ms, (size_t)(i + 1) * sizeof *b);
        double *mx = realloc(c->max_ms, (size_t)(i + 1) * sizeof *mx);
        if (ev) c->events = ev;
        if (ma) c->max_attempts = ma;
        if (b) c->base_ms = b;
        if (mx) c->max_ms = mx;
        if (!ev || !ma || !b || !mx) {
            lua_pop(L, 2);
            break;
        }
        c->events[i] = uh_strdup(lua_tostring(L, -2));
        lua_getfield(L, -1, "max_attempts");
        c->max_attempts[i] = (int)lua_tointeger(L, -1);
        lua_getfield(L, -2, "base_ms");
        c->base_ms[i] = lua_tonumber(L, -1);
        lua_getfield(L, -3, "max_ms");
        c->max_ms[i] = lua_tonumber(L, -1);
        lua_pop(L, 4);
        c->nevents++;
    }
    lua_close(L);
    return;
fail:
    c->error = uh_strdup(lua_tostring(L, -1) ? lua_tostring(L, -1)
                                             : "cannot load the connector");
    free(c->dir);
    c->dir = NULL;
    lua_close(L);
}

static void policy(const cinfo *c, const char *event, int *max_attempts,
                   double *base_ms, double *max_ms)
{
    *max_attempts = 8;
    *base_ms = 1000;
    *max_ms = 3600000;
    for (int i = 0; c && i < c->nevents; i++)
        if (strcmp(c->events[i], event) == 0) {
            *max_attempts = c->max_attempts[i] > 0 ? c->max_attempts[i] : 8;
            *base_ms = c->base_ms[i] > 0 ? c->base_ms[i] : 1000;
            *max_ms = c->max_ms[i] > 0 ? c->max_ms[i] : 3600000;
        }
}

/* ---- a set of ids: instances counted as pending ------------------------ */

typedef struct idset {
    char **slots;
    size_t cap, used;           /* used counts tombstones too */
} idset;

static char tombstone;

static size_t idhash(const char *s)
{
    size_t h = 1469598103934665603ULL;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
    return h;
}

static char **idset_find(idset *set, const char *id, int for_insert)
{
    size_t i;
    char **grave = NULL;

    if (!set->cap)
        return NULL;
    for (i = idhash(id) & (set->cap - 1);; i = (i + 1) & (set->cap - 1)) {
        char **slot = &set->slots[i];
        if (!*slot)
            return for_insert ? (grave ? grave : slot) : NULL;
        if (*slot == &tombstone) {
            if (!grave)
                grave = slot;
        } else if (strcmp(*slot, id) == 0) {
            return slot;
        }
    }
}

/* Returns 1 if id was added, 0 if present (or no memory). */
static int idset_add(idset *set, const char *id)
{
    char **slot;

    if ((set->used + 1) * 2 > set->cap) {
        idset bigger = {calloc(set->cap ? set->cap * 2 : 64, sizeof(char *)),
                        set->cap ? set->cap * 2 : 64, 0};
        if (!bigger.slots)
            return 0;
        for (size_t i = 0; i < set->cap; i++)
            if (set->slots[i] && set->slots[i] != &tombstone) {
                *idset_find(&bigger, set->slots[i], 1) = set->slots[i];
                bigger.used++;
            }
        free(set->slots);
        *set = bigger;
    }
    slot = idset_find(set, id, 1);
    if (*slot && *slot != &tombstone)
        return 0;
    if (!*slot)
        set->used++;
    *slot = uh_strdup(id);
    return *slot != NULL;
}

/* Returns 1 if id was there. */
static int idset_del(idset *set, const char *id)
{
    char **slot = idset_find(set, id, 0);

    if (!slot)
        return 0;
    free(*slot);
    *slot = &tombstone;
    return 1;
}

static void idset_free(idset *set)
{
    for (size_t i = 0; i < set->cap; i++)
        if (set->slots[i] != &tombstone)
            free(set->slots[i]);
    free(set->slots);
    memset(set, 0, sizeof *set);
}

/* ---- jobs and the work loop -------------------------------------------- */

typedef struct conncache {
    char *path;
    uh_conn conn;
    int rc;
    char *error;
    struct conncache *next;
} conncache;

typedef struct job {
    uh_run run;                 /* first: the run's done callback finds us */
    uh_inst inst;
    unhook_flow_result res;
    char *released;             /* registration data moved to history */
    cinfo *ci;
    int reg;                    /* a registration flow */
    int lost;                   /* its claim was lost: outcome not recorded */
    struct job *next;
} job;

typedef struct work {
    unhook_engine *E;
    uh_store *s;
    const unhook_filter *f;
    const char *only_id;
    cinfo *infos;
    conncache *conns;
    job *queue;                 /* claimed, not started */
    job *finished;              /* run, outcome not yet committed */
    int nfinished, active;
    double last_flush, last_progress;
    const char *owner;
    unhook_stats *stats;
    unhook_progress_fn progress;
    void *ud;
    unhook_flow_result *capture; /* the single job's result, for one-id work */
    idset pending;              /* ids counted in stats->pending */
    int rc;
} work;

static cinfo *info_for(work *w, const char *key)
{
    cinfo *c;

    for (c = w->infos; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->key = uh_strdup(key);
    cinfo_load(w->E, c);
    c->next = w->infos;
    w->infos = c;
    return c;
}

static conncache *conn_for(work *w, const char *path)
{
    conncache *c;

    for (c = w->conns; c; c = c->next)
        if ((!c->path && !path) || (c->path && path && strcmp(c->path, path) == 0))
            return c;
    c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->path = path ? uh_strdup(path) : NULL;
    c->rc = uh_conn_load(w->E, path, &c->conn);
    if (c->rc != UNHOOK_OK)
        c->error = uh_strdup(unhook_errmsg(w->E));
    c->next = w->conns;
    w->conns = c;
    return c;
}

static void job_free(job *j)
{
    uh_run_close(&j->run);
    uh_inst_clear(&j->inst);
    unhook_flow_result_free(&j->res);
    free(j->released);
    free(j);
}

static void job_done(uh_run *r);

/* Fill j->res without running anything (the flow could not start). */
static void job_fail_now(work *w, job *j, unhook_outcome o, const char *code,
                         const char *msg)
{
    memset(&j->res, 0, sizeof j->res);
    j->res.outcome = o;
    j->res.code = uh_strdup(code);
    j->res.message = uh_strdup(msg);
    j->res.retry_after = -1;
    j->next = w->finished;
    w->finished = j;
    w->nfinished++;
}

static void job_start(work *w, job *j)
{
    unhook_flow_request req = {0};
    conncache *cc;
    const char *path = w->E->conn_override ? w->E->conn_override
                                           : j->inst.connection;

    if (!j->ci || !j->ci->dir) {
        job_fail_now(w, j, UNHOOK_OUTCOME_FAILED, "invalid",
                     j->ci && j->ci->error ? j->ci->error : "connector unusable");
        return;
    }
    cc = conn_for(w, path);
    if (!cc || cc->rc != UNHOOK_OK) {
        /* an operator's file may come back: retry rather than dead-letter */
        job_fail_now(w, j, UNHOOK_OUTCOME_RETRY, "connection",
                     cc && cc->error ? cc->error : "cannot load the connection");
        return;
    }
    req.event = j->inst.event;
    req.options_json = j->inst.options;
    req.registration = j->reg ? NULL : j->inst.registration;
    req.reason = j->inst.reason;
    req.instance_id = j->inst.id;
    memset(&j->run, 0, sizeof j->run);
    j->run.done = job_done;
    j->run.ud = w;
    if (uh_run_start(w->E, &j->run, j->ci->dir, j->reg ? "registration"
                     : "deregistration", &req, &cc->conn, &j->res) != UNHOOK_OK) {
        job_fail_now(w, j, UNHOOK_OUTCOME_RETRY, "engine", unhook_errmsg(w->E));
        return;
    }
    j->ci->active++;
    w->active++;
}

static void job_done(uh_run *r)
{
    job *j = (job *)r;
    work *w = r->ud;
    int setup;

    /* the run's own reading of its result (engine.c run_done) */
    uh_run_read_result(r);
    setup = r->setup;
    if (setup && !j->res.code)
        j->res.code = uh_strdup("invalid");
    uh_run_close(r);
    j->ci->active--;
    w->active--;
    j->next = w->finished;
    w->finished = j;
    w->nfinished++;
}

static char *error_text(const unhook_flow_result *res)
{
    uh_buf b = {0};

    uh_buf_printf(&b, "%s: %s", res->code ? res->code : "error",
                  res->message ? res->message : "");
    return uh_buf_take(&b);
}

/* The new state of j's instance from its result; fills h. */
static void apply(work *w, job *j, unhook_history *h, double now)
{
    uh_inst *i = &j->inst;
    unhook_flow_result *res = &j->res;
    int max_attempts;
    double base, cap, delay;

    i->attempts++;
    memset(h, 0, sizeof *h);
    h->instance_id = i->id;
    h->at = now;
    h->action = j->reg ? "register" : "deregister";
    h->attempt = i->attempts;
    h->status = res->status;
    h->message = res->message;
    h->outcome = unhook_outcome_name(res->outcome);
    i->updated_at = now;
    free(i->last_error);
    i->last_error = NULL;
    switch (res->outcome) {
    case UNHOOK_OUTCOME_DONE:
    case UNHOOK_OUTCOME_GONE:
        i->next_attempt_at = 0;
        if (j->reg) {
            set_str(&i->state, "registered");
            free(i->registration);
            i->registration = uh_strdup(res->registration);
            h->registration = i->registration;
        } else {
            set_str(&i->state, "off");
            j->released = i->registration;
            i->registration = NULL;
            h->registration = j->released;
        }
        i->attempts = 0;
        break;
    case UNHOOK_OUTCOME_RETRY:
        policy(j->ci, i->event, &max_attempts, &base, &cap);
        if (i->attempts >= max_attempts) {
            uh_buf b = {0};
            uh_buf_printf(&b, "gave up after %d attempts: %s: %s", i->attempts,
                          res->code ? res->code : "error",
                          res->message ? res->message : "");
            i->last_error = uh_buf_take(&b);
            set_str(&i->state, "failed");
            i->next_attempt_at = 0;
            h->outcome = "failed";
            break;
        }
        /* exponential backoff with full jitter, or what the provider asks */
        delay = base * pow(2.0, (double)(i->attempts - 1));
        if (delay > cap)
            delay = cap;
        /* what the provider asks, up to a day: a hostile Retry-After
         * must not put a deregistration off for ever */
        delay = res->retry_after >= 0
                    ? (res->retry_after < 86400.0 ? res->retry_after : 86400.0) * 1000.0
                    : delay * jitter(w->E);
        i->next_attempt_at = now + delay / 1000.0;
        i->last_error = error_text(res);
        break;
    default:
        set_str(&i->state, "failed");
        i->next_attempt_at = 0;
        i->last_error = error_text(res);
        break;
    }
}

/* Commit the outcomes of finished jobs, then count and report them. */
static int flush(work *w)
{
    uh_store *s = w->s;
    job *j, *list = w->finished;
    double now = wall_now();
    int rc;

    if (!list)
        return UNHOOK_OK;
    rc = s->ops->begin(s);
    for (j = list; rc == UNHOOK_OK && j; j = j->next) {
        unhook_history h;
        int lost = 0;
        apply(w, j, &h, now);
        rc = s->ops->finish(s, &j->inst, w->owner, now, &lost);
        if (rc == UNHOOK_OK && lost) {
            /* the lease ran out and another process took the instance */
            j->lost = 1;
            h.message = "outcome not recorded: another process holds the instance";
        }
        if (rc == UNHOOK_OK)
            rc = s->ops->history_add(s, &h);
    }
    if (rc == UNHOOK_OK)
        rc = s->ops->commit(s);
    if (rc != UNHOOK_OK) {
        /* the claims stay until their lease ends; the work is redone */
        s->ops->rollback(s);
        store_err(w->E, rc);
        w->rc = rc;
    }
    w->finished = NULL;
    w->nfinished = 0;
    w->last_flush = uh_now();
    for (j = list; j;) {
        job *n = j->next;
        if (rc == UNHOOK_OK && w->stats && !j->lost) {
            const char *st = j->inst.state;
            int ended = strcmp(st, "off") == 0 || strcmp(st, "registered") == 0 ||
                        strcmp(st, "failed") == 0;
            if (ended && idset_del(&w->pending, j->inst.id))
                w->stats->pending--;
            if (!ended)
                w->stats->pending += idset_add(&w->pending, j->inst.id);
            else if (strcmp(st, "failed") == 0)
                w->stats->failed++;
            else if (strcmp(st, "registered") == 0)
                w->stats->registered++;
            else if (j->res.outcome == UNHOOK_OUTCOME_GONE)
                w->stats->gone++;
            else
                w->stats->done++;
        }
        if (w->capture) {
            unhook_flow_result_free(w->capture);
            *w->capture = j->res;
            memset(&j->res, 0, sizeof j->res);
            if (rc == UNHOOK_OK && strcmp(j->inst.state, "failed") == 0 &&
                w->capture->outcome == UNHOOK_OUTCOME_RETRY) {
                /* attempts exhausted: report the dead letter */
                w->capture->outcome = UNHOOK_OUTCOME_FAILED;
                free(w->capture->message);
                w->capture->message = uh_strdup(j->inst.last_error);
            }
        }
        job_free(j);
        j = n;
    }
    if (w->progress && w->stats)
        w->progress(w->ud, w->stats);
    w->last_progress = uh_now();
    return rc;
}

static int claim_more(work *w, int max)
{
    uh_inst *batch = calloc((size_t)max, sizeof *batch);
    unhook_filter f = {0};
    int n = 0, rc;

    if (!batch)
        return UNHOOK_NOMEM;
    if (w->f)
        f = *w->f;
    f.id = w->only_id;
    rc = w->s->ops->claim(w->s, &f, wall_now(), w->owner,
                          wall_now() + LEASE_S, max, batch, &n);
    for (int k = n - 1; k >= 0; k--) {
        job *j = calloc(1, sizeof *j);
        if (!j) {
            w->s->ops->unclaim(w->s, batch[k].id);
            uh_inst_clear(&batch[k]);
            continue;
        }
        j->inst = batch[k];
        j->reg = strcmp(j->inst.state, "registering") == 0;
        j->ci = info_for(w, j->inst.connector);
        j->next = w->queue;
        w->queue = j;
    }
    free(batch);
    if (rc != UNHOOK_OK)
        return store_err(w->E, rc);
    return n;
}

/* Start queued jobs as far as the engine's and connectors' caps allow;
 * *wake receives when a rate-limited one may start. */
static void start_queued(work *w, double *wake)
{
    job **pp = &w->queue, *j;
    double now = uh_now();

    while ((j = *pp) && w->active < w->E->concurrency) {
        cinfo *c = j->ci;
        if (c && c->dir && c->concurrency > 0 && c->active >= c->concurrency) {
            pp = &j->next;
            continue;
        }
        if (c && c->dir && c->per_second > 0) {
            if (now < c->next_start) {
                if (*wake == 0 || c->next_start < *wake)
                    *wake = c->next_start;
                pp = &j->next;
                continue;
            }
            c->next_start = (c->next_start > now ? c->next_start : now) +
                            1.0 / c->per_second;
        }
        *pp = j->next;
        j->next = NULL;
        job_start(w, j);
    }
}

/*
 * Run due work matching w->f until nothing is due (or max_ms passed);
 * with wait, also until nothing is pending.
 */
static int work_loop(work *w, long max_ms, int wait)
{
    double end = max_ms >= 0 ? uh_now() + (double)max_ms / 1000.0 : 0;
    int claiming = 1, cap = w->E->concurrency * 2 + 8;

    w->owner = w->E->owner;
    w->last_flush = w->last_progress = uh_now();
    for (;;) {
        double wake = 0, now;
        int queued = 0;

        for (job *j = w->queue; j; j = j->next)
            queued++;
        if (claiming && queued < w->E->concurrency && w->rc == UNHOOK_OK) {
            int n = claim_more(w, cap - queued);
            if (n < 0 || (n == 0 && w->only_id))
                claiming = claiming && n > 0;
            if (n > 0)
                queued += n;
        }
        start_queued(w, &wake);
        /* batch outcomes while requests are in flight; with none in
         * flight there is nothing to batch with: commit now */
        if (w->nfinished >= BATCH || (w->nfinished && (w->active == 0 ||
            uh_now() - w->last_flush >= FLUSH_S)))
            flush(w);
        if (w->active == 0 && !w->queue && !w->finished) {
            double next = 0;
            if (!claiming || w->rc != UNHOOK_OK || w->only_id)
                break;
            /* anything due now? */
            if (claim_more(w, cap) > 0)
                continue;
            if (!wait || w->s->ops->next_due(w->s, (const unhook_filter *)w->f, &next) != UNHOOK_OK ||
                next == 0)
                break;
            now = wall_now();
            if (end && uh_now() >= end)
                break;
            {
                double sleep_s = next - now;
                if (sleep_s > 0.5)
                    sleep_s = 0.5;
                if (sleep_s > 0)
                    usleep((useconds_t)(sleep_s * 1e6));
            }
            continue;
        }
        if (end && uh_now() >= end)
            claiming = 0;
        if (w->active > 0 || w->queue) {
            int ms = 50;
            if (wake > 0) {
                double d = (wake - uh_now()) * 1000.0;
                ms = d < 1 ? 1 : d > 50 ? 50 : (int)d;
            }
            if (w->active > 0)
                uh_sched_step(w->E, ms);
            else
                usleep((useconds_t)ms * 1000);
        }
        if (!claiming && w->active == 0) {
            /* out of time: give back what was claimed but not started */
            while (w->queue) {
                job *j = w->queue;
                w->queue = j->next;
                w->s->ops->unclaim(w->s, j->inst.id);
                job_free(j);
            }
            if (!w->finished)
                break;
        }
        if (w->progress && w->stats && uh_now() - w->last_progress > 0.25) {
            w->progress(w->ud, w->stats);
            w->last_progress = uh_now();
        }
    }
    flush(w);
    while (w->conns) {
        conncache *c = w->conns;
        w->conns = c->next;
        uh_conn_free(&c->conn);
        free(c->path);
        free(c->error);
        free(c);
    }
    cinfo_free(w->infos);
    w->infos = NULL;
    idset_free(&w->pending);
    return w->rc;
}

/* ---- the public entry points -------------------------------------------- */

static void history_note(uh_store *s, const char *id, const char *action,
                         const char *outcome, const char *msg, double now)
{
    unhook_history h = {0};

    h.instance_id = id;
    h.at = now;
    h.action = action;
    h.outcome = outcome;
    h.message = msg;
    s->ops->history_add(s, &h);
}

/* A connection file given for every instance must load before anything
 * is written: a typo is a usage error, not a retry. */
static int check_override(unhook_engine *E)
{
    uh_conn c;
    int rc;

    if (!E->conn_override)
        return UNHOOK_OK;
    rc = uh_conn_load(E, E->conn_override, &c);
    uh_conn_free(&c);
    return rc;
}

/* Run the one due attempt of instance id now; result into res. */
static int run_one(unhook_engine *E, uh_store *s, const char *id,
                   unhook_flow_result *res)
{
    work w;
    int rc;

    memset(&w, 0, sizeof w);
    w.E = E;
    w.s = s;
    w.only_id = id;
    w.capture = res;
    res->retry_after = -1;
    rc = work_loop(&w, -1, 0);
    return rc;
}

static char *connector_key(unhook_engine *E, const char *connector)
{
    char *dir, *abs;

    if (!strchr(connector, '/'))
        return uh_strdup(connector);
    /* a folder: remember where it is, wherever the next command runs */
    dir = unhook_connector_path(E, connector);
    if (!dir)
        return NULL;
    abs = realpath(dir, NULL);
    free(dir);
    return abs;
}

int unhook_instance_enable(unhook_engine *E, const char *id,
                           const unhook_flow_request *req,
                           unhook_flow_result *res)
{
    uh_store *s;
    uh_inst i;
    double now = wall_now();
    char *key, *conn = NULL;
    int rc;

    memset(res, 0, sizeof *res);
    res->retry_after = -1;
    if (!id || !*id || !req || !req->connector || !req->event) {
        uh_seterr(E, "enable needs an id, a connector and an event");
        return UNHOOK_USAGE;
    }
    if ((rc = store(E, &s)) != UNHOOK_OK)
        return rc;
    rc = s->ops->get(s, id, &i);
    if (rc == UNHOOK_OK) {
        const char *st = i.state;
        if (s->ops->claimed_elsewhere(s, &i, E->owner, now)) {
            uh_seterr(E, "instance '%s' is being worked on by another unhook "
                      "process; try again when it is done", id);
            uh_inst_clear(&i);
            return UNHOOK_USAGE;
        }
        if (strcmp(i.desired, "on") == 0 && strcmp(st, "registered") == 0) {
            uh_seterr(E, "instance '%s' is already on", id);
            uh_inst_clear(&i);
            return UNHOOK_USAGE;
        }
        if (i.registration && strcmp(st, "registered") != 0) {
            uh_seterr(E, "instance '%s' is still %s and holds registration "
                      "data; finish with 'unhook resume' or 'unhook retry %s' first",
                      id, st, id);
            uh_inst_clear(&i);
            return UNHOOK_USAGE;
        }
        uh_inst_clear(&i);
    } else if (rc != UNHOOK_NOTFOUND) {
        return store_err(E, rc);
    }
    /* options, inputs and the event are checked before anything is stored */
    if ((rc = uh_flow_validate(E, req, "registration")) != UNHOOK_OK)
        return rc;
    key = connector_key(E, req->connector);
    if (!key)
        return UNHOOK_NOTFOUND;
    if (req->connection) {
        conn = realpath(req->connection, NULL);
        if (!conn) {
            uh_seterr(E, "%s: cannot read connection file", req->connection);
            free(key);
            return UNHOOK_IO;
        }
    }
    memset(&i, 0, sizeof i);
    i.id = uh_strdup(id);
    i.connector = key;
    i.event = uh_strdup(req->event);
    i.options = uh_strdup(req->options_json ? req->options_json : "{}");
    i.connection = conn;
    i.desired = uh_strdup("on");
    i.state = uh_strdup("registering");
    i.created_at = i.updated_at = i.next_attempt_at = now;
    rc = s->ops->begin(s);
    if (rc == UNHOOK_OK)
        rc = s->ops->put(s, &i);
    if (rc == UNHOOK_OK)
        rc = s->ops->history_add(s, &(unhook_history){.instance_id = id,
                                 .at = now, .action = "enable"});
    if (rc == UNHOOK_OK)
        rc = s->ops->commit(s);
    uh_inst_clear(&i);
    if (rc != UNHOOK_OK) {
        s->ops->rollback(s);
        return store_err(E, rc);
    }
    return run_one(E, s, id, res);
}

/* Record intent (and a history line) in one transaction. */
static int record_intent(unhook_engine *E, uh_store *s, const uh_inst *i,
                         const char *action, const char *outcome, const char *msg)
{
    int rc = s->ops->begin(s);

    if (rc == UNHOOK_OK)
        rc = s->ops->intent(s, i);
    if (rc == UNHOOK_OK)
        history_note(s, i->id, action, outcome, msg, i->updated_at);
    if (rc == UNHOOK_OK)
        rc = s->ops->commit(s);
    if (rc != UNHOOK_OK) {
        s->ops->rollback(s);
        return store_err(E, rc);
    }
    return UNHOOK_OK;
}

static void in_progress(unhook_flow_result *res)
{
    res->outcome = UNHOOK_OUTCOME_RETRY;
    res->code = uh_strdup("in_progress");
    res->message = uh_strdup("another unhook process is working on this instance "
                             "right now; it will converge to the desired state");
}

int unhook_instance_disable(unhook_engine *E, const char *id,
                            const char *reason, unhook_flow_result *res)
{
    uh_store *s;
    uh_inst i;
    double now = wall_now();
    int rc, busy;

    memset(res, 0, sizeof *res);
    res->retry_after = -1;
    if (!id) {
        uh_seterr(E, "disable needs an id");
        return UNHOOK_USAGE;
    }
    if ((rc = check_override(E)) != UNHOOK_OK)
        return rc;
    if ((rc = store(E, &s)) != UNHOOK_OK)
        return rc;
    rc = s->ops->get(s, id, &i);
    if (rc != UNHOOK_OK)
        return store_err(E, rc);
    busy = s->ops->claimed_elsewhere(s, &i, E->owner, now);
    set_str(&i.reason, reason ? reason : "disabled");
    i.updated_at = now;
    if (strcmp(i.state, "off") == 0) {
        res->code = uh_strdup("already_off");
        if (strcmp(i.desired, "off") != 0) {
            set_str(&i.desired, "off");
            rc = record_intent(E, s, &i, "disable", "done", "already off");
        }
        uh_inst_clear(&i);
        return rc;
    }
    set_str(&i.desired, "off");
    if (busy) {
        /* the other process's outcome will carry it on (see finish) */
        rc = record_intent(E, s, &i, "disable", NULL, i.reason);
        if (rc == UNHOOK_OK)
            in_progress(res);
    } else if (!i.registration) {
        /* never registered: nothing to tell the provider */
        set_str(&i.state, "off");
        i.next_attempt_at = 0;
        res->code = uh_strdup("not_registered");
        rc = record_intent(E, s, &i, "disable", "done",
                           "never registered: nothing to deregister");
    } else {
        set_str(&i.state, "deregistering");
        i.attempts = 0;
        i.next_attempt_at = now;
        rc = record_intent(E, s, &i, "disable", NULL, i.reason);
        if (rc == UNHOOK_OK) {
            uh_inst_clear(&i);
            return run_one(E, s, id, res);
        }
    }
    uh_inst_clear(&i);
    return rc;
}

int unhook_instance_retry(unhook_engine *E, const char *id,
                          unhook_flow_result *res)
{
    uh_store *s;
    uh_inst i;
    double now = wall_now();
    int rc;

    memset(res, 0, sizeof *res);
    res->retry_after = -1;
    if ((rc = check_override(E)) != UNHOOK_OK)
        return rc;
    if ((rc = store(E, &s)) != UNHOOK_OK)
        return rc;
    rc = s->ops->get(s, id, &i);
    if (rc != UNHOOK_OK)
        return store_err(E, rc);
    if (strcmp(i.state, "failed") != 0) {
        res->code = uh_strdup("not_failed");
        uh_inst_clear(&i);
        return UNHOOK_OK;
    }
    set_str(&i.state, strcmp(i.desired, "off") == 0 ? "deregistering" : "registering");
    i.attempts = 0;
    i.next_attempt_at = now;
    i.updated_at = now;
    free(i.last_error);
    i.last_error = NULL;
    if (strcmp(i.desired, "off") == 0)
        set_str(&i.reason, "retry");
    rc = record_intent(E, s, &i, "retry", NULL, "re-queued");
    uh_inst_clear(&i);
    if (rc != UNHOOK_OK)
        return rc;
    return run_one(E, s, id, res);
}

int unhook_instance_get(unhook_engine *E, const char *id, unhook_instance **out)
{
    uh_store *s;
    uh_inst *i;
    unhook_instance *o;
    int rc;

    *out = NULL;
    if (missing_store(E)) {
        uh_seterr(E, "no instance '%s'", id);
        return UNHOOK_NOTFOUND;
    }
    if ((rc = store(E, &s)) != UNHOOK_OK)
        return rc;
    /* one allocation: the public view followed by the owned copy */
    o = calloc(1, sizeof *o + sizeof *i);
    if (!o)
        return UNHOOK_NOMEM;
    i = (uh_inst *)(o + 1);
    rc = s->ops->get(s, id, i);
    if (rc != UNHOOK_OK) {
        free(o);
        return store_err(E, rc);
    }
    uh_inst_view(i, o);
    *out = o;
    return UNHOOK_OK;
}

void unhook_instance_free(unhook_instance *o)
{
    if (!o)
        return;
    uh_inst_clear((uh_inst *)(o + 1));
    free(o);
}

typedef struct list_ctx {
    unhook_instance_fn fn;
    void *ud;
} list_ctx;

static int list_one(void *ud, const uh_inst *i)
{
    list_ctx *c = ud;
    unhook_instance v;

    uh_inst_view(i, &v);
    return c->fn(c->ud, &v);
}

int unhook_instance_list(unhook_engine *E, const unhook_filter *f,
                         unhook_instance_fn fn, void *ud)
{
    uh_store *s;
    list_ctx c = {fn, ud};
    int rc;

    if (missing_store(E))
        return UNHOOK_OK;
    if ((rc = store(E, &s)) != UNHOOK_OK)
        return rc;
    return store_err(E, s->ops->list(s, f, list_one, &c));
}

int unhook_history_list(unhook_engine *E, const char *id, unhook_history_fn fn,
                        void *ud)
{
    uh_store *s;
    uh_inst i;
    int rc;

    if (missing_store(E)) {
        uh_seterr(E, "no instance '%s'", id);
        return UNHOOK_NOTFOUND;
    }
    if ((rc = store(E, &s)) != UNHOOK_OK)
        return rc;
    if ((rc = s->ops->get(s, id, &i)) != UNHOOK_OK)
        return store_err(E, rc);
    uh_inst_clear(&i);
    return store_err(E, s->ops->history_list(s, id, fn, ud));
}

/* The parts of a caller's filter that bulk work may narrow by. */
static unhook_filter narrow(const unhook_filter *f, int with_id)
{
    unhook_filter mine = {0};

    if (f) {
        mine.connector = f->connector;
        mine.event = f->event;
        if (with_id)
            mine.id = f->id;
    }
    return mine;
}

int unhook_instance_disable_all(unhook_engine *E, const unhook_filter *f,
                                const char *reason, unhook_stats *stats,
                                unhook_progress_fn progress, void *ud)
{
    uh_store *s;
    unhook_filter mine = {0};
    long dereg = 0, skipped = 0;
    work w;
    int rc;

    memset(stats, 0, sizeof *stats);
    if ((rc = check_override(E)) != UNHOOK_OK)
        return rc;
    if ((rc = store(E, &s)) != UNHOOK_OK)
        return rc;
    mine = narrow(f, 0);
    /* one transaction records the intent for every instance */
    rc = s->ops->begin(s);
    if (rc == UNHOOK_OK)
        rc = s->ops->mark_off(s, &mine, reason, wall_now(), &dereg, &skipped);
    if (rc == UNHOOK_OK)
        rc = s->ops->commit(s);
    if (rc != UNHOOK_OK) {
        s->ops->rollback(s);
        return store_err(E, rc);
    }
    stats->total = dereg + skipped;
    stats->skipped = skipped;
    memset(&w, 0, sizeof w);
    w.E = E;
    w.s = s;
    w.f = &mine;
    w.stats = stats;
    w.progress = progress;
    w.ud = ud;
    return work_loop(&w, -1, 0);
}

int unhook_instance_retry_all(unhook_engine *E, const unhook_filter *f,
                              long *count)
{
    uh_store *s;
    unhook_filter mine = {0};
    int rc;

    *count = 0;
    if ((rc = store(E, &s)) != UNHOOK_OK)
        return rc;
    mine = narrow(f, 0);
    rc = s->ops->begin(s);
    if (rc == UNHOOK_OK)
        rc = s->ops->requeue_failed(s, &mine, wall_now(), count);
    if (rc == UNHOOK_OK)
        rc = s->ops->commit(s);
    if (rc != UNHOOK_OK)
        s->ops->rollback(s);
    return store_err(E, rc);
}

int unhook_engine_run(unhook_engine *E, const unhook_filter *f, long max_ms,
                      int wait, unhook_stats *stats, unhook_progress_fn progress,
                      void *ud)
{
    unhook_filter mine = {0};
    uh_store *s;
    unhook_stats local;
    work w;
    long before;
    int rc;

    if ((rc = check_override(E)) != UNHOOK_OK)
        return rc;
    if ((rc = store(E, &s)) != UNHOOK_OK)
        return rc;
    if (!stats) {
        memset(&local, 0, sizeof local);
        stats = &local;
    }
    memset(&w, 0, sizeof w);
    w.E = E;
    w.s = s;
    if (f) {
        mine = narrow(f, 1);
        w.f = &mine;
    }
    w.stats = stats;
    w.progress = progress;
    w.ud = ud;
    before = stats->done + stats->gone + stats->failed + stats->pending + stats->registered;
    rc = work_loop(&w, max_ms, wait);
    stats->total += stats->done + stats->gone + stats->failed + stats->pending +
                    stats->registered - before;
    return rc;
}

/* ---- import and export ------------------------------------------------- */

static char *rec_field(lua_State *L, const char *k)
{
    char *v = NULL;

    if (lua_getfield(L, -1, k) == LUA_TSTRING)
        v = uh_strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    return v;
}

int unhook_import(unhook_engine *E, const char *jsonl, size_t len, long *count)
{
    lua_State *L = E->host;
    int top = lua_gettop(L), rc;
    double now = wall_now();
    uh_store *s;
    lua_Integer n;

    *count = 0;
    if ((rc = store(E, &s)) != UNHOOK_OK)
        return rc;
    if (uh_require(L, "unhook.records") != LUA_OK) {
        uh_seterr(E, "%s", lua_tostring(L, -1));
        lua_settop(L, top);
        return UNHOOK_ERROR;
    }
    lua_getfield(L, -1, "parse");
    lua_pushlstring(L, jsonl, len);
    if (uh_pcall(L, 1, 2) != LUA_OK || lua_isnil(L, -2)) {
        uh_seterr(E, "%s", lua_tostring(L, -1));
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
        i.state = rec_field(L, "state");
        i.desired = rec_field(L, "desired");
        i.created_at = i.updated_at = now;
        if (strcmp(i.state, "deregistering") == 0)
            i.next_attempt_at = now;
        {
            uh_inst old;
            rc = s->ops->get(s, i.id, &old);
            if (rc == UNHOOK_OK) {
                /* never overwrite what an instance holds */
                uh_inst_clear(&old);
                snprintf(s->errmsg, sizeof s->errmsg, "instance '%s' already "
                         "exists; nothing was imported", i.id);
                rc = UNHOOK_USAGE;
            } else if (rc == UNHOOK_NOTFOUND) {
                rc = s->ops->put(s, &i);
            }
        }
        if (rc == UNHOOK_OK)
            history_note(s, i.id, "import", NULL, i.state, now);
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
    return store_err(E, rc);
}

typedef struct export_ctx {
    unhook_line_fn fn;
    void *ud;
    uh_buf line;
} export_ctx;

static void json_field(uh_buf *b, const char *k, const char *v, int raw, int first)
{
    if (!first)
        uh_buf_add(b, ",", 1);
    uh_buf_json_string(b, k, strlen(k));
    uh_buf_add(b, ":", 1);
    if (!v)
        uh_buf_puts(b, "null");
    else if (raw)
        uh_buf_puts(b, v);
    else
        uh_buf_json_string(b, v, strlen(v));
}

static int export_one(void *ud, const uh_inst *i)
{
    export_ctx *c = ud;
    uh_buf *b = &c->line;

    b->len = 0;
    uh_buf_add(b, "{", 1);
    json_field(b, "connection", i->connection, 0, 1);
    json_field(b, "connector", i->connector, 0, 0);
    json_field(b, "desired", i->desired, 0, 0);
    json_field(b, "event", i->event, 0, 0);
    json_field(b, "id", i->id, 0, 0);
    json_field(b, "options", i->options, 1, 0);
    json_field(b, "registration", i->registration, 1, 0);
    json_field(b, "state", i->state, 0, 0);
    uh_buf_add(b, "}", 1);
    if (b->oom)
        return -1;
    return c->fn(c->ud, b->data, b->len);
}

int unhook_export(unhook_engine *E, unhook_line_fn fn, void *ud)
{
    uh_store *s;
    export_ctx c = {fn, ud, {0}};
    int rc;

    if (missing_store(E))
        return UNHOOK_OK;
    if ((rc = store(E, &s)) != UNHOOK_OK)
        return rc;
    rc = s->ops->list(s, NULL, export_one, &c);
    uh_buf_free(&c.line);
    return store_err(E, rc);
}
