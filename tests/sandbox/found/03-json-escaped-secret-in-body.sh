#!/bin/sh
# A provider that echoes the Authorization header in JSON with the usual
# escapes ("\/" as PHP's json_encode writes it, or "\u0074") gets past the
# masking: resp.json and unhook.json.decode(resp.body) are masked, but
# resp.body still holds the escaped secret, which the flow unescapes with
# gsub.  Tokens with "/" (base64) are common.  Breaks: "flows never see
# connection secrets, also when a provider echoes them in body".
. "$(dirname "$0")/lib.sh"
SECRET='tok/en+with=chars-0123456789'
conn "$W/conn.json" "{\"type\":\"bearer\",\"token\":\"$SECRET\"}"
flow esc <<'LUA'
  local r = ctx.http.get("/echo_json")
  ctx.log.info("resp.json.auth = " .. tostring(r.json.auth))
  local s = r.body:gsub("\\/", "/"):match('"auth": "Bearer ([^"]+)"')
  ctx.log.info("from \\/ escapes, reversed: " .. s:reverse())
  local u = ctx.http.get("/echo_uesc")
  local t = u.body:gsub("\\u(%x%x%x%x)", function(h) return utf8.char(tonumber(h, 16)) end)
  ctx.log.info("from \\u escapes, reversed: " .. t:reverse())
LUA
run esc "$W/conn.json" 20
cat "$W/out"
REV=$(printf '%s' "$SECRET" | rev)
! grep -q -- "$REV" "$W/out"
