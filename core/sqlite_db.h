/*
 * sqlite_db.h -- private: the SQLite backend's connection, shared by its
 * files (store_sqlite.c: instances; sqlite_schema.c: migrations;
 * sqlite_tx.c: transactions; sqlite_claim.c: claims; sqlite_history.c:
 * history; sqlite_tokens.c: OAuth2 token rows).  Part of the store layer.
 */
#ifndef UNHOOK_SQLITE_DB_H
#define UNHOOK_SQLITE_DB_H

#include <sqlite3.h>

#include "store.h"

/* Prepared statements are kept, keyed by their text: parsing SQL again
 * for every statement run showed in the profile of bulk work. */
typedef struct sq_cached {
    char *sql;
    sqlite3_stmt *st;
    struct sq_cached *next;
} sq_cached;

/* History rows inside a transaction are held and written together at the
 * commit (or before history is read): one INSERT of SQ_HOLD_ROWS rows
 * costs less than as many of one.  Texts are offsets into the store's
 * text buffer (-1: NULL), which may move as it grows. */
#define SQ_HOLD_MAX 64
#define SQ_HOLD_ROWS 16
typedef struct sq_held {
    long text[5];               /* instance_id, action, outcome, message, registration */
    double at;
    int status, attempt;
} sq_held;

typedef struct sq_sync sq_sync;        /* group commit: sqlite_sync.c */

/* Outcomes that take the same values are written by one UPDATE of up to
 * SQ_SET_MAX rows (store_sqlite.c): one statement for each power of two
 * from 2 up, kept in set_st. */
#define SQ_SET_MAX 64
#define SQ_SET_SIZES 6

typedef struct sq_store {
    uh_store base;
    sqlite3 *db;
    sq_cached *cache;
    int in_tx;                  /* inside the store's begin ... commit */
    int nheld;
    sq_held held[SQ_HOLD_MAX];
    uh_buf held_text;
    uh_buf freed;               /* rowids whose claims a finish released in
                                   this transaction: a JSON array being
                                   built, deleted in one statement */
    sqlite3_stmt *set_st[SQ_SET_SIZES];  /* owned by the cache */
    sq_sync *sync;              /* the WAL's syncer, once started (shared
                                   by the process's stores of the file) */
    unsigned long long last_ticket;  /* of this store's last lazy commit */
    int sync_failed;            /* it could not be: commits stay FULL */
    int lazy;                   /* this transaction commits at NORMAL */
    int broken;                 /* errno of a failed sync: no more writes */
    int ckpt_pages;             /* the WAL's pages at the last checkpoint asked */
    double busy_since;          /* when the busy handler began to wait (uh_now) */
    char path[256];
} sq_store;

#define SQ(s) ((sq_store *)(s))

/* Claims are rows of the table claims (migration 8): rid (the
 * instance's rowid), owner, lease_end.  SQ_FROM: the instances with
 * their claim, if any; SQ_WAKE: when a claimed row may be claimed again. */
#define SQ_FROM "instances LEFT JOIN claims ON rid = instances.rowid"
#define SQ_WAKE "MAX(next_attempt_at, lease_end)"

/* An instance's columns as uh_sq_read_inst() reads them, FROM SQ_FROM
 * (states are kept as their names, read back as numbers there). */
#define UH_SQ_READ_COLS "id, connector, event, options, connection, "     \
    "registration, desired = 'on', state, reason, last_error, attempts, " \
    "next_attempt_at, created_at, updated_at, owner, lease_end, "         \
    "expires_at"

/* The row st holds (UH_SQ_READ_COLS first) into o, strings malloc'd. */
void uh_sq_read_inst(sqlite3_stmt *st, uh_inst *o);

/* The store's begin, commit (the history rows held go in first) and
 * rollback (store.h), in sqlite_tx.c. */
int uh_sq_begin(uh_store *s);
int uh_sq_commit(uh_store *s);
void uh_sq_rollback(uh_store *s);

/* Group commit (sqlite_sync.c): the store's begin_lazy, commit_lazy and
 * durable (store.h); uh_sq_sync_stop: the syncer's last sync, then it
 * ends (before the database closes).  uh_sq_broken_msg (sqlite_tx.c):
 * the message of a failed sync into s, UNHOOK_STORE. */
