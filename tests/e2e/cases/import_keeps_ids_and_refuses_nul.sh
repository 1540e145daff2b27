# import keeps 15-digit ids exactly and refuses NUL characters (fuzz findings)
printf '%s\n' '{"id":"a","connector":"github","event":"push","options":{"owner":"o","repo":"r"},"registration":{"id":123456789012345}}' >"$TMP/ok.jsonl"
uh --db "$TMP/x.db" import "$TMP/ok.jsonl"
uh --db "$TMP/x.db" export
printf '%s\n' '{"id":"b\u0000x","connector":"github","event":"push","registration":{"id":1}}' >"$TMP/nul.jsonl"
uh --db "$TMP/x.db" import "$TMP/nul.jsonl"
printf '%s\n' '{"id":"c","connector":"github","event":"push","registration":{"n":NaN}}' >"$TMP/nan.jsonl"
uh --db "$TMP/x.db" import "$TMP/nan.jsonl"
uh --db "$TMP/x.db" list
