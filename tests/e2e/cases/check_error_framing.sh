# What the CLI adds to check's message (the messages themselves are the
# table tests/manifest-errors.lua, run through the C API by
# tests/unit/test_manifest.c): the API's "file:line: message" printed
# as is on stderr, with no "unhook:" prefix and the folder as it was
# typed, nothing on stdout, exit 3 -- also for a folder given with a
# trailing slash.  Not-found connectors: check_unknown_connector.
uhs check "$FIXTURES/missing_flow"
uhs check "$FIXTURES/missing_flow/"
