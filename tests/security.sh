#!/bin/sh
# Security tests of the command line (issue 5, items 4, 5 and 8):
#   1. TLS for real: a throwaway CA made here signs the certificate of a
#      provider serving HTTPS; verification fails without ca_file, passes
#      with it, is off with "insecure": true (with a warning on every run),
#      and a certificate for another name fails even with ca_file;
#   2. a secrets sweep: every command, for each auth type, against a
#      provider that knows a distinctive token, with failing paths that
#      echo it back; the token is in no output, in no file of the store
#      (database, -wal, -shm) and not in export;
#   3. redirects: followed on the same origin, refused to a host that is
#      not allowed, at most 5, and to a listed host without credentials.
# Providers of its own are started here (and stopped by the trap); the
# redirect cases use the suite provider of tests/run.sh when
# UNHOOK_TEST_URL is set.  KEEP=1 keeps the temporary folder.
# Prints "security: N passed, M failed".
set -u
cd "$(dirname "$0")/.." || exit 1
ROOT=$(pwd)
UNHOOK="$ROOT/build/unhook"
T=$(mktemp -d)
PIDS=""     # the providers this suite started
HOLDER=""   # the reader that keeps a sweep's -wal and -shm files
cleanup() {
    [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
    for p in $PIDS; do kill "$p" 2>/dev/null; done
    for p in $PIDS; do wait "$p" 2>/dev/null; done
    if [ -n "${KEEP:-}" ]; then echo "security: files kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM
START=$(date +%s)
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAILED: $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi; }
# show the last command's output after a failed check
dump() { sed 's/^/    | /' "$1"; }

if [ ! -x "$UNHOOK" ]; then
    echo "security: $UNHOOK not built"
    echo "security: 0 passed, 1 failed"
    exit 1
fi

# start_provider NAME [ARGS...]: a fixture provider of this suite, on its
# own port file; sets PORT.
start_provider() {
    name=$1
    shift
    python3 tests/provider/provider.py --port-file "$T/$name.port" --quiet "$@" \
        >"$T/$name.log" 2>&1 &
    PIDS="$PIDS $!"
    i=0
    while [ ! -s "$T/$name.port" ]; do
        i=$((i + 1))
        if [ $i -gt 100 ]; then
            echo "provider $name did not start:"
            cat "$T/$name.log"
            echo "security: $pass passed, $((fail + 1)) failed"
            exit 1
        fi
        sleep 0.1
    done
    PORT=$(cat "$T/$name.port")
}

# ctl BASE METHOD PATH [BODY]: a control request (-k: the control routes
# of the TLS provider are not what is tested)
ctl() {
    if [ $# -ge 4 ]; then
        curl -sk -X "$2" -H 'Content-Type: application/json' -d "$4" "$1$3"
    else
        curl -sk -X "$2" "$1$3"
    fi
}

# requests BASE: the provider's request log, one line per request:
# METHOD PATH STATUS HOST creds|nocreds
requests() {
    ctl "$1" GET /_control/requests | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    h = {k.lower(): v for k, v in r["headers"].items()}
    creds = "authorization" in h or "x-api-key" in h or "api_key" in r["query"]
    print(r["method"], r["path"], r["status"], h.get("host", "-"),
          "creds" if creds else "nocreds")'
}

# hook_exists BASE ID: 1 when the provider still has GitHub hook ID in o/r
hook_exists() {
    ctl "$1" GET /_control/hooks | python3 -c '
import json, sys
ids = json.load(sys.stdin)["github"].get("o/r", [])
print(1 if int(sys.argv[1]) in ids else 0)' "$2"
}

# seed BASE N: N GitHub hooks in o/r, their ids on one line
seed() {
    ctl "$1" POST /_control/seed "{\"owner\":\"o\",\"repo\":\"r\",\"count\":$2}" |
        python3 -c 'import json, sys; print(*json.load(sys.stdin)["ids"])'
}

count() { grep -c -a -F -e "$1" "$2" 2>/dev/null || true; }

# run_gh OUT CONN ID [UNHOOK-FLAGS...]: deregister GitHub hook ID in o/r
# once; sets RC
run_gh() {
    out=$1 conn=$2 id=$3
    shift 3
    "$UNHOOK" "$@" run github push --option owner=o --option repo=r \
        --registration "{\"id\":$id}" --connection "$conn" >"$out" 2>&1
    RC=$?
    unwarn "$out"
}

# unwarn FILE: drop the warning that the connection's auth type is not the
# manifest's (these cases use every type with one connector on purpose)
unwarn() {
    sed -i '/the connector expects [a-z_]* credentials but the connection gives/d' "$1"
}

# ---- 1. local HTTPS with a throwaway CA -----------------------------------
echo "-- TLS"
PKI="$T/pki"
mkdir "$PKI"
cat >"$PKI/ca.cnf" <<'EOF'
[req]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[dn]
CN = unhook throwaway test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
# server_cert NAME CN SAN: a key and a certificate signed by the CA
server_cert() {
    printf '%s\n' \
        '[req]' 'distinguished_name = dn' 'prompt = no' '[dn]' "CN = $2" >"$PKI/$1.cnf"
    printf '%s\n' 'basicConstraints = CA:FALSE' \
        'keyUsage = critical, digitalSignature, keyEncipherment' \
        'extendedKeyUsage = serverAuth' 'authorityKeyIdentifier = keyid' \
        "subjectAltName = $3" >"$PKI/$1.ext"
    openssl req -new -newkey rsa:2048 -nodes -config "$PKI/$1.cnf" \
        -keyout "$PKI/$1.key" -out "$PKI/$1.csr" >>"$PKI/openssl.log" 2>&1 &&
        openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" \
            -CAcreateserial -days 1 -extfile "$PKI/$1.ext" -out "$PKI/$1.pem" \
            >>"$PKI/openssl.log" 2>&1
}
if openssl req -x509 -newkey rsa:2048 -nodes -config "$PKI/ca.cnf" -days 1 \
        -keyout "$PKI/ca.key" -out "$PKI/ca.pem" >>"$PKI/openssl.log" 2>&1 &&
    server_cert server 127.0.0.1 'IP:127.0.0.1, DNS:localhost' &&
    server_cert wrong wrong.example 'DNS:wrong.example' &&
    openssl verify -CAfile "$PKI/ca.pem" "$PKI/server.pem" "$PKI/wrong.pem" >>"$PKI/openssl.log" 2>&1
then
    ok "throwaway CA made; it signs a server certificate (IP:127.0.0.1, DNS:localhost) and a wrong.example one"
else
    bad "throwaway CA and certificates"
    dump "$PKI/openssl.log"
fi

start_provider tls --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key"
TLS="https://127.0.0.1:$PORT"
TLSPORT=$PORT
start_provider wrongname --tls-cert "$PKI/wrong.pem" --tls-key "$PKI/wrong.key"
WRONG="https://127.0.0.1:$PORT"

conn() { # conn FILE BASE_URL [EXTRA-JSON-MEMBERS]
    printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "test-token"}%s}\n' \
        "$2" "${3:+, $3}" >"$1"
}
conn "$T/tls-plain.json" "$TLS"
conn "$T/tls-ca.json" "$TLS" "\"ca_file\": \"$PKI/ca.pem\""
conn "$T/tls-ca-localhost.json" "https://localhost:$TLSPORT" "\"ca_file\": \"$PKI/ca.pem\""
conn "$T/tls-insecure.json" "$TLS" '"insecure": true'
conn "$T/tls-wrong.json" "$WRONG" "\"ca_file\": \"$PKI/ca.pem\""

