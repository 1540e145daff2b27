# --help for the command and for each subcommand: on stdout, exit 0
uhs --help
uhs -h
uhs run --help
uhs check --help
uhs register --help
