# Memory the system refuses (here: ulimit -v) while the flow is within
# its own cap is the machine's shortage, not the flow's fault: the
# attempt is retried (code resources), the registration data kept.  Past
# its own cap it ends 'memory', whatever the system gives; a refusal the
# system takes back (Lua collects and asks again) leaves a later error
# the flow's own; a connector file longer than the cap is refused before
# it is read whole, as an invalid connector.
conn "$TMP/a.json"
hook_connector "$TMP/s" big
cat >"$TMP/s/flows/d.lua" <<'LUA'
return { run = function(ctx)
  if ctx.registration.mode == "big" then
    local s = ("x"):rep(1500 * 1024 * 1024)
    ctx.log.info("got " .. #s)
  else
    local a = ("y"):rep(200 * 1024 * 1024)
    local g = a .. a        -- 400 MiB, garbage from the next line on
    g = nil
    local s = a .. a .. a   -- refused, then granted once Lua has collected g
    -- its own error, in the words of a memory error: still the flow's
    error("not enough memory, says the flow after " .. #s .. " bytes")
  end
end }
LUA
for i in b1 b2 b3 b4 b5; do
    mode=big; [ $i = b4 ] && mode=granted
    printf '{"id":"%s","connector":"%s","event":"hook","connection":"%s","registration":{"mode":"%s"},"state":"registered","desired":"on"}\n' \
        "$i" "$TMP/s" "$TMP/a.json" $mode
done >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl"
echo "-- within its cap of 4000 MiB, the system gives 1 GB"
(ulimit -v 1000000; uh --db "$TMP/x.db" --memory-mb 4000 disable b1)
"$UNHOOK" --db "$TMP/x.db" show b1 | grep '^state\|^registration\|^last error'
echo "-- past its cap of 64 MiB"
uh --db "$TMP/x.db" --memory-mb 64 disable b2
echo "-- past its cap of 1000 MiB, the system gives 1 GB"
(ulimit -v 1000000; uh --db "$TMP/x.db" --memory-mb 1000 disable b3)
echo "-- refused, then granted after a collection; then the flow's own error"
(ulimit -v 1000000; uh --db "$TMP/x.db" --memory-mb 4000 disable b4)
echo "-- a helper flow file longer than the cap"
truncate -s 20M "$TMP/s/flows/huge.lua"
uh --db "$TMP/x.db" --memory-mb 16 disable b5
