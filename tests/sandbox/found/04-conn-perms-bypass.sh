#!/bin/sh
# The "connection file with a literal secret writable by others is
# refused" check looks for the decoded secret byte for byte in the file's
# text (memmem), so a literal secret written with a JSON escape
# ("\u0074ok...", "\/"; any secret with " or \ must be written escaped) or partly literal ("abc${TOK}") is not noticed:
# a chmod 666 file is used, exit 0.  (And a 666 file whose secrets are all
# "${NAME}" is accepted by design, though whoever may write it can point
# base_url at their host and collect the environment's secret.)
# Breaks: "connection files with literal secrets writable by others are
# refused (exit 2)".
. "$(dirname "$0")/lib.sh"
flow plain <<'LUA'
  ctx.http.get("/plain")
LUA
fail=0
one() {
    printf '{"base_url": "%s", "auth": {"type":"bearer","token":"%s"}}\n' "$BASE" "$2" >"$W/c.json"
    chmod 666 "$W/c.json"
    TOK=rest-of-secret run plain "$W/c.json" 10
    echo "$1: mode 666, exit $RC (want 2)"
    [ "$RC" = 2 ] || fail=1
}
one "control: plain literal" 'tok-literal-secret'
one "\\u escape" '\u0074ok-literal-secret'
one "\\/ escape" 'tok\/literal-secret'
one "a backslash in the secret (must be escaped)" 'tok\\literal-secret'
one "literal + \${TOK}" 'literal-part-${TOK}'
[ "$fail" = 0 ]
