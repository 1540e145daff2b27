/*
 * store_pg.c -- the shared store: PostgreSQL through libpq, for workers on
 * many machines.  The same operations as store_sqlite.c; claims are taken
 * with FOR UPDATE SKIP LOCKED in batches and held by lease only (the store
 * is "shared": no process-liveness check means anything across hosts, so
 * a worker renews its leases and a dead one's lapse).  New due work is
 * announced with NOTIFY unhook_due; wait() listens for it.
 *
 * A lost connection (a server restart, a network cut) is survived: the
 * statement is run again after reconnecting with backoff, and a
 * transaction that was open is replayed first (each statement must touch
 * the same number of rows again, else the transaction fails as it would
 * have).  A COMMIT whose answer was lost is settled with txid_status().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <time.h>

#include <libpq-fe.h>

#include "store.h"

#define RECONNECT_S 60.0        /* give up reconnecting after this long */
#define LEASE_DEFAULT_S 30.0    /* renewed by the work loop every third */
#define NOTIFY_SQL "SELECT pg_notify('unhook_due', '')"

typedef struct pg_prep {        /* a statement prepared on this connection */
    char *sql;
    char name[16];
    struct pg_prep *next;
} pg_prep;

typedef struct pg_logged {      /* a statement of the open transaction */
    char *sql;
    int n;
    char **params;
    long rows;
    struct pg_logged *next;
} pg_logged;

typedef struct pg_store {
    uh_store base;
    PGconn *conn;
    char *url;                  /* as given, for libpq only */
    char shown[256];            /* the URL with its password masked */
    pg_prep *prepared;
    int nprep;
    int in_tx, listening;
    int broken;                 /* the server said the session is over */
    char xid[32];               /* the open transaction's id */
    pg_logged *log, **tail;
    uh_buf held;                /* history rows held until commit: params */
    char **hv;                  /* their values, 8 a row */
    int nheld;
} pg_store;

#define HOLD_MAX 64             /* history rows sent in one INSERT at most */

#define PG(s) ((pg_store *)(s))

static int send_held(uh_store *s);
static void drop_held(pg_store *q);
static void pg_rollback(uh_store *s);

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
};

#define READ_COLS "id, connector, event, options, connection, registration, " \
    "(desired = 'on')::int, " STATE_NUM ", reason, last_error, attempts, "   \
    "next_attempt_at, created_at, updated_at, claim_owner, claimed_until"
/* when a pending instance may be claimed: due, and no live claim */
#define WAKE "GREATEST(next_attempt_at, claimed_until)"
#define STATE_NUM "CASE state WHEN 'registering' THEN 0 WHEN 'registered' " \
    "THEN 1 WHEN 'deregistering' THEN 2 WHEN 'off' THEN 3 ELSE 4 END"

/* ---- messages: the URL is shown with its password masked ------------- */

/* postgresql://user:secret@host/db?password=secret -> user:***, password=*** */
static void mask_url(const char *url, char *out, size_t size)
{
    uh_buf b = {0};
    const char *p = strstr(url, "://"), *at, *slash, *colon, *q;

    if (!p) {
        snprintf(out, size, "%s", url);
        return;
    }
    p += 3;
    slash = p + strcspn(p, "/?");
    at = memchr(p, '@', (size_t)(slash - p));
    colon = at ? memchr(p, ':', (size_t)(at - p)) : NULL;
    if (colon) {
        uh_buf_add(&b, url, (size_t)(colon - url));
        uh_buf_puts(&b, ":***");
        p = at;
    } else {
        p = url;
    }
    while ((q = strstr(p, "password=")) != NULL) {
        uh_buf_add(&b, p, (size_t)(q - p) + 9);
        uh_buf_puts(&b, "***");
        p = q + 9 + strcspn(q + 9, "&");
    }
    uh_buf_puts(&b, p);
    snprintf(out, size, "%s", b.data ? b.data : url);
    uh_buf_free(&b);
}

