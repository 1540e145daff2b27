#!/bin/sh
# Item 5: a connection file with credentials that group or others may
# write is refused -- whoever can write it can point base_url at their own
# host, whether the secret is written in it or taken from "${ENV}": on
# the command line (run, enable, disable --connection) with exit 2 and
#   unhook: FILE: the connection file holds a secret and is writable by group or others; chmod go-w it
# and, for a stored instance whose file became writable later (disable,
# resume), the attempt sends nothing and is a retryable `connection`
# error (as an unreadable file is today), exit 75:
#   ID: pending retry (connection): FILE: the connection file holds a secret and is writable by group or others; chmod go-w it — next attempt in N s
# A secret written in the file (even escaped, or only in part) and
# readable by others (0644) runs, with a warning on standard error:
#   [warn] FILE: the connection file holds a secret and is readable by others; chmod o-r it
# Only "${ENV}" references, mode 0644: accepted, no warning; mode 0666: refused.
# The tests run as root: the checks are on the mode bits, not on access(2).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/sandbox/lib.sh
trap 'rm -rf "$W"' EXIT
WRITABLE="the connection file holds a secret and is writable by group or others; chmod go-w it"
READABLE="the connection file holds a secret and is readable by others; chmod o-r it"
requests() { ctl GET '/_control/requests?count=1' | sed 's/[^0-9]//g'; }

# mkconn NAME MODE: a literal-secret connection file with MODE
mkconn() {
    conn "$W/$1.json"
    chmod "$2" "$W/$1.json"
}
# last_error ID: the stored instance's state and last error
last_error() {
    "$UNHOOK" --db "$DB" --json show "$1" | python3 -c 'import json,sys; r = json.load(sys.stdin); print(r["state"], "|", r["last_error"])'
}

# ---- run -----------------------------------------------------------------
for mode in 0666 0620 0602 0660; do
    ctl POST /_control/reset >/dev/null
    id=$(seed 1 /api/sbx)
    mkconn "w$mode" $mode
    trun 20 "$W/run.out" "$UNHOOK" run "$SBX" delete --registration "{\"id\":\"$id\"}" --connection "$W/w$mode.json"
    check "run, literal secret, mode $mode: exit 2 and the message" "$RC $(cat "$W/run.out")" \
        "2 unhook: $W/w$mode.json: $WRITABLE"
    check "run, literal secret, mode $mode: no request sent" "$(requests)" 0
done

ctl POST /_control/reset >/dev/null
id=$(seed 1 /api/sbx)
mkconn r0644 0644
"$UNHOOK" run "$SBX" delete --registration "{\"id\":\"$id\"}" --connection "$W/r0644.json" \
    >"$W/out" 2>"$W/err"
check "run, literal secret, mode 0644: runs (exit 0, deregistered)" "$? $(cat "$W/out")" "0 deregistered"
check "run, literal secret, mode 0644: a warning on stderr" "$(cat "$W/err")" "[warn] $W/r0644.json: $READABLE"

ctl POST /_control/reset >/dev/null
id=$(seed 1 /api/sbx)
mkconn p0600 0600
"$UNHOOK" run "$SBX" delete --registration "{\"id\":\"$id\"}" --connection "$W/p0600.json" \
    >"$W/out" 2>"$W/err"
check "run, literal secret, mode 0600: exit 0, no warning" "$? $(cat "$W/out") [$(cat "$W/err")]" "0 deregistered []"

ctl POST /_control/reset >/dev/null
id=$(seed 1 /api/sbx)
printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "${SBX_PERMS_TOKEN}"}}\n' "$URL" >"$W/env.json"
chmod 0644 "$W/env.json"
SBX_PERMS_TOKEN=test-token "$UNHOOK" run "$SBX" delete --registration "{\"id\":\"$id\"}" \
    --connection "$W/env.json" >"$W/out" 2>"$W/err"
check "run, only \${ENV} references, mode 0644: accepted, exit 0, no warning" \
    "$? $(cat "$W/out") [$(cat "$W/err")]" "0 deregistered []"
chmod 0666 "$W/env.json"
SBX_PERMS_TOKEN=test-token "$UNHOOK" run "$SBX" delete --registration "{\"id\":\"$id\"}" \
    --connection "$W/env.json" >"$W/out" 2>&1
check "run, only \${ENV} references, mode 0666: refused (base_url could be pointed anywhere), exit 2" \
    "$? $(cat "$W/out")" "2 unhook: $W/env.json: $WRITABLE"

