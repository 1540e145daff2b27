# a connection file that is not JSON: FILE:LINE: message, exit 2, no
# request; enable stores nothing
cat >"$TMP/conn.json" <<'JSON'
{
  "base_url": "http://127.0.0.1:1",
  "auth": {"type": "bearer", "token": "test-token",}
}
JSON
uhs run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json"
uhs --db "$TMP/x.db" enable deploy-alerts --connector github --event push \
    --option owner=octo --option repo=hello --option url=https://example.test/hook \
    --connection "$TMP/conn.json"
received
uhs --db "$TMP/x.db" list
uhs --db "$TMP/x.db" export
