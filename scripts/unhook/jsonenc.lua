-- Transitional: the JSON encoder in Lua, used until the engine's C
-- provides core.json_encode with the same behaviour.  Delete this file
-- and the line of init.lua that requires it then.
local name, core = ...

local _M = {}

local type, pairs, ipairs, tostring, tonumber, getmetatable, error =
  type, pairs, ipairs, tostring, tonumber, getmetatable, error
local concat, sort, fmt, math_type = table.concat, table.sort, string.format, math.type
local ESC = { ['"'] = '\\"', ['\\'] = '\\\\', ['\b'] = '\\b', ['\f'] = '\\f',
              ['\n'] = '\\n', ['\r'] = '\\r', ['\t'] = '\\t' }

local function quote(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return ESC[c] or fmt("\\u%04x", c:byte())
  end) .. '"'
end

-- An encoder for this state's JSON null and array marker: encode(v)
-- returns the text or raises the message.
function _M.new(null, array_mt)
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

  return function(v)
    local out = {}
    encode_value(v, out, 0)
    return concat(out)
  end
end

return _M
