# an error body longer than the 2000-byte snippet that echoes the token
# right where the snippet is cut: no part of the token may appear
conn "$TMP/conn.json"
seed octo hello 1
pad=$(printf '%01992d' 0 | tr 0 x)
script DELETE /repos/octo/hello/hooks/12345678 \
    "[{\"status\":400,\"body\":\"${pad}test-token was rejected\"}]"
"$UNHOOK" -v run github push --option owner=octo --option repo=hello \
    --registration '{"id":12345678}' --connection "$TMP/conn.json" >"$TMP/out" 2>&1
echo "[exit $?]"
grep '^unhook:' "$TMP/out" | cut -c1-100
printf 'lines with test-: %s\n' "$(grep -cF test- "$TMP/out")"