static int failmsg(uh_store *s, const char *msg)
{
    char text[400];
    size_t n;

    snprintf(text, sizeof text, "%s", msg && *msg ? msg : "unknown error");
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    snprintf(s->errmsg, sizeof s->errmsg, "%s: store: %s", PG(s)->shown, text);
    return UNHOOK_STORE;
}

static int fail(uh_store *s)
{
    return failmsg(s, PG(s)->conn ? PQerrorMessage(PG(s)->conn) : "not connected");
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;              /* NOTICEs are not the user's business */
}

/* ---- the connection: open, lost, recovered ---------------------------- */

static void prep_clear(pg_store *q)
{
    while (q->prepared) {
        pg_prep *p = q->prepared;
        q->prepared = p->next;
        free(p->sql);
        free(p);
    }
    q->nprep = 0;
}

static void log_clear(pg_store *q)
{
    while (q->log) {
        pg_logged *l = q->log;
        q->log = l->next;
        for (int k = 0; k < l->n; k++)
            free(l->params[k]);
        free(l->params);
        free(l->sql);
        free(l);
    }
    q->tail = &q->log;
}

static void log_add(pg_store *q, const char *sql, int n,
                    const char *const *params, long rows)
{
    pg_logged *l = calloc(1, sizeof *l);

    if (!l || !(l->params = calloc((size_t)n + 1, sizeof *l->params))) {
        free(l);
        return;                 /* replay will then find a row count differ */
    }
    l->sql = uh_strdup(sql);
    l->n = n;
    for (int k = 0; k < n; k++)
        l->params[k] = params[k] ? uh_strdup(params[k]) : NULL;
    l->rows = rows;
    *q->tail = l;
    q->tail = &l->next;
}

static int lost(pg_store *q)
{
    return !q->conn || q->broken || PQstatus(q->conn) != CONNECTION_OK;
}

/* Connection failures and server shutdowns (classes 08 and 57P) end the
 * session even when libpq has not noticed yet. */
static void note_error(pg_store *q, PGresult *r)
{
    const char *code = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;

    if (code && (strncmp(code, "08", 2) == 0 || strncmp(code, "57P", 3) == 0))
        q->broken = 1;
}

