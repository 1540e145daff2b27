# register runs the registration flow and prints the registration data
# (JSON) on stdout, exit 0; the provider got one POST
conn "$TMP/conn.json"
uhs register github push --option owner=octo --option repo=hello \
    --option url=https://example.test/hook --connection "$TMP/conn.json" | stamps
requests
curl -s "$URL/_control/hooks"; echo
