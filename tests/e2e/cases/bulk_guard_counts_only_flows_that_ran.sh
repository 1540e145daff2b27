# The "already gone" guard counts only deregistrations whose flow ran:
# attempts that could not start (here: 20 instances whose connection file
# is gone, retried as "connection") are not counted, so the 20 answers of
# 404 that follow still stop the connector.
conn "$TMP/conn.json"
registered a 20 "$TMP/lost.json" 800 >"$TMP/in.jsonl"
registered w 25 "$TMP/conn.json" 900 >>"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl"
uhs --db "$TMP/x.db" disable --all --concurrency 1
echo "DELETEs sent: $(requests | grep -c '^DELETE')"
"$UNHOOK" --db "$TMP/x.db" list | awk 'NR > 1 { print substr($1, 1, 1), $2 }' | sort | uniq -c
"$UNHOOK" --db "$TMP/x.db" show a00 | grep -i '^last error\|^attempts'
