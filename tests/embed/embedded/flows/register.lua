return {
  inputs = { space = { type = "string", required = true } },
  run = function(ctx, input)
    local signature = ctx.cards.host.sign(ctx.instance.id)
    local resp = ctx.http.post("/api/{space}/hooks", {
      path = { space = input.space },
      json = { url = "https://example.test/" .. ctx.instance.id, signature = signature },
    })
    return { id = resp.json.id, signature = signature }
  end,
}
