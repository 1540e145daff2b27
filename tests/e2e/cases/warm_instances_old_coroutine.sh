# A coroutine a warm instance keeps outlives the run that created it.
# When a later run resumes it, it belongs to that run: it may not make
# requests (only the flow itself may), its loop is stopped by that run's
# budget, and nothing reads the finished run's freed state (valgrind
# counts invalid accesses; a coroutine used to keep a pointer to the run
# that created it).
conn "$TMP/a.json" token-a
mkdir -p "$TMP/w/flows"
cat >"$TMP/w/connector.lua" <<'LUA'
return { name = "warm", limits = { timeout_ms = 3000 }, events = { hook = {
  registration = { flow = "flows/r.lua" }, deregistration = { flow = "flows/d.lua" } } } }
LUA
printf 'return { run = function() return { id = 1 } end }\n' >"$TMP/w/flows/r.lua"
cat >"$TMP/w/flows/d.lua" <<'LUA'
local parked, runs = nil, 0         -- module-level: kept while warm
return { run = function(ctx)
  runs = runs + 1
  if not parked then
    parked = coroutine.create(function()
      local http = coroutine.yield("parked")
      local ok, err = pcall(http.get, "/repos/o/r/hooks")
      coroutine.yield(ok and "request sent" or tostring(err):match("requests must be made from the flow itself"))
      while true do end
    end)
    local _, said = coroutine.resume(parked)
    ctx.log.info("run " .. runs .. ": " .. said)
    return
  end
  local ok, said = coroutine.resume(parked, ctx.http)
  ctx.log.info("run " .. runs .. ": " .. tostring(ok) .. " " .. tostring(said))
end }
LUA
for i in 1 2 3; do
    printf '{"id":"i%d","connector":"%s","event":"hook","connection":"%s","registration":{"id":%d},"state":"registered","desired":"on"}\n' \
        $i "$TMP/w" "$TMP/a.json" $i
done >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl" >/dev/null
valgrind -q --error-limit=no --log-file="$TMP/vg" \
    "$UNHOOK" --db "$TMP/x.db" disable --all --concurrency 1 2>&1 | grep -o 'run [0-9]*: .*'
echo "invalid accesses: $(grep -c 'Invalid \(read\|write\)' "$TMP/vg")"
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { printf "%s %s", $1, $2; for (i = 8; i <= NF; i++) printf " %s", $i; print "" }'
requests | wc -l
