# an input the manifest maps but the flow does not declare: file:line, exit 3
uhs check "$FIXTURES/undeclared_input"
