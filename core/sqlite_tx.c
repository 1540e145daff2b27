/*
 * sqlite_tx.c -- the SQLite store's write transactions (sqlite_db.h):
 * BEGIN IMMEDIATE (writers serialise on it, with the busy timeout), and a
 * commit that writes the history rows held first (sqlite_history.c).
 */
#include "sqlite_db.h"

int uh_sq_begin(uh_store *s)
{
    int rc = uh_sq_run(s, "BEGIN IMMEDIATE");

    SQ(s)->in_tx = rc == UNHOOK_OK;
    return rc;
}

/* The history rows held go in first (sqlite_history.c). */
int uh_sq_commit(uh_store *s)
{
    int rc = uh_sq_send_held(s);

    if (rc == UNHOOK_OK && (rc = uh_sq_run(s, "COMMIT")) == UNHOOK_OK)
        SQ(s)->in_tx = 0;
    return rc;
}

void uh_sq_rollback(uh_store *s)
{
    uh_sq_drop_held(SQ(s));
    SQ(s)->in_tx = 0;
    if (!sqlite3_get_autocommit(SQ(s)->db))
        sqlite3_exec(SQ(s)->db, "ROLLBACK", NULL, NULL, NULL);
}
