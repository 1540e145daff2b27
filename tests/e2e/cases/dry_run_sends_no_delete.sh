# disable --all --dry-run over 100 instances sends no DELETE (the
# provider's log shows none) and leaves the store as it was; GETs are
# sent; disable ID --dry-run and run --dry-run likewise.
conn "$TMP/conn.json"
seed octo hello 100 | python3 -c '
import json, sys
conn = sys.argv[1]
for n, i in enumerate(json.load(sys.stdin)["ids"]):
    print(json.dumps({"id": "hook-%03d" % n, "connector": "github", "event": "push",
        "options": {"owner": "octo", "repo": "hello"}, "connection": conn,
        "registration": {"id": i}, "state": "registered", "desired": "on"}))
' "$TMP/conn.json" >"$TMP/in.jsonl"
"$UNHOOK" --db "$TMP/x.db" import "$TMP/in.jsonl"
dump() {
    python3 -c '
import sqlite3, sys, hashlib
db = sqlite3.connect(sys.argv[1])
print(hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest())' "$TMP/x.db"
}
before=$(dump)
"$UNHOOK" --db "$TMP/x.db" disable --all --dry-run >"$TMP/out" 2>"$TMP/err"
echo "[exit $?]"
head -2 "$TMP/out"
tail -1 "$TMP/out"
echo "lines that would be deregistered: $(grep -c ': would be deregistered$' "$TMP/out")"
grep 'hook-000 dry run' "$TMP/err"
echo "DELETEs the provider received: $(requests | grep -c '^DELETE')"
[ "$before" = "$(dump)" ] && echo "store unchanged"
echo "-- one instance"
uh --db "$TMP/x.db" disable hook-007 --dry-run
[ "$before" = "$(dump)" ] && echo "store unchanged"
echo "-- run --dry-run: a GET is sent, the DELETE is not"
mkdir -p "$TMP/c/flows"
printf 'return { name = "c", auth = "bearer", events = { hook = { deregistration = { flow = "flows/d.lua" } } } }\n' >"$TMP/c/connector.lua"
printf 'return { run = function(ctx)\n  local hooks = ctx.http.get("/repos/octo/hello/hooks").json\n  ctx.http.delete("/repos/octo/hello/hooks/{id}", { path = { id = hooks[1].id } })\nend }\n' >"$TMP/c/flows/d.lua"
uh run "$TMP/c" hook --connection "$TMP/conn.json" --dry-run
requests | grep -c '^GET /repos/octo/hello/hooks'
echo "DELETEs the provider received: $(requests | grep -c '^DELETE')"