/* A statement without parameters, over the simple protocol. */
static int simple(uh_store *s, const char *sql, PGresult **out)
{
    PGresult *r = PQexec(PG(s)->conn, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        failmsg(s, r ? PQresultErrorMessage(r) : PQerrorMessage(PG(s)->conn));
        note_error(PG(s), r);
        PQclear(r);
        return UNHOOK_STORE;
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return UNHOOK_OK;
}

/* Session settings, again after every reconnect. */
static int session(uh_store *s)
{
    PGresult *r;
    int rc;

    PQsetNoticeProcessor(PG(s)->conn, quiet, NULL);
    /* a statement timeout unless the URL or PGOPTIONS set one */
    if ((rc = simple(s, "SELECT current_setting('statement_timeout')", &r)) != UNHOOK_OK)
        return rc;
    rc = strcmp(PQgetvalue(r, 0, 0), "0") == 0
        ? simple(s, "SET statement_timeout = '30s'", NULL) : UNHOOK_OK;
    PQclear(r);
    if (rc == UNHOOK_OK && PG(s)->listening)
        rc = simple(s, "LISTEN unhook_due", NULL);
    return rc;
}

static int connect_once(uh_store *s)
{
    pg_store *q = PG(s);
    const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *vals[] = {"10", "unhook", q->url, NULL};

    PQfinish(q->conn);
    prep_clear(q);
    q->broken = 0;
    q->conn = PQconnectdbParams(keys, vals, 1);
    if (!q->conn) {
        snprintf(s->errmsg, sizeof s->errmsg, "%s: store: out of memory", q->shown);
        return UNHOOK_NOMEM;
    }
    if (PQstatus(q->conn) != CONNECTION_OK)
        return fail(s);
    return session(s);
}

static void sleep_s(double t)
{
    struct timespec ts = {(time_t)t, (long)((t - (double)(time_t)t) * 1e9)};

    nanosleep(&ts, NULL);
}

/* Reconnect with backoff (RECONNECT_S at most). */
static int reconnect(uh_store *s)
{
    double delay = 0.05, start = uh_now();
    int rc;

    for (;;) {
        if ((rc = connect_once(s)) == UNHOOK_OK)
            return UNHOOK_OK;
        if (rc == UNHOOK_NOMEM || uh_now() - start > RECONNECT_S)
            return rc;
        sleep_s(delay);
        delay = delay * 2 > 2.0 ? 2.0 : delay * 2;
    }
}

/* Run a prepared statement once; NULL (message set) on failure. */
static PGresult *once(uh_store *s, const char *sql, int n, const char *const *params)
{
    pg_store *q = PG(s);
    pg_prep *p;
    PGresult *r;
    ExecStatusType st;

    if (lost(q)) {
        failmsg(s, "connection lost");
        return NULL;
    }
    for (p = q->prepared; p; p = p->next)
        if (strcmp(p->sql, sql) == 0)
            break;
    if (!p) {
        if (!(p = calloc(1, sizeof *p)) || !(p->sql = uh_strdup(sql))) {
            free(p);
            snprintf(s->errmsg, sizeof s->errmsg, "store: out of memory");
            return NULL;
        }
        snprintf(p->name, sizeof p->name, "uh%d", q->nprep++);
        r = PQprepare(q->conn, p->name, sql, n, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            failmsg(s, r ? PQresultErrorMessage(r) : PQerrorMessage(q->conn));
            note_error(q, r);
            PQclear(r);
            free(p->sql);
            free(p);
            return NULL;
        }
        PQclear(r);
        p->next = q->prepared;
        q->prepared = p;
    }
    r = PQexecPrepared(q->conn, p->name, n, params, NULL, NULL, 0);
    st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        failmsg(s, r ? PQresultErrorMessage(r) : PQerrorMessage(q->conn));
        note_error(q, r);
        PQclear(r);
        return NULL;
    }
    return r;
}

static long rows_of(PGresult *r)
{
    return PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r)
                                                : atol(PQcmdTuples(r));
}

