# an input mapped from an option the event does not declare: file:line, exit 3
uhs check "$FIXTURES/undeclared_option"
