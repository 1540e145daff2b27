# check of a connector found nowhere (search path, --connectors, a missing folder): "unhook: " before the message, exit 3
uhs check nosuchconnector
uhs --connectors "$FIXTURES" check nosuchconnector
uhs check ./no/such/folder
