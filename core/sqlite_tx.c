/*
 * sqlite_tx.c -- the SQLite store's write transactions (sqlite_db.h):
 * BEGIN IMMEDIATE (writers serialise on it, with the busy timeout), and a
 * commit that writes the history rows held (sqlite_history.c) and deletes
 * the claims released first.
 */
#include <stdio.h>
#include <string.h>

#include "sqlite_db.h"

void uh_sq_add_rowid(uh_buf *b, long long r)
{
    char d[24];
    int k = (int)sizeof d;

    do
        d[--k] = (char)('0' + r % 10);
    while ((r /= 10) > 0);
    if (b->len > 1)
        d[--k] = ',';
    uh_buf_add(b, d + k, sizeof d - (size_t)k);
}

/* Outside a transaction the claim goes at once; inside, with the others
 * of the transaction in one DELETE (one statement per outcome fewer). */
int uh_sq_free_claim(uh_store *s, long long row)
{
    sq_store *q = SQ(s);

    if (q->in_tx) {
        if (q->freed.len == 0)
            uh_buf_add(&q->freed, "[", 1);
        uh_sq_add_rowid(&q->freed, row);
        if (!q->freed.oom)
            return UNHOOK_OK;
        snprintf(s->errmsg, sizeof s->errmsg, "store: out of memory");
        return UNHOOK_NOMEM;
    }
    q->freed.len = 0;
    uh_buf_puts(&q->freed, "[");
    uh_sq_add_rowid(&q->freed, row);
    return uh_sq_send_freed(s);
}

int uh_sq_send_freed(uh_store *s)
{
    sq_store *q = SQ(s);
    sqlite3_stmt *st;
    int rc;

    if (q->freed.len == 0)
        return UNHOOK_OK;
    uh_buf_add(&q->freed, "]", 1);
    st = q->freed.oom ? NULL : uh_sq_prep(s,
        "DELETE FROM claims WHERE rid IN (SELECT value FROM json_each(?))");
    if (!st) {
        uh_sq_drop_freed(q);
        return UNHOOK_STORE;
    }
    uh_sq_bind_text(st, 1, q->freed.data);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "finish");
    uh_sq_release(st);
    uh_sq_drop_freed(q);
    return rc;
}

void uh_sq_drop_freed(sq_store *q)
{
    q->freed.len = 0;
}

int uh_sq_begin(uh_store *s)
{
    int rc;

    if (SQ(s)->broken)
        return uh_sq_broken_msg(s);     /* a failed sync is final (sqlite_sync.c) */
    rc = uh_sq_run(s, "BEGIN IMMEDIATE");

    SQ(s)->in_tx = rc == UNHOOK_OK;
    return rc;
}

/* The history rows held go in first (sqlite_history.c). */
int uh_sq_commit(uh_store *s)
{
    int rc = uh_sq_send_held(s);

    if (rc == UNHOOK_OK)
        rc = uh_sq_send_freed(s);
    if (rc == UNHOOK_OK) {
        uh_sq_vfs_gather(SQ(s)->db);        /* one write of its frames */
        rc = uh_sq_run(s, "COMMIT");
        uh_sq_vfs_gathered(SQ(s)->db, rc == UNHOOK_OK);
        if (rc == UNHOOK_OK)
            SQ(s)->in_tx = 0;
    }
    return rc;
}

void uh_sq_rollback(uh_store *s)
{
    uh_sq_drop_held(SQ(s));
    uh_sq_drop_freed(SQ(s));
    SQ(s)->in_tx = 0;
    if (!sqlite3_get_autocommit(SQ(s)->db))
        sqlite3_exec(SQ(s)->db, "ROLLBACK", NULL, NULL, NULL);
    if (SQ(s)->lazy) {          /* a lazy one (sqlite_sync.c): FULL again */
        SQ(s)->lazy = 0;
        uh_sq_run(s, "PRAGMA synchronous = FULL");
    }
}

int uh_sq_broken_msg(uh_store *s)
{
    snprintf(s->errmsg, sizeof s->errmsg, "%s: store: cannot sync the WAL: %s",
             SQ(s)->path, strerror(SQ(s)->broken));
    return UNHOOK_STORE;
}
