-- Branching cards.
local name, core = ...

local card = require "unhook.card"
local unhook = require "unhook"

return {
  card.new {
    name = "branching.if_else",
    description = "Returns when_true if the condition holds, else when_false.",
    inputs = { { name = "condition", type = "any" }, { name = "when_true", type = "any" },
               { name = "when_false", type = "any" } },
    outputs = { { name = "result" } },
    run = function(cond, a, b)
      if cond then return a end
      return b
    end,
  },
  card.new {
    name = "branching.continue_if",
    description = "Ends the flow successfully, right here, when the condition does not hold.",
    inputs = { { name = "condition", type = "any" }, { name = "message", type = "string" } },
    outputs = {},
    run = function(cond, message)
      if not cond then
        error(unhook.error("stop", message or "branching.continue_if: condition not met"), 0)
      end
    end,
  },
  card.new {
    name = "branching.lookup",
    description = "Returns the value a table maps the key to, or the default.",
    inputs = { { name = "key", type = "any" }, { name = "table", type = "object", required = true },
               { name = "default", type = "any" } },
    outputs = { { name = "value" } },
    run = function(key, t, default)
      local v = t[key]
      if v == nil then return default end
      return v
    end,
  },
}
