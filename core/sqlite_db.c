/*
 * sqlite_db.c -- the SQLite backend's connection: errors as the store's
 * message, prepared statements kept by their text, an instance's row read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_db.h"

int uh_sq_fail(uh_store *s, const char *what)
{
    (void)what;                 /* which statement is no news to a user */
    snprintf(s->errmsg, sizeof s->errmsg, "%s: store: %s", SQ(s)->path,
             sqlite3_errmsg(SQ(s)->db));
    return UNHOOK_STORE;
}

int uh_sq_exec(uh_store *s, const char *sql)
{
    char *err = NULL;

    if (sqlite3_exec(SQ(s)->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        snprintf(s->errmsg, sizeof s->errmsg, "%s: store: %s", SQ(s)->path,
                 err ? err : "error");
        sqlite3_free(err);
        return UNHOOK_STORE;
    }
    return UNHOOK_OK;
}

sqlite3_stmt *uh_sq_prep(uh_store *s, const char *sql)
{
    sq_cached *c;
    sqlite3_stmt *st = NULL;

    for (c = SQ(s)->cache; c; c = c->next)
        if (strcmp(c->sql, sql) == 0)
            return c->st;
    if (sqlite3_prepare_v3(SQ(s)->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st,
                           NULL) != SQLITE_OK) {
        uh_sq_fail(s, "prepare");
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c || !(c->sql = uh_strdup(sql))) {
        free(c);
        sqlite3_finalize(st);
        snprintf(s->errmsg, sizeof s->errmsg, "store: out of memory");
        return NULL;
    }
    c->st = st;
    c->next = SQ(s)->cache;
    SQ(s)->cache = c;
    return st;
}

void uh_sq_release(sqlite3_stmt *st)
{
    if (st) {
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
    }
}

int uh_sq_run(uh_store *s, const char *sql)
{
    sqlite3_stmt *st = uh_sq_prep(s, sql);
    int rc;

    if (!st)
        return UNHOOK_STORE;
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, sql);
    uh_sq_release(st);
    return rc;
}

/* Not copied: every statement is released (its bindings cleared) before
 * the function that bound it returns, while the caller's strings live. */
void uh_sq_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

void uh_sq_bind_texts(sqlite3_stmt *st, const char **vals, int from, int to)
{
    for (int k = from; k < to; k++)
        uh_sq_bind_text(st, k + 1, vals[k]);
}

void uh_sq_read_inst(sqlite3_stmt *st, uh_inst *o)
{
    o->id = uh_sq_col_dup(st, 0);
    o->connector = uh_sq_col_dup(st, 1);
    o->event = uh_sq_col_dup(st, 2);
    o->options = uh_sq_col_dup(st, 3);
    o->connection = uh_sq_col_dup(st, 4);
    o->registration = uh_sq_col_dup(st, 5);
    o->desired = sqlite3_column_int(st, 6) ? UH_WANT_ON : UH_WANT_OFF;
    o->state = (uh_state)uh_state_parse((const char *)sqlite3_column_text(st, 7));
    if ((int)o->state < 0)
        o->state = UH_REGISTERING;      /* as a CASE without a match read */
    o->reason = uh_sq_col_dup(st, 8);
    o->last_error = uh_sq_col_dup(st, 9);
    o->attempts = sqlite3_column_int(st, 10);
    o->next_attempt_at = sqlite3_column_double(st, 11);
    o->created_at = sqlite3_column_double(st, 12);
    o->updated_at = sqlite3_column_double(st, 13);
    o->claim_owner = uh_sq_col_dup(st, 14);
    o->claimed_until = sqlite3_column_double(st, 15);
    o->expires_at = sqlite3_column_double(st, 16);
}

char *uh_sq_col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    return t ? uh_strdup((const char *)t) : NULL;
}

void uh_sq_close(sq_store *q)
{
    while (q->cache) {
        sq_cached *c = q->cache;
        q->cache = c->next;
        sqlite3_finalize(c->st);
        free(c->sql);
        free(c);
    }
    sqlite3_close(q->db);
    q->db = NULL;
    uh_buf_free(&q->held_text);
    uh_buf_free(&q->freed);
}
