/*
 * test_team.c -- bulk work on several threads (unhook_config.threads,
 * core/team.c) against the fixture provider whose URL is in
 * UNHOOK_TEST_URL (tests/run.sh starts it; without it every test is
 * skipped): every instance deregistered exactly once whatever thread ran
 * it, the stats and the progress the sum of all threads, a connector's
 * caps and its "already gone" guard held across the threads, and work
 * that cannot be shared (an attempt observer) kept on the calling thread.
 *
 * Each test has a scratch folder with its own database (or, with
 * UNHOOK_TEST_PG, a PostgreSQL database of its own: tests/pg/run.sh) and
 * a connection file pointing at the provider; the provider is reset first.
 */
#include "support.h"
#include <limits.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <libpq-fe.h>

#include "unhook.h"
#include "lifecycle.h"

#define FIRST_ID 12345678L        /* the provider's first hook id after a reset */

static const char *provider;      /* UNHOOK_TEST_URL */
static char connectors[PATH_MAX]; /* absolute scripts/connectors */

typedef struct fixture {
    char dir[256];
    char db[320];
    char conn[320];
    char cdir[320];
    unhook_engine *E;
    /* the engine's log lines at debug level */
    pthread_mutex_t mu;
    char log[8192];
    size_t loglen;
} fixture;

static void on_log(void *ud, int level, const char *line)
{
    fixture *f = ud;
    size_t n = strlen(line);

    (void)level;
    pthread_mutex_lock(&f->mu);
    if (f->loglen + n + 2 < sizeof f->log) {
        memcpy(f->log + f->loglen, line, n);
        f->loglen += n;
        f->log[f->loglen++] = '\n';
        f->log[f->loglen] = '\0';
    }
    pthread_mutex_unlock(&f->mu);
}

static void reopen(fixture *f, int concurrency, int threads)
{
    unhook_config cfg = {0};

    unhook_engine_close(f->E);
    f->E = NULL;
    cfg.connectors = connectors;
    cfg.db = f->db;
    cfg.concurrency = concurrency;
    cfg.threads = threads;
    cfg.log = on_log;
    cfg.log_userdata = f;
    cfg.log_level = UNHOOK_LOG_DEBUG;
    assert_int_equal(unhook_engine_open(&f->E, &cfg), UNHOOK_OK);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    char text[1024];

    if (!f)
        return -1;
    pthread_mutex_init(&f->mu, NULL);
    snprintf(f->dir, sizeof f->dir, "/tmp/unhook-team-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    if (!support_pg_db(f->db, sizeof f->db))
        snprintf(f->db, sizeof f->db, "%s/unhook.db", f->dir);
    snprintf(f->cdir, sizeof f->cdir, "%s/c", f->dir);
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
    pthread_mutex_destroy(&f->mu);
    free(f);
    return 0;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* How many DELETE requests the provider logged. */
static int deletes_logged(void)
{
    char *log;
    int n = 0;

    assert_int_equal(provider_control("GET", "/_control/requests", NULL, &log), 200);
    for (const char *p = log; (p = strstr(p, "\"DELETE\"")); p += 8)
        n++;
    free(log);
    return n;
}

/* A connector at DIR/c (event push) whose manifest has top_extra. */
static void write_connector(fixture *f, const char *top_extra)
{
    char path[400], text[2048];

    snprintf(path, sizeof path, "%s/connector.lua", f->cdir);
    snprintf(text, sizeof text,
             "return {\n"
             "  name = \"t\",\n"
             "  auth = \"bearer\",\n"
             "  %s\n"
             "  events = {\n"
             "    push = {\n"
             "      options = { owner = { type = \"string\", required = true },\n"
             "                  repo = { type = \"string\", required = true } },\n"
             "      deregistration = { flow = \"flows/deregister.lua\",\n"
             "        inputs = { owner = option \"owner\", repo = option \"repo\" } },\n"
             "    },\n"
             "  },\n"
             "}\n", top_extra ? top_extra : "");
    support_write_at(path, text);
    snprintf(path, sizeof path, "%s/flows/deregister.lua", f->cdir);
    support_write_at(path,
                     "return {\n"
                     "  inputs = { owner = { type = \"string\", required = true },\n"
                     "             repo = { type = \"string\", required = true } },\n"
                     "  run = function(ctx, input)\n"
                     "    ctx.http.delete(\"/repos/{owner}/{repo}/hooks/{id}\", {\n"
                     "      path = { owner = input.owner, repo = input.repo,\n"
                     "               id = ctx.registration.id },\n"
                     "    })\n"
                     "  end,\n"
                     "}\n");
}


typedef struct tally {
    long n, off, with_reg;
} tally;

static int tally_one(void *ud, const unhook_instance *i)
{
    tally *t = ud;

    t->n++;
    t->off += strcmp(i->state, "off") == 0;
    t->with_reg += i->registration != NULL;
    return 0;
}

static tally tally_all(fixture *f)
{
    tally t = {0};

    assert_int_equal(unhook_instance_list(f->E, NULL, tally_one, &t), UNHOOK_OK);
    return t;
}

static int shared_by(fixture *f, int threads)
{
    char want[64];

    snprintf(want, sizeof want, "bulk work on %d threads", threads);
    return strstr(f->log, want) != NULL;
}

/* The progress callback: the sums it was shown. */
typedef struct seen {
    long calls, last_settled, went_back, wrong_total, want_total;
    pthread_t thread;
    int other_thread;
} seen;

static void on_progress(void *ud, const unhook_stats *s)
{
    seen *x = ud;
    long settled = s->done + s->gone + s->failed + s->pending;

    x->calls++;
    if (settled < x->last_settled)
        x->went_back++;
    x->last_settled = settled;
    /* the total known before the work (disable_all's) shown all along */
    x->wrong_total += x->want_total && s->total != x->want_total;
    if (!pthread_equal(pthread_self(), x->thread))
        x->other_thread = 1;
}

static void test_team_disables_each_once(void **state)
{
    fixture *f = *state;
    unhook_stats stats;
    seen x = {0};
    int counts[400];
    tally t;

    reopen(f, 16, 2);
    provider_seed(400);
    provider_import(f->E, f->conn, "i", 0, 400, "github", "push");
    x.thread = pthread_self();
    x.want_total = 400;
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &stats, on_progress, &x),
                     UNHOOK_OK);
    assert_true(shared_by(f, 2));
    /* the sum of both threads' work */
    assert_int_equal(stats.total, 400);
    assert_int_equal(stats.done, 400);
    assert_int_equal(stats.failed + stats.pending + stats.gone, 0);
    t = tally_all(f);
    assert_int_equal(t.off, 400);
    assert_int_equal(t.with_reg, 0);
    /* no instance ran twice */
    assert_int_equal(provider_delete_counts(FIRST_ID, counts, 400), 400);
    for (int k = 0; k < 400; k++)
        assert_int_equal(counts[k], 1);
    /* progress: on the calling thread, never backwards, all of it at last */
    assert_true(x.calls > 0);
    assert_int_equal(x.went_back, 0);
    assert_int_equal(x.other_thread, 0);
    assert_int_equal(x.last_settled, 400);
    assert_int_equal(x.wrong_total, 0);
}

