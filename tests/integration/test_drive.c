/*
 * test_drive.c -- the engine driven by a host's poll(2) loop
 * (unhook_engine_drive, _action, _timeout_action, _wakeup, _undrive)
 * against the fixture provider whose URL is in UNHOOK_TEST_URL (tests/run.sh
 * starts it; without it every test is skipped).
 *
 * Each test has a scratch folder (in /dev/shm when there is one: the
 * commits of a turn are then not bound by a disk's fsync) with a database
 * and the connector "slow": its deregistration flow either busy-loops
 * for a second of CPU or deletes a webhook at the provider, which a
 * script makes answer late.
 *
 * The bound on each action (2 ms, issue 18's) is asserted on the
 * thread's CPU time (CLOCK_THREAD_CPUTIME_ID) spent inside the call:
 * that is the engine's own bounded work.  The wall clock is measured and
 * reported too, never bounded: it adds whatever time the OS gives other
 * processes while the call runs, which on a loaded machine is many
 * milliseconds.  In a virtual machine even the thread's CPU time can
 * hold a stall of the virtual CPU (the host ran something else; a bare
 * loop reading the clock sees such gaps of 1 to 4 ms on a busy host,
 * about one a second): so when one action of a run is over the bound,
 * the run is made again with new instances, up to three runs, and the
 * test fails when all are.  An engine whose own work overruns does so in
 * every run.  UNHOOK_NO_TIMING=1
 * (tests/check.sh, under sanitizers and valgrind) reports the durations
 * without asserting them.
 */
#include "support.h"
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "unhook.h"

#define MAXFD 64
#define RUNS 3                    /* runs made while one is over the bound */

static const char *provider;      /* UNHOOK_TEST_URL */

static const char manifest[] =
    "return {\n"
    "  name = 'slow', auth = 'bearer',\n"
    "  events = { e = {\n"
    "    deregistration = { flow = 'flows/off.lua', inputs = {} },\n"
    "  } },\n"
    "}\n";
/* mode busy: a second of CPU in pure Lua (os.clock looked at rarely, so
 * that the slices are the hook's doing, not a slow C call's) */
static const char flow[] =
    "return { inputs = {}, run = function(ctx)\n"
    "  if ctx.registration.mode == 'quick' then return end\n"
    "  if ctx.registration.mode == 'busy' then\n"
    "    local t0, n = os.clock(), 0\n"
    "    while true do\n"
    "      n = n + 1\n"
    "      if n % 20000 == 0 and os.clock() - t0 >= 1.0 then break end\n"
    "    end\n"
    "  else\n"
    "    ctx.http.delete('/api/slow/hooks/{id}', { path = { id = ctx.registration.id } })\n"
    "  end\n"
    "end }\n";

typedef struct host {
    struct pollfd fds[MAXFD];
    int nfds;
    double due;                   /* the engine's timer (monotonic s), or 0 */
    int done;
    char states[4][32];           /* "id=state" of each completion */
    int removed_all;              /* an fd was reported removed */
} host;

typedef struct fixture {
    char dir[PATH_MAX];
    char db[PATH_MAX + 16];
    char conn[PATH_MAX + 16];
    unhook_engine *E;
    host h;
} fixture;

