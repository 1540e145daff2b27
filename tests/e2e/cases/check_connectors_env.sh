# UNHOOK_CONNECTORS (a ':'-separated list) finds a connector by name
UNHOOK_CONNECTORS="$FIXTURES" uhs check tiny
UNHOOK_CONNECTORS="$TMP/none:$FIXTURES" uhs check tiny
