#!/bin/sh
# Item 3: a provider that echoes the request (the fixture provider's /echo:
# request headers and raw query in the body, and X-Echo-Authorization,
# X-Echo-Api-Key, X-Echo-Query headers) must not hand the credentials to
# the flow.  For bearer, basic, header and query auth (and a query secret
# that is percent-encoded on the wire), flows that fail with what they
# received, log it, return it as registration data (register, enable) or
# forward it to a second allowed host (localhost: another origin of the
# same provider, whose request log is read) never expose the secret: not
# in any output, not in the store (db, -wal, -shm), not in export, not in
# what reached the second host; and the flow sees *** where it was.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/sandbox/lib.sh
PIDS=""
HOLDER=""
cleanup() {
    [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

TOK=tok-S3CR3T-echo-4711
TOK2='tok+S3CR3T/echo=4711'
TOK2ESC='tok%2BS3CR3T%2Fecho%3D4711'
USER_=echoer

# start_provider NAME TOKEN: a fixture provider of this test; sets P
start_provider() {
    python3 tests/provider/provider.py --port-file "$W/$1.port" --quiet \
        --token "$2" --user "$USER_" --password "$2" >"$W/$1.log" 2>&1 &
    PIDS="$PIDS $!"
    i=0
    while [ ! -s "$W/$1.port" ]; do
        i=$((i + 1))
        [ $i -gt 100 ] && { bad "provider $1 did not start"; finish; exit 1; }
        sleep 0.1
    done
    P=$(cat "$W/$1.port")
}
start_provider plain "$TOK"
P1=$P
start_provider escaped "$TOK2"
P2=$P

count() { grep -c -a -F -e "$1" "$2" 2>/dev/null || true; }

# echo_case VARIANT PORT SECRET SECRET-ESCAPED
echo_case() {
    V=$1 PORT=$2 S=$3 SESC=$4
    B="http://127.0.0.1:$PORT"
    D="$W/$V"
    mkdir "$D"
    OUT="$D/all.out"
    : >"$OUT"
    SECRETS="$S $SESC"
    case $V in
    bearer) a="{\"type\": \"bearer\", \"token\": \"$S\"}" ;;
    basic)
        a="{\"type\": \"basic\", \"username\": \"$USER_\", \"password\": \"$S\"}"
        SECRETS="$SECRETS $(printf '%s' "$USER_:$S" | base64)"
        ;;
    header) a="{\"type\": \"header\", \"name\": \"X-Api-Key\", \"value\": \"$S\"}" ;;
    query*) a="{\"type\": \"query\", \"name\": \"api_key\", \"value\": \"$S\"}" ;;
    esac
    printf '{"base_url": "%s", "auth": %s}\n' "$B" "$a" >"$D/conn.json"
    chmod 600 "$D/conn.json"
    curl -s -X POST "$B/_control/reset" >/dev/null
    # u WANT OUTFILE ARGS...: one command, appended to $OUT
    u() {
        want=$1 o=$2
        shift 2
        (cd "$D" && timeout 30 "$UNHOOK" --db "$D/u.db" "$@") >"$D/$o" 2>&1
        got=$?
        { echo "\$ unhook $*"; cat "$D/$o"; } >>"$OUT"
        [ "$got" = "$want" ] || bad "echo $V: unhook $*: exit $got, want $want"
    }
    u 1 fail.out run "$SBX" echo_fail --registration '{"id":"hk_0"}' --connection conn.json
    u 0 log.out -v run "$SBX" echo_log --registration '{"id":"hk_0"}' --connection conn.json
    u 0 reg.out register "$SBX" echo_register --connection conn.json
    u 0 fwd.out -v run "$SBX" echo_forward --registration '{"id":"hk_0"}' --connection conn.json
    # the store: a reader holds it open so that -wal and -shm stay
    u 0 enable.out enable e1 --connector "$SBX" --event echo_register --connection conn.json
    python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
c.execute("select count(*) from instances").fetchall()
open(sys.argv[2], "w").close()
time.sleep(120)' "$D/u.db" "$D/holder.ready" &
    HOLDER=$!
    i=0
    while [ ! -e "$D/holder.ready" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
    u 0 enable2.out enable e2 --connector "$SBX" --event echo_register --connection conn.json
    u 0 show.out show e1
    u 0 showj.out --json show e2
    u 0 export.out export
    u 0 disable.out disable e2
    u 0 hist.out --json history e2

    leaks=""
    for s in $SECRETS; do
        [ "$(count "$s" "$OUT")" -gt 0 ] && leaks="$leaks $s"
    done
    if [ -z "$leaks" ]; then
        ok "echo $V: the secret is in no output ($(grep -c '^\$ unhook' "$OUT") commands)"
    else
        bad "echo $V: the secret shows in the output:$leaks"
        grep -a -n -F -e "$S" -e "$SESC" "$OUT" | head -5 | cut -c1-300 | sed 's/^/    | /'
    fi
    # what the flow saw: register prints the registration data the flow
    # built from the echoed body and headers
    if [ "$(count '***' "$D/reg.out")" -gt 0 ]; then
        ok "echo $V: the registration data the flow built shows *** where the secret was"
    else
        bad "echo $V: no *** in the registration data the flow built from the echo"
        cut -c1-400 "$D/reg.out" | sed 's/^/    | /'
    fi
    if grep -q '"x-echo-' "$D/reg.out"; then
        ok "echo $V: the flow received the echoed X-Echo-* header"
    else
        bad "echo $V: the flow did not receive an X-Echo-* header (test broken?)"
    fi
    # what the second host received
    curl -s "$B/_control/requests" >"$D/requests.json"
    python3 -c '
import json, sys
for r in json.load(open(sys.argv[1])):
    if r["path"] == "/forwarded":
        print(json.dumps(r))' "$D/requests.json" >"$D/forwarded.json"
    if [ ! -s "$D/forwarded.json" ]; then
        bad "echo $V: the flow did not forward to the second host (test broken?)"
    else
        n=0
        for s in $SECRETS; do n=$((n + $(count "$s" "$D/forwarded.json"))); done
        if [ "$n" = 0 ]; then
            ok "echo $V: what the flow forwarded to the second host (localhost) holds no secret"
        else
            bad "echo $V: the flow forwarded the secret to the second host (localhost)"
            cut -c1-400 "$D/forwarded.json" | sed 's/^/    | /'
        fi
    fi
    for f in "$D/u.db" "$D/u.db-wal" "$D/u.db-shm"; do
        if [ ! -e "$f" ]; then
            bad "echo $V: $(basename "$f") is not there to check"
            continue
        fi
        n=0
        for s in $SECRETS; do n=$((n + $(count "$s" "$f"))); done
        check "echo $V: no secret in $(basename "$f")" "$n" 0
    done
    kill "$HOLDER" 2>/dev/null
    wait "$HOLDER" 2>/dev/null
    HOLDER=""
}

echo_case bearer "$P1" "$TOK" "$TOK"
echo_case basic "$P1" "$TOK" "$TOK"
echo_case header "$P1" "$TOK" "$TOK"
echo_case query "$P1" "$TOK" "$TOK"
echo_case query-escaped "$P2" "$TOK2" "$TOK2ESC"
finish
