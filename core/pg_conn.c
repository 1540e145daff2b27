/*
 * pg_conn.c -- the PostgreSQL store's connection (pg.h): opened, lost and
 * recovered.  A lost connection (a server restart, a network cut) is
 * survived: the statement is run again after reconnecting with backoff,
 * and a transaction that was open is replayed first (each statement must
 * touch the same number of rows again, else the transaction fails as it
 * would have).  Messages show the URL with its password masked.
 */
#include <string.h>
#include <time.h>

#include "pg.h"

#define RECONNECT_S 60.0        /* give up reconnecting after this long */

struct pg_prep {                /* a statement prepared on this connection */
    char *sql;
    char name[16];
    struct pg_prep *next;
};

struct pg_logged {              /* a statement of the open transaction */
    char *sql;
    int n;
    char **params;
    long rows;
    struct pg_logged *next;
};

/* ---- messages: the URL is shown with its password masked ------------- */

/* postgresql://user:secret@host/db?password=secret -> user:***, password=*** */
void uh_pg_mask_url(const char *url, char *out, size_t size)
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

int uh_pg_failmsg(uh_store *s, const char *msg)
{
    char text[400];
    size_t n;

    snprintf(text, sizeof text, "%s", msg && *msg ? msg : "unknown error");
    n = strlen(text);
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        text[--n] = '\0';
    snprintf(s->errmsg, sizeof s->errmsg, "%.255s: store: %.240s", PG(s)->shown, text);
    return UNHOOK_STORE;
}

int uh_pg_oom(uh_store *s)
{
    snprintf(s->errmsg, sizeof s->errmsg, "%s: store: out of memory", PG(s)->shown);
    return UNHOOK_NOMEM;
}

static int fail(uh_store *s)
{
    return uh_pg_failmsg(s, PG(s)->conn ? PQerrorMessage(PG(s)->conn) : "not connected");
}

static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;              /* NOTICEs are not the user's business */
}

/* ---- the connection: open, lost, recovered ---------------------------- */

void uh_pg_prep_clear(pg_store *q)
{
    while (q->prepared) {
        pg_prep *p = q->prepared;
        q->prepared = p->next;
        free(p->sql);
        free(p);
    }
    q->nprep = 0;
}

void uh_pg_log_clear(pg_store *q)
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

int uh_pg_lost(pg_store *q)
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
int uh_pg_simple(uh_store *s, const char *sql, PGresult **out)
{
    PGresult *r = PQexec(PG(s)->conn, sql);
    ExecStatusType st = PQresultStatus(r);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        uh_pg_failmsg(s, r ? PQresultErrorMessage(r) : PQerrorMessage(PG(s)->conn));
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
    if ((rc = uh_pg_simple(s, "SELECT current_setting('statement_timeout')", &r)) != UNHOOK_OK)
        return rc;
    rc = strcmp(PQgetvalue(r, 0, 0), "0") == 0
        ? uh_pg_simple(s, "SET statement_timeout = '30s'", NULL) : UNHOOK_OK;
    PQclear(r);
    if (rc == UNHOOK_OK && PG(s)->listening)
        rc = uh_pg_simple(s, "LISTEN unhook_due", NULL);
    return rc;
}

