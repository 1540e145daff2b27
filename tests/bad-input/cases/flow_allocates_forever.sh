# a flow that allocates without end, with --memory-mb 16: failed (memory),
# exit 1
uhs --memory-mb 16 run misbehave hog --registration '{"id":"hk_1"}'
