/*
 * pg_history.c -- the PostgreSQL store's history lines (pg.h).  Inside a
 * transaction a line is held and sent with the others in one INSERT before
 * the commit (pg_tx.c), or before history is read; outside one, at once.
 * A line for every instance a set-based transition matches is one INSERT.
 */
#include "pg.h"

/* A line's fields after its instance: at, action, outcome, status,
 * attempt, message, registration. */
static void line_params(uh_pg_params *p, const unhook_history *h)
{
    uh_pg_num(p, h->at);
    uh_pg_text(p, h->action);
    uh_pg_text(p, h->outcome);
    uh_pg_int(p, h->status);
    uh_pg_int(p, h->attempt);
    uh_pg_text(p, h->message);
    uh_pg_text(p, h->registration);
}

int uh_pg_history_add(uh_store *s, const unhook_history *h)
{
    pg_store *q = PG(s);
    uh_pg_params p = {.n = 0};
    int own, rc;

    uh_pg_text(&p, h->instance_id);
    line_params(&p, h);
    if ((rc = uh_pg_hold(s, p.v)) != UNHOOK_OK)
        return rc;
    if (q->in_tx)
        return UNHOOK_OK;
    rc = uh_pg_own_begin(s, &own);
    if (rc == UNHOOK_OK)
        rc = uh_pg_send_held(s);
    return uh_pg_own_end(s, own, rc);
}

int uh_pg_history_list(uh_store *s, const char *id, unhook_history_fn fn,
                       void *ud)
{
    const char *p[1] = {id};
    PGresult *r;

    if (uh_pg_send_held(s) != UNHOOK_OK)
        return UNHOOK_STORE;
    r = uh_pg_run(s, "SELECT instance_id, at, action, outcome, status, attempt, message,"
               " registration FROM history WHERE instance_id = $1 ORDER BY seq", 1, p);
    if (!r)
        return UNHOOK_STORE;
    for (int k = 0; k < PQntuples(r); k++) {
        unhook_history h;
        h.instance_id = PQgetvalue(r, k, 0);
        h.at = uh_pg_col_num(r, k, 1);
        h.action = PQgetvalue(r, k, 2);
        h.outcome = PQgetisnull(r, k, 3) ? NULL : PQgetvalue(r, k, 3);
        h.status = atoi(PQgetvalue(r, k, 4));
        h.attempt = atoi(PQgetvalue(r, k, 5));
        h.message = PQgetisnull(r, k, 6) ? NULL : PQgetvalue(r, k, 6);
        h.registration = PQgetisnull(r, k, 7) ? NULL : PQgetvalue(r, k, 7);
        if (fn(ud, &h))
            break;
    }
    PQclear(r);
    return UNHOOK_OK;
}

/* One INSERT ... SELECT of the rows b matches, after the rows held (so
 * that an instance's rows keep their order). */
static int line_bulk(uh_store *s, const uh_bulk *b, const unhook_filter *f,
                     const unhook_history *h)
{
    uh_buf sql = {0};
    uh_pg_params p = {.n = 0};
    int rc, own;

    line_params(&p, h);
    uh_buf_puts(&sql, "INSERT INTO history (instance_id, at, action, outcome, status,"
                " attempt, message, registration) SELECT id, $1::double precision,"
                " $2, $3, $4::integer, $5::integer, $6, $7 FROM instances");
    uh_sql_bulk_where(&sql, '$', b, f, p.v, &p.n);
    if (sql.oom) {
        uh_buf_free(&sql);
        return uh_pg_oom(s);
    }
    if ((rc = uh_pg_own_begin(s, &own)) == UNHOOK_OK &&
        (rc = uh_pg_send_held(s)) == UNHOOK_OK)
        rc = uh_pg_cmd(s, sql.data, p.n, p.v, NULL);
    uh_buf_free(&sql);
    return uh_pg_own_end(s, own, rc);
}

/* One statement for each of b; *rows -1: under READ COMMITTED another
 * transaction's commit can change which rows the next statement sees. */
int uh_pg_history_bulk(uh_store *s, const uh_bulk *b, int n,
                       const unhook_filter *f, const unhook_history *h, long *rows)
{
    int rc = UNHOOK_OK;

    *rows = -1;
    for (int k = 0; k < n && rc == UNHOOK_OK; k++)
        rc = line_bulk(s, &b[k], f, &h[k]);
    return rc;
}
