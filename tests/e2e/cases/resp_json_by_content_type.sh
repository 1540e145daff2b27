# resp.json is decoded when the body parses as JSON and the Content-Type is
# JSON, absent or text/plain (answers from hand-written cassettes).
one() {
    printf '{"url":"http://api.test/x","body":%s,"headers":%s}\n' "$1" "$2" >"$TMP/t.jsonl"
    printf '%-45s ' "$2"
    "$UNHOOK" register "$FIXTURES/echo_json" hook --replay "$TMP/t.jsonl" 2>&1
}
one '"{\"a\":1}"' '{}'
one '"{\"a\":1}"' '{"Content-Type":"application/json; charset=utf-8"}'
one '"{\"a\":1}"' '{"Content-Type":"application/vnd.api+json"}'
one '"[1,2]"' '{"Content-Type":"text/plain"}'
one '"{\"a\":1}"' '{"Content-Type":"text/html"}'
one '"not json"' '{}'
one '"{\"a\":"' '{"Content-Type":"application/json"}'
one '""' '{"Content-Type":"application/json"}'