int uh_pg_connect(uh_store *s)
{
    pg_store *q = PG(s);
    const char *keys[] = {"connect_timeout", "fallback_application_name", "dbname", NULL};
    const char *vals[] = {"10", "unhook", q->url, NULL};

    PQfinish(q->conn);
    uh_pg_prep_clear(q);
    q->broken = 0;
    q->conn = PQconnectdbParams(keys, vals, 1);
    if (!q->conn)
        return uh_pg_oom(s);
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
int uh_pg_reconnect(uh_store *s)
{
    double delay = 0.05, start = uh_now();
    int rc;

    for (;;) {
        if ((rc = uh_pg_connect(s)) == UNHOOK_OK)
            return UNHOOK_OK;
        if (rc == UNHOOK_NOMEM || uh_now() - start > RECONNECT_S)
            return rc;
        sleep_s(delay);
        delay = delay * 2 > 2.0 ? 2.0 : delay * 2;
    }
}

/* Run a prepared statement once; NULL (message set) on failure. */
PGresult *uh_pg_once(uh_store *s, const char *sql, int n, const char *const *params)
{
    pg_store *q = PG(s);
    pg_prep *p;
    PGresult *r;
    ExecStatusType st;

    if (uh_pg_lost(q)) {
        uh_pg_failmsg(s, "connection lost");
        return NULL;
    }
    for (p = q->prepared; p; p = p->next)
        if (strcmp(p->sql, sql) == 0)
            break;
    if (!p) {
        if (!(p = calloc(1, sizeof *p)) || !(p->sql = uh_strdup(sql))) {
            free(p);
            uh_pg_oom(s);
            return NULL;
        }
        snprintf(p->name, sizeof p->name, "uh%d", q->nprep++);
        r = PQprepare(q->conn, p->name, sql, n, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            uh_pg_failmsg(s, r ? PQresultErrorMessage(r) : PQerrorMessage(q->conn));
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
        uh_pg_failmsg(s, r ? PQresultErrorMessage(r) : PQerrorMessage(q->conn));
        note_error(q, r);
        PQclear(r);
        return NULL;
    }
    return r;
}

long uh_pg_rows(PGresult *r)
{
    return PQresultStatus(r) == PGRES_TUPLES_OK ? PQntuples(r)
                                                : atol(PQcmdTuples(r));
}

int uh_pg_open_tx(uh_store *s)
{
    PGresult *r;
    int rc = uh_pg_simple(s, "BEGIN; SELECT txid_current()", &r);

    if (rc == UNHOOK_OK) {
        snprintf(PG(s)->xid, sizeof PG(s)->xid, "%s", PQgetvalue(r, 0, 0));
        PQclear(r);
    }
    return rc;
}

/* After a lost connection: connect again and, inside a transaction,
 * replay what it had done. */
int uh_pg_recover(uh_store *s)
{
    pg_store *q = PG(s);

    for (int tries = 0; tries < 5; tries++) {
        int rc = uh_pg_reconnect(s);
        pg_logged *l;

        if (rc != UNHOOK_OK || !q->in_tx)
            return rc;
        if ((rc = uh_pg_open_tx(s)) != UNHOOK_OK) {
            if (uh_pg_lost(q))
                continue;
            return rc;
        }
        for (l = q->log; l; l = l->next) {
            PGresult *r = uh_pg_once(s, l->sql, l->n, (const char *const *)l->params);
            long rows = r ? uh_pg_rows(r) : -1;
            PQclear(r);
            if (!r && uh_pg_lost(q))
                break;
            if (rows != l->rows)
                return uh_pg_failmsg(s, "the transaction was cut by a lost connection "
                               "and could not be replayed");
        }
        if (!l)
            return UNHOOK_OK;
    }
    return uh_pg_failmsg(s, "connection lost again and again");
}

/* One statement, surviving a lost connection; the result is the caller's. */
PGresult *uh_pg_run(uh_store *s, const char *sql, int n, const char *const *params)
{
    pg_store *q = PG(s);

    for (int tries = 0; tries < 5; tries++) {
        PGresult *r = uh_pg_once(s, sql, n, params);
        if (r) {
            if (q->in_tx)
                log_add(q, sql, n, params, uh_pg_rows(r));
            return r;
        }
        if (!uh_pg_lost(q) || uh_pg_recover(s) != UNHOOK_OK)
            return NULL;
    }
    return NULL;
}

/* A statement whose rows do not matter. */
int uh_pg_cmd(uh_store *s, const char *sql, int n, const char *const *params,
                   long *rows)
{
    PGresult *r = uh_pg_run(s, sql, n, params);

    if (!r)
        return UNHOOK_STORE;
    if (rows)
        *rows = uh_pg_rows(r);
    PQclear(r);
    return UNHOOK_OK;
}

