# credentials that would add headers of their own are refused (fuzz finding)
printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "tok\\r\\nX-Injected: 1"}}\n' "$URL" >"$TMP/c1.json"
printf '{"base_url": "%s", "auth": {"type": "header", "name": "X Api Key", "value": "v"}}\n' "$URL" >"$TMP/c2.json"
printf '{"base_url": "%s", "headers": ["Accept: application/json"]}\n' "$URL" >"$TMP/c3.json"
for c in c1 c2 c3; do
    uh run github push --option owner=o --option repo=r --registration '{"id":1}' --connection "$TMP/$c.json"
done
echo "requests: $(curl -s "$URL/_control/requests?count=1")"
