/*
 * sched.c -- runs flows as coroutines over one curl multi handle.  A flow
 * that makes a request yields; when its transfer completes it is resumed
 * with the response.  Many flows share one thread this way.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "oauth.h"
#include "sched.h"
#include "cassette.h"

uh_sched *uh_sched_new(void)
{
    uh_sched *s = calloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->multi = curl_multi_init();
    if (!s->multi) {
        free(s);
        return NULL;
    }
    curl_multi_setopt(s->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 0L);
    s->share = curl_share_init();
    if (s->share) {
        curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    return s;
}

void uh_sched_free(uh_sched *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->npool; i++)
        curl_easy_cleanup(s->pool[i]);
    free(s->pool);
    uh_tape_free(s->tape);
    curl_multi_cleanup(s->multi);
    if (s->share)
        curl_share_cleanup(s->share);
    free(s);
}

void uh_sched_add(uh_sched *s, uh_run *r)
{
    r->state = UH_RUN_READY;
    r->ready_since = uh_now();
    r->next = s->runs;
    s->runs = r;
}

/* Resume a ready run once; it ends waiting on a transfer, or done. */
static void step(uh_run *r)
{
    int nres = 0, st;
    double t0 = uh_now();
    void *ud = NULL;
    uh_limit *lim;
    uh_run *prev = NULL;

    /* waiting for its turn is not the flow's time: move its deadline */
    if (r->ready_since > 0 && r->deadline > 0)
        r->deadline += t0 - r->ready_since;
    r->ready_since = 0;
    /* short slices need the hook to look at the clock more often */
    if (r->sched->slice > 0 && lua_gethookcount(r->co) > UH_SHORT_HOOK_COUNT)
        lua_sethook(r->co, lua_gethook(r->co), lua_gethookmask(r->co),
                    UH_SHORT_HOOK_COUNT);
    r->resume_t0 = t0;
    r->preempted = 0;
    /* a state may serve several runs: this one is its current run while
     * it runs (its memory account, its budgets in the hook) */
    lua_getallocf(r->L, &ud);
    lim = ud;
    if (lim) {
        prev = lim->run;
        lim->run = r;
    }
    st = lua_resume(r->co, r->L, r->nargs, &nres);
    /* past its memory cap in this turn (while it is still the current
     * run: what the collection frees is credited) */
    uh_run_mem_check(r, r->L);
    if (lim)
        lim->run = prev;
    r->busy += uh_now() - t0;
    r->resume_t0 = 0;
    r->nargs = 0;
    if (st == LUA_YIELD && (r->xfer || r->token_wait == 1)) {
        lua_pop(r->co, nres);
        r->state = UH_RUN_WAITING;
        return;
    }
    if (st == LUA_YIELD && r->answered) {
        /* answered by the cassette: resumed at the next step */
        lua_pop(r->co, nres);
        r->state = UH_RUN_READY;
        r->ready_since = uh_now();
        return;
    }
    if (st == LUA_YIELD && r->preempted) {
        /* its turn is over; it goes on at the next step */
        lua_pop(r->co, nres);
        r->state = UH_RUN_READY;
        r->ready_since = uh_now();
        return;
    }
    if (st == LUA_YIELD) {
        /* a bare coroutine.yield() at the flow's top level */
        lua_pop(r->co, nres);
        r->bad_yield = 1;
        st = LUA_ERRRUN;
    }
    r->status = st;
    r->state = UH_RUN_DONE;
    uh_transfer_free(r->sched, r->xfer);
    uh_transfer_free(r->sched, r->answered);
    r->xfer = r->answered = NULL;
    free(r->expired);
    r->expired = NULL;
    free(r->token_code);
    free(r->token_msg);
    r->token_code = r->token_msg = NULL;
    r->token_wait = 0;
}

/* Finished: the flow is resumed and builds its response then. */
static void complete(uh_sched *s, CURLMsg *m)
{
    uh_transfer *t = NULL;
    uh_run *r;

    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    if (!t)
        return;
    if (t->oauth) {
        uh_oauth_done(s, t, m->data.result);
        return;
    }
    r = t->run;
    if (uh_http_redirect(s, t, m->data.result))
        return;
    curl_multi_remove_handle(s->multi, t->easy);
    r->answered = t;
    r->answer_rc = m->data.result;
    r->xfer = NULL;
    r->nargs = 0;
    r->state = UH_RUN_READY;
    r->ready_since = uh_now();
}

/* A run past its wall-clock budget while waiting: cancel its transfer
 * (a token request goes on: other runs may wait for it). */
