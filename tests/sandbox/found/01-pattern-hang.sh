#!/bin/sh
# A single pattern match with catastrophic backtracking runs in C, where
# the count hook never fires: with a 2 s budget the engine is still
# running when killed after 15 s (and, in a bulk run, every other flow on
# the thread waits with it).  Breaks: "a flow can never hang the engine /
# outlive its wall-clock budget".
. "$(dirname "$0")/lib.sh"
conn "$W/conn.json" '{"type":"bearer","token":"t0k3n-long-random"}'
flow pat <<'LUA'
  string.find(("a"):rep(1e5), ".-.-.-.-b")
LUA
run pat "$W/conn.json" 15 --timeout-ms 2000
echo "exit $RC after $MS ms (budget 2000 ms)"; cat "$W/out"
[ "$RC" -ne 124 ] && [ "$RC" -ne 137 ] && [ "$MS" -lt 4000 ]
