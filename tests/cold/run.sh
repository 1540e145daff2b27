#!/bin/sh
# The cold-start programs of issue 18 (not wired into make test):
#   sh tests/cold/run.sh [N]
# installs the tree into a temporary prefix, builds core/README.md's
# poll(2) host (extracted as written) and tests/cold/epoll_host.c with
# pkg-config only, starts the fixture provider, runs both hosts and
# tests/cold/engine.lua with plain lua5.4.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${1:-200}
T=$(mktemp -d)
PROVIDER=
cleanup() { [ -n "$PROVIDER" ] && kill "$PROVIDER" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT INT TERM

cd "$ROOT"
make -s -j2 >/dev/null
make -s install PREFIX="$T/inst" >/dev/null
export PKG_CONFIG_PATH="$T/inst/lib/pkgconfig"
# A prefix off the loader's path: the host needs an rpath (or LD_LIBRARY_PATH).
RPATH="-Wl,-rpath,$T/inst/lib"

awk '/<!-- file: poll_host.c -->/{f=1;next} f&&/^```c/{p=1;next} p&&/^```/{exit} p' \
    core/README.md > "$T/poll_host.c"
cc -Wall -Wextra -Werror -o "$T/poll_host" "$T/poll_host.c" \
   $(pkg-config --cflags --libs unhook) $RPATH
cc -Wall -Wextra -Werror -O2 -o "$T/epoll_host" tests/cold/epoll_host.c \
   $(pkg-config --cflags --libs unhook) -pthread $RPATH

python3 tests/provider/provider.py --quiet --port-file "$T/port" >/dev/null &
PROVIDER=$!
i=0; while [ ! -s "$T/port" ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done
P=$(cat "$T/port")
printf '{ "base_url": "http://127.0.0.1:%s", "auth": { "type": "bearer", "token": "test-token" } }\n' \
    "$P" > "$T/connection.json"
chmod 600 "$T/connection.json"

echo "== core/README.md's poll_host.c"
"$T/inst/bin/unhook" --db "$T/poll.db" enable deploy-alerts --connector github --event push \
    --option owner=octo --option repo=hello --option url=https://example.test/deploy-alerts \
    --connection "$T/connection.json"
"$T/poll_host" "$T/poll.db" deploy-alerts

echo "== epoll_host: $N instances, a waker thread"
curl -s -X POST "http://127.0.0.1:$P/_control/reset" >/dev/null
"$T/epoll_host" "$T/epoll.db" "$T/connection.json" "$N"
curl -s "http://127.0.0.1:$P/_control/stats" | python3 -c '
import json, sys
s = json.load(sys.stdin)
n = int(sys.argv[1])
assert s["deletes_ok"] == n and s["deletes_404"] == 0, s
assert all(c == 1 for c in s["delete_counts"].values()), "a hook deleted twice"
print("provider: %d hooks deleted, each once" % n)' "$N"

echo "== engine.lua (plain lua5.4, the installed module)"
lua5.4 tests/cold/engine.lua "$P" "$T/inst/lib/lua/5.4"
