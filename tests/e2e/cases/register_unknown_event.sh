# register with an event the connector does not have: exit 2 listing the events
conn "$TMP/conn.json"
uhs register github pushh --option owner=octo --option repo=hello \
    --option url=https://example.test/hook --connection "$TMP/conn.json"
requests