static int open_tx(uh_store *s)
{
    PGresult *r;
    int rc = simple(s, "BEGIN; SELECT txid_current()", &r);

    if (rc == UNHOOK_OK) {
        snprintf(PG(s)->xid, sizeof PG(s)->xid, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    return rc;
}

/* After a lost connection: connect again and, inside a transaction,
 * replay what it had done. */
static int recover(uh_store *s)
{
    pg_store *q = PG(s);

    for (int tries = 0; tries < 5; tries++) {
        int rc = reconnect(s);
        pg_logged *l;

        if (rc != UNHOOK_OK || !q->in_tx)
            return rc;
        if ((rc = open_tx(s)) != UNHOOK_OK) {
            if (lost(q))
                continue;
            return rc;
        }
        for (l = q->log; l; l = l->next) {
            PGresult *r = once(s, l->sql, l->n, (const char *const *)l->params);
            long rows = r ? rows_of(r) : -1;
            PQclear(r);
            if (!r && lost(q))
                break;
            if (rows != l->rows)
                return failmsg(s, "the transaction was cut by a lost connection "
                               "and could not be replayed");
        }
        if (!l)
            return UNHOOK_OK;
    }
    return failmsg(s, "connection lost again and again");
}

/* One statement, surviving a lost connection; the result is the caller's. */
static PGresult *run(uh_store *s, const char *sql, int n, const char *const *params)
{
    pg_store *q = PG(s);

    for (int tries = 0; tries < 5; tries++) {
        PGresult *r = once(s, sql, n, params);
        if (r) {
            if (q->in_tx)
                log_add(q, sql, n, params, rows_of(r));
            return r;
        }
        if (!lost(q) || recover(s) != UNHOOK_OK)
            return NULL;
    }
    return NULL;
}

/* A statement whose rows do not matter. */
static int run_cmd(uh_store *s, const char *sql, int n, const char *const *params,
                   long *rows)
{
    PGresult *r = run(s, sql, n, params);

    if (!r)
        return UNHOOK_STORE;
    if (rows)
        *rows = rows_of(r);
    PQclear(r);
    return UNHOOK_OK;
}

/* ---- transactions ----------------------------------------------------- */

static int pg_begin(uh_store *s)
{
    pg_store *q = PG(s);
    int rc;

    log_clear(q);
    for (int tries = 0; tries < 5; tries++) {
        if (!lost(q) && (rc = open_tx(s)) == UNHOOK_OK) {
            q->in_tx = 1;
            return UNHOOK_OK;
        }
        if (!lost(q) || (rc = reconnect(s)) != UNHOOK_OK)
            return rc;
    }
    return failmsg(s, "connection lost again and again");
}

/* Did the transaction whose COMMIT went unanswered commit? */
static int committed(uh_store *s)
{
    const char *p[1] = {PG(s)->xid};
    PGresult *r = once(s, "SELECT txid_status($1::bigint)", 1, p);
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
        if (!lost(q) && (rc = simple(s, "COMMIT", NULL)) == UNHOOK_OK)
            break;
        if (!lost(q))
            break;              /* refused: rolled back */
        q->in_tx = 0;
        if ((rc = reconnect(s)) != UNHOOK_OK)
            break;
        if (committed(s)) {
            rc = UNHOOK_OK;
            break;
        }
        q->in_tx = 1;
        if ((rc = recover(s)) != UNHOOK_OK)
            break;
        rc = failmsg(s, "connection lost again and again");
    }
    q->in_tx = 0;
    log_clear(q);
    return rc;
}

static int pg_commit(uh_store *s)
{
    int rc = send_held(s);

    if (rc != UNHOOK_OK) {
        pg_rollback(s);
        return rc;
    }
    return commit_tx(s);
}

static void pg_rollback(uh_store *s)
{
    pg_store *q = PG(s);

    if (q->in_tx && !lost(q))
        PQclear(PQexec(q->conn, "ROLLBACK"));
    q->in_tx = 0;
    log_clear(q);
    drop_held(q);
}

/* Ops that must be atomic run in a transaction of their own when the
 * caller has none open. */
static int own_begin(uh_store *s, int *own)
{
    *own = !PG(s)->in_tx;
    return *own ? pg_begin(s) : UNHOOK_OK;
}

static int own_end(uh_store *s, int own, int rc)
{
    if (!own)
        return rc;
    if (rc == UNHOOK_OK)
        return pg_commit(s);
    pg_rollback(s);
    return rc;
}

/* ---- parameters and rows ---------------------------------------------- */

typedef struct params {
    const char *v[24];
    char num[24][32];
    int n;
} params;

static void p_text(params *p, const char *v) { p->v[p->n++] = v; }

static void p_num(params *p, double v)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%.17g", v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

static void p_int(params *p, long v)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%ld", v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

static char *col_dup(PGresult *r, int row, int c)
{
    return PQgetisnull(r, row, c) ? NULL : uh_strdup(PQgetvalue(r, row, c));
}

static double col_num(PGresult *r, int row, int c)
{
    return PQgetisnull(r, row, c) ? 0 : strtod(PQgetvalue(r, row, c), NULL);
}

static void read_inst(PGresult *r, int row, uh_inst *o)
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
    o->next_attempt_at = col_num(r, row, 11);
    o->created_at = col_num(r, row, 12);
    o->updated_at = col_num(r, row, 13);
    o->claim_owner = col_dup(r, row, 14);
    o->claimed_until = col_num(r, row, 15);
}

/* " AND state = $n..." for a filter (store.c writes it for both SQL stores). */
static void filter_sql(uh_buf *b, const unhook_filter *f, params *p)
{
    uh_sql_filter(b, '$', f, p->v, &p->n);
}

static int due_state(uh_state st)
{
    return st == UH_REGISTERING || st == UH_DEREGISTERING;
}

/* ---- the operations ---------------------------------------------------- */

