# a flow that calls an absolute URL on another host (localhost, while the
# base URL is 127.0.0.1): failed (forbidden_host), exit 1, refused before
# a connection is opened, so the provider received nothing
conn "$TMP/conn.json"
uhs run misbehave far_host --registration '{"id":"hk_1"}' --connection "$TMP/conn.json"
received
