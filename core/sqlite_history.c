/*
 * sqlite_history.c -- the SQLite store's history rows (sqlite_db.h): one
 * added, an instance's listed, and one for each instance a set-based
 * transition matches.
 */
#include <stdio.h>

#include "sqlite_db.h"

int uh_sq_history_add(uh_store *s, const unhook_history *h)
{
    sqlite3_stmt *st = uh_sq_prep(s,
        "INSERT INTO history (instance_id, at, action, outcome, status, attempt,"
        " message, registration) VALUES (?,?,?,?,?,?,?,?)");
    int rc;

    if (!st)
        return UNHOOK_STORE;
    uh_sq_bind_text(st, 1, h->instance_id);
    sqlite3_bind_double(st, 2, h->at);
    uh_sq_bind_text(st, 3, h->action);
    uh_sq_bind_text(st, 4, h->outcome);
    sqlite3_bind_int(st, 5, h->status);
    sqlite3_bind_int(st, 6, h->attempt);
    uh_sq_bind_text(st, 7, h->message);
    uh_sq_bind_text(st, 8, h->registration);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "history");
    uh_sq_release(st);
    return rc;
}

int uh_sq_history_list(uh_store *s, const char *id, unhook_history_fn fn,
                       void *ud)
{
    sqlite3_stmt *st = uh_sq_prep(s,
        "SELECT instance_id, at, action, outcome, status, attempt, message,"
        " registration FROM history WHERE instance_id = ? ORDER BY seq");
    int rc;

    if (!st)
        return UNHOOK_STORE;
    uh_sq_bind_text(st, 1, id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        unhook_history h;
        h.instance_id = (const char *)sqlite3_column_text(st, 0);
        h.at = sqlite3_column_double(st, 1);
        h.action = (const char *)sqlite3_column_text(st, 2);
        h.outcome = (const char *)sqlite3_column_text(st, 3);
        h.status = sqlite3_column_int(st, 4);
        h.attempt = sqlite3_column_int(st, 5);
        h.message = (const char *)sqlite3_column_text(st, 6);
        h.registration = (const char *)sqlite3_column_text(st, 7);
        if (fn(ud, &h)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    rc = rc == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "history");
    uh_sq_release(st);
    return rc;
}

/* history_bulk: one INSERT ... SELECT of the rows b matches. */
int uh_sq_history_bulk(uh_store *s, const uh_bulk *b, const unhook_filter *f,
                       const unhook_history *h)
{
    uh_buf sql = {0};
    const char *vals[8];
    sqlite3_stmt *st;
    int rc, n = 7;

    uh_buf_puts(&sql, "INSERT INTO history (instance_id, at, action, outcome, status,"
                " attempt, message, registration)"
                " SELECT id, ?1, ?2, ?3, ?4, ?5, ?6, ?7 FROM instances");
    uh_sql_bulk_where(&sql, '?', b, f, vals, &n);
    st = sql.oom ? NULL : uh_sq_prep(s, sql.data);
    uh_buf_free(&sql);
    if (!st)
        return UNHOOK_STORE;
    sqlite3_bind_double(st, 1, h->at);
    uh_sq_bind_text(st, 2, h->action);
    uh_sq_bind_text(st, 3, h->outcome);
    sqlite3_bind_int(st, 4, h->status);
    sqlite3_bind_int(st, 5, h->attempt);
    uh_sq_bind_text(st, 6, h->message);
    uh_sq_bind_text(st, 7, h->registration);
    uh_sq_bind_texts(st, vals, 7, n);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "history");
    uh_sq_release(st);
    return rc;
}
