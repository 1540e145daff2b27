# disable --all --concurrency 4 where one instance's flow loops forever
# (runaway connector: limits = { timeout_ms = 500 }): the runaway is
# stopped (failed, cpu_limit) and every other instance is deregistered;
# the summary counts both and the exit code is 1 (a flow failed)
conn "$TMP/conn.json"
curl -s -X POST "$URL/_control/seed" -d '{"collection":"/api/bulk","count":6}'
echo
{
    for i in 1 2 3; do on "card-$i" runaway hook '{"collection":"/api/bulk"}' "{\"id\":\"hk_$i\"}"; done
    on runaway runaway hook '{"collection":"/api/bulk"}' '{"id":"hk_99"}'
    for i in 4 5 6; do on "card-$i" runaway hook '{"collection":"/api/bulk"}' "{\"id\":\"hk_$i\"}"; done
} >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl"
uhs --db "$TMP/x.db" disable --all --concurrency 4
uhs --db "$TMP/x.db" list
uhs --db "$TMP/x.db" show runaway
echo "hooks left at the provider: $(curl -s "$URL/_control/hooks")"
