#!/bin/sh
# make bench-scale: throughput of 1, 2 and 4 worker processes sharing one
# PostgreSQL database (a private cluster, tests/pg/cluster.sh), each
# `unhook resume --concurrency 16`, against a provider that answers every
# DELETE after 20 ms on loopback (tests/bench/slow.c: epoll, one thread,
# so that the provider takes next to no CPU from the workers).
#
#   sh tests/bench/scale.sh                 # N=8000 instances a run
#   N=4000 DELAY_MS=20 WORKERS="1 2 4" sh tests/bench/scale.sh
#
# Prints deregistrations/s for each worker count and the ratio of the
# most workers to one (the target for 4 to 1 is 3.5 or more).
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
N=${N:-8000}
DELAY_MS=${DELAY_MS:-20}
WORKERS=${WORKERS:-"1 2 4"}
UNHOOK="$ROOT/build/unhook"
[ -x "$UNHOOK" ] || { echo "bench-scale: build/unhook not built (make all)"; exit 1; }
. tests/pg/cluster.sh
work=$(mktemp -d)
mkdir -p build/bench
cc -O2 -o build/bench/slow tests/bench/slow.c
build/bench/slow "$DELAY_MS" "$work/port" &
SLOW=$!
trap 'kill $SLOW 2>/dev/null; pg_cluster_stop; rm -rf "$work"' EXIT
while [ ! -s "$work/port" ]; do sleep 0.05; done
printf '{"base_url": "http://127.0.0.1:%s", "auth": {"type": "bearer", "token": "t"}}\n' \
    "$(cat "$work/port")" >"$work/conn.json"
chmod 600 "$work/conn.json"
python3 tests/pg/instances.py "$N" "$work/conn.json" s 1000000 >"$work/in.jsonl"
now() { date +%s.%N; }
# CPU seconds the server has used: the postmaster and its children, the
# live ones and (through the postmaster's cutime) those that exited
server_cpu() {
    pm=$(head -n 1 "$PG_DIR/data/postmaster.pid")
    { cat "/proc/$pm/stat"; for c in $(cat "/proc/$pm/task/$pm/children"); do
        cat "/proc/$c/stat" 2>/dev/null; done; } |
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); t += $12 + $13 + $14 + $15 } END { printf "%.2f", t / hz }'
}
echo "bench-scale: $N instances a run, DELETE answered after $DELAY_MS ms, --concurrency 16 a worker"
echo "machine: $(nproc) CPU ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')), PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}')"
printf '%-8s %10s %18s %14s %14s\n' workers seconds "deregistrations/s" "worker CPU s" "server CPU s"
one=""
for w in $WORKERS; do
    name="scale_${w}_$(date +%s%N)"
    db=$(pg_newdb "$name")
    "$UNHOOK" --db "$db" --connectors scripts/connectors import "$work/in.jsonl" >/dev/null
    c0=$(server_cpu)
    t0=$(now)
    pids=""
    for k in $(seq 1 "$w"); do
        /usr/bin/time -o "$work/t$k" -f "%U %S" \
            "$UNHOOK" --db "$db" --connectors scripts/connectors resume --concurrency 16 \
            >"$work/w$k.log" 2>&1 &
        pids="$pids $!"
    done
    for p in $pids; do wait "$p" || { echo "worker failed:"; cat "$work"/w*.log; exit 1; }; done
    t1=$(now)
    c1=$(server_cpu)
    left=$(pg_sql -d "$name" -c "SELECT count(*) FROM instances WHERE state <> 'off'")
    [ "$left" -eq 0 ] || { echo "$left instances not off"; exit 1; }
    rate=$(echo "$t0 $t1 $N" | awk '{printf "%.0f", $3 / ($2 - $1)}')
    cpu=$(cat "$work"/t* | awk '{c += $1 + $2} END {printf "%.2f", c}')
    rm -f "$work"/t*
    printf '%-8s %10s %18s %14s %14s\n' "$w" "$(echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}')" "$rate" "$cpu" \
        "$(echo "$c0 $c1" | awk '{printf "%.2f", $2 - $1}')"
    [ -n "$one" ] || one=$rate
    last=$rate
    lastw=$w
done
echo "$lastw workers / 1 worker: $(echo "$last $one" | awk '{printf "%.2f", $1 / $2}') (target 3.5 for 4 / 1)"
