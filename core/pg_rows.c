/*
 * pg_rows.c -- the PostgreSQL store's instance rows (pg.h): read, written
 * whole, their intent, the compare-and-set of an outcome under a claim,
 * set-based transitions and removal.  Writing new due work sends NOTIFY
 * unhook_due, which wakes waiting workers (pg_claim.c).  The SQL of
 * filters and bulk transitions is store.c's, shared with SQLite.
 */
#include <string.h>

#include "pg.h"

static char *col_dup(PGresult *r, int row, int c)
{
    return PQgetisnull(r, row, c) ? NULL : uh_strdup(PQgetvalue(r, row, c));
}

void uh_pg_read_inst(PGresult *r, int row, uh_inst *o)
{
    o->id = col_dup(r, row, 0);
    o->connector = col_dup(r, row, 1);
    o->event = col_dup(r, row, 2);
    o->options = col_dup(r, row, 3);
    o->connection = col_dup(r, row, 4);
    o->registration = col_dup(r, row, 5);
    o->desired = atoi(PQgetvalue(r, row, 6)) ? UH_WANT_ON : UH_WANT_OFF;
    o->state = (uh_state)atoi(PQgetvalue(r, row, 7));
    o->reason = col_dup(r, row, 8);
    o->last_error = col_dup(r, row, 9);
    o->attempts = atoi(PQgetvalue(r, row, 10));
    o->next_attempt_at = uh_pg_col_num(r, row, 11);
    o->created_at = uh_pg_col_num(r, row, 12);
    o->updated_at = uh_pg_col_num(r, row, 13);
    o->claim_owner = col_dup(r, row, 14);
    o->claimed_until = uh_pg_col_num(r, row, 15);
    o->expires_at = uh_pg_col_num(r, row, 16);
}

int uh_pg_get(uh_store *s, const char *id, uh_inst *out)
{
    const char *p[1] = {id};
    PGresult *r;
    int rc = UNHOOK_OK;

    memset(out, 0, sizeof *out);
    if (!(r = uh_pg_run(s, "SELECT " UH_PG_READ_COLS " FROM instances WHERE id = $1", 1, p)))
        return UNHOOK_STORE;
    if (PQntuples(r) == 1) {
        uh_pg_read_inst(r, 0, out);
    } else {
        snprintf(s->errmsg, sizeof s->errmsg, "no instance '%s'", id);
        rc = UNHOOK_NOTFOUND;
    }
    PQclear(r);
    return rc;
}

int uh_pg_put(uh_store *s, const uh_inst *i)
{
    uh_pg_params p = {.n = 0};
    int rc;

    uh_pg_text(&p, i->id);
    uh_pg_text(&p, i->connector);
    uh_pg_text(&p, i->event);
    uh_pg_text(&p, i->options ? i->options : "{}");
    uh_pg_text(&p, i->connection);
    uh_pg_text(&p, i->registration);
    uh_pg_text(&p, uh_desired_name(i->desired));
    uh_pg_text(&p, uh_state_name(i->state));
    uh_pg_text(&p, i->reason);
    uh_pg_text(&p, i->last_error);
    uh_pg_int(&p, i->attempts);
    uh_pg_num(&p, i->next_attempt_at);
    uh_pg_num(&p, i->created_at);
    uh_pg_num(&p, i->updated_at);
    uh_pg_num(&p, i->expires_at);
    rc = uh_pg_cmd(s,
        "INSERT INTO instances (id, connector, event, options, connection,"
        " registration, desired, state, reason, last_error, attempts,"
        " next_attempt_at, created_at, updated_at, expires_at, claim_owner,"
        " claimed_until)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,NULL,0)"
        " ON CONFLICT (id) DO UPDATE SET connector = EXCLUDED.connector,"
        " event = EXCLUDED.event, options = EXCLUDED.options,"
        " connection = EXCLUDED.connection, registration = EXCLUDED.registration,"
        " desired = EXCLUDED.desired, state = EXCLUDED.state,"
        " reason = EXCLUDED.reason, last_error = EXCLUDED.last_error,"
        " attempts = EXCLUDED.attempts, next_attempt_at = EXCLUDED.next_attempt_at,"
        " created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,"
        " expires_at = EXCLUDED.expires_at, claim_owner = NULL, claimed_until = 0", p.n, p.v, NULL);
    if (rc == UNHOOK_OK && UH_STATE_PENDING(i->state))
        rc = uh_pg_cmd(s, UH_PG_NOTIFY, 0, NULL, NULL);
    return rc;
}

