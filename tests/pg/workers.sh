# Sourced in a subshell by tests/pg/run.sh, with what=kill or
# what=restart, once the fixture provider and the private cluster
# (tests/pg/cluster.sh: pg_newdb, pg_sql, pg_cluster_restart) are up:
# several worker processes on one PostgreSQL database.
#
#   what=kill      3 workers, 3,000 instances, one worker SIGKILLed mid-run
#   what=restart   3 workers, 3,000 instances, the server restarted mid-run
#
# Workers are `unhook --db URL resume --wait --concurrency 16` processes.
# With kill, leases are 3 s (UNHOOK_LEASE) so that the killed worker's
# claims lapse quickly; with restart they are the default 30 s, longer
# than the restart takes, so no claim lapses and nothing runs twice.  Afterwards (tests/pg/check.py): every instance off, every hook
# gone at the provider, no hook deleted twice except those the killed
# worker had claimed (counted and reported), and the history holds one
# line for every DELETE the provider saw (the killed worker's last
# attempts excepted: they died with it, unrecorded).
set -u
N=${N:-3000}
W=3
ROOT=$(pwd)
UNHOOK="$ROOT/build/unhook"
work=$(mktemp -d)
name="w_${what}_$(date +%s%N)"
db=$(pg_newdb "$name") || exit 1
conn="$work/conn.json"
printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "test-token"}}\n' \
    "$UNHOOK_TEST_URL" >"$conn"
chmod 600 "$conn"
uh() { "$UNHOOK" --db "$db" --connectors "$ROOT/scripts/connectors" "$@"; }
pids=""
cleanup() { for p in $pids; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT

curl -sf -X POST "$UNHOOK_TEST_URL/_control/reset" >/dev/null
curl -sf -d "{\"owner\":\"o\",\"repo\":\"r\",\"count\":$N,\"url\":\"https://example.test/h\"}" \
    "$UNHOOK_TEST_URL/_control/seed" >/dev/null
python3 "$ROOT/tests/pg/instances.py" "$N" "$conn" >"$work/in.jsonl"
uh import "$work/in.jsonl" >/dev/null || { echo "import failed"; exit 1; }

start=$(date +%s)
if [ "$what" = kill ]; then export UNHOOK_LEASE=3; else unset UNHOOK_LEASE; fi
for k in $(seq 1 $W); do
    "$UNHOOK" --db "$db" --connectors "$ROOT/scripts/connectors" \
        resume --wait --concurrency 16 >"$work/w$k.log" 2>&1 &
    pids="$pids $!"
done
victim=$(echo $pids | cut -d' ' -f1)
# mid-run: a third of the instances off
i=0
while [ "$(pg_sql -d "$name" -c "SELECT count(*) FROM instances WHERE state = 'off'")" -lt $((N / 3)) ]; do
    i=$((i + 1)); [ $i -lt 600 ] || { echo "no progress"; exit 1; }
    sleep 0.05
done
: >"$work/inflight"
if [ "$what" = kill ]; then
    kill -9 "$victim"
    wait "$victim" 2>/dev/null
    # what the killed worker held: claimed, not finished
    pg_sql -d "$name" -c "SELECT id FROM instances WHERE claim_owner LIKE '%:$victim:%'" >"$work/inflight"
    echo "killed worker $victim holding $(wc -l <"$work/inflight") claims"
    pids=$(echo $pids | cut -d' ' -f2-)
else
    pg_cluster_restart || { echo "restart failed"; exit 1; }
    echo "server restarted with $(pg_sql -d "$name" -c "SELECT count(*) FROM instances WHERE state = 'off'") of $N off"
fi
st=0
for p in $pids; do
    wait "$p" || { echo "worker $p exited with $?"; st=1; }
done
pids=""
end=$(date +%s)
echo "workers done in $((end - start)) s"
[ $st -eq 0 ] || { for k in $(seq 1 $W); do echo "-- w$k"; tail -5 "$work/w$k.log"; done; exit 1; }
pg_sql -d "$name" -c "SELECT id, state, desired FROM instances" >"$work/states"
pg_sql -d "$name" -c "SELECT instance_id FROM history WHERE action = 'deregister'" >"$work/history"
curl -sf "$UNHOOK_TEST_URL/_control/stats" >"$work/stats.json"
curl -sf "$UNHOOK_TEST_URL/_control/hooks" >"$work/hooks.json"
python3 "$ROOT/tests/pg/check.py" "$N" "$work" "$what"
