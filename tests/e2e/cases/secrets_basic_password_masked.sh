# basic auth: neither the password nor the encoded credentials appear in
# the -v trace or in an error that echoes them
printf '{"base_url": "%s", "auth": {"type": "basic", "username": "user", "password": "pass"}}\n' \
    "$URL" >"$TMP/conn.json"
seed octo hello 2
"$UNHOOK" -v run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json" >"$TMP/out" 2>&1
echo "[exit $?]"
script DELETE /repos/octo/hello/hooks/12345679 \
    '[{"status":400,"body":"bad credentials user:pass (dXNlcjpwYXNz)"}]'
"$UNHOOK" -v run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345679}' --connection "$TMP/conn.json" >>"$TMP/out" 2>&1
echo "[exit $?]"
cat "$TMP/out"
leaks "$TMP/out" pass dXNlcjpwYXNz
printf 'requests that carried user:pass: %s\n' "$(requests | grep -cF "Basic dXNlcjpwYXNz")"
