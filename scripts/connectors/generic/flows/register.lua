-- Create a hook in the collection; the created object is the
-- registration data.
return {
  description = "Create a hook in a REST collection",
  inputs = {
    collection = { type = "string", required = true },
    url = { type = "string", required = true },
    events = { type = "array", default = {} },
  },
  run = function(ctx, input)
    local resp = ctx.http.post(input.collection, {
      json = { url = input.url, events = input.events },
    })
    return resp.json
  end,
}
