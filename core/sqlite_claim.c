/*
 * sqlite_claim.c -- the SQLite store's claims (sqlite_db.h): due rows read
 * and marked for an owner in one transaction, and the earliest time any
 * pending row may be claimed.  A claim is a row of the table claims
 * (migration 8); unclaimed rows are found through instances_wake (a
 * look-up in claims skips the claimed ones), those whose claim's lease
 * ended by reading claims, which holds the rows in flight alone.
 */

#include "sqlite_db.h"

/* Claim the rows whose rowids are in the JSON array ids (a lapsed claim
 * is replaced). */
static int mark_claimed(uh_store *s, const char *ids, const char *owner,
                        double lease)
{
    sqlite3_stmt *st = uh_sq_prep(s,
        "INSERT OR REPLACE INTO claims (rid, owner, lease_end)"
        " SELECT value, ?1, ?2 FROM json_each(?3)");
    int rc;

    if (!st)
        return UNHOOK_STORE;
    uh_sq_bind_text(st, 1, owner);
    sqlite3_bind_double(st, 2, lease);
    uh_sq_bind_text(st, 3, ids);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "claim");
    uh_sq_release(st);
    return rc;
}

/* Appends the rowid r to the JSON array being built in b. */
static void add_rowid(uh_buf *b, long long r, int first)
{
    char d[24];
    int k = (int)sizeof d;

    do
        d[--k] = (char)('0' + r % 10);
    while ((r /= 10) > 0);
    if (!first)
        d[--k] = ',';
    uh_buf_add(b, d + k, sizeof d - (size_t)k);
}

/* head, f's conditions (their values into vals from *nv on), tail:
 * prepared (cached), or NULL. */
static sqlite3_stmt *prep_filtered(uh_store *s, const char *head, const char *tail,
                                   const unhook_filter *f, const char **vals, int *nv)
{
    uh_buf sql = {0};
    sqlite3_stmt *st;

    uh_buf_puts(&sql, head);
    uh_sql_filter(&sql, '?', f, vals, nv);
    uh_buf_puts(&sql, tail);
    st = sql.oom ? NULL : uh_sq_prep(s, sql.data);
    uh_buf_free(&sql);
    return st;
}

/* Reads the rows of "SELECT ... WHERE ..." head (?1: now) that f matches,
 * in order, up to max in all into out[*n...], their rowids into ids. */
