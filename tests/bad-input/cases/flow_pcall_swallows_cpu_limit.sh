# a flow that catches the CPU limit with pcall and loops again
# (while true do pcall(function() while true do end end) end): still
# stopped with cpu_limit, exit 1
t0=$(date +%s)
uhs --timeout-ms 300 run misbehave pcall_spin --registration '{"id":"hk_1"}'
[ "$(elapsed_since "$t0")" -le 3 ] && echo "stopped after at most 3 s" \
    || echo "NOT stopped in time: $(elapsed_since "$t0") s"
