# an unknown command: usage on stderr, exit 2
uhs frobnicate github
