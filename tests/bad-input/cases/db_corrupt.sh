# a database whose header is overwritten with garbage: every command,
# reading or writing, exits 4 with the file named, and the file is left
# exactly as it was
conn "$TMP/conn.json"
on deploy-alerts github push '{"owner":"octo","repo":"hello"}' '{"id":12345678}' >"$TMP/in.jsonl"
uh --db "$TMP/good.db" import "$TMP/in.jsonl"
cp "$TMP/good.db" "$TMP/x.db"
printf 'this is not an SQLite database: garbage bytes written over its header' \
    | dd of="$TMP/x.db" bs=1 conv=notrunc 2>/dev/null
cp "$TMP/x.db" "$TMP/x.db.before"
uhs --db "$TMP/x.db" list
uhs --db "$TMP/x.db" disable deploy-alerts
uhs --db "$TMP/x.db" export
received
unchanged "$TMP/x.db.before" "$TMP/x.db"
ls "$TMP" | grep x.db