set -- $(seed "$TLS" 5)
H1=$1 H2=$2 H3=$3 H4=$4 H5=$5

# without ca_file: the CA is unknown, nothing reaches the provider
run_gh "$T/tls1.out" "$T/tls-plain.json" "$H1"
check "TLS without ca_file: exit 1" "$RC" 1
if grep -qi "^unhook: failed (retryable, transport): DELETE $TLS/repos/o/r/hooks/$H1: .*certificate" "$T/tls1.out"; then
    ok "TLS without ca_file: code transport, the message names the certificate problem"
else
    bad "TLS without ca_file: no clear transport/certificate message"
    dump "$T/tls1.out"
fi
check "TLS without ca_file: the provider received no request" \
    "$(ctl "$TLS" GET '/_control/requests?count=1')" '{"count": 0}'
check "TLS without ca_file: the hook is still there" "$(hook_exists "$TLS" "$H1")" 1

# with ca_file: verified and deregistered, no warning
run_gh "$T/tls2.out" "$T/tls-ca.json" "$H1"
check "TLS with ca_file: exit 0, deregistered" "$RC $(cat "$T/tls2.out")" "0 deregistered"
check "TLS with ca_file: the provider answered the DELETE with 204" \
    "$(requests "$TLS")" "DELETE /repos/o/r/hooks/$H1 204 127.0.0.1:$TLSPORT creds"
