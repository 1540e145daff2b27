# a command without its argument (enable without --connector, disable
# without ID, import without FILE, show without ID) or a flag without its
# value: what is missing, the command's usage, exit 2
uhs --db "$TMP/x.db" enable card-1 --event push
uhs --db "$TMP/x.db" disable
uhs --db "$TMP/x.db" import
uhs --db "$TMP/x.db" show
uhs --db "$TMP/x.db" disable card-1 --reason
[ -e "$TMP/x.db" ] && echo "a database was created" || echo "no database was created"
