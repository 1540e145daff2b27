# a Lua syntax error in connector.lua is reported as file:line: message, exit 3
uhs check "$FIXTURES/manifest_syntax"
