-- Which helper-flow caller belongs to a run's ctx (for the flow.call
-- card, without putting engine internals on ctx).  The runner sets a
-- resolver that makes a ctx's caller when a card first asks for it.
local _M = {}

local callers = setmetatable({}, { __mode = "k" })
local resolve

function _M.set(ctx, fn) callers[ctx] = fn end
function _M.resolver(fn) resolve = fn end

function _M.get(ctx)
  local fn = callers[ctx]
  if fn == nil and resolve then
    fn = resolve(ctx)
    callers[ctx] = fn
  end
  return fn
end

return _M
