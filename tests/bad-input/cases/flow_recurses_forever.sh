# a flow that recurses without end: a stack overflow is a script failure
# with the flow's file and line, exit 1, and the engine survives it: in a
# bulk disable the other instance is still deregistered
conn "$TMP/conn.json"
uhs run misbehave recurse --registration '{"id":"hk_1"}'
curl -s -X POST "$URL/_control/seed" -d '{"collection":"/api/bad","count":1}'
echo
{
    on deep misbehave recurse '{}' '{"id":"hk_9"}'
    on plain misbehave wrong_type '{}' '{"id":"hk_1"}'
} >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl"
uhs --db "$TMP/x.db" disable --all --concurrency 2
# (show, not list: list cuts long errors at a width that depends on the
# checkout's path)
uhs --db "$TMP/x.db" show deep | grep -E '^out: (state|last error):'
uhs --db "$TMP/x.db" list --state off
