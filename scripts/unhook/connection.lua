-- Connection files: where and as whom to call.  JSON, with "${NAME}"
-- values read from the environment.  Runs in the engine's host state.
local name, core = ...

local _M = {}

local type, pairs, tostring, fmt = type, pairs, tostring, string.format
local json = core.json

local AUTH = {
  none = {},
  bearer = { token = true },
  basic = { username = true, password = true },
  header = { name = true, value = true },
  query = { name = true, value = true },
}
local SECRET = { token = true, password = true, value = true }
local TOP = { base_url = "string", auth = "table", headers = "table",
              timeout_ms = "number", ca_file = "string", insecure = "boolean" }

-- "character N" in a cjson message becomes "line L".
local function position(text, msg)
  local at = tonumber(msg:match("character (%d+)"))
  if not at then return 1 end
  local line = 1
  for _ in text:sub(1, at):gmatch("\n") do line = line + 1 end
  return line
end

local function expand(v, path, env_missing)
  if type(v) ~= "string" then return v end
  local out = v:gsub("%${([%w_]+)}", function(var)
    local val = core.getenv(var)
    if val == nil then env_missing[#env_missing + 1] = fmt("%s: environment variable %s is not set", path, var); return "" end
    return val
  end)
  return out
end

-- Returns a table { base_url, auth = { type, ... }, headers, timeout_ms,
-- ca_file, insecure, secrets = { ... } }, or nil and a message.
function _M.parse(text, file)
  local ok, c = pcall(json.decode, text)
  if not ok then
    return nil, fmt("%s:%d: invalid JSON: %s", file, position(text, tostring(c)), tostring(c))
  end
  if type(c) ~= "table" then
    return nil, fmt("%s:1: a connection must be a JSON object", file)
  end
  local missing = {}
  for k, v in pairs(c) do
    if TOP[k] == nil then
      return nil, fmt("%s: unknown key '%s' (expected: auth, base_url, ca_file, headers, insecure, timeout_ms)", file, tostring(k))
    end
    if type(v) ~= TOP[k] then
      return nil, fmt("%s: %s: expected %s, got %s", file, k, TOP[k] == "table" and "object" or TOP[k], type(v))
    end
  end
  local out = { base_url = expand(c.base_url, "base_url", missing), headers = {},
                timeout_ms = c.timeout_ms, ca_file = expand(c.ca_file, "ca_file", missing),
                insecure = c.insecure, secrets = {}, auth = { type = "none" } }
  local hnames = {}
  for k, v in pairs(c.headers or {}) do
    if type(k) ~= "string" then
      return nil, fmt("%s: headers: expected an object of name: value, got a list", file)
    end
    if type(v) ~= "string" then return nil, fmt("%s: headers.%s: expected string, got %s", file, tostring(k), type(v)) end
    hnames[#hnames + 1] = k
  end
  table.sort(hnames)
  for i, k in ipairs(hnames) do
    local v = expand(c.headers[k], "headers." .. k, missing)
    if not k:match("^[%w!#$%%&'*+.^_`|~-]+$") or v:find("[%z\r\n]") then
      return nil, fmt("%s: headers.%s: not a valid header name or value", file, k)
    end
    out.headers[i] = k .. ": " .. v
  end
  if c.auth then
    local t = c.auth.type
    local fields = AUTH[t]
    if not fields then
      return nil, fmt("%s: auth.type must be one of: basic, bearer, header, none, query (got %s)", file, tostring(t))
    end
    out.auth.type = t
    for k, v in pairs(c.auth) do
      if k ~= "type" then
        if not fields[k] then return nil, fmt("%s: auth: unknown key '%s' for type %s", file, tostring(k), t) end
        if type(v) ~= "string" then return nil, fmt("%s: auth.%s: expected string, got %s", file, k, type(v)) end
        local val = expand(v, "auth." .. k, missing)
        -- a value with a line break would add headers of its own
        if val:find("[%z\r\n]") then
          return nil, fmt("%s: auth.%s: contains CR, LF or NUL", file, k)
        end
        if t == "header" and k == "name" and not val:match("^[%w!#$%%&'*+.^_`|~-]+$") then
          return nil, fmt("%s: auth.name: '%s' is not a header name", file, val)
        end
        out.auth[k] = val
        if SECRET[k] and val ~= "" then out.secrets[#out.secrets + 1] = val end
      end
    end
    for k in pairs(fields) do
      if out.auth[k] == nil then return nil, fmt("%s: auth: type %s needs '%s'", file, t, k) end
    end
  end
  if #missing > 0 then return nil, file .. ": " .. missing[1] end
  if out.ca_file then
    -- relative to the connection file, wherever the engine runs from
    if out.ca_file:sub(1, 1) ~= "/" then
      local folder = file:match("^(.*)/[^/]*$")
      if folder then out.ca_file = folder .. "/" .. out.ca_file end
    end
    if not core.isfile(out.ca_file) then
      return nil, fmt("%s: ca_file: %s: no such file", file, out.ca_file)
    end
  end
  return out
end

return _M