int uh_pg_list(uh_store *s, const unhook_filter *f, uh_inst_fn fn, void *ud)
{
    uh_buf sql = {0};
    uh_pg_params p = {.n = 0};
    PGresult *r;

    uh_buf_puts(&sql, "SELECT " UH_PG_READ_COLS " FROM instances WHERE true");
    uh_sql_filter(&sql, '$', f, p.v, &p.n);
    /* the byte order SQLite lists in, whatever the database's collation */
    uh_buf_puts(&sql, " ORDER BY id COLLATE \"C\"");
    r = sql.oom ? NULL : uh_pg_run(s, sql.data, p.n, p.v);
    uh_buf_free(&sql);
    if (!r)
        return UNHOOK_STORE;
    for (int k = 0; k < PQntuples(r); k++) {
        uh_inst i;
        int stop;
        uh_pg_read_inst(r, k, &i);
        stop = fn(ud, &i);
        uh_inst_clear(&i);
        if (stop)
            break;
    }
    PQclear(r);
    return UNHOOK_OK;
}

int uh_pg_intent(uh_store *s, const uh_inst *i)
{
    uh_pg_params p = {.n = 0};
    int rc;

    uh_pg_text(&p, uh_desired_name(i->desired));
    uh_pg_text(&p, i->reason);
    uh_pg_text(&p, uh_state_name(i->state));
    uh_pg_int(&p, i->attempts);
    uh_pg_num(&p, i->next_attempt_at);
    uh_pg_text(&p, i->last_error);
    uh_pg_num(&p, i->updated_at);
    uh_pg_text(&p, i->id);
    rc = uh_pg_cmd(s,
        "UPDATE instances SET desired = $1, reason = $2, state = $3, attempts = $4,"
        " next_attempt_at = $5, last_error = $6, updated_at = $7 WHERE id = $8",
        p.n, p.v, NULL);
    if (rc == UNHOOK_OK && UH_STATE_PENDING(i->state))
        rc = uh_pg_cmd(s, UH_PG_NOTIFY, 0, NULL, NULL);
    return rc;
}

int uh_pg_finish(uh_store *s, const uh_inst *i, const char *owner,
                 double now, int *cas)
{
    uh_pg_params p = {.n = 0};
    const char *q[2] = {i->id, owner};
    long rows = 0;
    int rc, own;

    *cas = UH_CAS_OK;
    uh_pg_text(&p, uh_state_name(i->state));
    uh_pg_text(&p, i->registration);
    uh_pg_int(&p, i->attempts);
    uh_pg_num(&p, i->next_attempt_at);
    uh_pg_text(&p, i->last_error);
    uh_pg_num(&p, now);
    uh_pg_text(&p, i->id);
    uh_pg_text(&p, owner);
    uh_pg_text(&p, uh_desired_name(i->desired));
    uh_pg_num(&p, i->expires_at);
    if ((rc = uh_pg_own_begin(s, &own)) != UNHOOK_OK)
        return rc;
    rc = uh_pg_cmd(s,
        "UPDATE instances SET state = $1, registration = $2, attempts = $3,"
        " next_attempt_at = $4, last_error = $5, updated_at = $6,"
        " expires_at = $10, claim_owner = NULL, claimed_until = 0"
        " WHERE id = $7 AND claim_owner = $8 AND desired = $9", p.n, p.v, &rows);
    if (rc == UNHOOK_OK && rows == 0) {
        /* not written: is the claim still ours (then desired changed)? */
        *cas = UH_CAS_LOST;
        rc = uh_pg_cmd(s, "SELECT 1 FROM instances WHERE id = $1 AND claim_owner = $2",
                     2, q, &rows);
        if (rc == UNHOOK_OK && rows == 1)
            *cas = UH_CAS_CHANGED;
    }
    return uh_pg_own_end(s, own, rc);
}

/* One element of a PostgreSQL array literal: quoted, or NULL. */
static void arr_add(uh_buf *b, const char *v)
{
    uh_buf_puts(b, b->len > 1 ? "," : "");
    if (!v) {
        uh_buf_puts(b, "NULL");
        return;
    }
    uh_buf_puts(b, "\"");
    for (; *v; v++) {
        if (*v == '"' || *v == '\\')
            uh_buf_add(b, "\\", 1);
        uh_buf_add(b, v, 1);
    }
    uh_buf_puts(b, "\"");
}

/*
 * finish for n instances in one UPDATE over arrays (unnest), inside the
 * caller's transaction: the rows written come back; for the others one
 * SELECT tells a claim still ours (desired changed) from a lost one.
 */
