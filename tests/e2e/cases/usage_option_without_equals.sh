# --option / --input without NAME=VALUE: usage on stderr, exit 2
uhs run github push --option owner
uhs run github push --input repo
uhs run github push --option
