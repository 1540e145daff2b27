/*
 * store_sqlite.c -- the embedded store: one SQLite file in WAL mode.
 * Writers serialise on BEGIN IMMEDIATE with a busy timeout, so several
 * unhook processes can share one file; claims keep them off each other's
 * instances.  The connection and its statement cache are sqlite_db.c,
 * the schema and its migrations sqlite_schema.c, transactions
 * sqlite_tx.c, claims sqlite_claim.c, history sqlite_history.c, the
 * OAuth2 token rows sqlite_tokens.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "sqlite_db.h"

#define INST_COLS "id, connector, event, options, connection, registration, " \
                  "desired, state, reason, last_error, attempts, "           \
                  "next_attempt_at, created_at, updated_at, expires_at"
/* Run one statement with one text argument. */
static int run1(uh_store *s, const char *sql, const char *arg)
{
    sqlite3_stmt *st = uh_sq_prep(s, sql);
    int rc;

    if (!st)
        return UNHOOK_STORE;
    uh_sq_bind_text(st, 1, arg);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, sql);
    uh_sq_release(st);
    return rc;
}

/* The claim of instance id, if any, released: before the row is deleted
 * or replaced (a new row has a new rowid), so that none is left behind. */
static int drop_claim(uh_store *s, const char *id)
{
    int rc = uh_sq_send_freed(s);

    return rc != UNHOOK_OK ? rc : run1(s, "DELETE FROM claims WHERE rid ="
                                          " (SELECT rowid FROM instances WHERE id = ?)", id);
}

static int sq_get(uh_store *s, const char *id, uh_inst *out)
{
    sqlite3_stmt *st = uh_sq_prep(s, "SELECT " UH_SQ_READ_COLS " FROM " SQ_FROM " WHERE id = ?");
    int rc;

    memset(out, 0, sizeof *out);
    if (!st || uh_sq_send_freed(s) != UNHOOK_OK)
        return UNHOOK_STORE;
    uh_sq_bind_text(st, 1, id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        uh_sq_read_inst(st, out);
        rc = UNHOOK_OK;
    } else if (rc == SQLITE_DONE) {
        snprintf(s->errmsg, sizeof s->errmsg, "no instance '%s'", id);
        rc = UNHOOK_NOTFOUND;
    } else {
        rc = uh_sq_fail(s, "get");
    }
    uh_sq_release(st);
    return rc;
}

static int sq_put(uh_store *s, const uh_inst *i)
{
    sqlite3_stmt *st = uh_sq_prep(s,
        "INSERT OR REPLACE INTO instances (" INST_COLS ", claim_owner, claimed_until)"
        " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,NULL,0)");
    int rc;

    if (!st || (rc = drop_claim(s, i->id)) != UNHOOK_OK)
        return UNHOOK_STORE;
    uh_sq_bind_text(st, 1, i->id);
    uh_sq_bind_text(st, 2, i->connector);
    uh_sq_bind_text(st, 3, i->event);
    uh_sq_bind_text(st, 4, i->options ? i->options : "{}");
    uh_sq_bind_text(st, 5, i->connection);
    uh_sq_bind_text(st, 6, i->registration);
    uh_sq_bind_text(st, 7, uh_desired_name(i->desired));
    uh_sq_bind_text(st, 8, uh_state_name(i->state));
    uh_sq_bind_text(st, 9, i->reason);
    uh_sq_bind_text(st, 10, i->last_error);
    sqlite3_bind_int(st, 11, i->attempts);
    sqlite3_bind_double(st, 12, i->next_attempt_at);
    sqlite3_bind_double(st, 13, i->created_at);
    sqlite3_bind_double(st, 14, i->updated_at);
    sqlite3_bind_double(st, 15, i->expires_at);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "put");
    uh_sq_release(st);
    return rc;
}

/* " AND state = ?N..." for f, and its values bound from n + 1. */
static int filter(uh_buf *b, const unhook_filter *f, const char **vals, int n)
{
    uh_sql_filter(b, '?', f, vals, &n);
    return n;
}

