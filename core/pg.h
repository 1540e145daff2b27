/*
 * pg.h -- private to the PostgreSQL store (store_pg.c and its pg_*.c
 * parts): the connection object, the statement helpers every part uses,
 * and the operations each part implements for store_pg.c's table.
 *
 *   pg_conn.c     the connection: open, lost, recovered; statements
 *   pg_tx.c       transactions, and history rows held until the commit
 *   pg_rows.c     instance rows: get, put, list, intent, finish, bulk, remove
 *   pg_claim.c    claims and leases, next due, waiting for NOTIFY
 *   pg_history.c  history lines
 *   pg_token.c    OAuth2 token rows
 *   store_pg.c    schema and migrations, open and close, the table of ops
 */
#ifndef UNHOOK_PG_H
#define UNHOOK_PG_H

#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "store.h"

#define UH_PG_HOLD_MAX 64       /* history rows sent in one INSERT at most */
#define UH_PG_NOTIFY "SELECT pg_notify('unhook_due', '')"

/* The columns an instance is read from (uh_pg_read_inst's order). */
#define UH_PG_READ_COLS "id, connector, event, options, connection, "      \
    "registration, (desired = 'on')::int, " UH_STATE_SQL ", reason, "       \
    "last_error, attempts, next_attempt_at, created_at, updated_at, "       \
    "claim_owner, claimed_until, expires_at"
/* when a pending instance may be claimed: due, and no live claim */
#define UH_PG_WAKE "GREATEST(next_attempt_at, claimed_until)"

typedef struct pg_prep pg_prep;         /* a statement prepared (pg_conn.c) */
typedef struct pg_logged pg_logged;     /* a statement of the open transaction */

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
    char **hv;                  /* history rows held until commit, 8 values a row */
    int nheld;
} pg_store;

#define PG(s) ((pg_store *)(s))

/* ---- pg_conn.c ------------------------------------------------------- */

/* postgresql://user:secret@host/db?password=secret -> user:***, password=*** */
void uh_pg_mask_url(const char *url, char *out, size_t size);
/* s->errmsg = "URL: store: msg"; returns UNHOOK_STORE */
int uh_pg_failmsg(uh_store *s, const char *msg);
int uh_pg_oom(uh_store *s);             /* UNHOOK_NOMEM, message set */
int uh_pg_lost(pg_store *q);            /* the connection is gone */
/* connect (again), session settings included */
int uh_pg_connect(uh_store *s);
/* reconnect with backoff, and replay an open transaction */
int uh_pg_reconnect(uh_store *s);
int uh_pg_recover(uh_store *s);
/* a statement without parameters, simple protocol, not replayed */
int uh_pg_simple(uh_store *s, const char *sql, PGresult **out);
/* a prepared statement once; NULL (message set) on failure */
PGresult *uh_pg_once(uh_store *s, const char *sql, int n, const char *const *params);
/* one statement, surviving a lost connection; the result is the caller's */
PGresult *uh_pg_run(uh_store *s, const char *sql, int n, const char *const *params);
/* a statement whose rows do not matter (rows: how many it touched) */
int uh_pg_cmd(uh_store *s, const char *sql, int n, const char *const *params,
              long *rows);
long uh_pg_rows(PGresult *r);
int uh_pg_open_tx(uh_store *s);         /* BEGIN, and note the xid */
void uh_pg_log_clear(pg_store *q);
void uh_pg_prep_clear(pg_store *q);

/* ---- pg_tx.c --------------------------------------------------------- */

int uh_pg_begin(uh_store *s);
int uh_pg_commit(uh_store *s);
void uh_pg_rollback(uh_store *s);
/* an op that must be atomic opens a transaction when the caller has none */
int uh_pg_own_begin(uh_store *s, int *own);
int uh_pg_own_end(uh_store *s, int own, int rc);
/* history rows held until the commit: 8 values a row (copied) */
int uh_pg_hold(uh_store *s, const char *const *vals);
int uh_pg_send_held(uh_store *s);
void uh_pg_drop_held(pg_store *q);

/* ---- parameters and columns ------------------------------------------- */

typedef struct uh_pg_params {
    const char *v[24];
    char num[24][32];
    int n;
} uh_pg_params;

static inline void uh_pg_text(uh_pg_params *p, const char *v)
{
    p->v[p->n++] = v;
}

static inline void uh_pg_num(uh_pg_params *p, double v)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%.17g", v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

static inline void uh_pg_int(uh_pg_params *p, long long v)
{
    snprintf(p->num[p->n], sizeof p->num[p->n], "%lld", v);
    p->v[p->n] = p->num[p->n];
    p->n++;
}

static inline double uh_pg_col_num(PGresult *r, int row, int c)
{
    return PQgetisnull(r, row, c) ? 0 : strtod(PQgetvalue(r, row, c), NULL);
}

/* ---- the operations, by part ------------------------------------------- */

/* pg_rows.c */
void uh_pg_read_inst(PGresult *r, int row, uh_inst *o);
int uh_pg_get(uh_store *s, const char *id, uh_inst *out);
int uh_pg_put(uh_store *s, const uh_inst *i);
int uh_pg_list(uh_store *s, const unhook_filter *f, uh_inst_fn fn, void *ud);
int uh_pg_intent(uh_store *s, const uh_inst *i);
int uh_pg_finish(uh_store *s, const uh_inst *i, const char *owner, double now,
                 int *cas);
int uh_pg_finish_many(uh_store *s, const uh_inst *const *in, int n,
                      const char *owner, double now, int *cas);
int uh_pg_bulk(uh_store *s, const uh_bulk *b, const unhook_filter *f,
               double now, long *count);
int uh_pg_remove(uh_store *s, const char *id);

/* pg_claim.c */
int uh_pg_claim(uh_store *s, const unhook_filter *f, double now,
                const char *owner, double lease, int max, uh_inst *out, int *n);
int uh_pg_unclaim(uh_store *s, const char *id);
int uh_pg_owners(uh_store *s, double now, uh_owner_fn fn, void *ud);
int uh_pg_release(uh_store *s, const char *owner);
int uh_pg_next_due(uh_store *s, const unhook_filter *f, double *when);
int uh_pg_renew(uh_store *s, const char *owner, double until);
int uh_pg_wait(uh_store *s, double timeout_s);

/* pg_history.c */
int uh_pg_history_add(uh_store *s, const unhook_history *h);
int uh_pg_history_list(uh_store *s, const char *id, unhook_history_fn fn,
                       void *ud);
int uh_pg_history_bulk(uh_store *s, const uh_bulk *b, int n,
                       const unhook_filter *f, const unhook_history *h, long *rows);

/* pg_token.c */
int uh_pg_token_get(uh_store *s, const char *key, uh_token_row *out);
int uh_pg_token_cas(uh_store *s, const uh_token_row *in, long long expect,
                    int *cas);

#endif