check "TLS with ca_file: the hook is gone" "$(hook_exists "$TLS" "$H1")" 0
run_gh "$T/tls3.out" "$T/tls-ca-localhost.json" "$H2" -v
check "TLS with ca_file, base_url https://localhost (SAN DNS:localhost): exit 0" "$RC" 0
check "TLS with ca_file, base_url https://localhost: the hook is gone" "$(hook_exists "$TLS" "$H2")" 0
check "TLS verified: no warning about verification" \
    "$(cat "$T/tls2.out" "$T/tls3.out" | grep -c -i 'verification')" 0

# insecure: works, and warns on every run
for n in 1 2; do
    eval "h=\$H$((n + 2))"
    run_gh "$T/tls-insecure$n.out" "$T/tls-insecure.json" "$h"
    check "TLS \"insecure\": true, run $n: exit 0" "$RC" 0
    check "TLS \"insecure\": true, run $n: the hook is gone" "$(hook_exists "$TLS" "$h")" 0
    check "TLS \"insecure\": true, run $n: one warning that verification is off" \
        "$(grep -c '^\[warn\] TLS peer verification is off for this connection ("insecure": true)$' "$T/tls-insecure$n.out")" 1
done

# a certificate for another name fails even with the CA that signed it
ctl "$WRONG" POST /_control/seed '{"owner":"o","repo":"r","count":1}' >/dev/null
run_gh "$T/tls4.out" "$T/tls-wrong.json" 12345678
check "TLS certificate for wrong.example, with ca_file: exit 1" "$RC" 1
if grep -qi "^unhook: failed (retryable, transport): DELETE $WRONG/.*: .*\(subject name\|host name\|hostname\)" "$T/tls4.out"; then
    ok "TLS certificate for wrong.example: code transport, the message names the host name mismatch"
else
    bad "TLS certificate for wrong.example: no clear host name message"
    dump "$T/tls4.out"
fi
check "TLS certificate for wrong.example: the provider received no request" \
    "$(ctl "$WRONG" GET '/_control/requests?count=1')" '{"count": 0}'

# a ca_file that cannot be read: the run fails and says which file
conn "$T/tls-noca.json" "$TLS" "\"ca_file\": \"$PKI/missing.pem\""
run_gh "$T/tls5.out" "$T/tls-noca.json" "$H5"
check "TLS with a ca_file that does not exist: exit 2 (a bad connection file)" "$RC" 2
if grep -q "ca_file: $PKI/missing.pem: no such file" "$T/tls5.out"; then
    ok "TLS with a ca_file that does not exist: the message names the file"
else
    bad "TLS with a ca_file that does not exist: the message does not name the file"
    dump "$T/tls5.out"
fi

# ---- 2. secrets sweep ----------------------------------------------------
echo "-- secrets"
TOK=tok-S3CR3T-sweep-4711
BAD=tok-WR0NG-sweep-4711
USER_=sweeper
# a second token with characters that are percent-encoded in a URL
TOK2='tok+S3CR3T/sweep=4711'
TOK2ESC='tok%2BS3CR3T%2Fsweep%3D4711'
BAD2='tok+WR0NG/sweep=4711'
BAD2ESC='tok%2BWR0NG%2Fsweep%3D4711'
SWEEP_TOKEN=$TOK
export SWEEP_TOKEN
start_provider sweep --token "$TOK" --user "$USER_" --password "$TOK"
SWEEP="http://127.0.0.1:$PORT"
SWEEPPORT=$PORT
start_provider sweep2 --token "$TOK2"
SWEEP2="http://127.0.0.1:$PORT"

# auth_json VARIANT SECRET: the connection's auth object
auth_json() {
    case $1 in
    bearer) printf '{"type": "bearer", "token": "%s"}' "$2" ;;
    bearer-env) printf '{"type": "bearer", "token": "${SWEEP_TOKEN}"}' ;;
    basic) printf '{"type": "basic", "username": "%s", "password": "%s"}' "$USER_" "$2" ;;
    header) printf '{"type": "header", "name": "X-Api-Key", "value": "%s"}' "$2" ;;
    query | query-escaped) printf '{"type": "query", "name": "api_key", "value": "%s"}' "$2" ;;
    esac
}