static int sq_list(uh_store *s, const unhook_filter *f, uh_inst_fn fn, void *ud)
{
    uh_buf sql = {0};
    sqlite3_stmt *st;
    int rc;

    const char *vals[4];
    int n;

    uh_buf_puts(&sql, "SELECT " UH_SQ_READ_COLS " FROM " SQ_FROM " WHERE 1");
    n = filter(&sql, f, vals, 0);
    uh_buf_puts(&sql, " ORDER BY id");
    st = uh_sq_prep(s, sql.data);
    uh_buf_free(&sql);
    if (!st || uh_sq_send_freed(s) != UNHOOK_OK)
        return UNHOOK_STORE;
    uh_sq_bind_texts(st, vals, 0, n);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        uh_inst i;
        int stop;
        uh_sq_read_inst(st, &i);
        stop = fn(ud, &i);
        uh_inst_clear(&i);
        if (stop) {
            rc = SQLITE_DONE;
            break;
        }
    }
    rc = rc == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "list");
    uh_sq_release(st);
    return rc;
}

static int sq_intent(uh_store *s, const uh_inst *i)
{
    sqlite3_stmt *st = uh_sq_prep(s,
        "UPDATE instances SET desired = ?, reason = ?, state = ?, attempts = ?,"
        " next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?");
    int rc;

    if (!st)
        return UNHOOK_STORE;
    uh_sq_bind_text(st, 1, uh_desired_name(i->desired));
    uh_sq_bind_text(st, 2, i->reason);
    uh_sq_bind_text(st, 3, uh_state_name(i->state));
    sqlite3_bind_int(st, 4, i->attempts);
    sqlite3_bind_double(st, 5, i->next_attempt_at);
    uh_sq_bind_text(st, 6, i->last_error);
    sqlite3_bind_double(st, 7, i->updated_at);
    uh_sq_bind_text(st, 8, i->id);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "intent");
    uh_sq_release(st);
    return rc;
}

#define FINISH_SET "state = ?, registration = ?, attempts = ?," \
    " next_attempt_at = ?, last_error = ?, updated_at = ?, expires_at = ?"
/* owner (?9) holds the row's claim (migration 8's table claims) */
#define FINISH_HELD " AND EXISTS (SELECT 1 FROM claims WHERE rid = instances.rowid" \
    " AND owner = ?9)"

/* After an outcome of i was not written: UH_CAS_CHANGED if owner's claim
 * still holds (then desired changed), else UH_CAS_LOST. */
static int not_written(uh_store *s, const uh_inst *i, const char *owner, int *cas)
{
    sqlite3_stmt *st = uh_sq_prep(s, "SELECT 1 FROM instances JOIN claims ON rid = instances.rowid"
                                  " WHERE id = ? AND owner = ?");
    int rc;

    *cas = UH_CAS_LOST;
    if (!st || uh_sq_send_freed(s) != UNHOOK_OK)
        return UNHOOK_STORE;
    uh_sq_bind_text(st, 1, i->id);
    uh_sq_bind_text(st, 2, owner);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *cas = UH_CAS_CHANGED;
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "finish");
    uh_sq_release(st);
    return rc;
}

/* i's new values (all but its id and row) as parameters 1 to 7. */
static void bind_set(sqlite3_stmt *st, const uh_inst *i, double now)
{
    uh_sq_bind_text(st, 1, uh_state_name(i->state));
    uh_sq_bind_text(st, 2, i->registration);
    sqlite3_bind_int(st, 3, i->attempts);
    sqlite3_bind_double(st, 4, i->next_attempt_at);
    uh_sq_bind_text(st, 5, i->last_error);
    sqlite3_bind_double(st, 6, now);
    sqlite3_bind_double(st, 7, i->expires_at);
}

/* i's outcome as parameters 1 to 8 and 10 of FINISH_SET's UPDATE, its
 * row (if any) as 11. */
static void bind_finish(sqlite3_stmt *st, const uh_inst *i, double now)
{
    bind_set(st, i, now);
    uh_sq_bind_text(st, 8, i->id);
    uh_sq_bind_text(st, 10, uh_desired_name(i->desired));
    if (i->row > 0)
        sqlite3_bind_int64(st, 11, i->row);
}

/* A row claimed here is found by its rowid (the id checked as well): no
 * walk of the id's index. */
