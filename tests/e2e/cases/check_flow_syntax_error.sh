# a Lua syntax error in a flow is reported with the flow's full path and line, exit 3
uhs check "$FIXTURES/flow_syntax"
