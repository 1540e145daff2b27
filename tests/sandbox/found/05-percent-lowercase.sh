#!/bin/sh
# Low: the query secret echoed with lower-case percent escapes ("%2f"
# where the engine sent "%2F", as many servers normalise) is not masked.
# Arguably "re-encoding" (the documented limit); listed because it is the
# query-string form the README says is covered.
. "$(dirname "$0")/lib.sh"
SECRET='S3cr3t/val+ue=x-0123456789'
conn "$W/conn.json" "{\"type\":\"query\",\"name\":\"api_key\",\"value\":\"$SECRET\"}"
flow low query <<'LUA'
  local l = ctx.http.get("/echo_lower")
  ctx.log.info("echo reversed: " .. l.body:reverse())
LUA
run low "$W/conn.json" 20
cat "$W/out"
REV=$(printf '%s' 'S3cr3t%2fval%2bue%3dx-0123456789' | rev)
! grep -q -- "$REV" "$W/out"