static int sq_finish(uh_store *s, const uh_inst *i, const char *owner,
                     double now, int *cas)
{
    sqlite3_stmt *st = uh_sq_prep(s, i->row > 0
        ? "UPDATE instances SET " FINISH_SET
          " WHERE rowid = ?11 AND id = ?8 AND desired = ?10" FINISH_HELD
        : "UPDATE instances SET " FINISH_SET
          " WHERE id = ?8 AND desired = ?10" FINISH_HELD);
    int rc;

    *cas = UH_CAS_OK;
    if (!st)
        return UNHOOK_STORE;
    bind_finish(st, i, now);
    uh_sq_bind_text(st, 9, owner);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "finish");
    if (rc == UNHOOK_OK && sqlite3_changes(SQ(s)->db) == 0)
        *cas = UH_CAS_LOST;
    uh_sq_release(st);
    if (rc == UNHOOK_OK && *cas == UH_CAS_OK)    /* written: the claim goes */
        return i->row > 0 ? uh_sq_free_claim(s, i->row) : drop_claim(s, i->id);
    if (rc != UNHOOK_OK)
        return rc;
    return not_written(s, i, owner, cas);
}

/* i's outcome written to the row a claim read, if desired is still
 * i->desired there (*written), its claim not looked at. */
static int write_row(uh_store *s, const uh_inst *i, double now, int *written)
{
    sqlite3_stmt *st = uh_sq_prep(s, "UPDATE instances SET " FINISH_SET
                                  " WHERE rowid = ?11 AND id = ?8 AND desired = ?10");
    int rc;

    *written = 0;
    if (!st)
        return UNHOOK_STORE;
    bind_finish(st, i, now);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "finish");
    *written = rc == UNHOOK_OK && sqlite3_changes(SQ(s)->db) > 0;
    uh_sq_release(st);
    return rc;
}

/* The claims of owner on the rows in the JSON array ids deleted: *n how
 * many. */
static int delete_claims(uh_store *s, const char *ids, const char *owner, int *n)
{
    sqlite3_stmt *st = uh_sq_prep(s, "DELETE FROM claims WHERE rid IN"
                                  " (SELECT value FROM json_each(?1)) AND owner = ?2");
    int rc;

    *n = 0;
    if (!st)
        return UNHOOK_STORE;
    uh_sq_bind_text(st, 1, ids);
    uh_sq_bind_text(st, 2, owner);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "finish");
    *n = rc == UNHOOK_OK ? sqlite3_changes(SQ(s)->db) : 0;
    uh_sq_release(st);
    return rc;
}

static int same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* a and b write the same values (FINISH_SET's, desired): one UPDATE. */
static int same_set(const uh_inst *a, const uh_inst *b)
{
    return a->state == b->state && a->desired == b->desired &&
           a->attempts == b->attempts && a->next_attempt_at == b->next_attempt_at &&
           a->expires_at == b->expires_at && same_text(a->registration, b->registration) &&
           same_text(a->last_error, b->last_error);
}

/*
 * The UPDATE of up to m rows (m a power of two, 2 to SQ_SET_MAX) that
 * take the same values: FINISH_SET's 1 to 7, desired as ?8, each row's
 * rowid and id as the pair ?(9 + 2k), ?(10 + 2k); the pairs not used
 * stay NULL and match nothing.  A row is written when it is one of the
 * rowids and still holds the id read with it, as write_row's is.
 * Prepared once for each m, kept (the cache owns it).
 */
static sqlite3_stmt *set_stmt(uh_store *s, int m)
{
    sq_store *q = SQ(s);
    uh_buf sql = {0};
    int ix = 0;

    while ((2 << ix) < m)
        ix++;
    if (q->set_st[ix])
        return q->set_st[ix];
    uh_buf_puts(&sql, "UPDATE OR ROLLBACK instances SET " FINISH_SET " WHERE rowid IN (");
    for (int k = 0; k < m; k++)
        uh_buf_printf(&sql, "%s?%d", k ? "," : "", 9 + 2 * k);
    uh_buf_puts(&sql, ") AND desired = ?8 AND id = CASE rowid");
    for (int k = 0; k < m; k++)
        uh_buf_printf(&sql, " WHEN ?%d THEN ?%d", 9 + 2 * k, 10 + 2 * k);
    uh_buf_puts(&sql, " END");
    if (sql.oom)
        snprintf(s->errmsg, sizeof s->errmsg, "store: out of memory");
    else
        q->set_st[ix] = uh_sq_prep(s, sql.data);
    uh_buf_free(&sql);
    return q->set_st[ix];
}

/* The m outcomes of g (2 or more, rows read by a claim) that take the
 * same values, written in one UPDATE: *written how many rows. */
static int write_rows(uh_store *s, const uh_inst *const *g, int m, double now,
                      int *written)
{
    int size = 2;
    sqlite3_stmt *st;
    int rc;

    *written = 0;
    while (size < m)
        size *= 2;
    if (!(st = set_stmt(s, size)))
        return UNHOOK_STORE;
    bind_set(st, g[0], now);
    uh_sq_bind_text(st, 8, uh_desired_name(g[0]->desired));
    for (int k = 0; k < m; k++) {
        sqlite3_bind_int64(st, 9 + 2 * k, g[k]->row);
        uh_sq_bind_text(st, 10 + 2 * k, g[k]->id);
    }
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "finish");
    *written = rc == UNHOOK_OK ? sqlite3_changes(SQ(s)->db) : 0;
    uh_sq_release(st);
    return rc;
}

