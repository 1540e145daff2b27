-- A connector for tests/cold/engine.lua: its deregistration flow calls a
-- card the Lua host registers with e:card("cold.tag", fn).
return {
  name = "coldcard",
  description = "generic REST collection; the flow uses a host card",
  auth = "bearer",
  events = {
    thing = {
      options = { space = { type = "string", required = true } },
      retry = { max_attempts = 3, base_ms = 100, max_ms = 500 },
      registration = { flow = "flows/create.lua", inputs = { space = option "space" } },
      deregistration = { flow = "flows/delete.lua", inputs = { space = option "space" } },
    },
  },
}
