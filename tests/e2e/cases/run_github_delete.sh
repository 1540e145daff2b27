# unhook run sends exactly the GitHub DELETE with the token and headers
conn "$TMP/conn.json"
seed octo hello 1
uh run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json"
requests