# u EXPECTED ARGS...: one command of the sweep, in the sweep folder with the
# sweep's database; its stdout and stderr are appended to $OUT; a wrong
# exit status is noted in $W/rc.
u() {
    want=$1
    shift
    (cd "$W" && "$UNHOOK" --db "$DB" "$@") >"$W/last.out" 2>"$W/last.err"
    got=$?
    { echo "\$ unhook $*"; cat "$W/last.out" "$W/last.err"; } >>"$OUT"
    if [ "$want" != - ] && [ "$got" != "$want" ]; then
        echo "unhook $*: exit $got, want $want" >>"$W/rc"
        sed 's/^/    | /' "$W/last.out" "$W/last.err" >>"$W/rc"
    fi
}

# echo_script BASE METHOD STATUS [EXTRA-HEADERS]: the next METHOD under
# /repos/o/r/hooks answers STATUS with the secret echoed in a body and a
# header: as written, percent-encoded, as a Bearer header and (basic auth)
# as the Basic header
echo_script() {
    basic=""
    [ -n "$SB64" ] && basic=", \"basic\": \"Basic $SB64\""
    ctl "$1" POST /_control/script "$(printf '{"method": "%s", "prefix": "/repos/o/r/hooks", "responses": [{"status": %s, "headers": {"X-Echo": "%s", "X-Echo-Auth": "Bearer %s", "Set-Cookie": "session=%s"%s}, "body": {"message": "token %s rejected", "auth": "Bearer %s", "escaped": "%s"%s}}]}' \
        "$2" "$3" "$S" "$S" "$S" "${4:+, $4}" "$S" "$S" "$SESC" \
        "$basic")" >/dev/null
}

sweep() { # sweep VARIANT BASE SECRET SECRET-ESCAPED WRONG WRONG-ESCAPED
    V=$1 B=$2 S=$3 SESC=$4 X=$5 XESC=$6
    # the forms of the secret and of the wrong one that must never show
    SECRETS="$S $SESC $X $XESC"
    SB64=""
    if [ "$V" = basic ]; then
        SB64=$(printf '%s' "$USER_:$S" | base64)
        SECRETS="$SECRETS $SB64 $(printf '%s' "$USER_:$X" | base64)"
    fi
    W="$T/sweep-$V"
    DB="$W/unhook.db"
    OUT="$W/all.out"
    mkdir "$W"
    : >"$OUT"
    : >"$W/rc"
    ctl "$B" POST /_control/reset >/dev/null
    printf '{"base_url": "%s", "auth": %s}\n' "$B" "$(auth_json "$V" "$S")" >"$W/conn.json"
    printf '{"base_url": "%s", "auth": %s}\n' "$B" "$(auth_json "$V" "$X")" >"$W/wrong.json"
    if [ "$V" = bearer-env ]; then
        printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "${SWEEP_WRONG}"}}\n' "$B" >"$W/wrong.json"
    fi
    export SWEEP_WRONG="$X"
    O="--option owner=o --option repo=r"

    u 0 check github
    u 0 -v check github
    # register and run, without the store
    u 0 -v register github push $O --option url=https://example.test/r --connection conn.json
    cp "$W/last.out" "$W/reg.json"
    u 0 -v run github push $O --registration @reg.json --connection conn.json
    u 0 run github push $O --registration @reg.json --connection conn.json       # already gone
    set -- $(seed "$B" 4)
    echo_script "$B" DELETE 400
    u 1 -v run github push $O --registration "{\"id\":$1}" --connection conn.json
    echo_script "$B" DELETE 401 '"WWW-Authenticate": "Bearer realm=\"'"$S"'\""'
    u 1 -v run github push $O --registration "{\"id\":$1}" --connection conn.json
    echo_script "$B" DELETE 503 '"Retry-After": "1"'
    u 1 -v run github push $O --registration "{\"id\":$1}" --connection conn.json
    u 1 -v run github push $O --registration "{\"id\":$1}" --connection wrong.json
    # a transport error, a redirect to a host that is not allowed, and a
    # redirect whose Location echoes the secret: messages carry the URL
    ctl "$B" POST /_control/script '{"method": "DELETE", "prefix": "/repos/o/r/hooks", "responses": [{"drop": true}]}' >/dev/null
    u 1 -v run github push $O --registration "{\"id\":$1}" --connection conn.json
    ctl "$B" POST /_control/script "{\"method\": \"DELETE\", \"prefix\": \"/repos/o/r/hooks\", \"responses\": [{\"status\": 302, \"headers\": {\"Location\": \"http://localhost:${B##*:}/x?echo=$S\"}}]}" >/dev/null
    u 1 -v run github push $O --registration "{\"id\":$1}" --connection conn.json
    ctl "$B" POST /_control/script "{\"method\": \"DELETE\", \"path\": \"/repos/o/r/hooks/$2\", \"responses\": [{\"status\": 307, \"headers\": {\"Location\": \"/repos/o/r/hooks/$2?echo=$S\"}}]}" >/dev/null
    u - -v run github push $O --registration "{\"id\":$2}" --connection conn.json
    # a connection file that does not parse, with the secret in it
    printf '{"base_url": "%s", "auth": {"type": "bearer", "token": %s}}\n' "$B" "$S" >"$W/broken.json"
    u 2 -v run github push $O --registration "{\"id\":$1}" --connection broken.json
    printf '{"base_url": "%s", "auth": {"type": "bearer", "token": ["%s"]}}\n' "$B" "$S" >"$W/broken.json"
    u 2 -v run github push $O --registration "{\"id\":$1}" --connection broken.json
    echo_script "$B" POST 422
    u 1 -v register github push $O --option url=https://example.test/r --connection conn.json
    u 1 -v register github push $O --option url=https://example.test/r --connection wrong.json

    # the store: enable, disable (done, failed, pending), retry, resume
    for i in 1 2 3 4 5 6 7; do
        u 0 -v enable a$i --connector github --event push $O \
            --option url=https://example.test/a$i --connection conn.json
    done
    # keep the WAL and shared-memory files: a reader holds the database
    # open until the end, so closing the engine cannot remove them
    python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
