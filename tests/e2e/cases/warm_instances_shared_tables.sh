# Tables every run in a Lua state shares are no channel between the
# connections whose runs it serves: a flow for connection A writes its
# tag into the metatables of error objects, cards and JSON arrays and
# into unhook.json.empty_array (reached by getmetatable, by the
# metatables' __index, or directly), and a run for connection B must not
# find it.  What a run leaves there is seen again only for its own
# connection (the instance is warm).  One state: --concurrency 1.
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
return {
  inputs = { tag = { type = "string", required = true }, list = { type = "array", default = {} } },
  run = function(ctx, input)
    local e = unhook.error("x")
    local c = unhook.card { name = "x.y", run = function() end }
    local places = {
      { "error_mt", getmetatable(e) }, { "error_index", e.__index },
      { "card_mt", getmetatable(c) }, { "card_index", c.__index },
      { "empty_array", unhook.json.empty_array },
      { "array_mt", getmetatable(unhook.json.empty_array) },
      { "input_array_mt", getmetatable(input.list) },
    }
    local seen = {}
    for i, p in ipairs(places) do
      seen[i] = p[1] .. "=" .. (type(p[2]) == "table" and tostring(rawget(p[2], "left_by")) or type(p[2]))
    end
    ctx.log.info(input.tag .. " finds " .. table.concat(seen, " "))
    -- what a flow gets from getmetatable still marks a JSON array
    ctx.log.info(input.tag .. " encodes " .. unhook.json.encode(
      { setmetatable({}, getmetatable(input.list)), unhook.json.empty_array }))
    for _, p in ipairs(places) do
      if type(p[2]) == "table" then rawset(p[2], "left_by", input.tag) end
    end
  end,
}
LUA
for i in 1 2 3 4; do
    c=a; [ $((i % 2)) -eq 0 ] && c=b
    tag=$(echo $c | tr a-z A-Z)
    printf '{"id":"i%d","connector":"%s","event":"hook","options":{"tag":"%s"},"connection":"%s","registration":{"id":%d},"state":"registered","desired":"on"}\n' \
        $i "$TMP/w" "$tag" "$TMP/$c.json" $i
done >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl" >/dev/null
"$UNHOOK" --db "$TMP/x.db" disable --all --concurrency 1 2>&1 | grep -o '[AB] \(finds\|encodes\) .*'
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print $2 }' | sort | uniq -c
