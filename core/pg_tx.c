/*
 * pg_tx.c -- the PostgreSQL store's transactions (pg.h): begin, a commit
 * that survives a lost answer (settled with txid_status()), rollback;
 * and the history rows held inside a transaction and sent as one INSERT
 * before the commit, so that a flush of outcomes costs one round trip per
 * outcome, not two.
 */
#include <string.h>

#include "pg.h"

int uh_pg_begin(uh_store *s)
{
    pg_store *q = PG(s);
    int rc;

    uh_pg_log_clear(q);
    for (int tries = 0; tries < 5; tries++) {
        if (!uh_pg_lost(q) && (rc = uh_pg_open_tx(s)) == UNHOOK_OK) {
            q->in_tx = 1;
            return UNHOOK_OK;
        }
        if (!uh_pg_lost(q) || (rc = uh_pg_reconnect(s)) != UNHOOK_OK)
            return rc;
    }
    return uh_pg_failmsg(s, "connection lost again and again");
}

/* Did the transaction whose COMMIT went unanswered commit? */
static int committed(uh_store *s)
{
    const char *p[1] = {PG(s)->xid};
    PGresult *r = uh_pg_once(s, "SELECT txid_status($1::bigint)", 1, p);
    int yes = r && PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "committed") == 0;

    PQclear(r);
    return yes;
}

/* COMMIT; when its answer is lost, settle it: replay and commit again
 * if it did not commit. */
static int commit_tx(uh_store *s)
{
    pg_store *q = PG(s);
    int rc = UNHOOK_STORE;

    for (int tries = 0; tries < 5; tries++) {
        if (!uh_pg_lost(q) && (rc = uh_pg_simple(s, "COMMIT", NULL)) == UNHOOK_OK)
            break;
        if (!uh_pg_lost(q))
            break;              /* refused: rolled back */
        q->in_tx = 0;
        if ((rc = uh_pg_reconnect(s)) != UNHOOK_OK)
            break;
        if (committed(s)) {
            rc = UNHOOK_OK;
            break;
        }
        q->in_tx = 1;
        if ((rc = uh_pg_recover(s)) != UNHOOK_OK)
            break;
        rc = uh_pg_failmsg(s, "connection lost again and again");
    }
    q->in_tx = 0;
    uh_pg_log_clear(q);
    return rc;
}

int uh_pg_commit(uh_store *s)
{
    int rc = uh_pg_send_held(s);

    if (rc != UNHOOK_OK) {
        uh_pg_rollback(s);
        return rc;
    }
    return commit_tx(s);
}

void uh_pg_rollback(uh_store *s)
{
    pg_store *q = PG(s);

    if (q->in_tx && !uh_pg_lost(q))
        PQclear(PQexec(q->conn, "ROLLBACK"));
    q->in_tx = 0;
    uh_pg_log_clear(q);
    uh_pg_drop_held(q);
}

int uh_pg_own_begin(uh_store *s, int *own)
{
    *own = !PG(s)->in_tx;
    return *own ? uh_pg_begin(s) : UNHOOK_OK;
}

int uh_pg_own_end(uh_store *s, int own, int rc)
{
    if (!own)
        return rc;
    if (rc == UNHOOK_OK)
        return uh_pg_commit(s);
    uh_pg_rollback(s);
    return rc;
}

/* ---- history rows held until the commit --------------------------------- */

int uh_pg_hold(uh_store *s, const char *const *vals)
{
    pg_store *q = PG(s);
    char **v;
    int rc;

    if (q->nheld >= UH_PG_HOLD_MAX && (rc = uh_pg_send_held(s)) != UNHOOK_OK)
        return rc;
    if (!(v = realloc(q->hv, (size_t)(q->nheld + 1) * 8 * sizeof *v)))
        return uh_pg_oom(s);
    q->hv = v;
    v += q->nheld * 8;
    for (int k = 0; k < 8; k++)
        v[k] = vals[k] ? uh_strdup(vals[k]) : NULL;
    q->nheld++;
    return UNHOOK_OK;
}

void uh_pg_drop_held(pg_store *q)
{
    for (int k = 0; k < q->nheld * 8; k++)
        free(q->hv[k]);
    q->nheld = 0;
}

int uh_pg_send_held(uh_store *s)
{
    pg_store *q = PG(s);
    uh_buf sql = {0};
    int rc;

    if (q->nheld == 0)
        return UNHOOK_OK;
    uh_buf_puts(&sql, "INSERT INTO history (instance_id, at, action, outcome,"
                " status, attempt, message, registration) VALUES ");
    for (int r = 0; r < q->nheld; r++) {
        int b = r * 8;
        uh_buf_printf(&sql, "%s($%d,$%d,$%d,$%d,$%d,$%d,$%d,$%d)", r ? "," : "",
                      b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8);
    }
    rc = sql.oom ? uh_pg_oom(s)
                 : uh_pg_cmd(s, sql.data, q->nheld * 8, (const char *const *)q->hv, NULL);
    uh_buf_free(&sql);
    uh_pg_drop_held(q);
    return rc;
}
