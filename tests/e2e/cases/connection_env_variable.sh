# "${NAME}" in a connection file is read from the environment
printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "${UNHOOK_TEST_TOKEN}"}}\n' \
    "$URL" >"$TMP/conn.json"
seed octo hello 1
UNHOOK_TEST_TOKEN=test-token uhs run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json"
requests
