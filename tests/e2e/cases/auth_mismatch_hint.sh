# a manifest that expects basic credentials, run with a bearer connection:
# a warning says so before the provider's 401.
conn "$TMP/conn.json"
mkdir -p "$TMP/c/flows"
printf 'return { name = "c", auth = "basic", events = { hook = { deregistration = { flow = "flows/d.lua" } } } }\n' >"$TMP/c/connector.lua"
printf 'return { run = function(ctx) ctx.http.delete("/api/x/hooks/hk_1") end }\n' >"$TMP/c/flows/d.lua"
uh run "$TMP/c" hook --connection "$TMP/conn.json"
echo "-- the same type: no warning"
sed -i 's/"basic"/"bearer"/' "$TMP/c/connector.lua"
uh run "$TMP/c" hook --connection "$TMP/conn.json"
