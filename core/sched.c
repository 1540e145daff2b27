/*
 * sched.c -- runs flows as coroutines over one curl multi handle.  A flow
 * that makes a request yields; when its transfer completes it is resumed
 * with the response.  Many flows share one thread this way.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <lauxlib.h>

#include "oauth.h"
#include "sched.h"
#include "cassette.h"

/*
 * Transfers move by curl_multi_socket_action over an epoll set of the
 * sockets curl names (its socket callback), so that a turn costs what
 * its active sockets cost: curl_multi_perform and curl_multi_poll visit
 * every transfer and every socket each time, which at hundreds in flight
 * is much of the loop's time.  The engine's wakeup descriptor is in the
 * set too (edge-triggered, never read here: its waits drain it, wake.c).
 * A set that cannot be changed, or a host's loop taking the sockets over
 * (drive.c, uh_sched_plain), turns it off for good: perform and poll
 * then move everything, as they do without it.
 */
/* What the set holds of a descriptor (s->fdst): nothing, or the events
 * it watches (IN, OUT); PARKED: curl let it go (its connection idle in
 * curl's cache) but it stays in the set as it was; OURS: a socket curl
 * opened through on_open and has not closed through on_close since.
 * The next transfer on a parked connection of ours that wants what the
 * set watches costs no system call; any other costs one epoll_ctl, a
 * MOD, not an ADD and a DEL.  Should a parked descriptor turn ready (the
 * server closed it), it leaves the set then.  A descriptor closed
 * another way (not ours) and its number given to a new socket: the MOD
 * fails (a closed descriptor leaves the set) and the new socket is
 * added, so a stale entry never stands for a watched one. */
enum { FD_IN = 1, FD_OUT = 2, FD_PARKED = 4, FD_OURS = 8 };
#define FD_EVENTS (FD_IN | FD_OUT)

static int fd_state(uh_sched *s, int fd, unsigned char **st)
{
    if (fd >= s->nfdst) {
        int n = fd < 64 ? 64 : fd * 2;
        unsigned char *p = realloc(s->fdst, (size_t)n);
        if (!p)
            return -1;
        memset(p + s->nfdst, 0, (size_t)(n - s->nfdst));
        s->fdst = p;
        s->nfdst = n;
    }
    *st = &s->fdst[fd];
    return 0;
}

static int on_socket(CURL *e, curl_socket_t fd, int what, void *ud, void *known)
{
    uh_sched *s = ud;
    struct epoll_event ev;
    unsigned char *st, want, ours;

    (void)e;
    if (!s->sock)
        return 0;
    if (fd_state(s, fd, &st) != 0) {
        s->sock = 0;            /* perform and poll from now on */
        return 0;
    }
    if (what == CURL_POLL_REMOVE) {
        if (*st & FD_EVENTS)
            *st |= FD_PARKED;
        return 0;
    }
    want = (unsigned char)((what & CURL_POLL_IN ? FD_IN : 0) | (what & CURL_POLL_OUT ? FD_OUT : 0));
    ours = *st & FD_OURS;
    /* a socket curl knows (it carries our mark) and watched as it is, or
     * a parked one of ours taken up again wanting what the set watches:
     * nothing to change; a new one is registered whatever the entry says
     * (a descriptor closed without a REMOVE, its number reused) */
    if (want && (*st & FD_EVENTS) == want &&
        ((known && !(*st & FD_PARKED)) || (ours && (*st & FD_PARKED)))) {
        *st = want | ours;
        if (!known)
            curl_multi_assign(s->multi, fd, s);
        return 0;
    }
    memset(&ev, 0, sizeof ev);
    ev.events = (want & FD_IN ? EPOLLIN : 0u) | (want & FD_OUT ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    /* a descriptor closed and opened again has left the set meanwhile */
    if (epoll_ctl(s->epfd, *st & FD_EVENTS ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0 &&
        !(errno == EEXIST && epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) == 0) &&
        !(errno == ENOENT && epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) == 0)) {
        s->sock = 0;
        return 0;
    }
    *st = want | ours;
    if (!known)
        curl_multi_assign(s->multi, fd, s);
    return 0;
}

/* Every socket of a transfer is opened here, so that its entry starts
 * afresh as one of ours (nothing in the set)... */
