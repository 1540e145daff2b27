# Concurrent runs of one connection share a warm instance (and a Lua
# state): unhook.cards is still the running run's ctx's cards, not those
# of the run that started last.  Each run waits for the provider before
# it calls a helper flow through unhook.cards, the first started longest.
conn "$TMP/a.json"
hook_connector "$TMP/w" warm
cat >"$TMP/w/flows/d.lua" <<'LUA'
local started = 0
return { run = function(ctx)
  started = started + 1
  ctx.http.get("/bytes", { query = { n = 1, delay_ms = 100 * (4 - started) } })
  local out = unhook.cards.flow.call("flows/helper.lua", {})
  ctx.log.info("run of " .. ctx.instance.id .. ": the helper saw " .. out.id .. " " .. out.reg
    .. (unhook.cards == ctx.cards and ", unhook.cards is ctx.cards" or ", unhook.cards is another"))
end }
LUA
cat >"$TMP/w/flows/helper.lua" <<'LUA'
return { outputs = { id = { type = "string" }, reg = { type = "string" } },
  run = function(ctx) return { id = ctx.instance.id, reg = unhook.json.encode(ctx.registration) } end }
LUA
for i in 1 2 3; do
    printf '{"id":"i%d","connector":"%s","event":"hook","connection":"%s","registration":{"n":%d},"state":"registered","desired":"on"}\n' \
        $i "$TMP/w" "$TMP/a.json" $i
done >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl" >/dev/null
"$UNHOOK" --db "$TMP/x.db" disable --all --concurrency 3 2>&1 | grep -o 'run of .*' | sort
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print $2 }' | sort | uniq -c
