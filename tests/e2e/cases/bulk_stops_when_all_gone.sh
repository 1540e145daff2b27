# disable --all stops a connector whose first 20 deregistrations all
# answered "already gone" (a wrong base_url looks like that) and leaves
# the rest pending; --expect-gone goes on.
conn "$TMP/conn.json"
registered w 25 "$TMP/conn.json" 900 >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl"
uhs --db "$TMP/x.db" disable --all --concurrency 1
echo "DELETEs sent: $(requests | grep -c '^DELETE')"
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print $2 }' | sort | uniq -c
echo "-- resume --expect-gone"
uhs --db "$TMP/x.db" resume --expect-gone
echo "DELETEs sent: $(requests | grep -c '^DELETE')"
echo "-- --expect-gone needs --all"
uh --db "$TMP/x.db" disable w01 --expect-gone
