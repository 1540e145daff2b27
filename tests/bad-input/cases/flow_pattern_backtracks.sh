# a flow whose one pattern match backtracks for ever
# (string.find(("a"):rep(1e5), ".-.-.-.-b"), a single call into C the
# count hook cannot interrupt) with --timeout-ms 2000: the matcher checks
# the budget as it works, so the flow fails (cpu_limit), exit 1, within
# 3.5 s (the budget and start-up).  The test stops unhook after 15 s if
# it hangs.
printf '#!/bin/sh\nexec timeout -k 1 15 "%s" "$@"\n' "$UNHOOK" >"$TMP/.bounded"
chmod 755 "$TMP/.bounded"
UNHOOK=$TMP/.bounded
t0=$(date +%s%3N)
uhs --timeout-ms 2000 run misbehave pattern_hang --registration '{"id":"hk_1"}'
ms=$(($(date +%s%3N) - t0))
[ "$ms" -le 3500 ] && echo "stopped within 3.5 s" || echo "NOT stopped in time: $ms ms"
