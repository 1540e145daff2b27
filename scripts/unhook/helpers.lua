-- Which helper-flow caller belongs to a run's ctx (for the flow.call
-- card, without putting engine internals on ctx).
local _M = {}

local callers = setmetatable({}, { __mode = "k" })

function _M.set(ctx, fn) callers[ctx] = fn end
function _M.get(ctx) return callers[ctx] end

return _M
