# a flow that raises a Lua error at run time: its file and line, exit 1
uhs run "$FIXTURES/runtime_error" hook --registration '{"id":1}'
uhs --connectors "$FIXTURES" run runtime_error hook --registration '{"id":1}'