/* unhook_engine_run (resume, serve's loop) shares due work too: intents
 * recorded without running, then run on three threads. */
static void test_team_run_shares_due_work(void **state)
{
    fixture *f = *state;
    unhook_stats stats = {0};
    int counts[100];

    reopen(f, 8, 3);
    provider_seed(100);
    provider_import(f->E, f->conn, "i", 0, 100, "github", "push");
    assert_int_equal(unhook_instance_request_off_all(f->E, NULL, NULL, &stats), UNHOOK_OK);
    assert_int_equal(stats.total, 100);
    assert_false(shared_by(f, 3));
    assert_int_equal(provider_delete_counts(FIRST_ID, counts, 100), 0);
    memset(&stats, 0, sizeof stats);
    assert_int_equal(unhook_engine_run(f->E, NULL, -1, 0, &stats, NULL, NULL), UNHOOK_OK);
    assert_true(shared_by(f, 3));
    assert_int_equal(stats.total, 100);
    assert_int_equal(stats.done, 100);
    assert_int_equal(tally_all(f).off, 100);
    assert_int_equal(provider_delete_counts(FIRST_ID, counts, 100), 100);
    for (int k = 0; k < 100; k++)
        assert_int_equal(counts[k], 1);
}

/* limits = { concurrency = 1 } holds across the threads: four DELETEs the
 * provider holds 0.2 s each take 0.8 s one after the other (two threads
 * on their own caps would take 0.4 s). */
