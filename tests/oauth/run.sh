#!/bin/sh
# OAuth2 connections (issue 13) against the fixture provider's token
# endpoint (tests/provider/provider.py, the OAuth2 section):
#   expired access token: one token request, the DELETE sent again once;
#   32 concurrent deregistrations on one connection: one token request;
#   two processes sharing a database, 1,000 deregistrations, tokens that
#   expire every second: no refresh token is ever reused;
#   a revoked refresh token: auth_revoked after one token request, and
#   retry after the operator fixes the file;  client_credentials;
#   secrets: no token nor the client secret (nor its Basic form, echoed
#   by the provider) in any output, trace, history
#   row or database file (db, -wal, -shm);
#   bad input: HTML, no access_token, expires_in negative, huge or not a
#   number, a token answer of 20 MiB, 5xx,
#   a missing key, a wrong key (a store error, nothing overwritten);
#   tests/oauth/hostile.sh: a token request its run gave up on, a wrong
#   client secret then fixed, a provider's error text with line breaks,
#   a key file readable by others, a token_url over plain http.
# Uses the suite's provider (UNHOOK_TEST_URL) or starts one.  KEEP=1 keeps
# the temporary folder.  Prints "oauth: N passed, M failed".
set -u
cd "$(dirname "$0")/../.." || exit 1
ROOT=$(pwd)
UNHOOK="${UNHOOK:-$ROOT/build/unhook}"
umask 077
if [ -z "${UNHOOK_TEST_URL:-}" ]; then
    . tests/provider/start.sh
fi
U=$UNHOOK_TEST_URL
T=$(mktemp -d)
HOLDER=""
cleanup() {
    [ -n "$HOLDER" ] && kill "$HOLDER" 2>/dev/null
    if [ -n "${KEEP:-}" ]; then echo "oauth: files kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAILED: $1"; }
check() { if [ "$2" = "$3" ]; then ok "$1"; else bad "$1 (got '$2', want '$3')"; fi; }
has() { if grep -q -- "$3" "$2"; then ok "$1"; else bad "$1 ('$3' not in $2)"; sed 's/^/    | /' "$2"; fi; }

KEY=$(openssl rand -hex 32)
export UNHOOK_SECRET_KEY="$KEY"

