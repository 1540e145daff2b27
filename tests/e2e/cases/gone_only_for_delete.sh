# 404 or 410 means "already gone" only for a DELETE, or a request the flow
# marks gone = true; a 404 of a lookup (GET) is an HTTP error.
conn "$TMP/conn.json"
lk() { uh run "$FIXTURES/lookup" "$@" --option collection=/api/x/hooks \
    --registration '{"id":"hk_9"}' --connection "$TMP/conn.json"; }
echo "-- a GET answered 404: failed"
lk hook
echo "-- the same GET marked gone = true: already gone"
lk marked
echo "-- the GET found it, the DELETE answered 404: already gone"
script GET /api/x/hooks/hk_9 '[{"status":200,"body":{"id":"hk_9"}}]'
lk hook
echo "-- a 410 of a POST: failed"
cat >"$TMP/post.lua" <<'LUA'
return { run = function(ctx) ctx.http.post("/api/x/hooks/hk_1/disable", {}) end }
LUA
script POST /api/x/hooks/hk_1/disable '[{"status":410,"body":"gone"}]'
mkdir -p "$TMP/c/flows"
cp "$TMP/post.lua" "$TMP/c/flows/deregister.lua"
printf 'return { name = "c", auth = "bearer", events = { hook = { deregistration = { flow = "flows/deregister.lua" } } } }\n' >"$TMP/c/connector.lua"
uh run "$TMP/c" hook --connection "$TMP/conn.json"
echo "-- gone must be a boolean"
script GET /api/x/hooks/hk_9 '[]'
printf 'return { run = function(ctx) ctx.http.get("/x", { gone = 1 }) end }\n' >"$TMP/c/flows/deregister.lua"
uh run "$TMP/c" hook --connection "$TMP/conn.json"
