# run without EVENT (or without anything): usage on stderr, exit 2
uhs run github
uhs run
