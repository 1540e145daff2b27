return {
  inputs = { space = { type = "string", required = true } },
  run = function(ctx, input)
    ctx.http.delete("/api/{space}/hooks/{id}", { path = { space = input.space, id = ctx.registration.id } })
  end,
}
