#!/bin/sh
# make demo: the github connector's registration, then its deregistration,
# against the fixture provider on loopback, showing every request.
set -eu
cd "$(dirname "$0")/.."
T=$(mktemp -d)
python3 tests/provider/provider.py --port-file "$T/port" --quiet >"$T/provider.log" 2>&1 &
PROVIDER=$!
trap 'kill $PROVIDER 2>/dev/null; rm -rf "$T"' EXIT INT TERM
while [ ! -s "$T/port" ]; do sleep 0.1; done
URL="http://127.0.0.1:$(cat "$T/port")"
UNHOOK=build/unhook

# A connection: the provider stands in for api.github.com.
cat >"$T/connection.json" <<JSON
{ "base_url": "$URL", "auth": { "type": "bearer", "token": "\${DEMO_TOKEN}" } }
JSON
export DEMO_TOKEN=test-token

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

step unhook check github
$UNHOOK check github

step unhook -v register github push --option owner=octo --option repo=hello \
    --option url=https://example.test/hook --connection connection.json
$UNHOOK -v register github push --option owner=octo --option repo=hello \
    --option url=https://example.test/hook --connection "$T/connection.json" \
    >"$T/registration.json"
echo "registration data: $(cat "$T/registration.json")"

step unhook -v run github push --option owner=octo --option repo=hello \
    --registration @registration.json --connection connection.json
$UNHOOK -v run github push --option owner=octo --option repo=hello \
    --registration @"$T/registration.json" --connection "$T/connection.json"

step "unhook run ... (again: the webhook is already gone)"
$UNHOOK run github push --option owner=octo --option repo=hello \
    --registration @"$T/registration.json" --connection "$T/connection.json"