c.execute("select count(*) from instances").fetchall()
open(sys.argv[2], "w").close()
time.sleep(600)' "$DB" "$W/holder.ready" &
    HOLDER=$!
    i=0
    while [ ! -e "$W/holder.ready" ] && [ $i -lt 100 ]; do
        i=$((i + 1))
        sleep 0.05
    done
    echo_script "$B" POST 422
    u 1 -v enable e1 --connector github --event push $O \
        --option url=https://example.test/e1 --connection conn.json
    u 1 -v enable e2 --connector github --event push $O \
        --option url=https://example.test/e2 --connection wrong.json
    u 0 -v disable a1 --reason "user turned it off"
    echo_script "$B" DELETE 400
    u 1 -v disable a2
    u 0 show a2
    u 0 --json show a2
    u 0 history a2
    u 0 --json history a2
    echo_script "$B" DELETE 400
    u 1 -v retry a2
    u 1 -v disable a3 --connection wrong.json
    u 0 -v retry a3 --connection conn.json
    echo_script "$B" DELETE 503 '"Retry-After": "1"'
    u 75 -v disable a4
    u 0 show a4
    u 0 -v resume --wait
    # import: one instance on, one already on its way off
    set -- $(seed "$B" 2)
    printf '{"id": "i1", "connector": "github", "event": "push", "options": {"owner": "o", "repo": "r"}, "connection": "%s", "registration": {"id": %s}, "state": "registered", "desired": "on"}\n{"id": "i2", "connector": "github", "event": "push", "options": {"owner": "o", "repo": "r"}, "connection": "%s", "registration": {"id": %s}, "state": "deregistering", "desired": "off"}\n' \
        "$W/conn.json" "$1" "$W/conn.json" "$2" >"$W/import.jsonl"
    u 0 -v import import.jsonl
    u 0 -v resume
    echo_script "$B" DELETE 400
    u 1 -v disable --all
    u 0 list
    u 0 list --state failed
    u 0 --json list
    u 0 -v retry --failed
    u 0 -v retry --failed
    u 0 -v disable --all
    for id in a1 a2 a3 a4 a5 e1 e2 i1 i2; do
        u 0 show $id
        u 0 --json show $id
        u 0 history $id
        u 0 --json history $id
    done
    u 0 list
    u 0 --json list
    u 0 export
    cp "$W/last.out" "$W/export.jsonl"
    u 0 -v export

    # the reader dies without closing: the -wal and -shm files stay as the
    # engine left them; then the engine, the last to close the database,
    # checkpoints the WAL into the database file
    kill "$HOLDER" 2>/dev/null
    wait "$HOLDER" 2>/dev/null
    HOLDER=""
    if [ -s "$DB-wal" ] && [ -e "$DB-shm" ]; then
        ok "sweep $V: the store's -wal and -shm files were kept for the check"
    else
        bad "sweep $V: no -wal/-shm file to check ($(ls "$W" | tr '\n' ' '))"
    fi
    cp "$DB-wal" "$W/kept.db-wal" 2>/dev/null
    cp "$DB-shm" "$W/kept.db-shm" 2>/dev/null
    u 0 list

    if [ -s "$W/rc" ]; then
        bad "sweep $V: some commands exited unexpectedly"
        sed 's/^/    /' "$W/rc"
    else
        ok "sweep $V: $(grep -c '^\$ unhook' "$OUT") commands exited as expected (done, failed, pending)"
    fi
    leaks=0
    for s in $SECRETS; do
        leaks=$((leaks + $(count "$s" "$OUT")))
    done
    check "sweep $V: the secret and the wrong one (as written, percent-encoded${SB64:+, as Basic headers}) are in no output line" "$leaks" 0
    case $V in
    bearer | bearer-env | basic) pat='> Authorization: ***' ;;
    header) pat='> X-Api-Key: ***' ;;
    query | query-escaped) pat='?api_key=***' ;;
    esac
    if [ "$(count "$pat" "$OUT")" -gt 0 ]; then ok "sweep $V: -v traces show '$pat'"; else bad "sweep $V: no '$pat' in the -v traces"; fi
    if [ "$(count '< X-Echo: ***' "$OUT")" -gt 0 ] && [ "$(count '< X-Echo-Auth: Bearer ***' "$OUT")" -gt 0 ] &&
        [ "$(count '"message": "token *** rejected"' "$OUT")" -gt 0 ]; then
        ok "sweep $V: the echoed secret shows as *** in traced headers and in error messages"
    else
        bad "sweep $V: the echoed secret is not shown as *** in traces and messages"
    fi
    for f in "$DB" "$W/kept.db-wal" "$W/kept.db-shm"; do
        n=0
        for s in $SECRETS; do
            n=$((n + $(count "$s" "$f")))
        done
        check "sweep $V: no secret in $(basename "$f" | sed 's/^kept.//')" "$n" 0
    done
    n=0
    for s in $SECRETS; do
        n=$((n + $(count "$s" "$W/export.jsonl")))
    done
    check "sweep $V: no secret in export ($(wc -l <"$W/export.jsonl") instances)" "$n" 0
}

