/*
 * test_sockets.c -- the scheduler moves transfers by
 * curl_multi_socket_action over an epoll set (core/sched.c), against the
 * fixture provider whose URL is in UNHOOK_TEST_URL (tests/run.sh starts
 * it; without it every test is skipped).
 *
 * curl_multi_perform and curl_multi_poll visit every transfer and every
 * socket at each turn: with many requests in flight, libcurl checks each
 * waiting transfer's socket with a poll(2) of its own at every perform.
 * This program defines poll itself (the real call made through syscall)
 * and counts the calls made on the thread that calls the engine: with
 * socket_action only what libcurl checks once per request is left (a
 * reused connection's liveness), whatever the concurrency.  It counts
 * epoll_ctl the same way: a request on a keep-alive connection changes
 * nothing in the set.
 */
#include "support.h"
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "unhook.h"

static const char *provider;      /* UNHOOK_TEST_URL */
static char connectors[PATH_MAX]; /* absolute scripts/connectors */

/* ---- poll, counted ---- */

static pthread_t engine_thread;
static atomic_long polls;         /* made on the engine's thread */

/* default visibility (the build hides symbols): libcurl's calls bind here */
__attribute__((visibility("default"))) int poll(struct pollfd *fds, nfds_t n, int timeout);
int poll(struct pollfd *fds, nfds_t n, int timeout)
{
    struct timespec ts, *tp = NULL;

    if (pthread_equal(pthread_self(), engine_thread))
        atomic_fetch_add(&polls, 1);
    if (timeout >= 0) {
        ts.tv_sec = timeout / 1000;
        ts.tv_nsec = (long)(timeout % 1000) * 1000000L;
        tp = &ts;
    }
    return (int)syscall(SYS_ppoll, fds, n, tp, NULL, (size_t)(_NSIG / 8));
}

static atomic_long ctls;          /* epoll_ctl, likewise */

__attribute__((visibility("default"))) int epoll_ctl(int epfd, int op, int fd,
                                                     struct epoll_event *ev);
int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
    if (pthread_equal(pthread_self(), engine_thread))
        atomic_fetch_add(&ctls, 1);
    return (int)syscall(SYS_epoll_ctl, epfd, op, fd, ev);
}

typedef struct fixture {
    char dir[256];
    char db[320];
    char conn[320];
    unhook_engine *E;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char text[1024];

    if (!f)
        return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/unhook-sockets-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof f->db, "%s/unhook.db", f->dir);
    snprintf(f->conn, sizeof f->conn, "%s/conn.json", f->dir);
    snprintf(text, sizeof text, "{\"base_url\": \"%s\", \"auth\": {\"type\": "
             "\"bearer\", \"token\": \"test-token\"}}\n", provider);
    support_write_at(f->conn, text);
    if (provider_control("POST", "/_control/reset", NULL, NULL) != 200)
        return -1;
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

static int count_off(void *ud, const unhook_instance *i)
{
    *(long *)ud += strcmp(i->state, "off") == 0;
    return 0;
}

/* The provider answers the next n DELETEs of a hook each with entry (an
 * entry of its script API, tests/provider/README.md). */
static void script_deletes(long n, const char *entry)
{
    char body[64 * 1024];
    size_t len = 0;

    len += (size_t)snprintf(body + len, sizeof body - len, "{\"method\": \"DELETE\", "
                            "\"prefix\": \"/repos/o/r/hooks/\", \"responses\": [");
    for (long k = 0; k < n; k++)
        len += (size_t)snprintf(body + len, sizeof body - len, "%s%s", k ? ", " : "", entry);
    snprintf(body + len, sizeof body - len, "]}");
    assert_int_equal(provider_control("POST", "/_control/script", body, NULL), 200);
}

/* f's engine on one thread at concurrency conc, with n instances named
 * prefix N of hooks the provider has (seeded). */
static void open_with(fixture *f, int conc, const char *prefix, long n)
{
    unhook_config cfg = {0};

    cfg.connectors = connectors;
    cfg.db = f->db;
    cfg.concurrency = conc;
    cfg.threads = 1;
    assert_int_equal(unhook_engine_open(&f->E, &cfg), UNHOOK_OK);
    provider_import(f->E, f->conn, prefix, 0, (int)n, "github", "push");
}

