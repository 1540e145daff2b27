/*
 * sched.c -- runs flows as coroutines over one curl multi handle.  A flow
 * that makes a request yields; when its transfer completes it is resumed
 * with the response.  Many flows share one thread this way.
 */
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>

#include "sched.h"

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
    curl_multi_cleanup(s->multi);
    if (s->share)
        curl_share_cleanup(s->share);
    free(s);
}

uh_transfer *uh_transfer_new(uh_sched *s, uh_run *r)
{
    uh_transfer *t = calloc(1, sizeof *t);

    if (!t)
        return NULL;
    t->easy = s->npool ? s->pool[--s->npool] : curl_easy_init();
    if (!t->easy) {
        free(t);
        return NULL;
    }
    t->run = r;
    t->max_body = UH_MAX_BODY;
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, uh_http_on_body);
    curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_HEADERFUNCTION, uh_http_on_header);
    curl_easy_setopt(t->easy, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(t->easy, CURLOPT_USERAGENT, "unhook/" UNHOOK_VERSION);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(t->easy, CURLOPT_ACCEPT_ENCODING, "");
    if (s->share)
        curl_easy_setopt(t->easy, CURLOPT_SHARE, s->share);
    return t;
}

int uh_transfer_submit(uh_sched *s, uh_transfer *t)
{
    return curl_multi_add_handle(s->multi, t->easy) == CURLM_OK ? 0 : -1;
}

void uh_transfer_free(uh_sched *s, uh_transfer *t)
{
    if (!t)
        return;
    curl_multi_remove_handle(s->multi, t->easy);
    curl_easy_reset(t->easy);
    if (s->npool == s->cappool) {
        int cap = s->cappool ? s->cappool * 2 : 16;
        CURL **p = realloc(s->pool, (size_t)cap * sizeof *p);
        if (p) {
            s->pool = p;
            s->cappool = cap;
        }
    }
    if (s->npool < s->cappool)
        s->pool[s->npool++] = t->easy;
    else
        curl_easy_cleanup(t->easy);
    curl_slist_free_all(t->hdrs);
    free(t->base);
    free(t->hosts);
    free(t->auth_line);
    free(t->url);
    free(t->req_body);
    uh_buf_free(&t->body);
    uh_buf_free(&t->head);
    free(t);
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

    /* waiting for its turn is not the flow's time: move its deadline */
    if (r->ready_since > 0 && r->deadline > 0)
        r->deadline += t0 - r->ready_since;
    r->ready_since = 0;
    r->resume_t0 = t0;
    r->preempted = 0;
    st = lua_resume(r->co, r->L, r->nargs, &nres);
    r->busy += uh_now() - t0;
    r->resume_t0 = 0;
    r->nargs = 0;
    if (st == LUA_YIELD && r->xfer) {
        lua_pop(r->co, nres);
        r->state = UH_RUN_WAITING;
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
        lua_pushstring(r->co, "coroutine.yield() outside a coroutine of the flow");
        st = LUA_ERRRUN;
    }
    r->status = st;
    r->state = UH_RUN_DONE;
    if (r->xfer) {
        uh_transfer_free(r->E->sched, r->xfer);
        r->xfer = NULL;
    }
}

static void complete(uh_sched *s, CURLMsg *m)
{
    uh_transfer *t = NULL;
    uh_run *r;

    curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&t);
    if (!t)
        return;
    r = t->run;
    if (uh_http_redirect(s, t, m->data.result))
        return;
    r->nargs = uh_http_push_result(r->co, t, m->data.result);
    r->xfer = NULL;
    r->state = UH_RUN_READY;
    r->ready_since = uh_now();
    uh_transfer_free(s, t);
}

/* A run past its wall-clock budget while waiting: cancel its transfer. */
static void expire(uh_sched *s, uh_run *r)
{
    uh_transfer *t = r->xfer;

    r->timed_out = 1;
    r->xfer = NULL;
    uh_push_error(r->co, "timeout", "%s %s: flow ran past its time budget "
                  "while waiting for the response", t->method, t->url);
    r->nargs = 2;
    r->state = UH_RUN_READY;
    uh_transfer_free(s, t);
}

int uh_sched_step(unhook_engine *E, int wait_ms)
{
    uh_sched *s = E->sched;
    uh_run **pp = &s->runs, *r;
    int ready = 0, running = 0, n = 0;
    double now;
    CURLMsg *m;

    while ((r = *pp)) {
        if (r->state == UH_RUN_READY)
            step(r);
        if (r->state == UH_RUN_DONE) {
            *pp = r->next;
            r->next = NULL;
            if (r->done)
                r->done(r);
            continue;
        }
        pp = &r->next;
    }
    if (!s->runs)
        return 0;
    curl_multi_perform(s->multi, &running);
    while ((m = curl_multi_info_read(s->multi, &running)))
        if (m->msg == CURLMSG_DONE) {
            complete(s, m);
            ready = 1;
        }
    now = uh_now();
    for (r = s->runs; r; r = r->next) {
        n++;
        if (r->state == UH_RUN_WAITING && r->deadline > 0) {
            if (now >= r->deadline) {
                expire(s, r);
                ready = 1;
            } else if ((r->deadline - now) * 1000 < wait_ms) {
                wait_ms = (int)((r->deadline - now) * 1000) + 1;
            }
        }
        if (r->state == UH_RUN_READY)
            ready = 1;
    }
    if (!ready && wait_ms > 0)
        curl_multi_poll(s->multi, NULL, 0, wait_ms, NULL);
    return n;
}

void uh_sched_drain(unhook_engine *E)
{
    while (uh_sched_step(E, 1000) > 0)
        ;
}
