/*
 * A cold-start host: embeds unhook in its own epoll(7) loop through the
 * non-blocking driving API (core/README.md, "Driving the engine from a
 * host's event loop"), written from the docs alone.
 *
 *   epoll_host DB CONNECTION [N]
 *
 * Drives one engine; enables N instances (github/push against the fixture
 * provider) while driven, waits for N done callbacks in state
 * "registered", then disables them all, waits for N done callbacks in
 * state "off", and checks the store agrees.  A second thread calls
 * unhook_engine_wakeup every millisecond for the whole run (the one call
 * core/README.md's "Threads" allows from another thread).
 *
 * Build against an installed tree:
 *   cc -o epoll_host epoll_host.c $(pkg-config --cflags --libs unhook) -pthread
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <unhook.h>

#define MAXID 64

static int ep = -1;
static double due = -1;                /* when timeout_action is due, or -1 */
static long want_state_n;              /* done callbacks in the wanted state */
static long other_state_n;             /* done callbacks in any other state */
static const char *want_state;         /* "registered" or "off" */
static long sockets_added, sockets_removed, removed_closed, epoll_errors;
static double worst_action_ms, worst_action_cpu_ms;
static atomic_int stop_waker;
static atomic_long wakeups, wakeup_errors;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void on_socket(void *ud, int fd, int what)
{
    struct epoll_event ev = { 0 };
    (void)ud;
    if (what & UNHOOK_POLL_REMOVE) {
        /* The fd may already be closed by now: EBADF/ENOENT are fine. */
        if (epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) == 0)
            sockets_removed++;
        else if (errno == EBADF || errno == ENOENT)
            removed_closed++;
        else
            epoll_errors++;
        return;
    }
    ev.events = (what & UNHOOK_POLL_IN ? EPOLLIN : 0) |
                (what & UNHOOK_POLL_OUT ? EPOLLOUT : 0);
    ev.data.fd = fd;
    /* "replacing what was asked before": MOD, or ADD the first time. */
    if (epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev) == 0)
        return;
    if (errno == ENOENT && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0) {
        sockets_added++;
        return;
    }
    fprintf(stderr, "epoll_ctl(%d, %d): %s\n", fd, what, strerror(errno));
    epoll_errors++;
}

static void on_timer(void *ud, long ms)
{
    (void)ud;
    due = ms < 0 ? -1 : now_ms() + ms;
}

static void on_done(void *ud, const char *id, const char *state,
                    const unhook_flow_result *res)
{
    (void)ud;
    if (strcmp(state, want_state) == 0 && res->outcome <= UNHOOK_OUTCOME_GONE) {
        want_state_n++;
        return;
    }
    other_state_n++;
    fprintf(stderr, "%s: %s (%s%s%s)\n", id, state, unhook_outcome_name(res->outcome),
            res->message ? ": " : "", res->message ? res->message : "");
}

static void *waker(void *arg)
{
    unhook_engine *e = arg;
    struct timespec ms = { 0, 1000000 };
    while (!atomic_load(&stop_waker)) {
        if (unhook_engine_wakeup(e) == UNHOOK_OK)
            atomic_fetch_add(&wakeups, 1);
        else
            atomic_fetch_add(&wakeup_errors, 1);
        nanosleep(&ms, NULL);
    }
    return NULL;
}

static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double c0;

static void timed(double t0)
{
    double t = now_ms() - t0, c = cpu_ms() - c0;
    if (t > worst_action_ms)
        worst_action_ms = t;
    if (c > worst_action_cpu_ms)
        worst_action_cpu_ms = c;
}

/* Runs the loop until `n` done callbacks came, or `limit_ms` passed. */
static int run_loop(unhook_engine *e, long n, double limit_ms)
{
    double end = now_ms() + limit_ms;
    while (want_state_n + other_state_n < n) {
        struct epoll_event evs[64];
        int k, got, wait = -1;

        if (now_ms() > end)
            return -1;
        if (due >= 0)
            wait = due <= now_ms() ? 0 : (int)(due - now_ms()) + 1;
        if (wait < 0 || wait > 1000)
            wait = 1000;                 /* to notice the overall limit */
        got = epoll_wait(ep, evs, 64, wait);
        if (got < 0 && errno != EINTR)
            return -1;
        for (k = 0; k < got; k++) {
            int ev = (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR) ? UNHOOK_POLL_IN : 0) |
                     (evs[k].events & EPOLLOUT ? UNHOOK_POLL_OUT : 0);
            double t0 = now_ms();
            c0 = cpu_ms();
            if (unhook_engine_action(e, evs[k].data.fd, ev) != UNHOOK_OK)
                fprintf(stderr, "action: %s\n", unhook_errmsg(e));
            timed(t0);
        }
        if (due >= 0 && now_ms() >= due) {
            double t0 = now_ms();
            c0 = cpu_ms();
            due = -1;
            if (unhook_engine_timeout_action(e) != UNHOOK_OK)
                fprintf(stderr, "timeout_action: %s\n", unhook_errmsg(e));
            timed(t0);
        }
    }
    return 0;
}

static int count_state(void *ud, const unhook_instance *in)
{
    long *c = ud;
    if (strcmp(in->state, "off") == 0 && strcmp(in->desired, "off") == 0)
        c[0]++;
    c[1]++;
    return 0;
}

