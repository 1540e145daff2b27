# Warm flow instances: module-level values persist between runs of a flow
# for one connection (the count goes up), and a run for another connection
# never sees them (a value set for connection A fails the run if a run for
# B finds it).  One state serves every run: --concurrency 1.
conn "$TMP/a.json" token-a
conn "$TMP/b.json" token-b
mkdir -p "$TMP/w/flows"
cat >"$TMP/w/connector.lua" <<'LUA'
return { name = "warm", events = { hook = {
  options = { tag = { type = "string", required = true } },
  registration = { flow = "flows/r.lua" },
  deregistration = { flow = "flows/d.lua", inputs = { tag = option "tag" } } } } }
LUA
printf 'return { run = function() return { id = 1 } end }\n' >"$TMP/w/flows/r.lua"
cat >"$TMP/w/flows/d.lua" <<'LUA'
local owner, runs = nil, 0          -- module-level: kept while warm
return {
  inputs = { tag = { type = "string", required = true } },
  run = function(ctx, input)
    runs = runs + 1
    owner = owner or input.tag
    seen = seen or input.tag        -- a global of the flow's environment
    if owner ~= input.tag or seen ~= input.tag then
      unhook.fail("a run for " .. input.tag .. " saw the module of " .. owner .. "/" .. seen)
    end
    ctx.log.info(input.tag .. " run " .. runs)
  end,
}
LUA
for i in 1 2 3 4 5 6; do
    c=a; [ $((i % 2)) -eq 0 ] && c=b
    tag=$(echo $c | tr a-z A-Z)
    printf '{"id":"i%d","connector":"%s","event":"hook","options":{"tag":"%s"},"connection":"%s","registration":{"id":%d},"state":"registered","desired":"on"}\n' \
        $i "$TMP/w" "$tag" "$TMP/$c.json" $i
done >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl" >/dev/null
"$UNHOOK" --db "$TMP/x.db" disable --all --concurrency 1 2>&1 | grep -o '[AB] run [0-9]*' | sort
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print $2 }' | sort | uniq -c
