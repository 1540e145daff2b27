# a connection file with credentials that group or others may write is
# refused before anything is sent (exit 2) -- also when the secret comes
# from ${ENV}, since whoever writes the file chooses where it goes;
# readable by others (0644) runs, with a warning only when a secret is
# written in the file
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
chmod 0644 "$TMP/env.json"
BAD_INPUT_TOKEN=test-token uhs run tests/sandbox/fixtures/connectors/sandbox delete --registration '{"id":"hk_2"}' --connection "$TMP/env.json"
received