int uh_pg_finish_many(uh_store *s, const uh_inst *const *in, int n,
                      const char *owner, double now, int *cas)
{
    enum { ID, STATE, REG, ATT, NEXT, ERR, WANT, EXP, NCOL };
    uh_buf a[NCOL] = {{0}};
    uh_pg_params p = {.n = 0};
    PGresult *r = NULL;
    int rc = UNHOOK_OK, missing = 0;

    for (int c = 0; c < NCOL; c++)
        uh_buf_puts(&a[c], "{");
    for (int k = 0; k < n; k++) {
        char num[3][32];
        snprintf(num[0], sizeof num[0], "%d", in[k]->attempts);
        snprintf(num[1], sizeof num[1], "%.17g", in[k]->next_attempt_at);
        snprintf(num[2], sizeof num[2], "%.17g", in[k]->expires_at);
        arr_add(&a[ID], in[k]->id);
        arr_add(&a[STATE], uh_state_name(in[k]->state));
        arr_add(&a[REG], in[k]->registration);
        arr_add(&a[ATT], num[0]);
        arr_add(&a[NEXT], num[1]);
        arr_add(&a[ERR], in[k]->last_error);
        arr_add(&a[WANT], uh_desired_name(in[k]->desired));
        arr_add(&a[EXP], num[2]);
        cas[k] = UH_CAS_LOST;
    }
    for (int c = 0; c < NCOL; c++) {
        uh_buf_puts(&a[c], "}");
        rc = a[c].oom ? UNHOOK_NOMEM : rc;
        uh_pg_text(&p, a[c].data);
    }
    uh_pg_num(&p, now);
    uh_pg_text(&p, owner);
    if (rc == UNHOOK_OK)
        r = uh_pg_run(s,
            "UPDATE instances i SET state = v.state, registration = v.reg,"
            " attempts = v.att, next_attempt_at = v.next, last_error = v.err,"
            " expires_at = v.exp,"
            " updated_at = $9, claim_owner = NULL, claimed_until = 0"
            " FROM unnest($1::text[], $2::text[], $3::text[], $4::int[],"
            " $5::float8[], $6::text[], $7::text[], $8::float8[])"
            " AS v(id, state, reg, att, next, err, want, exp)"
            " WHERE i.id = v.id AND i.claim_owner = $10 AND i.desired = v.want"
            " RETURNING i.id", p.n, p.v);
    rc = rc != UNHOOK_OK ? uh_pg_oom(s) : r ? UNHOOK_OK : UNHOOK_STORE;
    for (int k = 0; r && k < n; k++) {
        for (int t = 0; t < PQntuples(r); t++)
            if (strcmp(PQgetvalue(r, t, 0), in[k]->id) == 0)
                cas[k] = UH_CAS_OK;
        missing += cas[k] != UH_CAS_OK;
    }
    PQclear(r);
    if (rc == UNHOOK_OK && missing) {
        /* not written: is the claim still ours (then desired changed)? */
        const char *q[2] = {p.v[0], owner};
        r = uh_pg_run(s, "SELECT id FROM instances WHERE id = ANY($1::text[])"
                         " AND claim_owner = $2", 2, q);
        rc = r ? UNHOOK_OK : UNHOOK_STORE;
        for (int k = 0; r && k < n; k++)
            for (int t = 0; cas[k] != UH_CAS_OK && t < PQntuples(r); t++)
                if (strcmp(PQgetvalue(r, t, 0), in[k]->id) == 0)
                    cas[k] = UH_CAS_CHANGED;
        PQclear(r);
    }
    for (int c = 0; c < NCOL; c++)
        uh_buf_free(&a[c]);
    return rc;
}

int uh_pg_bulk(uh_store *s, const uh_bulk *b, const unhook_filter *f,
               double now, long *count)
{
    uh_buf sql = {0};
    uh_pg_params p = {.n = 0};
    long rows = 0;
    int rc, own;

    uh_sql_bulk(&sql, '$', b, f, p.v, &p.n);
    snprintf(p.num[1], sizeof p.num[1], "%.17g", now);
    p.v[1] = p.num[1];
    if (sql.oom) {
        uh_buf_free(&sql);
        return uh_pg_oom(s);
    }
    if ((rc = uh_pg_own_begin(s, &own)) == UNHOOK_OK)
        rc = uh_pg_cmd(s, sql.data, p.n, p.v, &rows);
    uh_buf_free(&sql);
    if (rc == UNHOOK_OK && rows > 0 && UH_STATE_PENDING(b->to))
        rc = uh_pg_cmd(s, UH_PG_NOTIFY, 0, NULL, NULL);
    if (count)
        *count = rows;
    return uh_pg_own_end(s, own, rc);
}

int uh_pg_remove(uh_store *s, const char *id)
{
    const char *p[1] = {id};
    long rows = 0;
    int rc = uh_pg_cmd(s, "DELETE FROM instances WHERE id = $1", 1, p, &rows);

    if (rc == UNHOOK_OK && rows == 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "no instance '%s'", id);
        rc = UNHOOK_NOTFOUND;
    }
    return rc;
}
