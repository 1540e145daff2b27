-- Lua shortens chunk names longer than LUA_IDSIZE to "...tail" in error
-- messages.  Connector files are registered here by full path, so that
-- messages can name the whole file again.
local _M = {}

local paths, known = {}, {}

function _M.register(path)
  if not known[path] then
    known[path] = true
    paths[#paths + 1] = path
  end
end

local function find(tail)
  for i = #paths, 1, -1 do
    local p = paths[i]
    if #p >= #tail and p:sub(-#tail) == tail then return p end
  end
end

-- "...ors/x/flows/y.lua:6: msg" -> "full/path/flows/y.lua:6: msg"
function _M.expand(msg)
  if type(msg) ~= "string" then return msg end
  local tail, rest = msg:match("^%.%.%.(.-)(:%d+:.*)$")
  if not tail then return msg end
  local full = find(tail)
  return full and (full .. rest) or msg
end

return _M
