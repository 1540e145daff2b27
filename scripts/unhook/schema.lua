-- Declarative schemas for options and inputs: { type=, required=,
-- default=, description= }.  The engine validates values, not each flow.
local _M = {}

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local math_type, fmt = math.type, string.format

_M.TYPES = { string = true, number = true, integer = true, boolean = true,
             object = true, array = true, any = true }

local function is_array(t)
  local n = 0
  for k in pairs(t) do
    if math_type(k) ~= "integer" or k < 1 then return false end
    n = n + 1
  end
  return n == #t
end
_M.is_array = is_array

-- Lua type name of v as a schema type name, for messages.
local function kind(v)
  local t = type(v)
  if t == "table" then return is_array(v) and next(v) ~= nil and "array" or "object" end
  if t == "number" and math_type(v) == "integer" then return "integer" end
  return t
end
_M.kind = kind

-- unhook.json's array marker (unhook requires this module: looked up late)
local marker
local function array_mt()
  marker = marker or require("unhook").json.array_mt
  return marker
end

function _M.matches(v, t)
  if t == "any" then return true end
  local k = type(v)
  if t == "string" or t == "boolean" then return k == t end
  if t == "number" then return k == "number" end
  if t == "integer" then return math_type(v) == "integer" end
  if t == "object" then
    return k == "table" and not (next(v) ~= nil and is_array(v))
       and getmetatable(v) ~= array_mt()
  end
  if t == "array" then return k == "table" and is_array(v) end
  return false
end

-- Values given as text (command line) become the declared type.
function _M.coerce(v, t, json)
  if t == "integer" and math_type(v) == "float" then return math.tointeger(v) or v end
  if t == "string" or t == "any" or type(v) ~= "string" then return v end
  if t == "number" then return tonumber(v) or v end
  if t == "integer" then
    local n = tonumber(v)
    if n and math_type(n) == "integer" then return n end
    return v
  end
  if t == "boolean" then
    if v == "true" then return true elseif v == "false" then return false end
    return v
  end
  if (t == "object" or t == "array") and json then
    local ok, d = pcall(json.decode, v)
    if ok then return d end
    return v, "invalid JSON: " .. tostring(d)
  end
  return v
end

-- specs as a list of { name, type, default, required }, made once per
-- specs table (declarations are made once and read for every run).
local compiled = setmetatable({}, { __mode = "k" })

local function compile(specs)
  local list = {}
  for fname, spec in pairs(specs) do
    list[#list + 1] = { fname, spec.type or "any", spec.default, spec.required }
  end
  compiled[specs] = list
  return list
end

local SCALAR = { string = "string", number = "number", boolean = "boolean" }

-- The common case without a function call a field: every value present
-- already has its declared scalar type.  nil when the full validation must
-- decide (a coercion, an error to word, an object or array to mark).
local function validate_fast(values, specs)
  local list = compiled[specs] or compile(specs)
  local out = {}
  for k, v in pairs(values) do out[k] = v end
  for i = 1, #list do
    local f = list[i]
    local fname, t = f[1], f[2]
    local v = out[fname]
    if v == nil then v = f[3] end
    if v == nil then
      if f[4] then return nil end
    else
      if t == "integer" then
        if math_type(v) ~= "integer" then return nil end
      elseif t ~= "any" and type(v) ~= SCALAR[t] then
        return nil
      end
      out[fname] = v
    end
  end
  return out
end

-- Validate values against specs.  Returns the values with defaults
-- applied, or nil and a message naming the field.
function _M.validate(values, specs, what, coerce_with)
  if specs then
    local out = validate_fast(values, specs)
    if out then return out end
  end
  return _M.validate_all(values, specs, what, coerce_with)
end

-- The same, field by field with coercion (validate's slow path).
function _M.validate_all(values, specs, what, coerce_with)
  local out = {}
  for k, v in pairs(values) do out[k] = v end
  for fname, spec in pairs(specs or {}) do
    local v = out[fname]
    local t = spec.type or "any"
    if v == nil and spec.default ~= nil then v = spec.default end
    if v ~= nil and coerce_with then
      local cerr
      v, cerr = _M.coerce(v, t, coerce_with)
      if cerr then return nil, fmt("%s '%s': %s", what, fname, cerr) end
    end
    if v == nil then
      if spec.required then
        return nil, fmt("%s '%s' is required%s", what, fname,
          spec.description and (" (" .. spec.description .. ")") or "")
      end
    elseif not _M.matches(v, t) then
      return nil, fmt("%s '%s': expected %s, got %s", what, fname, t, kind(v))
    elseif t == "array" and getmetatable(v) == nil then
      setmetatable(v, array_mt())
    end
    out[fname] = v
  end
  return out
end

return _M