static void test_team_concurrency_cap_shared(void **state)
{
    fixture *f = *state;
    unhook_stats stats;
    int counts[4];
    double t0, took;

    write_connector(f, "limits = { concurrency = 1 },");
    reopen(f, 8, 2);
    provider_seed(4);
    provider_import(f->E, f->conn, "i", 0, 4, f->cdir, "push");
    provider_script("DELETE", "/repos/o/r/hooks/",
           "[{\"delay_ms\":200,\"pass\":true},{\"delay_ms\":200,\"pass\":true},"
           "{\"delay_ms\":200,\"pass\":true},{\"delay_ms\":200,\"pass\":true}]");
    t0 = mono_s();
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &stats, NULL, NULL),
                     UNHOOK_OK);
    took = mono_s() - t0;
    assert_true(shared_by(f, 2));
    assert_true(took >= 0.75);
    assert_int_equal(stats.done, 4);
    assert_int_equal(provider_delete_counts(FIRST_ID, counts, 4), 4);
    for (int k = 0; k < 4; k++)
        assert_int_equal(counts[k], 1);
}

/* limits = { per_second = 20 } holds across the threads: ten starts take
 * 0.45 s at least (0.2 s with a rate of its own in each thread). */
static void test_team_rate_shared(void **state)
{
    fixture *f = *state;
    unhook_stats stats;
    double t0, took;

    write_connector(f, "limits = { per_second = 20 },");
    reopen(f, 8, 2);
    provider_seed(10);
    provider_import(f->E, f->conn, "i", 0, 10, f->cdir, "push");
    t0 = mono_s();
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &stats, NULL, NULL),
                     UNHOOK_OK);
    took = mono_s() - t0;
    assert_true(shared_by(f, 2));
    assert_true(took >= 0.4);
    assert_int_equal(stats.done, 10);
}

/* The guard counts the first 20 outcomes of all threads: with every
 * hook already gone, 20 DELETEs and the ones in flight then (one a
 * thread at concurrency 2), not 20 a thread. */
static void test_team_gone_guard_shared(void **state)
{
    fixture *f = *state;
    unhook_stats stats;
    int sent;

    reopen(f, 2, 2);
    provider_import(f->E, f->conn, "i", 0, 60, "github", "push");       /* nothing seeded: every DELETE 404 */
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &stats, NULL, NULL),
                     UNHOOK_OK);
    assert_true(shared_by(f, 2));
    sent = deletes_logged();
    assert_true(sent >= 20);
    assert_true(sent <= 21);
    assert_int_equal(stats.gone, sent);
    assert_int_equal(stats.pending, 60 - sent);
    assert_non_null(strstr(f->log, "already gone"));
}

/* An attempt observer is called on the thread that asked: such work is
 * not shared. */
typedef struct watch {
    pthread_t thread;
    long calls;
    int other_thread;
} watch;

static void on_attempt(void *ud, const unhook_attempt *a)
{
    watch *w = ud;

    (void)a;
    w->calls++;
    if (!pthread_equal(pthread_self(), w->thread))
        w->other_thread = 1;
}

static void test_team_not_with_observer(void **state)
{
    fixture *f = *state;
    unhook_stats stats;
    watch w = {0};

    reopen(f, 8, 2);
    provider_seed(30);
    provider_import(f->E, f->conn, "i", 0, 30, "github", "push");
    w.thread = pthread_self();
    unhook_engine_on_attempt(f->E, on_attempt, &w);
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &stats, NULL, NULL),
                     UNHOOK_OK);
    assert_false(shared_by(f, 2));
    assert_int_equal(stats.done, 30);
    assert_int_equal(w.calls, 30);
    assert_int_equal(w.other_thread, 0);
}

/* A member whose store cannot be opened (here PostgreSQL's connection
 * limit of the role: the engine called holds its one connection) leaves
 * its share to the others: the call succeeds with every instance done,
 * and a warning says so.  PostgreSQL only (tests/pg/run.sh). */
static void test_team_member_without_store(void **state)
{
    fixture *f = *state;
    const char *base = getenv("UNHOOK_TEST_PG");
    char role[64], sql[256], url[400];
    const char *name, *q;
    unhook_stats stats;
    int counts[50];
    PGconn *c;
    PGresult *r;

    if (strncmp(f->db, "postgresql:", 11) != 0 || !base)
        skip();
    /* f->db is postgresql:///NAME?host=...&user=postgres */
    name = f->db + strlen("postgresql:///");
    q = strchr(name, '?');
    assert_non_null(q);
    snprintf(role, sizeof role, "uh_lim_%ld", (long)getpid());
    snprintf(sql, sizeof sql, "CREATE ROLE %s LOGIN CONNECTION LIMIT 1; "
             "ALTER DATABASE %.*s OWNER TO %s", role, (int)(q - name), name, role);
    c = PQconnectdb(base);
    r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
    snprintf(url, sizeof url, "postgresql:///%.*s?host=", (int)(q - name), name);
    q = strstr(q, "host=");
    assert_non_null(q);
    q += 5;
    snprintf(url + strlen(url), sizeof url - strlen(url), "%.*s&user=%s",
             (int)strcspn(q, "&"), q, role);
    assert_true(strlen(url) < sizeof f->db);
    memcpy(f->db, url, strlen(url) + 1);
    reopen(f, 12, 3);
    provider_seed(50);
    provider_import(f->E, f->conn, "i", 0, 50, "github", "push");       /* the engine's one connection */
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &stats, NULL, NULL),
                     UNHOOK_OK);
    assert_true(shared_by(f, 3));
    assert_non_null(strstr(f->log, "cannot open the store, the others do its share"));
    assert_int_equal(stats.total, 50);
    assert_int_equal(stats.done, 50);
    assert_int_equal(tally_all(f).off, 50);
    assert_int_equal(provider_delete_counts(FIRST_ID, counts, 50), 50);
    for (int k = 0; k < 50; k++)
        assert_int_equal(counts[k], 1);
    unhook_engine_close(f->E);
    f->E = NULL;
    c = PQconnectdb(base);
    snprintf(sql, sizeof sql, "REASSIGN OWNED BY %s TO postgres; DROP ROLE %s", role, role);
    PQclear(PQexec(c, sql));
    PQfinish(c);
}

