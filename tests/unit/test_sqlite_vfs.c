/*
 * test_sqlite_vfs.c -- the SQLite backend's file layer (core/sqlite_vfs.c):
 * a commit's frames reach the WAL in one write when the store's COMMIT
 * gathers them (commit() below does as sqlite_tx.c does), and the database
 * is the same as with SQLite's own files: what a commit wrote is there for
 * another connection (of SQLite's own files) as soon as the commit
 * returns, pages a transaction spilled into the WAL read back, a rollback
 * leaves nothing (nor anything another writer's frames could be written
 * over later), a WAL started again after a checkpoint is whole, checksums
 * SQLite rewrites after a commit are on the file with it, and a process
 * killed in the middle of its writes leaves every commit it made and
 * nothing else.  The writes are counted through the default VFS's
 * system call table (xSetSystemCall), as SQLite's own tests do.
 */
#include "support.h"
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sqlite_db.h"

static char dir[] = "/tmp/unhook-vfs-XXXXXX";
static char path[300];

/* ---- pwrite, counted ---- */

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
static pwrite_fn real_pwrite, real_pwrite64;
static long writes;

static ssize_t count_pwrite(int fd, const void *p, size_t n, off_t at)
{
    writes++;
    return real_pwrite(fd, p, n, at);
}

static ssize_t count_pwrite64(int fd, const void *p, size_t n, off_t at)
{
    writes++;
    return real_pwrite64(fd, p, n, at);
}

static void count_writes(int on)
{
    sqlite3_vfs *v = sqlite3_vfs_find("unix");

    assert_non_null(v);
    if (!on) {
        v->xSetSystemCall(v, NULL, NULL);   /* all back as they were */
        return;
    }
    real_pwrite = (pwrite_fn)v->xGetSystemCall(v, "pwrite");
    real_pwrite64 = (pwrite_fn)v->xGetSystemCall(v, "pwrite64");
    if (real_pwrite)
        v->xSetSystemCall(v, "pwrite", (sqlite3_syscall_ptr)count_pwrite);
    if (real_pwrite64)
        v->xSetSystemCall(v, "pwrite64", (sqlite3_syscall_ptr)count_pwrite64);
    writes = 0;
}

/* ---- helpers ---- */

static sqlite3 *open_db(const char *vfs, int cache_pages)
{
    sqlite3 *db = NULL;
    char sql[128];

    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                                     vfs), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                                  " PRAGMA wal_autocheckpoint = 0;", NULL, NULL, NULL), SQLITE_OK);
    snprintf(sql, sizeof sql, "PRAGMA cache_size = %d", cache_pages);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    return db;
}

static void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s: %s", sql, err ? err : "?");
}

