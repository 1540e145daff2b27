# Runs of one connector in flight at once share a Lua state (up to 64),
# each under its own limits: of four concurrent runs that see each other
# (a module-level counter of their shared warm instance), the one that
# eats memory ends 'memory', the one that loops ends 'cpu_limit', and the
# other two end done, having seen all four start.
conn "$TMP/a.json"
hook_connector "$TMP/s" share
cat >"$TMP/s/flows/d.lua" <<'LUA'
local started = 0                 -- module-level: shared by runs of one state
return { run = function(ctx)
  started = started + 1
  ctx.http.get("/bytes", { query = { n = 1, delay_ms = 400 } })  -- all start first
  local role = ctx.registration.role
  if role == "hog" then
    local t = {}
    for i = 1, 1e9 do t[i] = ("x"):rep(100) .. i end
  elseif role == "spin" then
    while true do end
  end
  ctx.log.info(ctx.instance.id .. " saw " .. started .. " runs start")
end }
LUA
for r in ok1 hog spin ok2; do
    printf '{"id":"%s","connector":"%s","event":"hook","connection":"%s","registration":{"role":"%s"},"state":"registered","desired":"on"}\n' \
        "$r" "$TMP/s" "$TMP/a.json" "$r"
done >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl" >/dev/null
"$UNHOOK" --db "$TMP/x.db" --memory-mb 16 --timeout-ms 3000 disable --all --concurrency 4 2>&1 \
    | grep -o 'ok[12] saw .*' | sort
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print $1, $2, $8 }' | sort
