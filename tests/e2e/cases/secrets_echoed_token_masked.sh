# a provider that echoes the token in a response header and in the body:
# the token is masked in the -v trace and in the error message
conn "$TMP/conn.json"
seed octo hello 1
script DELETE /repos/octo/hello/hooks/12345678 \
    '[{"status":400,"headers":{"X-Echo-Token":"test-token"},"body":{"message":"bad request for token test-token"}}]'
"$UNHOOK" -v run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json" >"$TMP/out" 2>&1
echo "[exit $?]"
cat "$TMP/out"
leaks "$TMP/out" test-token
printf 'requests that carried the token: %s\n' "$(requests | grep -cF test-token)"
