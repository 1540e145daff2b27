#!/bin/sh
# End-to-end CLI tests with golden files: tests/e2e/cases/NAME.sh and
# NAME.out, run by tests/golden.sh (which says what a case sees and what
# is normalised).  UPDATE=1 rewrites the golden files.
# usage: sh tests/e2e/run.sh [NAME...]   (default: every case)
exec sh "$(dirname "$0")/../golden.sh" tests/e2e "$@"
