-- Error handling cards.
local name, core = ...

local card = require "unhook.card"
local unhook = require "unhook"

return {
  card.new {
    name = "error.return_error",
    description = "End the flow with a permanent failure (dead letter) carrying a status and a message.",
    inputs = { { name = "status", type = "integer", required = true },
               { name = "message", type = "string", required = true } },
    outputs = {},
    run = function(status, message)
      error(unhook.error("fail", message, { status = status }), 0)
    end,
  },
  card.new {
    name = "error.if_error",
    description = "Run a function; returns its result, or nil and the error object it raised.",
    inputs = { { name = "fn", type = "any", required = true },
               { name = "args", type = "any", variadic = true } },
    outputs = { { name = "result" }, { name = "error" } },
    run = function(fn, ...)
      if type(fn) ~= "function" then
        error("error.if_error: input 'fn': expected function, got " .. type(fn), 3)
      end
      local ok, res = pcall(fn, ...)
      if ok then return res, nil end
      if unhook.is_error(res) then return nil, res end
      return nil, unhook.error("script", tostring(res))
    end,
  },
  card.new {
    name = "error.retry",
    description = "End the flow with a retryable failure; try again after delay seconds.",
    inputs = { { name = "message", type = "string", required = true },
               { name = "delay", type = "number" } },
    outputs = {},
    run = function(message, delay)
      error(unhook.error("retry", message, { retry_after = delay }), 0)
    end,
  },
}