static int pg_get(uh_store *s, const char *id, uh_inst *out)
{
    const char *p[1] = {id};
    PGresult *r;
    int rc = UNHOOK_OK;

    memset(out, 0, sizeof *out);
    if (!(r = run(s, "SELECT " READ_COLS " FROM instances WHERE id = $1", 1, p)))
        return UNHOOK_STORE;
    if (PQntuples(r) == 1) {
        read_inst(r, 0, out);
    } else {
        snprintf(s->errmsg, sizeof s->errmsg, "no instance '%s'", id);
        rc = UNHOOK_NOTFOUND;
    }
    PQclear(r);
    return rc;
}

static int pg_put(uh_store *s, const uh_inst *i)
{
    params p = {.n = 0};
    int rc;

    p_text(&p, i->id);
    p_text(&p, i->connector);
    p_text(&p, i->event);
    p_text(&p, i->options ? i->options : "{}");
    p_text(&p, i->connection);
    p_text(&p, i->registration);
    p_text(&p, uh_desired_name(i->desired));
    p_text(&p, uh_state_name(i->state));
    p_text(&p, i->reason);
    p_text(&p, i->last_error);
    p_int(&p, i->attempts);
    p_num(&p, i->next_attempt_at);
    p_num(&p, i->created_at);
    p_num(&p, i->updated_at);
    rc = run_cmd(s,
        "INSERT INTO instances (id, connector, event, options, connection,"
        " registration, desired, state, reason, last_error, attempts,"
        " next_attempt_at, created_at, updated_at, claim_owner, claimed_until)"
        " VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,NULL,0)"
        " ON CONFLICT (id) DO UPDATE SET connector = EXCLUDED.connector,"
        " event = EXCLUDED.event, options = EXCLUDED.options,"
        " connection = EXCLUDED.connection, registration = EXCLUDED.registration,"
        " desired = EXCLUDED.desired, state = EXCLUDED.state,"
        " reason = EXCLUDED.reason, last_error = EXCLUDED.last_error,"
        " attempts = EXCLUDED.attempts, next_attempt_at = EXCLUDED.next_attempt_at,"
        " created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,"
        " claim_owner = NULL, claimed_until = 0", p.n, p.v, NULL);
    if (rc == UNHOOK_OK && due_state(i->state))
        rc = run_cmd(s, NOTIFY_SQL, 0, NULL, NULL);
    return rc;
}

static int pg_list(uh_store *s, const unhook_filter *f, uh_inst_fn fn, void *ud)
{
    uh_buf sql = {0};
    params p = {.n = 0};
    PGresult *r;

    uh_buf_puts(&sql, "SELECT " READ_COLS " FROM instances WHERE true");
    filter_sql(&sql, f, &p);
    /* the byte order SQLite lists in, whatever the database's collation */
    uh_buf_puts(&sql, " ORDER BY id COLLATE \"C\"");
    r = sql.oom ? NULL : run(s, sql.data, p.n, p.v);
    uh_buf_free(&sql);
    if (!r)
        return UNHOOK_STORE;
    for (int k = 0; k < PQntuples(r); k++) {
        uh_inst i;
        int stop;
        read_inst(r, k, &i);
        stop = fn(ud, &i);
        uh_inst_clear(&i);
        if (stop)
            break;
    }
    PQclear(r);
    return UNHOOK_OK;
}

static int pg_intent(uh_store *s, const uh_inst *i)
{
    params p = {.n = 0};
    int rc;

    p_text(&p, uh_desired_name(i->desired));
    p_text(&p, i->reason);
    p_text(&p, uh_state_name(i->state));
    p_int(&p, i->attempts);
    p_num(&p, i->next_attempt_at);
    p_text(&p, i->last_error);
    p_num(&p, i->updated_at);
    p_text(&p, i->id);
    rc = run_cmd(s,
        "UPDATE instances SET desired = $1, reason = $2, state = $3, attempts = $4,"
        " next_attempt_at = $5, last_error = $6, updated_at = $7 WHERE id = $8",
        p.n, p.v, NULL);
    if (rc == UNHOOK_OK && due_state(i->state))
        rc = run_cmd(s, NOTIFY_SQL, 0, NULL, NULL);
    return rc;
}

