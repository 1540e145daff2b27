# -v: the trace lines of stored instances (run concurrently by disable
# --all) begin with the instance id, so responses match their requests.
conn "$TMP/conn.json"
seed octo hello 2 >/dev/null
for i in 0 1; do
    printf '{"id":"hook-%d","connector":"github","event":"push","options":{"owner":"octo","repo":"hello"},"connection":"%s","registration":{"id":%d},"state":"registered","desired":"on"}\n' \
        $i "$TMP/conn.json" $((12345678 + i))
done >"$TMP/in.jsonl"
"$UNHOOK" --db "$TMP/x.db" import "$TMP/in.jsonl"
"$UNHOOK" --db "$TMP/x.db" -v disable --all 2>"$TMP/err"
grep -E '^hook-[01] [<>] (DELETE|204)' "$TMP/err" | sed 's/([0-9.]* ms)/(N ms)/' | sort
echo "untagged request lines: $(grep -cE '^[<>] ' "$TMP/err")"
