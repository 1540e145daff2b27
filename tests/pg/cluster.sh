# Sourced by the test drivers: a private, throwaway PostgreSQL cluster.
# initdb in a temporary folder (as the `postgres` user when run as root:
# initdb refuses root), Unix socket in that folder, no TCP; stopped and
# removed by pg_cluster_stop (the drivers call it from their exit trap).
# Exports UNHOOK_TEST_PG (a libpq URL of the `postgres` database) and
# PG_BIN; pg_newdb NAME creates a database and prints its URL.
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
    echo "tests/pg: PostgreSQL server binaries not found (make deps installs postgresql)"
    return 1
fi
PG_DIR=$(mktemp -d /tmp/unhook-pg-XXXXXX)
chmod 755 "$PG_DIR"
if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_DIR"
    pg_as() { runuser -u postgres -- "$@"; }
else
    pg_as() { "$@"; }
fi
pg_as "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 \
    --locale=C >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log"; return 1; }
pg_cluster_start() {
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
        -o "-c listen_addresses= -c unix_socket_directories=$PG_DIR -c fsync=off -c max_connections=200" \
        start >/dev/null || { cat "$PG_DIR/server.log"; return 1; }
}
pg_cluster_stop() {
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1
    rm -rf "$PG_DIR"
}
pg_cluster_restart() {
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null
    pg_cluster_start
}
pg_cluster_start || return 1
UNHOOK_TEST_PG="postgresql:///postgres?host=$PG_DIR&user=postgres"
export UNHOOK_TEST_PG PG_BIN PG_DIR
pg_sql() { "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_DIR" -U postgres "$@"; }
pg_newdb() {
    pg_sql -d postgres -c "CREATE DATABASE $1" >/dev/null && \
        echo "postgresql:///$1?host=$PG_DIR&user=postgres"
}
