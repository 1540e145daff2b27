# an object-typed option given a JSON array (valid JSON, wrong type):
# exit 2 naming both types, no request, nothing stored
conn "$TMP/conn.json"
uhs run objopt hook --option collection=/api/hooks --option 'config=["push","issues"]' \
    --registration '{"id":"hk_1"}' --connection "$TMP/conn.json"
uhs --db "$TMP/x.db" enable card-1 --connector objopt --event hook \
    --option collection=/api/hooks --option 'config=["push","issues"]' --connection "$TMP/conn.json"
received
uhs --db "$TMP/x.db" export
