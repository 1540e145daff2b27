# an object-typed option given text that is not JSON: the message must say
# the JSON is invalid (not "got string"), exit 2, no request, and enable
# stores nothing
conn "$TMP/conn.json"
uhs run objopt hook --option collection=/api/hooks --option 'config={"events":' \
    --registration '{"id":"hk_1"}' --connection "$TMP/conn.json"
uhs register objopt hook --option collection=/api/hooks --option 'config={"events":' \
    --connection "$TMP/conn.json"
uhs --db "$TMP/x.db" enable card-1 --connector objopt --event hook \
    --option collection=/api/hooks --option 'config={"events":' --connection "$TMP/conn.json"
received
uhs --db "$TMP/x.db" list
uhs --db "$TMP/x.db" export
