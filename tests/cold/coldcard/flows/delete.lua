return {
  inputs = { space = { type = "string", required = true } },
  run = function(ctx, input)
    -- the host's card: one argument in, two outputs back
    local tagged, n = ctx.cards.cold.tag(ctx.registration.id)
    ctx.log.info("tagged", tagged, n)
    ctx.http.delete("/api/{space}/hooks/{id}", {
      path = { space = input.space, id = ctx.registration.id },
      headers = { ["X-Cold-Tag"] = tagged },
    })
  end,
}
