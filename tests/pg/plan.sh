# Sourced in a subshell by tests/pg/run.sh: the claim query's plan as
# unhook runs it (auto_explain logs the plan of every statement of the
# worker's session in the server log), on 20,000 instances of which 1,000
# are claimed by another worker, 960 due later and 40 due now: the claim
# walks the partial index instances_wake, never the whole table, and
# takes the 40 due ones only.
set -u
ROOT=$(pwd)
UNHOOK="$ROOT/build/unhook"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "plan: $*"; exit 1; }
name="plan_$(date +%s%N)"
db=$(pg_newdb "$name") || exit 1
printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "test-token"}}\n' \
    "$UNHOOK_TEST_URL" >"$work/conn.json"
chmod 600 "$work/conn.json"
"$UNHOOK" --db "$db" list >/dev/null || fail "schema"
now=$(date +%s)
pg_sql -d "$name" -c "INSERT INTO instances (id, connector, event, options, connection,
        registration, desired, state, next_attempt_at, claim_owner, claimed_until,
        created_at, updated_at)
    SELECT 'p' || lpad(g::text, 5, '0'), 'github', 'push', '{\"owner\":\"o\",\"repo\":\"r\"}',
        '$work/conn.json', '{\"id\":' || (90000000 + g) || '}', 'off',
        CASE WHEN g <= 2000 THEN 'deregistering' ELSE 'off' END,
        CASE WHEN g <= 1040 THEN $now - 10 ELSE $now + 3600 END,
        CASE WHEN g <= 1000 THEN 'other:1:x' END,
        CASE WHEN g <= 1000 THEN $now + 600 ELSE 0 END, $now, $now
    FROM generate_series(1, 20000) g; ANALYZE instances" >/dev/null || fail "load"
mark=$(wc -l <"$PG_DIR/server.log")
# the hooks were never registered with the provider: every answer is a 404
# (already gone), which the bulk guard would stop at without --expect-gone
PGOPTIONS="-c session_preload_libraries=auto_explain -c auto_explain.log_min_duration=0 -c auto_explain.log_analyze=on -c auto_explain.log_buffers=on" \
    "$UNHOOK" --db "$db" --connectors "$ROOT/scripts/connectors" resume --expect-gone >"$work/out" 2>&1 ||
    fail "resume: $(cat "$work/out")"
# the first claim's plan: from its query text to the next log line
tail -n +"$((mark + 1))" "$PG_DIR/server.log" |
    awk '/Query Text: WITH due AS/ { on = 1 } on && /LOG: / && !/Query Text/ { if (n) exit } on { print; n++ }' \
    >"$work/plan"
[ -s "$work/plan" ] || fail "no claim plan in the server log"
sed 's/^/    /' "$work/plan" | grep -E "Update on|Limit|LockRows|Scan|Index Cond|Buffers" | head -12
grep -q "Index Scan using instances_wake" "$work/plan" || fail "the claim does not use instances_wake"
grep -q "Seq Scan" "$work/plan" && fail "the claim reads the table sequentially"
off=$(pg_sql -d "$name" -c "SELECT count(*) FROM instances WHERE state = 'off' AND id <= 'p01040' AND id > 'p01000'")
held=$(pg_sql -d "$name" -c "SELECT count(*) FROM instances WHERE claim_owner = 'other:1:x' AND state = 'deregistering'")
[ "$off" -eq 40 ] && [ "$held" -eq 1000 ] || fail "$off of 40 due now off, $held of 1,000 still held elsewhere"
echo "plan: the claim walks instances_wake (20,000 instances, 1,000 claimed elsewhere); the 40 due ones run"
