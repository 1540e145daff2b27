# registration data that is not JSON reaches the flow as a string; the
# github flow then fails with its own message (file:line), exit 1, no request
conn "$TMP/conn.json"
seed octo hello 1
uhs run github push --option owner=octo --option repo=hello \
    --registration 'hook-12345678' --connection "$TMP/conn.json"
requests