sweep bearer "$SWEEP" "$TOK" "$TOK" "$BAD" "$BAD"
sweep bearer-env "$SWEEP" "$TOK" "$TOK" "$BAD" "$BAD"
sweep basic "$SWEEP" "$TOK" "$TOK" "$BAD" "$BAD"
sweep header "$SWEEP" "$TOK" "$TOK" "$BAD" "$BAD"
sweep query "$SWEEP" "$TOK" "$TOK" "$BAD" "$BAD"
sweep query-escaped "$SWEEP2" "$TOK2" "$TOK2ESC" "$BAD2" "$BAD2ESC"

# ---- 3. redirects --------------------------------------------------------
echo "-- redirects"
if [ -n "${UNHOOK_TEST_URL:-}" ]; then
    R=$UNHOOK_TEST_URL
else
    start_provider plain
    R="http://127.0.0.1:$PORT"
fi
RPORT=${R##*:}
rconn() { # rconn FILE AUTH-TYPE: a connection to the redirect provider
    case $2 in
    bearer) a='{"type": "bearer", "token": "test-token"}' ;;
    basic) a='{"type": "basic", "username": "user", "password": "pass"}' ;;
    header) a='{"type": "header", "name": "X-Api-Key", "value": "test-token"}' ;;
    query) a='{"type": "query", "name": "api_key", "value": "test-token"}' ;;
    esac
    printf '{"base_url": "%s", "auth": %s}\n' "$R" "$a" >"$1"
}
for a in bearer basic header query; do rconn "$T/r-$a.json" $a; done

# a 307 to another path of the same origin: followed, with credentials
for a in bearer basic header query; do
    ctl "$R" POST /_control/reset >/dev/null
    set -- $(seed "$R" 2)
    ctl "$R" POST /_control/script "{\"method\": \"DELETE\", \"path\": \"/repos/o/r/hooks/$1\", \"responses\": [{\"status\": 307, \"headers\": {\"Location\": \"/repos/o/r/hooks/$2\"}}]}" >/dev/null
    run_gh "$T/r307-$a.out" "$T/r-$a.json" "$1"
    if [ "$RC $(cat "$T/r307-$a.out")" = "0 deregistered" ]; then
        ok "redirect 307 on the same origin ($a auth): followed, deregistered"
    else
        bad "redirect 307 on the same origin ($a auth): exit $RC, want 0 and 'deregistered'"
        dump "$T/r307-$a.out"
    fi
    check "redirect 307 on the same origin ($a auth): both requests carried the credentials" \
        "$(requests "$R" | tr '\n' ';')" \
        "DELETE /repos/o/r/hooks/$1 307 127.0.0.1:$RPORT creds;DELETE /repos/o/r/hooks/$2 204 127.0.0.1:$RPORT creds;"
    check "redirect 307 on the same origin ($a auth): the target hook is gone" "$(hook_exists "$R" "$2")" 0
