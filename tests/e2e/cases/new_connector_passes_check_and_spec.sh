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
echo "-- NAME with a folder in front: the last part is the name; the folder must exist"
mkdir sub
uh new sub/acme2 >/dev/null
(cd sub/acme2 && find . -type f | sort)
grep -n 'name = ' sub/acme2/connector.lua
uh new nosuch/acme3
uh new sub/Acme
echo x >sub/acme2/connector.lua
uh new sub/acme2 2>/dev/null
cat sub/acme2/connector.lua
