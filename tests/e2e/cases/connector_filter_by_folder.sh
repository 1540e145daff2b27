# --connector given as a folder (./gh) matches the instances 'enable
# --connector ./gh' stored (under the folder's absolute path), in list and
# disable --all; before, it silently matched none
conn "$TMP/conn.json"
chmod 600 "$TMP/conn.json"
cp -r "$ROOT/scripts/connectors/github" "$TMP/gh"
cd "$TMP"
"$UNHOOK" --db x.db enable h1 --connector ./gh --event push --option owner=octo \
    --option repo=hello --option url=https://example.test/h --connection conn.json >/dev/null
echo "[enable exit $?]"
"$UNHOOK" --db x.db list --connector ./gh | awk 'NR > 1 { print $1, $2 }'
"$UNHOOK" --db x.db disable --all --connector ./gh --dry-run 2>/dev/null
echo "[exit $?]"
"$UNHOOK" --db x.db disable --all --connector ./gh
echo "[exit $?]"
