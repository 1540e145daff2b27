# The README's "first deregistration flow" runs as written.
lua5.4 tests/e2e/docblocks.lua README.md "$TMP"
sed -i "s#http://127.0.0.1:8080#$URL#" "$TMP/connection.json"
curl -s -X POST "$URL/_control/seed" -d '{"collection":"/api/acme/hooks","count":1}'
echo
mkdir -p "$TMP/bin" && ln -s "$UNHOOK" "$TMP/bin/unhook"
(cd "$TMP" && PATH="$TMP/bin:$PATH" ACME_TOKEN=test-token sh -e run.sh; echo "[exit $?]")
requests
