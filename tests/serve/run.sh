#!/bin/sh
# `unhook serve` from outside (suite "serve" of tests/run.sh, with the
# fixture provider at $UNHOOK_TEST_URL): tests/serve/test_serve.py.  What
# a test saves (the status page's screenshot) goes to build/serve/.
set -u
cd "$(dirname "$0")/../.."
mkdir -p build/serve
# Debian's python3 (the one python3-prometheus-client is installed for),
# not another python3 that may come first on PATH
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
exec $py tests/serve/test_serve.py build/serve "$@"