static curl_socket_t on_open(void *ud, curlsocktype purpose, struct curl_sockaddr *a)
{
    uh_sched *s = ud;
    unsigned char *st;
    int fd;

    (void)purpose;
    fd = socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
    if (fd >= 0 && fd_state(s, fd, &st) == 0)
        *st = FD_OURS;
    return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

/* ... and closed here, which empties it (a closed descriptor has left
 * the set). */
static int on_close(void *ud, curl_socket_t fd)
{
    uh_sched *s = ud;

    if (fd >= 0 && fd < s->nfdst)
        s->fdst[fd] = 0;
    return close(fd);
}

static int on_timer(CURLM *m, long ms, void *ud)
{
    uh_sched *s = ud;

    (void)m;
    s->timer_set = ms >= 0;
    s->curl_due = ms > 0 ? uh_now() + (double)ms / 1000.0 : 0;
    return 0;
}

/* What curl asked for: its timeout when due, then the sockets ready
 * within ms (0: those ready now). */
static void sock_turn(uh_sched *s, int ms)
{
    struct epoll_event ev[64];
    int running, n;

    if (s->timer_set) {
        double left = s->curl_due - uh_now();
        if (left <= 0)
            ms = 0;
        else if (left * 1000.0 < ms)
            ms = (int)(left * 1000.0) + 1;
    }
    do {
        n = epoll_wait(s->epfd, ev, (int)(sizeof ev / sizeof ev[0]), ms);
        for (int k = 0; k < n; k++) {
            int what = 0, fd = ev[k].data.fd;
            if (fd == s->wakefd)
                continue;
            if (fd < s->nfdst && (s->fdst[fd] & FD_PARKED)) {
                epoll_ctl(s->epfd, EPOLL_CTL_DEL, fd, NULL);
                s->fdst[fd] &= FD_OURS;
                continue;
            }
            if (ev[k].events & (EPOLLIN | EPOLLHUP))
                what |= CURL_CSELECT_IN;
            if (ev[k].events & EPOLLOUT)
                what |= CURL_CSELECT_OUT;
            if (ev[k].events & EPOLLERR)
                what |= CURL_CSELECT_ERR;
            curl_multi_socket_action(s->multi, fd, what, &running);
        }
        ms = 0;
    } while (n == (int)(sizeof ev / sizeof ev[0]));
    if (s->timer_set && uh_now() >= s->curl_due) {
        s->timer_set = 0;
        curl_multi_socket_action(s->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

void uh_sched_perform(uh_sched *s)
{
    int running;

    if (s->sock)
        sock_turn(s, 0);
    else
        curl_multi_perform(s->multi, &running);
}

static void move(uh_sched *s, int wait_ms)
{
    uh_sched_wait(s, wait_ms);
    if (wait_ms <= 0)
        uh_sched_perform(s);
}

void uh_sched_plain(uh_sched *s)
{
    s->sock = 0;
    curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, NULL);
    curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, NULL);
}

void uh_sched_watch(uh_sched *s, int wakefd)
{
    struct epoll_event ev;

    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN | EPOLLET;
    ev.data.fd = wakefd;
    if (s->epfd >= 0 && epoll_ctl(s->epfd, EPOLL_CTL_ADD, wakefd, &ev) == 0)
        s->wakefd = wakefd;
    else
        uh_sched_plain(s);      /* a wait it could not cut short */
}

/* Whether the environment names a proxy for http or https, as libcurl
 * reads it (url.c: http_proxy in lower case only, then https_proxy,
 * HTTPS_PROXY, all_proxy, ALL_PROXY).  libcurl looks at each request
 * (five getenv calls, 1.3 K instructions); the engine looks once, as it
 * reads the rest of the environment. */
static int env_proxy(void)
{
    static const char *const names[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                                        "all_proxy", "ALL_PROXY"};

    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        const char *v = getenv(names[k]);
        if (v && *v)
            return 1;
    }
    return 0;
}

uh_sched *uh_sched_new(void)
{
    uh_sched *s = calloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->wakefd = -1;
    s->move = move;
    s->direct = !env_proxy();
    s->multi = curl_multi_init();
    if (!s->multi) {
        free(s);
        return NULL;
    }
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (s->epfd >= 0) {
        s->sock = 1;
        curl_multi_setopt(s->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
        curl_multi_setopt(s->multi, CURLMOPT_SOCKETDATA, s);
        curl_multi_setopt(s->multi, CURLMOPT_TIMERFUNCTION, on_timer);
        curl_multi_setopt(s->multi, CURLMOPT_TIMERDATA, s);
        s->opensock = on_open;
        s->closesock = on_close;
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
    if (s->epfd >= 0)
        close(s->epfd);
    free(s->fdst);
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
    int n;

    /* a run that ended frees a slot: the caller may start more at once */
    if (uh_sched_resume(s, 0) & UH_RESUME_ENDED)
        *wait_ms = 0;
    if (!s->runs) {
        *wait_ms = 0;
        return 0;
    }
    uh_sched_perform(s);
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
    if (wait_ms <= 0)
        return;
    if (s->sock)
        sock_turn(s, wait_ms);
    else
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