static int pg_finish(uh_store *s, const uh_inst *i, const char *owner,
                     double now, int *cas)
{
    params p = {.n = 0};
    const char *q[2] = {i->id, owner};
    long rows = 0;
    int rc, own;

    *cas = UH_CAS_OK;
    p_text(&p, uh_state_name(i->state));
    p_text(&p, i->registration);
    p_int(&p, i->attempts);
    p_num(&p, i->next_attempt_at);
    p_text(&p, i->last_error);
    p_num(&p, now);
    p_text(&p, i->id);
    p_text(&p, owner);
    p_text(&p, uh_desired_name(i->desired));
    if ((rc = own_begin(s, &own)) != UNHOOK_OK)
        return rc;
    rc = run_cmd(s,
        "UPDATE instances SET state = $1, registration = $2, attempts = $3,"
        " next_attempt_at = $4, last_error = $5, updated_at = $6,"
        " claim_owner = NULL, claimed_until = 0"
        " WHERE id = $7 AND claim_owner = $8 AND desired = $9", p.n, p.v, &rows);
    if (rc == UNHOOK_OK && rows == 0) {
        /* not written: is the claim still ours (then desired changed)? */
        *cas = UH_CAS_LOST;
        rc = run_cmd(s, "SELECT 1 FROM instances WHERE id = $1 AND claim_owner = $2",
                     2, q, &rows);
        if (rc == UNHOOK_OK && rows == 1)
            *cas = UH_CAS_CHANGED;
    }
    return own_end(s, own, rc);
}

/*
 * Inside a transaction, history lines are held and sent in one INSERT
 * before the commit (or before history is read): a flush of outcomes then
 * costs one round trip per outcome, not two.  Outside one, sent at once.
 */
static int pg_history_add(uh_store *s, const unhook_history *h)
{
    pg_store *q = PG(s);
    params p = {.n = 0};
    char **v;
    int own, rc;

    p_text(&p, h->instance_id);
    p_num(&p, h->at);
    p_text(&p, h->action);
    p_text(&p, h->outcome);
    p_int(&p, h->status);
    p_int(&p, h->attempt);
    p_text(&p, h->message);
    p_text(&p, h->registration);
    if (q->nheld >= HOLD_MAX && (rc = send_held(s)) != UNHOOK_OK)
        return rc;
    if (!(v = realloc(q->hv, (size_t)(q->nheld + 1) * 8 * sizeof *v))) {
        snprintf(s->errmsg, sizeof s->errmsg, "store: out of memory");
        return UNHOOK_NOMEM;
    }
    q->hv = v;
    v += q->nheld * 8;
    for (int k = 0; k < 8; k++)
        v[k] = p.v[k] ? uh_strdup(p.v[k]) : NULL;
    q->nheld++;
    if (q->in_tx)
        return UNHOOK_OK;
    rc = own_begin(s, &own);
    if (rc == UNHOOK_OK)
        rc = send_held(s);
    return own_end(s, own, rc);
}

static void drop_held(pg_store *q)
{
    for (int k = 0; k < q->nheld * 8; k++)
        free(q->hv[k]);
    q->nheld = 0;
}

static int send_held(uh_store *s)
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
    rc = sql.oom ? UNHOOK_NOMEM
                 : run_cmd(s, sql.data, q->nheld * 8, (const char *const *)q->hv, NULL);
    uh_buf_free(&sql);
    drop_held(q);
    return rc;
}