ctl() {
    if [ $# -ge 3 ]; then
        curl -s -X "$1" -H 'Content-Type: application/json' -d "$3" "$U$2"
    else
        curl -s -X "$1" "$U$2"
    fi
}
# oauth KEY: a counter of the token endpoint (token_requests, reuse_detected, ...)
oauth() {
    ctl GET /_control/oauth | python3 -c 'import json,sys; d=json.load(sys.stdin); k=sys.argv[1].split("."); v=d
for p in k: v=v.get(p, 0) if isinstance(v, dict) else 0
print(v)' "$1"
}
# reqs METHOD PREFIX [STATUS]: how many such requests the provider answered
reqs() {
    ctl GET /_control/requests | python3 -c 'import json,sys
m, p, s = sys.argv[1], sys.argv[2], (int(sys.argv[3]) if len(sys.argv) > 3 else None)
print(sum(1 for r in json.load(sys.stdin) if r["method"] == m and r["path"].startswith(p) and (s is None or r["status"] == s)))' "$@"
}
# fresh NAME: a new case: provider reset, a folder of its own ($W, $DB)
fresh() {
    ctl POST /_control/reset >/dev/null
    W="$T/$1"
    mkdir -p "$W"
    DB="$W/unhook.db"
    cd "$W" || exit 1
}
# setup NAME REFRESH-TOKEN HOOKS [OAUTH-SETTINGS]: a new case whose
# provider knows REFRESH-TOKEN and HOOKS hooks, and conn.json using it
setup() {
    fresh "$1"
    ctl POST /_control/oauth "{\"refresh_tokens\": [\"$2\"]${4:+, $4}}" >/dev/null
    seed "$3"
    conn conn.json "\"refresh_token\": \"$2\""
}
# conn FILE [AUTH-FIELDS]: an oauth2 connection to the provider
conn() {
    f=$1
    shift
    printf '{"base_url": "%s/oauth", "auth": {"type": "oauth2", "token_url": "%s/oauth/token", "client_id": "cid", "client_secret": "csecret"%s}}\n' \
        "$U" "$U" "${1:+, $1}" >"$f"
}
# seed N: N hooks at the provider (hk_1 ... hk_N)
seed() { ctl POST /_control/seed "{\"collection\": \"/api/hooks\", \"count\": $1}" >/dev/null; }
# instances N STATE CONNECTION: JSON Lines of N instances hk_1..hk_N
instances() {
    python3 -c 'import json,sys
n, state, conn = int(sys.argv[1]), sys.argv[2], sys.argv[3]
for i in range(1, n + 1):
    print(json.dumps({"id": "i%d" % i, "connector": "generic", "event": "hook",
        "options": {"collection": "/api/hooks"}, "connection": conn,
        "registration": {"id": "hk_%d" % i}, "state": state,
        "desired": "on" if state == "registered" else "off"}))' "$@"
}
# u ARGS: unhook with the case's database; output in $W/out (appended to
# $W/all, every output of the case, for the secrets sweep)
u() {
    "$UNHOOK" --db "$DB" "$@" >"$W/out" 2>&1
    rc=$?
    cat "$W/out" >>"$W/all"
    return $rc
}
show_field() {
    "$UNHOOK" --db "$DB" --json show "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1]))' "$2"
}

if [ ! -x "$UNHOOK" ]; then
    echo "oauth: $UNHOOK not built"
    echo "oauth: 0 passed, 1 failed"
    exit 1
fi

# ---- an expired access token: one token request, one retried DELETE ----
fresh expired
ctl POST /_control/oauth '{"refresh_tokens": ["rt_seed_expired"]}' >/dev/null
seed 1
conn conn.json '"refresh_token": "rt_seed_expired", "access_token": "at_long_expired"'
instances 1 registered "$W/conn.json" >i.jsonl
u import i.jsonl
u -v disable i1
check "expired token: disable succeeds" "$?" 0
check "expired token: one token request" "$(oauth token_requests)" 1
check "expired token: the DELETE refused once" "$(reqs DELETE /oauth/api/hooks/hk_1 401)" 1
check "expired token: the DELETE sent again once, and done" "$(reqs DELETE /oauth/api/hooks/hk_1 204)" 1
check "expired token: state off" "$(show_field i1 state)" off
# a token the file says has expired is refreshed before the request
fresh expired_at
ctl POST /_control/oauth '{"refresh_tokens": ["rt_seed_at"], "access_tokens": {"at_old": -5}}' >/dev/null
seed 1
conn conn.json '"refresh_token": "rt_seed_at", "access_token": "at_old", "expires_at": 1000'
u run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection conn.json
check "expires_at in the past: refreshed first, one DELETE" \
    "$(oauth token_requests) $(reqs DELETE /oauth/api/ 401) $(reqs DELETE /oauth/api/ 204)" "1 0 1"

# ---- 32 concurrent deregistrations, one connection: one token request --
setup concurrent rt_seed_32 32 '"api_delay_ms": 20'
instances 32 registered "$W/conn.json" >i.jsonl
u import i.jsonl
u disable --all --concurrency 32
check "32 concurrent: all done" "$?" 0
check "32 concurrent: exactly one token request" "$(oauth token_requests)" 1
check "32 concurrent: 32 DELETEs" "$(reqs DELETE /oauth/api/hooks/ 204)" 32

# ---- two processes, one database, 1,000 deregistrations, 1 s tokens ---
setup twoprocs rt_seed_1000 1000 '"ttl": 1, "api_delay_ms": 60'
instances 1000 deregistering "$W/conn.json" >i.jsonl
u import i.jsonl
"$UNHOOK" --db "$DB" resume --concurrency 16 >"$W/p1" 2>&1 &
P1=$!
"$UNHOOK" --db "$DB" resume --concurrency 16 >"$W/p2" 2>&1 &
P2=$!
wait $P1
r1=$?
wait $P2
r2=$?
cat "$W/p1" "$W/p2" >>"$W/all"
check "two processes: both done" "$r1 $r2" "0 0"
check "two processes: 1000 deleted" "$(ctl GET /_control/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["deletes_ok"])')" 1000
check "two processes: no refresh token reused" "$(oauth reuse_detected) $(oauth revoked_families)" "0 0"
n=$(oauth token_requests)
if [ "$n" -ge 2 ]; then ok "two processes: tokens were refreshed as they expired ($n token requests)"
else bad "two processes: expected several token requests, got $n"; fi
check "two processes: all off" "$("$UNHOOK" --db "$DB" list --state off | grep -c '^i')" 1000

# ---- a revoked refresh token: auth_revoked after one token request ----
fresh revoked
seed 3
conn conn.json '"refresh_token": "rt_never_issued"'
instances 3 registered "$W/conn.json" >i.jsonl
u import i.jsonl
u disable --all
check "revoked: disable fails (exit 1)" "$?" 1
check "revoked: one token request for three instances" "$(oauth token_requests)" 1
check "revoked: dead-lettered" "$(show_field i1 state)" failed
check "revoked: the outcome code is auth_revoked" "$(show_field i1 last_error | cut -d: -f1)" auth_revoked
"$UNHOOK" --db "$DB" history i1 >"$W/hist" 2>&1
cat "$W/hist" >>"$W/all"
has "revoked: history tells the operator to re-authorize" "$W/hist" "re-authorize the connection"
u resume
check "revoked: not retried in a loop" "$(oauth token_requests)" 1
ctl POST /_control/oauth '{"refresh_tokens": ["rt_reissued"]}' >/dev/null
conn conn.json '"refresh_token": "rt_reissued"'
u retry --failed
u resume
check "revoked: after the file is fixed, retry succeeds" "$(show_field i1 state) $(show_field i3 state)" "off off"

# a refresh token revoked at the provider (RFC 7009) while in use
fresh revoked_live
ctl POST /_control/oauth '{"refresh_tokens": ["rt_live"]}' >/dev/null
seed 2
conn conn.json '"refresh_token": "rt_live", "access_token": "at_gone"'
ctl POST /_control/oauth/revoke '{"token": "rt_live"}' >/dev/null
u run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection conn.json
check "revoked at the provider: run fails (exit 1)" "$?" 1
has "revoked at the provider: auth_revoked" "$W/out" "refused the refresh token"

# ---- client_credentials -----------------------------------------------
fresh client_credentials
seed 2
printf '{"base_url": "%s/oauth", "auth": {"type": "oauth2", "grant": "client_credentials", "token_url": "%s/oauth/token", "client_id": "cid", "client_secret": "csecret", "client_auth": "post", "scope": "hooks"}}\n' "$U" "$U" >cc.json
env -u UNHOOK_SECRET_KEY "$UNHOOK" --db "$DB" run generic hook --registration '{"id": "hk_1"}' \
    --option collection=/api/hooks --connection cc.json >"$W/out" 2>&1
check "client_credentials: works without a key" "$?" 0
check "client_credentials: one token request of that grant" "$(oauth grants.client_credentials)" 1
printf '{"base_url": "%s/oauth", "auth": {"type": "oauth2", "grant": "client_credentials", "token_url": "%s/oauth/token", "client_id": "cid", "client_secret": "wrong"}}\n' "$U" "$U" >bad.json
u run generic hook --registration '{"id": "hk_2"}' --option collection=/api/hooks --connection bad.json
check "client_credentials: a wrong secret fails" "$?" 1
has "client_credentials: invalid_client named" "$W/out" "invalid_client"

# ---- the manifest's defaults: token_url and scope --------------------
setup manifest_defaults rt_m 1
mkdir -p cx/flows
cp "$ROOT/scripts/connectors/generic/flows/"*.lua cx/flows/
sed -e 's/auth = "bearer",/auth = "oauth2",\n  oauth2 = { token_url = "TOKEN_URL", scope = "hooks.write" },/' \
    -e "s#TOKEN_URL#$U/oauth/token#" "$ROOT/scripts/connectors/generic/connector.lua" >cx/connector.lua
printf '{"base_url": "%s/oauth", "auth": {"type": "oauth2", "client_id": "cid", "client_secret": "csecret", "refresh_token": "rt_m"}}\n' "$U" >conn.json
u check ./cx
check "manifest defaults: the connector checks" "$?" 0
u run ./cx hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection conn.json
check "manifest defaults: the token_url of the manifest is used" "$? $(oauth token_requests)" "0 1"
check "manifest defaults: its scope is sent" \
    "$(ctl GET /_control/requests | python3 -c 'import json,sys; print([r["body"] for r in json.load(sys.stdin) if r["path"] == "/oauth/token"][0].count("scope=hooks.write"))')" 1
u run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection conn.json
check "manifest defaults: another connector's runs do not get them" "$?" 2
has "manifest defaults: without them token_url is missing" "$W/out" "type oauth2 needs 'token_url'"

# ---- connection check --------------------------------------------------
setup check rt_check 0
u connection check conn.json
check "connection check: exit 0" "$?" 0
has "connection check: says whom the token is for" "$W/out" "ok (the token is for octo@example.test)"
u connection check conn.json
check "connection check twice: the rotated token was stored" "$? $(oauth reuse_detected)" "0 0"
env -u UNHOOK_SECRET_KEY "$UNHOOK" --db "$DB" connection check conn.json >"$W/out" 2>&1
check "missing key: usage error (exit 2)" "$?" 2
has "missing key: says to set UNHOOK_SECRET_KEY" "$W/out" "set UNHOOK_SECRET_KEY"
before=$(sqlite3 "$DB" "select hex(sealed) || version from oauth_tokens" 2>/dev/null || python3 -c 'import sqlite3,sys; print("".join(r[0].hex().upper() + str(r[1]) for r in sqlite3.connect(sys.argv[1]).execute("select sealed, version from oauth_tokens")))' "$DB")
UNHOOK_SECRET_KEY=$(openssl rand -hex 32) "$UNHOOK" --db "$DB" connection check conn.json >"$W/out" 2>&1
check "wrong key: store error (exit 4)" "$?" 4
has "wrong key: a clear message" "$W/out" "cannot decrypt the stored OAuth2 tokens"
after=$(python3 -c 'import sqlite3,sys; print("".join(r[0].hex().upper() + str(r[1]) for r in sqlite3.connect(sys.argv[1]).execute("select sealed, version from oauth_tokens")))' "$DB")
before=$(python3 -c 'import sys; print(sys.argv[1])' "$before")
check "wrong key: nothing overwritten" "$after" "$before"
check "wrong key: no token request made" "$(oauth token_requests)" 2
printf '%s' "$KEY" >keyfile
env -u UNHOOK_SECRET_KEY UNHOOK_SECRET_KEY_FILE="$W/keyfile" "$UNHOOK" --db "$DB" connection check conn.json >"$W/out" 2>&1
check "key file: works" "$?" 0
# precedence: UNHOOK_SECRET_KEY wins, the file is then not read ...
UNHOOK_SECRET_KEY_FILE="$W/no-such-keyfile" "$UNHOOK" --db "$DB" connection check conn.json >"$W/out" 2>&1
check "key precedence: UNHOOK_SECRET_KEY wins over the key file" "$?" 0
# ... and a malformed one is an error, not a fall back to the file
UNHOOK_SECRET_KEY=not-a-key UNHOOK_SECRET_KEY_FILE="$W/keyfile" "$UNHOOK" --db "$DB" connection check conn.json >"$W/out" 2>&1
check "key precedence: a malformed UNHOOK_SECRET_KEY is refused (exit 2)" "$?" 2
has "key precedence: the message names UNHOOK_SECRET_KEY" "$W/out" "UNHOOK_SECRET_KEY: expected 64 hex digits"
# each check refreshes, and so rotates, the token
n=$(oauth token_requests)
u connection check conn.json
check "connection check: each run makes a token request" "$(oauth token_requests)" "$((n + 1))"

# ---- bad answers of the token endpoint ---------------------------------
# bad_token NAME STATUS BODY CTYPE WANT-EXIT WANT-TEXT
bad_token() {
    setup "bad_$1" rt_bad 1
    ctl POST /_control/script "{\"method\": \"POST\", \"path\": \"/oauth/token\", \"responses\": [{\"status\": $2, \"body\": $3, \"headers\": {\"Content-Type\": \"$4\"}}]}" >/dev/null
    u run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection conn.json
    check "token endpoint $1: exit $5" "$?" "$5"
    has "token endpoint $1: message" "$W/out" "$6"
}
bad_token html 200 '"<html><body>Sign in</body></html>"' text/html 1 "not a JSON object"
bad_token no_access_token 200 '{"token_type": "Bearer", "expires_in": 60}' application/json 1 "without an access_token"
bad_token negative_expiry 200 '{"access_token": "at_neg", "expires_in": -30}' application/json 1 "negative expires_in"
# the fixture never issued at_huge: its 401 makes the engine refresh once
# more (the real endpoint this time) and send the DELETE again
bad_token huge_expiry 200 '{"access_token": "at_huge", "expires_in": 1e300}' application/json 0 "deregistered"
bad_token non_numeric_expiry 200 '{"access_token": "at_nn", "expires_in": "soon"}' application/json 1 "an expires_in that is not a number of seconds"
bad_token boolean_expiry 200 '{"access_token": "at_nb", "expires_in": true}' application/json 1 "an expires_in that is not a number of seconds"
bad_token hex_expiry 200 '{"access_token": "at_nx", "expires_in": "0x10"}' application/json 1 "an expires_in that is not a number of seconds"
# a number in a string, as some providers send it, is a number (at_str is
# not the fixture's: its 401 makes a second, real refresh, as above)
bad_token string_expiry 200 '{"access_token": "at_str", "expires_in": "3600"}' application/json 0 "deregistered"
bad_token unavailable 503 '"down"' text/plain 1 "retryable, auth_unavailable"
bad_token busy 429 '{"error": "slow_down"}' application/json 1 "retryable, auth_unavailable"
# a token answer of 20 MiB: cut at 256 KiB, with our message, not libcurl's
setup big_answer rt_big 1
python3 -c 'import json; print(json.dumps({"method": "POST", "path": "/oauth/token", "responses": [{"status": 200, "body": "{\"access_token\": \"" + "a" * (20 << 20) + "\"}", "headers": {"Content-Type": "application/json"}}]}))' >big.json
curl -s -X POST -H 'Content-Type: application/json' --data-binary @big.json "$U/_control/script" >/dev/null
rm -f big.json
u run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection conn.json
check "token answer of 20 MiB: the run fails (exit 1)" "$?" 1
has "token answer of 20 MiB: our message" "$W/out" "answered more than 256 KiB, which is no token answer"
if grep -q -i "failure writing\|callback" "$W/out"; then bad "token answer of 20 MiB: libcurl's wording shown"; sed 's/^/    | /' "$W/out"
else ok "token answer of 20 MiB: no libcurl wording"; fi
check "token answer of 20 MiB: no DELETE sent" "$(reqs DELETE /oauth/api/)" 0

# the Basic form of the client credentials (client_auth basic: what the
# token request's Authorization header carries) is a secret too
setup basic_form rt_bf 1
B64=$(printf 'cid:csecret' | base64)
ctl POST /_control/script "{\"method\": \"DELETE\", \"prefix\": \"/oauth/api/\", \"responses\": [{\"status\": 400, \"body\": {\"echo\": \"Basic $B64\"}}]}" >/dev/null
u -v run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection conn.json
check "basic form: the run fails on the 400 (exit 1)" "$?" 1
check "basic form: the token request used HTTP Basic" \
    "$(ctl GET /_control/requests | python3 -c 'import json,sys; print(sum(1 for r in json.load(sys.stdin) if r["path"] == "/oauth/token" and r["headers"].get("Authorization", "").startswith("Basic ") and "client_secret" not in r["body"]))')" 1
if grep -q -- "$B64" "$W/out"; then bad "basic form: echoed base64 client_id:client_secret shown"; sed 's/^/    | /' "$W/out"
else ok "basic form: echoed base64 client_id:client_secret masked"; fi
has "basic form: the echo is there, masked" "$W/out" "Basic \*\*\*"

# a huge expires_in is taken as at most a year
setup huge_ok rt_h 1 '"ttl": 1e12'
u run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection conn.json
check "huge expires_in from the provider: works" "$?" 0

# a 5xx from the token endpoint leaves a deregistration pending
setup pending rt_p 1
instances 1 registered "$W/conn.json" >i.jsonl
u import i.jsonl
ctl POST /_control/script '{"method": "POST", "path": "/oauth/token", "responses": [{"status": 500}]}' >/dev/null
u disable i1
check "token endpoint 500: pending for retry (exit 75)" "$?" 75
check "token endpoint 500: still deregistering" "$(show_field i1 state)" deregistering

# ---- a hostile or slow token endpoint, a careless operator -------------
. "$ROOT/tests/oauth/hostile.sh"

# ---- secrets: the sweep ------------------------------------------------
fresh secrets
ctl POST /_control/oauth '{"refresh_tokens": ["rt_sweep_seed"], "ttl": 1}' >/dev/null
seed 6
conn conn.json '"refresh_token": "rt_sweep_seed", "access_token": "at_sweep_stale"'
instances 6 registered "$W/conn.json" >i.jsonl
# a reader keeps the -wal and -shm files as the engine leaves them
u import i.jsonl
python3 -c '
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1])
c.execute("select count(*) from instances").fetchall()
open(sys.argv[2], "w").close()
time.sleep(600)' "$DB" "$W/holder.ready" &
HOLDER=$!
i=0
while [ ! -e "$W/holder.ready" ] && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.05; done
u -v disable i1
u -v disable i2
sleep 1.2
u -v disable i3
ctl POST /_control/script '{"method": "DELETE", "prefix": "/oauth/api/", "responses": [{"status": 400, "body": {"echo": "rt_sweep_seed csecret"}}]}' >/dev/null
u -v disable i4
u -v connection check conn.json
u -v show i4
u --json show i4
u history i4
u --json history i4
u export
u list
for f in "$DB" "$DB-wal" "$DB-shm"; do
    [ -e "$f" ] && cat "$f" >>"$W/dbfiles"
done
[ -s "$DB-wal" ] && ok "secrets: the -wal file was swept" || bad "secrets: no -wal file to sweep"
leaks=0
for tok in $(ctl GET /_control/oauth/tokens | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)))') csecret "$(printf 'cid:csecret' | base64)" "$KEY"; do
    if grep -a -q -- "$tok" "$W/all" "$W/dbfiles"; then
        leaks=$((leaks + 1))
        echo "    leaked: $tok in $(grep -a -l -- "$tok" "$W/all" "$W/dbfiles" | tr '\n' ' ')"
    fi
done
check "secrets: no token, client secret or key in outputs, traces, history or db/-wal/-shm" "$leaks" 0
n=$(ctl GET /_control/oauth/tokens | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
if [ "$n" -ge 4 ]; then ok "secrets: the sweep looked for $n tokens"; else bad "secrets: only $n tokens"; fi
kill "$HOLDER" 2>/dev/null
wait "$HOLDER" 2>/dev/null
HOLDER=""

cd "$ROOT" || exit 1
echo "oauth: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
