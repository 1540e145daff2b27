#!/bin/sh
# The golden-file runner of the CLI suites (tests/e2e, tests/bad-input).
# Each DIR/cases/NAME.sh is run by sh with $UNHOOK (the binary), $URL and
# $PORT (the fixture provider), $TMP (a scratch folder), $ROOT, and the
# helpers of tests/e2e/lib.sh and then DIR/lib.sh (if DIR has its own);
# everything it prints, with the scratch folder, the repository path, the
# provider's port, durations and times replaced by TMP, nothing, PORT,
# N ms / in N s and TIME, must equal DIR/cases/NAME.out.
# UPDATE=1 rewrites the golden files: read every one before committing it.
# usage: sh tests/golden.sh DIR [NAME...]   (default: every case of DIR)
# Needs the fixture provider: UNHOOK_TEST_URL and UNHOOK_TEST_PORT, as
# tests/run.sh sets them.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
dir=${1:?usage: sh tests/golden.sh DIR [NAME...]}
dir=${dir%/}
shift
suite=$(basename "$dir")
: "${UNHOOK_TEST_URL:?needs the fixture provider: run sh tests/run.sh $suite}"
: "${UNHOOK_TEST_PORT:?needs the fixture provider: run sh tests/run.sh $suite}"
libs=". tests/e2e/lib.sh;"
[ "$dir" != tests/e2e ] && [ -f "$dir/lib.sh" ] && libs="$libs . $dir/lib.sh;"
pass=0
fail=0
cases=""
for n in "$@"; do cases="$cases $dir/cases/$n.sh"; done
for case in ${cases:-$dir/cases/*.sh}; do
    name=$(basename "$case" .sh)
    want="$dir/cases/$name.out"
    TMP=$(mktemp -d)
    curl -s -X POST "$UNHOOK_TEST_URL/_control/reset" >/dev/null
    got=$(cd "$ROOT" && UNHOOK="$ROOT/build/unhook" URL="$UNHOOK_TEST_URL" \
          PORT="$UNHOOK_TEST_PORT" TMP="$TMP" ROOT="$ROOT" \
          sh -c "$libs . $case" 2>&1 \
          | sed -e "s#$TMP#TMP#g" -e "s#$ROOT/##g" \
                -e "s#127.0.0.1:$UNHOOK_TEST_PORT#127.0.0.1:PORT#g" \
                -e "s#localhost:$UNHOOK_TEST_PORT#localhost:PORT#g" \
                -e 's#([0-9.]* ms)#(N ms)#g' -e 's#^< Date: .*#< Date: DATE#' \
          | sed -E -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z/TIME/g' \
                   -e 's/\bin [0-9]+( ?)s\b/in N\1s/g')
    if [ "${UPDATE:-}" = 1 ]; then
        printf '%s\n' "$got" >"$want"
    fi
    if [ -f "$want" ] && [ "$got" = "$(cat "$want")" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "--- $suite $name: output differs from $want"
        printf '%s\n' "$got" | diff -u "$want" - | head -40
    fi
    # a case may leave read-only files and folders behind
    chmod -R u+rwx "$TMP" 2>/dev/null
    rm -rf "$TMP"
done
echo "$suite: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
