-- unhook: what a flow or card sees as `require "unhook"` (and the global
-- `unhook`): error constructors, JSON, the error object type.
local name, core = ...

local _M = { version = "0.1.0" }

local setmetatable, tostring, type, error = setmetatable, tostring, type, error

-- Error objects: a stable `code`, a `message`, and fields per code.
local Error = {}
Error.__index = Error
Error.__name = "unhook.Error"
Error.__tostring = function(e)
  local s = e.message or e.code
  if e.where and e.where ~= "" then s = e.where .. " " .. s end
  return s
end
_M.Error = Error

function _M.error(code, message, fields)
  local e = fields or {}
  e.code, e.message = code, message
  return setmetatable(e, Error)
end

function _M.is_error(v)
  return getmetatable(v) == Error
end

-- unhook.fail(msg): a permanent failure (the instance is dead-lettered).
function _M.fail(message)
  if type(message) ~= "string" then
    error("unhook.fail: message: expected string, got " .. type(message), 2)
  end
  error(_M.error("fail", message, { where = core.where(2) }), 0)
end

-- unhook.retry(msg [, after_seconds]): try again later.
function _M.retry(message, after)
  if type(message) ~= "string" then
    error("unhook.retry: message: expected string, got " .. type(message), 2)
  end
  if after ~= nil and type(after) ~= "number" then
    error("unhook.retry: after_seconds: expected number, got " .. type(after), 2)
  end
  error(_M.error("retry", message, { where = core.where(2), retry_after = after }), 0)
end

-- lua-cjson, whose encode writes "/" as "\/": undo that, so that URLs
-- in registration data and request bodies read as they were written.
local cjson = core.json
local function encode(v)
  local s = cjson.encode(v)
  if s:find("\\/", 1, true) then
    s = s:gsub("(\\+)/", function(bs)
      if #bs % 2 == 1 then return bs:sub(2) .. "/" end
    end)
  end
  return s
end
_M.json = setmetatable({ encode = encode }, { __index = cjson })
_M.null = cjson.null

return _M
