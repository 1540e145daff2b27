# a connection file that is not valid JSON: file:line: message, no request
cat >"$TMP/conn.json" <<'JSON'
{
  "base_url": "http://127.0.0.1:1",
  "auth": {"type": "bearer", "token": "test-token",}
}
JSON
uhs run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json"
requests
