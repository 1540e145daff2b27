/*
 * pg_claim.c -- the PostgreSQL store's claims (pg.h): a batch claimed with
 * FOR UPDATE SKIP LOCKED and held by lease only (the store is shared: no
 * process-liveness check means anything across hosts, so a worker renews
 * its leases and a dead one's lapse), released, renewed; the earliest due
 * time; and waiting for NOTIFY unhook_due, which new due work sends.
 */
#include <string.h>
#include <sys/select.h>

#include "pg.h"

/*
 * One statement claims a batch: the due rows nobody holds, locked as they
 * are found and skipped when another worker's claim has them locked.  It
 * commits on its own: when its answer is lost with the connection, it is
 * run again after reconnecting, and rows the lost one may have claimed
 * stay unrun until their lease lapses (then any worker takes them):
 * late, never twice.
 */
int uh_pg_claim(uh_store *s, const unhook_filter *f, double now,
                const char *owner, double lease, int max, uh_inst *out, int *n)
{
    uh_buf sql = {0};
    uh_pg_params p = {.n = 0};
    PGresult *r;

    *n = 0;
    uh_pg_num(&p, now);
    uh_pg_text(&p, owner);
    uh_pg_num(&p, lease);
    uh_buf_puts(&sql, "WITH due AS (SELECT id AS due_id FROM instances WHERE "
                UH_CLAIMABLE_SQL " AND " UH_PG_WAKE " <= $1");
    uh_sql_filter(&sql, '$', f, p.v, &p.n);
    uh_buf_printf(&sql, " ORDER BY " UH_PG_WAKE " LIMIT %d FOR UPDATE SKIP LOCKED)"
                  " UPDATE instances SET claim_owner = $2, claimed_until = $3"
                  " FROM due WHERE id = due_id RETURNING " UH_PG_READ_COLS, max);
    r = sql.oom ? NULL : uh_pg_run(s, sql.data, p.n, p.v);
    uh_buf_free(&sql);
    if (!r)
        return UNHOOK_STORE;
    for (int k = 0; k < PQntuples(r) && *n < max; k++)
        uh_pg_read_inst(r, k, &out[(*n)++]);
    PQclear(r);
    return UNHOOK_OK;
}

#define UNCLAIM "UPDATE instances SET claimed_until = 0, claim_owner = NULL WHERE "

/* release and unclaim: one statement shape */
static int unclaim_where(uh_store *s, const char *sql, const char *v)
{
    const char *p[1] = {v};

    return uh_pg_cmd(s, sql, 1, p, NULL);
}

int uh_pg_unclaim(uh_store *s, const char *id)
{
    return unclaim_where(s, UNCLAIM "id = $1", id);
}

int uh_pg_release(uh_store *s, const char *owner)
{
    return unclaim_where(s, UNCLAIM "claim_owner = $1", owner);
}

int uh_pg_owners(uh_store *s, double now, uh_owner_fn fn, void *ud)
{
    uh_pg_params p = {.n = 0};
    PGresult *r;

    uh_pg_num(&p, now);
    r = uh_pg_run(s, "SELECT DISTINCT claim_owner FROM instances"
               " WHERE claimed_until > $1 AND claim_owner IS NOT NULL", p.n, p.v);
    if (!r)
        return UNHOOK_STORE;
    for (int k = 0; k < PQntuples(r); k++)
        fn(ud, PQgetvalue(r, k, 0));
    PQclear(r);
    return UNHOOK_OK;
}

int uh_pg_next_due(uh_store *s, const unhook_filter *f, double *when)
{
    uh_buf sql = {0};
    uh_pg_params p = {.n = 0};
    PGresult *r;

    *when = 0;
    uh_buf_puts(&sql, "SELECT " UH_PG_WAKE " FROM instances"
                      " WHERE state IN ('deregistering', 'registering')");
    uh_sql_filter(&sql, '$', f, p.v, &p.n);
    uh_buf_puts(&sql, " ORDER BY " UH_PG_WAKE " LIMIT 1");
    r = sql.oom ? NULL : uh_pg_run(s, sql.data, p.n, p.v);
    uh_buf_free(&sql);
    if (!r)
        return UNHOOK_STORE;
    if (PQntuples(r) == 1)
        *when = uh_pg_col_num(r, 0, 0);
    PQclear(r);
    return UNHOOK_OK;
}

int uh_pg_renew(uh_store *s, const char *owner, double until)
{
    uh_pg_params p = {.n = 0};

    uh_pg_text(&p, owner);
    uh_pg_num(&p, until);
    return uh_pg_cmd(s, "UPDATE instances SET claimed_until = $2"
                      " WHERE claim_owner = $1 AND claimed_until > 0", p.n, p.v, NULL);
}

int uh_pg_wait(uh_store *s, double timeout_s)
{
    pg_store *q = PG(s);
    PGnotify *note;
    int fd;

    if (!q->listening) {
        q->listening = 1;
        if (uh_pg_cmd(s, "SELECT 1", 0, NULL, NULL) != UNHOOK_OK ||
            uh_pg_simple(s, "LISTEN unhook_due", NULL) != UNHOOK_OK)
            return UNHOOK_STORE;
    }
    if (uh_pg_lost(q) && uh_pg_recover(s) != UNHOOK_OK)
        return UNHOOK_STORE;
    PQconsumeInput(q->conn);
    if ((note = PQnotifies(q->conn)) == NULL && (fd = PQsocket(q->conn)) >= 0) {
        fd_set rd;
        struct timeval tv = {(time_t)timeout_s,
                             (long)((timeout_s - (double)(time_t)timeout_s) * 1e6)};
        FD_ZERO(&rd);
        FD_SET(fd, &rd);
        if (select(fd + 1, &rd, NULL, NULL, &tv) > 0)
            PQconsumeInput(q->conn);
        note = PQnotifies(q->conn);
    }
    while (note) {
        PQfreemem(note);
        note = PQnotifies(q->conn);
    }
    return UNHOOK_OK;
}
