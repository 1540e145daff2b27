/*
 * test_drive_abuse.c -- a careless or hostile host of a driven engine
 * (unhook_engine_drive): callbacks that call back into the engine,
 * actions on fds the engine never asked for, a host that never calls
 * timeout_action, and flows that allocate to their cap.  Against the
 * fixture provider whose URL is in UNHOOK_TEST_URL (skipped without it).
 */
#include "support.h"
#include <limits.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "unhook.h"

#define MAXFD 64

static const char *provider;

static const char manifest[] =
    "return {\n"
    "  name = 'slow', auth = 'bearer',\n"
    "  events = { e = {\n"
    "    deregistration = { flow = 'flows/off.lua', inputs = {} },\n"
    "  } },\n"
    "}\n";
static const char flow[] =
    "return { inputs = {}, run = function(ctx)\n"
    "  local m = ctx.registration.mode\n"
    "  if m == 'quick' then return end\n"
    "  if m == 'alloc' then\n"
    "    local t = {}\n"
    "    for i = 1, 1e9 do t[i] = {i, tostring(i)} end\n"
    "  end\n"
    "  ctx.http.delete('/api/slow/hooks/{id}', { path = { id = ctx.registration.id } })\n"
    "end }\n";

typedef struct host host;
struct host {
    struct pollfd fds[MAXFD];
    int nfds;
    double due;
    int done;
    unhook_engine *E;
    int close_in_done;            /* unhook_engine_close from done */
    int close_in_socket;          /* ... from socket, when curl's fd is removed */
    int close_in_timer;           /* ... from timer, once a request is out */
    int undrive_in_done;          /* unhook_engine_undrive from done */
    int action_in_socket;         /* unhook_engine_action from socket */
    int action_in_timer;          /* timeout_action from timer(0) */
    int depth, max_depth;
    int rc_in_cb;                 /* what a call from a callback returned */
};

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

static void on_timer(void *ud, long ms);

static void on_socket(void *ud, int fd, int what)
{
    host *h = ud;
    int k;

    if (h->action_in_socket && h->E && !(what & UNHOOK_POLL_REMOVE))
        h->rc_in_cb = unhook_engine_action(h->E, fd, UNHOOK_POLL_IN | UNHOOK_POLL_OUT);
    if (h->close_in_socket && h->E && (what & UNHOOK_POLL_REMOVE) && h->nfds > 1) {
        unhook_engine *E = h->E;
        h->E = NULL;
        unhook_engine_close(E);
    }
    for (k = 0; k < h->nfds && h->fds[k].fd != fd; k++)
        ;
    if (what & UNHOOK_POLL_REMOVE) {
        if (k < h->nfds)
            h->fds[k] = h->fds[--h->nfds];
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
    if (h->close_in_timer && h->E && h->nfds > 1) {
        unhook_engine *E = h->E;
        h->E = NULL;
        unhook_engine_close(E);
        return;
    }
    if (h->action_in_timer && ms == 0 && h->E) {
        h->depth++;
        if (h->depth > h->max_depth)
            h->max_depth = h->depth;
        if (h->depth < 10000)
            h->rc_in_cb = unhook_engine_timeout_action(h->E);
        h->depth--;
    }
}

static void on_done(void *ud, const char *id, const char *state,
                    const unhook_flow_result *res)
{
    host *h = ud;

    (void)id;
    (void)state;
    (void)res;
    h->done++;
    if (h->undrive_in_done && h->E)
        h->rc_in_cb = unhook_engine_undrive(h->E);
    if (h->close_in_done && h->E) {
        unhook_engine *E = h->E;
        h->E = NULL;
        unhook_engine_close(E);
    }
}

/* One round of the host's loop; returns the longest action's CPU time. */
static double loop_once(host *h, int no_timer)
{
    struct pollfd ready[MAXFD];
    int n = h->nfds, ms = -1;
    double worst = 0;

    memcpy(ready, h->fds, (size_t)n * sizeof *ready);
    if (h->due > 0 && !no_timer) {
        double left = h->due - mono();
        ms = left <= 0 ? 0 : (int)(left * 1000.0) + 1;
    }
    if (ms < 0 || ms > 100)
        ms = 100;
    assert_true(poll(ready, (nfds_t)n, ms) >= 0);
    for (int k = 0; k < n && h->E; k++) {
        int ev = (ready[k].revents & (POLLIN | POLLHUP | POLLERR) ? UNHOOK_POLL_IN : 0) |
                 (ready[k].revents & POLLOUT ? UNHOOK_POLL_OUT : 0);
        double c = clock_s(CLOCK_THREAD_CPUTIME_ID);
        if (!ev)
            continue;
        assert_int_equal(unhook_engine_action(h->E, ready[k].fd, ev), UNHOOK_OK);
        c = clock_s(CLOCK_THREAD_CPUTIME_ID) - c;
        worst = c > worst ? c : worst;
    }
    if (!no_timer && h->E && h->due > 0 && mono() >= h->due) {
        double c = clock_s(CLOCK_THREAD_CPUTIME_ID);
        h->due = 0;
        assert_int_equal(unhook_engine_timeout_action(h->E), UNHOOK_OK);
        c = clock_s(CLOCK_THREAD_CPUTIME_ID) - c;
        worst = c > worst ? c : worst;
    }
    return worst;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    unhook_config cfg = {0};
    char path[PATH_MAX + 64];
    FILE *c;

    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "%s/unhook-abuse-XXXXXX",
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
    cfg.memory_mb = getenv("ABUSE_MEMORY_MB") ? atoi(getenv("ABUSE_MEMORY_MB")) : 0;
    assert_int_equal(unhook_engine_open(&f->E, &cfg), UNHOOK_OK);
    f->h.E = f->E;
    provider_control("POST", "/_control/reset", NULL, NULL);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    unhook_engine_close(f->h.E);
    support_rm_tree(f->dir);
    free(f);
    return 0;
}

static void import(fixture *f, const char *const *items, int n)
{
    char text[8192];
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

static void drive_all(fixture *f)
{
    unhook_driver d = {on_socket, on_timer, on_done, &f->h};
    unhook_stats stats = {0};

    assert_int_equal(unhook_engine_drive(f->E, &d), UNHOOK_OK);
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, "disabled", &stats,
                                                 NULL, NULL), UNHOOK_OK);
}

