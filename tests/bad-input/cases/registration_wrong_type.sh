# a registration flow that returns a number instead of the registration
# data (a table or a string): failed (script) naming the flow, exit 1;
# enable keeps the instance as failed, with no registration data
conn "$TMP/conn.json"
uhs register misbehave wrong_type --connection "$TMP/conn.json"
uhs --db "$TMP/x.db" enable card-1 --connector misbehave --event wrong_type \
    --connection "$TMP/conn.json"
uhs --db "$TMP/x.db" show card-1