# a secret written escaped, or only in part, is written in the file all the same
for form in '\\u0074est-token' 'test\\/token' 'te${SBX_PART}'; do
    printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "%s"}}\n' "$URL" "$form" >"$W/esc.json"
    chmod 0666 "$W/esc.json"
    SBX_PART=st-token "$UNHOOK" run "$SBX" delete --registration '{"id":"x"}' --connection "$W/esc.json" >"$W/out" 2>&1
    check "run, token written as $form, mode 0666: refused, exit 2" "$? $(cat "$W/out")" "2 unhook: $W/esc.json: $WRITABLE"
    chmod 0644 "$W/esc.json"
    SBX_PART=st-token "$UNHOOK" run "$SBX" delete --registration '{"id":"x"}' --connection "$W/esc.json" >"$W/out" 2>"$W/err"
    check "run, token written as $form, mode 0644: a warning" "$(grep '^\[warn\]' "$W/err")" "[warn] $W/esc.json: $READABLE"
done

# ---- enable, disable --connection ------------------------------------------
ctl POST /_control/reset >/dev/null
DB=$W/x.db
trun 20 "$W/out" "$UNHOOK" --db "$DB" enable e1 --connector "$SBX" --event echo_register --connection "$W/w0666.json"
check "enable, literal secret, mode 0666: exit 2 and the message" "$RC $(cat "$W/out")" \
    "2 unhook: $W/w0666.json: $WRITABLE"
check "enable, mode 0666: no request sent" "$(requests)" 0
"$UNHOOK" --db "$DB" show e1 >/dev/null 2>&1
check "enable, mode 0666: nothing stored (show e1 exits 2)" "$?" 2

ids=$(seed 4 /api/sbx)
set -- $ids
{
    inst d1 delete registered "$1" "$W/p0600.json"
    inst d2 delete registered "$2" "$W/stored.json"
    inst d3 delete deregistering "$3" "$W/stored3.json"
    inst d4 delete registered "$4" "$W/stored4.json"
} >"$W/in.jsonl"
mkconn stored 0600
mkconn stored3 0600
mkconn stored4 0644
"$UNHOOK" --db "$DB" import "$W/in.jsonl" >/dev/null 2>&1
ctl DELETE /_control/requests >/dev/null
trun 20 "$W/out" "$UNHOOK" --db "$DB" disable d1 --connection "$W/w0666.json"
check "disable d1 --connection FILE, mode 0666: exit 2 and the message" "$RC $(cat "$W/out")" \
    "2 unhook: $W/w0666.json: $WRITABLE"
check "disable d1 --connection FILE, mode 0666: no request sent" "$(requests)" 0
check "disable d1 --connection FILE, mode 0666: d1 still registered" \
    "$("$UNHOOK" --db "$DB" --json show d1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])')" registered

# ---- stored instances whose file became writable ---------------------------
chmod 0666 "$W/stored.json" "$W/stored3.json"
ctl DELETE /_control/requests >/dev/null
trun 20 "$W/out" "$UNHOOK" --db "$DB" disable d2
sed -e 's/next attempt in [0-9]* s/next attempt in N s/' "$W/out" >"$W/out.n"
check "disable d2, its stored file now 0666: exit 75, pending retry (connection)" "$RC $(cat "$W/out.n")" \
    "75 d2: pending retry (connection): $W/stored.json: $WRITABLE — next attempt in N s"
check "disable d2, its stored file now 0666: no request sent" "$(requests)" 0
check "disable d2: stays deregistering, last error names the file" "$(last_error d2)" \
    "deregistering | connection: $W/stored.json: $WRITABLE"
ctl DELETE /_control/requests >/dev/null
trun 20 "$W/out" "$UNHOOK" --db "$DB" resume
check "resume (d3 due, its stored file 0666): exit 75" "$RC" 75
check "resume (d3 due, its stored file 0666): no request sent" "$(requests)" 0
check "resume: d3 stays deregistering, last error names the file" "$(last_error d3)" \
    "deregistering | connection: $W/stored3.json: $WRITABLE"
ctl DELETE /_control/requests >/dev/null
"$UNHOOK" --db "$DB" disable d4 >"$W/out" 2>"$W/err"
check "disable d4, its stored file 0644: deregistered, with the warning" "$? $(cat "$W/out") | $(cat "$W/err")" \
    "0 d4: deregistered | [warn] $W/stored4.json: $READABLE"
# the owner fixes the mode: the retries go through
chmod 0600 "$W/stored.json" "$W/stored3.json"
sleep 2
trun 60 "$W/out" "$UNHOOK" --db "$DB" resume --wait
check "after chmod go-w: resume --wait exits 0" "$RC" 0
check "after chmod go-w: d2, d3 and d4 off, d1 registered" "$(states "$DB")" "off=3 registered=1"
finish
