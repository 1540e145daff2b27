#!/bin/sh
# Run the test suites against the fixture provider on loopback.
# usage: sh tests/run.sh [all|arch|unit|integration|spec|e2e|embed|bulk|security|bad-input|sandbox|reconcile|oauth|serve|install]
set -u
# connection files are written as a careful operator writes them (0600):
# one that others may read holds its secret at their mercy (a warning)
umask 077
cd "$(dirname "$0")/.."
what=${1:-all}
. tests/provider/start.sh

passed=0
failed=0
suite() {
    name=$1
    shift
    echo "== $name"
    curl -s -X POST "$UNHOOK_TEST_URL/_control/reset" >/dev/null
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAILED: $name"
    fi
}

if [ "$what" = all ] || [ "$what" = arch ]; then
    suite arch sh tests/arch/check.sh
fi
if [ "$what" = all ] || [ "$what" = unit ]; then
    for t in build/tests/test_*; do
        [ -x "$t" ] && suite "$(basename "$t")" "$t"
    done
fi
if [ "$what" = all ] || [ "$what" = integration ]; then
    for t in build/itests/test_*; do
        [ -x "$t" ] && suite "$(basename "$t")" "$t"
    done
fi
if [ "$what" = all ] || [ "$what" = spec ]; then
    suite busted busted -o utfTerminal
fi
if [ "$what" = all ] || [ "$what" = e2e ]; then
    suite e2e sh tests/e2e/run.sh
fi
if [ "$what" = all ] || [ "$what" = embed ]; then
    suite embed sh tests/embed/run.sh
fi
if [ "$what" = all ] || [ "$what" = bulk ]; then
    suite bulk sh tests/bulk.sh
fi
if [ "$what" = all ] || [ "$what" = security ]; then
    suite security sh tests/security.sh
fi
if [ "$what" = all ] || [ "$what" = bad-input ]; then
    suite bad-input sh tests/bad-input/run.sh
fi
if [ "$what" = all ] || [ "$what" = reconcile ]; then
    suite reconcile sh tests/reconcile/run.sh
fi
if [ "$what" = all ] || [ "$what" = sandbox ]; then
    suite sandbox sh tests/sandbox/run.sh
fi
if [ "$what" = all ] || [ "$what" = oauth ]; then
    suite oauth sh tests/oauth/run.sh
fi
if [ "$what" = all ] || [ "$what" = serve ]; then
    suite serve sh tests/serve/run.sh
fi
if [ "$what" = all ] || [ "$what" = install ]; then
    suite install sh tests/install.sh
fi
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
