# run (a deregistration) does not demand a required option only the
# registration flow uses; one its own flow maps is still required, and
# enable still demands them all.
conn "$TMP/conn.json"
mkdir -p "$TMP/c/flows"
cat >"$TMP/c/connector.lua" <<'LUA'
return { name = "c", auth = "bearer", events = { hook = {
  options = { collection = { type = "string", required = true },
              callback = { type = "string", required = true } },
  registration = { flow = "flows/register.lua",
                   inputs = { collection = option "collection", callback = option "callback" } },
  deregistration = { flow = "flows/deregister.lua", inputs = { collection = option "collection" } },
} } }
LUA
cat >"$TMP/c/flows/register.lua" <<'LUA'
return { inputs = { collection = { type = "string", required = true },
                    callback = { type = "string", required = true } },
  run = function(ctx, input) return ctx.http.post(input.collection, { json = { url = input.callback } }).json end }
LUA
cat >"$TMP/c/flows/deregister.lua" <<'LUA'
return { inputs = { collection = { type = "string", required = true } },
  run = function(ctx, input) ctx.http.delete(input.collection .. "/" .. ctx.registration.id) end }
LUA
uh run "$TMP/c" hook --option collection=/api/x/hooks --registration '{"id":"hk_1"}' --connection "$TMP/conn.json"
uh run "$TMP/c" hook --registration '{"id":"hk_1"}' --connection "$TMP/conn.json"
uh --db "$TMP/x.db" enable a --connector "$TMP/c" --event hook --option collection=/api/x/hooks --connection "$TMP/conn.json"
