-- Delete {collection}/{id}, the id read from the registration data (a
-- dotted path such as "data.id" is allowed) or the data itself when the
-- registration flow stored a plain string.
return {
  description = "Delete a hook from a REST collection",
  inputs = {
    collection = { type = "string", required = true },
    id_field = { type = "string", default = "id" },
  },
  run = function(ctx, input)
    local cards, reg = ctx.cards, ctx.registration
    local id = type(reg) == "table" and cards.object.get(reg, input.id_field) or reg
    if type(id) ~= "string" and type(id) ~= "number" then
      cards.error.return_error(400, "registration data has no '" .. input.id_field .. "'")
    end
    ctx.http.delete(input.collection .. "/{id}", { path = { id = id } })
  end,
}
