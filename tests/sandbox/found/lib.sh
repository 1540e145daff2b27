# Shared by tests/sandbox/found/*.sh (run from anywhere): builds a
# throw-away connector "rt" with one flow, starts evil.py on a free
# loopback port.  Each script exits 0 when the hole is closed, 1 when it
# reproduces.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../../.." && pwd)
UNHOOK=${UNHOOK:-$ROOT/build/unhook}
W=$(mktemp -d)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 "$HERE/evil.py" "$PORT" >"$W/evil.log" 2>&1 &
EVIL=$!
trap 'kill $EVIL 2>/dev/null; rm -rf "$W"' EXIT
for _ in 1 2 3 4 5 6 7 8 9 10; do
    curl -s -m 1 "http://127.0.0.1:$PORT/ping" >/dev/null && break
    sleep 0.2
done
BASE=http://127.0.0.1:$PORT
C=$W/c
mkdir -p "$C/flows"
# flow NAME [AUTH]: the run(ctx, input) body on stdin
flow() {
    { echo 'return { inputs = {}, run = function(ctx, input)'; cat; echo 'end }'; } >"$C/flows/$1.lua"
    printf 'return { name = "rt", auth = "%s", hosts = { "localhost" },\n  events = { %s = { deregistration = { flow = "flows/%s.lua" } } } }\n' \
        "${2:-bearer}" "$1" "$1" >"$C/connector.lua"
}
# conn FILE AUTH-JSON
conn() { printf '{"base_url": "%s", "auth": %s}\n' "$BASE" "$2" >"$1"; chmod 600 "$1"; }
# run EVENT CONN SECS [FLAGS...]: output in $W/out, exit code in RC, wall ms in MS
run() {
    _ev=$1 _cn=$2 _s=$3
    shift 3
    _t0=$(date +%s%N)
    timeout -k 2 "$_s" "$UNHOOK" "$@" run "$C" "$_ev" --registration '{"id":"x"}' \
        --connection "$_cn" >"$W/out" 2>&1
    RC=$?
    MS=$((($(date +%s%N) - _t0) / 1000000))
}
