#!/bin/sh
# Reconcile and instance management against the fixture provider (its
# github-like hooks, listed 2 a page): orphans found and removed with
# --apply or adopted with --adopt, foreign hooks never touched, missing
# instances marked lost, a listing that fails on its last page changing
# nothing; enable idempotency, update (make-before-break, also when the
# new registration or the old deregistration fails), edit, forget and
# import --replace.  Every check prints "ok - ..." or "not ok - ...".
set -u
umask 077
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
if [ -z "${UNHOOK_TEST_URL:-}" ]; then
    . tests/provider/start.sh
else
    T=$(mktemp -d)
    trap 'rm -rf "$T"' EXIT INT TERM
fi
URL=$UNHOOK_TEST_URL
fails=0
n=0

cat >"$T/conn.json" <<JSON
{ "base_url": "$URL", "auth": { "type": "bearer", "token": "test-token" } }
JSON
DB="$T/unhook.db"
unhook() { ${UNHOOK_WRAP:-} "$ROOT/build/unhook" --db "$DB" "$@"; }
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; }
check() {   # check DESCRIPTION COMMAND...
    d=$1; shift
    if "$@"; then ok "$d"; else notok "$d"; fi
}
ctl() { curl -s -X "$1" "$URL/_control/$2" ${3:+-d "$3"}; }
hooks() {   # the ids of octo/hello's hooks at the provider, sorted
    ctl GET hooks | python3 -c 'import json,sys; print(" ".join(str(i) for i in sorted(json.load(sys.stdin)["github"].get("octo/hello", []))))'
}
has() { case " $1 " in *" $2 "*) return 0;; esac; return 1; }
reset() { ctl POST reset >/dev/null; rm -f "$DB" "$DB-wal" "$DB-shm"; }
seed() {    # seed URL EVENT COUNT: hooks created behind unhook's back
    ctl POST seed "{\"owner\":\"octo\",\"repo\":\"hello\",\"url\":\"$1\",\"events\":[\"$2\"],\"count\":$3}" \
        | python3 -c 'import json,sys; print(" ".join(str(i) for i in json.load(sys.stdin)["ids"]))'
}
enable() {  # enable ID [more options]: a push hook delivering to ours/ID
    id=$1; shift
    unhook enable "$id" --connector github --event push --option owner=octo \
        --option repo=hello --option url="https://ours.example/$id" \
        --connection "$T/conn.json" "$@"
}
RECON="reconcile github push --option owner=octo --option repo=hello --option url_prefix=https://ours.example/ --input per_page=2 --connection $T/conn.json"

