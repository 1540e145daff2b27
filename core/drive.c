/*
 * drive.c -- the engine driven by a host's event loop, in the style of
 * libcurl's multi_socket: the curl multi handle reports its sockets and
 * its timer through the host's callbacks, and each action runs one
 * bounded turn -- transfers moved, flows resumed for a fraction of a
 * millisecond (flows run in short slices while driven), or one piece of
 * the work loop's store work (a commit of a few outcomes, a claim, job
 * starts) -- then asks for the next timer.  The work loop's pieces are
 * work.c's, the same as unhook_engine_run's; only the waiting differs.
 */
#include <stdlib.h>
#include <string.h>

#include "lifecycle.h"

#define TURN_S 0.00025          /* job starts in one action (one at least) */
#define RESUME_S 0.0003         /* flows' Lua in one action (and then no
                                   store work: that is the next action's) */
#define DRIVEN_SLICE_S 0.0003   /* a flow runs at most this long at once */
#define IDLE_POLL_S 1.0         /* nothing due: the store is asked again */
#define NO_TIMER (3600 * 1000)

struct uh_drive {
    unhook_engine *E;
    unhook_driver host;
    uh_worker *worker;
    unhook_stats stats;
    double curl_due;            /* curl's timer (monotonic), or 0 */
    double next_claim;          /* look for due work from then (0: now) */
    int *fds, *what;            /* the sockets the host watches for curl,
                                   and for what */
    int nfds, capfds;
    int owe_work;               /* the last turn ran Lua only */
    double work_wake;           /* when the work loop asked to turn again */
};

/* Room for one more watched socket; 0 when out of memory. */
static int grow(struct uh_drive *d)
{
    int cap = d->capfds ? d->capfds * 2 : 16, *p, *q;

    if (d->nfds < d->capfds)
        return 1;
    if (!(p = realloc(d->fds, (size_t)cap * sizeof *p)))
        return 0;
    d->fds = p;
    if (!(q = realloc(d->what, (size_t)cap * sizeof *q)))
        return 0;
    d->what = q;
    d->capfds = cap;
    return 1;
}

static void watch(struct uh_drive *d, int fd, int what)
{
    int k;

    for (k = 0; k < d->nfds && d->fds[k] != fd; k++)
        ;
    if (what == UNHOOK_POLL_REMOVE && k < d->nfds) {
        d->nfds--;
        d->fds[k] = d->fds[d->nfds];
        d->what[k] = d->what[d->nfds];
    } else if (what != UNHOOK_POLL_REMOVE && (k < d->nfds || grow(d))) {
        /* (out of memory: it is only not reported removed at the end) */
        if (k == d->nfds)
            d->fds[d->nfds++] = fd;
        d->what[k] = what;
    }
    d->host.socket(d->host.userdata, fd, what);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp)
{
    int ev = 0;

    (void)easy;
    (void)sockp;
    if (what == CURL_POLL_REMOVE)
        ev = UNHOOK_POLL_REMOVE;
    else {
        if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
            ev |= UNHOOK_POLL_IN;
        if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
            ev |= UNHOOK_POLL_OUT;
    }
    watch(ud, (int)fd, ev);
    return 0;
}

static int on_timer(CURLM *multi, long ms, void *ud)
{
    struct uh_drive *d = ud;

    (void)multi;
    d->curl_due = ms < 0 ? 0 : uh_now() + (double)ms / 1000.0;
    return 0;
}

static void report(void *ud, const char *id, uh_state st, const unhook_flow_result *res)
{
    struct uh_drive *d = ud;

    if (d->host.done)
        d->host.done(d->host.userdata, id, uh_state_name(st), res);
}

static int any_ready(const uh_sched *s)
{
    for (const uh_run *r = s->runs; r; r = r->next)
        if (r->state == UH_RUN_READY)
            return 1;
    return 0;
}