/*
 * The common case of finish_many: the rows written without a look-up of
 * their claims, which one DELETE then checks (every row written held
 * owner's claim: *all).  Outcomes that take the same values (a bulk
 * disable's: off, no registration, no error) are written together, one
 * UPDATE for them all; one alone as write_row writes it, and if it is
 * not written (desired changed) it is judged by not_written as finish
 * would.  *all is 0 when a row was not read by a claim, a claim was not
 * owner's, or a row of a group was not written: the caller undoes the
 * batch.
 */
static int finish_fast(uh_store *s, const uh_inst *const *in, int n,
                       const char *owner, double now, int *cas, int *all)
{
    const uh_inst *g[SQ_SET_MAX];
    char taken[SQ_SET_MAX] = {0};
    uh_buf ids = {0};
    int rc = UNHOOK_OK, w, nw = 0, gone = 0;

    *all = n <= SQ_SET_MAX;
    for (int k = 0; *all && k < n; k++) {
        cas[k] = UH_CAS_OK;
        if (in[k]->row <= 0)
            *all = 0;
    }
    uh_buf_puts(&ids, "[");
    for (int k = 0; rc == UNHOOK_OK && *all && k < n; k++) {
        int m = 0;
        if (taken[k])
            continue;
        for (int j = k; j < n; j++)
            if (!taken[j] && same_set(in[k], in[j])) {
                taken[j] = 1;
                g[m++] = in[j];
            }
        if (m > 1) {
            if ((rc = write_rows(s, g, m, now, &w)) == UNHOOK_OK && w != m)
                *all = 0;
            for (int j = 0; j < m; j++)
                uh_sq_add_rowid(&ids, g[j]->row);
            nw += m;
        } else if ((rc = write_row(s, in[k], now, &w)) == UNHOOK_OK && w) {
            uh_sq_add_rowid(&ids, in[k]->row);
            nw++;
        } else if (rc == UNHOOK_OK) {
            rc = not_written(s, in[k], owner, &cas[k]);
        }
    }
    uh_buf_puts(&ids, "]");
    if (rc == UNHOOK_OK && ids.oom)
        rc = UNHOOK_NOMEM;
    if (rc == UNHOOK_OK && *all && nw > 0)
        rc = delete_claims(s, ids.data, owner, &gone);
    if (rc == UNHOOK_OK && nw > 0)
        *all = *all && gone == nw;
    uh_buf_free(&ids);
    return rc;
}

/*
 * finish for n outcomes, inside a savepoint: finish_fast, or when a row
 * is not its common case, the savepoint rolled back and every outcome
 * written by sq_finish.  Either way each cas[k] is what finish says.
 */
