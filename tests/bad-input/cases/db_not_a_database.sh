# --db naming something that is not an SQLite database (a text file, a
# folder, /proc/version): exit 4 with the path named, nothing written
echo "hello" >"$TMP/notes.txt"
uhs --db "$TMP/notes.txt" list
uhs --db "$TMP/notes.txt" disable deploy-alerts
cat "$TMP/notes.txt"
mkdir "$TMP/folder"
uhs --db "$TMP/folder" list
uhs --db "$TMP/folder" disable deploy-alerts
ls -A "$TMP/folder" | wc -l
uhs --db /proc/version list
