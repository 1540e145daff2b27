# a flow that loops forever (while true do end) with --timeout-ms 300:
# stopped, failed (cpu_limit), exit 1, well before the default 30 s
t0=$(date +%s)
uhs --timeout-ms 300 run misbehave spin --registration '{"id":"hk_1"}'
[ "$(elapsed_since "$t0")" -le 3 ] && echo "stopped after at most 3 s" \
    || echo "NOT stopped in time: $(elapsed_since "$t0") s"
