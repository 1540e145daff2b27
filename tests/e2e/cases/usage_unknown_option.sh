# an unknown option, global or of a command: usage on stderr, exit 2
uhs --bogus check github
uhs run github push --bogus
uhs check -x
uhs register github push --registration '{"id":1}'
