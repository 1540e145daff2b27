# A wide run shares Lua states: 130 flows in flight at once (each waits
# 600 ms for the provider) are served by at most 4 states (the default
# threads, at most 4, each with its own; the end of the intent shared out
# evenly among them, so each has work), no state running more than 64 of
# them at once.  A flow's module-level values
# live once per state (its warm instance), so each state shows as one
# table address, and its count of runs in flight is theirs.
conn "$TMP/a.json"
hook_connector "$TMP/w" wide
cat >"$TMP/w/flows/d.lua" <<'LUA'
local state, live, most = tostring({}), 0, 0
return { run = function(ctx)
  live = live + 1
  if live > most then most = live end
  ctx.http.get("/bytes", { query = { n = 1, delay_ms = 600 } })
  live = live - 1
  ctx.log.info("state " .. state .. " most " .. most)
end }
LUA
i=0
while [ $i -lt 130 ]; do
    i=$((i + 1))
    printf '{"id":"i%d","connector":"%s","event":"hook","connection":"%s","registration":{"n":%d},"state":"registered","desired":"on"}\n' \
        $i "$TMP/w" "$TMP/a.json" $i
done >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl" >/dev/null
"$UNHOOK" --db "$TMP/x.db" disable --all --concurrency 130 >"$TMP/out" 2>&1
echo "[exit $?]"
states=$(grep -o 'state table: [0-9a-fx]*' "$TMP/out" | sort -u | wc -l)
most=$(grep -o ' most [0-9]*' "$TMP/out" | awk '{ if ($2 > m) m = $2 } END { print m + 0 }')
echo "flows that ran: $(grep -c 'state table' "$TMP/out")"
echo "states: $([ "$states" -ge 1 ] && [ "$states" -le 4 ] && echo "1 to 4" || echo "$states")"
echo "most flows in one state at once: $([ "$most" -ge 2 ] && [ "$most" -le 64 ] && echo "2 to 64" || echo "$most")"
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print $2 }' | sort | uniq -c
