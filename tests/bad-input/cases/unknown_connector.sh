# a connector found nowhere: exit 3 naming where it was looked for; enable
# stores nothing
conn "$TMP/conn.json"
uhs run nosuch push --registration '{"id":1}' --connection "$TMP/conn.json"
uhs --db "$TMP/x.db" enable card-1 --connector nosuch --event push --connection "$TMP/conn.json"
uhs --db "$TMP/x.db" enable card-1 --connector ./no/such/folder --event push \
    --connection "$TMP/conn.json"
received
uhs --db "$TMP/x.db" list
