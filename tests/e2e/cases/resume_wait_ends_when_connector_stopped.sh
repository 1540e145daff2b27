# resume --wait ends when the guard stops a connector (its first 20
# outcomes all "already gone", as after a crash that left answered
# deletions uncommitted): it waited for the stopped connector's instances
# for ever.  Exit 75, the rest pending; --expect-gone finishes them.
conn "$TMP/conn.json"
registered r 25 "$TMP/conn.json" 900 >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl"
uh --db "$TMP/x.db" disable --all --no-wait
timeout 60 "$UNHOOK" --db "$TMP/x.db" resume --wait --concurrency 1 >"$TMP/out" 2>"$TMP/err"
echo "[exit $?]"
grep -c 'every deregistration so far answered 404' "$TMP/err"
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print $2 }' | sort | uniq -c
echo "-- resume --wait --expect-gone"
timeout 60 "$UNHOOK" --db "$TMP/x.db" resume --wait --expect-gone >/dev/null 2>&1
echo "[exit $?]"
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print $2 }' | sort | uniq -c
