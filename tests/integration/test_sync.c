/*
 * test_sync.c -- group commit (core/sqlite_sync.c, core/work.c): the
 * work loop commits outcomes without waiting for the disk and counts them
 * only once a thread of the store has synced the WAL that holds them; a
 * sync that fails is final.
 *
 * This program defines fdatasync itself (the real call made through
 * syscall(2)): SQLite's calls and the store's bind to it, so a test sees
 * which thread syncs, can slow the syncs down, and can make them fail.
 * Real SQLite files, the real fixture provider (UNHOOK_TEST_URL; without
 * it the engine tests are skipped).
 */
#include "support.h"
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sqlite_db.h"
#include "unhook.h"

static const char *provider;      /* UNHOOK_TEST_URL */
static char connectors[PATH_MAX]; /* absolute scripts/connectors */

/* ---- fdatasync, watched ---- */

static pthread_t engine_thread;   /* the thread that calls the engine */
static atomic_int on_engine;      /* syncs made on it */
static atomic_int off_engine;     /* made on other threads, and finished */
static atomic_int fail_off;       /* 1: those fail with EIO */
static atomic_int slow_off_us;    /* and take this long first */
static atomic_int fake_off;       /* 1: those return at once, no sync */

/* default visibility (the build hides symbols): SQLite's calls bind here */
__attribute__((visibility("default"))) int fdatasync(int fd);
int fdatasync(int fd)
{
    int r;

    if (pthread_equal(pthread_self(), engine_thread)) {
        atomic_fetch_add(&on_engine, 1);
        return (int)syscall(SYS_fdatasync, fd);
    }
    if (atomic_load(&slow_off_us))
        usleep((useconds_t)atomic_load(&slow_off_us));
    if (atomic_load(&fail_off)) {
        errno = EIO;
        return -1;
    }
    r = atomic_load(&fake_off) ? 0 : (int)syscall(SYS_fdatasync, fd);
    atomic_fetch_add(&off_engine, 1);
    return r;
}

static void watch_reset(void)
{
    engine_thread = pthread_self();
    atomic_store(&on_engine, 0);
    atomic_store(&off_engine, 0);
    atomic_store(&fail_off, 0);
    atomic_store(&slow_off_us, 0);
    atomic_store(&fake_off, 0);
}

/* ---- the store's ops ---- */

typedef struct sfix {
    char dir[256], loc[320];
    uh_store *s;
} sfix;

