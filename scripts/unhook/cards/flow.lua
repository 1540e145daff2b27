-- flow.call: run a helper flow of the same connector (the connector
-- builders' "Call Flow" card).
local name, core = ...

local card = require "unhook.card"
local helpers = require "unhook.helpers"

return {
  card.new {
    name = "flow.call",
    description = "Run a helper flow of this connector with inputs; returns its declared outputs.",
    context = true,
    inputs = { { name = "flow", type = "string", required = true },
               { name = "inputs", type = "object", default = {} } },
    outputs = { { name = "outputs", type = "object" } },
    run = function(ctx, flow, inputs)
      local call = helpers.get(ctx)
      if not call then error("flow.call: no helper flows outside a flow run", 2) end
      return call(flow, inputs)
    end,
  },
}
