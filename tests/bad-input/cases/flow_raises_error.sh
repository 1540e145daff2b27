# a flow that raises a Lua error: failed (script) with the flow's file and
# line, exit 1; through disable the instance is dead-lettered with its
# registration data kept
conn "$TMP/conn.json"
uhs run misbehave raises --registration '{"id":"hk_1"}' --connection "$TMP/conn.json"
on card-1 misbehave raises '{}' '{"id":"hk_1"}' >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl"
uhs --db "$TMP/x.db" disable card-1
uhs --db "$TMP/x.db" show card-1
received