/* The end of a bulk run shared out (uh_team_share, core/team.c): claims
 * run ahead as far as work.c allows until what is left, divided among the
 * members still claiming, is less; then that share, never below the
 * minimum; nothing expected, more claimed than expected, or one member
 * left, leaves them as they are. */
static void test_team_share_evens_the_end(void **state)
{
    uh_team *t = uh_team_new(4, NULL, NULL);

    (void)state;
    assert_non_null(t);
    for (int k = 1; k < 4; k++)
        uh_team_started(t);                     /* members 1..3, and 0 */
    assert_int_equal(uh_team_share(t, 264, 8), 264);    /* nothing expected */
    uh_team_expect(t, 2000);
    assert_int_equal(uh_team_share(t, 264, 8), 264);    /* 500 each: not yet */
    uh_team_claimed(t, 1320);
    assert_int_equal(uh_team_share(t, 264, 8), 170);    /* 680 left among 4 */
    assert_int_equal(uh_team_share(t, 100, 8), 100);    /* never above max */
    uh_team_claimed(t, 641);
    assert_int_equal(uh_team_share(t, 264, 8), 10);     /* 39 left: 10 each */
    uh_team_claimed(t, 35);
    assert_int_equal(uh_team_share(t, 264, 8), 8);      /* 4 left: the floor */
    uh_team_claimed(t, 4);
    assert_int_equal(uh_team_share(t, 264, 8), 8);      /* none left, 4 claim */
    uh_team_ended(t, 1, &(unhook_stats){0});
    uh_team_ended(t, 2, &(unhook_stats){0});
    assert_int_equal(uh_team_share(t, 264, 8), 8);      /* two still claim */
    uh_team_claimed(t, 8);                              /* more than expected: */
    assert_int_equal(uh_team_share(t, 264, 8), 264);    /* other work was due */
    uh_team_expect(t, 40);
    uh_team_ended(t, 3, &(unhook_stats){0});
    assert_int_equal(uh_team_share(t, 264, 8), 264);    /* member 0 alone */
    uh_team_free(t);

    /* an intent that queued nothing (what it will run was queued before,
     * e.g. by disable --all --no-wait) expects nothing: full claims */
    t = uh_team_new(2, NULL, NULL);
    assert_non_null(t);
    uh_team_started(t);
    uh_team_expect(t, 0);
    assert_int_equal(uh_team_share(t, 264, 8), 264);
    uh_team_free(t);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_team_disables_each_once),
        T(test_team_run_shares_due_work),
        T(test_team_concurrency_cap_shared),
        T(test_team_rate_shared),
        T(test_team_gone_guard_shared),
        T(test_team_not_with_observer),
        T(test_team_member_without_store),
        cmocka_unit_test(test_team_share_evens_the_end),
    };
#undef T
    int rc;

    provider = getenv("UNHOOK_TEST_URL");
    if (!provider || !*provider) {
        printf("test_team: UNHOOK_TEST_URL is not set: skipped (run it through "
               "sh tests/run.sh integration, which starts the fixture provider)\n");
        return 0;
    }
    if (!realpath("scripts/connectors", connectors)) {
        printf("test_team: scripts/connectors not found: run from the repo root\n");
        return 1;
    }
    if (getenv("UNHOOK_TEST_FILTER"))
        cmocka_set_test_filter(getenv("UNHOOK_TEST_FILTER"));
    curl_global_init(CURL_GLOBAL_DEFAULT);
    rc = cmocka_run_group_tests_name("team", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