static double clock_s(clockid_t c)
{
    struct timespec ts;

    clock_gettime(c, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double mono(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

/* The longest action calls: by the wall clock, and by this thread's CPU
 * time (the engine's own work, without the time the OS gave other
 * processes on a shared machine). */
typedef struct timing {
    double wall, cpu;
    long calls, over_2ms_wall;
} timing;

static void timed(timing *w, double wall0, double cpu0)
{
    double wall = mono() - wall0, cpu = clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;

    w->calls++;
    if (wall > w->wall)
        w->wall = wall;
    if (cpu > w->cpu)
        w->cpu = cpu;
    if (wall >= 0.002)
        w->over_2ms_wall++;
}

/* The longest gap in this thread's CPU clock between two reads in a
 * bare loop of s seconds: what the machine adds to a call's CPU time
 * that is no work of the call (a stall of the virtual CPU). */
static double cpu_stall(double s)
{
    double t0 = mono(), last = clock_s(CLOCK_THREAD_CPUTIME_ID), worst = 0;

    while (mono() - t0 < s) {
        double now = clock_s(CLOCK_THREAD_CPUTIME_ID);
        if (now - last > worst)
            worst = now - last;
        last = now;
    }
    return worst;
}

static void on_socket(void *ud, int fd, int what)
{
    host *h = ud;
    int k;

    for (k = 0; k < h->nfds && h->fds[k].fd != fd; k++)
        ;
    if (what & UNHOOK_POLL_REMOVE) {
        if (k < h->nfds)
            h->fds[k] = h->fds[--h->nfds];
        h->removed_all = h->nfds == 0;
        return;
    }
    if (k == h->nfds) {
        assert_true(h->nfds < MAXFD);
        h->nfds++;
    }
    h->fds[k].fd = fd;
    h->fds[k].events = (short)((what & UNHOOK_POLL_IN ? POLLIN : 0) |
                               (what & UNHOOK_POLL_OUT ? POLLOUT : 0));
}

static void on_timer(void *ud, long ms)
{
    host *h = ud;

    h->due = ms < 0 ? 0 : mono() + (double)ms / 1000.0;
}

static void on_done(void *ud, const char *id, const char *state,
                    const unhook_flow_result *res)
{
    host *h = ud;

    (void)res;
    if (h->done < 4)
        snprintf(h->states[h->done], sizeof h->states[0], "%s=%s", id, state);
    h->done++;
}

/* One round of the host's loop: poll, then the actions, timed into *w. */
static void loop_once(unhook_engine *E, host *h, timing *w)
{
    struct pollfd ready[MAXFD];
    int n = h->nfds, ms = -1;
    double t, c;

    memcpy(ready, h->fds, (size_t)n * sizeof *ready);
    if (h->due > 0) {
        double left = h->due - mono();
        ms = left <= 0 ? 0 : (int)(left * 1000.0) + 1;
    }
    if (ms < 0 || ms > 1000)
        ms = 1000;
    assert_true(poll(ready, (nfds_t)n, ms) >= 0);
    for (int k = 0; k < n; k++) {
        int ev = (ready[k].revents & (POLLIN | POLLHUP | POLLERR) ? UNHOOK_POLL_IN : 0) |
                 (ready[k].revents & POLLOUT ? UNHOOK_POLL_OUT : 0);
        if (!ev)
            continue;
        t = mono();
        c = clock_s(CLOCK_THREAD_CPUTIME_ID);
        assert_int_equal(unhook_engine_action(E, ready[k].fd, ev), UNHOOK_OK);
        timed(w, t, c);
    }
    if (h->due > 0 && mono() >= h->due) {
        h->due = 0;
        t = mono();
        c = clock_s(CLOCK_THREAD_CPUTIME_ID);
        assert_int_equal(unhook_engine_timeout_action(E), UNHOOK_OK);
        timed(w, t, c);
    }
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    unhook_config cfg = {0};
    char path[PATH_MAX + 64];
    FILE *c;

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "%s/unhook-drive-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(path, sizeof path, "%s/slow/connector.lua", f->dir);
    support_write_at(path, manifest);
    snprintf(path, sizeof path, "%s/slow/flows/off.lua", f->dir);
    support_write_at(path, flow);
    snprintf(f->conn, sizeof f->conn, "%s/conn.json", f->dir);
    c = fopen(f->conn, "w");
    assert_non_null(c);
    fprintf(c, "{\"base_url\": \"%s\", \"auth\": {\"type\": \"bearer\", "
            "\"token\": \"test-token\"}}\n", provider);
    fclose(c);
    snprintf(f->db, sizeof f->db, "%s/unhook.db", f->dir);
    cfg.db = f->db;
    cfg.connectors = f->dir;
    assert_int_equal(unhook_engine_open(&f->E, &cfg), UNHOOK_OK);
    provider_control("POST", "/_control/reset", NULL, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    unhook_engine_close(f->E);
    support_rm_tree(f->dir);
    free(f);
    return 0;
}

/* Instances of connector slow that are on, one per "id:registration". */
static void import(fixture *f, const char *const *items, int n)
{
    char text[4096];
    size_t len = 0;
    long count = 0;

    for (int k = 0; k < n; k++) {
        const char *colon = strchr(items[k], ':');
        len += (size_t)snprintf(text + len, sizeof text - len,
            "{\"id\":\"%.*s\",\"connector\":\"slow\",\"event\":\"e\",\"options\":{},"
            "\"connection\":\"%s\",\"registration\":%s,\"state\":\"registered\","
            "\"desired\":\"on\"}\n", (int)(colon - items[k]), items[k], f->conn, colon + 1);
    }
    assert_int_equal(unhook_import(f->E, text, len, &count), UNHOOK_OK);
    assert_int_equal(count, n);
}

static void drive(fixture *f)
{
    unhook_driver d = {on_socket, on_timer, on_done, &f->h};

    assert_int_equal(unhook_engine_drive(f->E, &d), UNHOOK_OK);
}

static const char *state_of(fixture *f, const char *id, char *buf, size_t n)
{
    unhook_instance *i = NULL;

    assert_int_equal(unhook_instance_get(f->E, id, &i), UNHOOK_OK);
    snprintf(buf, n, "%s", i->state);
    unhook_instance_free(i);
    return buf;
}

/* One run of two flows at once, a busy one and one whose response is
 * 1.5 s late (ids BUSY and WAIT, hook HOOK), every action timed into
 * *worst; returns whether the longest stayed within 2 ms of CPU. */
static int two_flows(fixture *f, int run, timing *worst)
{
    char items[2][96], script[160], busy[16], wait[16], buf[32];
    const char *list[2] = {items[0], items[1]};
    unhook_stats stats = {0};
    unhook_filter only = {0};
    double t0;
    int turns = 0;

    snprintf(busy, sizeof busy, "busy%d", run);
    snprintf(wait, sizeof wait, "wait%d", run);
    snprintf(items[0], sizeof items[0], "%s:{\"mode\":\"busy\"}", busy);
    snprintf(items[1], sizeof items[1], "%s:{\"mode\":\"wait\",\"id\":\"h%d\"}",
             wait, run);
    /* the provider answers the delete a second and a half late */
    snprintf(script, sizeof script, "{\"prefix\":\"/api/slow/hooks/h%d\",\"responses\":"
             "[{\"delay_ms\":1500,\"status\":204}]}", run);
    assert_int_equal(provider_control("POST", "/_control/script", script, NULL), 200);
    import(f, list, 2);
    memset(worst, 0, sizeof *worst);
    f->h.done = 0;
    assert_int_equal(unhook_instance_disable_all(f->E, &only, "disabled", &stats,
                                                 NULL, NULL), UNHOOK_OK);
    assert_int_equal(stats.total, 2);
    t0 = mono();
    while (f->h.done < 2 && mono() - t0 < 20) {
        loop_once(f->E, &f->h, worst);
        turns++;
    }
    printf("drive: run %d: 2 flows (1 s of busy Lua, a response 1.5 s late) in "
           "%.2f s, %d loop turns, %ld actions; longest action %.3f ms of CPU, "
           "%.3f ms by the wall clock (%ld of them 2 ms or more by the wall "
           "clock)\n", run, mono() - t0, turns, worst->calls, worst->cpu * 1000,
           worst->wall * 1000, worst->over_2ms_wall);
    assert_int_equal(f->h.done, 2);
    assert_string_equal(state_of(f, busy, buf, sizeof buf), "off");
    assert_string_equal(state_of(f, wait, buf, sizeof buf), "off");
    /* the flows really ran: the busy one a second, the other waited */
    assert_true(mono() - t0 >= 1.0);
    assert_true(turns > 100);   /* the busy flow was sliced, not run in one go */
    return worst->cpu <= 0.002;
}

static void test_every_action_returns_within_2ms_while_a_flow_busy_loops_and_another_waits(void **state)
{
    fixture *f = *state;
    static const char *const warmup[] = {"q1:{\"mode\":\"quick\"}",
                                         "q2:{\"mode\":\"wait\",\"id\":\"h0\"}"};
    unhook_stats stats = {0};
    timing worst = {0}, cold = {0};
    double t0;
    int ok;

    /* the connector's first runs on this engine, two at once: the manifest
     * is read and two Lua states are made (the pool keeps them); the
     * actions of this cold start are reported, not bounded */
    import(f, warmup, 2);
    drive(f);
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, "disabled", &stats,
                                                 NULL, NULL), UNHOOK_OK);
    t0 = mono();
    while (f->h.done < 2 && mono() - t0 < 20)
        loop_once(f->E, &f->h, &cold);
    assert_int_equal(f->h.done, 2);
    printf("drive: cold start (manifest read, 2 Lua states made): longest action "
           "%.3f ms of CPU, %.3f ms by the wall clock\n", cold.cpu * 1000, cold.wall * 1000);
    ok = two_flows(f, 1, &worst);
    for (int run = 2; !ok && run <= RUNS && !getenv("UNHOOK_NO_TIMING"); run++) {
        printf("drive: an action of run %d was over 2 ms of CPU (a bare loop here "
               "sees gaps of up to %.3f ms in its CPU clock): once more\n",
               run - 1, cpu_stall(1.0) * 1000);
        ok = two_flows(f, run, &worst);
    }
    /* the engine's work in each action is bounded: its CPU time */
    if (!getenv("UNHOOK_NO_TIMING"))
        assert_true(ok);
}

static void test_driven_engine_queues_intents_and_refuses_calls_that_wait(void **state)
{
    fixture *f = *state;
    static const char *const items[] = {"a:{\"mode\":\"wait\",\"id\":\"h2\"}"};
    unhook_flow_result res = {0};
    unhook_flow_request req = {.connector = "slow", .event = "e", .registration = "{}"};
    timing worst = {0};
    double t0;
    char buf[32];

    assert_int_equal(unhook_engine_action(f->E, 0, UNHOOK_POLL_IN), UNHOOK_USAGE);
    assert_int_equal(unhook_engine_timeout_action(f->E), UNHOOK_USAGE);
    import(f, items, 1);
    drive(f);
    /* the wakeup fd is watched, and a turn is asked for at once */
    assert_int_equal(f->h.nfds, 1);
    assert_true(f->h.due > 0);
    assert_int_equal(unhook_instance_disable(f->E, "a", "disabled", &res), UNHOOK_OK);
    assert_int_equal(res.note, UNHOOK_NOTE_QUEUED);
    assert_string_equal(res.code, "queued");
    unhook_flow_result_free(&res);
    /* the intent is committed before any request; the attempt is the loop's */
    assert_string_equal(state_of(f, "a", buf, sizeof buf), "deregistering");
    assert_int_equal(unhook_engine_run(f->E, NULL, 0, 0, NULL, NULL, NULL), UNHOOK_USAGE);
    assert_non_null(strstr(unhook_errmsg(f->E), "driven"));
    assert_int_equal(unhook_flow_deregister(f->E, &req, &res), UNHOOK_USAGE);
    unhook_flow_result_free(&res);
    t0 = mono();
    while (f->h.done < 1 && mono() - t0 < 20)
        loop_once(f->E, &f->h, &worst);
    assert_int_equal(f->h.done, 1);
    assert_string_equal(f->h.states[0], "a=off");
    assert_int_equal(unhook_engine_undrive(f->E), UNHOOK_OK);
    /* every fd reported removed, the timer deleted; blocking calls work again */
    assert_int_equal(f->h.nfds, 0);
    assert_true(f->h.due == 0);
    assert_int_equal(unhook_engine_run(f->E, NULL, 0, 0, NULL, NULL, NULL), UNHOOK_OK);
}

static void test_undrive_finishes_the_flows_in_flight(void **state)
{
    fixture *f = *state;
    static const char *const items[] = {"u:{\"mode\":\"wait\",\"id\":\"h3\"}"};
    unhook_stats stats = {0};
    timing worst = {0};
    double t0;
    char buf[32];

    assert_int_equal(provider_control("POST", "/_control/script",
        "{\"prefix\":\"/api/slow/hooks/h3\",\"responses\":"
        "[{\"delay_ms\":300,\"status\":204}]}", NULL), 200);
    import(f, items, 1);
    drive(f);
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, "disabled", &stats,
                                                 NULL, NULL), UNHOOK_OK);
    /* turns until the request is on its way (a socket is watched) */
    t0 = mono();
    while (f->h.nfds < 2 && mono() - t0 < 10)
        loop_once(f->E, &f->h, &worst);
    assert_true(f->h.nfds >= 2);
    assert_int_equal(f->h.done, 0);
    assert_int_equal(unhook_engine_undrive(f->E), UNHOOK_OK);
    assert_int_equal(f->h.done, 1);
    assert_string_equal(f->h.states[0], "u=off");
    assert_string_equal(state_of(f, "u", buf, sizeof buf), "off");
    assert_int_equal(f->h.nfds, 0);
}

