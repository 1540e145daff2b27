# an instance id the store does not have: exit 2 naming it, for every
# command that takes an ID; the store is unchanged
conn "$TMP/conn.json"
on deploy-alerts github push '{"owner":"octo","repo":"hello"}' '{"id":12345678}' >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl"
snapshot before
uhs --db "$TMP/x.db" disable nosuch
uhs --db "$TMP/x.db" show nosuch
uhs --db "$TMP/x.db" history nosuch
uhs --db "$TMP/x.db" retry nosuch
received
snapshot after
unchanged "$TMP/before.jsonl" "$TMP/after.jsonl"
