#!/bin/sh
# With auth "query", the engine appends the secret to the request URL and
# hands that URL back to the flow unmasked: resp.url, and the url/message
# of HTTP and transport/timeout error objects.  The flow reverses it to get
# it past log masking (or sends it to an allowed host).  Breaks: "flows
# never see connection secrets".
. "$(dirname "$0")/lib.sh"
SECRET='S3cr3t-query-value-0123456789'
conn "$W/conn.json" "{\"type\":\"query\",\"name\":\"api_key\",\"value\":\"$SECRET\"}"
flow qurl query <<'LUA'
  local r = ctx.http.get("/plain")
  ctx.log.info("resp.url reversed: " .. r.url:reverse())
  local ok, e = pcall(ctx.http.get, "/slow", { timeout = 1 })
  ctx.log.info("timeout message reversed: " .. e.message:reverse())
LUA
run qurl "$W/conn.json" 20
cat "$W/out"
REV=$(printf '%s' "$SECRET" | rev)
! grep -q -- "$REV" "$W/out"
