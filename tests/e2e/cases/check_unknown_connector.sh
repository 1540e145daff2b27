# a connector name found nowhere on the search path, or a missing folder: exit 3
uhs check nosuchconnector
uhs --connectors "$FIXTURES" check nosuchconnector
uhs check ./no/such/folder
