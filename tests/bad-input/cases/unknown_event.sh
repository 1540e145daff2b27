# an event the connector does not have: exit 2 listing its events; enable
# stores nothing
conn "$TMP/conn.json"
uhs run github pushh --option owner=octo --option repo=hello \
    --registration '{"id":1}' --connection "$TMP/conn.json"
uhs --db "$TMP/x.db" enable card-1 --connector github --event pushh \
    --option owner=octo --option repo=hello --option url=https://example.test/hook \
    --connection "$TMP/conn.json"
received
uhs --db "$TMP/x.db" list
