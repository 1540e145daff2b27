# -v traces each request and response on stderr: method, URL, headers
# (Authorization as ***), status and duration; the result stays on stdout
conn "$TMP/conn.json"
seed octo hello 1
uhs -v run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json"
uhs --verbose run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json"
