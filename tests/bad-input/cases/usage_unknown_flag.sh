# an unknown flag, global or of a command: usage on stderr, exit 2, and the
# store is not touched
uhs --db "$TMP/x.db" --frobnicate list
uhs --db "$TMP/x.db" disable card-1 --force
[ -e "$TMP/x.db" ] && echo "a database was created" || echo "no database was created"
