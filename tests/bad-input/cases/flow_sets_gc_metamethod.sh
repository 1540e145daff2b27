# a flow that leaves a finalizer behind (a __gc metamethod whose code
# never returns) is refused at setmetatable: a script failure naming the
# flow's line, exit 1 -- never a hang when the state is closed.
printf '#!/bin/sh\nexec timeout -k 1 10 "%s" "$@"\n' "$UNHOOK" >"$TMP/.bounded"
chmod 755 "$TMP/.bounded"
UNHOOK=$TMP/.bounded
uhs --timeout-ms 1000 run tests/sandbox/fixtures/connectors/sandbox gc_loop --registration '{"id":"hk_1"}'
