-- JSON cards.
local name, core = ...

local card = require "unhook.card"
local json = require("unhook").json

return {
  card.new {
    name = "json.parse",
    description = "Parse JSON text into a value.",
    inputs = { { name = "text", type = "string", required = true } },
    outputs = { { name = "value" } },
    run = function(text)
      local ok, v = pcall(json.decode, text)
      if not ok then error("json.parse: input 'text': invalid JSON: " .. tostring(v), 2) end
      return v
    end,
  },
  card.new {
    name = "json.stringify",
    description = "Encode a value as JSON text (object keys sorted).",
    inputs = { { name = "value", type = "any" } },
    outputs = { { name = "text", type = "string" } },
    run = function(v)
      local ok, s = pcall(json.encode, v)
      if not ok then error("json.stringify: input 'value': " .. tostring(s), 2) end
      return s
    end,
  },
}