done

# a 302 to another host: refused before any request is made to it
ctl "$R" POST /_control/reset >/dev/null
set -- $(seed "$R" 1)
ctl "$R" POST /_control/script "{\"method\": \"DELETE\", \"path\": \"/repos/o/r/hooks/$1\", \"responses\": [{\"status\": 302, \"headers\": {\"Location\": \"http://localhost:$RPORT/x\"}}]}" >/dev/null
run_gh "$T/r302.out" "$T/r-bearer.json" "$1"
check "redirect 302 to http://localhost (not allowed): exit 1" "$RC" 1
if grep -q "^unhook: failed (forbidden_host): DELETE $R/repos/o/r/hooks/$1: redirect to localhost refused" "$T/r302.out"; then
    ok "redirect 302 to http://localhost: code forbidden_host, a clear message"
else
    bad "redirect 302 to http://localhost: no forbidden_host message"
    dump "$T/r302.out"
fi
check "redirect 302 to http://localhost: no request reached /x" \
    "$(requests "$R" | tr '\n' ';')" "DELETE /repos/o/r/hooks/$1 302 127.0.0.1:$RPORT creds;"

# at most 5 redirects: 5 are followed, a 6th reaches the flow as an error
ctl "$R" POST /_control/reset >/dev/null
set -- $(seed "$R" 2)
loop() { # loop ID N: N 307s from the hook's path to itself
    r=""
    k=0
    while [ $k -lt "$2" ]; do
        r="$r${r:+, }{\"status\": 307, \"headers\": {\"Location\": \"/repos/o/r/hooks/$1\"}}"
        k=$((k + 1))
    done
    ctl "$R" POST /_control/script "{\"method\": \"DELETE\", \"path\": \"/repos/o/r/hooks/$1\", \"responses\": [$r]}" >/dev/null
}
loop "$1" 5
run_gh "$T/r5.out" "$T/r-bearer.json" "$1"
check "5 redirects in a row: followed, deregistered" "$RC $(cat "$T/r5.out")" "0 deregistered"
check "5 redirects in a row: 6 requests, the last one deleted the hook" \
    "$(requests "$R" | sort | uniq -c | tr -s ' ' | tr '\n' ';')" \
    " 1 DELETE /repos/o/r/hooks/$1 204 127.0.0.1:$RPORT creds; 5 DELETE /repos/o/r/hooks/$1 307 127.0.0.1:$RPORT creds;"
ctl "$R" DELETE /_control/requests >/dev/null
loop "$2" 8
run_gh "$T/r6.out" "$T/r-bearer.json" "$2"
check "more than 5 redirects: exit 1" "$RC" 1
if grep -q "^unhook: failed (http): HTTP 307 from DELETE $R/repos/o/r/hooks/$2\$" "$T/r6.out"; then
    ok "more than 5 redirects: the 6th 307 reaches the flow as an HTTP error (failed, http)"
else
    bad "more than 5 redirects: no clear failure"
    dump "$T/r6.out"
fi
check "more than 5 redirects: 6 requests made, 2 scripted 307s left unused" \
    "$(requests "$R" | wc -l | tr -d ' ') $(ctl "$R" GET /_control/script | python3 -c 'import json, sys; print(sum(len(s["responses"]) for s in json.load(sys.stdin)))')" "6 2"
check "more than 5 redirects: the hook is still there" "$(hook_exists "$R" "$2")" 1

