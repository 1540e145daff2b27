# Helpers for bad-input cases (sourced after tests/e2e/lib.sh, whose uh,
# uhs, conn, script, seed and requests are also there).

# the fixture connectors of this suite, found by name
FIXTURES=tests/bad-input/fixtures/connectors
UNHOOK_CONNECTORS="$ROOT/$FIXTURES"
export UNHOOK_CONNECTORS

# received: how many requests the fixture provider has received.
received() {
    printf 'provider received %s requests\n' \
        "$(curl -s "$URL/_control/requests?count=1" | sed 's/[^0-9]//g')"
}

# on ID CONNECTOR EVENT OPTIONS REGISTRATION: a JSON Lines record of an
# instance that is on, with the connection $TMP/conn.json.
on() {
    printf '{"id":"%s","connector":"%s","event":"%s","options":%s,"connection":"%s","registration":%s,"state":"registered","desired":"on"}\n' \
        "$1" "$2" "$3" "$4" "$TMP/conn.json" "$5"
}

# snapshot NAME [DB]: the store's export, quietly, into $TMP/NAME.jsonl.
snapshot() {
    "$UNHOOK" --db "${2:-$TMP/x.db}" export >"$TMP/$1.jsonl" 2>&1
}

# unchanged A B: whether two snapshots (or any two files) are equal.
unchanged() {
    if cmp -s "$1" "$2"; then
        echo "unchanged: $(basename "$2")"
    else
        echo "CHANGED: $(basename "$2")"
        diff "$1" "$2"
    fi
}

# elapsed_since T: whole seconds since T (from `date +%s`).
elapsed_since() {
    echo $(($(date +%s) - $1))
}

# hold_lock DB SECONDS: another process takes the database's write lock
# (BEGIN EXCLUSIVE) and keeps it for SECONDS; returns once it holds it.
# LOCKER is its pid; release_lock ends it early.
hold_lock() {
    : >"$TMP/.locker"
    python3 -c '
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
' "$1" "$2" >"$TMP/.locker" 2>&1 &
    LOCKER=$!
    _i=0
    while ! grep -q locked "$TMP/.locker"; do
        _i=$((_i + 1))
        if [ $_i -gt 200 ]; then
            echo "the lock holder did not start:"; cat "$TMP/.locker"; return 1
        fi
        sleep 0.05
    done
}
release_lock() {
    kill "$LOCKER" 2>/dev/null
    wait "$LOCKER" 2>/dev/null
}

# as_another_user: from here on, $UNHOOK runs as a user who does not own
# the files the case made (nobody, when the tests run as root: root may
# write to any file, whatever its mode).  as_myself goes back.
as_another_user() {
    _real=$UNHOOK
    if [ "$(id -u)" = 0 ]; then
        printf '#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups "%s" "$@"\n' \
            "$_real" >"$TMP/.unhook-as-nobody"
        chmod 755 "$TMP/.unhook-as-nobody" "$TMP"
        UNHOOK=$TMP/.unhook-as-nobody
    fi
}
as_myself() {
    UNHOOK=$_real
}
