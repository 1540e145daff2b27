# Sourced in a subshell by tests/pg/run.sh: the schema's versions.  A new
# database gets the latest; four processes starting together on an empty
# database migrate it once (advisory lock); a database left at version 1
# (before the OAuth2 token rows) is migrated when opened, its instances
# kept; a database newer than this unhook is refused (exit 4).
set -u
ROOT=$(pwd)
UNHOOK="$ROOT/build/unhook"
fail() { echo "schema: $*"; exit 1; }
name="schema_$(date +%s%N)"
db=$(pg_newdb "$name") || exit 1
uh() { "$UNHOOK" --db "$db" "$@"; }
latest=3
pids=""
for k in 1 2 3 4; do uh list >/dev/null 2>&1 & pids="$pids $!"; done
for p in $pids; do wait "$p" || fail "a process opening a new database failed"; done
[ "$(pg_sql -d "$name" -c "SELECT count(*) || ' ' || max(version) FROM unhook_schema")" = "1 $latest" ] ||
    fail "not one row at version $latest: $(pg_sql -d "$name" -c "SELECT * FROM unhook_schema")"
pg_sql -d "$name" -c "DROP TABLE oauth_tokens; ALTER TABLE instances DROP COLUMN expires_at;
    UPDATE unhook_schema SET version = 1;
    INSERT INTO instances (id, connector, event, desired, state, created_at, updated_at)
    VALUES ('old', 'github', 'push', 'on', 'registered', 1, 1)" >/dev/null
uh list >"$ROOT/build/.schema.out" 2>&1 || fail "version 1 not opened: $(cat "$ROOT/build/.schema.out")"
grep -q '^old' "$ROOT/build/.schema.out" || fail "the instance of version 1 is not listed"
[ "$(pg_sql -d "$name" -c "SELECT max(version) FROM unhook_schema")" = "$latest" ] ||
    fail "version 1 not migrated"
pg_sql -d "$name" -c "SELECT count(*) FROM oauth_tokens" >/dev/null || fail "no oauth_tokens"
pg_sql -d "$name" -c "UPDATE unhook_schema SET version = 99" >/dev/null
uh list >"$ROOT/build/.schema.out" 2>&1
rc=$?
[ $rc -eq 4 ] || fail "a newer schema: exit $rc, not 4"
grep -q "schema version 99 is newer" "$ROOT/build/.schema.out" || fail "$(cat "$ROOT/build/.schema.out")"
rm -f "$ROOT/build/.schema.out"
echo "schema: new at version $latest (4 processes, migrated once), version 1 migrated with its rows, 99 refused"
