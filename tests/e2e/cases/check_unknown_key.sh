# an unknown manifest key is reported at its line, with a suggestion, exit 3
uhs check "$FIXTURES/unknown_key"
