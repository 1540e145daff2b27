# Sourced by tests/oauth/run.sh (its helpers and counters): a hostile or
# slow token endpoint, and a careless operator.
#   a token request still in flight when its run's budget ends: its answer
#   (the rotated refresh token) is awaited and stored, so the next refresh
#   does not present a spent token (reuse revokes the whole family);
#   invalid_client (a wrong client secret) is not kept in the store as a
#   dead refresh token: once the secret is fixed, the same refresh token works;
#   an error_description with line breaks, or of 20 KB: one line, cut;
#   a key file readable by others: refused;
#   token_url over plain http to a host that is not loopback: a warning.

# ---- a token request its run stopped waiting for -----------------------
setup abandoned rt_slow 1
ctl POST /_control/script '{"method": "POST", "path": "/oauth/token", "responses": [{"delay_ms": 1500}]}' >/dev/null
u --timeout-ms 300 run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection conn.json
check "token request past the run's budget: the run times out (exit 1)" "$?" 1
u run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection conn.json
check "token request past the run's budget: its rotated refresh token was stored (no second request, no reuse)" \
    "$? $(oauth token_requests) $(oauth reuse_detected)" "0 1 0"

# ---- a wrong client secret, then fixed ---------------------------------
setup wrong_secret rt_ws 1
sed 's/"csecret"/"not-the-secret"/' conn.json >conn.tmp && mv conn.tmp conn.json
u run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection conn.json
check "wrong client secret: auth_revoked (exit 1)" "$?" 1
has "wrong client secret: invalid_client named" "$W/out" "invalid_client"
conn conn.json '"refresh_token": "rt_ws"'
u run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection conn.json
check "wrong client secret fixed in the file: the same refresh token works" "$? $(oauth token_requests)" "0 2"

# ---- the provider's error text: no forged lines, bounded ---------------
setup error_text rt_et 1
python3 -c 'import json; print(json.dumps({"method": "POST", "path": "/oauth/token", "responses": [{"status": 400, "body": {"error": "invalid_grant", "error_description": "gone\r\n[fake] forged line\r\n" + "x" * 20000}}]}))' >et.json
curl -s -X POST -H 'Content-Type: application/json' --data-binary @et.json "$U/_control/script" >/dev/null
u run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection conn.json
check "error_description: auth_revoked (exit 1)" "$?" 1
check "error_description: its line breaks forge no line" "$(grep -c '^\[fake\]' "$W/out")" 0
n=$(wc -c <"$W/out")
if [ "$n" -lt 1200 ]; then ok "error_description of 20 KB: cut ($n bytes)"; else bad "error_description of 20 KB: $n bytes shown"; fi

# ---- a key file others may read ----------------------------------------
setup key_mode rt_km 0
printf '%s\n' "$KEY" >key.hex
chmod 644 key.hex
env -u UNHOOK_SECRET_KEY UNHOOK_SECRET_KEY_FILE="$W/key.hex" "$UNHOOK" --db "$DB" connection check conn.json >"$W/out" 2>&1
check "key file readable by others: refused (exit 2)" "$?" 2
has "key file readable by others: says to chmod it" "$W/out" "UNHOOK_SECRET_KEY_FILE: .*chmod 600 it"
check "key file readable by others: no token request" "$(oauth token_requests)" 0
chmod 600 key.hex
env -u UNHOOK_SECRET_KEY UNHOOK_SECRET_KEY_FILE="$W/key.hex" "$UNHOOK" --db "$DB" connection check conn.json >"$W/out" 2>&1
check "key file of mode 600: works" "$?" 0

# ---- token_url over plain http to another machine: a warning -----------
fresh cleartext
printf '{"base_url": "%s/oauth", "timeout_ms": 300, "auth": {"type": "oauth2", "grant": "client_credentials", "token_url": "http://192.0.2.1:9/oauth/token", "client_id": "cid", "client_secret": "csecret"}}\n' "$U" >cc.json
u run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection cc.json
has "token_url over plain http to another host: a warning" "$W/out" "token_url is plain http to 192.0.2.1"
printf '{"base_url": "%s/oauth", "auth": {"type": "oauth2", "grant": "client_credentials", "token_url": "%s/oauth/token", "client_id": "cid", "client_secret": "csecret"}}\n' "$U" "$U" >cc.json
u run generic hook --registration '{"id": "hk_1"}' --option collection=/api/hooks --connection cc.json
check "token_url over plain http to loopback: no warning" "$(grep -c 'plain http' "$W/out")" 0
