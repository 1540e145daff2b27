# a connection file that does not exist: clear error, no request
uhs run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/nowhere.json"
requests
