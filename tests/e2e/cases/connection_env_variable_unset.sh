# "${NAME}" naming an unset variable: clear error naming it, no request
printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "${UNHOOK_TEST_TOKEN}"}}\n' \
    "$URL" >"$TMP/conn.json"
seed octo hello 1
unset UNHOOK_TEST_TOKEN
uhs run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json"
requests