static int sq_finish_many(uh_store *s, const uh_inst *const *in, int n,
                          const char *owner, double now, int *cas)
{
    int rc, all = 0;

    /* the claims released before go first: a rollback to the savepoint
     * would undo their DELETE, which is sent once */
    if ((rc = uh_sq_send_freed(s)) != UNHOOK_OK ||
        (rc = uh_sq_run(s, "SAVEPOINT finish_many")) != UNHOOK_OK)
        return rc;
    rc = finish_fast(s, in, n, owner, now, cas, &all);
    if ((rc != UNHOOK_OK || !all) && uh_sq_run(s, "ROLLBACK TO finish_many") != UNHOOK_OK)
        rc = UNHOOK_STORE;
    if (uh_sq_run(s, "RELEASE finish_many") != UNHOOK_OK && rc == UNHOOK_OK)
        rc = UNHOOK_STORE;
    for (int k = 0; rc == UNHOOK_OK && !all && k < n; k++)
        rc = sq_finish(s, in[k], owner, now, &cas[k]);
    return rc;
}

/* The claims of the rows b and f match get a lease that has ended (the
 * owner is kept, as uh_sql_bulk's claimed_until = 0 does elsewhere); run
 * before the UPDATE, whose WHERE reads the rows as they were. */
static int end_leases(uh_store *s, const uh_bulk *b, const unhook_filter *f)
{
    uh_buf sql = {0};
    const char *vals[8];
    sqlite3_stmt *st;
    int rc, n = 0;

    uh_buf_puts(&sql, "UPDATE OR ROLLBACK claims SET lease_end = 0 WHERE rid IN"
                " (SELECT rowid FROM instances");
    uh_sql_bulk_where(&sql, '?', b, f, vals, &n);
    uh_buf_puts(&sql, ")");
    st = sql.oom ? NULL : uh_sq_prep(s, sql.data);
    uh_buf_free(&sql);
    if (!st || uh_sq_send_freed(s) != UNHOOK_OK)
        return UNHOOK_STORE;
    uh_sq_bind_texts(st, vals, 0, n);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "update");
    uh_sq_release(st);
    return rc;
}

/* One UPDATE for a set-based transition; its text is cached like any. */
static int sq_bulk(uh_store *s, const uh_bulk *b, const unhook_filter *f,
                   double now, long *count)
{
    uh_buf sql = {0};
    const char *vals[12];
    sqlite3_stmt *st;
    int rc, n;

    if (b->unclaim && (rc = end_leases(s, b, f)) != UNHOOK_OK)
        return rc;
    uh_sql_bulk(&sql, '?', b, f, vals, &n);
    st = sql.oom ? NULL : uh_sq_prep(s, sql.data);
    uh_buf_free(&sql);
    if (!st)
        return UNHOOK_STORE;
    uh_sq_bind_text(st, 1, vals[0]);
    sqlite3_bind_double(st, 2, now);
    uh_sq_bind_texts(st, vals, 2, n);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "update");
    if (count)
        *count = sqlite3_changes(SQ(s)->db);
    uh_sq_release(st);
    return rc;
}

static int sq_owners(uh_store *s, double now, uh_owner_fn fn, void *ud)
{
    sqlite3_stmt *st = uh_sq_prep(s, "SELECT DISTINCT owner FROM claims WHERE lease_end > ?");
    int rc;

    if (!st || uh_sq_send_freed(s) != UNHOOK_OK)
        return UNHOOK_STORE;
    sqlite3_bind_double(st, 1, now);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        fn(ud, (const char *)sqlite3_column_text(st, 0));
    rc = rc == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "owners");
    uh_sq_release(st);
    return rc;
}

static int sq_release(uh_store *s, const char *owner)
{
    int rc = uh_sq_send_freed(s);

    return rc != UNHOOK_OK ? rc : run1(s, "DELETE FROM claims WHERE owner = ?", owner);
}

static int sq_unclaim(uh_store *s, const char *id)
{
    return drop_claim(s, id);
}

static int sq_remove(uh_store *s, const char *id)
{
    int rc = drop_claim(s, id);

    if (rc == UNHOOK_OK)
        rc = run1(s, "DELETE FROM instances WHERE id = ?", id);
    if (rc == UNHOOK_OK && sqlite3_changes(SQ(s)->db) == 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "no instance '%s'", id);
        rc = UNHOOK_NOTFOUND;
    }
    return rc;
}

static void sq_close(uh_store *s)
{
    if (!s)
        return;
    uh_sq_sync_stop(SQ(s));     /* its last sync first */
    uh_sq_close(SQ(s));
    free(s);
}