static void *wake_later(void *E)
{
    usleep(50 * 1000);
    unhook_engine_wakeup(E);
    return NULL;
}

static void test_wakeup_from_another_thread_makes_the_wakeup_fd_readable(void **state)
{
    fixture *f = *state;
    struct pollfd p;
    pthread_t th;
    timing worst = {0};

    drive(f);
    loop_once(f->E, &f->h, &worst);     /* the first turn: nothing due */
    assert_int_equal(f->h.nfds, 1);
    p = f->h.fds[0];
    p.revents = 0;
    assert_int_equal(poll(&p, 1, 0), 0);
    assert_int_equal(pthread_create(&th, NULL, wake_later, f->E), 0);
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_true(p.revents & POLLIN);
    pthread_join(th, NULL);
    /* the action on it reads it: not readable any more */
    assert_int_equal(unhook_engine_action(f->E, p.fd, UNHOOK_POLL_IN), UNHOOK_OK);
    p.revents = 0;
    assert_int_equal(poll(&p, 1, 0), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_every_action_returns_within_2ms_while_a_flow_busy_loops_and_another_waits),
        T(test_driven_engine_queues_intents_and_refuses_calls_that_wait),
        T(test_undrive_finishes_the_flows_in_flight),
        T(test_wakeup_from_another_thread_makes_the_wakeup_fd_readable),
    };
#undef T
    int rc;

    provider = getenv("UNHOOK_TEST_URL");
    if (!provider || !*provider) {
        printf("test_drive: UNHOOK_TEST_URL is not set: skipped (run it through "
               "sh tests/run.sh integration, which starts the fixture provider)\n");
        return 0;
    }
    if (getenv("UNHOOK_TEST_FILTER"))
        cmocka_set_test_filter(getenv("UNHOOK_TEST_FILTER"));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests_name("drive", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
