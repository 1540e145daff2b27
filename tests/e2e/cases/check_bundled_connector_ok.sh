# check accepts the bundled github connector, by folder and by name
uhs check scripts/connectors/github
uhs check scripts/connectors/github/
uhs check github
