#!/bin/sh
# The PostgreSQL suite (tests/run.sh pg, in make test): a private cluster,
# the store tests (test_store, test_lifecycle, test_team) against it, the schema's
# versions, the claim query's plan (EXPLAIN), unhook migrate, LISTEN/NOTIFY
# waking a waiting worker, unhook serve on PostgreSQL, then the
# multi-worker tests (a worker SIGKILLed mid-run; the server restarted
# mid-run).
set -u
cd "$(dirname "$0")/../.."
PROVIDER=
if [ -z "${UNHOOK_TEST_URL:-}" ]; then
    . tests/provider/start.sh
fi
. tests/pg/cluster.sh || exit 1
trap 'pg_cluster_stop; [ -z "$PROVIDER" ] || { kill $PROVIDER; rm -rf "$T"; }' EXIT
st=0
for t in test_store test_lifecycle test_team; do
    echo "-- $t against PostgreSQL"
    ./build/itests/$t >"$PG_DIR/$t.log" 2>&1 || { cat "$PG_DIR/$t.log"; st=1; }
    grep -E "PASSED|FAILED|SKIPPED" "$PG_DIR/$t.log"
    # PostgreSQL offers every op: nothing may be skipped there
    ! grep -q "SKIPPED" "$PG_DIR/$t.log" || st=1
done
echo "-- schema"
(. tests/pg/schema.sh) || st=1
echo "-- plan"
(. tests/pg/plan.sh) || st=1
echo "-- migrate"
(. tests/pg/migrate.sh) || st=1
echo "-- notify"
(. tests/pg/notify.sh) || st=1
echo "-- serve"
(. tests/pg/serve.sh) || st=1
for what in kill restart; do
    echo "-- workers: $what"
    t0=$(date +%s)
    (. tests/pg/workers.sh) || st=1
    echo "($(($(date +%s) - t0)) s)"
done
exit $st
