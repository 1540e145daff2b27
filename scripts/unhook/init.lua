-- unhook: what a flow or card sees as `require "unhook"` (and the global
-- `unhook`): error constructors, JSON, the error object type.
local name, core = ...

local chunks = require "unhook.chunks"

local _M = { version = "0.1.0" }

local setmetatable, tostring, type, error = setmetatable, tostring, type, error

-- Error objects: a stable `code`, a `message`, and fields per code.
local Error = {}
Error.__index = Error
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

-- JSON: lua-cjson decodes; encoding is ours, with object keys sorted so
-- that stored registration data, request bodies and output are
-- deterministic, and "/" left unescaped.
local cjson = core.json
local null = cjson.null
-- Tables with this metatable encode as arrays even when empty.
local array_mt = { __name = "unhook.json.array" }
local concat, sort, fmt, math_type = table.concat, table.sort, string.format, math.type
local ESC = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
              ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESC[c] or fmt("\\u%04x", c:byte())
  end) .. '"'
end

local function encode_value(v, out, depth)
  local t = type(v)
  if v == nil or v == null then out[#out + 1] = "null"
  elseif t == "boolean" then out[#out + 1] = v and "true" or "false"
  elseif t == "number" then
    if v ~= v or v == math.huge or v == -math.huge then
      error("cannot encode " .. tostring(v) .. " as JSON", 0)
    end
    -- whole numbers exactly (ids!), others with every digit a double has
    local i = math_type(v) == "integer" and v or (v >= -2^53 and v <= 2^53 and math.tointeger(v))
    out[#out + 1] = i and fmt("%d", i) or fmt("%.17g", v)
  elseif t == "string" then out[#out + 1] = quote(v)
  elseif t == "table" then
    if depth > 100 then error("cannot encode JSON: nesting deeper than 100 (a cycle?)", 0) end
    local n, count = #v, 0
    for _ in pairs(v) do count = count + 1 end
    if (n > 0 and n == count) or (count == 0 and getmetatable(v) == array_mt) then
      out[#out + 1] = "["
      for i = 1, n do
        if i > 1 then out[#out + 1] = "," end
        encode_value(v[i], out, depth + 1)
      end
      out[#out + 1] = "]"
    else
      local keys = {}
      for k in pairs(v) do
        local kt = type(k)
        if kt ~= "string" and kt ~= "number" then
          error("cannot encode JSON: object key of type " .. kt, 0)
        end
        keys[#keys + 1] = kt == "number" and (math_type(k) == "integer" and fmt("%d", k) or tostring(k)) or k
      end
      sort(keys)
      out[#out + 1] = "{"
      for i, k in ipairs(keys) do
        if i > 1 then out[#out + 1] = "," end
        out[#out + 1] = quote(k)
        out[#out + 1] = ":"
        local val = v[k]
        if val == nil then val = v[tonumber(k)] end
        encode_value(val, out, depth + 1)
      end
      out[#out + 1] = "}"
    end
  else
    error("cannot encode a " .. t .. " as JSON", 0)
  end
end

local function encode(v)
  local out = {}
  encode_value(v, out, 0)
  return concat(out)
end
_M.json = setmetatable({ encode = encode, array_mt = array_mt,
                         empty_array = setmetatable({}, array_mt) }, { __index = cjson })
_M.null = cjson.null

return _M
