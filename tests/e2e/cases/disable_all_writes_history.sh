# disable --all writes the same "disable" row of history as disable ID,
# also for an instance that was never registered.
conn "$TMP/conn.json"
seed octo hello 2 >/dev/null
printf '%s\n' \
  "{\"id\":\"one\",\"connector\":\"github\",\"event\":\"push\",\"options\":{\"owner\":\"octo\",\"repo\":\"hello\"},\"connection\":\"$TMP/conn.json\",\"registration\":{\"id\":12345678},\"state\":\"registered\",\"desired\":\"on\"}" \
  "{\"id\":\"two\",\"connector\":\"github\",\"event\":\"push\",\"options\":{\"owner\":\"octo\",\"repo\":\"hello\"},\"connection\":\"$TMP/conn.json\",\"registration\":{\"id\":12345679},\"state\":\"registered\",\"desired\":\"on\"}" \
  >"$TMP/in.jsonl"
"$UNHOOK" --db "$TMP/x.db" import "$TMP/in.jsonl"
"$UNHOOK" --db "$TMP/x.db" disable one --reason cleanup
"$UNHOOK" --db "$TMP/x.db" disable --all --reason cleanup
echo "-- one (disable ID)"
"$UNHOOK" --db "$TMP/x.db" history one | awk '{ print $2, $3, $NF }'
echo "-- two (disable --all)"
"$UNHOOK" --db "$TMP/x.db" history two | awk '{ print $2, $3, $NF }'