static int claim_rows(uh_store *s, const char *head, const char *order,
                      const unhook_filter *f, double now, int max,
                      uh_inst *out, int *n, uh_buf *ids)
{
    sqlite3_stmt *st;
    const char *vals[8];
    int rc, nv = 2;

    st = prep_filtered(s, head, order, f, vals, &nv);
    if (!st)
        return UNHOOK_STORE;
    sqlite3_bind_double(st, 1, now);
    sqlite3_bind_int(st, 2, max - *n);
    uh_sq_bind_texts(st, vals, 2, nv);
    rc = SQLITE_DONE;
    while (*n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        uh_sq_read_inst(st, &out[*n]);
        out[*n].row = sqlite3_column_int64(st, 17);
        add_rowid(ids, out[*n].row, ids->len == 1);
        ++*n;
    }
    uh_sq_release(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? UNHOOK_OK : uh_sq_fail(s, "claim");
}

/*
 * Due rows, read and marked in one transaction: first those whose
 * claim's lease ended (seldom any), then the first unclaimed ones of
 * instances_wake.  Three statements whatever the batch.
 */
static int claim_in_tx(uh_store *s, const unhook_filter *f, double now,
                       const char *owner, double lease, int max, uh_inst *out, int *n);

int uh_sq_claim(uh_store *s, const unhook_filter *f, double now,
                    const char *owner, double lease, int max, uh_inst *out, int *n)
{
    int rc;

    *n = 0;
    /* A claim is committed without waiting for the disk: it writes only
     * who holds the rows and until when, which a crash of this process
     * leaves to the reaper (or the lease) and a power loss may lose with
     * no harm (the intent, committed with FULL before, is what a restart
     * resumes).  In WAL mode the next FULL commit syncs its frames too.
     * (SQLite changes the level only outside a transaction.) */
    if ((rc = uh_sq_run(s, "PRAGMA synchronous = NORMAL")) != UNHOOK_OK)
        return rc;
    rc = claim_in_tx(s, f, now, owner, lease, max, out, n);
    if (uh_sq_run(s, "PRAGMA synchronous = FULL") != UNHOOK_OK && rc == UNHOOK_OK) {
        while (*n > 0)
            uh_inst_clear(&out[--*n]);
        rc = UNHOOK_STORE;      /* the claims stand; their leases end */
    }
    return rc;
}

static int claim_in_tx(uh_store *s, const unhook_filter *f, double now,
                       const char *owner, double lease, int max, uh_inst *out, int *n)
{
    uh_buf ids = {0};
    int rc;

    if ((rc = uh_sq_begin(s)) != UNHOOK_OK)
        return rc;
    uh_buf_puts(&ids, "[");
    rc = claim_rows(s, "SELECT " UH_SQ_READ_COLS ", instances.rowid FROM claims"
                    " CROSS JOIN instances ON instances.rowid = rid WHERE lease_end <= ?1 AND "
                    UH_CLAIMABLE_SQL " AND next_attempt_at <= ?1",
                    " ORDER BY lease_end LIMIT ?2", f, now, max, out, n, &ids);
    if (rc == UNHOOK_OK && *n < max)
        rc = claim_rows(s, "SELECT " UH_SQ_READ_COLS ", instances.rowid FROM instances"
                        " INDEXED BY instances_wake LEFT JOIN claims ON rid = instances.rowid"
                        " WHERE " UH_CLAIMABLE_SQL " AND next_attempt_at <= ?1"
                        " AND rid IS NULL",
                        " ORDER BY next_attempt_at LIMIT ?2", f, now, max, out, n, &ids);
    uh_buf_puts(&ids, "]");
    if (rc == UNHOOK_OK && ids.oom)
        rc = UNHOOK_NOMEM;
    if (rc == UNHOOK_OK && (*n == 0 || (rc = mark_claimed(s, ids.data, owner, lease)) == UNHOOK_OK))
        rc = uh_sq_commit(s);
    uh_buf_free(&ids);
    if (rc == UNHOOK_OK)
        return UNHOOK_OK;
    uh_sq_rollback(s);
    while (*n > 0)
        uh_inst_clear(&out[--*n]);
    return rc;
}

/* The earliest wake (SQ_WAKE) of pending rows of f in one of the indexes
 * (sql: the SELECT of it up to its WHERE's filter); *found says if any. */
static int next_in(uh_store *s, const char *sql_head, const char *tail,
                   const unhook_filter *f, double *when, int *found)
{
    sqlite3_stmt *st;
    const char *vals[4];
    int rc, nv = 0;

    st = prep_filtered(s, sql_head, tail, f, vals, &nv);
    if (!st)
        return UNHOOK_STORE;
    uh_sq_bind_texts(st, vals, 0, nv);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL &&
        (!*found || sqlite3_column_double(st, 0) < *when)) {
        *when = sqlite3_column_double(st, 0);
        *found = 1;
    }
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "next");
    uh_sq_release(st);
    return rc;
}

int uh_sq_next_due(uh_store *s, const unhook_filter *f, double *when)
{
    int found = 0, rc;

    *when = 0;
    if ((rc = uh_sq_send_freed(s)) != UNHOOK_OK)
        return rc;
    rc = next_in(s, "SELECT next_attempt_at FROM instances INDEXED BY instances_wake"
                 " LEFT JOIN claims ON rid = instances.rowid WHERE " UH_CLAIMABLE_SQL
                 " AND rid IS NULL"
                 " AND state IN ('deregistering', 'registering')",
                 " ORDER BY next_attempt_at LIMIT 1", f, when, &found);
    if (rc == UNHOOK_OK)
        rc = next_in(s, "SELECT MIN(" SQ_WAKE ") FROM claims CROSS JOIN instances"
                     " ON instances.rowid = rid WHERE " UH_CLAIMABLE_SQL
                     " AND state IN ('deregistering', 'registering')", "", f, when, &found);
    return rc;
}
