/*
 * sqlite_history.c -- the SQLite store's history rows (sqlite_db.h): one
 * added (inside a transaction held, and written with the others before
 * the commit or before history is read, as PostgreSQL's are), an
 * instance's listed, and one for each instance a set-based transition
 * matches.
 */
#include <stdio.h>
#include <string.h>

#include "sqlite_db.h"

#define HIST_INSERT "INSERT INTO history (instance_id, at, action, outcome, status," \
                    " attempt, message, registration) VALUES "
#define HIST_ROW "(?,?,?,?,?,?,?,?)"

/* Binds h's values to parameters from + 1 .. from + 8. */
static void bind_row(sqlite3_stmt *st, int from, const unhook_history *h)
{
    uh_sq_bind_text(st, from + 1, h->instance_id);
    sqlite3_bind_double(st, from + 2, h->at);
    uh_sq_bind_text(st, from + 3, h->action);
    uh_sq_bind_text(st, from + 4, h->outcome);
    sqlite3_bind_int(st, from + 5, h->status);
    sqlite3_bind_int(st, from + 6, h->attempt);
    uh_sq_bind_text(st, from + 7, h->message);
    uh_sq_bind_text(st, from + 8, h->registration);
}

/* The INSERT of n rows (1 or SQ_HOLD_ROWS), prepared once. */
static sqlite3_stmt *insert_of(uh_store *s, int n)
{
    char sql[sizeof HIST_INSERT + SQ_HOLD_ROWS * sizeof "," HIST_ROW];
    size_t len = sizeof HIST_INSERT - 1;

    memcpy(sql, HIST_INSERT, len);
    for (int r = 0; r < n; r++) {
        if (r)
            sql[len++] = ',';
        memcpy(sql + len, HIST_ROW, sizeof HIST_ROW);
        len += sizeof HIST_ROW - 1;
    }
    return uh_sq_prep(s, sql);
}

/* Held row k as a history row; its texts point into the buffer. */
static unhook_history held_row(const sq_store *q, int k)
{
    const sq_held *r = &q->held[k];
    const char *t[5];
    unhook_history h;

    for (int i = 0; i < 5; i++)
        t[i] = r->text[i] < 0 ? NULL : q->held_text.data + r->text[i];
    h.instance_id = t[0], h.action = t[1], h.outcome = t[2];
    h.message = t[3], h.registration = t[4];
    h.at = r->at, h.status = r->status, h.attempt = r->attempt;
    return h;
}

/* Rows from .. from + n of those held, in one statement. */
static int send_rows(uh_store *s, int from, int n)
{
    sqlite3_stmt *st = insert_of(s, n);
    int rc;

    if (!st)
        return UNHOOK_STORE;
    for (int r = 0; r < n; r++) {
        unhook_history h = held_row(SQ(s), from + r);
        bind_row(st, r * 8, &h);
    }
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "history");
    uh_sq_release(st);
    return rc;
}

int uh_sq_send_held(uh_store *s)
{
    sq_store *q = SQ(s);
    int k = 0, rc = UNHOOK_OK;

    for (; rc == UNHOOK_OK && q->nheld - k >= SQ_HOLD_ROWS; k += SQ_HOLD_ROWS)
        rc = send_rows(s, k, SQ_HOLD_ROWS);
    for (; rc == UNHOOK_OK && k < q->nheld; k++)
        rc = send_rows(s, k, 1);
    uh_sq_drop_held(q);
    return rc;
}

void uh_sq_drop_held(sq_store *q)
{
    q->nheld = 0;
    q->held_text.len = 0;
}

/* Copies v into the text buffer: its offset, or -1 for NULL. */
static long keep_text(sq_store *q, const char *v)
{
    long at = (long)q->held_text.len;

    if (!v)
        return -1;
    uh_buf_add(&q->held_text, v, strlen(v) + 1);
    return at;
}

int uh_sq_history_add(uh_store *s, const unhook_history *h)
{
    sq_store *q = SQ(s);
    sq_held *r;
    sqlite3_stmt *st;
    int rc;

    if (q->in_tx) {
        if (q->nheld == SQ_HOLD_MAX && (rc = uh_sq_send_held(s)) != UNHOOK_OK)
            return rc;
        r = &q->held[q->nheld];
        r->text[0] = keep_text(q, h->instance_id);
        r->text[1] = keep_text(q, h->action);
        r->text[2] = keep_text(q, h->outcome);
        r->text[3] = keep_text(q, h->message);
        r->text[4] = keep_text(q, h->registration);
        r->at = h->at, r->status = h->status, r->attempt = h->attempt;
        if (q->held_text.oom) {
            snprintf(s->errmsg, sizeof s->errmsg, "store: out of memory");
            return UNHOOK_NOMEM;
        }
        q->nheld++;
        return UNHOOK_OK;
    }
    if (!(st = insert_of(s, 1)))
        return UNHOOK_STORE;
    bind_row(st, 0, h);
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

    if (!st || (rc = uh_sq_send_held(s)) != UNHOOK_OK)
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
    const char *vals[12];       /* 7 of its own, then up to 4 of the filter */
    sqlite3_stmt *st;
    int rc, n = 7;

    if ((rc = uh_sq_send_held(s)) != UNHOOK_OK)     /* rows keep their order */
        return rc;
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
