# a 404 on delete means the webhook is already gone: exit 0
conn "$TMP/conn.json"
uhs run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json"
requests
