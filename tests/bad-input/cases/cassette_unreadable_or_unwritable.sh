# --replay of a folder, of /dev/zero (endless: refused past 256 MiB instead
# of eating memory) and --record to a full disk (/dev/full): each is
# reported, and a run whose cassette could not be written exits 2, not 0
conn "$TMP/conn.json"
chmod 600 "$TMP/conn.json"
run() { uhs run github push --option owner=octo --option repo=hello \
    --registration '{"id":1}' --connection "$TMP/conn.json" "$@" 2>&1 | sed "s#$URL#PROVIDER#g"; }
run --replay "$TMP"
run --replay /dev/zero
run --record /dev/full
