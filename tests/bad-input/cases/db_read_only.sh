# a database the user may not write: exit 4, a clear message, nothing
# changed.  The tests may run as root, whom no file mode stops, so unhook
# runs as another user here.
conn "$TMP/conn.json"
on deploy-alerts github push '{"owner":"octo","repo":"hello"}' '{"id":12345678}' >"$TMP/in.jsonl"
echo "# file and folder read-only: nothing can be written, not even the -shm index"
mkdir "$TMP/ro"
uh --db "$TMP/ro/x.db" import "$TMP/in.jsonl"
cp "$TMP/ro/x.db" "$TMP/before.db"
chmod 0444 "$TMP/ro/x.db"
chmod 0555 "$TMP/ro"
as_another_user
uhs --db "$TMP/ro/x.db" list
uhs --db "$TMP/ro/x.db" disable deploy-alerts
as_myself
unchanged "$TMP/before.db" "$TMP/ro/x.db"
ls -A "$TMP/ro"
received
echo "# file read-only, folder writable: reading works, writing exits 4"
mkdir "$TMP/rw"
uh --db "$TMP/rw/x.db" import "$TMP/in.jsonl"
snapshot before "$TMP/rw/x.db"
chmod 0444 "$TMP/rw/x.db"
chmod 0777 "$TMP/rw"
as_another_user
uhs --db "$TMP/rw/x.db" list
uhs --db "$TMP/rw/x.db" disable deploy-alerts
as_myself
snapshot after "$TMP/rw/x.db"
unchanged "$TMP/before.jsonl" "$TMP/after.jsonl"
received