static int store_setup(void **state)
{
    sfix *f = calloc(1, sizeof *f);
    char err[512];

    if (!f)
        return -1;
    watch_reset();
    snprintf(f->dir, sizeof f->dir, "/tmp/unhook-sync-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->loc, sizeof f->loc, "%s/unhook.db", f->dir);
    if (uh_store_open(f->loc, &f->s, err, sizeof err) != UNHOOK_OK)
        return -1;
    *state = f;
    return 0;
}

static int store_teardown(void **state)
{
    sfix *f = *state;

    if (f->s)
        f->s->ops->close(f->s);
    support_rm_tree(f->dir);
    free(f);
    return 0;
}

static int sync_level(uh_store *s)
{
    sqlite3_stmt *st;
    int level = -1;

    assert_int_equal(sqlite3_prepare_v2(SQ(s)->db, "PRAGMA synchronous", -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        level = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return level;
}

static void put_one(uh_store *s, const char *id)
{
    uh_inst i = {0};

    i.id = (char *)id;
    i.connector = (char *)"github";
    i.event = (char *)"push";
    i.options = (char *)"{}";
    i.state = UH_REGISTERED;
    i.desired = UH_WANT_ON;
    i.created_at = i.updated_at = 1;
    assert_int_equal(s->ops->put(s, &i), UNHOOK_OK);
}

/* n rows PREFIX00000.. with 600 bytes of options each: pages of WAL. */
static void put_rows(uh_store *s, const char *prefix, int n)
{
    char id[32], opts[600];

    memset(opts, 'x', sizeof opts - 1);
    opts[sizeof opts - 1] = '\0';
    for (int k = 0; k < n; k++) {
        uh_inst i = {0};
        snprintf(id, sizeof id, "%s%05d", prefix, k);
        i.id = id;
        i.connector = (char *)"github";
        i.event = (char *)"push";
        i.options = opts;
        i.state = UH_REGISTERED;
        i.desired = UH_WANT_ON;
        i.created_at = i.updated_at = 1;
        assert_int_equal(s->ops->put(s, &i), UNHOOK_OK);
    }
}

/* Rows another connection to the file sees. */
static int rows_seen(const char *loc)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int n = -1;

    assert_int_equal(sqlite3_open(loc, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "SELECT count(*) FROM instances", -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static void test_tickets_in_order_and_full_between(void **state)
{
    sfix *f = *state;
    uh_store *s = f->s;
    unsigned long long t1 = 0, t2 = 0;

    assert_non_null(s->ops->begin_lazy);
    assert_int_equal(sync_level(s), 2);             /* FULL */
    assert_int_equal(s->ops->begin_lazy(s), UNHOOK_OK);
    put_one(s, "a");
    assert_int_equal(s->ops->commit_lazy(s, &t1), UNHOOK_OK);
    assert_true(t1 > 0);
    /* every other transaction stays FULL */
    assert_int_equal(sync_level(s), 2);
    assert_int_equal(rows_seen(f->loc), 1);         /* committed */
    assert_int_equal(s->ops->begin_lazy(s), UNHOOK_OK);
    put_one(s, "b");
    assert_int_equal(s->ops->commit_lazy(s, &t2), UNHOOK_OK);
    assert_true(t2 > t1);
    assert_int_equal(s->ops->durable(s, t2, 1), 1);
    assert_int_equal(s->ops->durable(s, t1, 0), 1);  /* the later sync covers it */
    assert_true(atomic_load(&off_engine) >= 1);       /* on the store's thread */
    /* a rollback ends a lazy transaction too */
    assert_int_equal(s->ops->begin_lazy(s), UNHOOK_OK);
    put_one(s, "c");
    s->ops->rollback(s);
    assert_int_equal(sync_level(s), 2);
    assert_int_equal(rows_seen(f->loc), 2);
}

/* Commits that come while nobody waits share syncs: the store's thread
 * syncs at most once per gap (20 ms, sqlite_sync.c), however fast the
 * disk; a caller that waits gets its sync at once. */
static void test_commits_share_syncs(void **state)
{
    sfix *f = *state;
    uh_store *s = f->s;
    unsigned long long t = 0;
    struct timespec a, b;
    char id[16];
    int n = 60;
    long ms;

    atomic_store(&fake_off, 1);     /* a sync as fast as the disk could be */
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int k = 0; k < n; k++) {
        snprintf(id, sizeof id, "g%03d", k);
        assert_int_equal(s->ops->begin_lazy(s), UNHOOK_OK);
        put_one(s, id);
        assert_int_equal(s->ops->commit_lazy(s, &t), UNHOOK_OK);
        usleep(1000);               /* time for a sync between commits */
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    assert_int_equal(s->ops->durable(s, t, 1), 1);
    assert_int_equal(rows_seen(f->loc), n);
    /* without the gap each commit wakes the thread for a sync of its own */
    assert_true(atomic_load(&off_engine) >= 1);
    /* one at the first commit, one a gap after, and the waited one */
    assert_true(atomic_load(&off_engine) <= ms / 20 + 3);
    assert_true(atomic_load(&off_engine) < n / 2);
}

/* Two stores of one process on one file share the syncer: a sync of the
 * WAL covers both stores' commits; the one closed first has its commits
 * on disk at its close, and the other goes on with the syncer. */
static void test_stores_of_one_file_share_the_syncer(void **state)
{
    sfix *f = *state;
    uh_store *s = f->s, *s2 = NULL;
    unsigned long long t1 = 0, t2 = 0, t3 = 0;
    char err[512];

    assert_int_equal(uh_store_open(f->loc, &s2, err, sizeof err), UNHOOK_OK);
    assert_int_equal(s->ops->begin_lazy(s), UNHOOK_OK);
    put_one(s, "one");
    assert_int_equal(s->ops->commit_lazy(s, &t1), UNHOOK_OK);
    assert_int_equal(s2->ops->begin_lazy(s2), UNHOOK_OK);
    put_one(s2, "two");
    assert_int_equal(s2->ops->commit_lazy(s2, &t2), UNHOOK_OK);
    assert_non_null(SQ(s)->sync);
    assert_ptr_equal(SQ(s)->sync, SQ(s2)->sync);
    assert_true(t2 > t1);
    s2->ops->close(s2);                         /* waits for its own commit */
    assert_int_equal(s->ops->durable(s, t2, 0), 1);
    assert_int_equal(s->ops->durable(s, t1, 0), 1);
    assert_int_equal(s->ops->begin_lazy(s), UNHOOK_OK);
    put_one(s, "three");
    assert_int_equal(s->ops->commit_lazy(s, &t3), UNHOOK_OK);
    assert_int_equal(s->ops->durable(s, t3, 1), 1);
    assert_int_equal(rows_seen(f->loc), 3);
}

static void test_failed_sync_is_final(void **state)
{
    sfix *f = *state;
    uh_store *s = f->s;
    unsigned long long t = 0;

    atomic_store(&fail_off, 1);
    assert_int_equal(s->ops->begin_lazy(s), UNHOOK_OK);
    put_one(s, "a");
    assert_int_equal(s->ops->commit_lazy(s, &t), UNHOOK_OK);
    assert_int_equal(s->ops->durable(s, t, 1), UNHOOK_STORE);
    assert_non_null(strstr(s->errmsg, "cannot sync the WAL"));
    atomic_store(&fail_off, 0);
    /* a later sync that works proves nothing about what the failed one
     * dropped: no write transaction from now on */
    assert_int_equal(s->ops->begin(s), UNHOOK_STORE);
    assert_int_equal(s->ops->begin_lazy(s), UNHOOK_STORE);
    assert_non_null(strstr(s->errmsg, "cannot sync the WAL"));
}

/* A lazy commit that fails with its transaction still open (here a
 * history row refused at the commit: the statement is undone, the
 * transaction goes on) cannot set FULL again there (SQLite refuses to
 * change the level inside a transaction); the rollback that follows must,
 * or the transactions after it commit at NORMAL without a ticket. */
static void test_failed_lazy_commit_then_full_again(void **state)
{
    sfix *f = *state;
    uh_store *s = f->s;
    unsigned long long t = 1;
    unhook_history h = {0};
    sqlite3 *db;

    assert_int_equal(sqlite3_open(f->loc, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TRIGGER refuse BEFORE INSERT ON history "
                                  "BEGIN SELECT RAISE(ABORT, 'refused'); END", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(s->ops->begin_lazy(s), UNHOOK_OK);
    put_one(s, "a");
    h.instance_id = "a";
    h.at = 1;
    h.action = "deregister";
    h.outcome = "done";
    assert_int_equal(s->ops->history_add(s, &h), UNHOOK_OK);   /* held */
    assert_int_not_equal(s->ops->commit_lazy(s, &t), UNHOOK_OK);
    assert_int_equal(t, 0);
    s->ops->rollback(s);
    assert_int_equal(sync_level(s), 2);             /* FULL again */
    assert_int_equal(rows_seen(f->loc), 0);
}

static long file_size(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_checkpoint_off_the_committing_thread(void **state)
{
    sfix *f = *state;
    uh_store *s = f->s;
    long size0 = file_size(f->loc);
    int synced;

    /* a commit of well over 1,000 pages, as the intent of a large
     * disable --all is: FULL, its WAL synced on this thread */
    assert_int_equal(s->ops->begin(s), UNHOOK_OK);
    put_rows(s, "i", 8000);
    assert_int_equal(s->ops->commit(s), UNHOOK_OK);
    synced = atomic_load(&on_engine);
    assert_true(synced >= 1);
    /* the checkpoint that follows copies it into the database on the
     * store's thread, with its syncs, not in the commit */
    for (int k = 0; k < 3000 && file_size(f->loc) <= size0 + 4 * 1024 * 1024; k++)
        usleep(10000);
    assert_true(file_size(f->loc) > size0 + 4 * 1024 * 1024);
    assert_true(atomic_load(&off_engine) >= 2);     /* the WAL's, the database's */
    assert_int_equal(atomic_load(&on_engine), synced);
}

/* Commits that keep coming (the work loop's, while requests are in
 * flight) keep the syncer busy: the checkpoint asked for must still come
 * after a sync, not wait until a sync finds no commit behind it. */
static void test_checkpoint_not_put_off_by_commits(void **state)
{
    sfix *f = *state;
    uh_store *s = f->s;
    char id[32];
    unsigned long long t = 0;
    long size0 = file_size(f->loc);
    int k;

    atomic_store(&slow_off_us, 20000);
    /* a lazy commit of well over 1,000 pages: the checkpoint is asked
     * for while its sync is still to come */
    assert_int_equal(s->ops->begin_lazy(s), UNHOOK_OK);
    put_rows(s, "i", 8000);
    assert_int_equal(s->ops->commit_lazy(s, &t), UNHOOK_OK);
    /* then a small lazy commit every half millisecond, for a few s */
    for (k = 0; k < 4000 && file_size(f->loc) <= size0 + 4 * 1024 * 1024; k++) {
        snprintf(id, sizeof id, "s%05d", k);
        assert_int_equal(s->ops->begin_lazy(s), UNHOOK_OK);
        put_one(s, id);
        assert_int_equal(s->ops->commit_lazy(s, &t), UNHOOK_OK);
        usleep(500);
    }
    assert_true(file_size(f->loc) > size0 + 4 * 1024 * 1024);
    assert_int_equal(s->ops->durable(s, t, 1), 1);
}

/* Lazy commits of 48 MB in all, as a long bulk run makes them (with a
 * pause between, where the loop waits for the network): the WAL is
 * written from its start again now and then (a RESTART checkpoint once
 * it passed 16 MB), it does not grow with all that was written. */
static void test_wal_stays_bounded(void **state)
{
    sfix *f = *state;
    uh_store *s = f->s;
    char prefix[16], wal[400];
    unsigned long long t = 0;
    long most = 0;

    snprintf(wal, sizeof wal, "%s-wal", f->loc);
    for (int b = 0; b < 160; b++) {
        assert_int_equal(s->ops->begin_lazy(s), UNHOOK_OK);
        snprintf(prefix, sizeof prefix, "b%03d-", b);
        put_rows(s, prefix, 500);
        assert_int_equal(s->ops->commit_lazy(s, &t), UNHOOK_OK);
        if (file_size(wal) > most)
            most = file_size(wal);
        usleep(2000);           /* the loop waits for the network */
    }
    assert_int_equal(s->ops->durable(s, t, 1), 1);
    assert_int_equal(rows_seen(f->loc), 160 * 500);
    assert_true(most < 32L * 1024 * 1024);
}

/* A reader that stays in the WAL (another process's long read) keeps a
 * RESTART waiting, and the RESTART holds writers back meanwhile: it gives
 * up after 50 ms, so a commit is never held up for long. */
static void test_reader_does_not_stall_commits(void **state)
{
    sfix *f = *state;
    uh_store *s = f->s;
    unsigned long long t = 0;
    sqlite3 *reader;
    char prefix[16];
    double longest = 0;

    assert_int_equal(sqlite3_open(f->loc, &reader), SQLITE_OK);
    put_one(s, "first");
    assert_int_equal(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM instances",
                                  NULL, NULL, NULL), SQLITE_OK);
    for (int b = 0; b < 80; b++) {
        struct timespec t0, t1;
        double d;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(s->ops->begin_lazy(s), UNHOOK_OK);
        snprintf(prefix, sizeof prefix, "r%03d-", b);
        put_rows(s, prefix, 500);
        assert_int_equal(s->ops->commit_lazy(s, &t), UNHOOK_OK);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        d = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (d > longest)
            longest = d;
        usleep(2000);
    }
    assert_int_equal(s->ops->durable(s, t, 1), 1);
    sqlite3_exec(reader, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(reader);
    assert_int_equal(rows_seen(f->loc), 1 + 80 * 500);
    printf("longest commit with a reader in the WAL: %.3f s\n", longest);
    if (!getenv("UNHOOK_NO_TIMING"))    /* sanitizers, valgrind: reported only */
        assert_true(longest < 1.0);
}

/* ---- the work loop ---- */

typedef struct efix {
    char dir[256], db[320], conn[320];
    unhook_engine *E;
} efix;

static int engine_setup(void **state)
{
    efix *f = calloc(1, sizeof *f);
    unhook_config cfg = {0};
    char text[1024];

    if (!f)
        return -1;
    watch_reset();
    *state = f;
    if (!provider)
        return 0;               /* the tests skip */
    snprintf(f->dir, sizeof f->dir, "/tmp/unhook-sync-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    snprintf(f->db, sizeof f->db, "%s/unhook.db", f->dir);
    snprintf(f->conn, sizeof f->conn, "%s/conn.json", f->dir);
    snprintf(text, sizeof text, "{\"base_url\": \"%s\", \"auth\": {\"type\": "
             "\"bearer\", \"token\": \"test-token\"}}\n", provider);
    support_write_at(f->conn, text);
    if (provider_control("POST", "/_control/reset", NULL, NULL) != 200)
        return -1;
    cfg.connectors = connectors;
    cfg.db = f->db;
    cfg.concurrency = 8;
    cfg.threads = 1;
    if (unhook_engine_open(&f->E, &cfg) != UNHOOK_OK)
        return -1;
    return 0;
}

static int engine_teardown(void **state)
{
    efix *f = *state;

    unhook_engine_close(f->E);
    if (f->dir[0])
        support_rm_tree(f->dir);
    free(f);
    return 0;
}


/* The progress callback: was an outcome ever counted before any sync of
 * the store's thread had finished? */
typedef struct seen {
    long early, calls;
} seen;

static void on_progress(void *ud, const unhook_stats *s)
{
    seen *x = ud;

    x->calls++;
    if (s->done + s->gone + s->failed > 0 && atomic_load(&off_engine) == 0)
        x->early++;
}

typedef struct tally {
    long off, deregistering, other;
} tally;

static int tally_one(void *ud, const unhook_instance *i)
{
    tally *t = ud;

    if (strcmp(i->state, "off") == 0)
        t->off++;
    else if (strcmp(i->state, "deregistering") == 0)
        t->deregistering++;
    else
        t->other++;
    return 0;
}

static void test_outcomes_counted_after_their_sync(void **state)
{
    efix *f = *state;
    unhook_stats stats;
    seen x = {0};
    int on_before;

    if (!provider)
        skip();
    provider_seed(300);
    provider_import(f->E, f->conn, "i", 0, 300, "github", "push");
    /* slow syncs: an outcome counted before its sync would show */
    atomic_store(&slow_off_us, 20000);
    on_before = atomic_load(&on_engine);
    assert_int_equal(unhook_instance_disable_all(f->E, NULL, NULL, &stats, on_progress, &x),
                     UNHOOK_OK);
    assert_int_equal(stats.done, 300);
    assert_true(x.calls > 0);
    assert_int_equal(x.early, 0);
    /* the outcomes' syncs were made off the engine's thread: it synced
     * the intent (and any checkpoint), never once per commit of 300
     * outcomes in batches of at most 64 */
    assert_true(atomic_load(&off_engine) >= 1);
    assert_true(atomic_load(&on_engine) - on_before <= 4);
}

static void test_failed_sync_counts_nothing_loses_nothing(void **state)
{
    efix *f = *state;
    unhook_stats stats;
    tally t = {0};
    int rc;

    if (!provider)
        skip();
    provider_seed(100);
    provider_import(f->E, f->conn, "i", 0, 100, "github", "push");
    atomic_store(&fail_off, 1);
    rc = unhook_instance_disable_all(f->E, NULL, NULL, &stats, NULL, NULL);
    assert_int_equal(rc, UNHOOK_STORE);
    assert_non_null(strstr(unhook_errmsg(f->E), "cannot sync the WAL"));
    /* nothing was counted that may not be on disk */
    assert_int_equal(stats.done + stats.gone + stats.failed, 0);
    /* every instance is off (committed, not known to be synced) or still
     * deregistering (run again by resume): none failed, none lost */
    assert_int_equal(unhook_instance_list(f->E, NULL, tally_one, &t), UNHOOK_OK);
    assert_int_equal(t.off + t.deregistering, 100);
    assert_int_equal(t.other, 0);
    assert_true(t.deregistering > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tickets_in_order_and_full_between,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_commits_share_syncs, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_stores_of_one_file_share_the_syncer,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_failed_sync_is_final, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_failed_lazy_commit_then_full_again,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_off_the_committing_thread,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_not_put_off_by_commits,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_wal_stays_bounded, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_reader_does_not_stall_commits,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_outcomes_counted_after_their_sync,
                                        engine_setup, engine_teardown),
        cmocka_unit_test_setup_teardown(test_failed_sync_counts_nothing_loses_nothing,
                                        engine_setup, engine_teardown),
    };

    provider = getenv("UNHOOK_TEST_URL");
    if (provider && !*provider)
        provider = NULL;
    if (!realpath("scripts/connectors", connectors))
        return 1;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
