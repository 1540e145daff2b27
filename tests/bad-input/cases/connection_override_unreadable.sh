# disable --connection FILE with a FILE that is missing or not JSON: a bad
# argument on the command line is a usage error (exit 2, as for run and
# enable, README "Exit codes"), checked before anything is recorded, so the
# instance is unchanged and no request is made
conn "$TMP/conn.json"
on deploy-alerts github push '{"owner":"octo","repo":"hello"}' '{"id":12345678}' >"$TMP/in.jsonl"
uh --db "$TMP/x.db" import "$TMP/in.jsonl"
snapshot before
uhs --db "$TMP/x.db" disable deploy-alerts --connection "$TMP/nowhere.json"
printf '{"base_url": "http://127.0.0.1:1",\n "auth": {"type": "bearer"\n' >"$TMP/bad.json"
uhs --db "$TMP/x.db" disable deploy-alerts --connection "$TMP/bad.json"
received
snapshot after
unchanged "$TMP/before.jsonl" "$TMP/after.jsonl"
