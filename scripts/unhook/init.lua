-- unhook: what a flow or card sees as `require "unhook"` (and the global
-- `unhook`): error constructors, JSON, the error object type.
local name, core = ...

local chunks = require "unhook.chunks"

local _M = { version = "0.1.0" }

local setmetatable, tostring, type, error = setmetatable, tostring, type, error

-- Error objects: a stable `code`, a `message`, and fields per code.  The
-- metatable is shared by every run in a Lua state: no __index reaches it
-- from an error object (connector code sees a copy, see manifest.env).
local Error = {}
Error.__name = "unhook.Error"
Error.__tostring = function(e)
  local s = e.message or e.code
  if e.where and e.where ~= "" then s = chunks.expand(e.where .. " " .. s) end
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

-- JSON: lua-cjson decodes; C encodes (core.json_encode), with object keys
-- sorted so that stored registration data, request bodies and output are
-- deterministic, and "/" left unescaped.
local cjson = core.json
local null = cjson.null
-- Tables with this metatable encode as arrays even when empty.
local array_mt = core.json_array_mt or { __name = "unhook.json.array" }

local json_encode = core.json_encode
local function encode(v)
  local s, err = json_encode(v)
  if s == nil then error(err, 0) end
  return s
end
_M.json = setmetatable({ encode = encode, array_mt = array_mt,
                         empty_array = setmetatable({}, array_mt) }, { __index = cjson })
_M.null = cjson.null

return _M