static double earlier(double a, double b)
{
    return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

/* A wall-clock time as the monotonic clock's, not before now. */
static double mono_of(double wall, double now)
{
    double at = now + (wall - uh_wall_now());

    return at > now ? at : now;
}

/* When to claim again after a claim turn (claimed: 1 more may be due, 0
 * all that was due was claimed, -1 the store failed). */
static void plan_claim(struct uh_drive *d, int claimed, double now)
{
    double due = 0;
    uh_store *s = NULL;

    if (claimed > 0) {
        d->next_claim = now;    /* more may be due: when the queue has room */
        return;
    }
    d->next_claim = now + IDLE_POLL_S;
    if (claimed == 0 && uh_engine_store(d->E, &s) == UNHOOK_OK &&
        s->ops->next_due(s, NULL, &due) == UNHOOK_OK && due > 0)
        d->next_claim = earlier(d->next_claim, mono_of(due, now));
}

/* The store's share of a turn: one piece of the work loop's work. */
static void work_turn(struct uh_drive *d)
{
    double now = uh_now(), wake = 0, retry;
    int claim = now >= d->next_claim, claimed = 0;

    if (uh_worker_turn(d->worker, claim, now + TURN_S, &wake, &claimed) == UH_TURN_CLAIM)
        plan_claim(d, claimed, now);
    /* an outcome committed may be retried before the next planned claim */
    if ((retry = uh_worker_next_retry(d->worker)) > 0)
        d->next_claim = earlier(d->next_claim, mono_of(retry, now));
    d->work_wake = wake;
}

/* Ask the host for the next timer: the earliest of curl's, the work
 * loop's, the next claim, and the flows' (wait_ms: the nearest deadline
 * of a waiting flow). */
static void plan_timer(struct uh_drive *d, int wait_ms)
{
    uh_sched *s = d->E->rt.sched;
    double now = uh_now(), next;

    next = earlier(d->curl_due, d->owe_work ? now : d->work_wake);
    if (s->runs && wait_ms < NO_TIMER)
        next = earlier(next, now + wait_ms / 1000.0);
    /* a claim due now waits for a turn whose queue has room (the work
     * loop asks for that turn) */
    if (any_ready(s))
        next = now;
    if (d->next_claim > now)
        next = earlier(next, d->next_claim);
    d->host.timer(d->host.userdata,
                  next == 0 ? -1 : next <= now ? 0 : (long)((next - now) * 1000.0) + 1);
}

/*
 * One bounded turn, then the timer the host is to set.  A socket's
 * action (io_only) only hands what came to the flows waiting for it and
 * asks for a timer of 0: a loop with many sockets ready calls many
 * actions in one pass, and the work is done once, in the timer's turn.
 * There, flows' Lua and the store's work take turns: a turn that ran
 * Lua for a while leaves the store's work to the next, which runs no
 * Lua; each piece of store work is one commit, one claim, or job starts
 * for TURN_S.
 */
static int turn(struct uh_drive *d, int io_only)
{
    uh_sched *s = d->E->rt.sched;
    int wait_ms = NO_TIMER, ran_lua = 0;

    uh_sched_collect(s, &wait_ms);
    if (!io_only && !d->owe_work && any_ready(s)) {
        double t0 = uh_now();
        uh_sched_resume(s, RESUME_S);
        ran_lua = uh_now() - t0 > RESUME_S / 2;
        wait_ms = NO_TIMER;
        uh_sched_collect(s, &wait_ms);
    }
    if (!io_only && ran_lua)
        d->owe_work = 1;
    else if (!io_only) {
        d->owe_work = 0;
        work_turn(d);
    }
    plan_timer(d, wait_ms);
    return UNHOOK_OK;
}

/* Compile the runtime's modules now (rt->bytecode), not in an action. */
static int warm(lua_State *L)
{
    return uh_require(L, "unhook.runner") == LUA_OK ? 0 : lua_error(L);
}

static struct uh_drive *drive_new(unhook_engine *E)
{
    struct uh_drive *d = calloc(1, sizeof *d);
    CURLM *multi = E->rt.sched->multi;

    if (!d)
        return NULL;
    d->E = E;
    if (!(d->worker = uh_worker_new(E, &d->stats, report, d))) {
        free(d);
        return NULL;
    }
    uh_sched_plain(E->rt.sched);    /* the host's loop watches the sockets */
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, d);
    E->rt.sched->slice = DRIVEN_SLICE_S;
    lua_pushcfunction(E->rt.host, warm);
    if (lua_pcall(E->rt.host, 0, 0, 0) != LUA_OK)
        lua_pop(E->rt.host, 1);     /* a run will say what is wrong */
    return d;
}

int uh_drive_start(unhook_engine *E, const unhook_driver *drv)
{
    struct uh_drive *d;

    if (!E)
        return UNHOOK_USAGE;
    if (!drv || !drv->socket || !drv->timer) {
        uh_seterr(&E->diag, "unhook_engine_drive needs a socket and a timer callback");
        return UNHOOK_USAGE;
    }
    if (!E->drive) {
        uh_store *s;
        int rc = uh_engine_store(E, &s);
        if (rc != UNHOOK_OK)
            return rc;
        if (!(E->drive = drive_new(E)))
            return UNHOOK_NOMEM;
    }
    d = E->drive;
    d->host = *drv;
    d->host.socket(d->host.userdata, E->wakefd, UNHOOK_POLL_IN);
    for (int k = 0; k < d->nfds; k++)
        d->host.socket(d->host.userdata, d->fds[k], d->what[k]);
    d->host.timer(d->host.userdata, 0);
    return UNHOOK_OK;
}

int uh_drive_action(unhook_engine *E, int fd, int events)
{
    int running = 0, ev = 0;

    if (fd == E->wakefd) {
        uh_wake_drain(E);
        E->drive->next_claim = 0;
        return turn(E->drive, 0);
    }
    if (events & UNHOOK_POLL_IN)
        ev |= CURL_CSELECT_IN;
    if (events & UNHOOK_POLL_OUT)
        ev |= CURL_CSELECT_OUT;
    curl_multi_socket_action(E->rt.sched->multi, fd, ev, &running);
    return turn(E->drive, 1);
}

int uh_drive_timeout(unhook_engine *E)
{
    int running = 0;

    if (E->drive->curl_due > 0 && uh_now() >= E->drive->curl_due) {
        E->drive->curl_due = 0;
        curl_multi_socket_action(E->rt.sched->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    return turn(E->drive, 0);
}

void uh_drive_end(unhook_engine *E)
{
    struct uh_drive *d = E->drive;
    CURLM *multi;

    if (!d)
        return;
    multi = E->rt.sched->multi;
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, NULL);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, NULL);
    E->rt.sched->slice = 0;
    uh_worker_free(d->worker);      /* finishes the flows in flight */
    E->drive = NULL;
    for (int k = 0; k < d->nfds; k++)
        d->host.socket(d->host.userdata, d->fds[k], UNHOOK_POLL_REMOVE);
    d->host.socket(d->host.userdata, E->wakefd, UNHOOK_POLL_REMOVE);
    d->host.timer(d->host.userdata, -1);
    free(d->fds);
    free(d->what);
    free(d);
}

void uh_drive_queued(unhook_engine *E, unhook_flow_result *res)
{
    if (res) {
        res->note = UNHOOK_NOTE_QUEUED;
        res->outcome = UNHOOK_OUTCOME_RETRY;
        free(res->code);
        res->code = uh_strdup("queued");
    }
    E->drive->next_claim = 0;
    /* the wakeup fd's action looks for it (no host callback is called
     * from inside the lifecycle call) */
    unhook_engine_wakeup(E);
}
