# check rejects a static input whose type the flow does not accept (run
# would reject it); text that converts (as run converts it) passes.
mkdir -p "$TMP/c/flows"
cat >"$TMP/c/connector.lua" <<'LUA'
return { name = "c", base_url = "http://x.test", events = { hook = {
  deregistration = { flow = "flows/d.lua", inputs = { limit = "ten", kind = 3, page = "2" } } } } }
LUA
printf 'return { inputs = { limit = { type = "integer" }, kind = { type = "string" }, page = { type = "integer" } }, run = function() end }\n' >"$TMP/c/flows/d.lua"
uh check "$TMP/c"
