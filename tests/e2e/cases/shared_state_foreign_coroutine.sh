# Runs of one connection in flight at once share module-level values, so
# a run can get hold of another run's own coroutine (the one the flow
# runs in, here waiting for the provider): it may not resume it or close
# it; both runs end done.
conn "$TMP/a.json"
hook_connector "$TMP/w" warm
cat >"$TMP/w/flows/d.lua" <<'LUA'
local parked                      -- module-level: shared by runs of one state
return { run = function(ctx)
  if ctx.registration.role == "park" then
    parked = coroutine.running()
    ctx.http.get("/bytes", { query = { n = 1, delay_ms = 800 } })
    ctx.log.info("resumed by the scheduler only")
    return
  end
  local tries = 0
  repeat
    ctx.http.get("/bytes", { query = { n = 1, delay_ms = 100 } })
    tries = tries + 1
  until parked or tries == 20
  local ok, err = coroutine.resume(parked)
  ctx.log.info("resume: " .. tostring(ok) .. " " .. tostring(err))
  ok, err = pcall(coroutine.close, parked)
  ctx.log.info("close: " .. tostring(ok) .. " " .. tostring(err))
end }
LUA
for r in park poke; do
    printf '{"id":"%s","connector":"%s","event":"hook","connection":"%s","registration":{"role":"%s"},"state":"registered","desired":"on"}\n' \
        "$r" "$TMP/w" "$TMP/a.json" "$r"
done >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl" >/dev/null
"$UNHOOK" --db "$TMP/x.db" disable --all --concurrency 2 2>&1 | grep -o 'warm [a-z]*: .*' | sort
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print $1, $2, $8 }' | sort
