# unhook.cards is the running ctx's cards, in every run of a warm
# instance: it was kept from the first run, so that a helper flow called
# through it in a later run saw that first run's ctx (its instance and
# registration data).
conn "$TMP/a.json" token-a
mkdir -p "$TMP/w/flows"
cat >"$TMP/w/connector.lua" <<'LUA'
return { name = "warm", events = { hook = {
  registration = { flow = "flows/r.lua" }, deregistration = { flow = "flows/d.lua" } } } }
LUA
printf 'return { run = function() return { id = 1 } end }\n' >"$TMP/w/flows/r.lua"
cat >"$TMP/w/flows/d.lua" <<'LUA'
return { run = function(ctx)
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
"$UNHOOK" --db "$TMP/x.db" disable --all --concurrency 1 2>&1 | grep -o 'run of .*'
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print $2 }' | sort | uniq -c
