/*
 * sqlite_db.h -- private: the SQLite store's connection and the helpers
 * its statements share (sqlite_db.c): the cache of prepared statements,
 * binding and reading columns, errors in the store's words.
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

typedef struct sq_store {
    uh_store base;
    sqlite3 *db;
    sq_cached *cache;
    char path[256];
} sq_store;

#define SQ(s) ((sq_store *)(s))

/* The database's last error as the store's message: UNHOOK_STORE. */
int db_fail(uh_store *s, const char *what);
/* Run SQL text (no results): UNHOOK_OK or UNHOOK_STORE. */
int db_exec(uh_store *s, const char *sql);
/* The prepared statement of sql, kept for its next use; NULL on error. */
sqlite3_stmt *db_prep(uh_store *s, const char *sql);
/* Done with a statement from db_prep(): ready for its next use. */
void db_done(sqlite3_stmt *st);
/* Text (NULL: SQL NULL) bound to parameter i. */
void db_bind_text(sqlite3_stmt *st, int i, const char *v);
/* vals[from..to) bound to parameters from + 1 ... */
void db_bind_texts(sqlite3_stmt *st, const char **vals, int from, int to);
/* Column i as a malloc'd string, or NULL. */
char *db_col_dup(sqlite3_stmt *st, int i);
/* Finalize every kept statement. */
void db_cache_free(uh_store *s);

#endif
