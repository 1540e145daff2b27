#!/bin/sh
# make demo: the lifecycle story in a temporary database against the
# fixture provider on loopback.  Three GitHub webhooks are registered;
# one is deregistered, one survives a provider outage by retrying, one is
# dead-lettered by a provider error and re-queued once the provider
# recovers.  Every registration's data stays in the store until its
# deletion is confirmed.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
. tests/provider/start.sh
URL=$UNHOOK_TEST_URL

# The provider stands in for api.github.com; the token comes from the
# environment and is never printed.
cat >"$T/connection.json" <<JSON
{ "base_url": "$URL", "auth": { "type": "bearer", "token": "\${DEMO_TOKEN}" } }
JSON
export DEMO_TOKEN=test-token
cd "$T"
unhook() { "$ROOT/build/unhook" "$@"; }
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
provider_answers() {   # provider_answers HOOK_ID RESPONSES_JSON
    curl -s -X POST "$URL/_control/script" -d \
        "{\"method\":\"DELETE\",\"path\":\"/repos/octo/hello/hooks/$1\",\"responses\":$2}" >/dev/null
}

for id in deploy-alerts ci-status triage; do
    step unhook enable $id --connector github --event push --option owner=octo \
        --option repo=hello --option url=https://example.test/$id --connection connection.json
    unhook enable $id --connector github --event push --option owner=octo \
        --option repo=hello --option url=https://example.test/$id --connection connection.json
done

step unhook list
unhook list

step unhook disable deploy-alerts
unhook disable deploy-alerts

printf '\n# the provider is down for ci-status: 503, retry after 1 s, then it recovers\n'
provider_answers 12345679 '[{"status":503,"headers":{"Retry-After":"1"},"body":"maintenance"}]'
step unhook disable ci-status
unhook disable ci-status || echo "(exit $?: pending retry)"
step unhook resume --wait
unhook resume --wait

printf '\n# the provider rejects the deletion of triage: 400\n'
provider_answers 12345680 '[{"status":400,"body":{"message":"hook is locked"}}]'
step unhook disable triage
unhook disable triage || echo "(exit $?: dead-lettered)"
step unhook show triage
unhook show triage

printf '\n# the provider recovers\n'
step unhook retry triage
unhook retry triage

step unhook list
unhook list
step unhook history triage
unhook history triage

printf '\n# reconcile: the provider is the truth.  One more instance is enabled\n'
printf '# (release-notes), a webhook is created behind unhook'"'"'s back (a flow whose\n'
printf '# instance was lost), and a webhook of another deployment that must\n'
printf '# never be touched\n'
enable_quiet() { unhook enable "$1" --connector github --event push --option owner=octo \
    --option repo=hello --option url=https://example.test/$1 --connection connection.json >/dev/null; }
enable_quiet release-notes
curl -s -X POST "$URL/_control/seed" -d \
    '{"owner":"octo","repo":"hello","url":"https://example.test/forgotten-flow","events":["push"]}' >/dev/null
curl -s -X POST "$URL/_control/seed" -d \
    '{"owner":"octo","repo":"hello","url":"https://other-team.example/hook","events":["push"]}' >/dev/null
RECONCILE="reconcile github push --option owner=octo --option repo=hello --option url_prefix=https://example.test/ --connection connection.json"
step unhook $RECONCILE
unhook $RECONCILE
step unhook $RECONCILE --apply
unhook $RECONCILE --apply
step unhook $RECONCILE
unhook $RECONCILE
