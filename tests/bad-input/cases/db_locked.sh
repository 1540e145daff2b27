# a database another process holds locked (BEGIN EXCLUSIVE).  unhook waits
# up to its busy timeout (30 s): a lock released within it is waited out
# and the command succeeds; one held past it gives exit 4, a clear
# message, and nothing changed.  Slow: about 33 s.
conn "$TMP/conn.json"
seed octo hello 2 >/dev/null
{
    on deploy-alerts github push '{"owner":"octo","repo":"hello"}' '{"id":12345678}'
    on ci-status github push '{"owner":"octo","repo":"hello"}' '{"id":12345679}'
} >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl"
echo "# held for 2 s: waited out"
hold_lock "$TMP/x.db" 2
t0=$(date +%s)
uhs --db "$TMP/x.db" disable ci-status
echo "waited at least 1 s: $([ "$(elapsed_since "$t0")" -ge 1 ] && echo yes || echo no)"
release_lock
echo "# held for 35 s: given up after 30 s"
snapshot before
hold_lock "$TMP/x.db" 35
t0=$(date +%s)
uhs --db "$TMP/x.db" disable deploy-alerts
t=$(elapsed_since "$t0")
echo "gave up after 29 to 33 s: $([ "$t" -ge 29 ] && [ "$t" -le 33 ] && echo yes || echo "no ($t s)")"
echo "reading is not blocked (WAL):"
uhs --db "$TMP/x.db" list
release_lock
snapshot after
unchanged "$TMP/before.jsonl" "$TMP/after.jsonl"
requests
