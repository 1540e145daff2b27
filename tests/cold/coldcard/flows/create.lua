return {
  inputs = { space = { type = "string", required = true } },
  run = function(ctx, input)
    local resp = ctx.http.post("/api/{space}/hooks", {
      path = { space = input.space },
      json = { url = "https://example.test/" .. ctx.instance.id },
    })
    return resp.json
  end,
}
