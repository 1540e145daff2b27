# a 429 with Retry-After fails (exit 1) and says when to retry
conn "$TMP/conn.json"
seed octo hello 1
script DELETE /repos/octo/hello/hooks/12345678 \
    '[{"status":429,"headers":{"Retry-After":"30"},"body":{"message":"API rate limit exceeded"}}]'
uhs run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json"
requests
