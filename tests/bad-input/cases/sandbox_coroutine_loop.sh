# a flow whose endless loop hides in a coroutine
# (coroutine.wrap(function() while true do end end)()) with --timeout-ms
# 300: stopped like a plain loop, failed (cpu_limit), exit 1, at once.
# Bounded here by timeout(1): a loop that is never stopped shows as exit 124.
printf '#!/bin/sh\nexec timeout -k 1 10 "%s" "$@"\n' "$UNHOOK" >"$TMP/.bounded"
chmod 755 "$TMP/.bounded"
UNHOOK=$TMP/.bounded
t0=$(date +%s)
uhs --timeout-ms 300 run tests/sandbox/fixtures/connectors/sandbox co_spin --registration '{"id":"hk_1"}'
[ "$(elapsed_since "$t0")" -le 3 ] && echo "stopped after at most 3 s" \
    || echo "NOT stopped in time: $(elapsed_since "$t0") s"
uhs --timeout-ms 300 run tests/sandbox/fixtures/connectors/sandbox co_helper --registration '{"id":"hk_1"}'
