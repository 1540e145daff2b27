# A warm flow instance that hoards memory in a module-level table is not
# kept for ever: once its state holds 16 MiB more than after its first
# run, the state is closed and the next run starts cold (its count
# starts again at 1).  Nothing fails: each run stays within its budget.
conn "$TMP/a.json"
mkdir -p "$TMP/h/flows"
cat >"$TMP/h/connector.lua" <<'LUA'
return { name = "hoard", events = { hook = {
  registration = { flow = "flows/r.lua" }, deregistration = { flow = "flows/d.lua" } } } }
LUA
printf 'return { run = function() return { id = 1 } end }\n' >"$TMP/h/flows/r.lua"
cat >"$TMP/h/flows/d.lua" <<'LUA'
local hoard, runs = {}, 0
return { run = function(ctx)
  runs = runs + 1
  hoard[runs] = string.rep("x", 1 << 20) .. runs    -- 1 MiB kept a run
  ctx.log.info("run " .. runs)
end }
LUA
i=1
while [ $i -le 40 ]; do
    printf '{"id":"h%02d","connector":"%s","event":"hook","connection":"%s","registration":{"id":%d},"state":"registered","desired":"on"}\n' \
        $i "$TMP/h" "$TMP/a.json" $i
    i=$((i + 1))
done >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl" >/dev/null
"$UNHOOK" --db "$TMP/x.db" disable --all --concurrency 1 2>"$TMP/err" >/dev/null
cold=$(grep -c 'run 1$' "$TMP/err")
streak=$(grep -o 'run [0-9]*$' "$TMP/err" | awk '{ if ($2 > m) m = $2 } END { print m }')
# the exact streak depends on when the collector runs: 1 MiB kept a run
# reaches 16 MiB in at most 17 runs
[ "$cold" -ge 2 ] && echo "closed and started cold again: yes" || echo "cold starts: $cold"
[ "$streak" -ge 2 ] && [ "$streak" -le 17 ] && echo "warm for 2..17 runs: yes" || echo "warm streak: $streak"
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print $2 }' | sort | uniq -c
