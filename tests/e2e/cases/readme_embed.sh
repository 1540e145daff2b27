# core/README.md's embedding example builds against the library and runs.
lua5.4 tests/e2e/docblocks.lua core/README.md "$TMP"
cc -std=c11 -Wall -Wextra -Werror -Icore -o "$TMP/embed" "$TMP/embed.c" \
    build/libunhook.a $(pkg-config --libs lua5.4 libcurl lua5.4-cjson sqlite3 libcrypto libpq) -lm
echo "[cc exit $?]"
conn "$TMP/connection.json"
seed octo hello 1
"$TMP/embed" "$TMP/connection.json"; echo "[exit $?]"
"$TMP/embed" "$TMP/connection.json"; echo "[exit $?]"
