# unhook new acme && unhook check acme && (cd acme && busted): the
# skeleton passes check and its own spec (no server), for every auth type.
cd "$TMP"
uh new acme
uh check acme
(cd acme && find . -type f | sort)
(cd acme && LUA_CPATH="$ROOT/build/lua/?.so;;" busted -o TAP; echo "[busted exit $?]")
for a in basic header query none; do
    "$UNHOOK" new "acme-$a" --auth "$a" >/dev/null && "$UNHOOK" check "acme-$a" &&
        (cd "acme-$a" && LUA_CPATH="$ROOT/build/lua/?.so;;" busted -o TAP >"$TMP/$a.tap" 2>&1; echo "$a: busted exit $?")
done
echo "-- refused"
uh new acme
uh new Acme
uh new x --auth oauth9
