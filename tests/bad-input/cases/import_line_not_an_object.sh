# an import line that is JSON but not an object (an array, a string, a
# number): "expected a JSON object" with its line number, exit 2, nothing
# stored
conn "$TMP/conn.json"
{
    on card-1 github push '{"owner":"octo","repo":"hello"}' '{"id":12345679}'
    printf '["card-2","github","push"]\n'
} >"$TMP/array.jsonl"
uhs --db "$TMP/x.db" import "$TMP/array.jsonl"
printf '"card-2"\n' | uhs --db "$TMP/x.db" import -
printf '42\n' | uhs --db "$TMP/x.db" import -
uhs --db "$TMP/x.db" export
