# Helpers of the sandbox tests (sourced by each tests/sandbox/*.sh, from
# the repository root, with UNHOOK_TEST_URL set by run.sh).
ROOT=$(pwd)
UNHOOK=${UNHOOK:-$ROOT/build/unhook}
URL=$UNHOOK_TEST_URL
SBX=$ROOT/tests/sandbox/fixtures/connectors/sandbox
W=$(mktemp -d)
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAIL: $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi; }
dump() { head -c "${2:-1500}" "$1" | sed 's/^/    | /'; echo; }
finish() {
    echo "$(basename "$0" .sh): $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# trun SECONDS OUT CMD...: run CMD with stdout and stderr in OUT, killed
# after SECONDS (SIGKILL 2 s later if it ignores SIGTERM); sets RC (124 or
# 137 when killed, 128+N for a signal) and MS, the wall time in ms.
trun() {
    _secs=$1 _out=$2
    shift 2
    _t0=$(now_ms)
    timeout -k 2 "$_secs" "$@" >"$_out" 2>&1
    RC=$?
    MS=$(($(now_ms) - _t0))
}

# ctl METHOD PATH [BODY]: a control request to the fixture provider
ctl() {
    if [ $# -ge 3 ]; then
        curl -s -X "$1" -H 'Content-Type: application/json' -d "$3" "$URL$2"
    else
        curl -s -X "$1" "$URL$2"
    fi
}

# conn FILE [TOKEN]: a bearer connection to the fixture provider
conn() {
    printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "%s"}}\n' \
        "$URL" "${2:-test-token}" >"$1"
    chmod 600 "$1"
}

# seed N COLLECTION: N hooks in a generic collection; their ids, one a line
seed() {
    ctl POST /_control/seed "{\"collection\":\"$2\",\"count\":$1}" |
        python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin)["ids"]))'
}

# inst ID EVENT STATE HOOK [CONN] [OPTIONS]: one JSON Lines record of an
# instance of the sandbox connector (desired follows the state)
inst() {
    case $3 in registered | registering) _d=on ;; *) _d=off ;; esac
    printf '{"id":"%s","connector":"%s","event":"%s","options":%s,"connection":"%s","registration":{"id":"%s"},"state":"%s","desired":"%s"}\n' \
        "$1" "$SBX" "$2" "${6:-{\}}" "${5:-$W/conn.json}" "$4" "$3" "$_d"
}

# dbq DB SQL: one value from the database
dbq() {
    python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$1" "$2"
}

# states DB: "state count" lines, sorted (from `list --json`)
states() {
    "$UNHOOK" --db "$1" --json list 2>/dev/null | python3 -c '
import json, sys, collections
data = sys.stdin.read().strip()
rows = json.loads(data) if data.startswith("[") else [json.loads(l) for l in data.splitlines() if l.strip()]
c = collections.Counter(r["state"] for r in rows)
print(" ".join("%s=%d" % kv for kv in sorted(c.items())))'
}

if [ ! -x "$UNHOOK" ]; then
    bad "$UNHOOK is not built"
    finish
    exit 1
fi
