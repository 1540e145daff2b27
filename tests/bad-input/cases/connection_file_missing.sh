# a connection file that does not exist: exit 2 naming it, no request;
# enable stores nothing
uhs run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/nowhere.json"
uhs --db "$TMP/x.db" enable deploy-alerts --connector github --event push \
    --option owner=octo --option repo=hello --option url=https://example.test/hook \
    --connection "$TMP/nowhere.json"
received
uhs --db "$TMP/x.db" list
