# --registration @FILE reads the registration data from a file
conn "$TMP/conn.json"
seed octo hello 1
printf '{\n  "id": 12345678,\n  "url": "https://example.test/hook"\n}\n' >"$TMP/registration.json"
uhs run github push --option owner=octo --option repo=hello \
    --registration @"$TMP/registration.json" --connection "$TMP/conn.json"
requests
uhs run github push --option owner=octo --option repo=hello \
    --registration @"$TMP/missing.json" --connection "$TMP/conn.json"
