/*
 * store_pg.c -- the shared store: PostgreSQL through libpq, for workers on
 * many machines (README.md, "PostgreSQL").  The same operations as
 * store_sqlite.c, in parts (pg.h): the connection and its recovery
 * (pg_conn.c), transactions (pg_tx.c), instance rows (pg_rows.c), claims
 * and NOTIFY (pg_claim.c), history (pg_history.c), OAuth2 token rows
 * (pg_token.c).  Here: the schema and its migrations, open and close, and
 * the table of operations.
 */
#include <string.h>

#include "pg.h"

#define LEASE_DEFAULT_S 30.0    /* renewed by the work loop every third */

static const char *const migrations[] = {
    /* 1: instances and their history */
    "CREATE TABLE instances ("
    " id TEXT PRIMARY KEY,"
    " connector TEXT NOT NULL, event TEXT NOT NULL,"
    " options TEXT NOT NULL DEFAULT '{}',"
    " connection TEXT, registration TEXT,"
    " desired TEXT NOT NULL, state TEXT NOT NULL,"
    " reason TEXT, last_error TEXT,"
    " attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_at DOUBLE PRECISION NOT NULL DEFAULT 0,"
    " claim_owner TEXT, claimed_until DOUBLE PRECISION NOT NULL DEFAULT 0,"
    " created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL);"
    /* the claim query and next_due walk this one: pending work only, by
     * when it may run (a live claim puts a row at its lease's end, so
     * workers never wade through each other's claims) */
    "CREATE INDEX instances_wake ON instances((GREATEST(next_attempt_at, claimed_until)))"
    " WHERE state IN ('deregistering', 'registering');"
    "CREATE INDEX instances_claimed ON instances(claim_owner)"
    " WHERE claim_owner IS NOT NULL;"
    "CREATE INDEX instances_state ON instances(state, connector, event);"
    "CREATE TABLE history ("
    " seq BIGSERIAL PRIMARY KEY,"
    " instance_id TEXT NOT NULL, at DOUBLE PRECISION NOT NULL, action TEXT NOT NULL,"
    " outcome TEXT, status INTEGER NOT NULL DEFAULT 0,"
    " attempt INTEGER NOT NULL DEFAULT 0, message TEXT, registration TEXT);"
    "CREATE INDEX history_instance ON history(instance_id, seq);",
    /* 2: OAuth2 tokens, sealed by the engine (never plaintext here) */
    "CREATE TABLE oauth_tokens ("
    " key TEXT PRIMARY KEY, version BIGINT NOT NULL,"
    " sealed BYTEA NOT NULL, lease_until DOUBLE PRECISION NOT NULL DEFAULT 0,"
    " updated_at DOUBLE PRECISION NOT NULL);",
    /* 3: when a renewing event's subscription lapses; the claim's index
     * covers what a worker claims (UH_CLAIMABLE_SQL: renewals too) */
    "ALTER TABLE instances ADD COLUMN expires_at DOUBLE PRECISION NOT NULL DEFAULT 0;"
    "DROP INDEX IF EXISTS instances_wake;"
    "CREATE INDEX instances_wake ON instances((GREATEST(next_attempt_at, claimed_until)))"
    " WHERE " UH_CLAIMABLE_SQL ";",
};

static void pg_close(uh_store *s)
{
    pg_store *q = PG(s);

    if (!s)
        return;
    uh_pg_log_clear(q);
    uh_pg_prep_clear(q);
    uh_pg_drop_held(q);
    free(q->hv);
    PQfinish(q->conn);
    free(q->url);
    free(q);
}

static const uh_store_ops pg_ops = {
    .begin = uh_pg_begin, .commit = uh_pg_commit, .rollback = uh_pg_rollback,
    .get = uh_pg_get, .put = uh_pg_put, .intent = uh_pg_intent,
    .finish = uh_pg_finish, .list = uh_pg_list,
    .history_add = uh_pg_history_add, .history_list = uh_pg_history_list,
    .bulk = uh_pg_bulk, .claim = uh_pg_claim, .unclaim = uh_pg_unclaim,
    .owners = uh_pg_owners, .release = uh_pg_release, .remove = uh_pg_remove,
    .next_due = uh_pg_next_due, .close = pg_close,
    .token_get = uh_pg_token_get, .token_cas = uh_pg_token_cas,
    .renew = uh_pg_renew, .wait = uh_pg_wait, .finish_many = uh_pg_finish_many,
    .history_bulk = uh_pg_history_bulk,
};

/* Versioned like the SQLite store (there: PRAGMA user_version), under an
 * advisory lock so that workers starting together migrate once. */
static int migrate(uh_store *s)
{
    int n = (int)(sizeof migrations / sizeof *migrations), version, rc;
    PGresult *r;

    if ((rc = uh_pg_simple(s, "BEGIN; SELECT pg_advisory_xact_lock(7355608);"
                        " CREATE TABLE IF NOT EXISTS unhook_schema"
                        " (version INTEGER NOT NULL)", NULL)) != UNHOOK_OK)
        return rc;
    if ((rc = uh_pg_simple(s, "SELECT COALESCE(MAX(version), 0) FROM unhook_schema", &r)) != UNHOOK_OK)
        goto err;
    version = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);
    if (version > n) {
        snprintf(s->errmsg, sizeof s->errmsg, "%s: database schema version %d is "
                 "newer than this unhook knows (%d)", PG(s)->shown, version, n);
        rc = UNHOOK_STORE;
        goto err;
    }
    for (; version < n; version++) {
        char sql[96];
        snprintf(sql, sizeof sql, "DELETE FROM unhook_schema;"
                 " INSERT INTO unhook_schema VALUES (%d)", version + 1);
        if ((rc = uh_pg_simple(s, migrations[version], NULL)) != UNHOOK_OK ||
            (rc = uh_pg_simple(s, sql, NULL)) != UNHOOK_OK)
            goto err;
    }
    return uh_pg_simple(s, "COMMIT", NULL);
err:
    PQclear(PQexec(PG(s)->conn, "ROLLBACK"));
    return rc;
}

int uh_store_pg_open(const char *url, uh_store **out, char *err, size_t errsz)
{
    pg_store *q = calloc(1, sizeof *q);
    uh_store *s = &q->base;
    const char *env = getenv("UNHOOK_LEASE");
    int rc;

    *out = NULL;
    if (!q || !(q->url = uh_strdup(url))) {
        free(q);
        snprintf(err, errsz, "out of memory");
        return UNHOOK_NOMEM;
    }
    s->ops = &pg_ops;
    s->shared = 1;
    s->lease = env && atof(env) > 0 ? atof(env) : LEASE_DEFAULT_S;
    q->tail = &q->log;
    uh_pg_mask_url(url, q->shown, sizeof q->shown);
    if ((rc = uh_pg_connect(s)) != UNHOOK_OK || (rc = migrate(s)) != UNHOOK_OK) {
        snprintf(err, errsz, "%s", s->errmsg);
        pg_close(s);
        return rc;
    }
    *out = s;
    return UNHOOK_OK;
}
