# register without a required option: exit 2 naming the option, no request
conn "$TMP/conn.json"
uhs register github push --option owner=octo \
    --option url=https://example.test/hook --connection "$TMP/conn.json"
requests
