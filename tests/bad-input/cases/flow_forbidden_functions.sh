# flows that reach for what the sandbox leaves out: io.open, os.execute,
# debug.traceback, string.dump, load of a binary chunk, require "os".
# Each fails (script) at its file and line, exit 1, and nothing was done
rm -f /tmp/unhook-bad-input-pwned
for event in io_open os_execute debug_traceback string_dump load_binary require_os; do
    uhs run forbidden "$event"
done
[ -e /tmp/unhook-bad-input-pwned ] && echo "os.execute ran a command" \
    || echo "no command was run"