static const uh_store_ops sq_ops = {
    uh_sq_begin, uh_sq_commit, uh_sq_rollback, sq_get, sq_put, sq_intent, sq_finish,
    sq_list, uh_sq_history_add, uh_sq_history_list, sq_bulk, uh_sq_claim, sq_unclaim,
    sq_owners, sq_release, sq_remove, uh_sq_next_due, sq_close, uh_sq_token_get,
    uh_sq_token_cas,
    NULL, NULL, sq_finish_many,     /* renew, wait, finish_many */
    uh_sq_history_bulk, uh_sq_begin_lazy, uh_sq_commit_lazy, uh_sq_durable,
};

/*
 * Another connection holds the write lock: wait for it in short steps, up
 * to 30 s in all, by the clock (a loaded machine's sleeps last longer than
 * asked).  SQLite's own handler sleeps a millisecond and more at once;
 * another thread of the same process (a team, team.c) commits every few
 * milliseconds and holds the lock a fraction of one.
 */
#define BUSY_S 30.0
static int busy_wait(void *ud, int n)
{
    sq_store *q = ud;
    double now = uh_now();

    if (n == 0)
        q->busy_since = now;
    if (now - q->busy_since >= BUSY_S)
        return 0;
    usleep(n < 40 ? 100 : 2000);        /* the first 4 ms: 100 us steps */
    return 1;
}

/*
 * The connection's settings and the schema.  Two connections setting up
 * one new file at once (serve's two engines) may find it locked where
 * SQLite does not wait (a switch to WAL, a reader that would have to
 * wait for a writer that waits for it): the set-up is tried again, until
 * BUSY_S.
 */
static int set_up(uh_store *s, const char *path)
{
    double t0 = uh_now();
    int rc;

    for (;;) {
        if ((rc = uh_sq_exec(s, "PRAGMA journal_mode = WAL")) == UNHOOK_OK &&
            (rc = uh_sq_exec(s, "PRAGMA synchronous = FULL")) == UNHOOK_OK &&
            (rc = uh_sq_exec(s, "PRAGMA foreign_keys = ON")) == UNHOOK_OK &&
            (rc = uh_sq_exec(s, "PRAGMA cache_size = -8192")) == UNHOOK_OK &&
            (rc = uh_sq_migrate(s, path)) == UNHOOK_OK)
            return UNHOOK_OK;
        if ((sqlite3_errcode(SQ(s)->db) & 0xff) != SQLITE_BUSY || uh_now() - t0 >= BUSY_S)
            return rc;
        if (!sqlite3_get_autocommit(SQ(s)->db))
            uh_sq_rollback(s);
        usleep(10000);
    }
}

int uh_store_sqlite_open(const char *path, uh_store **out, char *err, size_t errsz)
{
    sq_store *q = calloc(1, sizeof *q);
    uh_store *s = &q->base;
    int rc;

    *out = NULL;
    if (!q) {
        snprintf(err, errsz, "out of memory");
        return UNHOOK_NOMEM;
    }
    s->ops = &sq_ops;
    snprintf(q->path, sizeof q->path, "%s", path);
    /* NOMUTEX: an engine, and so its store, is used by one thread at a
     * time (unhook.h); SQLite's own locking of every call is not needed */
    if (sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                        SQLITE_OPEN_NOMUTEX, uh_sq_vfs()) != SQLITE_OK) {
        snprintf(err, errsz, "%s: cannot open the database: %s", path,
                 q->db ? sqlite3_errmsg(q->db) : "out of memory");
        sq_close(s);
        return UNHOOK_STORE;
    }
    sqlite3_busy_handler(q->db, busy_wait, q);
    /* WAL: readers never block the writer; FULL: a commit survives power
     * loss, which is the promise made before each request is sent.  An
     * 8 MiB page cache (SQLite's default: 2 MiB): disable --all at
     * N=20,000 touches every page of instances and history in one
     * transaction, and read back many pages the default one had dropped
     * (pread64 7,148 -> 4,045 in strace of the whole run). */
    if ((rc = set_up(s, path)) != UNHOOK_OK) {
        snprintf(err, errsz, "%s", s->errmsg);
        sq_close(s);
        return rc;
    }
    uh_sq_sync_hook(q);
    *out = s;
    return UNHOOK_OK;
}
