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

#define HIST_INSERT "INSERT OR ROLLBACK INTO history (instance_id, at, action, outcome, status," \
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

/* Whether two history lines differ in one text field. */
static int text_differs(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

/* Whether b[0] and b[1] match the same rows but for registration data
 * (b[0] with, b[1] without, or the reverse): then one scan writes the
 * lines of both. */
static int split_by_registration(const uh_bulk *b, int n)
{
    return n == 2 && b[0].from == b[1].from && b[0].desired == b[1].desired &&
           b[0].expiring == b[1].expiring && b[0].registered >= 0 &&
           b[1].registered == !b[0].registered;
}

/* ?k, or when the two lines differ there, the value of the line for rows
 * without registration data (?k + 7) or with it (?k). */
static void line_value(uh_buf *sql, int k, int differs)
{
    if (differs)
        uh_buf_printf(sql, "CASE WHEN registration IS NULL THEN ?%d ELSE ?%d END",
                      k + 7, k);
    else
        uh_buf_printf(sql, "?%d", k);
}

/* A line's values after its instance to ?from + 1 .. ?from + 7; with
 * only, those only where only[k] (1 .. 7) is set. */
static void bind_line(sqlite3_stmt *st, int from, const unhook_history *h,
                      const int *only)
{
    if (!only || only[1])
        sqlite3_bind_double(st, from + 1, h->at);
    if (!only || only[2])
        uh_sq_bind_text(st, from + 2, h->action);
    if (!only || only[3])
        uh_sq_bind_text(st, from + 3, h->outcome);
    if (!only || only[4])
        sqlite3_bind_int(st, from + 4, h->status);
    if (!only || only[5])
        sqlite3_bind_int(st, from + 5, h->attempt);
    if (!only || only[6])
        uh_sq_bind_text(st, from + 6, h->message);
    if (!only || only[7])
        uh_sq_bind_text(st, from + 7, h->registration);
}

/*
 * history_bulk: one INSERT ... SELECT of the rows b[k] match, with h[k]'s
 * values.  Two transitions told apart by registration data alone (disable
 * --all's: deregister, or nothing to do) are written by one scan of
 * instances, each row taking its line's values by a CASE where the two
 * lines differ (rows in the order of instances, not the first
 * transition's before the second's); any others, one statement each.
 * *rows is how many lines were written: the writer's lock is held until
 * the commit, so b matches those rows and no others until then.
 */
int uh_sq_history_bulk(uh_store *s, const uh_bulk *b, int n, const unhook_filter *f,
                       const unhook_history *h, long *rows)
{
    uh_buf sql = {0};
    const char *vals[18];       /* 14 of its own, then up to 4 of the filter */
    const unhook_history *w = &h[0], *wo = &h[0];   /* with, without data */
    uh_bulk any = b[0];
    int diff[8] = {0};
    sqlite3_stmt *st;
    int rc, nv = 14;

    *rows = 0;
    if (n < 1)
        return UNHOOK_OK;
    if ((rc = uh_sq_send_held(s)) != UNHOOK_OK)     /* rows keep their order */
        return rc;
    if (n > 1 && !split_by_registration(b, n)) {
        for (int k = 0; k < n && rc == UNHOOK_OK; k++) {
            long got = 0;
            rc = uh_sq_history_bulk(s, &b[k], 1, f, &h[k], &got);
            *rows += got;
        }
        return rc;
    }
    if (n == 2) {               /* one scan for both: b[0]'s where, any data */
        w = b[0].registered ? &h[0] : &h[1];
        wo = b[0].registered ? &h[1] : &h[0];
        any.registered = -1;
        diff[1] = w->at != wo->at;
        diff[2] = text_differs(w->action, wo->action);
        diff[3] = text_differs(w->outcome, wo->outcome);
        diff[4] = w->status != wo->status;
        diff[5] = w->attempt != wo->attempt;
        diff[6] = text_differs(w->message, wo->message);
        diff[7] = text_differs(w->registration, wo->registration);
    }
    /* OR ROLLBACK: no statement journal (see uh_sql_bulk, store.c) */
    uh_buf_puts(&sql, "INSERT OR ROLLBACK INTO history (instance_id, at, action, outcome,"
                " status, attempt, message, registration) SELECT id");
    for (int k = 1; k <= 7; k++) {
        uh_buf_puts(&sql, ", ");
        line_value(&sql, k, diff[k]);
    }
    uh_buf_puts(&sql, " FROM instances");
    uh_sql_bulk_where(&sql, '?', &any, f, vals, &nv);
    st = sql.oom ? NULL : uh_sq_prep(s, sql.data);
    uh_buf_free(&sql);
    if (!st)
        return UNHOOK_STORE;
    bind_line(st, 0, w, NULL);
    bind_line(st, 7, wo, diff);
    uh_sq_bind_texts(st, vals, 14, nv);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "history");
    if (rc == UNHOOK_OK)
        *rows = sqlite3_changes(SQ(s)->db);
    uh_sq_release(st);
    return rc;
}
