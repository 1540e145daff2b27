#!/bin/sh
# The sandbox suite (issue "Sandbox holes: no flow can hang, kill or rob
# the engine"): coroutine loops, memory exhaustion on a big response,
# echoed secrets, a full filesystem under the store, connection file
# permissions, and a hostile-flow stress test.  Each part prints ok:/FAIL:
# lines; this prints "sandbox: N passed, M failed" and exits non-zero on a
# failure.  Every command is bounded by timeout(1): a hang fails, it does
# not block.  Starts the fixture provider unless UNHOOK_TEST_URL is set.
# "found" replays the red-team reproductions (tests/sandbox/found/).
# usage: sh tests/sandbox/run.sh [coroutines|memory|echo|fullfs|perms|found|stress]...
# env: SANDBOX_ASAN=1 builds build/asan/unhook first; SANDBOX_VALGRIND=0;
# STRESS_SEED, STRESS_N, STRESS_LONG=1 (see stress.py).
set -u
cd "$(dirname "$0")/../.." || exit 1
if [ -z "${UNHOOK_TEST_URL:-}" ]; then
    . tests/provider/start.sh
fi
if [ "${SANDBOX_ASAN:-}" = 1 ]; then
    make STRICT=1 B=build/asan OPT="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer" \
        LDFLAGS="-fsanitize=address,undefined" build/asan/unhook >/dev/null || echo "FAIL: the ASan build"
fi
parts=${*:-coroutines memory echo fullfs perms found stress}
LOG=$(mktemp)
for p in $parts; do
    echo "== sandbox $p"
    curl -s -X POST "$UNHOOK_TEST_URL/_control/reset" >/dev/null
    case $p in
    stress) timeout -k 5 300 python3 tests/sandbox/stress.py ;;
    found)
        for f in tests/sandbox/found/[0-9]*.sh; do
            if timeout -k 5 120 sh "$f" >"$LOG.found" 2>&1; then
                echo "ok: closed: $(basename "$f" .sh)"
            else
                echo "FAIL: reproduces: $(basename "$f" .sh)"
                sed 's/^/    | /' "$LOG.found" | tail -15
            fi
        done
        rm -f "$LOG.found" ;;
    *) timeout -k 5 600 sh "tests/sandbox/$p.sh" ;;
    esac >"$LOG.part" 2>&1
    rc=$?
    cat "$LOG.part"
    cat "$LOG.part" >>"$LOG"
    [ "$rc" -ge 124 ] && [ "$rc" -le 137 ] && echo "FAIL: sandbox $p: killed after its time limit" | tee -a "$LOG"
done
pass=$(grep -c '^ok:' "$LOG")
fail=$(grep -c '^FAIL:' "$LOG")
rm -f "$LOG" "$LOG.part"
echo "sandbox: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
