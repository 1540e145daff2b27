# Sourced in a subshell by tests/pg/run.sh: a waiting worker (resume
# --wait, with a retry 60 s away so that it sleeps) is woken by NOTIFY
# when another process writes new due work, and runs it within a second,
# not at its next poll (5 s when the store announces work).
set -u
ROOT=$(pwd)
UNHOOK="$ROOT/build/unhook"
work=$(mktemp -d)
wpid=
trap '[ -z "$wpid" ] || kill -9 $wpid 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "notify: $*"; exit 1; }
name="n_$(date +%s%N)"
db=$(pg_newdb "$name") || exit 1
uh() { "$UNHOOK" --db "$db" --connectors "$ROOT/scripts/connectors" "$@"; }
printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "test-token"}}\n' \
    "$UNHOOK_TEST_URL" >"$work/conn.json"
chmod 600 "$work/conn.json"
curl -sf -X POST "$UNHOOK_TEST_URL/_control/reset" >/dev/null
curl -sf -d '{"owner":"o","repo":"r","count":2}' "$UNHOOK_TEST_URL/_control/seed" >/dev/null
curl -sf -d '{"method":"DELETE","path":"/repos/o/r/hooks/12345678","responses":[{"status":503,"headers":{"Retry-After":"60"}}]}' \
    "$UNHOOK_TEST_URL/_control/script" >/dev/null
line() {
    printf '{"id":"%s","connector":"github","event":"push","options":{"owner":"o","repo":"r"},"connection":"%s","registration":{"id":%d},"state":"deregistering"}\n' \
        "$1" "$work/conn.json" "$2"
}
line a 12345678 >"$work/a.jsonl"
line b 12345679 >"$work/b.jsonl"
uh import "$work/a.jsonl" >/dev/null || fail "import a"
uh resume --wait >"$work/worker.log" 2>&1 &
wpid=$!
i=0
until [ "$(pg_sql -d "$name" -c "SELECT attempts FROM instances WHERE id = 'a'")" = 1 ]; do
    i=$((i + 1)); [ $i -lt 200 ] || fail "the worker did not try a"
    sleep 0.05
done
sleep 1                     # the worker is asleep now, until a's retry
t0=$(date +%s%N)
uh import "$work/b.jsonl" >/dev/null || fail "import b"
i=0
until [ "$(pg_sql -d "$name" -c "SELECT state FROM instances WHERE id = 'b'")" = off ]; do
    i=$((i + 1)); [ $i -lt 100 ] || fail "b not run within 5 s of its intent: no wake-up"
    sleep 0.02
done
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ms -lt 1500 ] || fail "b run $ms ms after its intent: the poll, not NOTIFY"
echo "notify: a waiting worker ran new work $ms ms after it was written"