static int pg_history_list(uh_store *s, const char *id, unhook_history_fn fn,
                           void *ud)
{
    const char *p[1] = {id};
    PGresult *r;

    if (send_held(s) != UNHOOK_OK)
        return UNHOOK_STORE;
    r = run(s, "SELECT instance_id, at, action, outcome, status, attempt, message,"
               " registration FROM history WHERE instance_id = $1 ORDER BY seq", 1, p);
    if (!r)
        return UNHOOK_STORE;
    for (int k = 0; k < PQntuples(r); k++) {
        unhook_history h;
        h.instance_id = PQgetvalue(r, k, 0);
        h.at = col_num(r, k, 1);
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

static int pg_bulk(uh_store *s, const uh_bulk *b, const unhook_filter *f,
                   double now, long *count)
{
    uh_buf sql = {0};
    params p = {.n = 0};
    long rows = 0;
    int rc, own;

    uh_sql_bulk(&sql, '$', b, f, p.v, &p.n);
    snprintf(p.num[1], sizeof p.num[1], "%.17g", now);
    p.v[1] = p.num[1];
    if (sql.oom) {
        uh_buf_free(&sql);
        snprintf(s->errmsg, sizeof s->errmsg, "store: out of memory");
        return UNHOOK_NOMEM;
    }
    if ((rc = own_begin(s, &own)) == UNHOOK_OK)
        rc = run_cmd(s, sql.data, p.n, p.v, &rows);
    uh_buf_free(&sql);
    if (rc == UNHOOK_OK && rows > 0 && due_state(b->to))
        rc = run_cmd(s, NOTIFY_SQL, 0, NULL, NULL);
    if (count)
        *count = rows;
    return own_end(s, own, rc);
}

static int pg_owners(uh_store *s, double now, uh_owner_fn fn, void *ud)
{
    params p = {.n = 0};
    PGresult *r;

    p_num(&p, now);
    r = run(s, "SELECT DISTINCT claim_owner FROM instances"
               " WHERE claimed_until > $1 AND claim_owner IS NOT NULL", p.n, p.v);
    if (!r)
        return UNHOOK_STORE;
    for (int k = 0; k < PQntuples(r); k++)
        fn(ud, PQgetvalue(r, k, 0));
    PQclear(r);
    return UNHOOK_OK;
}

#define UNCLAIM "UPDATE instances SET claimed_until = 0, claim_owner = NULL WHERE "

static int unclaim_where(uh_store *s, const char *sql, const char *v)
{
    const char *p[1] = {v};

    return run_cmd(s, sql, 1, p, NULL);
}

static int pg_release(uh_store *s, const char *owner)
{
    return unclaim_where(s, UNCLAIM "claim_owner = $1", owner);
}

/*
 * One statement claims a batch: the due rows nobody holds, locked as they
 * are found and skipped when another worker's claim has them locked.  It
 * commits on its own: when its answer is lost with the connection, it is
 * run again after reconnecting, and rows the lost one may have claimed
 * stay unrun until their lease lapses (then any worker takes them):
 * late, never twice.
 */
static int pg_claim(uh_store *s, const unhook_filter *f, double now,
                    const char *owner, double lease, int max, uh_inst *out, int *n)
{
    uh_buf sql = {0};
    params p = {.n = 0};
    PGresult *r;

    *n = 0;
    p_num(&p, now);
    p_text(&p, owner);
    p_num(&p, lease);
    uh_buf_puts(&sql, "WITH due AS (SELECT id AS due_id FROM instances WHERE state IN"
                " ('deregistering', 'registering')"
                " AND " WAKE " <= $1");
    filter_sql(&sql, f, &p);
    uh_buf_printf(&sql, " ORDER BY " WAKE " LIMIT %d FOR UPDATE SKIP LOCKED)"
                  " UPDATE instances SET claim_owner = $2, claimed_until = $3"
                  " FROM due WHERE id = due_id RETURNING " READ_COLS, max);
    r = sql.oom ? NULL : run(s, sql.data, p.n, p.v);
    uh_buf_free(&sql);
    if (!r)
        return UNHOOK_STORE;
    for (int k = 0; k < PQntuples(r) && *n < max; k++)
        read_inst(r, k, &out[(*n)++]);
    PQclear(r);
    return UNHOOK_OK;
}

static int pg_unclaim(uh_store *s, const char *id)
{
    return unclaim_where(s, UNCLAIM "id = $1", id);
}

static int pg_remove(uh_store *s, const char *id)
{
    const char *p[1] = {id};
    long rows = 0;
    int rc = run_cmd(s, "DELETE FROM instances WHERE id = $1", 1, p, &rows);

    if (rc == UNHOOK_OK && rows == 0) {
        snprintf(s->errmsg, sizeof s->errmsg, "no instance '%s'", id);
        rc = UNHOOK_NOTFOUND;
    }
    return rc;
}

static int pg_next_due(uh_store *s, const unhook_filter *f, double *when)
{
    uh_buf sql = {0};
    params p = {.n = 0};
    PGresult *r;

    *when = 0;
    uh_buf_puts(&sql, "SELECT " WAKE " FROM instances"
                      " WHERE state IN ('deregistering', 'registering')");
    filter_sql(&sql, f, &p);
    uh_buf_puts(&sql, " ORDER BY " WAKE " LIMIT 1");
    r = sql.oom ? NULL : run(s, sql.data, p.n, p.v);
    uh_buf_free(&sql);
    if (!r)
        return UNHOOK_STORE;
    if (PQntuples(r) == 1)
        *when = col_num(r, 0, 0);
    PQclear(r);
    return UNHOOK_OK;
}

static int pg_renew(uh_store *s, const char *owner, double until)
{
    params p = {.n = 0};

    p_text(&p, owner);
    p_num(&p, until);
    return run_cmd(s, "UPDATE instances SET claimed_until = $2"
                      " WHERE claim_owner = $1 AND claimed_until > 0", p.n, p.v, NULL);
}

/* Block until new due work is announced or timeout_s passed. */
static int pg_wait(uh_store *s, double timeout_s)
{
    pg_store *q = PG(s);
    PGnotify *note;
    int fd;

    if (!q->listening) {
        q->listening = 1;
        if (run_cmd(s, "SELECT 1", 0, NULL, NULL) != UNHOOK_OK ||
            simple(s, "LISTEN unhook_due", NULL) != UNHOOK_OK)
            return UNHOOK_STORE;
    }
    if (lost(q) && recover(s) != UNHOOK_OK)
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

static void pg_close(uh_store *s)
{
    pg_store *q = PG(s);

    if (!s)
        return;
    log_clear(q);
    prep_clear(q);
    drop_held(q);
    free(q->hv);
    PQfinish(q->conn);
    free(q->url);
    free(q);
}

static const uh_store_ops pg_ops = {
    pg_begin, pg_commit, pg_rollback, pg_get, pg_put, pg_intent, pg_finish,
    pg_list, pg_history_add, pg_history_list, pg_bulk, pg_claim, pg_unclaim,
    pg_owners, pg_release, pg_remove, pg_next_due, pg_close, pg_renew, pg_wait,
};

/* Versioned like the SQLite store (there: PRAGMA user_version), under an
 * advisory lock so that workers starting together migrate once. */
static int migrate(uh_store *s)
{
    int n = (int)(sizeof migrations / sizeof *migrations), version, rc;
    PGresult *r;

    if ((rc = simple(s, "BEGIN; SELECT pg_advisory_xact_lock(7355608);"
                        " CREATE TABLE IF NOT EXISTS unhook_schema"
                        " (version INTEGER NOT NULL)", NULL)) != UNHOOK_OK)
        return rc;
    if ((rc = simple(s, "SELECT COALESCE(MAX(version), 0) FROM unhook_schema", &r)) != UNHOOK_OK)
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
        if ((rc = simple(s, migrations[version], NULL)) != UNHOOK_OK ||
            (rc = simple(s, sql, NULL)) != UNHOOK_OK)
            goto err;
    }
    return simple(s, "COMMIT", NULL);
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
    mask_url(url, q->shown, sizeof q->shown);
    if ((rc = connect_once(s)) != UNHOOK_OK || (rc = migrate(s)) != UNHOOK_OK) {
        snprintf(err, errsz, "%s", s->errmsg);
        pg_close(s);
        return rc;
    }
    *out = s;
    return UNHOOK_OK;
}