static long long one(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    long long v;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void integrity(sqlite3 *db)
{
    sqlite3_stmt *st;

    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
}

/* The store's COMMIT (sqlite_tx.c): its frames gathered. */
static void commit(sqlite3 *db)
{
    uh_sq_vfs_gather(db);
    exec(db, "COMMIT");
    uh_sq_vfs_gathered(db, 1);
}

static void add_rows(sqlite3 *db, int k, int n);

/* n rows in a transaction of their own, committed as the store does */
static void add_tx(sqlite3 *db, int k, int n)
{
    exec(db, "BEGIN IMMEDIATE");
    add_rows(db, k, n);
    commit(db);
}

/* n rows of a 3,000-byte blob each, with their number and the next k */
static void add_rows(sqlite3 *db, int k, int n)
{
    char sql[200];

    snprintf(sql, sizeof sql, "WITH RECURSIVE c(v) AS (SELECT 0 UNION ALL SELECT v + 1"
             " FROM c WHERE v < %d) INSERT INTO t (k, b) SELECT %d + v, randomblob(3000)"
             " FROM c", n - 1, k);
    exec(db, sql);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/t.db", dir);
    return uh_sq_vfs() ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    support_rm_tree(dir);
    return 0;
}

static void fresh(void)
{
    char p[320];

    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

/* ---- tests ---- */

/* 20 commits of 10 rows (some 10 pages each): one write of the WAL each,
 * where SQLite's own files make two a frame. */
static void test_a_commit_is_one_write(void **state)
{
    sqlite3 *db, *other;
    long frames_own;

    (void)state;
    fresh();
    db = open_db(NULL, 2000);           /* SQLite's own files first */
    exec(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, b BLOB)");
    count_writes(1);
    for (int i = 0; i < 20; i++)
        add_rows(db, i * 10, 10);
    frames_own = writes;
    count_writes(0);
    sqlite3_close(db);
    fresh();
    db = open_db(uh_sq_vfs(), 2000);
    other = open_db(NULL, 2000);
    exec(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, b BLOB)");
    count_writes(1);
    for (int i = 0; i < 20; i++) {
        add_tx(db, i * 10, 10);
        /* on the file for everyone as soon as the commit returns */
        assert_int_equal(one(other, "SELECT count(*) FROM t"), (i + 1) * 10);
    }
    print_message("WAL writes for 20 commits: %ld with SQLite's own files, %ld here\n",
                  frames_own, writes);
    assert_true(frames_own >= 20 * 2 * 10);
    assert_true(writes <= 20);
    count_writes(0);
    integrity(other);
    sqlite3_close(other);
    sqlite3_close(db);
}

/* A fresh database with table t: *db through this layer with a page
 * cache of cache pages, *other through SQLite's own files. */
static void fresh_pair(sqlite3 **db, sqlite3 **other, int cache)
{
    fresh();
    *db = open_db(uh_sq_vfs(), cache);
    *other = open_db(NULL, 2000);
    exec(*db, "CREATE TABLE t (k INTEGER PRIMARY KEY, b BLOB)");
}

/* A transaction larger than its page cache spills pages into the WAL
 * before its commit and reads them back; the commit is written out in
 * pieces SQLite's file takes (less than 128 KiB each). */
static void test_spilled_pages_read_back(void **state)
{
    sqlite3 *db, *other;

    (void)state;
    fresh_pair(&db, &other, 20);
    exec(db, "BEGIN");
    add_rows(db, 0, 500);
    assert_int_equal(one(db, "SELECT sum(length(b)) FROM t"), 500 * 3000);
    exec(db, "UPDATE t SET b = randomblob(2000) WHERE k % 2 = 0");
    assert_int_equal(one(db, "SELECT sum(length(b)) FROM t"), 250 * 3000 + 250 * 2000);
    assert_int_equal(one(other, "SELECT count(*) FROM t"), 0);
    commit(db);
    assert_int_equal(one(other, "SELECT sum(length(b)) FROM t"), 250 * 3000 + 250 * 2000);
    integrity(other);
    sqlite3_close(other);
    sqlite3_close(db);
}

/* A rolled back transaction (spilled too) leaves nothing; the next one,
 * written over its frames, is whole; so is a WAL started again after a
 * checkpoint that emptied it.  After the rollback another writer (SQLite's
 * own files) commits at the offsets the rolled back frames had: nothing of
 * those may reach the file after it, whatever the first connection does
 * next. */
static void test_rollback_and_restart(void **state)
{
    sqlite3 *db, *other;

    (void)state;
    fresh_pair(&db, &other, 20);
    add_tx(db, 0, 10);
    exec(db, "BEGIN IMMEDIATE");
    add_rows(db, 100, 300);
    exec(db, "ROLLBACK");
    add_tx(other, 500, 300);
    assert_int_equal(one(db, "SELECT count(*) FROM t"), 310);
    add_tx(db, 1000, 50);
    assert_int_equal(one(other, "SELECT count(*) FROM t"), 360);
    exec(other, "PRAGMA wal_checkpoint(TRUNCATE)");
    add_tx(db, 2000, 5);
    add_tx(db, 3000, 200);
    assert_int_equal(one(other, "SELECT count(*) FROM t"), 565);
    integrity(other);
    sqlite3_close(db);
    sqlite3_close(other);
    db = open_db(NULL, 2000);           /* from the files alone */
    assert_int_equal(one(db, "SELECT count(*) FROM t"), 565);
    integrity(db);
    sqlite3_close(db);
}

/* A fresh table t with rows rows committed, then a child process: the
 * child gets 0 and *fd, the end of a pipe to write to its parent; the
 * parent gets the child's pid and *fd, the end to read. */
static pid_t fork_child(int rows, int *fd)
{
    int fds[2];
    pid_t pid;
    sqlite3 *db;

    fresh();
    db = open_db(uh_sq_vfs(), 20);
    exec(db, "CREATE TABLE t (k INTEGER PRIMARY KEY, b BLOB)");
    if (rows)
        add_tx(db, 0, rows);
    sqlite3_close(db);
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    close(fds[pid == 0 ? 0 : 1]);
    *fd = fds[pid == 0 ? 1 : 0];
    return pid;
}

/* A child commits batches of 5 rows, telling the parent after each
 * commit, and is killed in the middle: the database opened again has
 * every batch it was told of (one more at most, committed as the kill
 * came), whole. */
static void test_killed_in_the_middle(void **state)
{
    int fd;
    pid_t pid;
    long told = 0, got;
    char c;
    sqlite3 *db;

    (void)state;
    if ((pid = fork_child(0, &fd)) == 0) {
        db = open_db(uh_sq_vfs(), 20);
        for (int i = 0;; i++) {
            add_tx(db, i * 5, 5);
            if (write(fd, "x", 1) != 1)
                _exit(1);
        }
    }
    while (told < 200 && read(fd, &c, 1) == 1)
        told++;
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    while (read(fd, &c, 1) == 1)        /* the ones told meanwhile */
        told++;
    close(fd);
    db = open_db(NULL, 2000);
    got = (long)one(db, "SELECT count(*) FROM t");
    print_message("batches told: %ld, rows found: %ld\n", told, got);
    assert_true(got % 5 == 0);
    assert_true(got / 5 >= told && got / 5 <= told + 1);
    integrity(db);
    sqlite3_close(db);
}

/* A transaction that spilled pages into the WAL and wrote one of them
 * again has its frames' checksums rewritten at its commit
 * (walRewriteChecksums: each frame header written again, the commit
 * frame's last).  The child commits such a transaction, says so and is
 * killed with nothing more done: the database opened again (recovered
 * from the WAL, whose checksums must hold) has the commit. */
static void test_killed_after_rewritten_checksums(void **state)
{
    int fd;
    pid_t pid;
    char c;
    sqlite3 *db;

    (void)state;
    if ((pid = fork_child(10, &fd)) == 0) {
        db = open_db(uh_sq_vfs(), 20);
        exec(db, "BEGIN IMMEDIATE");
        add_rows(db, 100, 300);
        exec(db, "UPDATE t SET b = randomblob(2000) WHERE k % 2 = 0");
        commit(db);
        if (write(fd, "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    assert_int_equal(read(fd, &c, 1), 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    close(fd);
    db = open_db(NULL, 2000);
    assert_int_equal(one(db, "SELECT count(*) FROM t"), 310);
    integrity(db);
    sqlite3_close(db);
}

static void copy_file(const char *from, const char *to)
{
    char buf[65536];
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    size_t n;

    assert_non_null(a);
    assert_non_null(b);
    while ((n = fread(buf, 1, sizeof buf, a)) > 0)
        assert_int_equal(fwrite(buf, 1, n, b), n);
    fclose(a);
    assert_int_equal(fclose(b), 0);
}

/* The same rewritten commit, then another connection checkpoints, starts
 * the WAL again and commits over it; the first connection then reads.
 * The files as they are then (the database and its WAL, copied while no
 * one writes, as a crash would leave them) hold every commit. */
static void test_rewritten_checksums_then_restart(void **state)
{
    sqlite3 *a, *b, *c;
    char wal[320], copy[320], copy_wal[330];

    (void)state;
    fresh();
    a = open_db(uh_sq_vfs(), 20);
    b = open_db(NULL, 2000);
    exec(a, "CREATE TABLE t (k INTEGER PRIMARY KEY, b BLOB)");
    add_tx(a, 0, 10);
    exec(a, "BEGIN IMMEDIATE");
    add_rows(a, 100, 300);
    exec(a, "UPDATE t SET b = randomblob(2000) WHERE k % 2 = 0");
    commit(a);
    exec(b, "PRAGMA wal_checkpoint(TRUNCATE)");
    for (int i = 0; i < 40; i++)
        add_rows(b, 1000 + i * 10, 10);
    assert_int_equal(one(a, "SELECT count(*) FROM t"), 710);
    add_rows(b, 5000, 10);
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(copy, sizeof copy, "%s/copy.db", dir);
    snprintf(copy_wal, sizeof copy_wal, "%s-wal", copy);
    copy_file(path, copy);
    copy_file(wal, copy_wal);
    assert_int_equal(sqlite3_open_v2(copy, &c, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(one(c, "SELECT count(*) FROM t"), 720);
    integrity(c);
    sqlite3_close(c);
    sqlite3_close(a);
    sqlite3_close(b);
}

/* The same rewrite in a commit of more frames than the buffer keeps
 * (256 KiB: some 60 frames of 4 KiB pages), whichever frame the buffer
 * fills at: the commit frame's rewritten header, the last write of the
 * commit with no read after it, reaches the file all the same, and the
 * files as they are when the commit returns (as a kill would leave them)
 * hold it. */
static void test_rewritten_checksums_large_commit(void **state)
{
    char wal[320], copy[320], copy_wal[330];
    int lost = 0;

    (void)state;
    snprintf(wal, sizeof wal, "%s-wal", path);
    snprintf(copy, sizeof copy, "%s/copy.db", dir);
    snprintf(copy_wal, sizeof copy_wal, "%s-wal", copy);
    /* the commit's new frames are about as many as the cache's pages */
    for (int cache = 60; cache <= 135; cache++) {
        const int n = 300;
        sqlite3 *a, *c;
        long long got;

        fresh();
        a = open_db(uh_sq_vfs(), cache);
        exec(a, "CREATE TABLE t (k INTEGER PRIMARY KEY, b BLOB)");
        add_tx(a, 0, 10);
        exec(a, "BEGIN IMMEDIATE");
        add_rows(a, 100, n);
        exec(a, "UPDATE t SET b = randomblob(2000) WHERE k < 110");
        commit(a);
        copy_file(path, copy);
        copy_file(wal, copy_wal);
        assert_int_equal(sqlite3_open_v2(copy, &c, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
        got = one(c, "SELECT count(*) FROM t");
        if (got != 10 + n) {
            print_message("cache %d: %lld rows of %d found after the commit\n", cache, got, 10 + n);
            lost++;
        }
        sqlite3_close(c);
        unlink(copy_wal);
        unlink(copy);
        sqlite3_close(a);
    }
    assert_int_equal(lost, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_commit_is_one_write),
        cmocka_unit_test(test_spilled_pages_read_back),
        cmocka_unit_test(test_rollback_and_restart),
        cmocka_unit_test(test_killed_in_the_middle),
        cmocka_unit_test(test_killed_after_rewritten_checksums),
        cmocka_unit_test(test_rewritten_checksums_then_restart),
        cmocka_unit_test(test_rewritten_checksums_large_commit),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
