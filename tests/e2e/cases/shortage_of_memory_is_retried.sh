# Memory the system refuses (here: ulimit -v) while the flow is within
# its own cap is the machine's shortage, not the flow's fault: the
# attempt is retried (code resources), the registration data kept.  The
# same flow past its own cap ends 'memory'; a connector file longer than
# the cap is refused before it is read whole, as an invalid connector.
conn "$TMP/a.json"
hook_connector "$TMP/s" big
cat >"$TMP/s/flows/d.lua" <<'LUA'
return { run = function(ctx)
  local s = ("x"):rep(1500 * 1024 * 1024)
  ctx.log.info("got " .. #s)
end }
LUA
for i in b1 b2 b3; do
    printf '{"id":"%s","connector":"%s","event":"hook","connection":"%s","registration":{"id":1},"state":"registered","desired":"on"}\n' \
        "$i" "$TMP/s" "$TMP/a.json"
done >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl"
echo "-- within its cap of 4000 MiB, the system gives 1 GB"
(ulimit -v 1000000; uh --db "$TMP/x.db" --memory-mb 4000 disable b1)
"$UNHOOK" --db "$TMP/x.db" show b1 | grep '^state\|^registration\|^last error'
echo "-- past its cap of 64 MiB"
uh --db "$TMP/x.db" --memory-mb 64 disable b2
echo "-- a helper flow file longer than the cap"
truncate -s 20M "$TMP/s/flows/huge.lua"
uh --db "$TMP/x.db" --memory-mb 16 disable b3
