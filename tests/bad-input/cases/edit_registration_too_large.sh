# registration data set by hand is bounded (1 MiB): an endless file is
# refused while it is read, before the store is touched
uhs --db "$TMP/x.db" edit some-id --registration @/dev/zero
