#!/bin/sh
# Item 1: a CPU loop inside a coroutine is stopped by the time budget.
# Each flow of the sandbox fixture connector hides `while true do end` in a
# coroutine (plain, three deep, under pcall, in a card, in a helper flow
# called with flow.call); with a 2 s budget each must end within budget +
# 1 s, exit 1, classified cpu_limit.  A coroutine that allocates must end
# as memory.  A bulk `disable --all` over 20 instances, one of them
# looping in a coroutine, deregisters the other 19 in bounded time.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/sandbox/lib.sh
trap 'rm -rf "$W"' EXIT
conn "$W/conn.json"
BUDGET=2000

# one_run NAME EVENT CODE LIMIT-MS [UNHOOK-FLAGS...]
one_run() {
    name=$1 ev=$2 code=$3 limit=$4
    shift 4
    trun 10 "$W/$ev.out" "$UNHOOK" "$@" run "$SBX" "$ev" \
        --registration '{"id":"hk_0"}' --connection "$W/conn.json"
    if [ "$RC" = 1 ] && grep -q "^unhook: failed ($code): " "$W/$ev.out" && [ "$MS" -le "$limit" ]; then
        ok "$name: exit 1, failed ($code), after $MS ms (bound $limit ms)"
    else
        bad "$name: want exit 1, failed ($code) within $limit ms; got exit $RC after $MS ms$([ "$RC" -ge 124 ] && echo ' (killed by the test: the loop was never stopped)')"
        dump "$W/$ev.out" 400
    fi
}

LIMIT=$((BUDGET + 1000))
one_run "control: a plain loop, not in a coroutine, --timeout-ms $BUDGET" spin cpu_limit $LIMIT --timeout-ms $BUDGET
one_run "coroutine.wrap loop, --timeout-ms $BUDGET" co_spin cpu_limit $LIMIT --timeout-ms $BUDGET
one_run "loop three coroutines deep" co_nested cpu_limit $LIMIT --timeout-ms $BUDGET
one_run "coroutine loop resumed inside pcall (and pcall inside it)" co_pcall cpu_limit $LIMIT --timeout-ms $BUDGET
one_run "coroutine loop in a connector card (cards/spin.lua)" co_card cpu_limit $LIMIT --timeout-ms $BUDGET
one_run "coroutine loop in a helper flow (flow.call)" co_helper cpu_limit $LIMIT --timeout-ms $BUDGET
# the allocation hits the 16 MiB cap well before the 5 s budget
one_run "coroutine.wrap loop that allocates, --memory-mb 16" co_hog memory 6000 --memory-mb 16 --timeout-ms 5000

# the budget from the manifest: limits = { timeout_ms = 2000 }
mkdir "$W/limited"
cp -R "$SBX"/. "$W/limited/"
sed -i "s/^  auth = \"bearer\",/  auth = \"bearer\",\n  limits = { timeout_ms = $BUDGET },/" "$W/limited/connector.lua"
if grep -q "limits = { timeout_ms = $BUDGET }" "$W/limited/connector.lua"; then
    SBX_SAVED=$SBX
    SBX=$W/limited
    one_run "coroutine.wrap loop, manifest limits.timeout_ms = $BUDGET" co_spin cpu_limit $LIMIT
    SBX=$SBX_SAVED
else
    bad "could not write the manifest with limits.timeout_ms"
fi

# ---- bulk: 19 good instances and one that loops in a coroutine ----------
ctl POST /_control/reset >/dev/null
seed 19 /api/sbx >"$W/ids"
{
    n=0
    while read -r id; do
        n=$((n + 1))
        [ $n -eq 10 ] && inst spinner co_spin registered hk_spin
        inst "good-$n" delete registered "$id"
    done <"$W/ids"
} >"$W/bulk.jsonl"
"$UNHOOK" --db "$W/bulk.db" import "$W/bulk.jsonl" >"$W/import.out" 2>&1
check "bulk: 20 instances imported" "$(cat "$W/import.out")" "imported 20 instances"
# 20 flows, 4 at a time: the good ones take milliseconds, the spinner its
# 2 s budget; 15 s is a generous bound
trun 15 "$W/bulk.out" "$UNHOOK" --db "$W/bulk.db" --timeout-ms $BUDGET disable --all --concurrency 4
if [ "$RC" -ge 124 ]; then
    bad "bulk: disable --all did not end within 15 s (exit $RC after $MS ms: killed by the test)"
else
    ok "bulk: disable --all ended after $MS ms"
fi
check "bulk: exit 1 (one flow failed)" "$RC" 1
check "bulk: summary" "$(grep '^deregistered' "$W/bulk.out")" \
    "deregistered 19, already gone 0, pending retry 0, failed 1"
check "bulk: states" "$(states "$W/bulk.db")" "failed=1 off=19"
check "bulk: the spinner failed with cpu_limit" \
    "$("$UNHOOK" --db "$W/bulk.db" --json show spinner 2>/dev/null | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["state"], (r["last_error"] or "").split(":")[0])' 2>&1)" \
    "failed cpu_limit"
check "bulk: no hook left at the provider" \
    "$(ctl GET /_control/hooks | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["generic"].get("/api/sbx", [])))')" 0
finish
