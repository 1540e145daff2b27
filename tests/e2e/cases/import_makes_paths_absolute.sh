# import stores a relative connector folder and connection file as
# absolute paths (as enable does), so disable works from another folder;
# a relative connector folder that does not exist fails the import.
conn "$TMP/conn.json"
seed octo hello 1 >/dev/null
mkdir -p "$TMP/work/conns" "$TMP/elsewhere"
cp -r scripts/connectors/github "$TMP/work/gh"
cp "$TMP/conn.json" "$TMP/work/conns/c.json"
cd "$TMP/work"
printf '%s\n' '{"id":"a","connector":"./gh","event":"push","options":{"owner":"octo","repo":"hello"},"connection":"conns/c.json","registration":{"id":12345678},"state":"registered","desired":"on"}' >in.jsonl
uh --db "$TMP/x.db" import in.jsonl
"$UNHOOK" --db "$TMP/x.db" export
cd "$TMP/elsewhere"
uh --db "$TMP/x.db" disable a
cd "$TMP/work"
printf '%s\n' '{"id":"b","connector":"./nowhere","event":"push","registration":{"id":1}}' >bad.jsonl
uh --db "$TMP/x.db" import bad.jsonl
