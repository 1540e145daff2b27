# an auth type the engine does not know: clear error listing the types
printf '{"base_url": "%s", "auth": {"type": "oauth3", "token": "test-token"}}\n' \
    "$URL" >"$TMP/conn.json"
uhs run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json"
requests
