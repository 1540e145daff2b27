# What a warm state may keep counts from before its first run: a first
# run that leaves 40 MiB at module level (within its 64 MiB budget) gets
# its state closed, as a later run growing it by as much would.  Each run
# then starts cold (its count is 1); none fails.  The growth used to be
# measured from after the first run, so that every idle state could keep
# up to a whole run's memory budget for ever.
conn "$TMP/a.json"
mkdir -p "$TMP/h/flows"
cat >"$TMP/h/connector.lua" <<'LUA'
return { name = "hoard", events = { hook = {
  registration = { flow = "flows/r.lua" }, deregistration = { flow = "flows/d.lua" } } } }
LUA
printf 'return { run = function() return { id = 1 } end }\n' >"$TMP/h/flows/r.lua"
cat >"$TMP/h/flows/d.lua" <<'LUA'
local hoard, runs = nil, 0
return { run = function(ctx)
  runs = runs + 1
  if not hoard then
    hoard = {}
    for i = 1, 40 do hoard[i] = string.rep("x", 1 << 20) .. i end   -- 40 MiB kept
  end
  ctx.log.info("run " .. runs)
end }
LUA
for i in 1 2 3; do
    printf '{"id":"h%d","connector":"%s","event":"hook","connection":"%s","registration":{"id":%d},"state":"registered","desired":"on"}\n' \
        $i "$TMP/h" "$TMP/a.json" $i
done >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl" >/dev/null
"$UNHOOK" --db "$TMP/x.db" disable --all --concurrency 1 2>&1 | grep -o 'h[0-9]: run [0-9]*$'
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print $2 }' | sort | uniq -c
