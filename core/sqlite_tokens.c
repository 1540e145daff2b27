/*
 * sqlite_tokens.c -- the SQLite backend's OAuth2 token rows (table
 * oauth_tokens, created by store_sqlite.c's migrations): a sealed blob
 * and a lease, written by compare-and-set on a version.  The rows hold
 * nothing in clear: the layer above seals them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_db.h"

int uh_sq_token_get(uh_store *s, const char *key, uh_token_row *out)
{
    sqlite3_stmt *st = uh_sq_prep(s, "SELECT version, sealed, lease_until"
                               " FROM oauth_tokens WHERE key = ?");
    int rc;

    memset(out, 0, sizeof *out);
    if (!st)
        return UNHOOK_STORE;
    uh_sq_bind_text(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const void *b = sqlite3_column_blob(st, 1);
        int n = sqlite3_column_bytes(st, 1);
        out->key = uh_strdup(key);
        out->version = sqlite3_column_int64(st, 0);
        out->lease_until = sqlite3_column_double(st, 2);
        out->sealed = malloc(n > 0 ? (size_t)n : 1);
        out->len = (size_t)n;
        if (!out->key || !out->sealed) {
            uh_token_row_clear(out);
            snprintf(s->errmsg, sizeof s->errmsg, "store: out of memory");
            rc = UNHOOK_NOMEM;
        } else {
            if (n > 0)
                memcpy(out->sealed, b, (size_t)n);
            rc = UNHOOK_OK;
        }
    } else {
        rc = rc == SQLITE_DONE ? UNHOOK_NOTFOUND : uh_sq_fail(s, "token");
    }
    uh_sq_release(st);
    return rc;
}

int uh_sq_token_cas(uh_store *s, const uh_token_row *in, long long expect,
                    int *cas)
{
    sqlite3_stmt *st = uh_sq_prep(s, expect == 0
        ? "INSERT INTO oauth_tokens (sealed, lease_until, updated_at, key, version)"
          " VALUES (?, ?, ?, ?, 1) ON CONFLICT (key) DO NOTHING"
        : "UPDATE oauth_tokens SET sealed = ?, lease_until = ?, updated_at = ?,"
          " version = version + 1 WHERE key = ? AND version = ?");
    int rc;

    *cas = UH_CAS_LOST;
    if (!st)
        return UNHOOK_STORE;
    sqlite3_bind_blob(st, 1, in->sealed, (int)in->len, SQLITE_TRANSIENT);
    sqlite3_bind_double(st, 2, in->lease_until);
    sqlite3_bind_double(st, 3, uh_wall_now());
    uh_sq_bind_text(st, 4, in->key);
    if (expect != 0)
        sqlite3_bind_int64(st, 5, expect);
    rc = sqlite3_step(st) == SQLITE_DONE ? UNHOOK_OK : uh_sq_fail(s, "token");
    if (rc == UNHOOK_OK && sqlite3_changes(SQ(s)->db) == 1)
        *cas = UH_CAS_OK;
    uh_sq_release(st);
    return rc;
}
