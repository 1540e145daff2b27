# Sourced by the test drivers: start the fixture provider on a loopback
# port, stop it (and remove $T) on exit, and export UNHOOK_TEST_PORT and
# UNHOOK_TEST_URL.  Expects the repository root as the working folder.
T=$(mktemp -d)
python3 tests/provider/provider.py --port-file "$T/port" --quiet \
    >"$T/provider.log" 2>&1 &
PROVIDER=$!
trap 'kill $PROVIDER 2>/dev/null; rm -rf "$T"' EXIT INT TERM
i=0
while [ ! -s "$T/port" ]; do
    i=$((i + 1))
    if [ $i -gt 100 ]; then
        echo "fixture provider did not start:"; cat "$T/provider.log"; exit 1
    fi
    sleep 0.1
done
UNHOOK_TEST_PORT=$(cat "$T/port")
UNHOOK_TEST_URL="http://127.0.0.1:$UNHOOK_TEST_PORT"
export UNHOOK_TEST_PORT UNHOOK_TEST_URL
