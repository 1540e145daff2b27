# an import file with a line that is not JSON: the line number in the
# message, exit 2, and nothing of the file is stored (all or nothing)
conn "$TMP/conn.json"
on existing github push '{"owner":"octo","repo":"hello"}' '{"id":12345678}' >"$TMP/first.jsonl"
uh --db "$TMP/x.db" import "$TMP/first.jsonl"
snapshot before
{
    on card-1 github push '{"owner":"octo","repo":"hello"}' '{"id":12345679}'
    printf '{"id":"card-2","connector":"github",\n'
    on card-3 github push '{"owner":"octo","repo":"hello"}' '{"id":12345680}'
} >"$TMP/bad.jsonl"
uhs --db "$TMP/x.db" import "$TMP/bad.jsonl"
{
    on card-1 github push '{"owner":"octo","repo":"hello"}' '{"id":12345679}'
    echo
    printf '{"id":"card-2" "connector":"github"}\n'
} >"$TMP/bad2.jsonl"
uhs --db "$TMP/x.db" import - <"$TMP/bad2.jsonl"
snapshot after
unchanged "$TMP/before.jsonl" "$TMP/after.jsonl"
cat "$TMP/after.jsonl"
