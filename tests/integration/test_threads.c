/*
 * test_threads.c -- the threading rules of core/README.md: engines are
 * independent, so several threads each with their own engine (and
 * store) work at once; unhook_engine_wakeup is the one call another
 * thread may make on an engine in use.  Against the fixture provider
 * whose URL is in UNHOOK_TEST_URL (tests/run.sh starts it; without it
 * every test is skipped).
 */
#include "support.h"
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <unistd.h>
#include <curl/curl.h>

#include "unhook.h"

#define THREADS 4
#define PER_THREAD 10

static const char *provider;
static char connectors[PATH_MAX];

typedef struct worker {
    char dir[PATH_MAX];
    int k;
    int enabled, done;
    long off;
    char error[256];
} worker;

static int count(void *ud, const unhook_instance *i)
{
    (void)i;
    (*(long *)ud)++;
    return 0;
}

/* One thread, one engine, one store: enable PER_THREAD instances, then
 * disable them all. */
static void *work(void *arg)
{
    worker *w = arg;
    char db[PATH_MAX + 16], conn[PATH_MAX + 16], id[32];
    unhook_config cfg = {.connectors = connectors};
    unhook_filter off = {.state = "off"};
    unhook_stats st;
    unhook_engine *e;
    FILE *f;

    snprintf(db, sizeof db, "%s/unhook.db", w->dir);
    snprintf(conn, sizeof conn, "%s/conn.json", w->dir);
    f = fopen(conn, "w");
    if (!f)
        return NULL;
    fprintf(f, "{\"base_url\": \"%s\", \"auth\": {\"type\": \"bearer\", "
            "\"token\": \"test-token\"}}\n", provider);
    fclose(f);
    cfg.db = db;
    if (unhook_engine_open(&e, &cfg) != UNHOOK_OK)
        return NULL;
    for (int n = 0; n < PER_THREAD; n++) {
        unhook_flow_request req = {.connector = "github", .event = "push",
            .options_json = "{\"owner\":\"o\",\"repo\":\"r\",\"url\":\"https://example.test/h\"}",
            .connection = conn};
        unhook_flow_result res = {0};
        snprintf(id, sizeof id, "t%d-%d", w->k, n);
        if (unhook_instance_enable(e, id, &req, &res) == UNHOOK_OK &&
            res.outcome == UNHOOK_OUTCOME_DONE)
            w->enabled++;
        else
            snprintf(w->error, sizeof w->error, "%s: %s", id, unhook_errmsg(e));
        unhook_flow_result_free(&res);
    }
    if (unhook_instance_disable_all(e, NULL, "disabled", &st, NULL, NULL) == UNHOOK_OK)
        w->done = (int)st.done;
    unhook_instance_list(e, &off, count, &w->off);
    unhook_engine_close(e);
    return NULL;
}

static void test_threads_each_with_an_engine_work_at_once(void **state)
{
    worker w[THREADS];
    pthread_t th[THREADS];

    (void)state;
    provider_control("POST", "/_control/reset", NULL, NULL);
    for (int k = 0; k < THREADS; k++) {
        memset(&w[k], 0, sizeof w[k]);
        w[k].k = k;
        snprintf(w[k].dir, sizeof w[k].dir, "/tmp/unhook-threads-XXXXXX");
        assert_non_null(mkdtemp(w[k].dir));
    }
    for (int k = 0; k < THREADS; k++)
        assert_int_equal(pthread_create(&th[k], NULL, work, &w[k]), 0);
    for (int k = 0; k < THREADS; k++)
        pthread_join(th[k], NULL);
    for (int k = 0; k < THREADS; k++) {
        if (w[k].error[0])
            printf("thread %d: %s\n", k, w[k].error);
        assert_int_equal(w[k].enabled, PER_THREAD);
        assert_int_equal(w[k].done, PER_THREAD);
        /* each store holds its own thread's instances, no other's */
        assert_int_equal(w[k].off, PER_THREAD);
        support_rm_tree(w[k].dir);
    }
}

typedef struct waker {
    unhook_engine *e;
    int n;
} waker;

static void *wake_many(void *arg)
{
    waker *wk = arg;

    for (int k = 0; k < wk->n; k++)
        if (unhook_engine_wakeup(wk->e) != UNHOOK_OK)
            return (void *)1;
    return NULL;
}

static void on_socket(void *ud, int fd, int what)
{
    if (!(what & UNHOOK_POLL_REMOVE))
        *(int *)ud = fd;
}

static void on_timer(void *ud, long ms)
{
    (void)ud;
    (void)ms;
}

/* Wakeups from several threads at once, while the engine's own thread
 * acts on its wakeup fd: each is seen, none is lost, nothing races. */
static void test_wakeups_from_several_threads_reach_the_engine(void **state)
{
    char dir[] = "/tmp/unhook-wake-XXXXXX", db[64];
    unhook_config cfg = {0};
    unhook_engine *e;
    int fd = -1;
    unhook_driver d = {on_socket, on_timer, NULL, &fd};
    pthread_t th[THREADS];
    waker wk;
    struct pollfd p;
    int seen = 0;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/u.db", dir);
    cfg.db = db;
    assert_int_equal(unhook_engine_open(&e, &cfg), UNHOOK_OK);
    assert_int_equal(unhook_engine_drive(e, &d), UNHOOK_OK);
    assert_true(fd >= 0);
    wk.e = e;
    wk.n = 200;
    for (int k = 0; k < THREADS; k++)
        assert_int_equal(pthread_create(&th[k], NULL, wake_many, &wk), 0);
    /* the engine's thread goes on with its loop meanwhile */
    for (int k = 0; k < 200; k++) {
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        if (poll(&p, 1, 10) == 1) {
            seen = 1;
            assert_int_equal(unhook_engine_action(e, fd, UNHOOK_POLL_IN), UNHOOK_OK);
        } else {
            assert_int_equal(unhook_engine_timeout_action(e), UNHOOK_OK);
        }
    }
    for (int k = 0; k < THREADS; k++) {
        void *rv;
        pthread_join(th[k], &rv);
        assert_null(rv);
    }
    assert_true(seen);
    /* whatever came after the last action is still there to be seen */
    p.revents = 0;
    if (poll(&p, 1, 0) == 1)
        assert_int_equal(unhook_engine_action(e, fd, UNHOOK_POLL_IN), UNHOOK_OK);
    p.revents = 0;
    assert_int_equal(poll(&p, 1, 0), 0);
    unhook_engine_close(e);
    support_rm_tree(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_threads_each_with_an_engine_work_at_once),
        cmocka_unit_test(test_wakeups_from_several_threads_reach_the_engine),
    };
    int rc;

    provider = getenv("UNHOOK_TEST_URL");
    if (!provider || !*provider) {
        printf("test_threads: UNHOOK_TEST_URL is not set: skipped (run it through "
               "sh tests/run.sh integration, which starts the fixture provider)\n");
        return 0;
    }
    if (!realpath("scripts/connectors", connectors)) {
        printf("test_threads: scripts/connectors not found: run from the repo root\n");
        return 1;
    }
    /* libcurl's global initialisation before any thread, as it asks */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests_name("threads", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
