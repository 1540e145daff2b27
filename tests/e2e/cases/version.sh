# --version prints the version on stdout, exit 0
uhs --version
