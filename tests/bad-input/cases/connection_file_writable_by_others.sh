# a connection file that holds a literal secret and that group or others
# may write is refused before anything is sent (exit 2); readable by
# others (0644) runs with a warning; a file with only ${ENV} references
# may have any mode
curl -s -X POST "$URL/_control/seed" -d '{"collection":"/api/sbx","count":2}' >/dev/null
conn "$TMP/conn.json"
chmod 0666 "$TMP/conn.json"
uhs run tests/sandbox/fixtures/connectors/sandbox delete --registration '{"id":"hk_1"}' --connection "$TMP/conn.json"
chmod 0620 "$TMP/conn.json"
uhs run tests/sandbox/fixtures/connectors/sandbox delete --registration '{"id":"hk_1"}' --connection "$TMP/conn.json"
received
chmod 0644 "$TMP/conn.json"
uhs run tests/sandbox/fixtures/connectors/sandbox delete --registration '{"id":"hk_1"}' --connection "$TMP/conn.json"
printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "${BAD_INPUT_TOKEN}"}}\n' "$URL" >"$TMP/env.json"
chmod 0666 "$TMP/env.json"
BAD_INPUT_TOKEN=test-token uhs run tests/sandbox/fixtures/connectors/sandbox delete --registration '{"id":"hk_2"}' --connection "$TMP/env.json"
received