# ---- reconcile ------------------------------------------------------------
reset
enable a >/dev/null
enable b >/dev/null
orphan=$(seed https://ours.example/gone-flow push 1)
foreign=$(seed https://theirs.example/x push 2)
other_event=$(seed https://ours.example/issues issues 1)
ids_b=$(unhook show b --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["registration"]["id"])')
# b's webhook deleted behind unhook's back: b is missing
ctl POST script "{\"method\":\"DELETE\",\"path\":\"/repos/octo/hello/hooks/none\",\"responses\":[{\"pass\":true}]}" >/dev/null
ctl DELETE script >/dev/null
curl -s -X DELETE -H "Authorization: Bearer test-token" "$URL/repos/octo/hello/hooks/$ids_b" >/dev/null
before=$(hooks)

unhook $RECON >"$T/dry.out" 2>&1; st=$?
check "dry run exits 0" [ "$st" -eq 0 ]
check "dry run reports the orphan" grep -q "^orphan  *$orphan " "$T/dry.out"
check "dry run reports b missing" grep -q "^missing .* b " "$T/dry.out"
check "dry run reports a ok" grep -q "^ok .* a " "$T/dry.out"
check "dry run counts: 3 foreign (other URL, other event)" grep -q "ok 1, orphan 1, missing 1, foreign 3" "$T/dry.out"
check "dry run deletes nothing" [ "$(hooks)" = "$before" ]
check "dry run changes nothing in the store" sh -c "'$ROOT/build/unhook' --db '$DB' show b | grep -q 'state: registered'"
pages=$(ctl GET requests | python3 -c 'import json,sys; print(len([r for r in json.load(sys.stdin) if r["method"]=="GET" and r["path"]=="/repos/octo/hello/hooks"]))')
check "the listing followed 3 pages (5 hooks, 2 a page)" [ "$pages" -eq 3 ]

# a provider failure on the last page: nothing changes
ctl POST script '{"method":"GET","path":"/repos/octo/hello/hooks","responses":[{"pass":true},{"pass":true},{"status":503,"body":"down"}]}' >/dev/null
unhook $RECON --apply >"$T/fail.out" 2>&1; st=$?
check "a listing failing on page 3 exits 1" [ "$st" -eq 1 ]
check "it says nothing was changed" grep -q "nothing was changed" "$T/fail.out"
check "it deleted nothing" [ "$(hooks)" = "$before" ]
check "it marked nothing lost" sh -c "'$ROOT/build/unhook' --db '$DB' show b | grep -q 'state: registered'"

# --json
unhook $RECON --json >"$T/dry.json" 2>&1
check "--json prints the items" python3 -c "import json; d=json.load(open('$T/dry.json')); assert sorted(i['status'] for i in d)==['foreign','foreign','foreign','missing','ok','orphan'], d; assert d[0]['data']['id']==$orphan"

# --apply
unhook $RECON --apply >"$T/apply.out" 2>&1; st=$?
[ "$st" -eq 0 ] || cat "$T/apply.out"
check "--apply exits 0" [ "$st" -eq 0 ]
check "--apply deregisters the orphan" grep -q "^orphan  *$orphan  *orphan-$orphan  *deregistered" "$T/apply.out"
check "the orphan is gone at the provider" sh -c "! echo ' $(hooks) ' | grep -q ' $orphan '"
for f in $foreign $other_event; do
    check "foreign hook $f untouched" has "$(hooks)" "$f"
done
check "foreign count unchanged (3 + a's)" [ "$(echo $(hooks) | wc -w)" -eq 4 ]
check "the orphan is an instance with reason orphan" sh -c "'$ROOT/build/unhook' --db '$DB' show orphan-$orphan | grep -q 'reason: orphan'"
check "its history has the reconcile and the deregistration" sh -c "'$ROOT/build/unhook' --db '$DB' history orphan-$orphan | grep -q reconcile && '$ROOT/build/unhook' --db '$DB' history orphan-$orphan | grep -q 'deregister  *done'"
check "b is marked lost" sh -c "'$ROOT/build/unhook' --db '$DB' show b | grep -q 'state: lost'"
check "list shows lost" sh -c "'$ROOT/build/unhook' --db '$DB' list --state lost | grep -q '^b  *lost'"
unhook $RECON >"$T/after.out" 2>&1
check "a second reconcile finds no orphan" grep -q "orphan 0" "$T/after.out"

# enable --again re-registers a lost instance
unhook enable --again b >"$T/again.out" 2>&1; st=$?
check "enable --again exits 0" [ "$st" -eq 0 ]
check "b is registered again" sh -c "'$ROOT/build/unhook' --db '$DB' show b | grep -q 'state: registered'"
check "enable --again refuses an instance that is not lost" sh -c "! '$ROOT/build/unhook' --db '$DB' enable --again a 2>/dev/null"

# --apply refused without an owned rule
mkdir -p "$T/noowned/flows"
cp scripts/connectors/github/flows/*.lua "$T/noowned/flows/"
sed -e '/owned = function/,/^    end,$/d' scripts/connectors/github/connector.lua >"$T/noowned/connector.lua"
"$ROOT/build/unhook" check "$T/noowned" >/dev/null 2>&1
check "a connector without owned checks ok" [ $? -eq 0 ]
seed https://ours.example/x push 1 >/dev/null
before=$(hooks)
unhook reconcile "$T/noowned" push --option owner=octo --option repo=hello \
    --connection "$T/conn.json" --apply >"$T/noowned.out" 2>&1; st=$?
check "--apply without owned is refused (exit 2)" [ "$st" -eq 2 ]
check "it says why" grep -q "no owned rule" "$T/noowned.out"
check "and deletes nothing" [ "$(hooks)" = "$before" ]

# --adopt
reset
orphan=$(seed https://ours.example/lost-track push 1)
foreign=$(seed https://theirs.example/x push 1)
unhook $RECON --adopt >"$T/adopt.out" 2>&1; st=$?
check "--adopt exits 0" [ "$st" -eq 0 ]
check "--adopt stores the orphan as on" sh -c "'$ROOT/build/unhook' --db '$DB' show adopted-$orphan | grep -q 'state: registered'"
check "--adopt deletes nothing" [ "$(hooks)" = "$orphan $foreign" ]
unhook $RECON >"$T/adopt2.out" 2>&1
check "the adopted hook is ok afterwards" grep -q "^ok  *$orphan  *adopted-$orphan" "$T/adopt2.out"
check "--apply and --adopt together: usage" sh -c "'$ROOT/build/unhook' --db '$DB' $RECON --apply --adopt 2>/dev/null; [ \$? -eq 2 ]"

# ---- enable idempotency ------------------------------------------------------
reset
enable a >/dev/null
enable a >"$T/idem.out" 2>&1; st=$?
check "enable with the same request again exits 0" [ "$st" -eq 0 ]
check "it says already on" grep -q "a: already on" "$T/idem.out"
check "and registers nothing more" [ "$(echo $(hooks) | wc -w)" -eq 1 ]
unhook enable a --connector github --event push --option owner=octo --option repo=hello \
    --option url=https://ours.example/other --connection "$T/conn.json" >"$T/idem2.out" 2>&1; st=$?
check "enable with other options exits 2" [ "$st" -eq 2 ]
check "it points to update" grep -q "unhook update a" "$T/idem2.out"

# ---- update -------------------------------------------------------------------
old=$(hooks)
unhook update a --option url=https://ours.example/a2 >"$T/upd.out" 2>&1; st=$?
check "update exits 0" [ "$st" -eq 0 ]
new=$(hooks)
check "update replaced the webhook" sh -c "[ '$new' != '$old' ] && [ $(echo $(hooks) | wc -w) -eq 1 ]"
check "the instance holds the new URL" sh -c "'$ROOT/build/unhook' --db '$DB' show a | grep -q 'ours.example/a2'"
check "history has both" sh -c "'$ROOT/build/unhook' --db '$DB' history a | grep -q update && '$ROOT/build/unhook' --db '$DB' history 'a~1' | grep -q 'deregister  *done'"
# the new registration fails: the old one stays
ctl POST script '{"method":"POST","path":"/repos/octo/hello/hooks","responses":[{"status":422,"body":{"message":"Validation Failed"}}]}' >/dev/null
before=$(hooks)
unhook update a --option url=https://ours.example/a3 >"$T/upd2.out" 2>&1; st=$?
check "update with a failing registration exits 1" [ "$st" -eq 1 ]
check "the old webhook stays" [ "$(hooks)" = "$before" ]
check "the instance keeps its options" sh -c "'$ROOT/build/unhook' --db '$DB' show a | grep -q 'ours.example/a2'"
# the old deregistration fails: retried like any
cur=$(hooks)
ctl POST script "{\"method\":\"DELETE\",\"path\":\"/repos/octo/hello/hooks/$cur\",\"responses\":[{\"status\":503,\"headers\":{\"Retry-After\":\"0\"},\"body\":\"down\"}]}" >/dev/null
unhook update a --option url=https://ours.example/a4 >"$T/upd3.out" 2>&1; st=$?
check "update whose old deregistration is retryable exits 75" [ "$st" -eq 75 ]
check "the old registration is pending as a~2" sh -c "'$ROOT/build/unhook' --db '$DB' show 'a~2' | grep -q 'state: deregistering'"
unhook resume --wait >/dev/null 2>&1
check "resume deregisters it" sh -c "'$ROOT/build/unhook' --db '$DB' show 'a~2' | grep -q 'state: off'"
check "one webhook left" [ "$(echo $(hooks) | wc -w)" -eq 1 ]

# ---- edit ----------------------------------------------------------------------
unhook edit a --registration '{"id": 1, "fixed": true}' >/dev/null 2>&1; st=$?
check "edit exits 0" [ "$st" -eq 0 ]
check "edit replaced the data" sh -c "'$ROOT/build/unhook' --db '$DB' show a | grep -q '\"fixed\":true'"
check "history keeps the old value" sh -c "'$ROOT/build/unhook' --db '$DB' history a | grep 'edit' | grep -q 'ours.example/a4'"
check "edit refuses text that is not JSON" sh -c "'$ROOT/build/unhook' --db '$DB' edit a --registration 'not json' 2>/dev/null; [ \$? -eq 2 ]"

# ---- forget --------------------------------------------------------------------
unhook forget a >"$T/forget.out" 2>&1; st=$?
check "forget of an instance that is on exits 2" [ "$st" -eq 2 ]
check "it mentions --force" grep -q -- "--force" "$T/forget.out"
unhook forget --force a >"$T/forget2.out" 2>&1; st=$?
check "forget --force exits 0" [ "$st" -eq 0 ]
check "it says what is left at the provider" grep -q "left at the provider" "$T/forget2.out"
check "the instance is gone" sh -c "! '$ROOT/build/unhook' --db '$DB' show a >/dev/null 2>&1"
check "its history stays" sh -c "'$ROOT/build/unhook' --db '$DB' history a | grep -q forget"
unhook forget 'a~1' >/dev/null 2>&1; st=$?
check "forget of an instance that is off exits 0" [ "$st" -eq 0 ]

# ---- import --replace ------------------------------------------------------------
reset
printf '{"id":"x","connector":"github","event":"push","options":{"owner":"octo","repo":"hello"},"registration":{"id":1}}\n' >"$T/i1.jsonl"
printf '{"id":"x","connector":"github","event":"push","options":{"owner":"octo","repo":"hello"},"registration":{"id":2}}\n' >"$T/i2.jsonl"
unhook import "$T/i1.jsonl" >/dev/null 2>&1
unhook import "$T/i2.jsonl" >/dev/null 2>&1; st=$?
check "import of an existing id is refused" [ "$st" -eq 2 ]
unhook import --replace "$T/i2.jsonl" >/dev/null 2>&1; st=$?
check "import --replace exits 0" [ "$st" -eq 0 ]
check "it replaced the data" sh -c "'$ROOT/build/unhook' --db '$DB' show x | grep -q '\"id\":2'"
check "history keeps the old data" sh -c "'$ROOT/build/unhook' --db '$DB' history x | grep -q '\"id\":1'"

echo "1..$n"
[ "$fails" -eq 0 ]
