-- The embedding test's connector: hooks in a REST collection of the
-- fixture provider, each created with a signature from the host's C card.
return {
  name = "embedded",
  auth = "bearer",
  events = {
    changed = {
      options = { space = { type = "string", required = true } },
      registration = { flow = "flows/register.lua", inputs = { space = option "space" } },
      deregistration = { flow = "flows/deregister.lua", inputs = { space = option "space" } },
    },
  },
}
