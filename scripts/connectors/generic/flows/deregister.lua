-- Delete {collection}/{id}, the id read from the registration data.
return {
  description = "Delete a hook from a REST collection",
  inputs = {
    collection = { type = "string", required = true },
    id_field = { type = "string", default = "id" },
  },
  run = function(ctx, input)
    local reg = ctx.registration
    local id = type(reg) == "table" and reg[input.id_field] or reg
    if type(id) ~= "string" and type(id) ~= "number" then
      unhook.fail("registration data has no '" .. input.id_field .. "'")
    end
    ctx.http.delete(input.collection .. "/{id}", { path = { id = id } })
  end,
}