int main(int argc, char **argv)
{
    const char *db = argc > 1 ? argv[1] : "unhook.db";
    const char *conn = argc > 2 ? argv[2] : "connection.json";
    long n = argc > 3 ? atol(argv[3]) : 200, i, queued = 0, counts[2] = { 0, 0 };
    unhook_config cfg = { .db = db, .concurrency = 16 };
    unhook_driver drv = { .socket = on_socket, .timer = on_timer, .done = on_done };
    unhook_engine *e;
    pthread_t th;
    int rc, failed = 0;
    double t0;

    /* libcurl's global init before starting threads, as core/README.md asks
     * ("a host that starts threads should call curl_global_init before"):
     * but unhook.pc gives no -lcurl to a shared-library host, and the docs
     * name no unhook_ wrapper; the waker thread only calls
     * unhook_engine_wakeup, so opening the engine (libcurl's first use)
     * before the thread starts is enough here. */
    if (unhook_engine_open(&e, &cfg) != UNHOOK_OK) {
        fprintf(stderr, "open failed\n");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    rc = unhook_engine_drive(e, &drv);
    if (rc != UNHOOK_OK) {
        fprintf(stderr, "drive: %s: %s\n", unhook_strerror(rc), unhook_errmsg(e));
        return 1;
    }
    pthread_create(&th, NULL, waker, e);

    /* A call that waits for a flow is refused while driven. */
    {
        unhook_stats s = { 0 };
        rc = unhook_engine_run(e, NULL, 10, 0, &s, NULL, NULL);
        if (rc != UNHOOK_USAGE) {
            fprintf(stderr, "engine_run while driven: %d, want UNHOOK_USAGE\n", rc);
            failed = 1;
        } else
            printf("engine_run while driven: %s\n", unhook_errmsg(e));
    }

    /* 1. enable n instances: queued, they register in the loop */
    t0 = now_ms();
    want_state = "registered";
    for (i = 0; i < n; i++) {
        char id[MAXID], opts[256];
        unhook_flow_request req = {
            .connector = "github", .event = "push", .connection = conn,
            .options_json = opts,
        };
        unhook_flow_result res = { 0 };
        snprintf(id, sizeof id, "cold-%04ld", i);
        snprintf(opts, sizeof opts,
                 "{\"owner\":\"octo\",\"repo\":\"cold\",\"url\":\"https://example.test/%s\"}", id);
        rc = unhook_instance_enable(e, id, &req, &res);
        if (rc != UNHOOK_OK) {
            fprintf(stderr, "enable %s: %s\n", id, unhook_errmsg(e));
            failed = 1;
        } else if (res.note == UNHOOK_NOTE_QUEUED)
            queued++;
        unhook_flow_result_free(&res);
    }
    if (run_loop(e, queued, 60000) != 0 || want_state_n != n) {
        fprintf(stderr, "enable: %ld registered, %ld other, of %ld (%ld queued)\n",
                want_state_n, other_state_n, n, queued);
        failed = 1;
    }
    printf("enabled %ld in %.0f ms\n", want_state_n, now_ms() - t0);

    /* 2. disable them all, one call each: queued, they deregister */
    t0 = now_ms();
    want_state = "off";
    want_state_n = other_state_n = queued = 0;
    for (i = 0; i < n; i++) {
        char id[MAXID];
        unhook_flow_result res = { 0 };
        snprintf(id, sizeof id, "cold-%04ld", i);
        rc = unhook_instance_disable(e, id, "cold test", &res);
        if (rc != UNHOOK_OK) {
            fprintf(stderr, "disable %s: %s\n", id, unhook_errmsg(e));
            failed = 1;
        } else if (res.note == UNHOOK_NOTE_QUEUED)
            queued++;
        unhook_flow_result_free(&res);
    }
    if (run_loop(e, queued, 60000) != 0 || want_state_n != n) {
        fprintf(stderr, "disable: %ld off, %ld other, of %ld (%ld queued)\n",
                want_state_n, other_state_n, n, queued);
        failed = 1;
    }
    printf("deregistered %ld in %.0f ms\n", want_state_n, now_ms() - t0);

    atomic_store(&stop_waker, 1);
    pthread_join(th, NULL);

    /* 3. the store agrees: every instance off (reading calls work while driven) */
    rc = unhook_instance_list(e, NULL, count_state, counts);
    if (rc != UNHOOK_OK || counts[0] != n || counts[1] != n) {
        fprintf(stderr, "list: rc %d, %ld off of %ld listed\n", rc, counts[0], counts[1]);
        failed = 1;
    }
    rc = unhook_engine_undrive(e);
    printf("sockets added %ld, removed %ld (%ld already closed at REMOVE); "
           "epoll errors %ld; worst action %.2f ms wall, %.2f ms CPU; "
           "wakeups from the thread %ld (errors %ld)\n",
           sockets_added, sockets_removed, removed_closed, epoll_errors,
           worst_action_ms, worst_action_cpu_ms,
           atomic_load(&wakeups), atomic_load(&wakeup_errors));
    if (rc != UNHOOK_OK || epoll_errors || atomic_load(&wakeup_errors) ||
        atomic_load(&wakeups) == 0)
        failed = 1;
    unhook_engine_close(e);
    close(ep);
    printf("%s\n", failed ? "FAIL" : "ok");
    return failed;
}
