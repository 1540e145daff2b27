# Sourced in a subshell by tests/pg/run.sh: `unhook serve` on PostgreSQL.
# Work due when it starts is run; an intent recorded by another process
# (disable --no-wait) is run by the serving worker; SIGTERM ends it with
# exit 0 and no claim left behind.
set -u
ROOT=$(pwd)
UNHOOK="$ROOT/build/unhook"
work=$(mktemp -d)
spid=
trap '[ -z "$spid" ] || kill -9 $spid 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "serve: $*"; [ -f "$work/serve.log" ] && cat "$work/serve.log"; exit 1; }
name="s_$(date +%s%N)"
db=$(pg_newdb "$name") || exit 1
uh() { "$UNHOOK" --db "$db" --connectors "$ROOT/scripts/connectors" "$@"; }
printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "test-token"}}\n' \
    "$UNHOOK_TEST_URL" >"$work/conn.json"
chmod 600 "$work/conn.json"
curl -sf -X POST "$UNHOOK_TEST_URL/_control/reset" >/dev/null
curl -sf -d '{"owner":"o","repo":"r","count":2}' "$UNHOOK_TEST_URL/_control/seed" >/dev/null
line() {
    printf '{"id":"%s","connector":"github","event":"push","options":{"owner":"o","repo":"r"},"connection":"%s","registration":{"id":%d},"state":"%s","desired":"%s"}\n' \
        "$1" "$work/conn.json" "$2" "$3" "$4"
}
{ line a 12345678 deregistering off; line b 12345679 registered on; } >"$work/all.jsonl"
uh import "$work/all.jsonl" >/dev/null || fail "import"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# not through uh(): $! must be unhook itself, not a subshell
"$UNHOOK" --db "$db" --connectors "$ROOT/scripts/connectors" \
    serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
spid=$!
state() { pg_sql -d "$name" -c "SELECT state FROM instances WHERE id = '$1'"; }
i=0
until [ "$(state a)" = off ]; do
    i=$((i + 1)); [ $i -lt 200 ] || fail "a, due at the start, not run"
    sleep 0.05
done
uh disable b --no-wait >/dev/null || fail "disable b --no-wait"
i=0
until [ "$(state b)" = off ]; do
    i=$((i + 1)); [ $i -lt 200 ] || fail "b's intent not run by serve"
    sleep 0.05
done
kill -TERM $spid
wait $spid
rc=$?
spid=
[ $rc -eq 0 ] || fail "exit $rc after SIGTERM"
[ "$(pg_sql -d "$name" -c "SELECT count(*) FROM instances WHERE claim_owner IS NOT NULL")" = 0 ] ||
    fail "claims left behind"
echo "serve: due work and another process's intent run on PostgreSQL; SIGTERM exits 0"