/* The host closes the engine from its done callback. */
static void test_close_from_done_callback(void **state)
{
    fixture *f = *state;
    static const char *const items[] = {"a:{\"mode\":\"quick\"}", "b:{\"mode\":\"quick\"}"};
    double t0;

    import(f, items, 2);
    drive_all(f);
    f->h.close_in_done = 1;
    t0 = mono();
    while (f->h.E && mono() - t0 < 10)
        loop_once(&f->h, 0);
    assert_null(f->h.E);
    assert_true(f->h.done >= 1);
}

/* The host closes the engine from its socket callback (curl's socket
 * removed, inside curl_multi_socket_action) or its timer callback. */
static void close_from(fixture *f, int *flag)
{
    static const char *const items[] = {"a:{\"mode\":\"wait\",\"id\":\"h1\"}",
                                        "b:{\"mode\":\"wait\",\"id\":\"h2\"}"};
    double t0;

    import(f, items, 2);
    drive_all(f);
    *flag = 1;
    t0 = mono();
    while (f->h.E && mono() - t0 < 10)
        loop_once(&f->h, 0);
    assert_null(f->h.E);
}

static void test_close_from_socket_callback(void **state)
{
    fixture *f = *state;

    close_from(f, &f->h.close_in_socket);
}

static void test_close_from_timer_callback(void **state)
{
    fixture *f = *state;

    close_from(f, &f->h.close_in_timer);
}

/* The host stops driving from its done callback. */
static void test_undrive_from_done_callback(void **state)
{
    fixture *f = *state;
    static const char *const items[] = {"a:{\"mode\":\"quick\"}", "b:{\"mode\":\"quick\"}"};
    double t0;

    import(f, items, 2);
    drive_all(f);
    f->h.undrive_in_done = 1;
    t0 = mono();
    while (f->h.done < 1 && mono() - t0 < 10)
        loop_once(&f->h, 0);
    assert_true(f->h.done >= 1);
    assert_int_equal(f->h.rc_in_cb, UNHOOK_USAGE);
    assert_non_null(strstr(unhook_errmsg(f->E), "callbacks"));
    /* still driven: the loop goes on to the second */
    while (f->h.done < 2 && mono() - t0 < 10)
        loop_once(&f->h, 0);
    assert_int_equal(f->h.done, 2);
}

/* A host that acts on a socket from inside its socket callback. */
static void test_action_from_socket_callback(void **state)
{
    fixture *f = *state;
    static const char *const items[] = {"a:{\"mode\":\"wait\",\"id\":\"h1\"}",
                                        "b:{\"mode\":\"wait\",\"id\":\"h2\"}"};
    double t0;

    import(f, items, 2);
    f->h.action_in_socket = 1;
    drive_all(f);
    t0 = mono();
    while (f->h.done < 2 && mono() - t0 < 10)
        loop_once(&f->h, 0);
    printf("abuse: action from socket callback: done %d, rc %d\n", f->h.done, f->h.rc_in_cb);
    assert_int_equal(f->h.done, 2);
    assert_int_equal(f->h.rc_in_cb, UNHOOK_USAGE);
}

