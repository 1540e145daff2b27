# --connectors DIR finds a connector by name in DIR
uhs --connectors "$FIXTURES" check tiny
uhs check tiny
