# no command: usage on stderr, exit 2
uhs
uhs -v
