#!/bin/sh
# The `make check` driver: with the fixture provider on loopback, run
#   1. every build/asan/{tests,itests}/test_* (AddressSanitizer + UBSan, leaks on),
#   2. every build/{tests,itests}/test_* under valgrind (definite/indirect leaks and
#      memory errors fail),
#   3. a few runs of the ASan-built CLI (check, and run against the
#      provider: done, gone, a retryable failure),
#   4. the store's C tests (test_store, test_lifecycle) built with ASan +
#      UBSan against PostgreSQL (a private cluster, tests/pg/cluster.sh),
# then print "check: N passed, M failed" and fail if anything failed.
# The Makefile's check target builds both trees before calling this.
# usage: sh tests/check.sh
set -u
umask 077                       # connection files as an operator writes them
cd "$(dirname "$0")/.."
. tests/provider/start.sh

# Sanitizers: leaks and UB are errors.  tests/lsan.supp, if present,
# holds narrow suppressions for leaks inside libraries (see the file).
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
[ -f tests/lsan.supp ] && LSAN_OPTIONS="suppressions=$(pwd)/tests/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS UBSAN_OPTIONS ${LSAN_OPTIONS:+LSAN_OPTIONS}
# under sanitizers and valgrind the durations the tests measure mean
# nothing: they are reported, not bounded (tests/integration/test_drive.c)
UNHOOK_NO_TIMING=1
export UNHOOK_NO_TIMING
VALGRIND="valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect -q"
[ -f tests/valgrind.supp ] && VALGRIND="$VALGRIND --suppressions=tests/valgrind.supp"

passed=0
failed=0
# step NAME COMMAND...: one counted step, run against a freshly reset provider.
step() {
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

# expect WANT_EXIT WANT_OUTPUT COMMAND...: the command's exit code and
# its output (stdout then stderr, the provider's port written PORT) must
# be exactly these.
expect() {
    want_rc=$1
    want_out=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
    got=$(cat "$T/out" "$T/err" | sed "s#127.0.0.1:$UNHOOK_TEST_PORT#127.0.0.1:PORT#g")
    got="${got:+$got
}[exit $rc]"
    want="${want_out:+$want_out
}[exit $want_rc]"
    if [ "$got" = "$want" ]; then
        return 0
    fi
    echo "want:"; printf '%s\n' "$want"; echo "got:"; printf '%s\n' "$got"
    return 1
}

seed() {
    curl -s -X POST "$UNHOOK_TEST_URL/_control/seed" \
        -d '{"owner":"octo","repo":"hello","count":1}' >/dev/null
}

# 1. unit tests under ASan + UBSan
for t in build/asan/tests/test_* build/asan/itests/test_*; do
    [ -x "$t" ] || continue
    step "asan $(basename "$t")" "$t"
done

# 2. unit tests under valgrind (time budgets stretched: valgrind is slow)
for t in build/tests/test_* build/itests/test_*; do
    [ -x "$t" ] || continue
    step "valgrind $(basename "$t")" env UNHOOK_TEST_SLOW=3 $VALGRIND "$t"
done

# 3. the CLI under ASan + UBSan
UH=build/asan/unhook
printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "test-token"}}\n' \
    "$UNHOOK_TEST_URL" >"$T/conn.json"
run_push() {
    "$UH" run github push --option owner=octo --option repo=hello \
        --registration '{"id":12345678}' --connection "$T/conn.json"
}
cli_done() {
    seed && expect 0 "deregistered" run_push &&
        expect 0 '{"deletes_ok": 1, "deletes_404": 0, "requests": 1, "delete_counts": {"12345678": 1}, "scripts_pending": 0}' \
            curl -s "$UNHOOK_TEST_URL/_control/stats"
}
cli_gone() {
    expect 0 'already gone: HTTP 404 from DELETE http://127.0.0.1:PORT/repos/octo/hello/hooks/12345678: {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}' run_push
}
cli_retry() {
    seed &&
    curl -s -X POST "$UNHOOK_TEST_URL/_control/script" -d '{"method":"DELETE",
        "path":"/repos/octo/hello/hooks/12345678","responses":[{"status":503,
        "headers":{"Retry-After":"9"},"body":"busy test-token"}]}' >/dev/null &&
    expect 1 'unhook: failed (retryable, http): HTTP 503 from DELETE http://127.0.0.1:PORT/repos/octo/hello/hooks/12345678: busy ***
unhook: the provider asks to retry after 9 s' run_push
}
if [ -x "$UH" ]; then
    step "asan unhook check github" expect 0 "scripts/connectors/github: ok" "$UH" check github
    step "asan unhook check generic" expect 0 "scripts/connectors/generic: ok" "$UH" check generic
    step "asan unhook run github push (done)" cli_done
    step "asan unhook run github push (gone)" cli_gone
    step "asan unhook run github push (retry, token masked)" cli_retry
    # a flow that fills its memory cap, then a big response: under ASan
    step "asan sandbox: fill then big response" env SANDBOX_VALGRIND=0 \
        sh tests/sandbox/run.sh memory
else
    step "asan unhook is built" test -x "$UH"
fi

# 4. the PostgreSQL store under ASan + UBSan (in a subshell: the cluster's
# variables and its exit trap stay there)
pg_asan() (
    . tests/pg/cluster.sh || exit 1
    trap pg_cluster_stop EXIT
    build/asan/itests/test_store && build/asan/itests/test_lifecycle
)
if [ -x build/asan/itests/test_store ]; then
    step "asan test_store, test_lifecycle on PostgreSQL" pg_asan
fi

# issue 18's libuv host: the 2,000 deregistrations under valgrind too
# (make test runs 100 of them there)
step "libuv host, 2,000 deregistrations under valgrind" env UV_VALGRIND_N=2000 sh tests/embed/run.sh

echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