/* n DELETEs, each answered after 20 ms, 64 at a time on one thread. */
static void test_polls_do_not_grow_with_the_concurrency(void **state)
{
    fixture *f = *state;
    unhook_stats st;
    long off = 0, n = 256;

    provider_seed((int)n);
    script_deletes(n, "{\"delay_ms\": 20, \"pass\": true}");
    open_with(f, 64, "s", n);
    engine_thread = pthread_self();
    atomic_store(&polls, 0);
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &st, NULL, NULL), UNHOOK_OK);
    engine_thread = (pthread_t)0;
    assert_int_equal(unhook_instance_list(f->E, NULL, count_off, &off), UNHOOK_OK);
    assert_int_equal(off, n);
    /* libcurl's own checks: at most a few a request.  With perform and
     * poll each turn checks every waiting transfer: tens a request here */
    print_message("poll calls: %ld for %ld requests\n", (long)atomic_load(&polls), n);
    assert_true(atomic_load(&polls) <= 4 * n);
}

/* n DELETEs one at a time: each goes out on the connection of the one
 * before, which curl let go in between (its socket parked in the set,
 * still watched as it was).  Without the sockets' own bookkeeping
 * (on_open, on_close in sched.c) taking one up again costs an epoll_ctl
 * a request. */
static void test_kept_connections_cost_no_epoll_ctl(void **state)
{
    fixture *f = *state;
    unhook_stats st;
    long off = 0, n = 64;

    provider_seed((int)n);
    open_with(f, 1, "k", n);
    engine_thread = pthread_self();
    atomic_store(&ctls, 0);
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &st, NULL, NULL), UNHOOK_OK);
    engine_thread = (pthread_t)0;
    assert_int_equal(unhook_instance_list(f->E, NULL, count_off, &off), UNHOOK_OK);
    assert_int_equal(off, n);
    print_message("epoll_ctl calls: %ld for %ld requests\n", (long)atomic_load(&ctls), n);
    /* the connection added, then watched for reading: a few in all */
    assert_true(atomic_load(&ctls) <= 8);
}

/* The same, the provider closing each connection after its answer: curl
 * closes each socket (on_close) and opens a new one for every request,
 * most often under the number of the one it closed; each is watched
 * afresh (an entry taken for a socket already watched would leave a
 * request unheard until its timeout). */
static void test_a_new_socket_under_an_old_number_is_watched(void **state)
{
    fixture *f = *state;
    unhook_stats st;
    long off = 0, n = 32;

    provider_seed((int)n);
    script_deletes(n, "{\"pass\": true, \"close\": true}");
    open_with(f, 1, "c", n);
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &st, NULL, NULL), UNHOOK_OK);
    assert_int_equal(unhook_instance_list(f->E, NULL, count_off, &off), UNHOOK_OK);
    assert_int_equal(off, n);
    assert_int_equal(st.done, n);
}

/* A proxy named in the environment (http_proxy) carries the requests,
 * as libcurl's own: here one on a port where nothing listens, so the
 * deregistration cannot be sent and stays pending.  Without any, every
 * handle is told there is none (sched.c) and the other tests go direct. */
static void test_a_proxy_from_the_environment_is_used(void **state)
{
    fixture *f = *state;
    unhook_stats st;

    provider_seed(1);
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    open_with(f, 1, "p", 1);
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &st, NULL, NULL), UNHOOK_OK);
    unsetenv("http_proxy");
    assert_int_equal(st.done, 0);
    assert_int_equal(st.pending, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_polls_do_not_grow_with_the_concurrency,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept_connections_cost_no_epoll_ctl,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_new_socket_under_an_old_number_is_watched,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_proxy_from_the_environment_is_used,
                                        setup, teardown),
    };

    provider = getenv("UNHOOK_TEST_URL");
    if (!provider || !realpath("scripts/connectors", connectors)) {
        printf("test_sockets: UNHOOK_TEST_URL not set, skipped\n");
        return 0;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
