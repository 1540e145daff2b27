# registration data that starts like JSON but does not parse, given inline
# or as @FILE: a usage error naming the registration data, exit 2, and no
# request is made; run never touches the store
conn "$TMP/conn.json"
uhs run github push --option owner=octo --option repo=hello \
    --registration '{"id":' --connection "$TMP/conn.json"
uhs run github push --option owner=octo --option repo=hello \
    --registration '[12345678,' --connection "$TMP/conn.json"
printf '{"id": 12345678,}\n' >"$TMP/registration.json"
uhs run github push --option owner=octo --option repo=hello \
    --registration "@$TMP/registration.json" --connection "$TMP/conn.json"
received
[ -e "$TMP/x.db" ] && echo "a database was created" || echo "no database was created"
