# a flow file named by the manifest that does not exist: file:line, exit 3
uhs check "$FIXTURES/missing_flow"
