#!/bin/sh
# `unhook serve` from outside (suite "serve" of tests/run.sh, with the
# fixture provider at $UNHOOK_TEST_URL): tests/serve/test_serve.py.  What
# a test saves (the status page's screenshot) goes to build/serve/.
set -u
cd "$(dirname "$0")/../.."
mkdir -p build/serve
exec python3 tests/serve/test_serve.py build/serve "$@"