int uh_sq_begin_lazy(uh_store *s);
int uh_sq_commit_lazy(uh_store *s, unsigned long long *ticket);
int uh_sq_durable(uh_store *s, unsigned long long ticket, int wait);
void uh_sq_sync_stop(sq_store *q);
int uh_sq_broken_msg(uh_store *s);
/* Checkpoints by the syncer's thread from now on (at open). */
void uh_sq_sync_hook(sq_store *q);

/* The name of the file layer the store opens its database with
 * (sqlite_vfs.c: SQLite's own, the writes of a commit to the WAL gathered
 * into one), or NULL for SQLite's default. */
const char *uh_sq_vfs(void);

/* Around the store's COMMIT on db (sqlite_tx.c): before it, its frames
 * are to be gathered into one write; after it, with whether it committed.
 * Nothing when db's WAL is not of uh_sq_vfs. */
void uh_sq_vfs_gather(sqlite3 *db);
void uh_sq_vfs_gathered(sqlite3 *db, int committed);

/* Creates or migrates the schema (sqlite_schema.c); path for messages. */
int uh_sq_migrate(uh_store *s, const char *path);

/* The store's claim and next_due (store.h), in sqlite_claim.c. */
int uh_sq_claim(uh_store *s, const unhook_filter *f, double now,
                const char *owner, double lease, int max, uh_inst *out, int *n);
int uh_sq_next_due(uh_store *s, const unhook_filter *f, double *when);

/* The database's last error as s's message ("PATH: store: ..."). */
int uh_sq_fail(uh_store *s, const char *what);

/* Runs sql (no rows).  UNHOOK_OK, or UNHOOK_STORE with the message. */
int uh_sq_exec(uh_store *s, const char *sql);

/* The statement for sql from the cache, prepared on first use; NULL on
 * failure (message in s).  Hand it back with uh_sq_release(). */
sqlite3_stmt *uh_sq_prep(uh_store *s, const char *sql);

/* Runs sql (no rows, no parameters) as a kept statement: what is run
 * for every transaction (BEGIN, COMMIT) is parsed once. */
int uh_sq_run(uh_store *s, const char *sql);

/* Done with a statement from uh_sq_prep(): ready for its next use. */
void uh_sq_release(sqlite3_stmt *st);

/* Binds v (not copied: release the statement while v lives), or NULL
 * when v is NULL. */
void uh_sq_bind_text(sqlite3_stmt *st, int i, const char *v);

/* vals[from..to) bound to parameters from + 1 ... */
void uh_sq_bind_texts(sqlite3_stmt *st, const char **vals, int from, int to);

/* Column i as a malloc'd string, or NULL. */
char *uh_sq_col_dup(sqlite3_stmt *st, int i);

/* Finalizes the cached statements and closes the database (not q). */
void uh_sq_close(sq_store *q);

/* The claims that finishes released in this transaction, deleted (before
 * the commit, and before anything reads claims), or forgotten (a
 * rollback); in sqlite_tx.c.  uh_sq_free_claim: row's claim is to go,
 * now or with the others. */
int uh_sq_send_freed(uh_store *s);
void uh_sq_drop_freed(sq_store *q);
int uh_sq_free_claim(uh_store *s, long long row);
/* Appends the rowid r to the JSON array being built in b ("[" first). */
void uh_sq_add_rowid(uh_buf *b, long long r);

/* Writes the history rows held, or drops them (a rollback). */
int uh_sq_send_held(uh_store *s);
void uh_sq_drop_held(sq_store *q);

/* The store's history_add, history_list and history_bulk (store.h). */
int uh_sq_history_add(uh_store *s, const unhook_history *h);
int uh_sq_history_list(uh_store *s, const char *id, unhook_history_fn fn,
                       void *ud);
int uh_sq_history_bulk(uh_store *s, const uh_bulk *b, int n, const unhook_filter *f,
                       const unhook_history *h, long *rows);

/* The store's token_get and token_cas (store.h). */
int uh_sq_token_get(uh_store *s, const char *key, uh_token_row *out);
int uh_sq_token_cas(uh_store *s, const uh_token_row *in, long long expect,
                    int *cas);

#endif
