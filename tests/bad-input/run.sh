#!/bin/sh
# The bad-input catalogue: what unhook does with bad input, bad flows and a
# bad store, as golden files: tests/bad-input/cases/NAME.sh and NAME.out,
# run by tests/golden.sh with the helpers of tests/e2e/lib.sh and
# tests/bad-input/lib.sh.  UPDATE=1 rewrites the golden files: read every
# one before committing it.
# usage: sh tests/bad-input/run.sh [NAME...]   (default: every case)
exec sh "$(dirname "$0")/../golden.sh" tests/bad-input "$@"
