# a bearer token never appears in unhook's output, even with -v; the
# provider does not know this token, so the run fails with 401
conn "$TMP/conn.json" s3cr3t-TOKEN-xyz
seed octo hello 1
"$UNHOOK" -v run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json" >"$TMP/out" 2>&1
echo "[exit $?]"
cat "$TMP/out"
leaks "$TMP/out" s3cr3t-TOKEN-xyz
printf 'requests that carried the token: %s\n' "$(requests | grep -cF s3cr3t-TOKEN-xyz)"
