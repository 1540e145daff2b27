#!/bin/sh
# End-to-end CLI tests with golden files.  Each tests/e2e/cases/NAME.sh is
# run by sh with $UNHOOK (the binary), $URL (the fixture provider), $TMP
# (a scratch folder) and helpers from lib.sh; everything it prints, with
# the provider's port and the scratch folder replaced by PORT and TMP, must
# equal tests/e2e/cases/NAME.out.  UPDATE=1 rewrites the golden files.
# usage: sh tests/e2e/run.sh [NAME...]   (default: every case)
set -u
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
pass=0
fail=0
cases=""
for n in "$@"; do cases="$cases tests/e2e/cases/$n.sh"; done
for case in ${cases:-tests/e2e/cases/*.sh}; do
    name=$(basename "$case" .sh)
    want="tests/e2e/cases/$name.out"
    TMP=$(mktemp -d)
    curl -s -X POST "$UNHOOK_TEST_URL/_control/reset" >/dev/null
    got=$(cd "$ROOT" && UNHOOK="$ROOT/build/unhook" URL="$UNHOOK_TEST_URL" \
          PORT="$UNHOOK_TEST_PORT" TMP="$TMP" ROOT="$ROOT" \
          sh -c ". tests/e2e/lib.sh; . $case" 2>&1 \
          | sed -e "s#$TMP#TMP#g" -e "s#$ROOT/##g" -e "s#127.0.0.1:$UNHOOK_TEST_PORT#127.0.0.1:PORT#g" \
                -e 's#([0-9.]* ms)#(N ms)#g' -e 's#^< Date: .*#< Date: DATE#')
    if [ "${UPDATE:-}" = 1 ]; then
        printf '%s\n' "$got" >"$want"
    fi
    if [ -f "$want" ] && [ "$got" = "$(cat "$want")" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "--- e2e $name: output differs from $want"
        printf '%s\n' "$got" | diff -u "$want" - | head -40
    fi
    rm -rf "$TMP"
done
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
