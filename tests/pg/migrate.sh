# Sourced in a subshell by tests/pg/run.sh: unhook migrate --to, SQLite to
# PostgreSQL and back, instances and history unchanged; a target that is
# not empty refused; a URL's password never printed.
set -u
ROOT=$(pwd)
UNHOOK="$ROOT/build/unhook"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "migrate: $*"; exit 1; }
uh() { "$UNHOOK" --connectors "$ROOT/scripts/connectors" "$@"; }
printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "test-token"}}\n' \
    "$UNHOOK_TEST_URL" >"$work/conn.json"
chmod 600 "$work/conn.json"
curl -sf -X POST "$UNHOOK_TEST_URL/_control/reset" >/dev/null
curl -sf -d '{"owner":"o","repo":"r","count":3}' "$UNHOOK_TEST_URL/_control/seed" >/dev/null
for k in 0 1 2; do
    printf '{"id":"m%d","connector":"github","event":"push","options":{"owner":"o","repo":"r"},"connection":"%s","registration":{"id":%d}}\n' \
        $k "$work/conn.json" $((12345678 + k))
done >"$work/in.jsonl"
uh --db "$work/a.db" import "$work/in.jsonl" >/dev/null || fail "import"
uh --db "$work/a.db" disable m1 >/dev/null || fail "disable"
pgdb=$(pg_newdb "m_$(date +%s%N)") || exit 1
uh --db "$work/a.db" migrate --to "$pgdb" >"$work/out" || fail "to PostgreSQL: $(cat "$work/out")"
grep -q "migrated 3 instances" "$work/out" || fail "$(cat "$work/out")"
uh --db "$work/a.db" migrate --to "$pgdb" >/dev/null 2>"$work/err"
[ $? -eq 2 ] || fail "a second migrate into the same database was not refused"
uh --db "$pgdb" migrate --to "$work/b.db" >/dev/null || fail "back to SQLite"
for db in "$work/a.db" "$pgdb" "$work/b.db"; do
    uh --db "$db" export >"$work/export.$(echo "$db" | cksum | cut -d' ' -f1)"
    uh --db "$db" --json history m1 | sed 's/"at":[^,]*,//g' >"$work/history.$(echo "$db" | cksum | cut -d' ' -f1)"
done
[ "$(cat "$work"/export.* | sort | uniq | wc -l)" -eq 3 ] || fail "exports differ"
[ "$(cat "$work"/history.* | sort | uniq -c | awk '$1 != 3' | wc -l)" -eq 0 ] || fail "histories differ"
[ "$(cat "$work"/history.* | wc -l)" -ge 6 ] || fail "m1 has no history to compare"
uh --db "postgresql://bob:s3cr3t-pw@127.0.0.1:1/x?password=s3cr3t-pw" list >"$work/out" 2>&1
[ $? -eq 4 ] || fail "an unreachable server is not a store error"
grep -q s3cr3t "$work/out" && fail "password printed: $(cat "$work/out")"
grep -q 'bob:\*\*\*@127.0.0.1:1/x?password=\*\*\*' "$work/out" || fail "$(cat "$work/out")"
echo "migrate: SQLite -> PostgreSQL -> SQLite, 3 instances and their history; password masked"
