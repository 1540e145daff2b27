#!/bin/sh
# The figures behind README.md's "10 million registrations" notes: a
# private cluster, the unhook schema (made by `unhook list`), N instances
# (default 1,000,000; a tenth of them pending) with two history lines
# each, then sizes, the claim query's plan and timings.
#   N=1000000 sh tests/pg/explain.sh
set -eu
cd "$(dirname "$0")/../.."
N=${N:-1000000}
. tests/pg/cluster.sh
trap pg_cluster_stop EXIT
db=$(pg_newdb explain)
./build/unhook --db "$db" list >/dev/null
q() { pg_sql -d explain "$@"; }
t0=$(date +%s.%N)
q -c "INSERT INTO instances (id, connector, event, options, connection, registration,
        desired, state, attempts, next_attempt_at, created_at, updated_at)
      SELECT 'i' || lpad(g::text, 8, '0'), 'github', 'push', '{\"owner\":\"o\",\"repo\":\"r\"}',
        '/etc/unhook/github.json', CASE WHEN g % 10 = 0 THEN '{\"id\":' || g || '}' END,
        'off', CASE WHEN g % 10 = 0 THEN 'deregistering' ELSE 'off' END, 0,
        CASE WHEN g % 10 = 0 THEN extract(epoch from now()) - (g % 1000) ELSE 0 END,
        extract(epoch from now()), extract(epoch from now())
      FROM generate_series(1, $N) g"
q -c "INSERT INTO history (instance_id, at, action, outcome, status, attempt, message, registration)
      SELECT 'i' || lpad(g::text, 8, '0'), extract(epoch from now()), a, 'done', 204, 1, NULL, '{\"id\":' || g || '}'
      FROM generate_series(1, $N) g, (VALUES ('register'), ('deregister')) v(a)"
t1=$(date +%s.%N)
q -c "VACUUM ANALYZE"
t2=$(date +%s.%N)
echo "loaded $N instances and $((2 * N)) history lines in $(echo "$t0 $t1" | awk '{printf "%.1f", $2 - $1}') s; VACUUM ANALYZE $(echo "$t1 $t2" | awk '{printf "%.1f", $2 - $1}') s"
q -c "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) AS total,
        pg_size_pretty(pg_relation_size(oid)) AS heap
      FROM pg_class WHERE relname IN ('instances', 'history') ORDER BY 1"
q -c "SELECT indexrelname, pg_size_pretty(pg_relation_size(indexrelid))
      FROM pg_stat_user_indexes ORDER BY 1"
now=$(date +%s)
# 6,400 rows claimed by other workers (100 workers x 64) first
q -c "UPDATE instances SET claim_owner = 'other:1:x', claimed_until = $now + 30
      WHERE id IN (SELECT id FROM instances WHERE state = 'deregistering'
                   ORDER BY next_attempt_at LIMIT 6400)" >/dev/null
claim="WITH due AS (SELECT id AS due_id FROM instances WHERE (state IN ('deregistering', 'registering') OR (state = 'registered' AND next_attempt_at > 0))
        AND GREATEST(next_attempt_at, claimed_until) <= $now
        ORDER BY GREATEST(next_attempt_at, claimed_until) LIMIT 40 FOR UPDATE SKIP LOCKED)
      UPDATE instances SET claim_owner = 'host:1:x', claimed_until = $now + 30
      FROM due WHERE id = due_id RETURNING id"
echo "-- the claim query (40 due rows, as a worker with --concurrency 16 asks), 6,400 rows claimed elsewhere"
q -c "BEGIN" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $claim" -c "ROLLBACK" >/dev/null
q -c "BEGIN" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $claim" -c "ROLLBACK"
echo "-- next due"
q -c "EXPLAIN (ANALYZE, COSTS OFF) SELECT GREATEST(next_attempt_at, claimed_until)
      FROM instances WHERE state IN ('deregistering', 'registering')
      ORDER BY GREATEST(next_attempt_at, claimed_until) LIMIT 1"
echo "-- one instance's history"
q -c "EXPLAIN (ANALYZE, COSTS OFF) SELECT * FROM history WHERE instance_id = 'i00500000' ORDER BY seq"
