# a provider that answers a 9 MiB body (the cap is 8 MiB): failed
# (response_too_large), exit 1, the body is not read into the flow
conn "$TMP/conn.json"
python3 -c '
import json, sys
json.dump({"method": "GET", "path": "/api/bad/giant",
           "responses": [{"status": 200, "body": "x" * 9437184}]}, sys.stdout)
' | curl -s -X POST "$URL/_control/script" --data-binary @-
echo
uhs run misbehave giant --registration '{"id":"hk_1"}' --connection "$TMP/conn.json"
received