/* A host that runs timeout_action straight from timer(0). */
static void test_timeout_action_from_timer_callback(void **state)
{
    fixture *f = *state;
    static const char *const items[] = {"a:{\"mode\":\"wait\",\"id\":\"h1\"}"};
    double t0;

    import(f, items, 1);
    f->h.action_in_timer = 1;
    drive_all(f);
    t0 = mono();
    while (f->h.done < 1 && mono() - t0 < 10)
        loop_once(&f->h, 0);
    printf("abuse: timeout_action from timer(0): depth %d, done %d, rc %d\n",
           f->h.max_depth, f->h.done, f->h.rc_in_cb);
    assert_int_equal(f->h.done, 1);
    /* refused from the callback, not run nested */
    assert_int_equal(f->h.max_depth, 1);
    assert_int_equal(f->h.rc_in_cb, UNHOOK_USAGE);
}

/* Actions on fds the engine never asked for, and events it did not ask for. */
static void test_action_on_unknown_fds(void **state)
{
    fixture *f = *state;
    static const char *const items[] = {"a:{\"mode\":\"wait\",\"id\":\"h1\"}"};
    int p[2];
    double t0;

    assert_int_equal(pipe(p), 0);
    import(f, items, 1);
    drive_all(f);
    assert_int_equal(unhook_engine_action(f->E, p[0], UNHOOK_POLL_IN), UNHOOK_OK);
    assert_int_equal(unhook_engine_action(f->E, 9999, UNHOOK_POLL_IN | UNHOOK_POLL_OUT), UNHOOK_OK);
    assert_int_equal(unhook_engine_action(f->E, -1, 0), UNHOOK_OK);
    assert_int_equal(unhook_engine_action(f->E, -7, 0x7fffffff), UNHOOK_OK);
    assert_int_equal(unhook_engine_action(f->E, INT_MAX, UNHOOK_POLL_REMOVE), UNHOOK_OK);
    t0 = mono();
    while (f->h.done < 1 && mono() - t0 < 10) {
        /* every watched fd also reported with both events, ready or not */
        for (int k = 0; k < f->h.nfds; k++)
            assert_int_equal(unhook_engine_action(f->E, f->h.fds[k].fd,
                                                  UNHOOK_POLL_IN | UNHOOK_POLL_OUT), UNHOOK_OK);
        loop_once(&f->h, 0);
    }
    assert_int_equal(f->h.done, 1);
    close(p[0]);
    close(p[1]);
}

/* A host that never calls timeout_action, then closes. */
static void test_never_timeout_action_then_close(void **state)
{
    fixture *f = *state;
    static const char *const items[] = {"a:{\"mode\":\"wait\",\"id\":\"h1\"}",
                                        "b:{\"mode\":\"quick\"}"};
    double t0 = mono();

    import(f, items, 2);
    drive_all(f);
    while (mono() - t0 < 0.5)
        loop_once(&f->h, 1);
    printf("abuse: no timeout_action for 0.5 s: %d done, %d fds\n", f->h.done, f->h.nfds);
}

/* A flow that allocates until its memory cap while the host drives.
 * Known overrun, reported and not bounded by 2 ms: when the allocator
 * refuses at the cap, Lua runs an emergency full collection of the
 * flow's whole heap (up to memory_mb, 64 MB by default) inside one step,
 * which no hook can cut: 50 to 130 ms of CPU in one action here; and
 * the incremental collector's steps and a big table's rehash in an
 * allocating loop take 2 to 5 ms.  Set UNHOOK_ABUSE_STRICT=1 to assert
 * the 2 ms bound. */
static void test_flow_allocating_to_its_cap(void **state)
{
    fixture *f = *state;
    static const char *const items[] = {"w:{\"mode\":\"quick\"}", "x:{\"mode\":\"alloc\",\"id\":\"h1\"}"};
    double t0, worst = 0, w;
    long actions = 0;

    import(f, items, 2);
    drive_all(f);
    t0 = mono();
    while (f->h.done < 2 && mono() - t0 < 60) {
        w = loop_once(&f->h, 0);
        if (f->h.done >= 1 && w > worst)    /* after the cold start */
            worst = w;
        actions++;
    }
    printf("abuse: a flow allocating to its cap: %.2f s, %ld loop turns, longest "
           "action %.3f ms of CPU\n", mono() - t0, actions, worst * 1000);
    assert_int_equal(f->h.done, 2);
    if (getenv("UNHOOK_ABUSE_STRICT") && !getenv("UNHOOK_NO_TIMING"))
        assert_true(worst <= 0.002);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_action_on_unknown_fds),
        T(test_never_timeout_action_then_close),
        T(test_timeout_action_from_timer_callback),
        T(test_flow_allocating_to_its_cap),
        T(test_close_from_done_callback),
        T(test_close_from_socket_callback),
        T(test_close_from_timer_callback),
        T(test_undrive_from_done_callback),
        T(test_action_from_socket_callback),
    };
#undef T
    int rc;

    provider = getenv("UNHOOK_TEST_URL");
    if (!provider || !*provider) {
        printf("test_drive_abuse: UNHOOK_TEST_URL is not set: skipped\n");
        return 0;
    }
    if (getenv("UNHOOK_TEST_FILTER"))
        cmocka_set_test_filter(getenv("UNHOOK_TEST_FILTER"));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests_name("drive_abuse", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
