#!/bin/sh
# Item 2: a flow that fills most of its memory cap (--memory-mb 16, 12 MiB
# of strings) and then receives a 7 MiB body (the provider's /bytes?n=N)
# must fail as `memory` (exit 1); the process must not abort.  In a bulk
# run the other flows succeed.  The same run under valgrind and under the
# ASan/UBSan build (build/asan/unhook, when built: `make check`, or
# SANDBOX_ASAN=1 sh tests/sandbox/run.sh builds it) must be clean.
# SANDBOX_VALGRIND=0 skips the valgrind run.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/sandbox/lib.sh
trap 'rm -rf "$W"' EXIT
conn "$W/conn.json"
BYTES=7340032

# fill NAME BINARY SECONDS [WRAPPER...]: the fill-then-big-response run
fill() {
    name=$1 bin=$2 secs=$3
    shift 3
    trun "$secs" "$W/fill.out" "$@" "$bin" --memory-mb 16 --timeout-ms 60000 \
        run "$SBX" fill_big --option fill_mb=12 --option bytes=$BYTES \
        --registration '{"id":"hk_0"}' --connection "$W/conn.json"
    if [ "$RC" -gt 128 ] && [ "$RC" -lt 160 ]; then
        why="killed by signal $((RC - 128))$([ "$RC" = 134 ] && echo ' (SIGABRT)')"
    elif [ "$RC" -ge 124 ] && [ "$RC" -le 137 ]; then
        why="exit $RC (timed out)"
    else
        why="exit $RC"
    fi
    if [ "$RC" = 1 ] && grep -q '^unhook: failed (memory): ' "$W/fill.out"; then
        ok "$name: 12 MiB kept, then a 7 MiB body under --memory-mb 16: exit 1, failed (memory)"
    else
        bad "$name: 12 MiB kept, then a 7 MiB body under --memory-mb 16: want exit 1, failed (memory); got $why"
        dump "$W/fill.out" 1200
    fi
}

ctl POST /_control/reset >/dev/null
fill "fill then big response" "$UNHOOK" 30
check "fill then big response: the provider was asked for the body" \
    "$(ctl GET /_control/requests | python3 -c 'import json,sys; print(" ".join(r["path"] + "?n=" + r["query"].get("n", "") for r in json.load(sys.stdin)))')" \
    "/bytes?n=$BYTES"

# ---- bulk: the filler among 9 good instances ------------------------------
ctl POST /_control/reset >/dev/null
seed 9 /api/sbx >"$W/ids"
{
    n=0
    while read -r id; do
        n=$((n + 1))
        [ $n -eq 5 ] && inst filler fill_big registered hk_fill
        inst "good-$n" delete registered "$id"
    done <"$W/ids"
} >"$W/bulk.jsonl"
"$UNHOOK" --db "$W/bulk.db" import "$W/bulk.jsonl" >/dev/null 2>&1
trun 30 "$W/bulk.out" "$UNHOOK" --db "$W/bulk.db" --memory-mb 16 disable --all --concurrency 4
check "bulk with the filler: exit 1 (not a signal)" "$RC" 1
check "bulk with the filler: summary" "$(grep '^deregistered' "$W/bulk.out")" \
    "deregistered 9, already gone 0, pending retry 0, failed 1"
check "bulk with the filler: states" "$(states "$W/bulk.db")" "failed=1 off=9"
check "bulk with the filler: the filler failed with memory" \
    "$("$UNHOOK" --db "$W/bulk.db" --json show filler 2>/dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["state"], (r["last_error"] or "").split(":")[0])' 2>&1)" \
    "failed memory"
check "bulk with the filler: no hook left at the provider" \
    "$(ctl GET /_control/hooks | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["generic"].get("/api/sbx", [])))')" 0

# ---- runs sharing a state: each keeps 12 MiB under --memory-mb 16 ---------
# Six runs of the holder (12 MiB of 64 KiB strings built with string.rep,
# kept while it waits 3 s for the provider) at once share one Lua state.
# Each alone ends well; together none may be stopped for memory: a run's
# account holds its garbage (the string.rep temporaries) until the
# collector, paced by all six runs' 72 MiB, frees it, and lauxlib's
# buffers (string.rep, table.concat, string.format) raise "not enough
# memory" at the first refusal, without the emergency collection.
ctl POST /_control/reset >/dev/null
seed 6 /api/sbx >"$W/ids"
while read -r id; do
    inst "hold-$id" hold registered "$id" "" '{"fill_mb":12}'
done <"$W/ids" >"$W/hold.jsonl"
"$UNHOOK" --db "$W/hold.db" import "$W/hold.jsonl" >/dev/null 2>&1
trun 60 "$W/hold.out" "$UNHOOK" --db "$W/hold.db" --memory-mb 16 disable --all --concurrency 8
check "six holders of 12 MiB at once under --memory-mb 16: exit 0" "$RC" 0
check "six holders of 12 MiB at once under --memory-mb 16: states" "$(states "$W/hold.db")" "off=6"

# ---- under valgrind and ASan ---------------------------------------------
if [ "${SANDBOX_VALGRIND:-1}" = 0 ]; then
    echo "skip: valgrind (SANDBOX_VALGRIND=0)"
elif ! command -v valgrind >/dev/null 2>&1; then
    echo "skip: valgrind is not installed"
else
    fill "valgrind" "$UNHOOK" 180 valgrind -q --error-exitcode=99 --leak-check=no
    if grep -q '^==[0-9]*== ' "$W/fill.out"; then
        bad "valgrind: errors reported"
        grep '^==[0-9]*== ' "$W/fill.out" | head -20 | sed 's/^/    | /'
    else
        ok "valgrind: no error reported"
    fi
fi
ASAN=$ROOT/build/asan/unhook
if [ -x "$ASAN" ]; then
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
        fill "ASan/UBSan build" "$ASAN" 60
    if grep -q 'ERROR: AddressSanitizer\|runtime error:' "$W/fill.out"; then
        bad "ASan/UBSan build: sanitizer report"
        grep -A8 'ERROR: AddressSanitizer\|runtime error:' "$W/fill.out" | head -20 | sed 's/^/    | /'
    else
        ok "ASan/UBSan build: no sanitizer report"
    fi
else
    echo "skip: build/asan/unhook is not built (make check, or SANDBOX_ASAN=1)"
fi
finish