# a redirect to a host the manifest lists: followed, without credentials
mkdir -p "$T/listed/flows"
cat >"$T/listed/connector.lua" <<'EOF'
return {
  name = "listed",
  version = "1.0.0",
  description = "redirect fixture: localhost is a listed host",
  auth = "bearer",
  hosts = { "localhost" },
  events = {
    hook = {
      description = "a hook whose DELETE is redirected",
      options = { id = { type = "string", required = true, description = "hook id" } },
      deregistration = { flow = "flows/delete.lua", inputs = { id = option "id" } },
    },
    fetch = {
      description = "a GET of an absolute URL",
      options = { url = { type = "string", required = true, description = "URL" } },
      deregistration = { flow = "flows/fetch.lua", inputs = { url = option "url" } },
    },
  },
}
EOF
cat >"$T/listed/flows/fetch.lua" <<'EOF'
return {
  description = "GET an absolute URL",
  inputs = { url = { type = "string", required = true } },
  run = function(ctx, input)
    local resp = ctx.http.get(input.url, { ok = { 401 } })
    ctx.log.info("final", resp.status, resp.url)
  end,
}
EOF
cat >"$T/listed/flows/delete.lua" <<'EOF'
-- The provider answers a request without credentials with 401: the flow
-- reports the final status and URL instead of failing on it.
return {
  description = "DELETE /hook/{id}",
  inputs = { id = { type = "string", required = true } },
  run = function(ctx, input)
    local resp = ctx.http.delete("/hook/{id}", { path = { id = input.id }, ok = { 401 } })
    ctx.log.info("final", resp.status, resp.url)
  end,
}
EOF
"$UNHOOK" check "$T/listed" >"$T/listed.out" 2>&1
check "fixture connector with hosts = { \"localhost\" } is valid" "$? $(cat "$T/listed.out")" "0 $T/listed: ok"
# redirect_to TARGET AUTH: the fixture's DELETE /hook/1 gets a 307 to TARGET
redirect_to() {
    ctl "$R" POST /_control/reset >/dev/null
    ctl "$R" POST /_control/script "{\"method\": \"DELETE\", \"path\": \"/hook/1\", \"responses\": [{\"status\": 307, \"headers\": {\"Location\": \"$1\"}}]}" >/dev/null
    "$UNHOOK" run "$T/listed" hook --option id=1 --connection "$T/r-$2.json" >"$T/listed-$2.out" 2>&1
    RC=$?
    unwarn "$T/listed-$2.out"
}
for a in bearer basic header query; do
    redirect_to "http://localhost:$RPORT/listed/1" $a
    check "redirect to a listed host ($a auth): followed" "$RC $(cat "$T/listed-$a.out")" \
        "0 [info] listed test: final 401 http://localhost:$RPORT/listed/1
deregistered"
    check "redirect to a listed host ($a auth): credentials went to the base origin only" \
        "$(requests "$R" | tr '\n' ';')" \
        "DELETE /hook/1 307 127.0.0.1:$RPORT creds;DELETE /listed/1 401 localhost:$RPORT nocreds;"
done
# the same host on another port is another origin: no credentials either
redirect_to "http://127.0.0.1:$SWEEPPORT/other-port/1" bearer
check "redirect to the same host, another port: followed" "$RC" 0
check "redirect to the same host, another port: no credentials sent there" \
    "$(requests "$SWEEP" | grep other-port)" "DELETE /other-port/1 401 127.0.0.1:$SWEEPPORT nocreds"

# requests the flow makes itself: a listed host gets no credentials; with
# base_url http://localhost, 127.0.0.1 is neither the base host nor listed
printf '{"base_url": "http://localhost:%s", "auth": {"type": "bearer", "token": "test-token"}}\n' "$RPORT" >"$T/r-localhost.json"
ctl "$R" POST /_control/reset >/dev/null
"$UNHOOK" run "$T/listed" fetch --option url="http://localhost:$RPORT/direct" \
    --connection "$T/r-bearer.json" >"$T/fetch1.out" 2>&1
check "a flow's request to a listed host: made, without credentials" \
    "$? $(requests "$R")" "0 GET /direct 401 localhost:$RPORT nocreds"
ctl "$R" POST /_control/reset >/dev/null
"$UNHOOK" run "$T/listed" fetch --option url="http://127.0.0.1:$RPORT/direct" \
    --connection "$T/r-localhost.json" >"$T/fetch2.out" 2>&1
check "a flow's request to a host neither base nor listed: exit 1" "$?" 1
if grep -q "^unhook: failed (forbidden_host): request to 127.0.0.1 refused" "$T/fetch2.out"; then
    ok "a flow's request to a host neither base nor listed: forbidden_host"
else
    bad "a flow's request to a host neither base nor listed: no forbidden_host"
    dump "$T/fetch2.out"
fi
check "a flow's request to a host neither base nor listed: no request made" \
    "$(ctl "$R" GET '/_control/requests?count=1')" '{"count": 0}'

echo "security: took $(($(date +%s) - START)) s"
echo "security: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
