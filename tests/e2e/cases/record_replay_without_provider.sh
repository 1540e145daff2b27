# --record against a provider, stop it, --replay: the same outcome from the
# same requests with no network; the cassette holds no secret; a request
# the cassette cannot answer fails the flow with replay_miss, naming it.
python3 tests/provider/provider.py --port-file "$TMP/port" --quiet >/dev/null 2>&1 &
P=$!
while [ ! -s "$TMP/port" ]; do sleep 0.1; done
OWN="http://127.0.0.1:$(cat "$TMP/port")"
printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "test-token"}}\n' "$OWN" >"$TMP/conn.json"
hide() { sed "s#$OWN#PROVIDER#g; s#[0-9]*-[0-9]*-[0-9]*T[0-9:]*Z#TIME#g"; }
# method, url, request body and status of each exchange
tape() {
    python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    print(e["method"], e["url"], e.get("request_body", "-"), e.get("status"), e.get("error", {}).get("code", ""))
' "$1" | hide
}
reg() { "$UNHOOK" register github push --option owner=octo --option repo=hello \
    --option url=https://example.test/h --connection "$TMP/conn.json" "$@"; echo "[exit $?]"; }
run() { "$UNHOOK" run github push --option owner=octo --option repo=hello \
    --connection "$TMP/conn.json" "$@" >"$TMP/o" 2>&1; set -- $?; hide <"$TMP/o"; echo "[exit $1]"; }
echo "-- recorded"
reg --record "$TMP/reg.jsonl" | hide
run --registration '{"id":12345678}' --record "$TMP/run.jsonl"
run --registration '{"id":12345678}' --record "$TMP/gone.jsonl"
tape "$TMP/reg.jsonl"
tape "$TMP/run.jsonl"
tape "$TMP/gone.jsonl"
cat "$TMP"/*.jsonl >"$TMP/all"
leaks "$TMP/all" test-token
kill $P
wait $P 2>/dev/null
echo "-- replayed, the provider stopped"
reg --replay "$TMP/reg.jsonl" | hide
run --registration '{"id":12345678}' --replay "$TMP/run.jsonl" --record "$TMP/again.jsonl"
tape "$TMP/again.jsonl"
run --registration '{"id":12345678}' --replay "$TMP/gone.jsonl"
echo "-- a request the cassette does not hold"
run --registration '{"id":99}' --replay "$TMP/run.jsonl"
echo "-- not a cassette"
echo '{"method": "DELETE"}' >"$TMP/bad.jsonl"
run --registration '{"id":1}' --replay "$TMP/bad.jsonl"
run --registration '{"id":1}' --replay "$TMP/none.jsonl"