static void expire(uh_sched *s, uh_run *r)
{
    uh_transfer *t = r->xfer;
    uh_buf m = {0};

    r->timed_out = 1;
    r->xfer = NULL;
    if (t) {
        curl_multi_remove_handle(s->multi, t->easy);
        uh_http_mask_url(t);
        uh_buf_printf(&m, "%s %s: flow ran past its time budget while waiting "
                      "for the response", t->method, t->url);
    } else {
        uh_buf_printf(&m, "flow ran past its time budget while waiting for "
                      "an OAuth2 access token");
    }
    r->token_wait = 0;
    free(r->expired);
    r->expired = m.oom ? (uh_buf_free(&m), NULL) : uh_buf_take(&m);
    r->nargs = 0;
    r->state = UH_RUN_READY;
    uh_transfer_free(s, t);
}

int uh_sched_resume(uh_sched *s, double budget_s)
{
    uh_run **pp = &s->runs, *r;
    double end = budget_s > 0 ? uh_now() + budget_s : 0;
    int out = 0;

    while ((r = *pp)) {
        if (r->state == UH_RUN_READY) {
            if (end && uh_now() >= end)
                return out | UH_RESUME_LEFT;    /* the rest at the next turn */
            step(r);
        }
        if (r->state == UH_RUN_DONE) {
            *pp = r->next;
            r->next = NULL;
            if (r->done)
                r->done(r);
            out |= UH_RESUME_ENDED;
            continue;
        }
        pp = &r->next;
    }
    return out;
}

int uh_sched_collect(uh_sched *s, int *wait_ms)
{
    uh_run *r;
    int ready = 0, running = 0, n = 0;
    double now;
    CURLMsg *m;

    while ((m = curl_multi_info_read(s->multi, &running)))
        if (m->msg == CURLMSG_DONE) {
            complete(s, m);
            ready = 1;
        }
    now = uh_now();
    for (r = s->runs; r; r = r->next) {
        n++;
        if (r->state == UH_RUN_WAITING && r->token_wait == 1) {
            uh_oauth_tick(r->conn->oauth);
            if (*wait_ms > 50)
                *wait_ms = 50;  /* another process's refresh: poll */
        }
        if (r->state == UH_RUN_WAITING && r->deadline > 0) {
            if (now >= r->deadline) {
                expire(s, r);
                ready = 1;
            } else if ((r->deadline - now) * 1000 < *wait_ms) {
                *wait_ms = (int)((r->deadline - now) * 1000) + 1;
            }
        }
        if (r->state == UH_RUN_READY)
            ready = 1;
    }
    if (ready)
        *wait_ms = 0;
    return n;
}

void uh_run_mem_check(uh_run *r, lua_State *L)
{
    if (!r->mem_over)
        return;
    /* an allocation took the run past its memory cap: garbage, or not */
    r->mem_over = 0;
    lua_gc(L, LUA_GCCOLLECT);
    if (r->mem_cap && r->mem_used > r->mem_cap)
        r->mem_hit = 1;
    /* within an eighth of its cap after a full collection: the next time
     * past it, the run is over (sandbox.c), not collected again */
    else if (r->mem_cap && r->mem_used > r->mem_cap - r->mem_cap / 8)
        r->mem_tight = 1;
}

#define ANSWERED_S 0.01         /* the answered flows resumed in the same turn */
int uh_sched_send(uh_sched *s, int *wait_ms)
{
    int running = 0, n;

    /* a run that ended frees a slot: the caller may start more at once */
    if (uh_sched_resume(s, 0) & UH_RESUME_ENDED)
        *wait_ms = 0;
    if (!s->runs) {
        *wait_ms = 0;
        return 0;
    }
    curl_multi_perform(s->multi, &running);
    n = uh_sched_collect(s, wait_ms);
    /* the answers just read: their flows go on now, so that the slots
     * they free are filled (by the caller) before the next perform sends;
     * else a slot's next request would wait a turn more than raw libcurl's.
     * Up to ANSWERED_S of it: a flow busy on the CPU (preempted, ready
     * again) gets one slice more a turn at most, not one more each. */
    if (uh_sched_resume(s, ANSWERED_S) & UH_RESUME_ENDED)
        *wait_ms = 0;
    return n;
}

void uh_sched_wait(uh_sched *s, int wait_ms)
{
    if (wait_ms > 0)
        curl_multi_poll(s->multi, NULL, 0, wait_ms, NULL);
}

int uh_sched_step(uh_sched *s, int wait_ms)
{
    int n = uh_sched_send(s, &wait_ms);

    uh_sched_wait(s, wait_ms);
    return n;
}

int uh_sched_run_alone(uh_sched *s, uh_run *r)
{
    uh_run **pp;

    while (r->state == UH_RUN_READY)
        step(r);
    if (r->state != UH_RUN_DONE)
        return 0;
    for (pp = &s->runs; *pp; pp = &(*pp)->next)
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    r->next = NULL;
    if (r->done)
        r->done(r);
    return 1;
}

void uh_sched_drain(uh_sched *s)
{
    while (uh_sched_step(s, 1000) > 0)
        ;
}

int uh_sched_taped(const uh_sched *s)
{
    return s && s->tape;
}
