# Helpers for end-to-end cases (sourced).

# uh ARGS: run unhook, then print its exit code.
uh() {
    "$UNHOOK" "$@"
    echo "[exit $?]"
}

# conn FILE [TOKEN]: write a bearer connection to the fixture provider.
conn() {
    printf '{"base_url": "%s", "auth": {"type": "bearer", "token": "%s"}}\n' \
        "$URL" "${2:-test-token}" >"$1"
}

# script METHOD PATH JSON-RESPONSES: queue canned answers at the provider.
script() {
    curl -s -X POST "$URL/_control/script" \
        -d "{\"method\":\"$1\",\"path\":\"$2\",\"responses\":$3}" >/dev/null
}

# seed OWNER REPO COUNT: create hooks at the provider; prints their ids.
seed() {
    curl -s -X POST "$URL/_control/seed" \
        -d "{\"owner\":\"$1\",\"repo\":\"$2\",\"count\":$3}"
    echo
}

# registered PREFIX COUNT CONNECTION FIRST: COUNT import lines of github
# push instances PREFIX00.., registered (hook ids FIRST..) and on.
registered() {
    i=0
    while [ $i -lt "$2" ]; do
        printf '{"id":"%s%02d","connector":"github","event":"push","options":{"owner":"o","repo":"r"},"connection":"%s","registration":{"id":%d},"state":"registered","desired":"on"}\n' \
            "$1" $i "$3" $(($4 + i))
        i=$((i + 1))
    done
}

# hook_connector DIR NAME: a connector of one event, hook, whose
# registration returns { id = 1 }; its deregistration, DIR/flows/d.lua,
# is the case's to write.
hook_connector() {
    mkdir -p "$1/flows"
    cat >"$1/connector.lua" <<LUA
return { name = "$2", auth = "bearer", events = { hook = {
  registration = { flow = "flows/r.lua" }, deregistration = { flow = "flows/d.lua" } } } }
LUA
    printf 'return { run = function() return { id = 1 } end }\n' >"$1/flows/r.lua"
}

# requests: what the provider received, one line per request:
# METHOD PATH [authorization] [accept] [api-version]
requests() {
    curl -s "$URL/_control/requests" | python3 -c '
import json, sys
for r in json.load(sys.stdin):
    h = {k.lower(): v for k, v in r["headers"].items()}
    print(r["method"], r["path"] + ("?" + "&".join(k + "=" + v for k, v in sorted(r["query"].items())) if r["query"] else ""),
          "|", h.get("authorization", "-"), "|", h.get("accept", "-"), "|",
          h.get("x-github-api-version", "-"), "|", r["body"] or "-", "|", r["status"])
'
}

# uhs ARGS: run unhook with its two streams apart: each stdout line is
# printed as "out: LINE", then each stderr line as "err: LINE", then
# "[exit N]".  For cases where which stream a line goes to matters.
# A traced "< Date:" header is normalised here, as run.sh does.
uhs() {
    "$UNHOOK" "$@" >"$TMP/.uhs.out" 2>"$TMP/.uhs.err"
    set -- $?
    sed 's/^/out: /' "$TMP/.uhs.out"
    # progress lines (once a second off a terminal) depend on timing
    sed -e '/^[a-z][a-z -]*: [0-9][0-9/]* done ([0-9]*\/s)$/d' \
        -e 's/^< Date: .*/< Date: DATE/' -e 's/^/err: /' "$TMP/.uhs.err"
    echo "[exit $1]"
}

# stamps: replace ISO 8601 timestamps (2025-01-01T00:00:00Z) by TIME.
stamps() {
    sed -E 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z/TIME/g'
}

# fixtures: the folder of fixture connectors, relative to $ROOT.
FIXTURES=tests/e2e/fixtures/connectors

# leaks FILE STRING...: for each STRING, how many lines of FILE contain it
# (expect 0); then how many lines contain the mask "***".
leaks() {
    _f=$1
    shift
    for _s in "$@"; do
        printf 'lines with %s: %s\n' "$_s" "$(grep -cF -- "$_s" "$_f")"
    done
    printf 'lines with ***: %s\n' "$(grep -cF -- '***' "$_f")"
}
