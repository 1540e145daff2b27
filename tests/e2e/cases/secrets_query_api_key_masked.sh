# an API key sent as a query parameter is masked in the -v trace (URL)
printf '{"base_url": "%s", "auth": {"type": "query", "name": "api_key", "value": "k3y-IN-query"}}\n' \
    "$URL" >"$TMP/conn.json"
seed octo hello 1
"$UNHOOK" -v run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json" >"$TMP/out" 2>&1
echo "[exit $?]"
cat "$TMP/out"
leaks "$TMP/out" k3y-IN-query
printf 'requests that carried the key: %s\n' "$(requests | grep -cF api_key=k3y-IN-query)"
