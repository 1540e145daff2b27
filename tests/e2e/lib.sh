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
