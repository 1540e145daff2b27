# A block of a state runs share is charged to the run that grows it: a
# run that makes a module-level table of 8 MiB (under a 16 MiB cap) and
# a run that then adds one element to it, which doubles the array to
# 16 MiB, share a state; the second ends 'memory', the first and a third
# run end done.  (Past its cap, up to twice it, an allocation is granted
# and the run stopped at its next instruction: the element it added
# stays, and the first run counts it.)
conn "$TMP/a.json"
hook_connector "$TMP/s" share
cat >"$TMP/s/flows/d.lua" <<'LUA'
local made, ready                 -- module-level: shared by runs of one state
return { run = function(ctx)
  local role = ctx.registration.role
  if role == "make" then
    made = {}
    for i = 1, 1 << 19 do made[i] = i end
    ready = true
    ctx.http.get("/bytes", { query = { n = 1, delay_ms = 800 } })
    ctx.log.info("kept " .. #made)
    return
  end
  local tries = 0
  repeat                          -- until the table is made (2 s at most)
    ctx.http.get("/bytes", { query = { n = 1, delay_ms = 100 } })
    tries = tries + 1
  until ready or tries == 20
  if role == "grow" then
    made[#made + 1] = 0
    ctx.log.info("grew it to " .. #made)
  else
    ctx.log.info("done")
  end
end }
LUA
for r in grow make other; do
    printf '{"id":"%s","connector":"%s","event":"hook","connection":"%s","registration":{"role":"%s"},"state":"registered","desired":"on"}\n' \
        "$r" "$TMP/s" "$TMP/a.json" "$r"
done >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl" >/dev/null
"$UNHOOK" --db "$TMP/x.db" --memory-mb 16 --timeout-ms 10000 disable --all --concurrency 3 2>&1 \
    | grep -o "share [a-z]*: .*" | sort
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print $1, $2, $8 }' | sort
