# a 500 is a (retryable) failure: exit 1 with the status and the body
conn "$TMP/conn.json"
seed octo hello 1
script DELETE /repos/octo/hello/hooks/12345678 '[{"status":500,"body":"upstream exploded"}]'
uhs run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json"
requests
