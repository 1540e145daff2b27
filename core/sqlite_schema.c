/*
 * sqlite_schema.c -- the SQLite store's schema (sqlite_db.h): its
 * migrations, each run once in its own transaction and counted in
 * PRAGMA user_version.
 */
#include <stdio.h>

#include "sqlite_db.h"

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
    " next_attempt_at REAL NOT NULL DEFAULT 0,"
    " claim_owner TEXT, claimed_until REAL NOT NULL DEFAULT 0,"
    " created_at REAL NOT NULL, updated_at REAL NOT NULL);"
    "CREATE INDEX instances_due ON instances(state, next_attempt_at);"
    "CREATE TABLE history ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " instance_id TEXT NOT NULL, at REAL NOT NULL, action TEXT NOT NULL,"
    " outcome TEXT, status INTEGER NOT NULL DEFAULT 0,"
    " attempt INTEGER NOT NULL DEFAULT 0, message TEXT, registration TEXT);"
    "CREATE INDEX history_instance ON history(instance_id, seq);",
    /* 2: finding live claims without scanning every instance */
    "CREATE INDEX instances_claimed ON instances(claimed_until)"
    " WHERE claim_owner IS NOT NULL;",
    /* 3: OAuth2 tokens, sealed by the engine (never plaintext here) */
    "CREATE TABLE oauth_tokens ("
    " key TEXT PRIMARY KEY, version INTEGER NOT NULL,"
    " sealed BLOB NOT NULL, lease_until REAL NOT NULL DEFAULT 0,"
    " updated_at REAL NOT NULL);",
    /* 4: when a renewing event's subscription lapses */
    "ALTER TABLE instances ADD COLUMN expires_at REAL NOT NULL DEFAULT 0;",
    /* 5: the claim walks claimable rows by when they may run (a live
     * claim puts a row at its lease's end), as PostgreSQL's does: it
     * sorted every due row, claimed or not, for each batch */
    "CREATE INDEX instances_wake ON instances(MAX(next_attempt_at, claimed_until))"
    " WHERE " UH_CLAIMABLE_SQL ";",
    /* 6: fewer B-trees written per deregistration: instances_wake serves
     * what instances_due did (claims, the next due time; lists by state
     * scan), and history's seq is its rowid without AUTOINCREMENT's
     * sqlite_sequence row (history rows are never deleted: the same
     * numbers) */
    "DROP INDEX instances_due;"
    "CREATE TABLE history_new ("
    " seq INTEGER PRIMARY KEY,"
    " instance_id TEXT NOT NULL, at REAL NOT NULL, action TEXT NOT NULL,"
    " outcome TEXT, status INTEGER NOT NULL DEFAULT 0,"
    " attempt INTEGER NOT NULL DEFAULT 0, message TEXT, registration TEXT);"
    "INSERT INTO history_new SELECT * FROM history;"
    "DROP TABLE history;"
    "ALTER TABLE history_new RENAME TO history;"
    "CREATE INDEX history_instance ON history(instance_id, seq);",
    /* 7: a claimed row leaves instances_wake, which is by next attempt
     * alone: a claim and its outcome write two entries of it fewer (the
     * claim moved a row inside it, the outcome took it out).  Claims
     * whose lease ended are found by instances_claimed. */
    "DROP INDEX instances_wake;"
    "CREATE INDEX instances_wake ON instances(next_attempt_at)"
    " WHERE claim_owner IS NULL AND " UH_CLAIMABLE_SQL ";",
    /* 8: claims in a table of their own, keyed by the instance's rowid
     * (rid): a claim writes one short row of a small B-tree instead of
     * rewriting the instance's row and moving it from instances_wake to
     * instances_claimed, and its release deletes that row.  A claimed
     * row stays in instances_wake: the claim skips it by its rowid,
     * which that index holds, without reading the row.  The columns
     * claim_owner and claimed_until of instances are no longer used
     * (always NULL and 0). */
    "CREATE TABLE claims ("
    " rid INTEGER PRIMARY KEY, owner TEXT NOT NULL, lease_end REAL NOT NULL);"
    "INSERT INTO claims SELECT rowid, claim_owner, claimed_until FROM instances"
    " WHERE claim_owner IS NOT NULL;"
    "UPDATE instances SET claim_owner = NULL, claimed_until = 0"
    " WHERE claim_owner IS NOT NULL OR claimed_until != 0;"
    "DROP INDEX instances_claimed;"
    "DROP INDEX instances_wake;"
    "CREATE INDEX instances_wake ON instances(next_attempt_at)"
    " WHERE " UH_CLAIMABLE_SQL ";",
    /* 9: history_instance by instance_id alone: an index entry ends in
     * the rowid, which is seq, so (instance_id, seq) held seq twice; the
     * entries are the same order, an instance's lines still read in seq
     * order without a sort, and each line written compares and stores
     * one field less */
    "DROP INDEX history_instance;"
    "CREATE INDEX history_instance ON history(instance_id);",
};

/* The schema version the file says (0 when it cannot be read). */
static int user_version(uh_store *s)
{
    sqlite3_stmt *st = uh_sq_prep(s, "PRAGMA user_version");
    int version = -1;

    if (!st)
        return -1;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    uh_sq_release(st);
    return version;
}

/*
 * Each migration in a write transaction of its own, the version read
 * again inside it: another connection (a second engine of the process,
 * serve's two, another process) may have migrated the file since this
 * one looked, and a migration applied twice would undo a later one (7's
 * index made again over 8's: the claims then find no plan).
 */
int uh_sq_migrate(uh_store *s, const char *path)
{
    int version = user_version(s), n = (int)(sizeof migrations / sizeof *migrations), rc;

    for (;;) {
        char pragma[64];
        if (version < 0)
            return UNHOOK_STORE;
        if (version > n) {
            snprintf(s->errmsg, sizeof s->errmsg, "%s: database schema version %d is "
                     "newer than this unhook knows (%d)", path, version, n);
            return UNHOOK_STORE;
        }
        if (version == n)
            return UNHOOK_OK;
        if ((rc = uh_sq_begin(s)) != UNHOOK_OK)
            return rc;
        if ((version = user_version(s)) != -1 && version < n) {
            snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", version + 1);
            if ((rc = uh_sq_exec(s, migrations[version])) != UNHOOK_OK ||
                (rc = uh_sq_exec(s, pragma)) != UNHOOK_OK) {
                uh_sq_rollback(s);
                return rc;
            }
            version++;
        }
        if ((rc = uh_sq_commit(s)) != UNHOOK_OK)
            return rc;
    }
}
