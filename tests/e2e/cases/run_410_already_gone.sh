# a 410 on delete means the webhook is already gone: exit 0
conn "$TMP/conn.json"
seed octo hello 1
script DELETE /repos/octo/hello/hooks/12345678 '[{"status":410,"body":{"message":"Gone"}}]'
uhs run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json"
requests
